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

/// Rows of `x` up to which `quantized_matmul` takes the fused mat-vec path (f32 row dots).
const MATVEC_MAX_ROWS: usize = 4;
/// Rows of `x` up to which the mat-vec takes int8 activations (4 and 8 bits).
const MATVEC_MAX_ROWS_INT8: usize = 8;
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
    let d32 = if d.dtype() == Dtype::Float32 {
        d.clone()
    } else {
        crate::elementwise::astype(d, &d.shape, Dtype::Float32)?
    };
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
pub fn dequantize(
    w: &Data,
    scales: &Data,
    biases: &Data,
    gs: usize,
    bits: usize,
    shape: &[usize],
    dt: Dtype,
) -> Result<Data> {
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
pub fn quantized_matmul(
    inputs: &[Data],
    gs: usize,
    bits: usize,
    transpose: bool,
    shape: &[usize],
    dt: Dtype,
) -> Result<Data> {
    let (hx, hw) = (host_f32(&inputs[0])?, Host::of(&inputs[1])?);
    let (x, words) = (dense::<f32>(&hx), dense::<u32>(&hw));
    let n = shape[shape.len() - 1];
    let m = numel(shape) / n.max(1);
    let k = inputs[0].shape[inputs[0].shape.len() - 1];
    let mut o = Output::new(Dtype::Float32, m * n)?;
    if m > 0 && n > 0 && k > 0 {
        let out = o.slice::<f32>();
        let path = crate::qdot_i8::default_path();
        let int8 = path.level().is_some() && (bits == 4 || bits == 8);
        if transpose && (m <= MATVEC_MAX_ROWS || (int8 && m <= MATVEC_MAX_ROWS_INT8)) {
            // half-precision scales and biases are widened a few rows at a time by the mat-vec
            // (not as a whole f32 copy per call: GGUF models keep them as f16)
            let (hs, hb) = (Host::of(&inputs[2])?, Host::of(&inputs[3])?);
            let (s, b) = (
                ScaleSrc::of(&hs, inputs[2].dtype()),
                ScaleSrc::of(&hb, inputs[3].dtype()),
            );
            if let (Some(s), Some(b)) = (&s, &b) {
                matvec_t_path(
                    &x,
                    &words,
                    s.as_ref(),
                    b.as_ref(),
                    gs,
                    bits,
                    out,
                    m,
                    n,
                    k,
                    path,
                );
            } else {
                let (hs, hb) = (host_f32(&inputs[2])?, host_f32(&inputs[3])?);
                let (s, b) = (dense::<f32>(&hs), dense::<f32>(&hb));
                matvec_t_path(
                    &x,
                    &words,
                    Scales::F32(&s),
                    Scales::F32(&b),
                    gs,
                    bits,
                    out,
                    m,
                    n,
                    k,
                    path,
                );
            }
        } else {
            let (hs, hb) = (host_f32(&inputs[2])?, host_f32(&inputs[3])?);
            let (s, b) = (dense::<f32>(&hs), dense::<f32>(&hb));
            let q = Packed {
                words: &words,
                scales: &s,
                biases: &b,
                gs,
                bits,
            };
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

/// Dense scales or biases of a mat-vec in their stored float type.
enum ScaleSrc<'a> {
    F32(Cow<'a, [f32]>),
    F16(Cow<'a, [half::f16]>),
    Bf16(Cow<'a, [half::bf16]>),
}

impl<'a> ScaleSrc<'a> {
    /// The dense values of a float32/float16/bfloat16 input; None for other dtypes.
    fn of(h: &'a Host, dt: Dtype) -> Option<ScaleSrc<'a>> {
        Some(match dt {
            Dtype::Float32 => ScaleSrc::F32(dense(h)),
            Dtype::Float16 => ScaleSrc::F16(dense(h)),
            Dtype::Bfloat16 => ScaleSrc::Bf16(dense(h)),
            _ => return None,
        })
    }

    fn as_ref(&self) -> Scales<'_> {
        match self {
            ScaleSrc::F32(v) => Scales::F32(v),
            ScaleSrc::F16(v) => Scales::F16(v),
            ScaleSrc::Bf16(v) => Scales::Bf16(v),
        }
    }
}

/// Borrowed scales or biases of a mat-vec.
#[derive(Clone, Copy)]
pub(crate) enum Scales<'a> {
    F32(&'a [f32]),
    F16(&'a [half::f16]),
    Bf16(&'a [half::bf16]),
}

impl<'a> Scales<'a> {
    /// Values `start..start + len` as f32: borrowed, or widened into `buf`.
    #[inline]
    fn range<'b>(&self, start: usize, len: usize, buf: &'b mut Vec<f32>) -> &'b [f32]
    where
        'a: 'b,
    {
        use half::slice::HalfFloatSliceExt;
        match *self {
            Scales::F32(v) => &v[start..start + len],
            Scales::F16(v) => {
                buf.resize(len, 0.0);
                v[start..start + len].convert_to_f32_slice(buf);
                buf
            }
            Scales::Bf16(v) => {
                buf.resize(len, 0.0);
                v[start..start + len].convert_to_f32_slice(buf);
                buf
            }
        }
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

/// Weight values (`n·k·m`) below which a mat-vec runs on the calling thread: waking the pool
/// costs more than it saves on these.
const MATVEC_SERIAL_WORK: usize = 1 << 16;
/// Tasks per pool thread for a mat-vec (a few, so that an unevenly loaded thread is evened out).
const MATVEC_TASKS_PER_THREAD: usize = 2;

/// Whether the mat-vecs run on [`crate::spin`]'s spinning helpers (`MLX_ARM_CPU_SPIN=0`: rayon).
fn spin_pool() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var("MLX_ARM_CPU_SPIN").map_or(true, |v| v != "0"))
}

/// Output rows per widening of half-precision scales and biases in the mat-vec.
const MATVEC_SUB_ROWS: usize = 32;

/// `x (m x k) @ W.T` along `path`, parallel over blocks of outputs: for 4 and 8 bits the int8
/// row dots of [`crate::qdot_i8`] (rows of `x` holding NaN/inf, and `Path::F32`, use the f32 row
/// dots of `simd::qdot4`/`qdot8`); per group `scale·Σ x·q + bias·Σ x` for other bits.
#[allow(clippy::too_many_arguments)]
pub(crate) fn matvec_t_path(
    x: &[f32],
    words: &[u32],
    scales: Scales,
    biases: Scales,
    gs: usize,
    bits: usize,
    out: &mut [f32],
    m: usize,
    n: usize,
    k: usize,
    path: crate::qdot_i8::Path,
) {
    use crate::qdot_i8::{self, Path, BLOCK};
    let gpr = k / gs;
    let rw = k * bits / 32;
    // Σx per (row of x, group), shared by every output.
    let xsum: Vec<f32> = x.chunks_exact(gs).map(|g| g.iter().sum()).collect();
    let qx = match path {
        Path::Int8(level) | Path::Int8x2(level) if bits == 4 || bits == 8 => {
            assert!(level.available(), "{level:?} is not available on this CPU");
            let fine = matches!(path, Path::Int8x2(_));
            Some((
                qdot_i8::quantize_x(x, m, k, bits, gs, fine),
                qdot_i8::row_dot(level, bits, fine),
                if fine { 2 * k } else { k },
            ))
        }
        _ => None,
    };
    let f32dot = if bits == 4 {
        crate::simd::qdot4
    } else {
        crate::simd::qdot8
    };
    let nbr = k / BLOCK;
    // Output rows r0.. into dst ([rows, m]), scales and biases widened MATVEC_SUB_ROWS rows at a time.
    let task = |r0: usize, dst: &mut [f32]| {
        let (mut sbuf, mut bbuf, mut vals) = (Vec::new(), Vec::new(), Vec::new());
        for (c, dc) in dst.chunks_mut(MATVEC_SUB_ROWS * m).enumerate() {
            let ra = r0 + c * MATVEC_SUB_ROWS;
            let rows = dc.len() / m;
            let sc = scales.range(ra * gpr, rows * gpr, &mut sbuf);
            let bi = biases.range(ra * gpr, rows * gpr, &mut bbuf);
            for (j, d) in dc.chunks_mut(m).enumerate() {
                let r = ra + j;
                let (w, s, b) = (
                    &words[r * rw..(r + 1) * rw],
                    &sc[j * gpr..(j + 1) * gpr],
                    &bi[j * gpr..(j + 1) * gpr],
                );
                if bits == 4 || bits == 8 {
                    for (i, o) in d.iter_mut().enumerate() {
                        let xs = &xsum[i * gpr..(i + 1) * gpr];
                        *o = match &qx {
                            Some((qx, dot, per_row)) if qx.finite[i] => {
                                let blocks = i * nbr..(i + 1) * nbr;
                                // SAFETY: the level is available (checked above).
                                unsafe {
                                    dot(
                                        w,
                                        &qx.q[i * per_row..(i + 1) * per_row],
                                        &qx.d[blocks.clone()],
                                        &qx.s[blocks],
                                        s,
                                        b,
                                        &qx.gsum[i * gpr..(i + 1) * gpr],
                                        gs,
                                    )
                                }
                            }
                            _ => f32dot(w, &x[i * k..(i + 1) * k], xs, s, b, gs),
                        };
                    }
                } else {
                    vals.resize(gs, 0f32);
                    d.fill(0.0);
                    for g in 0..gpr {
                        unpack_run(w, g * gs, bits, &mut vals);
                        for (i, acc) in d.iter_mut().enumerate() {
                            let xg = &x[i * k + g * gs..i * k + (g + 1) * gs];
                            let dot: f32 = xg.iter().zip(&vals).map(|(a, b)| a * b).sum();
                            *acc += s[g] * dot + b[g] * xsum[i * gpr + g];
                        }
                    }
                }
            }
        }
    };
    // t is [n, m] (out itself when m is 1), in tasks of whole output rows; small products stay
    // on this thread
    let mut tbuf = if m == 1 {
        Vec::new()
    } else {
        vec![0f32; m * n]
    };
    let t: &mut [f32] = if m == 1 { &mut *out } else { &mut tbuf };
    let rows_per_task = if n * k * m <= MATVEC_SERIAL_WORK {
        n
    } else {
        n.div_ceil(rayon::current_num_threads() * MATVEC_TASKS_PER_THREAD)
            .max(1)
    };
    if rows_per_task >= n {
        task(0, t);
    } else if spin_pool() {
        // short regions, ~150 per decoded token: helpers that spin between them
        let (base, len, chunk) = (SendPtr(t.as_mut_ptr()), t.len(), rows_per_task * m);
        crate::spin::run(len.div_ceil(chunk), &|c| {
            let start = c * chunk;
            let end = (start + chunk).min(len);
            // SAFETY: chunks [start, end) are disjoint and inside `t`, which outlives `run`
            let dst = unsafe { std::slice::from_raw_parts_mut(base.get().add(start), end - start) };
            task(c * rows_per_task, dst)
        });
    } else {
        t.par_chunks_mut(rows_per_task * m)
            .enumerate()
            .for_each(|(c, dst)| task(c * rows_per_task, dst));
    }
    if m > 1 {
        for r in 0..n {
            for i in 0..m {
                out[i * n + r] = tbuf[r * m + i];
            }
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
                m,
                nb,
                k,
                o.0.add(c0),
                1,
                n as isize,
                false,
                x.as_ptr(),
                1,
                k as isize,
                tile.as_ptr(),
                rhs_cs,
                rhs_rs,
                0.0f32,
                1.0f32,
                false,
                false,
                false,
                gemm::Parallelism::None,
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

impl SendPtr {
    /// The pointer (a method, so closures capture the whole Sync wrapper, not its field).
    fn get(self) -> *mut f32 {
        self.0
    }
}
