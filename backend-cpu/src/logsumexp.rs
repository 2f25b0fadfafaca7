//! Fused logsumexp over the last axis: per row the maximum (an infinite one counts as 0, as in
//! MLX's op), then `max + log(sum(exp(x - max)))` with the SIMD exp and sum of `simd.rs`; half
//! types go through f32, f64 rows are scalar. Rows are spread over rayon.

use crate::simd;
use crate::view::{Host, Output};
use half::{bf16, f16};
use mlx_arm_core::buffer::Data;
use mlx_arm_core::{Dtype, Error, Result};
use rayon::prelude::*;

/// Rows per parallel task get at least this many elements.
const ROW_GRAIN: usize = 1 << 14;

fn finite_or_zero(m: f64) -> f64 {
    if m.is_infinite() {
        0.0
    } else {
        m
    }
}

/// logsumexp of one f32 row (`scratch` grows to twice the row's length).
fn row_f32(x: &[f32], scratch: &mut Vec<f32>) -> f32 {
    let m = finite_or_zero(simd::extremum_f32(x, true) as f64) as f32;
    scratch.resize(2 * x.len(), 0.0);
    let (shifted, exps) = scratch.split_at_mut(x.len());
    shifted.iter_mut().zip(x).for_each(|(d, &v)| *d = v - m);
    simd::exp_slice(shifted, exps);
    (m as f64 + simd::sum_f32(exps).ln()) as f32
}

fn row_f64(x: &[f64]) -> f64 {
    let m = finite_or_zero(x.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v)));
    m + x.iter().map(|&v| (v - m).exp()).sum::<f64>().ln()
}

/// `out[r] = f(row r)` for rows of length `n`, blocks of rows in parallel.
fn per_row<T: Sync, U: Send>(
    x: &[T],
    out: &mut [U],
    n: usize,
    f: impl Fn(&[T], &mut Vec<f32>) -> U + Sync,
) {
    let rows_per_task = ROW_GRAIN.div_ceil(n).max(1);
    out.par_chunks_mut(rows_per_task)
        .zip(x.par_chunks(rows_per_task * n))
        .for_each(|(o, x)| {
            let mut scratch = Vec::with_capacity(2 * n);
            for (o, row) in o.iter_mut().zip(x.chunks(n)) {
                *o = f(row, &mut scratch);
            }
        });
}

/// logsumexp over the last axis of `x` (any layout); `shape` keeps that axis as 1.
pub fn logsumexp(x: &Data, shape: &[usize]) -> Result<Data> {
    let n = *x.shape.last().unwrap_or(&1);
    let rows = if n == 0 { 0 } else { x.size() / n };
    let h = Host::of(x)?;
    let mut out = Output::new(x.dtype(), rows)?;
    if rows == 0 {
        return Ok(out.finish(shape));
    }
    let half = |v: &[f32], s: &mut Vec<f32>| row_f32(v, s);
    match x.dtype() {
        Dtype::Float32 => per_row(
            &h.view::<f32>().to_contiguous(),
            out.slice::<f32>(),
            n,
            row_f32,
        ),
        Dtype::Float64 => per_row(
            &h.view::<f64>().to_contiguous(),
            out.slice::<f64>(),
            n,
            |r, _| row_f64(r),
        ),
        Dtype::Float16 => per_row(
            &h.view::<f16>().to_contiguous(),
            out.slice::<f16>(),
            n,
            |r, s| f16::from_f32(half(&r.iter().map(|v| v.to_f32()).collect::<Vec<_>>(), s)),
        ),
        Dtype::Bfloat16 => per_row(
            &h.view::<bf16>().to_contiguous(),
            out.slice::<bf16>(),
            n,
            |r, s| bf16::from_f32(half(&r.iter().map(|v| v.to_f32()).collect::<Vec<_>>(), s)),
        ),
        other => {
            return Err(Error::dtype(
                "logsumexp",
                other,
                "only floating-point types are supported",
            ))
        }
    }
    Ok(out.finish(shape))
}
