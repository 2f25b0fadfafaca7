//! Conformance of reductions, arg-reductions, scans, mean/var/std, logsumexp and softmax on every
//! device against f64 references, over axes subsets, keepdims, layouts and dtypes.

mod common;
use common::*;
use mlx_arm::{ops, Dtype};

/// Groups the elements of a row-major array by their coordinates outside `axes`.
fn groups(vals: &[f64], shape: &[usize], axes: &[usize]) -> Vec<Vec<f64>> {
    let kept: Vec<usize> = (0..shape.len()).filter(|d| !axes.contains(d)).collect();
    let n_out: usize = kept.iter().map(|&d| shape[d]).product();
    let mut out = vec![vec![]; n_out];
    let strides = mlx_arm::layout::row_major_strides(shape);
    for (i, &v) in vals.iter().enumerate() {
        let mut o = 0usize;
        for &d in &kept {
            let c = (i / strides[d] as usize) % shape[d];
            o = o * shape[d] + c;
        }
        out[o].push(v);
    }
    out
}

fn sum_dtype(dt: Dtype) -> Dtype {
    match dt {
        Dtype::Bool | Dtype::Int8 | Dtype::Int16 => Dtype::Int32,
        Dtype::Uint8 | Dtype::Uint16 => Dtype::Uint32,
        d => d,
    }
}

const CASES: [(&[usize], &[i32]); 12] = [
    // leading axes of a dense input with many columns: the GPU's per-column kernel, with one
    // pass (few rows) and with row chunks plus a second pass
    (&[5, 200], &[0]),
    (&[70, 300], &[0]),
    (&[4, 5, 70], &[0, 1]),
    // long lines with few outputs: the GPU splits them over many workgroups (two passes)
    (&[3, 70_000], &[1]),
    (&[140_001], &[0]),
    (&[3, 4, 5], &[1]),
    (&[3, 4, 5], &[0, 2]),
    (&[3, 4, 5], &[0, 1, 2]),
    (&[7, 300], &[1]),
    (&[300, 3], &[0]),
    (&[2, 0, 3], &[1]),
    (&[5], &[0]),
];

#[test]
fn reductions_match_reference() {
    let mut failures = vec![];
    for device in devices() {
        for &dt in &ALL {
            if !runs(device, dt) {
                continue;
            }
            for (ci, (shape, axes)) in CASES.iter().enumerate() {
                let n: usize = shape.iter().product();
                let (lo, hi) = if dt.is_int() {
                    (-4.0, 4.0)
                } else {
                    default_range(dt)
                };
                let vals = values(ci as u64 + 11, n, dt, lo, hi);
                let sv = stored(&vals, dt);
                let ax: Vec<usize> = axes.iter().map(|&a| a as usize).collect();
                let gs = groups(&sv, shape, &ax);
                let mut kshape = shape.to_vec();
                for &a in &ax {
                    kshape[a] = 1;
                }
                let dshape: Vec<usize> = (0..shape.len())
                    .filter(|d| !ax.contains(d))
                    .map(|d| shape[d])
                    .collect();
                for layout in LAYOUTS {
                    let a = laid_out(&vals, shape, dt, layout);
                    let run = |name: &str,
                               got: mlx_arm::Result<mlx_arm::Array>,
                               want: Vec<f64>,
                               out_dt: Dtype,
                               keep: bool| {
                        let what =
                            format!("{name} {dt} {shape:?} axes {axes:?} {layout:?} on {device}");
                        let r = std::panic::catch_unwind(|| {
                            let got = got.unwrap();
                            let tol = if out_dt.is_float() {
                                let t = tolerance(out_dt);
                                (t.0 * 4.0, t.1 * 8.0)
                            } else {
                                (0.0, 0.0)
                            };
                            check(
                                &what,
                                &got,
                                &want,
                                if keep { &kshape } else { &dshape },
                                out_dt,
                                tol,
                            );
                        });
                        r.err()
                            .map(|e| e.downcast_ref::<String>().cloned().unwrap_or(what))
                    };
                    let sdt = sum_dtype(dt);
                    let f = &mut failures;
                    f.extend(run(
                        "sum",
                        ops::sum_device(&a, Some(axes), false, device),
                        gs.iter().map(|g| to_dtype(g.iter().sum(), sdt)).collect(),
                        sdt,
                        false,
                    ));
                    f.extend(run(
                        "prod",
                        ops::prod_device(&a, Some(axes), true, device),
                        gs.iter()
                            .map(|g| to_dtype(g.iter().product(), sdt))
                            .collect(),
                        sdt,
                        true,
                    ));
                    f.extend(run(
                        "all",
                        ops::all_device(&a, Some(axes), false, device),
                        gs.iter()
                            .map(|g| g.iter().all(|&x| x != 0.0) as u8 as f64)
                            .collect(),
                        Dtype::Bool,
                        false,
                    ));
                    f.extend(run(
                        "any",
                        ops::any_device(&a, Some(axes), true, device),
                        gs.iter()
                            .map(|g| g.iter().any(|&x| x != 0.0) as u8 as f64)
                            .collect(),
                        Dtype::Bool,
                        true,
                    ));
                    if n > 0 {
                        f.extend(run(
                            "max",
                            ops::max_device(&a, Some(axes), false, device),
                            gs.iter()
                                .map(|g| g.iter().cloned().fold(f64::NEG_INFINITY, f64::max))
                                .collect(),
                            dt,
                            false,
                        ));
                        f.extend(run(
                            "min",
                            ops::min_device(&a, Some(axes), true, device),
                            gs.iter()
                                .map(|g| g.iter().cloned().fold(f64::INFINITY, f64::min))
                                .collect(),
                            dt,
                            true,
                        ));
                    }
                    // float16 can't hold sums of squares (or the count) of 70,000 elements
                    let overflows =
                        dt == Dtype::Float16 && gs.first().is_some_and(|g| g.len() > 10_000);
                    if dt.is_float() && n > 0 && !overflows {
                        let mean: Vec<f64> = gs
                            .iter()
                            .map(|g| g.iter().sum::<f64>() / g.len() as f64)
                            .collect();
                        f.extend(run(
                            "mean",
                            ops::mean_device(&a, Some(axes), false, device),
                            mean.iter().map(|&m| to_dtype(m, dt)).collect(),
                            dt,
                            false,
                        ));
                        let var: Vec<f64> = gs
                            .iter()
                            .zip(&mean)
                            .map(|(g, m)| {
                                g.iter().map(|x| (x - m).powi(2)).sum::<f64>() / g.len() as f64
                            })
                            .collect();
                        f.extend(run(
                            "var",
                            ops::var_device(&a, Some(axes), false, 0, device),
                            var.iter().map(|&v| to_dtype(v, dt)).collect(),
                            dt,
                            false,
                        ));
                        f.extend(run(
                            "std",
                            ops::std_device(&a, Some(axes), true, 0, device),
                            var.iter().map(|&v| to_dtype(v.sqrt(), dt)).collect(),
                            dt,
                            true,
                        ));
                        let lse: Vec<f64> = gs
                            .iter()
                            .map(|g| {
                                let m = g.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                                m + g.iter().map(|x| (x - m).exp()).sum::<f64>().ln()
                            })
                            .collect();
                        f.extend(run(
                            "logsumexp",
                            ops::logsumexp_device(&a, Some(axes), false, device),
                            lse.iter().map(|&v| to_dtype(v, dt)).collect(),
                            dt,
                            false,
                        ));
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn arg_reductions_match_reference() {
    for device in devices() {
        for &dt in &ALL {
            if !runs(device, dt) || dt == Dtype::Bool {
                continue;
            }
            let shape = [4usize, 300];
            let vals = values(5, 1200, dt, -50.0, 50.0);
            let sv = stored(&vals, dt);
            for layout in LAYOUTS {
                let a = laid_out(&vals, &shape, dt, layout);
                for axis in [0i32, 1] {
                    let ax = axis as usize;
                    let gs = groups(&sv, &shape, &[ax]);
                    let amax: Vec<f64> = gs
                        .iter()
                        .map(|g| {
                            let m = g.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                            g.iter().position(|&x| x == m).unwrap() as f64
                        })
                        .collect();
                    let amin: Vec<f64> = gs
                        .iter()
                        .map(|g| {
                            let m = g.iter().cloned().fold(f64::INFINITY, f64::min);
                            g.iter().position(|&x| x == m).unwrap() as f64
                        })
                        .collect();
                    let oshape = if ax == 0 { vec![300] } else { vec![4] };
                    let what = format!("argmax {dt} axis {axis} {layout:?} on {device}");
                    check(
                        &what,
                        &ops::argmax_device(&a, Some(axis), false, device).unwrap(),
                        &amax,
                        &oshape,
                        Dtype::Uint32,
                        (0.0, 0.0),
                    );
                    let what = format!("argmin {dt} axis {axis} {layout:?} on {device}");
                    check(
                        &what,
                        &ops::argmin_device(&a, Some(axis), false, device).unwrap(),
                        &amin,
                        &oshape,
                        Dtype::Uint32,
                        (0.0, 0.0),
                    );
                }
            }
        }
        // NaN wins, first occurrence on ties
        let x = array(&[1.0, 3.0, f64::NAN, 3.0, f64::NAN], &[5], Dtype::Float32);
        check(
            "argmax nan",
            &ops::argmax_device(&x, None, false, device).unwrap(),
            &[2.0],
            &[],
            Dtype::Uint32,
            (0.0, 0.0),
        );
        let y = array(&[1.0, 3.0, 0.0, 3.0, 0.0], &[5], Dtype::Float32);
        check(
            "argmax ties",
            &ops::argmax_device(&y, None, false, device).unwrap(),
            &[1.0],
            &[],
            Dtype::Uint32,
            (0.0, 0.0),
        );
        check(
            "argmin ties",
            &ops::argmin_device(&y, None, true, device).unwrap(),
            &[2.0],
            &[1],
            Dtype::Uint32,
            (0.0, 0.0),
        );
    }
}

/// Few long lines (an LLM's argmax over its vocabulary): the GPU splits each line over many
/// workgroups and combines their candidates; ties and NaN must still resolve to the first
/// index across those splits, also on a transposed view.
#[test]
fn arg_reductions_of_long_lines() {
    for device in devices() {
        let n = 128_256usize;
        let mut v: Vec<f64> = (0..3 * n)
            .map(|i| ((i * 7919) % 10_007) as f64 / 10_007.0)
            .collect();
        // line 0: the max twice, in different splits; line 1: a NaN late and one early; line 2:
        // the max at the very end
        v[50_000] = 2.0;
        v[90_000] = 2.0;
        v[n + 100_000] = f64::NAN;
        v[n + 70_000] = f64::NAN;
        v[3 * n - 1] = 3.0;
        let a = array(&v, &[3, n], Dtype::Float32);
        check(
            "argmax long lines",
            &ops::argmax_device(&a, Some(1), false, device).unwrap(),
            &[50_000.0, 70_000.0, (n - 1) as f64],
            &[3],
            Dtype::Uint32,
            (0.0, 0.0),
        );
        let at = array(&v, &[3, n], Dtype::Float32).transpose(None).unwrap();
        check(
            "argmax long lines, transposed view",
            &ops::argmax_device(&at, Some(0), false, device).unwrap(),
            &[50_000.0, 70_000.0, (n - 1) as f64],
            &[3],
            Dtype::Uint32,
            (0.0, 0.0),
        );
        let mins: Vec<f64> = (0..3)
            .map(|r| {
                v[r * n..(r + 1) * n]
                    .iter()
                    .enumerate()
                    .filter(|(_, x)| !x.is_nan())
                    .fold(
                        (0usize, f64::INFINITY),
                        |b, (i, &x)| if x < b.1 { (i, x) } else { b },
                    )
                    .0 as f64
            })
            .collect();
        // line 1 holds NaN, which counts as the extremum for argmin too
        let want = [mins[0], 70_000.0, mins[2]];
        check(
            "argmin long lines",
            &ops::argmin_device(&a, Some(1), false, device).unwrap(),
            &want,
            &[3],
            Dtype::Uint32,
            (0.0, 0.0),
        );
    }
}

#[test]
fn scans_match_reference() {
    for device in devices() {
        for &dt in &[
            Dtype::Float32,
            Dtype::Int32,
            Dtype::Float16,
            Dtype::Int8,
            Dtype::Uint8,
            Dtype::Bool,
            Dtype::Float64,
        ] {
            if !runs(device, dt) {
                continue;
            }
            let shape = [3usize, 7];
            let vals = values(9, 21, dt, -3.0, 3.0);
            let sv = stored(&vals, dt);
            for layout in LAYOUTS {
                let a = laid_out(&vals, &shape, dt, layout);
                for (name, op) in [("cumsum", 0), ("cumprod", 1), ("cummax", 2), ("cummin", 3)] {
                    for reverse in [false, true] {
                        for inclusive in [true, false] {
                            // MLX: scans keep the dtype (wrapping), except cumsum of bool, which counts in int32
                            let out_dt = if op == 0 && dt == Dtype::Bool {
                                Dtype::Int32
                            } else {
                                dt
                            };
                            let mut want = vec![0.0; 21];
                            for r in 0..3 {
                                let ident = [0.0, 1.0, f64::NEG_INFINITY, f64::INFINITY][op];
                                let mut acc = ident;
                                for k in 0..7 {
                                    let c = if reverse { 6 - k } else { k };
                                    let x = sv[r * 7 + c];
                                    if !inclusive {
                                        want[r * 7 + c] = acc;
                                    }
                                    acc = match op {
                                        0 => acc + x,
                                        1 => acc * x,
                                        2 => acc.max(x),
                                        _ => acc.min(x),
                                    };
                                    if inclusive {
                                        want[r * 7 + c] = acc;
                                    }
                                }
                            }
                            let want: Vec<f64> = want
                                .iter()
                                .map(|&v| {
                                    if v.is_infinite() && !dt.is_float() {
                                        // exclusive max/min of an int starts at the dtype's extreme
                                        let bits = dt.size() as i32 * 8;
                                        if v < 0.0 {
                                            if dt.is_signed_int() {
                                                -(2f64.powi(bits - 1))
                                            } else {
                                                0.0
                                            }
                                        } else if dt.is_signed_int() {
                                            2f64.powi(bits - 1) - 1.0
                                        } else if dt == Dtype::Bool {
                                            1.0
                                        } else {
                                            2f64.powi(bits) - 1.0
                                        }
                                    } else {
                                        to_dtype(v, out_dt)
                                    }
                                })
                                .collect();
                            let got = match op {
                                0 => ops::cumsum_device(&a, Some(1), reverse, inclusive, device),
                                1 => ops::cumprod_device(&a, Some(1), reverse, inclusive, device),
                                2 => ops::cummax_device(&a, Some(1), reverse, inclusive, device),
                                _ => ops::cummin_device(&a, Some(1), reverse, inclusive, device),
                            }
                            .unwrap();
                            let what = format!(
                                "{name} {dt} rev {reverse} incl {inclusive} {layout:?} on {device}"
                            );
                            let t = tolerance(out_dt);
                            check(&what, &got, &want, &shape, out_dt, (t.0 * 4.0, t.1 * 4.0));
                        }
                    }
                }
            }
        }
    }
}

/// f64 softmax of `vals` (row-major `shape`) along `axis`.
fn softmax_reference(vals: &[f64], shape: &[usize], axis: usize, dt: Dtype) -> Vec<f64> {
    let strides = mlx_arm::layout::row_major_strides(shape);
    let st = strides[axis] as usize;
    let mut want = vec![0.0; vals.len()];
    for (i, _) in vals.iter().enumerate() {
        if (i / st) % shape[axis] != 0 {
            continue; // i starts a line along `axis`
        }
        let line: Vec<usize> = (0..shape[axis]).map(|k| i + k * st).collect();
        let m = line
            .iter()
            .map(|&j| vals[j])
            .fold(f64::NEG_INFINITY, f64::max);
        let s: f64 = line.iter().map(|&j| (vals[j] - m).exp()).sum();
        for &j in &line {
            want[j] = to_dtype((vals[j] - m).exp() / s, dt);
        }
    }
    want
}

#[test]
fn softmax_is_stable_and_matches_reference() {
    // last-axis cases run the fused kernel (rows shorter and longer than a workgroup, one row,
    // many rows); the middle-axis case runs the composed graph
    let cases: [(&[usize], i32); 6] = [
        (&[2, 33], -1),
        (&[5, 1000], 1),
        (&[300, 7], -1),
        (&[4097], 0),
        (&[3, 5, 4], 1),
        (&[1, 1], -1),
    ];
    for device in devices() {
        for &dt in &[Dtype::Float32, Dtype::Float16, Dtype::Bfloat16] {
            for (ci, &(shape, axis)) in cases.iter().enumerate() {
                let n: usize = shape.iter().product();
                let row = *shape.last().unwrap();
                // a huge first element per row checks stability (f32 only: the halves overflow)
                let big = if dt == Dtype::Float32 { 1000.0 } else { 0.0 };
                let vals: Vec<f64> = values(3 + ci as u64, n, dt, -5.0, 5.0)
                    .iter()
                    .enumerate()
                    .map(|(i, v)| if i % row == 0 { v + big } else { *v })
                    .collect();
                let sv = stored(&vals, dt);
                let ax = if axis < 0 {
                    shape.len() - 1
                } else {
                    axis as usize
                };
                let want = softmax_reference(&sv, shape, ax, dt);
                for layout in LAYOUTS {
                    let a = laid_out(&vals, shape, dt, layout);
                    let got = ops::softmax_device(&a, Some(&[axis]), device).unwrap();
                    let t = tolerance(dt);
                    check(
                        &format!("softmax {dt} {shape:?} axis {axis} {layout:?} on {device}"),
                        &got,
                        &want,
                        shape,
                        dt,
                        (t.0 * 4.0, t.1),
                    );
                }
            }
        }
    }
}
