//! Saving and loading arrays: NumPy `.npy` (one array), `.npz` (a zip of `.npy` files, stored or
//! deflate-compressed), `.safetensors` (named tensors plus string metadata) and `.gguf`
//! (llama.cpp's model files, quantized tensors included).
//!
//! This module owns the file formats and their validation. Every file function has an in-memory
//! twin (`*_to_bytes` / `*_from_bytes`) that it is built on, so the formats also work on wasm32,
//! where the file functions compile but return [`Error::Io`].
//!
//! Loading never trusts a header: sizes are checked against the bytes actually present before
//! anything is allocated, and every malformed input is an [`Error::Format`] naming the format,
//! the file (`<bytes>` for in-memory input) and what is wrong. Operating-system failures are
//! [`Error::Io`]. Files are written little-endian and in C order; files are written through a
//! temporary sibling that is renamed into place, so an existing file (possibly memory-mapped by
//! [`load_safetensors`]) is never truncated under a reader.

pub mod gguf;
mod json;
mod npy;
mod npz;
mod safetensors;

pub use self::gguf::{
    dequantize_blocks, gguf_from_bytes, gguf_to_bytes, load_gguf, read_gguf_metadata, save_gguf,
    GgmlType, GgufTensor, GgufValue,
};
pub use self::npy::{load, npy_from_bytes, npy_to_bytes, save};
pub use self::npz::{load_npz, npz_from_bytes, npz_to_bytes, savez, savez_compressed};
pub use self::safetensors::{
    load_safetensors, safetensors_from_bytes, safetensors_to_bytes, save_safetensors,
};

use crate::buffer::{Data, HostMem};
use crate::layout::{collapse_dims, StridedIter};
use crate::{Array, Error, Result};
use std::path::Path;
use std::sync::Arc;

/// The path label used in errors about in-memory input.
pub(crate) const MEMORY: &str = "<bytes>";

/// Where bytes come from, for error messages: a format name and a path (or [`MEMORY`]).
#[derive(Debug, Clone)]
pub(crate) struct Src {
    pub(crate) format: &'static str,
    pub(crate) path: String,
}

impl Src {
    pub(crate) fn new(format: &'static str, path: impl Into<String>) -> Src {
        Src {
            format,
            path: path.into(),
        }
    }
    #[cfg(not(target_arch = "wasm32"))]
    pub(crate) fn of_path(format: &'static str, path: &Path) -> Src {
        Src::new(format, path.display().to_string())
    }
    /// A [`Error::Format`] about this source.
    pub(crate) fn err(&self, detail: impl Into<String>) -> Error {
        Error::Format {
            format: self.format,
            path: self.path.clone(),
            detail: detail.into(),
        }
    }
    /// Maps a read error: corrupt data (bad checksum, bad deflate stream, early end) is a format
    /// error, anything else an operating-system error.
    pub(crate) fn io(&self, e: std::io::Error) -> Error {
        use std::io::ErrorKind::*;
        match e.kind() {
            InvalidData | UnexpectedEof => self.err(format!("corrupt data: {e}")),
            _ => Error::Io {
                path: self.path.clone(),
                detail: e.to_string(),
            },
        }
    }
}

/// An [`Error::Io`] for `path`.
pub(crate) fn io_err(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Io {
        path: path.display().to_string(),
        detail: e.to_string(),
    }
}

/// The error file functions return on wasm32, where there is no file system.
#[cfg(target_arch = "wasm32")]
pub(crate) fn no_fs(path: &Path) -> Error {
    io_err(path, "file i/o is not available on wasm32: use the *_to_bytes / *_from_bytes functions of mlx_arm::io")
}

/// The little-endian, row-major bytes of an array: borrowed from its buffer when the array is a
/// dense row-major view on a little-endian host, copied out otherwise.
pub(crate) enum LeBytes {
    Shared {
        host: Arc<HostMem>,
        start: usize,
        len: usize,
    },
    Owned(Vec<u8>),
}

impl LeBytes {
    /// The bytes.
    pub(crate) fn as_slice(&self) -> &[u8] {
        match self {
            LeBytes::Shared { host, start, len } => &host.bytes()[*start..*start + *len],
            LeBytes::Owned(v) => v,
        }
    }
}

/// Evaluates `a` and returns its elements' bytes in row-major order, little-endian.
pub(crate) fn le_bytes(a: &Array) -> Result<LeBytes> {
    let data = a.data()?;
    let host = data.buffer.host()?;
    let es = data.dtype().size();
    let len = data
        .size()
        .checked_mul(es)
        .ok_or_else(|| view_err("its size overflows"))?;
    if len == 0 {
        return Ok(LeBytes::Owned(Vec::new()));
    }
    if cfg!(target_endian = "little") && data.is_row_contiguous() {
        let start = usize::try_from(data.offset)
            .ok()
            .and_then(|o| o.checked_mul(es));
        let start = start.filter(|s| s.checked_add(len).is_some_and(|e| e <= host.len()));
        let start = start.ok_or_else(|| view_err("it lies outside its buffer"))?;
        return Ok(LeBytes::Shared { host, start, len });
    }
    let mut out = gather_bytes(host.bytes(), data)?;
    if cfg!(target_endian = "big") {
        swap_bytes(&mut out, es);
    }
    Ok(LeBytes::Owned(out))
}

/// Copies an array's elements out in row-major order, little-endian (the layout every format
/// here stores), for any dtype and any view (transposed, sliced, broadcast, flipped). Evaluates
/// `a` first.
pub fn contiguous_bytes(a: &Array) -> Result<Vec<u8>> {
    Ok(match le_bytes(a)? {
        LeBytes::Owned(v) => v,
        shared => shared.as_slice().to_vec(),
    })
}

fn view_err(what: &str) -> Error {
    Error::Backend {
        backend: "core",
        detail: format!("cannot read the array view for saving: {what}"),
    }
}

/// Byte-level strided gather of a view (host byte order).
fn gather_bytes(bytes: &[u8], data: &Data) -> Result<Vec<u8>> {
    let es = data.dtype().size();
    let total = data
        .size()
        .checked_mul(es)
        .ok_or_else(|| view_err("its size overflows"))?;
    let mut out = Vec::new();
    out.try_reserve_exact(total)
        .map_err(|_| Error::OutOfMemory {
            requested: total,
            limit: crate::memory::get_memory_limit(),
            active: crate::memory::get_active_memory(),
        })?;
    if total == 0 {
        return Ok(out);
    }
    let (shape, strides) = collapse_dims(&data.shape, &[&data.strides]);
    let strides = &strides[0];
    // Copy unit-stride innermost runs in one go.
    let (outer, outer_strides, run) = match (shape.last(), strides.last()) {
        (Some(&n), Some(&1)) => (&shape[..shape.len() - 1], &strides[..strides.len() - 1], n),
        _ => (&shape[..], &strides[..], 1),
    };
    let run_bytes = run * es;
    for off in StridedIter::new(outer, outer_strides, data.offset) {
        let start = usize::try_from(off).ok().and_then(|o| o.checked_mul(es));
        let chunk = start.and_then(|s| bytes.get(s..s.checked_add(run_bytes)?));
        out.extend_from_slice(chunk.ok_or_else(|| view_err("it lies outside its buffer"))?);
    }
    Ok(out)
}

/// Reverses the byte order of every `es`-byte element in place.
pub(crate) fn swap_bytes(bytes: &mut [u8], es: usize) {
    if es > 1 {
        for e in bytes.chunks_exact_mut(es) {
            e.reverse();
        }
    }
}

/// Makes every byte of a bool buffer 0 or 1 (files may hold any non-zero byte for true).
pub(crate) fn normalize_bools(bytes: &mut [u8]) {
    for b in bytes {
        *b = (*b != 0) as u8;
    }
}

/// Rejects repeated names before writing a multi-array file.
pub(crate) fn check_unique_names<'a>(
    op: &'static str,
    names: impl IntoIterator<Item = &'a str>,
) -> Result<()> {
    let mut seen = std::collections::HashSet::new();
    for name in names {
        if !seen.insert(name) {
            return Err(Error::arg(
                op,
                format!("the name {name:?} is given more than once"),
            ));
        }
    }
    Ok(())
}

/// Writes a file through a temporary sibling renamed into place, so readers (and memory maps)
/// of an existing file at `path` never see a partial file.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn write_atomic(
    path: &Path,
    write: impl FnOnce(&mut std::io::BufWriter<std::fs::File>) -> Result<()>,
) -> Result<()> {
    use std::io::Write;
    use std::sync::atomic::{AtomicUsize, Ordering};
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let file_name = path
        .file_name()
        .ok_or_else(|| io_err(path, "the path does not name a file"))?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(file_name);
    tmp_name.push(format!(
        ".tmp-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let tmp = path.with_file_name(tmp_name);
    let result = (|| {
        let file = std::fs::File::create(&tmp).map_err(|e| io_err(path, e))?;
        let mut w = std::io::BufWriter::new(file);
        write(&mut w)?;
        w.flush().map_err(|e| io_err(path, e))?;
        drop(w);
        std::fs::rename(&tmp, path).map_err(|e| io_err(path, e))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Dtype;

    #[test]
    fn contiguous_bytes_of_views() {
        let a = Array::from_slice(&[1u16, 2, 3, 4, 5, 6], &[2, 3]);
        let b: Vec<u8> = [1u16, 2, 3, 4, 5, 6]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        assert_eq!(contiguous_bytes(&a).unwrap(), b);
        let t = a.transpose(None).unwrap();
        let tb: Vec<u8> = [1u16, 4, 2, 5, 3, 6]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        assert_eq!(contiguous_bytes(&t).unwrap(), tb);
        let e = Array::from_bytes(&[], &[0, 3], Dtype::Float32).unwrap();
        assert!(contiguous_bytes(&e).unwrap().is_empty());
    }

    #[test]
    fn swaps_and_normalizes() {
        let mut b = vec![1, 2, 3, 4];
        swap_bytes(&mut b, 2);
        assert_eq!(b, [2, 1, 4, 3]);
        let mut c = vec![0, 7, 1, 255];
        normalize_bools(&mut c);
        assert_eq!(c, [0, 1, 1, 1]);
    }
}
