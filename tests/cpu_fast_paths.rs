//! The CPU backend's SIMD fast paths (backend-cpu/src/simd.rs) against f64 references: the
//! vectorised exp (ulp error over dense sweeps, overflow/underflow/subnormal edges, ±inf, NaN),
//! fused softmax rows, dense binary ops and row/full reductions. Lengths straddle every vector
//! width (4 lanes NEON, 8 AVX2, 16 AVX-512, times the 4-way unrolling) so every tail path runs,
//! and inputs are both whole buffers and dense views starting at odd offsets (unaligned).
//! These run on every CPU (and on aarch64 under qemu in CI, where the NEON kernels run).

use mlx_arm::{ops, Array, Device, Dtype};
use mlx_arm_cpu::simd;

fn cpu() -> Device {
    Device::cpu()
}

/// Lengths around multiples of 4, 8, 16 and 64 (a 4-way unrolled 16-lane loop), plus long ones.
const LENS: [usize; 24] = [
    1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 67, 127, 129, 255, 1000, 4099,
    70_001,
];

/// Element offsets of the dense views tested (0: the whole buffer).
const OFFSETS: [usize; 3] = [0, 1, 3];

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
    fn vals(&mut self, n: usize, lo: f64, hi: f64) -> Vec<f32> {
        (0..n)
            .map(|_| (lo + (hi - lo) * self.next()) as f32)
            .collect()
    }
}

/// A dense f32 array of `vals` (shape `shape`) that is a view at element `off` of a larger buffer.
fn at_offset(vals: &[f32], shape: &[usize], off: usize) -> Array {
    let mut big = vec![-7.0f32; vals.len() + off + 2];
    big[off..off + vals.len()].copy_from_slice(vals);
    let flat = Array::from_slice(&big, &[big.len() as i32]);
    let v = ops::slice(&flat, &[off as i32], &[(off + vals.len()) as i32], &[1]).unwrap();
    let sh: Vec<i32> = shape.iter().map(|&d| d as i32).collect();
    ops::reshape(&v, &sh).unwrap()
}

/// Distance in units in the last place of f32 between `got` and the exact `want`.
fn ulps(got: f32, want: f64) -> f64 {
    if got.is_nan() || want.is_nan() {
        return if got.is_nan() && want.is_nan() {
            0.0
        } else {
            f64::INFINITY
        };
    }
    let w32 = want as f32;
    if got.is_infinite() || w32.is_infinite() {
        return if got == w32 { 0.0 } else { f64::INFINITY };
    }
    let ulp = if w32 == 0.0 {
        f32::from_bits(1) as f64
    } else {
        (f32::from_bits(w32.abs().to_bits() + 1) - w32.abs()) as f64
    };
    (got as f64 - want).abs() / ulp
}

#[test]
fn exp_is_within_one_ulp_on_dense_sweeps() {
    // every 997th f32 from 0 to ±89, and from -89 to -104 (about 2.3 million values)
    let mut xs = vec![];
    for bits in (0u32..0x42B2_0000).step_by(997) {
        xs.push(f32::from_bits(bits));
        xs.push(-f32::from_bits(bits));
    }
    for bits in (0xC2B2_0000u32..0xC2D0_0000).step_by(997) {
        xs.push(f32::from_bits(bits)); // down to -104
    }
    let mut out = vec![0.0f32; xs.len()];
    simd::exp_slice(&xs, &mut out);
    let (mut worst, mut at) = (0.0f64, 0.0f32);
    for (&x, &y) in xs.iter().zip(&out) {
        let e = ulps(y, (x as f64).exp());
        if e > worst {
            (worst, at) = (e, x);
        }
    }
    assert!(
        worst <= 1.0,
        "exp: {worst} ulp at {at:e} (got {:e}, want {:e})",
        simd::exp_f32(at),
        (at as f64).exp()
    );
}

#[test]
fn exp_edges_overflow_underflow_and_special_values() {
    let cases: [f32; 22] = [
        0.0,
        -0.0,
        1.0,
        -1.0,
        1e-30,
        -1e-30,
        f32::MIN_POSITIVE,
        88.72283,
        88.722_84,
        88.8,
        89.0,
        1e4,
        f32::MAX, // largest finite result, then overflow
        -87.33655,
        -87.4,
        -100.0,
        -103.97208,
        -103.98,
        -104.0,
        -1e4,
        f32::MIN, // subnormal results, then 0
        0.5,
    ];
    for &x in &cases {
        let y = simd::exp_f32(x);
        let want = (x as f64).exp();
        assert!(ulps(y, want) <= 1.0, "exp({x:e}) = {y:e}, want {want:e}");
    }
    assert_eq!(simd::exp_f32(f32::INFINITY), f32::INFINITY);
    assert_eq!(simd::exp_f32(f32::NEG_INFINITY), 0.0);
    assert!(simd::exp_f32(f32::NAN).is_nan());
    assert!(simd::exp_f32(88.8).is_infinite());
    assert!(simd::exp_f32(88.72283).is_finite());
    assert!(simd::exp_f32(-103.0) > 0.0 && simd::exp_f32(-103.0) < f32::MIN_POSITIVE);
    assert_eq!(simd::exp_f32(-104.0), 0.0);
}

#[test]
fn exp_op_matches_reference_at_every_length_and_offset() {
    let mut r = Rng(0x5eed_0001);
    for &n in &LENS {
        let mut v = r.vals(n, -90.0, 90.0);
        if n > 5 {
            v[n - 1] = f32::NAN;
            v[n / 2] = f32::INFINITY;
            v[n / 3] = f32::NEG_INFINITY;
        }
        for off in OFFSETS {
            let a = at_offset(&v, &[n], off);
            let got = ops::exp_device(&a, cpu()).unwrap().to_vec::<f32>().unwrap();
            for (i, (&g, &x)) in got.iter().zip(&v).enumerate() {
                assert!(
                    ulps(g, (x as f64).exp()) <= 1.0,
                    "n {n} off {off} [{i}]: exp({x:e}) = {g:e}"
                );
            }
        }
        // a strided layout gives the same bits as the dense one
        let big: Vec<f32> = v.iter().flat_map(|&x| [x, 0.0]).collect();
        let s = ops::slice(
            &Array::from_slice(&big, &[2 * n as i32]),
            &[0],
            &[2 * n as i32],
            &[2],
        )
        .unwrap();
        let dense = ops::exp_device(Array::from_slice(&v, &[n as i32]), cpu())
            .unwrap()
            .to_vec::<f32>()
            .unwrap();
        let strided = ops::exp_device(&s, cpu()).unwrap().to_vec::<f32>().unwrap();
        assert!(
            dense
                .iter()
                .zip(&strided)
                .all(|(a, b)| a.to_bits() == b.to_bits()),
            "n {n}: strided exp differs"
        );
    }
}

/// f64 softmax of each row (MLX's rule: no guard, so +inf in a row or a row of -inf gives NaN).
fn softmax_ref(v: &[f32], n: usize) -> Vec<f64> {
    let mut out = vec![];
    for row in v.chunks(n) {
        let m = row.iter().fold(f64::NEG_INFINITY, |m, &x| m.max(x as f64));
        let e: Vec<f64> = row.iter().map(|&x| (x as f64 - m).exp()).collect();
        let s: f64 = e.iter().sum();
        out.extend(e.iter().map(|&e| e / s));
    }
    out
}

#[test]
fn softmax_rows_match_f64_reference() {
    let mut r = Rng(0x5eed_0002);
    for &n in &LENS {
        let rows = if n > 5000 { 2 } else { 3 };
        let mut v = r.vals(rows * n, -30.0, 30.0);
        v[0] += 1000.0; // a huge value: stability
        if n > 2 {
            v[n + 1] = -1e30; // a huge negative one underflows to 0
        }
        for off in OFFSETS {
            let a = at_offset(&v, &[rows, n], off);
            let got = ops::softmax_device(&a, Some(&[-1]), cpu())
                .unwrap()
                .to_vec::<f32>()
                .unwrap();
            let want = softmax_ref(&v, n);
            for (i, (&g, &w)) in got.iter().zip(&want).enumerate() {
                let tol = 1e-5 * w + 1e-37; // x - max rounds in f32 (up to 2e-6 relative here)
                assert!(
                    (g as f64 - w).abs() <= tol,
                    "n {n} off {off} [{i}]: got {g:e}, want {w:e}"
                );
            }
            for row in got.chunks(n) {
                let s: f64 = row.iter().map(|&x| x as f64).sum();
                assert!((s - 1.0).abs() < 1e-5, "n {n} off {off}: row sums to {s}");
            }
        }
    }
}

#[test]
fn softmax_special_values() {
    let n = 37;
    let base: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin() * 5.0).collect();
    let run = |v: &[f32]| {
        ops::softmax_device(
            Array::from_slice(v, &[1, v.len() as i32]),
            Some(&[-1]),
            cpu(),
        )
        .unwrap()
        .to_vec::<f32>()
        .unwrap()
    };
    // NaN anywhere: the whole row is NaN
    for pos in [0, 5, 16, 36] {
        let mut v = base.clone();
        v[pos] = f32::NAN;
        assert!(run(&v).iter().all(|x| x.is_nan()), "NaN at {pos}");
    }
    // -inf entries get 0; the rest still sums to 1
    let mut v = base.clone();
    v[3] = f32::NEG_INFINITY;
    v[33] = f32::NEG_INFINITY;
    let got = run(&v);
    assert_eq!((got[3], got[33]), (0.0, 0.0));
    let want = softmax_ref(&v, n);
    assert!(got
        .iter()
        .zip(&want)
        .all(|(&g, &w)| (g as f64 - w).abs() <= 1e-5 * w + 1e-37));
    // as in MLX: a row of -inf is NaN, and so is a row holding +inf (inf - inf)
    assert!(run(&[f32::NEG_INFINITY; 19]).iter().all(|x| x.is_nan()));
    for pos in [0, 7, 36] {
        let mut v = base.clone();
        v[pos] = f32::INFINITY;
        assert!(run(&v).iter().all(|x| x.is_nan()), "+inf at {pos}");
    }
    // huge magnitudes of both signs
    let got = run(&[3e38, -3e38, 3e38, 0.0, -1e30]);
    assert_eq!(got, vec![0.5, 0.0, 0.5, 0.0, 0.0]);
}

#[test]
fn softmax_half_types_use_the_same_kernel() {
    let mut r = Rng(0x5eed_0003);
    for &n in &[1usize, 7, 17, 65, 1000] {
        let v = r.vals(3 * n, -4.0, 4.0);
        let want = softmax_ref(&v, n);
        for dt in [Dtype::Float16, Dtype::Bfloat16] {
            let a = ops::astype_device(Array::from_slice(&v, &[3, n as i32]), dt, cpu()).unwrap();
            let x = ops::astype_device(&a, Dtype::Float32, cpu())
                .unwrap()
                .to_vec::<f32>()
                .unwrap();
            let want = softmax_ref(&x, n);
            let got = ops::astype_device(
                ops::softmax_device(&a, Some(&[-1]), cpu()).unwrap(),
                Dtype::Float32,
                cpu(),
            )
            .unwrap()
            .to_vec::<f32>()
            .unwrap();
            let tol = if dt == Dtype::Float16 { 1e-3 } else { 8e-3 };
            for (&g, &w) in got.iter().zip(&want) {
                assert!(
                    (g as f64 - w).abs() <= tol * w + 1e-6,
                    "{dt:?} n {n}: got {g}, want {w}"
                );
            }
        }
        assert_eq!(want.len(), 3 * n);
    }
}

#[test]
fn binary_ops_match_ieee_at_every_length_and_offset() {
    let mut r = Rng(0x5eed_0004);
    let specials = [
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        0.0,
        -0.0,
        3e38,
        -3e38,
        1e-40,
    ];
    type Op = (
        &'static str,
        fn(&Array, &Array) -> Array,
        fn(f32, f32) -> f32,
    );
    let ops_: [Op; 6] = [
        (
            "add",
            |a, b| ops::add_device(a, b, cpu()).unwrap(),
            |x, y| ((x as f64) + (y as f64)) as f32,
        ),
        (
            "subtract",
            |a, b| ops::subtract_device(a, b, cpu()).unwrap(),
            |x, y| ((x as f64) - (y as f64)) as f32,
        ),
        (
            "multiply",
            |a, b| ops::multiply_device(a, b, cpu()).unwrap(),
            |x, y| ((x as f64) * (y as f64)) as f32,
        ),
        (
            "divide",
            |a, b| ops::divide_device(a, b, cpu()).unwrap(),
            |x, y| ((x as f64) / (y as f64)) as f32,
        ),
        (
            "maximum",
            |a, b| ops::maximum_device(a, b, cpu()).unwrap(),
            |x, y| {
                if x.is_nan() || y.is_nan() {
                    f32::NAN
                } else {
                    x.max(y)
                }
            },
        ),
        (
            "minimum",
            |a, b| ops::minimum_device(a, b, cpu()).unwrap(),
            |x, y| {
                if x.is_nan() || y.is_nan() {
                    f32::NAN
                } else {
                    x.min(y)
                }
            },
        ),
    ];
    for &n in &LENS {
        let mut a = r.vals(n, -1e3, 1e3);
        let mut b = r.vals(n, -1e3, 1e3);
        for i in 0..n.min(specials.len() * 3) {
            a[i] = specials[i % specials.len()];
            b[i] = specials[(i / specials.len() + i) % specials.len()];
        }
        for (oa, ob) in [(0, 0), (1, 0), (0, 3), (3, 1)] {
            let (xa, xb) = (at_offset(&a, &[n], oa), at_offset(&b, &[n], ob));
            for (name, f, reference) in &ops_ {
                let got = f(&xa, &xb).to_vec::<f32>().unwrap();
                for i in 0..n {
                    let w = reference(a[i], b[i]);
                    let ok = (got[i].is_nan() && w.is_nan()) || got[i] == w;
                    assert!(
                        ok,
                        "{name} n {n} offsets {oa},{ob} [{i}]: {} op {} = {}, want {w}",
                        a[i], b[i], got[i]
                    );
                }
            }
        }
    }
}

#[test]
fn binary_ops_with_a_broadcast_scalar_on_either_side() {
    let mut r = Rng(0x5eed_0006);
    type Op = (
        &'static str,
        fn(&Array, &Array) -> Array,
        fn(f32, f32) -> f32,
    );
    let ops_: [Op; 4] = [
        (
            "subtract",
            |a, b| ops::subtract_device(a, b, cpu()).unwrap(),
            |x, y| ((x as f64) - (y as f64)) as f32,
        ),
        (
            "divide",
            |a, b| ops::divide_device(a, b, cpu()).unwrap(),
            |x, y| ((x as f64) / (y as f64)) as f32,
        ),
        (
            "maximum",
            |a, b| ops::maximum_device(a, b, cpu()).unwrap(),
            |x, y| {
                if x.is_nan() || y.is_nan() {
                    f32::NAN
                } else {
                    x.max(y)
                }
            },
        ),
        (
            "minimum",
            |a, b| ops::minimum_device(a, b, cpu()).unwrap(),
            |x, y| {
                if x.is_nan() || y.is_nan() {
                    f32::NAN
                } else {
                    x.min(y)
                }
            },
        ),
    ];
    for &n in &[1usize, 3, 17, 65, 1000, 70_001] {
        let mut v = r.vals(n, -10.0, 10.0);
        v[n / 2] = f32::NAN;
        for scalar in [2.5f32, -0.0, f32::INFINITY, f32::NAN] {
            // a one-element array (at an offset) broadcast to the other operand's shape
            let one = ops::broadcast_to(at_offset(&[scalar], &[1], 1), &[n as i32]).unwrap();
            let x = at_offset(&v, &[n], 1);
            for (name, f, reference) in &ops_ {
                for scalar_left in [false, true] {
                    let got = if scalar_left {
                        f(&one, &x)
                    } else {
                        f(&x, &one)
                    }
                    .to_vec::<f32>()
                    .unwrap();
                    for i in 0..n {
                        let w = if scalar_left {
                            reference(scalar, v[i])
                        } else {
                            reference(v[i], scalar)
                        };
                        let ok = (got[i].is_nan() && w.is_nan()) || got[i] == w;
                        assert!(ok, "{name} n {n} scalar {scalar} (left: {scalar_left}) [{i}]: got {}, want {w}", got[i]);
                    }
                }
            }
        }
        // weak Rust scalars take the same path
        let x = Array::from_slice(&v, &[n as i32]);
        let got = ops::multiply_device(&x, 3.0, cpu())
            .unwrap()
            .to_vec::<f32>()
            .unwrap();
        assert!(got
            .iter()
            .zip(&v)
            .all(|(&g, &x)| (g.is_nan() && x.is_nan()) || g == x * 3.0));
    }
}

#[test]
fn sums_and_extrema_of_rows_and_whole_arrays() {
    let mut r = Rng(0x5eed_0005);
    // lines longer than one task's chunk (65,536) split over tasks when there are few of them
    for &(rows, n) in &[
        (1usize, 1usize),
        (3, 1),
        (1, 17),
        (5, 33),
        (7, 129),
        (4, 1000),
        (2, 70_001),
        (1, 300_007),
        (3000, 9),
    ] {
        let v = r.vals(rows * n, -2.0, 2.0);
        for off in [0usize, 1] {
            let a = at_offset(&v, &[rows, n], off);
            let sums = ops::sum_device(&a, Some(&[1]), false, cpu())
                .unwrap()
                .to_vec::<f32>()
                .unwrap();
            let maxs = ops::max_device(&a, Some(&[1]), false, cpu())
                .unwrap()
                .to_vec::<f32>()
                .unwrap();
            let mins = ops::min_device(&a, Some(&[1]), false, cpu())
                .unwrap()
                .to_vec::<f32>()
                .unwrap();
            for (i, row) in v.chunks(n).enumerate() {
                let s: f64 = row.iter().map(|&x| x as f64).sum();
                assert!(
                    (sums[i] as f64 - s).abs() <= 1e-6 * (1.0 + s.abs()),
                    "sum {rows}x{n} off {off} row {i}: {} vs {s}",
                    sums[i]
                );
                assert_eq!(
                    maxs[i],
                    row.iter().copied().fold(f32::NEG_INFINITY, f32::max),
                    "max {rows}x{n} row {i}"
                );
                assert_eq!(
                    mins[i],
                    row.iter().copied().fold(f32::INFINITY, f32::min),
                    "min {rows}x{n} row {i}"
                );
            }
            let total = ops::sum_device(&a, None, false, cpu())
                .unwrap()
                .to_vec::<f32>()
                .unwrap()[0];
            let s: f64 = v.iter().map(|&x| x as f64).sum();
            assert!(
                (total as f64 - s).abs() <= 1e-6 * (1.0 + s.abs()),
                "full sum {rows}x{n}: {total} vs {s}"
            );
            let m = ops::max_device(&a, None, false, cpu())
                .unwrap()
                .to_vec::<f32>()
                .unwrap()[0];
            assert_eq!(m, v.iter().copied().fold(f32::NEG_INFINITY, f32::max));
            // a transposed view of the same buffer: a dense line in another order
            let t = ops::transpose(&a, None).unwrap();
            let ts = ops::sum_device(&t, None, false, cpu())
                .unwrap()
                .to_vec::<f32>()
                .unwrap()[0];
            assert!(
                (ts as f64 - s).abs() <= 1e-6 * (1.0 + s.abs()),
                "transposed full sum {rows}x{n}: {ts} vs {s}"
            );
        }
    }
}

#[test]
fn sums_and_extrema_over_leading_axes() {
    // column reductions of dense arrays: few and many columns, odd sizes, offset views, NaN/inf
    let mut r = Rng(0x5eed_0008);
    for &(shape, lead) in &[
        (&[7usize, 33][..], 1usize),
        (&[300, 5], 1),
        (&[3, 4, 5], 2),
        (&[1000, 1000], 1),
        (&[2, 70_001], 1),
        (&[5, 3, 130], 1),
        (&[1, 17], 1),
    ] {
        let n: usize = shape.iter().product();
        let rows: usize = shape[..lead].iter().product();
        let cols = n / rows;
        let mut v = r.vals(n, -3.0, 3.0);
        if cols > 3 {
            v[2] = f32::NAN; // column 2
            v[(rows - 1) * cols + 3] = f32::INFINITY; // column 3, last row
        }
        let axes: Vec<i32> = (0..lead as i32).collect();
        for off in [0usize, 1] {
            let a = at_offset(&v, shape, off);
            let sums = ops::sum_device(&a, Some(&axes), false, cpu())
                .unwrap()
                .to_vec::<f32>()
                .unwrap();
            let maxs = ops::max_device(&a, Some(&axes), false, cpu())
                .unwrap()
                .to_vec::<f32>()
                .unwrap();
            let mins = ops::min_device(&a, Some(&axes), false, cpu())
                .unwrap()
                .to_vec::<f32>()
                .unwrap();
            for j in 0..cols {
                let col: Vec<f32> = (0..rows).map(|i| v[i * cols + j]).collect();
                let s = col.iter().map(|&x| x as f64).sum::<f64>() as f32;
                let nan = col.iter().any(|x| x.is_nan());
                let mx = if nan {
                    f32::NAN
                } else {
                    col.iter().copied().fold(f32::NEG_INFINITY, f32::max)
                };
                let mn = if nan {
                    f32::NAN
                } else {
                    col.iter().copied().fold(f32::INFINITY, f32::min)
                };
                let same = |g: f32, w: f32, tol: f32| {
                    (g.is_nan() && w.is_nan()) || g == w || (g - w).abs() <= tol * (1.0 + w.abs())
                };
                assert!(
                    same(sums[j], s, 1e-6),
                    "{shape:?} sum col {j} off {off}: {} vs {s}",
                    sums[j]
                );
                assert!(
                    same(maxs[j], mx, 0.0),
                    "{shape:?} max col {j} off {off}: {} vs {mx}",
                    maxs[j]
                );
                assert!(
                    same(mins[j], mn, 0.0),
                    "{shape:?} min col {j} off {off}: {} vs {mn}",
                    mins[j]
                );
            }
        }
    }
}

#[test]
fn reductions_propagate_nan_and_handle_infinities() {
    for &n in &[1usize, 5, 16, 17, 64, 100, 70_001, 200_003] {
        for pos in [0, n / 2, n - 1] {
            let mut v = vec![1.5f32; n];
            v[pos] = f32::NAN;
            let a = Array::from_slice(&v, &[n as i32]);
            for (name, r) in [
                ("sum", ops::sum_device(&a, None, false, cpu())),
                ("max", ops::max_device(&a, None, false, cpu())),
                ("min", ops::min_device(&a, None, false, cpu())),
            ] {
                assert!(
                    r.unwrap().to_vec::<f32>().unwrap()[0].is_nan(),
                    "{name} n {n} NaN at {pos}"
                );
            }
            v[pos] = f32::INFINITY;
            let a = Array::from_slice(&v, &[n as i32]);
            assert_eq!(
                ops::sum_device(&a, None, false, cpu())
                    .unwrap()
                    .to_vec::<f32>()
                    .unwrap()[0],
                f32::INFINITY
            );
            assert_eq!(
                ops::max_device(&a, None, false, cpu())
                    .unwrap()
                    .to_vec::<f32>()
                    .unwrap()[0],
                f32::INFINITY
            );
            let want_min = if n == 1 { f32::INFINITY } else { 1.5 };
            assert_eq!(
                ops::min_device(&a, None, false, cpu())
                    .unwrap()
                    .to_vec::<f32>()
                    .unwrap()[0],
                want_min
            );
            v[pos] = f32::NEG_INFINITY;
            let a = Array::from_slice(&v, &[n as i32]);
            assert_eq!(
                ops::min_device(&a, None, false, cpu())
                    .unwrap()
                    .to_vec::<f32>()
                    .unwrap()[0],
                f32::NEG_INFINITY
            );
        }
    }
    // +inf and -inf in one sum: NaN; huge values: f64 accumulation does not overflow midway
    let a = Array::from_slice(&[f32::INFINITY, 1.0, f32::NEG_INFINITY], &[3]);
    assert!(ops::sum_device(&a, None, false, cpu())
        .unwrap()
        .to_vec::<f32>()
        .unwrap()[0]
        .is_nan());
    let a = Array::from_slice(&[3e38f32, 3e38, -3e38, -3e38], &[4]);
    assert_eq!(
        ops::sum_device(&a, None, false, cpu())
            .unwrap()
            .to_vec::<f32>()
            .unwrap()[0],
        0.0
    );
}

#[test]
fn simd_level_is_the_requested_one() {
    let level = simd::describe();
    eprintln!("CPU SIMD level: {level}");
    match std::env::var("MLX_ARM_CPU_SIMD").as_deref() {
        Ok("scalar") => assert_eq!(level, "Scalar"),
        #[cfg(target_arch = "x86_64")]
        Ok("avx2")
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma") =>
        {
            assert_eq!(level, "V3")
        }
        _ => {
            // aarch64 always has NEON (under qemu too): the NEON kernels are the ones tested there
            #[cfg(target_arch = "aarch64")]
            assert_eq!(level, "Neon");
        }
    }
}

/// Runs this test binary again with the AVX2 kernels and with the portable fallback forced, so
/// the variants this CPU would not pick are checked too (x86-64 only: on aarch64 under qemu a
/// child process cannot be started without binfmt; NEON is the only variant there anyway).
#[test]
#[cfg(target_arch = "x86_64")]
fn every_simd_variant_passes() {
    if std::env::var_os("MLX_ARM_CPU_SIMD").is_some() {
        return; // the child runs
    }
    let exe = std::env::current_exe().unwrap();
    for level in ["avx2", "scalar"] {
        let out = std::process::Command::new(&exe)
            .env("MLX_ARM_CPU_SIMD", level)
            .args(["--skip", "every_simd_variant_passes"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "MLX_ARM_CPU_SIMD={level}:\n{text}");
    }
}

/// f64 reference of `a (m x k) @ b (k x n)`, both row-major.
fn matmul_ref(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f64> {
    let mut c = vec![0.0f64; m * n];
    for i in 0..m {
        for p in 0..k {
            let x = a[i * k + p] as f64;
            for j in 0..n {
                c[i * n + j] += x * b[p * n + j] as f64;
            }
        }
    }
    c
}

#[test]
fn matmul_split_over_threads_matches_reference() {
    // large enough to be split into one block per thread: by rows (few columns: 131x97x67), by
    // columns (the others), with odd sizes, transposed operands and a batch
    let mut r = Rng(0x5eed_0007);
    for &(m, k, n) in &[
        (131usize, 97usize, 67usize),
        (3, 200, 1000),
        (1, 700, 999),
        (257, 64, 129),
        (64, 1, 4097),
    ] {
        let av = r.vals(m * k, -1.0, 1.0);
        let bv = r.vals(k * n, -1.0, 1.0);
        let want = matmul_ref(&av, &bv, m, k, n);
        let a = Array::from_slice(&av, &[m as i32, k as i32]);
        let b = Array::from_slice(&bv, &[k as i32, n as i32]);
        // the same operands stored transposed and viewed back
        let at = ops::transpose(
            ops::contiguous_device(ops::transpose(&a, None).unwrap(), cpu()).unwrap(),
            None,
        )
        .unwrap();
        let bt = ops::transpose(
            ops::contiguous_device(ops::transpose(&b, None).unwrap(), cpu()).unwrap(),
            None,
        )
        .unwrap();
        for (x, y, what) in [
            (&a, &b, "dense"),
            (&at, &b, "lhs transposed"),
            (&a, &bt, "rhs transposed"),
            (&at, &bt, "both transposed"),
        ] {
            let got = ops::matmul_device(x, y, cpu())
                .unwrap()
                .to_vec::<f32>()
                .unwrap();
            for (i, (&g, &w)) in got.iter().zip(&want).enumerate() {
                assert!(
                    (g as f64 - w).abs() <= 1e-5 * (1.0 + w.abs()) * (k as f64).sqrt(),
                    "{m}x{k}x{n} {what} [{i}]: got {g}, want {w}"
                );
            }
        }
    }
    // f64 (gemm's f64 kernels) and the half types (computed through f32), split too
    let (m, k, n) = (67, 61, 129);
    let av = r.vals(m * k, -1.0, 1.0);
    let bv = r.vals(k * n, -1.0, 1.0);
    let want = matmul_ref(&av, &bv, m, k, n);
    for (dt, tol) in [
        (Dtype::Float64, 1e-12),
        (Dtype::Float16, 2e-2),
        (Dtype::Bfloat16, 1.5e-1),
    ] {
        let a =
            ops::astype_device(Array::from_slice(&av, &[m as i32, k as i32]), dt, cpu()).unwrap();
        let b =
            ops::astype_device(Array::from_slice(&bv, &[k as i32, n as i32]), dt, cpu()).unwrap();
        let got = ops::matmul_device(
            &a,
            &ops::transpose(ops::transpose(&b, None).unwrap(), None).unwrap(),
            cpu(),
        )
        .unwrap();
        assert_eq!(got.dtype(), dt);
        let got = got.to_f64_vec().unwrap();
        for (i, (&g, &w)) in got.iter().zip(&want).enumerate() {
            // f64 inputs are the f32 values, so only the f16/bf16 rounding of inputs and output counts
            assert!(
                (g - w).abs() <= tol * (1.0 + w.abs()),
                "{dt:?} [{i}]: got {g}, want {w}"
            );
        }
    }
    // a batch of 3 (the split applies to each product)
    let (m, k, n) = (70, 50, 90);
    let av = r.vals(3 * m * k, -1.0, 1.0);
    let bv = r.vals(3 * k * n, -1.0, 1.0);
    let got = ops::matmul_device(
        Array::from_slice(&av, &[3, m as i32, k as i32]),
        Array::from_slice(&bv, &[3, k as i32, n as i32]),
        cpu(),
    )
    .unwrap()
    .to_vec::<f32>()
    .unwrap();
    for bi in 0..3 {
        let want = matmul_ref(
            &av[bi * m * k..][..m * k],
            &bv[bi * k * n..][..k * n],
            m,
            k,
            n,
        );
        for (i, (&g, &w)) in got[bi * m * n..][..m * n].iter().zip(&want).enumerate() {
            assert!(
                (g as f64 - w).abs() <= 1e-4 * (1.0 + w.abs()),
                "batch {bi} [{i}]: got {g}, want {w}"
            );
        }
    }
}
