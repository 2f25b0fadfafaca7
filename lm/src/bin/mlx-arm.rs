//! The `mlx-arm` command line: `mlx-arm generate` streams text from a GGUF model like
//! `mlx_lm.generate`, then prints prompt and generation speed and peak memory.

use clap::{Parser, Subcommand, ValueEnum};
use mlx_arm::{set_default_device, Device};
use mlx_arm_lm::cache::KvQuant;
use mlx_arm_lm::generate::{generate, GenerateOptions};
use mlx_arm_lm::sample::{Sampler, SamplerConfig};
use mlx_arm_lm::{load, Error};
use mlx_arm_tokenizer::Message;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// The default model (SmolLM2-135M-Instruct, Q4_1), fetched from PyPI by scripts/fetch-smollm2.sh.
const DEFAULT_MODEL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../.cache/models/SmolLM2-135M-Instruct.Q4_1.gguf"
);

#[derive(Parser)]
#[command(
    name = "mlx-arm",
    version,
    about = "MLX-ARM: MLX-style arrays and LLM inference on any GPU wgpu reaches and any CPU"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate text from a GGUF model.
    Generate(GenerateArgs),
    /// Measure prompt processing (pp) and text generation (tg) throughput, like llama-bench.
    Bench(BenchArgs),
}

#[derive(clap::Args)]
struct BenchArgs {
    /// GGUF file or MLX / Hugging Face model directory (default: SmolLM2-135M-Instruct from
    /// scripts/fetch-smollm2.sh).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Prompt tokens.
    #[arg(short = 'p', default_value_t = 512)]
    prompt_tokens: usize,
    /// Generated tokens.
    #[arg(short = 'n', default_value_t = 128)]
    gen_tokens: usize,
    /// Repetitions (the median is reported, after one warm-up).
    #[arg(short = 'r', default_value_t = 3)]
    reps: usize,
    /// Device to run on (default: the GPU when there is one).
    #[arg(long, value_enum)]
    device: Option<DeviceArg>,
}

#[derive(Clone, Copy, ValueEnum)]
enum DeviceArg {
    Cpu,
    Gpu,
}

#[derive(clap::Args)]
struct GenerateArgs {
    /// GGUF file or MLX / Hugging Face model directory (default: SmolLM2-135M-Instruct from
    /// scripts/fetch-smollm2.sh).
    #[arg(long)]
    model: Option<PathBuf>,
    /// The prompt.
    #[arg(long, short, default_value = "What is the capital of France?")]
    prompt: String,
    /// A system message (with --chat).
    #[arg(long)]
    system: Option<String>,
    /// Apply the model's chat template to the prompt.
    #[arg(long)]
    chat: bool,
    /// Most tokens to generate.
    #[arg(long, short = 'm', default_value_t = 256)]
    max_tokens: usize,
    /// Sampling temperature (0 = greedy).
    #[arg(long, default_value_t = 0.0)]
    temp: f32,
    /// Nucleus sampling threshold (1 = off).
    #[arg(long, default_value_t = 1.0)]
    top_p: f32,
    /// Keep only the k most likely tokens (0 = off).
    #[arg(long, default_value_t = 0)]
    top_k: usize,
    /// Keep tokens at least min-p times as likely as the best (0 = off).
    #[arg(long, default_value_t = 0.0)]
    min_p: f32,
    /// Penalty for the last 20 tokens (1 = off).
    #[arg(long, default_value_t = 1.0)]
    repetition_penalty: f32,
    /// Random seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Rotating KV cache size (keeps 4 sink tokens and the latest ones).
    #[arg(long)]
    max_kv_size: Option<usize>,
    /// Store the KV cache quantized to this many bits (2, 4 or 8).
    #[arg(long)]
    kv_bits: Option<i32>,
    /// Values per scale in the quantized KV cache.
    #[arg(long, default_value_t = 64)]
    kv_group_size: i32,
    /// Device to run on (default: the GPU when there is one).
    #[arg(long, value_enum)]
    device: Option<DeviceArg>,
}

fn select(device: Option<DeviceArg>) {
    if let Some(d) = device {
        set_default_device(match d {
            DeviceArg::Cpu => Device::cpu(),
            DeviceArg::Gpu => Device::gpu(),
        });
    }
}

fn model_path(model: &Option<PathBuf>) -> Result<PathBuf, Error> {
    let path = model
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_MODEL));
    if !path.exists() {
        let hint = if model.is_none() {
            " (run scripts/fetch-smollm2.sh to fetch the default model from PyPI)"
        } else {
            ""
        };
        return Err(Error::Request(format!(
            "model file {} not found{hint}",
            path.display()
        )));
    }
    Ok(path)
}

fn load_with_bar<T>(
    path: &std::path::Path,
    load: impl FnOnce(&std::path::Path, &mut dyn FnMut(usize, usize)) -> Result<T, Error>,
) -> Result<T, Error> {
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template("loading {msg} [{bar:30}] {pos}/{len} blocks")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_message(
        path.file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default(),
    );
    let loaded = load(path, &mut |done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    })?;
    bar.finish_and_clear();
    Ok(loaded)
}

fn run_bench(a: BenchArgs) -> Result<(), Error> {
    select(a.device);
    let path = model_path(&a.model)?;
    let t = std::time::Instant::now();
    let model = &load_with_bar(&path, |p, f| load::load_weights(p, f))?;
    let dev = mlx_arm::backend::backend(Device::default_device())
        .map(|b| b.describe())
        .unwrap_or_default();
    println!(
        "model: {} ({:.2} GB of weights, loaded in {:.1} s)",
        path.display(),
        model.nbytes() as f64 / 1e9,
        t.elapsed().as_secs_f64()
    );
    println!("device: {dev}");
    println!(
        "peak memory while loading: {:.3} GB",
        mlx_arm::memory::get_peak_memory() as f64 / 1e9
    );
    mlx_arm::memory::reset_peak_memory();
    let r = mlx_arm_lm::bench::bench(model, a.prompt_tokens, a.gen_tokens, a.reps)?;
    println!("pp{}: {:.1} tok/s", a.prompt_tokens, r.pp_tps);
    println!("tg{}: {:.1} tok/s", a.gen_tokens, r.tg_tps);
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    println!(
        "tg host time per token: build {:.2} ms, record+submit {:.2} ms, wait {:.2} ms",
        ms(r.tg_host.build),
        ms(r.tg_host.submit),
        ms(r.tg_host.wait)
    );
    println!(
        "peak memory while generating: {:.3} GB",
        mlx_arm::memory::get_peak_memory() as f64 / 1e9
    );
    #[cfg(feature = "gpu")]
    print_gpu_profile();
    Ok(())
}

/// With `MLX_ARM_GPU_PROFILE=1` (or `=pass`): device time per kernel (or per submitted pass)
/// over the whole bench (warm-up included), longest first.
#[cfg(feature = "gpu")]
fn print_gpu_profile() {
    let rows = mlx_arm::gpu_profile::report();
    if rows.is_empty() {
        return;
    }
    let total: f64 = rows.iter().map(|r| r.seconds).sum();
    println!(
        "device time per kernel (MLX_ARM_GPU_PROFILE; total {:.1} ms):",
        total * 1e3
    );
    for r in rows.iter().take(30) {
        println!(
            "  {:>6.1}%  {:>9.2} ms  {:>7} x {:>8.1} us  {}",
            100.0 * r.seconds / total,
            r.seconds * 1e3,
            r.dispatches,
            r.seconds * 1e6 / r.dispatches as f64,
            r.kernel
        );
    }
}

fn run(a: GenerateArgs) -> Result<(), Error> {
    select(a.device);
    let path = model_path(&a.model)?;
    let loaded = load_with_bar(&path, |p, f| load::load_model(p, f))?;
    let tok = &loaded.tokenizer;
    let text = if a.chat {
        let tpl = loaded
            .chat_template
            .as_ref()
            .ok_or_else(|| Error::Request("--chat: the model has no chat template".into()))?;
        let mut msgs = Vec::new();
        if let Some(s) = &a.system {
            msgs.push(Message::new("system", s.as_str()));
        }
        msgs.push(Message::new("user", a.prompt.as_str()));
        tpl.render(&msgs, true)?
    } else {
        a.prompt.clone()
    };
    // A chat template writes its own BOS; plain prompts get one when the vocabulary asks.
    let ids = tok.encode(&text, !a.chat)?;
    let mut sampler = Sampler::new(SamplerConfig {
        temperature: a.temp,
        top_p: a.top_p,
        top_k: a.top_k,
        min_p: a.min_p,
        repetition_penalty: a.repetition_penalty,
        seed: a.seed,
        ..SamplerConfig::default()
    });
    let kv_quant = a.kv_bits.map(|bits| KvQuant {
        bits,
        group_size: a.kv_group_size,
    });
    let opts = GenerateOptions {
        max_tokens: a.max_tokens,
        max_kv_size: a.max_kv_size,
        kv_quant,
    };
    println!("==========");
    let mut out = std::io::stdout();
    let stats = generate(&loaded.model, tok, &ids, &mut sampler, &opts, |t| {
        let _ = out.write_all(t.as_bytes());
        let _ = out.flush();
    })?;
    println!("\n==========");
    println!(
        "Prompt: {} tokens, {:.3} tokens-per-sec",
        stats.prompt_tokens, stats.prompt_tps
    );
    println!(
        "Generation: {} tokens, {:.3} tokens-per-sec",
        stats.generation_tokens, stats.generation_tps
    );
    println!("Peak memory: {:.3} GB", stats.peak_memory as f64 / 1e9);
    let dev = mlx_arm::backend::backend(Device::default_device())
        .map(|b| b.describe())
        .unwrap_or_default();
    eprintln!("device: {dev}");
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let work = move || match cli.command {
        Command::Generate(a) => run(a),
        Command::Bench(a) => run_bench(a),
    };
    // on the CPU backend's pool, the caller one of its workers (see mlx_arm::run_as_worker)
    let r = mlx_arm::run_as_worker(work);
    match r {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
