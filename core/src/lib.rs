//! MLX-ARM core: lazy arrays, dtypes, devices and streams, the primitive registry, the op library
//! and function transforms. No backend code lives here (no wgpu, no rayon), so it builds for
//! wasm32; backends plug in through [`backend::Backend`]. Users depend on the `mlx-arm` crate,
//! which re-exports this one and registers the CPU and GPU backends.

pub mod array;
pub mod autodiff;
pub mod backend;
pub mod buffer;
pub mod device;
mod display;
pub mod dtype;
pub mod dtype_dispatch;
pub mod error;
mod eval;
pub mod fast;
pub mod io;
pub mod layout;
#[doc(hidden)]
pub mod literal;
pub mod memory;
mod methods;
pub mod ops;
pub mod primitive;
pub mod random;
mod sugar;

pub use array::Array;
pub use backend::synchronize;
pub use device::{set_default_device, with_default_device, Device, DeviceType, Stream};
pub use display::format_g;
pub use dtype::{Dtype, Element};
pub use error::{Error, Result};
pub use eval::eval_async;

/// Function transforms, as in mlx-rs: `eval`, `async_eval`, `vjp`, `grad`, `value_and_grad`.
pub mod transforms {
    pub use crate::autodiff::{grad, value_and_grad, vjp};
    pub use crate::eval::{async_eval, eval, eval_async};
}
