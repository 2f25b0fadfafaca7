//! The coverage table (op × backend × dtype) kept in the README: for every primitive and dtype,
//! whether it evaluates on each backend, and on the GPU whether it equals the CPU result (the
//! CPU itself is checked against f64 references by the conformance tests). Prints the table as
//! Markdown (`cargo test --test coverage -- --nocapture`) and fails on any GPU/CPU mismatch.

mod common;
use common::*;
use mlx_arm::primitive::{ALL_BINARY, ALL_UNARY};
use mlx_arm::{ops, Array, Device, Dtype, Result};

type OpFn = Box<dyn Fn(&Array, Device) -> Result<Array>>;

fn short(dt: Dtype) -> &'static str {
    match dt {
        Dtype::Bool => "b",
        Dtype::Uint8 => "u8",
        Dtype::Uint16 => "u16",
        Dtype::Uint32 => "u32",
        Dtype::Uint64 => "u64",
        Dtype::Int8 => "i8",
        Dtype::Int16 => "i16",
        Dtype::Int32 => "i32",
        Dtype::Int64 => "i64",
        Dtype::Float16 => "f16",
        Dtype::Bfloat16 => "bf16",
        Dtype::Float32 => "f32",
        Dtype::Float64 => "f64",
    }
}

fn rows() -> Vec<(String, OpFn)> {
    let mut v: Vec<(String, OpFn)> = vec![];
    for op in ALL_UNARY {
        v.push((
            op.name().into(),
            Box::new(move |a: &Array, d| {
                ops::unary_device(
                    op,
                    ops::abs_device(a, d).or_else(|_| Ok::<_, mlx_arm::Error>(a.clone()))?,
                    d,
                )
            }),
        ));
    }
    for op in ALL_BINARY {
        v.push((
            op.name().into(),
            Box::new(move |a: &Array, d| {
                ops::binary_device(op, a, ops::flip_device(a, None, d)?, d)
            }),
        ));
    }
    let more: Vec<(&str, OpFn)> = vec![
        (
            "where",
            Box::new(|a, d| {
                ops::where_device(
                    ops::greater_device(a, ops::flip_device(a, None, d)?, d)?,
                    a,
                    ops::flip_device(a, None, d)?,
                    d,
                )
            }),
        ),
        (
            "astype→f32",
            Box::new(|a, d| ops::astype_device(a, Dtype::Float32, d)),
        ),
        (
            "sum",
            Box::new(|a, d| ops::sum_device(a, Some(&[1]), false, d)),
        ),
        (
            "prod",
            Box::new(|a, d| ops::prod_device(a, Some(&[0]), false, d)),
        ),
        (
            "max",
            Box::new(|a, d| ops::max_device(a, Some(&[1]), false, d)),
        ),
        ("min", Box::new(|a, d| ops::min_device(a, None, false, d))),
        (
            "all",
            Box::new(|a, d| ops::all_device(a, Some(&[1]), false, d)),
        ),
        (
            "any",
            Box::new(|a, d| ops::any_device(a, Some(&[0]), false, d)),
        ),
        (
            "argmax",
            Box::new(|a, d| ops::argmax_device(a, Some(1), false, d)),
        ),
        (
            "argmin",
            Box::new(|a, d| ops::argmin_device(a, Some(0), false, d)),
        ),
        (
            "cumsum",
            Box::new(|a, d| ops::cumsum_device(a, Some(1), false, true, d)),
        ),
        (
            "cumprod",
            Box::new(|a, d| ops::cumprod_device(a, Some(0), true, true, d)),
        ),
        (
            "cummax",
            Box::new(|a, d| ops::cummax_device(a, Some(1), false, false, d)),
        ),
        (
            "cummin",
            Box::new(|a, d| ops::cummin_device(a, Some(1), true, true, d)),
        ),
        (
            "matmul",
            Box::new(|a, d| ops::matmul_device(a, ops::transpose_device(a, None, d)?, d)),
        ),
        (
            "take",
            Box::new(|a, d| {
                ops::take_device(a, Array::from_slice(&[2i32, 0, -1], &[3]), Some(1), d)
            }),
        ),
        (
            "take_along_axis",
            Box::new(|a, d| {
                ops::take_along_axis_device(a, Array::from_slice(&[1i32, 0, 2, 2], &[4, 1]), 1, d)
            }),
        ),
        (
            "put_along_axis",
            Box::new(|a, d| {
                ops::put_along_axis_device(
                    a,
                    Array::from_slice(&[1i32, 0, 2, 2], &[4, 1]),
                    ops::slice_device(a, &[0, 0], &[4, 1], &[], d)?,
                    1,
                    d,
                )
            }),
        ),
        (
            "scatter_add",
            Box::new(|a, d| {
                ops::scatter_add_along_axis_device(
                    a,
                    Array::from_slice(&[1i32, 1, 1], &[1, 3]),
                    ops::slice_device(a, &[0, 0], &[1, 3], &[], d)?,
                    0,
                    d,
                )
            }),
        ),
        ("sort", Box::new(|a, d| ops::sort_device(a, Some(1), d))),
        (
            "argsort",
            Box::new(|a, d| ops::argsort_device(a, Some(0), d)),
        ),
        (
            "concatenate",
            Box::new(|a, d| ops::concatenate_device(&[a.clone(), a.clone()], 1, d)),
        ),
        (
            "slice_update",
            Box::new(|a, d| {
                ops::slice_update_device(
                    a,
                    ops::slice_device(a, &[0, 0], &[2, 3], &[], d)?,
                    &[2, 0],
                    &[4, 3],
                    &[],
                    d,
                )
            }),
        ),
        (
            "contiguous (copy)",
            Box::new(|a, d| ops::contiguous_device(ops::transpose_device(a, None, d)?, d)),
        ),
        (
            "arange",
            Box::new(|a, d| ops::arange_device(1.0, 9.0, 2.0, a.dtype(), d)),
        ),
    ];
    v.extend(more.into_iter().map(|(n, f)| (n.to_string(), f)));
    v
}

#[test]
fn coverage_table() {
    let devices = devices();
    let mut table = String::from("| op | CPU | GPU |\n|---|---|---|\n");
    let mut mismatches = vec![];
    for (name, f) in rows() {
        let mut cells = vec![];
        let mut cpu_results = std::collections::HashMap::new();
        for &device in &[Device::cpu(), Device::gpu()] {
            if !devices.contains(&device) {
                cells.push("(no adapter)".to_string());
                continue;
            }
            let mut ok = vec![];
            for &dt in &ALL {
                let (lo, hi) = if dt.is_float() {
                    (0.2, 2.0)
                } else {
                    (1.0, 9.0)
                };
                let a = array(&values(3, 12, dt, lo, hi), &[4, 3], dt);
                let r = mlx_arm::with_default_device(device, || {
                    f(&a, device).and_then(|r| r.to_f64_vec().map(|v| (r.dtype(), v)))
                });
                let Ok((rdt, vals)) = r else { continue };
                if device == Device::cpu() {
                    cpu_results.insert(dt, (rdt, vals));
                    ok.push(short(dt));
                } else if let Some((cdt, cv)) = cpu_results.get(&dt) {
                    let tol = tolerance(*cdt);
                    let same = *cdt == rdt
                        && cv.len() == vals.len()
                        && cv.iter().zip(&vals).all(|(x, y)| {
                            x == y
                                || (x.is_nan() && y.is_nan())
                                || (x - y).abs() <= 4.0 * tol.1 + 4.0 * tol.0 * x.abs()
                        });
                    if same {
                        ok.push(short(dt));
                    } else {
                        mismatches.push(format!("{name} {dt}: gpu {vals:?} vs cpu {cv:?}"));
                    }
                }
            }
            cells.push(if ok.len() == ALL.len() {
                "all 13".to_string()
            } else {
                ok.join(" ")
            });
        }
        table.push_str(&format!("| {name} | {} | {} |\n", cells[0], cells[1]));
    }
    println!("{table}");
    assert!(
        mismatches.is_empty(),
        "GPU differs from CPU:\n{}",
        mismatches.join("\n")
    );
}
