//! Reductions (sum, prod, max, min, all, any; arg-max/min) and scans along axes. Floats
//! accumulate in f64, integers wrap in their own type.

use crate::types::{CpuType, Wide};
use crate::view::{Host, Output, View};
use crate::with_dtype;
use mlx_arm_core::buffer::Data;
use mlx_arm_core::layout::{numel, StridedIter};
use mlx_arm_core::primitive::{ArgReduceOp, ReduceOp, ScanOp};
use mlx_arm_core::{Dtype, Result};
use rayon::prelude::*;

/// Splits a view into (kept dims, reduced dims) shapes and strides.
fn split_axes(v: &Data, axes: &[usize]) -> (Vec<usize>, Vec<isize>, Vec<usize>, Vec<isize>) {
    let (mut ks, mut kst, mut rs, mut rst) = (vec![], vec![], vec![], vec![]);
    for d in 0..v.shape.len() {
        if axes.contains(&d) {
            rs.push(v.shape[d]);
            rst.push(v.strides[d]);
        } else {
            ks.push(v.shape[d]);
            kst.push(v.strides[d]);
        }
    }
    (ks, kst, rs, rst)
}

fn to_f(w: Wide) -> f64 {
    match w {
        Wide::Int(i) => i as f64,
        Wide::Float(f) => f,
    }
}

fn reduce_line<T: CpuType>(op: ReduceOp, view: &View<T>, rs: &[usize], rst: &[isize], base: isize) -> T {
    let it = StridedIter::new(rs, rst, base).map(|o| view.all[o as usize]);
    match op {
        ReduceOp::Sum if T::FLOAT => T::from_wide(Wide::Float(it.fold(0.0, |a, x| a + to_f(x.wide())))),
        ReduceOp::Prod if T::FLOAT => T::from_wide(Wide::Float(it.map(|x| to_f(x.wide())).product())),
        ReduceOp::Sum => it.fold(T::zero(), |a, x| T::binary(mlx_arm_core::primitive::BinaryOp::Add, a, x)),
        ReduceOp::Prod => it.fold(T::one(), |a, x| T::binary(mlx_arm_core::primitive::BinaryOp::Multiply, a, x)),
        ReduceOp::Max => it.fold(T::lowest(), |a, x| if x.is_nan_value() || a.is_nan_value() { if a.is_nan_value() { a } else { x } } else if x > a { x } else { a }),
        ReduceOp::Min => it.fold(T::highest(), |a, x| if x.is_nan_value() || a.is_nan_value() { if a.is_nan_value() { a } else { x } } else if x < a { x } else { a }),
        ReduceOp::And => T::from_wide(Wide::Int(it.fold(true, |a, x| a && x.truthy()) as i128)),
        ReduceOp::Or => T::from_wide(Wide::Int(it.fold(false, |a, x| a || x.truthy()) as i128)),
    }
}

/// Reduction over `axes`; the output keeps reduced axes with size 1.
pub fn reduce(op: ReduceOp, axes: &[usize], x: &Data, shape: &[usize], out_dt: Dtype) -> Result<Data> {
    let h = Host::of(x)?;
    let (ks, kst, rs, rst) = split_axes(x, axes);
    let n_out = numel(&ks);
    let mut out = Output::new(out_dt, n_out)?;
    with_dtype!(x.dtype(), T => {
        let v = h.view::<T>();
        let o = out.slice::<T>();
        let work = numel(&rs).max(1);
        let bases: Vec<isize> = StridedIter::new(&ks, &kst, x.offset).collect();
        if n_out * work > 1 << 16 && n_out > 1 {
            o.par_iter_mut().zip(bases.par_iter()).for_each(|(o, &b)| *o = reduce_line(op, &v, &rs, &rst, b));
        } else {
            for (o, &b) in o.iter_mut().zip(&bases) {
                *o = reduce_line(op, &v, &rs, &rst, b);
            }
        }
    });
    Ok(out.finish(shape))
}

/// Index of the max/min along `axis` (first occurrence; NaN counts as the extremum).
pub fn arg_reduce(op: ArgReduceOp, axis: usize, x: &Data, shape: &[usize]) -> Result<Data> {
    let h = Host::of(x)?;
    let (ks, kst, _, _) = split_axes(x, &[axis]);
    let (n, st) = (x.shape[axis], x.strides[axis]);
    let mut out = Output::new(Dtype::Uint32, numel(&ks))?;
    with_dtype!(x.dtype(), T => {
        let v = h.view::<T>();
        let bases: Vec<isize> = StridedIter::new(&ks, &kst, x.offset).collect();
        out.slice::<u32>().par_iter_mut().zip(bases.par_iter()).for_each(|(o, &b)| {
            let mut best = v.all[b as usize];
            let mut bi = 0u32;
            for i in 1..n {
                let e = v.all[(b + i as isize * st) as usize];
                if best.is_nan_value() { break; }
                let better = e.is_nan_value() || match op { ArgReduceOp::ArgMax => e > best, ArgReduceOp::ArgMin => e < best };
                if better { best = e; bi = i as u32; }
            }
            *o = bi;
        });
    });
    Ok(out.finish(shape))
}

/// Cumulative reduction along `axis`.
pub fn scan(op: ScanOp, axis: usize, reverse: bool, inclusive: bool, x: &Data, shape: &[usize]) -> Result<Data> {
    let h = Host::of(x)?;
    let n = x.shape[axis];
    let mut out = Output::new(x.dtype(), x.size())?;
    let out_strides = mlx_arm_core::layout::row_major_strides(&x.shape);
    let (ks, kst, _, _) = split_axes(x, &[axis]);
    let mut ost = out_strides.clone();
    ost.remove(axis);
    with_dtype!(x.dtype(), T => {
        let v = h.view::<T>();
        let o = out.slice::<T>();
        let ins: Vec<isize> = StridedIter::new(&ks, &kst, x.offset).collect();
        let outs: Vec<isize> = StridedIter::new(&ks, &ost, 0).collect();
        let (sin, sout) = (x.strides[axis], out_strides[axis]);
        for (&bi, &bo) in ins.iter().zip(&outs) {
            let mut acc_f = match op { ScanOp::Prod => 1.0, _ => 0.0 };
            let mut acc: T = match op { ScanOp::Sum => T::zero(), ScanOp::Prod => T::one(), ScanOp::Max => T::lowest(), ScanOp::Min => T::highest() };
            for k in 0..n {
                let i = if reverse { n - 1 - k } else { k };
                let e = v.all[(bi + i as isize * sin) as usize];
                let dst = &mut o[(bo + i as isize * sout) as usize];
                if !inclusive { *dst = if T::FLOAT && matches!(op, ScanOp::Sum | ScanOp::Prod) { T::from_wide(Wide::Float(acc_f)) } else { acc }; }
                match op {
                    ScanOp::Sum if T::FLOAT => acc_f += to_f(e.wide()),
                    ScanOp::Prod if T::FLOAT => acc_f *= to_f(e.wide()),
                    ScanOp::Sum => acc = T::binary(mlx_arm_core::primitive::BinaryOp::Add, acc, e),
                    ScanOp::Prod => acc = T::binary(mlx_arm_core::primitive::BinaryOp::Multiply, acc, e),
                    ScanOp::Max => if acc.is_nan_value() || e.is_nan_value() { if !acc.is_nan_value() { acc = e } } else if e > acc { acc = e },
                    ScanOp::Min => if acc.is_nan_value() || e.is_nan_value() { if !acc.is_nan_value() { acc = e } } else if e < acc { acc = e },
                }
                if inclusive { *dst = if T::FLOAT && matches!(op, ScanOp::Sum | ScanOp::Prod) { T::from_wide(Wide::Float(acc_f)) } else { acc }; }
            }
        }
    });
    Ok(out.finish(shape))
}
