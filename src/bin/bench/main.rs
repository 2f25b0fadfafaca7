//! `bench`: one table of MLX-ARM's speed on one device, each figure also given as a fraction of
//! that device's roofline (copy bandwidth and FMA peak), which the harness measures itself first.
//!
//! ```text
//! cargo run --release --bin bench -- --suite matmul|elementwise|reduce|softmax|overhead|qmv|qmv-shapes|all \
//!     --device cpu|gpu [--json out.json] [--quick]
//! ```
//! Each case: warm-up runs, then the median of repeated runs; one run builds the graph, evaluates
//! it and waits for the device (`synchronize`), so graph and dispatch overhead are included.

use mlx_arm::{ops, random, synchronize, Array, Device, Dtype, Result};
use std::time::{Duration, Instant};

mod roofline;

/// One measured case.
struct Row {
    suite: &'static str,
    op: String,
    shape: String,
    dtype: Dtype,
    median_s: f64,
    /// GFLOP/s (compute-bound cases) or GB/s (memory-bound), and which.
    rate: f64,
    unit: &'static str,
    /// `rate` over the roofline figure of the same unit.
    of_roofline: f64,
}

struct Options {
    suites: Vec<String>,
    device: Device,
    json: Option<String>,
    quick: bool,
}

fn parse_args() -> std::result::Result<Options, String> {
    let mut o = Options {
        suites: vec!["all".into()],
        device: Device::gpu(),
        json: None,
        quick: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--suite" => o.suites = value()?.split(',').map(str::to_string).collect(),
            "--device" => {
                o.device = match value()?.as_str() {
                    "cpu" => Device::cpu(),
                    "gpu" => Device::gpu(),
                    d => return Err(format!("unknown device {d} (cpu or gpu)")),
                }
            }
            "--json" => o.json = Some(value()?),
            "--quick" => o.quick = true,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(o)
}

/// Median seconds of `f` after warm-up, repeating until ~`budget` has passed (3 to 50 runs).
fn time_median(
    device: Device,
    budget: Duration,
    mut f: impl FnMut() -> Result<Array>,
) -> Result<f64> {
    for _ in 0..2 {
        f()?.eval()?;
        synchronize(device)?;
    }
    let mut runs = vec![];
    let start = Instant::now();
    while runs.len() < 3 || (runs.len() < 50 && start.elapsed() < budget) {
        let t = Instant::now();
        let out = f()?;
        out.eval()?;
        synchronize(device)?;
        runs.push(t.elapsed().as_secs_f64());
    }
    runs.sort_by(f64::total_cmp);
    Ok(runs[runs.len() / 2])
}

fn input(shape: &[usize], dtype: Dtype, device: Device, seed: u64) -> Result<Array> {
    let dims: Vec<i32> = shape.iter().map(|&d| d as i32).collect();
    let key = random::key(seed)?;
    let a = random::uniform_device(-1.0f32, 1.0f32, &dims, dtype, Some(&key), device)?;
    a.eval()?;
    synchronize(device)?;
    Ok(a)
}

fn shape_str(s: &[usize]) -> String {
    s.iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("x")
}

struct Bench<'a> {
    o: &'a Options,
    roof: roofline::Roofline,
    rows: Vec<Row>,
    budget: Duration,
}

impl Bench<'_> {
    fn record(
        &mut self,
        suite: &'static str,
        op: &str,
        shape: &[usize],
        dtype: Dtype,
        secs: f64,
        work: f64,
        unit: &'static str,
    ) {
        let rate = work / secs / 1e9;
        let peak = match unit {
            "GFLOP/s" => self.roof.fma_gflops,
            "GB/s read" => self.roof.read_gbps,
            _ => self.roof.copy_gbps,
        };
        let row = Row {
            suite,
            op: op.into(),
            shape: shape_str(shape),
            dtype,
            median_s: secs,
            rate,
            unit,
            of_roofline: rate / peak,
        };
        println!(
            "{:<12} {:<22} {:<16} {:<9} {:>11.3} ms {:>10.1} {:<9} {:>6.1}%",
            row.suite,
            row.op,
            row.shape,
            row.dtype.to_string(),
            secs * 1e3,
            rate,
            unit,
            100.0 * row.of_roofline
        );
        self.rows.push(row);
    }

    fn matmul(&mut self) -> Result<()> {
        let d = self.o.device;
        let gpu = d == Device::gpu();
        let mut cases: Vec<(usize, Dtype)> = vec![
            (512, Dtype::Float32),
            (1024, Dtype::Float32),
            (2048, Dtype::Float32),
        ];
        if gpu && !self.o.quick {
            cases.extend([(4096, Dtype::Float32), (4096, Dtype::Float16)]);
        }
        if self.o.quick {
            cases.truncate(2);
        }
        for (n, dt) in cases {
            let (a, b) = (input(&[n, n], dt, d, 1)?, input(&[n, n], dt, d, 2)?);
            let t = time_median(d, self.budget, || ops::matmul_device(&a, &b, d))?;
            self.record(
                "matmul",
                "matmul",
                &[n, n, n],
                dt,
                t,
                2.0 * (n * n * n) as f64,
                "GFLOP/s",
            );
        }
        // decode-shaped: one row times a weight matrix stored transposed (x @ W^T)
        let (k, n) = if self.o.quick {
            (1024, 1024)
        } else {
            (4096, 4096)
        };
        let x = input(&[1, k], Dtype::Float32, d, 3)?;
        let w = input(&[n, k], Dtype::Float32, d, 4)?;
        let t = time_median(d, self.budget, || ops::matmul_device(&x, w.t()?, d))?;
        self.record(
            "matmul",
            "matvec x@W^T",
            &[1, k, n],
            Dtype::Float32,
            t,
            (4 * n * k) as f64,
            "GB/s",
        );
        Ok(())
    }

    fn elementwise(&mut self) -> Result<()> {
        let d = self.o.device;
        let sizes: &[usize] = if self.o.quick {
            &[1 << 20]
        } else {
            &[1 << 24, 1 << 26]
        };
        for &n in sizes {
            let (a, b) = (
                input(&[n], Dtype::Float32, d, 5)?,
                input(&[n], Dtype::Float32, d, 6)?,
            );
            let t = time_median(d, self.budget, || ops::add_device(&a, &b, d))?;
            self.record(
                "elementwise",
                "add",
                &[n],
                Dtype::Float32,
                t,
                (12 * n) as f64,
                "GB/s",
            );
            let t = time_median(d, self.budget, || ops::exp_device(&a, d))?;
            self.record(
                "elementwise",
                "exp",
                &[n],
                Dtype::Float32,
                t,
                (8 * n) as f64,
                "GB/s",
            );
        }
        // broadcast: a row vector added to every row
        let (r, c) = if self.o.quick {
            (1024, 1024)
        } else {
            (4096, 4096)
        };
        let (a, b) = (
            input(&[r, c], Dtype::Float32, d, 7)?,
            input(&[c], Dtype::Float32, d, 8)?,
        );
        let t = time_median(d, self.budget, || ops::add_device(&a, &b, d))?;
        self.record(
            "elementwise",
            "add (row broadcast)",
            &[r, c],
            Dtype::Float32,
            t,
            (8 * r * c) as f64,
            "GB/s",
        );
        let t = time_median(d, self.budget, || ops::add_device(&a, a.t()?, d))?;
        self.record(
            "elementwise",
            "add (a + a^T)",
            &[r, c],
            Dtype::Float32,
            t,
            (12 * r * c) as f64,
            "GB/s",
        );
        Ok(())
    }

    fn reduce(&mut self) -> Result<()> {
        let d = self.o.device;
        let n = if self.o.quick { 1 << 20 } else { 1 << 26 };
        let a = input(&[n], Dtype::Float32, d, 9)?;
        let t = time_median(d, self.budget, || ops::sum_device(&a, None, false, d))?;
        self.record(
            "reduce",
            "sum (all)",
            &[n],
            Dtype::Float32,
            t,
            (4 * n) as f64,
            "GB/s",
        );
        let (r, c) = if self.o.quick {
            (256, 4096)
        } else {
            (4096, 16384)
        };
        let m = input(&[r, c], Dtype::Float32, d, 10)?;
        let t = time_median(d, self.budget, || {
            ops::sum_device(&m, Some(&[-1]), false, d)
        })?;
        self.record(
            "reduce",
            "sum (rows)",
            &[r, c],
            Dtype::Float32,
            t,
            (4 * r * c) as f64,
            "GB/s",
        );
        let t = time_median(d, self.budget, || ops::sum_device(&m, Some(&[0]), false, d))?;
        self.record(
            "reduce",
            "sum (columns)",
            &[r, c],
            Dtype::Float32,
            t,
            (4 * r * c) as f64,
            "GB/s",
        );
        let t = time_median(d, self.budget, || {
            ops::max_device(&m, Some(&[-1]), false, d)
        })?;
        self.record(
            "reduce",
            "max (rows)",
            &[r, c],
            Dtype::Float32,
            t,
            (4 * r * c) as f64,
            "GB/s",
        );
        Ok(())
    }

    fn softmax(&mut self) -> Result<()> {
        let d = self.o.device;
        let (r, c) = if self.o.quick {
            (512, 1024)
        } else {
            (4096, 4096)
        };
        let a = input(&[r, c], Dtype::Float32, d, 11)?;
        let t = time_median(d, self.budget, || ops::softmax_device(&a, Some(&[-1]), d))?;
        self.record(
            "softmax",
            "softmax (last axis)",
            &[r, c],
            Dtype::Float32,
            t,
            (8 * r * c) as f64,
            "GB/s",
        );
        let t = time_median(d, self.budget, || {
            ops::logsumexp_device(&a, Some(&[-1]), false, d)
        })?;
        self.record(
            "softmax",
            "logsumexp (last axis)",
            &[r, c],
            Dtype::Float32,
            t,
            (4 * r * c) as f64,
            "GB/s",
        );
        Ok(())
    }

    /// Quantized mat-vec as decode runs it: x `[1, 4096]` through 4-bit `[14336, 4096]` and
    /// `[4096, 14336]` matrices (Llama-3-8B's up and down shapes), alternately, over 8 distinct
    /// pairs (700 MB: far more than any GPU's last-level cache, so the weights stream from
    /// memory as in a real model; one pair when `--quick`), 20 products per eval, 8 evals per
    /// timed run submitted as the previous one runs (`async_eval`, as decoding does), so the
    /// host's recording overlaps the device's work and the figure is the device's; GB/s of
    /// packed weights plus scales and biases as stored (f32; f16 with
    /// `MLX_ARM_BENCH_QMV_SCALES=f16`, quantized on the host and moved, as a GGUF model's are
    /// held: packed, 2 bytes each), against the read roofline.
    fn qmv(&mut self) -> Result<()> {
        let d = self.o.device;
        let (n, k, pairs) = if self.o.quick {
            (1024, 512, 1)
        } else {
            (14336, 4096, 8)
        };
        for gs in [32, 64] {
            let mut mats = vec![];
            // MLX_ARM_BENCH_QMV_UPLOAD=1: weights quantized on the host and uploaded, as a model
            // file's are (else made on the device)
            let half = std::env::var("MLX_ARM_BENCH_QMV_SCALES").is_ok_and(|v| v == "f16");
            let sdt = if half { Dtype::Float16 } else { Dtype::Float32 };
            let qd = if half || std::env::var("MLX_ARM_BENCH_QMV_UPLOAD").is_ok_and(|v| v == "1") {
                Device::cpu()
            } else {
                d
            };
            for p in 0..pairs {
                let up =
                    ops::quantize_device(input(&[n, k], sdt, qd, 20 + 2 * p as u64)?, gs, 4, qd)?;
                let down =
                    ops::quantize_device(input(&[k, n], sdt, qd, 21 + 2 * p as u64)?, gs, 4, qd)?;
                mlx_arm::transforms::eval(&[&up.0, &up.1, &up.2, &down.0, &down.1, &down.2])?;
                let dev = |t: (Array, Array, Array)| -> Result<(Array, Array, Array)> {
                    Ok((t.0.to_device(d)?, t.1.to_device(d)?, t.2.to_device(d)?))
                };
                mats.push((dev(up)?, dev(down)?));
            }
            let x = input(&[1, k], Dtype::Float32, d, 22)?;
            let (reps, evals) = (10, 8);
            let t = time_median(d, self.budget, || {
                let mut y = x.clone();
                let mut m = 0;
                for e in 0..evals {
                    for _ in 0..reps {
                        let (up, down) = &mats[m % pairs];
                        m += 1;
                        let h =
                            ops::quantized_matmul_device(&y, &up.0, &up.1, &up.2, true, gs, 4, d)?;
                        y = ops::quantized_matmul_device(
                            &h, &down.0, &down.1, &down.2, true, gs, 4, d,
                        )?;
                    }
                    if e + 1 < evals {
                        mlx_arm::transforms::async_eval(&[&y])?;
                    }
                }
                Ok(y)
            })?;
            let up = &mats[0].0;
            let bytes = (up.0.nbytes() + up.1.nbytes() + up.2.nbytes()) * 2 * reps * evals;
            self.record(
                "qmv",
                &format!("q4 mat-vec gs{gs} {sdt} scales (x160)"),
                &[n, k],
                Dtype::Float32,
                t,
                bytes as f64,
                "GB/s read",
            );
        }
        Ok(())
    }

    /// 4-bit mat-vecs per weight shape, as a Llama model holds them on a GPU (f16 scales and
    /// biases side by side, moved with `to_device`): for each `[N, K]` of Llama-3 1B's and 8B's
    /// q/k/v, o, gate/up and down projections (or `MLX_ARM_BENCH_QMV_SHAPES="NxK,.."`), enough
    /// distinct matrices to stream past the last-level cache, 20 products per eval chained
    /// through the fused residual add, GB/s of weights against the read roofline. Run once per
    /// `MLX_ARM_QMV_RPW`/`_CPL`/`_UNROLL` setting to compare work splits shape by shape.
    fn qmv_shapes(&mut self) -> Result<()> {
        let d = self.o.device;
        let shapes: Vec<(usize, usize)> = match std::env::var("MLX_ARM_BENCH_QMV_SHAPES") {
            Ok(v) => v
                .split(',')
                .filter_map(|s| {
                    let (n, k) = s.split_once('x')?;
                    Some((n.trim().parse().ok()?, k.trim().parse().ok()?))
                })
                .collect(),
            Err(_) => vec![
                (3072, 2048),
                (2048, 2048),
                (16384, 2048),
                (2048, 8192),
                (6144, 4096),
                (4096, 4096),
                (28672, 4096),
                (4096, 14336),
            ],
        };
        for (n, k) in shapes {
            let (n, k) = if self.o.quick { (n / 8, k / 8) } else { (n, k) };
            let bytes_one = n * k / 2 + n * (k / 32) * 4;
            let copies = (400_000_000 / bytes_one).clamp(1, 20);
            let mut mats = vec![];
            for c in 0..copies {
                let w = input(&[n, k], Dtype::Float16, Device::cpu(), 40 + c as u64)?;
                let (wq, sc, bi) = ops::quantize_device(&w, 32, 4, Device::cpu())?;
                let both = ops::stack_device(&[sc, bi], 2, Device::cpu())?.to_device(d)?;
                let g = (k / 32) as i64;
                let half = |f| ops::as_strided(&both, &[n as i32, g as i32], &[2 * g, 2], f);
                mats.push((wq.to_device(d)?, half(0)?, half(1)?));
            }
            let x = input(&[1, k], Dtype::Float32, d, 41)?;
            let r0 = input(&[1, n], Dtype::Float32, d, 42)?;
            let (reps, evals) = (20, 8);
            let t = time_median(d, self.budget, || {
                let mut r = r0.clone();
                let mut m = 0;
                for e in 0..evals {
                    for _ in 0..reps {
                        let (w, s, b) = &mats[m % copies];
                        m += 1;
                        r = ops::quantized_matmul_add_device(&x, w, s, b, &r, true, 32, 4, d)?;
                    }
                    if e + 1 < evals {
                        mlx_arm::transforms::async_eval(&[&r])?;
                    }
                }
                Ok(r)
            })?;
            self.record(
                "qmv",
                "q4 mat-vec gs32 paired f16 scales (x160)",
                &[n, k],
                Dtype::Float32,
                t,
                (bytes_one * reps * evals) as f64,
                "GB/s read",
            );
        }
        Ok(())
    }

    /// 1,000 chained small elementwise ops in one eval: seconds per op, graph + dispatch.
    fn overhead(&mut self) -> Result<()> {
        let d = self.o.device;
        let n_ops = 1000;
        let x = input(&[1024], Dtype::Float32, d, 12)?;
        let t = time_median(d, self.budget, || {
            let mut y = x.clone();
            for i in 0..n_ops {
                y = if i % 2 == 0 {
                    ops::multiply_device(&y, 1.0001f32, d)?
                } else {
                    ops::add_device(&y, -0.0001f32, d)?
                };
            }
            Ok(y)
        })?;
        self.per_op("chained add/mul scalar", t / n_ops as f64);
        let z = input(&[1024], Dtype::Float32, d, 13)?;
        let t = time_median(d, self.budget, || {
            let mut y = x.clone();
            for _ in 0..n_ops {
                y = ops::add_device(&y, &z, d)?;
            }
            Ok(y)
        })?;
        self.per_op("chained add array", t / n_ops as f64);
        // where the time goes: building the graph, eval (kernels recorded and submitted), waiting
        let mut phases = [vec![], vec![], vec![]];
        for _ in 0..7 {
            let t0 = Instant::now();
            let mut y = x.clone();
            for _ in 0..n_ops {
                y = ops::add_device(&y, &z, d)?;
            }
            let t1 = Instant::now();
            y.eval()?;
            let t2 = Instant::now();
            synchronize(d)?;
            let t3 = Instant::now();
            for (p, dt) in phases.iter_mut().zip([t1 - t0, t2 - t1, t3 - t2]) {
                p.push(dt.as_secs_f64() / n_ops as f64);
            }
        }
        for (name, mut p) in [
            "  graph build",
            "  eval (record+submit)",
            "  wait for device",
        ]
        .into_iter()
        .zip(phases)
        {
            p.sort_by(f64::total_cmp);
            self.per_op(name, p[p.len() / 2]);
        }
        Ok(())
    }

    fn per_op(&mut self, op: &str, secs: f64) {
        println!(
            "{:<12} {:<22} {:<16} {:<9} {:>11.3} µs per op (1,000 chained ops, one eval)",
            "overhead",
            op,
            "1024",
            "float32",
            secs * 1e6
        );
        self.rows.push(Row {
            suite: "overhead",
            op: op.into(),
            shape: "1024".into(),
            dtype: Dtype::Float32,
            median_s: secs,
            rate: 0.0,
            unit: "s/op",
            of_roofline: 0.0,
        });
    }

    fn json(&self) -> String {
        let rows: Vec<String> = self
            .rows
            .iter()
            .map(|r| {
                format!(
                    "  {{\"suite\": \"{}\", \"op\": \"{}\", \"shape\": \"{}\", \"dtype\": \"{}\", \"median_s\": {:e}, \"rate\": {}, \"unit\": \"{}\", \"of_roofline\": {}}}",
                    r.suite, r.op, r.shape, r.dtype, r.median_s, r.rate, r.unit, r.of_roofline
                )
            })
            .collect();
        format!(
            "{{\"device\": \"{}\", \"copy_gbps\": {}, \"read_gbps\": {}, \"fma_gflops\": {}, \"rows\": [\n{}\n]}}\n",
            self.roof.device.replace('"', "'"),
            self.roof.copy_gbps,
            self.roof.read_gbps,
            self.roof.fma_gflops,
            rows.join(",\n")
        )
    }
}

fn main() {
    let o = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}\nusage: bench --suite matmul|elementwise|reduce|softmax|overhead|qmv|qmv-shapes|all[,..] --device cpu|gpu [--json out.json] [--quick]");
            std::process::exit(2);
        }
    };
    if let Err(e) = run(&o) {
        eprintln!("bench: {e}");
        std::process::exit(1);
    }
}

fn run(o: &Options) -> Result<()> {
    let roof = roofline::measure(o.device, o.quick)?;
    println!("device: {}", roof.device);
    println!(
        "roofline: copy {:.1} GB/s, read {:.1} GB/s, f32 FMA peak {:.1} GFLOP/s (measured by this harness)",
        roof.copy_gbps, roof.read_gbps, roof.fma_gflops
    );
    println!(
        "{:<12} {:<22} {:<16} {:<9} {:>14} {:>19} {:>7}",
        "suite", "op", "shape", "dtype", "median", "rate", "roof"
    );
    let budget = Duration::from_millis(if o.quick { 200 } else { 1500 });
    let mut b = Bench {
        o,
        roof,
        rows: vec![],
        budget,
    };
    let all = o.suites.iter().any(|s| s == "all");
    let want = |s: &str| all || o.suites.iter().any(|x| x == s);
    if want("matmul") {
        b.matmul()?;
    }
    if want("elementwise") {
        b.elementwise()?;
    }
    if want("reduce") {
        b.reduce()?;
    }
    if want("softmax") {
        b.softmax()?;
    }
    if want("overhead") {
        b.overhead()?;
    }
    if want("qmv") {
        b.qmv()?;
    }
    if o.suites.iter().any(|x| x == "qmv-shapes") {
        b.qmv_shapes()?;
    }
    if let Some(path) = &o.json {
        std::fs::write(path, b.json()).map_err(|e| mlx_arm::Error::Io {
            path: path.clone(),
            detail: e.to_string(),
        })?;
    }
    // MLX_ARM_GPU_PROFILE=1: device time per kernel over the whole run (warm-ups included)
    for r in mlx_arm::gpu_profile::report().iter().take(12) {
        println!(
            "profile {:>9.2} ms {:>7} x {:>8.1} us  {}",
            r.seconds * 1e3,
            r.dispatches,
            r.seconds * 1e6 / r.dispatches as f64,
            r.kernel
        );
    }
    Ok(())
}
