"""MLX CPU peer for `mlx-arm generate`: a Llama forward written in MLX that runs the same GGUF
(SmolLM2-135M-Instruct Q4_1) and times prompt processing and greedy decode.

  pip install "mlx[cpu]==0.32.4" numpy
  python3 benches/peers/mlx_lm_decode.py [MODEL.gguf] [--tokens 128] [--runs 3] [--dequantize]

`mx.load` maps the GGUF's Q4_1 / Q8_0 tensors onto MLX affine triples (NAME uint32 packed,
PREFIX.scales, PREFIX.biases), so every linear layer is one `mx.quantized_matmul` with
group_size=32 (the forward is the one in lm/tests/fixtures/make_tiny_llama.py). Activations are
float32; the KV cache grows by concatenation. Decode follows mlx_lm's generate loop: the next
step's graph is built and `mx.async_eval`-ed before the current token is read back.

The prompt is the chat template around one user message (37 tokens), tokenized with the GGUF's
byte-level BPE merges after a GPT-2-style pre-split (an approximation of the smollm pre-tokenizer
that is exact on this prompt); the ids and the greedy text are printed. One warm-up run, then --runs timed
runs; prints prompt tok/s and decode tok/s of each run and their median.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import time

import mlx.core as mx

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
USER = "What is the capital of France?"


def byte_map():
    """GPT-2's byte <-> printable-unicode table (the vocabulary is written in it)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


class Vocab:
    def __init__(self, tokens, merges):
        self.tokens = tokens
        self.ranks = {tuple(m.split(" ", 1)): r for r, m in enumerate(merges)}
        self.ids = {t: i for i, t in enumerate(tokens)}
        self.enc = byte_map()
        self.dec = {c: b for b, c in self.enc.items()}

    def encode_text(self, text):
        return sum((self.encode_piece(w) for w in re.findall(r"'s|'t|'re|'ve|'m|'ll|'d| ?\w+| ?[^\s\w]+|\s+", text)), [])

    def encode_piece(self, text):
        """Byte-level BPE: merge the lowest-ranked adjacent pair until none is in the merge list."""
        parts = [self.enc[b] for b in text.encode("utf-8")]
        while len(parts) > 1:
            ranks = [self.ranks.get((x, y), 1 << 30) for x, y in zip(parts, parts[1:])]
            k = min(range(len(ranks)), key=ranks.__getitem__)
            if ranks[k] == 1 << 30:
                break
            parts[k:k + 2] = [parts[k] + parts[k + 1]]
        return [self.ids[t] for t in parts]

    def chat(self, system, user):
        im_s, im_e = self.ids["<|im_start|>"], self.ids["<|im_end|>"]
        ids = []
        for role, text in (("system", system), ("user", user)):
            ids += [im_s] + self.encode_text(f"{role}\n{text}") + [im_e] + self.encode_text("\n")
        return ids + [im_s] + self.encode_text("assistant\n")

    def decode(self, ids):
        return bytes(self.dec.get(c, ord("?")) for i in ids for c in self.tokens[i]).decode("utf-8", "replace")


class Linear:
    DEQUANTIZE = False  # --dequantize: f32 weights and a plain matmul instead of quantized_matmul

    def __init__(self, a, name):
        prefix = name[: -len(".weight")]
        self.w = a[name]
        self.s = a[prefix + ".scales"].astype(mx.float32)
        self.b = a[prefix + ".biases"].astype(mx.float32)
        self.bits = self.w.shape[1] * 32 // (self.s.shape[1] * 32)
        if self.DEQUANTIZE:
            self.w = mx.dequantize(self.w, self.s, self.b, group_size=32, bits=self.bits)
            self.s = self.b = None

    def __call__(self, x):
        if self.s is None:
            return x @ self.w.T
        return mx.quantized_matmul(x, self.w, self.s, self.b, transpose=True, group_size=32, bits=self.bits)

    def rows(self, ids):
        if self.s is None:
            return self.w[ids]
        return mx.dequantize(self.w[ids], self.s[ids], self.b[ids], group_size=32, bits=self.bits)

    def arrays(self):
        return [self.w] if self.s is None else [self.w, self.s, self.b]


class Llama:
    def __init__(self, a, meta):
        u = lambda k: int(meta[k].item())
        self.dim, self.layers = u("llama.embedding_length"), u("llama.block_count")
        self.heads, self.kv_heads = u("llama.attention.head_count"), u("llama.attention.head_count_kv")
        self.head_dim = self.dim // self.heads
        self.rope_dim = u("llama.rope.dimension_count")
        self.eps = float(meta["llama.attention.layer_norm_rms_epsilon"].item())
        self.base = float(meta["llama.rope.freq_base"].item())
        self.emb = Linear(a, "token_embd.weight")
        self.out = Linear(a, "output.weight") if "output.weight" in a else self.emb  # tied
        self.norm = a["output_norm.weight"]
        self.blocks = []
        for i in range(self.layers):
            p = f"blk.{i}."
            self.blocks.append({
                "attn_norm": a[p + "attn_norm.weight"], "ffn_norm": a[p + "ffn_norm.weight"],
                **{n: Linear(a, p + n + ".weight") for n in
                   ("attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down")}})
        arrays = self.emb.arrays() + self.out.arrays() + [self.norm]
        for b in self.blocks:
            arrays += [v for k, v in b.items() if "norm" in k]
            arrays += sum((v.arrays() for k, v in b.items() if "norm" not in k), [])
        mx.eval(arrays)

    def __call__(self, ids, cache):
        L = ids.shape[1]
        H, KV, D = self.heads, self.kv_heads, self.head_dim
        h = self.emb.rows(ids)
        for i, b in enumerate(self.blocks):
            x = mx.fast.rms_norm(h, b["attn_norm"], self.eps)
            q = b["attn_q"](x).reshape(1, L, H, D).transpose(0, 2, 1, 3)
            k = b["attn_k"](x).reshape(1, L, KV, D).transpose(0, 2, 1, 3)
            v = b["attn_v"](x).reshape(1, L, KV, D).transpose(0, 2, 1, 3)
            off = 0 if cache[i] is None else (cache[i][0][0] if self.kv_bits else cache[i][0]).shape[2]
            q = mx.fast.rope(q, self.rope_dim, traditional=True, base=self.base, scale=1.0, offset=off)
            k = mx.fast.rope(k, self.rope_dim, traditional=True, base=self.base, scale=1.0, offset=off)
            if self.kv_bits:  # stored as mx.quantize triples (mlx_lm's QuantizedKVCache)
                k = mx.quantize(k, group_size=self.kv_group, bits=self.kv_bits)
                v = mx.quantize(v, group_size=self.kv_group, bits=self.kv_bits)
            if cache[i] is not None:
                k = tuple(mx.concatenate([c, n], axis=2) for c, n in zip(cache[i][0], k)) if self.kv_bits else mx.concatenate([cache[i][0], k], axis=2)
                v = tuple(mx.concatenate([c, n], axis=2) for c, n in zip(cache[i][1], v)) if self.kv_bits else mx.concatenate([cache[i][1], v], axis=2)
            cache[i] = (k, v)
            if self.kv_bits:
                k = mx.dequantize(*k, group_size=self.kv_group, bits=self.kv_bits)
                v = mx.dequantize(*v, group_size=self.kv_group, bits=self.kv_bits)
            o = mx.fast.scaled_dot_product_attention(q, k, v, scale=D ** -0.5, mask="causal" if L > 1 else None)
            o = o.transpose(0, 2, 1, 3).reshape(1, L, H * D)
            h = h + b["attn_output"](o)
            x = mx.fast.rms_norm(h, b["ffn_norm"], self.eps)
            g = b["ffn_gate"](x)
            h = h + b["ffn_down"](g * mx.sigmoid(g) * b["ffn_up"](x))
        h = mx.fast.rms_norm(h[:, -1:], self.norm, self.eps)  # only the last position's logits
        return self.out(h)[0, -1]


def run(model, prompt, n):
    cache = [None] * model.layers
    t0 = time.perf_counter()
    tok = mx.argmax(model(mx.array([prompt]), cache))
    mx.eval(tok)
    t1 = time.perf_counter()
    out = []
    mx.async_eval(tok)
    for _ in range(n):
        nxt = mx.argmax(model(tok.reshape(1, 1), cache))
        mx.async_eval(nxt)
        out.append(tok.item())
        tok = nxt
    mx.eval(tok)
    t2 = time.perf_counter()
    return out, len(prompt) / (t1 - t0), n / (t2 - t1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model", nargs="?")
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--dequantize", action="store_true", help="f32 weights, plain matmul")
    ap.add_argument("--kv-bits", type=int, default=0, help="quantized KV cache (as mlx-arm --kv-bits)")
    ap.add_argument("--kv-group-size", type=int, default=64)
    args = ap.parse_args()
    Linear.DEQUANTIZE = args.dequantize
    Llama.kv_bits, Llama.kv_group = args.kv_bits, args.kv_group_size
    path = args.model or subprocess.check_output(
        ["bash", os.path.join(ROOT, "scripts/fetch-smollm2.sh")], text=True).strip().splitlines()[-1]
    mx.set_default_device(mx.cpu)
    a, meta = mx.load(path, return_metadata=True)
    model = Llama(a, meta)
    vocab = Vocab(meta["tokenizer.ggml.tokens"], meta["tokenizer.ggml.merges"])
    prompt = vocab.chat(SYSTEM, USER)
    print(f"mlx {mx.__version__} on {mx.default_device()}, {os.cpu_count()} cpus; model {os.path.basename(path)}"
          f"{' (dequantized to f32)' if args.dequantize else ''}")
    print(f"prompt: {len(prompt)} tokens {prompt}")
    ids, _, _ = run(model, prompt, args.tokens)  # warm-up
    print(f"greedy ids: {ids}")
    print(f"greedy text: {vocab.decode(ids)!r}")
    pp, tg = [], []
    for r in range(args.runs):
        _, p, d = run(model, prompt, args.tokens)
        pp.append(p)
        tg.append(d)
        print(f"run {r + 1}: prompt tok/s {p:.1f}  decode tok/s {d:.1f}")
    print(f"median of {args.runs}: prompt tok/s {statistics.median(pp):.1f} (min {min(pp):.1f}, max {max(pp):.1f})  "
          f"decode tok/s {statistics.median(tg):.1f} (min {min(tg):.1f}, max {max(tg):.1f})")


if __name__ == "__main__":
    sys.exit(main())
