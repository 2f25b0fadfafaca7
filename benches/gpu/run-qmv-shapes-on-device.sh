#!/usr/bin/env bash
# 4-bit mat-vec GB/s per Llama weight shape (`bench --suite qmv-shapes`, paired f16 scales as
# the LLM loader holds them) under each mat-vec work split in SPLITS (space-separated
# environment words, e.g. "MLX_ARM_QMV_RPW=2 MLX_ARM_QMV_RPW=8"), one device call. Carry
# .gl and .device-bin (a release `bench` binary built here). Writes $OUT/qmv-shapes.log.
set -uo pipefail
source benches/gpu/device-env.sh
{
  for envs in ${SPLITS:-X=default}; do
    echo "== $envs"
    env $envs .device-bin/bench --suite qmv-shapes --device gpu 2>&1 | grep -E "^qmv|roofline"
  done
} 2>&1 | tee "$OUT/qmv-shapes.log"
