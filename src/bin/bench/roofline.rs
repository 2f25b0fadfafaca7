//! The roofline the bench divides by: the device's copy bandwidth and f32 FMA peak, measured
//! here with minimal kernels that are not the library's (GPU: `mlx_arm_wgpu::probe`; CPU: a
//! parallel memcpy and independent FMA chains on every rayon thread).

use mlx_arm::{Device, Result};
use rayon::prelude::*;
use std::time::Instant;

pub use mlx_arm_wgpu::probe::Roofline;

/// Measures `device` (smaller buffers when `quick`).
pub fn measure(device: Device, quick: bool) -> Result<Roofline> {
    let bytes: u64 = if quick { 16 << 20 } else { 256 << 20 };
    if device == Device::gpu() {
        #[cfg(not(target_arch = "wasm32"))]
        return mlx_arm_wgpu::probe::measure_default(bytes);
        #[cfg(target_arch = "wasm32")]
        return Err(mlx_arm::Error::NoDevice(
            "the bench's GPU probe blocks on the adapter; it runs natively only".into(),
        ));
    }
    Ok(Roofline {
        device: format!(
            "CPU: {} rayon threads, {}",
            rayon::current_num_threads(),
            std::env::consts::ARCH
        ),
        copy_gbps: cpu_copy_gbps(bytes as usize),
        read_gbps: cpu_read_gbps(bytes as usize),
        fma_gflops: cpu_fma_gflops(),
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn cpu_copy_gbps(bytes: usize) -> f64 {
    let n = bytes / 4;
    let src = vec![1.0f32; n];
    let mut dst = vec![0.0f32; n];
    let chunk = n.div_ceil(rayon::current_num_threads() * 4);
    let runs: Vec<f64> = (0..7)
        .map(|_| {
            let t = Instant::now();
            dst.par_chunks_mut(chunk)
                .zip(src.par_chunks(chunk))
                .for_each(|(d, s)| d.copy_from_slice(s));
            2.0 * bytes as f64 / t.elapsed().as_secs_f64() / 1e9
        })
        .collect();
    std::hint::black_box(&dst);
    median(runs)
}

/// Read bandwidth: every rayon thread folds its chunks of u64 words with wrapping adds in 8
/// independent lanes (cheap enough to be bound by memory, not arithmetic).
fn cpu_read_gbps(bytes: usize) -> f64 {
    let src = vec![1u64; bytes / 8];
    let chunk = src.len().div_ceil(rayon::current_num_threads() * 4);
    let runs: Vec<f64> = (0..7)
        .map(|_| {
            let t = Instant::now();
            let s: u64 = src
                .par_chunks(chunk)
                .map(|c| {
                    let mut acc = [0u64; 8];
                    for w in c.chunks_exact(8) {
                        for (a, x) in acc.iter_mut().zip(w) {
                            *a = a.wrapping_add(*x);
                        }
                    }
                    acc.iter().fold(0u64, |x, y| x.wrapping_add(*y))
                })
                .reduce(|| 0, u64::wrapping_add);
            std::hint::black_box(s);
            bytes as f64 / t.elapsed().as_secs_f64() / 1e9
        })
        .collect();
    median(runs)
}

/// Steps of the FMA loop per call.
const STEPS: usize = 1 << 16;
/// Independent accumulator registers: enough FMAs in flight to fill two vector FMA ports.
const CHAINS: usize = 12;

/// Portable fallback: scalar chains (the compiler may or may not vectorise them).
fn fma_chains_scalar(seed: f32) -> (f32, usize) {
    let mut acc = [seed; CHAINS];
    for _ in 0..STEPS {
        for x in acc.iter_mut() {
            *x = x.mul_add(0.9999, 0.0001);
        }
    }
    (acc.iter().sum(), CHAINS)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn fma_chains_avx512(seed: f32) -> (f32, usize) {
    use std::arch::x86_64::*;
    let (m, k) = (_mm512_set1_ps(0.9999), _mm512_set1_ps(0.0001));
    let mut acc = [_mm512_set1_ps(seed); CHAINS];
    for _ in 0..STEPS {
        for a in acc.iter_mut() {
            *a = _mm512_fmadd_ps(*a, m, k);
        }
    }
    (
        acc.iter().map(|a| _mm512_reduce_add_ps(*a)).sum(),
        CHAINS * 16,
    )
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn fma_chains_avx2(seed: f32) -> (f32, usize) {
    use std::arch::x86_64::*;
    let (m, k) = (_mm256_set1_ps(0.9999), _mm256_set1_ps(0.0001));
    let mut acc = [_mm256_set1_ps(seed); CHAINS];
    for _ in 0..STEPS {
        for a in acc.iter_mut() {
            *a = _mm256_fmadd_ps(*a, m, k);
        }
    }
    // SAFETY: __m256 is 8 plain f32 lanes.
    let total: f32 = acc
        .iter()
        .map(|a| {
            unsafe { std::mem::transmute::<__m256, [f32; 8]>(*a) }
                .iter()
                .sum::<f32>()
        })
        .sum();
    (total, CHAINS * 8)
}

#[cfg(target_arch = "aarch64")]
fn fma_chains_neon(seed: f32) -> (f32, usize) {
    use std::arch::aarch64::*;
    // SAFETY: NEON is part of the aarch64 baseline.
    unsafe {
        let (m, k) = (vdupq_n_f32(0.9999), vdupq_n_f32(0.0001));
        let mut acc = [vdupq_n_f32(seed); CHAINS];
        for _ in 0..STEPS {
            for a in acc.iter_mut() {
                *a = vfmaq_f32(k, *a, m);
            }
        }
        (acc.iter().map(|a| vaddvq_f32(*a)).sum(), CHAINS * 4)
    }
}

/// Runs the widest FMA loop this CPU has; returns (checksum, lanes per step).
fn fma_chains_best(seed: f32) -> (f32, usize) {
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx512f") {
            // SAFETY: the feature was just detected.
            return unsafe { fma_chains_avx512(seed) };
        }
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            // SAFETY: the features were just detected.
            return unsafe { fma_chains_avx2(seed) };
        }
    }
    #[cfg(target_arch = "aarch64")]
    return fma_chains_neon(seed);
    #[allow(unreachable_code)]
    fma_chains_scalar(seed)
}

fn cpu_fma_gflops() -> f64 {
    let threads = rayon::current_num_threads();
    let runs: Vec<f64> = (0..5)
        .map(|_| {
            let t = Instant::now();
            let r: Vec<(f32, usize)> = (0..threads)
                .into_par_iter()
                .map(|i| fma_chains_best(i as f32 * 1e-3))
                .collect();
            std::hint::black_box(&r);
            (threads * STEPS * r[0].1 * 2) as f64 / t.elapsed().as_secs_f64() / 1e9
        })
        .collect();
    median(runs)
}
