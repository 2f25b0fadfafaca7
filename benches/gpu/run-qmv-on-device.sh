#!/usr/bin/env bash
# Quantized mat-vec bandwidth on the lent GPU (one device call; carry .gl and .device-bin with a
# release `bench` binary built here): `bench --suite qmv` (Llama-3-8B up/down shapes, 4-bit,
# 20 products per eval) under each work split in SPLITS (chunks per lane, rows per workgroup,
# subgroup sums, unroll: MLX_ARM_QMV_CPL / MLX_ARM_QMV_RPW / MLX_ARM_SUBGROUPS /
# MLX_ARM_QMV_UNROLL), then, when
# .device-bin/bench-old exists (a `bench` built from an earlier commit), that binary in the
# same run for a before/after ratio.
#   bash benches/gpu/run-qmv-on-device.sh
set -uo pipefail
source benches/gpu/device-env.sh
SPLITS="${SPLITS:-1:4:1:1 2:4:1:1 1:2:1:2 2:2:1:4 4:2:1:8 1:4:1:2 1:8:1:1 1:4:0:1}"
{
  for s in $SPLITS; do
    IFS=: read -r cpl rpw sg unroll <<<"$s"
    echo "== chunks per lane $cpl, rows per workgroup $rpw, subgroups $sg, unroll ${unroll:-1}"
    MLX_ARM_QMV_CPL=$cpl MLX_ARM_QMV_RPW=$rpw MLX_ARM_SUBGROUPS=$sg MLX_ARM_QMV_UNROLL=${unroll:-1} .device-bin/bench --suite qmv --device gpu 2>&1 | grep -E "roofline|qmv "
  done
  if [ -x .device-bin/bench-old ]; then
    echo "== bench-old (earlier commit, its defaults)"
    .device-bin/bench-old --suite qmv --device gpu 2>&1 | grep -E "roofline|qmv "
  fi
} 2>&1 | tee "$OUT/qmv.log"
