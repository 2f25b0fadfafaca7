//! Samplers built from `RandomBits` and ordinary ops, following `mlx/random.cpp` (MLX 0.32)
//! op for op, so that results match MLX bit for bit wherever the backend's elementwise
//! kernels (`erfinv`, `log`, ...) do.

use super::{bits_with_key, resolve_key};
use crate::array::to_shape;
use crate::layout::broadcast_shapes;
use crate::ops::{self, IntoArray};
use crate::{Array, Dtype, Error, Result, Stream};

/// A strongly typed 0-d array of `value` converted to `dtype`.
fn lit(value: f64, dtype: Dtype) -> Result<Array> {
    Array::from_bytes(
        &crate::dtype_dispatch::f64_to_bytes(&[value], dtype),
        &[],
        dtype,
    )
}

/// `nextafter(1.0f32, 0.0)`: the largest float32 below one.
const F32_BELOW_ONE: f32 = 0.999_999_94;
/// `nextafter(-1.0f32, 0.0)`: the float32 just above minus one.
const F32_ABOVE_MINUS_ONE: f32 = -0.999_999_94;

/// MLX's `uniform` with a resolved key: `bits / 2^32` in float32, clamped below one, cast to
/// `dtype`, then scaled to `[low, high)`.
pub(crate) fn uniform_with_key(
    low: Array,
    high: Array,
    shape: &[i32],
    dtype: Dtype,
    key: Array,
    s: Stream,
) -> Result<Array> {
    if !dtype.is_float() {
        return Err(Error::dtype(
            "uniform",
            dtype,
            "uniform samples need a floating-point dtype",
        ));
    }
    // The largest value below one in `dtype`, held as float32 (MLX's `get_upper`).
    let upper = match dtype {
        Dtype::Float32 => F32_BELOW_ONE,
        Dtype::Float16 => half::f16::from_bits(half::f16::ONE.to_bits() - 1).to_f32(),
        Dtype::Bfloat16 => half::bf16::from_bits(half::bf16::ONE.to_bits() - 1).to_f32(),
        _ => {
            return Err(Error::dtype(
                "uniform",
                dtype,
                "MLX's uniform supports float32, float16 and bfloat16",
            ))
        }
    };
    let dims = to_shape("uniform", shape)?;
    let lo = ops::astype_device(low, dtype, s)?;
    let hi = ops::astype_device(high, dtype, s)?;
    let range = ops::subtract_device(&hi, &lo, s)?;
    let out_shape = broadcast_shapes("uniform", &dims, range.shape())?;
    if out_shape != dims {
        return Err(Error::shape(
            "uniform",
            format!("cannot generate random values of shape {dims:?} from broadcast shape {out_shape:?}"),
        ));
    }
    let maxval = Array::from_scalar(u32::MAX as f32);
    let out = bits_with_key(shape, 4, key, s)?;
    let out = ops::divide_device(out, maxval, s)?;
    let out = ops::minimum_device(out, Array::from_scalar(upper), s)?;
    let out = ops::astype_device(out, dtype, s)?;
    ops::add_device(ops::multiply_device(range, out, s)?, lo, s)
}

/// Uniform samples of `shape` in `[low, high)` (`low`/`high` broadcast to `shape`), `dtype`
/// float32, float16 or bfloat16.
pub fn uniform_device(
    low: impl IntoArray,
    high: impl IntoArray,
    shape: &[i32],
    dtype: Dtype,
    key: Option<&Array>,
    stream: impl Into<Stream>,
) -> Result<Array> {
    let key = resolve_key(key);
    uniform_with_key(
        low.into_array(),
        high.into_array(),
        shape,
        dtype,
        key,
        stream.into(),
    )
}
/// [`uniform_device`] on the default stream.
pub fn uniform(
    low: impl IntoArray,
    high: impl IntoArray,
    shape: &[i32],
    dtype: Dtype,
    key: Option<&Array>,
) -> Result<Array> {
    uniform_device(low, high, shape, dtype, key, Stream::default_stream())
}

/// Uniform float32 samples in `(-1, 1)` (MLX's base of `normal` and `laplace`).
fn symmetric_uniform(shape: &[i32], key: Array, s: Stream) -> Result<Array> {
    let low = Array::from_scalar(F32_ABOVE_MINUS_ONE);
    let high = Array::from_scalar(1.0f32);
    uniform_with_key(low, high, shape, Dtype::Float32, key, s)
}

/// Normal samples `loc + scale * sqrt(2) * erfinv(u)`, `u` uniform in `(-1, 1)` (float32),
/// converted to the floating-point `dtype`.
pub fn normal_device(
    shape: &[i32],
    dtype: Dtype,
    loc: f32,
    scale: f32,
    key: Option<&Array>,
    stream: impl Into<Stream>,
) -> Result<Array> {
    let s = stream.into();
    let key = resolve_key(key);
    if !dtype.is_float() {
        return Err(Error::dtype(
            "normal",
            dtype,
            "normal samples need a floating-point dtype",
        ));
    }
    let samples = symmetric_uniform(shape, key, s)?;
    let mut applied_scale = lit(std::f64::consts::SQRT_2, dtype)?;
    if scale != 1.0 {
        applied_scale = ops::multiply_device(applied_scale, lit(scale as f64, dtype)?, s)?;
    }
    let samples = ops::astype_device(ops::erfinv_device(samples, s)?, dtype, s)?;
    let samples = ops::multiply_device(applied_scale, samples, s)?;
    if loc != 0.0 {
        return ops::add_device(lit(loc as f64, dtype)?, samples, s);
    }
    Ok(samples)
}
/// [`normal_device`] on the default stream.
pub fn normal(
    shape: &[i32],
    dtype: Dtype,
    loc: f32,
    scale: f32,
    key: Option<&Array>,
) -> Result<Array> {
    normal_device(shape, dtype, loc, scale, key, Stream::default_stream())
}

/// Random integers in `[low, high)` of an integer (or bool) `dtype`, as MLX 0.32 draws them:
/// `floor(uniform(low, high))` in float32, cast, then clamped to `[low, high - 1]`.
pub fn randint_device(
    low: impl IntoArray,
    high: impl IntoArray,
    shape: &[i32],
    dtype: Dtype,
    key: Option<&Array>,
    stream: impl Into<Stream>,
) -> Result<Array> {
    let s = stream.into();
    let key = resolve_key(key);
    if dtype.is_float() {
        return Err(Error::dtype(
            "randint",
            dtype,
            "randint needs an integer or bool dtype",
        ));
    }
    let (low, high) = (low.into_array(), high.into_array());
    let u = uniform_with_key(low.clone(), high.clone(), shape, Dtype::Float32, key, s)?;
    let out = ops::astype_device(ops::floor_device(u, s)?, dtype, s)?;
    let top = ops::astype_device(ops::subtract_device(&high, 1i32, s)?, dtype, s)?;
    let out = ops::minimum_device(out, top, s)?;
    ops::maximum_device(out, ops::astype_device(&low, dtype, s)?, s)
}
/// [`randint_device`] on the default stream.
pub fn randint(
    low: impl IntoArray,
    high: impl IntoArray,
    shape: &[i32],
    dtype: Dtype,
    key: Option<&Array>,
) -> Result<Array> {
    randint_device(low, high, shape, dtype, key, Stream::default_stream())
}

/// Bool samples, true with probability `p` (a float array or scalar, broadcast to `shape`;
/// `None` means `p`'s shape). Computed as MLX does: `bits < p * nextafter(2^32, inf)`.
pub fn bernoulli_device(
    p: impl IntoArray,
    shape: Option<&[i32]>,
    key: Option<&Array>,
    stream: impl Into<Stream>,
) -> Result<Array> {
    let s = stream.into();
    let key = resolve_key(key);
    let p = p.into_array();
    if !p.dtype().is_float() {
        return Err(Error::dtype(
            "bernoulli",
            p.dtype(),
            "the probability p must be a float array",
        ));
    }
    let shape: Vec<i32> = match shape {
        Some(sh) => sh.to_vec(),
        None => p.shape().iter().map(|&d| d as i32).collect(),
    };
    let dims = to_shape("bernoulli", &shape)?;
    // nextafter((float)UINT32_MAX, FLT_MAX) = 2^32 + 2^9.
    let upper = Array::from_scalar(f32::from_bits((u32::MAX as f32).to_bits() + 1));
    let res = ops::less_device(
        bits_with_key(&shape, 4, key, s)?,
        ops::multiply_device(&p, upper, s)?,
        s,
    )?;
    if res.shape() != dims {
        return Err(Error::shape(
            "bernoulli",
            format!(
                "the shape {:?} of p is incompatible with the shape {dims:?}",
                p.shape()
            ),
        ));
    }
    Ok(res)
}
/// [`bernoulli_device`] on the default stream.
pub fn bernoulli(p: impl IntoArray, shape: Option<&[i32]>, key: Option<&Array>) -> Result<Array> {
    bernoulli_device(p, shape, key, Stream::default_stream())
}

/// Samples of the normal distribution truncated to `[lower, upper]` (`shape` `None` means the
/// broadcast shape of the bounds): `sqrt(2) * erfinv(uniform(erf(lower/√2), erf(upper/√2)))`,
/// clipped into the bounds.
pub fn truncated_normal_device(
    lower: impl IntoArray,
    upper: impl IntoArray,
    shape: Option<&[i32]>,
    dtype: Dtype,
    key: Option<&Array>,
    stream: impl Into<Stream>,
) -> Result<Array> {
    let s = stream.into();
    let key = resolve_key(key);
    let (lower, upper) = (lower.into_array(), upper.into_array());
    if !dtype.is_float() {
        return Err(Error::dtype(
            "truncated_normal",
            dtype,
            "truncated_normal needs a floating-point dtype",
        ));
    }
    let shape: Vec<i32> = match shape {
        Some(sh) => sh.to_vec(),
        None => broadcast_shapes("truncated_normal", lower.shape(), upper.shape())?
            .iter()
            .map(|&d| d as i32)
            .collect(),
    };
    let sqrt2 = lit(std::f64::consts::SQRT_2, dtype)?;
    let lower_t = ops::astype_device(&lower, dtype, s)?;
    let upper_t = ops::astype_device(&upper, dtype, s)?;
    let a = ops::erf_device(ops::divide_device(&lower_t, &sqrt2, s)?, s)?;
    let b = ops::erf_device(ops::divide_device(&upper_t, &sqrt2, s)?, s)?;
    let u = uniform_with_key(a, b, &shape, dtype, key, s)?;
    let out = ops::multiply_device(&sqrt2, ops::erfinv_device(u, s)?, s)?;
    ops::maximum_device(ops::minimum_device(&upper_t, out, s)?, &lower_t, s)
}
/// [`truncated_normal_device`] on the default stream.
pub fn truncated_normal(
    lower: impl IntoArray,
    upper: impl IntoArray,
    shape: Option<&[i32]>,
    dtype: Dtype,
    key: Option<&Array>,
) -> Result<Array> {
    truncated_normal_device(lower, upper, shape, dtype, key, Stream::default_stream())
}

/// `gumbel` with a resolved key.
fn gumbel_with_key(shape: &[i32], dtype: Dtype, key: Array, s: Stream) -> Result<Array> {
    let u = uniform_with_key(lit(0.0, dtype)?, lit(1.0, dtype)?, shape, dtype, key, s)?;
    ops::negative_device(
        ops::log_device(ops::negative_device(ops::log_device(u, s)?, s)?, s)?,
        s,
    )
}

/// Samples of the standard Gumbel distribution: `-log(-log(uniform(shape, dtype)))`.
pub fn gumbel_device(
    shape: &[i32],
    dtype: Dtype,
    key: Option<&Array>,
    stream: impl Into<Stream>,
) -> Result<Array> {
    let key = resolve_key(key);
    gumbel_with_key(shape, dtype, key, stream.into())
}
/// [`gumbel_device`] on the default stream.
pub fn gumbel(shape: &[i32], dtype: Dtype, key: Option<&Array>) -> Result<Array> {
    gumbel_device(shape, dtype, key, Stream::default_stream())
}

/// MLX's `categorical_impl`. When `logits` hold a single distribution (every axis but `axis`
/// has size 1) and the output has at least one axis, MLX 0.32 samples by inverting the CDF;
/// otherwise it uses the Gumbel-max trick over `axis`.
fn categorical_impl(
    logits: &Array,
    axis: usize,
    shape: &[usize],
    key: Array,
    s: Stream,
) -> Result<Array> {
    let batch: usize = logits
        .shape()
        .iter()
        .enumerate()
        .filter(|&(i, _)| i != axis)
        .map(|(_, &d)| d)
        .product();
    if batch == 1 && !shape.is_empty() {
        return categorical_inverse_cdf(logits, shape, key, s);
    }
    // `shape` has at least logits.ndim() - 1 axes (callers check), so this does not underflow.
    let offset = axis + shape.len() + 1 - logits.ndim();
    let mut gumbel_shape: Vec<i32> = shape.iter().map(|&d| d as i32).collect();
    gumbel_shape.insert(offset, logits.shape()[axis] as i32);
    let g = gumbel_with_key(&gumbel_shape, Dtype::Float32, key, s)?;
    ops::argmax_device(
        ops::add_device(g, logits, s)?,
        Some(offset as i32),
        false,
        s,
    )
}

/// Inverse-CDF sampling from the one distribution in `logits`, op for op as MLX 0.32:
/// `w = exp(x - max x)` (or the indicator of `x == max x` when the maximum is infinite),
/// `cdf` = exclusive cumulative sum of `w`, `v = uniform(shape) * sum(w)`, and the sample is
/// `searchsorted(cdf, v, side="right") - 1`, computed here as `count(cdf <= v) - 1`.
fn categorical_inverse_cdf(
    logits: &Array,
    shape: &[usize],
    key: Array,
    s: Stream,
) -> Result<Array> {
    let x = ops::astype_device(ops::reshape_device(logits, &[-1], s)?, Dtype::Float32, s)?;
    if x.size() == 0 {
        return Err(Error::arg(
            "categorical",
            "logits have no categories along the axis",
        ));
    }
    let m = ops::max_device(&x, None, false, s)?;
    let at_max = ops::astype_device(ops::equal_device(&x, &m, s)?, Dtype::Float32, s)?;
    let expw = ops::exp_device(ops::subtract_device(&x, &m, s)?, s)?;
    let w = ops::where_device(ops::isinf_device(&m, s)?, at_max, expw, s)?;
    let cdf = ops::cumsum_device(&w, Some(0), false, false, s)?;
    let total = ops::sum_device(&w, None, false, s)?;
    let shape: Vec<i32> = shape.iter().map(|&d| d as i32).collect();
    let u = uniform_with_key(
        lit(0.0, Dtype::Float32)?,
        lit(1.0, Dtype::Float32)?,
        &shape,
        Dtype::Float32,
        key,
        s,
    )?;
    let v = ops::expand_dims_device(ops::multiply_device(u, total, s)?, &[-1], s)?;
    let count = ops::sum_device(ops::less_equal_device(cdf, v, s)?, Some(&[-1]), false, s)?;
    ops::astype_device(ops::subtract_device(count, 1i32, s)?, Dtype::Uint32, s)
}

/// Samples class indices (uint32) from the categorical distributions given by the
/// unnormalized log-probabilities `logits` along `axis`. With `num_samples: None` the output
/// is `logits`' shape without `axis`; with `Some(k)` a trailing axis of `k` samples is added.
pub fn categorical_device(
    logits: impl IntoArray,
    axis: i32,
    num_samples: Option<i32>,
    key: Option<&Array>,
    stream: impl Into<Stream>,
) -> Result<Array> {
    let s = stream.into();
    let key = resolve_key(key);
    let logits = logits.into_array();
    let ax = ops::axis_of("categorical", axis, logits.ndim())?;
    match num_samples {
        None => {
            let mut shape = logits.shape().to_vec();
            shape.remove(ax);
            categorical_impl(&logits, ax, &shape, key, s)
        }
        Some(k) => {
            if k < 0 {
                return Err(Error::arg(
                    "categorical",
                    format!("num_samples must be non-negative, got {k}"),
                ));
            }
            let logits = ops::expand_dims_device(&logits, &[-1], s)?;
            let mut shape = logits.shape().to_vec();
            shape.remove(ax);
            *shape.last_mut().expect("at least the new axis") = k as usize;
            categorical_impl(&logits, ax, &shape, key, s)
        }
    }
}
/// [`categorical_device`] on the default stream.
pub fn categorical(
    logits: impl IntoArray,
    axis: i32,
    num_samples: Option<i32>,
    key: Option<&Array>,
) -> Result<Array> {
    categorical_device(logits, axis, num_samples, key, Stream::default_stream())
}

/// Categorical samples of an explicit output `shape`, which must be broadcast-compatible with
/// `logits`' shape without `axis` (MLX's `categorical(logits, axis, shape=...)`).
pub fn categorical_shape_device(
    logits: impl IntoArray,
    axis: i32,
    shape: &[i32],
    key: Option<&Array>,
    stream: impl Into<Stream>,
) -> Result<Array> {
    let s = stream.into();
    let key = resolve_key(key);
    let logits = logits.into_array();
    let ax = ops::axis_of("categorical", axis, logits.ndim())?;
    let dims = to_shape("categorical", shape)?;
    let mut reduced = logits.shape().to_vec();
    reduced.remove(ax);
    if broadcast_shapes("categorical", &dims, &reduced)? != dims {
        return Err(Error::shape(
            "categorical",
            format!("requested shape {dims:?} is not broadcast compatible with the reduced logits shape {reduced:?}"),
        ));
    }
    categorical_impl(&logits, ax, &dims, key, s)
}
/// [`categorical_shape_device`] on the default stream.
pub fn categorical_shape(
    logits: impl IntoArray,
    axis: i32,
    shape: &[i32],
    key: Option<&Array>,
) -> Result<Array> {
    categorical_shape_device(logits, axis, shape, key, Stream::default_stream())
}

/// Samples of the Laplace distribution by the inverse CDF: with `u` uniform in `(-1, 1)`,
/// `loc + scale * sign(u) * log1p(-|u|)`.
pub fn laplace_device(
    shape: &[i32],
    dtype: Dtype,
    loc: f32,
    scale: f32,
    key: Option<&Array>,
    stream: impl Into<Stream>,
) -> Result<Array> {
    let s = stream.into();
    let key = resolve_key(key);
    if !dtype.is_float() {
        return Err(Error::dtype(
            "laplace",
            dtype,
            "laplace samples need a floating-point dtype",
        ));
    }
    let u = symmetric_uniform(shape, key, s)?;
    let mag = ops::log1p_device(
        ops::multiply_device(lit(-1.0, dtype)?, ops::abs_device(&u, s)?, s)?,
        s,
    )?;
    let mut samples = ops::astype_device(
        ops::multiply_device(ops::sign_device(&u, s)?, mag, s)?,
        dtype,
        s,
    )?;
    if scale != 1.0 {
        samples = ops::multiply_device(lit(scale as f64, dtype)?, samples, s)?;
    }
    if loc != 0.0 {
        samples = ops::add_device(lit(loc as f64, dtype)?, samples, s)?;
    }
    Ok(samples)
}
/// [`laplace_device`] on the default stream.
pub fn laplace(
    shape: &[i32],
    dtype: Dtype,
    loc: f32,
    scale: f32,
    key: Option<&Array>,
) -> Result<Array> {
    laplace_device(shape, dtype, loc, scale, key, Stream::default_stream())
}

/// A random permutation of `0..n` (uint32): `argsort(bits([n]))`, as in MLX.
pub fn permutation_device(n: i32, key: Option<&Array>, stream: impl Into<Stream>) -> Result<Array> {
    let s = stream.into();
    let key = resolve_key(key);
    ops::argsort_device(bits_with_key(&[n], 4, key, s)?, Some(-1), s)
}
/// [`permutation_device`] on the default stream.
pub fn permutation(n: i32, key: Option<&Array>) -> Result<Array> {
    permutation_device(n, key, Stream::default_stream())
}

/// `x` with its slices along `axis` randomly permuted (`take(x, permutation(x.shape[axis]))`).
pub fn permutation_array_device(
    x: impl IntoArray,
    axis: i32,
    key: Option<&Array>,
    stream: impl Into<Stream>,
) -> Result<Array> {
    let s = stream.into();
    let x = x.into_array();
    let ax = ops::axis_of("permutation", axis, x.ndim())?;
    let n =
        i32::try_from(x.shape()[ax]).map_err(|_| Error::arg("permutation", "axis is too long"))?;
    let perm = permutation_device(n, key, s)?;
    ops::take_device(&x, perm, Some(ax as i32), s)
}
/// [`permutation_array_device`] on the default stream.
pub fn permutation_array(x: impl IntoArray, axis: i32, key: Option<&Array>) -> Result<Array> {
    permutation_array_device(x, axis, key, Stream::default_stream())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::primitive::Primitive;

    fn k() -> Array {
        super::super::key(42).unwrap()
    }

    #[test]
    fn constants_match_mlx() {
        assert_eq!(F32_BELOW_ONE, f32::from_bits(1.0f32.to_bits() - 1));
        assert_eq!(F32_ABOVE_MINUS_ONE, f32::from_bits((-1.0f32).to_bits() - 1));
        assert_eq!(
            f32::from_bits((u32::MAX as f32).to_bits() + 1),
            4294967808.0
        );
        assert_eq!(half::f16::from_bits(0x3bff).to_f32(), 0.999_511_7);
    }

    #[test]
    fn shapes_and_dtypes() {
        let u = uniform(0.0, 1.0, &[2, 3], Dtype::Float16, Some(&k())).unwrap();
        assert_eq!((u.shape(), u.dtype()), (&[2usize, 3][..], Dtype::Float16));
        let n = normal(&[5], Dtype::Bfloat16, 1.0, 2.0, Some(&k())).unwrap();
        assert_eq!((n.shape(), n.dtype()), (&[5usize][..], Dtype::Bfloat16));
        let r = randint(0, 10, &[7], Dtype::Int64, Some(&k())).unwrap();
        assert_eq!((r.shape(), r.dtype()), (&[7usize][..], Dtype::Int64));
        let b = bernoulli(0.5, Some(&[3]), Some(&k())).unwrap();
        assert_eq!((b.shape(), b.dtype()), (&[3usize][..], Dtype::Bool));
        let t = truncated_normal(-1.0, 1.0, Some(&[4]), Dtype::Float32, Some(&k())).unwrap();
        assert_eq!(t.shape(), &[4]);
        let logits = ops::zeros(&[2, 3], Dtype::Float32).unwrap();
        let c = categorical(&logits, -1, None, Some(&k())).unwrap();
        assert_eq!((c.shape(), c.dtype()), (&[2usize][..], Dtype::Uint32));
        let c = categorical(&logits, 0, Some(5), Some(&k())).unwrap();
        assert_eq!(c.shape(), &[3, 5]);
        let c = categorical_shape(&logits, 1, &[4, 2], Some(&k())).unwrap();
        assert_eq!(c.shape(), &[4, 2]);
        let p = permutation(6, Some(&k())).unwrap();
        assert_eq!((p.shape(), p.dtype()), (&[6usize][..], Dtype::Uint32));
        // The bits come from one RandomBits node whose input is the key.
        let raw = bits_with_key(&[5], 4, k(), Stream::default_stream()).unwrap();
        assert_eq!(raw.primitive(), Some(Primitive::RandomBits));
        assert_eq!(raw.inputs()[0].shape(), &[2]);
    }

    #[test]
    fn invalid_arguments_are_errors() {
        let key = k();
        let key = Some(&key);
        assert!(uniform(0.0, 1.0, &[2], Dtype::Int32, key).is_err());
        assert!(uniform(0.0, 1.0, &[2], Dtype::Float64, key).is_err());
        let wide = ops::zeros(&[3], Dtype::Float32).unwrap();
        assert!(uniform(&wide, 1.0, &[2], Dtype::Float32, key).is_err());
        assert!(uniform(&wide, 1.0, &[1], Dtype::Float32, key).is_err());
        assert!(normal(&[2], Dtype::Int32, 0.0, 1.0, key).is_err());
        assert!(randint(0, 10, &[2], Dtype::Float32, key).is_err());
        assert!(bernoulli(1i32, Some(&[2]), key).is_err());
        assert!(bernoulli(&wide, Some(&[2]), key).is_err());
        assert!(bernoulli(&wide, Some(&[1]), key).is_err());
        assert!(truncated_normal(0.0, 1.0, Some(&[2]), Dtype::Uint8, key).is_err());
        assert!(gumbel(&[-2], Dtype::Float32, key).is_err());
        let logits = ops::zeros(&[2, 3], Dtype::Float32).unwrap();
        assert!(categorical(&logits, 2, None, key).is_err());
        assert!(categorical(&logits, 0, Some(-1), key).is_err());
        assert!(categorical_shape(&logits, 1, &[3], key).is_err());
        assert!(laplace(&[2], Dtype::Bool, 0.0, 1.0, key).is_err());
        let bad = Array::from_slice(&[1.0f32, 2.0], &[2]);
        assert!(uniform(0.0, 1.0, &[2], Dtype::Float32, Some(&bad)).is_err());
    }
}
