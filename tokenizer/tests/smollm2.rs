//! SmolLM2-135M-Instruct's GGUF vocabulary (byte-level BPE, pre = "smollm") against the reference
//! fixture: encode, decode, streaming decode, special tokens, chat template, bad input.

mod common;

use common::{fixture, ids, metadata, smollm2};
use mlx_arm_tokenizer::{ChatTemplate, Error, Message, Tokenizer};

fn stream_all(tok: &Tokenizer, ids: &[u32], skip: bool) -> (String, usize) {
    let mut d = tok.stream_decoder_with(skip);
    let mut out = String::new();
    let mut held = 0;
    for &id in ids {
        match d.push(id).expect("push") {
            Some(s) => out.push_str(&s),
            None => held += 1,
        }
    }
    out.push_str(&d.finish().expect("finish"));
    (out, held)
}

#[test]
fn encodes_every_fixture_string_to_the_reference_ids() {
    let tok = smollm2();
    let mut bad = Vec::new();
    for case in fixture()["cases"].as_array().unwrap() {
        let text = case["text"].as_str().unwrap();
        let want = ids(&case["ids"]);
        let got = tok.encode(text, false).unwrap();
        if got != want {
            bad.push(format!("{text:?}: got {got:?}, want {want:?}"));
        }
    }
    assert!(
        bad.is_empty(),
        "{} mismatches:\n{}",
        bad.len(),
        bad.join("\n")
    );
}

#[test]
fn decodes_and_stream_decodes_like_the_reference() {
    let tok = smollm2();
    for case in fixture()["cases"].as_array().unwrap() {
        let text = case["text"].as_str().unwrap();
        let ids = ids(&case["ids"]);
        let plain = case["decoded"].as_str().unwrap();
        let skipped = case["decoded_skip_special"].as_str().unwrap();
        assert_eq!(
            tok.decode(&ids, false).unwrap(),
            plain,
            "decode of {text:?}"
        );
        assert_eq!(plain, text, "byte-level BPE round-trips {text:?}");
        assert_eq!(
            tok.decode(&ids, true).unwrap(),
            skipped,
            "decode(skip special) of {text:?}"
        );
        assert_eq!(
            stream_all(tok, &ids, false).0,
            plain,
            "stream decode of {text:?}"
        );
        assert_eq!(
            stream_all(tok, &ids, true).0,
            skipped,
            "stream decode (skip special) of {text:?}"
        );
    }
}

#[test]
fn stream_decoder_holds_back_partial_characters() {
    let tok = smollm2();
    let text = "emoji 😀🎉 日本語";
    let ids = tok.encode(text, false).unwrap();
    let mut d = tok.stream_decoder();
    let mut pieces = Vec::new();
    let mut held = 0;
    for &id in &ids {
        match d.push(id).unwrap() {
            Some(s) => pieces.push(s),
            None => held += 1,
        }
    }
    assert_eq!(d.finish().unwrap(), "");
    assert!(held > 0, "some ids carry only part of a character: {ids:?}");
    assert!(pieces.iter().all(|p| !p.contains('\u{FFFD}')), "{pieces:?}");
    assert_eq!(pieces.concat(), text);
    // A dangling partial character comes out as U+FFFD at finish, like decode.
    let first = tok.encode("😀", false).unwrap();
    assert!(
        first.len() > 1,
        "😀 is several byte-level tokens: {first:?}"
    );
    let mut d = tok.stream_decoder();
    assert_eq!(d.push(first[0]).unwrap(), None);
    assert_eq!(d.finish().unwrap(), tok.decode(&first[..1], false).unwrap());
}

#[test]
fn special_tokens_and_ids() {
    let tok = smollm2();
    assert_eq!(tok.vocab_size(), 49152);
    assert_eq!(
        tok.vocab_size(),
        fixture()["vocab_size"].as_u64().unwrap() as usize
    );
    assert_eq!(tok.bos_id(), Some(1));
    assert_eq!(tok.eos_ids()[0], 2);
    assert!(
        tok.eos_ids().contains(&0),
        "<|endoftext|> ends generation too: {:?}",
        tok.eos_ids()
    );
    assert_eq!(tok.token_to_id("<|im_start|>"), Some(1));
    assert_eq!(tok.token_to_id("<|im_end|>"), Some(2));
    assert_eq!(tok.token_to_id("no such token"), None);
    assert_eq!(tok.id_to_token(1).as_deref(), Some("<|im_start|>"));
    assert!(tok.is_special(2) && !tok.is_special(19556));
    // SmolLM2's GGUF says add_bos_token = false: special tokens add nothing.
    assert_eq!(
        tok.encode("Hello", true).unwrap(),
        tok.encode("Hello", false).unwrap()
    );
    assert_eq!(
        tok.encode("<|im_start|>user\nHi<|im_end|>", false).unwrap()[0],
        1
    );
    assert_eq!(tok.decode(&[1, 19556, 2], true).unwrap(), "Hello");
}

#[test]
fn bad_ids_are_errors() {
    let tok = smollm2();
    let n = tok.vocab_size() as u32;
    assert!(
        matches!(tok.decode(&[19556, n], false), Err(Error::TokenOutOfRange { id, .. }) if id == n)
    );
    assert!(tok.decode(&[u32::MAX], true).is_err());
    let mut d = tok.stream_decoder();
    assert_eq!(d.push(19556).unwrap().as_deref(), Some("Hello"));
    assert!(d.push(n).is_err());
    assert_eq!(
        d.push(905).unwrap().as_deref(),
        Some(" world"),
        "an error leaves the decoder usable"
    );
    assert_eq!(tok.id_to_token(n), None);
}

fn messages(v: &serde_json::Value) -> Vec<Message> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|m| Message::new(m["role"].as_str().unwrap(), m["content"].as_str().unwrap()))
        .collect()
}

#[test]
fn chat_template_renders_like_transformers() {
    let fx = fixture();
    let source = metadata()["tokenizer.chat_template"]
        .as_str()
        .expect("tokenizer.chat_template");
    let (bos, eos) = (
        fx["bos_token"].as_str().unwrap(),
        fx["eos_token"].as_str().unwrap(),
    );
    let t = ChatTemplate::new(source, bos, eos).unwrap();
    for chat in fx["chat"].as_array().unwrap() {
        let got = t
            .render(
                &messages(&chat["messages"]),
                chat["add_generation_prompt"].as_bool().unwrap(),
            )
            .unwrap();
        assert_eq!(
            got,
            chat["rendered"].as_str().unwrap(),
            "chat {}",
            chat["name"]
        );
    }
    let t = ChatTemplate::new(fx["feature_template"].as_str().unwrap(), bos, eos).unwrap();
    for chat in fx["feature_chat"].as_array().unwrap() {
        let got = t
            .render(
                &messages(&chat["messages"]),
                chat["add_generation_prompt"].as_bool().unwrap(),
            )
            .unwrap();
        assert_eq!(
            got,
            chat["rendered"].as_str().unwrap(),
            "chat {}",
            chat["name"]
        );
    }
    // The rendered prompt encodes with its control tokens as single ids.
    let prompt = fx["chat"][0]["rendered"].as_str().unwrap();
    let ids = smollm2().encode(prompt, false).unwrap();
    assert_eq!(
        ids.iter().filter(|&&i| i == 1).count(),
        3,
        "three <|im_start|>"
    );
    assert_eq!(smollm2().decode(&ids, false).unwrap(), prompt);
}

#[test]
fn bad_templates_are_errors() {
    let err = ChatTemplate::new("{% for m in messages %}{{ m.content }", "", "").unwrap_err();
    assert!(matches!(err, Error::Template(_)), "{err}");
    let err = ChatTemplate::new("{% if %}", "", "").unwrap_err();
    assert!(err.to_string().contains("chat template"), "{err}");
    let fx = fixture();
    let t = ChatTemplate::new(fx["feature_template"].as_str().unwrap(), "<s>", "</s>").unwrap();
    let err = t.render(&[Message::new("tool", "x")], false).unwrap_err();
    assert!(err.to_string().contains("Unknown role: tool"), "{err}");
    // Undefined variables render empty like jinja2's default, but calling one is an error.
    let t = ChatTemplate::new("{{ nope(1) }}", "", "").unwrap();
    assert!(t.render(&[], false).is_err());
}

#[test]
fn encode_speed_on_100kb() {
    let tok = smollm2();
    let base: String = fixture()["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["text"].as_str().unwrap())
        .collect::<Vec<_>>()
        .join(" ");
    let mut text = String::new();
    let mut i = 0;
    while text.len() < 100_000 {
        // Vary the words so the BPE cache does not make it trivial.
        text.push_str(&base.replace("world", &format!("world{i}")));
        text.push('\n');
        i += 1;
    }
    let t0 = std::time::Instant::now();
    let ids = tok.encode(&text, false).unwrap();
    let dt = t0.elapsed();
    eprintln!(
        "encode: {} bytes -> {} ids in {:.1} ms ({:.1} MB/s)",
        text.len(),
        ids.len(),
        dt.as_secs_f64() * 1e3,
        text.len() as f64 / dt.as_secs_f64() / 1e6
    );
    assert_eq!(tok.decode(&ids, false).unwrap(), text);
}
