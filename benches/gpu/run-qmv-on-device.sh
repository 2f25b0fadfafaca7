#!/usr/bin/env bash
# Quantized mat-vec bandwidth on the lent GPU (one device call; carry .gl and .device-bin with a
# release `bench` binary built here): `bench --suite qmv` (Llama-3-8B up/down shapes, 4-bit,
# 20 products per eval) under each mat-vec rows-per-warp variant.
#   bash benches/gpu/run-qmv-on-device.sh
set -uo pipefail
source benches/gpu/device-env.sh
{
  for rpw in 4 2 8; do
    echo "== MLX_ARM_QMV_RPW=$rpw"
    MLX_ARM_QMV_RPW=$rpw .device-bin/bench --suite qmv --device gpu 2>&1 | grep -E "roofline|qmv "
  done
} 2>&1 | tee "$OUT/qmv.log"
