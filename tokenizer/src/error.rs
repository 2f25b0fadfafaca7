//! The crate's error type: every failure on user input (a bad vocabulary, an unknown token id, a
//! template that does not parse or raises) is an [`Error`], never a panic.

/// Everything that can go wrong while building a tokenizer, encoding, decoding or rendering a chat
/// template.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The GGUF vocabulary is inconsistent or uses something this crate does not implement.
    #[error("invalid vocabulary: {0}")]
    InvalidVocab(String),
    /// The tokenizer model named by `tokenizer.ggml.model` is not supported.
    #[error("unsupported tokenizer model {0:?} (supported: \"gpt2\" byte-level BPE, \"llama\" SentencePiece BPE)")]
    UnsupportedModel(String),
    /// A token id is not in the vocabulary.
    #[error("token id {id} is out of range (vocabulary size {vocab_size})")]
    TokenOutOfRange {
        /// The offending id.
        id: u32,
        /// The number of ids the tokenizer knows.
        vocab_size: usize,
    },
    /// An error reported by the `tokenizers` crate (building, loading tokenizer.json, encoding).
    #[error("tokenizer: {0}")]
    Tokenizers(String),
    /// A chat template that does not parse, or failed while rendering (including `raise_exception`).
    #[error("chat template: {0}")]
    Template(String),
    /// Reading a file failed.
    #[error("reading {path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl From<tokenizers::Error> for Error {
    fn from(e: tokenizers::Error) -> Self {
        Error::Tokenizers(e.to_string())
    }
}
