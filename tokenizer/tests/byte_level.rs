//! Byte-level BPE on small hand-made vocabularies: the pre-tokenizer each `tokenizer.ggml.pre`
//! selects, bad vocabularies, and HF tokenizer.json files.

use std::path::PathBuf;

use mlx_arm_tokenizer::{Error, GgufVocab, Tokenizer};

/// GPT-2's byte → char table.
fn byte_chars() -> Vec<char> {
    let printable = |b: u32| {
        (0x21..=0x7E).contains(&b) || (0xA1..=0xAC).contains(&b) || (0xAE..=0xFF).contains(&b)
    };
    let mut n = 0;
    (0u32..256)
        .map(|b| {
            if printable(b) {
                char::from_u32(b).unwrap()
            } else {
                n += 1;
                char::from_u32(255 + n).unwrap()
            }
        })
        .collect()
}

/// Every byte, `<|endoftext|>` (control, id 256) and the digit merges.
fn digits_vocab(pre: &str) -> GgufVocab {
    let mut tokens: Vec<String> = byte_chars().into_iter().map(String::from).collect();
    tokens.push("<|endoftext|>".into());
    tokens.extend(["34", "12", "123", "45"].map(String::from));
    let mut types = vec![1; tokens.len()];
    types[256] = 3;
    let mut v = GgufVocab::new("gpt2", tokens);
    v.token_types = Some(types);
    v.merges = ["3 4", "1 2", "12 3", "4 5"].map(String::from).to_vec();
    v.pre = Some(pre.to_string());
    v.eos = Some(256);
    v
}

fn encode_digits(pre: &str) -> Vec<String> {
    let t = Tokenizer::from_gguf_vocab(&digits_vocab(pre)).unwrap();
    let ids = t.encode("12345", false).unwrap();
    assert_eq!(t.decode(&ids, false).unwrap(), "12345");
    ids.iter().map(|&i| t.id_to_token(i).unwrap()).collect()
}

#[test]
fn pre_tokenizer_follows_the_pre_name() {
    assert_eq!(
        encode_digits("default"),
        ["12", "34", "5"],
        "GPT-2 regex: one piece, merges by rank"
    );
    assert_eq!(encode_digits("gpt2"), ["12", "34", "5"]);
    assert_eq!(
        encode_digits("llama-bpe"),
        ["123", "45"],
        "Llama-3: digits in groups of three"
    );
    assert_eq!(
        encode_digits("qwen2"),
        ["1", "2", "3", "4", "5"],
        "Qwen-2: single digits"
    );
    assert_eq!(
        encode_digits("smollm"),
        ["1", "2", "3", "4", "5"],
        "SmolLM: Digits(individual)"
    );
    assert_eq!(
        encode_digits("some-new-model"),
        ["12", "34", "5"],
        "unknown: GPT-2 fallback"
    );
}

#[test]
fn add_bos_and_defaults() {
    let mut v = digits_vocab("default");
    assert!(!v.add_bos, "gpt2 defaults to no BOS");
    v.bos = Some(256);
    v.add_bos = true;
    let t = Tokenizer::from_gguf_vocab(&v).unwrap();
    assert_eq!(t.encode("1", true).unwrap()[0], 256);
    assert_eq!(t.encode("1", false).unwrap().len(), 1);
    assert_eq!(
        t.decode(&t.encode("x<|endoftext|>y", true).unwrap(), false)
            .unwrap(),
        "<|endoftext|>x<|endoftext|>y"
    );
}

#[test]
fn bad_vocabularies_are_errors() {
    let mut v = digits_vocab("default");
    v.model = "bert".into();
    assert!(
        matches!(Tokenizer::from_gguf_vocab(&v), Err(Error::UnsupportedModel(m)) if m == "bert")
    );
    let mut v = digits_vocab("default");
    v.merges.push("nospace".into());
    assert!(Tokenizer::from_gguf_vocab(&v)
        .unwrap_err()
        .to_string()
        .contains("nospace"));
    let mut v = digits_vocab("default");
    v.merges.push("zz yy".into());
    assert!(
        Tokenizer::from_gguf_vocab(&v).is_err(),
        "merge of unknown tokens"
    );
    let v = GgufVocab::new("gpt2", Vec::new());
    assert!(Tokenizer::from_gguf_vocab(&v).is_err());
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("mlx-arm-tokenizer-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn tokenizer_json_byte_level() {
    let mut vocab = serde_json::Map::new();
    vocab.insert("<|endoftext|>".into(), 0.into());
    for (i, c) in byte_chars().into_iter().enumerate() {
        vocab.insert(c.to_string(), (i + 1).into());
    }
    vocab.insert("Ġh".into(), 257.into());
    vocab.insert("Ġhi".into(), 258.into());
    let json = serde_json::json!({
        "version": "1.0", "truncation": null, "padding": null,
        "added_tokens": [{"id": 0, "content": "<|endoftext|>", "single_word": false, "lstrip": false,
                          "rstrip": false, "normalized": false, "special": true}],
        "normalizer": null,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true},
        "post_processor": null,
        "decoder": {"type": "ByteLevel", "add_prefix_space": true, "trim_offsets": true, "use_regex": true},
        "model": {"type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
                  "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
                  "vocab": vocab, "merges": ["Ġ h", "Ġh i"]}
    });
    let dir = temp_dir("bl");
    let path = dir.join("tokenizer.json");
    std::fs::write(&path, json.to_string()).unwrap();
    std::fs::write(
        dir.join("tokenizer_config.json"),
        r#"{"eos_token": {"content": "<|endoftext|>"}}"#,
    )
    .unwrap();
    let t = Tokenizer::from_tokenizer_json(&path).unwrap();
    assert_eq!(t.vocab_size(), 259);
    assert_eq!(t.eos_ids(), vec![0]);
    let ids = t.encode("a hi é<|endoftext|>", true).unwrap();
    assert_eq!(ids[1], 258);
    assert_eq!(*ids.last().unwrap(), 0);
    assert_eq!(t.decode(&ids, false).unwrap(), "a hi é<|endoftext|>");
    assert_eq!(t.decode(&ids, true).unwrap(), "a hi é");
    let mut d = t.stream_decoder();
    let out: Vec<Option<String>> = ids.iter().map(|&i| d.push(i).unwrap()).collect();
    assert!(out.contains(&None));
    assert_eq!(
        out.into_iter().flatten().collect::<String>() + &d.finish().unwrap(),
        "a hi é"
    );
    assert!(t.decode(&[259], false).is_err());
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn tokenizer_json_other_decoders_and_errors() {
    let json = serde_json::json!({
        "version": "1.0", "truncation": null, "padding": null, "added_tokens": [],
        "normalizer": null, "pre_tokenizer": {"type": "Whitespace"}, "post_processor": null,
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": true},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": {"[UNK]": 0, "hel": 1, "##lo": 2, "world": 3}}
    });
    let dir = temp_dir("wp");
    let path = dir.join("tokenizer.json");
    std::fs::write(&path, json.to_string()).unwrap();
    let t = Tokenizer::from_tokenizer_json(&path).unwrap();
    let ids = t.encode("hello world", false).unwrap();
    assert_eq!(ids, vec![1, 2, 3]);
    assert_eq!(t.decode(&ids, false).unwrap(), "hello world");
    let mut d = t.stream_decoder();
    let mut s: String = ids.iter().filter_map(|&i| d.push(i).unwrap()).collect();
    s.push_str(&d.finish().unwrap());
    assert_eq!(s, "hello world");
    assert!(t.decode(&[4], false).is_err());

    std::fs::write(&path, "{ not json").unwrap();
    assert!(matches!(
        Tokenizer::from_tokenizer_json(&path),
        Err(Error::Tokenizers(_))
    ));
    assert!(matches!(
        Tokenizer::from_tokenizer_json(&dir.join("missing.json")),
        Err(Error::Io { .. })
    ));
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn types_are_send_and_sync() {
    fn check<T: Send + Sync>() {}
    check::<Tokenizer>();
    check::<mlx_arm_tokenizer::ChatTemplate>();
    check::<mlx_arm_tokenizer::StreamDecoder<'static>>();
}
