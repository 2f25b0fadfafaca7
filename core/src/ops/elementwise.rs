//! Elementwise ops: unary math, binary arithmetic/comparison/logic/bitwise with NumPy
//! broadcasting and MLX type promotion, `where`, `astype`, and composites (clip, nan_to_num...).

use super::IntoArray;
use crate::dtype::promote_types;
use crate::layout::broadcast_shapes;
use crate::primitive::{BinaryOp, Primitive, UnaryOp};
use crate::{Array, Dtype, Error, Result, Stream};

/// The dtype of `a ⊕ b` under MLX promotion, letting weakly typed scalars defer to the other side.
pub fn result_type(a: &Array, b: &Array) -> Dtype {
    fn weak(strong: Dtype, weak: Dtype) -> Dtype {
        if weak.is_float() {
            if strong.is_float() {
                strong
            } else {
                Dtype::Float32
            }
        } else if weak.is_int() {
            if strong == Dtype::Bool {
                weak
            } else {
                strong
            }
        } else {
            strong
        }
    }
    match (a.is_weak(), b.is_weak()) {
        (true, false) => weak(b.dtype(), a.dtype()),
        (false, true) => weak(a.dtype(), b.dtype()),
        _ => promote_types(a.dtype(), b.dtype()),
    }
}

/// Converts to `dtype` (a no-op returning `a` itself when it already has it).
pub fn astype_device(a: impl IntoArray, dtype: Dtype, stream: impl Into<Stream>) -> Result<Array> {
    let a = a.into_array();
    if a.dtype() == dtype {
        return Ok(a);
    }
    Ok(Array::from_op(
        a.shape().to_vec(),
        dtype,
        stream.into(),
        Primitive::AsType,
        vec![a],
    ))
}
/// Converts to `dtype` on the default stream.
pub fn astype(a: impl IntoArray, dtype: Dtype) -> Result<Array> {
    astype_device(a, dtype, Stream::default_stream())
}

/// Applies a unary primitive with MLX's dtype rules.
pub fn unary_device(op: UnaryOp, a: impl IntoArray, stream: impl Into<Stream>) -> Result<Array> {
    let s = stream.into();
    let a = a.into_array();
    let dt = a.dtype();
    use UnaryOp::*;
    match op {
        Negative if dt == Dtype::Bool => {
            return Err(Error::dtype(
                op.name(),
                dt,
                "not supported for bool, use logical_not",
            ))
        }
        BitwiseInvert if dt.is_float() => {
            return Err(Error::dtype(
                op.name(),
                dt,
                "bitwise ops need integer or bool inputs",
            ))
        }
        Floor | Ceil | Round if !dt.is_float() => return Ok(a),
        IsNan | IsInf if !dt.is_float() => {
            return super::zeros_device(&shape_i32(a.shape()), Dtype::Bool, s);
        }
        LogicalNot => {
            let b = astype_device(&a, Dtype::Bool, s)?;
            return Ok(Array::from_op(
                b.shape().to_vec(),
                Dtype::Bool,
                s,
                Primitive::Unary(op),
                vec![b],
            ));
        }
        _ => {}
    }
    let (in_dt, out_dt) = if op.outputs_bool() {
        (dt, Dtype::Bool)
    } else if op.is_float_only() {
        (dt.to_float(), dt.to_float())
    } else {
        (dt, dt)
    };
    let a = astype_device(&a, in_dt, s)?;
    Ok(Array::from_op(
        a.shape().to_vec(),
        out_dt,
        s,
        Primitive::Unary(op),
        vec![a],
    ))
}

/// MLX refuses a Python int that the array's integer dtype cannot hold (`uint8 + (-1)`).
fn check_weak_fits(op: &'static str, x: &Array, dt: Dtype) -> Result<()> {
    if !x.is_weak() || !x.dtype().is_int() || !dt.is_int() {
        return Ok(());
    }
    let v = x.to_f64_vec()?[0];
    let bits = dt.size() as i32 * 8;
    let (lo, hi) = if dt.is_signed_int() {
        (-(2f64.powi(bits - 1)), 2f64.powi(bits - 1) - 1.0)
    } else {
        (0.0, 2f64.powi(bits) - 1.0)
    };
    if v < lo || v > hi {
        return Err(Error::arg(
            op,
            format!("converting {v} to {dt} would overflow"),
        ));
    }
    Ok(())
}

pub(crate) fn shape_i32(shape: &[usize]) -> Vec<i32> {
    shape.iter().map(|&d| d as i32).collect()
}

/// Applies a binary primitive with broadcasting and MLX promotion.
pub fn binary_device(
    op: BinaryOp,
    a: impl IntoArray,
    b: impl IntoArray,
    stream: impl Into<Stream>,
) -> Result<Array> {
    let s = stream.into();
    let (a, b) = (a.into_array(), b.into_array());
    let shape = broadcast_shapes(op.name(), a.shape(), b.shape())?;
    let mut dt = result_type(&a, &b);
    if op.is_float_only() {
        dt = dt.to_float();
    }
    if matches!(op, BinaryOp::LogicalAnd | BinaryOp::LogicalOr) {
        dt = Dtype::Bool;
    }
    if op.is_bitwise() && dt.is_float() {
        return Err(Error::dtype(
            op.name(),
            dt,
            "bitwise ops need integer or bool inputs",
        ));
    }
    if matches!(op, BinaryOp::LeftShift | BinaryOp::RightShift) && dt == Dtype::Bool {
        dt = Dtype::Uint8; // MLX shifts bools as uint8
    }
    check_weak_fits(op.name(), &a, dt)?;
    check_weak_fits(op.name(), &b, dt)?;
    let a = super::broadcast_to_device(&astype_device(&a, dt, s)?, &shape_i32(&shape), s)?;
    let b = super::broadcast_to_device(&astype_device(&b, dt, s)?, &shape_i32(&shape), s)?;
    let out = if op.outputs_bool() { Dtype::Bool } else { dt };
    Ok(Array::from_op(
        shape,
        out,
        s,
        Primitive::Binary(op),
        vec![a, b],
    ))
}

macro_rules! unary_fns {
    ($($(#[$doc:meta])* $name:ident, $dev:ident => $op:ident;)*) => {$(
        $(#[$doc])*
        pub fn $dev(a: impl IntoArray, stream: impl Into<Stream>) -> Result<Array> {
            unary_device(UnaryOp::$op, a, stream)
        }
        $(#[$doc])*
        pub fn $name(a: impl IntoArray) -> Result<Array> {
            unary_device(UnaryOp::$op, a, Stream::default_stream())
        }
    )*};
}

unary_fns! {
    /// `-a`.
    negative, negative_device => Negative;
    /// `|a|`.
    abs, abs_device => Abs;
    /// -1, 0 or 1 by sign.
    sign, sign_device => Sign;
    /// `a * a`.
    square, square_device => Square;
    /// Square root (float).
    sqrt, sqrt_device => Sqrt;
    /// `1 / sqrt(a)`.
    rsqrt, rsqrt_device => Rsqrt;
    /// `1 / a` (float).
    reciprocal, reciprocal_device => Reciprocal;
    /// `e^a`.
    exp, exp_device => Exp;
    /// `e^a - 1`, accurate near 0.
    expm1, expm1_device => Expm1;
    /// Natural log.
    log, log_device => Log;
    /// `log(1 + a)`, accurate near 0.
    log1p, log1p_device => Log1p;
    /// Base-2 log.
    log2, log2_device => Log2;
    /// Base-10 log.
    log10, log10_device => Log10;
    /// Sine.
    sin, sin_device => Sin;
    /// Cosine.
    cos, cos_device => Cos;
    /// Tangent.
    tan, tan_device => Tan;
    /// Inverse sine.
    arcsin, arcsin_device => Arcsin;
    /// Inverse cosine.
    arccos, arccos_device => Arccos;
    /// Inverse tangent.
    arctan, arctan_device => Arctan;
    /// Hyperbolic sine.
    sinh, sinh_device => Sinh;
    /// Hyperbolic cosine.
    cosh, cosh_device => Cosh;
    /// Hyperbolic tangent.
    tanh, tanh_device => Tanh;
    /// Inverse hyperbolic sine.
    arcsinh, arcsinh_device => Arcsinh;
    /// Inverse hyperbolic cosine.
    arccosh, arccosh_device => Arccosh;
    /// Inverse hyperbolic tangent.
    arctanh, arctanh_device => Arctanh;
    /// Logistic sigmoid `1 / (1 + e^-a)`.
    sigmoid, sigmoid_device => Sigmoid;
    /// Error function.
    erf, erf_device => Erf;
    /// Inverse error function.
    erfinv, erfinv_device => Erfinv;
    /// Round down (ints unchanged).
    floor, floor_device => Floor;
    /// Round up (ints unchanged).
    ceil, ceil_device => Ceil;
    /// Round half to even (ints unchanged).
    round, round_device => Round;
    /// Logical not (output bool).
    logical_not, logical_not_device => LogicalNot;
    /// Bitwise not (ints and bool).
    bitwise_invert, bitwise_invert_device => BitwiseInvert;
    /// True where NaN.
    isnan, isnan_device => IsNan;
    /// True where ±infinity.
    isinf, isinf_device => IsInf;
}

macro_rules! binary_fns {
    ($($(#[$doc:meta])* $name:ident, $dev:ident => $op:ident;)*) => {$(
        $(#[$doc])*
        pub fn $dev(a: impl IntoArray, b: impl IntoArray, stream: impl Into<Stream>) -> Result<Array> {
            binary_device(BinaryOp::$op, a, b, stream)
        }
        $(#[$doc])*
        pub fn $name(a: impl IntoArray, b: impl IntoArray) -> Result<Array> {
            binary_device(BinaryOp::$op, a, b, Stream::default_stream())
        }
    )*};
}

binary_fns! {
    /// `a + b`.
    add, add_device => Add;
    /// `a - b`.
    subtract, subtract_device => Subtract;
    /// `a * b`.
    multiply, multiply_device => Multiply;
    /// `a / b` in float (ints are promoted to float32, as in MLX).
    divide, divide_device => Divide;
    /// `floor(a / b)`; integer division by zero gives 0 (no trap).
    floor_divide, floor_divide_device => FloorDivide;
    /// Remainder with the sign of `b` (Python's `%`); integer remainder by zero gives 0.
    remainder, remainder_device => Remainder;
    /// `a ^ b`.
    power, power_device => Power;
    /// Elementwise maximum (NaN propagates).
    maximum, maximum_device => Maximum;
    /// Elementwise minimum (NaN propagates).
    minimum, minimum_device => Minimum;
    /// `atan2(a, b)`.
    arctan2, arctan2_device => Arctan2;
    /// `log(e^a + e^b)`, computed stably.
    logaddexp, logaddexp_device => LogAddExp;
    /// `silu(a) · b` (`a · sigmoid(a) · b`) in one kernel: the SwiGLU gate of Llama-family
    /// MLPs. An MLX-ARM extension (MLX fuses it through `compile`); computed in float.
    silu_mul, silu_mul_device => SiluMul;
    /// `a == b`.
    equal, equal_device => Equal;
    /// `a != b`.
    not_equal, not_equal_device => NotEqual;
    /// `a < b`.
    less, less_device => Less;
    /// `a <= b`.
    less_equal, less_equal_device => LessEqual;
    /// `a > b`.
    greater, greater_device => Greater;
    /// `a >= b`.
    greater_equal, greater_equal_device => GreaterEqual;
    /// Logical and.
    logical_and, logical_and_device => LogicalAnd;
    /// Logical or.
    logical_or, logical_or_device => LogicalOr;
    /// Bitwise and.
    bitwise_and, bitwise_and_device => BitwiseAnd;
    /// Bitwise or.
    bitwise_or, bitwise_or_device => BitwiseOr;
    /// Bitwise xor.
    bitwise_xor, bitwise_xor_device => BitwiseXor;
    /// `a << b`.
    left_shift, left_shift_device => LeftShift;
    /// `a >> b` (arithmetic for signed ints).
    right_shift, right_shift_device => RightShift;
}

/// `cond ? x : y` with broadcasting; `x` and `y` are promoted together.
pub fn where_device(
    cond: impl IntoArray,
    x: impl IntoArray,
    y: impl IntoArray,
    stream: impl Into<Stream>,
) -> Result<Array> {
    let s = stream.into();
    let (c, x, y) = (cond.into_array(), x.into_array(), y.into_array());
    let shape = broadcast_shapes(
        "where",
        &broadcast_shapes("where", c.shape(), x.shape())?,
        y.shape(),
    )?;
    let dt = result_type(&x, &y);
    let sh = shape_i32(&shape);
    let c = super::broadcast_to_device(&astype_device(&c, Dtype::Bool, s)?, &sh, s)?;
    let x = super::broadcast_to_device(&astype_device(&x, dt, s)?, &sh, s)?;
    let y = super::broadcast_to_device(&astype_device(&y, dt, s)?, &sh, s)?;
    Ok(Array::from_op(
        shape,
        dt,
        s,
        Primitive::Select,
        vec![c, x, y],
    ))
}
/// `cond ? x : y` on the default stream.
pub fn r#where(cond: impl IntoArray, x: impl IntoArray, y: impl IntoArray) -> Result<Array> {
    where_device(cond, x, y, Stream::default_stream())
}
/// Alias of [`r#where`] (mlx-rs calls it `which`).
pub fn which(cond: impl IntoArray, x: impl IntoArray, y: impl IntoArray) -> Result<Array> {
    where_device(cond, x, y, Stream::default_stream())
}

/// Clamps into `[min, max]`; either bound may be `None`.
pub fn clip_device(
    a: impl IntoArray,
    min: Option<Array>,
    max: Option<Array>,
    stream: impl Into<Stream>,
) -> Result<Array> {
    let s = stream.into();
    let mut out = a.into_array();
    if min.is_none() && max.is_none() {
        return Err(Error::arg(
            "clip",
            "at least one of min and max must be given",
        ));
    }
    if let Some(lo) = min {
        out = maximum_device(&out, &lo, s)?;
    }
    if let Some(hi) = max {
        out = minimum_device(&out, &hi, s)?;
    }
    Ok(out)
}
/// Clamps into `[min, max]` on the default stream.
pub fn clip(a: impl IntoArray, min: Option<Array>, max: Option<Array>) -> Result<Array> {
    clip_device(a, min, max, Stream::default_stream())
}

/// True where finite (not NaN, not ±inf).
pub fn isfinite_device(a: impl IntoArray, stream: impl Into<Stream>) -> Result<Array> {
    let s = stream.into();
    let a = a.into_array();
    let bad = logical_or_device(isnan_device(&a, s)?, isinf_device(&a, s)?, s)?;
    logical_not_device(bad, s)
}
/// True where finite, on the default stream.
pub fn isfinite(a: impl IntoArray) -> Result<Array> {
    isfinite_device(a, Stream::default_stream())
}

/// Replaces NaN with `nan`, +inf with `posinf` (default: the dtype's max) and -inf with `neginf`
/// (default: the dtype's lowest).
pub fn nan_to_num_device(
    a: impl IntoArray,
    nan: f32,
    posinf: Option<f32>,
    neginf: Option<f32>,
    stream: impl Into<Stream>,
) -> Result<Array> {
    let s = stream.into();
    let a = a.into_array();
    if !a.dtype().is_float() {
        return Ok(a);
    }
    let max = match a.dtype() {
        Dtype::Float16 => 65504.0f64,
        Dtype::Bfloat16 => half::bf16::MAX.to_f64(),
        Dtype::Float32 => f32::MAX as f64,
        _ => f64::MAX,
    };
    let pos = posinf.map(|v| v as f64).unwrap_or(max);
    let neg = neginf.map(|v| v as f64).unwrap_or(-max);
    let dt = a.dtype();
    let lit = |v: f64| super::full_device(&[], v, dt, s);
    let out = where_device(isnan_device(&a, s)?, lit(nan as f64)?, &a, s)?;
    let posmask = logical_and_device(
        isinf_device(&out, s)?,
        greater_device(&out, lit(0.0)?, s)?,
        s,
    )?;
    let out = where_device(posmask, lit(pos)?, &out, s)?;
    let negmask = logical_and_device(isinf_device(&out, s)?, less_device(&out, lit(0.0)?, s)?, s)?;
    where_device(negmask, lit(neg)?, &out, s)
}
/// [`nan_to_num_device`] on the default stream.
pub fn nan_to_num(
    a: impl IntoArray,
    nan: f32,
    posinf: Option<f32>,
    neginf: Option<f32>,
) -> Result<Array> {
    nan_to_num_device(a, nan, posinf, neginf, Stream::default_stream())
}
