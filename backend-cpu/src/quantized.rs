//! Affine-quantized kernels on the packed weights (MLX's layout, see `mlx_arm_core::ops::quantized`):
//! `dequantize`, and `quantized_matmul` as a fused mat-vec for decode-shaped inputs (a few rows
//! of `x`: per group `scale·Σx·q + bias·Σx`, never materialising weights) and, for more rows, a
//! tiled product that dequantizes one block of weight rows at a time into a small f32 tile and
//! multiplies it with `gemm` (never a dequantized copy of the whole matrix).

use crate::view::{Host, Output};
use mlx_arm_core::buffer::Data;
use mlx_arm_core::layout::numel;
use mlx_arm_core::{Dtype, Result};
use rayon::prelude::*;
use std::borrow::Cow;

/// Rows of `x` up to which `quantized_matmul` takes the fused mat-vec path.
const MATVEC_MAX_ROWS: usize = 4;
/// Weight rows (transposed layout) or columns per tile of the tiled path.
const TILE: usize = 128;

/// The `i`-th `bits`-bit value of a packed row.
#[inline(always)]
fn unpack(words: &[u32], i: usize, bits: usize) -> u32 {
    let bit = i * bits;
    let (wi, sh) = (bit / 32, bit % 32);
    let mut v = words[wi] >> sh;
    if sh + bits > 32 {
        v |= words[wi + 1] << (32 - sh);
    }
    v & ((1u32 << bits) - 1)
}

/// Unpacks the values `start..start + out.len()` of a packed row as f32.
#[inline]
fn unpack_run(words: &[u32], start: usize, bits: usize, out: &mut [f32]) {
    match bits {
        4 if start % 8 == 0 && out.len() % 8 == 0 => {
            for (o, &w) in out.chunks_exact_mut(8).zip(&words[start / 8..]) {
                for (k, v) in o.iter_mut().enumerate() {
                    *v = ((w >> (4 * k)) & 15) as f32;
                }
            }
        }
        8 if start % 4 == 0 && out.len() % 4 == 0 => {
            for (o, &w) in out.chunks_exact_mut(4).zip(&words[start / 4..]) {
                for (k, v) in o.iter_mut().enumerate() {
                    *v = ((w >> (8 * k)) & 255) as f32;
                }
            }
        }
        _ => {
            for (j, v) in out.iter_mut().enumerate() {
                *v = unpack(words, start + j, bits) as f32;
            }
        }
    }
}

/// An input's host memory, as f32 for float inputs (converted when needed).
fn host_f32(d: &Data) -> Result<Host> {
    let d32 = if d.dtype() == Dtype::Float32 { d.clone() } else { crate::elementwise::astype(d, &d.shape, Dtype::Float32)? };
    Host::of(&d32)
}

/// The dense row-major elements of a host view, borrowed when it is dense (weights are), else
/// gathered.
fn dense<T: mlx_arm_core::Element + Send + Sync>(h: &Host) -> Cow<'_, [T]> {
    h.view::<T>().to_contiguous()
}

/// Rounds through the output dtype (MLX computes `scale * q + bias` in the scales' type, so
/// half types round after the product and after the sum).
fn round_to(dt: Dtype, v: f32) -> f32 {
    match dt {
        Dtype::Float16 => half::f16::from_f32(v).to_f32(),
        Dtype::Bfloat16 => half::bf16::from_f32(v).to_f32(),
        _ => v,
    }
}

/// `dequantize(w, scales, biases)`: output `shape`, dtype `dt` (the scales' dtype).
pub fn dequantize(w: &Data, scales: &Data, biases: &Data, gs: usize, bits: usize, shape: &[usize], dt: Dtype) -> Result<Data> {
    let (hw, hs, hb) = (Host::of(w)?, host_f32(scales)?, host_f32(biases)?);
    let (words, s, b) = (dense::<u32>(&hw), dense::<f32>(&hs), dense::<f32>(&hb));
    let n = shape[shape.len() - 1];
    let total = numel(shape);
    let mut out = Output::new(Dtype::Float32, total)?;
    let vals = out.slice::<f32>();
    let row_words = n * bits / 32;
    if n > 0 {
        vals.par_chunks_mut(n).enumerate().for_each(|(r, row)| {
            let wr = &words[r * row_words..(r + 1) * row_words];
            unpack_run(wr, 0, bits, row);
            for (g, chunk) in row.chunks_mut(gs).enumerate() {
                let (sc, bi) = (s[r * (n / gs) + g], b[r * (n / gs) + g]);
                for v in chunk {
                    *v = round_to(dt, round_to(dt, sc * *v) + bi);
                }
            }
        });
    }
    let f = out.finish(shape);
    if dt == Dtype::Float32 {
        Ok(f)
    } else {
        crate::elementwise::astype(&f, shape, dt)
    }
}

/// `x @ W.T` (`transpose`) or `x @ W` for the packed `W`: inputs `(x, w, scales, biases)`.
pub fn quantized_matmul(inputs: &[Data], gs: usize, bits: usize, transpose: bool, shape: &[usize], dt: Dtype) -> Result<Data> {
    let (hx, hw) = (host_f32(&inputs[0])?, Host::of(&inputs[1])?);
    let (hs, hb) = (host_f32(&inputs[2])?, host_f32(&inputs[3])?);
    let (x, words, s, b) = (dense::<f32>(&hx), dense::<u32>(&hw), dense::<f32>(&hs), dense::<f32>(&hb));
    let n = shape[shape.len() - 1];
    let m = numel(shape) / n.max(1);
    let k = inputs[0].shape[inputs[0].shape.len() - 1];
    let mut o = Output::new(Dtype::Float32, m * n)?;
    if m > 0 && n > 0 && k > 0 {
        let out = o.slice::<f32>();
        let q = Packed { words: &words, scales: &s, biases: &b, gs, bits };
        if transpose && m <= MATVEC_MAX_ROWS {
            matvec_t(&x, &q, out, m, n, k);
        } else {
            tiled(&x, &q, out, m, n, k, transpose);
        }
    }
    let f = o.finish(shape);
    if dt == Dtype::Float32 {
        Ok(f)
    } else {
        crate::elementwise::astype(&f, shape, dt)
    }
}

/// A packed matrix: rows of `bits`-bit values with one scale and bias per `gs` values.
struct Packed<'a> {
    words: &'a [u32],
    scales: &'a [f32],
    biases: &'a [f32],
    gs: usize,
    bits: usize,
}

impl Packed<'_> {
    /// Dequantizes values `c0..c0 + out.len()` of row `r` (rows of `cols` values) into `out`.
    fn row_into(&self, r: usize, cols: usize, c0: usize, out: &mut [f32]) {
        let rw = cols * self.bits / 32;
        unpack_run(&self.words[r * rw..(r + 1) * rw], c0, self.bits, out);
        let gpr = cols / self.gs;
        for (j, v) in out.iter_mut().enumerate() {
            let g = r * gpr + (c0 + j) / self.gs;
            *v = self.scales[g] * *v + self.biases[g];
        }
    }
}

/// Decode-shaped `x (m x k) @ W.T` with `W` `n x k`, parallel over blocks of outputs: the
/// SIMD row dots of `simd::qdot4`/`qdot8` for 4 and 8 bits, per group `scale·Σ x·q + bias·Σ x`
/// otherwise.
fn matvec_t(x: &[f32], q: &Packed, out: &mut [f32], m: usize, n: usize, k: usize) {
    let gpr = k / q.gs;
    let rw = k * q.bits / 32;
    // Σx per (row of x, group), shared by every output.
    let xsum: Vec<f32> = x.chunks_exact(q.gs).map(|g| g.iter().sum()).collect();
    if q.bits == 4 || q.bits == 8 {
        let dot = if q.bits == 4 { crate::simd::qdot4 } else { crate::simd::qdot8 };
        let mut t = vec![0f32; m * n];
        t.par_chunks_mut(64 * m).enumerate().for_each(|(bi, dst)| {
            for (j, d) in dst.chunks_mut(m).enumerate() {
                let r = bi * 64 + j;
                let (w, s, b) = (&q.words[r * rw..(r + 1) * rw], &q.scales[r * gpr..(r + 1) * gpr], &q.biases[r * gpr..(r + 1) * gpr]);
                for (row, o) in d.iter_mut().enumerate() {
                    *o = dot(w, &x[row * k..(row + 1) * k], &xsum[row * gpr..(row + 1) * gpr], s, b, q.gs);
                }
            }
        });
        for r in 0..n {
            for row in 0..m {
                out[row * n + r] = t[r * m + row];
            }
        }
        return;
    }
    let block = 16;
    let mut t = vec![0f32; m * n];
    t.par_chunks_mut(block * m).enumerate().for_each(|(bi, dst)| {
        let mut vals = vec![0f32; q.gs];
        for (j, d) in dst.chunks_mut(m).enumerate() {
            let r = bi * block + j;
            let words = &q.words[r * rw..(r + 1) * rw];
            d.fill(0.0);
            for g in 0..gpr {
                unpack_run(words, g * q.gs, q.bits, &mut vals);
                let (sc, bi) = (q.scales[r * gpr + g], q.biases[r * gpr + g]);
                for (row, acc) in d.iter_mut().enumerate() {
                    let xg = &x[row * k + g * q.gs..row * k + (g + 1) * q.gs];
                    let dot: f32 = xg.iter().zip(&vals).map(|(a, b)| a * b).sum();
                    *acc += sc * dot + bi * xsum[row * gpr + g];
                }
            }
        }
    });
    // t is [n, m]; out is [m, n]
    for r in 0..n {
        for row in 0..m {
            out[row * n + r] = t[r * m + row];
        }
    }
}

/// `x @ W.T` (transpose, `W` `n x k`) or `x @ W` (`W` `k x n`) by tiles of `TILE` outputs: each
/// task dequantizes its tile into f32 and multiplies it with single-threaded gemm.
fn tiled(x: &[f32], q: &Packed, out: &mut [f32], m: usize, n: usize, k: usize, transpose: bool) {
    let out_p = SendPtr(out.as_mut_ptr());
    (0..n.div_ceil(TILE)).into_par_iter().for_each(|t| {
        let (c0, c1) = (t * TILE, ((t + 1) * TILE).min(n));
        let nb = c1 - c0;
        let mut tile = vec![0f32; nb * k];
        let (rhs_cs, rhs_rs) = if transpose {
            // tile rows are W rows c0..c1 (k values each): element (kk, j) at j*k + kk
            for (j, row) in tile.chunks_exact_mut(k).enumerate() {
                q.row_into(c0 + j, k, 0, row);
            }
            (k as isize, 1isize)
        } else {
            // tile is W[:, c0..c1]: element (kk, j) at kk*nb + j
            for (kk, row) in tile.chunks_exact_mut(nb).enumerate() {
                q.row_into(kk, n, c0, row);
            }
            (1isize, nb as isize)
        };
        let o = out_p;
        // SAFETY: columns c0..c1 of the m x n output are this task's alone; x is m x k dense and
        // the tile k x nb with the strides given.
        unsafe {
            gemm::gemm(
                m, nb, k,
                o.0.add(c0), 1, n as isize, false,
                x.as_ptr(), 1, k as isize,
                tile.as_ptr(), rhs_cs, rhs_rs,
                0.0f32, 1.0f32, false, false, false, gemm::Parallelism::None,
            )
        }
    });
}

/// A pointer handed to rayon tasks that write disjoint columns.
#[derive(Clone, Copy)]
struct SendPtr(*mut f32);
// SAFETY: tasks write disjoint column blocks and finish before the owner returns.
unsafe impl Send for SendPtr {}
unsafe impl Sync for SendPtr {}
