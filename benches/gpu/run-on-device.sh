#!/usr/bin/env bash
# Runs the bench harness (and the peers, when built) on a lent GPU machine through Vulkan.
# Build here first (x86-64):
#   cargo build --release --bin bench --example demo && mkdir -p .device-bin \
#     && cp target/release/bench target/release/examples/demo .device-bin/ \
#     && { [ -x benches/peers/target/release/peers ] && cp benches/peers/target/release/peers .device-bin/ || true; } \
#     && strip .device-bin/*
# then call the device tool with carry [".gl", ".device-bin"] and command
#   bash benches/gpu/run-on-device.sh
# The Vulkan loader comes from Debian's .deb files in .gl (the GPU image has none).
# Every figure lands in $OUT (bench-*.json, peers-gpu.json, log.txt).
set -uo pipefail
for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig
if [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]; then
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
fi
export MLX_ARM_DEVICE=gpu
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
exec > >(tee "$OUT/log.txt") 2>&1
date -u
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,memory.total --format=csv
B=./.device-bin
$B/demo | tail -3
echo "== bench, all suites (default tiles)"
$B/bench --device gpu --suite all --json "$OUT/bench-gpu.json"
echo "== matmul forced to 64x64 tiles"
MLX_ARM_MATMUL_TILE=64 $B/bench --device gpu --suite matmul --json "$OUT/bench-gpu-tile64.json"
echo "== matmul forced to 128x128 tiles"
MLX_ARM_MATMUL_TILE=128 $B/bench --device gpu --suite matmul --json "$OUT/bench-gpu-tile128.json"
if [ -x $B/peers ]; then
  echo "== peers (burn wgpu) on the same adapter"
  $B/peers --suite all --device gpu --json "$OUT/peers-gpu.json"
fi
echo "== cpu (16 cores of the GPU machine)"
$B/bench --device cpu --suite matmul,softmax --json "$OUT/bench-cpu-gpuhost.json"
