//! Pre-tokenizers for byte-level BPE, chosen by `tokenizer.ggml.pre` as llama.cpp's
//! `llama-vocab.cpp` does, built like the matching Hugging Face `tokenizer.json`:
//!
//! | `pre` | pre-tokenizer |
//! | --- | --- |
//! | `gpt2`, `default`, `gpt-2`, `jina-es`, `jina-de`, … | ByteLevel with the GPT-2 regex |
//! | `smollm`, `starcoder`, `refact`, `command-r`, `codeshell`, `exaone`, `minerva-7b` | Digits(individual) then ByteLevel with the GPT-2 regex |
//! | `llama-bpe`, `llama3`, `falcon3`, `pixtral` | Split(Llama-3 regex) then ByteLevel without regex; merges ignored for whole-word vocabulary hits |
//! | `qwen2`, `deepseek-r1-qwen`, `stablelm2`, `megrez` | NFC, Split(Qwen-2 regex) then ByteLevel without regex |
//!
//! Any other name falls back to the GPT-2 regex with a `log::warn!` (documented fallback: most
//! GPT-2-derived vocabularies still encode sensibly, but ids may differ from the reference).

use tokenizers::normalizers::unicode::NFC;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence;
use tokenizers::pre_tokenizers::split::{Split, SplitPattern};
use tokenizers::{NormalizerWrapper, PreTokenizerWrapper, SplitDelimiterBehavior};

use crate::error::{Error, Result};

/// Llama-3's split regex (`llama-bpe`).
pub const LLAMA3_REGEX: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
/// Qwen-2's split regex (`qwen2`): like Llama-3's but digits one at a time.
pub const QWEN2_REGEX: &str = r"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

/// The pieces of a byte-level BPE tokenizer that depend on `tokenizer.ggml.pre`.
pub struct PreConfig {
    /// Normalizer applied before pre-tokenization (NFC for Qwen-2).
    pub normalizer: Option<NormalizerWrapper>,
    /// The pre-tokenizer (always ends with a ByteLevel step).
    pub pre_tokenizer: PreTokenizerWrapper,
    /// Whether a word found whole in the vocabulary skips merging (Llama-3's `ignore_merges`).
    pub ignore_merges: bool,
}

/// What a `pre` name selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Gpt2,
    Digits,
    Llama3,
    Qwen2,
}

fn kind_of(pre: &str) -> Option<Kind> {
    Some(match pre {
        "gpt2" | "gpt-2" | "default" | "jina-es" | "jina-de" | "jina-v2-es" | "jina-v2-de"
        | "jina-v2-code" | "roberta-bpe" | "olmo" | "mpt" => Kind::Gpt2,
        "smollm" | "starcoder" | "refact" | "command-r" | "codeshell" | "exaone" | "minerva-7b" => {
            Kind::Digits
        }
        "llama-bpe" | "llama3" | "falcon3" | "pixtral" => Kind::Llama3,
        "qwen2" | "deepseek-r1-qwen" | "stablelm2" | "megrez" => Kind::Qwen2,
        _ => return None,
    })
}

fn byte_level(use_regex: bool) -> PreTokenizerWrapper {
    PreTokenizerWrapper::ByteLevel(ByteLevel::new(false, true, use_regex))
}

fn split(regex: &str) -> Result<PreTokenizerWrapper> {
    let s = Split::new(
        SplitPattern::Regex(regex.to_string()),
        SplitDelimiterBehavior::Isolated,
        false,
    )
    .map_err(|e| Error::InvalidVocab(format!("pre-tokenizer regex: {e}")))?;
    Ok(PreTokenizerWrapper::Split(s))
}

/// The pre-tokenizer configuration for a `tokenizer.ggml.pre` value (`None`: `"default"`).
pub fn pre_config(pre: Option<&str>) -> Result<PreConfig> {
    let name = pre.unwrap_or("default");
    let kind = kind_of(name).unwrap_or_else(|| {
        log::warn!("tokenizer.ggml.pre = {name:?} is not known; falling back to the GPT-2 pre-tokenizer regex");
        Kind::Gpt2
    });
    Ok(match kind {
        Kind::Gpt2 => PreConfig {
            normalizer: None,
            pre_tokenizer: byte_level(true),
            ignore_merges: false,
        },
        Kind::Digits => PreConfig {
            normalizer: None,
            pre_tokenizer: PreTokenizerWrapper::Sequence(Sequence::new(vec![
                PreTokenizerWrapper::Digits(Digits::new(true)),
                byte_level(true),
            ])),
            ignore_merges: false,
        },
        Kind::Llama3 => PreConfig {
            normalizer: None,
            pre_tokenizer: PreTokenizerWrapper::Sequence(Sequence::new(vec![
                split(LLAMA3_REGEX)?,
                byte_level(false),
            ])),
            ignore_merges: true,
        },
        Kind::Qwen2 => PreConfig {
            normalizer: Some(NormalizerWrapper::NFC(NFC)),
            pre_tokenizer: PreTokenizerWrapper::Sequence(Sequence::new(vec![
                split(QWEN2_REGEX)?,
                byte_level(false),
            ])),
            ignore_merges: false,
        },
    })
}

/// Whether `pre` is one of the names this module knows (others fall back to GPT-2's regex).
pub fn is_known(pre: &str) -> bool {
    kind_of(pre).is_some()
}
