#!/usr/bin/env bash
# The autotuner on the lent GPU machine. Carry .gl, .whl and .device-pack (a gzip tar of
# .device-bin: `tar -czf .device-pack/bins.tgz .device-bin`, to stay under the carry limit),
# .device-bin holding what run-llm-on-device.sh needs plus `bench` and test binaries in
# .device-bin/tests (see run-tests-on-device.sh). Two device calls (each under 10 minutes):
#   bash benches/gpu/run-autotune-on-device.sh tests
#     Conformance tests with tuning forced on (MLX_ARM_AUTOTUNE=1), then the quantized tests
#     once per cooperative-matrix variant the tuner may pick and the attention tests with
#     32-row blocks (each forced by its switch), so every candidate is checked on tensor cores.
#   bash benches/gpu/run-autotune-on-device.sh speed
#     `mlx-arm bench -p 512 -n 128` on random-weight Llama-3 1B and 8B Q4_0 files: an older
#     binary (.device-bin/mlx-arm-old) if carried, tuning off, then on twice with one cache file
#     (the first run searches, the second reads the winners); then `bench --suite matmul` off
#     and on.
# Logs and the winners (autotune*.json, with each candidate's time in µs) come back in $OUT.
set -uo pipefail
[ -d .device-bin ] || tar -xzf .device-pack/bins.tgz
source benches/gpu/device-env.sh
case "${1:-speed}" in
  tests)
    TEST_VARIANTS="MLX_ARM_AUTOTUNE=1+MLX_ARM_AUTOTUNE_CACHE=$OUT/autotune-tests.json" \
      bash benches/gpu/run-tests-on-device.sh
    cp "$OUT/tests.log" "$OUT/tests-tuned.log"
    TESTS=quantized TEST_VARIANTS="MLX_ARM_QMM_COOP_K=32 MLX_ARM_QMM_COOP_ROWS=64 \
MLX_ARM_QMM_COOP_ROWS=64+MLX_ARM_QMM_COOP_K=32 MLX_ARM_QMM_COOP_WARP=64 \
MLX_ARM_QMM_COOP_WARP=64+MLX_ARM_QMM_COOP_K=32" bash benches/gpu/run-tests-on-device.sh
    cp "$OUT/tests.log" "$OUT/tests-coop-variants.log"
    TESTS=fast TEST_VARIANTS="MLX_ARM_SDPA_COOP_ROWS=32" bash benches/gpu/run-tests-on-device.sh
    ;;
  speed)
    # per model: the session-start binary (.device-bin/mlx-arm-old, if carried), tuning off,
    # tuning on with an empty cache (timed: the search runs in it), tuning on with the winners
    cache="$OUT/autotune.json"
    rm -f "$cache"
    on="MLX_ARM_AUTOTUNE=1 MLX_ARM_AUTOTUNE_CACHE=$cache"
    nvidia-smi --query-gpu=name,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"
    {
      for shape in 1b 8b; do
        python3 .device-bin/make_random_llama_gguf.py $shape /tmp/$shape.gguf >/dev/null
        run() { echo "== $shape $*"; env "$@" bench --device gpu -p 512 -n 128 -r "${REPS:-3}" --model /tmp/$shape.gguf; }
        [ -x .device-bin/mlx-arm-old ] && run X=old .device-bin/mlx-arm-old
        run MLX_ARM_AUTOTUNE=0 .device-bin/mlx-arm
        t=$(date +%s.%N)
        run $on .device-bin/mlx-arm
        echo "(with the search: $(python3 -c "print(round($(date +%s.%N)-$t,1))") s)"
        t=$(date +%s.%N)
        run $on .device-bin/mlx-arm
        echo "(cached winners: $(python3 -c "print(round($(date +%s.%N)-$t,1))") s)"
      done
    } 2>&1 | tee "$OUT/llm.log"
    {
      for envs in MLX_ARM_AUTOTUNE=0 "$on"; do
        echo "== matmul $envs"
        env $envs .device-bin/bench --suite matmul --device gpu
      done
    } 2>&1 | tee "$OUT/matmul.log"
    ;;
esac
