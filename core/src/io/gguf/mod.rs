//! GGUF files (llama.cpp's model format, versions 2 and 3): metadata of every value type,
//! tensor infos, alignment; loading into named arrays as MLX's `load` does, and writing
//! (`save_gguf`).
//!
//! Loading maps the file and never trusts it: every count, length, dimension and offset is
//! checked against the bytes present before use, so a truncated or hostile file is an
//! [`Error::Format`], never a panic or a huge allocation. Plain tensors (F32, F16, BF16, F64,
//! I8–I64) are windows of the map where aligned. Q4_0, Q4_1 and Q8_0 tensors load as MLX affine
//! quantized triples like MLX does: `NAME` (packed uint32), `PREFIX.scales` and `PREFIX.biases`
//! (float16), where `PREFIX` is `NAME` without its `.weight` suffix; the quantized values are
//! the file's own. Q4_K and Q5_K load the same way (4 and 5 bits, group 32: each 32-value
//! sub-block's scale and minimum become its scale and bias; MLX dequantizes them instead).
//! Q5_0, Q5_1, Q6_K (16-value sub-blocks) and MXFP4 are dequantized on load, to float16 (float32
//! where a value would overflow it). Shapes are reversed from ggml's order (innermost first) to row-major.

mod blocks;
mod parse;
mod writer;

pub use blocks::{dequantize_blocks, GgmlType};
pub use parse::{gguf_from_bytes_info, GgufFile, GgufTensorInfo, GgufValue};
pub use writer::{gguf_to_bytes, save_gguf, GgufTensor};

use super::Src;
use crate::buffer::HostMem;
use crate::{Array, Dtype, Error, Result};
use half::f16;
use std::collections::BTreeMap;
use std::path::Path;

/// Named arrays (in file order) and the file's metadata.
pub type GgufLoaded = (Vec<(String, Array)>, BTreeMap<String, GgufValue>);

/// Reads a GGUF file's header only: version, metadata and tensor infos (validated against the
/// file's length).
pub fn read_gguf_metadata(path: impl AsRef<Path>) -> Result<GgufFile> {
    let path = path.as_ref();
    let map = map_file(path)?;
    parse::parse(&map, &Src::of_path_any("gguf", path))
}

/// Loads every tensor of a GGUF file plus its metadata (see the module doc for how quantized
/// tensors appear). The file is memory-mapped; aligned plain tensors keep the map alive.
pub fn load_gguf(path: impl AsRef<Path>) -> Result<GgufLoaded> {
    let path = path.as_ref();
    let map = std::sync::Arc::new(map_file(path)?);
    let src = Src::of_path_any("gguf", path);
    let file = parse::parse(&map, &src)?;
    let arrays = tensors_to_arrays(&file, &map, Some(&map), &src)?;
    Ok((arrays, file.metadata))
}

/// [`load_gguf`] from bytes in memory (tensors are copied).
pub fn gguf_from_bytes(bytes: &[u8]) -> Result<GgufLoaded> {
    let src = Src::new("gguf", super::MEMORY);
    let file = parse::parse(bytes, &src)?;
    let arrays = tensors_to_arrays(&file, bytes, None, &src)?;
    Ok((arrays, file.metadata))
}

#[cfg(not(target_arch = "wasm32"))]
type Map = memmap2::Mmap;
#[cfg(target_arch = "wasm32")]
type Map = Vec<u8>;

#[cfg(not(target_arch = "wasm32"))]
fn map_file(path: &Path) -> Result<Map> {
    let file = std::fs::File::open(path).map_err(|e| super::io_err(path, e))?;
    // SAFETY: read-only map; as every memory-mapped reader, we rely on the file not being
    // modified in place while mapped (`save_gguf` replaces files by renaming).
    unsafe { memmap2::Mmap::map(&file) }.map_err(|e| super::io_err(path, e))
}

#[cfg(target_arch = "wasm32")]
fn map_file(path: &Path) -> Result<Map> {
    Err(super::no_fs(path))
}

impl Src {
    fn of_path_any(format: &'static str, path: &Path) -> Src {
        Src::new(format, path.display().to_string())
    }
}

/// The MLX dtype of a plain ggml type.
fn plain_dtype(t: GgmlType) -> Option<Dtype> {
    Some(match t {
        GgmlType::F32 => Dtype::Float32,
        GgmlType::F16 => Dtype::Float16,
        GgmlType::BF16 => Dtype::Bfloat16,
        GgmlType::F64 => Dtype::Float64,
        GgmlType::I8 => Dtype::Int8,
        GgmlType::I16 => Dtype::Int16,
        GgmlType::I32 => Dtype::Int32,
        GgmlType::I64 => Dtype::Int64,
        _ => return None,
    })
}

fn tensors_to_arrays(
    file: &GgufFile,
    bytes: &[u8],
    #[allow(unused_variables)] map: Option<&std::sync::Arc<Map>>,
    src: &Src,
) -> Result<Vec<(String, Array)>> {
    let mut out = Vec::with_capacity(file.tensors.len());
    for t in &file.tensors {
        let start = file.data_offset + t.offset as usize;
        let window = &bytes[start..start + t.nbytes];
        let shape: Vec<usize> = t.dims.iter().rev().map(|&d| d as usize).collect();
        let err = |e: Error| match e {
            Error::OutOfMemory { .. } => e,
            other => src.err(format!("tensor {:?}: {other}", t.name)),
        };
        if let Some(dtype) = plain_dtype(t.ggml_type) {
            #[cfg(not(target_arch = "wasm32"))]
            if let Some(map) = map.filter(|_| {
                cfg!(target_endian = "little")
                    && start.is_multiple_of(dtype.size())
                    && !window.is_empty()
            }) {
                let mem = HostMem::Mapped {
                    map: map.clone(),
                    offset: start,
                    nbytes: t.nbytes,
                };
                out.push((
                    t.name.clone(),
                    Array::from_host_mem(mem, &shape, dtype).map_err(err)?,
                ));
                continue;
            }
            let mut mem = HostMem::from_bytes(window)?;
            if cfg!(target_endian = "big") {
                super::swap_bytes(mem.bytes_mut().expect("owned"), dtype.size());
            }
            out.push((
                t.name.clone(),
                Array::from_host_mem(mem, &shape, dtype).map_err(err)?,
            ));
            continue;
        }
        match t.ggml_type {
            qt if blocks::affine_bits(qt).is_some() => {
                let bits = blocks::affine_bits(qt).unwrap_or(4);
                let groups = t.nbytes / qt.block_bytes() * qt.block_elems() / 32;
                let (mut words, mut scales, mut biases) = (Vec::new(), Vec::new(), Vec::new());
                reserve(&mut words, groups * bits)?;
                reserve(&mut scales, groups)?;
                reserve(&mut biases, groups)?;
                blocks::blocks_to_affine(t.ggml_type, window, &mut words, &mut scales, &mut biases);
                let last = shape.len() - 1;
                let mut wshape = shape.clone();
                wshape[last] = shape[last] * bits / 32;
                let mut sshape = shape.clone();
                sshape[last] = shape[last] / 32;
                let prefix = t.name.strip_suffix(".weight").unwrap_or(&t.name);
                out.push((t.name.clone(), from_vec(&words, &wshape).map_err(err)?));
                out.push((
                    format!("{prefix}.scales"),
                    from_vec(&scales, &sshape).map_err(err)?,
                ));
                out.push((
                    format!("{prefix}.biases"),
                    from_vec(&biases, &sshape).map_err(err)?,
                ));
            }
            qt => {
                let n = t.elements;
                let mut f = Vec::new();
                reserve(&mut f, n)?;
                f.resize(n, 0.0f32);
                blocks::dequantize_blocks(qt, window, &mut f).map_err(err)?;
                // float16 unless a value would overflow it (MXFP4's scales reach 2^127)
                let fits = f
                    .iter()
                    .all(|v| !v.is_finite() || v.abs() <= f16::MAX.to_f32());
                let a = if fits {
                    let h: Vec<f16> = f.iter().map(|&v| f16::from_f32(v)).collect();
                    from_vec(&h, &shape)
                } else {
                    from_vec(&f, &shape)
                };
                out.push((t.name.clone(), a.map_err(err)?));
            }
        }
    }
    Ok(out)
}

fn reserve<T>(v: &mut Vec<T>, n: usize) -> Result<()> {
    v.try_reserve_exact(n).map_err(|_| Error::OutOfMemory {
        requested: n.saturating_mul(std::mem::size_of::<T>()),
        limit: crate::memory::get_memory_limit(),
        active: crate::memory::get_active_memory(),
    })
}

fn from_vec<T: crate::Element>(v: &[T], shape: &[usize]) -> Result<Array> {
    Array::from_bytes(bytemuck::cast_slice(v), shape, T::DTYPE)
}
