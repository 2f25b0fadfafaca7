#!/usr/bin/env bash
# Runs the criterion benches and the demo on a lent GPU machine through Vulkan. Build here first:
#   cargo bench --no-run && cargo build --release --example demo && mkdir -p .device-bin \
#     && cp target/release/deps/{elementwise,matmul}-<hash> target/release/examples/demo .device-bin/ \
#     && strip .device-bin/*
# then call the device tool with carry [".gl", ".device-bin"] and command
#   bash benches/gpu/run-on-device.sh
# The Vulkan loader comes from Debian's .deb files in .gl (the GPU image has none). The GPU
# benches run twice: without wgpu's shader runtime checks (the default) and with them
# (MLX_ARM_SHADER_CHECKS=1).
set -uo pipefail
for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig
if [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ]; then
  export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
fi
export MLX_ARM_DEVICE=gpu
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,memory.total --format=csv | tee "$OUT/gpu.txt"
./.device-bin/demo 2>&1 | tee "$OUT/demo.txt"
for checks in 0 1; do
  export MLX_ARM_SHADER_CHECKS=$checks
  echo "== MLX_ARM_SHADER_CHECKS=$checks"
  for b in elementwise matmul; do
    exe=$(ls .device-bin/${b}-* | head -1)
    "$exe" --bench --warm-up-time 1 --measurement-time 3 --noplot 2>&1 \
      | grep -E 'time:|thrpt:|^[a-z_0-9]+/' | tee "$OUT/$b-checks$checks.txt"
  done
done
