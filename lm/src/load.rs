//! Loading a model, its tokenizer and chat template from one GGUF file.

use crate::config::LlamaConfig;
use crate::linear::Tensors;
use crate::llama::Llama;
use crate::{Error, Result};
use mlx_arm::io::GgufValue;
use mlx_arm::Dtype;
use mlx_arm_tokenizer::{ChatTemplate, GgufVocab, Tokenizer};
use std::collections::BTreeMap;
use std::path::Path;

/// Everything `generate` needs.
pub struct Loaded {
    /// The model.
    pub model: Llama,
    /// Its tokenizer.
    pub tokenizer: Tokenizer,
    /// The file's chat template, if it has one.
    pub chat_template: Option<ChatTemplate>,
    /// The file's metadata (empty for MLX / Hugging Face directories).
    pub metadata: BTreeMap<String, GgufValue>,
}

fn strings(md: &BTreeMap<String, GgufValue>, key: &str) -> Option<Vec<String>> {
    md.get(key)?
        .as_array()?
        .iter()
        .map(|v| v.as_str().map(str::to_string))
        .collect()
}

fn id(md: &BTreeMap<String, GgufValue>, key: &str) -> Option<u32> {
    md.get(key)?.as_u64().and_then(|v| u32::try_from(v).ok())
}

/// The tokenizer vocabulary of GGUF metadata (`tokenizer.ggml.*`).
pub fn vocab_from_metadata(md: &BTreeMap<String, GgufValue>, path: &str) -> Result<GgufVocab> {
    let bad = |d: &str| Error::Model {
        path: path.to_string(),
        detail: d.to_string(),
    };
    let model = md
        .get("tokenizer.ggml.model")
        .and_then(|v| v.as_str())
        .ok_or_else(|| bad("tokenizer.ggml.model is missing"))?;
    let tokens = strings(md, "tokenizer.ggml.tokens")
        .ok_or_else(|| bad("tokenizer.ggml.tokens is missing or not a list of strings"))?;
    let mut v = GgufVocab::new(model, tokens);
    v.pre = md
        .get("tokenizer.ggml.pre")
        .and_then(|x| x.as_str())
        .map(str::to_string);
    v.scores = md
        .get("tokenizer.ggml.scores")
        .and_then(|x| x.as_array())
        .map(|a| a.iter().map(|s| s.as_f64().unwrap_or(0.0) as f32).collect());
    v.token_types = md
        .get("tokenizer.ggml.token_type")
        .and_then(|x| x.as_array())
        .map(|a| a.iter().map(|t| t.as_i64().unwrap_or(1) as i32).collect());
    v.merges = strings(md, "tokenizer.ggml.merges").unwrap_or_default();
    v.bos = id(md, "tokenizer.ggml.bos_token_id");
    v.eos = id(md, "tokenizer.ggml.eos_token_id");
    v.unk = id(md, "tokenizer.ggml.unknown_token_id");
    v.pad = id(md, "tokenizer.ggml.padding_token_id");
    if let Some(b) = md
        .get("tokenizer.ggml.add_bos_token")
        .and_then(|x| x.as_bool())
    {
        v.add_bos = b;
    }
    if let Some(b) = md
        .get("tokenizer.ggml.add_space_prefix")
        .and_then(|x| x.as_bool())
    {
        v.add_space_prefix = b;
    }
    Ok(v)
}

/// Loads only the model (no tokenizer) from a GGUF file or an MLX / Hugging Face directory.
pub fn load_weights(path: &Path, mut progress: impl FnMut(usize, usize)) -> Result<Llama> {
    if path.is_dir() {
        return crate::hf::load_weights(path, progress);
    }
    let p = path.display().to_string();
    let (arrays, metadata) = mlx_arm::io::load_gguf(path)?;
    let config = LlamaConfig::from_gguf(&metadata, &p)?;
    let mut tensors = Tensors::new(arrays, &p, Dtype::Float32);
    let total = config.n_layers;
    Llama::from_tensors(config, &mut tensors, |done| progress(done, total))
}

/// Loads a model from a GGUF file or an MLX / Hugging Face directory (see [`crate::hf`]).
pub fn load_model(path: &Path, progress: impl FnMut(usize, usize)) -> Result<Loaded> {
    if path.is_dir() {
        crate::hf::load_dir(path, progress)
    } else {
        load_gguf(path, progress)
    }
}

/// Loads a Llama-family GGUF: weights (quantized ones stay packed), tokenizer and chat
/// template. `progress(done, total)` is called as decoder blocks are built.
pub fn load_gguf(path: &Path, progress: impl FnMut(usize, usize)) -> Result<Loaded> {
    let p = path.display().to_string();
    let (arrays, metadata) = mlx_arm::io::load_gguf(path)?;
    let config = LlamaConfig::from_gguf(&metadata, &p)?;
    let vocab = vocab_from_metadata(&metadata, &p)?;
    let tokenizer = Tokenizer::from_gguf_vocab(&vocab)?;
    let token = |id: Option<u32>| {
        id.and_then(|i| tokenizer.id_to_token(i))
            .unwrap_or_default()
    };
    let chat_template = match metadata
        .get("tokenizer.chat_template")
        .and_then(|v| v.as_str())
    {
        Some(src) => Some(ChatTemplate::new(
            src,
            &token(vocab.bos),
            &token(vocab.eos),
        )?),
        None => None,
    };
    let mut tensors = Tensors::new(arrays, &p, Dtype::Float32);
    let total = config.n_layers;
    let mut progress = progress;
    let model = Llama::from_tensors(config, &mut tensors, |done| progress(done, total))?;
    Ok(Loaded {
        model,
        tokenizer,
        chat_template,
        metadata,
    })
}
