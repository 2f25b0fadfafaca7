//! Tokenizers for MLX-ARM's LLM CLI (`mlx-arm generate`).
//!
//! * [`Tokenizer`] is built from a GGUF vocabulary ([`GgufVocab`], the `tokenizer.ggml.*` metadata
//!   keys) or from a Hugging Face `tokenizer.json`. GGUF byte-level BPE (`tokenizer.ggml.model =
//!   "gpt2"`) gets the pre-tokenizer that `tokenizer.ggml.pre` names (see [`pre`]); SentencePiece
//!   BPE (`"llama"`) merges by score with byte fallback (see [`spm`]). Control and user-defined
//!   tokens written in the text (`<|im_start|>`) encode to their ids.
//! * [`StreamDecoder`] turns ids into text one id at a time for streaming generation, never
//!   splitting a UTF-8 character.
//! * [`ChatTemplate`] renders a jinja chat template (`tokenizer.chat_template`) like Hugging Face
//!   transformers' `apply_chat_template`.
//!
//! Encoding and BPE merging are done by the `tokenizers` crate (pure Rust, fancy-regex backend);
//! decoding is done here, from a per-id table of bytes, so that [`Tokenizer::decode`] and
//! [`StreamDecoder`] agree byte for byte.

pub mod chat;
pub mod error;
pub(crate) mod pieces;
pub mod pre;
pub mod spm;
pub mod stream;
pub mod tokenizer;
pub mod vocab;

pub use chat::{ChatTemplate, Message};
pub use error::{Error, Result};
pub use stream::StreamDecoder;
pub use tokenizer::Tokenizer;
pub use vocab::{GgufVocab, TokenType};
