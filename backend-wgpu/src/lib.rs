//! placeholder while the wgpu backend is written
use std::sync::Arc;
pub fn create_backend() -> mlx_arm_core::Result<Arc<dyn mlx_arm_core::backend::Backend>> {
    Err(mlx_arm_core::Error::NoDevice("wgpu backend not built yet".into()))
}
