//! Fused `fast` kernels over the last axis: RMS normalisation (one pass for the sum of squares,
//! one to scale and weight) and rotary position embedding (a `[L, dims/2]` table of cos/sin
//! built once, then every row rotated from it). Inputs of any layout are made dense first; rows
//! spread over rayon. Half types compute in f32 and round once (rms_norm rounds `x · r` before
//! the weight multiplies it, as MLX's kernel); f64 computes in f64.

use crate::softmax::rows;
use crate::view::{Host, Output};
use half::{bf16, f16};
use mlx_arm_core::buffer::Data;
use mlx_arm_core::{Dtype, Error, Result};

/// Sum of squares of a row in f32, eight independent accumulators (vectorises).
fn sum_sq<T: Copy>(x: &[T], to: impl Fn(T) -> f32) -> f32 {
    let mut acc = [0.0f32; 8];
    let mut chunks = x.chunks_exact(8);
    for c in &mut chunks {
        for (a, &v) in acc.iter_mut().zip(c) {
            let v = to(v);
            *a += v * v;
        }
    }
    let mut s = chunks
        .remainder()
        .iter()
        .fold(0.0f32, |s, &v| s + to(v) * to(v));
    for a in acc {
        s += a;
    }
    s
}

fn rms_rows<T: Copy + Send + Sync>(
    x: &[T],
    w: Option<&[T]>,
    out: &mut [T],
    n: usize,
    eps: f32,
    to: impl Fn(T) -> f32 + Sync + Copy,
    from: impl Fn(f32) -> T + Sync,
) {
    rows(x, out, n, |x, o| {
        let r = 1.0 / (sum_sq(x, to) / n as f32 + eps).sqrt();
        match w {
            Some(w) => o
                .iter_mut()
                .zip(x)
                .zip(w)
                .for_each(|((o, &v), &w)| *o = from(to(from(to(v) * r)) * to(w))),
            None => o.iter_mut().zip(x).for_each(|(o, &v)| *o = from(to(v) * r)),
        }
    });
}

fn rms_rows_f64(x: &[f64], w: Option<&[f64]>, out: &mut [f64], n: usize, eps: f32) {
    rows(x, out, n, |x, o| {
        let r = 1.0 / (x.iter().map(|v| v * v).sum::<f64>() / n as f64 + eps as f64).sqrt();
        match w {
            Some(w) => o
                .iter_mut()
                .zip(x)
                .zip(w)
                .for_each(|((o, &v), &w)| *o = v * r * w),
            None => o.iter_mut().zip(x).for_each(|(o, &v)| *o = v * r),
        }
    });
}

/// `x · rsqrt(mean(x²) + eps) · w` over the last axis (`w` `[D]` of x's dtype, optional).
pub fn rms_norm(x: &Data, w: Option<&Data>, eps: f32, shape: &[usize]) -> Result<Data> {
    let n = *shape.last().unwrap_or(&1);
    let mut out = Output::new(x.dtype(), x.size())?;
    if x.size() == 0 {
        return Ok(out.finish(shape));
    }
    let h = Host::of(x)?;
    let hw = w.map(Host::of).transpose()?;
    macro_rules! run {
        ($t:ty, $to:expr, $from:expr) => {{
            let wv = hw.as_ref().map(|h| h.view::<$t>().to_contiguous());
            rms_rows(
                &h.view::<$t>().to_contiguous(),
                wv.as_deref(),
                out.slice::<$t>(),
                n,
                eps,
                $to,
                $from,
            )
        }};
    }
    match x.dtype() {
        Dtype::Float32 => run!(f32, |v: f32| v, |v: f32| v),
        Dtype::Float16 => run!(f16, f16::to_f32, f16::from_f32),
        Dtype::Bfloat16 => run!(bf16, bf16::to_f32, bf16::from_f32),
        Dtype::Float64 => {
            let wv = hw.as_ref().map(|h| h.view::<f64>().to_contiguous());
            rms_rows_f64(
                &h.view::<f64>().to_contiguous(),
                wv.as_deref(),
                out.slice::<f64>(),
                n,
                eps,
            )
        }
        other => {
            return Err(Error::dtype(
                "rms_norm",
                other,
                "only floating-point types are supported",
            ))
        }
    }
    Ok(out.finish(shape))
}

/// The rope's parameters.
#[derive(Debug, Clone, Copy)]
pub struct RopeArgs {
    pub dims: usize,
    pub traditional: bool,
    pub base: f32,
    pub scale: f32,
    pub offset: usize,
}

fn rope_rows<T: Copy + Send + Sync>(
    x: &[T],
    out: &mut [T],
    a: RopeArgs,
    l: usize,
    d: usize,
    cs: &[(f32, f32)],
    to: impl Fn(T) -> f32 + Sync,
    from: impl Fn(f32) -> T + Sync,
) {
    let half = a.dims / 2;
    // one task unit = one [L, D] matrix, so row r of a block is position r % L
    rows(x, out, l * d, |x, o| {
        for (p, (o, x)) in o.chunks_mut(d).zip(x.chunks(d)).enumerate() {
            let cs = &cs[p * half..(p + 1) * half];
            for (i, &(c, s)) in cs.iter().enumerate() {
                let (ia, ib) = if a.traditional {
                    (2 * i, 2 * i + 1)
                } else {
                    (i, i + half)
                };
                let (x1, x2) = (to(x[ia]), to(x[ib]));
                o[ia] = from(x1 * c - x2 * s);
                o[ib] = from(x1 * s + x2 * c);
            }
            o[a.dims..].copy_from_slice(&x[a.dims..]);
        }
    });
}

/// Rotary embedding of `x` `[.., L, D]` (see `Primitive::Rope`), with `freqs` (f32 `[dims/2]`)
/// or frequencies from `base`.
pub fn rope(x: &Data, freqs: Option<&Data>, a: RopeArgs, shape: &[usize]) -> Result<Data> {
    let nd = shape.len();
    let (l, d) = (shape[nd - 2], shape[nd - 1]);
    let half = a.dims / 2;
    let mut out = Output::new(x.dtype(), x.size())?;
    if x.size() == 0 {
        return Ok(out.finish(shape));
    }
    let inv: Vec<f32> = match freqs {
        Some(f) => Host::of(f)?
            .view::<f32>()
            .to_contiguous()
            .iter()
            .map(|&f| 1.0 / f)
            .collect(),
        None => {
            let c = (a.base as f64).ln() as f32 / half as f32;
            (0..half).map(|i| (-(i as f32) * c).exp()).collect()
        }
    };
    let mut cs = Vec::with_capacity(l * half);
    for p in 0..l {
        let pos = (a.offset + p) as f32 * a.scale;
        cs.extend(inv.iter().map(|&f| {
            let t = pos * f;
            (t.cos(), t.sin())
        }));
    }
    let h = Host::of(x)?;
    match x.dtype() {
        Dtype::Float32 => rope_rows(
            &h.view::<f32>().to_contiguous(),
            out.slice::<f32>(),
            a,
            l,
            d,
            &cs,
            |v| v,
            |v| v,
        ),
        Dtype::Float16 => rope_rows(
            &h.view::<f16>().to_contiguous(),
            out.slice::<f16>(),
            a,
            l,
            d,
            &cs,
            f16::to_f32,
            f16::from_f32,
        ),
        Dtype::Bfloat16 => rope_rows(
            &h.view::<bf16>().to_contiguous(),
            out.slice::<bf16>(),
            a,
            l,
            d,
            &cs,
            bf16::to_f32,
            bf16::from_f32,
        ),
        Dtype::Float64 => {
            let cs64: Vec<(f64, f64)> = cs.iter().map(|&(c, s)| (c as f64, s as f64)).collect();
            rows(
                &h.view::<f64>().to_contiguous(),
                out.slice::<f64>(),
                l * d,
                |x, o| {
                    for (p, (o, x)) in o.chunks_mut(d).zip(x.chunks(d)).enumerate() {
                        for (i, &(c, s)) in cs64[p * half..(p + 1) * half].iter().enumerate() {
                            let (ia, ib) = if a.traditional {
                                (2 * i, 2 * i + 1)
                            } else {
                                (i, i + half)
                            };
                            let (x1, x2) = (x[ia], x[ib]);
                            o[ia] = x1 * c - x2 * s;
                            o[ib] = x1 * s + x2 * c;
                        }
                        o[a.dims..].copy_from_slice(&x[a.dims..]);
                    }
                },
            )
        }
        other => {
            return Err(Error::dtype(
                "rope",
                other,
                "only floating-point types are supported",
            ))
        }
    }
    Ok(out.finish(shape))
}
