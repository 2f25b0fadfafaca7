//! NumPy `.npy` files: the header (a Python dict literal, parsed by hand), the dtype strings, and
//! reading (format versions 1.0, 2.0 and 3.0; little- or big-endian; C or Fortran order) and
//! writing (version 1.0, or 2.0 when the header does not fit; little-endian; C order).

use super::{le_bytes, normalize_bools, swap_bytes, LeBytes, Src, MEMORY};
use crate::buffer::{Buffer, Data, HostMem};
use crate::layout::row_major_strides;
use crate::{Array, Dtype, Error, Result, Stream};
use std::io::Read;
use std::path::Path;

const MAGIC: &[u8; 6] = b"\x93NUMPY";
/// NumPy pads the preamble + header to a multiple of this, so the data is aligned.
const ALIGN: usize = 64;
/// Deepest nesting of tuples/lists/dicts accepted in a header.
const MAX_DEPTH: usize = 16;

/// Saves `a` as a `.npy` file (version 1.0, little-endian, C order) at exactly `path` (no
/// extension is added). Any view is written in row-major order. `bfloat16` has no NumPy dtype
/// and is refused with [`Error::Dtype`], as MLX does: cast it first or use safetensors.
pub fn save(path: impl AsRef<Path>, a: &Array) -> Result<()> {
    let path = path.as_ref();
    #[cfg(target_arch = "wasm32")]
    {
        let _ = a;
        Err(super::no_fs(path))
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        use std::io::Write;
        let (header, data) = encode(a)?;
        super::write_atomic(path, |w| {
            w.write_all(&header)
                .and_then(|_| w.write_all(data.as_slice()))
                .map_err(|e| super::io_err(path, e))
        })
    }
}

/// Loads a `.npy` file. Fortran-order files load as a column-major view (the values are
/// correct; the layout is transposed); big-endian files are byte-swapped. Malformed files are
/// [`Error::Format`] with `format: "npy"`.
pub fn load(path: impl AsRef<Path>) -> Result<Array> {
    let path = path.as_ref();
    #[cfg(target_arch = "wasm32")]
    {
        Err(super::no_fs(path))
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let file = std::fs::File::open(path).map_err(|e| super::io_err(path, e))?;
        let len = file.metadata().map_err(|e| super::io_err(path, e))?.len();
        let mut r = std::io::BufReader::new(file);
        read_npy(&mut r, &Src::of_path("npy", path), Some(len))
    }
}

/// The bytes of a `.npy` file holding `a` (what [`save`] writes).
pub fn npy_to_bytes(a: &Array) -> Result<Vec<u8>> {
    let (mut out, data) = encode(a)?;
    out.extend_from_slice(data.as_slice());
    Ok(out)
}

/// Parses the bytes of a `.npy` file (what [`load`] reads). Errors name the path `<bytes>`.
pub fn npy_from_bytes(bytes: &[u8]) -> Result<Array> {
    read_npy(
        &mut &bytes[..],
        &Src::new("npy", MEMORY),
        Some(bytes.len() as u64),
    )
}

/// The preamble + header and the data of `a` as a `.npy` file.
pub(crate) fn encode(a: &Array) -> Result<(Vec<u8>, LeBytes)> {
    let header = header_bytes(a.dtype(), a.shape())?;
    Ok((header, le_bytes(a)?))
}

/// NumPy's `descr` of a dtype (bfloat16 has none).
fn descr(dtype: Dtype) -> Result<&'static str> {
    use Dtype::*;
    Ok(match dtype {
        Bool => "|b1",
        Uint8 => "|u1",
        Uint16 => "<u2",
        Uint32 => "<u4",
        Uint64 => "<u8",
        Int8 => "|i1",
        Int16 => "<i2",
        Int32 => "<i4",
        Int64 => "<i8",
        Float16 => "<f2",
        Float32 => "<f4",
        Float64 => "<f8",
        Bfloat16 => {
            return Err(Error::dtype(
                "save npy",
                dtype,
                "bfloat16 has no NumPy .npy representation; cast to float32 or float16 first, or use safetensors",
            ))
        }
    })
}

/// Python's repr of a shape tuple: `()`, `(5,)`, `(2, 3)`.
fn shape_repr(shape: &[usize]) -> String {
    match shape {
        [] => "()".into(),
        [n] => format!("({n},)"),
        _ => format!(
            "({})",
            shape
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Magic, version, header length and the padded header dict of a C-order little-endian file.
pub(crate) fn header_bytes(dtype: Dtype, shape: &[usize]) -> Result<Vec<u8>> {
    let dict = format!(
        "{{'descr': '{}', 'fortran_order': False, 'shape': {}, }}",
        descr(dtype)?,
        shape_repr(shape)
    );
    let padded = |prefix: usize| (prefix + dict.len() + 1).next_multiple_of(ALIGN) - prefix;
    let (version, hlen) = match padded(10) {
        h if h <= u16::MAX as usize => (1u8, h),
        _ => (2u8, padded(12)),
    };
    let mut out = Vec::with_capacity(12 + hlen);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[version, 0]);
    if version == 1 {
        out.extend_from_slice(&(hlen as u16).to_le_bytes());
    } else {
        let h = u32::try_from(hlen)
            .map_err(|_| Error::arg("save npy", "the .npy header would exceed 4 GiB"))?;
        out.extend_from_slice(&h.to_le_bytes());
    }
    out.extend_from_slice(dict.as_bytes());
    out.resize(out.len() + hlen - dict.len() - 1, b' ');
    out.push(b'\n');
    Ok(out)
}

/// What a `.npy` header says.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Header {
    pub(crate) dtype: Dtype,
    /// The data's byte order differs from the host's.
    pub(crate) swap: bool,
    pub(crate) fortran: bool,
    pub(crate) shape: Vec<usize>,
    /// `numel(shape) * dtype.size()`, checked for overflow.
    pub(crate) nbytes: usize,
}

/// Reads as much of `buf` as the reader holds; returns how many bytes were read.
fn read_up_to<R: Read>(r: &mut R, buf: &mut [u8], src: &Src) -> Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(src.io(e)),
        }
    }
    Ok(n)
}

/// Reads at most `limit` bytes, growing the buffer only as bytes arrive (never by a size taken
/// from a header).
fn read_limited<R: Read>(r: &mut R, limit: u64, src: &Src) -> Result<Vec<u8>> {
    let mut v = Vec::new();
    r.take(limit).read_to_end(&mut v).map_err(|e| src.io(e))?;
    Ok(v)
}

/// Reads one `.npy` stream. `avail` is the total length of the stream when known (a file or a
/// byte slice); then the data size is checked against it before allocating.
pub(crate) fn read_npy<R: Read>(r: &mut R, src: &Src, avail: Option<u64>) -> Result<Array> {
    let mut pre = [0u8; 12];
    let mut got = read_up_to(r, &mut pre[..10], src)?;
    let magic_len = got.min(MAGIC.len());
    if pre[..magic_len] != MAGIC[..magic_len] {
        return Err(src.err("not a .npy file: bad magic string (expected \\x93NUMPY)"));
    }
    if got < 8 {
        return Err(src.err(format!(
            "truncated: {got} bytes is too short for the magic string and version"
        )));
    }
    let (major, minor) = (pre[6], pre[7]);
    let len_size = match (major, minor) {
        (1, 0) => 2,
        (2, 0) | (3, 0) => 4,
        _ => {
            return Err(src.err(format!(
                "unsupported .npy format version {major}.{minor} (1.0, 2.0 and 3.0 are supported)"
            )))
        }
    };
    if len_size == 4 && got == 10 {
        got += read_up_to(r, &mut pre[10..12], src)?;
    }
    let hstart = 8 + len_size;
    if got < hstart {
        return Err(src.err("truncated: the file ends inside the header length field"));
    }
    let hlen = if len_size == 2 {
        u16::from_le_bytes([pre[8], pre[9]]) as u64
    } else {
        u32::from_le_bytes([pre[8], pre[9], pre[10], pre[11]]) as u64
    };
    if let Some(av) = avail {
        if hstart as u64 + hlen > av {
            return Err(src.err(format!(
                "truncated header: the header length {hlen} runs past the end of the file ({av} bytes)"
            )));
        }
    }
    let hbuf = read_limited(r, hlen, src)?;
    if (hbuf.len() as u64) < hlen {
        return Err(src.err(format!(
            "truncated header: {hlen} bytes announced, {} present",
            hbuf.len()
        )));
    }
    let text: String = if major == 3 {
        String::from_utf8(hbuf).map_err(|_| src.err("the version 3.0 header is not valid UTF-8"))?
    } else {
        hbuf.iter().map(|&b| b as char).collect() // latin-1
    };
    let header = parse_header(&text).map_err(|d| src.err(format!("invalid header: {d}")))?;
    let nbytes = header.nbytes;
    let too_short = |present: u64| {
        src.err(format!(
            "truncated data: shape {} of {} needs {nbytes} bytes but only {present} are present",
            shape_repr(&header.shape),
            header.dtype
        ))
    };
    let mem = match avail {
        Some(av) => {
            let present = av - hstart as u64 - hlen;
            if present < nbytes as u64 {
                return Err(too_short(present));
            }
            let mut mem = HostMem::zeroed(nbytes)?;
            let buf = mem
                .bytes_mut()
                .ok_or_else(|| src.err("internal: fresh memory is not writable"))?;
            let n = read_up_to(r, buf, src)?;
            if n < nbytes {
                return Err(too_short(n as u64));
            }
            mem
        }
        None => {
            let v = read_limited(r, nbytes as u64, src)?;
            if v.len() < nbytes {
                return Err(too_short(v.len() as u64));
            }
            HostMem::from_bytes(&v)?
        }
    };
    Ok(build_array(header, mem))
}

/// Fixes byte order and bool bytes, then wraps the memory (as a column-major view for Fortran
/// order).
fn build_array(h: Header, mut mem: HostMem) -> Array {
    if let Some(bytes) = mem.bytes_mut() {
        if h.swap {
            swap_bytes(bytes, h.dtype.size());
        }
        if h.dtype == Dtype::Bool {
            normalize_bools(bytes);
        }
    }
    let n = h.nbytes / h.dtype.size();
    let strides = if h.fortran {
        let rev: Vec<usize> = h.shape.iter().rev().copied().collect();
        let mut s = row_major_strides(&rev);
        s.reverse();
        s
    } else {
        row_major_strides(&h.shape)
    };
    let buffer = Buffer::from_host(h.dtype, n, mem);
    Array::from_data(
        Data {
            buffer,
            shape: h.shape,
            strides,
            offset: 0,
        },
        Stream::default_stream(),
    )
}

/// A Python literal as it appears in a `.npy` header.
#[derive(Debug, Clone, PartialEq)]
enum Py {
    Str(String),
    Bool(bool),
    None,
    /// An integer's digits with an optional sign.
    Int(String),
    Tuple(Vec<Py>),
    List(Vec<Py>),
    Dict(Vec<(Py, Py)>),
}

struct Parser {
    c: Vec<char>,
    i: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.c.get(self.i).copied()
    }
    fn ws(&mut self) {
        while matches!(self.peek(), Some(' ' | '\t' | '\n' | '\r')) {
            self.i += 1;
        }
    }
    fn eat(&mut self, ch: char) -> bool {
        self.ws();
        if self.peek() == Some(ch) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn err<T>(&self, what: &str) -> std::result::Result<T, String> {
        match self.peek() {
            Some(c) => Err(format!("{what} at character {} (found {c:?})", self.i)),
            None => Err(format!("{what} at character {} (end of header)", self.i)),
        }
    }
    fn value(&mut self, depth: usize) -> std::result::Result<Py, String> {
        if depth > MAX_DEPTH {
            return Err(format!("nesting deeper than {MAX_DEPTH} levels"));
        }
        self.ws();
        match self.peek() {
            Some('{') => {
                self.i += 1;
                let mut items = Vec::new();
                loop {
                    if self.eat('}') {
                        return Ok(Py::Dict(items));
                    }
                    let k = self.value(depth + 1)?;
                    if !self.eat(':') {
                        return self.err("expected ':'");
                    }
                    items.push((k, self.value(depth + 1)?));
                    if !self.eat(',') && !matches!(self.peek(), Some('}')) {
                        return self.err("expected ',' or '}'");
                    }
                }
            }
            Some(open @ ('(' | '[')) => {
                self.i += 1;
                let close = if open == '(' { ')' } else { ']' };
                let (mut items, mut comma) = (Vec::new(), false);
                loop {
                    if self.eat(close) {
                        break;
                    }
                    items.push(self.value(depth + 1)?);
                    if self.eat(',') {
                        comma = true;
                    } else if !matches!(self.peek(), Some(c) if c == close) {
                        return self.err(&format!("expected ',' or '{close}'"));
                    }
                }
                Ok(match open {
                    '[' => Py::List(items),
                    // `(x)` is just `x` in Python; only a comma makes a 1-tuple.
                    _ if items.len() == 1 && !comma => items.pop().unwrap_or(Py::None),
                    _ => Py::Tuple(items),
                })
            }
            Some(q @ ('\'' | '"')) => {
                self.i += 1;
                let mut s = String::new();
                loop {
                    match self.peek() {
                        None => return self.err("unterminated string"),
                        Some(c) if c == q => {
                            self.i += 1;
                            return Ok(Py::Str(s));
                        }
                        Some('\\') => {
                            self.i += 1;
                            let Some(e) = self.peek() else {
                                return self.err("unterminated string");
                            };
                            s.push(match e {
                                'n' => '\n',
                                't' => '\t',
                                other => other,
                            });
                            self.i += 1;
                        }
                        Some(c) => {
                            s.push(c);
                            self.i += 1;
                        }
                    }
                }
            }
            Some(c) if c.is_ascii_digit() || c == '-' || c == '+' => {
                let start = self.i;
                self.i += 1;
                while matches!(self.peek(), Some(c) if c.is_ascii_digit()) {
                    self.i += 1;
                }
                let text: String = self.c[start..self.i].iter().collect();
                if !text.ends_with(|c: char| c.is_ascii_digit()) {
                    return self.err("invalid integer");
                }
                if matches!(self.peek(), Some('L' | 'l')) {
                    self.i += 1; // Python 2 long suffix
                }
                Ok(Py::Int(text))
            }
            Some(c) if c.is_ascii_alphabetic() => {
                let start = self.i;
                while matches!(self.peek(), Some(c) if c.is_ascii_alphanumeric() || c == '_') {
                    self.i += 1;
                }
                let word: String = self.c[start..self.i].iter().collect();
                match word.as_str() {
                    "True" => Ok(Py::Bool(true)),
                    "False" => Ok(Py::Bool(false)),
                    "None" => Ok(Py::None),
                    _ => Err(format!("unexpected name {word:?} at character {start}")),
                }
            }
            _ => self.err("expected a value"),
        }
    }
}

/// Parses a `.npy` header dict such as `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }`
/// (whitespace, quotes and trailing commas may vary; unknown keys are ignored).
pub(crate) fn parse_header(text: &str) -> std::result::Result<Header, String> {
    let mut p = Parser {
        c: text.chars().collect(),
        i: 0,
    };
    let v = p.value(0)?;
    p.ws();
    if p.i != p.c.len() {
        return p.err("unexpected text after the header dict");
    }
    let Py::Dict(items) = v else {
        return Err(format!("expected a dict, found {v:?}"));
    };
    let (mut descr, mut fortran, mut shape) = (None, None, None);
    for (k, v) in items {
        let Py::Str(k) = k else {
            return Err(format!("dict key {k:?} is not a string"));
        };
        let slot = match k.as_str() {
            "descr" => &mut descr,
            "fortran_order" => &mut fortran,
            "shape" => &mut shape,
            _ => continue,
        };
        if slot.replace(v).is_some() {
            return Err(format!("key '{k}' appears twice"));
        }
    }
    let (dtype, swap) = match descr.ok_or("missing key 'descr'")? {
        Py::Str(d) => parse_descr(&d)?,
        Py::List(_) => return Err("structured (record) dtypes are not supported".into()),
        other => return Err(format!("'descr' must be a string, found {other:?}")),
    };
    let fortran = match fortran.ok_or("missing key 'fortran_order'")? {
        Py::Bool(b) => b,
        other => {
            return Err(format!(
                "'fortran_order' must be True or False, found {other:?}"
            ))
        }
    };
    let dims = match shape.ok_or("missing key 'shape'")? {
        Py::Tuple(d) | Py::List(d) => d,
        other => {
            return Err(format!(
                "'shape' must be a tuple of integers, found {other:?}"
            ))
        }
    };
    let mut shape = Vec::with_capacity(dims.len());
    for d in dims {
        let Py::Int(s) = d else {
            return Err(format!("'shape' must hold integers, found {d:?}"));
        };
        if s.starts_with('-') && s != "-0" {
            return Err(format!("negative dimension {s} in 'shape'"));
        }
        let n = s
            .trim_start_matches(['+', '-'])
            .parse::<usize>()
            .map_err(|_| format!("dimension {s} is too large"))?;
        shape.push(n);
    }
    let nbytes = shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .and_then(|n| n.checked_mul(dtype.size()))
        .ok_or_else(|| {
            format!(
                "shape {} of {dtype} holds more bytes than can be addressed",
                shape_repr(&shape)
            )
        })?;
    Ok(Header {
        dtype,
        swap,
        fortran,
        shape,
        nbytes,
    })
}

/// Maps a NumPy dtype string (`'<f4'`, `'|b1'`, `'>i8'`, ...) to a dtype and whether the data
/// needs byte-swapping on this host.
fn parse_descr(d: &str) -> std::result::Result<(Dtype, bool), String> {
    use Dtype::*;
    let (order, code) = match d.chars().next() {
        Some(c @ ('<' | '>' | '|' | '=')) => (c, &d[1..]),
        _ => ('=', d),
    };
    let dtype = match code {
        "b1" | "?" => Bool,
        "u1" => Uint8,
        "u2" => Uint16,
        "u4" => Uint32,
        "u8" => Uint64,
        "i1" => Int8,
        "i2" => Int16,
        "i4" => Int32,
        "i8" => Int64,
        "f2" => Float16,
        "f4" => Float32,
        "f8" => Float64,
        _ => {
            let why = match code.chars().next() {
                Some('c') => " (complex dtypes are not supported)",
                Some('V') => {
                    " (void/structured dtypes, such as ml_dtypes' bfloat16, are not supported)"
                }
                Some('O') => " (object arrays need pickle and are not supported)",
                Some('U' | 'S' | 'a') => " (string dtypes are not supported)",
                Some('M' | 'm') => " (datetime dtypes are not supported)",
                _ => "",
            };
            return Err(format!(
                "unsupported dtype {d:?}{why}; supported: b1, i1, i2, i4, i8, u1, u2, u4, u8, f2, f4, f8"
            ));
        }
    };
    let big = match order {
        '>' => true,
        '<' => false,
        _ => cfg!(target_endian = "big"),
    };
    Ok((
        dtype,
        dtype.size() > 1 && big != cfg!(target_endian = "big"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dtype::ALL_DTYPES;

    fn hdr(s: &str) -> Header {
        parse_header(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    #[test]
    fn parses_header_variants() {
        let h = hdr("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }          \n");
        assert_eq!(
            (h.dtype, h.swap, h.fortran, h.shape.clone(), h.nbytes),
            (Dtype::Float32, false, false, vec![2, 3], 24)
        );
        let h = hdr("{\"shape\":(5,),\"fortran_order\":True,\"descr\":\"|b1\"}");
        assert_eq!(
            (h.dtype, h.fortran, h.shape.clone()),
            (Dtype::Bool, true, vec![5])
        );
        let h = hdr("{ 'descr' : '>i8' ,\n\t'fortran_order' : False , 'shape' : ( ) , }");
        assert_eq!((h.dtype, h.swap, h.shape.len()), (Dtype::Int64, true, 0));
        let h = hdr("{'descr': '<u2', 'fortran_order': False, 'shape': (2L, 3L, 0L)}");
        assert_eq!((h.shape.clone(), h.nbytes), (vec![2, 3, 0], 0));
        let h = hdr(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (4 , ) , 'extra': [1, {'x': None}]}",
        );
        assert_eq!(h.shape, vec![4]);
        assert_eq!(
            hdr("{'descr': 'f2', 'fortran_order': False, 'shape': (1,)}").dtype,
            Dtype::Float16
        );
    }

    #[test]
    fn rejects_bad_headers() {
        let cases = [
            ("", "expected a value"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (5)}", "must be a tuple"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}", "negative"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999,)}", "too large"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296, 4294967296)}", "more bytes"),
            ("{'descr': '<c8', 'fortran_order': False, 'shape': ()}", "complex"),
            ("{'descr': '<V2', 'fortran_order': False, 'shape': ()}", "unsupported dtype"),
            ("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': ()}", "structured"),
            ("{'descr': '<f4', 'shape': ()}", "fortran_order"),
            ("{'descr': '<f4', 'fortran_order': 0, 'shape': ()}", "True or False"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': ()} x", "after the header"),
            ("{'descr': '<f4, 'fortran_order': False, 'shape': ()}", "expected"),
            ("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': ()}", "twice"),
            ("{'descr': '<f4' 'fortran_order': False, 'shape': ()}", "expected ','"),
            ("{'descr': '<f4', 'fortran_order': Maybe, 'shape': ()}", "Maybe"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (1,,)}", "expected a value"),
            ("['descr']", "expected a dict"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': ('a',)}", "integers"),
            ("{'descr': '<f4', 'fortran_order': False, 'shape': (-,)}", "invalid integer"),
        ];
        for (text, want) in cases {
            let e = parse_header(text).expect_err(text);
            assert!(e.contains(want), "{text:?}: {e:?} should mention {want:?}");
        }
        let deep = format!("{}{}", "(".repeat(5000), ")".repeat(5000));
        assert!(parse_header(&deep).unwrap_err().contains("nesting"));
    }

    #[test]
    fn header_is_aligned_and_parsable() {
        for shape in [vec![], vec![5], vec![2, 3, 4]] {
            let h = header_bytes(Dtype::Float32, &shape).unwrap();
            assert_eq!(h.len() % ALIGN, 0);
            assert_eq!(&h[..8], b"\x93NUMPY\x01\x00");
            assert_eq!(*h.last().unwrap(), b'\n');
            let text = std::str::from_utf8(&h[10..]).unwrap();
            assert_eq!(hdr(text).shape, shape);
        }
        let big: Vec<usize> = vec![1; 30000];
        let h = header_bytes(Dtype::Uint8, &big).unwrap();
        assert_eq!((h[6], h.len() % ALIGN), (2, 0));
        assert_eq!(
            npy_from_bytes(&{
                let mut v = h;
                v.push(7);
                v
            })
            .unwrap()
            .shape(),
            &big[..]
        );
    }

    #[test]
    fn round_trips_every_dtype_but_bf16() {
        for dt in ALL_DTYPES {
            let vals: Vec<f64> = (0..6)
                .map(|i| {
                    if dt == Dtype::Bool {
                        (i % 2) as f64
                    } else {
                        i as f64 * 1.5
                    }
                })
                .collect();
            let a = Array::from_bytes(&crate::dtype_dispatch::f64_to_bytes(&vals, dt), &[2, 3], dt)
                .unwrap();
            if dt == Dtype::Bfloat16 {
                assert!(matches!(npy_to_bytes(&a), Err(Error::Dtype { .. })));
                continue;
            }
            let b = npy_from_bytes(&npy_to_bytes(&a).unwrap()).unwrap();
            assert_eq!((b.dtype(), b.shape()), (dt, &[2usize, 3][..]));
            assert_eq!(b.to_f64_vec().unwrap(), a.to_f64_vec().unwrap(), "{dt}");
            let t = npy_from_bytes(&npy_to_bytes(&a.transpose(None).unwrap()).unwrap()).unwrap();
            assert_eq!(
                t.to_f64_vec().unwrap(),
                a.transpose(None).unwrap().to_f64_vec().unwrap(),
                "{dt}"
            );
        }
        let s = npy_from_bytes(&npy_to_bytes(&Array::from_scalar(2.5f64)).unwrap()).unwrap();
        assert_eq!((s.ndim(), s.item::<f64>().unwrap()), (0, 2.5));
        let e = npy_from_bytes(
            &npy_to_bytes(&Array::from_bytes(&[], &[3, 0], Dtype::Int16).unwrap()).unwrap(),
        )
        .unwrap();
        assert_eq!((e.shape(), e.size()), (&[3usize, 0][..], 0));
    }

    fn file(header: &str, version: u8, data: &[u8]) -> Vec<u8> {
        let mut v = MAGIC.to_vec();
        v.extend_from_slice(&[version, 0]);
        if version == 1 {
            v.extend_from_slice(&(header.len() as u16).to_le_bytes());
        } else {
            v.extend_from_slice(&(header.len() as u32).to_le_bytes());
        }
        v.extend_from_slice(header.as_bytes());
        v.extend_from_slice(data);
        v
    }

    fn format_err(bytes: &[u8]) -> String {
        match npy_from_bytes(bytes) {
            Err(Error::Format {
                format: "npy",
                path,
                detail,
            }) => {
                assert_eq!(path, MEMORY);
                detail
            }
            Err(other) => panic!("expected a format error, got {other:?}"),
            Ok(a) => panic!("expected an error, got an array of shape {:?}", a.shape()),
        }
    }

    #[test]
    fn reads_big_endian_fortran_and_versions() {
        let data: Vec<u8> = [1i32, 2, 3, 4, 5, 6]
            .iter()
            .flat_map(|v| v.to_be_bytes())
            .collect();
        let a = npy_from_bytes(&file(
            "{'descr': '>i4', 'fortran_order': False, 'shape': (2, 3), }\n",
            1,
            &data,
        ))
        .unwrap();
        assert_eq!(a.to_vec::<i32>().unwrap(), [1, 2, 3, 4, 5, 6]);
        // Column-major storage of [[1, 2, 3], [4, 5, 6]].
        let data: Vec<u8> = [1f32, 4., 2., 5., 3., 6.]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let f = npy_from_bytes(&file(
            "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }\n",
            2,
            &data,
        ))
        .unwrap();
        assert_eq!(f.to_vec::<f32>().unwrap(), [1., 2., 3., 4., 5., 6.]);
        let h = "{'descr': '|u1', 'fortran_order': False, 'shape': (3,), 'note': 'é'}\n";
        let u = npy_from_bytes(&file(h, 3, &[7, 8, 9, 10])).unwrap(); // trailing byte is fine
        assert_eq!(u.to_vec::<u8>().unwrap(), [7, 8, 9]);
        let b = npy_from_bytes(&file(
            "{'descr': '|b1', 'fortran_order': False, 'shape': (3,)}",
            1,
            &[0, 2, 255],
        ))
        .unwrap();
        assert_eq!(
            b.as_slice::<crate::dtype::Bool8>()
                .unwrap()
                .iter()
                .map(|b| b.0)
                .collect::<Vec<_>>(),
            [0, 1, 1]
        );
    }

    #[test]
    fn every_truncation_is_an_error() {
        let a = Array::from_slice(&[1.0f32, 2.0, 3.0], &[3]);
        let full = npy_to_bytes(&a).unwrap();
        for len in 0..full.len() {
            let detail = format_err(&full[..len]);
            assert!(detail.contains("truncated"), "length {len}: {detail}");
        }
        assert!(npy_from_bytes(&full).is_ok());
    }

    #[test]
    fn lying_and_corrupt_files_are_errors() {
        let a = Array::from_slice(&[1i16, 2, 3, 4], &[2, 2]);
        let good = npy_to_bytes(&a).unwrap();
        let mut bad = good.clone();
        bad[0] = b'x';
        assert!(format_err(&bad).contains("magic"));
        let mut bad = good.clone();
        bad[6] = 4;
        assert!(format_err(&bad).contains("version 4.0"));
        let mut bad = good.clone();
        bad[8..10].copy_from_slice(&u16::MAX.to_le_bytes());
        assert!(format_err(&bad).contains("runs past the end"));
        let mut bad = good.clone();
        bad[8..10].copy_from_slice(&20u16.to_le_bytes());
        assert!(format_err(&bad).contains("invalid header"));
        let lying = file(
            "{'descr': '<i2', 'fortran_order': False, 'shape': (1000, 1000), }",
            1,
            &[0; 8],
        );
        assert!(format_err(&lying).contains("needs 2000000 bytes but only 8"));
        let huge = file(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (1152921504606846976,), }",
            1,
            &[0; 8],
        );
        let d = format_err(&huge);
        assert!(d.contains("more bytes") || d.contains("only 8"), "{d}");
        let v2 = file(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }",
            2,
            &[0; 4],
        );
        let mut bad = v2.clone();
        bad[8..12].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(format_err(&bad).contains("runs past the end"));
        let mut bad = file(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }",
            3,
            &[0; 4],
        );
        bad[20] = 0xff; // invalid UTF-8 in a version 3.0 header
        assert!(format_err(&bad).contains("UTF-8"));
        assert!(format_err(&file(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",
            1,
            &[0; 4]
        ))
        .contains("truncated data"));
    }

    #[test]
    fn streamed_reads_check_sizes_without_trusting_them() {
        let lying = file(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (100000000000,), }",
            1,
            &[0; 16],
        );
        let e = read_npy(&mut &lying[..], &Src::new("npz", "x.npz"), None).unwrap_err();
        assert!(matches!(e, Error::Format { format: "npz", .. }), "{e:?}");
    }
}
