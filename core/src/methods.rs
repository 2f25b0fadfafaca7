//! `Array` methods mirroring the common free functions (`a.sum_axis(0, false)`, `a.t()`...), as
//! mlx-rs offers them.

use crate::ops::{self, IntoArray};
use crate::{Array, Dtype, Result};

impl Array {
    /// See [`ops::astype`].
    pub fn astype(&self, dtype: Dtype) -> Result<Array> {
        ops::astype(self, dtype)
    }
    /// See [`ops::reshape`].
    pub fn reshape(&self, shape: &[i32]) -> Result<Array> {
        ops::reshape(self, shape)
    }
    /// See [`ops::flatten`].
    pub fn flatten(&self) -> Result<Array> {
        ops::flatten(self)
    }
    /// See [`ops::transpose`].
    pub fn transpose(&self, axes: Option<&[i32]>) -> Result<Array> {
        ops::transpose(self, axes)
    }
    /// Reversed axes (`a.T` in NumPy).
    pub fn t(&self) -> Result<Array> {
        ops::transpose(self, None)
    }
    /// See [`ops::squeeze`].
    pub fn squeeze(&self, axes: Option<&[i32]>) -> Result<Array> {
        ops::squeeze(self, axes)
    }
    /// See [`ops::expand_dims`].
    pub fn expand_dims(&self, axes: &[i32]) -> Result<Array> {
        ops::expand_dims(self, axes)
    }
    /// See [`ops::add`].
    pub fn add(&self, other: impl IntoArray) -> Result<Array> {
        ops::add(self, other)
    }
    /// See [`ops::subtract`].
    pub fn subtract(&self, other: impl IntoArray) -> Result<Array> {
        ops::subtract(self, other)
    }
    /// See [`ops::multiply`].
    pub fn multiply(&self, other: impl IntoArray) -> Result<Array> {
        ops::multiply(self, other)
    }
    /// See [`ops::divide`].
    pub fn divide(&self, other: impl IntoArray) -> Result<Array> {
        ops::divide(self, other)
    }
    /// See [`ops::matmul`].
    pub fn matmul(&self, other: impl IntoArray) -> Result<Array> {
        ops::matmul(self, other)
    }
    /// See [`ops::sum`].
    pub fn sum(&self, keepdims: bool) -> Result<Array> {
        ops::sum(self, keepdims)
    }
    /// See [`ops::sum_axes`].
    pub fn sum_axes(&self, axes: &[i32], keepdims: bool) -> Result<Array> {
        ops::sum_axes(self, axes, keepdims)
    }
    /// See [`ops::sum_axis`].
    pub fn sum_axis(&self, axis: i32, keepdims: bool) -> Result<Array> {
        ops::sum_axis(self, axis, keepdims)
    }
    /// See [`ops::mean`].
    pub fn mean(&self, keepdims: bool) -> Result<Array> {
        ops::mean(self, keepdims)
    }
    /// See [`ops::max`].
    pub fn max(&self, keepdims: bool) -> Result<Array> {
        ops::max(self, keepdims)
    }
    /// See [`ops::min`].
    pub fn min(&self, keepdims: bool) -> Result<Array> {
        ops::min(self, keepdims)
    }
    /// See [`ops::exp`].
    pub fn exp(&self) -> Result<Array> {
        ops::exp(self)
    }
    /// See [`ops::log`].
    pub fn log(&self) -> Result<Array> {
        ops::log(self)
    }
    /// See [`ops::square`].
    pub fn square(&self) -> Result<Array> {
        ops::square(self)
    }
    /// See [`ops::sqrt`].
    pub fn sqrt(&self) -> Result<Array> {
        ops::sqrt(self)
    }
    /// See [`ops::abs`].
    pub fn abs(&self) -> Result<Array> {
        ops::abs(self)
    }
    /// See [`ops::contiguous`].
    pub fn contiguous(&self) -> Result<Array> {
        ops::contiguous(self)
    }
    /// Zeros of `shape` with element type `T`.
    pub fn zeros<T: crate::dtype::Element>(shape: &[i32]) -> Result<Array> {
        ops::zeros(shape, T::DTYPE)
    }
    /// Ones of `shape` with element type `T`.
    pub fn ones<T: crate::dtype::Element>(shape: &[i32]) -> Result<Array> {
        ops::ones(shape, T::DTYPE)
    }
}
