//! Gather/scatter kernels (take, take_along_axis, scatter along an axis), concatenate, slice
//! update and arange. Indices are int32: negative ones wrap once, out-of-range ones clamp.

use crate::types::{CpuType, Wide};
use crate::view::{Host, Output};
use crate::with_dtype;
use mlx_arm_core::buffer::Data;
use mlx_arm_core::layout::{numel, row_major_strides, StridedIter};
use mlx_arm_core::primitive::{BinaryOp, ScatterMode};
use mlx_arm_core::{Dtype, Result};

/// Wraps a negative index once and clamps into `[0, n)`.
pub fn fix_index(i: i32, n: usize) -> usize {
    let i = i as i64;
    let i = if i < 0 { i + n as i64 } else { i };
    i.clamp(0, n.saturating_sub(1) as i64) as usize
}

/// `take(a, idx, axis)`.
pub fn take(axis: usize, a: &Data, idx: &Data, shape: &[usize]) -> Result<Data> {
    let (ha, hi) = (Host::of(a)?, Host::of(idx)?);
    let ids = hi.view::<i32>().to_contiguous().into_owned();
    let outer: usize = numel(&a.shape[..axis]);
    let inner: usize = numel(&a.shape[axis + 1..]);
    let n = a.shape[axis];
    let mut out = Output::new(a.dtype(), numel(shape))?;
    with_dtype!(a.dtype(), T => {
        let src = ha.view::<T>().to_contiguous();
        let o = out.slice::<T>();
        let mut p = 0;
        for ob in 0..outer {
            for &i in &ids {
                let row = (ob * n + fix_index(i, n)) * inner;
                o[p..p + inner].copy_from_slice(&src[row..row + inner]);
                p += inner;
            }
        }
    });
    Ok(out.finish(shape))
}

/// `take_along_axis(a, idx, axis)` (idx has a's shape except along `axis`).
pub fn take_along_axis(axis: usize, a: &Data, idx: &Data, shape: &[usize]) -> Result<Data> {
    let (ha, hi) = (Host::of(a)?, Host::of(idx)?);
    let ids = hi.view::<i32>().to_contiguous().into_owned();
    let n = a.shape[axis];
    let mut out = Output::new(a.dtype(), numel(shape))?;
    with_dtype!(a.dtype(), T => {
        let v = ha.view::<T>();
        let o = out.slice::<T>();
        let mut coord = vec![0usize; shape.len()];
        for (p, &i) in ids.iter().enumerate() {
            unravel(p, shape, &mut coord);
            coord[axis] = fix_index(i, n);
            o[p] = v.at(&coord);
        }
    });
    Ok(out.finish(shape))
}

fn unravel(mut p: usize, shape: &[usize], coord: &mut [usize]) {
    for d in (0..shape.len()).rev() {
        coord[d] = p % shape[d].max(1);
        p /= shape[d].max(1);
    }
}

/// Copy of `a` with `upd` written (or added) at `idx` along `axis`.
pub fn scatter_along_axis(
    axis: usize,
    mode: ScatterMode,
    a: &Data,
    idx: &Data,
    upd: &Data,
    shape: &[usize],
) -> Result<Data> {
    let (ha, hi, hu) = (Host::of(a)?, Host::of(idx)?, Host::of(upd)?);
    let ids = hi.view::<i32>().to_contiguous().into_owned();
    let n = a.shape[axis];
    let ostr = row_major_strides(shape);
    let mut out = Output::new(a.dtype(), numel(shape))?;
    with_dtype!(a.dtype(), T => {
        let o = out.slice::<T>();
        o.copy_from_slice(&ha.view::<T>().to_contiguous());
        let u = hu.view::<T>().to_contiguous();
        let mut coord = vec![0usize; idx.shape.len()];
        for (p, &i) in ids.iter().enumerate() {
            unravel(p, &idx.shape, &mut coord);
            coord[axis] = fix_index(i, n);
            let off: usize = coord.iter().zip(&ostr).map(|(&c, &s)| c * s as usize).sum();
            o[off] = match mode {
                ScatterMode::Set => u[p],
                ScatterMode::Add => <T as CpuType>::binary(BinaryOp::Add, o[off], u[p]),
            };
        }
    });
    Ok(out.finish(shape))
}

/// Joins inputs along `axis`.
pub fn concatenate(axis: usize, inputs: &[Data], shape: &[usize]) -> Result<Data> {
    let dt = inputs[0].dtype();
    let outer: usize = numel(&shape[..axis]);
    let inner: usize = numel(&shape[axis + 1..]);
    let mut out = Output::new(dt, numel(shape))?;
    let hosts = inputs.iter().map(Host::of).collect::<Result<Vec<_>>>()?;
    with_dtype!(dt, T => {
        let o = out.slice::<T>();
        let row = shape[axis] * inner;
        let mut col = 0;
        for (h, d) in hosts.iter().zip(inputs) {
            let src = h.view::<T>().to_contiguous();
            let w = d.shape[axis] * inner;
            for ob in 0..outer {
                o[ob * row + col..ob * row + col + w].copy_from_slice(&src[ob * w..(ob + 1) * w]);
            }
            col += w;
        }
    });
    Ok(out.finish(shape))
}

/// Copy of `src` with the strided region `start`/`step` replaced by `upd`.
pub fn slice_update(
    start: &[usize],
    step: &[isize],
    src: &Data,
    upd: &Data,
    shape: &[usize],
) -> Result<Data> {
    let (hs, hu) = (Host::of(src)?, Host::of(upd)?);
    let ostr = row_major_strides(shape);
    let base: isize = start
        .iter()
        .zip(&ostr)
        .map(|(&s, &st)| s as isize * st)
        .sum();
    let rstr: Vec<isize> = ostr.iter().zip(step).map(|(&s, &k)| s * k).collect();
    let mut out = Output::new(src.dtype(), numel(shape))?;
    with_dtype!(src.dtype(), T => {
        let o = out.slice::<T>();
        o.copy_from_slice(&hs.view::<T>().to_contiguous());
        let u = hu.view::<T>().to_contiguous();
        for (off, &v) in StridedIter::new(&upd.shape, &rstr, base).zip(u.iter()) {
            o[off as usize] = v;
        }
    });
    Ok(out.finish(shape))
}

/// `slice_update` written over `dst`, a donated dense buffer of the output's shape (see
/// `Backend::eval_in_place`); `dst` back, unchanged, when it has no writable host copy.
pub fn slice_update_in_place(
    start: &[usize],
    step: &[isize],
    mut dst: Data,
    upd: &Data,
) -> Result<std::result::Result<Data, Data>> {
    let hu = Host::of(upd)?;
    let ostr = row_major_strides(&dst.shape);
    let base: isize = start
        .iter()
        .zip(&ostr)
        .map(|(&s, &st)| s as isize * st)
        .sum();
    let rstr: Vec<isize> = ostr.iter().zip(step).map(|(&s, &k)| s * k).collect();
    let dt = dst.dtype();
    let n = dst.size();
    let Some(buffer) = std::sync::Arc::get_mut(&mut dst.buffer) else {
        return Ok(Err(dst));
    };
    let Some(bytes) = buffer.host_bytes_mut() else {
        return Ok(Err(dst));
    };
    with_dtype!(dt, T => {
        let o: &mut [T] = &mut bytemuck::cast_slice_mut(bytes)[..n];
        let u = hu.view::<T>().to_contiguous();
        for (off, &v) in StridedIter::new(&upd.shape, &rstr, base).zip(u.iter()) {
            o[off as usize] = v;
        }
    });
    Ok(Ok(dst))
}

/// `start + i * step` converted to `dt`.
pub fn arange(start: f64, step: f64, shape: &[usize], dt: Dtype) -> Result<Data> {
    let n = numel(shape);
    let mut out = Output::new(dt, n)?;
    with_dtype!(dt, T => {
        for (i, o) in out.slice::<T>().iter_mut().enumerate() {
            *o = T::from_wide(Wide::Float(start + i as f64 * step));
        }
    });
    Ok(out.finish(shape))
}

/// Threefry random bits for a key of shape [2] (any view).
pub fn random_bits(key: &Data, shape: &[usize]) -> Result<Data> {
    let h = Host::of(key)?;
    let v = h.view::<u32>();
    let k = [v.at(&[0]), v.at(&[1])];
    let mut out = Output::new(Dtype::Uint32, numel(shape))?;
    mlx_arm_core::random::random_bits_into(k, out.slice::<u32>());
    Ok(out.finish(shape))
}
