//! Token sampling on the host from one row of logits, with mlx-lm's options: greedy
//! (temperature 0), temperature, top-k, top-p (nucleus), min-p and a repetition penalty over
//! the last tokens, seeded and reproducible.

/// Sampling options.
#[derive(Debug, Clone, PartialEq)]
pub struct SamplerConfig {
    /// Softmax temperature; 0 picks the most likely token.
    pub temperature: f32,
    /// Keep the smallest set of tokens whose probabilities sum to at least this (1 = off).
    pub top_p: f32,
    /// Keep the `top_k` most likely tokens (0 = off).
    pub top_k: usize,
    /// Keep tokens at least `min_p` times as likely as the most likely one (0 = off).
    pub min_p: f32,
    /// Divides positive logits (multiplies negative ones) of recent tokens (1 = off).
    pub repetition_penalty: f32,
    /// How many recent tokens the penalty looks at.
    pub repetition_context: usize,
    /// Seed of the random stream.
    pub seed: u64,
}

impl Default for SamplerConfig {
    fn default() -> Self {
        SamplerConfig {
            temperature: 0.0,
            top_p: 1.0,
            top_k: 0,
            min_p: 0.0,
            repetition_penalty: 1.0,
            repetition_context: 20,
            seed: 0,
        }
    }
}

/// A sampler with its random state.
#[derive(Debug, Clone)]
pub struct Sampler {
    config: SamplerConfig,
    state: u64,
}

impl Sampler {
    /// A sampler seeded from `config.seed`.
    pub fn new(config: SamplerConfig) -> Sampler {
        let state = config.seed ^ 0x9E37_79B9_7F4A_7C15;
        Sampler { config, state }
    }

    /// True when sampling is plain argmax (temperature 0, no repetition penalty), which the
    /// device can do itself.
    pub fn is_greedy(&self) -> bool {
        self.config.temperature <= 0.0 && self.config.repetition_penalty == 1.0
    }

    /// Uniform in [0, 1) (splitmix64).
    fn uniform(&mut self) -> f64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Picks the next token from `logits` (one per vocabulary entry) given the tokens so far.
    pub fn sample(&mut self, logits: &[f32], history: &[u32]) -> u32 {
        let c = &self.config;
        let mut l: Vec<f32> = logits.to_vec();
        if c.repetition_penalty != 1.0 {
            let start = history.len().saturating_sub(c.repetition_context);
            for &t in &history[start..] {
                if let Some(v) = l.get_mut(t as usize) {
                    *v = if *v < 0.0 {
                        *v * c.repetition_penalty
                    } else {
                        *v / c.repetition_penalty
                    };
                }
            }
        }
        if c.temperature <= 0.0 {
            return argmax(&l);
        }
        let max = l.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
        let mut p: Vec<(u32, f64)> = l
            .iter()
            .enumerate()
            .map(|(i, &v)| (i as u32, (((v - max) / c.temperature) as f64).exp()))
            .collect();
        p.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let total: f64 = p.iter().map(|x| x.1).sum();
        let mut keep = p.len();
        if c.top_k > 0 {
            keep = keep.min(c.top_k);
        }
        if c.min_p > 0.0 {
            let floor = p[0].1 * c.min_p as f64;
            keep = keep.min(p.iter().take_while(|x| x.1 >= floor).count().max(1));
        }
        if c.top_p < 1.0 {
            let mut acc = 0.0;
            let n = p.iter().take_while(|x| {
                let before = acc;
                acc += x.1 / total;
                before < c.top_p as f64
            });
            keep = keep.min(n.count().max(1));
        }
        let p = &p[..keep];
        let z: f64 = p.iter().map(|x| x.1).sum();
        let mut r = self.uniform() * z;
        for &(t, w) in p {
            if r < w {
                return t;
            }
            r -= w;
        }
        p[p.len() - 1].0
    }
}

/// Index of the largest value (the first one on ties; NaN never wins).
pub fn argmax(v: &[f32]) -> u32 {
    let mut best = 0;
    for (i, &x) in v.iter().enumerate() {
        if x > v[best] || v[best].is_nan() {
            best = i;
        }
    }
    best as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greedy_and_filters() {
        let logits = [0.0f32, 3.0, 1.0, 2.9];
        let mut s = Sampler::new(SamplerConfig::default());
        assert_eq!(s.sample(&logits, &[]), 1);
        // the penalty makes token 1 lose to token 3
        let mut s = Sampler::new(SamplerConfig {
            repetition_penalty: 1.5,
            ..Default::default()
        });
        assert_eq!(s.sample(&logits, &[1]), 3);
        // top-k 1 and min-p near 1 are greedy whatever the temperature
        for cfg in [
            SamplerConfig {
                temperature: 5.0,
                top_k: 1,
                ..Default::default()
            },
            SamplerConfig {
                temperature: 5.0,
                min_p: 0.999,
                ..Default::default()
            },
        ] {
            let mut s = Sampler::new(cfg);
            assert!((0..50).all(|_| s.sample(&logits, &[]) == 1));
        }
        // top-p 0.5 keeps only the tokens needed to reach half the mass: 1 and 3
        let mut s = Sampler::new(SamplerConfig {
            temperature: 1.0,
            top_p: 0.5,
            seed: 3,
            ..Default::default()
        });
        let picks: Vec<u32> = (0..200).map(|_| s.sample(&logits, &[])).collect();
        assert!(picks.iter().all(|&t| t == 1 || t == 3));
        assert!(picks.contains(&1) && picks.contains(&3));
        // same seed, same stream
        let run = |seed| {
            let mut s = Sampler::new(SamplerConfig {
                temperature: 1.0,
                seed,
                ..Default::default()
            });
            (0..20).map(|_| s.sample(&logits, &[])).collect::<Vec<_>>()
        };
        assert_eq!(run(7), run(7));
        assert_ne!(run(7), run(8));
    }
}
