//! `quantized_matmul_fused` (an MLX-ARM extension) against the composed ops it stands for,
//! `rms_norm(x, g) → quantized_matmul → silu(gate) · up → + addend`, on both backends: decode
//! shapes (the GPU mat-vec does the norm, the gate/up combination and the add inside its kernel)
//! and prefill shapes (separate kernels), 2/3/4/8 bits, f32 and f16, x, norm weight and addend
//! given as views with offsets; gradients equal the composed ones; bad arguments are typed
//! errors.

mod common;

use common::{devices, Rng};
use mlx_arm::fast;
use mlx_arm::ops::{self, QmmFusion};
use mlx_arm::transforms::grad;
use mlx_arm::{with_default_device, Array, Dtype, Error};

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
    if f.silu_mul {
        let h = ops::split(&y, 2, -1)?;
        y = ops::silu_mul(&h[0], &h[1])?;
    }
    match &f.addend {
        Some(a) => ops::add(y, a),
        None => Ok(y),
    }
}

#[test]
fn fused_quantized_matmul_equals_the_composed_ops() {
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
                        if !norm {
                            // the same sums in the same order: exactly the composed result
                            assert_eq!(got, want, "{what}");
                            continue;
                        }
                        // the norm folded into the product rounds differently (and f16 x is
                        // not rounded after normalising): close, relative to the output's size
                        let scale = want.iter().fold(1.0f64, |m, v| m.max(v.abs()));
                        let tol = if dt == Dtype::Float16 { 8e-3 } else { 2e-5 } * scale;
                        for (i, (a, e)) in got.iter().zip(&want).enumerate() {
                            assert!((a - e).abs() <= tol, "{what}: [{i}] {a} vs {e} (tol {tol})");
                        }
                    }
                }
            }
        });
    }
}

#[test]
fn fused_quantized_matmul_gradients_are_the_composed_ones() {
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
            let gf = grad(fused, &[0, 1, 2])(&args).unwrap();
            let gc = grad(plain, &[0, 1, 2])(&args).unwrap();
            for i in 0..3 {
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
}
