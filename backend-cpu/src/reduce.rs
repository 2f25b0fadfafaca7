//! Reductions (sum, prod, max, min, all, any; arg-max/min) and scans along axes. Floats
//! accumulate in f64, integers wrap in their own type. f32 sum/max/min whose reduced elements
//! form dense lines (rows, whole arrays) run the SIMD kernels of `simd.rs`, long lines split
//! over tasks at fixed boundaries (so results do not depend on the thread count).

use crate::simd;
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

fn reduce_line<T: CpuType>(
    op: ReduceOp,
    view: &View<T>,
    rs: &[usize],
    rst: &[isize],
    base: isize,
) -> T {
    let it = StridedIter::new(rs, rst, base).map(|o| view.all[o as usize]);
    match op {
        ReduceOp::Sum if T::FLOAT => {
            T::from_wide(Wide::Float(it.fold(0.0, |a, x| a + to_f(x.wide()))))
        }
        ReduceOp::Prod if T::FLOAT => {
            T::from_wide(Wide::Float(it.map(|x| to_f(x.wide())).product()))
        }
        ReduceOp::Sum => it.fold(T::zero(), |a, x| {
            T::binary(mlx_arm_core::primitive::BinaryOp::Add, a, x)
        }),
        ReduceOp::Prod => it.fold(T::one(), |a, x| {
            T::binary(mlx_arm_core::primitive::BinaryOp::Multiply, a, x)
        }),
        ReduceOp::Max => it.fold(T::lowest(), |a, x| {
            if x.is_nan_value() || a.is_nan_value() {
                if a.is_nan_value() {
                    a
                } else {
                    x
                }
            } else if x > a {
                x
            } else {
                a
            }
        }),
        ReduceOp::Min => it.fold(T::highest(), |a, x| {
            if x.is_nan_value() || a.is_nan_value() {
                if a.is_nan_value() {
                    a
                } else {
                    x
                }
            } else if x < a {
                x
            } else {
                a
            }
        }),
        ReduceOp::And => T::from_wide(Wide::Int(it.fold(true, |a, x| a && x.truthy()) as i128)),
        ReduceOp::Or => T::from_wide(Wide::Int(it.fold(false, |a, x| a || x.truthy()) as i128)),
    }
}

/// Elements per task when a long line is split.
const LINE_CHUNK: usize = 1 << 16;

/// The length of the dense line the reduced dims `rs`/`rst` cover (in any order of the dims),
/// or None when they are not one.
fn dense_line(rs: &[usize], rst: &[isize]) -> Option<usize> {
    let mut dims: Vec<(usize, isize)> = rs
        .iter()
        .copied()
        .zip(rst.iter().copied())
        .filter(|&(n, _)| n != 1)
        .collect();
    if dims.iter().any(|&(n, st)| n == 0 || st <= 0) {
        return dims.iter().any(|&(n, _)| n == 0).then_some(0);
    }
    dims.sort_by_key(|&(_, st)| std::cmp::Reverse(st));
    let (shape, strides): (Vec<usize>, Vec<isize>) = dims.into_iter().unzip();
    mlx_arm_core::layout::is_row_contiguous(&shape, &strides).then(|| numel(&shape))
}

/// One f32 line through the SIMD kernels.
fn reduce_slice_f32(op: ReduceOp, x: &[f32]) -> f64 {
    match op {
        ReduceOp::Sum => simd::sum_f32(x),
        ReduceOp::Max => simd::extremum_f32(x, true) as f64,
        ReduceOp::Min => simd::extremum_f32(x, false) as f64,
        _ => unreachable!(),
    }
}

/// f32 sum/max/min over dense lines of `len` elements starting at `bases`.
fn reduce_lines_f32(op: ReduceOp, all: &[f32], bases: &[isize], len: usize, out: &mut [f32]) {
    if len == 0 {
        out.fill(0.0); // only sums reach here with empty lines (max/min of nothing is refused)
        return;
    }
    let line = |b: isize| &all[b as usize..b as usize + len];
    let threads = rayon::current_num_threads();
    if len <= LINE_CHUNK || bases.len() >= 4 * threads {
        if bases.len() * len > 1 << 16 && bases.len() > 1 {
            // tasks of whole lines, about LINE_CHUNK elements each
            let per_task = LINE_CHUNK.div_ceil(len).max(1);
            out.par_chunks_mut(per_task)
                .zip(bases.par_chunks(per_task))
                .for_each(|(o, b)| {
                    o.iter_mut()
                        .zip(b)
                        .for_each(|(o, &b)| *o = reduce_slice_f32(op, line(b)) as f32);
                });
        } else {
            out.iter_mut()
                .zip(bases)
                .for_each(|(o, &b)| *o = reduce_slice_f32(op, line(b)) as f32);
        }
        return;
    }
    // few long lines: split each at fixed boundaries, combine the partials in order
    for (o, &b) in out.iter_mut().zip(bases) {
        let parts: Vec<f64> = line(b)
            .par_chunks(LINE_CHUNK)
            .map(|c| reduce_slice_f32(op, c))
            .collect();
        *o = match op {
            ReduceOp::Sum => parts.iter().sum::<f64>() as f32,
            _ if parts.iter().any(|p| p.is_nan()) => f32::NAN,
            ReduceOp::Max => parts.iter().copied().fold(f64::NEG_INFINITY, f64::max) as f32,
            _ => parts.iter().copied().fold(f64::INFINITY, f64::min) as f32,
        };
    }
}

/// f32 sum/max/min over the leading `rows` of a dense `rows x cols` block (`x`). Tasks own a
/// fixed chunk of rows and a block of up to 4,096 columns and stream their rows sequentially
/// into accumulators that stay in L1/L2; the chunks' partials are combined in order (so results
/// do not depend on the thread count).
fn reduce_cols_f32(op: ReduceOp, x: &[f32], rows: usize, cols: usize, out: &mut [f32]) {
    const COL_BLOCK: usize = 4096;
    let cb = cols.min(COL_BLOCK);
    let n_cb = cols.div_ceil(cb);
    let rc = if rows * cols <= 1 << 16 {
        rows
    } else {
        ((1 << 18) / cb).max(1)
    };
    let n_rc = rows.div_ceil(rc);
    let task = |t: usize| {
        let (bi, ri) = (t / n_rc, t % n_rc);
        let (c0, r0) = (bi * cb, ri * rc);
        let width = cb.min(cols - c0);
        let x = &x[r0 * cols + c0..];
        let nrows = rc.min(rows - r0);
        let mut acc = vec![0.0f64; width];
        match op {
            ReduceOp::Sum => simd::col_sum_f32(x, cols, nrows, &mut acc),
            _ => {
                let mut m = vec![0.0f32; width];
                simd::col_extremum_f32(x, cols, nrows, &mut m, op == ReduceOp::Max);
                acc.iter_mut().zip(&m).for_each(|(a, &v)| *a = v as f64);
            }
        }
        acc
    };
    let parts: Vec<Vec<f64>> = if n_cb * n_rc == 1 {
        vec![task(0)]
    } else {
        (0..n_cb * n_rc).into_par_iter().map(task).collect()
    };
    for (bi, o) in out.chunks_mut(cb).enumerate() {
        let mut acc = parts[bi * n_rc].clone();
        for p in &parts[bi * n_rc + 1..(bi + 1) * n_rc] {
            for (a, &v) in acc.iter_mut().zip(p) {
                *a = match op {
                    ReduceOp::Sum => *a + v,
                    _ if a.is_nan() || v.is_nan() => f64::NAN,
                    ReduceOp::Max => a.max(v),
                    _ => a.min(v),
                };
            }
        }
        o.iter_mut().zip(&acc).for_each(|(o, &a)| *o = a as f32);
    }
}

/// Reduction over `axes`; the output keeps reduced axes with size 1.
pub fn reduce(
    op: ReduceOp,
    axes: &[usize],
    x: &Data,
    shape: &[usize],
    out_dt: Dtype,
) -> Result<Data> {
    let h = Host::of(x)?;
    let (ks, kst, rs, rst) = split_axes(x, axes);
    let n_out = numel(&ks);
    let mut out = Output::new(out_dt, n_out)?;
    if x.dtype() == Dtype::Float32 && matches!(op, ReduceOp::Sum | ReduceOp::Max | ReduceOp::Min) {
        if let Some(len) = dense_line(&rs, &rst) {
            let bases: Vec<isize> = StridedIter::new(&ks, &kst, x.offset).collect();
            reduce_lines_f32(op, h.view::<f32>().all, &bases, len, out.slice::<f32>());
            return Ok(out.finish(shape));
        }
        // the leading axes of a dense array (column sums, bias gradients)
        let lead = axes.len();
        if x.is_row_contiguous() && axes.iter().enumerate().all(|(i, &a)| i == a) && n_out > 0 {
            let rows = numel(&x.shape[..lead]);
            if rows > 0 {
                let v = h.view::<f32>();
                let dense = &v.all[x.offset as usize..x.offset as usize + rows * n_out];
                reduce_cols_f32(op, dense, rows, n_out, out.slice::<f32>());
                return Ok(out.finish(shape));
            }
        }
    }
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
pub fn scan(
    op: ScanOp,
    axis: usize,
    reverse: bool,
    inclusive: bool,
    x: &Data,
    shape: &[usize],
) -> Result<Data> {
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
