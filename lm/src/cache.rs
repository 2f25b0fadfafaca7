//! Key/value caches of one attention layer: keys and values `[B, Hkv, T, D]` of every position
//! seen so far (growing), or of the first `keep` and the most recent positions up to
//! `max_size` (rotating, mlx-lm's `RotatingKVCache`, for `--max-kv-size`). Keys are stored
//! after RoPE, so evicting old positions needs no re-rotation. The growing cache is mlx-lm's
//! `KVCache`: buffers preallocated in steps of [`STEP`] positions, new entries written with
//! `slice_update` (done in place: the cache holds the only handle to its buffer, which evaluation
//! then donates) and attention reading a view of the filled part, so a decode step moves only
//! its own entries instead of copying the whole cache. Either kind may hold its entries
//! affine-quantized (mlx-lm's `QuantizedKVCache`, `--kv-bits`): new keys and values are quantized
//! on the device as they arrive and the whole cache is dequantized for attention, so the cache
//! takes `bits / 32 + 2 / group_size` of the f32 memory between steps.

use crate::{Error, Result};
use mlx_arm::{ops, Array};

/// How cache entries are quantized (`--kv-bits`, `--kv-group-size`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KvQuant {
    /// Bits per value: 2, 4 or 8 (the widths `quantize` packs on the device).
    pub bits: i32,
    /// Values per scale and bias along the head dimension (32, 64 or 128).
    pub group_size: i32,
}

impl KvQuant {
    /// Checks the widths against a head dimension.
    pub fn check(&self, head_dim: usize) -> Result<()> {
        // the widths `quantize` packs lazily on the device: those dividing 32
        if !ops::QUANT_BITS.contains(&self.bits) || 32 % self.bits != 0 {
            return Err(Error::Request(format!(
                "--kv-bits must be 2, 4 or 8, got {}",
                self.bits
            )));
        }
        if !ops::QUANT_GROUP_SIZES.contains(&self.group_size)
            || head_dim % self.group_size as usize != 0
        {
            return Err(Error::Request(format!(
                "--kv-group-size must be one of {:?} and divide the head dimension {head_dim}, got {}",
                ops::QUANT_GROUP_SIZES,
                self.group_size
            )));
        }
        Ok(())
    }
}

/// Positions the growing cache's buffers grow by (mlx-lm's `KVCache.step`).
pub const STEP: usize = 256;

/// One layer's cache.
#[derive(Debug, Clone, Default)]
pub struct KvCache {
    /// `[k]`, or `[packed, scales, biases]` when quantized, each `[B, Hkv, T, ..]` (growing
    /// cache: `T` is the capacity, the first `filled` positions hold entries).
    keys: Vec<Array>,
    /// Like `keys`.
    values: Vec<Array>,
    /// Set when entries are stored quantized.
    quant: Option<KvQuant>,
    /// Positions seen (the RoPE offset of the next token), evicted ones included.
    offset: usize,
    /// Most positions kept (`None`: grow without bound).
    max_size: Option<usize>,
    /// Leading positions never evicted (attention sinks).
    keep: usize,
    /// Positions held in the growing cache's buffers.
    filled: usize,
    /// The growing cache holds keys and values in one buffer `[B, 2·Hkv, T, D]` (in `keys`;
    /// `update_stacked`), written by one `slice_update` per step.
    joint: bool,
}

impl KvCache {
    /// A cache that keeps every position.
    pub fn new() -> KvCache {
        KvCache::default()
    }
    /// A cache that keeps the first `keep` and the latest positions, `max_size` in all.
    pub fn rotating(max_size: usize, keep: usize) -> KvCache {
        KvCache {
            max_size: Some(max_size.max(keep + 1)),
            keep,
            ..KvCache::default()
        }
    }
    /// The same cache storing its entries quantized.
    pub fn quantized(self, quant: KvQuant) -> KvCache {
        KvCache {
            quant: Some(quant),
            ..self
        }
    }
    /// Positions processed so far (the RoPE offset of the next token).
    pub fn offset(&self) -> usize {
        self.offset
    }
    /// Positions currently held.
    pub fn len(&self) -> usize {
        match self.max_size {
            None => self.filled,
            Some(_) => self.keys.first().map_or(0, |k| k.shape()[2]),
        }
    }
    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// [`KvCache::update`] with keys and values stacked along the heads, `[B, 2·Hkv, L, D]`
    /// (keys first: a view of a stacked k/v product): a growing, unquantized cache keeps them
    /// in one buffer, so a step writes its entries with one `slice_update` instead of two.
    pub fn update_stacked(&mut self, kv: Array) -> Result<(Array, Array)> {
        let s = kv.shape().to_vec();
        let (b, h2, l, d) = (s[0] as i32, s[1] as i32, s[2], s[3] as i32);
        let heads = |a: &Array, h0: i32, h1: i32, t: usize| -> Result<Array> {
            Ok(ops::slice(
                a,
                &[0, h0, 0, 0],
                &[b, h1, t as i32, d],
                &[1; 4],
            )?)
        };
        let h = h2 / 2;
        if self.max_size.is_some() || self.quant.is_some() || (self.filled > 0 && !self.joint) {
            return self.update(heads(&kv, 0, h, l)?, heads(&kv, h, h2, l)?);
        }
        self.joint = true;
        let (start, end) = (self.filled, self.filled + l);
        let buf = write_growing(std::mem::take(&mut self.keys), vec![kv], start)?;
        self.filled = end;
        self.offset += l;
        let out = (heads(&buf[0], 0, h, end)?, heads(&buf[0], h, h2, end)?);
        self.keys = buf;
        Ok(out)
    }
    /// Appends `keys`/`values` (`[B, Hkv, L, D]`) and returns everything the new queries
    /// attend to.
    pub fn update(&mut self, keys: Array, values: Array) -> Result<(Array, Array)> {
        if self.joint {
            return self.update_stacked(ops::concatenate(&[keys, values], 1)?);
        }
        let l = keys.shape()[2];
        let (new_k, new_v) = (self.store(keys)?, self.store(values)?);
        if self.max_size.is_none() {
            let (start, end) = (self.filled, self.filled + l);
            let k = write_growing(std::mem::take(&mut self.keys), new_k, start)?;
            let v = write_growing(std::mem::take(&mut self.values), new_v, start)?;
            self.filled = end;
            self.offset += l;
            let filled = |parts: &[Array]| -> Result<Vec<Array>> {
                parts.iter().map(|a| slice_axis2(a, 0, end)).collect()
            };
            let out = (self.load(&filled(&k)?)?, self.load(&filled(&v)?)?);
            self.keys = k;
            self.values = v;
            return Ok(out);
        }
        let append = |old: Vec<Array>, new: Vec<Array>| -> Result<Vec<Array>> {
            if old.is_empty() {
                return Ok(new);
            }
            old.into_iter()
                .zip(new)
                .map(|(o, n)| Ok(ops::concatenate(&[o, n], 2)?))
                .collect()
        };
        let mut k = append(std::mem::take(&mut self.keys), new_k)?;
        let mut v = append(std::mem::take(&mut self.values), new_v)?;
        self.offset += l;
        if let Some(max) = self.max_size {
            let t = k[0].shape()[2];
            // keep at least the new positions so the current queries see themselves
            let limit = max.max(l + self.keep);
            if t > limit {
                let drop = t - limit;
                let trim = |a: &Array| -> Result<Array> {
                    let head = slice_axis2(a, 0, self.keep)?;
                    let tail = slice_axis2(a, self.keep + drop, t)?;
                    Ok(ops::concatenate(&[head, tail], 2)?)
                };
                k = k.iter().map(trim).collect::<Result<_>>()?;
                v = v.iter().map(trim).collect::<Result<_>>()?;
            }
        }
        let out = (self.load(&k)?, self.load(&v)?);
        self.keys = k;
        self.values = v;
        Ok(out)
    }
    /// What is kept of new entries: the array, or its quantized triple.
    fn store(&self, a: Array) -> Result<Vec<Array>> {
        Ok(match self.quant {
            None => vec![a],
            Some(q) => {
                let (w, s, b) = ops::quantize(&a, q.group_size, q.bits)?;
                vec![w, s, b]
            }
        })
    }
    /// The entries attention reads.
    fn load(&self, parts: &[Array]) -> Result<Array> {
        Ok(match self.quant {
            None => parts[0].clone(),
            Some(q) => ops::dequantize(&parts[0], &parts[1], &parts[2], q.group_size, q.bits)?,
        })
    }
    /// Bytes held.
    pub fn nbytes(&self) -> usize {
        self.keys
            .iter()
            .chain(&self.values)
            .map(|a| a.nbytes())
            .sum()
    }
}

/// Writes `new` (parts `[B, H, L, ..]`) at position `start` of the growing buffers `bufs`,
/// growing them by whole [`STEP`]s first when they are too short (or creating them).
fn write_growing(bufs: Vec<Array>, new: Vec<Array>, start: usize) -> Result<Vec<Array>> {
    let l = new[0].shape()[2];
    bufs.into_iter()
        .map(Some)
        .chain(std::iter::repeat_with(|| None))
        .zip(new)
        .map(|(buf, n)| {
            let s = n.shape().to_vec();
            let cap = buf.as_ref().map_or(0, |b| b.shape()[2]);
            let buf = if start + l > cap {
                // the filled part, then zeros up to the next whole step
                let fresh = (start + l).div_ceil(STEP) * STEP - start;
                let zeros = ops::zeros(
                    &[s[0] as i32, s[1] as i32, fresh as i32, s[3] as i32],
                    n.dtype(),
                )?;
                match buf {
                    Some(b) if start > 0 => {
                        ops::concatenate(&[slice_axis2(&b, 0, start)?, zeros], 2)?
                    }
                    _ => zeros,
                }
            } else {
                buf.expect("capacity implies a buffer")
            };
            let stop: Vec<i32> = [s[0], s[1], start + l, s[3]]
                .iter()
                .map(|&v| v as i32)
                .collect();
            Ok(ops::slice_update(
                &buf,
                &n,
                &[0, 0, start as i32, 0],
                &stop,
                &[1, 1, 1, 1],
            )?)
        })
        .collect()
}

fn slice_axis2(a: &Array, start: usize, stop: usize) -> Result<Array> {
    let s = a.shape();
    let stop_all: Vec<i32> = [s[0], s[1], stop, s[3]].iter().map(|&v| v as i32).collect();
    Ok(ops::slice(
        a,
        &[0, 0, start as i32, 0],
        &stop_all,
        &[1, 1, 1, 1],
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(seed: u32, l: usize) -> Array {
        let v: Vec<f32> = (0..2 * l * 64)
            .map(|i| (((i as u32).wrapping_mul(2654435761) ^ seed) % 1000) as f32 / 250.0 - 2.0)
            .collect();
        Array::from_slice(&v, &[1, 2, l as i32, 64])
    }

    /// The growing cache returns every entry so far in order, across growth by whole steps
    /// (a prompt past one step, single tokens across a step boundary, a jump of several steps).
    #[test]
    fn growing_cache_keeps_every_entry_across_steps() {
        let mut cache = KvCache::new();
        let (mut want_k, mut want_v) = (vec![vec![]; 2], vec![vec![]; 2]);
        for (step, l) in [300usize, 1, 1, 200, 10, 1, 600].into_iter().enumerate() {
            let (k, v) = (entries(step as u32, l), entries(1000 + step as u32, l));
            for (want, a) in [(&mut want_k, &k), (&mut want_v, &v)] {
                let flat = a.to_vec::<f32>().unwrap();
                for (h, w) in want.iter_mut().enumerate() {
                    w.extend_from_slice(&flat[h * l * 64..(h + 1) * l * 64]);
                }
            }
            let (gk, gv) = cache.update(k, v).unwrap();
            let t = want_k[0].len() / 64;
            assert_eq!((cache.len(), cache.offset()), (t, t));
            assert_eq!(gk.shape(), [1, 2, t, 64]);
            assert_eq!(
                cache.keys[0].shape()[2] % STEP,
                0,
                "capacity in whole steps"
            );
            assert!(cache.keys[0].shape()[2] < t + STEP);
            assert_eq!(
                gk.to_vec::<f32>().unwrap(),
                want_k.concat(),
                "keys after step {step}"
            );
            assert_eq!(
                gv.to_vec::<f32>().unwrap(),
                want_v.concat(),
                "values after step {step}"
            );
        }
    }

    /// Keys and values stacked along the heads (`update_stacked`, one buffer) give what separate
    /// updates give, also when the two kinds of update alternate, across growth steps; a
    /// rotating cache takes stacked entries through its separate buffers.
    #[test]
    fn stacked_updates_equal_separate_ones() {
        for max in [None, Some(100)] {
            let make = || match max {
                Some(m) => KvCache::rotating(m, 4),
                None => KvCache::new(),
            };
            let (mut plain, mut stacked) = (make(), make());
            for (step, l) in [300usize, 1, 1, 200, 10, 1].into_iter().enumerate() {
                let (k, v) = (entries(step as u32, l), entries(1000 + step as u32, l));
                let want = plain.update(k.clone(), v.clone()).unwrap();
                let got = match step % 3 {
                    2 => stacked.update(k, v).unwrap(),
                    _ => stacked
                        .update_stacked(ops::concatenate(&[k, v], 1).unwrap())
                        .unwrap(),
                };
                assert_eq!(stacked.len(), plain.len());
                assert_eq!(stacked.offset(), plain.offset());
                for (g, w) in [(&got.0, &want.0), (&got.1, &want.1)] {
                    assert_eq!(g.shape(), w.shape(), "step {step} max {max:?}");
                    assert_eq!(
                        g.to_vec::<f32>().unwrap(),
                        w.to_vec::<f32>().unwrap(),
                        "step {step} max {max:?}"
                    );
                }
            }
            assert_eq!(stacked.joint, max.is_none());
        }
    }

    /// A quantized cache returns the dequantized entries (within one quantization step: MLX's
    /// quantizer represents one edge of each group exactly and may clip the other), stores a fraction of the f32 bytes, and rotates like the plain cache.
    #[test]
    fn quantized_cache_round_trips_and_rotates() {
        for (bits, max) in [(8, None), (4, None), (4, Some(6))] {
            let q = KvQuant {
                bits,
                group_size: 32,
            };
            let mut plain = match max {
                Some(m) => KvCache::rotating(m, 2),
                None => KvCache::new(),
            };
            let mut quant = plain.clone().quantized(q);
            for (step, l) in [5usize, 1, 1, 3].into_iter().enumerate() {
                let (k, v) = (entries(step as u32, l), entries(100 + step as u32, l));
                let (pk, pv) = plain.update(k.clone(), v.clone()).unwrap();
                let (qk, qv) = quant.update(k, v).unwrap();
                assert_eq!(qk.shape(), pk.shape());
                assert_eq!(quant.offset(), plain.offset());
                let step_size = 4.0 / ((1 << bits) - 1) as f32;
                for (a, b) in [(&pk, &qk), (&pv, &qv)] {
                    let (a, b) = (a.to_vec::<f32>().unwrap(), b.to_vec::<f32>().unwrap());
                    let worst = a
                        .iter()
                        .zip(&b)
                        .map(|(x, y)| (x - y).abs())
                        .fold(0.0f32, f32::max);
                    assert!(
                        worst <= step_size + 1e-5,
                        "{bits} bits, step {step}: error {worst}"
                    );
                }
            }
            let ratio = quant.nbytes() as f64 / plain.nbytes() as f64;
            let want = bits as f64 / 32.0 + 2.0 / 32.0;
            assert!(
                (ratio - want).abs() < 1e-9,
                "{bits} bits: {ratio} of the f32 bytes, expected {want}"
            );
        }
    }
}
