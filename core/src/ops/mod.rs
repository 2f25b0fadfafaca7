//! The op library: free functions with MLX's names and semantics. Each op `f(..)` runs on the
//! default stream and has an `f_device(.., stream)` twin, as in mlx-rs. Ops validate shapes,
//! axes and dtypes eagerly and return [`crate::Error`]; the work itself is lazy.

mod creation;
mod elementwise;
mod indexing;
mod linalg;
mod quantized;
mod reduce;
mod shape;
mod sort;

pub use creation::*;
pub use elementwise::*;
pub use indexing::*;
pub use linalg::*;
pub use quantized::*;
pub use reduce::*;
pub use shape::*;
pub use sort::*;

use crate::layout::normalize_axis;
use crate::{Array, Result};

/// Converts an mlx-rs `i32` axis.
pub(crate) fn axis_of(op: &'static str, axis: i32, ndim: usize) -> Result<usize> {
    normalize_axis(op, axis as isize, ndim)
}

/// Converts mlx-rs `i32` axes (`None` = all), sorted, rejecting repeats.
pub(crate) fn axes_of(op: &'static str, axes: Option<&[i32]>, ndim: usize) -> Result<Vec<usize>> {
    let v: Option<Vec<isize>> = axes.map(|a| a.iter().map(|&x| x as isize).collect());
    crate::layout::normalize_axes(op, v.as_deref(), ndim)
}

/// Any array-like argument: `Array`, `&Array`, or a Rust scalar (weakly typed).
pub trait IntoArray {
    /// The array.
    fn into_array(self) -> Array;
}
impl IntoArray for Array {
    fn into_array(self) -> Array {
        self
    }
}
impl IntoArray for &Array {
    fn into_array(self) -> Array {
        self.clone()
    }
}
impl IntoArray for &&Array {
    fn into_array(self) -> Array {
        (*self).clone()
    }
}
impl IntoArray for f32 {
    fn into_array(self) -> Array {
        Array::from(self)
    }
}
impl IntoArray for f64 {
    fn into_array(self) -> Array {
        Array::from(self)
    }
}
impl IntoArray for i32 {
    fn into_array(self) -> Array {
        Array::from(self)
    }
}
impl IntoArray for bool {
    fn into_array(self) -> Array {
        Array::from(self)
    }
}

/// The shape as mlx-rs `i32`s.
pub(crate) fn shape_of(a: &Array) -> Vec<i32> {
    elementwise::shape_i32(a.shape())
}

/// `a[.., start..stop, ..]` along one axis.
pub(crate) fn slice_axis_range(a: &Array, axis: usize, start: usize, stop: usize) -> Result<Array> {
    shape::slice_along(a, axis, start as i64, stop as i64, 1, a.stream())
}
