#!/usr/bin/env bash
# Runs the bench harness (and the peers, when built) on a lent GPU machine through Vulkan.
# Build here first (x86-64):
#   cargo build --release --bin bench --example demo && mkdir -p .device-bin \
#     && cp target/release/bench target/release/examples/demo .device-bin/ \
#     && { [ -x benches/peers/target/release/peers ] && xz -T2 -c benches/peers/target/release/peers > .device-bin/peers.xz || true; } \
#     && cp "$(cargo test --no-run --test shape_index 2>&1 | grep -o 'target/debug/deps/shape_index-[0-9a-f]*')" .device-bin/ \
#     && strip .device-bin/*
# then call the device tool with carry [".gl", ".device-bin"] and command
#   bash benches/gpu/run-on-device.sh
# The Vulkan loader comes from Debian's .deb files in .gl (the GPU image has none).
# Every figure lands in $OUT (bench-*.json, peers-gpu.json, log.txt).
set -uo pipefail
source benches/gpu/device-env.sh
export MLX_ARM_DEVICE=gpu
exec > >(tee "$OUT/log.txt") 2>&1
date -u
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,memory.total --format=csv
B=./.device-bin
# the peers binary travels xz-compressed (the carry limit is 64 MiB)
if [ -f $B/peers.xz ]; then xz -dc $B/peers.xz > /tmp/peers && chmod +x /tmp/peers && cp /tmp/peers $B/peers 2>/dev/null || B_PEERS=/tmp/peers; fi
$B/demo | tail -3
echo "== bench, all suites (default tiles)"
$B/bench --device gpu --suite all --json "$OUT/bench-gpu.json"
echo "== f16 matmul on cooperative matrices (opt-in)"
MLX_ARM_COOP_MATRIX=1 $B/bench --device gpu --suite matmul --json "$OUT/bench-gpu-coop.json"
echo "== matmul forced to 64x64 tiles"
MLX_ARM_MATMUL_TILE=64 $B/bench --device gpu --suite matmul --json "$OUT/bench-gpu-tile64.json"
echo "== matmul forced to 128x128 tiles"
MLX_ARM_MATMUL_TILE=128 $B/bench --device gpu --suite matmul --json "$OUT/bench-gpu-tile128.json"
PEERS=${B_PEERS:-$B/peers}
if [ -x "$PEERS" ]; then
  echo "== peers (burn wgpu) on the same adapter"
  timeout 240 "$PEERS" --suite all --device gpu --json "$OUT/peers-gpu.json"
fi
if ls $B/shape_index-* >/dev/null 2>&1; then
  echo "== matmul conformance on this GPU (cooperative-matrix and tiled paths, edge shapes)"
  MLX_ARM_COOP_MATRIX=1 $(ls $B/shape_index-* | head -1) matmul 2>&1 | grep -E "test result|panicked|got" | head -20
fi
echo "== cpu (16 cores of the GPU machine)"
$B/bench --device cpu --suite matmul,softmax --json "$OUT/bench-cpu-gpuhost.json"
echo "== bench again, all suites (run-to-run spread)"
$B/bench --device gpu --suite all --json "$OUT/bench-gpu-repeat.json"
