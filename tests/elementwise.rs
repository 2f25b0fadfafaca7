//! Conformance of every unary and binary op, `where` and `astype` on every device and dtype,
//! against an f64 reference: odd shapes, size 0, scalars, broadcasting and non-contiguous views.

mod common;
use common::*;
use mlx_arm::primitive::{BinaryOp, UnaryOp, ALL_BINARY, ALL_UNARY};
use mlx_arm::{ops, Device, Dtype};

fn unary_domain(op: UnaryOp) -> (f64, f64) {
    use UnaryOp::*;
    match op {
        Sqrt | Rsqrt | Log | Log2 | Log10 => (0.1, 4.0),
        Log1p => (-0.5, 3.0),
        Arcsin | Arccos | Arctanh | Erfinv => (-0.9, 0.9),
        Arccosh => (1.1, 4.0),
        Reciprocal => (0.2, 3.0),
        Tan => (-1.2, 1.2),
        _ => (-3.0, 3.0),
    }
}

fn erfinv_ref(y: f64) -> f64 {
    if y.abs() >= 1.0 {
        return if y.abs() == 1.0 {
            y * f64::INFINITY
        } else {
            f64::NAN
        };
    }
    // Newton on erf from a bisection start
    let (mut lo, mut hi) = (-6.0f64, 6.0f64);
    for _ in 0..200 {
        let m = 0.5 * (lo + hi);
        if libm::erf(m) < y {
            lo = m
        } else {
            hi = m
        }
    }
    0.5 * (lo + hi)
}

fn unary_ref(op: UnaryOp, x: f64, dt: Dtype) -> f64 {
    use UnaryOp::*;
    match op {
        BitwiseInvert if dt == Dtype::Bool => 1.0 - x,
        Negative => -x,
        Abs => x.abs(),
        Sign => {
            if x > 0.0 {
                1.0
            } else if x < 0.0 {
                -1.0
            } else {
                x
            }
        }
        Square => x * x,
        Sqrt => x.sqrt(),
        Rsqrt => 1.0 / x.sqrt(),
        Reciprocal => 1.0 / x,
        Exp => x.exp(),
        Expm1 => x.exp_m1(),
        Log => x.ln(),
        Log1p => x.ln_1p(),
        Log2 => x.log2(),
        Log10 => x.log10(),
        Sin => x.sin(),
        Cos => x.cos(),
        Tan => x.tan(),
        Arcsin => x.asin(),
        Arccos => x.acos(),
        Arctan => x.atan(),
        Sinh => x.sinh(),
        Cosh => x.cosh(),
        Tanh => x.tanh(),
        Arcsinh => x.asinh(),
        Arccosh => x.acosh(),
        Arctanh => x.atanh(),
        Sigmoid => 1.0 / (1.0 + (-x).exp()),
        Erf => libm::erf(x),
        Erfinv => erfinv_ref(x),
        Floor => x.floor(),
        Ceil => x.ceil(),
        Round => x.round_ties_even(),
        LogicalNot => (x == 0.0) as u8 as f64,
        BitwiseInvert => -x - 1.0,
        IsNan => x.is_nan() as u8 as f64,
        IsInf => x.is_infinite() as u8 as f64,
    }
}

/// The dtypes each unary op is tested with, and its output dtype.
fn unary_cases(op: UnaryOp) -> Vec<Dtype> {
    use UnaryOp::*;
    match op {
        Negative => ALL.iter().copied().filter(|&d| d != Dtype::Bool).collect(),
        BitwiseInvert => ALL.iter().copied().filter(|&d| !d.is_float()).collect(),
        _ if op.is_float_only() => vec![
            Dtype::Float16,
            Dtype::Bfloat16,
            Dtype::Float32,
            Dtype::Float64,
            Dtype::Int32,
        ],
        _ => ALL.to_vec(),
    }
}

fn unary_out(op: UnaryOp, dt: Dtype) -> Dtype {
    if op.outputs_bool() {
        Dtype::Bool
    } else if op.is_float_only() {
        dt.to_float()
    } else {
        dt
    }
}

const SHAPES: [&[usize]; 5] = [&[3, 5], &[2, 3, 4], &[7], &[], &[0, 3]];

#[test]
fn unary_ops_match_reference() {
    let mut failures = vec![];
    for device in devices() {
        for op in ALL_UNARY {
            for dt in unary_cases(op) {
                if !runs(device, dt) {
                    continue;
                }
                let (lo, hi) = if op.is_float_only() || dt.is_float() {
                    unary_domain(op)
                } else {
                    default_range(dt)
                };
                for (si, shape) in SHAPES.iter().enumerate() {
                    let n: usize = shape.iter().product();
                    let vals = values(si as u64 + 7, n, dt, lo, hi);
                    let stored_in = stored(&vals, dt);
                    let out_dt = unary_out(op, dt);
                    let want: Vec<f64> = stored_in
                        .iter()
                        .map(|&x| to_dtype(unary_ref(op, x, dt), out_dt))
                        .collect();
                    for layout in LAYOUTS {
                        let a = laid_out(&vals, shape, dt, layout);
                        let what = format!("{} {dt} {shape:?} {layout:?} on {device}", op.name());
                        let r = std::panic::catch_unwind(|| {
                            let got = ops::unary_device(op, &a, device).unwrap();
                            check(&what, &got, &want, shape, out_dt, tolerance(out_dt));
                        });
                        if let Err(e) = r {
                            failures.push(e.downcast_ref::<String>().cloned().unwrap_or(what));
                        }
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
fn special_values_propagate() {
    let nan = f64::NAN;
    let inf = f64::INFINITY;
    for device in devices() {
        let x = array(&[nan, inf, -inf, 0.0, -1.0, 2.0], &[6], Dtype::Float32);
        let isnan = ops::isnan_device(&x, device).unwrap();
        check(
            "isnan",
            &isnan,
            &[1.0, 0.0, 0.0, 0.0, 0.0, 0.0],
            &[6],
            Dtype::Bool,
            (0.0, 0.0),
        );
        let isinf = ops::isinf_device(&x, device).unwrap();
        check(
            "isinf",
            &isinf,
            &[0.0, 1.0, 1.0, 0.0, 0.0, 0.0],
            &[6],
            Dtype::Bool,
            (0.0, 0.0),
        );
        let fin = mlx_arm::with_default_device(device, || ops::isfinite(&x).unwrap());
        check(
            "isfinite",
            &fin,
            &[0.0, 0.0, 0.0, 1.0, 1.0, 1.0],
            &[6],
            Dtype::Bool,
            (0.0, 0.0),
        );
        let m = ops::maximum_device(&x, array(&[1.0; 6], &[6], Dtype::Float32), device).unwrap();
        check(
            "maximum nan",
            &m,
            &[nan, inf, 1.0, 1.0, 1.0, 2.0],
            &[6],
            Dtype::Float32,
            (0.0, 0.0),
        );
        let l = ops::log_device(&x, device).unwrap();
        check(
            "log specials",
            &l,
            &[nan, inf, nan, -inf, nan, 2f64.ln()],
            &[6],
            Dtype::Float32,
            tolerance(Dtype::Float32),
        );
        let s = ops::sqrt_device(&x, device).unwrap();
        check(
            "sqrt specials",
            &s,
            &[nan, inf, nan, 0.0, nan, 2f64.sqrt()],
            &[6],
            Dtype::Float32,
            tolerance(Dtype::Float32),
        );
        let t = ops::tanh_device(array(&[30.0, -30.0, 0.5], &[3], Dtype::Float32), device).unwrap();
        check(
            "tanh saturates",
            &t,
            &[1.0, -1.0, 0.5f64.tanh()],
            &[3],
            Dtype::Float32,
            tolerance(Dtype::Float32),
        );
        let nn =
            mlx_arm::with_default_device(device, || ops::nan_to_num(&x, 0.0, None, None).unwrap());
        check(
            "nan_to_num",
            &nn,
            &[0.0, f32::MAX as f64, f32::MIN as f64, 0.0, -1.0, 2.0],
            &[6],
            Dtype::Float32,
            (0.0, 0.0),
        );
    }
}

fn binary_ref(op: BinaryOp, a: f64, b: f64, dt: Dtype) -> f64 {
    use BinaryOp::*;
    let int = !dt.is_float();
    let bits = (dt.size() * 8) as f64;
    match op {
        Add => a + b,
        Subtract => a - b,
        Multiply => a * b,
        Divide => a / b,
        FloorDivide if int && b == 0.0 => 0.0,
        FloorDivide => (a / b).floor(),
        Remainder if int && b == 0.0 => 0.0,
        Remainder => {
            let r = a % b;
            if r != 0.0 && ((r < 0.0) != (b < 0.0)) {
                r + b
            } else {
                r
            }
        }
        Power if dt == Dtype::Bool => ((a != 0.0) || (b == 0.0)) as u8 as f64,
        // integer powers with negative exponents: 1, ±1 for base -1, else 0
        Power if int && b < 0.0 => {
            if a == 1.0 {
                1.0
            } else if a == -1.0 {
                if b % 2.0 == 0.0 {
                    1.0
                } else {
                    -1.0
                }
            } else {
                0.0
            }
        }
        Power => a.powf(b),
        Maximum => {
            if a.is_nan() || b.is_nan() {
                f64::NAN
            } else {
                a.max(b)
            }
        }
        Minimum => {
            if a.is_nan() || b.is_nan() {
                f64::NAN
            } else {
                a.min(b)
            }
        }
        Arctan2 => a.atan2(b),
        LogAddExp => {
            let m = a.max(b);
            m + (-(a - b).abs()).exp().ln_1p()
        }
        SiluMul => a / (1.0 + (-a).exp()) * b,
        Equal => (a == b) as u8 as f64,
        NotEqual => (a != b) as u8 as f64,
        Less => (a < b) as u8 as f64,
        LessEqual => (a <= b) as u8 as f64,
        Greater => (a > b) as u8 as f64,
        GreaterEqual => (a >= b) as u8 as f64,
        LogicalAnd => ((a != 0.0) && (b != 0.0)) as u8 as f64,
        LogicalOr => ((a != 0.0) || (b != 0.0)) as u8 as f64,
        BitwiseAnd => (a as i64 & b as i64) as f64,
        BitwiseOr => (a as i64 | b as i64) as f64,
        BitwiseXor => (a as i64 ^ b as i64) as f64,
        LeftShift => {
            if b >= bits {
                0.0
            } else {
                a * 2f64.powf(b)
            }
        }
        RightShift => {
            if b >= bits {
                if a < 0.0 {
                    -1.0
                } else {
                    0.0
                }
            } else {
                (a / 2f64.powf(b)).floor()
            }
        }
    }
}

fn binary_dtypes(op: BinaryOp) -> Vec<Dtype> {
    if op.is_bitwise() {
        ALL.iter().copied().filter(|d| !d.is_float()).collect()
    } else {
        ALL.to_vec()
    }
}

fn binary_ranges(op: BinaryOp, dt: Dtype) -> ((f64, f64), (f64, f64)) {
    use BinaryOp::*;
    let bits = (dt.size() * 8) as f64;
    match op {
        Power if dt.is_float() => ((0.1, 3.0), (-2.0, 2.0)),
        Power if dt.is_signed_int() => ((-5.0, 5.0), (-1.0, 4.0)),
        Power => ((0.0, 5.0), (0.0, 4.0)),
        LeftShift | RightShift if dt != Dtype::Bool => (default_range(dt), (0.0, bits + 2.0)),
        _ => (default_range(dt), default_range(dt)),
    }
}

const BROADCASTS: [(&[usize], &[usize], &[usize]); 8] = [
    (&[3, 5], &[3, 5], &[3, 5]),
    // a row vector and column vectors against a dense operand (the GPU's `i % q` / `i / q` paths)
    (&[4, 6], &[6], &[4, 6]),
    (&[4, 6], &[4, 1], &[4, 6]),
    (&[2, 3, 4], &[2, 3, 1], &[2, 3, 4]),
    (&[3, 1, 5], &[4, 1], &[3, 4, 5]),
    (&[], &[2, 3], &[2, 3]),
    (&[0, 3], &[3], &[0, 3]),
    (&[7], &[7], &[7]),
];

#[test]
fn binary_ops_match_reference() {
    let mut failures = vec![];
    for device in devices() {
        for op in ALL_BINARY {
            for dt in binary_dtypes(op) {
                if !runs(device, dt) || (op.is_float_only() && !runs(device, dt.to_float())) {
                    continue;
                }
                let (ra, rb) = binary_ranges(op, dt);
                for (ci, (sa, sb, so)) in BROADCASTS.iter().enumerate() {
                    let (na, nb): (usize, usize) = (sa.iter().product(), sb.iter().product());
                    let mut va = values(ci as u64 * 2 + 1, na, dt, ra.0, ra.1);
                    let vb = values(ci as u64 * 2 + 2, nb, dt, rb.0, rb.1);
                    if matches!(
                        op,
                        BinaryOp::Equal | BinaryOp::NotEqual | BinaryOp::LessEqual
                    ) && na == nb
                    {
                        // make some elements equal
                        for i in (0..na).step_by(3) {
                            va[i] = vb[i];
                        }
                    }
                    let (xa, xb) = (stored(&va, dt), stored(&vb, dt));
                    let calc = if op.is_float_only() {
                        dt.to_float()
                    } else if matches!(op, BinaryOp::LogicalAnd | BinaryOp::LogicalOr) {
                        Dtype::Bool
                    } else if matches!(op, BinaryOp::LeftShift | BinaryOp::RightShift)
                        && dt == Dtype::Bool
                    {
                        Dtype::Uint8 // MLX shifts bools as uint8
                    } else {
                        dt
                    };
                    let out_dt = if op.outputs_bool() { Dtype::Bool } else { calc };
                    let (xa, xb) = (stored(&xa, calc), stored(&xb, calc));
                    let ba = mlx_arm::ops::broadcast_to(
                        array(&xa, sa, calc),
                        &so.iter().map(|&d| d as i32).collect::<Vec<_>>(),
                    )
                    .unwrap()
                    .to_f64_vec()
                    .unwrap();
                    let bb = mlx_arm::ops::broadcast_to(
                        array(&xb, sb, calc),
                        &so.iter().map(|&d| d as i32).collect::<Vec<_>>(),
                    )
                    .unwrap()
                    .to_f64_vec()
                    .unwrap();
                    let want: Vec<f64> = ba
                        .iter()
                        .zip(&bb)
                        .map(|(&a, &b)| to_dtype(binary_ref(op, a, b, calc), out_dt))
                        .collect();
                    for layout in LAYOUTS {
                        let a = laid_out(&va, sa, dt, layout);
                        let b = laid_out(&vb, sb, dt, Layout::Contiguous);
                        let what =
                            format!("{} {dt} {sa:?}x{sb:?} {layout:?} on {device}", op.name());
                        let r = std::panic::catch_unwind(|| {
                            let got = ops::binary_device(op, &a, &b, device).unwrap();
                            check(&what, &got, &want, so, out_dt, tolerance(out_dt));
                        });
                        if let Err(e) = r {
                            failures.push(e.downcast_ref::<String>().cloned().unwrap_or(what));
                        }
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
fn where_and_astype_match_reference() {
    for device in devices() {
        for &dt in &ALL {
            if !runs(device, dt) {
                continue;
            }
            let (lo, hi) = default_range(dt);
            let c = values(1, 12, Dtype::Bool, 0.0, 1.0);
            let x = values(2, 12, dt, lo, hi);
            let y = values(3, 4, dt, lo, hi);
            let cond = array(&c, &[3, 4], Dtype::Bool);
            let got = ops::where_device(
                &cond,
                laid_out(&x, &[3, 4], dt, Layout::Transposed),
                array(&y, &[4], dt),
                device,
            )
            .unwrap();
            let (sx, sy) = (stored(&x, dt), stored(&y, dt));
            let want: Vec<f64> = (0..12)
                .map(|i| if c[i] != 0.0 { sx[i] } else { sy[i % 4] })
                .collect();
            check(
                &format!("where {dt} on {device}"),
                &got,
                &want,
                &[3, 4],
                dt,
                (0.0, 0.0),
            );
            for &to in &ALL {
                if !runs(device, to) {
                    continue;
                }
                let got =
                    ops::astype_device(laid_out(&x, &[3, 4], dt, Layout::Strided), to, device)
                        .unwrap();
                let want: Vec<f64> = sx
                    .iter()
                    .map(|&v| {
                        if to.is_float() {
                            stored(&[v], to)[0]
                        } else if to == Dtype::Bool {
                            (v != 0.0) as u8 as f64
                        } else if dt.is_float() {
                            // float to int saturates (Rust `as`)
                            let (mn, mx) = int_range(to);
                            v.trunc().clamp(mn, mx)
                        } else {
                            to_dtype(v, to)
                        }
                    })
                    .collect();
                check(
                    &format!("astype {dt}->{to} on {device}"),
                    &got,
                    &want,
                    &[3, 4],
                    to,
                    tolerance(to),
                );
            }
        }
    }
}

fn int_range(dt: Dtype) -> (f64, f64) {
    let bits = dt.size() as i32 * 8;
    if dt.is_signed_int() {
        (-(2f64.powi(bits - 1)), 2f64.powi(bits - 1) - 1.0)
    } else {
        (0.0, 2f64.powi(bits) - 1.0)
    }
}

#[test]
fn promotion_and_weak_scalars_follow_mlx() {
    let a = array(&[1.0, 2.0], &[2], Dtype::Int8);
    assert_eq!(ops::add(&a, 1i32).unwrap().dtype(), Dtype::Int8);
    assert_eq!(ops::add(&a, 1.5f32).unwrap().dtype(), Dtype::Float32);
    let h = array(&[1.0, 2.0], &[2], Dtype::Float16);
    assert_eq!(ops::multiply(&h, 2.0f32).unwrap().dtype(), Dtype::Float16);
    let u = array(&[1.0], &[1], Dtype::Uint8);
    assert_eq!(ops::add(&u, &a).unwrap().dtype(), Dtype::Int16);
    assert_eq!(ops::divide(&a, &a).unwrap().dtype(), Dtype::Float32);
    let b = array(&[1.0], &[1], Dtype::Bool);
    assert_eq!(ops::add(&b, 1i32).unwrap().dtype(), Dtype::Int32);
}

#[test]
fn large_grids_fold_past_65535_workgroups() {
    // 65,536 * 256 + 3 elements needs more than 65,535 workgroups of 256 invocations.
    let n = 65_536 * 256 + 3;
    for device in devices() {
        let a = ops::arange_device(0.0, n as f64, 1.0, Dtype::Int32, device).unwrap();
        let b = ops::add_device(&a, 1i32, device).unwrap();
        let v = b.to_vec::<i32>().unwrap();
        assert_eq!(v[0], 1);
        assert_eq!(v[n - 1], n as i32);
        assert_eq!(v[n / 2], (n / 2) as i32 + 1);
        let r = ops::reshape(&b, &[-1, 1]).unwrap();
        let s = ops::sum_device(&r, Some(&[1]), false, device).unwrap();
        assert_eq!(s.shape(), &[n]);
        assert_eq!(s.to_vec::<i32>().unwrap()[n - 1], n as i32);
    }
}

#[test]
fn gpu_rejects_64_bit_dtypes_with_a_clear_error() {
    if !mlx_arm::backend::gpu_available() {
        return;
    }
    let a = array(&[1.0, 2.0], &[2], Dtype::Float64);
    let e = ops::exp_device(&a, Device::gpu())
        .unwrap()
        .eval()
        .unwrap_err()
        .to_string();
    assert!(e.contains("float64") && e.contains("gpu"), "{e}");
}
