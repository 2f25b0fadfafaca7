//! Fused softmax over the last axis: one task per block of rows, each row read once for its
//! maximum and once for the exponentials (written straight to the output), then scaled in place
//! (the row is still in cache). f32 rows run the SIMD kernel of `simd.rs` (vectorised max, exp
//! and sum); half types are computed in f32 through it and rounded once; f64 rows are scalar.

use crate::simd;
use crate::view::{Host, Output};
use half::{bf16, f16};
use mlx_arm_core::buffer::Data;
use mlx_arm_core::{Dtype, Error, Result};
use rayon::prelude::*;

/// Rows per parallel task get at least this many elements.
const ROW_GRAIN: usize = 1 << 14;

fn softmax_row_f64(x: &[f64], out: &mut [f64]) {
    // no shift guard: as in MLX, +inf in a row (or a row of -inf) makes the row NaN
    let m = x.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v));
    let mut sum = 0.0f64;
    for (o, &v) in out.iter_mut().zip(x) {
        let e = (v - m).exp();
        *o = e;
        sum += e;
    }
    let inv = 1.0 / sum;
    out.iter_mut().for_each(|o| *o *= inv);
}

/// Runs `block(x_rows, out_rows)` over blocks of whole rows of length `n`, spread over rayon.
pub(crate) fn row_blocks<T: Sync, U: Send>(
    x: &[T],
    out: &mut [U],
    n: usize,
    block: impl Fn(&[T], &mut [U]) + Sync,
) {
    let per_task = ROW_GRAIN.div_ceil(n).max(1) * n;
    if out.len() <= per_task {
        return block(x, out);
    }
    out.par_chunks_mut(per_task)
        .zip(x.par_chunks(per_task))
        .for_each(|(o, x)| block(x, o));
}

/// Runs `row(x_row, out_row)` over every row of length `n`, rows spread over rayon.
pub(crate) fn rows<T: Sync, U: Send>(
    x: &[T],
    out: &mut [U],
    n: usize,
    row: impl Fn(&[T], &mut [U]) + Sync,
) {
    row_blocks(x, out, n, |x, o| {
        for (o, x) in o.chunks_mut(n).zip(x.chunks(n)) {
            row(x, o);
        }
    });
}

fn softmax_half<H: Copy + Send + Sync + 'static>(
    x: &[H],
    out: &mut [H],
    n: usize,
    to: fn(H) -> f32,
    from: fn(f32) -> H,
) {
    row_blocks(x, out, n, |x, o| {
        let xs: Vec<f32> = x.iter().map(|&v| to(v)).collect();
        let mut ys = vec![0.0f32; xs.len()];
        simd::softmax_rows(&xs, &mut ys, n);
        o.iter_mut().zip(&ys).for_each(|(o, &y)| *o = from(y));
    });
}

/// Softmax over the last axis of `x` (any layout; non-dense inputs are gathered first).
pub fn softmax(x: &Data, shape: &[usize]) -> Result<Data> {
    let n = *shape.last().unwrap_or(&1);
    let h = Host::of(x)?;
    let mut out = Output::new(x.dtype(), x.size())?;
    if x.size() == 0 {
        return Ok(out.finish(shape));
    }
    match x.dtype() {
        Dtype::Float32 => row_blocks(
            &h.view::<f32>().to_contiguous(),
            out.slice::<f32>(),
            n,
            |x, o| simd::softmax_rows(x, o, n),
        ),
        Dtype::Float64 => rows(
            &h.view::<f64>().to_contiguous(),
            out.slice::<f64>(),
            n,
            softmax_row_f64,
        ),
        Dtype::Float16 => softmax_half(
            &h.view::<f16>().to_contiguous(),
            out.slice::<f16>(),
            n,
            f16::to_f32,
            f16::from_f32,
        ),
        Dtype::Bfloat16 => softmax_half(
            &h.view::<bf16>().to_contiguous(),
            out.slice::<bf16>(),
            n,
            bf16::to_f32,
            bf16::from_f32,
        ),
        other => {
            return Err(Error::dtype(
                "softmax",
                other,
                "only floating-point types are supported",
            ))
        }
    }
    Ok(out.finish(shape))
}
