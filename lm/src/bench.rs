//! Throughput in llama-bench's terms: `pp` (prompt processing: one forward over `p` tokens)
//! and `tg` (text generation: `n` single-token steps through the KV cache, greedy, end-of-text
//! ignored), each timed to the host having the last token, over synthetic token ids. As in
//! llama-bench, the two are separate tests: `tg` starts from an empty cache (not after the
//! prompt), so `tg128` is the speed over contexts 0..128 in both tools. Greedy
//! tokens are picked on the device and fed to the next step lazily, as in generation (see
//! [`crate::generate::DevicePipeline`]), so building step t+1 overlaps running step t.

use crate::llama::Llama;
use crate::sample::argmax;
use crate::Result;
use mlx_arm::Array;
use std::time::Instant;

/// One measurement.
#[derive(Debug, Clone, Copy, Default)]
pub struct BenchResult {
    /// Prompt tokens per second.
    pub pp_tps: f64,
    /// Generated tokens per second.
    pub tg_tps: f64,
    /// Host time per generated token (build, record+submit, wait), in the median run's terms.
    pub tg_host: crate::generate::StepTimes,
}

/// Times a `p`-token prompt from a fresh cache, then `n` generated tokens from another fresh
/// cache (llama-bench's `pp` and `tg` tests).
pub fn bench_once(model: &Llama, p: usize, n: usize) -> Result<BenchResult> {
    let vocab = model.config.vocab_size;
    let prompt: Vec<i32> = (0..p.max(1))
        .map(|i| ((i * 7919 + 11) % vocab) as i32)
        .collect();
    let mut cache = model.new_cache(None, None)?;
    let t0 = Instant::now();
    let logits = model.forward(
        &Array::from_slice(&prompt, &[1, prompt.len() as i32]),
        &mut cache,
        true,
    )?;
    let tok = argmax(&crate::generate::last_logits(&logits)?);
    let pp = prompt.len() as f64 / t0.elapsed().as_secs_f64();
    let mut cache = model.new_cache(None, None)?;
    let t1 = Instant::now();
    let mut pipe =
        crate::generate::DevicePipeline::start(&Array::from_slice(&[tok as i32], &[1, 1]))?;
    for _ in 0..n {
        pipe.step(model, &mut cache)?;
    }
    pipe.pending()?; // n forward passes, the last one waited for
    let tg = if n > 0 {
        n as f64 / t1.elapsed().as_secs_f64()
    } else {
        0.0
    };
    let per = |d: std::time::Duration| d / n.max(1) as u32;
    let t = pipe.times;
    let tg_host = crate::generate::StepTimes {
        build: per(t.build),
        submit: per(t.submit),
        wait: per(t.wait),
    };
    Ok(BenchResult {
        pp_tps: pp,
        tg_tps: tg,
        tg_host,
    })
}

/// Runs [`bench_once`] `reps` times after one warm-up run and returns the medians.
pub fn bench(model: &Llama, p: usize, n: usize, reps: usize) -> Result<BenchResult> {
    bench_once(model, p.min(16), n.min(4))?;
    let mut runs = Vec::new();
    for _ in 0..reps.max(1) {
        runs.push(bench_once(model, p, n)?);
    }
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let tg_tps = median(runs.iter().map(|r| r.tg_tps).collect());
    let tg_host = runs
        .iter()
        .find(|r| r.tg_tps == tg_tps)
        .map_or_else(Default::default, |r| r.tg_host);
    Ok(BenchResult {
        pp_tps: median(runs.iter().map(|r| r.pp_tps).collect()),
        tg_tps,
        tg_host,
    })
}
