//! Indexing ops: take, take_along_axis, put_along_axis, scatter_add_along_axis, and MLX's general
//! gather / scatter / scatter_add built on them by linearising the indexed axes. Negative indices
//! count from the end; indices outside the axis are clamped (never read or written out of bounds).

use super::elementwise::shape_i32;
use super::{axis_of, IntoArray};
use crate::primitive::{Primitive, ScatterMode};
use crate::{Array, Dtype, Error, Result, Stream};

fn as_index(op: &'static str, idx: &Array, s: Stream) -> Result<Array> {
    if !idx.dtype().is_int() {
        return Err(Error::dtype(op, idx.dtype(), "indices must be integers"));
    }
    super::astype_device(idx, Dtype::Int32, s)
}

/// Elements of `a` at `indices` along `axis` (`None`: of the flattened array). Output shape:
/// `a.shape[..axis] + indices.shape + a.shape[axis+1..]`.
pub fn take_device(
    a: impl IntoArray,
    indices: impl IntoArray,
    axis: Option<i32>,
    stream: impl Into<Stream>,
) -> Result<Array> {
    let s = stream.into();
    let (a, idx) = (a.into_array(), indices.into_array());
    let idx = as_index("take", &idx, s)?;
    let (x, ax) = match axis {
        Some(ax) => (a.clone(), axis_of("take", ax, a.ndim())?),
        None => (super::reshape_device(&a, &[-1], s)?, 0),
    };
    if x.shape()[ax] == 0 && idx.size() > 0 {
        return Err(Error::arg("take", "cannot index into an empty axis"));
    }
    let mut shape = x.shape()[..ax].to_vec();
    shape.extend_from_slice(idx.shape());
    shape.extend_from_slice(&x.shape()[ax + 1..]);
    Ok(Array::from_op(
        shape,
        x.dtype(),
        s,
        Primitive::Take { axis: ax },
        vec![x, idx],
    ))
}
/// [`take_device`] on the default stream.
pub fn take(a: impl IntoArray, indices: impl IntoArray, axis: Option<i32>) -> Result<Array> {
    take_device(a, indices, axis, Stream::default_stream())
}

/// Broadcasts `idx` against `a` on every axis but `ax`.
fn along_axis_index(
    op: &'static str,
    a: &Array,
    idx: &Array,
    ax: usize,
    s: Stream,
) -> Result<Array> {
    if idx.ndim() != a.ndim() {
        return Err(Error::shape(
            op,
            format!(
                "indices have {} dimensions, the array {}",
                idx.ndim(),
                a.ndim()
            ),
        ));
    }
    let idx = as_index(op, idx, s)?;
    let mut target = shape_i32(a.shape());
    target[ax] = idx.shape()[ax] as i32;
    super::broadcast_to_device(&idx, &target, s).map_err(|_| {
        Error::shape(
            op,
            format!(
                "indices of shape {:?} do not broadcast against {:?}",
                idx.shape(),
                a.shape()
            ),
        )
    })
}

/// `out[.., i, ..] = a[.., indices[.., i, ..], ..]` along `axis`.
pub fn take_along_axis_device(
    a: impl IntoArray,
    indices: impl IntoArray,
    axis: i32,
    stream: impl Into<Stream>,
) -> Result<Array> {
    let s = stream.into();
    let (a, idx) = (a.into_array(), indices.into_array());
    let ax = axis_of("take_along_axis", axis, a.ndim())?;
    let idx = along_axis_index("take_along_axis", &a, &idx, ax, s)?;
    if a.shape()[ax] == 0 && idx.size() > 0 {
        return Err(Error::arg(
            "take_along_axis",
            "cannot index into an empty axis",
        ));
    }
    Ok(Array::from_op(
        idx.shape().to_vec(),
        a.dtype(),
        s,
        Primitive::TakeAlongAxis { axis: ax },
        vec![a, idx],
    ))
}
/// [`take_along_axis_device`] on the default stream.
pub fn take_along_axis(a: impl IntoArray, indices: impl IntoArray, axis: i32) -> Result<Array> {
    take_along_axis_device(a, indices, axis, Stream::default_stream())
}

fn scatter_along(
    mode: ScatterMode,
    a: Array,
    idx: Array,
    values: Array,
    axis: i32,
    s: Stream,
) -> Result<Array> {
    let op = Primitive::ScatterAlongAxis { axis: 0, mode }.name();
    let ax = axis_of(op, axis, a.ndim())?;
    let idx = along_axis_index(op, &a, &idx, ax, s)?;
    if a.shape()[ax] == 0 && idx.size() > 0 {
        return Err(Error::arg(op, "cannot index into an empty axis"));
    }
    let values = super::astype_device(&values, a.dtype(), s)?;
    let values = super::broadcast_to_device(&values, &shape_i32(idx.shape()), s).map_err(|_| {
        Error::shape(
            op,
            format!(
                "values of shape {:?} do not broadcast to the indices' shape {:?}",
                values.shape(),
                idx.shape()
            ),
        )
    })?;
    Ok(Array::from_op(
        a.shape().to_vec(),
        a.dtype(),
        s,
        Primitive::ScatterAlongAxis { axis: ax, mode },
        vec![a, idx, values],
    ))
}

/// A copy of `a` with `values` written at `indices` along `axis` (last write wins on repeats).
pub fn put_along_axis_device(
    a: impl IntoArray,
    indices: impl IntoArray,
    values: impl IntoArray,
    axis: i32,
    stream: impl Into<Stream>,
) -> Result<Array> {
    scatter_along(
        ScatterMode::Set,
        a.into_array(),
        indices.into_array(),
        values.into_array(),
        axis,
        stream.into(),
    )
}
/// [`put_along_axis_device`] on the default stream.
pub fn put_along_axis(
    a: impl IntoArray,
    indices: impl IntoArray,
    values: impl IntoArray,
    axis: i32,
) -> Result<Array> {
    put_along_axis_device(a, indices, values, axis, Stream::default_stream())
}
/// A copy of `a` with `values` added at `indices` along `axis` (repeats accumulate).
pub fn scatter_add_along_axis_device(
    a: impl IntoArray,
    indices: impl IntoArray,
    values: impl IntoArray,
    axis: i32,
    stream: impl Into<Stream>,
) -> Result<Array> {
    scatter_along(
        ScatterMode::Add,
        a.into_array(),
        indices.into_array(),
        values.into_array(),
        axis,
        stream.into(),
    )
}
/// [`scatter_add_along_axis_device`] on the default stream.
pub fn scatter_add_along_axis(
    a: impl IntoArray,
    indices: impl IntoArray,
    values: impl IntoArray,
    axis: i32,
) -> Result<Array> {
    scatter_add_along_axis_device(a, indices, values, axis, Stream::default_stream())
}

/// Moves `axes` of `a` to the front and merges them: returns (array `[P, rest..]`, linear index
/// of shape `I` into the merged axis, broadcast index shape `I`, shape of the rest).
fn linearise(
    op: &'static str,
    a: &Array,
    indices: &[Array],
    axes: &[i32],
    s: Stream,
) -> Result<(Array, Array, Vec<usize>, Vec<usize>)> {
    if indices.len() != axes.len() || indices.is_empty() {
        return Err(Error::arg(
            op,
            format!("{} index arrays for {} axes", indices.len(), axes.len()),
        ));
    }
    let ax: Vec<usize> = axes
        .iter()
        .map(|&x| axis_of(op, x, a.ndim()))
        .collect::<Result<_>>()?;
    for (i, x) in ax.iter().enumerate() {
        if ax[..i].contains(x) {
            return Err(Error::arg(op, format!("axis {x} is repeated")));
        }
    }
    let mut ishape: Vec<usize> = vec![];
    for idx in indices {
        ishape = crate::layout::broadcast_shapes(op, &ishape, idx.shape())?;
    }
    let rest: Vec<usize> = (0..a.ndim()).filter(|d| !ax.contains(d)).collect();
    let perm: Vec<i32> = ax.iter().chain(rest.iter()).map(|&d| d as i32).collect();
    let rest_shape: Vec<usize> = rest.iter().map(|&d| a.shape()[d]).collect();
    let p: usize = ax.iter().map(|&d| a.shape()[d]).product();
    let mut merged = vec![p as i32];
    merged.extend(shape_i32(&rest_shape));
    let x = super::reshape_device(super::transpose_device(a, Some(&perm), s)?, &merged, s)?;
    let mut lin: Option<Array> = None;
    let mut stride = 1i64;
    for (k, &d) in ax.iter().enumerate().rev() {
        let n = a.shape()[d] as i64;
        let idx = as_index(op, &indices[k], s)?;
        // wrap negatives per axis before combining
        let wrapped = super::where_device(
            super::less_device(&idx, 0i32, s)?,
            super::add_device(&idx, n as i32, s)?,
            &idx,
            s,
        )?;
        let term = super::multiply_device(wrapped, stride as i32, s)?;
        lin = Some(match lin {
            None => term,
            Some(l) => super::add_device(l, term, s)?,
        });
        stride *= n;
    }
    let lin = super::broadcast_to_device(&lin.expect("one axis at least"), &shape_i32(&ishape), s)?;
    Ok((x, lin, ishape, rest_shape))
}

/// MLX's general gather: `indices` (broadcast together to shape `I`) pick positions along `axes`;
/// output shape `I + slice_sizes`. Indexed axes must have slice size 1; other axes take
/// `slice_sizes[d]` leading elements.
pub fn gather_device(
    a: impl IntoArray,
    indices: &[Array],
    axes: &[i32],
    slice_sizes: &[i32],
    stream: impl Into<Stream>,
) -> Result<Array> {
    let s = stream.into();
    let a = a.into_array();
    if slice_sizes.len() != a.ndim() {
        return Err(Error::arg(
            "gather",
            format!(
                "{} slice sizes for {} dimensions",
                slice_sizes.len(),
                a.ndim()
            ),
        ));
    }
    let (x, lin, ishape, _) = linearise("gather", &a, indices, axes, s)?;
    let ax: Vec<usize> = axes
        .iter()
        .map(|&x| axis_of("gather", x, a.ndim()))
        .collect::<Result<_>>()?;
    let mut rest_slice = vec![];
    for d in 0..a.ndim() {
        let sz = slice_sizes[d];
        if ax.contains(&d) {
            if sz != 1 {
                return Err(Error::arg("gather", "indexed axes must have slice size 1"));
            }
        } else {
            if sz < 0 || sz as usize > a.shape()[d] {
                return Err(Error::arg(
                    "gather",
                    format!(
                        "slice size {sz} does not fit axis {d} of size {}",
                        a.shape()[d]
                    ),
                ));
            }
            rest_slice.push(sz);
        }
    }
    let g = take_device(&x, &lin, Some(0), s)?;
    let start = vec![0i32; g.ndim()];
    let mut stop = shape_i32(g.shape());
    stop[ishape.len()..].copy_from_slice(&rest_slice);
    let g = super::slice_device(&g, &start, &stop, &[], s)?;
    let mut out = shape_i32(&ishape);
    out.extend(slice_sizes.iter().copied());
    super::reshape_device(g, &out, s)
}
/// [`gather_device`] on the default stream.
pub fn gather(
    a: impl IntoArray,
    indices: &[Array],
    axes: &[i32],
    slice_sizes: &[i32],
) -> Result<Array> {
    gather_device(a, indices, axes, slice_sizes, Stream::default_stream())
}

fn scatter_general(
    mode: ScatterMode,
    a: Array,
    indices: &[Array],
    updates: Array,
    axes: &[i32],
    s: Stream,
) -> Result<Array> {
    let op = if mode == ScatterMode::Set {
        "scatter"
    } else {
        "scatter_add"
    };
    let (x, lin, ishape, rest_shape) = linearise(op, &a, indices, axes, s)?;
    // updates: I + slice shape (size 1 on the indexed axes) -> [N, rest..]
    let ni: usize = ishape.iter().product();
    let expect = ishape.len() + a.ndim();
    if updates.ndim() != expect {
        return Err(Error::shape(
            op,
            format!(
                "updates need {expect} dimensions (indices {} + array {}), got {:?}",
                ishape.len(),
                a.ndim(),
                updates.shape()
            ),
        ));
    }
    let ax: Vec<usize> = axes
        .iter()
        .map(|&x| axis_of(op, x, a.ndim()))
        .collect::<Result<_>>()?;
    let mut upd_rest = vec![];
    for d in 0..a.ndim() {
        let u = updates.shape()[ishape.len() + d];
        if ax.contains(&d) {
            if u != 1 {
                return Err(Error::shape(
                    op,
                    "updates must have size 1 on the indexed axes",
                ));
            }
        } else {
            upd_rest.push(u as i32);
        }
    }
    let mut flat = vec![ni as i32];
    flat.extend(upd_rest.iter().copied());
    let upd = super::reshape_device(&updates, &flat, s)?;
    let mut ishape2 = vec![ni as i32];
    ishape2.extend(std::iter::repeat_n(1, rest_shape.len()));
    let idx = super::reshape_device(&lin, &ishape2, s)?;
    let mut bshape = vec![ni as i32];
    bshape.extend(upd_rest.iter().copied());
    let idx = super::broadcast_to_device(&idx, &bshape, s)?;
    if upd_rest
        .iter()
        .zip(&rest_shape)
        .any(|(&u, &r)| u as usize > r)
    {
        return Err(Error::shape(op, "update slices are larger than the array"));
    }
    let upd = super::astype_device(&upd, a.dtype(), s)?;
    let scattered = Array::from_op(
        x.shape().to_vec(),
        a.dtype(),
        s,
        Primitive::ScatterAlongAxis { axis: 0, mode },
        vec![x, idx, upd],
    );
    // undo the linearisation: [P, rest..] -> moved shape -> original order
    let mut moved: Vec<i32> = ax.iter().map(|&d| a.shape()[d] as i32).collect();
    moved.extend(shape_i32(&rest_shape));
    let y = super::reshape_device(scattered, &moved, s)?;
    let rest: Vec<usize> = (0..a.ndim()).filter(|d| !ax.contains(d)).collect();
    let order: Vec<usize> = ax.iter().chain(rest.iter()).copied().collect();
    let mut inv = vec![0i32; a.ndim()];
    for (i, &d) in order.iter().enumerate() {
        inv[d] = i as i32;
    }
    super::transpose_device(y, Some(&inv), s)
}

/// MLX's general scatter: writes `updates` (shape `I + slice shape`) at `indices` along `axes`.
pub fn scatter_device(
    a: impl IntoArray,
    indices: &[Array],
    updates: impl IntoArray,
    axes: &[i32],
    stream: impl Into<Stream>,
) -> Result<Array> {
    scatter_general(
        ScatterMode::Set,
        a.into_array(),
        indices,
        updates.into_array(),
        axes,
        stream.into(),
    )
}
/// [`scatter_device`] on the default stream.
pub fn scatter(
    a: impl IntoArray,
    indices: &[Array],
    updates: impl IntoArray,
    axes: &[i32],
) -> Result<Array> {
    scatter_device(a, indices, updates, axes, Stream::default_stream())
}
/// Like [`scatter_device`] but accumulating.
pub fn scatter_add_device(
    a: impl IntoArray,
    indices: &[Array],
    updates: impl IntoArray,
    axes: &[i32],
    stream: impl Into<Stream>,
) -> Result<Array> {
    scatter_general(
        ScatterMode::Add,
        a.into_array(),
        indices,
        updates.into_array(),
        axes,
        stream.into(),
    )
}
/// [`scatter_add_device`] on the default stream.
pub fn scatter_add(
    a: impl IntoArray,
    indices: &[Array],
    updates: impl IntoArray,
    axes: &[i32],
) -> Result<Array> {
    scatter_add_device(a, indices, updates, axes, Stream::default_stream())
}
