#!/usr/bin/env bash
# Conformance tests on the lent GPU machine, for kernels the software adapter cannot run
# (cooperative matrices). Carry .gl and .device-bin with test binaries built here in
# .device-bin/tests (`cargo test --release --no-run -p mlx-arm --test quantized ...`, copied
# without their hash suffix); each runs once per environment in TEST_VARIANTS (space-separated
# VAR=value words, several joined by '+'; default one plain run), from the repository root so
# fixtures resolve; TESTS (space-separated names) limits the binaries run. Exit status: non-zero when any run failed. Logs to $OUT/tests.log.
set -uo pipefail
source benches/gpu/device-env.sh
status=0
{
  for t in .device-bin/tests/*; do
    [ -n "${TESTS:-}" ] && ! grep -qw "$(basename "$t")" <<<"$TESTS" && continue
    for envs in ${TEST_VARIANTS:-X=default}; do
      echo "== $(basename "$t") $envs"
      env ${envs//+/ } CI=true "$t" --test-threads=1 >/tmp/test-run.log 2>&1
      rc=$?
      grep -E -A2 "^test .*FAILED|test result|panicked|note: no GPU" /tmp/test-run.log | head -200
      [ "$rc" = 0 ] || status=1
    done
  done
  echo "== tests exit $status"
} 2>&1 | tee "$OUT/tests.log"
grep -q "== tests exit 0" "$OUT/tests.log"
