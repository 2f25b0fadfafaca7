#!/usr/bin/env bash
# LLM speed on the lent GPU machine (one device call). Carry: .gl (Vulkan loader debs),
# .device-bin (a release `mlx-arm` binary built here and make_random_llama_gguf.py from
# ../shared/bench; the 98 MB SmolLM2 file is over the 64 MiB carry limit), .whl (the
# pure-python `gguf` wheel). Random-weight Llama-3 1B and 8B Q4_0 files are made on the device,
# then `mlx-arm bench -p 512 -n 128 -r $REPS` runs once per environment in VARIANTS
# (space-separated VAR=value words, several joined by '+'; default: one plain run) and per binary in BINS (names in
# .device-bin, default mlx-arm; e.g. BINS="mlx-arm-old mlx-arm" with a binary built from an
# earlier commit, for a before/after ratio in one run), e.g. for kernel sweeps:
#   bash benches/gpu/run-llm-on-device.sh
#   VARIANTS="X=default MLX_ARM_SDPA=composed MLX_ARM_BIND_CACHE=0 MLX_ARM_QMV_RPW=2" REPS=2 \
#     bash benches/gpu/run-llm-on-device.sh
# Writes logs to $OUT (or /tmp/out).
set -uo pipefail
source benches/gpu/device-env.sh
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT/gpu.txt"
{
  for shape in 1b 8b; do
    t=$(date +%s)
    python3 .device-bin/make_random_llama_gguf.py $shape /tmp/$shape.gguf >/dev/null
    echo "== Llama-3 $shape-shaped Q4_0 (random weights; made in $(( $(date +%s) - t )) s)"
    for bin in ${BINS:-mlx-arm}; do
      for envs in ${VARIANTS:-X=default}; do
        echo "== $shape $bin $envs"
        env ${envs//+/ } .device-bin/$bin bench --device gpu -p 512 -n 128 -r "${REPS:-3}" --model /tmp/$shape.gguf
      done
    done
  done
} 2>&1 | tee "$OUT/llm.log"
