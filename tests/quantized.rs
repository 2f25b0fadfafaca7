//! Affine quantization against MLX (tests/fixtures/make_quant_fixtures.py, MLX 0.32.4):
//! `quantize` bit for bit and `dequantize` bit for bit on every device, for every bits × group
//! size × dtype; `quantized_matmul` against an f64 reference of `x @ dequantize(w)(.T)` on both
//! backends with decode-shaped and prefill-shaped inputs, batches, transposed views and half
//! types; its gradient against the reference; and typed errors for bad arguments.

mod common;

use common::{devices, Rng};
use mlx_arm::ops;
use mlx_arm::transforms::grad;
use mlx_arm::{with_default_device, Array, Device, Dtype, Error};
use std::collections::HashMap;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/quant");

fn fixtures() -> HashMap<String, Array> {
    mlx_arm::io::load_npz(format!("{FIXTURES}/affine.npz"))
        .unwrap()
        .into_iter()
        .collect()
}

const DTYPES: [(&str, Dtype); 3] = [
    ("float32", Dtype::Float32),
    ("float16", Dtype::Float16),
    ("bfloat16", Dtype::Bfloat16),
];

/// Bit-for-bit equality, naming the first element that differs.
fn same(what: &str, got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let differs = |i: usize| !(got[i] == want[i] || got[i].is_nan() && want[i].is_nan());
    if let Some(i) = (0..got.len()).find(|&i| differs(i)) {
        panic!("{what}: element {i}: got {:e}, want {:e}", got[i], want[i]);
    }
}

/// Bit for bit on the CPU and the software GPU; on a hardware GPU, whose division may be off by
/// ulps, a valid quantization and MLX's weights dequantized within rounding.
#[test]
fn quantize_and_dequantize_match_mlx_bit_for_bit() {
    let fx = fixtures();
    for device in devices() {
        with_default_device(device, || {
            for (name, dt) in DTYPES {
                for bits in [2, 3, 4, 5, 6, 8] {
                    for gs in [32, 64, 128] {
                        let key = format!("{name}_{bits}_{gs}");
                        let w = ops::astype(&fx[&format!("{key}_w")], dt).unwrap();
                        let (wq, s, b) = ops::quantize(&w, gs, bits).unwrap();
                        let packed = |a: &Array| -> Vec<f64> {
                            a.to_vec::<u32>()
                                .unwrap()
                                .iter()
                                .map(|&v| v as f64)
                                .collect()
                        };
                        let wq_want = &fx[&format!("{key}_wq")];
                        let scales_want = fx[&format!("{key}_scales")].to_f64_vec().unwrap();
                        let biases_want = fx[&format!("{key}_biases")].to_f64_vec().unwrap();
                        let deq_want = fx[&format!("{key}_deq")].to_f64_vec().unwrap();
                        assert_eq!(s.dtype(), dt);
                        let d = ops::dequantize(&wq, &s, &b, gs, bits).unwrap();
                        assert_eq!(d.dtype(), dt);
                        assert_eq!(d.shape(), [4, 256]);
                        let (s, b, d) = (
                            s.to_f64_vec().unwrap(),
                            b.to_f64_vec().unwrap(),
                            d.to_f64_vec().unwrap(),
                        );
                        let on = format!("{key} on {device:?}");
                        if device == Device::gpu() && !common::software_gpu() {
                            // Vulkan lets a driver divide within 2.5 ulps (NVIDIA's does), so at
                            // an exact tie MLX's edge snapping may pick the neighbouring level
                            // (seen: a 2-bit bf16 scale of -4.25 for MLX's -2.125). What holds
                            // there: the GPU's own quantization reconstructs w within one of its
                            // levels, and it dequantizes MLX's packed weights as MLX does.
                            let wv = w.to_f64_vec().unwrap();
                            // one level, plus the rounding of scale·q, bias and the result to dt
                            let eps = match dt {
                                Dtype::Bfloat16 => 2f64.powi(-8),
                                Dtype::Float16 => 2f64.powi(-11),
                                _ => 2f64.powi(-24),
                            };
                            let qmax = ((1u32 << bits) - 1) as f64;
                            for (i, (g, x)) in d.iter().zip(&wv).enumerate() {
                                let gi = i / gs as usize;
                                let level = s[gi].abs();
                                let size = level * qmax + b[gi].abs() + x.abs();
                                let tol = level * 1.01 + 2.0 * eps * size;
                                assert!(
                                    (g - x).abs() <= tol,
                                    "{on}: [{i}] {g} for {x} (level {level})"
                                );
                            }
                            let mlx = ops::dequantize(
                                wq_want,
                                &ops::astype(&fx[&format!("{key}_scales")], dt).unwrap(),
                                &ops::astype(&fx[&format!("{key}_biases")], dt).unwrap(),
                                gs,
                                bits,
                            )
                            .unwrap()
                            .to_f64_vec()
                            .unwrap();
                            let rtol = common::tolerance(dt).0;
                            close(&format!("{on}: dequantize MLX's"), &mlx, &deq_want, rtol);
                            continue;
                        }
                        same(&format!("{on}: packed"), &packed(&wq), &packed(wq_want));
                        same(&format!("{on}: scales"), &s, &scales_want);
                        same(&format!("{on}: biases"), &b, &biases_want);
                        same(&format!("{on}: dequantize"), &d, &deq_want);
                    }
                }
            }
        });
    }
}

/// Equal within `rtol` of each value's size (and of the smallest normal f32 near zero).
fn close(what: &str, got: &[f64], want: &[f64], rtol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let tol = rtol * w.abs().max(f32::MIN_POSITIVE as f64);
        assert!(
            (g - w).abs() <= tol,
            "{what}: element {i}: got {g:e}, want {w:e}"
        );
    }
}

/// f64 `x @ deq(w).T` (transpose) or `x @ deq(w)` with x `[rows, k]`.
fn reference(x: &[f64], deq: &[f64], rows: usize, k: usize, n: usize, transpose: bool) -> Vec<f64> {
    let mut out = vec![0.0; rows * n];
    for r in 0..rows {
        for j in 0..n {
            out[r * n + j] = (0..k)
                .map(|i| {
                    x[r * k + i]
                        * if transpose {
                            deq[j * k + i]
                        } else {
                            deq[i * n + j]
                        }
                })
                .sum();
        }
    }
    out
}

fn random(rng: &mut Rng, n: usize) -> Vec<f32> {
    (0..n).map(|_| rng.range(-1.0, 1.0) as f32).collect()
}

#[test]
fn quantized_matmul_matches_reference() {
    let mut rng = Rng::new(5);
    for device in devices() {
        with_default_device(device, || {
            // (rows of x, k, n): decode-shaped (fused mat-vec) and prefill-shaped (tiled: 64
            // tiles, and 128 tiles past 64 rows, with ragged last tiles), odd n
            for &(rows, k, n) in &[
                (1usize, 256usize, 40usize),
                (3, 128, 136),
                (9, 384, 72),
                (1, 64, 300),
                (130, 96, 136),
                (257, 128, 72),
                (300, 256, 264),
            ] {
                for bits in [2, 3, 4, 5, 6, 8] {
                    for gs in [32, 64, 128] {
                        for transpose in [true, false] {
                            let (wr, wc) = if transpose { (n, k) } else { (k, n) };
                            if wc % gs as usize != 0 {
                                continue;
                            }
                            let w = Array::from_slice(
                                &random(&mut rng, wr * wc),
                                &[wr as i32, wc as i32],
                            );
                            let (wq, s, b) = ops::quantize(&w, gs, bits).unwrap();
                            let deq = ops::dequantize(&wq, &s, &b, gs, bits)
                                .unwrap()
                                .to_f64_vec()
                                .unwrap();
                            let xv = random(&mut rng, rows * k);
                            let x = Array::from_slice(&xv, &[rows as i32, k as i32]);
                            let y = ops::quantized_matmul(&x, &wq, &s, &b, transpose, gs, bits)
                                .unwrap();
                            let mut x64: Vec<f64> = xv.iter().map(|&v| v as f64).collect();
                            let mut deq = deq;
                            if transpose && rows > 64 && common::quantized_prefill_in_f16(device) {
                                (x64, deq) = (common::round_f16(&x64), common::round_f16(&deq));
                            }
                            let want = reference(&x64, &deq, rows, k, n, transpose);
                            let what = format!("qmm {rows}x{k}x{n} bits {bits} gs {gs} transpose {transpose} on {device:?}");
                            common::check(
                                &what,
                                &y,
                                &want,
                                &[rows, n],
                                Dtype::Float32,
                                (2e-4, 2e-4 * (k as f64).sqrt()),
                            );
                        }
                    }
                }
            }
        });
    }
}

/// The GPU mat-vec under every work split it offers (rows per workgroup, warps per workgroup
/// from chunks per lane, subgroup or workgroup-memory sums): K of one chunk up to a K that takes
/// 8 warps with a ragged last pass, N not a multiple of the rows per workgroup.
#[test]
#[cfg(feature = "gpu")]
fn quantized_matvec_work_splits_match_reference() {
    use mlx_arm_wgpu::kernels::quantized::{qmv_tuning, set_qmv_tuning, QmvTuning};
    let Some(gpu) = devices().into_iter().find(|d| *d != mlx_arm::Device::cpu()) else {
        return;
    };
    let mut rng = Rng::new(17);
    let default = qmv_tuning();
    with_default_device(gpu, || {
        for &(rows, k, n, bits, gs) in &[
            (1usize, 32usize, 5usize, 4, 32),
            (3, 128, 136, 5, 32),
            (2, 16416, 13, 4, 32),
            (4, 4160, 7, 3, 32),
            (1, 8320, 9, 8, 128),
            (3, 2048, 11, 4, 64),
            (2, 1024, 6, 4, 128),
        ] {
            let w = Array::from_slice(&random(&mut rng, n * k), &[n as i32, k as i32]);
            let (wq, s, b) = ops::quantize(&w, gs, bits).unwrap();
            let deq = ops::dequantize(&wq, &s, &b, gs, bits)
                .unwrap()
                .to_f64_vec()
                .unwrap();
            // every rows-per-workgroup, unroll and reduction, warps from 1 (chunks per lane 16)
            // to 8, f32 and (4 bits) int8-quantized x
            // (2/4/8 bits) weights by words or by 32-value chunks
            let splits = [
                (1, 1, 1, true, true, false),
                (2, 2, 2, false, false, true),
                (4, 1, 4, true, false, false),
                (4, 2, 1, false, true, false),
                (8, 16, 2, true, true, false),
                (8, 2, 4, false, true, false),
                (16, 1, 1, false, false, true),
                (16, 2, 2, true, true, false),
                (4, 1, 1, true, false, true),
                (1, 2, 2, false, false, true),
            ];
            for (rows_per_workgroup, chunks_per_lane, unroll, subgroups, int8, chunks) in splits {
                let t = QmvTuning {
                    rows_per_workgroup,
                    // every matrix counts as large (even unroll) or none does
                    rows_per_workgroup_large: rows_per_workgroup,
                    large_from: if unroll % 2 == 0 { 0 } else { usize::MAX },
                    chunks_per_lane,
                    unroll,
                    subgroups,
                    int8,
                    chunks,
                };
                set_qmv_tuning(t).unwrap();
                // fresh x each time: a pooled output buffer still holding the previous answer
                // must not hide outputs the kernel failed to write; a view from row 1 of a
                // larger array (an offset into its buffer)
                let xv = random(&mut rng, (rows + 1) * k);
                let xall = Array::from_slice(&xv, &[rows as i32 + 1, k as i32]);
                let x = ops::slice(&xall, &[1, 0], &[rows as i32 + 1, k as i32], &[1, 1]).unwrap();
                let xv = xv[k..].to_vec();
                let want = reference(
                    &xv.iter().map(|&v| v as f64).collect::<Vec<_>>(),
                    &deq,
                    rows,
                    k,
                    n,
                    true,
                );
                let y = ops::quantized_matmul(&x, &wq, &s, &b, true, gs, bits).unwrap();
                common::check(
                    &format!("qmv {rows}x{k}x{n} bits {bits} under {t:?}"),
                    &y,
                    &want,
                    &[rows, n],
                    Dtype::Float32,
                    (2e-4, 2e-4 * (k as f64).sqrt()),
                );
            }
        }
    });
    let bad = QmvTuning {
        rows_per_workgroup: 3,
        ..default
    };
    assert!(matches!(set_qmv_tuning(bad), Err(Error::Argument { .. })));
    set_qmv_tuning(default).unwrap();
}

#[test]
fn quantized_matmul_batches_views_and_half_types() {
    let mut rng = Rng::new(9);
    for device in devices() {
        with_default_device(device, || {
            let (k, n) = (128usize, 48usize);
            let w = Array::from_slice(&random(&mut rng, n * k), &[n as i32, k as i32]);
            for dt in [Dtype::Float32, Dtype::Float16, Dtype::Bfloat16] {
                let (wq, s, b) = ops::quantize(ops::astype(&w, dt).unwrap(), 64, 4).unwrap();
                let deq = ops::dequantize(&wq, &s, &b, 64, 4)
                    .unwrap()
                    .to_f64_vec()
                    .unwrap();
                // x as a transposed view of a [k, 2*r] array, reshaped to a batch [2, r, k]:
                // 3 rows per batch (mat-vec shapes) and 40 (80 rows: prefill tiles)
                for r in [3usize, 40] {
                    let xv = random(&mut rng, k * 2 * r);
                    let xt = Array::from_slice(&xv, &[k as i32, 2 * r as i32])
                        .transpose(None)
                        .unwrap();
                    let xs = [2, r as i32, k as i32];
                    let x = ops::astype(ops::reshape(&xt, &xs).unwrap(), dt).unwrap();
                    let y = ops::quantized_matmul(&x, &wq, &s, &b, true, 64, 4).unwrap();
                    let (mut x64, mut deq) = (x.to_f64_vec().unwrap(), deq.clone());
                    if 2 * r > 64 && common::quantized_prefill_in_f16(device) {
                        (x64, deq) = (common::round_f16(&x64), common::round_f16(&deq));
                    }
                    let want = reference(&x64, &deq, 2 * r, k, n, true);
                    let tol = if dt == Dtype::Float32 {
                        (1e-4, 1e-3)
                    } else {
                        common::tolerance(dt)
                    };
                    let tol = (tol.0 * 4.0, tol.1 * 8.0);
                    common::check(
                        &format!("batched qmm {dt} [2, {r}, {k}] on {device:?}"),
                        &y,
                        &want,
                        &[2, r, n],
                        dt,
                        tol,
                    );
                }
            }
        });
    }
}

#[test]
fn quantized_matmul_gradient_flows_to_x() {
    let mut rng = Rng::new(3);
    for device in devices() {
        with_default_device(device, || {
            let (k, n) = (64usize, 32usize);
            let w = Array::from_slice(&random(&mut rng, n * k), &[n as i32, k as i32]);
            let (wq, s, b) = ops::quantize(&w, 32, 8).unwrap();
            let deq = ops::dequantize(&wq, &s, &b, 32, 8)
                .unwrap()
                .to_f64_vec()
                .unwrap();
            let x = Array::from_slice(&random(&mut rng, 2 * k), &[2, k as i32]);
            let coef = Array::from_slice(&random(&mut rng, 2 * n), &[2, n as i32]);
            let f = |a: &[Array]| -> mlx_arm::Result<Array> {
                let y = ops::quantized_matmul(&a[0], &wq, &s, &b, true, 32, 8)?;
                ops::sum(ops::multiply(y, &coef)?, false)
            };
            let g = grad(f, &[0])(&[x.clone()]).unwrap();
            // d/dx sum(coef * (x @ W.T)) = coef @ W
            let c = coef.to_f64_vec().unwrap();
            let want = reference(&c, &deq, 2, n, k, false);
            common::check(
                &format!("qmm grad on {device:?}"),
                &g[0],
                &want,
                &[2, k],
                Dtype::Float32,
                (1e-4, 1e-4),
            );
        });
    }
}

#[test]
fn bad_arguments_are_typed_errors() {
    let w = Array::from_slice(&vec![0.5f32; 2 * 64], &[2, 64]);
    assert!(matches!(
        ops::quantize(&w, 32, 7),
        Err(Error::Argument { .. })
    ));
    assert!(matches!(
        ops::quantize(&w, 48, 4),
        Err(Error::Argument { .. })
    ));
    assert!(matches!(
        ops::quantize(&w, 128, 4),
        Err(Error::Shape { .. })
    ));
    assert!(matches!(
        ops::quantize(Array::from_slice(&[1i32; 64], &[2, 32]), 32, 4),
        Err(Error::Dtype { .. })
    ));
    assert!(matches!(
        ops::quantize(Array::from_slice(&[1f32; 64], &[64]), 32, 4),
        Err(Error::Shape { .. })
    ));
    let (wq, s, b) = ops::quantize(&w, 32, 4).unwrap();
    let x = Array::from_slice(&[1f32; 3 * 63], &[3, 63]);
    assert!(matches!(
        ops::quantized_matmul(&x, &wq, &s, &b, true, 32, 4),
        Err(Error::Shape { .. })
    ));
    assert!(matches!(
        ops::quantized_matmul(&x, &wq, &s, &b, true, 64, 4),
        Err(Error::Shape { .. })
    ));
    assert!(matches!(
        ops::dequantize(&wq, &s, &b, 32, 8),
        Err(Error::Shape { .. })
    ));
    assert!(matches!(
        ops::dequantize(&s, &s, &b, 32, 4),
        Err(Error::Dtype { .. })
    ));
    let s16 = ops::astype(&s, Dtype::Float16).unwrap();
    assert!(matches!(
        ops::dequantize(&wq, &s16, &b, 32, 4),
        Err(Error::Dtype { .. })
    ));
}

/// `quantize` is lazy for 2, 4 and 8 bits (it runs on the device, e.g. for a quantized KV
/// cache) and handles leading axes: a `[2, 3, 128]` input quantizes as its six rows do.
#[test]
fn quantize_is_lazy_and_batched() {
    let mut rng = Rng::new(7);
    let vals = random(&mut rng, 2 * 3 * 128);
    for device in devices() {
        with_default_device(device, || {
            for bits in [2, 4, 8] {
                let w = Array::from_slice(&vals, &[2, 3, 128]);
                let (wq, s, b) = ops::quantize(&w, 32, bits).unwrap();
                assert!(
                    !wq.is_evaluated() && !s.is_evaluated(),
                    "{bits} bits should be lazy"
                );
                assert_eq!(wq.shape(), [2, 3, 128 * bits as usize / 32]);
                assert_eq!(s.shape(), [2, 3, 4]);
                let (wq2, s2, b2) =
                    ops::quantize(Array::from_slice(&vals, &[6, 128]), 32, bits).unwrap();
                assert_eq!(
                    wq.to_vec::<u32>().unwrap(),
                    wq2.to_vec::<u32>().unwrap(),
                    "{device:?} {bits}"
                );
                assert_eq!(s.to_vec::<f32>().unwrap(), s2.to_vec::<f32>().unwrap());
                assert_eq!(b.to_vec::<f32>().unwrap(), b2.to_vec::<f32>().unwrap());
                // a strided view with an offset (values sliced out of a wider row, heads swapped
                // to the front, as a model's keys are) quantizes as its dense copy does
                let wide = Array::from_slice(&vals, &[1, 3, 256]);
                let view = ops::slice(&wide, &[0, 0, 64], &[1, 3, 192], &[1, 1, 1]).unwrap();
                let view =
                    ops::swapaxes(ops::reshape(view, &[1, 3, 2, 64]).unwrap(), 1, 2).unwrap();
                let dense = ops::contiguous(&view).unwrap();
                let (a, b) = (
                    ops::quantize(&view, 32, bits).unwrap(),
                    ops::quantize(&dense, 32, bits).unwrap(),
                );
                assert_eq!(
                    a.0.to_vec::<u32>().unwrap(),
                    b.0.to_vec::<u32>().unwrap(),
                    "{device:?} {bits}: view"
                );
                assert_eq!(
                    a.1.to_vec::<f32>().unwrap(),
                    b.1.to_vec::<f32>().unwrap(),
                    "{device:?} {bits}: view scales"
                );
            }
        });
    }
}

/// f16/bf16 scales and biases moved to the GPU with `to_device` stay packed two per word; the
/// quantized kernels read them as they are and must give exactly what widened copies give, for
/// the mat-vec, the tiled kernel (both transposes) and `dequantize`, including views whose
/// offset starts on the high half of a word. Other ops on a packed array (a copy, a
/// `slice_update`) widen it first; readback returns the stored values.
#[test]
#[cfg(feature = "gpu")]
fn packed_half_scales_give_what_widened_ones_give() {
    let Some(gpu) = devices().into_iter().find(|d| *d != mlx_arm::Device::cpu()) else {
        return;
    };
    let mut rng = Rng::new(23);
    with_default_device(gpu, || {
        for dt in [Dtype::Float16, Dtype::Bfloat16] {
            for &(rows, k, n, bits, gs) in &[
                (1usize, 96usize, 37usize, 4, 32),
                (3, 256, 20, 3, 64),
                (9, 96, 70, 8, 32),
                (2, 160, 11, 2, 32),
            ] {
                let w = ops::astype(
                    Array::from_slice(&random(&mut rng, (n + 1) * k), &[n as i32 + 1, k as i32]),
                    dt,
                )
                .unwrap();
                // quantized on the CPU: `to_device` packs host arrays (a GPU result stays as is)
                let (wq, s, b) =
                    with_default_device(mlx_arm::Device::cpu(), || ops::quantize(&w, gs, bits))
                        .unwrap();
                mlx_arm::transforms::eval(&[&wq, &s, &b]).unwrap();
                let (sp, bp) = (s.to_device(gpu).unwrap(), b.to_device(gpu).unwrap());
                // rows 1.. of every operand: with an odd number of groups per row the scales'
                // view starts in the high half of a packed word
                let tail = |a: &Array, cols: i32| {
                    ops::slice(a, &[1, 0], &[n as i32 + 1, cols], &[1, 1]).unwrap()
                };
                let (gw, gc) = (wq.shape()[1] as i32, s.shape()[1] as i32);
                let (wt, st, bt, spt, bpt) = (
                    tail(&wq, gw),
                    tail(&s, gc),
                    tail(&b, gc),
                    tail(&sp, gc),
                    tail(&bp, gc),
                );
                let xv = random(&mut rng, rows * k);
                let x = ops::astype(Array::from_slice(&xv, &[rows as i32, k as i32]), dt).unwrap();
                let what = format!("{dt} {rows}x{k}x{n} bits {bits} gs {gs}");
                let wide = ops::quantized_matmul(&x, &wt, &st, &bt, true, gs, bits)
                    .unwrap()
                    .to_f64_vec()
                    .unwrap();
                let packed = ops::quantized_matmul(&x, &wt, &spt, &bpt, true, gs, bits)
                    .unwrap()
                    .to_f64_vec()
                    .unwrap();
                assert_eq!(packed, wide, "mat-vec/tiled, {what}");
                let deq_wide = ops::dequantize(&wt, &st, &bt, gs, bits)
                    .unwrap()
                    .to_f64_vec()
                    .unwrap();
                let deq_packed = ops::dequantize(&wt, &spt, &bpt, gs, bits)
                    .unwrap()
                    .to_f64_vec()
                    .unwrap();
                assert_eq!(deq_packed, deq_wide, "dequantize, {what}");
                // transpose == false reads W as [k, n']: square groups of the same packed data
                let xk = ops::astype(
                    Array::from_slice(&random(&mut rng, rows * n), &[rows as i32, n as i32]),
                    dt,
                )
                .unwrap();
                let wide_t = ops::quantized_matmul(&xk, &wt, &st, &bt, false, gs, bits)
                    .unwrap()
                    .to_f64_vec()
                    .unwrap();
                let packed_t = ops::quantized_matmul(&xk, &wt, &spt, &bpt, false, gs, bits)
                    .unwrap()
                    .to_f64_vec()
                    .unwrap();
                assert_eq!(packed_t, wide_t, "tiled, no transpose, {what}");
                let x64 = x.to_f64_vec().unwrap();
                let want = reference(&x64, &deq_wide, rows, k, n, true);
                let tol = common::tolerance(dt);
                common::check(
                    &format!("packed {what}"),
                    &ops::quantized_matmul(&x, &wt, &spt, &bpt, true, gs, bits).unwrap(),
                    &want,
                    &[rows, n],
                    dt,
                    (tol.0 * 4.0, tol.1 * 8.0),
                );
                // readback, an elementwise op and an update of a packed array see its values
                assert_eq!(
                    bp.to_f64_vec().unwrap(),
                    b.to_f64_vec().unwrap(),
                    "readback, {what}"
                );
                assert_eq!(
                    ops::multiply(&spt, 1.0f32).unwrap().to_f64_vec().unwrap(),
                    st.to_f64_vec().unwrap(),
                    "copy, {what}"
                );
            }
            let host = with_default_device(mlx_arm::Device::cpu(), || {
                ops::astype(Array::from_slice(&[1.5f32, -2.0, 3.25, 4.0, 0.5], &[5]), dt)
            })
            .unwrap();
            host.eval().unwrap();
            let sp = host.to_device(gpu).unwrap();
            drop(host);
            let upd = ops::astype(Array::from_slice(&[9.0f32], &[1]), dt).unwrap();
            let updated = ops::slice_update(&sp, &upd, &[3], &[4], &[1]).unwrap();
            assert_eq!(
                updated.to_f64_vec().unwrap(),
                vec![1.5, -2.0, 3.25, 9.0, 0.5],
                "{dt} slice_update"
            );
            assert_eq!(
                sp.to_f64_vec().unwrap(),
                vec![1.5, -2.0, 3.25, 4.0, 0.5],
                "{dt} source kept"
            );
        }
    });
}

/// `quantized_matmul_add` (an MLX-ARM extension) gives exactly `add(quantized_matmul(..),
/// addend)` on every device: fused into the GPU mat-vec's store (decode shapes), a separate add
/// after the tiled kernel, the composed `add` for an addend that broadcasts; the addend may be a
/// view with an offset; gradients reach x and the addend.
#[test]
fn quantized_matmul_add_equals_the_composed_add() {
    let mut rng = Rng::new(31);
    for device in devices() {
        with_default_device(device, || {
            for &(rows, k, n, bits, transpose) in &[
                (1usize, 256usize, 40usize, 4, true),
                (3, 128, 136, 8, true),
                (2, 96, 33, 3, true),
                (9, 128, 64, 4, true),
                (2, 64, 128, 4, false),
            ] {
                for dt in [Dtype::Float32, Dtype::Float16] {
                    let (wr, wc) = if transpose { (n, k) } else { (k, n) };
                    let w = Array::from_slice(&random(&mut rng, wr * wc), &[wr as i32, wc as i32]);
                    let (wq, s, b) = ops::quantize(ops::astype(&w, dt).unwrap(), 32, bits).unwrap();
                    let x = ops::astype(
                        Array::from_slice(&random(&mut rng, rows * k), &[rows as i32, k as i32]),
                        dt,
                    )
                    .unwrap();
                    // the addend: rows 1.. of a larger array (an offset into its buffer)
                    let big = Array::from_slice(
                        &random(&mut rng, (rows + 1) * n),
                        &[rows as i32 + 1, n as i32],
                    );
                    let r = ops::astype(
                        ops::slice(&big, &[1, 0], &[rows as i32 + 1, n as i32], &[1, 1]).unwrap(),
                        dt,
                    )
                    .unwrap();
                    let what = format!(
                        "{rows}x{k}x{n} bits {bits} transpose {transpose} {dt} on {device:?}"
                    );
                    let y = ops::quantized_matmul(&x, &wq, &s, &b, transpose, 32, bits).unwrap();
                    let composed = ops::add(&y, &r).unwrap().to_f64_vec().unwrap();
                    let fused = ops::quantized_matmul_add(&x, &wq, &s, &b, &r, transpose, 32, bits)
                        .unwrap();
                    assert_eq!(fused.dtype(), dt, "{what}");
                    assert_eq!(fused.to_f64_vec().unwrap(), composed, "fused, {what}");
                    // a broadcast addend takes the composed path
                    let row = ops::astype(Array::from_slice(&random(&mut rng, n), &[n as i32]), dt)
                        .unwrap();
                    let want = ops::add(&y, &row).unwrap().to_f64_vec().unwrap();
                    let got = ops::quantized_matmul_add(&x, &wq, &s, &b, &row, transpose, 32, bits)
                        .unwrap();
                    assert_eq!(got.to_f64_vec().unwrap(), want, "broadcast, {what}");
                }
            }
            // gradients: d/dx as for quantized_matmul, d/daddend = the cotangent
            let (k, n) = (64usize, 32usize);
            let w = Array::from_slice(&random(&mut rng, n * k), &[n as i32, k as i32]);
            let (wq, s, b) = ops::quantize(&w, 32, 4).unwrap();
            let x = Array::from_slice(&random(&mut rng, k), &[1, k as i32]);
            let r = Array::from_slice(&random(&mut rng, n), &[1, n as i32]);
            let coef = Array::from_slice(&random(&mut rng, n), &[1, n as i32]);
            let fused = |a: &[Array]| -> mlx_arm::Result<Array> {
                let y = ops::quantized_matmul_add(&a[0], &wq, &s, &b, &a[1], true, 32, 4)?;
                ops::sum(ops::multiply(y, &coef)?, false)
            };
            let composed = |a: &[Array]| -> mlx_arm::Result<Array> {
                let y = ops::add(
                    ops::quantized_matmul(&a[0], &wq, &s, &b, true, 32, 4)?,
                    &a[1],
                )?;
                ops::sum(ops::multiply(y, &coef)?, false)
            };
            let gf = grad(fused, &[0, 1])(&[x.clone(), r.clone()]).unwrap();
            let gc = grad(composed, &[0, 1])(&[x.clone(), r.clone()]).unwrap();
            for i in 0..2 {
                assert_eq!(
                    gf[i].to_f64_vec().unwrap(),
                    gc[i].to_f64_vec().unwrap(),
                    "grad {i} on {device:?}"
                );
            }
            assert_eq!(
                gf[1].to_f64_vec().unwrap(),
                coef.to_f64_vec().unwrap(),
                "d/daddend on {device:?}"
            );
        });
    }
}
