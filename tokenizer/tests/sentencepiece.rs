//! SentencePiece BPE (`tokenizer.ggml.model = "llama"`) on a small hand-made vocabulary: merges by
//! score, `▁` for spaces with a space prefix, byte fallback, BOS, control tokens in the text.

use mlx_arm_tokenizer::{GgufVocab, Tokenizer};

const PIECES: &[(&str, f32)] = &[
    ("▁", -100.0),
    ("h", -101.0),
    ("e", -102.0),
    ("l", -103.0),
    ("o", -104.0),
    ("w", -105.0),
    ("r", -106.0),
    ("d", -107.0),
    ("ll", -1.0),
    ("he", -2.0),
    ("llo", -3.0),
    ("hello", -4.0),
    ("▁hello", -5.0),
    ("▁w", -6.0),
    ("or", -7.0),
    ("▁wor", -8.0),
];

fn vocab() -> GgufVocab {
    let mut tokens = vec!["<unk>".to_string(), "<s>".to_string(), "</s>".to_string()];
    let mut types = vec![2, 3, 3];
    let mut scores = vec![0.0, 0.0, 0.0];
    for b in 0..=255u8 {
        tokens.push(format!("<0x{b:02X}>"));
        types.push(6);
        scores.push(0.0);
    }
    for (p, s) in PIECES {
        tokens.push(p.to_string());
        types.push(1);
        scores.push(*s);
    }
    let mut v = GgufVocab::new("llama", tokens);
    v.scores = Some(scores);
    v.token_types = Some(types);
    v.bos = Some(1);
    v.eos = Some(2);
    v.unk = Some(0);
    v
}

fn id(t: &Tokenizer, s: &str) -> u32 {
    t.token_to_id(s)
        .unwrap_or_else(|| panic!("{s:?} not in vocab"))
}

#[test]
fn merges_by_score_with_space_prefix_and_byte_fallback() {
    let t = Tokenizer::from_gguf_vocab(&vocab()).unwrap();
    let want = vec![
        id(&t, "▁hello"),
        id(&t, "▁wor"),
        id(&t, "l"),
        id(&t, "d"),
        id(&t, "<0x21>"),
    ];
    assert_eq!(t.encode("hello world!", false).unwrap(), want);
    let mut with_bos = vec![1];
    with_bos.extend(&want);
    assert_eq!(
        t.encode("hello world!", true).unwrap(),
        with_bos,
        "add_bos defaults to true for llama"
    );
    assert_eq!(
        t.decode(&want, false).unwrap(),
        "hello world!",
        "leading space stripped"
    );
    assert_eq!(t.decode(&with_bos, true).unwrap(), "hello world!");
    assert_eq!(t.decode(&with_bos, false).unwrap(), "<s> hello world!");
    // é is not a piece: UTF-8 bytes C3 A9 through byte fallback, re-joined when decoding.
    let ids = t.encode("é", false).unwrap();
    assert_eq!(ids, vec![id(&t, "▁"), id(&t, "<0xC3>"), id(&t, "<0xA9>")]);
    assert_eq!(t.decode(&ids, false).unwrap(), "é");
    assert_eq!(t.encode("", false).unwrap(), Vec::<u32>::new());
}

#[test]
fn control_tokens_match_literally() {
    let t = Tokenizer::from_gguf_vocab(&vocab()).unwrap();
    let ids = t.encode("<s>hello</s>", false).unwrap();
    assert_eq!(ids, vec![1, id(&t, "▁hello"), 2]);
    assert_eq!(t.decode(&ids, true).unwrap(), "hello");
    assert_eq!(t.eos_ids(), vec![2]);
}

#[test]
fn stream_decoder_joins_fallback_bytes_and_strips_the_first_space() {
    let t = Tokenizer::from_gguf_vocab(&vocab()).unwrap();
    let ids = t.encode("hello é world", true).unwrap();
    let mut d = t.stream_decoder();
    let mut out = Vec::new();
    for &i in &ids {
        out.push(d.push(i).unwrap());
    }
    let tail = d.finish().unwrap();
    assert_eq!(tail, "");
    assert_eq!(out[0], None, "BOS is skipped");
    assert_eq!(out[1].as_deref(), Some("hello"), "first space stripped");
    assert!(out.contains(&None), "<0xC3> waits for <0xA9>: {out:?}");
    assert!(out.iter().flatten().any(|s| s == "é"));
    let text: String = out.into_iter().flatten().collect();
    assert_eq!(text, "hello é world");
    assert_eq!(text, t.decode(&ids, true).unwrap());
}

#[test]
fn without_space_prefix() {
    let mut v = vocab();
    v.add_space_prefix = false;
    v.add_bos = false;
    let t = Tokenizer::from_gguf_vocab(&v).unwrap();
    let ids = t.encode("hello", true).unwrap();
    assert_eq!(ids, vec![id(&t, "hello")]);
    assert_eq!(
        t.decode(&t.encode(" hello", false).unwrap(), false)
            .unwrap(),
        " hello"
    );
}

#[test]
fn bad_vocabularies_are_errors() {
    let mut v = vocab();
    v.scores = None;
    assert!(Tokenizer::from_gguf_vocab(&v)
        .unwrap_err()
        .to_string()
        .contains("scores"));
    let mut v = vocab();
    v.scores.as_mut().unwrap().pop();
    assert!(Tokenizer::from_gguf_vocab(&v).is_err());
    let mut v = vocab();
    v.bos = Some(100_000);
    assert!(Tokenizer::from_gguf_vocab(&v)
        .unwrap_err()
        .to_string()
        .contains("bos"));
    let mut v = vocab();
    v.token_types.as_mut().unwrap().push(1);
    assert!(Tokenizer::from_gguf_vocab(&v).is_err());
}
