#!/usr/bin/env bash
# llama.cpp CPU peer for `mlx-arm generate`: builds llama-bench from the llama.cpp vendored in the
# PyPI sdist of llama-cpp-python and runs it on SmolLM2-135M-Instruct Q4_1.
#
#   bash benches/peers/llama_cpp_cpu.sh [WORKDIR=/tmp/llama-cpp] [native|avx2|both=avx2]
#
# Idempotent: the sdist, the source tree and each build folder are reused when present.
# Builds run under `nice -n 15` with 2 jobs (the dev machine is shared). Env: THREADS (default 2),
# REPS (llama-bench -r, default 5), LCP_VERSION (pin the sdist, default latest).
set -euo pipefail
WORK=${1:-/tmp/llama-cpp}
MODE=${2:-avx2}
THREADS=${THREADS:-2}
REPS=${REPS:-5}
HERE=$(cd "$(dirname "$0")/../.." && pwd)
MODEL=$(bash "$HERE/scripts/fetch-smollm2.sh" | tail -1)
mkdir -p "$WORK"
cd "$WORK"

if ! ls llama_cpp_python-*.tar.gz >/dev/null 2>&1; then
  spec=llama-cpp-python${LCP_VERSION:+==$LCP_VERSION}
  # `--no-binary llama-cpp-python` (not `:all:`, which would also build the build dependencies,
  # cmake included, from source just to read the metadata) saves the sdist.
  nice -n 15 pip download --no-deps --no-binary llama-cpp-python "$spec" -d .
fi
SDIST=$(ls llama_cpp_python-*.tar.gz | sort -V | tail -1)
SRC=$WORK/${SDIST%.tar.gz}
[ -d "$SRC" ] || tar xzf "$SDIST"
LLAMA=$SRC/vendor/llama.cpp
echo "sdist: $SDIST  llama.cpp: $(cat "$LLAMA/.git-commit" 2>/dev/null || grep -m1 -o 'b[0-9]\+' "$LLAMA/CMakeLists.txt" || echo unknown)"

build() { # name, extra cmake flags...
  local name=$1; shift
  local dir=$WORK/build-$name
  if [ ! -x "$dir/bin/llama-bench" ]; then
    cmake -S "$LLAMA" -B "$dir" -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF -DGGML_OPENMP=ON \
      -DBUILD_SHARED_LIBS=OFF "$@" >/dev/null
    nice -n 15 cmake --build "$dir" -j 2 --target llama-bench
  fi
  echo "$dir/bin/llama-bench"
}

run() { # name
  local bin=$WORK/build-$1/bin/llama-bench
  echo "== $1: $bin -m $MODEL -t $THREADS -r $REPS -p 512 -n 128"
  "$bin" -m "$MODEL" -t "$THREADS" -r "$REPS" -p 512 -n 128
  echo "== $1: $bin -m $MODEL -t $THREADS -r $REPS -p 37 -n 64"
  "$bin" -m "$MODEL" -t "$THREADS" -r "$REPS" -p 37 -n 64
}

case $MODE in
  avx2)   build avx2 -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON >/dev/null; run avx2 ;;
  native) build native -DGGML_NATIVE=ON >/dev/null; run native ;;
  both)   build avx2 -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON >/dev/null
          build native -DGGML_NATIVE=ON >/dev/null; run avx2; run native ;;
  *) echo "mode: avx2|native|both" >&2; exit 2 ;;
esac
