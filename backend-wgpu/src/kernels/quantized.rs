//! Affine-quantized kernels (dequantize, quantized matmul) on the packed weights.
//! Placeholder until the WGSL kernels land: both report that the GPU cannot run them yet.

use crate::engine::Engine;
use mlx_arm_core::buffer::Data;
use mlx_arm_core::{Dtype, Error, Result};
use std::sync::Arc;

fn not_yet(op: &str) -> Error {
    Error::Device { op: op.into(), what: "the quantized kernels".into(), device: "gpu".into() }
}

/// `dequantize(w, scales, biases)` into `shape` / `dt`.
pub fn dequantize(_e: &Arc<Engine>, _inputs: &[Data], _gs: usize, _bits: usize, _shape: &[usize], _dt: Dtype) -> Result<Data> {
    Err(not_yet("dequantize"))
}

/// `quantized_matmul(x, w, scales, biases)` into `shape` / `dt`.
pub fn quantized_matmul(_e: &Arc<Engine>, _inputs: &[Data], _gs: usize, _bits: usize, _transpose: bool, _shape: &[usize], _dt: Dtype) -> Result<Data> {
    Err(not_yet("quantized_matmul"))
}
