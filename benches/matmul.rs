//! Criterion bench: float32 matmul on every device (throughput in FLOP: 2·M·N·K per product).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mlx_arm::{backend, ops, random, Device, Dtype};

fn bench_matmul(c: &mut Criterion) {
    for n in [512usize, 1024, 2048] {
        let mut g = c.benchmark_group(format!("matmul_f32_{n}"));
        g.throughput(Throughput::Elements((2 * n * n * n) as u64));
        g.sample_size(10);
        for device in [Device::cpu(), Device::gpu()] {
            if device == Device::gpu() && !backend::gpu_available() {
                continue;
            }
            let shape = [n as i32, n as i32];
            let key = random::key(0).unwrap();
            let a = random::uniform_device(
                &ops::zeros(&[], Dtype::Float32).unwrap(),
                1.0,
                &shape,
                Dtype::Float32,
                Some(&key),
                device,
            )
            .unwrap();
            let b =
                ops::contiguous_device(ops::transpose_device(&a, None, device).unwrap(), device)
                    .unwrap();
            a.eval().unwrap();
            b.eval().unwrap();
            g.bench_function(format!("{device}"), |bn| {
                bn.iter(|| {
                    let r = ops::matmul_device(&a, &b, device).unwrap();
                    r.eval().unwrap();
                    mlx_arm::synchronize(device).unwrap();
                    r
                })
            });
        }
        g.finish();
    }
}

criterion_group!(benches, bench_matmul);
criterion_main!(benches);
