#!/usr/bin/env bash
# SmolLM2-135M Q4_1 on the CPU, MLX-ARM against llama.cpp in one run, alternating, 2 threads:
#   bash benches/peers/llm_cpu_side_by_side.sh [LLAMA_BENCH]
# LLAMA_BENCH defaults to the AVX2 build made by benches/peers/llama_cpp_cpu.sh in /tmp/llama-cpp.
set -euo pipefail
cd "$(dirname "$0")/../.."
model=$(bash scripts/fetch-smollm2.sh)
lb="${1:-/tmp/llama-cpp/build-avx2/bin/llama-bench}"
cargo build --release -q -p mlx-arm-lm
for round in 1 2; do
  for case in "512 128" "37 64"; do
    set -- $case
    echo "== round $round: MLX-ARM pp$1 tg$2"
    ./target/release/mlx-arm bench --device cpu --model "$model" -p "$1" -n "$2" -r 3 | grep -E '^(pp|tg)'
    echo "== round $round: llama.cpp pp$1 tg$2"
    "$lb" -m "$model" -t 2 -r 3 -p "$1" -n "$2" 2>/dev/null | grep -E '^\| .*(pp|tg)[0-9]' | awk -F'|' '{print $(NF-2)": "$(NF-1)" tok/s"}'
  done
done
