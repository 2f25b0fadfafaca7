//! Scales and biases given as the two halves of one `[N, G, 2]` f16 array (strided views, as
//! the LLM loader holds them on a GPU so the mat-vec reads a group's scale and bias with one
//! load) give exactly what two separate arrays give: mat-vec (1 to 4 rows of x, with the fused
//! norm and gate/up work), tiled products (both transposes) and `dequantize`, f16 and f32 x,
//! views of the halves starting past the first row, on every device. Rows taken from such
//! views (an embedding lookup) are read where they lie, without widening the source.

mod common;

use common::{devices, Rng};
use mlx_arm::ops::{self, QmmFusion};
use mlx_arm::{memory, with_default_device, Array, Device, Dtype};

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

/// `take` of rows from packed 16-bit arrays on the device (the halves of a paired array, and
/// plain f16 / bf16 arrays moved with `to_device`) gives the CPU's values, and the source stays
/// packed: taking rows again adds no widened copy of it.
#[test]
fn rows_of_packed_arrays_are_read_in_place() {
    let mut rng = Rng::new(67);
    let (n, g) = (2000usize, 64usize);
    for device in devices() {
        with_default_device(device, || {
            for dt in [Dtype::Float16, Dtype::Bfloat16] {
                let mut host = |seed_shift: usize| {
                    let v = random(&mut rng, n * g + seed_shift);
                    ops::astype(
                        Array::from_slice(&v[seed_shift..], &[n as i32, g as i32]),
                        dt,
                    )
                    .unwrap()
                };
                let (s, b) = (host(0), host(1));
                mlx_arm::transforms::eval(&[&s, &b]).unwrap();
                let ids = Array::from_slice(&[5i32, 0, 1999, -1, 17], &[5]);
                let want = |a: &Array| {
                    with_default_device(Device::cpu(), || ops::take(a, &ids, Some(0)))
                        .unwrap()
                        .to_f64_vec()
                        .unwrap()
                };
                let (ws, wb) = (want(&s), want(&b));
                let moved = s.to_device(device).unwrap();
                let (sp, bp) = if dt == Dtype::Float16 {
                    paired(&s, &b, device)
                } else {
                    (moved.clone(), b.to_device(device).unwrap())
                };
                let before = memory::get_active_memory();
                for (src, w) in [(&moved, &ws), (&sp, &ws), (&bp, &wb)] {
                    let got = ops::take(src, &ids, Some(0)).unwrap();
                    assert_eq!(got.shape(), [5, g]);
                    assert_eq!(&got.to_f64_vec().unwrap(), w, "{dt} on {device:?}");
                }
                // no source was widened by the lookups (2 more bytes per value, 256 KB; the
                // results are freed)
                let grown = memory::get_active_memory().saturating_sub(before);
                assert!(grown < n * g, "{dt}: {grown} bytes more on {device:?}");
            }
        });
    }
}
