//! WGSL kernels of MLX-ARM. Each kernel family is one `.wgsl` file under `kernels/` (its header
//! comment lists its bindings and `Params`); a variant is that file prefixed with `common.wgsl`
//! and a small generated header (scalar aliases, buffer declarations, the op's expression). The
//! WGSL expression of every elementwise op exists once, in [`ops`].
//!
//! On the GPU every dtype is stored in a 32-bit scalar: bool/uint8/uint16/uint32 as `u32`,
//! int8/int16/int32 as `i32`, float16/bfloat16/float32 as `f32`; results are narrowed back to
//! the dtype's range and precision on every store, so values match the CPU bit for bit where the
//! math is exact. 64-bit dtypes are rejected with an error naming the dtype and device.

pub mod ops;
pub mod sources;

use mlx_arm_core::Dtype;

/// The 32-bit WGSL scalar a dtype is stored as on the GPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scalar {
    /// `f32`.
    F32,
    /// `i32`.
    I32,
    /// `u32`.
    U32,
}

impl Scalar {
    /// The storage scalar of `dt`, or `None` for the 64-bit dtypes.
    pub fn of(dt: Dtype) -> Option<Scalar> {
        use Dtype::*;
        match dt {
            Bool | Uint8 | Uint16 | Uint32 => Some(Scalar::U32),
            Int8 | Int16 | Int32 => Some(Scalar::I32),
            Float16 | Bfloat16 | Float32 => Some(Scalar::F32),
            Uint64 | Int64 | Float64 => None,
        }
    }
    /// The WGSL type name.
    pub fn wgsl(self) -> &'static str {
        match self {
            Scalar::F32 => "f32",
            Scalar::I32 => "i32",
            Scalar::U32 => "u32",
        }
    }
}

/// The storage scalar of a dtype the GPU supports (callers check support first).
pub fn scalar(dt: Dtype) -> Scalar {
    Scalar::of(dt)
        .unwrap_or_else(|| panic!("{dt} has no GPU storage type (checked by the backend)"))
}

/// WGSL body of `fn narrow(x: S) -> S` that rounds/wraps a computed value to `dt`.
pub fn narrow_body(dt: Dtype) -> &'static str {
    use Dtype::*;
    match dt {
        Bool => "return select(0u, 1u, x != 0u);",
        Uint8 => "return x & 0xffu;",
        Uint16 => "return x & 0xffffu;",
        Int8 => "return (x << 24u) >> 24u;",
        Int16 => "return (x << 16u) >> 16u;",
        Float16 => "return round_f16(x);",
        Bfloat16 => "return round_bf16(x);",
        _ => "return x;",
    }
}

/// `fn narrow` for `dt`.
pub fn narrow_fn(dt: Dtype) -> String {
    let s = scalar(dt).wgsl();
    format!("fn narrow(x: {s}) -> {s} {{ {} }}\n", narrow_body(dt))
}

/// `common.wgsl`, the prefix of every kernel.
pub const COMMON: &str = include_str!("../kernels/common.wgsl");
