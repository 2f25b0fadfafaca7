//! The element types the CPU backend computes on, and the per-dtype semantics of every
//! elementwise op (integer ops wrap, division by zero gives 0 for ints, floats follow IEEE; f16
//! and bf16 compute in f32 and round on store). `with_dtype!` maps a runtime `Dtype` to a type.

use half::{bf16, f16};
use mlx_arm_core::dtype::{Bool8, Element};
use mlx_arm_core::primitive::{BinaryOp, UnaryOp};

/// Runs `$body` with `$T` aliased to the Rust element type of `$dt`.
#[macro_export]
macro_rules! with_dtype {
    ($dt:expr, $T:ident => $body:expr) => {{
        use mlx_arm_core::Dtype as D;
        match $dt {
            D::Bool => {
                type $T = mlx_arm_core::dtype::Bool8;
                $body
            }
            D::Uint8 => {
                type $T = u8;
                $body
            }
            D::Uint16 => {
                type $T = u16;
                $body
            }
            D::Uint32 => {
                type $T = u32;
                $body
            }
            D::Uint64 => {
                type $T = u64;
                $body
            }
            D::Int8 => {
                type $T = i8;
                $body
            }
            D::Int16 => {
                type $T = i16;
                $body
            }
            D::Int32 => {
                type $T = i32;
                $body
            }
            D::Int64 => {
                type $T = i64;
                $body
            }
            D::Float16 => {
                type $T = half::f16;
                $body
            }
            D::Bfloat16 => {
                type $T = half::bf16;
                $body
            }
            D::Float32 => {
                type $T = f32;
                $body
            }
            D::Float64 => {
                type $T = f64;
                $body
            }
        }
    }};
}

/// A value in transit between dtypes during a cast: exact for every int, f64 for floats.
#[derive(Clone, Copy)]
pub enum Wide {
    /// Integers and bool.
    Int(i128),
    /// Floats.
    Float(f64),
}

/// Per-dtype semantics of the CPU kernels.
pub trait CpuType: Element + PartialOrd + Default {
    /// True when the type is a float.
    const FLOAT: bool;
    /// Applies a value-preserving unary op.
    fn unary(op: UnaryOp, x: Self) -> Self;
    /// isnan / isinf.
    fn predicate(op: UnaryOp, x: Self) -> bool;
    /// Applies an arithmetic/bitwise binary op.
    fn binary(op: BinaryOp, a: Self, b: Self) -> Self;
    /// Applies a comparison or logical op.
    fn compare(op: BinaryOp, a: Self, b: Self) -> bool {
        use BinaryOp::*;
        match op {
            Equal => a == b,
            NotEqual => a != b,
            Less => a < b,
            LessEqual => a <= b,
            Greater => a > b,
            GreaterEqual => a >= b,
            LogicalAnd => a.truthy() && b.truthy(),
            LogicalOr => a.truthy() || b.truthy(),
            _ => unreachable!("{} is not a comparison", op.name()),
        }
    }
    /// Non-zero.
    fn truthy(self) -> bool;
    /// NaN (floats only).
    fn is_nan_value(self) -> bool {
        false
    }
    /// Widens for casting.
    fn wide(self) -> Wide;
    /// Narrows from a cast value (`as` semantics).
    fn from_wide(w: Wide) -> Self;
    /// The lowest value (−inf for floats), identity of max.
    fn lowest() -> Self;
    /// The highest value (+inf for floats), identity of min.
    fn highest() -> Self;
    /// 0.
    fn zero() -> Self;
    /// 1.
    fn one() -> Self;
}

/// Float math shared by f32 and f64 (generated once per type from one body).
macro_rules! float_math {
    ($t:ty, $erf:path, $pi:expr) => {
        impl FloatMath for $t {
            fn unary_f(op: UnaryOp, x: $t) -> $t {
                use UnaryOp::*;
                match op {
                    Negative => -x,
                    Abs => x.abs(),
                    Sign => {
                        if x > 0.0 {
                            1.0
                        } else if x < 0.0 {
                            -1.0
                        } else {
                            0.0
                        }
                    } // MLX: sign(NaN) = 0
                    Square => x * x,
                    Sqrt => x.sqrt(),
                    Rsqrt => 1.0 / x.sqrt(),
                    Reciprocal => 1.0 / x,
                    Exp => x.exp(),
                    Expm1 => x.exp_m1(),
                    Log => x.ln(),
                    Log1p => x.ln_1p(),
                    Log2 => x.log2(),
                    Log10 => x.log10(),
                    Sin => x.sin(),
                    Cos => x.cos(),
                    Tan => x.tan(),
                    Arcsin => x.asin(),
                    Arccos => x.acos(),
                    Arctan => x.atan(),
                    Sinh => x.sinh(),
                    Cosh => x.cosh(),
                    Tanh => x.tanh(),
                    Arcsinh => x.asinh(),
                    Arccosh => x.acosh(),
                    Arctanh => x.atanh(),
                    Sigmoid => 1.0 / (1.0 + (-x).exp()),
                    Erf => $erf(x),
                    Erfinv => erfinv(x as f64) as $t,
                    Floor => x.floor(),
                    Ceil => x.ceil(),
                    Round => x.round_ties_even(),
                    LogicalNot | BitwiseInvert | IsNan | IsInf => {
                        unreachable!("{} is not a float map", op.name())
                    }
                }
            }
            fn binary_f(op: BinaryOp, a: $t, b: $t) -> $t {
                use BinaryOp::*;
                match op {
                    Add => a + b,
                    Subtract => a - b,
                    Multiply => a * b,
                    Divide => a / b,
                    FloorDivide => (a / b).floor(),
                    Remainder => {
                        let r = a % b;
                        if r != 0.0 && ((r < 0.0) != (b < 0.0)) {
                            r + b
                        } else {
                            r
                        }
                    }
                    Power => a.powf(b),
                    Maximum => {
                        if a.is_nan() || b.is_nan() {
                            <$t>::NAN
                        } else {
                            a.max(b)
                        }
                    }
                    Minimum => {
                        if a.is_nan() || b.is_nan() {
                            <$t>::NAN
                        } else {
                            a.min(b)
                        }
                    }
                    Arctan2 => a.atan2(b),
                    LogAddExp => {
                        if a.is_nan() || b.is_nan() {
                            return <$t>::NAN;
                        }
                        let m = a.max(b);
                        if m == <$t>::NEG_INFINITY || m == <$t>::INFINITY {
                            return m;
                        }
                        m + (-(a - b).abs()).exp().ln_1p()
                    }
                    SiluMul => a / (1.0 + (-a).exp()) * b,
                    _ => unreachable!("{} is not a float op", op.name()),
                }
            }
        }
    };
}

/// Unary and binary math on a native float type.
pub trait FloatMath: Sized {
    /// Unary math.
    fn unary_f(op: UnaryOp, x: Self) -> Self;
    /// Binary math.
    fn binary_f(op: BinaryOp, a: Self, b: Self) -> Self;
}
float_math!(f32, libm::erff, std::f32::consts::PI);
float_math!(f64, libm::erf, std::f64::consts::PI);

/// Inverse error function: Giles' single-precision approximation refined by two Newton steps.
pub fn erfinv(x: f64) -> f64 {
    if x <= -1.0 {
        return if x == -1.0 {
            f64::NEG_INFINITY
        } else {
            f64::NAN
        };
    }
    if x >= 1.0 {
        return if x == 1.0 { f64::INFINITY } else { f64::NAN };
    }
    let w = -((1.0 - x) * (1.0 + x)).ln();
    let mut p;
    if w < 5.0 {
        let w = w - 2.5;
        p = 2.810_226_36e-08;
        for c in [
            3.432_739_39e-07,
            -3.523_387_7e-06,
            -4.391_506_54e-06,
            0.000_218_580_87,
            -0.001_253_725_03,
            -0.004_177_681_64,
            0.246_640_727,
            1.501_409_41,
        ] {
            p = c + p * w;
        }
    } else {
        let w = w.sqrt() - 3.0;
        p = -0.000_200_214_257;
        for c in [
            0.000_100_950_558,
            0.001_349_343_22,
            -0.003_673_428_44,
            0.005_739_507_73,
            -0.007_622_461_3,
            0.009_438_870_47,
            1.001_674_06,
            2.832_976_82,
        ] {
            p = c + p * w;
        }
    }
    let mut y = p * x;
    let k = 2.0 / std::f64::consts::PI.sqrt();
    for _ in 0..2 {
        let e = libm::erf(y) - x;
        y -= e / (k * (-y * y).exp());
    }
    y
}

macro_rules! float_type {
    ($t:ty, $native:ty, $to:expr, $from:expr, $float:expr) => {
        impl CpuType for $t {
            const FLOAT: bool = $float;
            fn unary(op: UnaryOp, x: Self) -> Self {
                let f: fn(Self) -> $native = $to;
                let g: fn($native) -> Self = $from;
                g(<$native>::unary_f(op, f(x)))
            }
            fn predicate(op: UnaryOp, x: Self) -> bool {
                let f: fn(Self) -> $native = $to;
                let v = f(x);
                match op {
                    UnaryOp::IsNan => v.is_nan(),
                    UnaryOp::IsInf => v.is_infinite(),
                    _ => unreachable!(),
                }
            }
            fn binary(op: BinaryOp, a: Self, b: Self) -> Self {
                let f: fn(Self) -> $native = $to;
                let g: fn($native) -> Self = $from;
                g(<$native>::binary_f(op, f(a), f(b)))
            }
            fn truthy(self) -> bool {
                let f: fn(Self) -> $native = $to;
                f(self) != 0.0
            }
            fn is_nan_value(self) -> bool {
                let f: fn(Self) -> $native = $to;
                f(self).is_nan()
            }
            fn wide(self) -> Wide {
                let f: fn(Self) -> $native = $to;
                Wide::Float(f(self) as f64)
            }
            fn from_wide(w: Wide) -> Self {
                let g: fn($native) -> Self = $from;
                match w {
                    Wide::Int(i) => g(i as $native),
                    Wide::Float(v) => g(v as $native),
                }
            }
            fn lowest() -> Self {
                let g: fn($native) -> Self = $from;
                g(<$native>::NEG_INFINITY)
            }
            fn highest() -> Self {
                let g: fn($native) -> Self = $from;
                g(<$native>::INFINITY)
            }
            fn zero() -> Self {
                let g: fn($native) -> Self = $from;
                g(0.0)
            }
            fn one() -> Self {
                let g: fn($native) -> Self = $from;
                g(1.0)
            }
        }
    };
}
float_type!(f32, f32, |x| x, |x| x, true);
float_type!(f64, f64, |x| x, |x| x, true);
float_type!(f16, f32, |x: f16| x.to_f32(), f16::from_f32, true);
float_type!(bf16, f32, |x: bf16| x.to_f32(), bf16::from_f32, true);

macro_rules! int_type {
    ($t:ty, $signed:expr) => {
        impl CpuType for $t {
            const FLOAT: bool = false;
            fn unary(op: UnaryOp, x: Self) -> Self {
                use UnaryOp::*;
                match op {
                    Negative => x.wrapping_neg(),
                    #[allow(unused_comparisons)]
                    Abs => {
                        if x < 0 {
                            x.wrapping_neg()
                        } else {
                            x
                        }
                    }
                    #[allow(unused_comparisons)]
                    Sign => {
                        if x > 0 {
                            1
                        } else if x < 0 {
                            (0 as $t).wrapping_sub(1)
                        } else {
                            0
                        }
                    }
                    Square => x.wrapping_mul(x),
                    Floor | Ceil | Round => x,
                    BitwiseInvert => !x,
                    _ => unreachable!("{} is not an integer op", op.name()),
                }
            }
            fn predicate(_: UnaryOp, _: Self) -> bool {
                false
            }
            #[allow(unused_comparisons)]
            fn binary(op: BinaryOp, a: Self, b: Self) -> Self {
                use BinaryOp::*;
                match op {
                    Add => a.wrapping_add(b),
                    Subtract => a.wrapping_sub(b),
                    Multiply => a.wrapping_mul(b),
                    Divide | FloorDivide => {
                        if b == 0 {
                            return 0;
                        }
                        let q = a.wrapping_div(b);
                        if (a.wrapping_rem(b) != 0) && ((a < 0) != (b < 0)) {
                            q.wrapping_sub(1)
                        } else {
                            q
                        }
                    }
                    Remainder => {
                        if b == 0 {
                            return 0;
                        }
                        let r = a.wrapping_rem(b);
                        if r != 0 && ((r < 0) != (b < 0)) {
                            r.wrapping_add(b)
                        } else {
                            r
                        }
                    }
                    Power => {
                        if b < 0 {
                            let one: $t = 1;
                            return if a == one {
                                1
                            } else if $signed && a == (0 as $t).wrapping_sub(1) {
                                if b.wrapping_rem(2) == 0 {
                                    1
                                } else {
                                    a
                                }
                            } else {
                                0
                            };
                        }
                        let (mut base, mut e, mut acc) = (a, b, 1 as $t);
                        while e > 0 {
                            if e & 1 == 1 {
                                acc = acc.wrapping_mul(base);
                            }
                            base = base.wrapping_mul(base);
                            e >>= 1;
                        }
                        acc
                    }
                    Maximum => {
                        if a > b {
                            a
                        } else {
                            b
                        }
                    }
                    Minimum => {
                        if a < b {
                            a
                        } else {
                            b
                        }
                    }
                    BitwiseAnd => a & b,
                    BitwiseOr => a | b,
                    BitwiseXor => a ^ b,
                    LeftShift => {
                        if b < 0 || b as u128 >= <$t>::BITS as u128 {
                            0
                        } else {
                            a << b
                        }
                    }
                    RightShift => {
                        if b < 0 || b as u128 >= <$t>::BITS as u128 {
                            if a < 0 {
                                (0 as $t).wrapping_sub(1)
                            } else {
                                0
                            }
                        } else {
                            a >> b
                        }
                    }
                    _ => unreachable!("{} is not an integer op", op.name()),
                }
            }
            fn truthy(self) -> bool {
                self != 0
            }
            fn wide(self) -> Wide {
                Wide::Int(self as i128)
            }
            fn from_wide(w: Wide) -> Self {
                match w {
                    Wide::Int(i) => i as $t,
                    Wide::Float(v) => v as $t,
                }
            }
            fn lowest() -> Self {
                <$t>::MIN
            }
            fn highest() -> Self {
                <$t>::MAX
            }
            fn zero() -> Self {
                0
            }
            fn one() -> Self {
                1
            }
        }
    };
}
int_type!(u8, false);
int_type!(u16, false);
int_type!(u32, false);
int_type!(u64, false);
int_type!(i8, true);
int_type!(i16, true);
int_type!(i32, true);
int_type!(i64, true);

impl CpuType for Bool8 {
    const FLOAT: bool = false;
    fn unary(op: UnaryOp, x: Self) -> Self {
        use UnaryOp::*;
        match op {
            LogicalNot | BitwiseInvert => Bool8((x.0 == 0) as u8),
            Abs | Square | Floor | Ceil | Round | Sign => x,
            _ => unreachable!("{} is not a bool op", op.name()),
        }
    }
    fn predicate(_: UnaryOp, _: Self) -> bool {
        false
    }
    fn binary(op: BinaryOp, a: Self, b: Self) -> Self {
        use BinaryOp::*;
        let (x, y) = (a.0 != 0, b.0 != 0);
        Bool8::from(match op {
            Add | Maximum | BitwiseOr => x | y,
            Multiply | Minimum | BitwiseAnd | FloorDivide => x & y,
            Subtract | BitwiseXor => x ^ y,
            Power => x | !y,
            Remainder => false,
            // Same as computing in u32 and narrowing back to bool (what the GPU does).
            LeftShift => x,
            RightShift => x && !y,
            _ => unreachable!("{} is not a bool op", op.name()),
        })
    }
    fn truthy(self) -> bool {
        self.0 != 0
    }
    fn wide(self) -> Wide {
        Wide::Int((self.0 != 0) as i128)
    }
    fn from_wide(w: Wide) -> Self {
        Bool8::from(match w {
            Wide::Int(i) => i != 0,
            Wide::Float(v) => v != 0.0,
        })
    }
    fn lowest() -> Self {
        Bool8(0)
    }
    fn highest() -> Self {
        Bool8(1)
    }
    fn zero() -> Self {
        Bool8(0)
    }
    fn one() -> Self {
        Bool8(1)
    }
}
