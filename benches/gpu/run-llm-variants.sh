#!/usr/bin/env bash
# Kernel-variant sweep for LLM decode/prefill on the lent GPU (one device call; carry as for
# run-llm-on-device.sh: .gl, .device-bin, .whl). Each line of the log is one `mlx-arm bench`
# under one environment: the default, the composed attention instead of the fused one, and the
# mat-vec with 2/8 weight rows per 32 invocations, and without the bind-group cache. VARIANTS
# (space-separated VAR=value words) replaces the list.
#   bash benches/gpu/run-llm-variants.sh
set -uo pipefail
source benches/gpu/device-env.sh
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT/gpu.txt"
bin=.device-bin/mlx-arm
log="$OUT/variants.log"
{
  for shape in 1b 8b; do
    python3 .device-bin/make_random_llama_gguf.py $shape /tmp/$shape.gguf >/dev/null
    for envs in ${VARIANTS:-"X=default" "MLX_ARM_SDPA=composed" "MLX_ARM_BIND_CACHE=0" "MLX_ARM_QMV_RPW=2" "MLX_ARM_QMV_RPW=8"}; do
      echo "== $shape $envs"
      env $envs $bin bench --device gpu -p 512 -n 128 -r 2 --model /tmp/$shape.gguf 2>&1 | grep -E "pp[0-9]|tg|peak"
    done
  done
} 2>&1 | tee "$log"
