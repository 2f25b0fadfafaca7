#!/usr/bin/env bash
# LLM speed on the lent GPU machine (one device call). Carry: .gl (Vulkan loader debs),
# .device-bin (a release `mlx-arm` binary built here and make_random_llama_gguf.py from
# ../shared/bench; the 98 MB SmolLM2 file is over the 64 MiB carry limit), .whl (the
# pure-python `gguf` wheel).
#   bash benches/gpu/run-llm-on-device.sh          # everything
# Writes logs to $OUT (or /tmp/out).
set -uo pipefail
OUT="${OUT:-/tmp/out}"
mkdir -p "$OUT"
for f in .gl/*.deb; do dpkg -x "$f" /; done
ldconfig
export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site
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
