//! Sort and argsort along an axis with a bitonic network over power-of-two padded lines.

use super::{i32s, shape_i32, w, Resident};
use crate::engine::{Engine, WG};
use mlx_arm_core::buffer::Data;
use mlx_arm_core::layout::{numel, row_major_strides};
use mlx_arm_core::{Dtype, Result};
use mlx_arm_wgsl::sources::KernelKey;
use std::sync::Arc;

/// Sorted values, or the sorting indices (uint32) when `indices`.
pub fn sort(
    engine: &Arc<Engine>,
    axis: usize,
    x: &Data,
    shape: &[usize],
    indices: bool,
) -> Result<Data> {
    let out_dt = if indices { Dtype::Uint32 } else { x.dtype() };
    let total = numel(shape);
    let out = engine.alloc(total)?;
    if total == 0 {
        return Ok(Engine::output(out, out_dt, shape));
    }
    let r = Resident::of(engine, x)?;
    let n = x.shape[axis];
    let lines = total / n;
    let p2 = n.next_power_of_two();
    let scratch = lines * p2;
    let keys = engine.alloc(scratch)?;
    let idx = engine.alloc(scratch)?;
    let ostr = row_major_strides(shape);
    let mut kshape = x.shape.clone();
    kshape[axis] = 1;
    let mut dims = shape_i32(&kshape);
    dims.extend(i32s(&x.strides));
    dims.extend(i32s(&ostr));
    let key = KernelKey::Sort {
        dtype: x.dtype(),
        indices,
    };
    let params = |k: usize, j: usize| {
        [
            lines as u32,
            n as u32,
            p2 as u32,
            kshape.len() as u32,
            k as u32,
            j as u32,
            w(x.strides[axis] as i32),
            w(ostr[axis] as i32),
            w(x.offset as i32),
            0,
            0,
            0,
        ]
    };
    let groups = scratch.div_ceil(WG as usize);
    engine.dispatch_1d(
        &key,
        "init",
        &params(0, 0),
        Some(&dims),
        &[(2, r.buf()), (3, keys.buf()), (4, idx.buf())],
        groups,
    )?;
    let mut k = 2;
    while k <= p2 {
        let mut j = k / 2;
        while j >= 1 {
            engine.dispatch_1d(
                &key,
                "step",
                &params(k, j),
                None,
                &[(3, keys.buf()), (4, idx.buf())],
                groups,
            )?;
            j /= 2;
        }
        k *= 2;
    }
    let src = if indices {
        (4, idx.buf())
    } else {
        (3, keys.buf())
    };
    engine.dispatch_1d(
        &key,
        "finish",
        &params(0, 0),
        Some(&dims),
        &[src, (5, out.buf())],
        total.div_ceil(WG as usize),
    )?;
    Ok(Engine::output(out, out_dt, shape))
}
