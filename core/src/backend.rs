//! The backend interface and registry. A backend evaluates kernel primitives on one device; the
//! CPU backend is registered eagerly, the GPU backend through a factory run on first use (adapter
//! creation is slow and may fail).

use crate::buffer::Data;
use crate::device::{Device, DeviceType};
use crate::primitive::Primitive;
use crate::{Dtype, Error, Result};
use std::sync::{Arc, OnceLock, RwLock};

/// A device's implementation of the kernel primitives (candle's `BackendStorage`, one per device).
pub trait Backend: Send + Sync {
    /// Short name (`cpu`, `wgpu`).
    fn name(&self) -> &'static str;
    /// Human-readable description of the hardware (adapter name, driver, thread count).
    fn describe(&self) -> String;
    /// Evaluates a kernel primitive: `inputs` are evaluated, the output has `shape` and `dtype`.
    /// Inputs may live on any device: the backend moves what it needs.
    fn eval(
        &self,
        prim: &Primitive,
        inputs: &[Data],
        shape: &[usize],
        dtype: Dtype,
    ) -> Result<Data>;
    /// Evaluates `prim` writing its output over `inputs[0]`, which the caller donates (MLX's
    /// buffer donation): no other array, view or pending read shares its buffer, the view is
    /// dense from offset 0 over the whole buffer, and it has the output's shape and dtype. The
    /// backend may write into that buffer and return it as the output; it gives the inputs
    /// back (`Err`) when it does not do `prim` in place, and the caller runs [`Backend::eval`].
    /// Only [`Primitive::donates_first_input`] primitives are offered.
    fn eval_in_place(
        &self,
        _prim: &Primitive,
        inputs: Vec<Data>,
        _shape: &[usize],
        _dtype: Dtype,
    ) -> Result<std::result::Result<Data, Vec<Data>>> {
        Ok(Err(inputs))
    }
    /// Whether `fast::scaled_dot_product_attention` should build its fused node for `queries`
    /// query rows per head of dimension `head_dim` (values `value_dim`) on this backend; longer
    /// prompts otherwise take the composed ops. Default: decode steps and short chunks only
    /// ([`crate::fast::SDPA_FUSED_MAX_QUERIES`]).
    fn fused_sdpa(&self, queries: usize, _head_dim: usize, _value_dim: usize) -> bool {
        queries <= crate::fast::SDPA_FUSED_MAX_QUERIES
    }
    /// Why this backend cannot run `prim` with these dtypes, if it cannot (checked before work).
    fn unsupported(&self, _prim: &Primitive, _dtypes: &[Dtype]) -> Option<String> {
        None
    }
    /// Submits pending work (GPU backends batch dispatches until a flush or readback).
    fn flush(&self) -> Result<()> {
        Ok(())
    }
    /// Submits pending work and waits until the device has finished it.
    fn synchronize(&self) -> Result<()> {
        self.flush()
    }
    /// Bytes kept in the backend's cache (buffer pool).
    fn cache_memory(&self) -> usize {
        0
    }
    /// Sets the cache limit, returning the previous one.
    fn set_cache_limit(&self, _limit: usize) -> usize {
        0
    }
    /// Frees the cache.
    fn clear_cache(&self) {}
    /// The same view over a buffer held only in this device's own memory, sharing nothing with
    /// `data`'s host copy (so dropping `data` frees it); `None` when the backend computes on
    /// host memory, as the CPU does.
    fn to_own_memory(&self, _data: &Data) -> Result<Option<Data>> {
        Ok(None)
    }
}

/// Builds the GPU backend, or says why none is available.
pub type GpuFactory = fn() -> Result<Arc<dyn Backend>>;

struct Registry {
    cpu: Option<Arc<dyn Backend>>,
    gpu_factory: Option<GpuFactory>,
}

static REGISTRY: RwLock<Registry> = RwLock::new(Registry {
    cpu: None,
    gpu_factory: None,
});
static GPU: OnceLock<std::result::Result<Arc<dyn Backend>, String>> = OnceLock::new();

#[cfg(not(test))]
extern "Rust" {
    /// Defined by the `mlx-arm` facade crate: registers the CPU backend and the GPU factory.
    fn __mlx_arm_install_backends();
}

#[cfg(test)]
#[no_mangle]
#[allow(non_snake_case)]
fn __mlx_arm_install_backends() {}

fn ensure_installed() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    // SAFETY: the symbol is a plain Rust fn defined by the facade crate, which every program
    // that evaluates arrays links (core alone cannot evaluate).
    #[cfg(not(test))]
    ONCE.call_once(|| unsafe { __mlx_arm_install_backends() });
    #[cfg(test)]
    ONCE.call_once(__mlx_arm_install_backends);
}

/// Registers the CPU backend.
pub fn register_cpu_backend(backend: Arc<dyn Backend>) {
    REGISTRY.write().unwrap().cpu = Some(backend);
}

/// Registers the factory that builds the GPU backend on first use.
pub fn register_gpu_factory(factory: GpuFactory) {
    REGISTRY.write().unwrap().gpu_factory = Some(factory);
}

/// Installs an already-built GPU backend (used on the web, where adapters come asynchronously).
/// Returns false when a GPU backend was already set.
pub fn install_gpu_backend(backend: Arc<dyn Backend>) -> bool {
    GPU.set(Ok(backend)).is_ok()
}

/// The backend of `device`, creating the GPU backend on first use (unless the environment sets
/// `MLX_ARM_GPU=off`, which makes every GPU op fail with [`Error::NoDevice`]).
pub fn backend(device: Device) -> Result<Arc<dyn Backend>> {
    ensure_installed();
    match device.kind {
        DeviceType::Cpu => REGISTRY.read().unwrap().cpu.clone().ok_or_else(|| {
            Error::NoDevice("no CPU backend is registered (depend on the `mlx-arm` crate)".into())
        }),
        DeviceType::Gpu => GPU
            .get_or_init(|| {
                if matches!(std::env::var("MLX_ARM_GPU").as_deref(), Ok("off" | "0")) {
                    return Err("the GPU is disabled by MLX_ARM_GPU=off".into());
                }
                let factory = REGISTRY.read().unwrap().gpu_factory;
                match factory {
                    Some(f) => f().map_err(|e| e.to_string()),
                    None => Err("this build has no GPU backend (enable the `gpu` feature)".into()),
                }
            })
            .clone()
            .map_err(Error::NoDevice),
    }
}

/// True when a GPU backend is (or can be) created.
pub fn gpu_available() -> bool {
    backend(Device::gpu()).is_ok()
}

/// Every backend created so far.
pub fn registered() -> Vec<Arc<dyn Backend>> {
    let mut v: Vec<Arc<dyn Backend>> = REGISTRY.read().unwrap().cpu.iter().cloned().collect();
    if let Some(Ok(g)) = GPU.get() {
        v.push(g.clone());
    }
    v
}

pub(crate) fn default_device() -> Device {
    static DEFAULT: OnceLock<Device> = OnceLock::new();
    *DEFAULT.get_or_init(|| {
        match std::env::var("MLX_ARM_DEVICE").ok().as_deref() {
            Some("cpu") => return Device::cpu(),
            Some("gpu") => return Device::gpu(),
            _ => {}
        }
        match backend(Device::gpu()) {
            Ok(_) => Device::gpu(),
            Err(e) => {
                log::info!("mlx-arm: no GPU ({e}); the default device is the CPU");
                Device::cpu()
            }
        }
    })
}

/// Waits until every op submitted to `device` has finished (MLX's `synchronize`). Evaluation
/// itself only submits GPU work; reading data back waits for it anyway.
pub fn synchronize(device: Device) -> Result<()> {
    backend(device)?.synchronize()
}

/// A fused quantized product's rotary embedding ([`crate::primitive::QmmRope`]) done by a
/// backend's own kernels on the dense product `y` (`[.., N]`, `l` positions per row group):
/// `rope(x, shape)` rotates the view `[B, heads, L, head_dim]` of the heads to rotate (into a
/// dense array), `update(dst, upd, shape)` returns `dst` `[B, L, H, head_dim]` with `upd`
/// written over its start (a `slice_update`). The result has `y`'s shape.
pub fn rope_heads(
    y: &Data,
    l: usize,
    r: crate::primitive::QmmRope,
    rope: impl FnOnce(&Data, &[usize]) -> Result<Data>,
    update: impl FnOnce(&Data, &Data, &[usize]) -> Result<Data>,
) -> Result<Data> {
    let n = y.shape[y.shape.len() - 1];
    let (hd, h) = (r.head_dim, n / r.head_dim);
    let b = y.size() / n / l.max(1);
    let dense = |d: &Data, shape: Vec<usize>| Data {
        buffer: d.buffer.clone(),
        strides: crate::layout::row_major_strides(&shape),
        shape,
        offset: d.offset,
    };
    let swapped = |d: &Data| {
        let mut v = d.clone();
        v.shape.swap(1, 2);
        v.strides.swap(1, 2);
        v
    };
    let by_token = dense(y, vec![b, l, h, hd]);
    let mut heads = swapped(&by_token);
    heads.shape[1] = r.heads;
    let roped = rope(&heads, &heads.shape.clone())?;
    let out = update(&by_token, &swapped(&roped), &by_token.shape)?;
    Ok(dense(&out, y.shape.clone()))
}
