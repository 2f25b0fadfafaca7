//! Sorting and selection: sort, argsort, partition, argpartition, topk. Sorts are stable and
//! ascending; NaNs sort last (as in NumPy and MLX).

use super::{axis_of, IntoArray};
use crate::primitive::Primitive;
use crate::{Array, Dtype, Error, Result, Stream};

fn prepare(op: &'static str, a: Array, axis: Option<i32>, s: Stream) -> Result<(Array, usize)> {
    match axis {
        Some(ax) => {
            let x = axis_of(op, ax, a.ndim())?;
            Ok((a, x))
        }
        None => Ok((super::reshape_device(&a, &[-1], s)?, 0)),
    }
}

/// Sorted copy along `axis` (`None`: of the flattened array).
pub fn sort_device(
    a: impl IntoArray,
    axis: Option<i32>,
    stream: impl Into<Stream>,
) -> Result<Array> {
    let s = stream.into();
    let (x, ax) = prepare("sort", a.into_array(), axis, s)?;
    Ok(Array::from_op(
        x.shape().to_vec(),
        x.dtype(),
        s,
        Primitive::Sort { axis: ax },
        vec![x],
    ))
}
/// [`sort_device`] on the default stream.
pub fn sort(a: impl IntoArray, axis: Option<i32>) -> Result<Array> {
    sort_device(a, axis, Stream::default_stream())
}
/// Indices (uint32) that sort along `axis` (`None`: of the flattened array).
pub fn argsort_device(
    a: impl IntoArray,
    axis: Option<i32>,
    stream: impl Into<Stream>,
) -> Result<Array> {
    let s = stream.into();
    let (x, ax) = prepare("argsort", a.into_array(), axis, s)?;
    Ok(Array::from_op(
        x.shape().to_vec(),
        Dtype::Uint32,
        s,
        Primitive::ArgSort { axis: ax },
        vec![x],
    ))
}
/// [`argsort_device`] on the default stream.
pub fn argsort(a: impl IntoArray, axis: Option<i32>) -> Result<Array> {
    argsort_device(a, axis, Stream::default_stream())
}

fn check_kth(op: &'static str, x: &Array, ax: usize, kth: i32) -> Result<()> {
    let n = x.shape()[ax] as i32;
    if kth < -n || kth >= n {
        return Err(Error::arg(
            op,
            format!("kth {kth} is out of range for an axis of size {n}"),
        ));
    }
    Ok(())
}

/// Partition around the `kth` element: it lands in sorted position, smaller ones before it,
/// larger after (this implementation returns the fully sorted order, which satisfies that).
pub fn partition_device(
    a: impl IntoArray,
    kth: i32,
    axis: Option<i32>,
    stream: impl Into<Stream>,
) -> Result<Array> {
    let s = stream.into();
    let (x, ax) = prepare("partition", a.into_array(), axis, s)?;
    check_kth("partition", &x, ax, kth)?;
    sort_device(x, Some(ax as i32), s)
}
/// [`partition_device`] on the default stream.
pub fn partition(a: impl IntoArray, kth: i32, axis: Option<i32>) -> Result<Array> {
    partition_device(a, kth, axis, Stream::default_stream())
}
/// Indices of a partition around `kth` (see [`partition_device`]).
pub fn argpartition_device(
    a: impl IntoArray,
    kth: i32,
    axis: Option<i32>,
    stream: impl Into<Stream>,
) -> Result<Array> {
    let s = stream.into();
    let (x, ax) = prepare("argpartition", a.into_array(), axis, s)?;
    check_kth("argpartition", &x, ax, kth)?;
    argsort_device(x, Some(ax as i32), s)
}
/// [`argpartition_device`] on the default stream.
pub fn argpartition(a: impl IntoArray, kth: i32, axis: Option<i32>) -> Result<Array> {
    argpartition_device(a, kth, axis, Stream::default_stream())
}

/// The `k` largest elements along `axis` (`None`: of the flattened array), in ascending order.
pub fn topk_device(
    a: impl IntoArray,
    k: i32,
    axis: Option<i32>,
    stream: impl Into<Stream>,
) -> Result<Array> {
    let s = stream.into();
    let (x, ax) = prepare("topk", a.into_array(), axis, s)?;
    let n = x.shape()[ax] as i64;
    if k < 0 || k as i64 > n {
        return Err(Error::arg(
            "topk",
            format!("k = {k} is out of range for an axis of size {n}"),
        ));
    }
    let sorted = sort_device(&x, Some(ax as i32), s)?;
    super::shape::slice_along(&sorted, ax, n - k as i64, n, 1, s)
}
/// [`topk_device`] on the default stream.
pub fn topk(a: impl IntoArray, k: i32, axis: Option<i32>) -> Result<Array> {
    topk_device(a, k, axis, Stream::default_stream())
}
