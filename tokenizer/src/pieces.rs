//! The decode table: the bytes each token id stands for, shared by [`crate::Tokenizer::decode`]
//! and [`crate::StreamDecoder`] so both produce the same text.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::spm::{byte_token_value, SPACE_MARKER};

/// How a token's string maps to bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PieceStyle {
    /// GPT-2 byte-level BPE: each char stands for one byte (`Ġ` = space); a string with a char
    /// outside that alphabet (an added token like `"<|im_start|>"` is inside it) is taken as UTF-8.
    ByteLevel,
    /// SentencePiece: `▁` is a space, `<0xHH>` is one byte.
    SentencePiece,
}

/// GPT-2's byte ↔ char table, char → byte direction.
fn char_to_byte() -> &'static HashMap<char, u8> {
    static TABLE: OnceLock<HashMap<char, u8>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut printable: Vec<u32> = (b'!' as u32..=b'~' as u32).collect();
        printable.extend(0xA1..=0xAC);
        printable.extend(0xAE..=0xFF);
        let mut map = HashMap::with_capacity(256);
        let mut n = 0u32;
        for b in 0u32..256 {
            let c = if printable.contains(&b) {
                b
            } else {
                n += 1;
                255 + n
            };
            map.insert(char::from_u32(c).expect("valid char"), b as u8);
        }
        map
    })
}

/// The bytes of one token string.
pub(crate) fn token_bytes(token: &str, style: PieceStyle, is_byte_token: bool) -> Vec<u8> {
    match style {
        PieceStyle::ByteLevel => {
            let table = char_to_byte();
            token
                .chars()
                .map(|c| table.get(&c).copied())
                .collect::<Option<Vec<u8>>>()
                .unwrap_or_else(|| token.as_bytes().to_vec())
        }
        PieceStyle::SentencePiece => {
            if is_byte_token {
                if let Some(b) = byte_token_value(token) {
                    return vec![b];
                }
            }
            token.replace(SPACE_MARKER, " ").into_bytes()
        }
    }
}

/// Per-id bytes and flags.
#[derive(Debug, Clone)]
pub(crate) struct Pieces {
    /// `None` for an id with no token (a hole in a tokenizer.json vocabulary).
    pub bytes: Vec<Option<Box<[u8]>>>,
    /// Whether the id is skipped by `skip_special_tokens`.
    pub special: Vec<bool>,
    /// Strip one leading space from the decoded text (SentencePiece with a space prefix).
    pub strip_leading_space: bool,
}

impl Pieces {
    /// The bytes of `id`, `None` when skipped; an error for an id outside the vocabulary.
    pub fn piece(
        &self,
        id: u32,
        skip_special_tokens: bool,
        vocab_size: usize,
    ) -> crate::Result<Option<&[u8]>> {
        let bytes = self
            .bytes
            .get(id as usize)
            .and_then(|b| b.as_deref())
            .ok_or(crate::Error::TokenOutOfRange { id, vocab_size })?;
        if skip_special_tokens && self.special[id as usize] {
            return Ok(None);
        }
        Ok(Some(bytes))
    }
}
