//! # MLX-ARM
//!
//! MLX-style lazy arrays for every GPU wgpu reaches (Vulkan, DX12, Metal, GL, WebGPU) and every
//! CPU rayon runs on. This crate is the facade: it re-exports the core API and registers the CPU
//! backend and (with the default `gpu` feature) the wgpu backend.
//!
//! ```
//! use mlx_arm::{array, ops, transforms, Array};
//! let a = array!([[1.0, 2.0], [3.0, 4.0]]);
//! let b = ops::matmul(&a, &a.t()?)?;            // lazy: nothing computed yet
//! transforms::eval(&[&b])?;                      // computed here
//! assert_eq!(b.to_vec::<f32>()?, vec![5.0, 11.0, 11.0, 25.0]);
//! # Ok::<(), mlx_arm::Error>(())
//! ```

pub use mlx_arm_core::*;

/// The README's examples, compiled and run as doc-tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// Installs the backends; called by core on first use (the symbol core links against).
#[no_mangle]
#[allow(non_snake_case)]
pub fn __mlx_arm_install_backends() {
    mlx_arm_core::backend::register_cpu_backend(std::sync::Arc::new(mlx_arm_cpu::CpuBackend));
    #[cfg(all(feature = "gpu", not(target_arch = "wasm32")))]
    mlx_arm_core::backend::register_gpu_factory(mlx_arm_wgpu::create_backend);
}

/// Runs a workload on the CPU backend's worker pool with the caller as one of the workers (see
/// [`mlx_arm_cpu::workers`]); what an app's inference thread should do on small CPUs.
pub use mlx_arm_cpu::workers::run_as_worker;

/// Device time per GPU kernel (`MLX_ARM_GPU_PROFILE=1`): see [`mlx_arm_wgpu::profile`].
#[cfg(feature = "gpu")]
pub use mlx_arm_wgpu::profile as gpu_profile;

/// Opens the GPU asynchronously and installs it (the way to get a GPU on the web, where adapters
/// cannot be requested synchronously; natively the GPU opens on first use without this).
#[cfg(feature = "gpu")]
pub async fn init_gpu_async() -> Result<()> {
    let backend = mlx_arm_wgpu::WgpuBackend::new_async().await?;
    mlx_arm_core::backend::install_gpu_backend(std::sync::Arc::new(backend));
    Ok(())
}
