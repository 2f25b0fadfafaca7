//! Models in MLX / Hugging Face layout: a directory with `config.json`, `*.safetensors` (one
//! file or shards) and `tokenizer.json` (+ `tokenizer_config.json` for BOS/EOS and the chat
//! template). MLX-quantized checkpoints (a `quantization` block in the config; `NAME.weight`
//! packed uint32 with `NAME.scales` / `NAME.biases`) load as they are. Tensor names are mapped
//! to GGUF's so one model definition serves both formats.

use crate::config::LlamaConfig;
use crate::linear::Tensors;
use crate::llama::Llama;
use crate::load::Loaded;
use crate::{Error, Result};
use mlx_arm::Dtype;
use mlx_arm_tokenizer::{ChatTemplate, Tokenizer};
use serde_json::Value;
use std::path::Path;

/// `model_type`s this loader runs.
pub const MODEL_TYPES: [&str; 3] = ["llama", "mistral", "qwen2"];

fn bad(path: &Path, detail: impl Into<String>) -> Error {
    Error::Model {
        path: path.display().to_string(),
        detail: detail.into(),
    }
}

/// The configuration of an MLX / Hugging Face `config.json`.
pub fn config_from_json(cfg: &Value, path: &Path) -> Result<LlamaConfig> {
    let model_type = cfg["model_type"].as_str().unwrap_or("llama").to_string();
    if !MODEL_TYPES.contains(&model_type.as_str()) {
        return Err(bad(
            path,
            format!("unsupported model_type {model_type:?} (supported: {MODEL_TYPES:?})"),
        ));
    }
    let int = |k: &str| -> Result<usize> {
        cfg[k]
            .as_u64()
            .filter(|&v| v > 0 && v < 1 << 24)
            .map(|v| v as usize)
            .ok_or_else(|| bad(path, format!("config.json: {k} is missing or out of range")))
    };
    let dim = int("hidden_size")?;
    let n_heads = int("num_attention_heads")?;
    let n_kv_heads = cfg["num_key_value_heads"]
        .as_u64()
        .map(|v| v as usize)
        .unwrap_or(n_heads);
    if n_kv_heads == 0 || n_heads % n_kv_heads != 0 {
        return Err(bad(
            path,
            format!("{n_heads} attention heads are not a multiple of {n_kv_heads} key/value heads"),
        ));
    }
    let head_dim = cfg["head_dim"]
        .as_u64()
        .map(|v| v as usize)
        .unwrap_or(dim / n_heads);
    let rope_scale = match cfg["rope_scaling"]["type"]
        .as_str()
        .or(cfg["rope_scaling"]["rope_type"].as_str())
    {
        None | Some("default") => 1.0,
        Some("linear") => 1.0 / cfg["rope_scaling"]["factor"].as_f64().unwrap_or(1.0) as f32,
        Some(other) => return Err(bad(path, format!("unsupported rope_scaling {other:?}"))),
    };
    Ok(LlamaConfig {
        dim,
        n_layers: int("num_hidden_layers")?,
        n_heads,
        n_kv_heads,
        head_dim,
        hidden_dim: int("intermediate_size")?,
        vocab_size: int("vocab_size")?,
        norm_eps: cfg["rms_norm_eps"].as_f64().unwrap_or(1e-5) as f32,
        rope_base: cfg["rope_theta"].as_f64().unwrap_or(10000.0) as f32,
        rope_dims: head_dim,
        rope_scale,
        // Hugging Face weights are not permuted: half-split RoPE unless the config says otherwise
        rope_traditional: cfg["rope_traditional"].as_bool().unwrap_or(false),
        context_length: cfg["max_position_embeddings"]
            .as_u64()
            .map(|v| v as usize)
            .unwrap_or(4096),
        architecture: model_type,
    })
}

/// The GGUF name of a Hugging Face / MLX tensor name (`None` for tensors the model ignores,
/// such as rotary frequency buffers).
pub fn gguf_name(hf: &str) -> Option<String> {
    let (stem, suffix) = match hf.rsplit_once('.') {
        Some((s, x @ ("weight" | "scales" | "biases" | "bias"))) => (s, x),
        _ => return None,
    };
    let mapped = match stem {
        "model.embed_tokens" => "token_embd".to_string(),
        "model.norm" => "output_norm".to_string(),
        "lm_head" => "output".to_string(),
        s => {
            let rest = s.strip_prefix("model.layers.")?;
            let (i, part) = rest.split_once('.')?;
            let part = match part {
                "self_attn.q_proj" => "attn_q",
                "self_attn.k_proj" => "attn_k",
                "self_attn.v_proj" => "attn_v",
                "self_attn.o_proj" => "attn_output",
                "mlp.gate_proj" => "ffn_gate",
                "mlp.up_proj" => "ffn_up",
                "mlp.down_proj" => "ffn_down",
                "input_layernorm" => "attn_norm",
                "post_attention_layernorm" => "ffn_norm",
                _ => return None,
            };
            format!("blk.{i}.{part}")
        }
    };
    Some(format!("{mapped}.{suffix}"))
}

/// Loads a model directory (see the module doc). `progress(done, total)` follows the blocks.
pub fn load_dir(dir: &Path, progress: impl FnMut(usize, usize)) -> Result<Loaded> {
    let model = load_weights(dir, progress)?;
    let tokenizer = Tokenizer::from_tokenizer_json(&dir.join("tokenizer.json"))?;
    let chat_template = match std::fs::read_to_string(dir.join("tokenizer_config.json")) {
        Ok(text) => {
            let tc: Value = serde_json::from_str(&text)
                .map_err(|e| bad(dir, format!("tokenizer_config.json: {e}")))?;
            let token = |k: &str| match &tc[k] {
                Value::String(s) => s.clone(),
                v => v["content"].as_str().unwrap_or_default().to_string(),
            };
            match tc["chat_template"].as_str() {
                Some(src) => Some(ChatTemplate::new(
                    src,
                    &token("bos_token"),
                    &token("eos_token"),
                )?),
                None => None,
            }
        }
        Err(_) => None,
    };
    Ok(Loaded {
        model,
        tokenizer,
        chat_template,
        metadata: Default::default(),
    })
}

/// The model of a directory: `config.json` and every `*.safetensors` shard (no tokenizer).
pub fn load_weights(dir: &Path, progress: impl FnMut(usize, usize)) -> Result<Llama> {
    let read = |name: &str| -> Result<String> {
        let p = dir.join(name);
        std::fs::read_to_string(&p).map_err(|e| {
            Error::Array(mlx_arm::Error::Io {
                path: p.display().to_string(),
                detail: e.to_string(),
            })
        })
    };
    let cfg: Value = serde_json::from_str(&read("config.json")?)
        .map_err(|e| bad(dir, format!("config.json: {e}")))?;
    let config = config_from_json(&cfg, dir)?;
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| {
            Error::Array(mlx_arm::Error::Io {
                path: dir.display().to_string(),
                detail: e.to_string(),
            })
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "safetensors"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(bad(dir, "no *.safetensors files"));
    }
    let mut arrays = Vec::new();
    for f in &files {
        let (a, _) = mlx_arm::io::load_safetensors(f)?;
        arrays.extend(
            a.into_iter()
                .filter_map(|(n, a)| gguf_name(&n).map(|g| (g, a))),
        );
    }
    let mut tensors = Tensors::new(arrays, &dir.display().to_string(), Dtype::Float32);
    let total = config.n_layers;
    let mut progress = progress;
    Llama::from_tensors(config, &mut tensors, |d| progress(d, total))
}
