//! Shape and view ops: reshape, flatten, squeeze, expand_dims, transpose, swapaxes, moveaxis,
//! broadcast_to, slice, slice_update, concatenate, stack, split, pad, tile, repeat, flip, roll,
//! as_strided, contiguous, stop_gradient. Views are zero-copy where MLX's are.

use super::elementwise::shape_i32;
use super::{axes_of, axis_of, IntoArray};
use crate::array::to_shape;
use crate::layout::numel;
use crate::primitive::Primitive;
use crate::{Array, Error, Result, Stream};

/// New shape with the same elements; one dimension may be -1 (inferred).
pub fn reshape_device(
    a: impl IntoArray,
    shape: &[i32],
    stream: impl Into<Stream>,
) -> Result<Array> {
    let a = a.into_array();
    let mut infer = None;
    let mut known = 1usize;
    for (i, &d) in shape.iter().enumerate() {
        if d == -1 {
            if infer.replace(i).is_some() {
                return Err(Error::shape(
                    "reshape",
                    format!("only one dimension can be -1 in {shape:?}"),
                ));
            }
        } else if d < 0 {
            return Err(Error::shape(
                "reshape",
                format!("invalid dimension {d} in {shape:?}"),
            ));
        } else {
            known *= d as usize;
        }
    }
    let mut out: Vec<usize> = shape.iter().map(|&d| d.max(0) as usize).collect();
    if let Some(i) = infer {
        if known == 0 || a.size() % known != 0 {
            return Err(Error::shape(
                "reshape",
                format!("cannot reshape {:?} into {shape:?}", a.shape()),
            ));
        }
        out[i] = a.size() / known;
    }
    if numel(&out) != a.size() {
        return Err(Error::shape(
            "reshape",
            format!(
                "cannot reshape array of shape {:?} ({} elements) into {shape:?}",
                a.shape(),
                a.size()
            ),
        ));
    }
    if out == a.shape() {
        return Ok(a);
    }
    Ok(Array::from_op(
        out,
        a.dtype(),
        stream.into(),
        Primitive::Reshape,
        vec![a],
    ))
}
/// [`reshape_device`] on the default stream.
pub fn reshape(a: impl IntoArray, shape: &[i32]) -> Result<Array> {
    reshape_device(a, shape, Stream::default_stream())
}

/// Merges axes `start..=end` into one.
pub fn flatten_device(
    a: impl IntoArray,
    start_axis: i32,
    end_axis: i32,
    stream: impl Into<Stream>,
) -> Result<Array> {
    let a = a.into_array();
    if a.ndim() == 0 {
        return reshape_device(&a, &[1], stream);
    }
    let s = axis_of("flatten", start_axis, a.ndim())?;
    let e = axis_of("flatten", end_axis, a.ndim())?;
    if s > e {
        return Err(Error::arg(
            "flatten",
            format!("start axis {start_axis} is after end axis {end_axis}"),
        ));
    }
    let mut shape = shape_i32(&a.shape()[..s]);
    shape.push(a.shape()[s..=e].iter().product::<usize>() as i32);
    shape.extend(shape_i32(&a.shape()[e + 1..]));
    reshape_device(&a, &shape, stream)
}
/// Flattens every axis into one, on the default stream.
pub fn flatten(a: impl IntoArray) -> Result<Array> {
    flatten_device(a, 0, -1, Stream::default_stream())
}

/// Removes size-1 axes (`None`: all of them).
pub fn squeeze_device(
    a: impl IntoArray,
    axes: Option<&[i32]>,
    stream: impl Into<Stream>,
) -> Result<Array> {
    let a = a.into_array();
    let axes = match axes {
        None => (0..a.ndim()).filter(|&i| a.shape()[i] == 1).collect(),
        Some(ax) => axes_of("squeeze", Some(ax), a.ndim())?,
    };
    for &ax in &axes {
        if a.shape()[ax] != 1 {
            return Err(Error::shape(
                "squeeze",
                format!("axis {ax} has size {}, not 1", a.shape()[ax]),
            ));
        }
    }
    let shape: Vec<i32> = (0..a.ndim())
        .filter(|i| !axes.contains(i))
        .map(|i| a.shape()[i] as i32)
        .collect();
    reshape_device(&a, &shape, stream)
}
/// [`squeeze_device`] on the default stream.
pub fn squeeze(a: impl IntoArray, axes: Option<&[i32]>) -> Result<Array> {
    squeeze_device(a, axes, Stream::default_stream())
}

/// Inserts size-1 axes at `axes` (positions in the output).
pub fn expand_dims_device(
    a: impl IntoArray,
    axes: &[i32],
    stream: impl Into<Stream>,
) -> Result<Array> {
    let a = a.into_array();
    let nd = a.ndim() + axes.len();
    let axes = axes_of("expand_dims", Some(axes), nd)?;
    let mut shape = Vec::with_capacity(nd);
    let mut src = a.shape().iter();
    for i in 0..nd {
        shape.push(if axes.contains(&i) {
            1
        } else {
            *src.next().expect("counted") as i32
        });
    }
    reshape_device(&a, &shape, stream)
}
/// [`expand_dims_device`] on the default stream.
pub fn expand_dims(a: impl IntoArray, axes: &[i32]) -> Result<Array> {
    expand_dims_device(a, axes, Stream::default_stream())
}

/// Permutes axes (`None`: reverses them).
pub fn transpose_device(
    a: impl IntoArray,
    axes: Option<&[i32]>,
    stream: impl Into<Stream>,
) -> Result<Array> {
    let a = a.into_array();
    let perm: Vec<usize> = match axes {
        None => (0..a.ndim()).rev().collect(),
        Some(ax) => {
            if ax.len() != a.ndim() {
                return Err(Error::arg(
                    "transpose",
                    format!(
                        "{} axes given for an array with {} dimensions",
                        ax.len(),
                        a.ndim()
                    ),
                ));
            }
            let mut p = Vec::with_capacity(ax.len());
            for &x in ax {
                let v = axis_of("transpose", x, a.ndim())?;
                if p.contains(&v) {
                    return Err(Error::arg("transpose", format!("repeated axis in {ax:?}")));
                }
                p.push(v);
            }
            p
        }
    };
    if perm.iter().enumerate().all(|(i, &p)| i == p) {
        return Ok(a);
    }
    let shape = perm.iter().map(|&p| a.shape()[p]).collect();
    Ok(Array::from_op(
        shape,
        a.dtype(),
        stream.into(),
        Primitive::Transpose(perm),
        vec![a],
    ))
}
/// [`transpose_device`] on the default stream.
pub fn transpose(a: impl IntoArray, axes: Option<&[i32]>) -> Result<Array> {
    transpose_device(a, axes, Stream::default_stream())
}

/// Swaps two axes.
pub fn swapaxes_device(
    a: impl IntoArray,
    axis1: i32,
    axis2: i32,
    stream: impl Into<Stream>,
) -> Result<Array> {
    let a = a.into_array();
    let (i, j) = (
        axis_of("swapaxes", axis1, a.ndim())?,
        axis_of("swapaxes", axis2, a.ndim())?,
    );
    let mut perm: Vec<i32> = (0..a.ndim() as i32).collect();
    perm.swap(i, j);
    transpose_device(&a, Some(&perm), stream)
}
/// [`swapaxes_device`] on the default stream.
pub fn swapaxes(a: impl IntoArray, axis1: i32, axis2: i32) -> Result<Array> {
    swapaxes_device(a, axis1, axis2, Stream::default_stream())
}

/// Moves axis `source` to position `destination`.
pub fn moveaxis_device(
    a: impl IntoArray,
    source: i32,
    destination: i32,
    stream: impl Into<Stream>,
) -> Result<Array> {
    let a = a.into_array();
    let (s, d) = (
        axis_of("moveaxis", source, a.ndim())?,
        axis_of("moveaxis", destination, a.ndim())?,
    );
    let mut perm: Vec<i32> = (0..a.ndim() as i32).filter(|&i| i as usize != s).collect();
    perm.insert(d, s as i32);
    transpose_device(&a, Some(&perm), stream)
}
/// [`moveaxis_device`] on the default stream.
pub fn moveaxis(a: impl IntoArray, source: i32, destination: i32) -> Result<Array> {
    moveaxis_device(a, source, destination, Stream::default_stream())
}

/// Broadcasts to `shape` (a zero-copy view).
pub fn broadcast_to_device(
    a: impl IntoArray,
    shape: &[i32],
    stream: impl Into<Stream>,
) -> Result<Array> {
    let a = a.into_array();
    let target = to_shape("broadcast_to", shape)?;
    if target == a.shape() {
        return Ok(a);
    }
    let out = crate::layout::broadcast_shapes("broadcast_to", a.shape(), &target)?;
    if out != target {
        return Err(Error::shape(
            "broadcast_to",
            format!("cannot broadcast {:?} to {:?}", a.shape(), target),
        ));
    }
    Ok(Array::from_op(
        target,
        a.dtype(),
        stream.into(),
        Primitive::Broadcast,
        vec![a],
    ))
}
/// [`broadcast_to_device`] on the default stream.
pub fn broadcast_to(a: impl IntoArray, shape: &[i32]) -> Result<Array> {
    broadcast_to_device(a, shape, Stream::default_stream())
}

/// Normalises one axis of a Python-style slice: (first index, length).
pub(crate) fn slice_axis(n: usize, start: i64, stop: i64, step: i64) -> (usize, usize) {
    let n = n as i64;
    let norm = |v: i64| if v < 0 { v + n } else { v };
    if step > 0 {
        let s = norm(start).clamp(0, n);
        let e = norm(stop).clamp(0, n);
        let len = if e > s { (e - s + step - 1) / step } else { 0 };
        (if len > 0 { s as usize } else { 0 }, len as usize)
    } else {
        let s = norm(start).clamp(-1, n - 1);
        let e = norm(stop).clamp(-1, n - 1);
        let len = if s > e {
            (s - e + (-step) - 1) / (-step)
        } else {
            0
        };
        (if len > 0 { s as usize } else { 0 }, len as usize)
    }
}

fn slice_params(
    op: &'static str,
    shape: &[usize],
    start: &[i32],
    stop: &[i32],
    strides: &[i32],
) -> Result<(Vec<usize>, Vec<isize>, Vec<usize>)> {
    let nd = shape.len();
    if start.len() != nd || stop.len() != nd || (!strides.is_empty() && strides.len() != nd) {
        return Err(Error::arg(
            op,
            format!("start, stop and strides need {nd} entries each"),
        ));
    }
    let mut first = Vec::with_capacity(nd);
    let mut steps = Vec::with_capacity(nd);
    let mut out = Vec::with_capacity(nd);
    for d in 0..nd {
        let step = if strides.is_empty() { 1 } else { strides[d] };
        if step == 0 {
            return Err(Error::arg(op, "slice step cannot be zero"));
        }
        let (f, len) = slice_axis(shape[d], start[d] as i64, stop[d] as i64, step as i64);
        first.push(f);
        steps.push(step as isize);
        out.push(len);
    }
    Ok((first, steps, out))
}

/// `a[start:stop:strides]` per axis, Python semantics (negative indices, negative steps);
/// `strides` may be empty (all 1). A zero-copy view.
pub fn slice_device(
    a: impl IntoArray,
    start: &[i32],
    stop: &[i32],
    strides: &[i32],
    stream: impl Into<Stream>,
) -> Result<Array> {
    let a = a.into_array();
    let (first, step, out) = slice_params("slice", a.shape(), start, stop, strides)?;
    if out == a.shape() && step.iter().all(|&s| s == 1) {
        return Ok(a);
    }
    Ok(Array::from_op(
        out,
        a.dtype(),
        stream.into(),
        Primitive::Slice { start: first, step },
        vec![a],
    ))
}
/// [`slice_device`] on the default stream.
pub fn slice(a: impl IntoArray, start: &[i32], stop: &[i32], strides: &[i32]) -> Result<Array> {
    slice_device(a, start, stop, strides, Stream::default_stream())
}

/// Slices one axis, keeping the others whole.
pub(crate) fn slice_along(
    a: &Array,
    axis: usize,
    start: i64,
    stop: i64,
    step: i64,
    s: Stream,
) -> Result<Array> {
    let nd = a.ndim();
    let mut st = vec![0i32; nd];
    let mut en: Vec<i32> = shape_i32(a.shape());
    let mut sp = vec![1i32; nd];
    st[axis] = start as i32;
    en[axis] = stop.clamp(i32::MIN as i64, i32::MAX as i64) as i32;
    sp[axis] = step as i32;
    slice_device(a, &st, &en, &sp, s)
}

/// A copy of `src` with `src[start:stop:strides]` replaced by `update` (broadcast to the region).
pub fn slice_update_device(
    src: impl IntoArray,
    update: impl IntoArray,
    start: &[i32],
    stop: &[i32],
    strides: &[i32],
    stream: impl Into<Stream>,
) -> Result<Array> {
    let s = stream.into();
    let (src, update) = (src.into_array(), update.into_array());
    let (first, step, region) = slice_params("slice_update", src.shape(), start, stop, strides)?;
    let update = super::astype_device(&update, src.dtype(), s)?;
    let update = broadcast_to_device(&update, &shape_i32(&region), s).map_err(|_| {
        Error::shape(
            "slice_update",
            format!(
                "update of shape {:?} does not fit the region {:?}",
                update.shape(),
                region
            ),
        )
    })?;
    if numel(&region) == 0 {
        return Ok(src);
    }
    Ok(Array::from_op(
        src.shape().to_vec(),
        src.dtype(),
        s,
        Primitive::SliceUpdate { start: first, step },
        vec![src, update],
    ))
}
/// [`slice_update_device`] on the default stream.
pub fn slice_update(
    src: impl IntoArray,
    update: impl IntoArray,
    start: &[i32],
    stop: &[i32],
    strides: &[i32],
) -> Result<Array> {
    slice_update_device(src, update, start, stop, strides, Stream::default_stream())
}

/// Joins arrays along `axis` (dtypes promoted).
pub fn concatenate_device(arrays: &[Array], axis: i32, stream: impl Into<Stream>) -> Result<Array> {
    let s = stream.into();
    let first = arrays
        .first()
        .ok_or_else(|| Error::arg("concatenate", "needs at least one array"))?;
    let ax = axis_of("concatenate", axis, first.ndim())?;
    let mut dt = first.dtype();
    let mut shape = first.shape().to_vec();
    shape[ax] = 0;
    for a in arrays {
        if a.ndim() != first.ndim()
            || (0..a.ndim()).any(|d| d != ax && a.shape()[d] != first.shape()[d])
        {
            return Err(Error::shape(
                "concatenate",
                format!(
                    "all shapes must match except on axis {axis}: {:?} vs {:?}",
                    first.shape(),
                    a.shape()
                ),
            ));
        }
        dt = crate::dtype::promote_types(dt, a.dtype());
        shape[ax] += a.shape()[ax];
    }
    let inputs = arrays
        .iter()
        .map(|a| super::astype_device(a, dt, s))
        .collect::<Result<Vec<_>>>()?;
    if inputs.len() == 1 {
        return Ok(inputs.into_iter().next().expect("one"));
    }
    Ok(Array::from_op(
        shape,
        dt,
        s,
        Primitive::Concatenate { axis: ax },
        inputs,
    ))
}
/// [`concatenate_device`] on the default stream.
pub fn concatenate(arrays: &[Array], axis: i32) -> Result<Array> {
    concatenate_device(arrays, axis, Stream::default_stream())
}

/// Stacks equal-shaped arrays along a new axis.
pub fn stack_device(arrays: &[Array], axis: i32, stream: impl Into<Stream>) -> Result<Array> {
    let s = stream.into();
    let first = arrays
        .first()
        .ok_or_else(|| Error::arg("stack", "needs at least one array"))?;
    if arrays.iter().any(|a| a.shape() != first.shape()) {
        return Err(Error::shape("stack", "all arrays must have the same shape"));
    }
    let ex = arrays
        .iter()
        .map(|a| expand_dims_device(a, &[axis], s))
        .collect::<Result<Vec<_>>>()?;
    concatenate_device(&ex, axis, s)
}
/// [`stack_device`] on the default stream.
pub fn stack(arrays: &[Array], axis: i32) -> Result<Array> {
    stack_device(arrays, axis, Stream::default_stream())
}

/// Splits into `num_parts` equal pieces along `axis`.
pub fn split_device(
    a: impl IntoArray,
    num_parts: i32,
    axis: i32,
    stream: impl Into<Stream>,
) -> Result<Vec<Array>> {
    let a = a.into_array();
    let ax = axis_of("split", axis, a.ndim())?;
    let n = a.shape()[ax];
    if num_parts <= 0 || n % num_parts as usize != 0 {
        return Err(Error::arg(
            "split",
            format!("axis of size {n} cannot be split into {num_parts} equal parts"),
        ));
    }
    let size = n / num_parts as usize;
    let idx: Vec<i32> = (1..num_parts).map(|i| i * size as i32).collect();
    split_sections_device(&a, &idx, axis, stream)
}
/// [`split_device`] on the default stream.
pub fn split(a: impl IntoArray, num_parts: i32, axis: i32) -> Result<Vec<Array>> {
    split_device(a, num_parts, axis, Stream::default_stream())
}
/// Splits before each of `indices` along `axis`.
pub fn split_sections_device(
    a: impl IntoArray,
    indices: &[i32],
    axis: i32,
    stream: impl Into<Stream>,
) -> Result<Vec<Array>> {
    let s = stream.into();
    let a = a.into_array();
    let ax = axis_of("split", axis, a.ndim())?;
    let mut bounds = vec![0i64];
    bounds.extend(indices.iter().map(|&i| i as i64));
    bounds.push(a.shape()[ax] as i64);
    bounds
        .windows(2)
        .map(|w| slice_along(&a, ax, w[0], w[1].max(w[0]), 1, s))
        .collect()
}
/// [`split_sections_device`] on the default stream.
pub fn split_sections(a: impl IntoArray, indices: &[i32], axis: i32) -> Result<Vec<Array>> {
    split_sections_device(a, indices, axis, Stream::default_stream())
}

/// Pads each axis with `(before, after)` copies of `value`.
pub fn pad_device(
    a: impl IntoArray,
    widths: &[(i32, i32)],
    value: f64,
    stream: impl Into<Stream>,
) -> Result<Array> {
    let s = stream.into();
    let a = a.into_array();
    if widths.len() != a.ndim() {
        return Err(Error::arg(
            "pad",
            format!("{} pad widths for {} dimensions", widths.len(), a.ndim()),
        ));
    }
    if widths.iter().any(|&(l, h)| l < 0 || h < 0) {
        return Err(Error::arg("pad", "pad widths must be non-negative"));
    }
    let shape: Vec<i32> = a
        .shape()
        .iter()
        .zip(widths)
        .map(|(&n, &(l, h))| n as i32 + l + h)
        .collect();
    let base = super::full_device(&shape, value, a.dtype(), s)?;
    let start: Vec<i32> = widths.iter().map(|w| w.0).collect();
    let stop: Vec<i32> = start
        .iter()
        .zip(a.shape())
        .map(|(&l, &n)| l + n as i32)
        .collect();
    slice_update_device(base, a, &start, &stop, &[], s)
}
/// [`pad_device`] on the default stream.
pub fn pad(a: impl IntoArray, widths: &[(i32, i32)], value: f64) -> Result<Array> {
    pad_device(a, widths, value, Stream::default_stream())
}

/// Repeats the whole array `reps` times along each axis.
pub fn tile_device(a: impl IntoArray, reps: &[i32], stream: impl Into<Stream>) -> Result<Array> {
    let s = stream.into();
    let a = a.into_array();
    if reps.iter().any(|&r| r < 0) {
        return Err(Error::arg("tile", "repetitions must be non-negative"));
    }
    let nd = a.ndim().max(reps.len());
    let mut shape = vec![1i32; nd - a.ndim()];
    shape.extend(shape_i32(a.shape()));
    let mut r = vec![1i32; nd - reps.len()];
    r.extend_from_slice(reps);
    let inter: Vec<i32> = shape.iter().flat_map(|&d| [1, d]).collect();
    let target: Vec<i32> = shape.iter().zip(&r).flat_map(|(&d, &k)| [k, d]).collect();
    let out: Vec<i32> = shape.iter().zip(&r).map(|(&d, &k)| d * k).collect();
    let x = reshape_device(&a, &inter, s)?;
    let x = broadcast_to_device(&x, &target, s)?;
    reshape_device(&x, &out, s)
}
/// [`tile_device`] on the default stream.
pub fn tile(a: impl IntoArray, reps: &[i32]) -> Result<Array> {
    tile_device(a, reps, Stream::default_stream())
}

/// Repeats each element `repeats` times along `axis` (`None`: of the flattened array).
pub fn repeat_device(
    a: impl IntoArray,
    repeats: i32,
    axis: Option<i32>,
    stream: impl Into<Stream>,
) -> Result<Array> {
    let s = stream.into();
    let mut a = a.into_array();
    if repeats < 0 {
        return Err(Error::arg("repeat", "repeats must be non-negative"));
    }
    let axis = match axis {
        Some(ax) => axis_of("repeat", ax, a.ndim())?,
        None => {
            a = flatten_device(&a, 0, -1, s)?;
            0
        }
    };
    let x = expand_dims_device(&a, &[axis as i32 + 1], s)?;
    let mut target = shape_i32(x.shape());
    target[axis + 1] = repeats;
    let x = broadcast_to_device(&x, &target, s)?;
    let mut out = shape_i32(a.shape());
    out[axis] *= repeats;
    reshape_device(&x, &out, s)
}
/// [`repeat_device`] on the default stream.
pub fn repeat(a: impl IntoArray, repeats: i32, axis: Option<i32>) -> Result<Array> {
    repeat_device(a, repeats, axis, Stream::default_stream())
}

/// Reverses the order of elements along `axes` (`None`: all); a zero-copy view.
pub fn flip_device(
    a: impl IntoArray,
    axes: Option<&[i32]>,
    stream: impl Into<Stream>,
) -> Result<Array> {
    let a = a.into_array();
    let axes = axes_of("flip", axes, a.ndim())?;
    let nd = a.ndim();
    let mut start = vec![0i32; nd];
    let mut stop = shape_i32(a.shape());
    let mut step = vec![1i32; nd];
    for &ax in &axes {
        start[ax] = -1;
        stop[ax] = i32::MIN;
        step[ax] = -1;
    }
    slice_device(&a, &start, &stop, &step, stream)
}
/// [`flip_device`] on the default stream.
pub fn flip(a: impl IntoArray, axes: Option<&[i32]>) -> Result<Array> {
    flip_device(a, axes, Stream::default_stream())
}

/// Rolls elements by `shift` along `axis` (`None`: of the flattened array, shape kept).
pub fn roll_device(
    a: impl IntoArray,
    shift: i32,
    axis: Option<i32>,
    stream: impl Into<Stream>,
) -> Result<Array> {
    let s = stream.into();
    let a = a.into_array();
    let Some(axis) = axis else {
        let flat = flatten_device(&a, 0, -1, s)?;
        let r = roll_device(&flat, shift, Some(0), s)?;
        return reshape_device(r, &shape_i32(a.shape()), s);
    };
    let ax = axis_of("roll", axis, a.ndim())?;
    let n = a.shape()[ax] as i64;
    if n == 0 {
        return Ok(a);
    }
    let k = (shift as i64).rem_euclid(n);
    if k == 0 {
        return Ok(a);
    }
    let tail = slice_along(&a, ax, n - k, n, 1, s)?;
    let head = slice_along(&a, ax, 0, n - k, 1, s)?;
    concatenate_device(&[tail, head], ax as i32, s)
}
/// [`roll_device`] on the default stream.
pub fn roll(a: impl IntoArray, shift: i32, axis: Option<i32>) -> Result<Array> {
    roll_device(a, shift, axis, Stream::default_stream())
}

/// A view of `a`'s contiguous elements with explicit shape, strides and offset (in elements).
/// Every reachable element must lie inside `a`.
pub fn as_strided_device(
    a: impl IntoArray,
    shape: &[i32],
    strides: &[i64],
    offset: usize,
    stream: impl Into<Stream>,
) -> Result<Array> {
    let a = a.into_array();
    let shape = to_shape("as_strided", shape)?;
    if strides.len() != shape.len() {
        return Err(Error::arg(
            "as_strided",
            "shape and strides need the same length",
        ));
    }
    if numel(&shape) > 0 {
        let (mut lo, mut hi) = (offset as i64, offset as i64);
        for (&n, &st) in shape.iter().zip(strides) {
            let span = (n as i64 - 1) * st;
            if span < 0 {
                lo += span
            } else {
                hi += span
            }
        }
        if lo < 0 || hi >= a.size() as i64 {
            return Err(Error::arg(
                "as_strided",
                format!(
                    "view reaches elements [{lo}, {hi}] outside the array of {} elements",
                    a.size()
                ),
            ));
        }
    }
    let strides = strides.iter().map(|&s| s as isize).collect();
    Ok(Array::from_op(
        shape,
        a.dtype(),
        stream.into(),
        Primitive::AsStrided { strides, offset },
        vec![a],
    ))
}
/// [`as_strided_device`] on the default stream.
pub fn as_strided(
    a: impl IntoArray,
    shape: &[i32],
    strides: &[i64],
    offset: usize,
) -> Result<Array> {
    as_strided_device(a, shape, strides, offset, Stream::default_stream())
}

/// A dense row-major copy (returns the same buffer when already dense).
pub fn contiguous_device(a: impl IntoArray, stream: impl Into<Stream>) -> Result<Array> {
    let a = a.into_array();
    Ok(Array::from_op(
        a.shape().to_vec(),
        a.dtype(),
        stream.into(),
        Primitive::Copy,
        vec![a],
    ))
}
/// [`contiguous_device`] on the default stream.
pub fn contiguous(a: impl IntoArray) -> Result<Array> {
    contiguous_device(a, Stream::default_stream())
}

/// The same values, with gradients blocked.
pub fn stop_gradient(a: impl IntoArray) -> Result<Array> {
    let a = a.into_array();
    Ok(Array::from_op(
        a.shape().to_vec(),
        a.dtype(),
        a.stream(),
        Primitive::StopGradient,
        vec![a],
    ))
}
