//! Memory accounting and limits: active/peak memory follow allocations, intermediates are freed
//! after their last use, and passing the memory limit is an error, not an abort.

mod common;
use common::*;
use mlx_arm::{memory, ops, Device, Dtype, Error};

#[test]
fn limits_accounting_and_release() {
    for device in devices() {
        mlx_arm::with_default_device(device, || {
            memory::clear_cache();
            let before = memory::get_active_memory();
            let x = ops::add(ops::arange(0.0, 1e6, 1.0, Dtype::Float32).unwrap(), 1.0f32).unwrap();
            x.eval().unwrap();
            let held = memory::get_active_memory() - before;
            assert!(
                held >= 4_000_000,
                "{device}: 1M floats should count ({held} bytes)"
            );
            assert!(memory::get_peak_memory() >= memory::get_active_memory());
            // a chain of 50 ops holds no more than a few intermediates at once
            memory::reset_peak_memory();
            let base = memory::get_active_memory();
            let mut y = x.clone();
            for _ in 0..50 {
                y = ops::multiply(&y, 1.0f32).unwrap();
            }
            y.eval().unwrap();
            let peak = memory::get_peak_memory() - base;
            assert!(
                peak < 16 * 4_000_000,
                "{device}: chain peaked at {peak} bytes"
            );
            drop((x, y));
            // the limit: an allocation past it fails with OutOfMemory
            let prev = memory::set_memory_limit(memory::get_active_memory() + 1_000_000);
            let big =
                ops::add(ops::arange(0.0, 1e6, 1.0, Dtype::Float32).unwrap(), 1.0f32).unwrap();
            let err = big.eval().unwrap_err();
            assert!(matches!(err, Error::OutOfMemory { .. }), "{device}: {err}");
            memory::set_memory_limit(prev);
            big.eval().unwrap();
            assert_eq!(big.to_vec::<f32>().unwrap()[999_999], 1_000_000.0);
            memory::clear_cache();
            assert_eq!(memory::get_cache_memory(), 0);
            drop(big);
            to_device_keeps_one_copy(device);
        });
    }
    let _ = Device::cpu();
}

/// `Array::to_device`: a host array used on the GPU keeps its host copy beside the uploaded one;
/// moved with `to_device` and the original dropped, only the device copy is left (on the CPU,
/// the one host copy). Views keep their shape, strides and offset.
fn to_device_keeps_one_copy(device: Device) {
    let n = 1usize << 20;
    let values: Vec<f32> = (0..n).map(|i| (i % 977) as f32 - 400.0).collect();
    let base = memory::get_active_memory();
    let host = mlx_arm::Array::from_slice(&values, &[1024, 1024]);
    let used = ops::sum(&host, false).unwrap();
    used.eval().unwrap();
    let both = memory::get_active_memory() - base;
    let moved = host.to_device(device).unwrap();
    drop(host);
    let one = memory::get_active_memory() - base;
    let bytes = 4 * n;
    assert!(
        one >= bytes && one < bytes + 65_536,
        "{device}: {one} bytes held after moving {bytes}"
    );
    if device == Device::gpu() {
        assert!(
            both >= 2 * bytes,
            "{device}: a used host array should be held twice ({both} bytes)"
        );
    }
    // the moved array computes as the original did, including through a strided view
    assert_eq!(moved.to_vec::<f32>().unwrap(), values);
    let view = ops::slice(&moved.t().unwrap(), &[3, 5], &[1000, 900], &[7, 3])
        .unwrap()
        .to_device(device)
        .unwrap();
    let want: Vec<f32> = (0..view.shape()[0])
        .flat_map(|i| (0..view.shape()[1]).map(move |j| (3 + 7 * i, 5 + 3 * j)))
        .map(|(r, c)| values[c * 1024 + r])
        .collect();
    assert_eq!(
        ops::multiply(&view, 1.0f32)
            .unwrap()
            .to_vec::<f32>()
            .unwrap(),
        want
    );
    // 16-bit floats stay 2 bytes per value on the device once moved (the GPU widens other
    // arrays to 32-bit words)
    drop((moved, view));
    let base = memory::get_active_memory();
    let half = mlx_arm::with_default_device(Device::cpu(), || {
        ops::astype(
            mlx_arm::Array::from_slice(&values, &[1024, 1024]),
            Dtype::Float16,
        )
    })
    .unwrap();
    half.eval().unwrap();
    let moved = half.to_device(device).unwrap();
    drop(half);
    let held = memory::get_active_memory() - base;
    assert!(
        held >= 2 * n && held < 2 * n + 65_536,
        "{device}: {held} bytes held for {n} moved f16 values"
    );
    assert_eq!(
        moved.to_vec::<half::f16>().unwrap(),
        values
            .iter()
            .map(|&v| half::f16::from_f32(v))
            .collect::<Vec<_>>()
    );
    let want_sum: f64 = values.iter().map(|&v| v as f64).sum();
    assert!(
        (used.item::<f32>().unwrap() as f64 - want_sum).abs() <= 1e-5 * want_sum.abs(),
        "{device}: sum"
    );
}
