//! Criterion bench of CPU matmul shapes the square `matmul` bench does not cover: decode-shaped
//! products (a few rows times a 4096 x 4096 weight, memory-bound) and a tall-skinny one. GFLOP/s
//! counts 2·M·N·K. `MLX_ARM_GEMM_THREADS=gemm|rows|cols` switches how the CPU backend spreads a
//! product over threads (default: one block of rows or columns per rayon thread).
//!
//!     cargo bench --bench cpu_matmul

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use mlx_arm::{ops, random, Array, Device, Dtype};

fn input(shape: &[i32], seed: u64) -> Array {
    let cpu = Device::cpu();
    let key = random::key(seed).unwrap();
    let lo = ops::full_device(&[], -1.0, Dtype::Float32, cpu).unwrap();
    let x = random::uniform_device(&lo, 1.0, shape, Dtype::Float32, Some(&key), cpu).unwrap();
    x.eval().unwrap();
    x
}

fn bench_shapes(c: &mut Criterion) {
    let cpu = Device::cpu();
    let mut g = c.benchmark_group("cpu_matmul_f32");
    g.sample_size(20);
    for &(m, k, n) in &[
        (1usize, 4096usize, 4096usize),
        (8, 4096, 4096),
        (4096, 256, 64),
    ] {
        let a = input(&[m as i32, k as i32], 1);
        let b = input(&[k as i32, n as i32], 2);
        g.throughput(Throughput::Elements((2 * m * n * k) as u64));
        g.bench_function(format!("{m}x{k}x{n}"), |bn| {
            bn.iter(|| {
                let r = ops::matmul_device(&a, &b, cpu).unwrap();
                r.eval().unwrap();
                r
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench_shapes);
criterion_main!(benches);
