//! Batched matmul, operands read through their strides: 128x128 register-blocked tiles (8x8
//! outputs per invocation) when the output is large enough to fill the GPU with them, else
//! 64x64 tiles (4x4 per invocation). `MLX_ARM_MATMUL_TILE=64|128` forces one (benchmarks).

use super::{i32s, shape_i32, w, Resident};
use crate::engine::Engine;
use mlx_arm_core::buffer::Data;
use mlx_arm_core::layout::numel;
use mlx_arm_core::{Dtype, Result};
use mlx_arm_wgsl::sources::KernelKey;
use std::sync::Arc;

/// `[.., M, K] @ [.., K, N]` with equal batch shapes.
pub fn matmul(
    engine: &Arc<Engine>,
    a: &Data,
    b: &Data,
    shape: &[usize],
    dt: Dtype,
) -> Result<Data> {
    let nd = a.shape.len();
    let (m, k, n) = (a.shape[nd - 2], a.shape[nd - 1], b.shape[nd - 1]);
    let batch = numel(&a.shape[..nd - 2]);
    let mem = engine.alloc(numel(shape))?;
    if numel(shape) == 0 {
        return Ok(Engine::output(mem, dt, shape));
    }
    let (ra, rb) = (Resident::of(engine, a)?, Resident::of(engine, b)?);
    // decode-shaped x @ W^T: one row of A against columns of B that are contiguous in K
    if m == 1
        && batch == 1
        && k > 0
        && a.strides[nd - 1] == 1
        && b.strides[nd - 2] == 1
        && b.strides[nd - 1] >= 0
    {
        let params = [
            n as u32,
            k as u32,
            a.offset as u32,
            b.offset as u32,
            b.strides[nd - 1] as u32,
            0,
            0,
            0,
        ];
        engine.dispatch_1d(
            &KernelKey::Gemv { dtype: dt },
            "main",
            &params,
            None,
            &[(2, ra.buf()), (3, rb.buf()), (4, mem.buf())],
            n.div_ceil(8),
        )?;
        return Ok(Engine::output(mem, dt, shape));
    }
    let mut dims = shape_i32(&a.shape[..nd - 2]);
    dims.extend(i32s(&a.strides[..nd - 2]));
    dims.extend(i32s(&b.strides[..nd - 2]));
    // half types on tensor cores where the adapter has them (f16 products, f32 accumulation:
    // what MLX does for f16; bf16 inputs are rounded to f16 on the way in, so only f16 uses it)
    let coop = engine.gpu.coop_f16 && dt == Dtype::Float16 && dense_coop();
    let tile = if coop { 128 } else { tile_for(m, n, batch, dt) };
    let key = if coop {
        // each operand's tile stored along its contiguous axis
        KernelKey::MatmulCoop {
            dtype: dt,
            a_km: a.strides[nd - 1] != 1 && a.strides[nd - 2] == 1,
            b_km: b.strides[nd - 1] == 1,
        }
    } else {
        KernelKey::Matmul { dtype: dt, tile }
    };
    let max_z = engine.gpu.limits.max_compute_workgroups_per_dimension as usize;
    let mut base = 0usize;
    while base < batch {
        let z = (batch - base).min(max_z);
        let params = [
            m as u32,
            n as u32,
            k as u32,
            (nd - 2) as u32,
            w(a.strides[nd - 2] as i32),
            w(a.strides[nd - 1] as i32),
            w(b.strides[nd - 2] as i32),
            w(b.strides[nd - 1] as i32),
            w(a.offset as i32),
            w(b.offset as i32),
            base as u32,
            0,
        ];
        engine.dispatch(
            &key,
            "main",
            &params,
            Some(&dims),
            &[(2, ra.buf()), (3, rb.buf()), (4, mem.buf())],
            [
                n.div_ceil(tile as usize) as u32,
                m.div_ceil(tile as usize) as u32,
                z as u32,
            ],
        )?;
        base += z;
    }
    Ok(Engine::output(mem, dt, shape))
}

/// Whether dense f16 products take the cooperative-matrix kernel where the adapter has it (on;
/// `MLX_ARM_MATMUL_COOP=0` for the f32 tiles): f16 inputs are exact in its f16 tiles and it
/// accumulates in f32, as MLX's f16 matmul does. H200, 4096^3: 98.2 TFLOP/s vs 27.1 on the
/// f32 tiles.
fn dense_coop() -> bool {
    switch_on!("MLX_ARM_MATMUL_COOP")
}

/// Outputs (summed over the batch) from which 128x128 tiles win: at least ~256 tiles.
const LARGE_OUTPUT: usize = 256 * 128 * 128;

/// Half types keep 64x64 tiles: their rounding code, inlined for 64 outputs per invocation,
/// made the 128 kernel 14x slower on an H100 (69 ms vs 5 ms at 4096^3).
fn tile_for(m: usize, n: usize, batch: usize, dt: Dtype) -> u32 {
    static FORCED: std::sync::OnceLock<Option<u32>> = std::sync::OnceLock::new();
    let forced = FORCED.get_or_init(|| {
        std::env::var("MLX_ARM_MATMUL_TILE")
            .ok()
            .and_then(|v| v.parse().ok())
            .filter(|t| [64, 128].contains(t))
    });
    forced.unwrap_or(if dt == Dtype::Float32 && m * n * batch >= LARGE_OUTPUT {
        128
    } else {
        64
    })
}
