//! The CPU backend of MLX-ARM: rayon-parallel kernels over any strided layout, GEMM through the
//! `gemm` crate. This file is the backend's one dispatch `match` over the primitive registry;
//! kernels live by family in their own files.

mod elementwise;
mod fast;
mod indexing;
mod logsumexp;
mod matmul;
pub mod qdot_i8;
mod quantized;
mod reduce;
mod sdpa;
pub mod simd;
mod softmax;
mod sort;
pub mod spin;
pub mod types;
mod view;
pub mod workers;

use mlx_arm_core::backend::Backend;
use mlx_arm_core::buffer::Data;
use mlx_arm_core::primitive::{Primitive, QmmRope};
use mlx_arm_core::{Dtype, Error, Result};

/// The CPU backend (stateless; rayon's global pool does the threading).
#[derive(Debug, Default)]
pub struct CpuBackend;

impl Backend for CpuBackend {
    fn name(&self) -> &'static str {
        "cpu"
    }

    fn describe(&self) -> String {
        format!(
            "CPU ({} threads, {}, SIMD {})",
            rayon::current_num_threads(),
            std::env::consts::ARCH,
            simd::describe()
        )
    }

    fn eval_in_place(
        &self,
        prim: &Primitive,
        mut inputs: Vec<Data>,
        _shape: &[usize],
        _dtype: Dtype,
    ) -> Result<std::result::Result<Data, Vec<Data>>> {
        let Primitive::SliceUpdate { start, step } = prim else {
            return Ok(Err(inputs));
        };
        let dst = inputs.remove(0);
        Ok(
            indexing::slice_update_in_place(start, step, dst, &inputs[0])?.map_err(|dst| {
                inputs.insert(0, dst);
                inputs
            }),
        )
    }

    fn eval(
        &self,
        prim: &Primitive,
        inputs: &[Data],
        shape: &[usize],
        dtype: Dtype,
    ) -> Result<Data> {
        use Primitive::*;
        let x = || &inputs[0];
        match prim {
            Copy => elementwise::copy(x(), shape),
            AsType => elementwise::astype(x(), shape, dtype),
            Unary(op) => elementwise::unary(*op, x(), shape, dtype),
            Binary(op) => elementwise::binary(*op, &inputs[0], &inputs[1], shape, dtype),
            Select => elementwise::select(&inputs[0], &inputs[1], &inputs[2], shape),
            Reduce { op, axes } => reduce::reduce(*op, axes, x(), shape, dtype),
            ArgReduce { op, axis } => reduce::arg_reduce(*op, *axis, x(), shape),
            Scan {
                op,
                axis,
                reverse,
                inclusive,
            } => reduce::scan(*op, *axis, *reverse, *inclusive, x(), shape),
            Matmul => matmul::matmul(&inputs[0], &inputs[1], shape, dtype),
            Softmax => softmax::softmax(x(), shape),
            LogSumExp => logsumexp::logsumexp(x(), shape),
            RmsNorm { eps_bits } => {
                fast::rms_norm(x(), inputs.get(1), f32::from_bits(*eps_bits), shape)
            }
            Rope {
                dims,
                traditional,
                base_bits,
                scale_bits,
                offset,
            } => {
                let a = fast::RopeArgs {
                    dims: *dims,
                    traditional: *traditional,
                    base: f32::from_bits(*base_bits),
                    scale: f32::from_bits(*scale_bits),
                    offset: *offset,
                };
                fast::rope(x(), inputs.get(1), a, shape)
            }
            Sdpa { scale_bits, causal } => sdpa::sdpa(
                &inputs[0],
                &inputs[1],
                &inputs[2],
                f32::from_bits(*scale_bits),
                *causal,
                shape,
            ),
            Take { axis } => indexing::take(*axis, &inputs[0], &inputs[1], shape),
            TakeAlongAxis { axis } => {
                indexing::take_along_axis(*axis, &inputs[0], &inputs[1], shape)
            }
            ScatterAlongAxis { axis, mode } => indexing::scatter_along_axis(
                *axis, *mode, &inputs[0], &inputs[1], &inputs[2], shape,
            ),
            Sort { axis } => sort::sort(*axis, x(), shape, false),
            ArgSort { axis } => sort::sort(*axis, x(), shape, true),
            Concatenate { axis } => indexing::concatenate(*axis, inputs, shape),
            SliceUpdate { start, step } => {
                indexing::slice_update(start, step, &inputs[0], &inputs[1], shape)
            }
            Arange {
                start_bits,
                step_bits,
            } => indexing::arange(
                f64::from_bits(*start_bits),
                f64::from_bits(*step_bits),
                shape,
                dtype,
            ),
            RandomBits => indexing::random_bits(x(), shape),
            Dequantize { group_size, bits } => quantized::dequantize(
                &inputs[0],
                &inputs[1],
                &inputs[2],
                *group_size,
                *bits as usize,
                shape,
                dtype,
            ),
            QuantizedMatmul {
                group_size,
                bits,
                transpose,
                fuse,
            } => {
                // the fused work around the product, each by its own kernel
                let mut xs = inputs[..4].to_vec();
                if let (Some(i), Some(eps)) = (fuse.norm_input(), fuse.rms_norm_eps_bits) {
                    let eps = f32::from_bits(eps);
                    xs[0] = fast::rms_norm(&inputs[0], Some(&inputs[i]), eps, &inputs[0].shape)?;
                }
                let mut product = shape.to_vec();
                if fuse.silu_mul {
                    product[shape.len() - 1] *= 2;
                }
                let (gs, bits) = (*group_size, *bits as usize);
                let mut y =
                    quantized::quantized_matmul(&xs, gs, bits, *transpose, &product, dtype)?;
                if let Some(r) = fuse.rope {
                    let a = fast::RopeArgs {
                        dims: r.dims,
                        traditional: true,
                        base: f32::from_bits(r.base_bits),
                        scale: f32::from_bits(r.scale_bits),
                        offset: r.offset,
                    };
                    let l = QmmRope::positions(&inputs[0].shape);
                    let (start, step) = ([0; 4], [1; 4]);
                    y = mlx_arm_core::backend::rope_heads(
                        &y,
                        l,
                        r,
                        |h, shape| fast::rope(h, None, a, shape),
                        |dst, upd, shape| indexing::slice_update(&start, &step, dst, upd, shape),
                    )?;
                }
                use mlx_arm_core::primitive::BinaryOp;
                if fuse.silu_mul {
                    let [gate, up] = y.last_axis_halves();
                    y = elementwise::binary(BinaryOp::SiluMul, &gate, &up, shape, dtype)?;
                }
                match fuse.addend_input() {
                    Some(i) => elementwise::binary(BinaryOp::Add, &y, &inputs[i], shape, dtype),
                    None => Ok(y),
                }
            }
            Reshape | Transpose(_) | Broadcast | Slice { .. } | AsStrided { .. } | StopGradient => {
                Err(Error::Backend {
                    backend: "cpu",
                    detail: format!("{} is a view, evaluated by core", prim.name()),
                })
            }
        }
    }
}
