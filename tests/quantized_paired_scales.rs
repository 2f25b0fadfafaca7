//! Scales and biases given as the two halves of one `[N, G, 2]` f16 array (strided views, as
//! the LLM loader holds them on a GPU so the mat-vec reads a group's scale and bias with one
//! load) give exactly what two separate arrays give: mat-vec (1 to 4 rows of x, with the fused
//! norm and gate/up work), tiled products (both transposes) and `dequantize`, f16 and f32 x,
//! views of the halves starting past the first row, on every device.

mod common;

use common::{devices, Rng};
use mlx_arm::ops::{self, QmmFusion};
use mlx_arm::{with_default_device, Array, Device, Dtype};

fn random(rng: &mut Rng, n: usize) -> Vec<f32> {
    (0..n).map(|_| rng.range(-1.0, 1.0) as f32).collect()
}

/// `scales` and `biases` `[N, G]` as the halves of one `[N, G, 2]` array moved to `device`.
fn paired(scales: &Array, biases: &Array, device: Device) -> (Array, Array) {
    let both = with_default_device(Device::cpu(), || {
        ops::stack(&[scales.clone(), biases.clone()], 2)
    })
    .unwrap()
    .to_device(device)
    .unwrap();
    let (n, g) = (scales.shape()[0] as i32, scales.shape()[1] as i64);
    let half = |first| ops::as_strided(&both, &[n, g as i32], &[2 * g, 2], first).unwrap();
    (half(0), half(1))
}

#[test]
fn paired_scales_give_what_separate_ones_give() {
    let mut rng = Rng::new(61);
    for device in devices() {
        with_default_device(device, || {
            for &(rows, k, n, bits, gs) in &[
                (1usize, 256usize, 40usize, 4, 32),
                (2, 128, 24, 8, 64),
                (3, 96, 20, 3, 32),
                (4, 128, 16, 2, 128),
                (9, 96, 70, 4, 32),
            ] {
                let w =
                    Array::from_slice(&random(&mut rng, (n + 1) * k), &[n as i32 + 1, k as i32]);
                let w = ops::astype(w, Dtype::Float16).unwrap();
                let (wq, s, b) =
                    with_default_device(Device::cpu(), || ops::quantize(&w, gs, bits)).unwrap();
                mlx_arm::transforms::eval(&[&wq, &s, &b]).unwrap();
                let (sp, bp) = paired(&s, &b, device);
                let (s, b) = (s.to_device(device).unwrap(), b.to_device(device).unwrap());
                // rows 1.. of every operand (the pair views then start at an offset)
                let tail = |a: &Array| {
                    let c = a.shape()[1] as i32;
                    ops::slice(a, &[1, 0], &[n as i32 + 1, c], &[1, 1]).unwrap()
                };
                let (wq, s, b, sp, bp) = (tail(&wq), tail(&s), tail(&b), tail(&sp), tail(&bp));
                for dt in [Dtype::Float16, Dtype::Float32] {
                    let what = format!("{rows}x{k}x{n} bits {bits} gs {gs} x {dt} on {device:?}");
                    let xv = random(&mut rng, rows * k);
                    let x =
                        ops::astype(Array::from_slice(&xv, &[rows as i32, k as i32]), dt).unwrap();
                    let run = |s: &Array, b: &Array, f: QmmFusion| {
                        ops::quantized_matmul_fused(&x, &wq, s, b, true, gs, bits, f)
                            .unwrap()
                            .to_f64_vec()
                            .unwrap()
                    };
                    let g = ops::astype(Array::from_slice(&random(&mut rng, k), &[k as i32]), dt)
                        .unwrap();
                    for f in [
                        QmmFusion::default(),
                        QmmFusion {
                            rms_norm: Some((g, 1e-5)),
                            silu_mul: n % 2 == 0,
                            ..QmmFusion::default()
                        },
                    ] {
                        assert_eq!(run(&sp, &bp, f.clone()), run(&s, &b, f), "{what}");
                    }
                    // x @ dequantize(w) (not transposed): the tiled kernel over w [K', N']
                    let xt = ops::astype(
                        Array::from_slice(&random(&mut rng, rows * n), &[rows as i32, n as i32]),
                        dt,
                    )
                    .unwrap();
                    let plain = |s: &Array, b: &Array| {
                        ops::quantized_matmul(&xt, &wq, s, b, false, gs, bits)
                            .unwrap()
                            .to_f64_vec()
                            .unwrap()
                    };
                    assert_eq!(plain(&sp, &bp), plain(&s, &b), "not transposed, {what}");
                }
                let deq = |s: &Array, b: &Array| {
                    ops::dequantize(&wq, s, b, gs, bits)
                        .unwrap()
                        .to_f64_vec()
                        .unwrap()
                };
                assert_eq!(
                    deq(&sp, &bp),
                    deq(&s, &b),
                    "dequantize {rows}x{k}x{n} on {device:?}"
                );
            }
        });
    }
}
