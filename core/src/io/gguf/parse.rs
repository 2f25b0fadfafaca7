//! The GGUF header parser: magic, version, metadata key/values and tensor infos, every length
//! and offset checked against the bytes present.

use super::blocks::GgmlType;
use crate::io::Src;
use crate::Result;
use std::collections::BTreeMap;

/// The file magic, "GGUF".
pub(super) const MAGIC: &[u8; 4] = b"GGUF";
/// The alignment of tensor data when `general.alignment` is absent.
pub(super) const DEFAULT_ALIGNMENT: u64 = 32;
/// ggml's maximum number of dimensions.
pub(super) const MAX_DIMS: u32 = 4;
/// Deepest nesting of metadata arrays accepted.
const MAX_DEPTH: usize = 8;

/// A metadata value.
#[derive(Debug, Clone, PartialEq)]
pub enum GgufValue {
    U8(u8),
    I8(i8),
    U16(u16),
    I16(i16),
    U32(u32),
    I32(i32),
    U64(u64),
    I64(i64),
    F32(f32),
    F64(f64),
    Bool(bool),
    String(String),
    Array(Vec<GgufValue>),
}

impl GgufValue {
    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            GgufValue::String(s) => Some(s),
            _ => None,
        }
    }
    /// The value as u64, if it is a non-negative integer.
    pub fn as_u64(&self) -> Option<u64> {
        use GgufValue::*;
        match *self {
            U8(v) => Some(v as u64),
            U16(v) => Some(v as u64),
            U32(v) => Some(v as u64),
            U64(v) => Some(v),
            I8(v) => u64::try_from(v).ok(),
            I16(v) => u64::try_from(v).ok(),
            I32(v) => u64::try_from(v).ok(),
            I64(v) => u64::try_from(v).ok(),
            _ => None,
        }
    }
    /// The value as i64, if it is an integer that fits.
    pub fn as_i64(&self) -> Option<i64> {
        use GgufValue::*;
        match *self {
            I8(v) => Some(v as i64),
            I16(v) => Some(v as i64),
            I32(v) => Some(v as i64),
            I64(v) => Some(v),
            _ => self.as_u64().and_then(|v| i64::try_from(v).ok()),
        }
    }
    /// The value as f64, if it is a number.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            GgufValue::F32(v) => Some(v as f64),
            GgufValue::F64(v) => Some(v),
            _ => self.as_i64().map(|v| v as f64),
        }
    }
    /// The boolean, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match *self {
            GgufValue::Bool(b) => Some(b),
            _ => None,
        }
    }
    /// The elements, if this is an array.
    pub fn as_array(&self) -> Option<&[GgufValue]> {
        match self {
            GgufValue::Array(v) => Some(v),
            _ => None,
        }
    }
    /// GGUF's type id of the value.
    pub(super) fn type_id(&self) -> u32 {
        use GgufValue::*;
        match self {
            U8(_) => 0,
            I8(_) => 1,
            U16(_) => 2,
            I16(_) => 3,
            U32(_) => 4,
            I32(_) => 5,
            F32(_) => 6,
            Bool(_) => 7,
            String(_) => 8,
            Array(_) => 9,
            U64(_) => 10,
            I64(_) => 11,
            F64(_) => 12,
        }
    }
}

/// One tensor's description in the header.
#[derive(Debug, Clone, PartialEq)]
pub struct GgufTensorInfo {
    /// The tensor's name.
    pub name: String,
    /// Dimensions in ggml's order (innermost first).
    pub dims: Vec<u64>,
    /// The element or block type.
    pub ggml_type: GgmlType,
    /// Offset of the data from the start of the data section.
    pub offset: u64,
    /// Number of elements.
    pub elements: usize,
    /// Bytes of data.
    pub nbytes: usize,
}

/// A parsed GGUF header.
#[derive(Debug, Clone, PartialEq)]
pub struct GgufFile {
    /// The format version (2 or 3).
    pub version: u32,
    /// The alignment of tensor data (`general.alignment`, 32 by default).
    pub alignment: u64,
    /// Metadata key/values.
    pub metadata: BTreeMap<String, GgufValue>,
    /// Tensor infos in file order.
    pub tensors: Vec<GgufTensorInfo>,
    /// Absolute offset of the data section.
    pub data_offset: usize,
}

/// Parses a GGUF header from the bytes of a whole file (for [`GgufFile`] fields without loading
/// any tensor).
pub fn gguf_from_bytes_info(bytes: &[u8]) -> Result<GgufFile> {
    parse(bytes, &Src::new("gguf", crate::io::MEMORY))
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    src: &'a Src,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: u64, what: &str) -> Result<&'a [u8]> {
        let left = (self.bytes.len() - self.pos) as u64;
        if n > left {
            return Err(self.src.err(format!(
                "truncated: {what} needs {n} bytes at offset {} but only {left} remain",
                self.pos
            )));
        }
        let s = &self.bytes[self.pos..self.pos + n as usize];
        self.pos += n as usize;
        Ok(s)
    }
    fn arr<const N: usize>(&mut self, what: &str) -> Result<[u8; N]> {
        Ok(self
            .take(N as u64, what)?
            .try_into()
            .expect("length checked"))
    }
    fn u32(&mut self, what: &str) -> Result<u32> {
        Ok(u32::from_le_bytes(self.arr(what)?))
    }
    fn u64(&mut self, what: &str) -> Result<u64> {
        Ok(u64::from_le_bytes(self.arr(what)?))
    }
    fn string(&mut self, what: &str) -> Result<String> {
        let n = self.u64(what)?;
        let b = self.take(n, what)?;
        String::from_utf8(b.to_vec())
            .map_err(|_| self.src.err(format!("{what} is not valid UTF-8")))
    }
    fn value(&mut self, ty: u32, key: &str, depth: usize) -> Result<GgufValue> {
        use GgufValue::*;
        Ok(match ty {
            0 => U8(self.arr::<1>(key)?[0]),
            1 => I8(self.arr::<1>(key)?[0] as i8),
            2 => U16(u16::from_le_bytes(self.arr(key)?)),
            3 => I16(i16::from_le_bytes(self.arr(key)?)),
            4 => U32(self.u32(key)?),
            5 => I32(self.u32(key)? as i32),
            6 => F32(f32::from_le_bytes(self.arr(key)?)),
            7 => match self.arr::<1>(key)?[0] {
                0 => Bool(false),
                1 => Bool(true),
                b => {
                    return Err(self.src.err(format!(
                        "metadata {key:?}: bool byte {b} is neither 0 nor 1"
                    )))
                }
            },
            8 => String(self.string(key)?),
            9 => {
                if depth >= MAX_DEPTH {
                    return Err(self.src.err(format!(
                        "metadata {key:?}: arrays nested deeper than {MAX_DEPTH}"
                    )));
                }
                let et = self.u32(key)?;
                let n = self.u64(key)?;
                // Every element takes at least one byte: a count beyond the bytes left is a lie.
                let left = (self.bytes.len() - self.pos) as u64;
                if n > left {
                    return Err(self.src.err(format!(
                        "metadata {key:?}: array of {n} elements cannot fit in the {left} bytes left"
                    )));
                }
                let mut v = Vec::with_capacity(n as usize);
                for _ in 0..n {
                    v.push(self.value(et, key, depth + 1)?);
                }
                Array(v)
            }
            10 => U64(self.u64(key)?),
            11 => I64(self.u64(key)? as i64),
            12 => F64(f64::from_le_bytes(self.arr(key)?)),
            t => {
                return Err(self
                    .src
                    .err(format!("metadata {key:?}: unknown value type {t}")))
            }
        })
    }
}

/// Parses and validates the header of a whole GGUF file.
pub(super) fn parse(bytes: &[u8], src: &Src) -> Result<GgufFile> {
    let mut r = Reader { bytes, pos: 0, src };
    let magic = r.arr::<4>("the magic")?;
    if &magic != MAGIC {
        return Err(src.err(format!("wrong magic {magic:?}: not a GGUF file")));
    }
    let version = r.u32("the version")?;
    if !(2..=3).contains(&version) {
        let why = if version.swap_bytes() <= 3 {
            " (a big-endian file?)"
        } else {
            ""
        };
        return Err(src.err(format!(
            "unsupported version {version}{why}: MLX-ARM reads versions 2 and 3"
        )));
    }
    let n_tensors = r.u64("the tensor count")?;
    let n_kv = r.u64("the metadata count")?;
    let left = (bytes.len() - r.pos) as u64;
    // A key/value takes at least 13 bytes, a tensor info at least 28.
    if n_kv > left / 13 || n_tensors > left / 28 {
        return Err(src.err(format!(
            "{n_kv} metadata entries and {n_tensors} tensors cannot fit in {left} bytes"
        )));
    }
    let mut metadata = BTreeMap::new();
    for _ in 0..n_kv {
        let key = r.string("a metadata key")?;
        let ty = r.u32(&key)?;
        let v = r.value(ty, &key, 0)?;
        if metadata.insert(key.clone(), v).is_some() {
            return Err(src.err(format!("metadata key {key:?} appears twice")));
        }
    }
    let alignment = match metadata.get("general.alignment") {
        None => DEFAULT_ALIGNMENT,
        Some(v) => match v.as_u64() {
            Some(a) if a > 0 && a.is_power_of_two() && a <= 1 << 20 => a,
            _ => {
                return Err(src.err(format!(
                    "general.alignment {v:?} is not a power of two up to 1 MiB"
                )))
            }
        },
    };
    let mut tensors = Vec::with_capacity(n_tensors as usize);
    let mut names = std::collections::HashSet::new();
    for _ in 0..n_tensors {
        let name = r.string("a tensor name")?;
        let n_dims = r.u32(&name)?;
        if n_dims == 0 || n_dims > MAX_DIMS {
            return Err(src.err(format!(
                "tensor {name:?}: {n_dims} dimensions (ggml allows 1 to {MAX_DIMS})"
            )));
        }
        let dims = (0..n_dims)
            .map(|_| r.u64(&name))
            .collect::<Result<Vec<u64>>>()?;
        let type_id = r.u32(&name)?;
        let ggml_type = GgmlType::from_id(type_id).ok_or_else(|| {
            src.err(format!(
                "tensor {name:?}: unknown or unsupported ggml type {type_id}"
            ))
        })?;
        let offset = r.u64(&name)?;
        let elements = dims
            .iter()
            .try_fold(1u64, |acc, &d| acc.checked_mul(d))
            .filter(|&e| e <= bytes.len() as u64 * 8)
            .ok_or_else(|| {
                src.err(format!(
                    "tensor {name:?}: dimensions {dims:?} are absurd for a file of {} bytes",
                    bytes.len()
                ))
            })?;
        let be = ggml_type.block_elems() as u64;
        if dims[0] % be != 0 {
            return Err(src.err(format!(
                "tensor {name:?}: the innermost dimension {} is not a multiple of the {} block size {be}",
                dims[0],
                ggml_type.name()
            )));
        }
        if offset % alignment != 0 {
            return Err(src.err(format!(
                "tensor {name:?}: offset {offset} is not a multiple of the alignment {alignment}"
            )));
        }
        let nbytes = elements / be * ggml_type.block_bytes() as u64;
        if !names.insert(name.clone()) {
            return Err(src.err(format!("tensor {name:?} appears twice")));
        }
        tensors.push(GgufTensorInfo {
            name,
            dims,
            ggml_type,
            offset,
            elements: elements as usize,
            nbytes: nbytes as usize,
        });
    }
    let data_offset = (r.pos as u64).div_ceil(alignment) * alignment;
    let data_len = (bytes.len() as u64).saturating_sub(data_offset);
    for t in &tensors {
        let end = t.offset.checked_add(t.nbytes as u64);
        if end.is_none_or(|e| e > data_len) {
            return Err(src.err(format!(
                "tensor {:?}: data at offset {} with {} bytes runs past the end of the file (data section {} bytes)",
                t.name, t.offset, t.nbytes, data_len
            )));
        }
    }
    Ok(GgufFile {
        version,
        alignment,
        metadata,
        tensors,
        data_offset: data_offset as usize,
    })
}
