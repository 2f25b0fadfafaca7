//! Explicit SIMD for the f32 hot paths, through `pulp`: the widest instruction set the CPU offers
//! is picked once at run time (AVX-512 or AVX2+FMA on x86-64, NEON on aarch64, simd128 on wasm
//! when compiled with it, scalar lanes otherwise) and each kernel below is compiled once per
//! instruction set. Everything a kernel calls is `#[inline(always)]` so it is compiled under the
//! kernel's target features (plain loops inside them are auto-vectorised at that width too).
//!
//! Kernels: a vectorised `exp` (Cody-Waite reduction, degree-5 polynomial, two-step scaling so
//! subnormal results and results near `f32::MAX` round once; < 1 ulp on a dense sweep of
//! [-104, 88.8], exact at ±inf, NaN in NaN out), fused softmax rows, binary ops over dense or
//! broadcast-scalar operands, and reductions of rows and columns (sums accumulated in f64,
//! max/min propagating NaN). The kernels that need f32 -> f64 widening, which `pulp` does not
//! offer, are plain loops compiled once per instruction set by `multiversion!`.

use mlx_arm_core::primitive::BinaryOp;
use pulp::{Arch, Simd, WithSimd};
use std::sync::OnceLock;

/// The instruction set the kernels run with, detected once. `MLX_ARM_CPU_SIMD=scalar` forces
/// the portable fallback and, on x86-64, `MLX_ARM_CPU_SIMD=avx2` the AVX2+FMA kernels (so the
/// tests can check every variant on one machine); unset or `auto` picks the best. On aarch64,
/// `MLX_ARM_CPU_SIMD=neon` keeps NEON but makes the int8 mat-vec of [`crate::qdot_i8`] use plain
/// NEON instead of the `dotprod` extension (that module picks its own level from this one).
#[inline]
pub fn arch() -> Arch {
    static ARCH: OnceLock<Arch> = OnceLock::new();
    *ARCH.get_or_init(|| match std::env::var("MLX_ARM_CPU_SIMD").as_deref() {
        Ok("scalar") => Arch::Scalar,
        #[cfg(target_arch = "x86_64")]
        Ok("avx2") => pulp::x86::V3::try_new().map_or(Arch::Scalar, Arch::V3),
        _ => Arch::new(),
    })
}

/// The instruction set in words, e.g. `V4` (AVX-512), `V3` (AVX2+FMA), `Neon`, `Scalar`.
pub fn describe() -> String {
    let s = format!("{:?}", arch());
    s.split('(').next().unwrap_or(&s).to_string()
}

/// The widest vector any `pulp` instruction set has, in f32 lanes (AVX-512).
const MAX_LANES: usize = 16;

// exp: x = n ln2 + r with |r| <= ln2/2 (ln2 split in a 9-bit head, exact for |n| < 2^15, and a
// tail), exp(r) = 1 + r + r^2 P(r) (Cephes' coefficients), exp(x) = exp(r) 2^n1 2^n2 with
// n1 = floor(n/2), n2 = n - n1, so that both factors are normal for n in [-150, 128].
const EXP_LO: f32 = -104.0; // exp(-104) < 2^-150: rounds to 0
const EXP_HI: f32 = 89.0; // exp(89) > f32::MAX: rounds to inf
const LOG2E: f32 = std::f32::consts::LOG2_E;
const LN2_HI: f32 = 0.693_359_375;
const LN2_LO: f32 = -2.121_944_4e-4;
const ROUND_MAGIC: f32 = 12_582_912.0; // 1.5 * 2^23: adding it rounds to an integer
const P0: f32 = 1.987_569_1e-4;
const P1: f32 = 1.398_199_9e-3;
const P2: f32 = 8.333_452e-3;
const P3: f32 = 4.166_579_6e-2;
const P4: f32 = 0.166_666_65;
const P5: f32 = 0.500_000_01;

/// `exp(x)` lane by lane.
#[inline(always)]
fn exp_v<S: Simd>(s: S, x: S::f32s) -> S::f32s {
    let not_nan = s.equal_f32s(x, x);
    let xc = s.min_f32s(s.max_f32s(x, s.splat_f32s(EXP_LO)), s.splat_f32s(EXP_HI));
    let magic = s.splat_f32s(ROUND_MAGIC);
    let t = s.mul_add_e_f32s(xc, s.splat_f32s(LOG2E), magic);
    let n = s.sub_f32s(t, magic);
    let r = s.mul_add_e_f32s(n, s.splat_f32s(-LN2_HI), xc);
    let r = s.mul_add_e_f32s(n, s.splat_f32s(-LN2_LO), r);
    let mut p = s.splat_f32s(P0);
    p = s.mul_add_e_f32s(p, r, s.splat_f32s(P1));
    p = s.mul_add_e_f32s(p, r, s.splat_f32s(P2));
    p = s.mul_add_e_f32s(p, r, s.splat_f32s(P3));
    p = s.mul_add_e_f32s(p, r, s.splat_f32s(P4));
    p = s.mul_add_e_f32s(p, r, s.splat_f32s(P5));
    let r2 = s.mul_f32s(r, r);
    let y = s.add_f32s(s.mul_add_e_f32s(p, r2, r), s.splat_f32s(1.0));
    // n as an integer (two's complement in u32 lanes), biased to stay positive for the shift.
    let ni = s.sub_u32s(s.transmute_u32s_f32s(t), s.transmute_u32s_f32s(magic));
    let n1b = s.wrapping_dyn_shr_u32s(s.add_u32s(ni, s.splat_u32s(256)), s.splat_u32s(1)); // n1 + 128
    let e1 = s.sub_u32s(n1b, s.splat_u32s(1)); // n1 + 127
    let e2 = s.sub_u32s(s.add_u32s(ni, s.splat_u32s(255)), n1b); // n2 + 127
    let sh = s.splat_u32s(23);
    let f1 = s.transmute_f32s_u32s(s.wrapping_dyn_shl_u32s(e1, sh));
    let f2 = s.transmute_f32s_u32s(s.wrapping_dyn_shl_u32s(e2, sh));
    let y = s.mul_f32s(s.mul_f32s(y, f1), f2);
    s.select_f32s(not_nan, y, x)
}

/// The vector holding `tail` (fewer than a vector's lanes) padded with `pad`.
#[inline(always)]
fn load_padded<S: Simd>(tail: &[f32], pad: f32) -> S::f32s {
    let mut buf = [pad; MAX_LANES];
    buf[..tail.len()].copy_from_slice(tail);
    S::as_simd_f32s(&buf[..S::F32_LANES]).0[0]
}

/// Scalar `exp` with the vector kernel's results (for callers with one value).
pub fn exp_f32(x: f32) -> f32 {
    let mut o = [0.0f32];
    exp_slice(&[x], &mut o);
    o[0]
}

/// `out[i] = exp(x[i])`.
pub fn exp_slice(x: &[f32], out: &mut [f32]) {
    struct Op<'a>(&'a [f32], &'a mut [f32]);
    impl WithSimd for Op<'_> {
        type Output = ();
        #[inline(always)]
        fn with_simd<S: Simd>(self, s: S) {
            let (xh, xt) = S::as_simd_f32s(self.0);
            let (oh, ot) = S::as_mut_simd_f32s(self.1);
            for (o, &v) in oh.iter_mut().zip(xh) {
                *o = exp_v(s, v);
            }
            if !xt.is_empty() {
                s.partial_store_f32s(ot, exp_v(s, s.partial_load_f32s(xt)));
            }
        }
    }
    assert_eq!(x.len(), out.len());
    arch().dispatch(Op(x, out));
}

/// Softmax of one row: max, then `exp(x - max)` written to `out` while summing, then scaling.
/// As in MLX, a row holding +inf or NaN, or only -inf, is all NaN (inf - inf).
#[inline(always)]
fn softmax_row<S: Simd>(s: S, x: &[f32], out: &mut [f32]) {
    let (xh, xt) = S::as_simd_f32s(x);
    let ninf = s.splat_f32s(f32::NEG_INFINITY);
    let (mut m0, mut m1, mut m2, mut m3) = (ninf, ninf, ninf, ninf);
    let mut quads = xh.chunks_exact(4);
    for q in &mut quads {
        m0 = s.max_f32s(q[0], m0);
        m1 = s.max_f32s(q[1], m1);
        m2 = s.max_f32s(q[2], m2);
        m3 = s.max_f32s(q[3], m3);
    }
    for &v in quads.remainder() {
        m0 = s.max_f32s(v, m0);
    }
    if !xt.is_empty() {
        m1 = s.max_f32s(load_padded::<S>(xt, f32::NEG_INFINITY), m1);
    }
    let m = s.reduce_max_f32s(s.max_f32s(s.max_f32s(m0, m1), s.max_f32s(m2, m3)));
    let mv = s.splat_f32s(m);

    let zero = s.splat_f32s(0.0);
    let (mut s0, mut s1, mut s2, mut s3) = (zero, zero, zero, zero);
    let (oh, ot) = S::as_mut_simd_f32s(out);
    let mut xq = xh.chunks_exact(4);
    let mut oq = oh.chunks_exact_mut(4);
    for (q, o) in (&mut xq).zip(&mut oq) {
        let e0 = exp_v(s, s.sub_f32s(q[0], mv));
        let e1 = exp_v(s, s.sub_f32s(q[1], mv));
        let e2 = exp_v(s, s.sub_f32s(q[2], mv));
        let e3 = exp_v(s, s.sub_f32s(q[3], mv));
        o[0] = e0;
        o[1] = e1;
        o[2] = e2;
        o[3] = e3;
        s0 = s.add_f32s(s0, e0);
        s1 = s.add_f32s(s1, e1);
        s2 = s.add_f32s(s2, e2);
        s3 = s.add_f32s(s3, e3);
    }
    for (&v, o) in xq.remainder().iter().zip(oq.into_remainder()) {
        let e = exp_v(s, s.sub_f32s(v, mv));
        *o = e;
        s0 = s.add_f32s(s0, e);
    }
    if !xt.is_empty() {
        // padding of -inf gives exp(-inf) = 0 lanes
        let e = exp_v(s, s.sub_f32s(load_padded::<S>(xt, f32::NEG_INFINITY), mv));
        s.partial_store_f32s(ot, e);
        s1 = s.add_f32s(s1, e);
    }
    let sum = s.reduce_sum_f32s(s.add_f32s(s.add_f32s(s0, s1), s.add_f32s(s2, s3)));
    let inv = s.splat_f32s(1.0 / sum);
    let (oh, ot) = S::as_mut_simd_f32s(out);
    for o in oh.iter_mut() {
        *o = s.mul_f32s(*o, inv);
    }
    let inv = 1.0 / sum;
    for o in ot {
        *o *= inv;
    }
}

/// Softmax over consecutive rows of length `n` (`x.len()` a multiple of `n`).
pub fn softmax_rows(x: &[f32], out: &mut [f32], n: usize) {
    struct Op<'a>(&'a [f32], &'a mut [f32], usize);
    impl WithSimd for Op<'_> {
        type Output = ();
        #[inline(always)]
        fn with_simd<S: Simd>(self, s: S) {
            for (x, o) in self
                .0
                .chunks_exact(self.2)
                .zip(self.1.chunks_exact_mut(self.2))
            {
                softmax_row(s, x, o);
            }
        }
    }
    assert_eq!(x.len(), out.len());
    if n == 0 {
        return;
    }
    arch().dispatch(Op(x, out, n));
}

/// One operand of a binary kernel: a dense slice, or one value broadcast to every element.
#[derive(Clone, Copy)]
pub enum Operand<'a> {
    /// Dense elements (as many as the output).
    Slice(&'a [f32]),
    /// A single value (a broadcast scalar).
    Splat(f32),
}

/// Applies `$f` (an expression of `$x`, `$y`) to the operands `$a`, `$b` into `$out`: one loop
/// per combination of slice and splat so the loops stay branch-free.
macro_rules! zip_map {
    ($s:ident, $a:expr, $b:expr, $out:expr, |$x:ident, $y:ident| $f:expr) => {{
        let (oh, ot) = S::as_mut_simd_f32s($out);
        match ($a, $b) {
            (Operand::Slice(a), Operand::Slice(b)) => {
                let (ah, at) = S::as_simd_f32s(a);
                let (bh, bt) = S::as_simd_f32s(b);
                for ((o, &$x), &$y) in oh.iter_mut().zip(ah).zip(bh) {
                    *o = $f;
                }
                if !at.is_empty() {
                    let $x = $s.partial_load_f32s(at);
                    let $y = $s.partial_load_f32s(bt);
                    $s.partial_store_f32s(ot, $f);
                }
            }
            (Operand::Slice(a), Operand::Splat(b)) => {
                let $y = $s.splat_f32s(b);
                let (ah, at) = S::as_simd_f32s(a);
                for (o, &$x) in oh.iter_mut().zip(ah) {
                    *o = $f;
                }
                if !at.is_empty() {
                    let $x = $s.partial_load_f32s(at);
                    $s.partial_store_f32s(ot, $f);
                }
            }
            (Operand::Splat(a), Operand::Slice(b)) => {
                let $x = $s.splat_f32s(a);
                let (bh, bt) = S::as_simd_f32s(b);
                for (o, &$y) in oh.iter_mut().zip(bh) {
                    *o = $f;
                }
                if !bt.is_empty() {
                    let $y = $s.partial_load_f32s(bt);
                    $s.partial_store_f32s(ot, $f);
                }
            }
            (Operand::Splat(a), Operand::Splat(b)) => {
                let ($x, $y) = ($s.splat_f32s(a), $s.splat_f32s(b));
                let v = $f;
                oh.iter_mut().for_each(|o| *o = v);
                if !ot.is_empty() {
                    $s.partial_store_f32s(ot, v);
                }
            }
        }
    }};
}

/// True for the binary ops [`binary_f32`] vectorises.
pub fn has_binary_f32(op: BinaryOp) -> bool {
    use BinaryOp::*;
    matches!(op, Add | Subtract | Multiply | Divide | Maximum | Minimum)
}

/// `out[i] = a[i] op b[i]` for the ops of [`has_binary_f32`] (same results as the scalar
/// kernels: IEEE arithmetic; maximum/minimum give NaN when either side is NaN). Slice operands
/// have `out.len()` elements.
pub fn binary_f32(op: BinaryOp, a: Operand, b: Operand, out: &mut [f32]) {
    struct Op<'a>(BinaryOp, Operand<'a>, Operand<'a>, &'a mut [f32]);
    impl WithSimd for Op<'_> {
        type Output = ();
        #[inline(always)]
        fn with_simd<S: Simd>(self, s: S) {
            let Op(op, a, b, out) = self;
            let nan = s.splat_f32s(f32::NAN);
            match op {
                BinaryOp::Add => zip_map!(s, a, b, out, |x, y| s.add_f32s(x, y)),
                BinaryOp::Subtract => zip_map!(s, a, b, out, |x, y| s.sub_f32s(x, y)),
                BinaryOp::Multiply => zip_map!(s, a, b, out, |x, y| s.mul_f32s(x, y)),
                BinaryOp::Divide => zip_map!(s, a, b, out, |x, y| s.div_f32s(x, y)),
                BinaryOp::Maximum => zip_map!(s, a, b, out, |x, y| s.select_f32s(
                    s.and_m32s(s.equal_f32s(x, x), s.equal_f32s(y, y)),
                    s.select_f32s(s.less_than_f32s(x, y), y, x),
                    nan
                )),
                BinaryOp::Minimum => zip_map!(s, a, b, out, |x, y| s.select_f32s(
                    s.and_m32s(s.equal_f32s(x, x), s.equal_f32s(y, y)),
                    s.select_f32s(s.less_than_f32s(y, x), y, x),
                    nan
                )),
                _ => unreachable!("{} has no f32 SIMD kernel", op.name()),
            }
        }
    }
    for o in [a, b] {
        if let Operand::Slice(x) = o {
            assert_eq!(x.len(), out.len());
        }
    }
    arch().dispatch(Op(op, a, b, out));
}

/// Defines `pub fn $name` from a plain body compiled three times on x86-64 (AVX-512, AVX2+FMA,
/// baseline SSE2) and picked by [`arch`]; once elsewhere (NEON is baseline on aarch64). For
/// kernels LLVM vectorises by itself but `pulp` cannot express (f32 -> f64 widening).
macro_rules! multiversion {
    ($(#[$doc:meta])* fn $name:ident($($arg:ident: $ty:ty),*) $(-> $ret:ty)? $body:block) => {
        $(#[$doc])*
        pub fn $name($($arg: $ty),*) $(-> $ret)? {
            #[inline(always)]
            fn imp($($arg: $ty),*) $(-> $ret)? $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f")]
                unsafe fn v4($($arg: $ty),*) $(-> $ret)? {
                    imp($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                unsafe fn v3($($arg: $ty),*) $(-> $ret)? {
                    imp($($arg),*)
                }
                match arch() {
                    // SAFETY: `arch()` is V4/V3 only where the CPU has those features (pulp checks).
                    Arch::V4(_) => return unsafe { v4($($arg),*) },
                    Arch::V3(_) => return unsafe { v3($($arg),*) },
                    _ => {}
                }
            }
            imp($($arg),*)
        }
    };
}

multiversion! {
    /// Sum of `x` accumulated in f64: 32 independent f64 lanes, vectorised with the widening
    /// conversion at the width of the selected instruction set; a fixed pairwise combine at the
    /// end (deterministic for a given length).
    fn sum_f32(x: &[f32]) -> f64 {
        const W: usize = 32;
        let mut acc = [0.0f64; W];
        let mut chunks = x.chunks_exact(W);
        for c in &mut chunks {
            for j in 0..W {
                acc[j] += c[j] as f64;
            }
        }
        for (a, &v) in acc.iter_mut().zip(chunks.remainder()) {
            *a += v as f64;
        }
        let mut w = W;
        while w > 1 {
            w /= 2;
            for j in 0..w {
                acc[j] += acc[j + w];
            }
        }
        acc[0]
    }
}

multiversion! {
    /// Column sums: `acc[j] += x[i * ld + j]` for `i < rows`, `j < acc.len()` (f64 accumulators).
    fn col_sum_f32(x: &[f32], ld: usize, rows: usize, acc: &mut [f64]) {
        let w = acc.len();
        let mut i = 0;
        // four rows per pass over the accumulators (a quarter of their loads and stores)
        while i + 4 <= rows {
            let (r0, r1) = (&x[i * ld..i * ld + w], &x[(i + 1) * ld..(i + 1) * ld + w]);
            let (r2, r3) = (&x[(i + 2) * ld..(i + 2) * ld + w], &x[(i + 3) * ld..(i + 3) * ld + w]);
            for j in 0..w {
                acc[j] += (r0[j] as f64 + r1[j] as f64) + (r2[j] as f64 + r3[j] as f64);
            }
            i += 4;
        }
        for i in i..rows {
            let row = &x[i * ld..i * ld + w];
            for (a, &v) in acc.iter_mut().zip(row) {
                *a += v as f64;
            }
        }
    }
}

multiversion! {
    /// Column maxima (`max`) or minima into `out` (`out.len()` columns, rows `0..rows` of `x`
    /// with row stride `ld`); NaN wins and stays.
    fn col_extremum_f32(x: &[f32], ld: usize, rows: usize, out: &mut [f32], max: bool) {
        let w = out.len();
        out.copy_from_slice(&x[..w]);
        for i in 1..rows {
            let row = &x[i * ld..i * ld + w];
            if max {
                for (m, &v) in out.iter_mut().zip(row) {
                    *m = if v > *m || v != v { v } else { *m };
                }
            } else {
                for (m, &v) in out.iter_mut().zip(row) {
                    *m = if v < *m || v != v { v } else { *m };
                }
            }
        }
    }
}

/// Maximum (`max == true`) or minimum of a non-empty `x`; NaN when any element is NaN.
pub fn extremum_f32(x: &[f32], max: bool) -> f32 {
    struct Op<'a>(&'a [f32], bool);
    impl WithSimd for Op<'_> {
        type Output = f32;
        #[inline(always)]
        fn with_simd<S: Simd>(self, s: S) -> f32 {
            let Op(x, max) = self;
            let pad = if max {
                f32::NEG_INFINITY
            } else {
                f32::INFINITY
            };
            let (xh, xt) = S::as_simd_f32s(x);
            let init = s.splat_f32s(pad);
            let (mut a0, mut a1, mut a2, mut a3) = (init, init, init, init);
            // NaN lanes are tracked apart: x86's max/min return one operand for NaN inputs
            let mut ordered = s.equal_f32s(init, init);
            let mut quads = xh.chunks_exact(4);
            macro_rules! step {
                ($a:ident, $v:expr) => {{
                    let v = $v;
                    ordered = s.and_m32s(ordered, s.equal_f32s(v, v));
                    $a = if max {
                        s.max_f32s($a, v)
                    } else {
                        s.min_f32s($a, v)
                    };
                }};
            }
            for q in &mut quads {
                step!(a0, q[0]);
                step!(a1, q[1]);
                step!(a2, q[2]);
                step!(a3, q[3]);
            }
            for &v in quads.remainder() {
                step!(a0, v);
            }
            if !xt.is_empty() {
                step!(a1, load_padded::<S>(xt, pad));
            }
            let nan_lanes = s.select_f32s(ordered, s.splat_f32s(0.0), s.splat_f32s(1.0));
            if s.reduce_max_f32s(nan_lanes) > 0.0 {
                return f32::NAN;
            }
            if max {
                s.reduce_max_f32s(s.max_f32s(s.max_f32s(a0, a1), s.max_f32s(a2, a3)))
            } else {
                s.reduce_min_f32s(s.min_f32s(s.min_f32s(a0, a1), s.min_f32s(a2, a3)))
            }
        }
    }
    arch().dispatch(Op(x, max))
}

/// `Σ_g scale_g·Σ_{i∈g} q_i·x_i + Σ_g bias_g·xsum_g` over one packed row of `BITS`-bit values
/// (`32 / BITS` per word; groups of `GS` values with their `scales`/`biases`; `xsum` holds
/// each group's `Σ x`): the quantized mat-vec inner loop. Constant sizes let the compiler unroll
/// a pair of groups into four independent vector accumulators (the adds do not wait on each
/// other); per value it unpacks, converts, multiplies and adds.
#[inline(always)]
fn qdot<const BITS: usize, const GS: usize>(
    words: &[u32],
    x: &[f32],
    xsum: &[f32],
    scales: &[f32],
    biases: &[f32],
) -> f32 {
    let per_word = 32 / BITS;
    let mask = (1u32 << BITS) - 1;
    let wpc = 16 / per_word; // words per 16-value chunk
    let wpg = GS * BITS / 32;
    let mut acc = [[0f32; 16]; 4];
    let mut bias = 0f32;
    // Σ q·x over one group, in two partial vectors
    let group = |w: &[u32], xg: &[f32]| -> [[f32; 16]; 2] {
        let mut d = [[0f32; 16]; 2];
        for c in 0..GS / 16 {
            let (wc, xc) = (&w[c * wpc..(c + 1) * wpc], &xg[c * 16..(c + 1) * 16]);
            for j in 0..16 {
                let q = ((wc[j / per_word] >> (BITS * (j % per_word))) & mask) as f32;
                d[c % 2][j] += q * xc[j];
            }
        }
        d
    };
    // two groups per step, every loop bound constant, so accumulator indices are constants
    let pairs = scales.len() / 2;
    for (i, (w2, x2)) in words
        .chunks_exact(2 * wpg)
        .zip(x.chunks_exact(2 * GS))
        .take(pairs)
        .enumerate()
    {
        for h in 0..2 {
            let g = 2 * i + h;
            let d = group(&w2[h * wpg..(h + 1) * wpg], &x2[h * GS..(h + 1) * GS]);
            for j in 0..16 {
                acc[2 * h][j] += scales[g] * d[0][j];
                acc[2 * h + 1][j] += scales[g] * d[1][j];
            }
            bias += biases[g] * xsum[g];
        }
    }
    if scales.len() % 2 == 1 {
        let g = scales.len() - 1;
        let d = group(&words[g * wpg..(g + 1) * wpg], &x[g * GS..(g + 1) * GS]);
        for j in 0..16 {
            acc[0][j] += scales[g] * d[0][j];
            acc[1][j] += scales[g] * d[1][j];
        }
        bias += biases[g] * xsum[g];
    }
    let mut total = [0f32; 16];
    for a in &acc {
        for j in 0..16 {
            total[j] += a[j];
        }
    }
    total.iter().sum::<f32>() + bias
}

/// Picks the [`qdot`] instance for a group size.
#[inline(always)]
fn qdot_gs<const BITS: usize>(
    words: &[u32],
    x: &[f32],
    xsum: &[f32],
    scales: &[f32],
    biases: &[f32],
    gs: usize,
) -> f32 {
    match gs {
        32 => qdot::<BITS, 32>(words, x, xsum, scales, biases),
        64 => qdot::<BITS, 64>(words, x, xsum, scales, biases),
        _ => qdot::<BITS, 128>(words, x, xsum, scales, biases),
    }
}

multiversion! {
    /// [`qdot`] for 4-bit rows (8 values per word); `gs` is 32, 64 or 128.
    fn qdot4(words: &[u32], x: &[f32], xsum: &[f32], scales: &[f32], biases: &[f32], gs: usize) -> f32 {
        qdot_gs::<4>(words, x, xsum, scales, biases, gs)
    }
}

multiversion! {
    /// [`qdot`] for 8-bit rows (4 values per word); `gs` is 32, 64 or 128.
    fn qdot8(words: &[u32], x: &[f32], xsum: &[f32], scales: &[f32], biases: &[f32], gs: usize) -> f32 {
        qdot_gs::<8>(words, x, xsum, scales, biases, gs)
    }
}
