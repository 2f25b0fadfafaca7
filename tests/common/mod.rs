//! Shared machinery of the conformance tests: the devices under test (CPU, and the GPU — whose
//! absence fails loudly when `CI=true`), deterministic random inputs per dtype, layouts
//! (contiguous, transposed, strided, broadcast), an f64 reference and per-dtype tolerances.
#![allow(dead_code)]

use mlx_arm::{ops, Array, Device, Dtype};

/// Whether quantized products of more than 64 rows of x on `device` run on cooperative matrices,
/// rounding x and the dequantized weights to f16 (the GPU on adapters with tensor cores, unless
/// `MLX_ARM_QMM_COOP=0`): their reference rounds the same values.
pub fn quantized_prefill_in_f16(device: Device) -> bool {
    tensor_core_gpu(device, "MLX_ARM_QMM_COOP")
}

/// Whether `device` is a GPU running with cooperative matrices and the kernel family's `switch`
/// is not set to `0`.
fn tensor_core_gpu(device: Device, switch: &str) -> bool {
    device == Device::gpu()
        && std::env::var(switch).as_deref() != Ok("0")
        && mlx_arm::backend::backend(device)
            .map(|b| b.describe().contains("cooperative matrices"))
            .unwrap_or(false)
}

/// Whether the GPU under test is a software adapter (lavapipe, SwiftShader, WARP: a CPU device
/// type), whose compiler keeps multiplies and adds apart as written.
pub fn software_gpu() -> bool {
    mlx_arm::backend::backend(Device::gpu())
        .map(|b| b.describe().contains("Cpu"))
        .unwrap_or(true)
}

/// Whether attention over more queries than a decode step on `device` runs the flash kernel on
/// cooperative matrices (f16 q, k, v and probabilities): the GPU on adapters with tensor cores,
/// head dimensions multiples of 16 up to 128, unless `MLX_ARM_SDPA_COOP=0`.
pub fn attention_in_f16(device: Device, head_dim: usize) -> bool {
    head_dim % 16 == 0 && head_dim <= 128 && tensor_core_gpu(device, "MLX_ARM_SDPA_COOP")
}

/// `v` rounded to f16 (the f64 reference of a product computed on f16 inputs).
pub fn round_f16(v: &[f64]) -> Vec<f64> {
    v.iter().map(|&x| half::f16::from_f64(x).to_f64()).collect()
}

/// Devices every case runs on.
pub fn devices() -> Vec<Device> {
    let mut v = vec![Device::cpu()];
    if mlx_arm::backend::gpu_available() {
        v.push(Device::gpu());
    } else if std::env::var("CI").as_deref() == Ok("true") {
        let err = mlx_arm::backend::backend(Device::gpu())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        panic!(
            "CI=true but no GPU adapter was found ({err}); install mesa-vulkan-drivers (lavapipe)"
        );
    } else {
        eprintln!("note: no GPU adapter, GPU cases skipped (they fail when CI=true)");
    }
    v
}

/// Dtypes the GPU stores (all but the 64-bit ones).
pub const GPU_DTYPES: [Dtype; 10] = [
    Dtype::Bool,
    Dtype::Uint8,
    Dtype::Uint16,
    Dtype::Uint32,
    Dtype::Int8,
    Dtype::Int16,
    Dtype::Int32,
    Dtype::Float16,
    Dtype::Bfloat16,
    Dtype::Float32,
];
/// Every dtype.
pub const ALL: [Dtype; 13] = mlx_arm::dtype::ALL_DTYPES;

/// True when `device` runs `dt`.
pub fn runs(device: Device, dt: Dtype) -> bool {
    device == Device::cpu() || GPU_DTYPES.contains(&dt)
}

/// Deterministic pseudo-random stream.
pub struct Rng(u64);
impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E3779B97F4A7C15) | 1)
    }
    pub fn next_f64(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.next_f64()
    }
}

/// `n` values valid for `dt` in `[lo, hi]` (ints rounded; bools 0/1).
pub fn values(seed: u64, n: usize, dt: Dtype, lo: f64, hi: f64) -> Vec<f64> {
    let mut r = Rng::new(seed);
    (0..n)
        .map(|_| {
            let v = r.range(lo, hi);
            if dt == Dtype::Bool {
                (v > (lo + hi) / 2.0) as u8 as f64
            } else if dt.is_unsigned_int() {
                v.abs().round()
            } else if dt.is_int() {
                v.round()
            } else {
                v
            }
        })
        .collect()
}

/// Default input range of a dtype.
pub fn default_range(dt: Dtype) -> (f64, f64) {
    match dt {
        Dtype::Bool => (0.0, 1.0),
        Dtype::Int8 | Dtype::Uint8 => (-100.0, 100.0),
        d if d.is_int() => (-1000.0, 1000.0),
        _ => (-3.0, 3.0),
    }
}

/// An array of `dt` holding `vals` (converted with `as` semantics).
pub fn array(vals: &[f64], shape: &[usize], dt: Dtype) -> Array {
    let _cpu = Device::cpu();
    Array::from_bytes(&mlx_arm::dtype_dispatch::f64_to_bytes(vals, dt), shape, dt).unwrap()
}

/// The values `dt` actually stores for `vals`.
pub fn stored(vals: &[f64], dt: Dtype) -> Vec<f64> {
    mlx_arm::with_default_device(Device::cpu(), || {
        array(vals, &[vals.len()], dt).to_f64_vec().unwrap()
    })
}

/// How the same logical values are laid out in memory.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Layout {
    /// Dense.
    Contiguous,
    /// A transposed view of a dense array (2-D and up).
    Transposed,
    /// Every other element of a larger array.
    Strided,
}

pub const LAYOUTS: [Layout; 3] = [Layout::Contiguous, Layout::Transposed, Layout::Strided];

/// An array with logical values `vals` (row-major for `shape`) in `layout`.
pub fn laid_out(vals: &[f64], shape: &[usize], dt: Dtype, layout: Layout) -> Array {
    mlx_arm::with_default_device(Device::cpu(), || laid_out_cpu(vals, shape, dt, layout))
}

fn laid_out_cpu(vals: &[f64], shape: &[usize], dt: Dtype, layout: Layout) -> Array {
    match layout {
        Layout::Contiguous => array(vals, shape, dt),
        Layout::Transposed if shape.len() >= 2 => {
            // store the transpose densely, then view it transposed back
            let nd = shape.len();
            let rev: Vec<usize> = shape.iter().rev().copied().collect();
            let mut t = vec![0.0; vals.len()];
            let strides = mlx_arm::layout::row_major_strides(shape);
            let rstrides = mlx_arm::layout::row_major_strides(&rev);
            for (i, &v) in vals.iter().enumerate() {
                let mut rem = i;
                let mut off = 0isize;
                for d in 0..nd {
                    let c = rem / strides[d] as usize;
                    rem %= strides[d] as usize;
                    off += c as isize * rstrides[nd - 1 - d];
                }
                t[off as usize] = v;
            }
            let a = array(&t, &rev, dt);
            let r = ops::transpose(&a, None).unwrap();
            assert_eq!(r.shape(), shape);
            r
        }
        Layout::Transposed => array(vals, shape, dt),
        Layout::Strided => {
            let mut big = vec![0.0; vals.len() * 2];
            for (i, &v) in vals.iter().enumerate() {
                big[2 * i] = v;
            }
            let flat = array(&big, &[big.len()], dt);
            let s = ops::slice(&flat, &[0], &[big.len() as i32], &[2]).unwrap();
            let sh: Vec<i32> = shape.iter().map(|&d| d as i32).collect();
            ops::reshape(&s, &sh).unwrap()
        }
    }
}

/// (rtol, atol) for comparing results of dtype `dt`.
pub fn tolerance(dt: Dtype) -> (f64, f64) {
    match dt {
        Dtype::Float16 => (2e-3, 2e-3),
        Dtype::Bfloat16 => (1.6e-2, 1.6e-2),
        Dtype::Float32 => (3e-5, 3e-5),
        Dtype::Float64 => (1e-12, 1e-12),
        _ => (0.0, 0.0),
    }
}

/// Rounds a reference value to what `dt` can hold (ints wrap, floats round).
pub fn to_dtype(v: f64, dt: Dtype) -> f64 {
    if dt.is_int() || dt == Dtype::Bool {
        if v.is_nan() {
            return 0.0;
        }
        let bits = dt.size() * 8;
        if dt == Dtype::Bool {
            return (v != 0.0) as u8 as f64;
        }
        let m = 1i128 << bits;
        let mut i = (v as i128).rem_euclid(m);
        if dt.is_signed_int() && i >= m / 2 {
            i -= m;
        }
        return i as f64;
    }
    stored(&[v], dt)[0]
}

/// Checks shape, dtype, then values of `got` against `want` (NaN matches NaN, inf matches inf).
pub fn check(what: &str, got: &Array, want: &[f64], shape: &[usize], dt: Dtype, tol: (f64, f64)) {
    assert_eq!(got.shape(), shape, "{what}: shape");
    assert_eq!(got.dtype(), dt, "{what}: dtype");
    let g = got.to_f64_vec().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert_eq!(g.len(), want.len(), "{what}: length");
    for (i, (&x, &y)) in g.iter().zip(want).enumerate() {
        let ok = (x.is_nan() && y.is_nan()) || x == y || (x - y).abs() <= tol.1 + tol.0 * y.abs();
        assert!(
            ok,
            "{what}: element {i}: got {x}, want {y} (rtol {}, atol {})",
            tol.0, tol.1
        );
    }
}
