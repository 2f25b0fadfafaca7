//! The WGSL expression of every elementwise op, per storage scalar: unary ops in terms of `x`,
//! binary ops in terms of `a` and `b`, casts in terms of `x`. The exhaustive matches make a new
//! `UnaryOp`/`BinaryOp` a compile error here until it has a GPU expression.

use crate::{scalar, Scalar};
use mlx_arm_core::primitive::{BinaryOp, UnaryOp};
use mlx_arm_core::Dtype;

/// Expression of `op` applied to `x` of dtype `dt` (already the op's input dtype), or `None`
/// where the op is not defined for the dtype (the op layer never builds those).
pub fn unary_expr(op: UnaryOp, dt: Dtype) -> Option<&'static str> {
    use UnaryOp::*;
    let s = scalar(dt);
    Some(match (op, s) {
        (Negative, Scalar::F32) | (Negative, Scalar::I32) => "-x",
        (Negative, Scalar::U32) => "0u - x",
        (Abs, Scalar::U32) => "x",
        (Abs, _) => "abs(x)",
        (Sign, Scalar::F32) => "sign_f32(x)",
        (Sign, Scalar::I32) => "sign(x)",
        (Sign, Scalar::U32) => "select(0u, 1u, x > 0u)",
        (Square, _) => "x * x",
        (Floor | Ceil | Round, Scalar::I32 | Scalar::U32) => "x",
        (BitwiseInvert, Scalar::U32) if dt == Dtype::Bool => "x ^ 1u",
        (BitwiseInvert, Scalar::I32 | Scalar::U32) => "~x",
        (LogicalNot, Scalar::U32) => "select(0u, 1u, x == 0u)",
        (IsNan, Scalar::F32) => "select(0u, 1u, is_nan(x))",
        (IsInf, Scalar::F32) => "select(0u, 1u, is_inf(x))",
        (_, Scalar::I32 | Scalar::U32) => return None,
        (Sqrt, _) => "sqrt_f32(x)",
        (Rsqrt, _) => "rsqrt_f32(x)",
        (Reciprocal, _) => "1.0 / x",
        (Exp, _) => "exp(x)",
        (Expm1, _) => "expm1_f32(x)",
        (Log, _) => "log_f32(x)",
        (Log1p, _) => "log1p_f32(x)",
        (Log2, _) => "log2_f32(x)",
        (Log10, _) => "log_f32(x) * 0.4342944819032518",
        (Sin, _) => "sin(x)",
        (Cos, _) => "cos(x)",
        (Tan, _) => "tan(x)",
        (Arcsin, _) => "asin_f32(x)",
        (Arccos, _) => "acos_f32(x)",
        (Arctan, _) => "atan(x)",
        (Sinh, _) => "sinh(x)",
        (Cosh, _) => "cosh(x)",
        (Tanh, _) => "tanh_f32(x)",
        (Arcsinh, _) => "asinh(x)",
        (Arccosh, _) => "acosh_f32(x)",
        (Arctanh, _) => "atanh_f32(x)",
        (Sigmoid, _) => "1.0 / (1.0 + exp(-x))",
        (Erf, _) => "erf_f32(x)",
        (Erfinv, _) => "erfinv_f32(x)",
        (Floor, _) => "floor(x)",
        (Ceil, _) => "ceil(x)",
        (Round, _) => "round(x)",
        (LogicalNot | BitwiseInvert, Scalar::F32) => return None,
    })
}

/// Expression of `op` on `a`, `b` of dtype `dt` (the promoted input dtype).
pub fn binary_expr(op: BinaryOp, dt: Dtype) -> Option<&'static str> {
    use BinaryOp::*;
    let s = scalar(dt);
    Some(match (op, s) {
        (Add, _) => "a + b",
        (Subtract, _) => "a - b",
        (Multiply, _) => "a * b",
        (Divide, Scalar::F32) => "a / b",
        (Divide | FloorDivide, Scalar::I32) => "floor_div_i32(a, b)",
        (Divide | FloorDivide, Scalar::U32) => "floor_div_u32(a, b)",
        (FloorDivide, Scalar::F32) => "floor(a / b)",
        (Remainder, Scalar::F32) => "remainder_f32(a, b)",
        (Remainder, Scalar::I32) => "remainder_i32(a, b)",
        (Remainder, Scalar::U32) => "remainder_u32(a, b)",
        (Power, Scalar::F32) => "pow_f32(a, b)",
        (Power, Scalar::I32) => "pow_i32(a, b)",
        (Power, Scalar::U32) => "pow_u32(a, b)",
        (Maximum, Scalar::F32) => "max_f32(a, b)",
        (Minimum, Scalar::F32) => "min_f32(a, b)",
        (Maximum, _) => "max(a, b)",
        (Minimum, _) => "min(a, b)",
        (Arctan2, Scalar::F32) => "atan2_f32(a, b)",
        (LogAddExp, Scalar::F32) => "logaddexp_f32(a, b)",
        (SiluMul, Scalar::F32) => "a / (1.0 + exp(-a)) * b",
        (Arctan2 | LogAddExp | SiluMul, _) => return None,
        (Equal, _) => "select(0u, 1u, a == b)",
        (NotEqual, _) => "select(0u, 1u, !(a == b))", // true for NaN (an unordered compare)
        (Less, _) => "select(0u, 1u, a < b)",
        (LessEqual, _) => "select(0u, 1u, a <= b)",
        (Greater, _) => "select(0u, 1u, a > b)",
        (GreaterEqual, _) => "select(0u, 1u, a >= b)",
        (LogicalAnd, Scalar::U32) => "select(0u, 1u, (a != 0u) && (b != 0u))",
        (LogicalOr, Scalar::U32) => "select(0u, 1u, (a != 0u) || (b != 0u))",
        (LogicalAnd | LogicalOr, _) => return None,
        (BitwiseAnd, Scalar::I32 | Scalar::U32) => "a & b",
        (BitwiseOr, Scalar::I32 | Scalar::U32) => "a | b",
        (BitwiseXor, Scalar::I32 | Scalar::U32) => "a ^ b",
        (LeftShift, Scalar::I32) => "shl_i32(a, b)",
        (RightShift, Scalar::I32) => "shr_i32(a, b)",
        (LeftShift, Scalar::U32) => "shl_u32(a, b)",
        (RightShift, Scalar::U32) => "shr_u32(a, b)",
        (BitwiseAnd | BitwiseOr | BitwiseXor | LeftShift | RightShift, Scalar::F32) => return None,
    })
}

/// Expression converting `x` stored for `from` into the storage of `to` (before narrowing),
/// with Rust `as` semantics: float-to-int saturates, int-to-int wraps, NaN becomes 0.
pub fn cast_expr(from: Dtype, to: Dtype) -> String {
    let (s, t) = (scalar(from), scalar(to));
    if to == Dtype::Bool {
        return match s {
            Scalar::F32 => "select(0u, 1u, !(x == 0.0))".into(), // NaN is true
            Scalar::I32 => "select(0u, 1u, x != 0)".into(),
            Scalar::U32 => "select(0u, 1u, x != 0u)".into(),
        };
    }
    match (s, t) {
        (a, b) if a == b => "x".into(),
        (_, Scalar::F32) => "f32(x)".into(),
        (Scalar::F32, Scalar::I32) => {
            let (lo, hi) = match to {
                Dtype::Int8 => (-128.0, 127.0),
                Dtype::Int16 => (-32768.0, 32767.0),
                _ => (-2147483648.0, 2147483647.0),
            };
            format!("f32_to_i32_sat(x, {lo:?}, {hi:?})")
        }
        (Scalar::F32, Scalar::U32) => {
            let hi = match to {
                Dtype::Uint8 => 255.0,
                Dtype::Uint16 => 65535.0,
                _ => 4294967295.0,
            };
            format!("f32_to_u32_sat(x, {hi:?})")
        }
        (Scalar::U32, Scalar::I32) => "bitcast<i32>(x)".into(),
        (Scalar::I32, Scalar::U32) => "bitcast<u32>(x)".into(),
        _ => unreachable!("all scalar pairs covered"),
    }
}
