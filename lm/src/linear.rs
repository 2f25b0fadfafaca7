//! Linear layers and embeddings over dense or affine-quantized weights (MLX's `Linear`,
//! `QuantizedLinear`, `Embedding` and `QuantizedEmbedding`).

use crate::{Error, Result};
use mlx_arm::{ops, Array, Device, Dtype};
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
        Tensors { map: arrays.into_iter().collect(), path: path.to_string(), dtype }
    }
    /// True when a tensor of that name exists.
    pub fn has(&self, name: &str) -> bool {
        self.map.contains_key(name)
    }
    /// Removes and returns a tensor, or says which is missing.
    pub fn take(&mut self, name: &str) -> Result<Array> {
        self.map.remove(name).ok_or_else(|| Error::Model { path: self.path.clone(), detail: format!("tensor {name:?} is missing") })
    }
    /// A float tensor in the compute dtype with the expected shape.
    pub fn float(&mut self, name: &str, shape: &[usize]) -> Result<Array> {
        let a = self.take(name)?;
        self.check_shape(name, &a, shape)?;
        if !a.dtype().is_float() {
            return Err(self.bad(format!("tensor {name:?} has dtype {}, not a float", a.dtype())));
        }
        Ok(resident(ops::astype(&a, self.dtype)?)?)
    }
    fn check_shape(&self, name: &str, a: &Array, shape: &[usize]) -> Result<()> {
        if a.shape() != shape {
            return Err(self.bad(format!("tensor {name:?} has shape {:?}, expected {shape:?}", a.shape())));
        }
        Ok(())
    }
    fn bad(&self, detail: String) -> Error {
        Error::Model { path: self.path.clone(), detail }
    }
    /// The linear layer `{prefix}.weight` (+ `{prefix}.bias`) mapping `inp` features to `out`:
    /// quantized when `{prefix}.scales` exists (GGUF Q4_0/Q4_1/Q8_0 load that way), else dense.
    pub fn linear(&mut self, prefix: &str, out: usize, inp: usize) -> Result<Linear> {
        let bias = match self.has(&format!("{prefix}.bias")) {
            true => Some(self.float(&format!("{prefix}.bias"), &[out])?),
            false => None,
        };
        let wname = format!("{prefix}.weight");
        if !self.has(&format!("{prefix}.scales")) {
            let weight = self.float(&wname, &[out, inp])?;
            return Ok(Linear::Dense { weight, bias });
        }
        let w = self.take(&wname)?;
        let scales = self.take(&format!("{prefix}.scales"))?;
        let biases = self.take(&format!("{prefix}.biases"))?;
        let groups = *scales.shape().last().unwrap_or(&0);
        if w.ndim() != 2 || w.shape()[0] != out || groups == 0 || inp % groups != 0 {
            return Err(self.bad(format!("quantized tensor {wname:?} has shape {:?}, expected {out} rows of {inp} values", w.shape())));
        }
        let group_size = (inp / groups) as i32;
        let bits = (w.shape()[1] * 32 / inp) as i32;
        // f32 scales and biases: dequantizing in float16 loses the small differences between
        // large `scale * q` and `bias` terms (Q8_0 biases are -128·d).
        let (scales, biases) = (ops::astype(&scales, Dtype::Float32)?, ops::astype(&biases, Dtype::Float32)?);
        let (w, scales, biases) = (resident(w)?, resident(scales)?, resident(biases)?);
        let l = Linear::Quantized { w, scales, biases, group_size, bits, bias };
        // validates group size, bits and shapes once, at load
        l.forward(&ops::zeros(&[1, inp as i32], Dtype::Float32)?)?;
        Ok(l)
    }
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
            Linear::Quantized { w, scales, biases, group_size, bits, bias } => {
                (ops::quantized_matmul(x, w, scales, biases, true, *group_size, *bits)?, bias)
            }
        };
        Ok(match bias {
            Some(b) => ops::add(y, b)?,
            None => y,
        })
    }
    /// Rows `ids` of `W` (an embedding lookup), in f32.
    pub fn rows(&self, ids: &Array) -> Result<Array> {
        Ok(match self {
            Linear::Dense { weight, .. } => ops::take(weight, ids, Some(0))?,
            Linear::Quantized { w, scales, biases, group_size, bits, .. } => {
                let (w, s, b) = (ops::take(w, ids, Some(0))?, ops::take(scales, ids, Some(0))?, ops::take(biases, ids, Some(0))?);
                ops::dequantize(w, s, b, *group_size, *bits)?
            }
        })
    }
    /// Bytes of the weights.
    pub fn nbytes(&self) -> usize {
        match self {
            Linear::Dense { weight, .. } => weight.nbytes(),
            Linear::Quantized { w, scales, biases, .. } => w.nbytes() + scales.nbytes() + biases.nbytes(),
        }
    }
}
