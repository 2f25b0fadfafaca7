//! [`GgufVocab`]: a tokenizer vocabulary as GGUF stores it in its `tokenizer.ggml.*` metadata keys.

/// Vocabulary as stored in GGUF metadata (keys `tokenizer.ggml.*`).
#[derive(Debug, Clone, PartialEq)]
pub struct GgufVocab {
    /// `tokenizer.ggml.model`: `"gpt2"` (byte-level BPE) or `"llama"` (SentencePiece BPE).
    pub model: String,
    /// `tokenizer.ggml.pre`, e.g. `"smollm"`, `"llama-bpe"`, `"qwen2"`, `"default"`.
    pub pre: Option<String>,
    /// `tokenizer.ggml.tokens`: the token strings, indexed by id.
    pub tokens: Vec<String>,
    /// `tokenizer.ggml.scores` (SentencePiece): higher merges first.
    pub scores: Option<Vec<f32>>,
    /// `tokenizer.ggml.token_type`: see [`TokenType`].
    pub token_types: Option<Vec<i32>>,
    /// `tokenizer.ggml.merges`: BPE merges `"left right"`, highest priority first.
    pub merges: Vec<String>,
    /// `tokenizer.ggml.bos_token_id`.
    pub bos: Option<u32>,
    /// `tokenizer.ggml.eos_token_id`.
    pub eos: Option<u32>,
    /// `tokenizer.ggml.unknown_token_id`.
    pub unk: Option<u32>,
    /// `tokenizer.ggml.padding_token_id`.
    pub pad: Option<u32>,
    /// `tokenizer.ggml.add_bos_token` (default: true for `"llama"`, false for `"gpt2"`).
    pub add_bos: bool,
    /// `tokenizer.ggml.add_space_prefix` (SentencePiece only; default true): prepend `▁` to the
    /// text before encoding and strip the leading space when decoding.
    pub add_space_prefix: bool,
}

impl GgufVocab {
    /// A vocabulary of `model` with the given tokens and every other field empty or at its GGUF
    /// default (`add_bos` true for `"llama"`, `add_space_prefix` true).
    pub fn new(model: &str, tokens: Vec<String>) -> Self {
        GgufVocab {
            model: model.to_string(),
            pre: None,
            tokens,
            scores: None,
            token_types: None,
            merges: Vec::new(),
            bos: None,
            eos: None,
            unk: None,
            pad: None,
            add_bos: model == "llama",
            add_space_prefix: true,
        }
    }

    /// The type of token `id` ([`TokenType::Normal`] when `token_type` is absent).
    pub fn token_type(&self, id: usize) -> TokenType {
        self.token_types
            .as_ref()
            .and_then(|t| t.get(id))
            .map_or(TokenType::Normal, |&t| TokenType::from_i32(t))
    }
}

/// `tokenizer.ggml.token_type` values (llama.cpp's `llama_token_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenType {
    /// 1: an ordinary piece of text.
    Normal,
    /// 2: the unknown token.
    Unknown,
    /// 3: a control token (`<s>`, `<|im_start|>`): matched literally, skipped by
    /// `skip_special_tokens`.
    Control,
    /// 4: a user-defined token: matched literally, kept when decoding.
    UserDefined,
    /// 5: an unused slot.
    Unused,
    /// 6: a byte-fallback token `<0xHH>`.
    Byte,
    /// Any other value (0 is "undefined" in llama.cpp); treated as normal.
    Other(i32),
}

impl TokenType {
    /// Decodes a GGUF `token_type` value.
    pub fn from_i32(v: i32) -> Self {
        match v {
            1 => TokenType::Normal,
            2 => TokenType::Unknown,
            3 => TokenType::Control,
            4 => TokenType::UserDefined,
            5 => TokenType::Unused,
            6 => TokenType::Byte,
            other => TokenType::Other(other),
        }
    }
}
