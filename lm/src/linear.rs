//! Linear layers and embeddings over dense or affine-quantized weights (MLX's `Linear`,
//! `QuantizedLinear`, `Embedding` and `QuantizedEmbedding`).

use crate::{Error, Result};
use mlx_arm::{fast, ops, Array, Device, Dtype};
use std::collections::HashMap;

/// Weights of a linear map `x @ Wᵀ (+ bias)`, `W` being `[out, in]`.
#[derive(Debug, Clone)]
pub enum Linear {
    /// A float matrix.
    Dense {
        /// `[out, in]`.
        weight: Array,
        /// `[out]`.
        bias: Option<Array>,
    },
    /// A packed affine-quantized matrix (see `mlx_arm::ops::quantize`).
    Quantized {
        /// Packed `[out, in · bits / 32]` uint32.
        w: Array,
        /// `[out, in / group_size]`.
        scales: Array,
        /// `[out, in / group_size]`.
        biases: Array,
        /// Values per scale.
        group_size: i32,
        /// Bits per value.
        bits: i32,
        /// `[out]`.
        bias: Option<Array>,
    },
}

/// Takes named tensors out of a loaded file.
pub struct Tensors {
    map: HashMap<String, Array>,
    path: String,
    /// Float dtype the model computes in (dense weights are converted to it on load).
    pub dtype: Dtype,
}

impl Tensors {
    /// Wraps the tensors of the file at `path`.
    pub fn new(arrays: Vec<(String, Array)>, path: &str, dtype: Dtype) -> Tensors {
        Tensors {
            map: arrays.into_iter().collect(),
            path: path.to_string(),
            dtype,
        }
    }
    /// True when a tensor of that name exists.
    pub fn has(&self, name: &str) -> bool {
        self.map.contains_key(name)
    }
    /// Removes and returns a tensor, or says which is missing.
    pub fn take(&mut self, name: &str) -> Result<Array> {
        self.map.remove(name).ok_or_else(|| Error::Model {
            path: self.path.clone(),
            detail: format!("tensor {name:?} is missing"),
        })
    }
    /// A float tensor in the compute dtype with the expected shape.
    pub fn float(&mut self, name: &str, shape: &[usize]) -> Result<Array> {
        Ok(resident(self.host_float(name, shape)?)?)
    }
    /// [`Tensors::float`] converted in host memory (nothing is moved to a device yet).
    fn host_float(&mut self, name: &str, shape: &[usize]) -> Result<Array> {
        let a = self.take(name)?;
        self.check_shape(name, &a, shape)?;
        if !a.dtype().is_float() {
            return Err(self.bad(format!(
                "tensor {name:?} has dtype {}, not a float",
                a.dtype()
            )));
        }
        let a = ops::astype_device(&a, self.dtype, Device::cpu())?;
        a.eval()?;
        Ok(a)
    }
    fn check_shape(&self, name: &str, a: &Array, shape: &[usize]) -> Result<()> {
        if a.shape() != shape {
            return Err(self.bad(format!(
                "tensor {name:?} has shape {:?}, expected {shape:?}",
                a.shape()
            )));
        }
        Ok(())
    }
    fn bad(&self, detail: String) -> Error {
        Error::Model {
            path: self.path.clone(),
            detail,
        }
    }
    /// The linear layer `{prefix}.weight` (+ `{prefix}.bias`) mapping `inp` features to `out`:
    /// quantized when `{prefix}.scales` exists (GGUF Q4_0/Q4_1/Q8_0 load that way), else dense.
    pub fn linear(&mut self, prefix: &str, out: usize, inp: usize) -> Result<Linear> {
        Ok(self.host_linear(prefix, out, inp)?.resident()?)
    }
    /// Linear maps of one input (`(prefix, out)` each) stacked into one product (see
    /// [`Stacked`]); the parts are joined in host memory, then moved to the device once.
    pub fn stacked(&mut self, parts: &[(&str, usize)], inp: usize) -> Result<Stacked> {
        let parts = parts
            .iter()
            .map(|&(p, out)| self.host_linear(p, out, inp))
            .collect::<Result<Vec<_>>>()?;
        Stacked::new(parts)
    }
    /// [`Tensors::linear`] with every array converted in host memory and not moved.
    fn host_linear(&mut self, prefix: &str, out: usize, inp: usize) -> Result<Linear> {
        let bname = format!("{prefix}.bias");
        let bias = match self.has(&bname) {
            true => Some(self.host_float(&bname, &[out])?),
            false => None,
        };
        let wname = format!("{prefix}.weight");
        if !self.has(&format!("{prefix}.scales")) {
            return Ok(Linear::Dense {
                weight: self.host_float(&wname, &[out, inp])?,
                bias,
            });
        }
        let w = self.take(&wname)?;
        let scales = self.take(&format!("{prefix}.scales"))?;
        let biases = self.take(&format!("{prefix}.biases"))?;
        let groups = *scales.shape().last().unwrap_or(&0);
        if w.ndim() != 2 || w.shape()[0] != out || groups == 0 || inp % groups != 0 {
            return Err(self.bad(format!(
                "quantized tensor {wname:?} has shape {:?}, expected {out} rows of {inp} values",
                w.shape()
            )));
        }
        let group_size = (inp / groups) as i32;
        let bits = (w.shape()[1] * 32 / inp) as i32;
        // Products are computed in f32 either way (never rounded to float16, which would lose
        // the small differences between large `scale * q` and `bias` terms: Q8_0 biases are
        // -128·d). A GPU reads 16-bit scales and biases packed as they are (2 bytes per value
        // held and streamed per token instead of 4); the CPU's tiled prefill kernel reads f32,
        // so there they are widened once here.
        let keep16 = Device::default_device() != Device::cpu();
        let scale_host = |a: &Array| -> Result<Array> {
            if keep16 && matches!(a.dtype(), Dtype::Float16 | Dtype::Bfloat16) {
                return Ok(a.clone());
            }
            let a = ops::astype_device(a, Dtype::Float32, Device::cpu())?;
            a.eval()?;
            Ok(a)
        };
        let (scales, biases) = (scale_host(&scales)?, scale_host(&biases)?);
        let l = Linear::Quantized {
            w,
            scales,
            biases,
            group_size,
            bits,
            bias,
        };
        // validates group size, bits and shapes once, at load (the graph is never run)
        l.forward(&ops::zeros_device(
            &[1, inp as i32],
            Dtype::Float32,
            Device::cpu(),
        )?)?;
        Ok(l)
    }
}

/// Scales and biases held in the default device's memory: on a GPU, f16 ones side by side in
/// one `[N, G, 2]` array (`scales`/`biases` are its two halves, strided views), so the mat-vec
/// reads a group's scale and bias with one load (`MLX_ARM_PAIR_SCALES=0`: two arrays).
fn resident_scales(scales: Array, biases: Array) -> mlx_arm::Result<(Array, Array)> {
    static PAIR: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let pair =
        *PAIR.get_or_init(|| std::env::var("MLX_ARM_PAIR_SCALES").map_or(true, |v| v != "0"));
    let f16 = |a: &Array| a.dtype() == Dtype::Float16 && a.ndim() == 2;
    if !pair
        || Device::default_device() == Device::cpu()
        || !f16(&scales)
        || !f16(&biases)
        || scales.shape() != biases.shape()
    {
        return Ok((resident(scales)?, resident(biases)?));
    }
    let (n, g) = (scales.shape()[0] as i32, scales.shape()[1] as i64);
    let both = resident(ops::stack_device(&[scales, biases], 2, Device::cpu())?)?;
    let half = |first: usize| ops::as_strided(&both, &[n, g as i32], &[2 * g, 2], first);
    Ok((half(0)?, half(1)?))
}

/// `a` evaluated and held only in the default device's memory: on a GPU the file's host copy is
/// freed once the caller drops the original, instead of living beside the uploaded copy.
fn resident(a: Array) -> mlx_arm::Result<Array> {
    a.to_device(Device::default_device())
}

impl Linear {
    /// `x @ Wᵀ + bias` for `x` `[.., in]`.
    pub fn forward(&self, x: &Array) -> Result<Array> {
        let (y, bias) = match self {
            Linear::Dense { weight, bias } => (ops::matmul(x, weight.t()?)?, bias),
            Linear::Quantized {
                w,
                scales,
                biases,
                group_size,
                bits,
                bias,
            } => (
                ops::quantized_matmul(x, w, scales, biases, true, *group_size, *bits)?,
                bias,
            ),
        };
        Ok(match bias {
            Some(b) => ops::add(y, b)?,
            None => y,
        })
    }
    /// `forward(x)` with `fusion`'s work in the same node (`ops::quantized_matmul_fused`), for a
    /// quantized map without bias; `None` for the others.
    fn fused(&self, x: &Array, fusion: ops::QmmFusion) -> Result<Option<Array>> {
        match self {
            Linear::Quantized {
                w,
                scales,
                biases,
                group_size,
                bits,
                bias: None,
            } => {
                let (gs, bits) = (*group_size, *bits);
                Ok(Some(ops::quantized_matmul_fused(
                    x, w, scales, biases, true, gs, bits, fusion,
                )?))
            }
            _ => Ok(None),
        }
    }
    /// `residual + forward(x)`: one fused node for a quantized map without bias (the GPU
    /// mat-vec adds the residual as it stores, one dispatch less per use), the composed sum
    /// otherwise or with `MLX_ARM_FUSE_RESIDUAL=0`.
    pub fn forward_add(&self, x: &Array, residual: &Array) -> Result<Array> {
        static FUSE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
        let fuse =
            *FUSE.get_or_init(|| std::env::var("MLX_ARM_FUSE_RESIDUAL").map_or(true, |v| v != "0"));
        let fusion = ops::QmmFusion {
            addend: Some(residual.clone()),
            ..ops::QmmFusion::default()
        };
        match fuse {
            true => self.fused(x, fusion)?,
            false => None,
        }
        .map_or_else(|| Ok(ops::add(residual, self.forward(x)?)?), Ok)
    }
    /// `forward(fast::rms_norm(x, Some(norm.0), norm.1))`, and with `glu` then `silu(gate) * up`
    /// of the product's two halves: one fused node for a quantized map without bias (the GPU
    /// mat-vec normalises x and combines the halves itself, two dispatches less), the composed
    /// ops otherwise.
    pub fn forward_normed(&self, x: &Array, norm: (&Array, f32), glu: bool) -> Result<Array> {
        let fusion = ops::QmmFusion {
            rms_norm: Some((norm.0.clone(), norm.1)),
            silu_mul: glu,
            ..ops::QmmFusion::default()
        };
        if let Some(y) = self.fused(x, fusion)? {
            return Ok(y);
        }
        let y = self.forward(&fast::rms_norm(x, Some(norm.0), norm.1)?)?;
        Ok(match glu {
            true => {
                let halves = ops::split(&y, 2, -1)?;
                ops::silu_mul(&halves[0], &halves[1])?
            }
            false => y,
        })
    }
    /// Rows `ids` of `W` (an embedding lookup), in f32.
    pub fn rows(&self, ids: &Array) -> Result<Array> {
        Ok(match self {
            Linear::Dense { weight, .. } => ops::take(weight, ids, Some(0))?,
            Linear::Quantized {
                w,
                scales,
                biases,
                group_size,
                bits,
                ..
            } => {
                let (w, s, b) = (
                    ops::take(w, ids, Some(0))?,
                    ops::take(scales, ids, Some(0))?,
                    ops::take(biases, ids, Some(0))?,
                );
                // in f32 (dequantize computes in the scales' dtype)
                let (s, b) = (
                    ops::astype(s, Dtype::Float32)?,
                    ops::astype(b, Dtype::Float32)?,
                );
                ops::dequantize(w, s, b, *group_size, *bits)?
            }
        })
    }
    /// The same map with every array held only in the default device's memory.
    pub fn resident(self) -> mlx_arm::Result<Linear> {
        let bias = |b: Option<Array>| b.map(resident).transpose();
        Ok(match self {
            Linear::Dense { weight, bias: b } => Linear::Dense {
                weight: resident(weight)?,
                bias: bias(b)?,
            },
            Linear::Quantized {
                w,
                scales,
                biases,
                group_size,
                bits,
                bias: b,
            } => {
                let (scales, biases) = resident_scales(scales, biases)?;
                Linear::Quantized {
                    w: resident(w)?,
                    scales,
                    biases,
                    group_size,
                    bits,
                    bias: bias(b)?,
                }
            }
        })
    }
    /// Output features.
    pub fn out_features(&self) -> usize {
        match self {
            Linear::Dense { weight, .. } => weight.shape()[0],
            Linear::Quantized { w, .. } => w.shape()[0],
        }
    }
    fn bias(&self) -> Option<&Array> {
        match self {
            Linear::Dense { bias, .. } | Linear::Quantized { bias, .. } => bias.as_ref(),
        }
    }
    fn weight(&self) -> &Array {
        match self {
            Linear::Dense { weight, .. } => weight,
            Linear::Quantized { w, .. } => w,
        }
    }
    /// Bytes of the weights.
    pub fn nbytes(&self) -> usize {
        match self {
            Linear::Dense { weight, .. } => weight.nbytes(),
            Linear::Quantized {
                w, scales, biases, ..
            } => w.nbytes() + scales.nbytes() + biases.nbytes(),
        }
    }
}

/// Linear maps of one input computed as a single product (their rows stacked at load: q/k/v,
/// gate/up), so a decode step runs one mat-vec instead of several; the outputs are split off
/// the product's last axis. Maps that cannot stack (different kinds or quantization, bias on
/// some only) stay separate.
#[derive(Debug, Clone)]
pub enum Stacked {
    /// One map whose output holds the parts' outputs side by side.
    One {
        /// The stacked map.
        linear: Linear,
        /// Output features of each part, in order.
        sizes: Vec<usize>,
    },
    /// The maps as they were.
    Separate(Vec<Linear>),
}

impl Stacked {
    /// Stacks `parts` when they share a kind, quantization and bias presence (joined where
    /// they are, normally host memory), and moves the result to the default device.
    pub fn new(parts: Vec<Linear>) -> Result<Stacked> {
        let same = parts.windows(2).all(|w| match (&w[0], &w[1]) {
            (
                Linear::Dense {
                    weight: a,
                    bias: ba,
                },
                Linear::Dense {
                    weight: b,
                    bias: bb,
                },
            ) => a.dtype() == b.dtype() && ba.is_some() == bb.is_some(),
            (
                Linear::Quantized {
                    scales: sa,
                    group_size: ga,
                    bits: ka,
                    bias: ba,
                    ..
                },
                Linear::Quantized {
                    scales: sb,
                    group_size: gb,
                    bits: kb,
                    bias: bb,
                    ..
                },
            ) => ga == gb && ka == kb && sa.dtype() == sb.dtype() && ba.is_some() == bb.is_some(),
            _ => false,
        });
        if !same || parts.len() < 2 {
            return Ok(Stacked::Separate(
                parts
                    .into_iter()
                    .map(Linear::resident)
                    .collect::<mlx_arm::Result<_>>()?,
            ));
        }
        let sizes: Vec<usize> = parts.iter().map(|l| l.out_features()).collect();
        let host_cat = |f: &dyn Fn(&Linear) -> Option<Array>| -> Result<Option<Array>> {
            let arrays: Option<Vec<Array>> = parts.iter().map(f).collect();
            Ok(match arrays {
                Some(a) => Some(ops::concatenate_device(&a, 0, Device::cpu())?),
                None => None,
            })
        };
        let cat = |f: &dyn Fn(&Linear) -> Option<Array>| -> Result<Option<Array>> {
            Ok(host_cat(f)?.map(resident).transpose()?)
        };
        let bias = cat(&|l| l.bias().cloned())?;
        let linear = match &parts[0] {
            Linear::Dense { .. } => Linear::Dense {
                weight: cat(&|l| Some(l.weight().clone()))?.expect("all dense"),
                bias,
            },
            Linear::Quantized {
                group_size, bits, ..
            } => {
                let part = |i: usize| {
                    move |l: &Linear| match l {
                        Linear::Quantized {
                            w, scales, biases, ..
                        } => Some([w, scales, biases][i].clone()),
                        Linear::Dense { .. } => None,
                    }
                };
                let (scales, biases) = resident_scales(
                    host_cat(&part(1))?.expect("all quantized"),
                    host_cat(&part(2))?.expect("all quantized"),
                )?;
                Linear::Quantized {
                    w: cat(&part(0))?.expect("all quantized"),
                    scales,
                    biases,
                    group_size: *group_size,
                    bits: *bits,
                    bias,
                }
            }
        };
        Ok(Stacked::One { linear, sizes })
    }
    /// The stacked product for `x` `[.., in]` (the parts side by side), when stacked.
    pub fn joint(&self, x: &Array) -> Result<Option<Array>> {
        match self {
            Stacked::One { linear, .. } => Ok(Some(linear.forward(x)?)),
            Stacked::Separate(_) => Ok(None),
        }
    }
    /// [`Stacked::joint`] of `fast::rms_norm(x, Some(norm.0), norm.1)`, the norm fused into the
    /// product where it can be.
    pub fn joint_normed(&self, x: &Array, norm: (&Array, f32)) -> Result<Option<Array>> {
        match self {
            Stacked::One { linear, .. } => Ok(Some(linear.forward_normed(x, norm, false)?)),
            Stacked::Separate(_) => Ok(None),
        }
    }
    /// [`Stacked::joint_normed`] with the product's first heads rotated as `rope` says, when
    /// the stacked map can take the rotation into its product (quantized, no bias).
    pub fn joint_normed_roped(
        &self,
        x: &Array,
        norm: (&Array, f32),
        rope: ops::QmmRope,
    ) -> Result<Option<Array>> {
        match self {
            Stacked::One { linear, .. } => linear.fused(
                x,
                ops::QmmFusion {
                    rms_norm: Some((norm.0.clone(), norm.1)),
                    rope: Some(rope),
                    ..ops::QmmFusion::default()
                },
            ),
            Stacked::Separate(_) => Ok(None),
        }
    }
    /// `silu(gate) * up` for the two parts `[gate, up]` of `fast::rms_norm(x, Some(norm.0),
    /// norm.1)` (a SwiGLU MLP's first half): one fused node when stacked from equal parts.
    pub fn glu_normed(&self, x: &Array, norm: (&Array, f32)) -> Result<Array> {
        match self {
            Stacked::One { linear, sizes } if sizes.len() == 2 && sizes[0] == sizes[1] => {
                linear.forward_normed(x, norm, true)
            }
            _ => {
                let parts = self.forward(&fast::rms_norm(x, Some(norm.0), norm.1)?)?;
                if parts.len() != 2 {
                    return Err(Error::Request(format!(
                        "a gated MLP needs two projections, got {}",
                        parts.len()
                    )));
                }
                Ok(ops::silu_mul(&parts[0], &parts[1])?)
            }
        }
    }
    /// Each part's output for `x` `[.., in]`.
    pub fn forward(&self, x: &Array) -> Result<Vec<Array>> {
        match self {
            Stacked::Separate(parts) => parts.iter().map(|l| l.forward(x)).collect(),
            Stacked::One { linear, sizes } => {
                let y = linear.forward(x)?;
                let lead: Vec<i32> = y.shape()[..y.ndim() - 1]
                    .iter()
                    .map(|&d| d as i32)
                    .collect();
                let mut start = 0i32;
                sizes
                    .iter()
                    .map(|&n| {
                        let (mut lo, mut hi) = (vec![0; lead.len()], lead.clone());
                        lo.push(start);
                        hi.push(start + n as i32);
                        start += n as i32;
                        Ok(ops::slice(&y, &lo, &hi, &vec![1; lead.len() + 1])?)
                    })
                    .collect()
            }
        }
    }
    /// Bytes of the weights.
    pub fn nbytes(&self) -> usize {
        match self {
            Stacked::One { linear, .. } => linear.nbytes(),
            Stacked::Separate(parts) => parts.iter().map(Linear::nbytes).sum(),
        }
    }
}
