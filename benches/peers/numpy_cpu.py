#!/usr/bin/env python3
"""numpy's figures for the CPU cases of `peers` (issue 3), in the same output format.

    python3 benches/peers/numpy_cpu.py [--suite matmul|elementwise|softmax|all]
        [--threads N] [--json out.json] [--quick] [--warmup N] [--runs N]

Cases: matmul f32 512/1024/2048^3; add f32 16 Mi elements with a fresh output (`a + b`) and
into a preallocated one (`np.add(a, b, out=c)`); softmax over the last axis of (4096, 4096) f32,
composed as max / exp / sum / divide. Each case: warm-up runs, then the median of timed runs.
GFLOP/s = 2 n^3 / t / 1e9; GB/s (1e9 bytes) counts 12 B/element for add and 8 B/element
(one read, one write) for softmax, as `peers` does.

--threads N sets OPENBLAS_NUM_THREADS/OMP_NUM_THREADS/MKL_NUM_THREADS before numpy is imported
(numpy's elementwise ops are single-threaded either way).

Note: if OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE are set in the environment (some machines set them
to work around old OpenBLAS builds), a current numpy runs a slower kernel; to benchmark, unset
both for that command alone: `env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE python3 ...`.
"""

import argparse
import json
import os
import sys
import time

MI = 1 << 20


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--suite", default="all", choices=["matmul", "elementwise", "softmax", "all"])
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--json", default=None)
    p.add_argument("--quick", action="store_true", help="small sizes only (smoke run)")
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--runs", type=int, default=10)
    return p.parse_args()


args = parse_args()
if args.threads is not None:
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)

import numpy as np  # noqa: E402  (after the thread variables on purpose)


def time_it(f):
    for _ in range(args.warmup):
        f()
    ts = []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t0)
    ts.sort()
    n = len(ts)
    median = ts[n // 2] if n % 2 else 0.5 * (ts[n // 2 - 1] + ts[n // 2])
    return median, ts[0]


records = []


def record(suite, op, shape, dtype, median, tmin, flops=None, nbytes=None):
    rec = {
        "peer": "numpy",
        "version": np.__version__,
        "device": f"cpu ({args.threads if args.threads is not None else 'default'} threads)",
        "suite": suite,
        "op": op,
        "shape": shape,
        "dtype": dtype,
        "median_s": median,
        "min_s": tmin,
        "runs": args.runs,
    }
    if flops is not None:
        rate, unit = flops / median / 1e9, "GFLOP/s"
        rec["gflops"] = rate
    else:
        rate, unit = nbytes / median / 1e9, "GB/s"
        rec["gbps"] = rate
    records.append(rec)
    print(f"{'numpy':<10} {op:<16} {shape:<16} {dtype:<5} {median * 1e3:>10.3f} {rate:>10.1f} {unit}",
          flush=True)


def size_name(n):
    return f"{n // MI}Mi" if n % MI == 0 else str(n)


def softmax(x):
    m = x.max(axis=-1, keepdims=True)
    e = np.exp(x - m)
    return e / e.sum(axis=-1, keepdims=True)


def main():
    if os.environ.get("OPENBLAS_CORETYPE") or os.environ.get("OPENBLAS_L2_SIZE"):
        print("# note: OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE are set; matmul may run a slower "
              "kernel (see --help)", file=sys.stderr)
    print(f"# numpy {np.__version__}, threads: "
          f"{args.threads if args.threads is not None else 'default'}", file=sys.stderr)
    print(f"{'peer':<10} {'op':<16} {'shape':<16} {'dtype':<5} {'median_ms':>10} {'rate':>10}")
    rng = np.random.default_rng(0)
    suites = ["matmul", "elementwise", "softmax"] if args.suite == "all" else [args.suite]
    for suite in suites:
        if suite == "matmul":
            for n in ([128, 256] if args.quick else [512, 1024, 2048]):
                a = rng.uniform(-1, 1, (n, n)).astype(np.float32)
                b = rng.uniform(-1, 1, (n, n)).astype(np.float32)
                med, tmin = time_it(lambda: a @ b)
                record(suite, "matmul", f"{n}x{n}x{n}", "f32", med, tmin, flops=2.0 * n**3)
        elif suite == "elementwise":
            n = MI if args.quick else 16 * MI
            a = rng.uniform(-1, 1, n).astype(np.float32)
            b = rng.uniform(-1, 1, n).astype(np.float32)
            med, tmin = time_it(lambda: a + b)
            record(suite, "add", size_name(n), "f32", med, tmin, nbytes=12.0 * n)
            c = np.empty_like(a)
            med, tmin = time_it(lambda: np.add(a, b, out=c))
            record(suite, "add_out", size_name(n), "f32", med, tmin, nbytes=12.0 * n)
        elif suite == "softmax":
            n = 256 if args.quick else 4096
            x = rng.uniform(-1, 1, (n, n)).astype(np.float32)
            assert softmax(x).dtype == np.float32
            med, tmin = time_it(lambda: softmax(x))
            record(suite, "softmax_composed", f"{n}x{n}", "f32", med, tmin, nbytes=8.0 * n * n)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(records, f, indent=2)
            f.write("\n")
        print(f"# wrote {len(records)} records to {args.json}", file=sys.stderr)


main()
