//! Affine quantization with MLX's semantics and layout: `quantize`, `dequantize` and
//! `quantized_matmul` for bits 2, 3, 4, 5, 6, 8 and group sizes 32, 64, 128.
//!
//! A quantized matrix is a triple: `w` (uint32, each row's `bits`-bit values packed as one
//! little-endian bit stream, low bits first, so `32 / bits` values per word for 2, 4, 8 bits and
//! values straddling words for 3, 5, 6), `scales` and `biases` (one per group of `group_size`
//! consecutive values of a row, in the original float dtype). A value is `scale * q + bias`.
//! This is exactly MLX's packing, so MLX-format quantized safetensors load as they are.
//!
//! `quantize` is lazy and composed of ordinary ops for 2, 4 and 8 bits, eager on the host for
//! 3, 5 and 6; `dequantize` and `quantized_matmul` are lazy primitives with kernels on every
//! backend that read the packed weights directly.

use super::IntoArray;
pub use crate::primitive::QmmRope;
use crate::primitive::{Primitive, QmmFuse};
use crate::{Array, Dtype, Error, Result, Stream};

/// The bit widths MLX's affine mode supports.
pub const QUANT_BITS: [i32; 6] = [2, 3, 4, 5, 6, 8];
/// The group sizes MLX's affine mode supports.
pub const QUANT_GROUP_SIZES: [i32; 3] = [32, 64, 128];

fn check_params(op: &'static str, group_size: i32, bits: i32) -> Result<(usize, usize)> {
    if !QUANT_BITS.contains(&bits) {
        return Err(Error::arg(
            op,
            format!("bits must be one of {QUANT_BITS:?}, got {bits}"),
        ));
    }
    if !QUANT_GROUP_SIZES.contains(&group_size) {
        return Err(Error::arg(
            op,
            format!("group_size must be one of {QUANT_GROUP_SIZES:?}, got {group_size}"),
        ));
    }
    Ok((group_size as usize, bits as usize))
}

/// Quantizes `w` (a float array with at least 2 dimensions whose last axis is a multiple of
/// `group_size`) along its last axis, returning `(w_q, scales, biases)` as MLX's
/// `quantize(w, group_size, bits)` does, bit for bit: per group, the scale spans min to max in
/// `2^bits - 1` steps, the edge of larger magnitude is represented exactly, values are rounded to
/// nearest even. Scales and biases have `w`'s dtype.
///
/// Lazy on `stream` for 2, 4 and 8 bits (composed of reductions and elementwise ops, so it runs
/// on the GPU, e.g. for a quantized KV cache); 3, 5 and 6 bits, whose values straddle words, are
/// packed eagerly on the host (evaluating `w`).
pub fn quantize_device(
    w: impl IntoArray,
    group_size: i32,
    bits: i32,
    stream: impl Into<Stream>,
) -> Result<(Array, Array, Array)> {
    let w = w.into_array();
    let (gs, bits) = check_params("quantize", group_size, bits)?;
    if !w.dtype().is_float() {
        return Err(Error::dtype(
            "quantize",
            w.dtype(),
            "only floating-point arrays can be quantized",
        ));
    }
    if w.ndim() < 2 {
        return Err(Error::shape(
            "quantize",
            format!("w must have at least 2 dimensions, got {:?}", w.shape()),
        ));
    }
    let last = w.shape()[w.ndim() - 1];
    if last % gs != 0 {
        return Err(Error::shape(
            "quantize",
            format!(
                "the last axis of {:?} is not a multiple of the group size {gs}",
                w.shape()
            ),
        ));
    }
    if 32 % bits == 0 {
        return quantize_lazy(&w, gs, bits, stream.into());
    }
    quantize_host(&w, gs, bits, last)
}
/// [`quantize_device`] on the default stream.
pub fn quantize(w: impl IntoArray, group_size: i32, bits: i32) -> Result<(Array, Array, Array)> {
    quantize_device(w, group_size, bits, Stream::default_stream())
}

/// The composed quantizer for bit widths that divide 32 (the same arithmetic as
/// [`quantize_host`], op by op, then `32 / bits` values shifted into each word and summed:
/// their bits are disjoint, so the sum is their bitwise or).
fn quantize_lazy(w: &Array, gs: usize, bits: usize, s: Stream) -> Result<(Array, Array, Array)> {
    use super::*;
    let nd = w.ndim();
    let dims: Vec<i32> = w.shape().iter().map(|&d| d as i32).collect();
    let mut grouped = dims.clone();
    grouped[nd - 1] = (w.shape()[nd - 1] / gs) as i32;
    grouped.push(gs as i32);
    let x = reshape_device(astype_device(w, Dtype::Float32, s)?, &grouped, s)?;
    let n_bins = ((1u32 << bits) - 1) as f32;
    let hi = max_device(&x, Some(&[-1]), true, s)?;
    let lo = min_device(&x, Some(&[-1]), true, s)?;
    let mask = greater_device(abs_device(&lo, s)?, abs_device(&hi, s)?, s)?;
    let scale = maximum_device(
        divide_device(subtract_device(&hi, &lo, s)?, n_bins, s)?,
        1e-7f32,
        s,
    )?;
    let scale = where_device(&mask, &scale, negative_device(&scale, s)?, s)?;
    let edge = where_device(&mask, &lo, &hi, s)?;
    let q0 = round_device(divide_device(&edge, &scale, s)?, s)?;
    let nonzero = not_equal_device(&q0, 0.0f32, s)?;
    let scale = where_device(&nonzero, divide_device(&edge, &q0, s)?, &scale, s)?;
    let bias = where_device(&nonzero, &edge, 0.0f32, s)?;
    let q = round_device(divide_device(subtract_device(&x, &bias, s)?, &scale, s)?, s)?;
    let q = astype_device(
        clip_device(
            q,
            Some(Array::from_scalar(0.0f32)),
            Some(Array::from_scalar(n_bins)),
            s,
        )?,
        Dtype::Uint32,
        s,
    )?;
    let per = 32 / bits;
    let mut packed_shape = dims.clone();
    packed_shape[nd - 1] = (w.shape()[nd - 1] / per) as i32;
    packed_shape.push(per as i32);
    let shifts: Vec<u32> = (0..per as u32).map(|i| i * bits as u32).collect();
    let q = left_shift_device(
        reshape_device(q, &packed_shape, s)?,
        Array::from_slice(&shifts, &[per as i32]),
        s,
    )?;
    let wq = sum_device(q, Some(&[-1]), false, s)?;
    let mut sshape = dims;
    sshape[nd - 1] = (w.shape()[nd - 1] / gs) as i32;
    let out =
        |a: Array| -> Result<Array> { astype_device(reshape_device(a, &sshape, s)?, w.dtype(), s) };
    Ok((wq, out(scale)?, out(bias)?))
}

/// The host quantizer (every bit width; MLX's arithmetic in f32).
fn quantize_host(w: &Array, gs: usize, bits: usize, last: usize) -> Result<(Array, Array, Array)> {
    let vals = super::astype(&w, Dtype::Float32)?.to_vec::<f32>()?;
    let groups = vals.len() / gs;
    let n_bins = ((1u32 << bits) - 1) as f32;
    let mut words = vec![0u32; vals.len() * bits / 32];
    let (mut scales, mut biases) = (Vec::with_capacity(groups), Vec::with_capacity(groups));
    for (g, x) in vals.chunks_exact(gs).enumerate() {
        let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
        for &v in x {
            hi = hi.max(v);
            lo = lo.min(v);
        }
        let mask = lo.abs() > hi.abs();
        let mut scale = ((hi - lo) / n_bins).max(1e-7);
        if !mask {
            scale = -scale;
        }
        let edge = if mask { lo } else { hi };
        let q0 = (edge / scale).round_ties_even();
        let mut bias = 0.0;
        if q0 != 0.0 {
            scale = edge / q0;
            bias = edge;
        }
        for (i, &v) in x.iter().enumerate() {
            let q = ((v - bias) / scale).round_ties_even().clamp(0.0, n_bins) as u64;
            let bit = (g * gs + i) * bits;
            let (wi, sh) = (bit / 32, bit % 32);
            words[wi] |= (q << sh) as u32;
            if sh + bits > 32 {
                words[wi + 1] |= (q >> (32 - sh)) as u32;
            }
        }
        scales.push(scale);
        biases.push(bias);
    }
    let mut wshape: Vec<i32> = w.shape().iter().map(|&d| d as i32).collect();
    let nd = wshape.len();
    wshape[nd - 1] = (last * bits / 32) as i32;
    let mut sshape = wshape.clone();
    sshape[nd - 1] = (last / gs) as i32;
    let wq = Array::try_from_slice(&words, &wshape)?;
    let s = super::astype(Array::try_from_slice(&scales, &sshape)?, w.dtype())?;
    let b = super::astype(Array::try_from_slice(&biases, &sshape)?, w.dtype())?;
    s.eval()?;
    b.eval()?;
    Ok((wq, s, b))
}

/// Checks a packed triple and returns the unpacked length of its rows.
fn check_triple(
    op: &'static str,
    w: &Array,
    scales: &Array,
    biases: &Array,
    gs: usize,
    bits: usize,
) -> Result<usize> {
    if w.dtype() != Dtype::Uint32 {
        return Err(Error::dtype(
            op,
            w.dtype(),
            "the packed weights must be uint32",
        ));
    }
    if !scales.dtype().is_float() || scales.dtype() != biases.dtype() {
        return Err(Error::dtype(
            op,
            biases.dtype(),
            format!(
                "scales ({}) and biases must share one float dtype",
                scales.dtype()
            ),
        ));
    }
    if w.ndim() == 0 {
        return Err(Error::shape(
            op,
            "the packed weights must have at least one dimension",
        ));
    }
    let packed = w.shape()[w.ndim() - 1];
    let n = packed * 32 / bits;
    if (packed * 32) % bits != 0 || n % gs != 0 {
        return Err(Error::shape(
            op,
            format!("rows of {packed} words do not hold whole groups of {gs} {bits}-bit values"),
        ));
    }
    let mut sshape = w.shape().to_vec();
    let last = sshape.len() - 1;
    sshape[last] = n / gs;
    if scales.shape() != sshape.as_slice() || biases.shape() != sshape.as_slice() {
        return Err(Error::shape(
            op,
            format!(
                "scales {:?} and biases {:?} must have shape {sshape:?} for weights {:?}",
                scales.shape(),
                biases.shape(),
                w.shape()
            ),
        ));
    }
    Ok(n)
}

/// Unpacks a quantized triple to `scale * q + bias` in the scales' dtype (MLX's `dequantize`).
/// `w` may have any number of leading axes (e.g. rows gathered from a quantized embedding).
pub fn dequantize_device(
    w: impl IntoArray,
    scales: impl IntoArray,
    biases: impl IntoArray,
    group_size: i32,
    bits: i32,
    stream: impl Into<Stream>,
) -> Result<Array> {
    let s = stream.into();
    let (w, scales, biases) = (w.into_array(), scales.into_array(), biases.into_array());
    let (gs, bits) = check_params("dequantize", group_size, bits)?;
    let n = check_triple("dequantize", &w, &scales, &biases, gs, bits)?;
    let mut shape = w.shape().to_vec();
    let last = shape.len() - 1;
    shape[last] = n;
    let dt = scales.dtype();
    Ok(Array::from_op(
        shape,
        dt,
        s,
        Primitive::Dequantize {
            group_size: gs,
            bits: bits as u8,
        },
        vec![w, scales, biases],
    ))
}
/// [`dequantize_device`] on the default stream.
pub fn dequantize(
    w: impl IntoArray,
    scales: impl IntoArray,
    biases: impl IntoArray,
    group_size: i32,
    bits: i32,
) -> Result<Array> {
    dequantize_device(
        w,
        scales,
        biases,
        group_size,
        bits,
        Stream::default_stream(),
    )
}

/// `x @ dequantize(w).T` when `transpose` (w is `[N, K·bits/32]`, the layout of linear layers),
/// else `x @ dequantize(w)` (w is `[K, N·bits/32]`), computed on the packed weights (MLX's
/// `quantized_matmul`). `x` is `[.., K]`; the result is `[.., N]` in the promoted float dtype of
/// `x` and the scales. Gradients flow to `x` only, as in MLX.
#[allow(clippy::too_many_arguments)]
pub fn quantized_matmul_device(
    x: impl IntoArray,
    w: impl IntoArray,
    scales: impl IntoArray,
    biases: impl IntoArray,
    transpose: bool,
    group_size: i32,
    bits: i32,
    stream: impl Into<Stream>,
) -> Result<Array> {
    let s = stream.into();
    let (x, w, scales, biases) = (
        x.into_array(),
        w.into_array(),
        scales.into_array(),
        biases.into_array(),
    );
    let f = QmmFusion::default();
    qmm_node(x, w, scales, biases, transpose, group_size, bits, s, f)
}

/// `add(quantized_matmul(x, w, scales, biases, ..), addend)` (an MLX-ARM extension, for
/// residual connections): one node, so a backend can add `addend` as it stores the product (the
/// GPU mat-vec does, saving a dispatch per use) — when `addend` has exactly the product's shape
/// and dtype; otherwise the composed `add` (broadcasting and promoting as `add` does).
/// Gradients flow to `x` and `addend`.
#[allow(clippy::too_many_arguments)]
pub fn quantized_matmul_add_device(
    x: impl IntoArray,
    w: impl IntoArray,
    scales: impl IntoArray,
    biases: impl IntoArray,
    addend: impl IntoArray,
    transpose: bool,
    group_size: i32,
    bits: i32,
    stream: impl Into<Stream>,
) -> Result<Array> {
    let s = stream.into();
    let (x, w, scales, biases, addend) = (
        x.into_array(),
        w.into_array(),
        scales.into_array(),
        biases.into_array(),
        addend.into_array(),
    );
    qmm_node(
        x,
        w,
        scales,
        biases,
        transpose,
        group_size,
        bits,
        s,
        QmmFusion {
            addend: Some(addend),
            ..QmmFusion::default()
        },
    )
}

/// [`quantized_matmul_add_device`] on the default stream.
#[allow(clippy::too_many_arguments)]
pub fn quantized_matmul_add(
    x: impl IntoArray,
    w: impl IntoArray,
    scales: impl IntoArray,
    biases: impl IntoArray,
    addend: impl IntoArray,
    transpose: bool,
    group_size: i32,
    bits: i32,
) -> Result<Array> {
    quantized_matmul_add_device(
        x,
        w,
        scales,
        biases,
        addend,
        transpose,
        group_size,
        bits,
        Stream::default_stream(),
    )
}

/// Work to fuse into a quantized product ([`quantized_matmul_fused_device`]), applied in field
/// order.
#[derive(Clone, Debug, Default)]
pub struct QmmFusion {
    /// Normalise x first, as `fast::rms_norm(x, Some(weight), eps)` (the weight is `[K]`); the
    /// normalised x is not rounded to its dtype before the product.
    pub rms_norm: Option<(Array, f32)>,
    /// Rotate the product's first heads (see [`QmmRope`]; not with `silu_mul`).
    pub rope: Option<QmmRope>,
    /// The product's last axis holds `[gate | up]` halves (N even): the result is
    /// `silu_mul(gate, up)`, `[.., N / 2]`.
    pub silu_mul: bool,
    /// Added last (broadcasting and promoting as `add` does).
    pub addend: Option<Array>,
}

/// The checked `QuantizedMatmul` node with the `fusion`'s work in it; an addend of another shape
/// or dtype than the result is added by a composed `add`.
#[allow(clippy::too_many_arguments)]
fn qmm_node(
    x: Array,
    w: Array,
    scales: Array,
    biases: Array,
    transpose: bool,
    group_size: i32,
    bits: i32,
    s: Stream,
    fusion: QmmFusion,
) -> Result<Array> {
    let (gs, bits) = check_params("quantized_matmul", group_size, bits)?;
    if w.ndim() != 2 {
        return Err(Error::shape(
            "quantized_matmul",
            format!("the packed weights must be 2-D, got {:?}", w.shape()),
        ));
    }
    let cols = check_triple("quantized_matmul", &w, &scales, &biases, gs, bits)?;
    let (k, n) = if transpose {
        (cols, w.shape()[0])
    } else {
        (w.shape()[0], cols)
    };
    if x.ndim() == 0 || x.shape()[x.ndim() - 1] != k {
        return Err(Error::shape(
            "quantized_matmul",
            format!(
                "x {:?} must end in {k} to multiply weights {:?} (transpose = {transpose})",
                x.shape(),
                w.shape()
            ),
        ));
    }
    let mut dt = super::result_type(&x, &scales);
    if let Some((g, _)) = &fusion.rms_norm {
        if !x.dtype().is_float() || !g.dtype().is_float() {
            return Err(Error::dtype(
                "quantized_matmul",
                if x.dtype().is_float() {
                    g.dtype()
                } else {
                    x.dtype()
                },
                "x and the rms_norm weight must be floating point",
            ));
        }
        if g.shape() != [k] {
            return Err(Error::shape(
                "quantized_matmul",
                format!("the rms_norm weight must be [{k}], got {:?}", g.shape()),
            ));
        }
        dt = crate::dtype::promote_types(
            crate::dtype::promote_types(x.dtype(), g.dtype()),
            scales.dtype(),
        );
    }
    if !dt.is_float() {
        return Err(Error::dtype(
            "quantized_matmul",
            dt,
            "x and the scales must be floating point",
        ));
    }
    if let Some(r) = &fusion.rope {
        let bad = if fusion.silu_mul {
            Some("cannot be fused with silu_mul".to_string())
        } else if r.head_dim == 0 || n % r.head_dim != 0 || r.heads * r.head_dim > n {
            Some(format!(
                "{} heads of {} values do not fit the product's {n} outputs",
                r.heads, r.head_dim
            ))
        } else if r.dims == 0 || r.dims % 2 != 0 || r.dims > r.head_dim {
            Some(format!(
                "dims {} must be even, positive and at most the head dim {}",
                r.dims, r.head_dim
            ))
        } else {
            None
        };
        if let Some(detail) = bad {
            return Err(Error::arg("quantized_matmul (rope)", detail));
        }
    }
    if fusion.silu_mul && n % 2 != 0 {
        return Err(Error::shape(
            "quantized_matmul",
            format!("silu_mul needs an even number of outputs to split, got {n}"),
        ));
    }
    let x = super::astype_device(&x, dt, s)?;
    // 16-bit scales and biases of an f32 product stay as they are: the kernels widen them
    // exactly as they read them, so a GGUF model's f16 scales are neither converted on every
    // call nor held as f32 (the GPU reads them packed, 2 bytes each)
    let keep =
        |a: &Array| dt == Dtype::Float32 && matches!(a.dtype(), Dtype::Float16 | Dtype::Bfloat16);
    let (scales, biases) = match keep(&scales) && keep(&biases) {
        true => (scales, biases),
        false => (
            super::astype_device(&scales, dt, s)?,
            super::astype_device(&biases, dt, s)?,
        ),
    };
    let mut shape = x.shape().to_vec();
    let last = shape.len() - 1;
    shape[last] = if fusion.silu_mul { n / 2 } else { n };
    let mut inputs = vec![x, w, scales, biases];
    let mut fuse = QmmFuse {
        silu_mul: fusion.silu_mul,
        rope: fusion.rope,
        ..QmmFuse::default()
    };
    if let Some((g, eps)) = fusion.rms_norm {
        inputs.push(super::astype_device(&g, dt, s)?);
        fuse.rms_norm_eps_bits = Some(eps.to_bits());
    }
    // an addend of another shape or dtype is added by the composed (broadcasting) `add`
    let composed = match fusion.addend {
        Some(a) if a.shape() == shape.as_slice() && a.dtype() == dt => {
            inputs.push(a);
            fuse.residual = true;
            None
        }
        other => other,
    };
    let prim = Primitive::QuantizedMatmul {
        group_size: gs,
        bits: bits as u8,
        transpose,
        fuse,
    };
    let y = Array::from_op(shape, dt, s, prim, inputs);
    match composed {
        Some(a) => super::add_device(y, a, s),
        None => Ok(y),
    }
}

/// What a fused `QuantizedMatmul` node computes, composed of separate ops on its inputs (for
/// its gradients and as the reference of tests).
pub(crate) fn qmm_fused_composed(
    inputs: &[Array],
    group_size: usize,
    bits: u8,
    transpose: bool,
    fuse: QmmFuse,
) -> Result<Array> {
    let mut x = inputs[0].clone();
    if let (Some(i), Some(eps)) = (fuse.norm_input(), fuse.rms_norm_eps_bits) {
        x = crate::fast::rms_norm(&x, Some(&inputs[i]), f32::from_bits(eps))?;
    }
    let (w, sc, b) = (&inputs[1], &inputs[2], &inputs[3]);
    let l = QmmRope::positions(inputs[0].shape());
    let mut y = quantized_matmul(x, w, sc, b, transpose, group_size as i32, bits as i32)?;
    if let Some(r) = fuse.rope {
        y = rope_heads_composed(&y, l, r)?;
    }
    if fuse.silu_mul {
        let halves = super::split(&y, 2, -1)?;
        y = super::silu_mul(&halves[0], &halves[1])?;
    }
    if let Some(i) = fuse.addend_input() {
        y = super::add(y, &inputs[i])?;
    }
    Ok(y)
}

/// `y` `[.., L, N]` (L positions) with its first heads rotated as [`QmmRope`] says.
fn rope_heads_composed(y: &Array, l: usize, r: QmmRope) -> Result<Array> {
    let shape: Vec<i32> = y.shape().iter().map(|&d| d as i32).collect();
    let n = y.shape()[y.ndim() - 1];
    let (hd, h) = (r.head_dim as i32, (n / r.head_dim) as i32);
    let b = (y.size() / n / l) as i32;
    let heads = super::swapaxes(super::reshape(y, &[b, l as i32, h, hd])?, 1, 2)?;
    let part =
        |h0: i32, h1: i32| super::slice(&heads, &[0, h0, 0, 0], &[b, h1, l as i32, hd], &[1; 4]);
    let roped = crate::fast::rope(
        part(0, r.heads as i32)?,
        r.dims as i32,
        true,
        Some(f32::from_bits(r.base_bits)),
        f32::from_bits(r.scale_bits),
        r.offset as i32,
        None,
    )?;
    let all = match r.heads < h as usize {
        true => super::concatenate(&[roped, part(r.heads as i32, h)?], 1)?,
        false => roped,
    };
    super::reshape(super::swapaxes(all, 1, 2)?, &shape)
}

/// `quantized_matmul` with the `fusion`'s work done in the same node (an MLX-ARM extension: on
/// the GPU, decode-shaped products normalise x, rotate heads, combine gate and up halves and
/// add the residual inside the mat-vec kernel, saving a dispatch each). Gradients are those of the
/// composed ops and flow to x, the rms_norm weight and the addend.
#[allow(clippy::too_many_arguments)]
pub fn quantized_matmul_fused_device(
    x: impl IntoArray,
    w: impl IntoArray,
    scales: impl IntoArray,
    biases: impl IntoArray,
    transpose: bool,
    group_size: i32,
    bits: i32,
    fusion: QmmFusion,
    stream: impl Into<Stream>,
) -> Result<Array> {
    let (x, w, scales, biases) = (
        x.into_array(),
        w.into_array(),
        scales.into_array(),
        biases.into_array(),
    );
    let s = stream.into();
    qmm_node(x, w, scales, biases, transpose, group_size, bits, s, fusion)
}

/// [`quantized_matmul_fused_device`] on the default stream.
#[allow(clippy::too_many_arguments)]
pub fn quantized_matmul_fused(
    x: impl IntoArray,
    w: impl IntoArray,
    scales: impl IntoArray,
    biases: impl IntoArray,
    transpose: bool,
    group_size: i32,
    bits: i32,
    fusion: QmmFusion,
) -> Result<Array> {
    let s = Stream::default_stream();
    quantized_matmul_fused_device(x, w, scales, biases, transpose, group_size, bits, fusion, s)
}

/// [`quantized_matmul_device`] on the default stream.
pub fn quantized_matmul(
    x: impl IntoArray,
    w: impl IntoArray,
    scales: impl IntoArray,
    biases: impl IntoArray,
    transpose: bool,
    group_size: i32,
    bits: i32,
) -> Result<Array> {
    quantized_matmul_device(
        x,
        w,
        scales,
        biases,
        transpose,
        group_size,
        bits,
        Stream::default_stream(),
    )
}
