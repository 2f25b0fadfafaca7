//! Host side of each kernel family: turns evaluated inputs into params, dims and buffer bindings,
//! and records dispatches on the [`Engine`].

/// A measurement switch read once from the environment: on unless the variable is `"0"`.
macro_rules! switch_on {
    ($var:literal) => {{
        static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        *ON.get_or_init(|| std::env::var($var).map_or(true, |v| v != "0"))
    }};
}

/// A tuning choice read once from the environment: `$alt` when the variable is its decimal
/// spelling, else `$default`.
macro_rules! choice {
    ($var:literal, $default:expr, $alt:expr) => {{
        static V: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
        *V.get_or_init(|| match std::env::var($var) {
            Ok(v) if v == ($alt as u32).to_string() => $alt,
            _ => $default,
        })
    }};
}

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
    /// Uploads `d` if it has no GPU copy. A packed 16-bit copy is widened (the layout every
    /// kernel reads) and replaces the packed one in the buffer, so an array that other kernels
    /// use costs one conversion and then the memory it had before packing.
    pub fn of(engine: &Arc<Engine>, d: &Data) -> Result<Resident> {
        let r = Self::packed_ok(engine, d)?;
        if !r.packed16() {
            return Ok(r);
        }
        let wide: Arc<dyn DeviceMem> = engine.widen16(r.gpu(), d.dtype(), d.buffer.len())?;
        d.buffer.set_device_mem(wide.clone());
        Ok(Resident {
            mem: wide,
            data: d.clone(),
        })
    }
    /// Uploads `d` if it has no GPU copy, leaving a packed 16-bit copy as it is: for kernels
    /// that read both layouts.
    pub fn packed_ok(engine: &Arc<Engine>, d: &Data) -> Result<Resident> {
        Ok(Resident {
            mem: engine.resident(d)?,
            data: d.clone(),
        })
    }
    fn gpu(&self) -> &GpuMem {
        self.mem
            .as_any()
            .downcast_ref::<GpuMem>()
            .expect("resident memory is GpuMem")
    }
    /// Whether the buffer holds packed 16-bit floats ([`GpuMem::packed16`]).
    pub fn packed16(&self) -> bool {
        self.gpu().packed16
    }
    /// The wgpu buffer.
    pub fn buf(&self) -> &wgpu::Buffer {
        self.gpu().buf()
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
