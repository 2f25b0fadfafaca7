//! The error type of model loading and generation.

/// What can go wrong loading a model or generating text.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An array or file error from MLX-ARM.
    #[error(transparent)]
    Array(#[from] mlx_arm::Error),
    /// A tokenizer or chat-template error.
    #[error(transparent)]
    Tokenizer(#[from] mlx_arm_tokenizer::Error),
    /// The model file is well formed but not a model this crate runs (missing tensor, bad
    /// hyper-parameter, unsupported architecture).
    #[error("model {path}: {detail}")]
    Model { path: String, detail: String },
    /// A request the model cannot serve (e.g. a prompt longer than the context).
    #[error("{0}")]
    Request(String),
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
