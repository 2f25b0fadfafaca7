//! Key/value caches of one attention layer: keys and values `[B, Hkv, T, D]` of every position
//! seen so far (growing), or of the first `keep` and the most recent positions up to
//! `max_size` (rotating, mlx-lm's `RotatingKVCache`, for `--max-kv-size`). Keys are stored
//! after RoPE, so evicting old positions needs no re-rotation.

use crate::Result;
use mlx_arm::{ops, Array};

/// One layer's cache.
#[derive(Debug, Clone, Default)]
pub struct KvCache {
    keys: Option<Array>,
    values: Option<Array>,
    /// Positions seen (the RoPE offset of the next token), evicted ones included.
    offset: usize,
    /// Most positions kept (`None`: grow without bound).
    max_size: Option<usize>,
    /// Leading positions never evicted (attention sinks).
    keep: usize,
}

impl KvCache {
    /// A cache that keeps every position.
    pub fn new() -> KvCache {
        KvCache::default()
    }
    /// A cache that keeps the first `keep` and the latest positions, `max_size` in all.
    pub fn rotating(max_size: usize, keep: usize) -> KvCache {
        KvCache { max_size: Some(max_size.max(keep + 1)), keep, ..KvCache::default() }
    }
    /// Positions processed so far (the RoPE offset of the next token).
    pub fn offset(&self) -> usize {
        self.offset
    }
    /// Positions currently held.
    pub fn len(&self) -> usize {
        self.keys.as_ref().map_or(0, |k| k.shape()[2])
    }
    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Appends `keys`/`values` (`[B, Hkv, L, D]`) and returns everything the new queries
    /// attend to.
    pub fn update(&mut self, keys: Array, values: Array) -> Result<(Array, Array)> {
        let l = keys.shape()[2];
        let (mut k, mut v) = match (self.keys.take(), self.values.take()) {
            (Some(k0), Some(v0)) => (ops::concatenate(&[k0, keys], 2)?, ops::concatenate(&[v0, values], 2)?),
            _ => (keys, values),
        };
        self.offset += l;
        if let Some(max) = self.max_size {
            let t = k.shape()[2];
            // keep at least the new positions so the current queries see themselves
            let limit = max.max(l + self.keep);
            if t > limit {
                let drop = t - limit;
                let trim = |a: &Array| -> Result<Array> {
                    let head = slice_axis2(a, 0, self.keep)?;
                    let tail = slice_axis2(a, self.keep + drop, t)?;
                    Ok(ops::concatenate(&[head, tail], 2)?)
                };
                k = trim(&k)?;
                v = trim(&v)?;
            }
        }
        self.keys = Some(k.clone());
        self.values = Some(v.clone());
        Ok((k, v))
    }
    /// Bytes held.
    pub fn nbytes(&self) -> usize {
        self.keys.as_ref().map_or(0, |k| k.nbytes()) + self.values.as_ref().map_or(0, |v| v.nbytes())
    }
}

fn slice_axis2(a: &Array, start: usize, stop: usize) -> Result<Array> {
    let s = a.shape();
    let stop_all: Vec<i32> = [s[0], s[1], stop, s[3]].iter().map(|&v| v as i32).collect();
    Ok(ops::slice(a, &[0, 0, start as i32, 0], &stop_all, &[1, 1, 1, 1])?)
}
