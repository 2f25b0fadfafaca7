use mlx_arm::{array, ops, transforms, Array, Dtype};
fn main() -> mlx_arm::Result<()> {
    let a = array!([[1.0, 2.0], [3.0, 4.0]]);
    println!("{a}");
    let b = ops::matmul(&a, &a.t()?)?;
    println!("{b}");
    let c = ops::sum_axis(&b, 0, false)?;
    println!("{c} {}", ops::softmax_axis(&a, -1)?);
    let x = ops::arange(0.0, 10.0, 1.0, Dtype::Int32)?;
    println!("{} {}", x, ops::cumsum(&x, None, false, true)?);
    let g = transforms::grad(|xs: &[Array]| ops::sum(&ops::square(&xs[0])?, false), &[0]);
    println!("grad {}", g(&[a.clone()])?[0]);
    println!("{}", ops::sort(&array!([3, 1, 2]), None)?);
    println!("{}", ops::flip(&x, None)?);
    println!("{}", ops::concatenate(&[a.clone(), a.clone()], 1)?);
    println!("{}", ops::pad(&a, &[(1, 1), (0, 1)], 0.0)?);
    println!("{}", ops::eye(3, None, 0, Dtype::Float32)?);
    println!("{}", ops::take(&x, &array!([-1, 2]), None)?);
    Ok(())
}
