//! Host side of each kernel family: turns evaluated inputs into params, dims and buffer bindings,
//! and records dispatches on the [`Engine`].

pub mod elementwise;
pub mod fast;
pub mod indexing;
pub mod matmul;
pub mod quantized;
pub mod reduce;
pub mod softmax;
pub mod sort;

use crate::engine::{Engine, GpuMem};
use mlx_arm_core::buffer::{Data, DeviceMem};
use mlx_arm_core::Result;
use std::sync::Arc;

/// An input made resident on the GPU.
pub struct Resident {
    mem: Arc<dyn DeviceMem>,
    /// Its view.
    pub data: Data,
}

impl Resident {
    /// Uploads `d` if it has no GPU copy.
    pub fn of(engine: &Arc<Engine>, d: &Data) -> Result<Resident> {
        Ok(Resident {
            mem: engine.resident(d)?,
            data: d.clone(),
        })
    }
    /// The wgpu buffer.
    pub fn buf(&self) -> &wgpu::Buffer {
        self.mem
            .as_any()
            .downcast_ref::<GpuMem>()
            .expect("resident memory is GpuMem")
            .buf()
    }
}

/// Strides as i32 for the dims buffer.
pub fn i32s(v: &[isize]) -> Vec<i32> {
    v.iter().map(|&x| x as i32).collect()
}

/// Shape as i32 for the dims buffer.
pub fn shape_i32(v: &[usize]) -> Vec<i32> {
    v.iter().map(|&x| x as i32).collect()
}

/// Bit pattern of an i32 for a params word.
pub fn w(x: i32) -> u32 {
    x as u32
}
