//! `fast` ops (rms_norm, layer_norm, rope, scaled_dot_product_attention) on both backends against
//! f64 references written out loop by loop here, with odd shapes, traditional and half-split
//! RoPE, offsets, explicit frequencies, GQA/MQA, causal/boolean/additive masks, half types, and
//! gradients against finite differences of the reference; bad arguments give typed errors.

mod common;

use common::{devices, Rng};
use mlx_arm::fast::{self, SdpaMask};
use mlx_arm::{ops, transforms, with_default_device, Array, Dtype, Error};

fn rand(rng: &mut Rng, n: usize) -> Vec<f64> {
    (0..n).map(|_| rng.range(-1.5, 1.5)).collect()
}

fn arr(v: &[f64], shape: &[usize], dt: Dtype) -> Array {
    common::array(v, shape, dt)
}

fn rms_ref(x: &[f64], w: &[f64], d: usize, eps: f64) -> Vec<f64> {
    x.chunks(d)
        .flat_map(|r| {
            let ms = r.iter().map(|v| v * v).sum::<f64>() / d as f64;
            let inv = 1.0 / (ms + eps).sqrt();
            r.iter()
                .zip(w)
                .map(move |(v, w)| v * inv * w)
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn norms_match_reference() {
    let mut rng = Rng::new(1);
    for device in devices() {
        with_default_device(device, || {
            for (shape, dt) in [
                (vec![3usize, 5, 67], Dtype::Float32),
                (vec![4, 128], Dtype::Float16),
                (vec![2, 576], Dtype::Bfloat16),
                (vec![2, 2348], Dtype::Float32),
                (vec![1, 4096], Dtype::Float16),
                // rows past 4096 values take the GPU kernel's looping path
                (vec![2, 5000], Dtype::Float32),
            ] {
                let d = shape[shape.len() - 1];
                let n: usize = shape.iter().product();
                let x = common::stored(&rand(&mut rng, n), dt);
                let w = common::stored(&rand(&mut rng, d), dt);
                let b = common::stored(&rand(&mut rng, d), dt);
                let (xa, wa, ba) = (arr(&x, &shape, dt), arr(&w, &[d], dt), arr(&b, &[d], dt));
                let tol = common::tolerance(dt);
                let got = fast::rms_norm(&xa, Some(&wa), 1e-5).unwrap();
                common::check(
                    &format!("rms_norm {shape:?} {dt} {device:?}"),
                    &got,
                    &rms_ref(&x, &w, d, 1e-5),
                    &shape,
                    dt,
                    (tol.0 * 4.0, tol.1 * 4.0),
                );
                let want: Vec<f64> = x
                    .chunks(d)
                    .flat_map(|r| {
                        let mu = r.iter().sum::<f64>() / d as f64;
                        let var = r.iter().map(|v| (v - mu).powi(2)).sum::<f64>() / d as f64;
                        let inv = 1.0 / (var + 1e-5).sqrt();
                        r.iter()
                            .enumerate()
                            .map(|(i, v)| (v - mu) * inv * w[i] + b[i])
                            .collect::<Vec<_>>()
                    })
                    .collect();
                let got = fast::layer_norm(&xa, Some(&wa), Some(&ba), 1e-5).unwrap();
                common::check(
                    &format!("layer_norm {shape:?} {dt} {device:?}"),
                    &got,
                    &want,
                    &shape,
                    dt,
                    (tol.0 * 4.0, tol.1 * 8.0),
                );
            }
        });
    }
}

/// RoPE reference over x `[rows, L, D]`.
fn rope_ref(
    x: &[f64],
    l: usize,
    d: usize,
    dims: usize,
    traditional: bool,
    inv_freq: &[f64],
    scale: f64,
    offset: usize,
) -> Vec<f64> {
    let mut out = x.to_vec();
    for (r, row) in out.chunks_mut(l * d).enumerate() {
        for p in 0..l {
            let pos = (offset + p) as f64 * scale;
            for i in 0..dims / 2 {
                let t = pos * inv_freq[i];
                let (a, b) = if traditional {
                    (2 * i, 2 * i + 1)
                } else {
                    (i, i + dims / 2)
                };
                let base = r * l * d + p * d;
                let (x1, x2) = (x[base + a], x[base + b]);
                row[p * d + a] = x1 * t.cos() - x2 * t.sin();
                row[p * d + b] = x1 * t.sin() + x2 * t.cos();
            }
        }
    }
    out
}

#[test]
fn rope_matches_reference() {
    let mut rng = Rng::new(2);
    for device in devices() {
        with_default_device(device, || {
            for &(traditional, dims, d, offset, dt) in &[
                (true, 64usize, 64usize, 0usize, Dtype::Float32),
                (false, 64, 64, 7, Dtype::Float32),
                (false, 32, 48, 3, Dtype::Float16),
                (true, 16, 20, 100, Dtype::Bfloat16),
            ] {
                let (rows, l) = (3usize, 5usize);
                let x = common::stored(&rand(&mut rng, rows * l * d), dt);
                let xa = arr(&x, &[rows, l, d], dt);
                let base = 10000.0f64;
                let inv: Vec<f64> = (0..dims / 2)
                    .map(|i| base.powf(-(2.0 * i as f64) / dims as f64))
                    .collect();
                let got = fast::rope(
                    &xa,
                    dims as i32,
                    traditional,
                    Some(base as f32),
                    1.0,
                    offset as i32,
                    None,
                )
                .unwrap();
                let want = rope_ref(&x, l, d, dims, traditional, &inv, 1.0, offset);
                let tol = common::tolerance(dt);
                let tol = if dt == Dtype::Float32 {
                    (1e-4, 1e-4)
                } else {
                    (tol.0 * 2.0, tol.1 * 2.0)
                };
                common::check(
                    &format!("rope trad={traditional} dims={dims} {dt} {device:?}"),
                    &got,
                    &want,
                    &[rows, l, d],
                    dt,
                    tol,
                );
                // explicit frequencies and a position scale
                let freqs: Vec<f64> = (0..dims / 2).map(|i| 1.0 + i as f64 * 0.5).collect();
                let fa = arr(&freqs, &[dims / 2], Dtype::Float32);
                let got = fast::rope(
                    &xa,
                    dims as i32,
                    traditional,
                    None,
                    0.5,
                    offset as i32,
                    Some(&fa),
                )
                .unwrap();
                let inv: Vec<f64> = freqs.iter().map(|f| 1.0 / f).collect();
                let want = rope_ref(&x, l, d, dims, traditional, &inv, 0.5, offset);
                common::check(
                    &format!("rope freqs trad={traditional} {dt} {device:?}"),
                    &got,
                    &want,
                    &[rows, l, d],
                    dt,
                    tol,
                );
            }
        });
    }
}

#[test]
fn fused_ops_on_strided_views_offsets_and_partial_dims() {
    let mut rng = Rng::new(5);
    for device in devices() {
        with_default_device(device, || {
            for dt in [Dtype::Float32, Dtype::Float16] {
                let tol = common::tolerance(dt);
                let tol = if dt == Dtype::Float32 {
                    (1e-4, 1e-4)
                } else {
                    (tol.0 * 4.0, tol.1 * 4.0)
                };
                // rms_norm over a transposed view: stored [D, R], normalised as [R, D]
                let (r, d) = (6usize, 40usize);
                let stored = common::stored(&rand(&mut rng, d * r), dt);
                let xt = ops::transpose(arr(&stored, &[d, r], dt), None).unwrap();
                let x: Vec<f64> = (0..r * d).map(|k| stored[(k % d) * r + k / d]).collect();
                let w = common::stored(&rand(&mut rng, d), dt);
                let got = fast::rms_norm(&xt, Some(&arr(&w, &[d], dt)), 1e-5).unwrap();
                common::check(
                    &format!("rms_norm transposed {dt} {device:?}"),
                    &got,
                    &rms_ref(&x, &w, d, 1e-5),
                    &[r, d],
                    dt,
                    tol,
                );
                let got = fast::rms_norm(&xt, None, 1e-5).unwrap();
                common::check(
                    &format!("rms_norm transposed no weight {dt} {device:?}"),
                    &got,
                    &rms_ref(&x, &vec![1.0; d], d, 1e-5),
                    &[r, d],
                    dt,
                    tol,
                );
                // rope over a [L, H, D] buffer seen as [H, L, D] (as attention does), offset > 0,
                // L > 1, dims < D, both pairings
                let (l, h, d) = (7usize, 3usize, 24usize);
                let stored = common::stored(&rand(&mut rng, l * h * d), dt);
                let xv = ops::swapaxes(arr(&stored, &[l, h, d], dt), 0, 1).unwrap();
                let x: Vec<f64> = (0..h * l * d)
                    .map(|k| {
                        let (hi, li, j) = (k / (l * d), (k / d) % l, k % d);
                        stored[(li * h + hi) * d + j]
                    })
                    .collect();
                for traditional in [false, true] {
                    let (dims, offset, base) = (16usize, 11usize, 500.0f64);
                    let inv: Vec<f64> = (0..dims / 2)
                        .map(|i| base.powf(-(2.0 * i as f64) / dims as f64))
                        .collect();
                    let got = fast::rope(
                        &xv,
                        dims as i32,
                        traditional,
                        Some(base as f32),
                        0.75,
                        offset as i32,
                        None,
                    )
                    .unwrap();
                    let want = rope_ref(&x, l, d, dims, traditional, &inv, 0.75, offset);
                    common::check(
                        &format!("rope strided trad={traditional} {dt} {device:?}"),
                        &got,
                        &want,
                        &[h, l, d],
                        dt,
                        tol,
                    );
                }
            }
        });
    }
}

/// Attention reference: q `[b, hq, lq, d]`, k/v `[b, hk, lk, d]`, mask as additive f64
/// `[lq, lk]` (NEG_INFINITY = masked).
#[allow(clippy::too_many_arguments)]
fn sdpa_ref(
    q: &[f64],
    k: &[f64],
    v: &[f64],
    b: usize,
    hq: usize,
    hk: usize,
    lq: usize,
    lk: usize,
    d: usize,
    scale: f64,
    mask: &dyn Fn(usize, usize, usize, usize) -> f64,
) -> Vec<f64> {
    let mut out = vec![0.0; b * hq * lq * d];
    for bi in 0..b {
        for h in 0..hq {
            let kh = h / (hq / hk);
            for i in 0..lq {
                let s: Vec<f64> = (0..lk)
                    .map(|j| {
                        let dot: f64 = (0..d)
                            .map(|t| {
                                q[((bi * hq + h) * lq + i) * d + t]
                                    * k[((bi * hk + kh) * lk + j) * d + t]
                            })
                            .sum();
                        dot * scale + mask(bi, h, i, j)
                    })
                    .collect();
                let m = s.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                let e: Vec<f64> = s.iter().map(|x| (x - m).exp()).collect();
                let z: f64 = e.iter().sum();
                for t in 0..d {
                    out[((bi * hq + h) * lq + i) * d + t] = (0..lk)
                        .map(|j| e[j] / z * v[((bi * hk + kh) * lk + j) * d + t])
                        .sum();
                }
            }
        }
    }
    out
}

#[test]
fn attention_matches_reference() {
    let mut rng = Rng::new(3);
    for device in devices() {
        with_default_device(device, || {
            for &(b, hq, hk, lq, lk, d, dt) in &[
                (
                    1usize,
                    4usize,
                    4usize,
                    5usize,
                    5usize,
                    64usize,
                    Dtype::Float32,
                ),
                (2, 9, 3, 1, 13, 64, Dtype::Float32),
                (1, 8, 1, 6, 9, 128, Dtype::Float16),
                (1, 6, 2, 4, 4, 80, Dtype::Bfloat16),
                // several 128-key blocks of the GPU kernel's online softmax, the widest head
                (1, 4, 2, 3, 300, 256, Dtype::Float32),
                (2, 2, 2, 7, 150, 32, Dtype::Float32),
                (1, 3, 1, 2, 129, 96, Dtype::Float16),
                // more queries than the decode kernel takes: the composed path, or on tensor-core
                // GPUs the flash kernel (64-row blocks, ragged; keys past the queries; GQA)
                (1, 2, 1, 12, 20, 32, Dtype::Float32),
                (1, 4, 2, 100, 100, 64, Dtype::Float32),
                (1, 2, 2, 70, 150, 128, Dtype::Float32),
                (2, 3, 1, 65, 65, 16, Dtype::Float16),
                (1, 2, 1, 130, 200, 80, Dtype::Float32),
            ] {
                let q = common::stored(&rand(&mut rng, b * hq * lq * d), dt);
                let k = common::stored(&rand(&mut rng, b * hk * lk * d), dt);
                let v = common::stored(&rand(&mut rng, b * hk * lk * d), dt);
                let (qa, ka, va) = (
                    arr(&q, &[b, hq, lq, d], dt),
                    arr(&k, &[b, hk, lk, d], dt),
                    arr(&v, &[b, hk, lk, d], dt),
                );
                let scale = 1.0 / (d as f64).sqrt();
                let tol = common::tolerance(dt);
                let tol = if dt == Dtype::Float32 {
                    (1e-4, 1e-4)
                } else {
                    (tol.0 * 4.0, tol.1 * 4.0)
                };
                let shape = [b, hq, lq, d];
                let what = format!("sdpa b{b} hq{hq} hk{hk} lq{lq} lk{lk} d{d} {dt} {device:?}");
                // the flash kernel rounds q, k, v and the probabilities to f16: its reference
                // rounds the inputs likewise, its tolerance covers the probabilities
                let flash = lq > 8 && common::attention_in_f16(device, d);
                let (fq, fk, fv, ftol) = match flash {
                    true => (
                        common::round_f16(&q),
                        common::round_f16(&k),
                        common::round_f16(&v),
                        (tol.0.max(4e-3), tol.1.max(4e-3)),
                    ),
                    false => (q.clone(), k.clone(), v.clone(), tol),
                };
                let got =
                    fast::scaled_dot_product_attention(&qa, &ka, &va, scale as f32, None).unwrap();
                common::check(
                    &format!("{what} no mask"),
                    &got,
                    &sdpa_ref(&fq, &fk, &fv, b, hq, hk, lq, lk, d, scale, &|_, _, _, _| {
                        0.0
                    }),
                    &shape,
                    dt,
                    ftol,
                );
                let causal = |_: usize, _: usize, i: usize, j: usize| {
                    if j <= i + (lk - lq) {
                        0.0
                    } else {
                        f64::NEG_INFINITY
                    }
                };
                let got = fast::scaled_dot_product_attention(
                    &qa,
                    &ka,
                    &va,
                    scale as f32,
                    Some(SdpaMask::Causal),
                )
                .unwrap();
                common::check(
                    &format!("{what} causal"),
                    &got,
                    &sdpa_ref(&fq, &fk, &fv, b, hq, hk, lq, lk, d, scale, &causal),
                    &shape,
                    dt,
                    ftol,
                );
                // boolean mask [lq, lk] broadcast over batch and heads (every row keeps key 0)
                let keep: Vec<bool> = (0..lq * lk)
                    .map(|i| i % lk == 0 || (i * 7) % 3 != 0)
                    .collect();
                let ma = Array::from_bools(&keep, &[lq as i32, lk as i32]).unwrap();
                let got = fast::scaled_dot_product_attention(
                    &qa,
                    &ka,
                    &va,
                    scale as f32,
                    Some(SdpaMask::Array(&ma)),
                )
                .unwrap();
                let bm = |_: usize, _: usize, i: usize, j: usize| {
                    if keep[i * lk + j] {
                        0.0
                    } else {
                        f64::NEG_INFINITY
                    }
                };
                common::check(
                    &format!("{what} bool mask"),
                    &got,
                    &sdpa_ref(&q, &k, &v, b, hq, hk, lq, lk, d, scale, &bm),
                    &shape,
                    dt,
                    tol,
                );
                // additive mask per head [1, hq, lq, lk]
                let add = rand(&mut rng, hq * lq * lk);
                let aa = arr(&add, &[1, hq, lq, lk], Dtype::Float32);
                let got = fast::scaled_dot_product_attention(
                    &qa,
                    &ka,
                    &va,
                    scale as f32,
                    Some(SdpaMask::Array(&aa)),
                )
                .unwrap();
                let am = |_: usize, h: usize, i: usize, j: usize| add[(h * lq + i) * lk + j];
                common::check(
                    &format!("{what} additive mask"),
                    &got,
                    &sdpa_ref(&q, &k, &v, b, hq, hk, lq, lk, d, scale, &am),
                    &shape,
                    dt,
                    tol,
                );
            }
        });
    }
}

/// The fused attention on views laid out as a model makes them (`[B, L, H, D]` swapped to
/// `[B, H, L, D]`, keys sliced out of a longer cache) equals it on dense copies; causal rows
/// that see no key (more queries than keys) are NaN, as the composed softmax gives.
#[test]
fn fused_attention_on_views_and_empty_rows() {
    let mut rng = Rng::new(11);
    for device in devices() {
        with_default_device(device, || {
            // two batches, 4 query heads over 2 kv heads; keys a window of a longer cache (rows
            // dense, batch and head strides not: read in place), values every other position
            // 6 queries (the decode kernel) and 70 (the composed ops, or the flash kernel)
            for l in [6usize, 70] {
                let (b, h, hk, d) = (2usize, 4usize, 2usize, 64usize);
                let q = arr(
                    &rand(&mut rng, b * l * h * d),
                    &[b, l, h, d],
                    Dtype::Float32,
                );
                let kv = arr(
                    &rand(&mut rng, b * hk * 2 * l * d),
                    &[b, hk, 2 * l, d],
                    Dtype::Float32,
                );
                let qv = ops::swapaxes(&q, 1, 2).unwrap();
                let (bi, hki) = (b as i32, hk as i32);
                let kview = ops::slice(
                    &kv,
                    &[0, 0, 3, 0],
                    &[bi, hki, 3 + l as i32, d as i32],
                    &[1, 1, 1, 1],
                )
                .unwrap();
                let vview = ops::slice(
                    &kv,
                    &[0, 0, 0, 0],
                    &[bi, hki, 2 * l as i32, d as i32],
                    &[1, 1, 2, 1],
                )
                .unwrap();
                for mask in [None, Some(SdpaMask::Causal)] {
                    let got = fast::scaled_dot_product_attention(&qv, &kview, &vview, 0.125, mask)
                        .unwrap();
                    if l <= 8 || common::attention_in_f16(device, d) {
                        assert_eq!(
                            got.primitive().map(|p| p.name()),
                            Some("scaled_dot_product_attention"),
                            "the fused node"
                        );
                    }
                    let dense = |a: &Array| ops::contiguous(a).unwrap();
                    let want = fast::scaled_dot_product_attention(
                        dense(&qv),
                        dense(&kview),
                        dense(&vview),
                        0.125,
                        mask,
                    )
                    .unwrap();
                    assert_eq!(
                        got.to_vec::<f32>().unwrap(),
                        want.to_vec::<f32>().unwrap(),
                        "{device:?} {mask:?}"
                    );
                    // q at an offset that is not a multiple of 4 elements (no vector loads)
                    let n = b * h * l * d;
                    let flat = arr(&rand(&mut rng, n + 1), &[n + 1], Dtype::Float32);
                    let shape = [b as i32, h as i32, l as i32, d as i32];
                    let q1 = ops::reshape(
                        ops::slice(&flat, &[1], &[n as i32 + 1], &[1]).unwrap(),
                        &shape,
                    )
                    .unwrap();
                    let got = fast::scaled_dot_product_attention(&q1, &kview, &vview, 0.125, mask)
                        .unwrap();
                    let want =
                        fast::scaled_dot_product_attention(dense(&q1), &kview, &vview, 0.125, mask)
                            .unwrap();
                    assert_eq!(
                        got.to_vec::<f32>().unwrap(),
                        want.to_vec::<f32>().unwrap(),
                        "{device:?} {mask:?} q at offset 1"
                    );
                }
                let few =
                    ops::slice(&kv, &[0, 0, 0, 0], &[bi, hki, 4, d as i32], &[1, 1, 1, 1]).unwrap();
                let out = fast::scaled_dot_product_attention(
                    &qv,
                    &few,
                    &few,
                    0.125,
                    Some(SdpaMask::Causal),
                )
                .unwrap()
                .to_vec::<f32>()
                .unwrap();
                for (r, row) in out.chunks(d).enumerate() {
                    let sees = (r % l + 4 + 1).saturating_sub(l);
                    assert_eq!(
                        row.iter().all(|x| x.is_nan()),
                        sees == 0,
                        "{device:?} row {r}"
                    );
                    assert!(
                        sees == 0 || row.iter().all(|x| x.is_finite()),
                        "{device:?} row {r}"
                    );
                }
            }
        });
    }
}

#[test]
fn gradients_match_finite_differences() {
    let mut rng = Rng::new(4);
    let x = rand(&mut rng, 2 * 3 * 8);
    let w = rand(&mut rng, 8);
    let c = rand(&mut rng, 2 * 3 * 8);
    for device in devices() {
        with_default_device(device, || {
            let (xa, wa, ca) = (
                arr(&x, &[2, 3, 8], Dtype::Float32),
                arr(&w, &[8], Dtype::Float32),
                arr(&c, &[2, 3, 8], Dtype::Float32),
            );
            type F = fn(&Array, &Array) -> mlx_arm::Result<Array>;
            let fs: [(&str, F); 6] = [
                ("rms_norm", |x, w| fast::rms_norm(x, Some(w), 1e-5)),
                ("rms_norm no weight", |x, _| fast::rms_norm(x, None, 1e-5)),
                ("rms_norm weight grad", |x, w| {
                    // a broadcast input, the weight taken from the differentiated array
                    let wx =
                        ops::reshape(ops::slice(x, &[0, 0, 0], &[1, 1, 8], &[1, 1, 1])?, &[8])?;
                    fast::rms_norm(ops::broadcast_to(w, &[2, 3, 8])?, Some(&wx), 1e-5)
                }),
                ("rope", |x, _| {
                    fast::rope(x, 8, false, Some(10000.0), 1.0, 2, None)
                }),
                ("rope traditional freqs", |x, _| {
                    let f = Array::from_slice(&[1.0f32, 3.0], &[2]);
                    fast::rope(x, 4, true, None, 0.5, 3, Some(&f))
                }),
                ("sdpa", |x, _| {
                    let q = ops::reshape(x, &[1, 2, 3, 8])?;
                    fast::scaled_dot_product_attention(&q, &q, &q, 0.35, Some(SdpaMask::Causal))
                }),
            ];
            for (name, f) in fs {
                let loss = |a: &[Array]| {
                    ops::sum(
                        ops::multiply(ops::reshape(f(&a[0], &wa)?, &[2, 3, 8])?, &ca)?,
                        false,
                    )
                };
                let g = transforms::grad(loss, &[0])(&[xa.clone()]).unwrap()[0]
                    .to_f64_vec()
                    .unwrap();
                let eval = |xs: &[f64]| -> f64 {
                    let a = arr(xs, &[2, 3, 8], Dtype::Float64);
                    let a = ops::astype(&a, Dtype::Float32).unwrap();
                    loss(&[a]).unwrap().item::<f32>().unwrap() as f64
                };
                for i in (0..x.len()).step_by(5) {
                    let h = 1e-2;
                    let (mut xp, mut xm) = (x.clone(), x.clone());
                    xp[i] += h;
                    xm[i] -= h;
                    let fd = (eval(&xp) - eval(&xm)) / (2.0 * h);
                    assert!(
                        (g[i] - fd).abs() <= 2e-2 * fd.abs().max(1.0),
                        "{name} grad[{i}] on {device:?}: {} vs finite difference {fd}",
                        g[i]
                    );
                }
            }
        });
    }
}

#[test]
fn bad_arguments_are_typed_errors() {
    let x = Array::from_slice(&[1f32; 24], &[2, 3, 4]);
    let w = Array::from_slice(&[1f32; 3], &[3]);
    assert!(matches!(
        fast::rms_norm(&x, Some(&w), 1e-5),
        Err(Error::Shape { .. })
    ));
    assert!(matches!(
        fast::rms_norm(Array::from_slice(&[1i32; 4], &[4]), None, 1e-5),
        Err(Error::Dtype { .. })
    ));
    assert!(matches!(
        fast::rope(&x, 3, false, Some(1e4), 1.0, 0, None),
        Err(Error::Argument { .. })
    ));
    assert!(matches!(
        fast::rope(&x, 6, false, Some(1e4), 1.0, 0, None),
        Err(Error::Argument { .. })
    ));
    assert!(matches!(
        fast::rope(&x, 4, false, None, 1.0, 0, None),
        Err(Error::Argument { .. })
    ));
    let q = Array::from_slice(&[1f32; 2 * 3 * 4], &[1, 2, 3, 4]);
    let k = Array::from_slice(&[1f32; 3 * 3 * 4], &[1, 3, 3, 4]);
    assert!(matches!(
        fast::scaled_dot_product_attention(&q, &k, &k, 1.0, None),
        Err(Error::Shape { .. })
    ));
    assert!(matches!(
        fast::scaled_dot_product_attention(&x, &x, &x, 1.0, None),
        Err(Error::Shape { .. })
    ));
}
