//! Peer benchmarks for MLX-ARM (issue 3): the same cases measured with burn's wgpu backend on
//! the GPU and with candle on the CPU, in one process, so that a run on the lent GPU machine
//! gives same-run reference figures next to MLX-ARM's own benches.
//!
//! ```text
//! peers --suite matmul|elementwise|reduce|softmax|all --device cpu|gpu
//!       [--json out.json] [--quick] [--warmup N] [--runs N]
//! ```
//!
//! Every case: `warmup` untimed runs, then `runs` timed runs, each ended by a full sync
//! (burn: `Device::sync`, which flushes the fusion queue and waits for the GPU; candle's CPU
//! ops are synchronous), and the median is reported. Outputs stay alive until after the sync
//! so no lazy/fused backend can drop the work.
//!
//! GFLOP/s for matmul = 2·m·n·k / t / 1e9. GB/s (1e9 bytes) counts the bytes an ideal kernel
//! moves: add 3 × 4 B/element (two reads, one write), sum 4 B/element, softmax 2 × 4 B/element
//! (one read, one write) whatever the implementation really reads.

use std::hint::black_box;
use std::time::Instant;

const BURN_VERSION: &str = "0.22.1";
const CANDLE_VERSION: &str = "0.11.1";

const MI: usize = 1 << 20;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Suite {
    Matmul,
    Elementwise,
    Reduce,
    Softmax,
}

impl Suite {
    fn name(self) -> &'static str {
        match self {
            Suite::Matmul => "matmul",
            Suite::Elementwise => "elementwise",
            Suite::Reduce => "reduce",
            Suite::Softmax => "softmax",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum DeviceArg {
    Cpu,
    Gpu,
}

struct Args {
    suites: Vec<Suite>,
    device: DeviceArg,
    json: Option<String>,
    quick: bool,
    warmup: usize,
    runs: usize,
}

fn usage() -> ! {
    eprintln!(
        "usage: peers --suite matmul|elementwise|reduce|softmax|all --device cpu|gpu \
         [--json out.json] [--quick] [--warmup N] [--runs N]\n\
         --quick (or PEERS_QUICK=1): small sizes only, for a smoke run on a software adapter"
    );
    std::process::exit(2)
}

fn parse_args() -> Args {
    let mut suites = vec![Suite::Matmul, Suite::Elementwise, Suite::Reduce, Suite::Softmax];
    let mut device = None;
    let mut json = None;
    let mut quick = std::env::var("PEERS_QUICK").is_ok_and(|v| !v.is_empty() && v != "0");
    let mut warmup = 3;
    let mut runs = 10;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut val = || it.next().unwrap_or_else(|| usage());
        match a.as_str() {
            "--suite" => {
                suites = match val().as_str() {
                    "matmul" => vec![Suite::Matmul],
                    "elementwise" => vec![Suite::Elementwise],
                    "reduce" => vec![Suite::Reduce],
                    "softmax" => vec![Suite::Softmax],
                    "all" => vec![Suite::Matmul, Suite::Elementwise, Suite::Reduce, Suite::Softmax],
                    _ => usage(),
                }
            }
            "--device" => {
                device = Some(match val().as_str() {
                    "cpu" => DeviceArg::Cpu,
                    "gpu" => DeviceArg::Gpu,
                    _ => usage(),
                })
            }
            "--json" => json = Some(val()),
            "--quick" => quick = true,
            "--warmup" => warmup = val().parse().unwrap_or_else(|_| usage()),
            "--runs" => runs = val().parse().unwrap_or_else(|_| usage()),
            "-h" | "--help" => usage(),
            _ => usage(),
        }
    }
    let Some(device) = device else { usage() };
    if runs == 0 {
        usage()
    }
    Args { suites, device, json, quick, warmup, runs }
}

/// What a case's throughput counts.
#[derive(Clone, Copy)]
enum Work {
    /// Floating-point operations.
    Flops(f64),
    /// Bytes moved.
    Bytes(f64),
}

struct Record {
    peer: String,
    suite: Suite,
    op: String,
    shape: String,
    dtype: String,
    median_s: f64,
    min_s: f64,
    runs: usize,
    work: Work,
}

impl Record {
    fn rate(&self) -> (f64, &'static str) {
        match self.work {
            Work::Flops(f) => (f / self.median_s / 1e9, "GFLOP/s"),
            Work::Bytes(b) => (b / self.median_s / 1e9, "GB/s"),
        }
    }

    fn print(&self) {
        let (rate, unit) = self.rate();
        println!(
            "{:<10} {:<16} {:<16} {:<5} {:>10.3} {:>10.1} {}",
            self.peer,
            self.op,
            self.shape,
            self.dtype,
            self.median_s * 1e3,
            rate,
            unit
        );
    }

    fn json(&self, version: &str, device_name: &str) -> serde_json::Value {
        let (rate, _) = self.rate();
        let mut o = serde_json::json!({
            "peer": self.peer,
            "version": version,
            "device": device_name,
            "suite": self.suite.name(),
            "op": self.op,
            "shape": self.shape,
            "dtype": self.dtype,
            "median_s": self.median_s,
            "min_s": self.min_s,
            "runs": self.runs,
        });
        match self.work {
            Work::Flops(_) => o["gflops"] = rate.into(),
            Work::Bytes(_) => o["gbps"] = rate.into(),
        }
        o
    }
}

/// Runs `f` `warmup` times untimed, then `runs` times timed; `f` must return only once its work
/// is complete. Returns (median, min).
fn time_it(warmup: usize, runs: usize, mut f: impl FnMut()) -> (f64, f64) {
    for _ in 0..warmup {
        f();
    }
    let mut ts: Vec<f64> = (0..runs)
        .map(|_| {
            let t0 = Instant::now();
            f();
            t0.elapsed().as_secs_f64()
        })
        .collect();
    ts.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let n = ts.len();
    let median = if n % 2 == 1 { ts[n / 2] } else { 0.5 * (ts[n / 2 - 1] + ts[n / 2]) };
    (median, ts[0])
}

// ---------------------------------------------------------------------------------------------
// GPU: burn with the wgpu backend (default adapter, default features: autotune + fusion).
// ---------------------------------------------------------------------------------------------

mod gpu {
    use super::*;
    use burn::tensor::activation::softmax;
    use burn::tensor::{Device, DeviceKind, Distribution, FloatDType, Tensor};

    pub const PEER: &str = "burn-wgpu";

    pub fn device() -> (Device, String) {
        let device = Device::wgpu(DeviceKind::DefaultDevice);
        let name = device
            .identity()
            .map(|i| i.name)
            .unwrap_or_else(|| format!("{device:?}"));
        (device, name)
    }

    fn sync(device: &Device) {
        device.sync().expect("burn device sync failed");
    }

    fn rand2(device: &Device, m: usize, n: usize, dtype: FloatDType) -> Tensor<2> {
        let t = Tensor::<2>::random([m, n], Distribution::Uniform(-1.0, 1.0), device);
        let t = if dtype == FloatDType::F32 { t } else { t.cast(dtype) };
        sync(device);
        t
    }

    fn rand1(device: &Device, n: usize) -> Tensor<1> {
        let t = Tensor::<1>::random([n], Distribution::Uniform(-1.0, 1.0), device);
        sync(device);
        t
    }

    pub fn run(args: &Args, device: &Device, out: &mut Vec<Record>) {
        for &suite in &args.suites {
            match suite {
                Suite::Matmul => {
                    let mut cases: Vec<(usize, FloatDType)> = if args.quick {
                        vec![(128, FloatDType::F32), (256, FloatDType::F32), (256, FloatDType::F16)]
                    } else {
                        vec![
                            (512, FloatDType::F32),
                            (1024, FloatDType::F32),
                            (2048, FloatDType::F32),
                            (4096, FloatDType::F32),
                            (4096, FloatDType::F16),
                        ]
                    };
                    cases.retain(|&(_, dt)| {
                        let ok = dt == FloatDType::F32 || device.supports_dtype(dt);
                        if !ok {
                            eprintln!("{PEER}: device does not support {dt:?}; skipping that case");
                        }
                        ok
                    });
                    for (n, dt) in cases {
                        let a = rand2(device, n, n, dt);
                        let b = rand2(device, n, n, dt);
                        let (median, min) = time_it(args.warmup, args.runs, || {
                            let c = a.clone().matmul(b.clone());
                            sync(device);
                            drop(black_box(c));
                        });
                        out.push(Record {
                            peer: PEER.into(),
                            suite,
                            op: "matmul".into(),
                            shape: format!("{n}x{n}x{n}"),
                            dtype: dtype_name(dt).into(),
                            median_s: median,
                            min_s: min,
                            runs: args.runs,
                            work: Work::Flops(2.0 * (n as f64).powi(3)),
                        });
                        out.last().unwrap().print();
                    }
                }
                Suite::Elementwise => {
                    let sizes: &[usize] = if args.quick { &[MI] } else { &[16 * MI, 64 * MI] };
                    for &n in sizes {
                        let a = rand1(device, n);
                        let b = rand1(device, n);
                        let (median, min) = time_it(args.warmup, args.runs, || {
                            let c = a.clone() + b.clone();
                            sync(device);
                            drop(black_box(c));
                        });
                        out.push(Record {
                            peer: PEER.into(),
                            suite,
                            op: "add".into(),
                            shape: size_name(n),
                            dtype: "f32".into(),
                            median_s: median,
                            min_s: min,
                            runs: args.runs,
                            work: Work::Bytes(12.0 * n as f64),
                        });
                        out.last().unwrap().print();
                    }
                }
                Suite::Reduce => {
                    let n = if args.quick { MI } else { 64 * MI };
                    let a = rand1(device, n);
                    let (median, min) = time_it(args.warmup, args.runs, || {
                        let s = a.clone().sum();
                        sync(device);
                        drop(black_box(s));
                    });
                    out.push(Record {
                        peer: PEER.into(),
                        suite,
                        op: "sum".into(),
                        shape: size_name(n),
                        dtype: "f32".into(),
                        median_s: median,
                        min_s: min,
                        runs: args.runs,
                        work: Work::Bytes(4.0 * n as f64),
                    });
                    out.last().unwrap().print();
                }
                Suite::Softmax => {
                    let n = if args.quick { 256 } else { 4096 };
                    let x = rand2(device, n, n, FloatDType::F32);
                    let (median, min) = time_it(args.warmup, args.runs, || {
                        let y = softmax(x.clone(), 1);
                        sync(device);
                        drop(black_box(y));
                    });
                    out.push(Record {
                        peer: PEER.into(),
                        suite,
                        op: "softmax".into(),
                        shape: format!("{n}x{n}"),
                        dtype: "f32".into(),
                        median_s: median,
                        min_s: min,
                        runs: args.runs,
                        work: Work::Bytes(8.0 * (n * n) as f64),
                    });
                    out.last().unwrap().print();
                }
            }
        }
    }

    fn dtype_name(dt: FloatDType) -> &'static str {
        match dt {
            FloatDType::F32 => "f32",
            FloatDType::F16 => "f16",
            FloatDType::BF16 => "bf16",
            _ => "other",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// CPU: candle (pure-Rust CPU backend: gemm crate for matmul, rayon for the rest).
// ---------------------------------------------------------------------------------------------

mod cpu {
    use super::*;
    use candle_core::{DType, Device, Tensor, D};

    pub const PEER: &str = "candle";

    fn rand(shape: &[usize]) -> Tensor {
        Tensor::rand(-1f32, 1f32, shape, &Device::Cpu).expect("candle rand")
    }

    /// Softmax over the last axis composed from candle's own ops, the way numpy has to do it.
    fn softmax_composed(x: &Tensor) -> candle_core::Result<Tensor> {
        let m = x.max_keepdim(D::Minus1)?;
        let e = x.broadcast_sub(&m)?.exp()?;
        let s = e.sum_keepdim(D::Minus1)?;
        e.broadcast_div(&s)
    }

    pub fn run(args: &Args, out: &mut Vec<Record>) {
        for &suite in &args.suites {
            match suite {
                Suite::Matmul => {
                    let sizes: &[usize] = if args.quick { &[128, 256] } else { &[512, 1024, 2048] };
                    for &n in sizes {
                        let a = rand(&[n, n]);
                        let b = rand(&[n, n]);
                        let flops = 2.0 * (n as f64).powi(3);
                        let (median, min) = time_it(args.warmup, args.runs, || {
                            black_box(a.matmul(&b).expect("candle matmul"));
                        });
                        out.push(Record {
                            peer: PEER.into(),
                            suite,
                            op: "matmul".into(),
                            shape: format!("{n}x{n}x{n}"),
                            dtype: "f32".into(),
                            median_s: median,
                            min_s: min,
                            runs: args.runs,
                            work: Work::Flops(flops),
                        });
                        out.last().unwrap().print();
                    }
                }
                Suite::Elementwise => {
                    let n = if args.quick { MI } else { 16 * MI };
                    let a = rand(&[n]);
                    let b = rand(&[n]);
                    let (median, min) = time_it(args.warmup, args.runs, || {
                        black_box(a.add(&b).expect("candle add"));
                    });
                    out.push(Record {
                        peer: PEER.into(),
                        suite,
                        op: "add".into(),
                        shape: size_name(n),
                        dtype: "f32".into(),
                        median_s: median,
                        min_s: min,
                        runs: args.runs,
                        work: Work::Bytes(12.0 * n as f64),
                    });
                    out.last().unwrap().print();
                }
                Suite::Reduce => {
                    let n = if args.quick { MI } else { 64 * MI };
                    let a = rand(&[n]);
                    let (median, min) = time_it(args.warmup, args.runs, || {
                        black_box(a.sum_all().expect("candle sum"));
                    });
                    out.push(Record {
                        peer: PEER.into(),
                        suite,
                        op: "sum".into(),
                        shape: size_name(n),
                        dtype: "f32".into(),
                        median_s: median,
                        min_s: min,
                        runs: args.runs,
                        work: Work::Bytes(4.0 * n as f64),
                    });
                    out.last().unwrap().print();
                }
                Suite::Softmax => {
                    let n = if args.quick { 256 } else { 4096 };
                    let x = rand(&[n, n]);
                    assert_eq!(x.dtype(), DType::F32);
                    type SoftmaxFn = fn(&Tensor) -> candle_core::Result<Tensor>;
                    let variants: [(&str, SoftmaxFn); 2] = [
                        ("softmax", candle_nn::ops::softmax_last_dim),
                        ("softmax_composed", softmax_composed),
                    ];
                    for (op, f) in variants {
                        let (median, min) = time_it(args.warmup, args.runs, || {
                            black_box(f(&x).expect("candle softmax"));
                        });
                        out.push(Record {
                            peer: PEER.into(),
                            suite,
                            op: op.into(),
                            shape: format!("{n}x{n}"),
                            dtype: "f32".into(),
                            median_s: median,
                            min_s: min,
                            runs: args.runs,
                            work: Work::Bytes(8.0 * (n * n) as f64),
                        });
                        out.last().unwrap().print();
                    }
                }
            }
        }
    }
}

fn size_name(n: usize) -> String {
    if n % MI == 0 {
        format!("{}Mi", n / MI)
    } else {
        n.to_string()
    }
}

fn main() {
    let args = parse_args();
    let mut records = Vec::new();
    let (version, device_name) = match args.device {
        DeviceArg::Gpu => {
            let (device, name) = gpu::device();
            eprintln!("# burn {BURN_VERSION}, wgpu backend, adapter: {name}");
            println!(
                "{:<10} {:<16} {:<16} {:<5} {:>10} {:>10}",
                "peer", "op", "shape", "dtype", "median_ms", "rate"
            );
            gpu::run(&args, &device, &mut records);
            (BURN_VERSION, name)
        }
        DeviceArg::Cpu => {
            let threads = candle_core::utils::get_num_threads();
            eprintln!("# candle {CANDLE_VERSION}, CPU, {threads} threads");
            println!(
                "{:<10} {:<16} {:<16} {:<5} {:>10} {:>10}",
                "peer", "op", "shape", "dtype", "median_ms", "rate"
            );
            cpu::run(&args, &mut records);
            (CANDLE_VERSION, format!("cpu ({threads} threads)"))
        }
    };
    if let Some(path) = &args.json {
        let arr: Vec<_> = records.iter().map(|r| r.json(version, &device_name)).collect();
        let text = serde_json::to_string_pretty(&arr).expect("serialize");
        std::fs::write(path, text + "\n").unwrap_or_else(|e| panic!("writing {path}: {e}"));
        eprintln!("# wrote {} records to {path}", records.len());
    }
}
