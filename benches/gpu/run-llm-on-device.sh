#!/usr/bin/env bash
# LLM speed on the lent GPU machine (one device call). Carry: .gl (Vulkan loader debs),
# .device-bin (a release `mlx-arm` binary built here and make_random_llama_gguf.py from
# ../shared/bench; the 98 MB SmolLM2 file is over the 64 MiB carry limit), .whl (the
# pure-python `gguf` wheel).
#   bash benches/gpu/run-llm-on-device.sh          # everything
# Writes logs to $OUT (or /tmp/out).
set -uo pipefail
source benches/gpu/device-env.sh
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT/gpu.txt"
bin=.device-bin/mlx-arm
log="$OUT/llm.log"
{
  for shape in 1b 8b; do
    t=$(date +%s)
    python3 .device-bin/make_random_llama_gguf.py $shape /tmp/$shape.gguf >/dev/null
    echo "== Llama-3 $shape-shaped Q4_0 (random weights; made in $(( $(date +%s) - t )) s)"
    $bin bench --device gpu -p 512 -n 128 -r 3 --model /tmp/$shape.gguf
  done
} 2>&1 | tee "$log"
