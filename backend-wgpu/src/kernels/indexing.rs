//! take, take_along_axis and scatter along an axis (set, or add with atomics).

use super::{i32s, shape_i32, Resident};
use crate::engine::{Engine, GpuMem, WG};
use crate::kernels::elementwise::{copy, map, map_into, OutView};
use mlx_arm_core::buffer::Data;
use mlx_arm_core::layout::{numel, row_major_strides};
use mlx_arm_core::primitive::ScatterMode;
use mlx_arm_core::{Dtype, Result};
use mlx_arm_wgsl::sources::{KernelKey, MapOp, ScaleStore};
use std::sync::Arc;

/// A dense view starting at element 0 (copying when `d` is not one).
fn dense(engine: &Arc<Engine>, d: &Data) -> Result<Data> {
    if d.is_row_contiguous() && d.offset == 0 {
        return Ok(d.clone());
    }
    copy(engine, d, &d.shape)
}

fn gather(
    engine: &Arc<Engine>,
    along: bool,
    a: &Data,
    idx: &Data,
    ni: usize,
    axis: usize,
    shape: &[usize],
) -> Result<Data> {
    let total = numel(shape);
    let mem = engine.alloc(total)?;
    if total == 0 {
        return Ok(Engine::output(mem, a.dtype(), shape));
    }
    let strided_rows = a.shape.len() == 2 && a.offset >= 0 && a.strides.iter().all(|&s| s >= 0);
    if !along && axis == 0 && strided_rows {
        return gather_rows(engine, a, idx, mem, shape);
    }
    let (a, idx) = (dense(engine, a)?, dense(engine, idx)?);
    let (ra, ri) = (Resident::of(engine, &a)?, Resident::of(engine, &idx)?);
    let inner = numel(&a.shape[axis + 1..]);
    let params = [total as u32, ni as u32, a.shape[axis] as u32, inner as u32];
    let key = KernelKey::Gather {
        along,
        dtype: a.dtype(),
    };
    engine.dispatch_1d(
        &key,
        "main",
        &params,
        None,
        &[(2, ra.buf()), (3, ri.buf()), (4, mem.buf())],
        total.div_ceil(WG as usize),
    )?;
    Ok(Engine::output(mem, a.dtype(), shape))
}

/// Rows `idx` of the 2-D view `a` read where they lie (any strides; packed 16-bit floats read
/// packed: an embedding's f16 scales are neither copied dense nor widened per lookup).
fn gather_rows(
    engine: &Arc<Engine>,
    a: &Data,
    idx: &Data,
    mem: Arc<GpuMem>,
    shape: &[usize],
) -> Result<Data> {
    let idx = dense(engine, idx)?;
    let ri = Resident::of(engine, &idx)?;
    let ra = Resident::packed_ok(engine, a)?;
    let (ra, store) = match (ra.packed16(), a.dtype()) {
        (true, Dtype::Bfloat16) => (ra, ScaleStore::Bf16),
        (true, _) => (ra, ScaleStore::F16),
        (false, _) => (Resident::of(engine, a)?, ScaleStore::Wide),
    };
    let total = numel(shape);
    let params = [
        total as u32,
        idx.size() as u32,
        a.shape[0] as u32,
        a.shape[1] as u32,
        a.offset as u32,
        a.strides[0] as u32,
        a.strides[1] as u32,
        0,
    ];
    let key = KernelKey::GatherRows {
        dtype: a.dtype(),
        store,
    };
    engine.dispatch_1d(
        &key,
        "main",
        &params,
        None,
        &[(2, ra.buf()), (3, ri.buf()), (4, mem.buf())],
        total.div_ceil(WG as usize),
    )?;
    Ok(Engine::output(mem, a.dtype(), shape))
}

/// `take(a, idx, axis)`.
pub fn take(
    engine: &Arc<Engine>,
    axis: usize,
    a: &Data,
    idx: &Data,
    shape: &[usize],
) -> Result<Data> {
    gather(engine, false, a, idx, idx.size(), axis, shape)
}

/// `take_along_axis(a, idx, axis)`.
pub fn take_along_axis(
    engine: &Arc<Engine>,
    axis: usize,
    a: &Data,
    idx: &Data,
    shape: &[usize],
) -> Result<Data> {
    gather(engine, true, a, idx, idx.shape[axis], axis, shape)
}

/// Copy of `a` with `upd` written or added at `idx` along `axis`.
pub fn scatter(
    engine: &Arc<Engine>,
    axis: usize,
    mode: ScatterMode,
    a: &Data,
    idx: &Data,
    upd: &Data,
    shape: &[usize],
) -> Result<Data> {
    let dt = a.dtype();
    let out = map(engine, MapOp::Copy, std::slice::from_ref(a), shape, dt)?;
    let total = idx.size();
    if total == 0 {
        return Ok(out);
    }
    let (idx, upd) = (dense(engine, idx)?, dense(engine, upd)?);
    let (ri, ru, ro) = (
        Resident::of(engine, &idx)?,
        Resident::of(engine, &upd)?,
        Resident::of(engine, &out)?,
    );
    let mut ostr = row_major_strides(shape);
    let axis_stride = ostr[axis];
    ostr[axis] = 0;
    let mut dims = shape_i32(&idx.shape);
    dims.extend(i32s(&ostr));
    let params = [
        total as u32,
        idx.shape.len() as u32,
        shape[axis] as u32,
        axis_stride as u32,
    ];
    let add = mode == ScatterMode::Add;
    let key = KernelKey::Scatter { add, dtype: dt };
    engine.dispatch_1d(
        &key,
        "main",
        &params,
        Some(&dims),
        &[(2, ru.buf()), (3, ri.buf()), (4, ro.buf())],
        total.div_ceil(WG as usize),
    )?;
    let exact_32 = matches!(dt, Dtype::Float32 | Dtype::Int32 | Dtype::Uint32);
    if add && !exact_32 {
        // atomics accumulated in 32 bits: round/wrap back to the dtype
        let mem = engine.alloc(numel(shape))?;
        map_into(
            engine,
            MapOp::Copy,
            std::slice::from_ref(&out),
            dt,
            &OutView {
                mem: &mem,
                shape,
                strides: row_major_strides(shape),
                offset: 0,
            },
        )?;
        return Ok(Engine::output(mem, dt, shape));
    }
    Ok(out)
}
