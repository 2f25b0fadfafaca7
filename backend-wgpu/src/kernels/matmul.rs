//! Batched matmul, operands read through their strides: 128x128 register-blocked tiles (8x8
//! outputs per invocation) when the output is large enough to fill the GPU with them, else
//! 64x64 tiles (4x4 per invocation), unless the autotuner ([`crate::autotune`]) measured the
//! other faster for this shape class on this adapter. `MLX_ARM_MATMUL_TILE=64|128` forces one.

use super::{i32s, shape_i32, w, Resident};
use crate::autotune::class;
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
    let record = |key: &KernelKey, tile: u32| -> Result<()> {
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
                key,
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
        Ok(())
    };
    if coop {
        // each operand's tile stored along its contiguous axis
        let key = KernelKey::MatmulCoop {
            dtype: dt,
            a_km: a.strides[nd - 1] != 1 && a.strides[nd - 2] == 1,
            b_km: b.strides[nd - 1] == 1,
        };
        record(&key, 128)?;
    } else {
        let problem = || {
            format!(
                "matmul {dt:?} m{} n{} k{} batch{} a{} b{}",
                class(m),
                class(n),
                class(k),
                class(batch),
                if a.strides[nd - 1] == 1 { "n" } else { "t" },
                if b.strides[nd - 1] == 1 { "n" } else { "t" },
            )
        };
        let tiles = tile_candidates(m, n, batch, dt);
        let tile = engine.tuned(
            problem,
            &tiles,
            |t| format!("tile{t}"),
            |&t| record(&KernelKey::Matmul { dtype: dt, tile: t }, t),
        )?;
        record(&KernelKey::Matmul { dtype: dt, tile }, tile)?;
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

/// Tile sides to try, the default first: 128 (8x8 outputs per invocation) for f32 outputs large
/// enough to fill the GPU with them, else 64; the other as the autotuner's alternative. Half
/// types keep 64x64 tiles only: their rounding code, inlined for 64 outputs per invocation, made
/// the 128 kernel 14x slower on an H100 (69 ms vs 5 ms at 4096^3). `MLX_ARM_MATMUL_TILE=64|128`
/// forces one.
fn tile_candidates(m: usize, n: usize, batch: usize, dt: Dtype) -> Vec<u32> {
    static FORCED: std::sync::OnceLock<Option<u32>> = std::sync::OnceLock::new();
    let forced = FORCED.get_or_init(|| {
        std::env::var("MLX_ARM_MATMUL_TILE")
            .ok()
            .and_then(|v| v.parse().ok())
            .filter(|t| [64, 128].contains(t))
    });
    match (forced, dt) {
        (Some(t), _) => vec![*t],
        (None, Dtype::Float32) if m * n * batch >= LARGE_OUTPUT => vec![128, 64],
        (None, Dtype::Float32) => vec![64, 128],
        (None, _) => vec![64],
    }
}
