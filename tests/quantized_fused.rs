//! `quantized_matmul_fused` (an MLX-ARM extension) against the composed ops it stands for,
//! `rms_norm(x, g) → quantized_matmul → rope of the first heads → silu(gate) · up → + addend`,
//! on both backends: decode shapes (the GPU mat-vec does the norm, the rotation, the gate/up
//! combination and the add inside its kernel)
//! and prefill shapes (separate kernels), 2/3/4/8 bits, f32 and f16, x, norm weight and addend
//! given as views with offsets; gradients equal the composed ones; bad arguments are typed
//! errors.

mod common;

use common::{devices, Rng};
use mlx_arm::fast;
use mlx_arm::ops::{self, QmmFusion, QmmRope};
use mlx_arm::transforms::grad;
use mlx_arm::{with_default_device, Array, Device, Dtype, Error};
use std::sync::Mutex;

/// Held by every test here: one sweeps the GPU mat-vec's process-wide work split, and the
/// others compare two products that must run under the same split.
static SPLIT: Mutex<()> = Mutex::new(());

fn split_lock() -> std::sync::MutexGuard<'static, ()> {
    SPLIT.lock().unwrap_or_else(|p| p.into_inner())
}

fn random(rng: &mut Rng, n: usize, lo: f64, hi: f64) -> Vec<f32> {
    (0..n).map(|_| rng.range(lo, hi) as f32).collect()
}

/// `len` values of a larger array starting at `skip` (a view with an offset), in `dt`.
fn view(rng: &mut Rng, shape: &[usize], skip: usize, dt: Dtype, lo: f64, hi: f64) -> Array {
    let n: usize = shape.iter().product();
    let big = Array::from_slice(&random(rng, n + skip, lo, hi), &[(n + skip) as i32]);
    let v = ops::slice(&big, &[skip as i32], &[(n + skip) as i32], &[1]).unwrap();
    let shape: Vec<i32> = shape.iter().map(|&d| d as i32).collect();
    ops::astype(ops::reshape(v, &shape).unwrap(), dt).unwrap()
}

/// What the fused node stands for, op by op.
fn composed(
    x: &Array,
    (wq, s, b): (&Array, &Array, &Array),
    bits: i32,
    f: &QmmFusion,
) -> mlx_arm::Result<Array> {
    let x = match &f.rms_norm {
        Some((g, eps)) => fast::rms_norm(x, Some(g), *eps)?,
        None => x.clone(),
    };
    let mut y = ops::quantized_matmul(&x, wq, s, b, true, 32, bits)?;
    if let Some(r) = f.rope {
        // [.., L, N] as heads [B, H, L, hd]; the first r.heads rotated, the rest kept
        let shape: Vec<i32> = y.shape().iter().map(|&d| d as i32).collect();
        let (nd, hd) = (y.ndim(), r.head_dim as i32);
        let l = if nd >= 2 { shape[nd - 2] } else { 1 };
        let h = shape[nd - 1] / hd;
        let bsz = y.size() as i32 / (l * h * hd);
        let heads = ops::swapaxes(ops::reshape(&y, &[bsz, l, h, hd])?, 1, 2)?;
        let part = |a: i32, z: i32| ops::slice(&heads, &[0, a, 0, 0], &[bsz, z, l, hd], &[1; 4]);
        let (base, scale) = (f32::from_bits(r.base_bits), f32::from_bits(r.scale_bits));
        let off = r.offset as i32;
        let roped = fast::rope(
            part(0, r.heads as i32)?,
            r.dims as i32,
            true,
            Some(base),
            scale,
            off,
            None,
        )?;
        let all = ops::concatenate(&[roped, part(r.heads as i32, h)?], 1)?;
        y = ops::reshape(ops::swapaxes(all, 1, 2)?, &shape)?;
    }
    if f.silu_mul {
        let h = ops::split(&y, 2, -1)?;
        y = ops::silu_mul(&h[0], &h[1])?;
    }
    match &f.addend {
        Some(a) => ops::add(y, a),
        None => Ok(y),
    }
}

/// `got` against the composed `want`: without the norm the same sums in the same order, so
/// exactly on the CPU and on the software GPU (a hardware GPU's compiler contracts multiplies and
/// adds into fmas kernel by kernel: there within a few ulps of the output's size); with the norm
/// folded into the product rounding differs (and f16 x is not rounded after normalising), so
/// close, relative to the output's size.
fn assert_matches_composed(
    (got, want): (&[f64], &[f64]),
    norm: bool,
    dt: Dtype,
    device: Device,
    what: &str,
) {
    let contracts = device == Device::gpu() && !common::software_gpu();
    if !norm && !contracts {
        assert_eq!(got, want, "{what}");
        return;
    }
    let scale = want.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    let tol = match (norm, dt == Dtype::Float16) {
        (true, true) => 8e-3,
        (true, false) => 2e-5,
        (false, true) => 1e-3,
        (false, false) => 1e-6,
    } * scale;
    for (i, (a, e)) in got.iter().zip(want).enumerate() {
        assert!((a - e).abs() <= tol, "{what}: [{i}] {a} vs {e} (tol {tol})");
    }
}

#[test]
fn fused_quantized_matmul_equals_the_composed_ops() {
    let _split = split_lock();
    let mut rng = Rng::new(47);
    for device in devices() {
        with_default_device(device, || {
            for &(rows, k, n, bits) in &[
                (1usize, 256usize, 40usize, 4),
                (3, 128, 136, 8),
                (2, 96, 34, 3),
                (4, 64, 64, 2),
                (1, 2048, 24, 4),
                (9, 128, 64, 4), // prefill shape: separate kernels
            ] {
                for dt in [Dtype::Float32, Dtype::Float16] {
                    let w = Array::from_slice(
                        &random(&mut rng, n * k, -1.0, 1.0),
                        &[n as i32, k as i32],
                    );
                    let (wq, s, b) = ops::quantize(ops::astype(&w, dt).unwrap(), 32, bits).unwrap();
                    // offsets: aligned for the vector loads (4) or not (1, copied dense first)
                    let skip = if n % 4 == 0 { 4 * k } else { k + 1 };
                    let x = view(&mut rng, &[rows, k], skip, dt, -2.0, 2.0);
                    let g = view(&mut rng, &[k], 1 + 3 * (k % 3), dt, 0.5, 1.5);
                    for (norm, glu, add) in [
                        (true, false, false),
                        (false, true, false),
                        (true, true, false),
                        (true, false, true),
                        (false, true, true),
                        (true, true, true),
                    ] {
                        let out = if glu { n / 2 } else { n };
                        let f = QmmFusion {
                            rms_norm: norm.then(|| (g.clone(), 1e-5)),
                            silu_mul: glu,
                            rope: None,
                            addend: add.then(|| view(&mut rng, &[rows, out], 5, dt, -1.0, 1.0)),
                        };
                        let what = format!(
                            "{rows}x{k}x{n} bits {bits} norm {norm} glu {glu} add {add} {dt} on {device:?}"
                        );
                        let want = composed(&x, (&wq, &s, &b), bits, &f).unwrap();
                        let got =
                            ops::quantized_matmul_fused(&x, &wq, &s, &b, true, 32, bits, f.clone())
                                .unwrap();
                        assert_eq!(got.shape(), want.shape(), "{what}");
                        assert_eq!(got.dtype(), dt, "{what}");
                        let (got, want) = (got.to_f64_vec().unwrap(), want.to_f64_vec().unwrap());
                        assert_matches_composed((&got, &want), norm, dt, device, &what);
                    }
                }
            }
        });
    }
}

/// The rotation of the product's first heads (Llama's q and k in a stacked q/k/v product):
/// traditional pairs over all or part of each head, positions along x's second-to-last axis
/// from an offset, with and without the norm; exact without the norm (the GPU mat-vec rotates
/// the narrowed product with rope's own operations).
#[test]
fn fused_rope_equals_the_composed_rope() {
    let _split = split_lock();
    let mut rng = Rng::new(59);
    for device in devices() {
        with_default_device(device, || {
            // (x's leading axes, K, head dim, heads, rotated heads, rotated dims, bits)
            for (lead, k, hd, h, hr, dims, bits) in [
                (vec![1usize], 128usize, 16usize, 6usize, 4usize, 16usize, 4),
                (vec![1, 3], 64, 8, 5, 3, 8, 8),
                (vec![4], 96, 8, 4, 4, 6, 3), // 4 positions in a 2-D x
                (vec![2, 2], 64, 16, 3, 2, 16, 4), // 2 batches of 2 positions
                (vec![], 64, 8, 2, 2, 8, 2),  // 1-D x: one position
                (vec![1, 7], 64, 8, 6, 4, 8, 4), // prefill: separate kernels
            ] {
                let n = hd * h;
                let mut xs = lead.clone();
                xs.push(k);
                let rows: usize = xs[..xs.len() - 1].iter().product();
                for dt in [Dtype::Float32, Dtype::Float16] {
                    let w = Array::from_slice(
                        &random(&mut rng, n * k, -1.0, 1.0),
                        &[n as i32, k as i32],
                    );
                    let (wq, s, b) = ops::quantize(ops::astype(&w, dt).unwrap(), 32, bits).unwrap();
                    let x = view(&mut rng, &xs, 4 * k, dt, -2.0, 2.0);
                    let g = view(&mut rng, &[k], 4, dt, 0.5, 1.5);
                    for norm in [false, true] {
                        let rope = QmmRope::new(hd, hr, dims, 10000.0, 1.0, 5 + rows);
                        let f = QmmFusion {
                            rms_norm: norm.then(|| (g.clone(), 1e-5)),
                            rope: Some(rope),
                            ..QmmFusion::default()
                        };
                        let what = format!("x {xs:?} heads {hr}/{h} of {hd} dims {dims} bits {bits} norm {norm} {dt} on {device:?}");
                        let want = composed(&x, (&wq, &s, &b), bits, &f).unwrap();
                        let got = ops::quantized_matmul_fused(&x, &wq, &s, &b, true, 32, bits, f)
                            .unwrap();
                        assert_eq!(got.shape(), want.shape(), "{what}");
                        let (got, want) = (got.to_f64_vec().unwrap(), want.to_f64_vec().unwrap());
                        assert_matches_composed((&got, &want), norm, dt, device, &what);
                    }
                }
            }
        });
    }
}

#[test]
fn fused_quantized_matmul_gradients_are_the_composed_ones() {
    let _split = split_lock();
    let mut rng = Rng::new(53);
    let (k, n) = (64usize, 32usize);
    let w = Array::from_slice(&random(&mut rng, n * k, -1.0, 1.0), &[n as i32, k as i32]);
    let (wq, s, b) = ops::quantize(&w, 32, 4).unwrap();
    let x = Array::from_slice(&random(&mut rng, 2 * k, -2.0, 2.0), &[2, k as i32]);
    let g = Array::from_slice(&random(&mut rng, k, 0.5, 1.5), &[k as i32]);
    let r = Array::from_slice(&random(&mut rng, n, -1.0, 1.0), &[2, n as i32 / 2]);
    let coef = Array::from_slice(&random(&mut rng, n, -1.0, 1.0), &[2, n as i32 / 2]);
    for device in devices() {
        with_default_device(device, || {
            let fusion = |a: &[Array]| QmmFusion {
                rms_norm: Some((a[1].clone(), 1e-5)),
                silu_mul: true,
                rope: None,
                addend: Some(a[2].clone()),
            };
            let fused = |a: &[Array]| -> mlx_arm::Result<Array> {
                let y = ops::quantized_matmul_fused(&a[0], &wq, &s, &b, true, 32, 4, fusion(a))?;
                ops::sum(ops::multiply(y, &coef)?, false)
            };
            let plain = |a: &[Array]| -> mlx_arm::Result<Array> {
                let y = composed(&a[0], (&wq, &s, &b), 4, &fusion(a))?;
                ops::sum(ops::multiply(y, &coef)?, false)
            };
            let args = [x.clone(), g.clone(), r.clone()];
            let mut gf = grad(fused, &[0, 1, 2])(&args).unwrap();
            let mut gc = grad(plain, &[0, 1, 2])(&args).unwrap();
            // the rotation (with the norm) instead of silu_mul and the addend
            let roped = |a: &[Array]| QmmFusion {
                rms_norm: Some((a[1].clone(), 1e-5)),
                rope: Some(QmmRope::new(8, 3, 8, 10000.0, 1.0, 3)),
                ..QmmFusion::default()
            };
            let coef2 = ops::concatenate(&[coef.clone(), coef.clone()], 1).unwrap();
            let fused = |a: &[Array]| -> mlx_arm::Result<Array> {
                let y = ops::quantized_matmul_fused(&a[0], &wq, &s, &b, true, 32, 4, roped(a))?;
                ops::sum(ops::multiply(y, &coef2)?, false)
            };
            let plain = |a: &[Array]| -> mlx_arm::Result<Array> {
                let y = composed(&a[0], (&wq, &s, &b), 4, &roped(a))?;
                ops::sum(ops::multiply(y, &coef2)?, false)
            };
            gf.extend(grad(fused, &[0, 1])(&args[..2]).unwrap());
            gc.extend(grad(plain, &[0, 1])(&args[..2]).unwrap());
            for i in 0..5 {
                let (a, e) = (gf[i].to_f64_vec().unwrap(), gc[i].to_f64_vec().unwrap());
                assert_eq!(a.len(), e.len());
                assert!(
                    e.iter().any(|v| *v != 0.0),
                    "grad {i} on {device:?} is zero"
                );
                for (j, (a, e)) in a.iter().zip(&e).enumerate() {
                    assert!(
                        (a - e).abs() <= 1e-5 * (1.0 + e.abs()),
                        "grad {i}[{j}] on {device:?}: {a} vs {e}"
                    );
                }
            }
        });
    }
}

#[test]
fn fused_quantized_matmul_rejects_bad_arguments() {
    let _split = split_lock();
    let w = Array::from_slice(&vec![0.5f32; 3 * 64], &[3, 64]);
    let (wq, s, b) = ops::quantize(&w, 32, 4).unwrap();
    let x = Array::from_slice(&vec![1.0f32; 64], &[1, 64]);
    let fuse = |f: QmmFusion| ops::quantized_matmul_fused(&x, &wq, &s, &b, true, 32, 4, f);
    // three outputs cannot be split into gate and up halves
    let odd = QmmFusion {
        silu_mul: true,
        ..QmmFusion::default()
    };
    assert!(matches!(fuse(odd), Err(Error::Shape { .. })));
    // the norm weight must be [K]
    let short = Array::from_slice(&vec![1.0f32; 32], &[32]);
    let f = QmmFusion {
        rms_norm: Some((short, 1e-5)),
        ..QmmFusion::default()
    };
    assert!(matches!(fuse(f), Err(Error::Shape { .. })));
    let ints = Array::from_slice(&vec![1i32; 64], &[64]);
    let f = QmmFusion {
        rms_norm: Some((ints, 1e-5)),
        ..QmmFusion::default()
    };
    assert!(matches!(fuse(f), Err(Error::Dtype { .. })));
    // heads past the product's outputs, odd dims, rope with silu_mul
    let w6 = Array::from_slice(&vec![0.5f32; 16 * 64], &[16, 64]);
    let (wq, s, b) = ops::quantize(&w6, 32, 4).unwrap();
    let rope = |r: QmmRope, glu: bool| {
        let f = QmmFusion {
            rope: Some(r),
            silu_mul: glu,
            ..QmmFusion::default()
        };
        ops::quantized_matmul_fused(&x, &wq, &s, &b, true, 32, 4, f)
    };
    assert!(rope(QmmRope::new(8, 2, 8, 1e4, 1.0, 0), false).is_ok());
    for (r, glu) in [
        (QmmRope::new(8, 3, 8, 1e4, 1.0, 0), false),
        (QmmRope::new(6, 1, 6, 1e4, 1.0, 0), false),
        (QmmRope::new(8, 2, 5, 1e4, 1.0, 0), false),
        (QmmRope::new(8, 2, 8, 1e4, 1.0, 0), true),
    ] {
        assert!(
            matches!(rope(r, glu), Err(Error::Argument { .. })),
            "{r:?} glu {glu}"
        );
    }
}

/// The fused GPU mat-vec under every work split the autotuner may pick (rows per workgroup 2 to
/// 16 x unroll 1/2/4 x chunks per lane 1/2), with the norm, GLU, rope and residual add in it.
#[test]
#[cfg(feature = "gpu")]
fn fused_matvec_under_every_tuner_split_equals_the_composed_ops() {
    use mlx_arm_wgpu::kernels::quantized::{qmv_tuning, set_qmv_tuning, QmvTuning};
    let _split = split_lock();
    let Some(gpu) = devices().into_iter().find(|d| *d != Device::cpu()) else {
        return;
    };
    let mut rng = Rng::new(61);
    let default = qmv_tuning();
    with_default_device(gpu, || {
        let (k, n, hd) = (320usize, 48usize, 8usize);
        let w = Array::from_slice(&random(&mut rng, n * k, -1.0, 1.0), &[n as i32, k as i32]);
        let (wq, s, b) = ops::quantize(&w, 32, 4).unwrap();
        let x = view(&mut rng, &[1, k], 4 * k, Dtype::Float32, -2.0, 2.0);
        let g = view(&mut rng, &[k], 4, Dtype::Float32, 0.5, 1.5);
        let fusions = [
            QmmFusion {
                rms_norm: Some((g.clone(), 1e-5)),
                silu_mul: true,
                rope: None,
                addend: Some(view(&mut rng, &[1, n / 2], 5, Dtype::Float32, -1.0, 1.0)),
            },
            QmmFusion {
                rms_norm: Some((g.clone(), 1e-5)),
                rope: Some(QmmRope::new(hd, 4, hd, 10000.0, 1.0, 7)),
                ..QmmFusion::default()
            },
            QmmFusion {
                addend: Some(view(&mut rng, &[1, n], 3, Dtype::Float32, -1.0, 1.0)),
                ..QmmFusion::default()
            },
        ];
        for rpw in [2, 4, 8, 16] {
            for unroll in [1, 2, 4] {
                for cpl in [1, 2] {
                    let t = QmvTuning {
                        rows_per_workgroup: rpw,
                        rows_per_workgroup_large: rpw,
                        unroll,
                        chunks_per_lane: cpl,
                        ..default
                    };
                    set_qmv_tuning(t).unwrap();
                    for f in &fusions {
                        let what = format!(
                            "{t:?} norm {} glu {} rope {} add {}",
                            f.rms_norm.is_some(),
                            f.silu_mul,
                            f.rope.is_some(),
                            f.addend.is_some()
                        );
                        let want = composed(&x, (&wq, &s, &b), 4, f).unwrap();
                        let got =
                            ops::quantized_matmul_fused(&x, &wq, &s, &b, true, 32, 4, f.clone())
                                .unwrap();
                        let (got, want) = (got.to_f64_vec().unwrap(), want.to_f64_vec().unwrap());
                        assert_matches_composed((&got, &want), true, Dtype::Float32, gpu, &what);
                    }
                }
            }
        }
    });
    set_qmv_tuning(default).unwrap();
}
