//! Dtypes, their sizes and categories, MLX's type-promotion rules, and the Rust element types
//! that map onto them.

use half::{bf16, f16};
use std::fmt;

/// The element type of an array (MLX's thirteen dtypes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dtype {
    /// `bool`, one byte per element.
    Bool,
    /// `u8`.
    Uint8,
    /// `u16`.
    Uint16,
    /// `u32`.
    Uint32,
    /// `u64`.
    Uint64,
    /// `i8`.
    Int8,
    /// `i16`.
    Int16,
    /// `i32`.
    Int32,
    /// `i64`.
    Int64,
    /// IEEE half precision.
    Float16,
    /// Brain float.
    Bfloat16,
    /// `f32`.
    Float32,
    /// `f64` (CPU only, as in MLX).
    Float64,
}

/// Every dtype, in promotion-table order.
pub const ALL_DTYPES: [Dtype; 13] = [
    Dtype::Bool,
    Dtype::Uint8,
    Dtype::Uint16,
    Dtype::Uint32,
    Dtype::Uint64,
    Dtype::Int8,
    Dtype::Int16,
    Dtype::Int32,
    Dtype::Int64,
    Dtype::Float16,
    Dtype::Bfloat16,
    Dtype::Float32,
    Dtype::Float64,
];

impl Dtype {
    /// Bytes per element.
    pub fn size(self) -> usize {
        use Dtype::*;
        match self {
            Bool | Uint8 | Int8 => 1,
            Uint16 | Int16 | Float16 | Bfloat16 => 2,
            Uint32 | Int32 | Float32 => 4,
            Uint64 | Int64 | Float64 => 8,
        }
    }
    /// True for the floating-point dtypes.
    pub fn is_float(self) -> bool {
        matches!(
            self,
            Dtype::Float16 | Dtype::Bfloat16 | Dtype::Float32 | Dtype::Float64
        )
    }
    /// True for signed and unsigned integers (not bool).
    pub fn is_int(self) -> bool {
        self.is_signed_int() || self.is_unsigned_int()
    }
    /// True for int8..int64.
    pub fn is_signed_int(self) -> bool {
        matches!(
            self,
            Dtype::Int8 | Dtype::Int16 | Dtype::Int32 | Dtype::Int64
        )
    }
    /// True for uint8..uint64.
    pub fn is_unsigned_int(self) -> bool {
        matches!(
            self,
            Dtype::Uint8 | Dtype::Uint16 | Dtype::Uint32 | Dtype::Uint64
        )
    }
    /// MLX's name (`float32`, `int8`, ...).
    pub fn name(self) -> &'static str {
        use Dtype::*;
        match self {
            Bool => "bool",
            Uint8 => "uint8",
            Uint16 => "uint16",
            Uint32 => "uint32",
            Uint64 => "uint64",
            Int8 => "int8",
            Int16 => "int16",
            Int32 => "int32",
            Int64 => "int64",
            Float16 => "float16",
            Bfloat16 => "bfloat16",
            Float32 => "float32",
            Float64 => "float64",
        }
    }
    /// Parses MLX's name of a dtype.
    pub fn from_name(name: &str) -> Option<Dtype> {
        ALL_DTYPES.iter().copied().find(|d| d.name() == name)
    }
    /// The float dtype an op like `exp` or `divide` computes in for this input (MLX: ints and
    /// bool become float32, floats stay).
    pub fn to_float(self) -> Dtype {
        if self.is_float() {
            self
        } else {
            Dtype::Float32
        }
    }
}

impl fmt::Display for Dtype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// MLX's promotion of two dtypes (`mlx/types/type_promotion`): the smallest dtype that holds
/// both, with `uint64 ⊕ signed → float32` and `float16 ⊕ bfloat16 → float32`.
pub fn promote_types(a: Dtype, b: Dtype) -> Dtype {
    use Dtype::*;
    if a == b {
        return a;
    }
    if a == Bool {
        return b;
    }
    if b == Bool {
        return a;
    }
    match (a.is_float(), b.is_float()) {
        (true, true) => {
            if (a == Float16 && b == Bfloat16) || (a == Bfloat16 && b == Float16) {
                Float32
            } else if a.size() >= b.size() {
                a
            } else {
                b
            }
        }
        (true, false) => a,
        (false, true) => b,
        (false, false) => {
            if a.is_signed_int() == b.is_signed_int() {
                if a.size() >= b.size() {
                    a
                } else {
                    b
                }
            } else {
                let (s, u) = if a.is_signed_int() { (a, b) } else { (b, a) };
                if u.size() < s.size() {
                    s
                } else {
                    match u.size() {
                        1 => Int16,
                        2 => Int32,
                        4 => Int64,
                        _ => Float32,
                    }
                }
            }
        }
    }
}

/// A Rust type that is the element type of some [`Dtype`].
pub trait Element: Copy + bytemuck::Pod + Send + Sync + 'static + fmt::Debug {
    /// The dtype of this element type.
    const DTYPE: Dtype;
    /// Widens to f64 (exact for every type but u64/i64 above 2^53).
    fn to_f64(self) -> f64;
    /// Narrows from f64 with `as`-cast semantics (saturating for floats to ints).
    fn from_f64(v: f64) -> Self;
}

macro_rules! element_prim {
    ($($t:ty => $d:ident),*) => {$(
        impl Element for $t {
            const DTYPE: Dtype = Dtype::$d;
            fn to_f64(self) -> f64 { self as f64 }
            fn from_f64(v: f64) -> Self { v as $t }
        }
    )*};
}
element_prim!(u8 => Uint8, u16 => Uint16, u32 => Uint32, u64 => Uint64, i8 => Int8, i16 => Int16,
    i32 => Int32, i64 => Int64, f32 => Float32, f64 => Float64);

impl Element for f16 {
    const DTYPE: Dtype = Dtype::Float16;
    fn to_f64(self) -> f64 {
        self.to_f64()
    }
    fn from_f64(v: f64) -> Self {
        f16::from_f64(v)
    }
}
impl Element for bf16 {
    const DTYPE: Dtype = Dtype::Bfloat16;
    fn to_f64(self) -> f64 {
        self.to_f64()
    }
    fn from_f64(v: f64) -> Self {
        bf16::from_f64(v)
    }
}

/// A boolean element stored as one byte (0 or 1), because `bool` is not `Pod`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, bytemuck::Pod, bytemuck::Zeroable,
)]
#[repr(transparent)]
pub struct Bool8(pub u8);

impl Element for Bool8 {
    const DTYPE: Dtype = Dtype::Bool;
    fn to_f64(self) -> f64 {
        (self.0 != 0) as u8 as f64
    }
    fn from_f64(v: f64) -> Self {
        Bool8((v != 0.0) as u8)
    }
}

impl From<bool> for Bool8 {
    fn from(b: bool) -> Self {
        Bool8(b as u8)
    }
}
impl From<Bool8> for bool {
    fn from(b: Bool8) -> Self {
        b.0 != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Dtype::*;
    #[test]
    fn promotion_matches_mlx_table() {
        assert_eq!(promote_types(Uint8, Int8), Int16);
        assert_eq!(promote_types(Uint32, Int32), Int64);
        assert_eq!(promote_types(Uint64, Int8), Float32);
        assert_eq!(promote_types(Float16, Bfloat16), Float32);
        assert_eq!(promote_types(Int64, Float16), Float16);
        assert_eq!(promote_types(Bool, Uint16), Uint16);
        assert_eq!(promote_types(Uint8, Int32), Int32);
        assert_eq!(promote_types(Float32, Float64), Float64);
    }
}
