//! Fused softmax and logsumexp over the last axis: one workgroup per row (max, sum of exp, then
//! the scaled row or one value).

use super::{elementwise, Resident};
use crate::engine::Engine;
use mlx_arm_core::buffer::Data;
use mlx_arm_core::layout::numel;
use mlx_arm_core::Result;
use mlx_arm_wgsl::sources::KernelKey;
use std::sync::Arc;

/// Softmax over the last axis of `x` (made dense first when it is a strided view), or with
/// `lse` logsumexp over it (`shape` is then the input's with the last axis 1).
pub fn softmax(engine: &Arc<Engine>, x: &Data, shape: &[usize], lse: bool) -> Result<Data> {
    let dt = x.dtype();
    let dense = if x.is_row_contiguous() {
        x.clone()
    } else {
        elementwise::copy(engine, x, &x.shape)?
    };
    let total = x.size();
    let mem = engine.alloc(numel(shape))?;
    let n = *x.shape.last().unwrap_or(&1);
    if total == 0 {
        return Ok(Engine::output(mem, dt, shape));
    }
    let r = Resident::of(engine, &dense)?;
    let params = [(total / n) as u32, n as u32, dense.offset as u32, 0];
    engine.dispatch_1d(
        &KernelKey::Softmax { dtype: dt, lse },
        "main",
        &params,
        None,
        &[(2, r.buf()), (3, mem.buf())],
        total / n,
    )?;
    Ok(Engine::output(mem, dt, shape))
}
