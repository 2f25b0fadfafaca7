//! Criterion bench of the CPU backend's SIMD paths: softmax over the last axis of (4096, 4096)
//! f32 (GB/s counts one read and one write per element), sums of that array over its last and
//! its first axis, sum and max of 16 Mi f32 (one read), and exp of 16 Mi f32. Compare with
//! numpy's composed softmax `e = np.exp(x - x.max(-1, keepdims=True)); e / e.sum(-1, keepdims=True)`,
//! `x.sum(-1)`, `x.sum(0)`, `v.sum()`, `v.max()`, `np.exp(v)`.
//!
//!     cargo bench --bench cpu_softmax [-- softmax|sum|max|exp]
//!
//! The thread count is rayon's (`RAYON_NUM_THREADS`, default: every core).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mlx_arm::{ops, random, Array, Device, Dtype};

fn input(shape: &[i32]) -> Array {
    let cpu = Device::cpu();
    let key = random::key(0).unwrap();
    let lo = ops::full_device(&[], -4.0, Dtype::Float32, cpu).unwrap();
    let x = random::uniform_device(&lo, 4.0, shape, Dtype::Float32, Some(&key), cpu).unwrap();
    x.eval().unwrap();
    x
}

fn bench_cpu(c: &mut Criterion) {
    let cpu = Device::cpu();
    let n = 4096usize;
    let x = input(&[n as i32, n as i32]);
    let mut g = c.benchmark_group("cpu_softmax_f32_4096x4096");
    g.throughput(Throughput::Bytes((2 * 4 * n * n) as u64));
    g.sample_size(20);
    g.bench_function("softmax", |b| {
        b.iter(|| {
            let r = ops::softmax_device(&x, Some(&[-1]), cpu).unwrap();
            r.eval().unwrap();
            r
        })
    });
    g.throughput(Throughput::Bytes((4 * n * n) as u64));
    g.bench_function("sum_last_axis", |b| {
        b.iter(|| {
            let r = ops::sum_device(&x, Some(&[-1]), false, cpu).unwrap();
            r.eval().unwrap();
            r
        })
    });
    g.bench_function("sum_first_axis", |b| {
        b.iter(|| {
            let r = ops::sum_device(&x, Some(&[0]), false, cpu).unwrap();
            r.eval().unwrap();
            r
        })
    });
    g.finish();

    let len = 1usize << 24;
    let v = input(&[len as i32]);
    let mut g = c.benchmark_group("cpu_f32_16Mi");
    g.throughput(Throughput::Bytes((4 * len) as u64));
    g.sample_size(20);
    g.bench_function("sum", |b| {
        b.iter(|| {
            let r = ops::sum_device(&v, None, false, cpu).unwrap();
            r.eval().unwrap();
            r
        })
    });
    g.bench_function("max", |b| {
        b.iter(|| {
            let r = ops::max_device(&v, None, false, cpu).unwrap();
            r.eval().unwrap();
            r
        })
    });
    g.bench_function("exp", |b| {
        b.iter(|| {
            let r = ops::exp_device(&v, cpu).unwrap();
            r.eval().unwrap();
            r
        })
    });
    g.finish();
}

criterion_group!(benches, bench_cpu);
criterion_main!(benches);
