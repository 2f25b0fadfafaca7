//! SentencePiece BPE (`tokenizer.ggml.model = "llama"`) on top of the `tokenizers` BPE model.
//!
//! GGUF stores SentencePiece vocabularies without merges: pieces merge by the score of the merged
//! piece (llama.cpp's `llm_tokenizer_spm`). This module derives the equivalent ranked merge list,
//! as transformers' `SentencePieceExtractor` does: every split of a normal piece into two pieces
//! that are both in the vocabulary is a merge, ranked by the merged piece's score (highest
//! first). Text is normalized like Hugging Face's legacy `LlamaTokenizerFast`: spaces become `▁`
//! and, with `add_space_prefix`, a `▁` is prepended; characters missing from the vocabulary fall
//! back to `<0xHH>` byte tokens.

use std::collections::HashMap;

use tokenizers::normalizers::{Prepend, Replace, Sequence};
use tokenizers::NormalizerWrapper;

use crate::error::{Error, Result};
use crate::vocab::{GgufVocab, TokenType};

/// SentencePiece's word-boundary marker, which stands for a space.
pub const SPACE_MARKER: char = '\u{2581}';

/// Ranked merges `(left, right)` derived from the scores of a SentencePiece vocabulary.
pub fn merges_from_scores(v: &GgufVocab) -> Result<Vec<(String, String)>> {
    let scores = v.scores.as_ref().ok_or_else(|| {
        Error::InvalidVocab("SentencePiece vocabulary without tokenizer.ggml.scores".into())
    })?;
    if scores.len() != v.tokens.len() {
        return Err(Error::InvalidVocab(format!(
            "{} scores for {} tokens",
            scores.len(),
            v.tokens.len()
        )));
    }
    // Pieces that BPE can produce: normal and user-defined ones (first id wins for duplicates).
    let mut ids: HashMap<&str, usize> = HashMap::with_capacity(v.tokens.len());
    for (i, t) in v.tokens.iter().enumerate() {
        if matches!(
            v.token_type(i),
            TokenType::Normal | TokenType::UserDefined | TokenType::Other(_)
        ) {
            ids.entry(t.as_str()).or_insert(i);
        }
    }
    let mut ranked: Vec<(f32, usize, usize, String, String)> = Vec::new();
    for (i, t) in v.tokens.iter().enumerate() {
        if !matches!(v.token_type(i), TokenType::Normal | TokenType::Other(_))
            || ids.get(t.as_str()) != Some(&i)
        {
            continue;
        }
        for (k, _) in t.char_indices().skip(1) {
            let (l, r) = t.split_at(k);
            if let (Some(&li), Some(_)) = (ids.get(l), ids.get(r)) {
                ranked.push((scores[i], i, li, l.to_string(), r.to_string()));
            }
        }
    }
    // Highest score first; ties by merged id, then by left id (deterministic).
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    Ok(ranked.into_iter().map(|(_, _, _, l, r)| (l, r)).collect())
}

/// The normalizer of a SentencePiece vocabulary: `" "` → `"▁"`, and a leading `"▁"` when
/// `add_space_prefix`.
pub fn normalizer(add_space_prefix: bool) -> Result<NormalizerWrapper> {
    let replace = Replace::new(" ", SPACE_MARKER.to_string())
        .map_err(|e| Error::InvalidVocab(format!("normalizer: {e}")))?;
    Ok(if add_space_prefix {
        NormalizerWrapper::Sequence(Sequence::new(vec![
            NormalizerWrapper::Prepend(Prepend::new(SPACE_MARKER.to_string())),
            NormalizerWrapper::Replace(replace),
        ]))
    } else {
        NormalizerWrapper::Replace(replace)
    })
}

/// The byte a `<0xHH>` byte-fallback token stands for.
pub fn byte_token_value(token: &str) -> Option<u8> {
    let hex = token.strip_prefix("<0x")?.strip_suffix('>')?;
    if hex.len() != 2 {
        return None;
    }
    u8::from_str_radix(hex, 16).ok()
}
