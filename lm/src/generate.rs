//! The generation loop: the prompt in one forward pass, then one token per step, streamed as
//! text, with mlx-lm's statistics (prompt and generation tokens per second, peak memory).

use crate::cache::{KvCache, KvQuant};
use crate::llama::Llama;
use crate::sample::Sampler;
use crate::{Error, Result};
use mlx_arm::{ops, Array};
use mlx_arm_tokenizer::Tokenizer;
use std::time::Instant;

/// Generation options.
#[derive(Debug, Clone)]
pub struct GenerateOptions {
    /// Most tokens to generate.
    pub max_tokens: usize,
    /// Rotating KV cache size (`None`: keep everything).
    pub max_kv_size: Option<usize>,
    /// Quantized KV cache (`None`: full precision).
    pub kv_quant: Option<KvQuant>,
}

impl Default for GenerateOptions {
    fn default() -> GenerateOptions {
        GenerateOptions {
            max_tokens: 256,
            max_kv_size: None,
            kv_quant: None,
        }
    }
}

/// What a generation did.
#[derive(Debug, Clone, Default)]
pub struct GenerateStats {
    /// Prompt tokens.
    pub prompt_tokens: usize,
    /// Prompt processing speed (tokens per second, up to the first sampled token).
    pub prompt_tps: f64,
    /// Generated tokens.
    pub generation_tokens: usize,
    /// Generation speed (one-token forward passes per second after the prompt).
    pub generation_tps: f64,
    /// Peak memory MLX-ARM accounted for, in bytes.
    pub peak_memory: usize,
    /// Every generated id (the stop token excluded).
    pub ids: Vec<u32>,
}

/// Greedy decoding with the token kept on the device: each step's argmax feeds the next step's
/// graph lazily, and the graph is submitted without waiting, so the host builds and records
/// step t+1 while the device runs step t (mlx-lm's `async_eval` pipelining). The host reads a
/// token one step later.
pub struct DevicePipeline {
    /// The token `[1, 1]` submitted last (lazy or evaluated).
    current: Array,
    /// Where the host's time went, summed over steps.
    pub times: StepTimes,
}

/// Host time of pipelined steps, summed: building graphs, recording and submitting them, and
/// waiting for tokens (near zero when the host is the bottleneck, i.e. the device idles).
#[derive(Debug, Clone, Copy, Default)]
pub struct StepTimes {
    /// Building the forward graph (ops on lazy arrays).
    pub build: std::time::Duration,
    /// `async_eval`: running the backends' kernel selection, recording dispatches, submitting.
    pub submit: std::time::Duration,
    /// Waiting for the previous step's token.
    pub wait: std::time::Duration,
}

impl DevicePipeline {
    /// Starts from the token ids `[1, 1]` to feed first.
    pub fn start(first: &Array) -> Result<DevicePipeline> {
        Ok(DevicePipeline {
            current: first.clone(),
            times: StepTimes::default(),
        })
    }
    /// Submits the step that consumes the current token and returns that token's id (read
    /// while the step runs).
    pub fn step(&mut self, model: &Llama, cache: &mut [KvCache]) -> Result<u32> {
        let t0 = Instant::now();
        let logits = model.forward(&self.current, cache, true)?;
        let next = ops::argmax_axis(&logits, -1, false)?;
        let t1 = Instant::now();
        // submits the step and starts copying its token back, without waiting
        mlx_arm::transforms::async_eval(&[&next])?;
        let t2 = Instant::now();
        let tok = token_of(&self.current)?;
        self.times.build += t1 - t0;
        self.times.submit += t2 - t1;
        self.times.wait += t2.elapsed();
        self.current = next;
        Ok(tok)
    }
    /// The token the last submitted step produces (waits for it).
    pub fn pending(&self) -> Result<u32> {
        token_of(&self.current)
    }
}

/// The id held by a `[1, 1]` token array (uint32 from argmax, int32 from the host), read
/// without adding an op (so the wait covers only the step that made it).
fn token_of(a: &Array) -> Result<u32> {
    Ok(match a.dtype() {
        mlx_arm::Dtype::Uint32 => a.to_vec::<u32>()?[0],
        _ => a.to_vec::<i32>()?[0] as u32,
    })
}

/// Last-position logits of `[1, L, V]` as a host vector.
pub(crate) fn last_logits(logits: &Array) -> Result<Vec<f32>> {
    let v = logits.shape()[2] as i32;
    let l = logits.shape()[1] as i32;
    let row = ops::slice(logits, &[0, l - 1, 0], &[1, l, v], &[1, 1, 1])?;
    Ok(ops::astype(row, mlx_arm::Dtype::Float32)?.to_vec::<f32>()?)
}

/// Generates from `prompt` (token ids), calling `on_text` with each new piece of text.
pub fn generate(
    model: &Llama,
    tokenizer: &Tokenizer,
    prompt: &[u32],
    sampler: &mut Sampler,
    opts: &GenerateOptions,
    mut on_text: impl FnMut(&str),
) -> Result<GenerateStats> {
    if prompt.is_empty() {
        return Err(Error::Request("the prompt is empty".into()));
    }
    let ctx = model.config.context_length;
    if opts.max_kv_size.is_none() && prompt.len() > ctx {
        return Err(Error::Request(format!(
            "the prompt has {} tokens, more than the model's context of {ctx}",
            prompt.len()
        )));
    }
    let vocab = model.config.vocab_size as u32;
    if let Some(&bad) = prompt.iter().find(|&&t| t >= vocab) {
        return Err(Error::Request(format!(
            "token id {bad} is outside the vocabulary of {vocab}"
        )));
    }
    mlx_arm::memory::reset_peak_memory();
    let mut cache: Vec<KvCache> = model.new_cache(opts.max_kv_size, opts.kv_quant)?;
    let eos = tokenizer.eos_ids();
    let mut history: Vec<u32> = prompt.to_vec();
    let mut stats = GenerateStats {
        prompt_tokens: prompt.len(),
        ..Default::default()
    };
    let mut decoder = tokenizer.stream_decoder();
    let start = Instant::now();
    let ids = Array::from_slice(
        &prompt.iter().map(|&t| t as i32).collect::<Vec<_>>(),
        &[1, prompt.len() as i32],
    );
    let logits = model.forward(&ids, &mut cache, true)?;
    let mut next = sampler.sample(&last_logits(&logits)?, &history);
    let prompt_done = Instant::now();
    stats.prompt_tps = prompt.len() as f64 / (prompt_done - start).as_secs_f64();
    let mut decode_steps = 0usize;
    if sampler.is_greedy() {
        // argmax on the device, pipelined: the host never waits for the step it just submitted
        let mut pipe = DevicePipeline::start(&Array::from_slice(&[next as i32], &[1, 1]))?;
        for step in 0..opts.max_tokens {
            let tok = pipe.step(model, &mut cache)?;
            if step > 0 {
                decode_steps += 1;
            }
            if eos.contains(&tok) {
                break;
            }
            stats.ids.push(tok);
            history.push(tok);
            if let Some(text) = decoder.push(tok)? {
                on_text(&text);
            }
            if opts.max_kv_size.is_none() && history.len() >= ctx {
                break;
            }
        }
        return finish(decoder, stats, decode_steps, prompt_done, on_text);
    }
    for step in 0..opts.max_tokens {
        if eos.contains(&next) {
            break;
        }
        stats.ids.push(next);
        history.push(next);
        if let Some(text) = decoder.push(next)? {
            on_text(&text);
        }
        if step + 1 == opts.max_tokens {
            break;
        }
        if opts.max_kv_size.is_none() && history.len() >= ctx {
            break;
        }
        let ids = Array::from_slice(&[next as i32], &[1, 1]);
        let logits = model.forward(&ids, &mut cache, true)?;
        next = sampler.sample(&last_logits(&logits)?, &history);
        decode_steps += 1;
    }
    finish(decoder, stats, decode_steps, prompt_done, on_text)
}

/// Flushes the decoder and fills in the speed and memory figures.
fn finish(
    mut decoder: mlx_arm_tokenizer::StreamDecoder,
    mut stats: GenerateStats,
    decode_steps: usize,
    prompt_done: Instant,
    mut on_text: impl FnMut(&str),
) -> Result<GenerateStats> {
    let rest = decoder.finish()?;
    if !rest.is_empty() {
        on_text(&rest);
    }
    stats.generation_tokens = stats.ids.len();
    let gen_time = prompt_done.elapsed().as_secs_f64();
    if decode_steps > 0 && gen_time > 0.0 {
        stats.generation_tps = decode_steps as f64 / gen_time;
    }
    stats.peak_memory = mlx_arm::memory::get_peak_memory();
    Ok(stats)
}
