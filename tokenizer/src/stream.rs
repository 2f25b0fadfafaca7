//! [`StreamDecoder`]: incremental detokenization for streaming generation.

use crate::error::Result;
use crate::tokenizer::{Decoding, Tokenizer};

/// Incremental detokenizer for streaming: push ids, get the newly completed text. It never splits
/// a UTF-8 character: bytes of a character spread over several tokens (byte-fallback `<0xHH>`
/// tokens, byte-level BPE pieces) are held back until the character is complete. The concatenated
/// output of every [`push`](Self::push) plus [`finish`](Self::finish) equals
/// [`Tokenizer::decode`] of all the ids.
#[derive(Debug)]
pub struct StreamDecoder<'a> {
    tok: &'a Tokenizer,
    skip_special_tokens: bool,
    /// Bytes not yet returned (an incomplete UTF-8 sequence at most, between calls).
    pending: Vec<u8>,
    /// Whether any token has produced bytes yet (the leading-space strip applies to the first).
    started: bool,
    /// For tokenizers decoded by the `tokenizers` crate: all ids and the text returned so far.
    ids: Vec<u32>,
    emitted: String,
}

impl<'a> StreamDecoder<'a> {
    pub(crate) fn new(tok: &'a Tokenizer, skip_special_tokens: bool) -> Self {
        StreamDecoder {
            tok,
            skip_special_tokens,
            pending: Vec::new(),
            started: false,
            ids: Vec::new(),
            emitted: String::new(),
        }
    }

    /// Adds one id; returns the text it completes (`None` when nothing is complete yet). An id
    /// outside the vocabulary is an error and leaves the decoder unchanged.
    pub fn push(&mut self, id: u32) -> Result<Option<String>> {
        match &self.tok.decoding {
            Decoding::Pieces(p) => {
                let Some(mut bytes) =
                    p.piece(id, self.skip_special_tokens, self.tok.vocab_size())?
                else {
                    return Ok(None);
                };
                if !self.started && !bytes.is_empty() {
                    self.started = true;
                    if p.strip_leading_space && bytes[0] == b' ' {
                        bytes = &bytes[1..];
                    }
                }
                self.pending.extend_from_slice(bytes);
                let text = take_complete(&mut self.pending);
                Ok((!text.is_empty()).then_some(text))
            }
            Decoding::Inner => {
                self.tok.check_ids(&[id])?;
                self.ids.push(id);
                let full = self.tok.decode(&self.ids, self.skip_special_tokens)?;
                if full.ends_with('\u{FFFD}') {
                    return Ok(None); // maybe an incomplete character: wait for more
                }
                Ok(self.advance(full))
            }
        }
    }

    /// Ends the stream: returns what is still held back (an incomplete character becomes U+FFFD).
    pub fn finish(&mut self) -> Result<String> {
        match &self.tok.decoding {
            Decoding::Pieces(_) => {
                let mut text = take_complete(&mut self.pending);
                if !self.pending.is_empty() {
                    text.push_str(&String::from_utf8_lossy(&self.pending));
                    self.pending.clear();
                }
                Ok(text)
            }
            Decoding::Inner => {
                let full = self.tok.decode(&self.ids, self.skip_special_tokens)?;
                Ok(self.advance(full).unwrap_or_default())
            }
        }
    }

    /// Returns the part of `full` past what was already emitted.
    fn advance(&mut self, full: String) -> Option<String> {
        let common = if full.starts_with(&self.emitted) {
            self.emitted.len()
        } else {
            // The decoder rewrote earlier text; emit past the common prefix (cannot retract).
            let mut n = 0;
            for ((i, a), b) in full.char_indices().zip(self.emitted.chars()) {
                if a != b {
                    break;
                }
                n = i + a.len_utf8();
            }
            n
        };
        let new = full[common..].to_string();
        self.emitted = full;
        (!new.is_empty()).then_some(new)
    }
}

/// Removes and returns the longest prefix of `buf` that decodes, replacing invalid sequences by
/// U+FFFD like `String::from_utf8_lossy`; an incomplete sequence at the end stays in `buf`.
fn take_complete(buf: &mut Vec<u8>) -> String {
    let mut out = String::new();
    let mut start = 0;
    loop {
        match std::str::from_utf8(&buf[start..]) {
            Ok(s) => {
                out.push_str(s);
                start = buf.len();
                break;
            }
            Err(e) => {
                let valid = start + e.valid_up_to();
                out.push_str(std::str::from_utf8(&buf[start..valid]).unwrap_or_default());
                match e.error_len() {
                    Some(n) => {
                        out.push('\u{FFFD}');
                        start = valid + n;
                    }
                    None => {
                        start = valid;
                        break;
                    }
                }
            }
        }
    }
    buf.drain(..start);
    out
}

#[cfg(test)]
mod tests {
    use super::take_complete;

    #[test]
    fn holds_back_incomplete_characters() {
        let euro = "€".as_bytes(); // 3 bytes
        let mut buf = euro[..2].to_vec();
        assert_eq!(take_complete(&mut buf), "");
        buf.push(euro[2]);
        buf.extend_from_slice(b"x\xFFy");
        assert_eq!(take_complete(&mut buf), "€x\u{FFFD}y");
        assert!(buf.is_empty());
    }
}
