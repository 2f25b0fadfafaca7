//! The wgpu backend of MLX-ARM: WGSL compute kernels on Vulkan, DX12, Metal, GL and WebGPU.
//! This file is the backend's one dispatch `match` over the primitive registry; the runtime
//! (pool, pipelines, batching) is in [`engine`], kernels' host code by family in [`kernels`].

pub mod autotune;
pub mod context;
pub mod engine;
pub mod kernels;
pub mod probe;
pub mod profile;
pub mod transfer;

use engine::Engine;
use kernels::{elementwise as ew, fast, indexing, matmul, quantized, reduce, softmax, sort};
use mlx_arm_core::backend::Backend;
use mlx_arm_core::buffer::Data;
use mlx_arm_core::primitive::Primitive;
use mlx_arm_core::{Dtype, Error, Result};
use mlx_arm_wgsl::sources::MapOp;
use mlx_arm_wgsl::Scalar;
use std::sync::Arc;

/// The wgpu backend.
pub struct WgpuBackend {
    engine: Arc<Engine>,
}

impl WgpuBackend {
    /// Opens the default adapter (asynchronously: the only way on the web).
    pub async fn new_async() -> Result<WgpuBackend> {
        Ok(WgpuBackend {
            engine: Engine::new(context::Gpu::open().await?),
        })
    }
}

/// Builds the backend, blocking on adapter creation (native targets).
#[cfg(not(target_arch = "wasm32"))]
pub fn create_backend() -> Result<Arc<dyn Backend>> {
    let b = pollster::block_on(WgpuBackend::new_async())?;
    log::info!("mlx-arm: GPU {}", b.engine.gpu.describe());
    Ok(Arc::new(b))
}

impl Backend for WgpuBackend {
    fn name(&self) -> &'static str {
        "wgpu"
    }

    fn describe(&self) -> String {
        self.engine.gpu.describe()
    }

    fn fused_sdpa(&self, queries: usize, head_dim: usize, value_dim: usize) -> bool {
        queries <= mlx_arm_core::fast::SDPA_FUSED_MAX_QUERIES
            || kernels::fast::sdpa_coop_fits(&self.engine, head_dim, value_dim)
    }

    fn unsupported(&self, prim: &Primitive, dtypes: &[Dtype]) -> Option<String> {
        if matches!(prim, Primitive::AsType) {
            return None; // conversions to and from 64-bit dtypes run on the host (see `eval`)
        }
        dtypes
            .iter()
            .find(|d| Scalar::of(**d).is_none())
            .map(|d| transfer::unstorable(*d))
    }

    fn eval(
        &self,
        prim: &Primitive,
        inputs: &[Data],
        shape: &[usize],
        dtype: Dtype,
    ) -> Result<Data> {
        use Primitive::*;
        let e = &self.engine;
        let x = || &inputs[0];
        match prim {
            Copy => ew::copy(e, x(), shape),
            AsType if Scalar::of(x().dtype()).is_none() || Scalar::of(dtype).is_none() => {
                transfer::host_cast(x(), shape, dtype)
            }
            AsType => ew::map(e, MapOp::Cast, inputs, shape, dtype),
            Unary(op) => ew::map(e, MapOp::Unary(*op), inputs, shape, dtype),
            Binary(op) => ew::map(e, MapOp::Binary(*op), inputs, shape, dtype),
            Select => ew::map(e, MapOp::Select, inputs, shape, dtype),
            Reduce { op, axes } => reduce::reduce(e, *op, axes, x(), shape, dtype),
            ArgReduce { op, axis } => reduce::arg_reduce(e, *op, *axis, x(), shape),
            Scan {
                op,
                axis,
                reverse,
                inclusive,
            } => reduce::scan(e, *op, *axis, *reverse, *inclusive, x(), shape),
            Matmul => matmul::matmul(e, &inputs[0], &inputs[1], shape, dtype),
            Softmax => softmax::softmax(e, x(), shape, false),
            LogSumExp => softmax::softmax(e, x(), shape, true),
            RmsNorm { eps_bits } => {
                fast::rms_norm(e, x(), inputs.get(1), f32::from_bits(*eps_bits), shape)
            }
            Sdpa { scale_bits, causal } => fast::sdpa(
                e,
                &inputs[0],
                &inputs[1],
                &inputs[2],
                f32::from_bits(*scale_bits),
                *causal,
                shape,
            ),
            Rope {
                dims,
                traditional,
                base_bits,
                scale_bits,
                offset,
            } => {
                let (base, scale) = (f32::from_bits(*base_bits), f32::from_bits(*scale_bits));
                fast::rope(
                    e,
                    x(),
                    inputs.get(1),
                    *dims,
                    *traditional,
                    base,
                    scale,
                    *offset,
                    shape,
                )
            }
            Take { axis } => indexing::take(e, *axis, &inputs[0], &inputs[1], shape),
            TakeAlongAxis { axis } => {
                indexing::take_along_axis(e, *axis, &inputs[0], &inputs[1], shape)
            }
            ScatterAlongAxis { axis, mode } => {
                indexing::scatter(e, *axis, *mode, &inputs[0], &inputs[1], &inputs[2], shape)
            }
            Sort { axis } => sort::sort(e, *axis, x(), shape, false),
            ArgSort { axis } => sort::sort(e, *axis, x(), shape, true),
            Concatenate { axis } => ew::concatenate(e, *axis, inputs, shape),
            SliceUpdate { start, step } => {
                ew::slice_update(e, start, step, &inputs[0], &inputs[1], shape)
            }
            Arange {
                start_bits,
                step_bits,
            } => ew::arange(
                e,
                f64::from_bits(*start_bits),
                f64::from_bits(*step_bits),
                shape,
                dtype,
            ),
            RandomBits => ew::random_bits(e, x(), shape),
            Dequantize { group_size, bits } => {
                quantized::dequantize(e, inputs, *group_size, *bits as usize, shape, dtype)
            }
            QuantizedMatmul {
                group_size,
                bits,
                transpose,
                fuse,
            } => quantized::quantized_matmul(
                e,
                inputs,
                *group_size,
                *bits as usize,
                *transpose,
                *fuse,
                shape,
                dtype,
            ),
            Reshape | Transpose(_) | Broadcast | Slice { .. } | AsStrided { .. } | StopGradient => {
                Err(Error::Backend {
                    backend: "wgpu",
                    detail: format!("{} is a view, evaluated by core", prim.name()),
                })
            }
        }
    }

    fn eval_in_place(
        &self,
        prim: &Primitive,
        mut inputs: Vec<Data>,
        shape: &[usize],
        dtype: Dtype,
    ) -> Result<std::result::Result<Data, Vec<Data>>> {
        let Primitive::SliceUpdate { start, step } = prim else {
            return Ok(Err(inputs));
        };
        // only memory of this engine in the layout kernels write (a host-only buffer is not
        // uploaded just to be written in place)
        let ours = inputs[0].buffer.device_mem().is_some_and(|m| {
            m.as_any()
                .downcast_ref::<engine::GpuMem>()
                .is_some_and(|g| g.belongs_to(&self.engine) && !g.packed16)
        });
        if !ours {
            return Ok(Err(inputs));
        }
        let mut dst = inputs.remove(0);
        let Some(mem) = Arc::get_mut(&mut dst.buffer).and_then(|b| b.device_mem_for_writing())
        else {
            inputs.insert(0, dst);
            return Ok(Err(inputs));
        };
        let gpu = mem
            .as_any()
            .downcast_ref::<engine::GpuMem>()
            .expect("checked above");
        ew::slice_update_in_place(&self.engine, start, step, gpu, &inputs[0], shape, dtype)?;
        Ok(Ok(dst))
    }

    fn flush(&self) -> Result<()> {
        self.engine.flush()
    }
    fn synchronize(&self) -> Result<()> {
        self.engine.flush()?;
        self.engine.wait()
    }
    fn cache_memory(&self) -> usize {
        self.engine.cache_bytes()
    }
    fn set_cache_limit(&self, limit: usize) -> usize {
        self.engine.set_cache_limit(limit)
    }
    fn clear_cache(&self) {
        self.engine.clear_cache()
    }
    fn to_own_memory(&self, data: &Data) -> Result<Option<Data>> {
        self.engine.to_own_memory(data).map(Some)
    }
}
