//! Gradients of every differentiable primitive against central finite differences in f64 (CPU),
//! and the same gradients computed in f32 on every device against the f64 ones.

mod common;
use common::*;
use mlx_arm::{ops, transforms, Array, Device, Dtype, Result};

type F = Box<dyn Fn(&[Array]) -> Result<Array>>;

struct Case {
    name: &'static str,
    f: F,
    inputs: Vec<(Vec<usize>, f64, f64)>,
}

fn case(
    name: &'static str,
    inputs: Vec<(Vec<usize>, f64, f64)>,
    f: impl Fn(&[Array]) -> Result<Array> + 'static,
) -> Case {
    Case {
        name,
        f: Box::new(f),
        inputs,
    }
}

fn sh(v: &[usize]) -> Vec<usize> {
    v.to_vec()
}

fn cases() -> Vec<Case> {
    use mlx_arm::primitive::UnaryOp::*;
    let mut v = vec![];
    for (op, lo, hi) in [
        (Negative, -2.0, 2.0),
        (Abs, 0.2, 2.0),
        (Square, -2.0, 2.0),
        (Sqrt, 0.5, 3.0),
        (Rsqrt, 0.5, 3.0),
        (Reciprocal, 0.5, 3.0),
        (Exp, -2.0, 2.0),
        (Expm1, -2.0, 2.0),
        (Log, 0.5, 3.0),
        (Log1p, -0.5, 2.0),
        (Log2, 0.5, 3.0),
        (Log10, 0.5, 3.0),
        (Sin, -2.0, 2.0),
        (Cos, -2.0, 2.0),
        (Tan, -1.0, 1.0),
        (Arcsin, -0.8, 0.8),
        (Arccos, -0.8, 0.8),
        (Arctan, -2.0, 2.0),
        (Sinh, -2.0, 2.0),
        (Cosh, -2.0, 2.0),
        (Tanh, -2.0, 2.0),
        (Arcsinh, -2.0, 2.0),
        (Arccosh, 1.2, 3.0),
        (Arctanh, -0.8, 0.8),
        (Sigmoid, -3.0, 3.0),
        (Erf, -2.0, 2.0),
        (Erfinv, -0.8, 0.8),
    ] {
        v.push(Case {
            name: op.name(),
            f: Box::new(move |x: &[Array]| ops::unary_device(op, &x[0], x[0].stream())),
            inputs: vec![(sh(&[2, 3]), lo, hi)],
        });
    }
    let ab = || vec![(sh(&[3, 1]), 0.5, 2.0), (sh(&[1, 4]), 0.5, 2.0)];
    v.push(case("add", ab(), |x| ops::add(&x[0], &x[1])));
    v.push(case("subtract", ab(), |x| ops::subtract(&x[0], &x[1])));
    v.push(case("multiply", ab(), |x| ops::multiply(&x[0], &x[1])));
    v.push(case("divide", ab(), |x| ops::divide(&x[0], &x[1])));
    v.push(case("power", ab(), |x| ops::power(&x[0], &x[1])));
    v.push(case(
        "maximum",
        vec![(sh(&[3, 4]), -2.0, 2.0), (sh(&[3, 4]), -2.0, 2.0)],
        |x| ops::maximum(&x[0], &x[1]),
    ));
    v.push(case(
        "minimum",
        vec![(sh(&[3, 4]), -2.0, 2.0), (sh(&[3, 4]), -2.0, 2.0)],
        |x| ops::minimum(&x[0], &x[1]),
    ));
    v.push(case("arctan2", ab(), |x| ops::arctan2(&x[0], &x[1])));
    v.push(case("logaddexp", ab(), |x| ops::logaddexp(&x[0], &x[1])));
    v.push(case(
        "silu_mul",
        vec![(sh(&[3, 1]), -2.0, 2.0), (sh(&[1, 4]), -2.0, 2.0)],
        |x| ops::silu_mul(&x[0], &x[1]),
    ));
    v.push(case(
        "remainder",
        vec![(sh(&[5]), 2.1, 2.9), (sh(&[5]), 1.1, 1.9)],
        |x| ops::remainder(&x[0], &x[1]),
    ));
    v.push(case(
        "where",
        vec![(sh(&[2, 3]), -1.0, 1.0), (sh(&[2, 3]), -1.0, 1.0)],
        |x| ops::r#where(ops::greater(&x[0], 0.0f32)?, &x[0], &x[1]),
    ));
    v.push(case("clip", vec![(sh(&[7]), -2.0, 2.0)], |x| {
        ops::clip(&x[0], Some(Array::from(-1.0f32)), Some(Array::from(1.0f32)))
    }));
    v.push(case("sum", vec![(sh(&[3, 4]), -1.0, 1.0)], |x| {
        ops::sum_axes(&x[0], &[1], false)
    }));
    v.push(case("prod", vec![(sh(&[3, 4]), 0.5, 1.5)], |x| {
        ops::prod_axes(&x[0], &[0], true)
    }));
    v.push(case("max", vec![(sh(&[3, 4]), -1.0, 1.0)], |x| {
        ops::max_axes(&x[0], &[1], false)
    }));
    v.push(case("min", vec![(sh(&[3, 4]), -1.0, 1.0)], |x| {
        ops::min(&x[0], false)
    }));
    v.push(case("mean", vec![(sh(&[3, 4]), -1.0, 1.0)], |x| {
        ops::mean_axes(&x[0], &[0, 1], false)
    }));
    v.push(case("var", vec![(sh(&[3, 4]), -1.0, 1.0)], |x| {
        ops::var_axes(&x[0], &[1], false, 1)
    }));
    v.push(case("std", vec![(sh(&[3, 4]), -1.0, 1.0)], |x| {
        ops::std_axes(&x[0], &[0], true, 0)
    }));
    v.push(case("logsumexp", vec![(sh(&[3, 4]), -1.0, 1.0)], |x| {
        ops::logsumexp_axes(&x[0], &[1], false)
    }));
    v.push(case("softmax", vec![(sh(&[3, 4]), -1.0, 1.0)], |x| {
        ops::softmax_axis(&x[0], -1)
    }));
    v.push(case("cumsum", vec![(sh(&[2, 5]), -1.0, 1.0)], |x| {
        ops::cumsum(&x[0], Some(1), false, true)
    }));
    v.push(case(
        "cumsum reverse exclusive",
        vec![(sh(&[2, 5]), -1.0, 1.0)],
        |x| ops::cumsum(&x[0], Some(1), true, false),
    ));
    v.push(case("cumprod", vec![(sh(&[2, 5]), 0.5, 1.5)], |x| {
        ops::cumprod(&x[0], Some(1), false, true)
    }));
    v.push(case("cummax", vec![(sh(&[2, 6]), -1.0, 1.0)], |x| {
        ops::cummax(&x[0], Some(1), false, true)
    }));
    v.push(case(
        "cummin reverse",
        vec![(sh(&[2, 6]), -1.0, 1.0)],
        |x| ops::cummin(&x[0], Some(1), true, true),
    ));
    v.push(case(
        "reshape+transpose",
        vec![(sh(&[2, 3, 4]), -1.0, 1.0)],
        |x| ops::transpose(ops::reshape(&x[0], &[4, 6])?, None),
    ));
    v.push(case("broadcast_to", vec![(sh(&[3, 1]), -1.0, 1.0)], |x| {
        ops::broadcast_to(&x[0], &[2, 3, 4])
    }));
    v.push(case(
        "slice negative step",
        vec![(sh(&[4, 5]), -1.0, 1.0)],
        |x| ops::slice(&x[0], &[3, 0], &[i32::MIN, 5], &[-2, 2]),
    ));
    v.push(case("as_strided", vec![(sh(&[8]), -1.0, 1.0)], |x| {
        ops::as_strided(&x[0], &[3, 3], &[2, 1], 1)
    }));
    v.push(case(
        "concatenate",
        vec![(sh(&[2, 3]), -1.0, 1.0), (sh(&[2, 2]), -1.0, 1.0)],
        |x| ops::concatenate(&[x[0].clone(), x[1].clone()], 1),
    ));
    v.push(case("pad", vec![(sh(&[2, 3]), -1.0, 1.0)], |x| {
        ops::pad(&x[0], &[(1, 0), (2, 1)], 0.5)
    }));
    v.push(case("tile", vec![(sh(&[2, 3]), -1.0, 1.0)], |x| {
        ops::tile(&x[0], &[2, 1])
    }));
    v.push(case("repeat", vec![(sh(&[2, 3]), -1.0, 1.0)], |x| {
        ops::repeat(&x[0], 3, Some(0))
    }));
    v.push(case("flip+roll", vec![(sh(&[3, 4]), -1.0, 1.0)], |x| {
        ops::roll(ops::flip(&x[0], Some(&[1]))?, 2, Some(0))
    }));
    v.push(case(
        "slice_update",
        vec![(sh(&[3, 4]), -1.0, 1.0), (sh(&[2, 2]), -1.0, 1.0)],
        |x| ops::slice_update(&x[0], &x[1], &[1, 0], &[3, 4], &[1, 2]),
    ));
    v.push(case("take", vec![(sh(&[3, 4]), -1.0, 1.0)], |x| {
        ops::take(
            &x[0],
            Array::from_slice(&[2i32, 0, 2, -1], &[2, 2]),
            Some(1),
        )
    }));
    v.push(case(
        "take_along_axis",
        vec![(sh(&[3, 4]), -1.0, 1.0)],
        |x| ops::take_along_axis(&x[0], Array::from_slice(&[1i32, 1, 0], &[3, 1]), 1),
    ));
    v.push(case(
        "put_along_axis",
        vec![(sh(&[3, 4]), -1.0, 1.0), (sh(&[3, 1]), -1.0, 1.0)],
        |x| ops::put_along_axis(&x[0], Array::from_slice(&[1i32, 3, 0], &[3, 1]), &x[1], 1),
    ));
    v.push(case(
        "scatter_add",
        vec![(sh(&[3, 4]), -1.0, 1.0), (sh(&[1, 4]), -1.0, 1.0)],
        |x| {
            ops::scatter_add_along_axis(
                &x[0],
                Array::from_slice(&[2i32, 0, 2, 1], &[1, 4]),
                &x[1],
                0,
            )
        },
    ));
    v.push(case("gather", vec![(sh(&[3, 4]), -1.0, 1.0)], |x| {
        ops::gather(
            &x[0],
            &[
                Array::from_slice(&[0i32, 2, 2], &[3]),
                Array::from_slice(&[1i32, 3, 3], &[3]),
            ],
            &[0, 1],
            &[1, 1],
        )
    }));
    v.push(case("sort", vec![(sh(&[2, 5]), -1.0, 1.0)], |x| {
        ops::sort(&x[0], Some(1))
    }));
    v.push(case("topk", vec![(sh(&[2, 5]), -1.0, 1.0)], |x| {
        ops::topk(&x[0], 2, Some(1))
    }));
    v.push(case(
        "matmul",
        vec![(sh(&[2, 3, 4]), -1.0, 1.0), (sh(&[4, 5]), -1.0, 1.0)],
        |x| ops::matmul(&x[0], &x[1]),
    ));
    v.push(case(
        "matmul transposed",
        vec![(sh(&[4, 3]), -1.0, 1.0), (sh(&[5, 4]), -1.0, 1.0)],
        |x| ops::matmul(x[0].t()?, x[1].t()?),
    ));
    v.push(case(
        "tensordot",
        vec![(sh(&[2, 3, 4]), -1.0, 1.0), (sh(&[4, 3]), -1.0, 1.0)],
        |x| ops::tensordot(&x[0], &x[1], &[1, 2], &[1, 0]),
    ));
    v
}

fn loss_of<'a>(f: &'a F, w: &Array) -> impl Fn(&[Array]) -> Result<Array> + 'a {
    let w = w.clone();
    move |xs: &[Array]| ops::sum(ops::multiply(f(xs)?, &w)?, false)
}

fn check_case(c: &Case, seed: u64) -> std::result::Result<(), String> {
    let cpu = Device::cpu();
    mlx_arm::with_default_device(cpu, || {
        let xs: Vec<Array> = c
            .inputs
            .iter()
            .enumerate()
            .map(|(i, (s, lo, hi))| {
                array(
                    &values(
                        seed + i as u64,
                        s.iter().product(),
                        Dtype::Float64,
                        *lo,
                        *hi,
                    ),
                    s,
                    Dtype::Float64,
                )
            })
            .collect();
        let out = (c.f)(&xs).map_err(|e| e.to_string())?;
        let w = array(
            &values(seed + 99, out.size(), Dtype::Float64, -1.0, 1.0),
            out.shape(),
            Dtype::Float64,
        );
        let loss = loss_of(&c.f, &w);
        let argnums: Vec<usize> = (0..xs.len()).collect();
        let grads = transforms::grad(&loss, &argnums)(&xs).map_err(|e| e.to_string())?;
        let eps = 1e-6;
        for (i, x) in xs.iter().enumerate() {
            let base = x.to_f64_vec().unwrap();
            let g = grads[i].to_f64_vec().unwrap();
            assert_eq!(grads[i].shape(), x.shape(), "{}: grad shape", c.name);
            for j in 0..base.len() {
                let eval_at = |d: f64| {
                    let mut v = base.clone();
                    v[j] += d;
                    let mut ys = xs.clone();
                    ys[i] = array(&v, x.shape(), Dtype::Float64);
                    loss(&ys).unwrap().item::<f64>().unwrap()
                };
                let num = (eval_at(eps) - eval_at(-eps)) / (2.0 * eps);
                if (num - g[j]).abs() > 1e-5 + 1e-4 * num.abs() {
                    return Err(format!(
                        "{}: d/dx{i}[{j}] analytic {} vs numeric {num}",
                        c.name, g[j]
                    ));
                }
            }
        }
        // the same gradient in float32 on every other device
        for device in devices().into_iter().filter(|d| *d != cpu) {
            let xs32: Vec<Array> = xs
                .iter()
                .map(|x| {
                    ops::astype(x, Dtype::Float32)
                        .unwrap()
                        .to_f64_vec()
                        .map(|v| array(&v, x.shape(), Dtype::Float32))
                        .unwrap()
                })
                .collect();
            let w32 = array(&w.to_f64_vec().unwrap(), w.shape(), Dtype::Float32);
            let g32 = mlx_arm::with_default_device(device, || {
                transforms::grad(loss_of(&c.f, &w32), &argnums)(&xs32)
            })
            .map_err(|e| format!("{} on {device}: {e}", c.name))?;
            for (i, g) in g32.iter().enumerate() {
                let want = grads[i].to_f64_vec().unwrap();
                let got = g
                    .to_f64_vec()
                    .map_err(|e| format!("{} on {device}: {e}", c.name))?;
                for (j, (a, b)) in got.iter().zip(&want).enumerate() {
                    if (a - b).abs() > 1e-3 + 1e-3 * b.abs() {
                        return Err(format!(
                            "{} on {device}: d/dx{i}[{j}] {a} vs f64 {b}",
                            c.name
                        ));
                    }
                }
            }
        }
        Ok(())
    })
}

#[test]
fn gradients_match_finite_differences() {
    let failures: Vec<String> = cases()
        .iter()
        .enumerate()
        .filter_map(|(k, c)| check_case(c, 100 + k as u64).err())
        .collect();
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn value_and_grad_and_vjp_agree() {
    let x = Array::from_slice(&[1.0f32, 2.0, 3.0], &[3]);
    let f = |xs: &[Array]| ops::sum(ops::square(&xs[0])?, false);
    let (v, g) = transforms::value_and_grad(f, &[0])(&[x.clone()]).unwrap();
    assert_eq!(v.item::<f32>().unwrap(), 14.0);
    assert_eq!(g[0].to_vec::<f32>().unwrap(), vec![2.0, 4.0, 6.0]);
    let (outs, cts) = transforms::vjp(
        |xs| Ok(vec![ops::multiply(&xs[0], 3.0f32)?]),
        &[x.clone()],
        &[Array::from_slice(&[1.0f32, 0.0, 2.0], &[3])],
    )
    .unwrap();
    assert_eq!(outs[0].to_vec::<f32>().unwrap(), vec![3.0, 6.0, 9.0]);
    assert_eq!(cts[0].to_vec::<f32>().unwrap(), vec![3.0, 0.0, 6.0]);
    // stop_gradient blocks, unused inputs get zeros, non-scalar outputs are an error
    let g = transforms::grad(
        |xs: &[Array]| ops::sum(ops::multiply(ops::stop_gradient(&xs[0])?, &xs[0])?, false),
        &[0],
    )(&[x.clone()])
    .unwrap();
    assert_eq!(g[0].to_vec::<f32>().unwrap(), vec![1.0, 2.0, 3.0]);
    let g =
        transforms::grad(|xs: &[Array]| ops::sum(&xs[0], false), &[0, 1])(&[x.clone(), x.clone()])
            .unwrap();
    assert_eq!(g[1].to_vec::<f32>().unwrap(), vec![0.0, 0.0, 0.0]);
    assert!(transforms::grad(|xs: &[Array]| ops::square(&xs[0]), &[0])(&[x.clone()]).is_err());
    assert!(transforms::grad(|xs: &[Array]| ops::sum(&xs[0], false), &[3])(&[x]).is_err());
}

#[test]
fn eval_inside_a_traced_function_keeps_the_graph() {
    let x = Array::from_slice(&[1.0f32, 2.0], &[2]);
    let g = transforms::grad(
        |xs: &[Array]| {
            let y = ops::exp(&xs[0])?;
            y.eval()?;
            ops::sum(&y, false)
        },
        &[0],
    )(&[x])
    .unwrap();
    let v = g[0].to_vec::<f32>().unwrap();
    assert!((v[0] - 1f32.exp()).abs() < 1e-5 && (v[1] - 2f32.exp()).abs() < 1e-4);
}
