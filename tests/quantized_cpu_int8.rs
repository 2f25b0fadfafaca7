//! The CPU quantized mat-vec with integer activations (`mlx_arm_cpu::qdot_i8`): `quantized_matmul`
//! for decode shapes (4 and 8 bits, every group size, 1 to 8 rows of `x`) against an f64
//! reference of `x @ dequantize(w).T`, with the error checked against the bound the int8
//! activations imply (one level, llama.cpp's Q8; or two levels, the default, 1/254 of it), on
//! every instruction-set level this CPU has; the exact f32 opt-out path; outliers, zeros and
//! non-finite inputs.
//!
//! The bound: per 32-block `b` of a row of `x`, `dx_b = max|x| / 127` and `|x_i - dx_b·xq_i| <=
//! dx_b/2`. The bias term `b_g·Σx` takes the sum of the quantized `x` too, so the product is
//! `Σ_i w_i·dx_b·xq_i` exactly (in integers and f32) and `|err| <= Σ_i |w_i|·dx_b/2`. On top: f32
//! rounding of the block sums, `Σ dx·xq` and the final sums, at most
//! `2e-5·Σ_i (|s_g·q_i| + |b_g|)·|x_i|` here (k up to 4160, 130 blocks; the products `s·q` and `b`
//! are summed apart, so their magnitudes, not `|w|`'s, set the rounding).

mod common;

use common::Rng;
use mlx_arm::{ops, with_default_device, Array, Device, Dtype};
use mlx_arm_cpu::qdot_i8::{self, Level, Path};

/// Uniform f32 vectors from the shared deterministic stream.
trait Uniform {
    fn vec(&mut self, n: usize, lo: f64, hi: f64) -> Vec<f32>;
}
impl Uniform for Rng {
    fn vec(&mut self, n: usize, lo: f64, hi: f64) -> Vec<f32> {
        (0..n).map(|_| self.range(lo, hi) as f32).collect()
    }
}

/// A quantized weight matrix `n x k` and its parts on the host.
struct W {
    wq: Array,
    s: Array,
    b: Array,
    words: Vec<u32>,
    scales: Vec<f32>,
    biases: Vec<f32>,
    deq: Vec<f64>,
    n: usize,
    k: usize,
    gs: usize,
    bits: usize,
    half: bool,
}

impl W {
    fn new(w: &[f32], n: usize, k: usize, gs: usize, bits: usize, dt: Dtype) -> W {
        let a = ops::astype(Array::from_slice(w, &[n as i32, k as i32]), dt).unwrap();
        let (wq, s, b) = ops::quantize(&a, gs as i32, bits as i32).unwrap();
        let deq = ops::dequantize(&wq, &s, &b, gs as i32, bits as i32)
            .unwrap()
            .to_f64_vec()
            .unwrap();
        let words = wq.to_vec::<u32>().unwrap();
        let scales = s.to_f64_vec().unwrap().iter().map(|&v| v as f32).collect();
        let biases = b.to_f64_vec().unwrap().iter().map(|&v| v as f32).collect();
        W {
            wq,
            s,
            b,
            words,
            scales,
            biases,
            deq,
            n,
            k,
            gs,
            bits,
            half: dt != Dtype::Float32,
        }
    }

    /// The unsigned value `j` of row `r`.
    fn q(&self, r: usize, j: usize) -> f64 {
        let per = 32 / self.bits;
        let word = self.words[r * self.k * self.bits / 32 + j / per];
        ((word >> (self.bits * (j % per))) & ((1u32 << self.bits) - 1)) as f64
    }

    /// `(reference, bound of the int8 path, f32 magnitude Σ(|s·q| + |b|)·|x|)` per output,
    /// `[m, n]`; [`fine_bound`] gives the two-level path's bound from these.
    fn reference(&self, x: &[f32], m: usize) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
        let (n, k, gs) = (self.n, self.k, self.gs);
        let mut want = vec![0.0; m * n];
        let mut bound = vec![0.0; m * n];
        let mut mag = vec![0.0; m * n];
        for i in 0..m {
            let xr = &x[i * k..(i + 1) * k];
            let dx: Vec<f64> = xr
                .chunks(32)
                .map(|c| c.iter().fold(0f64, |a, &v| a.max((v as f64).abs())) / 127.0)
                .collect();
            for r in 0..n {
                let (mut y, mut e, mut g) = (0.0, 0.0, 0.0);
                for j in 0..k {
                    let xv = xr[j] as f64;
                    let (sc, bi) = (
                        self.scales[r * k / gs + j / gs] as f64,
                        self.biases[r * k / gs + j / gs] as f64,
                    );
                    let sq = (sc * self.q(r, j)).abs();
                    // half-precision weights: the affine value itself (dequantize rounds it to the half type)
                    let wv = if self.half {
                        sc * self.q(r, j) + bi
                    } else {
                        self.deq[r * k + j]
                    };
                    y += xv * wv;
                    e += (sc * self.q(r, j) + bi).abs() * dx[j / 32] / 2.0;
                    g += (sq + bi.abs()) * xv.abs();
                }
                want[i * n + r] = y;
                bound[i * n + r] = e + 2e-5 * g;
                mag[i * n + r] = g;
            }
        }
        (want, bound, mag)
    }
}

/// The bound of the two-level path (`Path::Int8x2`): its activation error is 1/254 of the
/// int8 path's (`|x - dx·(xq1 + xq2/254)| <= dx/508`); the f32 rounding term is the same.
fn fine_bound(bound: &[f64], mag: &[f64]) -> Vec<f64> {
    bound
        .iter()
        .zip(mag)
        .map(|(&b, &g)| (b - 2e-5 * g) / 254.0 + 2e-5 * g)
        .collect()
}

/// The integer paths at every level this CPU has.
fn int_paths() -> Vec<Path> {
    qdot_i8::levels()
        .into_iter()
        .flat_map(|l| [Path::Int8(l), Path::Int8x2(l)])
        .collect()
}

/// The bound of `path`'s results.
fn bound_of(path: Path, bound: &[f64], mag: &[f64]) -> Vec<f64> {
    match path {
        Path::Int8x2(_) => fine_bound(bound, mag),
        Path::Int8(_) => bound.to_vec(),
        Path::F32 => mag.iter().map(|g| 1e-5 * g).collect(),
    }
}

fn cpu_qmm(x: &[f32], m: usize, w: &W) -> Vec<f32> {
    with_default_device(Device::cpu(), || {
        let xa = Array::from_slice(x, &[m as i32, w.k as i32]);
        let y = ops::quantized_matmul(&xa, &w.wq, &w.s, &w.b, true, w.gs as i32, w.bits as i32)
            .unwrap();
        assert_eq!(y.shape(), [m, w.n]);
        y.to_vec::<f32>().unwrap()
    })
}

fn path_qmv(path: Path, x: &[f32], m: usize, w: &W) -> Vec<f32> {
    qdot_i8::quantized_matvec_t(
        path, x, &w.words, &w.scales, &w.biases, m, w.n, w.k, w.gs, w.bits,
    )
}

/// Every output within its bound; returns the largest `|err| / bound`.
fn check_bound(what: &str, got: &[f32], want: &[f64], bound: &[f64]) -> f64 {
    let mut worst = 0f64;
    for (j, ((&g, &w), &b)) in got.iter().zip(want).zip(bound).enumerate() {
        let err = (g as f64 - w).abs();
        assert!(
            err <= b,
            "{what}: output {j}: got {g}, want {w}, error {err:e} > bound {b:e}"
        );
        worst = worst.max(err / b);
    }
    worst
}

/// The sizes every case runs: 1, 3 and 8 rows of `x` (8 is the int8 mat-vec's limit), odd n,
/// k from one 128-block (the single-thread path) to 4160 (the parallel path; not a multiple of
/// 128, so gs 128 skips it).
const CASES: [(usize, usize); 3] = [(67, 128), (67, 384), (67, 4160)];

#[test]
fn int8_matvec_is_within_the_activation_bound() {
    eprintln!(
        "int8 levels on this CPU: {:?}; default path {:?}",
        qdot_i8::levels(),
        qdot_i8::default_path()
    );
    let mut rng = Rng::new(11);
    for bits in [4usize, 8] {
        for gs in [32usize, 64, 128] {
            for &(n, k) in &CASES {
                if k % gs != 0 {
                    continue;
                }
                let w = W::new(&rng.vec(n * k, -1.0, 1.0), n, k, gs, bits, Dtype::Float32);
                for m in [1usize, 3, 8] {
                    let x = rng.vec(m * k, -2.0, 2.0);
                    let (want, bound, mag) = w.reference(&x, m);
                    let what = format!("bits {bits} gs {gs} m {m} n {n} k {k}");
                    let got = cpu_qmm(&x, m, &w);
                    let default = qdot_i8::default_path();
                    check_bound(
                        &format!("quantized_matmul {what}"),
                        &got,
                        &want,
                        &bound_of(default, &bound, &mag),
                    );
                    // it is the default path's kernel (the f32 path runs the tiled product above 4 rows)
                    if default != Path::F32 || m <= 4 {
                        assert_eq!(
                            got,
                            path_qmv(default, &x, m, &w),
                            "{what}: quantized_matmul is not {default:?}"
                        );
                    }
                    // every integer path at every level this CPU has, through the internal entry point
                    for p in int_paths() {
                        let got = path_qmv(p, &x, m, &w);
                        let worst = check_bound(
                            &format!("{p:?} {what}"),
                            &got,
                            &want,
                            &bound_of(p, &bound, &mag),
                        );
                        if let Path::Int8(_) = p {
                            // the int8 activations really ran: errors far above f32 rounding, yet within the bound
                            let rel = got
                                .iter()
                                .zip(&want)
                                .zip(&mag)
                                .map(|((&g, &w), &g2)| (g as f64 - w).abs() / g2)
                                .fold(0f64, f64::max);
                            assert!(rel > 1e-5, "{p:?} {what}: largest relative error {rel:e}: int8 activations did not run?");
                            assert!(
                                worst > 0.002,
                                "{p:?} {what}: errors at most {worst} of the bound"
                            );
                        }
                    }
                    // the f32 path: 1e-5 of Σ(|s·q| + |b|)·|x| (the result itself can cancel to ~0)
                    let got = path_qmv(Path::F32, &x, m, &w);
                    for (j, ((&g, &w), &g2)) in got.iter().zip(&want).zip(&mag).enumerate() {
                        let err = (g as f64 - w).abs();
                        assert!(err <= 1e-5 * g2, "f32 path {what}: output {j}: got {g}, want {w} (error {err:e}, scale {g2:e})");
                    }
                }
            }
        }
    }
}

#[test]
fn every_level_agrees_closely() {
    // same integer sums at every level; only the order of f32 additions differs
    let mut rng = Rng::new(3);
    for bits in [4usize, 8] {
        for gs in [32usize, 64, 128] {
            let (n, k, m) = (67, 1152, 3);
            let w = W::new(&rng.vec(n * k, -1.0, 1.0), n, k, gs, bits, Dtype::Float32);
            let x = rng.vec(m * k, -1.0, 1.0);
            let (_, _, mag) = w.reference(&x, m);
            for p in int_paths() {
                let base = path_qmv(
                    if let Path::Int8(_) = p {
                        Path::Int8(Level::Scalar)
                    } else {
                        Path::Int8x2(Level::Scalar)
                    },
                    &x,
                    m,
                    &w,
                );
                let got = path_qmv(p, &x, m, &w);
                for (j, ((&g, &b), &g2)) in got.iter().zip(&base).zip(&mag).enumerate() {
                    assert!(
                        (g - b).abs() as f64 <= 1e-5 * g2,
                        "{p:?} bits {bits} gs {gs}: output {j}: {g} vs scalar {b}"
                    );
                }
            }
        }
    }
}

#[test]
fn outliers_zeros_and_half_scales() {
    let mut rng = Rng::new(21);
    let (n, k) = (67, 640);
    for bits in [4usize, 8] {
        for gs in [32usize, 128] {
            let w = W::new(&rng.vec(n * k, -1.0, 1.0), n, k, gs, bits, Dtype::Float32);
            // one huge value per 32-block: the rest of the block quantizes to a few levels
            let m = 3;
            let mut x = rng.vec(m * k, -1.0, 1.0);
            for (b, blk) in x.chunks_mut(32).enumerate() {
                blk[(b * 7) % 32] = if b % 2 == 0 { 1000.0 } else { -3.0e4 };
            }
            let (want, bound, mag) = w.reference(&x, m);
            let got = cpu_qmm(&x, m, &w);
            check_bound(
                &format!("outliers bits {bits} gs {gs}"),
                &got,
                &want,
                &bound_of(qdot_i8::default_path(), &bound, &mag),
            );
            for p in int_paths() {
                check_bound(
                    &format!("outliers {p:?} bits {bits} gs {gs}"),
                    &path_qmv(p, &x, m, &w),
                    &want,
                    &bound_of(p, &bound, &mag),
                );
            }
            // x all zeros: exactly zero on every path
            let z = vec![0f32; 2 * k];
            assert!(
                cpu_qmm(&z, 2, &w).iter().all(|&v| v == 0.0),
                "zeros bits {bits} gs {gs}"
            );
            for p in int_paths() {
                assert!(
                    path_qmv(p, &z, 2, &w).iter().all(|&v| v == 0.0),
                    "zeros {p:?}"
                );
            }
        }
        // float16 and bfloat16 scales/biases (as GGUF models load): read in place by the mat-vec
        for dt in [Dtype::Float16, Dtype::Bfloat16] {
            let w = W::new(&rng.vec(n * k, -1.0, 1.0), n, k, 64, bits, dt);
            assert_eq!(w.s.dtype(), dt);
            let x = rng.vec(2 * k, -1.0, 1.0);
            let (want, bound, mag) = w.reference(&x, 2);
            let bound = bound_of(qdot_i8::default_path(), &bound, &mag);
            let (got, out_dt) = with_default_device(Device::cpu(), || {
                let xa = Array::from_slice(&x, &[2, k as i32]);
                let y =
                    ops::quantized_matmul(&xa, &w.wq, &w.s, &w.b, true, 64, bits as i32).unwrap();
                (
                    ops::astype(&y, Dtype::Float32)
                        .unwrap()
                        .to_vec::<f32>()
                        .unwrap(),
                    y.dtype(),
                )
            });
            // a half-precision output is rounded to its type: half an ulp more
            let ulp = match out_dt {
                Dtype::Float16 => 2f64.powi(-11),
                Dtype::Bfloat16 => 2f64.powi(-8),
                _ => 0.0,
            };
            let bound: Vec<f64> = bound
                .iter()
                .zip(&want)
                .map(|(&b, &w)| b + (w.abs() + b) * ulp)
                .collect();
            check_bound(&format!("{dt:?} scales bits {bits}"), &got, &want, &bound);
        }
    }
}

#[test]
fn non_finite_inputs_match_the_f32_path() {
    let mut rng = Rng::new(5);
    let (n, k) = (67, 256);
    for bits in [4usize, 8] {
        for gs in [32usize, 64, 128] {
            let w = W::new(&rng.vec(n * k, -1.0, 1.0), n, k, gs, bits, Dtype::Float32);
            // 4 rows (within the f32 mat-vec's limit, so MLX_ARM_CPU_QMV=f32 compares the same kernel)
            let m = 4;
            let mut x = rng.vec(m * k, -1.0, 1.0);
            x[3] = f32::NAN; // row 0
            x[k + 40] = f32::INFINITY; // row 1
            x[2 * k + 7] = f32::NEG_INFINITY; // row 2
            x[2 * k + 200] = f32::INFINITY;
            // row 3 finite
            let f32_path = path_qmv(Path::F32, &x, m, &w);
            let mut results = vec![("quantized_matmul".to_string(), cpu_qmm(&x, m, &w))];
            for p in int_paths() {
                results.push((format!("{p:?}"), path_qmv(p, &x, m, &w)));
            }
            // the coarser bound (int8) holds for every path
            let (want, bound, _) = w.reference(&x[3 * k..4 * k], 1);
            // a huge finite value: the f32 path's result (such rows take it: no NaN from inf - inf)
            let mut big = rng.vec(k, -1.0, 1.0);
            big[9] = f32::MAX;
            for (name, got) in results {
                for i in 0..3 {
                    for r in 0..n {
                        let (g, f) = (got[i * n + r], f32_path[i * n + r]);
                        assert!(!g.is_finite(), "{name} bits {bits} gs {gs}: row {i} output {r}: {g} should not be finite");
                        assert!(g.to_bits() == f.to_bits() || (g.is_nan() && f.is_nan()), "{name} bits {bits} gs {gs}: row {i} output {r}: {g} vs the f32 path's {f}");
                    }
                }
                check_bound(
                    &format!("{name} finite row"),
                    &got[3 * n..4 * n],
                    &want,
                    &bound,
                );
            }
            let big_f32: Vec<u32> = path_qmv(Path::F32, &big, 1, &w)
                .iter()
                .map(|v| v.to_bits())
                .collect();
            assert!(
                big_f32.iter().all(|&v| !f32::from_bits(v).is_nan()),
                "bits {bits} gs {gs}: the f32 path gives NaN"
            );
            assert_eq!(
                cpu_qmm(&big, 1, &w)
                    .iter()
                    .map(|v| v.to_bits())
                    .collect::<Vec<_>>(),
                big_f32,
                "bits {bits} gs {gs}: f32::MAX in x"
            );
            for p in int_paths() {
                assert_eq!(
                    path_qmv(p, &big, 1, &w)
                        .iter()
                        .map(|v| v.to_bits())
                        .collect::<Vec<_>>(),
                    big_f32,
                    "{p:?} bits {bits} gs {gs}: f32::MAX in x"
                );
            }
        }
    }
}

#[test]
fn level_follows_the_simd_switch() {
    let l = qdot_i8::level();
    eprintln!("int8 level {l:?}, levels {:?}", qdot_i8::levels());
    assert!(l.available());
    match std::env::var("MLX_ARM_CPU_SIMD").as_deref() {
        Ok("scalar") => assert_eq!(l, Level::Scalar),
        #[cfg(target_arch = "x86_64")]
        Ok("avx2") if Level::Avx2.available() => assert_eq!(l, Level::Avx2),
        #[cfg(target_arch = "aarch64")]
        Ok("neon") => assert_eq!(l, Level::Neon),
        _ => {
            // the best this CPU has
            assert_eq!(l, *qdot_i8::levels().last().unwrap());
            #[cfg(target_arch = "aarch64")]
            assert!(qdot_i8::levels().contains(&Level::Neon));
        }
    }
    match std::env::var("MLX_ARM_CPU_QMV").as_deref() {
        Ok("f32") => assert_eq!(qdot_i8::default_path(), Path::F32),
        Ok("int8") => assert_eq!(qdot_i8::default_path(), Path::Int8(l)),
        _ => assert_eq!(qdot_i8::default_path(), Path::Int8x2(l)),
    }
}

/// Runs this test binary again with lower levels forced through `MLX_ARM_CPU_SIMD`, and with the
/// f32 opt-out `MLX_ARM_CPU_QMV=f32` and the one-level `MLX_ARM_CPU_QMV=int8`, so `quantized_matmul` runs each of them end to end (x86-64
/// only: on aarch64 under qemu a child process cannot be started without binfmt; there the
/// levels are run through `quantized_matvec_t` above).
#[test]
#[cfg(target_arch = "x86_64")]
fn every_level_passes_end_to_end() {
    if std::env::var_os("MLX_ARM_CPU_SIMD").is_some()
        || std::env::var_os("MLX_ARM_CPU_QMV").is_some()
    {
        return; // the child runs
    }
    let exe = std::env::current_exe().unwrap();
    for (var, value) in [
        ("MLX_ARM_CPU_SIMD", "avx2"),
        ("MLX_ARM_CPU_SIMD", "scalar"),
        ("MLX_ARM_CPU_QMV", "f32"),
        ("MLX_ARM_CPU_QMV", "int8"),
    ] {
        let out = std::process::Command::new(&exe)
            .env(var, value)
            .args(["--skip", "every_level_passes_end_to_end"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{var}={value}:\n{text}");
    }
}
