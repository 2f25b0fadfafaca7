//! Criterion bench: elementwise add of 16 Mi float32 on every device (GB/s counts the two reads
//! and the write).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mlx_arm::{backend, ops, Device, Dtype};

fn bench_add(c: &mut Criterion) {
    let n = 1usize << 24;
    let mut g = c.benchmark_group("add_f32_16Mi");
    g.throughput(Throughput::Bytes((3 * 4 * n) as u64));
    g.sample_size(20);
    for device in [Device::cpu(), Device::gpu()] {
        if device == Device::gpu() && !backend::gpu_available() {
            eprintln!("no GPU adapter: skipping the GPU bench");
            continue;
        }
        let a = ops::contiguous_device(
            ops::arange_device(0.0, n as f64, 1.0, Dtype::Float32, device).unwrap(),
            device,
        )
        .unwrap();
        let b = ops::contiguous_device(
            ops::full_device(&[n as i32], 2.0, Dtype::Float32, device).unwrap(),
            device,
        )
        .unwrap();
        a.eval().unwrap();
        b.eval().unwrap();
        g.bench_function(format!("{device}"), |bn| {
            bn.iter(|| {
                let r = ops::add_device(&a, &b, device).unwrap();
                r.eval().unwrap();
                mlx_arm::synchronize(device).unwrap();
                r
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench_add);
criterion_main!(benches);
