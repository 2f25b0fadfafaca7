//! Fused scaled dot-product attention (`Primitive::Sdpa`): one pass per query row — scores
//! against every visible key, an f32 softmax, the weighted sum of values — with no scores matrix
//! in memory. Rows spread over rayon; inputs of other layouts are made dense first, except f32
//! keys and values whose rows are dense (a preallocated KV cache sliced to its filled length),
//! read in place through their batch and head strides; half types compute in f32 and round once.

use crate::view::{Host, Output};
use half::{bf16, f16};
use mlx_arm_core::buffer::Data;
use mlx_arm_core::{Dtype, Error, Result};
use rayon::prelude::*;

/// Shapes of one attention call.
#[derive(Clone, Copy)]
struct Dims {
    hq: usize,
    hk: usize,
    lq: usize,
    lk: usize,
    d: usize,
    dv: usize,
}

/// `Σ a·b` with eight independent accumulators (vectorises).
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| x * y)
        .sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            acc[i] += x[i] * y[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// Keys or values `[B, H, L, D]` with dense `[L, D]` rows: the elements, where head 0 of batch
/// 0 starts, and the batch and head strides.
struct Heads<'a> {
    all: std::borrow::Cow<'a, [f32]>,
    offset: usize,
    batch: usize,
    head: usize,
}

impl<'a> Heads<'a> {
    /// Dense `[B, H, L, D]` elements.
    fn dense(all: std::borrow::Cow<'a, [f32]>, h: usize, l: usize, d: usize) -> Heads<'a> {
        Heads {
            all,
            offset: 0,
            batch: h * l * d,
            head: l * d,
        }
    }
    /// An f32 view read in place when its rows are dense, else a dense copy.
    fn of(v: crate::view::View<'a, f32>) -> Heads<'a> {
        let (l, d) = (v.shape[2], v.shape[3]);
        let rows = (v.strides[3] == 1 || d <= 1) && (v.strides[2] == d as isize || l <= 1);
        if rows && v.strides[0] >= 0 && v.strides[1] >= 0 && v.offset >= 0 {
            return Heads {
                all: std::borrow::Cow::Borrowed(v.all),
                offset: v.offset as usize,
                batch: v.strides[0] as usize,
                head: v.strides[1] as usize,
            };
        }
        Heads::dense(v.to_contiguous(), v.shape[1], l, d)
    }
    /// The rows of batch `b`, head `h`, from the first.
    fn rows(&self, b: usize, h: usize) -> &[f32] {
        &self.all[self.offset + b * self.batch + h * self.head..]
    }
}

/// Attention over dense f32 `q` and keys/values read through [`Heads`], writing rows of `dv`
/// values.
fn attend(q: &[f32], k: &Heads, v: &Heads, dims: Dims, scale: f32, causal: bool, out: &mut [f32]) {
    let Dims {
        hq,
        hk,
        lq,
        lk,
        d,
        dv,
    } = dims;
    let rep = hq / hk;
    out.par_chunks_mut(dv)
        .with_min_len(4)
        .enumerate()
        .for_each_init(Vec::new, |scores: &mut Vec<f32>, (r, o)| {
            let (i, h, b) = (r % lq, (r / lq) % hq, r / (lq * hq));
            let hkv = h / rep;
            // keys this row sees: all, or those at or before its position aligned to the end
            let visible = if causal {
                (i + lk + 1).saturating_sub(lq).min(lk)
            } else {
                lk
            };
            if visible == 0 {
                o.fill(f32::NAN);
                return;
            }
            let qr: Vec<f32> = q[r * d..(r + 1) * d].iter().map(|x| x * scale).collect();
            let keys = k.rows(b, hkv);
            scores.clear();
            scores.extend((0..visible).map(|t| dot(&qr, &keys[t * d..(t + 1) * d])));
            let max = scores.iter().fold(f32::NEG_INFINITY, |m, &s| m.max(s));
            let mut sum = 0.0f32;
            for s in scores.iter_mut() {
                *s = (*s - max).exp();
                sum += *s;
            }
            o.fill(0.0);
            let vals = v.rows(b, hkv);
            for (t, &p) in scores.iter().enumerate() {
                for (acc, &x) in o.iter_mut().zip(&vals[t * dv..(t + 1) * dv]) {
                    *acc += p * x;
                }
            }
            let inv = 1.0 / sum;
            o.iter_mut().for_each(|x| *x *= inv);
        });
}

/// `softmax(scale · q @ kᵀ (+ causal mask)) @ v` with grouped heads (see `Primitive::Sdpa`).
pub fn sdpa(
    q: &Data,
    k: &Data,
    v: &Data,
    scale: f32,
    causal: bool,
    shape: &[usize],
) -> Result<Data> {
    let dims = Dims {
        hq: q.shape[1],
        hk: k.shape[1],
        lq: q.shape[2],
        lk: k.shape[2],
        d: q.shape[3],
        dv: v.shape[3],
    };
    let dt = q.dtype();
    let total: usize = shape.iter().product();
    let mut out = Output::new(dt, total)?;
    if total == 0 {
        return Ok(out.finish(shape));
    }
    let (hq, hk, hv) = (Host::of(q)?, Host::of(k)?, Host::of(v)?);
    macro_rules! widened {
        ($t:ty, $to:expr) => {{
            let w = |h: &Host| -> Vec<f32> {
                h.view::<$t>()
                    .to_contiguous()
                    .iter()
                    .map(|&x| $to(x))
                    .collect()
            };
            let (hh, l) = (dims.hk, dims.lk);
            (
                w(&hq),
                Heads::dense(w(&hk).into(), hh, l, dims.d),
                Heads::dense(w(&hv).into(), hh, l, dims.dv),
            )
        }};
    }
    match dt {
        Dtype::Float32 => {
            let (a, b, c) = (
                hq.view::<f32>().to_contiguous(),
                Heads::of(hk.view::<f32>()),
                Heads::of(hv.view::<f32>()),
            );
            attend(&a, &b, &c, dims, scale, causal, out.slice::<f32>());
        }
        Dtype::Float16 | Dtype::Bfloat16 => {
            let (a, b, c) = if dt == Dtype::Float16 {
                widened!(f16, f16::to_f32)
            } else {
                widened!(bf16, bf16::to_f32)
            };
            let mut o = vec![0f32; total];
            attend(&a, &b, &c, dims, scale, causal, &mut o);
            if dt == Dtype::Float16 {
                out.slice::<f16>()
                    .iter_mut()
                    .zip(&o)
                    .for_each(|(d, &x)| *d = f16::from_f32(x));
            } else {
                out.slice::<bf16>()
                    .iter_mut()
                    .zip(&o)
                    .for_each(|(d, &x)| *d = bf16::from_f32(x));
            }
        }
        other => {
            return Err(Error::dtype(
                "scaled_dot_product_attention",
                other,
                "the fused kernel takes f32, f16 or bf16",
            ))
        }
    }
    Ok(out.finish(shape))
}
