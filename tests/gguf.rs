//! GGUF reading and writing against the reference `gguf` Python package
//! (tests/fixtures/make_gguf_fixtures.py): metadata of every value type, every tensor type
//! MLX-ARM reads (Q4_0/Q4_1/Q8_0/Q4_K/Q5_K as MLX affine triples, Q5_0/Q5_1/Q6_K/MXFP4
//! dequantized),
//! the writer's quantizers bit for bit, round trips, and hostile files (truncated at every
//! byte, wrong magic, lying counts, offsets and dimensions) giving `Error::Format`.

use mlx_arm::io::{self, GgmlType, GgufTensor, GgufValue};
use mlx_arm::{Array, Dtype, Error};
use std::collections::{BTreeMap, HashMap};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/gguf");

fn npz(name: &str) -> HashMap<String, Array> {
    io::load_npz(format!("{FIXTURES}/{name}"))
        .unwrap()
        .into_iter()
        .collect()
}

fn f64s(a: &Array) -> Vec<f64> {
    a.to_f64_vec().unwrap()
}

/// Dequantizes an MLX affine triple with group 32 on the host, in f64 (values packed as one
/// continuous bit stream, low bits first).
fn affine_dequant(w: &Array, scales: &Array, biases: &Array, bits: usize) -> Vec<f64> {
    let words = w.to_vec::<u32>().unwrap();
    let (s, b) = (f64s(scales), f64s(biases));
    let mask = (1u64 << bits) - 1;
    (0..words.len() * 32 / bits)
        .map(|i| {
            let (word, shift) = (i * bits / 32, i * bits % 32);
            let pair = words[word] as u64 | (*words.get(word + 1).unwrap_or(&0) as u64) << 32;
            let q = (pair >> shift) & mask;
            s[i / 32] * q as f64 + b[i / 32]
        })
        .collect()
}

fn max_abs(a: &Array) -> f64 {
    f64s(a).iter().fold(0.0f64, |m, v| m.max(v.abs()))
}

fn assert_close(what: &str, got: &[f64], want: &[f64], rel: f64, abs: f64) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!(
            (g - w).abs() <= rel * w.abs() + abs,
            "{what}[{i}]: got {g}, want {w}"
        );
    }
}

#[test]
fn reads_metadata_of_every_value_type() {
    let f = io::read_gguf_metadata(format!("{FIXTURES}/blocks.gguf")).unwrap();
    assert_eq!(f.version, 3);
    let m = &f.metadata;
    assert_eq!(m["test.u8"], GgufValue::U8(200));
    assert_eq!(m["test.i8"], GgufValue::I8(-100));
    assert_eq!(m["test.u16"], GgufValue::U16(60000));
    assert_eq!(m["test.i16"], GgufValue::I16(-30000));
    assert_eq!(m["test.u32"], GgufValue::U32(4_000_000_000));
    assert_eq!(m["test.i32"], GgufValue::I32(-2_000_000_000));
    assert_eq!(m["test.u64"], GgufValue::U64((1 << 63) + 5));
    assert_eq!(m["test.i64"], GgufValue::I64(-(1 << 62)));
    assert_eq!(m["test.f32"], GgufValue::F32(1.5));
    assert_eq!(m["test.f64"], GgufValue::F64(-2.25));
    assert_eq!(m["test.bool"], GgufValue::Bool(true));
    assert_eq!(m["test.string"].as_str(), Some("héllo wörld ✓"));
    let ints: Vec<i64> = m["test.array_i32"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_i64().unwrap())
        .collect();
    assert_eq!(ints, [1, -2, 3]);
    let strs: Vec<&str> = m["test.array_str"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(strs, ["a", "bc", ""]);
    assert_eq!(m["general.architecture"].as_str(), Some("llama"));
}

#[test]
fn loads_every_tensor_type_like_the_reference() {
    let (arrays, _) = io::load_gguf(format!("{FIXTURES}/blocks.gguf")).unwrap();
    let got: HashMap<String, Array> = arrays.into_iter().collect();
    let want = npz("blocks.npz");
    for (name, expected) in &want {
        let e = f64s(expected);
        match name.as_str() {
            "q4_0.weight" | "q4_1.weight" | "q8_0.weight" | "q4_k.weight" | "q5_k.weight" => {
                let bits = match &name[..2] {
                    "q8" => 8,
                    "q5" => 5,
                    _ => 4,
                };
                let prefix = name.strip_suffix(".weight").unwrap();
                let (w, s, b) = (
                    &got[name],
                    &got[&format!("{prefix}.scales")],
                    &got[&format!("{prefix}.biases")],
                );
                assert_eq!(w.dtype(), Dtype::Uint32);
                assert_eq!((s.dtype(), b.dtype()), (Dtype::Float16, Dtype::Float16));
                let cols = expected.shape()[1];
                assert_eq!(w.shape(), [expected.shape()[0], cols * bits / 32]);
                assert_eq!(s.shape(), [expected.shape()[0], cols / 32]);
                // the file's values exactly; a K-quant's scale d·scale_j and bias −dmin·min_j
                // are rounded to f16 (2^-11 of each, as a dequantized f16 load rounds values)
                let k_quant = name.contains("_k");
                let (max_s, max_b) = (max_abs(s), max_abs(b));
                let slack = if k_quant {
                    ((1u32 << bits) as f64 * max_s + max_b) * 2f64.powi(-11)
                } else {
                    1e-7
                };
                assert_close(name, &affine_dequant(w, s, b, bits), &e, 1e-6, slack);
                // MLX's dequantize in float16 rounds `scale * q` before adding the bias (up to
                // 128·d for Q8_0): allow a few float16 ulps of the bias.
                let d = mlx_arm::ops::dequantize(w, s, b, 32, bits as i32).unwrap();
                assert_close(name, &f64s(&d), &e, 1e-3, max_b * 2f64.powi(-9) + slack);
            }
            "mxfp4_big.weight" => {
                // past float16's range: float32, exactly the reference's values
                let a = &got[name];
                assert_eq!(a.dtype(), Dtype::Float32, "{name}");
                assert_eq!(a.shape(), expected.shape(), "{name}");
                assert_eq!(f64s(a), e, "{name}");
            }
            n if n.ends_with(".weight") => {
                let a = &got[name];
                assert_eq!(a.dtype(), Dtype::Float16, "{name}");
                assert_eq!(a.shape(), expected.shape(), "{name}");
                // Dequantized in f32 like ggml, then rounded to f16.
                assert_close(name, &f64s(a), &e, 1e-3, 1e-6);
            }
            _ => {
                let a = &got[name];
                assert_eq!(a.shape(), expected.shape(), "{name}");
                assert_eq!(f64s(a), e, "{name}");
            }
        }
    }
    assert_eq!(got["bf16"].dtype(), Dtype::Bfloat16);
    assert_eq!(got["i64"].dtype(), Dtype::Int64);
}

#[test]
fn writer_quantizes_like_ggml() {
    let want = npz("quantized.npz");
    let x = &want["x"];
    for (ty, key) in [
        (GgmlType::Q4_0, "q4_0"),
        (GgmlType::Q4_1, "q4_1"),
        (GgmlType::Q8_0, "q8_0"),
    ] {
        let bytes =
            io::gguf_to_bytes(&[("t", GgufTensor::Quantized(x, ty))], &BTreeMap::new()).unwrap();
        let f = io::gguf::gguf_from_bytes_info(&bytes).unwrap();
        let t = &f.tensors[0];
        let data = &bytes[f.data_offset + t.offset as usize..][..t.nbytes];
        assert_eq!(data, want[key].to_vec::<u8>().unwrap().as_slice(), "{key}");
    }
}

#[test]
fn round_trips_through_the_writer() {
    let a = Array::from_slice(&[1.5f32, -2.0, 3.25, 0.0, 7.0, -8.5], &[2, 3]);
    let h = mlx_arm::ops::astype(&a, Dtype::Float16).unwrap();
    let t = a.transpose(None).unwrap();
    let q: Vec<f32> = (0..128).map(|i| (i as f32 * 0.37).sin()).collect();
    let q = Array::from_slice(&q, &[2, 64]);
    let mut meta = BTreeMap::new();
    meta.insert(
        "general.architecture".to_string(),
        GgufValue::String("llama".into()),
    );
    meta.insert(
        "x.list".to_string(),
        GgufValue::Array(vec![GgufValue::F32(1.0), GgufValue::F32(2.0)]),
    );
    let dir = std::env::temp_dir().join(format!("mlx-arm-gguf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("rt.gguf");
    io::save_gguf(
        &path,
        &[
            ("a", GgufTensor::Plain(&a)),
            ("h", GgufTensor::Plain(&h)),
            ("t", GgufTensor::Plain(&t)),
            ("q.weight", GgufTensor::Quantized(&q, GgmlType::Q8_0)),
        ],
        &meta,
    )
    .unwrap();
    let (arrays, m) = io::load_gguf(&path).unwrap();
    let got: HashMap<String, Array> = arrays.into_iter().collect();
    assert_eq!(m, meta);
    assert_eq!(f64s(&got["a"]), f64s(&a));
    assert_eq!(got["h"].dtype(), Dtype::Float16);
    assert_eq!(f64s(&got["t"]), f64s(&t));
    assert_eq!(got["t"].shape(), [3, 2]);
    let d = affine_dequant(&got["q.weight"], &got["q.scales"], &got["q.biases"], 8);
    // Q8_0 keeps every value within half a step (max|x| / 127 / 2) of the original, plus the
    // rounding of the step to float16.
    assert_close("q8_0 round trip", &d, &f64s(&q), 0.0, 1.5 / 254.0);
    std::fs::remove_dir_all(&dir).unwrap();
}

fn format_err(bytes: &[u8]) -> String {
    match io::gguf_from_bytes(bytes) {
        Err(Error::Format {
            format: "gguf",
            detail,
            ..
        }) => detail,
        Err(other) => panic!("expected a gguf format error, got {other:?}"),
        Ok(_) => panic!("expected an error"),
    }
}

#[test]
fn hostile_files_are_format_errors() {
    let good = std::fs::read(format!("{FIXTURES}/blocks.gguf")).unwrap();
    let info = io::gguf::gguf_from_bytes_info(&good).unwrap();
    let header_end = info.data_offset;
    let data_end = info
        .tensors
        .iter()
        .map(|t| header_end + t.offset as usize + t.nbytes)
        .max()
        .unwrap();
    // Truncated anywhere before the end of the last tensor's data: an error, never a panic
    // (inside the header: truncated; inside the data: a tensor runs past the end).
    for cut in (0..data_end).step_by(7).chain([data_end - 1]) {
        assert!(
            io::gguf_from_bytes(&good[..cut]).is_err(),
            "cut at {cut} of {}",
            good.len()
        );
    }
    assert!(format_err(&good[..header_end + 10]).contains("past the end"));
    let mut bad = good.clone();
    bad[0] = b'X';
    assert!(format_err(&bad).contains("magic"));
    let mut bad = good.clone();
    bad[4..8].copy_from_slice(&7u32.to_le_bytes());
    assert!(format_err(&bad).contains("version"));
    let mut bad = good.clone();
    bad[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(format_err(&bad).contains("cannot fit"));
    let mut bad = good.clone();
    bad[16..24].copy_from_slice(&(1u64 << 40).to_le_bytes());
    assert!(format_err(&bad).contains("cannot fit"));

    // Hand-made tensor infos: absurd dims, unknown type, offset out of file, too many dims.
    let info = |dims: &[u64], ty: u32, offset: u64| {
        let mut b = Vec::new();
        b.extend_from_slice(b"GGUF");
        b.extend_from_slice(&3u32.to_le_bytes());
        b.extend_from_slice(&1u64.to_le_bytes());
        b.extend_from_slice(&0u64.to_le_bytes());
        b.extend_from_slice(&1u64.to_le_bytes());
        b.push(b'w');
        b.extend_from_slice(&(dims.len() as u32).to_le_bytes());
        for d in dims {
            b.extend_from_slice(&d.to_le_bytes());
        }
        b.extend_from_slice(&ty.to_le_bytes());
        b.extend_from_slice(&offset.to_le_bytes());
        b.resize(b.len().div_ceil(32) * 32 + 64, 0);
        b
    };
    assert!(format_err(&info(&[u64::MAX, 2], 0, 0)).contains("absurd"));
    assert!(format_err(&info(&[1 << 40], 0, 0)).contains("absurd"));
    assert!(format_err(&info(&[4], 99, 0)).contains("unknown"));
    assert!(format_err(&info(&[4], 0, 64)).contains("past the end"));
    assert!(format_err(&info(&[4], 0, 3)).contains("alignment"));
    assert!(format_err(&info(&[1, 1, 1, 1, 1], 0, 0)).contains("dimensions"));
    assert!(format_err(&info(&[33], 2, 0)).contains("block size"));
    assert!(io::gguf_from_bytes(&info(&[16], 0, 0)).is_ok());
    // A missing file is an I/O error naming it.
    match io::load_gguf("/nonexistent/model.gguf") {
        Err(Error::Io { path, .. }) => assert!(path.contains("model.gguf")),
        other => panic!("expected an i/o error, got {other:?}"),
    }
}
