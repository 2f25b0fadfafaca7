//! Reductions over axes, arg-reductions and scans.

use super::{i32s, shape_i32, w, Resident};
use crate::engine::{Engine, WG};
use mlx_arm_core::buffer::Data;
use mlx_arm_core::layout::{numel, row_major_strides};
use mlx_arm_core::primitive::{ArgReduceOp, ReduceOp, ScanOp};
use mlx_arm_core::{Dtype, Result};
use mlx_arm_wgsl::sources::KernelKey;
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

/// Reduction over `axes` (output keeps them with size 1).
pub fn reduce(engine: &Arc<Engine>, op: ReduceOp, axes: &[usize], x: &Data, shape: &[usize], out_dt: Dtype) -> Result<Data> {
    let r = Resident::of(engine, x)?;
    let (ks, kst, rs, rst) = split(x, axes);
    let n_out = numel(shape);
    let red: usize = rs.iter().map(|&v| v as usize).product();
    let mem = engine.alloc(n_out)?;
    let mut dims = ks.clone();
    dims.extend(&kst);
    dims.extend(&rs);
    dims.extend(&rst);
    let params = [n_out as u32, red as u32, ks.len() as u32, rs.len() as u32, w(x.offset as i32), 0, 0, 0];
    let key = KernelKey::Reduce { op, input: x.dtype(), out: out_dt };
    engine.dispatch_1d(&key, "main", &params, Some(&dims), &[(2, r.buf()), (3, mem.buf())], n_out)?;
    Ok(Engine::output(mem, out_dt, shape))
}

/// Index of the extremum along `axis`.
pub fn arg_reduce(engine: &Arc<Engine>, op: ArgReduceOp, axis: usize, x: &Data, shape: &[usize]) -> Result<Data> {
    let r = Resident::of(engine, x)?;
    let (ks, kst, _, _) = split(x, &[axis]);
    let n_out = numel(shape);
    let mem = engine.alloc(n_out)?;
    let mut dims = ks.clone();
    dims.extend(&kst);
    let params = [n_out as u32, x.shape[axis] as u32, ks.len() as u32, w(x.strides[axis] as i32), w(x.offset as i32), 0, 0, 0];
    engine.dispatch_1d(&KernelKey::ArgReduce { op, input: x.dtype() }, "main", &params, Some(&dims), &[(2, r.buf()), (3, mem.buf())], n_out)?;
    Ok(Engine::output(mem, Dtype::Uint32, shape))
}

/// Cumulative reduction along `axis`, one invocation per line.
pub fn scan(engine: &Arc<Engine>, op: ScanOp, axis: usize, reverse: bool, inclusive: bool, x: &Data, shape: &[usize]) -> Result<Data> {
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
    let params = [lines as u32, n as u32, ks.len() as u32, reverse as u32, inclusive as u32, w(x.offset as i32), w(x.strides[axis] as i32), w(ostr[axis] as i32)];
    let _ = shape_i32;
    engine.dispatch_1d(&KernelKey::Scan { op, dtype: x.dtype() }, "main", &params, Some(&dims), &[(2, r.buf()), (3, mem.buf())], lines.div_ceil(WG as usize))?;
    Ok(Engine::output(mem, x.dtype(), shape))
}
