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
            assert!(held >= 4_000_000, "{device}: 1M floats should count ({held} bytes)");
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
            assert!(peak < 16 * 4_000_000, "{device}: chain peaked at {peak} bytes");
            drop((x, y));
            // the limit: an allocation past it fails with OutOfMemory
            let prev = memory::set_memory_limit(memory::get_active_memory() + 1_000_000);
            let big = ops::add(ops::arange(0.0, 1e6, 1.0, Dtype::Float32).unwrap(), 1.0f32).unwrap();
            let err = big.eval().unwrap_err();
            assert!(matches!(err, Error::OutOfMemory { .. }), "{device}: {err}");
            memory::set_memory_limit(prev);
            big.eval().unwrap();
            assert_eq!(big.to_vec::<f32>().unwrap()[999_999], 1_000_000.0);
            memory::clear_cache();
            assert_eq!(memory::get_cache_memory(), 0);
        });
    }
    let _ = Device::cpu();
}
