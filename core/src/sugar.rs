//! Operator sugar (`&a + &b`, `-&a`, ...) and the `array!` macro. These panic on invalid input
//! (shape mismatch), as documented; the `ops::*` functions return errors instead.

use crate::ops;
use crate::Array;
use std::ops::{Add, BitAnd, BitOr, BitXor, Div, Mul, Neg, Not, Rem, Sub};

macro_rules! bin_sugar {
    ($($trait:ident $method:ident => $f:path;)*) => {$(
        impl<T: ops::IntoArray> $trait<T> for &Array {
            type Output = Array;
            /// # Panics
            /// When the operands cannot be combined (use the `ops` function for an error).
            fn $method(self, rhs: T) -> Array {
                $f(self, rhs).unwrap_or_else(|e| panic!("{e}"))
            }
        }
        impl<T: ops::IntoArray> $trait<T> for Array {
            type Output = Array;
            /// # Panics
            /// When the operands cannot be combined (use the `ops` function for an error).
            fn $method(self, rhs: T) -> Array {
                $f(&self, rhs).unwrap_or_else(|e| panic!("{e}"))
            }
        }
    )*};
}

bin_sugar! {
    Add add => ops::add;
    Sub sub => ops::subtract;
    Mul mul => ops::multiply;
    Div div => ops::divide;
    Rem rem => ops::remainder;
    BitAnd bitand => ops::bitwise_and;
    BitOr bitor => ops::bitwise_or;
    BitXor bitxor => ops::bitwise_xor;
}

impl Neg for &Array {
    type Output = Array;
    /// # Panics
    /// On bool arrays (use `logical_not`).
    fn neg(self) -> Array {
        ops::negative(self).unwrap_or_else(|e| panic!("{e}"))
    }
}
impl Neg for Array {
    type Output = Array;
    fn neg(self) -> Array {
        -&self
    }
}
impl Not for &Array {
    type Output = Array;
    /// Logical not.
    fn not(self) -> Array {
        ops::logical_not(self).unwrap_or_else(|e| panic!("{e}"))
    }
}

/// Builds an array from a nested literal, as in mlx-rs: `array!([[1, 2], [3, 4]])` (int32),
/// `array!([1.0, 2.0])` (float32), `array!(3.0)` (0-d float32).
///
/// # Panics
/// On ragged nesting.
#[macro_export]
macro_rules! array {
    ([$([$([$($x:expr),* $(,)?]),+ $(,)?]),+ $(,)?]) => {{
        let rows = vec![$(vec![$(vec![$($x),*]),+]),+];
        let d0 = rows.len() as i32; let d1 = rows[0].len() as i32; let d2 = rows[0][0].len() as i32;
        let flat: Vec<_> = rows.into_iter().flatten().flatten().collect();
        $crate::Array::from_slice(&$crate::literal::normalize(flat), &[d0, d1, d2])
    }};
    ([$([$($x:expr),* $(,)?]),+ $(,)?]) => {{
        let rows = vec![$(vec![$($x),*]),+];
        let d0 = rows.len() as i32; let d1 = rows[0].len() as i32;
        let flat: Vec<_> = rows.into_iter().flatten().collect();
        $crate::Array::from_slice(&$crate::literal::normalize(flat), &[d0, d1])
    }};
    ([$($x:expr),* $(,)?]) => {{
        let v = vec![$($x),*];
        let n = v.len() as i32;
        $crate::Array::from_slice(&$crate::literal::normalize(v), &[n])
    }};
    ($x:expr) => {{
        let v = $crate::literal::normalize(vec![$x]);
        $crate::Array::from_slice(&v, &[])
    }};
}
