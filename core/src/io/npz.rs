//! NumPy `.npz` archives: a zip of `.npy` files, one per named array, stored (`np.savez`) or
//! deflate-compressed (`np.savez_compressed`). Reading streams every entry through the `.npy`
//! reader, growing buffers only as decompressed bytes actually arrive, and drains each entry so
//! that its CRC is checked.

use super::npy::{encode, read_npy};
use super::{check_unique_names, Src, MEMORY};
use crate::{Array, Error, Result};
use std::io::{Read, Seek, Write};
use std::path::Path;
use zip::result::ZipError;
use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipArchive, ZipWriter};

/// Saves named arrays as an uncompressed `.npz` (like `np.savez`): entry `name.npy` per array, in
/// the given order. Names must be unique. `bfloat16` arrays are refused (see [`super::save`]).
pub fn savez(path: impl AsRef<Path>, arrays: &[(&str, &Array)]) -> Result<()> {
    save_npz(path.as_ref(), arrays, false)
}

/// Saves named arrays as a deflate-compressed `.npz` (like `np.savez_compressed`).
pub fn savez_compressed(path: impl AsRef<Path>, arrays: &[(&str, &Array)]) -> Result<()> {
    save_npz(path.as_ref(), arrays, true)
}

/// Loads every array of a `.npz` file (stored or compressed), as `(name, array)` pairs in
/// archive order, with the `.npy` suffix removed from entry names; directory entries are
/// skipped. Malformed archives or entries are [`Error::Format`] with `format: "npz"`.
pub fn load_npz(path: impl AsRef<Path>) -> Result<Vec<(String, Array)>> {
    let path = path.as_ref();
    #[cfg(target_arch = "wasm32")]
    {
        Err(super::no_fs(path))
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let file = std::fs::File::open(path).map_err(|e| super::io_err(path, e))?;
        read_npz(std::io::BufReader::new(file), &Src::of_path("npz", path))
    }
}

/// The bytes of a `.npz` archive holding `arrays` (what [`savez`] or, with `compressed`,
/// [`savez_compressed`] writes).
pub fn npz_to_bytes(arrays: &[(&str, &Array)], compressed: bool) -> Result<Vec<u8>> {
    let cursor = write_npz(
        std::io::Cursor::new(Vec::new()),
        arrays,
        compressed,
        Path::new(MEMORY),
    )?;
    Ok(cursor.into_inner())
}

/// Parses the bytes of a `.npz` archive (what [`load_npz`] reads).
pub fn npz_from_bytes(bytes: &[u8]) -> Result<Vec<(String, Array)>> {
    read_npz(std::io::Cursor::new(bytes), &Src::new("npz", MEMORY))
}

fn save_npz(path: &Path, arrays: &[(&str, &Array)], compressed: bool) -> Result<()> {
    #[cfg(target_arch = "wasm32")]
    {
        let _ = (arrays, compressed);
        Err(super::no_fs(path))
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        super::write_atomic(path, |w| write_npz(w, arrays, compressed, path).map(|_| ()))
    }
}

fn write_npz<W: Write + Seek>(
    w: W,
    arrays: &[(&str, &Array)],
    compressed: bool,
    path: &Path,
) -> Result<W> {
    check_unique_names("savez", arrays.iter().map(|(n, _)| *n))?;
    let werr =
        |e: &dyn std::fmt::Display| super::io_err(path, format!("writing the zip archive: {e}"));
    let method = if compressed {
        CompressionMethod::Deflated
    } else {
        CompressionMethod::Stored
    };
    let mut zip = ZipWriter::new(w);
    for (name, a) in arrays {
        let (header, data) = encode(a)?;
        let total = header.len() as u64 + data.as_slice().len() as u64;
        let options = SimpleFileOptions::default()
            .compression_method(method)
            .large_file(total >= u32::MAX as u64);
        zip.start_file(format!("{name}.npy"), options)
            .map_err(|e| werr(&e))?;
        zip.write_all(&header).map_err(|e| werr(&e))?;
        zip.write_all(data.as_slice()).map_err(|e| werr(&e))?;
    }
    zip.finish().map_err(|e| werr(&e))
}

/// Maps a zip error: OS errors stay I/O errors, everything else is a malformed archive.
fn zip_err(src: &Src, e: ZipError) -> Error {
    match e {
        ZipError::Io(e) => src.io(e),
        other => src.err(format!("not a valid zip archive: {other}")),
    }
}

fn read_npz<R: Read + Seek>(r: R, src: &Src) -> Result<Vec<(String, Array)>> {
    let mut zip = ZipArchive::new(r).map_err(|e| zip_err(src, e))?;
    let mut out = Vec::new();
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).map_err(|e| zip_err(src, e))?;
        if entry.is_dir() {
            continue;
        }
        let raw = entry.name().to_string();
        let esrc = Src::new("npz", format!("{} (entry '{raw}')", src.path));
        let a = read_npy(&mut entry, &esrc, None)?;
        // Read to the end so the zip reader verifies the entry's CRC.
        std::io::copy(&mut entry, &mut std::io::sink()).map_err(|e| esrc.io(e))?;
        let name = raw.strip_suffix(".npy").unwrap_or(&raw).to_string();
        out.push((name, a));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Dtype;

    fn sample() -> (Array, Array, Array) {
        let a = Array::from_slice(&[1.5f32, -2.0, 3.25, 4.0, 5.0, 6.0], &[2, 3]);
        let b = Array::from_slice(&[7i64, 8, 9], &[3]);
        let c = Array::from_scalar(half::f16::from_f32(0.5));
        (a, b, c)
    }

    #[test]
    fn round_trips_stored_and_compressed() {
        let (a, b, c) = sample();
        let t = a.transpose(None).unwrap();
        for compressed in [false, true] {
            let bytes = npz_to_bytes(
                &[("a", &a), ("nested/b", &b), ("c", &c), ("t", &t)],
                compressed,
            )
            .unwrap();
            let got = npz_from_bytes(&bytes).unwrap();
            let names: Vec<_> = got.iter().map(|(n, _)| n.as_str()).collect();
            assert_eq!(names, ["a", "nested/b", "c", "t"]);
            assert_eq!(
                got[0].1.to_vec::<f32>().unwrap(),
                a.to_vec::<f32>().unwrap()
            );
            assert_eq!(got[1].1.to_vec::<i64>().unwrap(), [7, 8, 9]);
            assert_eq!((got[2].1.ndim(), got[2].1.dtype()), (0, Dtype::Float16));
            assert_eq!(got[3].1.shape(), &[3, 2]);
            assert_eq!(
                got[3].1.to_vec::<f32>().unwrap(),
                t.to_vec::<f32>().unwrap()
            );
        }
        assert!(npz_from_bytes(&npz_to_bytes(&[], false).unwrap())
            .unwrap()
            .is_empty());
    }

    #[test]
    fn rejects_duplicate_names_and_bf16() {
        let (a, b, _) = sample();
        assert!(matches!(
            npz_to_bytes(&[("x", &a), ("x", &b)], false),
            Err(Error::Argument { .. })
        ));
        let h = Array::from_scalar(half::bf16::ONE);
        assert!(matches!(
            npz_to_bytes(&[("h", &h)], true),
            Err(Error::Dtype { .. })
        ));
    }

    fn is_npz_format_err(r: Result<Vec<(String, Array)>>) -> bool {
        matches!(r, Err(Error::Format { format: "npz", .. }))
    }

    #[test]
    fn every_truncation_and_corruption_is_an_error() {
        let (a, b, _) = sample();
        for compressed in [false, true] {
            let full = npz_to_bytes(&[("a", &a), ("b", &b)], compressed).unwrap();
            for len in 0..full.len() {
                assert!(
                    is_npz_format_err(npz_from_bytes(&full[..len])),
                    "length {len} (compressed: {compressed})"
                );
            }
            // Flip every byte in turn: never a panic, and never silently wrong data.
            for i in 0..full.len() {
                let mut bad = full.clone();
                bad[i] ^= 0x5a;
                if let Ok(got) = npz_from_bytes(&bad) {
                    // Only metadata bytes the reader does not need (timestamps, names,
                    // attributes) may change without an error.
                    for (_, x) in got {
                        let ok = x.to_f64_vec().unwrap() == a.to_f64_vec().unwrap()
                            || x.to_f64_vec().unwrap() == b.to_f64_vec().unwrap();
                        assert!(ok, "byte {i} flipped silently changed the data");
                    }
                }
            }
        }
        assert!(is_npz_format_err(npz_from_bytes(
            b"definitely not a zip file"
        )));
    }

    #[test]
    fn lying_entry_is_a_format_error_naming_the_entry() {
        let mut zip = ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let opts = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
        zip.start_file("big.npy", opts).unwrap();
        let mut npy =
            super::super::npy::header_bytes(Dtype::Float64, &[1_000_000_000_000]).unwrap();
        npy.extend_from_slice(&[0u8; 4096]);
        zip.write_all(&npy).unwrap();
        let bytes = zip.finish().unwrap().into_inner();
        match npz_from_bytes(&bytes) {
            Err(Error::Format {
                format: "npz",
                path,
                detail,
            }) => {
                assert!(path.contains("big.npy"), "{path}");
                assert!(detail.contains("truncated data"), "{detail}");
            }
            other => panic!("expected a format error, got {:?}", other.map(|v| v.len())),
        }
    }
}
