//! Skeleton of the browser demo (wasm + WebGPU). The page itself, its wasm-bindgen glue and the
//! headless-Chromium test come in a later issue; today this crate holds the async flow a page
//! would run, which also compiles natively.

use mlx_arm::{ops, Array, Result};

/// Opens the GPU without blocking, computes `softmax([1, 2, 3])` on it and reads the result back
/// asynchronously: the only shape of program that works in a browser.
pub async fn softmax_demo() -> Result<Vec<f32>> {
    mlx_arm::init_gpu_async().await?;
    let x = Array::from_slice(&[1.0f32, 2.0, 3.0], &[3]);
    let y = ops::softmax_device(&x, None, mlx_arm::Device::gpu())?;
    y.to_vec_async::<f32>().await
}
