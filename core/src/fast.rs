//! MLX's `fast` ops: normalisations, rotary position embeddings and scaled dot-product
//! attention with MLX's signatures and semantics. `rms_norm` and `rope` are single fused graph
//! nodes (`Primitive::RmsNorm` / `Primitive::Rope`, one kernel each per backend, gradients in
//! `autodiff::vjp_rules`); attention is the fused node `Primitive::Sdpa` where it can be (its
//! gradient is that of the composed attention) and composed otherwise; `layer_norm` is written
//! with the public ops (so gradients come from their rules). Statistics accumulate in f32 for half-precision inputs and
//! the result has the input's dtype, as MLX's kernels do.

use crate::dtype::promote_types;
use crate::ops::{self, IntoArray};
use crate::primitive::Primitive;
use crate::{Array, Dtype, Error, Result, Stream};

/// Computes `f` on `x` widened to f32 when it is a half type, and narrows the result back.
fn in_f32(x: &Array, f: impl FnOnce(&Array) -> Result<Array>) -> Result<Array> {
    if matches!(x.dtype(), Dtype::Float16 | Dtype::Bfloat16) {
        ops::astype(f(&ops::astype(x, Dtype::Float32)?)?, x.dtype())
    } else {
        f(x)
    }
}

fn check_float(op: &'static str, x: &Array) -> Result<()> {
    if x.dtype().is_float() {
        Ok(())
    } else {
        Err(Error::dtype(
            op,
            x.dtype(),
            "a floating-point input is required",
        ))
    }
}

fn check_last(op: &'static str, what: &str, w: &Array, x: &Array) -> Result<()> {
    let d = x.shape()[x.ndim() - 1];
    if w.ndim() != 1 || w.shape()[0] != d {
        return Err(Error::shape(
            op,
            format!(
                "{what} must have shape [{d}] to match x {:?}, got {:?}",
                x.shape(),
                w.shape()
            ),
        ));
    }
    Ok(())
}

/// Root-mean-square normalisation over the last axis: `x / sqrt(mean(x²) + eps) * weight`.
pub fn rms_norm(x: impl IntoArray, weight: Option<&Array>, eps: f32) -> Result<Array> {
    let x = x.into_array();
    check_float("rms_norm", &x)?;
    if x.ndim() == 0 {
        return Err(Error::shape(
            "rms_norm",
            "x must have at least one dimension",
        ));
    }
    if let Some(w) = weight {
        check_last("rms_norm", "weight", w, &x)?;
    }
    let prim = Primitive::RmsNorm {
        eps_bits: eps.to_bits(),
    };
    let inputs = match weight {
        Some(w) => {
            // x and weight share one dtype (MLX's promotion of the two)
            let dt = promote_types(x.dtype(), w.dtype());
            vec![ops::astype(&x, dt)?, ops::astype(w, dt)?]
        }
        None => vec![x],
    };
    let (shape, dt) = (inputs[0].shape().to_vec(), inputs[0].dtype());
    Ok(Array::from_op(
        shape,
        dt,
        Stream::default_stream(),
        prim,
        inputs,
    ))
}

/// Layer normalisation over the last axis: `(x - mean) / sqrt(var + eps) * weight + bias`.
pub fn layer_norm(
    x: impl IntoArray,
    weight: Option<&Array>,
    bias: Option<&Array>,
    eps: f32,
) -> Result<Array> {
    let x = x.into_array();
    check_float("layer_norm", &x)?;
    if x.ndim() == 0 {
        return Err(Error::shape(
            "layer_norm",
            "x must have at least one dimension",
        ));
    }
    for (what, a) in [("weight", weight), ("bias", bias)] {
        if let Some(a) = a {
            check_last("layer_norm", what, a, &x)?;
        }
    }
    let y = in_f32(&x, |x| {
        let mu = ops::mean_axis(x, -1, true)?;
        let c = ops::subtract(x, mu)?;
        let var = ops::mean_axis(ops::square(&c)?, -1, true)?;
        ops::multiply(c, ops::rsqrt(ops::add(var, eps)?)?)
    })?;
    let y = match weight {
        Some(w) => ops::multiply(y, w)?,
        None => y,
    };
    match bias {
        Some(b) => ops::add(y, b),
        None => Ok(y),
    }
}

/// Rotary position embedding over the last axis of `x` (`[.., L, D]`, positions along the
/// second-to-last axis starting at `offset`, each multiplied by `scale`). The first `dims`
/// features rotate in pairs — `(2i, 2i+1)` when `traditional`, `(i, i + dims/2)` otherwise — by
/// `position / base^(2i/dims)`, or by `position / freqs[i]` when `freqs` (`[dims/2]`) is given
/// (then `base` must be `None`). The remaining features pass through.
pub fn rope(
    x: impl IntoArray,
    dims: i32,
    traditional: bool,
    base: Option<f32>,
    scale: f32,
    offset: i32,
    freqs: Option<&Array>,
) -> Result<Array> {
    let x = x.into_array();
    check_float("rope", &x)?;
    if x.ndim() < 2 {
        return Err(Error::shape(
            "rope",
            format!("x must have at least 2 dimensions, got {:?}", x.shape()),
        ));
    }
    let d = x.shape()[x.ndim() - 1];
    if dims <= 0 || dims % 2 != 0 || dims as usize > d {
        return Err(Error::arg(
            "rope",
            format!("dims must be even and in 2..={d}, got {dims}"),
        ));
    }
    if offset < 0 {
        return Err(Error::arg(
            "rope",
            format!("offset must be non-negative, got {offset}"),
        ));
    }
    let half = dims / 2;
    let prim = Primitive::Rope {
        dims: dims as usize,
        traditional,
        base_bits: base.unwrap_or(0.0).to_bits(),
        scale_bits: scale.to_bits(),
        offset: offset as usize,
    };
    let inputs = match (base, freqs) {
        (Some(_), None) => vec![x],
        (None, Some(f)) => {
            if f.shape() != [half as usize] {
                return Err(Error::shape(
                    "rope",
                    format!("freqs must have shape [{half}], got {:?}", f.shape()),
                ));
            }
            vec![x, ops::astype(f, Dtype::Float32)?]
        }
        _ => {
            return Err(Error::arg(
                "rope",
                "exactly one of base and freqs must be given",
            ))
        }
    };
    let (shape, dt) = (inputs[0].shape().to_vec(), inputs[0].dtype());
    Ok(Array::from_op(
        shape,
        dt,
        Stream::default_stream(),
        prim,
        inputs,
    ))
}

/// The mask of [`scaled_dot_product_attention`].
#[derive(Debug, Clone, Copy)]
pub enum SdpaMask<'a> {
    /// Query `i` attends keys `0..=i + (Lk - Lq)` (the queries are the last `Lq` positions).
    Causal,
    /// A boolean mask (true = attend) or an additive float mask, broadcastable to the scores
    /// `[B, Hq, Lq, Lk]`.
    Array(&'a Array),
}

/// `softmax(q @ kᵀ · scale + mask) @ v` for `q` `[B, Hq, Lq, D]`, `k` `[B, Hkv, Lk, D]`, `v`
/// `[B, Hkv, Lk, Dv]` with `Hq` a multiple of `Hkv` (grouped-query and multi-query attention
/// share each key/value head among `Hq / Hkv` query heads). The softmax runs in f32.
///
/// Without a mask or with the causal one, for f32/f16/bf16 inputs of one dtype, at most
/// [`SDPA_FUSED_MAX_QUERIES`] queries and head dimensions up to [`SDPA_MAX_HEAD_DIM`], this is
/// one fused node (`Primitive::Sdpa`: one pass
/// per query row with an online softmax, no scores matrix in memory; the weighted sum of values
/// also runs in f32); array masks and f64 use the composed ops. Gradients are those of the
/// composed ops either way.
pub fn scaled_dot_product_attention(
    q: impl IntoArray,
    k: impl IntoArray,
    v: impl IntoArray,
    scale: f32,
    mask: Option<SdpaMask>,
) -> Result<Array> {
    let (q, k, v) = (q.into_array(), k.into_array(), v.into_array());
    check_sdpa(&q, &k, &v)?;
    let causal = match &mask {
        None => Some(false),
        Some(SdpaMask::Causal) => Some(true),
        Some(SdpaMask::Array(_)) => None,
    };
    let dt = q.dtype();
    let fused_dtype = matches!(dt, Dtype::Float32 | Dtype::Float16 | Dtype::Bfloat16)
        && k.dtype() == dt
        && v.dtype() == dt;
    let stream = Stream::default_stream();
    let (lq, d, dv) = (q.shape()[2], q.shape()[3], v.shape()[3]);
    let backend_fuses = crate::backend::backend(stream.device)
        .map(|b| b.fused_sdpa(lq, d, dv))
        .unwrap_or(lq <= SDPA_FUSED_MAX_QUERIES);
    match causal {
        Some(causal)
            if fused_dtype
                && !sdpa_composed_forced()
                && backend_fuses
                && d <= SDPA_MAX_HEAD_DIM
                && dv <= SDPA_MAX_HEAD_DIM =>
        {
            let shape = vec![q.shape()[0], q.shape()[1], q.shape()[2], v.shape()[3]];
            let prim = Primitive::Sdpa {
                scale_bits: scale.to_bits(),
                causal,
            };
            Ok(Array::from_op(shape, dt, stream, prim, vec![q, k, v]))
        }
        _ => sdpa_composed(&q, &k, &v, scale, mask),
    }
}

/// `MLX_ARM_SDPA=composed` turns the fused attention node off (for benchmarks and bisecting).
fn sdpa_composed_forced() -> bool {
    static FORCED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *FORCED.get_or_init(|| std::env::var("MLX_ARM_SDPA").as_deref() == Ok("composed"))
}

/// Most queries per head the fused kernels take by default (see `Backend::fused_sdpa`): decode
/// steps and short chunks. Longer prompts use the composed matmul-softmax-matmul, which reuses
/// each key across queries (on an H200 the one-row-per-workgroup kernel made prefill of a
/// Llama-3 8B 10% slower), unless the backend has a prefill kernel (tensor-core GPUs).
pub const SDPA_FUSED_MAX_QUERIES: usize = 8;

/// Largest head dimension of the fused attention kernels (larger ones use the composed path).
pub const SDPA_MAX_HEAD_DIM: usize = 256;

fn check_sdpa(q: &Array, k: &Array, v: &Array) -> Result<()> {
    const OP: &str = "scaled_dot_product_attention";
    for a in [q, k, v] {
        check_float(OP, a)?;
        if a.ndim() != 4 {
            return Err(Error::shape(
                OP,
                format!("q, k and v must be 4-D [B, H, L, D], got {:?}", a.shape()),
            ));
        }
    }
    let (b, hq, dq) = (q.shape()[0], q.shape()[1], q.shape()[3]);
    let (hk, lk) = (k.shape()[1], k.shape()[2]);
    if k.shape()[0] != b
        || v.shape()[0] != b
        || k.shape()[3] != dq
        || v.shape()[1] != hk
        || v.shape()[2] != lk
    {
        return Err(Error::shape(
            OP,
            format!(
                "incompatible q {:?}, k {:?}, v {:?}",
                q.shape(),
                k.shape(),
                v.shape()
            ),
        ));
    }
    if hk == 0 || hq % hk != 0 {
        return Err(Error::shape(
            OP,
            format!("query heads ({hq}) must be a multiple of key/value heads ({hk})"),
        ));
    }
    Ok(())
}

/// Attention written with the public ops (the fused kernels' reference and gradient, and the
/// path for array masks and f64).
pub(crate) fn sdpa_composed(
    q: &Array,
    k: &Array,
    v: &Array,
    scale: f32,
    mask: Option<SdpaMask<'_>>,
) -> Result<Array> {
    let (q, k, v) = (q.clone(), k.clone(), v.clone());
    let (b, hq, lq, dq) = (q.shape()[0], q.shape()[1], q.shape()[2], q.shape()[3]);
    let (hk, lk) = (k.shape()[1], k.shape()[2]);
    let rep = (hq / hk) as i32;
    let (b, hk32, lq32, lk32) = (b as i32, hk as i32, lq as i32, lk as i32);
    // [B, Hkv, rep, Lq, D] against [B, Hkv, 1, Lk, D]
    let qg = ops::reshape(ops::multiply(&q, scale)?, &[b, hk32, rep, lq32, dq as i32])?;
    let kg = ops::expand_dims(&k, &[2])?;
    let vg = ops::expand_dims(&v, &[2])?;
    let scores = ops::matmul(qg, ops::swapaxes(kg, -1, -2)?)?;
    let scores = ops::astype(scores, Dtype::Float32)?;
    let scores = match mask {
        None => scores,
        Some(SdpaMask::Causal) => {
            let row = ops::reshape(
                ops::arange(lk as f64 - lq as f64, lk as f64, 1.0, Dtype::Int32)?,
                &[-1, 1],
            )?;
            let col = ops::reshape(ops::arange(0.0, lk as f64, 1.0, Dtype::Int32)?, &[1, -1])?;
            ops::r#where(ops::less_equal(col, row)?, scores, f32::NEG_INFINITY)?
        }
        Some(SdpaMask::Array(m)) => {
            // broadcast the mask to [B, Hq, Lq, Lk], then group heads like the scores
            let m = ops::broadcast_to(m, &[b, hq as i32, lq32, lk32])?;
            let m = ops::reshape(m, &[b, hk32, rep, lq32, lk32])?;
            if m.dtype() == Dtype::Bool {
                ops::r#where(m, scores, f32::NEG_INFINITY)?
            } else {
                ops::add(scores, ops::astype(m, Dtype::Float32)?)?
            }
        }
    };
    let p = ops::astype(ops::softmax_axis(scores, -1)?, v.dtype())?;
    let out = ops::matmul(p, vg)?;
    ops::reshape(out, &[b, hq as i32, lq32, v.shape()[3] as i32])
}
