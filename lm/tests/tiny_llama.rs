//! Tiny random-weight Llama GGUFs (Q4_0, Q4_1, Q8_0 and F16 weights; written by the reference
//! `gguf` package) against an independent MLX forward pass (lm/tests/fixtures/make_tiny_llama.py,
//! MLX 0.32.4): the last-position logits of a fixed prompt and the greedy continuation through
//! the KV cache match MLX's on the CPU and the GPU; prefill in one pass equals feeding the prompt
//! one token at a time.

use mlx_arm::{ops, with_default_device, Array, Device, Dtype};
use mlx_arm_lm::config::LlamaConfig;
use mlx_arm_lm::linear::Tensors;
use mlx_arm_lm::llama::Llama;
use mlx_arm_lm::sample::argmax;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");

fn devices() -> Vec<Device> {
    let mut v = vec![Device::cpu()];
    if mlx_arm::backend::gpu_available() {
        v.push(Device::gpu());
    } else if std::env::var("CI").as_deref() == Ok("true") {
        panic!("CI=true but no GPU adapter was found; install mesa-vulkan-drivers (lavapipe)");
    }
    v
}

fn load(name: &str) -> Llama {
    let path = format!("{FIXTURES}/tiny_{name}.gguf");
    let (arrays, md) = mlx_arm::io::load_gguf(&path).unwrap();
    let config = LlamaConfig::from_gguf(&md, &path).unwrap();
    assert!(config.rope_traditional);
    let mut t = Tensors::new(arrays, &path, Dtype::Float32);
    Llama::from_tensors(config, &mut t, |_| {}).unwrap()
}

fn ids(v: &[u32]) -> Array {
    Array::from_slice(
        &v.iter().map(|&t| t as i32).collect::<Vec<_>>(),
        &[1, v.len() as i32],
    )
}

fn last_row(logits: &Array) -> Vec<f32> {
    let s = logits.shape().to_vec();
    let row = ops::slice(
        logits,
        &[0, s[1] as i32 - 1, 0],
        &[1, s[1] as i32, s[2] as i32],
        &[1, 1, 1],
    )
    .unwrap();
    row.to_vec::<f32>().unwrap()
}

#[test]
fn logits_and_greedy_ids_match_mlx() {
    let text = std::fs::read_to_string(format!("{FIXTURES}/tiny_expected.json")).unwrap();
    let want: serde_json::Value = serde_json::from_str(&text).unwrap();
    let prompt: Vec<u32> = want["prompt"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as u32)
        .collect();
    for name in ["q4_0", "q4_1", "q8_0", "f16"] {
        let model = load(name);
        let exp_logits: Vec<f64> = want[name]["last_logits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let exp_ids: Vec<u32> = want[name]["greedy"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u32)
            .collect();
        for device in devices() {
            with_default_device(device, || {
                let mut cache = model.new_cache(None, None).unwrap();
                let logits = model.forward(&ids(&prompt), &mut cache, false).unwrap();
                assert_eq!(logits.shape(), [1, prompt.len(), 96]);
                let got = last_row(&logits);
                for (i, (g, w)) in got.iter().zip(&exp_logits).enumerate() {
                    assert!(
                        (*g as f64 - w).abs() <= 2e-3 * w.abs().max(1.0),
                        "{name} on {device:?}: logit {i}: {g} vs MLX {w}"
                    );
                }
                let mut out = Vec::new();
                let mut tok = argmax(&got);
                for _ in 0..exp_ids.len() {
                    out.push(tok);
                    tok = argmax(&last_row(
                        &model.forward(&ids(&[tok]), &mut cache, true).unwrap(),
                    ));
                }
                assert_eq!(out, exp_ids, "{name} on {device:?}: greedy ids");
                // the same prompt fed one token at a time through the cache
                let mut cache = model.new_cache(None, None).unwrap();
                let mut last = Vec::new();
                for &t in &prompt {
                    last = last_row(&model.forward(&ids(&[t]), &mut cache, true).unwrap());
                }
                for (g, w) in last.iter().zip(&got) {
                    assert!(
                        (g - w).abs() <= 1e-3 * w.abs().max(1.0),
                        "{name} on {device:?}: step-by-step {g} vs prefill {w}"
                    );
                }
            });
        }
    }
}

#[test]
fn hostile_model_files_are_errors() {
    let path = format!("{FIXTURES}/tiny_q4_0.gguf");
    let (arrays, md) = mlx_arm::io::load_gguf(&path).unwrap();
    // unsupported architecture
    let mut bad = md.clone();
    bad.insert(
        "general.architecture".into(),
        mlx_arm::io::GgufValue::String("mamba".into()),
    );
    assert!(LlamaConfig::from_gguf(&bad, &path)
        .unwrap_err()
        .to_string()
        .contains("unsupported architecture"));
    // heads that do not divide
    let mut bad = md.clone();
    bad.insert(
        "llama.attention.head_count_kv".into(),
        mlx_arm::io::GgufValue::U32(3),
    );
    assert!(LlamaConfig::from_gguf(&bad, &path).is_err());
    // a missing tensor
    let config = LlamaConfig::from_gguf(&md, &path).unwrap();
    let arrays: Vec<_> = arrays
        .into_iter()
        .filter(|(n, _)| n != "blk.1.ffn_up.weight")
        .collect();
    let mut t = Tensors::new(arrays, &path, Dtype::Float32);
    let e = Llama::from_tensors(config, &mut t, |_| {}).unwrap_err();
    assert!(e.to_string().contains("blk.1.ffn_up.weight"), "{e}");
}

/// The Hugging Face / MLX name of a GGUF tensor name (the inverse of `hf::gguf_name`).
fn hf_name(g: &str) -> String {
    let (stem, suffix) = g.rsplit_once('.').unwrap();
    let s = match stem {
        "token_embd" => "model.embed_tokens".to_string(),
        "output_norm" => "model.norm".to_string(),
        "output" => "lm_head".to_string(),
        s => {
            let (i, part) = s.strip_prefix("blk.").unwrap().split_once('.').unwrap();
            let p = match part {
                "attn_q" => "self_attn.q_proj",
                "attn_k" => "self_attn.k_proj",
                "attn_v" => "self_attn.v_proj",
                "attn_output" => "self_attn.o_proj",
                "ffn_gate" => "mlp.gate_proj",
                "ffn_up" => "mlp.up_proj",
                "ffn_down" => "mlp.down_proj",
                "attn_norm" => "input_layernorm",
                "ffn_norm" => "post_attention_layernorm",
                other => panic!("{other}"),
            };
            format!("model.layers.{i}.{p}")
        }
    };
    format!("{s}.{suffix}")
}

#[test]
fn mlx_safetensors_directory_gives_the_same_logits() {
    // The Q4_0 model re-saved in MLX layout (HF names, packed uint32 + scales/biases, two
    // shards, a config.json with a quantization block) must give MLX's logits again.
    let text = std::fs::read_to_string(format!("{FIXTURES}/tiny_expected.json")).unwrap();
    let want: serde_json::Value = serde_json::from_str(&text).unwrap();
    let prompt: Vec<u32> = want["prompt"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as u32)
        .collect();
    let exp: Vec<f64> = want["q4_0"]["last_logits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let (arrays, _) = mlx_arm::io::load_gguf(format!("{FIXTURES}/tiny_q4_0.gguf")).unwrap();
    let dir = std::env::temp_dir().join(format!("mlx-arm-hf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let named: Vec<(String, Array)> = arrays
        .iter()
        .map(|(n, a)| (hf_name(n), a.clone()))
        .collect();
    let (a, b) = named.split_at(named.len() / 2);
    for (i, part) in [a, b].iter().enumerate() {
        let refs: Vec<(&str, &Array)> = part.iter().map(|(n, a)| (n.as_str(), a)).collect();
        mlx_arm::io::save_safetensors(
            dir.join(format!("model-0000{}-of-00002.safetensors", i + 1)),
            &refs,
            None,
        )
        .unwrap();
    }
    let config = serde_json::json!({
        "model_type": "llama", "hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4,
        "num_key_value_heads": 2, "intermediate_size": 128, "vocab_size": 96, "rms_norm_eps": 1e-5,
        "rope_theta": 10000.0, "rope_traditional": true, "max_position_embeddings": 256,
        "tie_word_embeddings": true, "quantization": {"group_size": 32, "bits": 4}
    });
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    let model = mlx_arm_lm::hf::load_weights(&dir, |_, _| {}).unwrap();
    for device in devices() {
        with_default_device(device, || {
            let mut cache = model.new_cache(None, None).unwrap();
            let got = last_row(&model.forward(&ids(&prompt), &mut cache, true).unwrap());
            for (i, (g, w)) in got.iter().zip(&exp).enumerate() {
                assert!(
                    (*g as f64 - w).abs() <= 2e-3 * w.abs().max(1.0),
                    "MLX layout on {device:?}: logit {i}: {g} vs MLX {w}"
                );
            }
        });
    }
    // a config that lies about the shapes is an error, not a panic
    let mut bad = config.clone();
    bad["hidden_size"] = serde_json::json!(80);
    std::fs::write(dir.join("config.json"), bad.to_string()).unwrap();
    assert!(mlx_arm_lm::hf::load_weights(&dir, |_, _| {}).is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn models_written_by_our_gguf_writer_load_and_agree() {
    // The F16 model rewritten by mlx_arm::io::save_gguf — as it is (F16) and with every linear
    // weight quantized by the writer to Q8_0 / Q4_1 — loads and gives the F16 model's logits
    // (exactly for F16; within the quantization error otherwise).
    use mlx_arm::io::{GgmlType, GgufTensor};
    let src = format!("{FIXTURES}/tiny_f16.gguf");
    let (arrays, md) = mlx_arm::io::load_gguf(&src).unwrap();
    let prompt = [1u32, 17, 42, 5, 88, 23, 9];
    let logits_of = |path: &std::path::Path| {
        let (arrays, md) = mlx_arm::io::load_gguf(path).unwrap();
        let config = LlamaConfig::from_gguf(&md, "written").unwrap();
        let mut t = Tensors::new(arrays, "written", Dtype::Float32);
        let model = Llama::from_tensors(config, &mut t, |_| {}).unwrap();
        with_default_device(Device::cpu(), || {
            last_row(
                &model
                    .forward(
                        &ids(&prompt),
                        &mut model.new_cache(None, None).unwrap(),
                        true,
                    )
                    .unwrap(),
            )
        })
    };
    let reference = logits_of(std::path::Path::new(&src));
    let dir = std::env::temp_dir().join(format!("mlx-arm-writer-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // tolerances relative to the largest logit: Q8_0 steps are ~1% of a weight's range, Q4_1's ~7%
    let scale = reference.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    for (ty, tol) in [
        (None, 0.0f32),
        (Some(GgmlType::Q8_0), 0.04),
        (Some(GgmlType::Q4_1), 0.3),
    ] {
        let tensors: Vec<(&str, GgufTensor)> = arrays
            .iter()
            .map(|(n, a)| {
                let t = match ty {
                    Some(q) if a.ndim() == 2 => GgufTensor::Quantized(a, q),
                    _ => GgufTensor::Plain(a),
                };
                (n.as_str(), t)
            })
            .collect();
        let path = dir.join("written.gguf");
        mlx_arm::io::save_gguf(&path, &tensors, &md).unwrap();
        let got = logits_of(&path);
        let worst = got
            .iter()
            .zip(&reference)
            .map(|(g, r)| (g - r).abs())
            .fold(0.0f32, f32::max)
            / scale;
        eprintln!("{ty:?}: worst logit difference {worst} of the largest logit");
        assert!(
            worst <= tol,
            "{ty:?}: logits differ by up to {worst} (relative to the largest) from the F16 model's"
        );
        if ty.is_some() {
            assert!(
                worst > 0.0,
                "{ty:?}: quantized weights cannot give identical logits"
            );
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn k_quant_models_stay_quantized_and_agree() {
    // The tiny model's layout four times wider (K-quant rows are 256-value blocks), every linear
    // weight random Q4_K or Q5_K blocks, against the same blocks dequantized to f32 by ggml's
    // formula: the K-quant model loads kept quantized (4/5-bit affine, group 32) and gives the
    // f32 model's logits within the rounding of its scales and biases to f16, on every device.
    use mlx_arm::io::{dequantize_blocks, GgmlType, GgufTensor, GgufValue};
    let (arrays, mut md) = mlx_arm::io::load_gguf(format!("{FIXTURES}/tiny_f16.gguf")).unwrap();
    for (key, v) in [
        ("llama.embedding_length", 256u32),
        ("llama.feed_forward_length", 512),
        ("llama.rope.dimension_count", 64),
    ] {
        md.insert(key.to_string(), GgufValue::U32(v));
    }
    let wide = |d: usize| if d == 96 { d } else { 4 * d }; // the vocabulary stays
    let mut rng = 0x2545f4914f6cdd1du64;
    let mut byte = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        (rng >> 24) as u8
    };
    let dir = std::env::temp_dir().join(format!("mlx-arm-kquant-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for ty in [GgmlType::Q4K, GgmlType::Q5K] {
        let mut blocks: Vec<(String, Vec<usize>, Vec<u8>, Array)> = vec![];
        let mut plain: Vec<(String, Array)> = vec![];
        for (name, a) in &arrays {
            let shape: Vec<usize> = a.shape().iter().map(|&d| wide(d)).collect();
            let n: usize = shape.iter().product();
            if shape.len() == 1 {
                let v: Vec<f32> = (0..n).map(|_| 0.5 + byte() as f32 / 255.0).collect();
                plain.push((name.clone(), Array::from_slice(&v, &[n as i32])));
                continue;
            }
            let mut raw: Vec<u8> = (0..n / 256 * ty.block_bytes()).map(|_| byte()).collect();
            for blk in raw.chunks_exact_mut(ty.block_bytes()) {
                // d and dmin small enough that activations stay in range: float16 bit patterns
                // from 0x0800 (2^-13) to 0x1400 (2^-10)
                let d = (0x0800 + byte() as u16 * 12).to_le_bytes();
                let m = (0x0800 + byte() as u16 * 12).to_le_bytes();
                blk[..4].copy_from_slice(&[d[0], d[1], m[0], m[1]]);
            }
            let mut f = vec![0f32; n];
            dequantize_blocks(ty, &raw, &mut f).unwrap();
            let dims: Vec<i32> = shape.iter().map(|&d| d as i32).collect();
            let deq = Array::from_slice(&f, &dims);
            blocks.push((name.clone(), shape, raw, deq));
        }
        let logits = |quantized: bool| {
            let mut tensors: Vec<(&str, GgufTensor)> = plain
                .iter()
                .map(|(n, a)| (n.as_str(), GgufTensor::Plain(a)))
                .collect();
            for (name, shape, raw, deq) in &blocks {
                let t = match quantized {
                    true => GgufTensor::Blocks {
                        ty,
                        bytes: raw,
                        shape,
                    },
                    false => GgufTensor::Plain(deq),
                };
                tensors.push((name.as_str(), t));
            }
            let path = dir.join(format!("{}-{quantized}.gguf", ty.name()));
            mlx_arm::io::save_gguf(&path, &tensors, &md).unwrap();
            let (loaded, md) = mlx_arm::io::load_gguf(&path).unwrap();
            let kept = loaded.iter().any(|(n, _)| n == "blk.0.ffn_down.scales");
            assert_eq!(
                kept, quantized,
                "{ty:?}: quantized weights kept as affine triples"
            );
            let config = LlamaConfig::from_gguf(&md, "k-quant").unwrap();
            let mut t = Tensors::new(loaded, "k-quant", Dtype::Float32);
            let model = Llama::from_tensors(config, &mut t, |_| {}).unwrap();
            let prompt = ids(&[1, 17, 42, 5, 88, 23, 9]);
            devices()
                .into_iter()
                .map(|device| {
                    with_default_device(device, || {
                        let mut cache = model.new_cache(None, None).unwrap();
                        last_row(&model.forward(&prompt, &mut cache, true).unwrap())
                    })
                })
                .collect::<Vec<_>>()
        };
        let (want, got) = (logits(false), logits(true));
        let scale = want[0].iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(scale > 0.0 && scale.is_finite(), "{ty:?}: logits {scale}");
        for (g, w) in got.iter().zip(&want) {
            let worst = g
                .iter()
                .zip(w)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            eprintln!(
                "{ty:?}: worst logit difference {} of the largest",
                worst / scale
            );
            assert!(
                worst <= 2e-3 * scale,
                "{ty:?}: logits differ by {worst} (largest {scale})"
            );
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
