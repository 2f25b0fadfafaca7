#!/usr/bin/env python3
"""Writes tests/fixtures/tokenizer/smollm2.json: reference token ids, decodes and chat-template
renders for SmolLM2-135M-Instruct's GGUF vocabulary, used by tokenizer/tests/.

Reference ids come from two independent implementations that must agree:
  * Hugging Face `tokenizers` (Python), built from the GGUF vocabulary and merges with SmolLM2's
    tokenizer.json pipeline: Digits(individual_digits) + ByteLevel(add_prefix_space=False), the
    17 control tokens as special added tokens;
  * a small pure-Python GPT-2 BPE below (the `regex` module for pre-tokenization).
Chat templates are rendered with transformers' own `render_jinja_template` (jinja2, as
`apply_chat_template` does). Nothing is downloaded from a model hub: the GGUF comes from
scripts/fetch-smollm2.sh (PyPI).

Needs: pip install gguf==0.19.0 numpy tokenizers transformers regex
Run:   python3 scripts/make_tokenizer_fixtures.py [path/to/SmolLM2-135M-Instruct.Q4_1.gguf]
"""
import json
import os
import subprocess
import sys

import gguf
import regex
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers
from transformers.utils.chat_template_utils import render_jinja_template

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "tokenizer", "smollm2.json")

TEXTS = [
    "",
    "Hello world",
    "Hello, world!",
    " leading space",
    "trailing space ",
    "  two leading spaces",
    "multiple    spaces   between",
    "tab\there\tand\t\ttwo",
    "line one\nline two\n\nline four\n",
    "\r\nwindows\r\nnewlines",
    "12345",
    "3.14159 and 1,000,000 and 2024-06-01",
    "don't I'll we've they're she'd it's",
    "DON'T I'LL",
    "café naïve résumé",
    "e\u0301 combining acute, a\u0308 umlaut",
    "Ünïcödé ÀÉÎÕÜ ß",
    "日本語のテキスト",
    "中文测试：你好，世界！",
    "한국어 텍스트",
    "Привет, мир!",
    "مرحبا بالعالم",
    "emoji 😀🎉👍🏽 family 👨‍👩‍👧‍👦 flag 🇫🇷",
    "math ∑∫√∞ ≤ ≥ ≠",
    "def f(x):\n    return x ** 2  # square\n",
    "fn main() { println!(\"{}\", 1 + 2); }",
    "<html><body class=\"x\">&amp;</body></html>",
    "https://example.com/path?query=1&b=two#frag",
    "user@example.com",
    "<|im_start|>user\nHi<|im_end|>",
    "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>assistant\n",
    "<|endoftext|>",
    "text<|im_end|>more",
    "<|im_start <|im_end",
    "<repo_name>mlx<file_sep>x.rs",
    "\u00a0non-breaking\u00a0space",
    "zero\u200bwidth\u200bspace",
    "\x00\x01 control chars \x7f",
    "   ",
    "\n",
    "a" * 50,
    "The quick brown fox jumps over the lazy dog. THE END.",
]

CHATS = [
    {
        "name": "system_user_generation_prompt",
        "messages": [
            {"role": "system", "content": "You are a concise assistant."},
            {"role": "user", "content": "What is 2+2?"},
        ],
        "add_generation_prompt": True,
    },
    {
        "name": "user_only",
        "messages": [{"role": "user", "content": "Hello!"}],
        "add_generation_prompt": False,
    },
    {
        "name": "multi_turn",
        "messages": [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello! How can I help?"},
            {"role": "user", "content": "Tell me a joke. 😀"},
        ],
        "add_generation_prompt": True,
    },
]

# A template exercising what HF templates use beyond SmolLM2's: whitespace control, trim/lstrip
# blocks, loop controls, namespace, python string methods, tojson, bos/eos, raise_exception.
FEATURE_TEMPLATE = """{{ bos_token }}
{% set ns = namespace(n=0) %}
{% for message in messages %}
    {% if message['role'] not in ['system', 'user', 'assistant'] %}
        {{ raise_exception('Unknown role: ' + message['role']) }}
    {% endif %}
    {% if message['role'] == 'system' %}{% continue %}{% endif %}
    {% set ns.n = ns.n + 1 %}
[{{ ns.n }}:{{ message['role'] | upper }}] {{ message['content'].strip() }}{% if message['content'].startswith('Q:') %} (question){% endif %}

    {% if loop.last %}{{ eos_token }}{% endif %}
{% endfor %}
{%- if add_generation_prompt %}
{{- '[ASSISTANT]' -}} {{ messages | length }} {{ {'k': 'v'} | tojson }}
{% endif %}"""

FEATURE_CHATS = [
    {
        "name": "features",
        "messages": [
            {"role": "system", "content": "ignored"},
            {"role": "user", "content": "  Q: padded?  "},
            {"role": "assistant", "content": "yes\n"},
        ],
        "add_generation_prompt": True,
    },
]


def gpt2_bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


GPT2_PAT = regex.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")
DIGIT_PAT = regex.compile(r"\p{N}")


class PyBpe:
    """A plain GPT-2 BPE with SmolLM2's pre-tokenization (digits split one by one first)."""

    def __init__(self, tokens, merges, specials):
        self.vocab = {t: i for i, t in enumerate(tokens)}
        self.ranks = {tuple(m.split(" ", 1)): r for r, m in enumerate(merges)}
        self.b2u = gpt2_bytes_to_unicode()
        self.specials = sorted(specials, key=len, reverse=True)

    def bpe(self, word):
        parts = list(word)
        while len(parts) > 1:
            best = min(range(len(parts) - 1), key=lambda i: self.ranks.get((parts[i], parts[i + 1]), 1 << 60))
            if (parts[best], parts[best + 1]) not in self.ranks:
                break
            parts[best:best + 2] = [parts[best] + parts[best + 1]]
        return [self.vocab[p] for p in parts]

    def encode_plain(self, text):
        ids = []
        # Digits(individual_digits=True): every digit is its own piece; the rest goes through the GPT-2 regex.
        pos = 0
        chunks = []
        for m in DIGIT_PAT.finditer(text):
            chunks.append(text[pos:m.start()])
            chunks.append(m.group())
            pos = m.end()
        chunks.append(text[pos:])
        for chunk in chunks:
            for w in GPT2_PAT.findall(chunk):
                ids += self.bpe("".join(self.b2u[b] for b in w.encode("utf-8")))
        return ids

    def encode(self, text):
        if not text:
            return []
        for s in self.specials:
            i = text.find(s)
            if i >= 0:
                pass
        # split on the earliest (longest at a tie) special token
        best = None
        for s in self.specials:
            i = text.find(s)
            if i >= 0 and (best is None or i < best[0]):
                best = (i, s)
        if best is None:
            return self.encode_plain(text)
        i, s = best
        return self.encode(text[:i]) + [self.vocab[s]] + self.encode(text[i + len(s):])


def field(reader, key):
    f = reader.fields.get(key)
    return None if f is None else f.contents()


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else subprocess.check_output(
        ["bash", os.path.join(ROOT, "scripts", "fetch-smollm2.sh")], text=True).strip()
    r = gguf.GGUFReader(path)
    tokens = field(r, "tokenizer.ggml.tokens")
    types = field(r, "tokenizer.ggml.token_type")
    merges = field(r, "tokenizer.ggml.merges")
    assert field(r, "tokenizer.ggml.model") == "gpt2" and field(r, "tokenizer.ggml.pre") == "smollm"
    bos = tokens[field(r, "tokenizer.ggml.bos_token_id")]
    eos = tokens[field(r, "tokenizer.ggml.eos_token_id")]
    template = field(r, "tokenizer.chat_template")
    specials = [t for t, ty in zip(tokens, types) if ty == 3]

    hf = Tokenizer(models.BPE(vocab={t: i for i, t in enumerate(tokens)},
                              merges=[tuple(m.split(" ", 1)) for m in merges]))
    hf.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])
    hf.decoder = decoders.ByteLevel()
    hf.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in specials])
    py = PyBpe(tokens, merges, specials)

    cases = []
    for text in TEXTS:
        ids = hf.encode(text, add_special_tokens=False).ids
        alt = py.encode(text)
        assert ids == alt, f"HF tokenizers and the Python BPE disagree on {text!r}: {ids} vs {alt}"
        cases.append({
            "text": text,
            "ids": ids,
            "decoded": hf.decode(ids, skip_special_tokens=False),
            "decoded_skip_special": hf.decode(ids, skip_special_tokens=True),
        })

    def render(tmpl, chat):
        out, _ = render_jinja_template(conversations=[chat["messages"]], chat_template=tmpl,
                                       add_generation_prompt=chat["add_generation_prompt"],
                                       bos_token=bos, eos_token=eos)
        return out[0]

    fixture = {
        "source": "SmolLM2-135M-Instruct.Q4_1.gguf (scripts/fetch-smollm2.sh); written by scripts/make_tokenizer_fixtures.py",
        "vocab_size": len(tokens),
        "bos_token": bos,
        "eos_token": eos,
        "cases": cases,
        "chat": [dict(c, rendered=render(template, c)) for c in CHATS],
        "feature_template": FEATURE_TEMPLATE,
        "feature_chat": [dict(c, rendered=render(FEATURE_TEMPLATE, c)) for c in FEATURE_CHATS],
    }
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w", encoding="utf-8") as f:
        json.dump(fixture, f, ensure_ascii=False, indent=1)
        f.write("\n")
    print(f"wrote {OUT}: {len(cases)} strings, {len(fixture['chat']) + len(fixture['feature_chat'])} chats")


if __name__ == "__main__":
    main()
