#!/usr/bin/env python3
"""Joins a `bench --json` file with peers' JSON files (benches/peers: burn/candle `peers --json`,
numpy_cpu.py --json) taken in the same run and prints MLX-ARM's speed as a ratio to each peer.

usage: python3 benches/ratios.py BENCH.json PEERS.json [MORE_PEERS.json ...]
"""
import json
import re
import sys

DTYPES = {"f32": "float32", "f16": "float16", "float32": "float32", "float16": "float16"}
# our op names -> the peers' names for the same computation
OPS = {"sum (all)": "sum", "softmax (last axis)": "softmax"}


def shape_key(shape):
    """'16Mi' and '16777216' name the same shape; 'AxB' stays as it is."""
    m = re.fullmatch(r"(\d+)Mi", shape)
    return str(int(m.group(1)) << 20) if m else shape


def rate(row):
    for k in ("rate", "gflops", "gbps"):
        if row.get(k):
            return float(row[k])
    return None


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    ours = json.load(open(sys.argv[1]))
    mine = {(OPS.get(r["op"], r["op"]), shape_key(r["shape"]), r["dtype"]): r for r in ours["rows"]}
    print(f"MLX-ARM on {ours['device']}")
    print(f"{'peer':<12} {'op':<10} {'shape':<16} {'dtype':<8} {'MLX-ARM':>12} {'peer':>12}  ratio")
    for path in sys.argv[2:]:
        peers = json.load(open(path))
        rows = peers if isinstance(peers, list) else peers.get("rows", [])
        for p in rows:
            key = (p["op"], shape_key(p["shape"]), DTYPES.get(p["dtype"], p["dtype"]))
            if key not in mine or not rate(p):
                continue
            m = mine[key]
            unit = m["unit"]
            ratio = m["rate"] / rate(p)
            print(f"{p['peer']:<12} {key[0]:<10} {p['shape']:<16} {key[2]:<8} {m['rate']:>8.1f} {unit:<4}{rate(p):>8.1f}      {ratio:.2f}x")


if __name__ == "__main__":
    main()
