//! Affine-quantized kernels on MLX's packed weights (see `mlx_arm_core::ops::quantized`):
//! `dequantize` (one invocation per value, bit-exact with MLX), and `quantized_matmul` as
//! - `qmv.wgsl`, a mat-vec for decode shapes (`transpose` and at most [`MATVEC_MAX_ROWS`] rows
//!   of x): 32 invocations per weight row reading whole packed words (vec4 loads for 4 and 8
//!   bits), per group `scale·dot(x, q) + bias·Σx`;
//! - `qmm.wgsl`, 64x64 output tiles that dequantize a 32 x 64 slab of W into workgroup memory
//!   per K-step (prefill, and `transpose == false`, which gradients use).
//! Inputs that are not dense (or whose offsets break the vector loads' alignment) are copied
//! dense first with the elementwise copy kernel.

use super::{elementwise, Resident};
use crate::engine::{Engine, WG};
use mlx_arm_core::buffer::Data;
use mlx_arm_core::layout::numel;
use mlx_arm_core::{Dtype, Result};
use mlx_arm_wgsl::sources::{KernelKey, MapOp};
use std::sync::Arc;

/// Rows of x up to which `quantized_matmul` (transposed) takes the mat-vec kernel.
pub const MATVEC_MAX_ROWS: usize = 4;
/// Output rows per workgroup of the mat-vec kernel.
/// Weight rows per 32 invocations of the mat-vec (a workgroup is two of them):
/// `MLX_ARM_QMV_RPW` = 2, 4 (default), 8 or 16, for tuning on new hardware.
fn matvec_rows_per_warp() -> usize {
    static RPW: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *RPW.get_or_init(|| {
        std::env::var("MLX_ARM_QMV_RPW").ok().and_then(|v| v.parse().ok()).filter(|r| [2, 4, 8, 16].contains(r)).unwrap_or(4)
    })
}
/// Output tile side of the tiled kernel.
const TILE: usize = 64;

/// `d` itself when dense with an offset that is a multiple of `align` elements, else a dense
/// copy (at offset 0).
fn dense(e: &Arc<Engine>, d: &Data, align: usize) -> Result<Data> {
    if d.is_row_contiguous() && d.offset >= 0 && d.offset as usize % align == 0 {
        return Ok(d.clone());
    }
    elementwise::map(e, MapOp::Copy, std::slice::from_ref(d), &d.shape, d.dtype())
}

/// `dequantize(w, scales, biases)` into `shape` / `dt`.
pub fn dequantize(e: &Arc<Engine>, inputs: &[Data], gs: usize, bits: usize, shape: &[usize], dt: Dtype) -> Result<Data> {
    let total = numel(shape);
    let mem = e.alloc(total)?;
    if total == 0 {
        return Ok(Engine::output(mem, dt, shape));
    }
    let (w, s, b) = (dense(e, &inputs[0], 1)?, dense(e, &inputs[1], 1)?, dense(e, &inputs[2], 1)?);
    let (rw, rs, rb) = (Resident::of(e, &w)?, Resident::of(e, &s)?, Resident::of(e, &b)?);
    let n = shape[shape.len() - 1];
    let params = [total as u32, n as u32, (n * bits / 32) as u32, gs as u32, w.offset as u32, s.offset as u32, b.offset as u32, 0];
    let key = KernelKey::QDequantize { dtype: dt, bits: bits as u32 };
    let bufs = [(2, rw.buf()), (3, rs.buf()), (4, rb.buf()), (5, mem.buf())];
    e.dispatch_1d(&key, "main", &params, None, &bufs, total.div_ceil(WG as usize))?;
    Ok(Engine::output(mem, dt, shape))
}

/// `quantized_matmul(x, w, scales, biases)` into `shape` / `dt`.
pub fn quantized_matmul(e: &Arc<Engine>, inputs: &[Data], gs: usize, bits: usize, transpose: bool, shape: &[usize], dt: Dtype) -> Result<Data> {
    let n = shape[shape.len() - 1];
    let total = numel(shape);
    let mem = e.alloc(total)?;
    if total == 0 {
        return Ok(Engine::output(mem, dt, shape));
    }
    let m = total / n;
    let k = inputs[0].shape[inputs[0].shape.len() - 1];
    // vec4 loads of x and of the packed words need 16-byte aligned offsets
    let x = dense(e, &inputs[0], 4)?;
    let w = dense(e, &inputs[1], 4)?;
    let (s, b) = (dense(e, &inputs[2], 1)?, dense(e, &inputs[3], 1)?);
    let (rx, rw, rs, rb) = (Resident::of(e, &x)?, Resident::of(e, &w)?, Resident::of(e, &s)?, Resident::of(e, &b)?);
    let bufs = [(2, rx.buf()), (3, rw.buf()), (4, rs.buf()), (5, rb.buf()), (6, mem.buf())];
    let cols = if transpose { k } else { n }; // values per packed row
    let row_words = (cols * bits / 32) as u32;
    let groups = (cols / gs) as u32;
    let bits = bits as u32;
    if transpose && m <= MATVEC_MAX_ROWS {
        let rpw = matvec_rows_per_warp();
        let blocks = n.div_ceil(2 * rpw);
        let params = [
            n as u32, k as u32, blocks as u32, x.offset as u32, w.offset as u32, s.offset as u32, b.offset as u32, row_words, groups, (gs / 32) as u32, 0, 0,
        ];
        e.dispatch_1d(&KernelKey::QMatvec { dtype: dt, bits, rows: m as u32, rpw: rpw as u32 }, "main", &params, None, &bufs, blocks)?;
    } else {
        let tn = n.div_ceil(TILE);
        let tiles = tn * m.div_ceil(TILE);
        let params = [
            m as u32, n as u32, k as u32, tn as u32, tiles as u32, x.offset as u32, w.offset as u32, s.offset as u32, b.offset as u32, row_words, groups, gs as u32,
        ];
        e.dispatch_1d(&KernelKey::QMatmul { dtype: dt, bits, transpose }, "main", &params, None, &bufs, tiles)?;
    }
    Ok(Engine::output(mem, dt, shape))
}
