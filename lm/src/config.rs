//! Hyper-parameters of a Llama-family decoder, read from GGUF metadata (`{arch}.*` keys).

use crate::{Error, Result};
use mlx_arm::io::GgufValue;
use std::collections::BTreeMap;

/// Architectures this crate runs (all Llama-shaped decoders).
pub const ARCHITECTURES: [&str; 4] = ["llama", "mistral", "qwen2", "smollm"];

/// A Llama-family decoder's shape and numerics.
#[derive(Debug, Clone, PartialEq)]
pub struct LlamaConfig {
    /// `general.architecture`.
    pub architecture: String,
    /// Model width.
    pub dim: usize,
    /// Decoder blocks.
    pub n_layers: usize,
    /// Query heads.
    pub n_heads: usize,
    /// Key/value heads (fewer than `n_heads` for grouped-query attention).
    pub n_kv_heads: usize,
    /// Features per head.
    pub head_dim: usize,
    /// Width of the MLP's hidden layer.
    pub hidden_dim: usize,
    /// Vocabulary size.
    pub vocab_size: usize,
    /// RMSNorm epsilon.
    pub norm_eps: f32,
    /// RoPE base frequency.
    pub rope_base: f32,
    /// Rotated features per head.
    pub rope_dims: usize,
    /// RoPE position scale (1 / linear scaling factor).
    pub rope_scale: f32,
    /// Interleaved-pair RoPE (GGUF stores Llama/Mistral Q and K permuted for it); Qwen2 uses
    /// the half-split form.
    pub rope_traditional: bool,
    /// Training context length.
    pub context_length: usize,
}

fn bad(path: &str, detail: impl Into<String>) -> Error {
    Error::Model {
        path: path.to_string(),
        detail: detail.into(),
    }
}

impl LlamaConfig {
    /// Reads the configuration from GGUF metadata; `vocab_size` comes from the tokenizer's token
    /// list when the architecture does not state it.
    pub fn from_gguf(md: &BTreeMap<String, GgufValue>, path: &str) -> Result<LlamaConfig> {
        let arch = md
            .get("general.architecture")
            .and_then(|v| v.as_str())
            .ok_or_else(|| bad(path, "general.architecture is missing"))?
            .to_string();
        if !ARCHITECTURES.contains(&arch.as_str()) {
            return Err(bad(
                path,
                format!("unsupported architecture {arch:?} (supported: {ARCHITECTURES:?})"),
            ));
        }
        let int = |key: &str| -> Result<usize> {
            let full = format!("{arch}.{key}");
            md.get(&full)
                .and_then(|v| v.as_u64())
                .filter(|&v| v > 0 && v < 1 << 24)
                .map(|v| v as usize)
                .ok_or_else(|| bad(path, format!("{full} is missing or out of range")))
        };
        let opt_int = |key: &str| {
            md.get(&format!("{arch}.{key}"))
                .and_then(|v| v.as_u64())
                .map(|v| v as usize)
        };
        let float = |key: &str| md.get(&format!("{arch}.{key}")).and_then(|v| v.as_f64());
        let dim = int("embedding_length")?;
        let n_heads = int("attention.head_count")?;
        let n_kv_heads = opt_int("attention.head_count_kv").unwrap_or(n_heads);
        if n_kv_heads == 0 || n_heads % n_kv_heads != 0 {
            return Err(bad(
                path,
                format!("{n_heads} query heads are not a multiple of {n_kv_heads} key/value heads"),
            ));
        }
        let head_dim = opt_int("attention.key_length").unwrap_or(dim / n_heads);
        if head_dim == 0 || head_dim % 2 != 0 {
            return Err(bad(
                path,
                format!("head dimension {head_dim} must be even and positive"),
            ));
        }
        let vocab_size = match opt_int("vocab_size") {
            Some(v) => v,
            None => md
                .get("tokenizer.ggml.tokens")
                .and_then(|v| v.as_array())
                .map(|a| a.len())
                .ok_or_else(|| {
                    bad(
                        path,
                        "no vocabulary size (tokenizer.ggml.tokens is missing)",
                    )
                })?,
        };
        let scaling = md
            .get(&format!("{arch}.rope.scaling.type"))
            .and_then(|v| v.as_str());
        let rope_scale = match scaling {
            Some("linear") => 1.0 / float("rope.scaling.factor").unwrap_or(1.0) as f32,
            Some("none") | None => 1.0,
            Some(other) => return Err(bad(path, format!("unsupported RoPE scaling {other:?}"))),
        };
        Ok(LlamaConfig {
            dim,
            n_layers: int("block_count")?,
            n_heads,
            n_kv_heads,
            head_dim,
            hidden_dim: int("feed_forward_length")?,
            vocab_size,
            norm_eps: float("attention.layer_norm_rms_epsilon").unwrap_or(1e-5) as f32,
            rope_base: float("rope.freq_base").unwrap_or(10000.0) as f32,
            rope_dims: opt_int("rope.dimension_count").unwrap_or(head_dim),
            rope_scale,
            rope_traditional: arch != "qwen2",
            context_length: opt_int("context_length").unwrap_or(4096),
            architecture: arch,
        })
    }
}
