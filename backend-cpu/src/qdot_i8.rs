//! Integer row dots of the quantized mat-vec (`quantized_matmul` with `transpose` and a few rows
//! of `x`, bits 4 and 8): the activations are quantized to int8 per block of 32 values, as
//! llama.cpp's Q8 activations, and each block's `Σ q·xq` is computed with integer dot products.
//!
//! Per 32-value block `b` of a row of `x`: `dx_b = max|x| / 127`, `xq_i = round(x_i / dx_b)`
//! (so `|x_i - dx_b·xq_i| <= dx_b / 2`). Per group `g` of the weights (`gs` = 32, 64 or 128, a
//! multiple of the block) `Σ (s_g·q_i + b_g)·x_i` becomes `s_g·Σ_b dx_b·Σ_{i∈b} q_i·xq_i +
//! b_g·Σ_b dx_b·Σ_{i∈b} xq_i`: the bias term takes the sum of the *quantized* `x` (as llama.cpp's
//! Q8_1 does), so the whole product is `Σ_i w_i·(dx_b·xq_i)` and the error against the f32 path is
//! at most `Σ_i |w_i|·dx_b/2` (plus f32 rounding), about 0.4% of `Σ|w|·max|x|`. With the exact
//! `Σx` in the bias term instead, the error would be `Σ_i s_g·q_i·(x_i - dx_b·xq_i)`: `|s·q|`
//! runs up to `2·max|w|` in MLX's affine layout (`b ≈ -max|w|`), about twice the error on
//! weights centred on zero. Rows of `x` holding NaN or ±inf (or values beyond 2^100, where
//! products could overflow) take the f32 path, so non-finite results are exactly the f32 path's.
//!
//! The quantized block is stored permuted for 4-bit weights, `[x0, x2, .., x30, x1, x3, .., x31]`:
//! byte `j` of a 4-bit block holds values `2j` (low nibble) and `2j + 1` (high nibble), so the low
//! nibbles of the block's 16 bytes meet the first 16 bytes of `x` and the high nibbles the last 16
//! (no nibble shuffles). 8-bit blocks are in order.
//!
//! Instruction sets ([`Level`]), picked once at run time from [`crate::simd::arch`] and CPU
//! feature detection:
//! - x86-64 AVX-512 VNNI (`avx512vnni` + `avx512bw` + `avx512vl`): `vpdpbusd` (u8 × i8 summed
//!   into i32, no saturation) for 4 and 8 bits.
//! - x86-64 AVX2: `vpmaddubsw` + `vpmaddwd` for 4 bits (`2·15·127` fits i16); for 8 bits
//!   (`2·255·127` does not) both operands are widened to i16 and multiplied with `vpmaddwd`.
//! - aarch64 NEON with the `dotprod` extension: `sdot` (i8 × i8 into i32); 8-bit weights enter
//!   as `q - 128` and `128·Σ xq` of the block is added back.
//! - aarch64 plain NEON: `smull`/`smlal` (i8 × i8 into i16, at most two products per i16 lane)
//!   and `sadalp` into i32; 8-bit weights as `q - 128` as above.
//! - anything else: portable integer loops.
//!
//! `MLX_ARM_CPU_SIMD` (see [`crate::simd::arch`]) forces lower levels: `scalar` the portable
//! loops, `avx2` the AVX2 kernels on x86-64, `neon` plain NEON (no `dotprod`) on aarch64.
//! `MLX_ARM_CPU_QMV=f32` switches the int8 activations off: the mat-vec then runs the exact f32
//! row dots of `simd::qdot4`/`qdot8` (what every version before this one did).

use std::sync::OnceLock;

/// Values per activation block (one `dx` each).
pub const BLOCK: usize = 32;
/// Rows of `x` with a value of larger magnitude take the f32 path.
const HUGE: f32 = 1.2676506e30; // 2^100

/// An instruction-set level of the int8 row dots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// Portable integer loops.
    Scalar,
    /// x86-64 AVX2 (`vpmaddubsw`/`vpmaddwd`).
    Avx2,
    /// x86-64 AVX-512 VNNI (`vpdpbusd`).
    Avx512Vnni,
    /// aarch64 NEON without `dotprod` (`smull`/`sadalp`).
    Neon,
    /// aarch64 NEON with `dotprod` (`sdot`).
    NeonDot,
}

impl Level {
    /// Every level, lowest first.
    pub const ALL: [Level; 5] = [
        Level::Scalar,
        Level::Avx2,
        Level::Avx512Vnni,
        Level::Neon,
        Level::NeonDot,
    ];

    /// True when this CPU runs the level.
    pub fn available(self) -> bool {
        match self {
            Level::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            Level::Avx2 => is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"),
            #[cfg(target_arch = "x86_64")]
            Level::Avx512Vnni => {
                Level::Avx2.available()
                    && is_x86_feature_detected!("avx512f")
                    && is_x86_feature_detected!("avx512bw")
                    && is_x86_feature_detected!("avx512vl")
                    && is_x86_feature_detected!("avx512vnni")
            }
            #[cfg(target_arch = "aarch64")]
            Level::Neon => std::arch::is_aarch64_feature_detected!("neon"),
            #[cfg(target_arch = "aarch64")]
            Level::NeonDot => {
                std::arch::is_aarch64_feature_detected!("neon")
                    && std::arch::is_aarch64_feature_detected!("dotprod")
            }
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }
}

/// The levels this CPU runs, lowest first.
pub fn levels() -> Vec<Level> {
    Level::ALL.into_iter().filter(|l| l.available()).collect()
}

/// The level the mat-vec uses: the best this CPU has, within what `MLX_ARM_CPU_SIMD` allows.
pub fn level() -> Level {
    static L: OnceLock<Level> = OnceLock::new();
    *L.get_or_init(|| {
        #[allow(unused_imports)]
        use pulp::Arch;
        match crate::simd::arch() {
            #[cfg(target_arch = "x86_64")]
            Arch::V4(_) if Level::Avx512Vnni.available() => Level::Avx512Vnni,
            #[cfg(target_arch = "x86_64")]
            Arch::V4(_) | Arch::V3(_) if Level::Avx2.available() => Level::Avx2,
            #[cfg(target_arch = "aarch64")]
            Arch::Neon(_) => {
                if std::env::var("MLX_ARM_CPU_SIMD").as_deref() != Ok("neon")
                    && Level::NeonDot.available()
                {
                    Level::NeonDot
                } else {
                    Level::Neon
                }
            }
            _ => Level::Scalar,
        }
    })
}

/// How the quantized mat-vec computes its row dots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Path {
    /// f32 activations, f32 arithmetic (`simd::qdot4`/`qdot8`).
    F32,
    /// int8 activations per 32-block (llama.cpp's Q8), integer dots at the given level.
    Int8(Level),
    /// Two int8 levels per 32-block (`x ≈ dx·xq1 + dx/254·xq2`, about 15 bits), integer dots at
    /// the given level: twice the dot products of [`Path::Int8`], 1/254 of its error.
    Int8x2(Level),
}

impl Path {
    /// The level of an integer path.
    pub fn level(self) -> Option<Level> {
        match self {
            Path::F32 => None,
            Path::Int8(l) | Path::Int8x2(l) => Some(l),
        }
    }
}

/// The path `quantized_matmul` takes for 4- and 8-bit mat-vecs, read once from
/// `MLX_ARM_CPU_QMV`: `f32` gives [`Path::F32`], `int8` [`Path::Int8`], anything else (or unset)
/// [`Path::Int8x2`], at [`level`].
pub fn default_path() -> Path {
    static P: OnceLock<Path> = OnceLock::new();
    *P.get_or_init(|| match std::env::var("MLX_ARM_CPU_QMV").as_deref() {
        Ok("f32") => Path::F32,
        Ok("int8") => Path::Int8(level()),
        _ => Path::Int8x2(level()),
    })
}

/// `x (m x k) @ W.T` for the packed `W` (`n x k`, `bits`-bit, groups of `gs`) along `path`,
/// into a new `m x n` vector: the kernel `quantized_matmul` runs for decode shapes, exposed so
/// that tests can run every path and level. Panics when `path`'s level is not available, or on
/// sizes that do not fit.
#[allow(clippy::too_many_arguments)]
pub fn quantized_matvec_t(
    path: Path,
    x: &[f32],
    words: &[u32],
    scales: &[f32],
    biases: &[f32],
    m: usize,
    n: usize,
    k: usize,
    gs: usize,
    bits: usize,
) -> Vec<f32> {
    if let Some(l) = path.level() {
        assert!(l.available(), "{l:?} is not available on this CPU");
    }
    assert!(k % gs == 0 && (k * bits) % 32 == 0);
    assert_eq!(x.len(), m * k);
    assert_eq!(words.len(), n * k * bits / 32);
    assert_eq!(scales.len(), n * k / gs);
    assert_eq!(biases.len(), n * k / gs);
    let mut out = vec![0f32; m * n];
    use crate::quantized::Scales;
    crate::quantized::matvec_t_path(
        x,
        words,
        Scales::F32(scales),
        Scales::F32(biases),
        gs,
        bits,
        &mut out,
        m,
        n,
        k,
        path,
    );
    out
}

/// The rows of `x` as int8 blocks.
pub(crate) struct QuantX {
    /// Per block its 32 values (4-bit blocks permuted, see the module doc), then for two levels
    /// the 32 residuals in the same order.
    pub q: Vec<i8>,
    /// `m·k/32` block steps: `dx` (one level) or `dx/254` (two levels: the integer block sums
    /// are `254·Σ q·xq1 + Σ q·xq2`).
    pub d: Vec<f32>,
    /// `m·k/32` block sums `Σ xq` (two levels: `254·Σ xq1 + Σ xq2`), for the `q - 128` form of
    /// 8-bit weights.
    pub s: Vec<i32>,
    /// Per row of `x`: every value finite and at most 2^100 in magnitude (else the row takes the
    /// f32 path).
    pub finite: Vec<bool>,
    /// `m·k/gs` group sums of the quantized `x`, `Σ_b d_b·s_b` (the bias term's `Σx`).
    pub gsum: Vec<f32>,
}

/// Quantizes the `m` rows of `x` (`k` values each, `k` a multiple of 32 and of `gs`) for
/// `bits`-bit weights in groups of `gs`, with one level or two (`fine`).
pub(crate) fn quantize_x(
    x: &[f32],
    m: usize,
    k: usize,
    bits: usize,
    gs: usize,
    fine: bool,
) -> QuantX {
    let nb = m * k / BLOCK;
    let per = if fine { 2 * BLOCK } else { BLOCK };
    let mut qx = QuantX {
        q: vec![0; nb * per],
        d: vec![0.0; nb],
        s: vec![0; nb],
        finite: vec![true; m],
        gsum: Vec::new(),
    };
    for (b, (xb, qb)) in x
        .chunks_exact(BLOCK)
        .zip(qx.q.chunks_exact_mut(per))
        .enumerate()
    {
        let mut amax = 0f32;
        let mut finite = true;
        for &v in xb {
            finite &= v.is_finite();
            amax = amax.max(v.abs());
        }
        // huge values (|x| > 2^100, near f32::MAX) take the f32 path too: `dx·Σxq` and the block
        // products could overflow where the f32 path's do not, or the other way round
        if !finite || amax > HUGE {
            qx.finite[b * BLOCK / k] = false;
            continue;
        }
        let (d, s) = quantize_block(xb, amax, bits, qb, fine);
        qx.d[b] = d;
        qx.s[b] = s;
    }
    qx.gsum =
        qx.d.chunks_exact(gs / BLOCK)
            .zip(qx.s.chunks_exact(gs / BLOCK))
            .map(|(d, s)| d.iter().zip(s).map(|(&d, &s)| d * s as f32).sum())
            .collect();
    qx
}

/// One block: `dx = amax/127`, `q1 = round(x/dx)` into `out[..32]` (permuted for 4 bits); with
/// `fine` also `q2 = round((x - dx·q1)·254/dx)` (in -127..=127) into `out[32..64]`. Returns the
/// step and the integer sum: `(dx, Σ q1)` or `(dx/254, 254·Σ q1 + Σ q2)`.
#[inline]
fn quantize_block(xb: &[f32], amax: f32, bits: usize, out: &mut [i8], fine: bool) -> (f32, i32) {
    if amax == 0.0 {
        out.fill(0);
        return (0.0, 0);
    }
    // in f64: exact enough for both levels, and no overflow of 127/amax for tiny amax
    let id = 127.0 / amax as f64;
    let mut v1 = [0i8; BLOCK];
    let mut v2 = [0i8; BLOCK];
    for ((o1, o2), &v) in v1.iter_mut().zip(v2.iter_mut()).zip(xb) {
        let t = v as f64 * id;
        let q1 = t.round();
        *o1 = q1 as i8;
        *o2 = ((t - q1) * 254.0).round().clamp(-127.0, 127.0) as i8;
    }
    let place = |vals: &[i8; BLOCK], out: &mut [i8]| {
        if bits == 4 {
            for j in 0..BLOCK / 2 {
                out[j] = vals[2 * j];
                out[BLOCK / 2 + j] = vals[2 * j + 1];
            }
        } else {
            out[..BLOCK].copy_from_slice(vals);
        }
    };
    place(&v1, &mut out[..BLOCK]);
    let s1: i32 = v1.iter().map(|&v| v as i32).sum();
    let dx = amax / 127.0;
    if fine {
        place(&v2, &mut out[BLOCK..2 * BLOCK]);
        let s2: i32 = v2.iter().map(|&v| v as i32).sum();
        (dx / 254.0, 254 * s1 + s2)
    } else {
        (dx, s1)
    }
}

/// A row dot: `(words, xq, dx, xs, scales, biases, xsum, gs)` for one weight row and one row of
/// `x` gives `Σ_b d_b·s_{g(b)}·P_b + Σ_g b_g·xsum_g`, `P_b` the block's integer sum (`Σ q·xq`,
/// or `254·Σ q·xq1 + Σ q·xq2` for two levels; `xs`: the blocks' [`QuantX::s`]; `xsum`: the
/// groups' `Σ x`, [`QuantX::gsum`] in the mat-vec).
pub(crate) type RowDot =
    unsafe fn(&[u32], &[i8], &[f32], &[i32], &[f32], &[f32], &[f32], usize) -> f32;

/// The row dot for `bits` (4 or 8) at `level`, one level of activations or two (`fine`).
/// Calling it is safe when `level.available()`.
pub(crate) fn row_dot(level: Level, bits: usize, fine: bool) -> RowDot {
    macro_rules! pick {
        ($($f:ident)::+) => {
            if fine {
                $($f)::+::<true>
            } else {
                $($f)::+::<false>
            }
        };
    }
    match (level, bits) {
        #[cfg(target_arch = "x86_64")]
        (Level::Avx2, 4) => pick!(x86::dot4_avx2),
        #[cfg(target_arch = "x86_64")]
        (Level::Avx2, _) => pick!(x86::dot8_avx2),
        #[cfg(target_arch = "x86_64")]
        (Level::Avx512Vnni, 4) => pick!(x86::dot4_vnni),
        #[cfg(target_arch = "x86_64")]
        (Level::Avx512Vnni, _) => pick!(x86::dot8_vnni),
        #[cfg(target_arch = "aarch64")]
        (Level::Neon, 4) => pick!(arm::dot4_neon),
        #[cfg(target_arch = "aarch64")]
        (Level::Neon, _) => pick!(arm::dot8_neon),
        #[cfg(target_arch = "aarch64")]
        (Level::NeonDot, 4) => pick!(arm::dot4_dot),
        #[cfg(target_arch = "aarch64")]
        (Level::NeonDot, _) => pick!(arm::dot8_dot),
        (_, 4) => pick!(dot_scalar4),
        _ => pick!(dot_scalar8),
    }
}

/// Checks the slices a row dot reads (the SIMD kernels then load without bounds checks);
/// returns (blocks, log2 of blocks per group).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn check(
    bits: usize,
    fine: bool,
    words: &[u32],
    xq: &[i8],
    dx: &[f32],
    xs: &[i32],
    scales: &[f32],
    biases: &[f32],
    xsum: &[f32],
    gs: usize,
) -> (usize, u32) {
    let per = if fine { 2 * BLOCK } else { BLOCK };
    let nb = xq.len() / per;
    let bpg = gs / BLOCK;
    assert!(bpg.is_power_of_two() && gs % BLOCK == 0);
    assert!(xq.len() == nb * per && words.len() == nb * bits && dx.len() == nb && xs.len() == nb);
    assert!(scales.len() * bpg == nb && biases.len() == scales.len() && xsum.len() == scales.len());
    (nb, bpg.trailing_zeros())
}

/// `Σ_g b_g·xsum_g`.
#[inline(always)]
fn bias_term(biases: &[f32], xsum: &[f32]) -> f32 {
    biases.iter().zip(xsum).map(|(b, s)| b * s).sum()
}

/// Portable integer sum of one block (endian-independent: values are taken from the words by
/// shifts) against the 32 activations `x`.
#[inline(always)]
fn block_scalar<const BITS: usize>(w: &[u32], x: &[i8]) -> i32 {
    let mut s = 0i32;
    for (j, &wd) in w.iter().enumerate() {
        for t in 0..4 {
            let byte = (wd >> (8 * t)) & 0xff;
            let kb = 4 * j + t;
            if BITS == 4 {
                s += (byte & 15) as i32 * x[kb] as i32
                    + (byte >> 4) as i32 * x[BLOCK / 2 + kb] as i32;
            } else {
                s += byte as i32 * x[kb] as i32;
            }
        }
    }
    s
}

/// Portable row dot.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn dot_scalar<const BITS: usize, const FINE: bool>(
    words: &[u32],
    xq: &[i8],
    dx: &[f32],
    xs: &[i32],
    scales: &[f32],
    biases: &[f32],
    xsum: &[f32],
    gs: usize,
) -> f32 {
    let (_, sh) = check(BITS, FINE, words, xq, dx, xs, scales, biases, xsum, gs);
    let per = if FINE { 2 * BLOCK } else { BLOCK };
    let mut acc = 0f32;
    for (b, (w, x)) in words
        .chunks_exact(BITS)
        .zip(xq.chunks_exact(per))
        .enumerate()
    {
        let p = if FINE {
            254 * block_scalar::<BITS>(w, &x[..BLOCK]) + block_scalar::<BITS>(w, &x[BLOCK..])
        } else {
            block_scalar::<BITS>(w, x)
        };
        acc += dx[b] * scales[b >> sh] * p as f32;
    }
    acc + bias_term(biases, xsum)
}

unsafe fn dot_scalar4<const FINE: bool>(
    words: &[u32],
    xq: &[i8],
    dx: &[f32],
    xs: &[i32],
    scales: &[f32],
    biases: &[f32],
    xsum: &[f32],
    gs: usize,
) -> f32 {
    dot_scalar::<4, FINE>(words, xq, dx, xs, scales, biases, xsum, gs)
}

unsafe fn dot_scalar8<const FINE: bool>(
    words: &[u32],
    xq: &[i8],
    dx: &[f32],
    xs: &[i32],
    scales: &[f32],
    biases: &[f32],
    xsum: &[f32],
    gs: usize,
) -> f32 {
    dot_scalar::<8, FINE>(words, xq, dx, xs, scales, biases, xsum, gs)
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::*;
    use std::arch::x86_64::*;

    #[inline(always)]
    unsafe fn hsum(a: __m256) -> f32 {
        let h = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
        let h = _mm_add_ps(h, _mm_movehl_ps(h, h));
        let h = _mm_add_ss(h, _mm_shuffle_ps(h, h, 1));
        _mm_cvtss_f32(h)
    }

    /// The 32 values of 4-bit block `b` as bytes: low nibbles (even values) then high nibbles.
    #[inline(always)]
    unsafe fn nibbles(wp: *const u8, b: usize) -> __m256i {
        let t = _mm_loadu_si128(wp.add(16 * b) as *const __m128i);
        _mm256_and_si256(
            _mm256_set_m128i(_mm_srli_epi16(t, 4), t),
            _mm256_set1_epi8(0x0f),
        )
    }

    #[inline(always)]
    unsafe fn bytes(wp: *const u8, b: usize) -> __m256i {
        _mm256_loadu_si256(wp.add(BLOCK * b) as *const __m256i)
    }

    /// The common loop over blocks: `prep(b)` gives block `b`'s weights, `dot(w, x)` their eight
    /// i32 partial sums against 32 activations at `x`; two levels are combined as
    /// `254·P1 + P2`. Two accumulators.
    #[inline(always)]
    unsafe fn run<const FINE: bool>(
        nb: usize,
        sh: u32,
        xp: *const i8,
        dx: &[f32],
        scales: &[f32],
        prep: impl Fn(usize) -> __m256i,
        dot: impl Fn(__m256i, *const i8) -> __m256i,
    ) -> f32 {
        let blk = |b: usize| {
            let w = prep(b);
            if FINE {
                let p1 = dot(w, xp.add(2 * BLOCK * b));
                let p2 = dot(w, xp.add(2 * BLOCK * b + BLOCK));
                _mm256_add_epi32(
                    _mm256_sub_epi32(_mm256_slli_epi32(p1, 8), _mm256_slli_epi32(p1, 1)),
                    p2,
                )
            } else {
                dot(w, xp.add(BLOCK * b))
            }
        };
        let (mut a0, mut a1) = (_mm256_setzero_ps(), _mm256_setzero_ps());
        let mut b = 0;
        while b + 2 <= nb {
            let (p0, p1) = (blk(b), blk(b + 1));
            let d0 = *dx.get_unchecked(b) * *scales.get_unchecked(b >> sh);
            let d1 = *dx.get_unchecked(b + 1) * *scales.get_unchecked((b + 1) >> sh);
            a0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p0), _mm256_set1_ps(d0), a0);
            a1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p1), _mm256_set1_ps(d1), a1);
            b += 2;
        }
        if b < nb {
            let d0 = *dx.get_unchecked(b) * *scales.get_unchecked(b >> sh);
            a0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(blk(b)), _mm256_set1_ps(d0), a0);
        }
        hsum(_mm256_add_ps(a0, a1))
    }

    #[inline(always)]
    unsafe fn xload(x: *const i8) -> __m256i {
        _mm256_loadu_si256(x as *const __m256i)
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn dot4_avx2<const FINE: bool>(
        words: &[u32],
        xq: &[i8],
        dx: &[f32],
        xs: &[i32],
        scales: &[f32],
        biases: &[f32],
        xsum: &[f32],
        gs: usize,
    ) -> f32 {
        let (nb, sh) = check(4, FINE, words, xq, dx, xs, scales, biases, xsum, gs);
        let wp = words.as_ptr() as *const u8;
        let ones = _mm256_set1_epi16(1);
        // u8 (0..15) x i8 (-127..127): a pair sums to at most 3810, no i16 saturation
        run::<FINE>(
            nb,
            sh,
            xq.as_ptr(),
            dx,
            scales,
            |b| nibbles(wp, b),
            |w, x| _mm256_madd_epi16(_mm256_maddubs_epi16(w, xload(x)), ones),
        ) + bias_term(biases, xsum)
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn dot8_avx2<const FINE: bool>(
        words: &[u32],
        xq: &[i8],
        dx: &[f32],
        xs: &[i32],
        scales: &[f32],
        biases: &[f32],
        xsum: &[f32],
        gs: usize,
    ) -> f32 {
        let (nb, sh) = check(8, FINE, words, xq, dx, xs, scales, biases, xsum, gs);
        let wp = words.as_ptr() as *const u8;
        let z = _mm256_setzero_si256();
        // 255·127·2 overflows maddubs' i16: widen both sides to i16 (in-lane unpacks, the same
        // lanes for w and x) and multiply-add pairs into i32
        run::<FINE>(
            nb,
            sh,
            xq.as_ptr(),
            dx,
            scales,
            |b| bytes(wp, b),
            |w, x| {
                let x = xload(x);
                let sx = _mm256_cmpgt_epi8(z, x);
                let lo = _mm256_madd_epi16(_mm256_unpacklo_epi8(w, z), _mm256_unpacklo_epi8(x, sx));
                let hi = _mm256_madd_epi16(_mm256_unpackhi_epi8(w, z), _mm256_unpackhi_epi8(x, sx));
                _mm256_add_epi32(lo, hi)
            },
        ) + bias_term(biases, xsum)
    }

    #[target_feature(enable = "avx2,fma,avx512f,avx512bw,avx512vl,avx512vnni")]
    pub(super) unsafe fn dot4_vnni<const FINE: bool>(
        words: &[u32],
        xq: &[i8],
        dx: &[f32],
        xs: &[i32],
        scales: &[f32],
        biases: &[f32],
        xsum: &[f32],
        gs: usize,
    ) -> f32 {
        let (nb, sh) = check(4, FINE, words, xq, dx, xs, scales, biases, xsum, gs);
        let wp = words.as_ptr() as *const u8;
        run::<FINE>(
            nb,
            sh,
            xq.as_ptr(),
            dx,
            scales,
            |b| nibbles(wp, b),
            |w, x| _mm256_dpbusd_epi32(_mm256_setzero_si256(), w, xload(x)),
        ) + bias_term(biases, xsum)
    }

    #[target_feature(enable = "avx2,fma,avx512f,avx512bw,avx512vl,avx512vnni")]
    pub(super) unsafe fn dot8_vnni<const FINE: bool>(
        words: &[u32],
        xq: &[i8],
        dx: &[f32],
        xs: &[i32],
        scales: &[f32],
        biases: &[f32],
        xsum: &[f32],
        gs: usize,
    ) -> f32 {
        let (nb, sh) = check(8, FINE, words, xq, dx, xs, scales, biases, xsum, gs);
        let wp = words.as_ptr() as *const u8;
        // vpdpbusd sums four u8·i8 products straight into i32: no saturation for 8 bits either
        run::<FINE>(
            nb,
            sh,
            xq.as_ptr(),
            dx,
            scales,
            |b| bytes(wp, b),
            |w, x| _mm256_dpbusd_epi32(_mm256_setzero_si256(), w, xload(x)),
        ) + bias_term(biases, xsum)
    }
}

#[cfg(target_arch = "aarch64")]
mod arm {
    use super::*;
    use std::arch::aarch64::*;

    type W = (int8x16_t, int8x16_t);

    /// `acc + Σ` of the four-byte dot products lane by lane (`sdot`; `vdotq_s32` is not stable
    /// Rust yet).
    #[inline(always)]
    unsafe fn sdot(mut acc: int32x4_t, a: int8x16_t, b: int8x16_t) -> int32x4_t {
        std::arch::asm!("sdot {0:v}.4s, {1:v}.16b, {2:v}.16b", inout(vreg) acc, in(vreg) a, in(vreg) b, options(pure, nomem, nostack));
        acc
    }

    /// The common loop over blocks, as on x86-64 (four i32 lanes per block); `corr` adds the
    /// `q - 128` correction `128·Σ xq` (32 per lane) for 8-bit weights.
    #[inline(always)]
    unsafe fn run<const FINE: bool>(
        nb: usize,
        sh: u32,
        xp: *const i8,
        dx: &[f32],
        xs: &[i32],
        scales: &[f32],
        corr: bool,
        prep: impl Fn(usize) -> W,
        dot: impl Fn(W, *const i8) -> int32x4_t,
    ) -> f32 {
        let blk = |b: usize| {
            let w = prep(b);
            let p = if FINE {
                let p1 = dot(w, xp.add(2 * BLOCK * b));
                let p2 = dot(w, xp.add(2 * BLOCK * b + BLOCK));
                vmlaq_n_s32(p2, p1, 254)
            } else {
                dot(w, xp.add(BLOCK * b))
            };
            if corr {
                vaddq_s32(p, vdupq_n_s32(32 * *xs.get_unchecked(b)))
            } else {
                p
            }
        };
        let (mut a0, mut a1) = (vdupq_n_f32(0.0), vdupq_n_f32(0.0));
        let mut b = 0;
        while b + 2 <= nb {
            let (p0, p1) = (blk(b), blk(b + 1));
            let d0 = *dx.get_unchecked(b) * *scales.get_unchecked(b >> sh);
            let d1 = *dx.get_unchecked(b + 1) * *scales.get_unchecked((b + 1) >> sh);
            a0 = vfmaq_n_f32(a0, vcvtq_f32_s32(p0), d0);
            a1 = vfmaq_n_f32(a1, vcvtq_f32_s32(p1), d1);
            b += 2;
        }
        if b < nb {
            let d0 = *dx.get_unchecked(b) * *scales.get_unchecked(b >> sh);
            a0 = vfmaq_n_f32(a0, vcvtq_f32_s32(blk(b)), d0);
        }
        vaddvq_f32(vaddq_f32(a0, a1))
    }

    /// 4-bit block `b`: (low nibbles, high nibbles) as i8 (0..15).
    #[inline(always)]
    unsafe fn nibbles(wp: *const u8, b: usize) -> W {
        let t = vld1q_u8(wp.add(16 * b));
        (
            vreinterpretq_s8_u8(vandq_u8(t, vdupq_n_u8(0x0f))),
            vreinterpretq_s8_u8(vshrq_n_u8(t, 4)),
        )
    }

    /// 8-bit block `b` as `q - 128` (i8), two halves.
    #[inline(always)]
    unsafe fn bytes_m128(wp: *const u8, b: usize) -> W {
        let f = vdupq_n_u8(0x80);
        let p = wp.add(BLOCK * b);
        (
            vreinterpretq_s8_u8(veorq_u8(vld1q_u8(p), f)),
            vreinterpretq_s8_u8(veorq_u8(vld1q_u8(p.add(16)), f)),
        )
    }

    /// `Σ a·x` of 32 i8 pairs as four i32 lanes with plain NEON: at most two products (each
    /// `|·| <= 128·127`) per i16 lane before the widening pairwise add.
    #[inline(always)]
    unsafe fn dot32_neon(a: W, x: *const i8) -> int32x4_t {
        let (x0, x1) = (vld1q_s8(x), vld1q_s8(x.add(16)));
        let p0 = vmlal_s8(
            vmull_s8(vget_low_s8(a.0), vget_low_s8(x0)),
            vget_high_s8(a.0),
            vget_high_s8(x0),
        );
        let p1 = vmlal_s8(
            vmull_s8(vget_low_s8(a.1), vget_low_s8(x1)),
            vget_high_s8(a.1),
            vget_high_s8(x1),
        );
        vpadalq_s16(vpaddlq_s16(p0), p1)
    }

    /// `Σ a·x` of 32 i8 pairs with `sdot`.
    #[inline(always)]
    unsafe fn dot32_dot(a: W, x: *const i8) -> int32x4_t {
        sdot(
            sdot(vdupq_n_s32(0), a.0, vld1q_s8(x)),
            a.1,
            vld1q_s8(x.add(16)),
        )
    }

    #[target_feature(enable = "neon")]
    pub(super) unsafe fn dot4_neon<const FINE: bool>(
        words: &[u32],
        xq: &[i8],
        dx: &[f32],
        xs: &[i32],
        scales: &[f32],
        biases: &[f32],
        xsum: &[f32],
        gs: usize,
    ) -> f32 {
        let (nb, sh) = check(4, FINE, words, xq, dx, xs, scales, biases, xsum, gs);
        let wp = words.as_ptr() as *const u8;
        run::<FINE>(
            nb,
            sh,
            xq.as_ptr(),
            dx,
            xs,
            scales,
            false,
            |b| nibbles(wp, b),
            |w, x| dot32_neon(w, x),
        ) + bias_term(biases, xsum)
    }

    #[target_feature(enable = "neon")]
    pub(super) unsafe fn dot8_neon<const FINE: bool>(
        words: &[u32],
        xq: &[i8],
        dx: &[f32],
        xs: &[i32],
        scales: &[f32],
        biases: &[f32],
        xsum: &[f32],
        gs: usize,
    ) -> f32 {
        let (nb, sh) = check(8, FINE, words, xq, dx, xs, scales, biases, xsum, gs);
        let wp = words.as_ptr() as *const u8;
        // Σ q·x = Σ (q-128)·x + 128·Σ x
        run::<FINE>(
            nb,
            sh,
            xq.as_ptr(),
            dx,
            xs,
            scales,
            true,
            |b| bytes_m128(wp, b),
            |w, x| dot32_neon(w, x),
        ) + bias_term(biases, xsum)
    }

    #[target_feature(enable = "neon,dotprod")]
    pub(super) unsafe fn dot4_dot<const FINE: bool>(
        words: &[u32],
        xq: &[i8],
        dx: &[f32],
        xs: &[i32],
        scales: &[f32],
        biases: &[f32],
        xsum: &[f32],
        gs: usize,
    ) -> f32 {
        let (nb, sh) = check(4, FINE, words, xq, dx, xs, scales, biases, xsum, gs);
        let wp = words.as_ptr() as *const u8;
        run::<FINE>(
            nb,
            sh,
            xq.as_ptr(),
            dx,
            xs,
            scales,
            false,
            |b| nibbles(wp, b),
            |w, x| dot32_dot(w, x),
        ) + bias_term(biases, xsum)
    }

    #[target_feature(enable = "neon,dotprod")]
    pub(super) unsafe fn dot8_dot<const FINE: bool>(
        words: &[u32],
        xq: &[i8],
        dx: &[f32],
        xs: &[i32],
        scales: &[f32],
        biases: &[f32],
        xsum: &[f32],
        gs: usize,
    ) -> f32 {
        let (nb, sh) = check(8, FINE, words, xq, dx, xs, scales, biases, xsum, gs);
        let wp = words.as_ptr() as *const u8;
        run::<FINE>(
            nb,
            sh,
            xq.as_ptr(),
            dx,
            xs,
            scales,
            true,
            |b| bytes_m128(wp, b),
            |w, x| dot32_dot(w, x),
        ) + bias_term(biases, xsum)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every level's row dot equals the portable one (same integer sums; f32 rounding only).
    #[test]
    fn levels_agree_with_scalar() {
        let mut seed = 7u64;
        let mut rnd = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        for bits in [4usize, 8] {
            for gs in [32usize, 64, 128] {
                let k = 4 * 128 + if gs == 32 { 32 } else { 0 };
                let words: Vec<u32> = (0..k * bits / 32)
                    .map(|_| (rnd() * u32::MAX as f64) as u32)
                    .collect();
                let x: Vec<f32> = (0..k).map(|_| (rnd() * 2.0 - 1.0) as f32).collect();
                let gpr = k / gs;
                let scales: Vec<f32> = (0..gpr).map(|_| rnd() as f32 * 0.1).collect();
                let biases: Vec<f32> = (0..gpr).map(|_| -(rnd() as f32)).collect();
                for fine in [false, true] {
                    let qx = quantize_x(&x, 1, k, bits, gs, fine);
                    let call = |l: Level| unsafe {
                        row_dot(l, bits, fine)(
                            &words, &qx.q, &qx.d, &qx.s, &scales, &biases, &qx.gsum, gs,
                        )
                    };
                    let want = call(Level::Scalar);
                    for l in levels() {
                        let got = call(l);
                        assert!(
                            (got - want).abs() <= 1e-5 * (1.0 + want.abs()),
                            "{l:?} bits {bits} gs {gs} fine {fine}: {got} vs {want}"
                        );
                    }
                }
            }
        }
    }
}
