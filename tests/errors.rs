//! Bad input returns a typed `Error` naming the op — never a panic, never wrong data.

mod common;
use common::*;
use mlx_arm::{ops, Array, Device, Dtype, Error};

fn a(shape: &[usize]) -> Array {
    array(&vec![1.0; shape.iter().product()], shape, Dtype::Float32)
}

fn names(e: Error, op: &str) {
    let s = e.to_string();
    assert!(s.contains(op), "error should name {op}: {s}");
}

#[test]
fn shape_errors_name_the_op() {
    names(ops::add(a(&[2, 3]), a(&[4])).unwrap_err(), "add");
    names(ops::matmul(a(&[2, 3]), a(&[4, 2])).unwrap_err(), "matmul");
    names(
        ops::matmul(a(&[2, 2, 3]), a(&[3, 3, 2])).unwrap_err(),
        "matmul",
    );
    names(
        ops::concatenate(&[a(&[2, 3]), a(&[3, 2])], 0).unwrap_err(),
        "concatenate",
    );
    names(ops::concatenate(&[], 0).unwrap_err(), "concatenate");
    names(ops::reshape(a(&[2, 3]), &[4, 2]).unwrap_err(), "reshape");
    names(ops::reshape(a(&[2, 3]), &[-1, -1]).unwrap_err(), "reshape");
    names(ops::reshape(a(&[2, 3]), &[-1, 4]).unwrap_err(), "reshape");
    names(
        ops::broadcast_to(a(&[2, 3]), &[3, 3]).unwrap_err(),
        "broadcast_to",
    );
    names(
        ops::where_device(a(&[2]), a(&[3]), a(&[2]), Device::cpu()).unwrap_err(),
        "where",
    );
    names(ops::squeeze(a(&[2, 3]), Some(&[0])).unwrap_err(), "squeeze");
    names(ops::stack(&[a(&[2]), a(&[3])], 0).unwrap_err(), "stack");
    names(ops::split(a(&[5]), 2, 0).unwrap_err(), "split");
    names(
        ops::slice_update(a(&[4]), a(&[3]), &[0], &[2], &[]).unwrap_err(),
        "slice_update",
    );
    names(
        ops::take_along_axis(a(&[2, 3]), Array::from_slice(&[0i32], &[1]), 0).unwrap_err(),
        "take_along_axis",
    );
    names(
        ops::as_strided(a(&[4]), &[3], &[2], 0).unwrap_err(),
        "as_strided",
    );
    names(
        Array::try_from_slice(&[1.0f32, 2.0], &[3]).unwrap_err(),
        "from_slice",
    );
    names(
        Array::try_from_slice(&[1.0f32], &[-1]).unwrap_err(),
        "from_slice",
    );
    names(
        Array::from_bytes(&[0u8; 3], &[1], Dtype::Float32).unwrap_err(),
        "from_bytes",
    );
}

#[test]
fn axis_errors_name_the_op() {
    names(ops::sum_axes(a(&[2, 3]), &[2], false).unwrap_err(), "sum");
    names(ops::sum_axes(a(&[2, 3]), &[-3], false).unwrap_err(), "sum");
    names(
        ops::sum_axes(a(&[2, 3]), &[1, -1], false).unwrap_err(),
        "sum",
    );
    names(
        ops::transpose(a(&[2, 3]), Some(&[0, 0])).unwrap_err(),
        "transpose",
    );
    names(ops::softmax_axis(a(&[2, 3]), 5).unwrap_err(), "softmax");
    names(
        ops::argmax_axis(a(&[2, 3]), -3, false).unwrap_err(),
        "argmax",
    );
    names(
        ops::cumsum(a(&[2, 3]), Some(2), false, true).unwrap_err(),
        "cumsum",
    );
    names(ops::sort(a(&[2, 3]), Some(9)).unwrap_err(), "sort");
    names(
        ops::take(a(&[2, 3]), Array::from_slice(&[0i32], &[1]), Some(2)).unwrap_err(),
        "take",
    );
    names(ops::expand_dims(a(&[2]), &[3]).unwrap_err(), "expand_dims");
    names(
        ops::flatten_device(a(&[2, 3]), 1, 0, Device::cpu()).unwrap_err(),
        "flatten",
    );
    assert!(matches!(a(&[2]).dim(3).unwrap_err(), Error::Axis { .. }));
}

#[test]
fn dtype_and_value_errors() {
    let i = Array::from_slice(&[1i32, 2], &[2]);
    names(ops::bitwise_and(a(&[2]), &i).unwrap_err(), "bitwise_and");
    names(ops::bitwise_invert(a(&[2])).unwrap_err(), "bitwise_invert");
    names(
        ops::negative(Array::from_bools(&[true], &[1]).unwrap()).unwrap_err(),
        "negative",
    );
    names(ops::take(a(&[3]), a(&[1]), None).unwrap_err(), "take");
    names(ops::matmul(&i, &i).unwrap_err(), "matmul");
    names(
        ops::arange(0.0, 1.0, 0.0, Dtype::Float32).unwrap_err(),
        "arange",
    );
    names(
        ops::arange(0.0, f64::INFINITY, 1.0, Dtype::Float32).unwrap_err(),
        "arange",
    );
    names(
        ops::linspace(0.0, 1.0, -1, Dtype::Float32).unwrap_err(),
        "linspace",
    );
    names(ops::slice(a(&[3]), &[0], &[3], &[0]).unwrap_err(), "slice");
    names(ops::pad(a(&[3]), &[(-1, 0)], 0.0).unwrap_err(), "pad");
    names(ops::topk(a(&[3]), 4, None).unwrap_err(), "topk");
    names(ops::partition(a(&[3]), 3, None).unwrap_err(), "partition");
    names(ops::clip(a(&[3]), None, None).unwrap_err(), "clip");
    assert!(matches!(
        a(&[2]).item::<f32>().unwrap_err(),
        Error::Shape { .. }
    ));
    assert!(matches!(
        a(&[1]).item::<i32>().unwrap_err(),
        Error::Dtype { .. }
    ));
    assert!(matches!(
        ops::transpose(a(&[2, 3]), None)
            .unwrap()
            .as_slice::<f32>()
            .unwrap_err(),
        Error::Argument { .. }
    ));
}

#[test]
fn empty_arrays_where_invalid() {
    for device in devices() {
        let e = array(&[], &[0, 3], Dtype::Float32);
        names(
            ops::max_device(&e, Some(&[0]), false, device).unwrap_err(),
            "max",
        );
        names(
            ops::argmax_device(&e, Some(0), false, device).unwrap_err(),
            "argmax",
        );
        names(
            ops::take_device(&e, Array::from_slice(&[0i32], &[1]), Some(0), device).unwrap_err(),
            "take",
        );
        // valid empty cases produce empty results
        assert_eq!(
            ops::sum_device(&e, Some(&[0]), false, device)
                .unwrap()
                .to_vec::<f32>()
                .unwrap(),
            vec![0.0; 3]
        );
        assert_eq!(
            ops::exp_device(&e, device)
                .unwrap()
                .to_vec::<f32>()
                .unwrap(),
            Vec::<f32>::new()
        );
    }
}

#[test]
fn integer_division_by_zero_gives_zero_not_a_trap() {
    for device in devices() {
        let x = Array::from_slice(&[7i32, -7, 0], &[3]);
        let z = Array::from_slice(&[0i32, 0, 0], &[3]);
        assert_eq!(
            ops::floor_divide_device(&x, &z, device)
                .unwrap()
                .to_vec::<i32>()
                .unwrap(),
            vec![0, 0, 0]
        );
        assert_eq!(
            ops::remainder_device(&x, &z, device)
                .unwrap()
                .to_vec::<i32>()
                .unwrap(),
            vec![0, 0, 0]
        );
        // true division promotes to float, as in MLX
        let d = ops::divide_device(&x, &z, device)
            .unwrap()
            .to_vec::<f32>()
            .unwrap();
        assert!(d[0].is_infinite() && d[1].is_infinite() && d[2].is_nan());
    }
}

#[test]
fn explicit_gpu_without_an_adapter_is_an_error() {
    // Runs this test binary again with the GPU switched off, in a child process (the GPU backend
    // is created once per process).
    if std::env::var("MLX_ARM_ERRORS_CHILD").is_ok() {
        let r = ops::add_device(a(&[2]), a(&[2]), Device::gpu())
            .unwrap()
            .eval();
        let e = r.unwrap_err();
        assert!(matches!(e, Error::NoDevice(_)), "{e}");
        println!("child saw: {e}");
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new(exe)
        .args([
            "explicit_gpu_without_an_adapter_is_an_error",
            "--exact",
            "--nocapture",
        ])
        .env("MLX_ARM_ERRORS_CHILD", "1")
        .env("MLX_ARM_GPU", "off")
        .env("MLX_ARM_DEVICE", "cpu")
        .env_remove("CI")
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("child saw: device unavailable"), "{text}");
}
