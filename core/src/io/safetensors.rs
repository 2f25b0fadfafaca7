//! `.safetensors` files: named tensors plus string metadata, parsed and written with the
//! `safetensors` crate. Loading from a file memory-maps it and wraps each aligned tensor as a
//! window of the map (no copy); unaligned tensors, bool tensors holding bytes other than 0/1,
//! and every tensor on big-endian hosts are copied instead.
//!
//! Before the header reaches the crate, its `data_offsets` are checked against the file length
//! here, so no header value can make offset arithmetic overflow.

use super::json::{self, Json};
use super::{check_unique_names, le_bytes, normalize_bools, swap_bytes, LeBytes, Src, MEMORY};
use crate::buffer::HostMem;
use crate::{Array, Dtype, Error, Result};
use ::safetensors::tensor::{SafeTensors, View};
use ::safetensors::Dtype as StDtype;
use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;

/// Named arrays and the file's `__metadata__` strings (empty when the file has none).
type Loaded = (Vec<(String, Array)>, HashMap<String, String>);

/// Saves named arrays (unique names, not `__metadata__`) and optional string metadata as a
/// `.safetensors` file. Every dtype is supported, bfloat16 included; views are written in
/// row-major order. The file is written to a temporary sibling and renamed into place.
pub fn save_safetensors(
    path: impl AsRef<Path>,
    arrays: &[(&str, &Array)],
    metadata: Option<&HashMap<String, String>>,
) -> Result<()> {
    let path = path.as_ref();
    #[cfg(target_arch = "wasm32")]
    {
        let _ = (arrays, metadata);
        Err(super::no_fs(path))
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let (tensors, metadata) = prepare(arrays, metadata)?;
        ::safetensors::serialize_to_file(tensors, metadata, path).map_err(|e| match e {
            ::safetensors::SafeTensorError::IoError(e) => super::io_err(path, e),
            other => Error::arg("save_safetensors", other.to_string()),
        })
    }
}

/// Loads every tensor of a `.safetensors` file, sorted by name, plus its metadata. The file is
/// memory-mapped: tensors whose data is aligned to their dtype are windows of the map and keep
/// it alive. Do not modify or truncate the file while such arrays live (overwriting it with the
/// save functions is safe: they replace the file instead of writing into it).
pub fn load_safetensors(path: impl AsRef<Path>) -> Result<Loaded> {
    let path = path.as_ref();
    #[cfg(target_arch = "wasm32")]
    {
        Err(super::no_fs(path))
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let src = Src::of_path("safetensors", path);
        let file = std::fs::File::open(path).map_err(|e| super::io_err(path, e))?;
        let len = file.metadata().map_err(|e| super::io_err(path, e))?.len();
        if len < 8 {
            return Err(too_short(&src, len as usize));
        }
        // SAFETY: the map is read-only; like every memory-mapped reader we rely on the file not
        // being modified in place while mapped (the save functions in this module replace
        // files by renaming, which leaves existing maps intact).
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| super::io_err(path, e))?;
        let map = std::sync::Arc::new(map);
        let (entries, metadata) = parse(&map, &src)?;
        let arrays = entries
            .into_iter()
            .map(|e| {
                let a = mapped_array(&map, &e)?;
                Ok((e.name, a))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((arrays, metadata))
    }
}

/// The bytes of a `.safetensors` file holding `arrays` and `metadata`.
pub fn safetensors_to_bytes(
    arrays: &[(&str, &Array)],
    metadata: Option<&HashMap<String, String>>,
) -> Result<Vec<u8>> {
    let (tensors, metadata) = prepare(arrays, metadata)?;
    ::safetensors::serialize(tensors, metadata)
        .map_err(|e| Error::arg("save_safetensors", e.to_string()))
}

/// Parses the bytes of a `.safetensors` file (copying the tensors), returning them sorted by
/// name plus the metadata.
pub fn safetensors_from_bytes(bytes: &[u8]) -> Result<Loaded> {
    let (entries, metadata) = parse(bytes, &Src::new("safetensors", MEMORY))?;
    let arrays = entries
        .into_iter()
        .map(|e| {
            let a = copied_array(bytes, &e)?;
            Ok((e.name, a))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((arrays, metadata))
}

fn to_st(d: Dtype) -> StDtype {
    match d {
        Dtype::Bool => StDtype::BOOL,
        Dtype::Uint8 => StDtype::U8,
        Dtype::Uint16 => StDtype::U16,
        Dtype::Uint32 => StDtype::U32,
        Dtype::Uint64 => StDtype::U64,
        Dtype::Int8 => StDtype::I8,
        Dtype::Int16 => StDtype::I16,
        Dtype::Int32 => StDtype::I32,
        Dtype::Int64 => StDtype::I64,
        Dtype::Float16 => StDtype::F16,
        Dtype::Bfloat16 => StDtype::BF16,
        Dtype::Float32 => StDtype::F32,
        Dtype::Float64 => StDtype::F64,
    }
}

fn from_st(d: StDtype) -> Option<Dtype> {
    Some(match d {
        StDtype::BOOL => Dtype::Bool,
        StDtype::U8 => Dtype::Uint8,
        StDtype::U16 => Dtype::Uint16,
        StDtype::U32 => Dtype::Uint32,
        StDtype::U64 => Dtype::Uint64,
        StDtype::I8 => Dtype::Int8,
        StDtype::I16 => Dtype::Int16,
        StDtype::I32 => Dtype::Int32,
        StDtype::I64 => Dtype::Int64,
        StDtype::F16 => Dtype::Float16,
        StDtype::BF16 => Dtype::Bfloat16,
        StDtype::F32 => Dtype::Float32,
        StDtype::F64 => Dtype::Float64,
        _ => return None,
    })
}

/// An array's bytes as the `safetensors` crate's [`View`].
struct Tensor {
    dtype: StDtype,
    shape: Vec<usize>,
    bytes: LeBytes,
}

impl View for Tensor {
    fn dtype(&self) -> StDtype {
        self.dtype
    }
    fn shape(&self) -> &[usize] {
        &self.shape
    }
    fn data(&self) -> Cow<'_, [u8]> {
        Cow::Borrowed(self.bytes.as_slice())
    }
    fn data_len(&self) -> usize {
        self.bytes.as_slice().len()
    }
}

type Prepared<'a> = (Vec<(&'a str, Tensor)>, Option<HashMap<String, String>>);

fn prepare<'a>(
    arrays: &[(&'a str, &Array)],
    metadata: Option<&HashMap<String, String>>,
) -> Result<Prepared<'a>> {
    check_unique_names("save_safetensors", arrays.iter().map(|(n, _)| *n))?;
    let mut tensors = Vec::with_capacity(arrays.len());
    for &(name, a) in arrays {
        if name == "__metadata__" {
            return Err(Error::arg(
                "save_safetensors",
                "\"__metadata__\" is reserved and cannot name a tensor",
            ));
        }
        tensors.push((
            name,
            Tensor {
                dtype: to_st(a.dtype()),
                shape: a.shape().to_vec(),
                bytes: le_bytes(a)?,
            },
        ));
    }
    Ok((tensors, metadata.cloned()))
}

/// One tensor of a parsed file; `start..end` are absolute byte offsets in the file.
struct Entry {
    name: String,
    dtype: Dtype,
    shape: Vec<usize>,
    start: usize,
    end: usize,
}

fn too_short(src: &Src, len: usize) -> Error {
    src.err(format!(
        "truncated: {len} bytes is too short for the 8-byte header length"
    ))
}

/// Validates a whole file and lists its tensors (sorted by name) and metadata.
fn parse(bytes: &[u8], src: &Src) -> Result<(Vec<Entry>, HashMap<String, String>)> {
    let len = bytes.len();
    let Some((len_field, rest)) = bytes.split_first_chunk::<8>() else {
        return Err(too_short(src, len));
    };
    let n = u64::from_le_bytes(*len_field);
    if n > rest.len() as u64 {
        return Err(src.err(format!(
            "truncated header: the header length {n} runs past the end of the file ({len} bytes)"
        )));
    }
    let (header, data) = rest.split_at(n as usize);
    let text = std::str::from_utf8(header)
        .map_err(|e| src.err(format!("the header is not valid UTF-8: {e}")))?;
    check_offsets(text, data.len(), src)?;
    let (_, meta) =
        SafeTensors::read_metadata(bytes).map_err(|e| src.err(format!("invalid header: {e}")))?;
    let base = 8 + n as usize;
    let mut entries = Vec::new();
    for (name, info) in meta.tensors() {
        let dtype = from_st(info.dtype).ok_or_else(|| {
            src.err(format!(
                "tensor {name:?} has dtype {}, which MLX-ARM does not support",
                info.dtype
            ))
        })?;
        let (s, e) = info.data_offsets;
        entries.push(Entry {
            name,
            dtype,
            shape: info.shape.clone(),
            start: base + s,
            end: base + e,
        });
    }
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    Ok((entries, meta.metadata().clone().unwrap_or_default()))
}

/// Checks that every integer in a tensor's `data_offsets` lies within the data section, so the
/// crate's offset sums cannot overflow; the crate checks everything else.
fn check_offsets(text: &str, data_len: usize, src: &Src) -> Result<()> {
    let root =
        json::parse(text).map_err(|e| src.err(format!("the header is not valid JSON: {e}")))?;
    let Json::Obj(members) = root else {
        return Err(src.err("the header is not a JSON object"));
    };
    for (name, info) in &members {
        let Json::Obj(fields) = info else { continue };
        for (key, value) in fields {
            let Json::Arr(items) = value else { continue };
            if key != "data_offsets" {
                continue;
            }
            for item in items {
                let Json::Num(t) = item else { continue };
                if !t.bytes().all(|b| b.is_ascii_digit()) {
                    continue;
                }
                if t.parse::<u64>().map_or(true, |v| v > data_len as u64) {
                    return Err(src.err(format!(
                        "tensor {name:?}: data offset {t} lies past the end of the data section ({data_len} bytes)"
                    )));
                }
            }
        }
    }
    Ok(())
}

/// Makes host bytes valid for `dtype`: host byte order, bools as 0/1.
fn fix_up(mem: &mut HostMem, dtype: Dtype) {
    if let Some(bytes) = mem.bytes_mut() {
        if cfg!(target_endian = "big") {
            swap_bytes(bytes, dtype.size());
        }
        if dtype == Dtype::Bool {
            normalize_bools(bytes);
        }
    }
}

fn copied_array(bytes: &[u8], e: &Entry) -> Result<Array> {
    let mut mem = HostMem::from_bytes(&bytes[e.start..e.end])?;
    fix_up(&mut mem, e.dtype);
    Array::from_host_mem(mem, &e.shape, e.dtype)
}

/// A window of the map when the data can be used as is, a copy otherwise.
#[cfg(not(target_arch = "wasm32"))]
fn mapped_array(map: &std::sync::Arc<memmap2::Mmap>, e: &Entry) -> Result<Array> {
    let window = &map[e.start..e.end];
    // The map starts page-aligned, so the file offset decides the alignment.
    let usable = cfg!(target_endian = "little")
        && !window.is_empty()
        && e.start.is_multiple_of(e.dtype.size())
        && (e.dtype != Dtype::Bool || window.iter().all(|&b| b <= 1));
    if !usable {
        return copied_array(map, e);
    }
    let mem = HostMem::Mapped {
        map: map.clone(),
        offset: e.start,
        nbytes: e.end - e.start,
    };
    Array::from_host_mem(mem, &e.shape, e.dtype)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtype::ALL_DTYPES;

    fn sample(dt: Dtype) -> Array {
        let vals: Vec<f64> = (0..6)
            .map(|i| {
                if dt == Dtype::Bool {
                    (i % 2) as f64
                } else {
                    i as f64 - 1.0
                }
            })
            .collect();
        Array::from_bytes(&crate::dtype_dispatch::f64_to_bytes(&vals, dt), &[2, 3], dt).unwrap()
    }

    fn format_err(bytes: &[u8]) -> String {
        match safetensors_from_bytes(bytes) {
            Err(Error::Format {
                format: "safetensors",
                detail,
                ..
            }) => detail,
            Err(other) => panic!("expected a format error, got {other:?}"),
            Ok(_) => panic!("expected an error"),
        }
    }

    fn file(header: &str, data: &[u8]) -> Vec<u8> {
        let mut v = (header.len() as u64).to_le_bytes().to_vec();
        v.extend_from_slice(header.as_bytes());
        v.extend_from_slice(data);
        v
    }

    #[test]
    fn round_trips_every_dtype_with_metadata() {
        let arrays: Vec<(String, Array)> = ALL_DTYPES
            .iter()
            .map(|&d| (d.name().to_string(), sample(d)))
            .collect();
        let t = sample(Dtype::Float32).transpose(None).unwrap();
        let empty = Array::from_bytes(&[], &[0, 4], Dtype::Int32).unwrap();
        let scalar = Array::from_scalar(7u16);
        let mut refs: Vec<(&str, &Array)> = arrays.iter().map(|(n, a)| (n.as_str(), a)).collect();
        refs.extend([("t", &t), ("empty", &empty), ("scalar", &scalar)]);
        let meta = HashMap::from([("format".to_string(), "mlx".to_string())]);
        let bytes = safetensors_to_bytes(&refs, Some(&meta)).unwrap();
        let (got, m) = safetensors_from_bytes(&bytes).unwrap();
        assert_eq!(m, meta);
        let mut want: Vec<(&str, &Array)> = refs.clone();
        want.sort_by_key(|(n, _)| *n);
        assert_eq!(got.len(), want.len());
        for ((gn, ga), (wn, wa)) in got.iter().zip(&want) {
            assert_eq!(
                (gn.as_str(), ga.dtype(), ga.shape()),
                (*wn, wa.dtype(), wa.shape())
            );
            assert_eq!(ga.to_f64_vec().unwrap(), wa.to_f64_vec().unwrap(), "{gn}");
        }
        let (_, m) =
            safetensors_from_bytes(&safetensors_to_bytes(&[("x", &t)], None).unwrap()).unwrap();
        assert!(m.is_empty());
    }

    #[test]
    fn rejects_bad_names() {
        let a = sample(Dtype::Int8);
        assert!(matches!(
            safetensors_to_bytes(&[("a", &a), ("a", &a)], None),
            Err(Error::Argument { .. })
        ));
        assert!(matches!(
            safetensors_to_bytes(&[("__metadata__", &a)], None),
            Err(Error::Argument { .. })
        ));
    }

    #[test]
    fn every_truncation_is_an_error() {
        let a = sample(Dtype::Float32);
        let b = sample(Dtype::Bool);
        let full = safetensors_to_bytes(&[("a", &a), ("b", &b)], None).unwrap();
        for len in 0..full.len() {
            format_err(&full[..len]);
        }
        assert!(safetensors_from_bytes(&full).is_ok());
    }

    #[test]
    fn lying_headers_are_errors() {
        assert!(format_err(&u64::MAX.to_le_bytes()).contains("runs past the end"));
        assert!(format_err(&file("{\"a\": ", &[])).contains("not valid JSON"));
        assert!(format_err(&file("[1, 2]", &[])).contains("not a JSON object"));
        assert!(format_err(&file(
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
            &[0; 4]
        ))
        .contains("past the end"));
        let d = format_err(&file(
            "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}",
            &[0; 8],
        ));
        assert!(d.contains("invalid header"), "{d}");
        let d = format_err(&file(
            "{\"a\":{\"dtype\":\"C64\",\"shape\":[1],\"data_offsets\":[0,8]}}",
            &[0; 8],
        ));
        assert!(d.contains("C64"), "{d}");
        let d = format_err(&file(
            "{\"a\":{\"dtype\":\"Q8\",\"shape\":[1],\"data_offsets\":[0,1]}}",
            &[0; 1],
        ));
        assert!(d.contains("invalid header"), "{d}");
        let d = format_err(&file("{\"a\":{\"dtype\":\"U8\",\"shape\":[4294967296,4294967296,4294967296],\"data_offsets\":[0,0]}}", &[]));
        assert!(d.contains("invalid header"), "{d}");
        // Offsets whose sum would overflow inside the crate's own checks.
        let s = usize::MAX / 9;
        let mut h = String::from("{");
        for i in 0..9 {
            h += &format!(
                "\"t{i}\":{{\"dtype\":\"U8\",\"shape\":[{s}],\"data_offsets\":[{},{}]}},",
                i * s,
                (i + 1) * s
            );
        }
        h.pop();
        h.push('}');
        assert!(format_err(&file(&h, &[0; 16])).contains("past the end"));
    }

    #[test]
    fn bools_are_normalized_and_unaligned_data_is_copied() {
        let h = "{\"b\":{\"dtype\":\"BOOL\",\"shape\":[3],\"data_offsets\":[0,3]},\"x\":{\"dtype\":\"U16\",\"shape\":[1],\"data_offsets\":[3,5]}}";
        let f = file(h, &[0, 5, 1, 0x34, 0x12]);
        let (got, _) = safetensors_from_bytes(&f).unwrap();
        assert_eq!(got[0].1.to_f64_vec().unwrap(), [0.0, 1.0, 1.0]);
        assert_eq!(got[0].1.as_slice::<crate::dtype::Bool8>().unwrap()[1].0, 1);
        assert_eq!(got[1].1.to_vec::<u16>().unwrap(), [0x1234]);
        #[cfg(not(target_arch = "wasm32"))]
        {
            let path = std::env::temp_dir().join(format!(
                "mlx-arm-io-unit-{}.safetensors",
                std::process::id()
            ));
            std::fs::write(&path, &f).unwrap();
            let (got, _) = load_safetensors(&path).unwrap();
            assert_eq!(got[0].1.to_f64_vec().unwrap(), [0.0, 1.0, 1.0]);
            assert_eq!(got[1].1.to_vec::<u16>().unwrap(), [0x1234]);
            let a = sample(Dtype::Float64);
            save_safetensors(&path, &[("a", &a)], None).unwrap();
            let (got, _) = load_safetensors(&path).unwrap();
            assert_eq!(got[0].1.to_f64_vec().unwrap(), a.to_f64_vec().unwrap());
            std::fs::remove_file(&path).unwrap();
        }
    }
}
