//! LLM inference on MLX-ARM: Llama-family decoders (Llama 2/3, SmolLM, Qwen2, Mistral) loaded
//! from GGUF files, with a KV cache, samplers, and the generation loop behind
//! `mlx-arm generate`.
//!
//! - [`config`]: hyper-parameters from GGUF metadata.
//! - [`linear`]: dense and affine-quantized linear layers and embeddings.
//! - [`llama`]: the model (attention with GQA and RoPE, SwiGLU MLP, RMSNorm).
//! - [`cache`]: growing and rotating KV caches.
//! - [`sample`]: greedy, temperature, top-k, top-p, min-p and repetition penalty.
//! - [`generate`]: prompt processing, token streaming and speed/memory statistics.
//! - [`load`]: a model and its tokenizer from a GGUF file; [`hf`]: from an MLX / Hugging Face
//!   directory (`config.json`, sharded `*.safetensors`, MLX quantization, `tokenizer.json`).
//! - [`bench`]: prompt-processing and generation throughput (`mlx-arm bench`).

pub mod bench;
pub mod cache;
pub mod config;
pub mod error;
pub mod generate;
pub mod hf;
pub mod linear;
pub mod llama;
pub mod load;
pub mod sample;

pub use error::{Error, Result};
