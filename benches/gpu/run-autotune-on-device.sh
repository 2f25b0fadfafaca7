#!/usr/bin/env bash
# The autotuner on the lent GPU machine (one device call). Carry .gl, .whl and .device-bin as
# for run-llm-on-device.sh, plus test binaries in .device-bin/tests (see run-tests-on-device.sh).
# 1. Conformance tests with tuning forced on (MLX_ARM_AUTOTUNE=1), and once per
#    cooperative-matrix variant the tuner may pick (each forced by its switch), so every
#    candidate is checked on tensor-core hardware.
# 2. `mlx-arm bench -p 512 -n 128` on random-weight Llama-3 1B and 8B Q4_0 files: tuning off,
#    then on twice with one cache file (the first run searches, the second reads the winners).
# 3. `bench --suite matmul` off, then on.
# The winners (autotune.json, with each candidate's time) and logs come back in $OUT.
set -uo pipefail
source benches/gpu/device-env.sh
cache="$OUT/autotune.json"
rm -f "$cache"
TEST_VARIANTS="MLX_ARM_AUTOTUNE=1+MLX_ARM_AUTOTUNE_CACHE=/tmp/test-tune.json \
MLX_ARM_QMM_COOP_K=32 MLX_ARM_QMM_COOP_ROWS=64 MLX_ARM_QMM_COOP_ROWS=64+MLX_ARM_QMM_COOP_K=32 \
MLX_ARM_QMM_COOP_WARP=64 MLX_ARM_QMM_COOP_WARP=64+MLX_ARM_QMM_COOP_K=32 MLX_ARM_SDPA_COOP_ROWS=32" \
  bash benches/gpu/run-tests-on-device.sh
cp /tmp/test-tune.json "$OUT/test-autotune.json" 2>/dev/null
on="MLX_ARM_AUTOTUNE=1+MLX_ARM_AUTOTUNE_CACHE=$cache"
VARIANTS="MLX_ARM_AUTOTUNE=0 $on $on" REPS="${REPS:-3}" bash benches/gpu/run-llm-on-device.sh
{
  for envs in MLX_ARM_AUTOTUNE=0 "$on"; do
    echo "== matmul $envs"
    env ${envs//+/ } .device-bin/bench --suite matmul --device gpu
  done
} 2>&1 | tee "$OUT/matmul.log"
