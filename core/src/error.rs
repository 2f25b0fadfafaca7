//! The typed error every fallible MLX-ARM call returns.

use crate::Dtype;

/// Everything that can go wrong in MLX-ARM, each variant naming the op or file involved.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum Error {
    /// Shapes that cannot be broadcast or combined.
    #[error("{op}: shape mismatch: {detail}")]
    Shape { op: &'static str, detail: String },
    /// An axis outside `[-ndim, ndim)` or repeated.
    #[error("{op}: axis {axis} is out of range for an array with {ndim} dimensions")]
    Axis {
        op: &'static str,
        axis: isize,
        ndim: usize,
    },
    /// A dtype the op does not accept.
    #[error("{op}: unsupported dtype {dtype}: {detail}")]
    Dtype {
        op: &'static str,
        dtype: Dtype,
        detail: String,
    },
    /// A dtype or op the chosen device cannot run.
    #[error("{op}: {what} is not supported on device {device}")]
    Device {
        op: String,
        what: String,
        device: String,
    },
    /// No GPU adapter, or a backend that is not registered.
    #[error("device unavailable: {0}")]
    NoDevice(String),
    /// A value argument that is out of its valid range.
    #[error("{op}: invalid argument: {detail}")]
    Argument { op: &'static str, detail: String },
    /// The memory limit set with `memory::set_memory_limit` would be exceeded.
    #[error("out of memory: allocating {requested} bytes would exceed the memory limit of {limit} bytes ({active} bytes active)")]
    OutOfMemory {
        requested: usize,
        limit: usize,
        active: usize,
    },
    /// A malformed, truncated or lying file.
    #[error("{format} file {path}: {detail}")]
    Format {
        format: &'static str,
        path: String,
        detail: String,
    },
    /// An operating-system I/O error.
    #[error("i/o error on {path}: {detail}")]
    Io { path: String, detail: String },
    /// A failure inside a backend (driver error, lost device).
    #[error("{backend} backend: {detail}")]
    Backend {
        backend: &'static str,
        detail: String,
    },
}

/// `Result` with MLX-ARM's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// Shorthand for [`Error::Shape`].
    pub fn shape(op: &'static str, detail: impl Into<String>) -> Self {
        Error::Shape {
            op,
            detail: detail.into(),
        }
    }
    /// Shorthand for [`Error::Argument`].
    pub fn arg(op: &'static str, detail: impl Into<String>) -> Self {
        Error::Argument {
            op,
            detail: detail.into(),
        }
    }
    /// Shorthand for [`Error::Dtype`].
    pub fn dtype(op: &'static str, dtype: Dtype, detail: impl Into<String>) -> Self {
        Error::Dtype {
            op,
            dtype,
            detail: detail.into(),
        }
    }
}
