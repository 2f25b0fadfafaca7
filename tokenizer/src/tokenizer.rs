//! [`Tokenizer`]: encode text to token ids and decode ids back to text.

use std::collections::HashSet;
use std::path::Path;
use std::str::FromStr;

use tokenizers::models::bpe::{Vocab, BPE};
use tokenizers::AddedToken;

use crate::error::{Error, Result};
use crate::pieces::{token_bytes, PieceStyle, Pieces};
use crate::pre::pre_config;
use crate::spm;
use crate::stream::StreamDecoder;
use crate::vocab::{GgufVocab, TokenType};

/// Texts of control tokens that end a turn or a generation in common chat vocabularies (llama.cpp
/// treats these as end-of-generation tokens too); [`Tokenizer::eos_ids`] includes them.
const END_OF_GENERATION: &[&str] = &[
    "<|eot_id|>",
    "<|im_end|>",
    "<|end|>",
    "<end_of_turn>",
    "<|endoftext|>",
    "<|end_of_text|>",
    "<|eom_id|>",
    "<EOT>",
    "</s>",
];

/// How ids turn back into text.
#[derive(Debug, Clone)]
pub(crate) enum Decoding {
    /// From the per-id byte table (GGUF vocabularies, and tokenizer.json files whose decoder is
    /// byte-level or SentencePiece-like).
    Pieces(Pieces),
    /// Through the `tokenizers` decoder (any other tokenizer.json decoder).
    Inner,
}

/// A text tokenizer: a GGUF vocabulary or a Hugging Face `tokenizer.json`.
#[derive(Clone)]
pub struct Tokenizer {
    pub(crate) inner: tokenizers::Tokenizer,
    pub(crate) decoding: Decoding,
    vocab_size: usize,
    bos: Option<u32>,
    eos: Vec<u32>,
    /// Prepend `bos` when encoding with special tokens (GGUF `add_bos_token`).
    prepend_bos: bool,
    /// Let the tokenizer.json post-processor add special tokens.
    inner_adds_special: bool,
}

impl std::fmt::Debug for Tokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokenizer")
            .field("vocab_size", &self.vocab_size)
            .field("bos", &self.bos)
            .field("eos", &self.eos)
            .field("prepend_bos", &self.prepend_bos)
            .finish_non_exhaustive()
    }
}

fn check_id(name: &str, id: Option<u32>, n: usize) -> Result<()> {
    match id {
        Some(i) if i as usize >= n => Err(Error::InvalidVocab(format!(
            "{name} token id {i} is out of range (vocabulary size {n})"
        ))),
        _ => Ok(()),
    }
}

impl Tokenizer {
    /// Builds a tokenizer from a GGUF vocabulary (`tokenizer.ggml.model` `"gpt2"` or `"llama"`).
    pub fn from_gguf_vocab(v: &GgufVocab) -> Result<Tokenizer> {
        let n = v.tokens.len();
        if n == 0 {
            return Err(Error::InvalidVocab("tokenizer.ggml.tokens is empty".into()));
        }
        if n > u32::MAX as usize {
            return Err(Error::InvalidVocab(format!(
                "{n} tokens do not fit u32 ids"
            )));
        }
        if let Some(t) = &v.token_types {
            if t.len() != n {
                return Err(Error::InvalidVocab(format!(
                    "{} token types for {n} tokens",
                    t.len()
                )));
            }
        }
        for (name, id) in [
            ("bos", v.bos),
            ("eos", v.eos),
            ("unk", v.unk),
            ("pad", v.pad),
        ] {
            check_id(name, id, n)?;
        }
        // Vocabulary map; the first id wins for duplicate strings (insert in reverse order).
        let vocab: Vocab = v
            .tokens
            .iter()
            .enumerate()
            .rev()
            .map(|(i, t)| (t.clone(), i as u32))
            .collect();

        let (style, mut inner, strip_leading_space) = match v.model.as_str() {
            "gpt2" => {
                let merges = v
                    .merges
                    .iter()
                    .map(|m| {
                        m.split_once(' ')
                            .map(|(a, b)| (a.to_string(), b.to_string()))
                            .ok_or_else(|| {
                                Error::InvalidVocab(format!("merge {m:?} is not \"left right\""))
                            })
                    })
                    .collect::<Result<Vec<_>>>()?;
                let cfg = pre_config(v.pre.as_deref())?;
                let bpe = BPE::builder()
                    .vocab_and_merges(vocab, merges)
                    .ignore_merges(cfg.ignore_merges)
                    .build()?;
                let mut t = tokenizers::Tokenizer::new(bpe);
                t.with_normalizer(cfg.normalizer);
                t.with_pre_tokenizer(Some(cfg.pre_tokenizer));
                (PieceStyle::ByteLevel, t, false)
            }
            "llama" => {
                let merges = spm::merges_from_scores(v)?;
                let mut b = BPE::builder()
                    .vocab_and_merges(vocab, merges)
                    .byte_fallback(true);
                if let Some(u) = v.unk {
                    b = b.unk_token(v.tokens[u as usize].clone());
                }
                let mut t = tokenizers::Tokenizer::new(b.build()?);
                t.with_normalizer(Some(spm::normalizer(v.add_space_prefix)?));
                (PieceStyle::SentencePiece, t, v.add_space_prefix)
            }
            other => return Err(Error::UnsupportedModel(other.to_string())),
        };

        // Control, unknown and user-defined tokens match literally in the text.
        let mut specials = Vec::new();
        let mut user = Vec::new();
        let mut special = vec![false; n];
        for (i, t) in v.tokens.iter().enumerate() {
            let ty = v.token_type(i);
            let is_special = matches!(ty, TokenType::Control | TokenType::Unknown)
                || [v.bos, v.eos, v.pad].contains(&Some(i as u32));
            special[i] = is_special;
            if t.is_empty() {
                continue;
            }
            match ty {
                TokenType::Control | TokenType::Unknown => {
                    specials.push(AddedToken::from(t.clone(), true).normalized(false))
                }
                TokenType::UserDefined => {
                    user.push(AddedToken::from(t.clone(), false).normalized(false))
                }
                _ => {}
            }
        }
        inner.add_special_tokens(&specials);
        inner.add_tokens(&user);

        let bytes = v
            .tokens
            .iter()
            .enumerate()
            .map(|(i, t)| {
                Some(token_bytes(t, style, v.token_type(i) == TokenType::Byte).into_boxed_slice())
            })
            .collect();

        let mut eos: Vec<u32> = v.eos.into_iter().collect();
        for (i, t) in v.tokens.iter().enumerate() {
            if v.token_type(i) == TokenType::Control
                && END_OF_GENERATION.contains(&t.as_str())
                && !eos.contains(&(i as u32))
            {
                eos.push(i as u32);
            }
        }

        Ok(Tokenizer {
            inner,
            decoding: Decoding::Pieces(Pieces {
                bytes,
                special,
                strip_leading_space,
            }),
            vocab_size: n,
            bos: v.bos,
            eos,
            prepend_bos: v.add_bos,
            inner_adds_special: false,
        })
    }

    /// Loads a Hugging Face `tokenizer.json`. BOS/EOS come from a `tokenizer_config.json` beside
    /// it when there is one (`bos_token`, `eos_token`), else from well-known token names; BOS is
    /// added by the file's own post-processor.
    pub fn from_tokenizer_json(path: &Path) -> Result<Tokenizer> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let inner = tokenizers::Tokenizer::from_str(&text)?;
        let vocab = inner.get_vocab(true);
        let vocab_size = vocab.values().max().map_or(0, |&m| m as usize + 1);
        let added = inner.get_added_tokens_decoder();

        let decoder = inner
            .get_decoder()
            .and_then(|d| serde_json::to_value(d).ok());
        let decoding = match decoder.as_ref().and_then(decoder_style) {
            Some((style, strip_leading_space)) => {
                let mut bytes = vec![None; vocab_size];
                let mut special = vec![false; vocab_size];
                for (tok, &id) in &vocab {
                    let added_tok = added.get(&id);
                    special[id as usize] = added_tok.is_some_and(|a| a.special);
                    bytes[id as usize] =
                        Some(token_bytes(tok, style, added_tok.is_none()).into_boxed_slice());
                }
                Decoding::Pieces(Pieces {
                    bytes,
                    special,
                    strip_leading_space,
                })
            }
            None => Decoding::Inner,
        };

        let config = path.parent().map(|d| d.join("tokenizer_config.json"));
        let config: Option<serde_json::Value> = config
            .and_then(|p| std::fs::read_to_string(p).ok())
            .and_then(|s| serde_json::from_str(&s).ok());
        let config_token = |key: &str| -> Option<u32> {
            let v = config.as_ref()?.get(key)?;
            let s = v.as_str().or_else(|| v.get("content")?.as_str())?;
            vocab.get(s).copied()
        };
        let bos = config_token("bos_token").or_else(|| {
            ["<|begin_of_text|>", "<s>", "<bos>", "<|startoftext|>"]
                .iter()
                .find_map(|t| vocab.get(*t).copied())
        });
        let mut eos: Vec<u32> = config_token("eos_token").into_iter().collect();
        for t in END_OF_GENERATION.iter().chain(&["<eos>"]) {
            if let Some(&id) = vocab.get(*t) {
                if added.get(&id).is_some_and(|a| a.special) && !eos.contains(&id) {
                    eos.push(id);
                }
            }
        }
        Ok(Tokenizer {
            inner,
            decoding,
            vocab_size,
            bos,
            eos,
            prepend_bos: false,
            inner_adds_special: true,
        })
    }

    /// Encodes `text`. Special tokens written in the text (`"<|im_start|>"`) map to their ids;
    /// `add_special_tokens` adds BOS when the vocabulary asks for it (`add_bos_token`).
    pub fn encode(&self, text: &str, add_special_tokens: bool) -> Result<Vec<u32>> {
        let enc = self
            .inner
            .encode_fast(text, add_special_tokens && self.inner_adds_special)?;
        let mut ids = Vec::with_capacity(enc.len() + 1);
        if add_special_tokens && self.prepend_bos {
            ids.extend(self.bos);
        }
        ids.extend_from_slice(enc.get_ids());
        Ok(ids)
    }

    /// Decodes `ids` to text (invalid UTF-8 becomes U+FFFD); `skip_special_tokens` drops control
    /// tokens (BOS, EOS, `<|im_start|>`, …). An id outside the vocabulary is an error.
    pub fn decode(&self, ids: &[u32], skip_special_tokens: bool) -> Result<String> {
        match &self.decoding {
            Decoding::Pieces(p) => {
                let mut out = Vec::new();
                for &id in ids {
                    if let Some(b) = p.piece(id, skip_special_tokens, self.vocab_size)? {
                        out.extend_from_slice(b);
                    }
                }
                if p.strip_leading_space && out.first() == Some(&b' ') {
                    out.remove(0);
                }
                Ok(String::from_utf8_lossy(&out).into_owned())
            }
            Decoding::Inner => {
                self.check_ids(ids)?;
                Ok(self.inner.decode(ids, skip_special_tokens)?)
            }
        }
    }

    /// Fails on the first id that is not in the vocabulary.
    pub(crate) fn check_ids(&self, ids: &[u32]) -> Result<()> {
        for &id in ids {
            if self.id_to_token(id).is_none() {
                return Err(Error::TokenOutOfRange {
                    id,
                    vocab_size: self.vocab_size,
                });
            }
        }
        Ok(())
    }

    /// An incremental decoder for streaming output that skips special tokens.
    pub fn stream_decoder(&self) -> StreamDecoder<'_> {
        StreamDecoder::new(self, true)
    }

    /// An incremental decoder for streaming output; see [`Tokenizer::decode`] for
    /// `skip_special_tokens`.
    pub fn stream_decoder_with(&self, skip_special_tokens: bool) -> StreamDecoder<'_> {
        StreamDecoder::new(self, skip_special_tokens)
    }

    /// The BOS token id, if the vocabulary has one.
    pub fn bos_id(&self) -> Option<u32> {
        self.bos
    }

    /// Ids that end generation: EOS, then control tokens that end a turn (`<|im_end|>`,
    /// `<|eot_id|>`, `<|endoftext|>`, …) when present.
    pub fn eos_ids(&self) -> Vec<u32> {
        self.eos.clone()
    }

    /// Number of ids (one past the largest id).
    pub fn vocab_size(&self) -> usize {
        self.vocab_size
    }

    /// The id of a token string (a vocabulary entry or an added token).
    pub fn token_to_id(&self, s: &str) -> Option<u32> {
        self.inner.token_to_id(s)
    }

    /// The string of a token id as the vocabulary stores it (`"Ġthe"`, `"▁the"`, `"<0x0A>"`).
    pub fn id_to_token(&self, id: u32) -> Option<String> {
        if id as usize >= self.vocab_size {
            return None;
        }
        self.inner.id_to_token(id)
    }

    /// Whether an id is a special (control) token, skipped by `skip_special_tokens`.
    pub fn is_special(&self, id: u32) -> bool {
        match &self.decoding {
            Decoding::Pieces(p) => p.special.get(id as usize).copied().unwrap_or(false),
            Decoding::Inner => self
                .inner
                .get_added_tokens_decoder()
                .get(&id)
                .is_some_and(|a| a.special),
        }
    }
}

/// Reads a tokenizer.json decoder: byte-level, or SentencePiece-like (ByteFallback / Metaspace),
/// with whether a leading space is stripped. `None`: let the `tokenizers` decoder do it.
fn decoder_style(d: &serde_json::Value) -> Option<(PieceStyle, bool)> {
    let list: Vec<&serde_json::Value> = match d.get("type")?.as_str()? {
        "Sequence" => d.get("decoders")?.as_array()?.iter().collect(),
        _ => vec![d],
    };
    let types: HashSet<&str> = list
        .iter()
        .filter_map(|x| x.get("type")?.as_str())
        .collect();
    if types.contains("ByteLevel") && types.len() == 1 {
        return Some((PieceStyle::ByteLevel, false));
    }
    if types.contains("Metaspace") && types.len() == 1 {
        let scheme = list[0]
            .get("prepend_scheme")
            .and_then(|s| s.as_str())
            .unwrap_or("always");
        return Some((PieceStyle::SentencePiece, scheme != "never"));
    }
    let spm_like = types
        .iter()
        .all(|t| ["Replace", "ByteFallback", "Fuse", "Strip"].contains(t));
    if spm_like && types.contains("ByteFallback") {
        let strip = list.iter().any(|x| {
            x.get("type").and_then(|t| t.as_str()) == Some("Strip")
                && x.get("start").and_then(|s| s.as_u64()).unwrap_or(0) >= 1
        });
        return Some((PieceStyle::SentencePiece, strip));
    }
    None
}
