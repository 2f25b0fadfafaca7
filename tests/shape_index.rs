//! Conformance of shape/view ops, indexing, sorting, matmul and creation ops on every device
//! against references computed on plain vectors.

mod common;
use common::*;
use mlx_arm::{ops, Array, Device, Dtype};

fn ints(a: &Array) -> Vec<f64> {
    a.to_f64_vec().unwrap()
}

fn iota(shape: &[usize], dt: Dtype) -> Array {
    let n: usize = shape.iter().product();
    array(
        &(0..n).map(|i| (i % 100) as f64).collect::<Vec<_>>(),
        shape,
        dt,
    )
}

#[test]
fn views_and_copies_match_reference() {
    for device in devices() {
        mlx_arm::with_default_device(device, || {
            for &dt in &[
                Dtype::Float32,
                Dtype::Int8,
                Dtype::Bool,
                Dtype::Float16,
                Dtype::Uint16,
            ] {
                let a = iota(&[2, 3, 4], dt);
                let base = ints(&a);
                // transpose then contiguous
                let t = ops::contiguous(ops::transpose(&a, Some(&[2, 0, 1])).unwrap()).unwrap();
                let want: Vec<f64> = (0..24)
                    .map(|i| {
                        let (k, r) = (i / 6, i % 6);
                        let (x, y) = (r / 3, r % 3);
                        base[x * 12 + y * 4 + k]
                    })
                    .collect();
                check(
                    &format!("transpose {dt} {device}"),
                    &t,
                    &want,
                    &[4, 2, 3],
                    dt,
                    (0.0, 0.0),
                );
                // negative-step slice
                let s =
                    ops::slice(&a, &[1, 2, 3], &[i32::MIN, i32::MIN, 0], &[-1, -2, -2]).unwrap();
                let want: Vec<f64> = [1usize, 0]
                    .iter()
                    .flat_map(|&x| {
                        [2usize, 0]
                            .into_iter()
                            .flat_map(move |y| [3usize, 1].into_iter().map(move |z| (x, y, z)))
                    })
                    .map(|(x, y, z)| base[x * 12 + y * 4 + z])
                    .collect();
                check(
                    &format!("slice {dt} {device}"),
                    &s,
                    &want,
                    &[2, 2, 2],
                    dt,
                    (0.0, 0.0),
                );
                // reshape of a non-contiguous view copies
                let r = ops::reshape(ops::swapaxes(&a, 0, 2).unwrap(), &[4, 6]).unwrap();
                let sw: Vec<f64> = (0..24)
                    .map(|i| {
                        let (z, r) = (i / 6, i % 6);
                        let (y, x) = (r / 2, r % 2);
                        base[x * 12 + y * 4 + z]
                    })
                    .collect();
                check(
                    &format!("reshape view {dt} {device}"),
                    &r,
                    &sw,
                    &[4, 6],
                    dt,
                    (0.0, 0.0),
                );
                // broadcast + expand + squeeze + flatten + moveaxis
                let b = ops::broadcast_to(ops::expand_dims(iota(&[3], dt), &[0]).unwrap(), &[2, 3])
                    .unwrap();
                check(
                    "broadcast",
                    &ops::flatten(&b).unwrap(),
                    &[0.0, 1.0, 2.0, 0.0, 1.0, 2.0].map(|v| to_dtype(v, dt)),
                    &[6],
                    dt,
                    (0.0, 0.0),
                );
                assert_eq!(
                    ops::squeeze(ops::expand_dims(&a, &[0, -1]).unwrap(), None)
                        .unwrap()
                        .shape(),
                    &[2, 3, 4]
                );
                assert_eq!(ops::moveaxis(&a, 0, -1).unwrap().shape(), &[3, 4, 2]);
                // concatenate (with promotion) / stack / split
                let c =
                    ops::concatenate(&[iota(&[2, 1], dt), iota(&[2, 2], Dtype::Int32)], 1).unwrap();
                let dc = mlx_arm::dtype::promote_types(dt, Dtype::Int32);
                check(
                    &format!("concatenate {dt} {device}"),
                    &c,
                    &[0.0, 0.0, 1.0, 1.0, 2.0, 3.0].map(|v| to_dtype(v, dc)),
                    &[2, 3],
                    dc,
                    (0.0, 0.0),
                );
                let st = ops::stack(&[iota(&[2], dt), iota(&[2], dt)], 1).unwrap();
                check(
                    "stack",
                    &st,
                    &[0.0, 0.0, 1.0, 1.0].map(|v| to_dtype(v, dt)),
                    &[2, 2],
                    dt,
                    (0.0, 0.0),
                );
                let parts = ops::split(&a, 2, 2).unwrap();
                assert_eq!(parts.len(), 2);
                let want: Vec<f64> = (0..6)
                    .flat_map(|r| [base[r * 4 + 2], base[r * 4 + 3]])
                    .collect();
                check("split", &parts[1], &want, &[2, 3, 2], dt, (0.0, 0.0));
                let secs = ops::split_sections(&a, &[1], 1).unwrap();
                assert_eq!(secs[1].shape(), &[2, 2, 4]);
                // pad / tile / repeat / flip / roll
                let p = ops::pad(iota(&[2, 2], dt), &[(1, 0), (0, 2)], 7.0).unwrap();
                let s7 = to_dtype(7.0, dt);
                check(
                    &format!("pad {dt} {device}"),
                    &p,
                    &[
                        s7,
                        s7,
                        s7,
                        s7,
                        0.0,
                        1.0,
                        s7,
                        s7,
                        to_dtype(2.0, dt),
                        to_dtype(3.0, dt),
                        s7,
                        s7,
                    ],
                    &[3, 4],
                    dt,
                    (0.0, 0.0),
                );
                let tl = ops::tile(iota(&[2], dt), &[2, 2]).unwrap();
                let v1 = to_dtype(1.0, dt);
                check(
                    "tile",
                    &tl,
                    &[0.0, v1, 0.0, v1, 0.0, v1, 0.0, v1],
                    &[2, 4],
                    dt,
                    (0.0, 0.0),
                );
                let rp = ops::repeat(iota(&[2, 2], dt), 2, Some(1)).unwrap();
                let (v2, v3) = (to_dtype(2.0, dt), to_dtype(3.0, dt));
                check(
                    "repeat",
                    &rp,
                    &[0.0, 0.0, v1, v1, v2, v2, v3, v3],
                    &[2, 4],
                    dt,
                    (0.0, 0.0),
                );
                let fl = ops::flip(iota(&[3], dt), None).unwrap();
                check("flip", &fl, &[v2, v1, 0.0], &[3], dt, (0.0, 0.0));
                let rl = ops::roll(iota(&[2, 2], dt), 1, None).unwrap();
                check("roll", &rl, &[v3, 0.0, v1, v2], &[2, 2], dt, (0.0, 0.0));
                // slice_update with a strided region and broadcast update
                let su = ops::slice_update(
                    iota(&[2, 4], dt),
                    array(&[9.0], &[1], dt),
                    &[0, 1],
                    &[2, 4],
                    &[1, 2],
                )
                .unwrap();
                let s9 = to_dtype(9.0, dt);
                let b8 = ints(&iota(&[2, 4], dt));
                check(
                    &format!("slice_update {dt} {device}"),
                    &su,
                    &[b8[0], s9, b8[2], s9, b8[4], s9, b8[6], s9],
                    &[2, 4],
                    dt,
                    (0.0, 0.0),
                );
                // as_strided (sliding windows)
                let w = ops::as_strided(iota(&[7], dt), &[3, 2], &[2, 1], 1).unwrap();
                let want: Vec<f64> = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]
                    .iter()
                    .map(|&v| to_dtype(v, dt))
                    .collect();
                check(
                    "as_strided",
                    &ops::contiguous(&w).unwrap(),
                    &want,
                    &[3, 2],
                    dt,
                    (0.0, 0.0),
                );
                assert!(ops::as_strided(iota(&[6], dt), &[3, 2], &[2, 1], 1).is_err());
            }
        });
    }
}

#[test]
fn indexing_matches_reference() {
    for device in devices() {
        mlx_arm::with_default_device(device, || {
            for &dt in &[Dtype::Float32, Dtype::Int16, Dtype::Bfloat16, Dtype::Uint8] {
                let a = iota(&[3, 4], dt);
                let base = ints(&a);
                let idx = array(&[2.0, -1.0, 0.0, 2.0], &[2, 2], Dtype::Int32);
                let t = ops::take(&a, &idx, Some(1)).unwrap();
                let want: Vec<f64> = (0..3)
                    .flat_map(|r| [2usize, 3, 0, 2].map(|c| base[r * 4 + c]))
                    .collect();
                check(
                    &format!("take axis {dt} {device}"),
                    &t,
                    &want,
                    &[3, 2, 2],
                    dt,
                    (0.0, 0.0),
                );
                let tf = ops::take(
                    &ops::transpose(&a, None).unwrap(),
                    array(&[5.0, 0.0], &[2], Dtype::Uint32),
                    None,
                )
                .unwrap();
                check(
                    "take flat of view",
                    &tf,
                    &[base[2 * 4 + 1], base[0]],
                    &[2],
                    dt,
                    (0.0, 0.0),
                );
                let ia = array(&[3.0, 0.0, 1.0], &[3, 1], Dtype::Int64);
                let tal = ops::take_along_axis(&a, &ia, 1).unwrap();
                check(
                    "take_along_axis",
                    &tal,
                    &[base[3], base[4], base[9]],
                    &[3, 1],
                    dt,
                    (0.0, 0.0),
                );
                let put = ops::put_along_axis(&a, &ia, array(&[50.0], &[1], dt), 1).unwrap();
                let mut want = base.clone();
                want[3] = 50.0;
                want[4] = 50.0;
                want[9] = 50.0;
                check(
                    &format!("put_along_axis {dt} {device}"),
                    &put,
                    &want,
                    &[3, 4],
                    dt,
                    (0.0, 0.0),
                );
                let sa = ops::scatter_add_along_axis(
                    &a,
                    array(&[1.0, 1.0, 1.0, 1.0], &[1, 4], Dtype::Int32),
                    array(&[1.0, 2.0, 3.0, 4.0], &[1, 4], dt),
                    0,
                )
                .unwrap();
                let mut want = base.clone();
                for c in 0..4 {
                    want[4 + c] += (c + 1) as f64;
                }
                check(
                    &format!("scatter_add {dt} {device}"),
                    &sa,
                    &want.iter().map(|&v| to_dtype(v, dt)).collect::<Vec<_>>(),
                    &[3, 4],
                    dt,
                    (0.0, 0.0),
                );
                // repeated indices accumulate
                let rep = ops::scatter_add_along_axis(
                    ops::zeros(&[1, 3], dt).unwrap(),
                    array(&[1.0, 1.0, 1.0], &[1, 3], Dtype::Int32),
                    ops::ones(&[1, 3], dt).unwrap(),
                    1,
                )
                .unwrap();
                check(
                    &format!("scatter_add repeats {dt} {device}"),
                    &rep,
                    &[0.0, 3.0, 0.0],
                    &[1, 3],
                    dt,
                    (0.0, 0.0),
                );
                // general gather / scatter over two axes
                let g = ops::gather(
                    &a,
                    &[
                        array(&[0.0, 2.0], &[2], Dtype::Int32),
                        array(&[1.0, 3.0], &[2], Dtype::Int32),
                    ],
                    &[0, 1],
                    &[1, 1],
                )
                .unwrap();
                check(
                    "gather",
                    &g,
                    &[base[1], base[11]],
                    &[2, 1, 1],
                    dt,
                    (0.0, 0.0),
                );
                let sc = ops::scatter(
                    &a,
                    &[array(&[1.0], &[1], Dtype::Int32)],
                    array(&[7.0, 7.0, 7.0, 7.0], &[1, 1, 4], dt),
                    &[0],
                )
                .unwrap();
                let mut want = base.clone();
                for c in 0..4 {
                    want[4 + c] = 7.0;
                }
                check(
                    &format!("scatter {dt} {device}"),
                    &sc,
                    &want,
                    &[3, 4],
                    dt,
                    (0.0, 0.0),
                );
            }
        });
    }
}

#[test]
fn sorting_matches_reference() {
    for device in devices() {
        for &dt in &[
            Dtype::Float32,
            Dtype::Int32,
            Dtype::Uint8,
            Dtype::Float16,
            Dtype::Int8,
            Dtype::Float64,
        ] {
            if !runs(device, dt) {
                continue;
            }
            for &(rows, n) in &[(3usize, 5usize), (2, 37), (1, 1000), (4, 1)] {
                let mut vals = values(n as u64, rows * n, dt, -20.0, 20.0);
                if dt.is_float() && n > 3 {
                    vals[2] = f64::NAN;
                }
                let sv = stored(&vals, dt);
                for layout in [Layout::Contiguous, Layout::Transposed] {
                    let a = laid_out(&vals, &[rows, n], dt, layout);
                    let mut want_v = vec![];
                    let mut want_i = vec![];
                    for r in 0..rows {
                        let mut idx: Vec<usize> = (0..n).collect();
                        let row = &sv[r * n..(r + 1) * n];
                        idx.sort_by(|&x, &y| match (row[x].is_nan(), row[y].is_nan()) {
                            (true, true) => std::cmp::Ordering::Equal,
                            (true, false) => std::cmp::Ordering::Greater,
                            (false, true) => std::cmp::Ordering::Less,
                            _ => row[x].partial_cmp(&row[y]).unwrap(),
                        });
                        want_v.extend(idx.iter().map(|&i| row[i]));
                        want_i.extend(idx.iter().map(|&i| i as f64));
                    }
                    let what = format!("sort {dt} {rows}x{n} {layout:?} on {device}");
                    check(
                        &what,
                        &ops::sort_device(&a, Some(1), device).unwrap(),
                        &want_v,
                        &[rows, n],
                        dt,
                        (0.0, 0.0),
                    );
                    check(
                        &format!("arg{what}"),
                        &ops::argsort_device(&a, Some(-1), device).unwrap(),
                        &want_i,
                        &[rows, n],
                        Dtype::Uint32,
                        (0.0, 0.0),
                    );
                    if n >= 3 {
                        let k = 2;
                        let top = ops::topk_device(&a, k, Some(1), device).unwrap();
                        let want: Vec<f64> = (0..rows)
                            .flat_map(|r| want_v[r * n + n - 2..r * n + n].to_vec())
                            .collect();
                        check(
                            &format!("topk {what}"),
                            &top,
                            &want,
                            &[rows, 2],
                            dt,
                            (0.0, 0.0),
                        );
                        let part = ops::partition_device(&a, 1, Some(1), device).unwrap();
                        let p = part.to_f64_vec().unwrap();
                        for r in 0..rows {
                            let kth = want_v[r * n + 1];
                            assert!(
                                p[r * n + 1] == kth || (kth.is_nan() && p[r * n + 1].is_nan()),
                                "{what}: partition"
                            );
                        }
                    }
                }
            }
        }
    }
}

fn matmul_ref(
    a: &[f64],
    b: &[f64],
    batch: usize,
    m: usize,
    k: usize,
    n: usize,
    b_batched: bool,
) -> Vec<f64> {
    let mut out = vec![0.0; batch * m * n];
    for bi in 0..batch {
        for i in 0..m {
            for j in 0..n {
                let mut s = 0.0;
                for p in 0..k {
                    let bb = if b_batched { bi * k * n } else { 0 };
                    s += a[bi * m * k + i * k + p] * b[bb + p * n + j];
                }
                out[bi * m * n + i * n + j] = s;
            }
        }
    }
    out
}

#[test]
fn matmul_matches_reference() {
    for device in devices() {
        for &dt in &[
            Dtype::Float32,
            Dtype::Float16,
            Dtype::Bfloat16,
            Dtype::Float64,
        ] {
            if !runs(device, dt) {
                continue;
            }
            for &(batch, m, k, n) in &[
                (1usize, 1usize, 1usize, 1usize),
                (1, 3, 5, 7),
                (2, 65, 33, 70),
                (3, 1, 130, 17),
                (1, 128, 64, 129),
                (1, 4, 0, 3),
                (1, 1, 300, 77),
                (2, 1030, 19, 2050),
            ] {
                // (1, 1, 300, 77) with B transposed is the GPU's mat-vec path
                // the last case is large enough for the GPU's 128x128 tiles, with ragged edges
                let av = values(m as u64 * 3 + k as u64, batch * m * k, dt, -1.0, 1.0);
                let bv = values(n as u64 * 7 + 1, k * n, dt, -1.0, 1.0);
                let want = matmul_ref(&stored(&av, dt), &stored(&bv, dt), batch, m, k, n, false);
                let want: Vec<f64> = want.iter().map(|&v| to_dtype(v, dt)).collect();
                for (la, lb) in [
                    (Layout::Contiguous, Layout::Contiguous),
                    (Layout::Transposed, Layout::Transposed),
                    (Layout::Strided, Layout::Transposed),
                ] {
                    let a = laid_out(&av, &[batch, m, k], dt, la);
                    // b is shared by the batch (broadcast)
                    let b = laid_out(&bv, &[k, n], dt, lb);
                    let got = ops::matmul_device(&a, &b, device).unwrap();
                    let t = tolerance(dt);
                    let tol = (t.0 * 10.0, t.1 * (k as f64).sqrt().max(1.0) * 4.0);
                    check(
                        &format!("matmul {dt} {batch}x{m}x{k}x{n} {la:?}/{lb:?} on {device}"),
                        &got,
                        &want,
                        &[batch, m, n],
                        dt,
                        tol,
                    );
                }
            }
        }
        // vector cases and helpers
        mlx_arm::with_default_device(device, || {
            let v = array(&[1.0, 2.0, 3.0], &[3], Dtype::Float32);
            let mtx = iota(&[3, 2], Dtype::Float32);
            check(
                "vec@mat",
                &ops::matmul(&v, &mtx).unwrap(),
                &[16.0, 22.0],
                &[2],
                Dtype::Float32,
                (1e-6, 1e-6),
            );
            check(
                "inner",
                &ops::inner(&v, &v).unwrap(),
                &[14.0],
                &[],
                Dtype::Float32,
                (1e-6, 1e-6),
            );
            check(
                "outer",
                &ops::outer(&v, array(&[1.0, -1.0], &[2], Dtype::Float32)).unwrap(),
                &[1.0, -1.0, 2.0, -2.0, 3.0, -3.0],
                &[3, 2],
                Dtype::Float32,
                (0.0, 0.0),
            );
            let c = ops::ones(&[2, 2], Dtype::Float32).unwrap();
            let am = ops::addmm(&c, iota(&[2, 3], Dtype::Float32), &mtx, 2.0, 0.5).unwrap();
            check(
                "addmm",
                &am,
                &[20.5, 26.5, 56.5, 80.5],
                &[2, 2],
                Dtype::Float32,
                (1e-6, 1e-6),
            );
            let td = ops::tensordot(
                iota(&[2, 3, 4], Dtype::Float32),
                iota(&[4, 3], Dtype::Float32),
                &[1, 2],
                &[1, 0],
            )
            .unwrap();
            let a = ints(&iota(&[2, 3, 4], Dtype::Float32));
            let b = ints(&iota(&[4, 3], Dtype::Float32));
            let want: Vec<f64> = (0..2)
                .map(|i| {
                    (0..3)
                        .flat_map(|j| (0..4).map(move |k| (j, k)))
                        .map(|(j, k)| a[i * 12 + j * 4 + k] * b[k * 3 + j])
                        .sum()
                })
                .collect();
            check("tensordot", &td, &want, &[2], Dtype::Float32, (1e-6, 1e-4));
            assert!(ops::matmul(iota(&[2, 3], Dtype::Int32), iota(&[3, 2], Dtype::Int32)).is_err());
        });
    }
}

#[test]
fn creation_ops_match_reference() {
    for device in devices() {
        mlx_arm::with_default_device(device, || {
            check(
                "arange f32",
                &ops::arange(0.5, 3.0, 0.5, Dtype::Float32).unwrap(),
                &[0.5, 1.0, 1.5, 2.0, 2.5],
                &[5],
                Dtype::Float32,
                (1e-6, 1e-6),
            );
            check(
                "arange int neg step",
                &ops::arange(5.0, -1.0, -2.0, Dtype::Int32).unwrap(),
                &[5.0, 3.0, 1.0],
                &[3],
                Dtype::Int32,
                (0.0, 0.0),
            );
            check(
                "arange u8",
                &ops::arange(250.0, 254.0, 1.0, Dtype::Uint8).unwrap(),
                &[250.0, 251.0, 252.0, 253.0],
                &[4],
                Dtype::Uint8,
                (0.0, 0.0),
            );
            check(
                "linspace",
                &ops::linspace(0.0, 1.0, 5, Dtype::Float32).unwrap(),
                &[0.0, 0.25, 0.5, 0.75, 1.0],
                &[5],
                Dtype::Float32,
                (1e-6, 1e-6),
            );
            check(
                "eye k=1",
                &ops::eye(2, Some(3), 1, Dtype::Int32).unwrap(),
                &[0.0, 1.0, 0.0, 0.0, 0.0, 1.0],
                &[2, 3],
                Dtype::Int32,
                (0.0, 0.0),
            );
            check(
                "identity",
                &ops::identity(2, Dtype::Bool).unwrap(),
                &[1.0, 0.0, 0.0, 1.0],
                &[2, 2],
                Dtype::Bool,
                (0.0, 0.0),
            );
            check(
                "tri",
                &ops::tri(2, None, 0, Dtype::Float16).unwrap(),
                &[1.0, 0.0, 1.0, 1.0],
                &[2, 2],
                Dtype::Float16,
                (0.0, 0.0),
            );
            let m = iota(&[3, 3], Dtype::Float32);
            check(
                "tril",
                &ops::tril(&m, -1).unwrap(),
                &[0.0, 0.0, 0.0, 3.0, 0.0, 0.0, 6.0, 7.0, 0.0],
                &[3, 3],
                Dtype::Float32,
                (0.0, 0.0),
            );
            check(
                "triu",
                &ops::triu(&m, 1).unwrap(),
                &[0.0, 1.0, 2.0, 0.0, 0.0, 5.0, 0.0, 0.0, 0.0],
                &[3, 3],
                Dtype::Float32,
                (0.0, 0.0),
            );
            check(
                "full",
                &ops::full(&[2], 3.5, Dtype::Bfloat16).unwrap(),
                &[3.5, 3.5],
                &[2],
                Dtype::Bfloat16,
                (0.0, 0.0),
            );
            check(
                "zeros_like",
                &ops::zeros_like(&m).unwrap(),
                &[0.0; 9],
                &[3, 3],
                Dtype::Float32,
                (0.0, 0.0),
            );
            check(
                "ones",
                &ops::ones(&[0, 2], Dtype::Int8).unwrap(),
                &[],
                &[0, 2],
                Dtype::Int8,
                (0.0, 0.0),
            );
            check(
                "clip",
                &ops::clip(&m, Some(Array::from(2.0f32)), Some(Array::from(5.0f32))).unwrap(),
                &[2.0, 2.0, 2.0, 3.0, 4.0, 5.0, 5.0, 5.0, 5.0],
                &[3, 3],
                Dtype::Float32,
                (0.0, 0.0),
            );
        });
    }
    let _ = Device::cpu();
}
