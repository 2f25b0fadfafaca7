#!/usr/bin/env bash
# Where the device time of LLM decode and prefill goes, per kernel (one device call; carry as
# for run-llm-on-device.sh): random-weight Llama-3 1B and 8B Q4_0 files, then
# `MLX_ARM_GPU_PROFILE=1 mlx-arm bench` once decode-shaped (-p 1 -n 32) and once
# prefill-shaped (-p 512 -n 1); PROFILE=pass times whole submissions instead of each dispatch.
# Profiling waits for every submission: its tok/s are not speed.
set -uo pipefail
source benches/gpu/device-env.sh
bin=.device-bin/mlx-arm
{
  for shape in ${SHAPES:-1b 8b}; do
    python3 .device-bin/make_random_llama_gguf.py $shape /tmp/$shape.gguf >/dev/null
    for pn in "1 32" "512 1"; do
      set -- $pn
      echo "== $shape -p $1 -n $2"
      MLX_ARM_GPU_PROFILE=${PROFILE:-1} $bin bench --device gpu -p $1 -n $2 -r 1 --model /tmp/$shape.gguf 2>&1 | grep -vE "Loading|^\s*$"
    done
  done
} 2>&1 | tee "$OUT/profile.log"
