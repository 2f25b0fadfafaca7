//! Element conversion for the `array!` macro: untyped float literals are f64 in Rust but float32
//! in MLX, so they are narrowed; bool becomes the one-byte bool element.

use crate::dtype::{Bool8, Element};

/// A literal element type and what it is stored as.
pub trait Literal {
    /// The stored element type.
    type Stored: Element;
    /// Converts.
    fn store(self) -> Self::Stored;
}

macro_rules! literal_same {
    ($($t:ty),*) => {$( impl Literal for $t { type Stored = $t; fn store(self) -> $t { self } } )*};
}
literal_same!(
    u8,
    u16,
    u32,
    u64,
    i8,
    i16,
    i32,
    i64,
    f32,
    half::f16,
    half::bf16
);

impl Literal for f64 {
    type Stored = f32;
    fn store(self) -> f32 {
        self as f32
    }
}
impl Literal for bool {
    type Stored = Bool8;
    fn store(self) -> Bool8 {
        Bool8::from(self)
    }
}

/// Converts a vector of literals to stored elements.
pub fn normalize<L: Literal>(v: Vec<L>) -> Vec<L::Stored> {
    v.into_iter().map(Literal::store).collect()
}
