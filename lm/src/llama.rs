//! The Llama-family decoder: token embedding, `n_layers` blocks of RMSNorm → grouped-query
//! attention with RoPE and a KV cache → residual → RMSNorm → SwiGLU MLP → residual, a final
//! RMSNorm and the output projection (tied to the embedding when the file has no `output`).
//! Tensor names are GGUF's (`token_embd`, `blk.N.attn_q`, ...).

use crate::cache::{KvCache, KvQuant};
use crate::config::LlamaConfig;
use crate::linear::{Linear, Stacked, Tensors};
use crate::Result;
use mlx_arm::fast::{self, SdpaMask};
use mlx_arm::{ops, Array};

/// One decoder block's weights.
#[derive(Debug, Clone)]
pub struct Block {
    attn_norm: Array,
    /// q, k and v projections.
    qkv: Stacked,
    wo: Linear,
    ffn_norm: Array,
    /// gate and up projections.
    gate_up: Stacked,
    down: Linear,
}

/// A loaded model.
#[derive(Debug, Clone)]
pub struct Llama {
    /// Its hyper-parameters.
    pub config: LlamaConfig,
    embed: Linear,
    blocks: Vec<Block>,
    norm: Array,
    output: Option<Linear>,
}

impl Llama {
    /// Builds the model from a file's tensors (GGUF names), calling `progress` after each block.
    pub fn from_tensors(
        config: LlamaConfig,
        t: &mut Tensors,
        mut progress: impl FnMut(usize),
    ) -> Result<Llama> {
        let c = &config;
        let (d, hd) = (c.dim, c.head_dim);
        let embed = t.linear("token_embd", c.vocab_size, d)?;
        let mut blocks = Vec::with_capacity(c.n_layers);
        for i in 0..c.n_layers {
            let p = |n: &str| format!("blk.{i}.{n}");
            blocks.push(Block {
                attn_norm: t.float(&p("attn_norm.weight"), &[d])?,
                qkv: t.stacked(
                    &[
                        (&p("attn_q"), c.n_heads * hd),
                        (&p("attn_k"), c.n_kv_heads * hd),
                        (&p("attn_v"), c.n_kv_heads * hd),
                    ],
                    d,
                )?,
                wo: t.linear(&p("attn_output"), d, c.n_heads * hd)?,
                ffn_norm: t.float(&p("ffn_norm.weight"), &[d])?,
                gate_up: t.stacked(
                    &[(&p("ffn_gate"), c.hidden_dim), (&p("ffn_up"), c.hidden_dim)],
                    d,
                )?,
                down: t.linear(&p("ffn_down"), d, c.hidden_dim)?,
            });
            progress(i + 1);
        }
        let norm = t.float("output_norm.weight", &[d])?;
        let output = if t.has("output.weight") {
            Some(t.linear("output", c.vocab_size, d)?)
        } else {
            None
        };
        Ok(Llama {
            config,
            embed,
            blocks,
            norm,
            output,
        })
    }

    /// Fresh caches, one per block (`max_kv_size` makes them rotating, keeping 4 sink positions
    /// as mlx-lm does; `quant` stores entries quantized).
    pub fn new_cache(
        &self,
        max_kv_size: Option<usize>,
        quant: Option<KvQuant>,
    ) -> Result<Vec<KvCache>> {
        if let Some(q) = quant {
            q.check(self.config.head_dim)?;
        }
        let make = || {
            let c = match max_kv_size {
                Some(m) => KvCache::rotating(m, 4),
                None => KvCache::new(),
            };
            match quant {
                Some(q) => c.quantized(q),
                None => c,
            }
        };
        Ok((0..self.blocks.len()).map(|_| make()).collect())
    }

    /// Bytes of all weights.
    pub fn nbytes(&self) -> usize {
        let b: usize = self
            .blocks
            .iter()
            .map(|b| {
                [&b.wo, &b.down].iter().map(|l| l.nbytes()).sum::<usize>()
                    + b.qkv.nbytes()
                    + b.gate_up.nbytes()
                    + b.attn_norm.nbytes()
                    + b.ffn_norm.nbytes()
            })
            .sum();
        b + self.embed.nbytes()
            + self.norm.nbytes()
            + self.output.as_ref().map_or(0, |o| o.nbytes())
    }

    /// Logits `[B, L, vocab]` for token ids `[B, L]` following the cached positions (lazy: call
    /// `eval` on the result). With `last_only`, only the last position's logits `[B, 1, vocab]`.
    pub fn forward(&self, ids: &Array, cache: &mut [KvCache], last_only: bool) -> Result<Array> {
        let c = &self.config;
        let (b, l) = (ids.shape()[0] as i32, ids.shape()[1] as i32);
        let mut h = self.embed.rows(ids)?;
        for (blk, kv) in self.blocks.iter().zip(cache.iter_mut()) {
            let attn_norm = (&blk.attn_norm, c.norm_eps);
            let heads = |a: Array, n: usize| -> Result<Array> {
                let a = ops::reshape(a, &[b, l, n as i32, c.head_dim as i32])?;
                Ok(ops::swapaxes(a, 1, 2)?)
            };
            let off = kv.offset() as i32;
            let rope = |a: &Array| {
                fast::rope(
                    a,
                    c.rope_dims as i32,
                    c.rope_traditional,
                    Some(c.rope_base),
                    c.rope_scale,
                    off,
                    None,
                )
            };
            let (hq, hk) = (c.n_heads as i32, c.n_kv_heads as i32);
            let span = |a: &Array, h0: i32, h1: i32| -> Result<Array> {
                let s = a.shape();
                Ok(ops::slice(
                    a,
                    &[0, h0, 0, 0],
                    &[s[0] as i32, h1, s[2] as i32, s[3] as i32],
                    &[1, 1, 1, 1],
                )?)
            };
            // traditional RoPE is done by the stacked product itself (the GPU mat-vec rotates
            // q and k as it stores them), and the keys and values, side by side in it, go
            // into the cache as one write
            let rope_in_product = c.rope_traditional && c.rope_dims <= c.head_dim;
            let fused = match rope_in_product {
                true => {
                    let r = ops::QmmRope::new(
                        c.head_dim,
                        c.n_heads + c.n_kv_heads,
                        c.rope_dims,
                        c.rope_base,
                        c.rope_scale,
                        off as usize,
                    );
                    blk.qkv.joint_normed_roped(&h, attn_norm, r)?
                }
                false => None,
            };
            if let Some(y) = fused {
                let all = heads(y, c.n_heads + 2 * c.n_kv_heads)?;
                let (k, v) = kv.update_stacked(span(&all, hq, hq + 2 * hk)?)?;
                let q = span(&all, 0, hq)?;
                h = attend_and_mlp(self, blk, &q, &k, &v, &h, b, l)?;
                continue;
            }
            let (q, k, v) = match blk.qkv.joint_normed(&h, attn_norm)? {
                // one rope over the query and key heads of the stacked product (a view when
                // decoding), then q, k and v are views of it
                Some(y) => {
                    let all = heads(y, c.n_heads + 2 * c.n_kv_heads)?;
                    let qk = rope(&span(&all, 0, hq + hk)?)?;
                    (
                        span(&qk, 0, hq)?,
                        span(&qk, hq, hq + hk)?,
                        span(&all, hq + hk, hq + 2 * hk)?,
                    )
                }
                None => {
                    let x = fast::rms_norm(&h, Some(&blk.attn_norm), c.norm_eps)?;
                    let [q, k, v]: [Array; 3] =
                        blk.qkv.forward(&x)?.try_into().expect("three projections");
                    let (q, k, v) = (
                        heads(q, c.n_heads)?,
                        heads(k, c.n_kv_heads)?,
                        heads(v, c.n_kv_heads)?,
                    );
                    (rope(&q)?, rope(&k)?, v)
                }
            };
            let (k, v) = kv.update(k, v)?;
            h = attend_and_mlp(self, blk, &q, &k, &v, &h, b, l)?;
        }
        if last_only && l > 1 {
            h = ops::slice(&h, &[0, l - 1, 0], &[b, l, c.dim as i32], &[1, 1, 1])?;
        }
        let h = fast::rms_norm(&h, Some(&self.norm), c.norm_eps)?;
        Ok(self.output.as_ref().unwrap_or(&self.embed).forward(&h)?)
    }
}

/// The rest of a decoder block after attention's inputs: attention of `q` `[B, Hq, L, D]` over
/// the cached `k`/`v`, the output projection plus the residual `h`, then the SwiGLU MLP plus
/// its residual; returns the block's output `[B, L, dim]`.
#[allow(clippy::too_many_arguments)]
fn attend_and_mlp(
    model: &Llama,
    blk: &Block,
    q: &Array,
    k: &Array,
    v: &Array,
    h: &Array,
    b: i32,
    l: i32,
) -> Result<Array> {
    let c = &model.config;
    let mask = if l > 1 { Some(SdpaMask::Causal) } else { None };
    let scale = 1.0 / (c.head_dim as f32).sqrt();
    let o = fast::scaled_dot_product_attention(q, k, v, scale, mask)?;
    let o = ops::reshape(
        ops::swapaxes(o, 1, 2)?,
        &[b, l, (c.n_heads * c.head_dim) as i32],
    )?;
    let h = blk.wo.forward_add(&o, h)?;
    let m = blk.gate_up.glu_normed(&h, (&blk.ffn_norm, c.norm_eps))?;
    Ok(blk.down.forward_add(&m, &h)?)
}
