//! Reductions over axes, arg-reductions and scans.

use super::{i32s, w, Resident};
use crate::engine::{Engine, WG};
use mlx_arm_core::buffer::Data;
use mlx_arm_core::layout::{numel, row_major_strides};
use mlx_arm_core::primitive::{ArgReduceOp, ReduceOp, ScanOp};
use mlx_arm_core::{Dtype, Result};
use mlx_arm_wgsl::sources::KernelKey;
use mlx_arm_wgsl::Scalar;
use std::sync::Arc;

fn split(x: &Data, axes: &[usize]) -> (Vec<i32>, Vec<i32>, Vec<i32>, Vec<i32>) {
    let (mut ks, mut kst, mut rs, mut rst) = (vec![], vec![], vec![], vec![]);
    for d in 0..x.shape.len() {
        if axes.contains(&d) {
            rs.push(x.shape[d] as i32);
            rst.push(x.strides[d] as i32);
        } else {
            ks.push(x.shape[d] as i32);
            kst.push(x.strides[d] as i32);
        }
    }
    (ks, kst, rs, rst)
}

/// The dtype partial results are kept in between the two passes of a split reduction (the
/// accumulator's storage, so float16 sums are not rounded halfway).
fn partial_dtype(op: ReduceOp, input: Dtype) -> Dtype {
    match (op, mlx_arm_wgsl::scalar(input)) {
        (ReduceOp::And | ReduceOp::Or, _) => Dtype::Bool,
        (_, Scalar::F32) => Dtype::Float32,
        (_, Scalar::I32) => Dtype::Int32,
        (_, Scalar::U32) => Dtype::Uint32,
    }
}

/// Reduction over `axes` (output keeps them with size 1). One workgroup reduces each output; when
/// there are few outputs and long lines, each line is split over up to 1,024 workgroups and a
/// second pass reduces the partials.
pub fn reduce(
    engine: &Arc<Engine>,
    op: ReduceOp,
    axes: &[usize],
    x: &Data,
    shape: &[usize],
    out_dt: Dtype,
) -> Result<Data> {
    let r = Resident::of(engine, x)?;
    let n_out = numel(shape);
    // the leading axes of a dense input, many columns: one invocation per column
    if x.is_row_contiguous()
        && (64..=65_535 * WG as usize).contains(&n_out)
        && axes.iter().all(|&a| a < axes.len())
    {
        return reduce_columns(engine, op, &r, x, n_out, shape, out_dt);
    }
    let (ks, kst, rs, rst) = split(x, axes);
    let red: usize = rs.iter().map(|&v| v as usize).product();
    let mem = engine.alloc(n_out)?;
    let mut dims = ks.clone();
    dims.extend(&kst);
    dims.extend(&rs);
    dims.extend(&rst);
    let chunks = if n_out <= 4096 && red >= 1 << 16 {
        (red / 16384).clamp(2, 1024)
    } else {
        1
    };
    let chunk = red.div_ceil(chunks).max(1);
    // the reduced axes are the trailing ones of a dense input: lines are consecutive
    let inner_dense =
        x.is_row_contiguous() && axes.iter().all(|&a| a >= x.shape.len() - axes.len());
    let params = |n: usize,
                  red: usize,
                  nk: usize,
                  nr: usize,
                  off: i32,
                  chunks: usize,
                  chunk: usize,
                  dense: bool| {
        [
            n as u32,
            red as u32,
            nk as u32,
            nr as u32,
            w(off),
            chunks as u32,
            chunk as u32,
            dense as u32,
        ]
    };
    if chunks == 1 {
        let key = KernelKey::Reduce {
            op,
            input: x.dtype(),
            out: out_dt,
        };
        let p = params(
            n_out,
            red,
            ks.len(),
            rs.len(),
            x.offset as i32,
            1,
            chunk,
            inner_dense,
        );
        engine.dispatch_1d(
            &key,
            "main",
            &p,
            Some(&dims),
            &[(2, r.buf()), (3, mem.buf())],
            n_out,
        )?;
        return Ok(Engine::output(mem, out_dt, shape));
    }
    let pdt = partial_dtype(op, x.dtype());
    let partials = engine.alloc(n_out * chunks)?;
    let key = KernelKey::Reduce {
        op,
        input: x.dtype(),
        out: pdt,
    };
    let p = params(
        n_out,
        red,
        ks.len(),
        rs.len(),
        x.offset as i32,
        chunks,
        chunk,
        inner_dense,
    );
    engine.dispatch_1d(
        &key,
        "main",
        &p,
        Some(&dims),
        &[(2, r.buf()), (3, partials.buf())],
        n_out * chunks,
    )?;
    // partials are dense [n_out, chunks]: reduce the last axis
    let dims2 = [n_out as i32, chunks as i32, chunks as i32, 1];
    let key2 = KernelKey::Reduce {
        op,
        input: pdt,
        out: out_dt,
    };
    let p2 = params(n_out, chunks, 1, 1, 0, 1, chunks, true);
    engine.dispatch_1d(
        &key2,
        "main",
        &p2,
        Some(&dims2),
        &[(2, partials.buf()), (3, mem.buf())],
        n_out,
    )?;
    Ok(Engine::output(mem, out_dt, shape))
}

/// [`reduce`] over the leading axes of dense `x` viewed as `[rows, n_out]`: chunks of rows per
/// invocation (enough chunks for ~256 Ki invocations), then one more pass over the partials.
fn reduce_columns(
    engine: &Arc<Engine>,
    op: ReduceOp,
    r: &Resident,
    x: &Data,
    cols: usize,
    shape: &[usize],
    out_dt: Dtype,
) -> Result<Data> {
    let rows = x.size() / cols.max(1);
    let mem = engine.alloc(cols)?;
    let groups_x = cols.div_ceil(WG as usize) as u32;
    let chunks = (262_144 / cols)
        .clamp(1, rows.div_ceil(64).max(1))
        .min(65_535);
    let per = rows.div_ceil(chunks);
    let chunks = rows.div_ceil(per).max(1);
    if chunks == 1 {
        let key = KernelKey::ReduceCols {
            op,
            input: x.dtype(),
            out: out_dt,
        };
        let p = [rows as u32, cols as u32, per.max(1) as u32, x.offset as u32];
        engine.dispatch(
            &key,
            "main",
            &p,
            None,
            &[(2, r.buf()), (3, mem.buf())],
            [groups_x, 1, 1],
        )?;
        return Ok(Engine::output(mem, out_dt, shape));
    }
    let pdt = partial_dtype(op, x.dtype());
    let partials = engine.alloc(chunks * cols)?;
    let key = KernelKey::ReduceCols {
        op,
        input: x.dtype(),
        out: pdt,
    };
    let p = [rows as u32, cols as u32, per as u32, x.offset as u32];
    engine.dispatch(
        &key,
        "main",
        &p,
        None,
        &[(2, r.buf()), (3, partials.buf())],
        [groups_x, chunks as u32, 1],
    )?;
    let key2 = KernelKey::ReduceCols {
        op,
        input: pdt,
        out: out_dt,
    };
    let p2 = [chunks as u32, cols as u32, chunks as u32, 0];
    engine.dispatch(
        &key2,
        "main",
        &p2,
        None,
        &[(2, partials.buf()), (3, mem.buf())],
        [groups_x, 1, 1],
    )?;
    Ok(Engine::output(mem, out_dt, shape))
}

/// Values per workgroup when an arg-reduction splits long lines (fewer than 64 of them).
const ARG_SEGMENT: usize = 4096;

/// Index of the extremum along `axis`.
pub fn arg_reduce(
    engine: &Arc<Engine>,
    op: ArgReduceOp,
    axis: usize,
    x: &Data,
    shape: &[usize],
) -> Result<Data> {
    let r = Resident::of(engine, x)?;
    let (ks, kst, _, _) = split(x, &[axis]);
    let n_out = numel(shape);
    let mem = engine.alloc(n_out)?;
    let mut dims = ks.clone();
    dims.extend(&kst);
    let n = x.shape[axis];
    let key = KernelKey::ArgReduce {
        op,
        input: x.dtype(),
    };
    // few long lines: split each over workgroups of ARG_SEGMENT values, then combine
    let segs = if n_out < 64 {
        n.div_ceil(ARG_SEGMENT).min(256)
    } else {
        1
    };
    let seg_len = n.div_ceil(segs);
    let params = [
        n_out as u32,
        n as u32,
        ks.len() as u32,
        w(x.strides[axis] as i32),
        w(x.offset as i32),
        segs as u32,
        seg_len as u32,
        0,
    ];
    if segs == 1 {
        engine.dispatch_1d(
            &key,
            "main",
            &params,
            Some(&dims),
            &[(2, r.buf()), (3, mem.buf())],
            n_out,
        )?;
    } else {
        let (vals, idx) = (engine.alloc(n_out * segs)?, engine.alloc(n_out * segs)?);
        engine.dispatch_1d(
            &key,
            "partial",
            &params,
            Some(&dims),
            &[(2, r.buf()), (4, vals.buf()), (5, idx.buf())],
            n_out * segs,
        )?;
        engine.dispatch_1d(
            &key,
            "combine",
            &params,
            None,
            &[(3, mem.buf()), (4, vals.buf()), (5, idx.buf())],
            n_out,
        )?;
    }
    Ok(Engine::output(mem, Dtype::Uint32, shape))
}

/// Cumulative reduction along `axis`, one invocation per line.
pub fn scan(
    engine: &Arc<Engine>,
    op: ScanOp,
    axis: usize,
    reverse: bool,
    inclusive: bool,
    x: &Data,
    shape: &[usize],
) -> Result<Data> {
    let r = Resident::of(engine, x)?;
    let n = x.shape[axis];
    let total = numel(shape);
    let mem = engine.alloc(total)?;
    if total == 0 {
        return Ok(Engine::output(mem, x.dtype(), shape));
    }
    let ostr = row_major_strides(shape);
    let (ks, kst, _, _) = split(x, &[axis]);
    let mut ost = ostr.clone();
    ost.remove(axis);
    let mut dims = ks.clone();
    dims.extend(&kst);
    dims.extend(i32s(&ost));
    let lines = total / n;
    let params = [
        lines as u32,
        n as u32,
        ks.len() as u32,
        reverse as u32,
        inclusive as u32,
        w(x.offset as i32),
        w(x.strides[axis] as i32),
        w(ostr[axis] as i32),
    ];
    engine.dispatch_1d(
        &KernelKey::Scan {
            op,
            dtype: x.dtype(),
        },
        "main",
        &params,
        Some(&dims),
        &[(2, r.buf()), (3, mem.buf())],
        lines.div_ceil(WG as usize),
    )?;
    Ok(Engine::output(mem, x.dtype(), shape))
}
