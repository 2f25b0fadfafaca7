//! Creation ops: zeros, ones, full, *_like, arange, linspace, eye, identity, tri, tril, triu.
//! Constant arrays are zero-stride broadcasts of one scalar (no memory per element).

use super::elementwise::shape_i32;
use super::IntoArray;
use crate::array::to_shape;
use crate::primitive::Primitive;
use crate::{Array, Dtype, Error, Result, Stream};

/// A 0-d array of `value` converted to `dtype`.
pub(crate) fn scalar(value: f64, dtype: Dtype) -> Array {
    let bytes = crate::dtype_dispatch::f64_to_bytes(&[value], dtype);
    Array::from_bytes(&bytes, &[], dtype).expect("one element")
}

/// An array of `shape` filled with `value` (converted to `dtype`).
pub fn full_device(
    shape: &[i32],
    value: f64,
    dtype: Dtype,
    stream: impl Into<Stream>,
) -> Result<Array> {
    to_shape("full", shape)?;
    super::broadcast_to_device(&scalar(value, dtype), shape, stream)
}
/// [`full_device`] on the default stream.
pub fn full(shape: &[i32], value: f64, dtype: Dtype) -> Result<Array> {
    full_device(shape, value, dtype, Stream::default_stream())
}
/// Zeros of `shape` and `dtype`.
pub fn zeros_device(shape: &[i32], dtype: Dtype, stream: impl Into<Stream>) -> Result<Array> {
    full_device(shape, 0.0, dtype, stream)
}
/// Zeros on the default stream.
pub fn zeros(shape: &[i32], dtype: Dtype) -> Result<Array> {
    zeros_device(shape, dtype, Stream::default_stream())
}
/// Ones of `shape` and `dtype`.
pub fn ones_device(shape: &[i32], dtype: Dtype, stream: impl Into<Stream>) -> Result<Array> {
    full_device(shape, 1.0, dtype, stream)
}
/// Ones on the default stream.
pub fn ones(shape: &[i32], dtype: Dtype) -> Result<Array> {
    ones_device(shape, dtype, Stream::default_stream())
}
/// Zeros with `a`'s shape and dtype.
pub fn zeros_like(a: impl IntoArray) -> Result<Array> {
    let a = a.into_array();
    zeros(&shape_i32(a.shape()), a.dtype())
}
/// Ones with `a`'s shape and dtype.
pub fn ones_like(a: impl IntoArray) -> Result<Array> {
    let a = a.into_array();
    ones(&shape_i32(a.shape()), a.dtype())
}
/// `value` with `a`'s shape and dtype.
pub fn full_like(a: impl IntoArray, value: f64) -> Result<Array> {
    let a = a.into_array();
    full(&shape_i32(a.shape()), value, a.dtype())
}

/// `start, start + step, ...` up to (not including) `stop`, in `dtype`.
pub fn arange_device(
    start: f64,
    stop: f64,
    step: f64,
    dtype: Dtype,
    stream: impl Into<Stream>,
) -> Result<Array> {
    if step == 0.0 || !step.is_finite() || !start.is_finite() || !stop.is_finite() {
        return Err(Error::arg(
            "arange",
            format!("start {start}, stop {stop} and step {step} must be finite, step non-zero"),
        ));
    }
    if dtype == Dtype::Bool {
        return Err(Error::dtype(
            "arange",
            dtype,
            "arange is not defined for bool",
        ));
    }
    let n = ((stop - start) / step).ceil().max(0.0);
    if n > i32::MAX as f64 {
        return Err(Error::arg("arange", format!("{n} elements is too many")));
    }
    // MLX: integer aranges start at int(start) and step by int(start + step) - int(start)
    let (start, step) = if dtype.is_float() {
        (start, step)
    } else {
        (start.trunc(), (start + step).trunc() - start.trunc())
    };
    Ok(Array::from_op(
        vec![n as usize],
        dtype,
        stream.into(),
        Primitive::Arange {
            start_bits: start.to_bits(),
            step_bits: step.to_bits(),
        },
        vec![],
    ))
}
/// [`arange_device`] on the default stream.
pub fn arange(start: f64, stop: f64, step: f64, dtype: Dtype) -> Result<Array> {
    arange_device(start, stop, step, dtype, Stream::default_stream())
}

/// `num` evenly spaced values from `start` to `stop` inclusive.
pub fn linspace_device(
    start: f64,
    stop: f64,
    num: i32,
    dtype: Dtype,
    stream: impl Into<Stream>,
) -> Result<Array> {
    let s = stream.into();
    if num < 0 {
        return Err(Error::arg(
            "linspace",
            format!("num must be non-negative, got {num}"),
        ));
    }
    if !dtype.is_float() && !dtype.is_int() {
        return Err(Error::dtype(
            "linspace",
            dtype,
            "linspace needs a numeric dtype",
        ));
    }
    // MLX's formula: start * (1 - t) + stop * t with t = i / (num - 1), in float32 (float64
    // for a float64 result)
    let cdt = if dtype == Dtype::Float64 {
        Dtype::Float64
    } else {
        Dtype::Float32
    };
    let i = arange_device(0.0, num as f64, 1.0, cdt, s)?;
    let t = super::divide_device(i, scalar((num - 1).max(1) as f64, cdt), s)?;
    let t_bar = super::subtract_device(scalar(1.0, cdt), &t, s)?;
    let v = super::add_device(
        super::multiply_device(t_bar, scalar(start, cdt), s)?,
        super::multiply_device(t, scalar(stop, cdt), s)?,
        s,
    )?;
    super::astype_device(v, dtype, s)
}
/// [`linspace_device`] on the default stream.
pub fn linspace(start: f64, stop: f64, num: i32, dtype: Dtype) -> Result<Array> {
    linspace_device(start, stop, num, dtype, Stream::default_stream())
}

/// `rows[:, None] + k >= cols[None, :]` as bool, the pattern of tri/tril/triu/eye.
fn diagonal_mask(n: i32, m: i32, k: i32, eq: bool, s: Stream) -> Result<Array> {
    if n < 0 || m < 0 {
        return Err(Error::arg(
            "tri",
            format!("sizes must be non-negative, got {n} x {m}"),
        ));
    }
    let rows = super::reshape_device(
        arange_device(0.0, n as f64, 1.0, Dtype::Int32, s)?,
        &[n, 1],
        s,
    )?;
    let rows = super::add_device(rows, scalar(k as f64, Dtype::Int32), s)?;
    let cols = super::reshape_device(
        arange_device(0.0, m as f64, 1.0, Dtype::Int32, s)?,
        &[1, m],
        s,
    )?;
    if eq {
        super::equal_device(rows, cols, s)
    } else {
        super::greater_equal_device(rows, cols, s)
    }
}

/// An `n x m` matrix with ones on diagonal `k`.
pub fn eye_device(
    n: i32,
    m: Option<i32>,
    k: i32,
    dtype: Dtype,
    stream: impl Into<Stream>,
) -> Result<Array> {
    let s = stream.into();
    super::astype_device(diagonal_mask(n, m.unwrap_or(n), k, true, s)?, dtype, s)
}
/// [`eye_device`] on the default stream.
pub fn eye(n: i32, m: Option<i32>, k: i32, dtype: Dtype) -> Result<Array> {
    eye_device(n, m, k, dtype, Stream::default_stream())
}
/// The `n x n` identity.
pub fn identity(n: i32, dtype: Dtype) -> Result<Array> {
    eye(n, None, 0, dtype)
}
/// Ones at and below diagonal `k` of an `n x m` matrix.
pub fn tri_device(
    n: i32,
    m: Option<i32>,
    k: i32,
    dtype: Dtype,
    stream: impl Into<Stream>,
) -> Result<Array> {
    let s = stream.into();
    super::astype_device(diagonal_mask(n, m.unwrap_or(n), k, false, s)?, dtype, s)
}
/// [`tri_device`] on the default stream.
pub fn tri(n: i32, m: Option<i32>, k: i32, dtype: Dtype) -> Result<Array> {
    tri_device(n, m, k, dtype, Stream::default_stream())
}

fn tri_part(op: &'static str, x: Array, k: i32, lower: bool, s: Stream) -> Result<Array> {
    if x.ndim() < 2 {
        return Err(Error::shape(
            op,
            format!("needs at least 2 dimensions, got {:?}", x.shape()),
        ));
    }
    let n = x.shape()[x.ndim() - 2] as i32;
    let m = x.shape()[x.ndim() - 1] as i32;
    let zero = scalar(0.0, x.dtype());
    if lower {
        super::where_device(diagonal_mask(n, m, k, false, s)?, &x, zero, s)
    } else {
        super::where_device(diagonal_mask(n, m, k - 1, false, s)?, zero, &x, s)
    }
}
/// Zeroes the elements above diagonal `k` of the last two axes.
pub fn tril_device(x: impl IntoArray, k: i32, stream: impl Into<Stream>) -> Result<Array> {
    tri_part("tril", x.into_array(), k, true, stream.into())
}
/// [`tril_device`] on the default stream.
pub fn tril(x: impl IntoArray, k: i32) -> Result<Array> {
    tril_device(x, k, Stream::default_stream())
}
/// Zeroes the elements below diagonal `k` of the last two axes.
pub fn triu_device(x: impl IntoArray, k: i32, stream: impl Into<Stream>) -> Result<Array> {
    tri_part("triu", x.into_array(), k, false, stream.into())
}
/// [`triu_device`] on the default stream.
pub fn triu(x: impl IntoArray, k: i32) -> Result<Array> {
    triu_device(x, k, Stream::default_stream())
}
