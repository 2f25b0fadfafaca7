//! The main demo: fits a linear model by gradient descent on the default device (the GPU when
//! one is found), then checks the fit against the CPU, printing what ran where.
//!
//! `cargo run --release --example demo`

use mlx_arm::{ops, random, transforms, Array, Device, Dtype, Result};

fn main() -> Result<()> {
    let device = Device::default_device();
    let describe = mlx_arm::backend::backend(device)?.describe();
    println!("default device: {device} — {describe}");

    // y = X @ w_true + noise, 4096 samples of 64 features
    let (n, d) = (4096, 64);
    let keys = random::split(&random::key(7)?, 3)?;
    let k = |i: i32| ops::take(&keys, &Array::from_slice(&[i], &[]), Some(0));
    let x = random::normal(&[n, d], Dtype::Float32, 0.0, 1.0, Some(&k(0)?))?;
    let w_true = random::uniform(-1.0f32, 1.0f32, &[d, 1], Dtype::Float32, Some(&k(1)?))?;
    let noise = ops::multiply(
        random::normal(&[n, 1], Dtype::Float32, 0.0, 1.0, Some(&k(2)?))?,
        0.01f32,
    )?;
    let y = ops::add(ops::matmul(&x, &w_true)?, &noise)?;

    let loss = |args: &[Array]| -> Result<Array> {
        let pred = ops::matmul(&args[1], &args[0])?;
        ops::mean(ops::square(ops::subtract(pred, &args[2])?)?, false)
    };
    let step = transforms::value_and_grad(loss, &[0]);
    let mut w = ops::zeros(&[d, 1], Dtype::Float32)?;
    let start = std::time::Instant::now();
    for it in 0..200 {
        let (l, g) = step(&[w.clone(), x.clone(), y.clone()])?;
        w = ops::subtract(&w, ops::multiply(&g[0], 0.1f32)?)?;
        transforms::eval(&[&w, &l])?;
        if it % 50 == 0 || it == 199 {
            println!("step {it:3}  loss {:.6}", l.item::<f32>()?);
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let err = ops::max(ops::abs(ops::subtract(&w, &w_true)?)?, false)?.item::<f32>()?;
    println!("200 steps in {secs:.2}s on {device}; max |w - w_true| = {err:.4}");

    // the same prediction on the CPU agrees with the default device
    let p_dev = ops::matmul(&x, &w)?;
    let p_cpu = ops::matmul_device(&x, &w, Device::cpu())?;
    let diff = ops::max(
        ops::abs(ops::subtract_device(&p_dev, &p_cpu, Device::cpu())?)?,
        false,
    )?
    .item::<f32>()?;
    println!("default device vs CPU prediction: max difference {diff:.2e}");
    println!(
        "{}",
        ops::softmax_axis(
            ops::reshape(ops::slice(&w, &[0, 0], &[4, 1], &[])?, &[1, 4])?,
            -1
        )?
    );
    if err > 0.05 {
        return Err(mlx_arm::Error::arg(
            "demo",
            format!("the fit did not converge (error {err})"),
        ));
    }
    Ok(())
}
