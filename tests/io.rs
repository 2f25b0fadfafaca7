//! `mlx_arm::io` end to end: golden files written by NumPy (and one hand-built safetensors file)
//! load with the values NumPy wrote (tests/fixtures/io/expected.txt, from
//! tests/fixtures/make_io_fixtures.py); every dtype and several non-contiguous views round-trip
//! through `.npy`, `.npz` and `.safetensors` files; and broken files give `Error::Format` (or
//! `Error::Io` for OS errors) naming the file, never a panic.

use mlx_arm::buffer::HostMem;
use mlx_arm::dtype::ALL_DTYPES;
use mlx_arm::{io, ops, set_default_device, Array, Device, Dtype, Error};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/io");

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("mlx-arm-io-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn path(&self, file: &str) -> PathBuf {
        self.0.join(file)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// One line of expected.txt.
struct Expected {
    label: String,
    dtype: String,
    shape: Vec<usize>,
    values: Vec<f64>,
}

fn expected() -> Vec<Expected> {
    let text = include_str!("fixtures/io/expected.txt");
    let mut out = Vec::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let mut it = line.split_whitespace();
        let label = it.next().unwrap().to_string();
        let dtype = it.next().unwrap().to_string();
        let s = it.next().unwrap();
        let shape = if s == "-" {
            vec![]
        } else {
            s.split(',').map(|d| d.parse().unwrap()).collect()
        };
        let values = it.map(|v| v.parse::<f64>().unwrap()).collect();
        out.push(Expected {
            label,
            dtype,
            shape,
            values,
        });
    }
    out
}

fn fixture(file: &str) -> PathBuf {
    Path::new(FIXTURES).join(file)
}

fn find(arrays: Vec<(String, Array)>, name: &str) -> Array {
    arrays
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no entry {name}"))
        .1
}

fn load_label(label: &str) -> Array {
    match label.split_once(':') {
        None => io::load(fixture(label)).unwrap_or_else(|e| panic!("{label}: {e}")),
        Some((file, entry)) if file.ends_with(".npz") => {
            find(io::load_npz(fixture(file)).unwrap(), entry)
        }
        Some((file, entry)) => find(io::load_safetensors(fixture(file)).unwrap().0, entry),
    }
}

/// Exact comparison (bit patterns, so -0.0 and 0.0 differ).
fn assert_same(got: &Array, want: &Array, what: &str) {
    assert_eq!(got.dtype(), want.dtype(), "{what}: dtype");
    assert_eq!(got.shape(), want.shape(), "{what}: shape");
    let bits = |a: &Array| {
        a.to_f64_vec()
            .unwrap()
            .iter()
            .map(|v| v.to_bits())
            .collect::<Vec<_>>()
    };
    assert_eq!(bits(got), bits(want), "{what}: values");
}

#[test]
fn golden_fixtures_load_with_the_values_numpy_wrote() {
    let all = expected();
    assert!(all.len() > 30);
    for e in all {
        let a = load_label(&e.label);
        assert_eq!(a.dtype().name(), e.dtype, "{}", e.label);
        assert_eq!(a.shape(), &e.shape[..], "{}", e.label);
        let got: Vec<u64> = a
            .to_f64_vec()
            .unwrap()
            .iter()
            .map(|v| v.to_bits())
            .collect();
        let want: Vec<u64> = e.values.iter().map(|v| v.to_bits()).collect();
        assert_eq!(got, want, "{}", e.label);
    }
}

#[test]
fn fortran_order_files_work_with_ops_and_resave_in_c_order() {
    let a = io::load(fixture("fortran_3d.npy")).unwrap();
    let doubled = a.add(&a).unwrap();
    let want: Vec<f32> = (0..24).map(|i| i as f32 / 2.0).collect();
    assert_eq!(doubled.to_vec::<f32>().unwrap(), want);
    let again = io::npy_from_bytes(&io::npy_to_bytes(&a).unwrap()).unwrap();
    assert_same(&again, &a, "fortran re-saved");
    let t = io::load(fixture("fortran.npy")).unwrap().t().unwrap();
    assert_eq!(t.to_vec::<i32>().unwrap(), [0, 3, 1, 4, 2, 5]);
}

#[test]
fn archives_keep_order_and_safetensors_sorts_and_keeps_metadata() {
    for f in ["arrays.npz", "arrays_compressed.npz"] {
        let names: Vec<String> = io::load_npz(fixture(f))
            .unwrap()
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(names, ["a", "b", "c", "d"], "{f}");
    }
    let (arrays, meta) = io::load_safetensors(fixture("tensors.safetensors")).unwrap();
    let names: Vec<&str> = arrays.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["h", "ids", "late", "mask", "odd", "w"]);
    let want = HashMap::from([
        ("format".to_string(), "mlx-arm-test".to_string()),
        ("note".to_string(), "hand-made".to_string()),
    ]);
    assert_eq!(meta, want);
    // Aligned tensors are windows of the memory map; "late" starts at an odd offset and is copied.
    let is_mapped = |name: &str| {
        let a = &arrays.iter().find(|(n, _)| n == name).unwrap().1;
        matches!(
            *a.data().unwrap().buffer.host().unwrap(),
            HostMem::Mapped { .. }
        )
    };
    assert!(is_mapped("w") && is_mapped("ids") && is_mapped("h"));
    assert!(!is_mapped("late"));
    let bytes = std::fs::read(fixture("tensors.safetensors")).unwrap();
    let (from_bytes, meta2) = io::safetensors_from_bytes(&bytes).unwrap();
    assert_eq!(meta2, want);
    for ((n, a), (_, b)) in arrays.iter().zip(&from_bytes) {
        assert_same(a, b, n);
    }
}

/// A 3x4 array of `dt` (computed lazily, so saving has to evaluate it) and views of it, on the
/// CPU (the GPU has no 64-bit dtypes).
fn views(dt: Dtype) -> Vec<(&'static str, Array)> {
    set_default_device(Device::cpu());
    let vals: Vec<f32> = (0..12)
        .map(|i| {
            if dt == Dtype::Bool {
                (i % 3 == 0) as u8 as f32
            } else {
                i as f32 * 2.0 - 7.0
            }
        })
        .collect();
    let base = ops::astype(Array::from_slice(&vals, &[3, 4]), dt).unwrap();
    let row = ops::astype(Array::from_slice(&vals[..4], &[4]), dt).unwrap();
    vec![
        ("base", base.clone()),
        ("transposed", base.t().unwrap()),
        (
            "strided",
            ops::slice(&base, &[0, 1], &[3, 4], &[2, 2]).unwrap(),
        ),
        ("broadcast", ops::broadcast_to(&row, &[3, 4]).unwrap()),
        ("flipped", ops::flip(&base, Some(&[1])).unwrap()),
        (
            "scalar",
            ops::astype(Array::from_slice(&[5.0f32], &[]), dt).unwrap(),
        ),
        ("empty", ops::zeros(&[0, 2], dt).unwrap()),
    ]
}

#[test]
fn npy_round_trips_every_dtype_and_view() {
    let dir = TempDir::new("npy");
    for dt in ALL_DTYPES {
        for (name, a) in views(dt) {
            let path = dir.path(&format!("{dt}_{name}.npy"));
            let r = io::save(&path, &a);
            if dt == Dtype::Bfloat16 {
                assert!(
                    matches!(r, Err(Error::Dtype { .. })),
                    "bf16 must be refused: {r:?}"
                );
                assert!(!path.exists());
                continue;
            }
            r.unwrap();
            assert_same(&io::load(&path).unwrap(), &a, &format!("{dt} {name}"));
        }
    }
}

#[test]
fn npz_round_trips_every_dtype_and_view() {
    let dir = TempDir::new("npz");
    for compressed in [false, true] {
        let mut all: Vec<(String, Array)> = Vec::new();
        for dt in ALL_DTYPES.into_iter().filter(|&d| d != Dtype::Bfloat16) {
            all.extend(views(dt).into_iter().map(|(n, a)| (format!("{dt}/{n}"), a)));
        }
        let refs: Vec<(&str, &Array)> = all.iter().map(|(n, a)| (n.as_str(), a)).collect();
        let path = dir.path(if compressed { "c.npz" } else { "s.npz" });
        if compressed {
            io::savez_compressed(&path, &refs)
        } else {
            io::savez(&path, &refs)
        }
        .unwrap();
        let got = io::load_npz(&path).unwrap();
        assert_eq!(got.len(), all.len());
        for ((gn, ga), (wn, wa)) in got.iter().zip(&all) {
            assert_eq!(gn, wn);
            assert_same(ga, wa, wn);
        }
        let from_bytes = io::npz_from_bytes(&io::npz_to_bytes(&refs, compressed).unwrap()).unwrap();
        assert_eq!(from_bytes.len(), all.len());
    }
}

#[test]
fn safetensors_round_trips_every_dtype_and_view() {
    let dir = TempDir::new("st");
    let mut all: Vec<(String, Array)> = Vec::new();
    for dt in ALL_DTYPES {
        all.extend(views(dt).into_iter().map(|(n, a)| (format!("{dt}.{n}"), a)));
    }
    let refs: Vec<(&str, &Array)> = all.iter().map(|(n, a)| (n.as_str(), a)).collect();
    let meta = HashMap::from([("k".to_string(), "v".to_string())]);
    let path = dir.path("all.safetensors");
    io::save_safetensors(&path, &refs, Some(&meta)).unwrap();
    let (got, m) = io::load_safetensors(&path).unwrap();
    assert_eq!(m, meta);
    let mut sorted = all.clone();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(got.len(), sorted.len());
    for ((gn, ga), (wn, wa)) in got.iter().zip(&sorted) {
        assert_eq!(gn, wn);
        assert_same(ga, wa, wn);
    }
    let (mem, _) =
        io::safetensors_from_bytes(&io::safetensors_to_bytes(&refs, None).unwrap()).unwrap();
    assert_eq!(mem.len(), all.len());
}

#[test]
fn mapped_tensors_survive_overwriting_the_file() {
    let dir = TempDir::new("mmap");
    let path = dir.path("w.safetensors");
    let a = Array::from_slice(&[1.0f32, 2.0, 3.0], &[3]);
    let b = Array::from_slice(&[9.0f32, 8.0], &[2]);
    io::save_safetensors(&path, &[("x", &a)], None).unwrap();
    let (old, _) = io::load_safetensors(&path).unwrap();
    io::save_safetensors(&path, &[("x", &b)], None).unwrap();
    assert_eq!(old[0].1.to_vec::<f32>().unwrap(), [1.0, 2.0, 3.0]);
    assert_eq!(
        old[0].1.add(&old[0].1).unwrap().to_vec::<f32>().unwrap(),
        [2.0, 4.0, 6.0]
    );
    let (new, _) = io::load_safetensors(&path).unwrap();
    assert_eq!(new[0].1.to_vec::<f32>().unwrap(), [9.0, 8.0]);
    #[cfg(unix)]
    {
        std::fs::remove_file(&path).unwrap();
        assert_eq!(new[0].1.to_vec::<f32>().unwrap(), [9.0, 8.0]);
    }
}

fn format_error(r: Result<(), Error>, format: &str, file: &Path) -> String {
    match r {
        Err(Error::Format {
            format: f,
            path,
            detail,
        }) => {
            assert_eq!(f, format, "{detail}");
            assert!(
                path.contains(&*file.file_name().unwrap().to_string_lossy()),
                "{path}"
            );
            detail
        }
        other => panic!(
            "{}: expected a {format} format error, got {other:?}",
            file.display()
        ),
    }
}

fn npy_err(p: &Path) -> String {
    format_error(io::load(p).map(|_| ()), "npy", p)
}
fn npz_err(p: &Path) -> String {
    format_error(io::load_npz(p).map(|_| ()), "npz", p)
}
fn st_err(p: &Path) -> String {
    format_error(io::load_safetensors(p).map(|_| ()), "safetensors", p)
}

#[test]
fn broken_npy_files_are_format_errors() {
    let dir = TempDir::new("bad-npy");
    let good = std::fs::read(fixture("float32.npy")).unwrap();
    for len in [0, 3, 7, 9, 40, good.len() - 1] {
        let p = dir.path(&format!("cut{len}.npy"));
        std::fs::write(&p, &good[..len]).unwrap();
        assert!(npy_err(&p).contains("truncated"), "length {len}");
    }
    let p = dir.path("magic.npy");
    std::fs::write(&p, [b"\x93NUMPZ", &good[6..]].concat()).unwrap();
    assert!(npy_err(&p).contains("magic"));
    let p = dir.path("hlen.npy");
    std::fs::write(&p, [&good[..8], &[0xff, 0xff][..], &good[10..]].concat()).unwrap();
    assert!(npy_err(&p).contains("runs past the end"));
    let p = dir.path("shape.npy");
    let mut lie = good.clone();
    let pos = lie.windows(6).position(|w| w == b"(3, 4)").unwrap();
    lie[pos..pos + 6].copy_from_slice(b"(9, 9)");
    std::fs::write(&p, &lie).unwrap();
    assert!(npy_err(&p).contains("needs 324 bytes but only 48"));
    let p = dir.path("dtype.npy");
    let mut c = good.clone();
    let pos = c.windows(3).position(|w| w == b"<f4").unwrap();
    c[pos..pos + 3].copy_from_slice(b"<c8");
    std::fs::write(&p, &c).unwrap();
    assert!(npy_err(&p).contains("complex"));
    // A safetensors file is not a .npy file.
    assert!(npy_err(&fixture("tensors.safetensors")).contains("magic"));
}

#[test]
fn broken_npz_and_safetensors_files_are_format_errors() {
    let dir = TempDir::new("bad-archives");
    for f in ["arrays.npz", "arrays_compressed.npz"] {
        let good = std::fs::read(fixture(f)).unwrap();
        for len in [0, 4, 30, good.len() / 2, good.len() - 1] {
            let p = dir.path(&format!("cut{len}-{f}"));
            std::fs::write(&p, &good[..len]).unwrap();
            npz_err(&p);
        }
        // Corrupt a byte in the middle of the first entry's data: bad CRC or bad deflate.
        let u16_at = |i: usize| u16::from_le_bytes([good[i], good[i + 1]]) as usize;
        let data_start = 30 + u16_at(26) + u16_at(28);
        // Stored: a byte of the array data after the 128-byte .npy header; deflated: a byte
        // early in the compressed stream.
        let offset = if f.contains("compressed") { 20 } else { 130 };
        let p = dir.path(&format!("flip-{f}"));
        let mut bad = good.clone();
        bad[data_start + offset] ^= 0xff;
        std::fs::write(&p, &bad).unwrap();
        npz_err(&p);
    }
    npz_err(&fixture("float32.npy"));

    let good = std::fs::read(fixture("tensors.safetensors")).unwrap();
    for len in [0, 7, 8, 20, good.len() - 1] {
        let p = dir.path(&format!("cut{len}.safetensors"));
        std::fs::write(&p, &good[..len]).unwrap();
        st_err(&p);
    }
    let p = dir.path("hlen.safetensors");
    std::fs::write(&p, [&u64::MAX.to_le_bytes()[..], &good[8..]].concat()).unwrap();
    assert!(st_err(&p).contains("runs past the end"));
    let p = dir.path("json.safetensors");
    let mut bad = good.clone();
    bad[8] = b'[';
    std::fs::write(&p, &bad).unwrap();
    st_err(&p);
}

#[test]
fn os_errors_are_io_errors() {
    let dir = TempDir::new("os");
    let missing = dir.path("missing");
    for r in [
        io::load(&missing).map(|_| ()),
        io::load_npz(&missing).map(|_| ()),
        io::load_safetensors(&missing).map(|_| ()),
    ] {
        assert!(
            matches!(&r, Err(Error::Io { path, .. }) if path.contains("missing")),
            "{r:?}"
        );
    }
    let a = Array::from_slice(&[1u8, 2], &[2]);
    let nowhere = dir.path("no/such/dir/x");
    for r in [
        io::save(&nowhere, &a),
        io::savez(&nowhere, &[("a", &a)]),
        io::save_safetensors(&nowhere, &[("a", &a)], None),
    ] {
        assert!(matches!(r, Err(Error::Io { .. })), "{r:?}");
    }
    assert!(matches!(
        io::savez(dir.path("d.npz"), &[("a", &a), ("a", &a)]),
        Err(Error::Argument { .. })
    ));
    assert!(!dir.path("d.npz").exists());
}
