// common.wgsl — helpers every MLX-ARM kernel is prefixed with: grid folding, strided index math,
// NaN/inf without literals (naga rejects non-finite constants), float16/bfloat16 rounding of f32
// values (f16 and bf16 are stored widened to f32), and math WGSL lacks (erf, erfinv, pow, ...).
// Bindings: every kernel uses @group(0) @binding(0) var<uniform> P (its Params struct) and
// @binding(1) var<storage, read> dims: array<i32> (shapes and strides), then its buffers.

var<private> NAN_BITS: u32 = 0x7fc00000u;
var<private> INF_BITS: u32 = 0x7f800000u;

fn nan_f32() -> f32 { return bitcast<f32>(NAN_BITS); }
fn inf_f32() -> f32 { return bitcast<f32>(INF_BITS); }
fn is_nan(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) > 0x7f800000u; }
fn is_inf(x: f32) -> bool { return (bitcast<u32>(x) & 0x7fffffffu) == 0x7f800000u; }

// Linear invocation id over a grid folded into two dimensions (<= 65,535 groups per dimension).
fn linear_id(wid: vec3<u32>, nwg: vec3<u32>, lid: u32, wg_size: u32) -> u32 {
    return (wid.x + wid.y * nwg.x) * wg_size + lid;
}

// Element offset of row-major position `i` of a view whose shape is dims[shape_at..shape_at+nd]
// and strides dims[strides_at..strides_at+nd].
fn strided(i: u32, nd: u32, shape_at: u32, strides_at: u32, base: i32) -> u32 {
    var rem = i;
    var off = base;
    for (var d = i32(nd) - 1; d >= 0; d = d - 1) {
        let n = u32(dims[shape_at + u32(d)]);
        let c = rem % n;
        rem = rem / n;
        off = off + i32(c) * dims[strides_at + u32(d)];
    }
    return u32(off);
}

// An index into an axis of extent n: negative indices wrap once, the rest clamp into range.
fn fix_index(i: i32, n: u32) -> u32 {
    var j = i;
    if (j < 0) { j = j + i32(n); }
    return u32(clamp(j, 0, i32(n) - 1));
}

// Round an f32 to the nearest float16 value (ties to even), kept in f32. Overflow gives inf.
fn round_f16(x: f32) -> f32 {
    let b = bitcast<u32>(x);
    let sign = b & 0x80000000u;
    let a = b & 0x7fffffffu;
    if (a >= 0x7f800000u) { return x; }
    if (a >= 0x477ff000u) { return bitcast<f32>(sign | 0x7f800000u); }
    if (a < 0x38800000u) {
        // subnormal float16: multiples of 2^-24, round() is ties-to-even
        let q = round(abs(x) * 16777216.0) / 16777216.0;
        return bitcast<f32>(sign | bitcast<u32>(q));
    }
    let lsb = (a >> 13u) & 1u;
    return bitcast<f32>(sign | ((a + 0xfffu + lsb) & 0xffffe000u));
}

// Round an f32 to the nearest bfloat16 value (ties to even), kept in f32.
fn round_bf16(x: f32) -> f32 {
    let b = bitcast<u32>(x);
    if (is_nan(x)) { return x; }
    let lsb = (b >> 16u) & 1u;
    return bitcast<f32>((b + 0x7fffu + lsb) & 0xffff0000u);
}

// erf with < 1 ulp error (N. Juffa's single-precision approximation).
fn erf_f32(a: f32) -> f32 {
    let t = abs(a);
    let s = a * a;
    var r: f32;
    if (t > 0.927734375) {
        r = fma(-1.72853470e-5, t, 3.83197126e-4);
        let u = fma(-3.88396438e-3, t, 2.42546219e-2);
        r = fma(r, s, u);
        r = fma(r, t, -1.06777877e-1);
        r = fma(r, t, -6.34846687e-1);
        r = fma(r, t, -1.28717512e-1);
        r = fma(r, t, -t);
        r = 1.0 - exp(r);
        if (a < 0.0) { r = -r; }
    } else {
        r = -5.96761703e-4;
        r = fma(r, s, 4.99119423e-3);
        r = fma(r, s, -2.67681349e-2);
        r = fma(r, s, 1.12819925e-1);
        r = fma(r, s, -3.76125336e-1);
        r = fma(r, s, 1.28379166e-1);
        r = fma(r, a, a);
    }
    return r;
}

// Inverse erf (N. Juffa's approximation, as MLX uses).
fn erfinv_f32(a: f32) -> f32 {
    if (abs(a) >= 1.0) {
        if (abs(a) == 1.0) { return a * inf_f32(); }
        return nan_f32();
    }
    let t = log(fma(a, -a, 1.0));
    var p: f32;
    if (abs(t) > 6.125) {
        p = 3.03697567e-10;
        p = fma(p, t, 2.93243101e-8);
        p = fma(p, t, 1.22150334e-6);
        p = fma(p, t, 2.84108955e-5);
        p = fma(p, t, 3.93552968e-4);
        p = fma(p, t, 3.02698812e-3);
        p = fma(p, t, 4.83185798e-3);
        p = fma(p, t, -2.64646143e-1);
        p = fma(p, t, 8.40016484e-1);
    } else {
        p = 5.43877832e-9;
        p = fma(p, t, 1.43285448e-7);
        p = fma(p, t, 1.22774793e-6);
        p = fma(p, t, 1.12963626e-7);
        p = fma(p, t, -5.61530760e-5);
        p = fma(p, t, -1.47697632e-4);
        p = fma(p, t, 2.31468678e-3);
        p = fma(p, t, 1.15392581e-2);
        p = fma(p, t, -2.32015476e-1);
        p = fma(p, t, 8.86226892e-1);
    }
    return a * p;
}

fn expm1_f32(x: f32) -> f32 {
    let u = exp(x);
    if (u == 1.0) { return x; }
    let um1 = u - 1.0;
    if (um1 == -1.0) { return -1.0; }
    if (is_inf(u)) { return u; }
    return um1 * x / log(u);
}

fn log1p_f32(x: f32) -> f32 {
    let u = 1.0 + x;
    if (u == 1.0) { return x; }
    if (is_inf(u)) { return u; }
    return log(u) * x / (u - 1.0);
}

// pow with MLX/C semantics for negative bases and integer exponents.
fn pow_f32(a: f32, b: f32) -> f32 {
    if (b == 0.0 || a == 1.0) { return 1.0; }
    if (a == -1.0 && is_inf(b)) { return 1.0; }
    if (is_nan(a) || is_nan(b)) { return nan_f32(); }
    if (a == 0.0) {
        if (b < 0.0) { return inf_f32(); }
        return 0.0;
    }
    let r = exp2(b * log2(abs(a)));
    if (a < 0.0) {
        if (fract(b) != 0.0) { return nan_f32(); }
        if (fract(b * 0.5) != 0.0) { return -r; }
    }
    return r;
}

fn max_f32(a: f32, b: f32) -> f32 {
    if (is_nan(a) || is_nan(b)) { return nan_f32(); }
    return max(a, b);
}

fn min_f32(a: f32, b: f32) -> f32 {
    if (is_nan(a) || is_nan(b)) { return nan_f32(); }
    return min(a, b);
}

fn logaddexp_f32(a: f32, b: f32) -> f32 {
    if (is_nan(a) || is_nan(b)) { return nan_f32(); }
    let m = max(a, b);
    if (is_inf(m)) { return m; }
    return m + log1p_f32(exp(-abs(a - b)));
}

fn remainder_f32(a: f32, b: f32) -> f32 {
    var r = a - b * trunc(a / b);
    if (is_inf(b) && !is_inf(a) && !is_nan(a)) { r = a; } // x % ±inf = x before the sign fix
    if (r != 0.0 && ((r < 0.0) != (b < 0.0))) { return r + b; }
    return r;
}

fn floor_div_i32(a: i32, b: i32) -> i32 {
    if (b == 0) { return 0; }
    let q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) { return q - 1; }
    return q;
}

fn remainder_i32(a: i32, b: i32) -> i32 {
    if (b == 0) { return 0; }
    let r = a % b;
    if (r != 0 && ((r < 0) != (b < 0))) { return r + b; }
    return r;
}

fn floor_div_u32(a: u32, b: u32) -> u32 {
    if (b == 0u) { return 0u; }
    return a / b;
}

fn remainder_u32(a: u32, b: u32) -> u32 {
    if (b == 0u) { return 0u; }
    return a % b;
}

fn pow_i32(a: i32, b: i32) -> i32 {
    if (b < 0) {
        if (a == 1) { return 1; }
        if (a == -1) { return select(-1, 1, (b & 1) == 0); }
        return 0;
    }
    var base = a;
    var e = u32(b);
    var acc = 1;
    while (e > 0u) {
        if ((e & 1u) == 1u) { acc = acc * base; }
        base = base * base;
        e = e >> 1u;
    }
    return acc;
}

fn pow_u32(a: u32, b: u32) -> u32 {
    var base = a;
    var e = b;
    var acc = 1u;
    while (e > 0u) {
        if ((e & 1u) == 1u) { acc = acc * base; }
        base = base * base;
        e = e >> 1u;
    }
    return acc;
}

fn shl_i32(a: i32, b: i32) -> i32 {
    if (b < 0 || b >= 32) { return 0; }
    return a << u32(b);
}
fn shr_i32(a: i32, b: i32) -> i32 {
    if (b < 0 || b >= 32) { return select(0, -1, a < 0); }
    return a >> u32(b);
}
fn shl_u32(a: u32, b: u32) -> u32 {
    if (b >= 32u) { return 0u; }
    return a << b;
}
fn shr_u32(a: u32, b: u32) -> u32 {
    if (b >= 32u) { return 0u; }
    return a >> b;
}

// MLX: sign(NaN) = 0, sign(-0) = 0.
fn sign_f32(x: f32) -> f32 {
    if (x > 0.0) { return 1.0; }
    if (x < 0.0) { return -1.0; }
    return 0.0;
}

fn tanh_f32(x: f32) -> f32 {
    if (abs(x) > 15.0) { return sign(x); }
    return tanh(x);
}

// Float to int conversions with Rust `as` semantics (saturating, NaN -> 0).
fn f32_to_i32_sat(x: f32, lo: f32, hi: f32) -> i32 {
    if (is_nan(x)) { return 0; }
    // WGSL clamps to the largest f32 below 2^31; Rust's `as` gives i32::MAX
    if (x >= 2147483648.0) { return 2147483647; }
    return i32(clamp(x, lo, hi));
}
fn f32_to_u32_sat(x: f32, hi: f32) -> u32 {
    if (is_nan(x) || x <= 0.0) { return 0u; }
    if (x >= 4294967296.0) { return 0xffffffffu; }
    if (x >= hi) { return u32(hi); }
    return u32(x);
}

// Math builtins whose results the WGSL/SPIR-V specs leave undefined outside their domain.
fn log_f32(x: f32) -> f32 {
    if (x < 0.0 || is_nan(x)) { return nan_f32(); }
    if (x == 0.0) { return -inf_f32(); }
    return log(x);
}
fn log2_f32(x: f32) -> f32 {
    if (x < 0.0 || is_nan(x)) { return nan_f32(); }
    if (x == 0.0) { return -inf_f32(); }
    return log2(x);
}
fn sqrt_f32(x: f32) -> f32 {
    if (x < 0.0 || is_nan(x)) { return nan_f32(); }
    return sqrt(x);
}
fn rsqrt_f32(x: f32) -> f32 {
    if (x < 0.0 || is_nan(x)) { return nan_f32(); }
    if (x == 0.0) { return inf_f32(); }
    return inverseSqrt(x);
}
fn asin_f32(x: f32) -> f32 {
    if (abs(x) > 1.0 || is_nan(x)) { return nan_f32(); }
    // through atan: some drivers' asin (llvmpipe) are off by 1e-4
    return atan2(x, sqrt((1.0 - x) * (1.0 + x)));
}
fn acos_f32(x: f32) -> f32 {
    if (abs(x) > 1.0 || is_nan(x)) { return nan_f32(); }
    return atan2(sqrt((1.0 - x) * (1.0 + x)), x);
}
fn acosh_f32(x: f32) -> f32 {
    if (x < 1.0 || is_nan(x)) { return nan_f32(); }
    return acosh(x);
}
fn atanh_f32(x: f32) -> f32 {
    if (abs(x) > 1.0 || is_nan(x)) { return nan_f32(); }
    if (abs(x) == 1.0) { return x * inf_f32(); }
    return atanh(x);
}

// atan2 with IEEE results at (±0, ±0), which SPIR-V leaves undefined.
fn atan2_f32(a: f32, b: f32) -> f32 {
    if (is_nan(a) || is_nan(b)) { return nan_f32(); }
    if (a == 0.0 && b == 0.0) {
        var r = 0.0;
        if ((bitcast<u32>(b) >> 31u) == 1u) { r = 3.14159265358979; }
        if ((bitcast<u32>(a) >> 31u) == 1u) { r = -r; }
        return r;
    }
    return atan2(a, b);
}
