//! Writing GGUF version 3 files: metadata of every value type and tensors stored as they are
//! (F32, F16, BF16, F64, I8–I64) or quantized on the way out with ggml's reference quantizers
//! (Q4_0, Q4_1, Q8_0), so tests and tools can make real llama.cpp-readable files.

use super::blocks::{self, GgmlType};
use super::parse::{GgufValue, DEFAULT_ALIGNMENT, MAGIC, MAX_DIMS};
use crate::io::{check_unique_names, le_bytes};
use crate::{Array, Dtype, Error, Result};
use std::collections::BTreeMap;
use std::path::Path;

/// A tensor to write.
#[derive(Debug, Clone, Copy)]
pub enum GgufTensor<'a> {
    /// Stored in its own dtype (every dtype but bool and the unsigned 16/32/64-bit integers).
    Plain(&'a Array),
    /// Quantized to a block type (Q4_0, Q4_1 or Q8_0) from the array's values as f32; the last
    /// axis must be a multiple of 32.
    Quantized(&'a Array, GgmlType),
    /// Blocks of a quantized type as they are (e.g. read from another file): `bytes` must hold
    /// exactly the blocks of a row-major `shape` whose last axis is a multiple of the block size.
    Blocks {
        /// The block type.
        ty: GgmlType,
        /// The blocks, in ggml's layout.
        bytes: &'a [u8],
        /// Row-major shape of the values.
        shape: &'a [usize],
    },
}

/// Writes a GGUF v3 file with `metadata` and named tensors (through a temporary sibling renamed
/// into place, so maps of an existing file stay valid).
pub fn save_gguf(
    path: impl AsRef<Path>,
    tensors: &[(&str, GgufTensor)],
    metadata: &BTreeMap<String, GgufValue>,
) -> Result<()> {
    let path = path.as_ref();
    #[cfg(target_arch = "wasm32")]
    {
        let _ = (tensors, metadata);
        Err(crate::io::no_fs(path))
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let bytes = gguf_to_bytes(tensors, metadata)?;
        crate::io::write_atomic(path, |w| {
            use std::io::Write;
            w.write_all(&bytes).map_err(|e| crate::io::io_err(path, e))
        })
    }
}

/// The bytes of a GGUF v3 file (see [`save_gguf`]).
pub fn gguf_to_bytes(
    tensors: &[(&str, GgufTensor)],
    metadata: &BTreeMap<String, GgufValue>,
) -> Result<Vec<u8>> {
    check_unique_names("save_gguf", tensors.iter().map(|(n, _)| *n))?;
    let alignment = match metadata.get("general.alignment") {
        None => DEFAULT_ALIGNMENT,
        Some(v) => v
            .as_u64()
            .filter(|a| a.is_power_of_two())
            .ok_or_else(|| Error::arg("save_gguf", "general.alignment must be a power of two"))?,
    } as usize;
    let mut out = Vec::new();
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&3u32.to_le_bytes());
    out.extend_from_slice(&(tensors.len() as u64).to_le_bytes());
    out.extend_from_slice(&(metadata.len() as u64).to_le_bytes());
    for (k, v) in metadata {
        put_str(&mut out, k);
        out.extend_from_slice(&v.type_id().to_le_bytes());
        put_value(&mut out, v)?;
    }
    let mut datas = Vec::with_capacity(tensors.len());
    let mut offset = 0usize;
    for (name, t) in tensors {
        let (ty, data, shape) = tensor_bytes(name, t)?;
        put_str(&mut out, name);
        out.extend_from_slice(&(shape.len() as u32).to_le_bytes());
        for &d in shape.iter().rev() {
            out.extend_from_slice(&(d as u64).to_le_bytes());
        }
        out.extend_from_slice(&ty.id().to_le_bytes());
        out.extend_from_slice(&(offset as u64).to_le_bytes());
        offset = (offset + data.len()).div_ceil(alignment) * alignment;
        datas.push(data);
    }
    out.resize(out.len().div_ceil(alignment) * alignment, 0);
    for d in datas {
        out.extend_from_slice(&d);
        out.resize(out.len().div_ceil(alignment) * alignment, 0);
    }
    Ok(out)
}

fn tensor_bytes(name: &str, t: &GgufTensor) -> Result<(GgmlType, Vec<u8>, Vec<usize>)> {
    let (a, quant) = match *t {
        GgufTensor::Plain(a) => (a, None),
        GgufTensor::Quantized(a, ty) => (a, Some(ty)),
        GgufTensor::Blocks { ty, bytes, shape } => return raw_blocks(name, ty, bytes, shape),
    };
    let shape = a.shape().to_vec();
    if shape.is_empty() || shape.len() > MAX_DIMS as usize {
        return Err(Error::shape(
            "save_gguf",
            format!(
                "tensor {name:?}: GGUF holds 1 to {MAX_DIMS} dimensions, not {}",
                shape.len()
            ),
        ));
    }
    match quant {
        None => {
            let ty = match a.dtype() {
                Dtype::Float32 => GgmlType::F32,
                Dtype::Float16 => GgmlType::F16,
                Dtype::Bfloat16 => GgmlType::BF16,
                Dtype::Float64 => GgmlType::F64,
                Dtype::Int8 => GgmlType::I8,
                Dtype::Int16 => GgmlType::I16,
                Dtype::Int32 => GgmlType::I32,
                Dtype::Int64 => GgmlType::I64,
                d => {
                    return Err(Error::dtype(
                        "save_gguf",
                        d,
                        format!("tensor {name:?}: GGUF has no {d} type"),
                    ))
                }
            };
            Ok((ty, le_bytes(a)?.as_slice().to_vec(), shape))
        }
        Some(ty @ (GgmlType::Q4_0 | GgmlType::Q4_1 | GgmlType::Q8_0)) => {
            if shape[shape.len() - 1] % 32 != 0 {
                return Err(Error::shape(
                    "save_gguf",
                    format!(
                        "tensor {name:?}: the last axis of {shape:?} is not a multiple of 32 ({})",
                        ty.name()
                    ),
                ));
            }
            let x = crate::ops::astype(a, Dtype::Float32)?.to_vec::<f32>()?;
            let mut data = Vec::new();
            blocks::quantize_blocks(ty, &x, &mut data);
            Ok((ty, data, shape))
        }
        Some(ty) => Err(Error::arg(
            "save_gguf",
            format!(
                "tensor {name:?}: writing {} is not supported (Q4_0, Q4_1, Q8_0 are)",
                ty.name()
            ),
        )),
    }
}

/// Checks pre-quantized blocks against their shape and passes them through.
fn raw_blocks(
    name: &str,
    ty: GgmlType,
    bytes: &[u8],
    shape: &[usize],
) -> Result<(GgmlType, Vec<u8>, Vec<usize>)> {
    let bad = |why: String| Err(Error::shape("save_gguf", format!("tensor {name:?}: {why}")));
    if !ty.is_quantized() {
        return bad(format!("{} is not a block type", ty.name()));
    }
    if shape.is_empty() || shape.len() > MAX_DIMS as usize {
        return bad(format!(
            "GGUF holds 1 to {MAX_DIMS} dimensions, not {}",
            shape.len()
        ));
    }
    let elems: usize = shape.iter().product();
    if shape[shape.len() - 1] % ty.block_elems() != 0 {
        return bad(format!(
            "the last axis of {shape:?} is not a multiple of {}'s {} values",
            ty.name(),
            ty.block_elems()
        ));
    }
    let want = elems / ty.block_elems() * ty.block_bytes();
    if bytes.len() != want {
        return bad(format!(
            "{} bytes of {} blocks for {shape:?}, expected {want}",
            bytes.len(),
            ty.name()
        ));
    }
    Ok((ty, bytes.to_vec(), shape.to_vec()))
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(&(s.len() as u64).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

fn put_value(out: &mut Vec<u8>, v: &GgufValue) -> Result<()> {
    use GgufValue::*;
    match v {
        U8(x) => out.push(*x),
        I8(x) => out.push(*x as u8),
        U16(x) => out.extend_from_slice(&x.to_le_bytes()),
        I16(x) => out.extend_from_slice(&x.to_le_bytes()),
        U32(x) => out.extend_from_slice(&x.to_le_bytes()),
        I32(x) => out.extend_from_slice(&x.to_le_bytes()),
        U64(x) => out.extend_from_slice(&x.to_le_bytes()),
        I64(x) => out.extend_from_slice(&x.to_le_bytes()),
        F32(x) => out.extend_from_slice(&x.to_le_bytes()),
        F64(x) => out.extend_from_slice(&x.to_le_bytes()),
        Bool(x) => out.push(*x as u8),
        String(s) => put_str(out, s),
        Array(items) => {
            let et = items.first().map_or(8, |i| i.type_id());
            if items.iter().any(|i| i.type_id() != et) {
                return Err(Error::arg(
                    "save_gguf",
                    "a metadata array mixes value types",
                ));
            }
            out.extend_from_slice(&et.to_le_bytes());
            out.extend_from_slice(&(items.len() as u64).to_le_bytes());
            for i in items {
                put_value(out, i)?;
            }
        }
    }
    Ok(())
}
