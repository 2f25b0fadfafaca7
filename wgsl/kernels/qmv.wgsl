// qmv.wgsl — quantized mat-vec for decode shapes: out[m, n] = Σ_k x[m, k] · (scale·q + bias)
// over the packed rows of W [N, K·BITS/32] (x @ dequant(W).T), for MR (1..=4) rows of x.
// A workgroup of WGS = 32·WARPS invocations owns RPW consecutive weight rows; all of its
// invocations split K between them in chunks of 32 values (BITS words: vec4/vec2 loads, `load_q`
// unpacks straight-line), chunk c going to invocation c % WGS, so a row is read as WGS lanes x
// 16 bytes (4-bit) of contiguous memory per step and a long K (Llama's down projection) still
// spreads over many invocations. A chunk lies in one group (group sizes are multiples of 32), so
// per chunk the partial sum is scale·dot(x, q) + bias·Σx, accumulated in f32. The entry point
// (generated: `qmv_entry_*` in sources.rs) adds the WGS partial sums of each output, with
// subgroup sums where the adapter has them, else a tree in workgroup memory, then calls `store`.
// x is read as vec4 (dense, offset a multiple of 4).
// Header: BITS, MASK, MR, RPW, WARPS, X (binding 2, vec4<f32>), W (3, vec of u32), SC (4),
// BI (5), O (6), `fn narrow`, `fn load_q` and the x factors `XSCALE` that go with it.

struct Params {
    n: u32,
    k: u32,
    blocks: u32,
    off_x: u32, // in floats, a multiple of 4
    off_w: u32, // in words, a multiple of the load width
    off_s: u32,
    off_b: u32,
    rw: u32,    // words per weight row
    g: u32,     // groups per weight row
    cpg: u32,   // chunks of 32 values per group
    pad0: u32,
    pad1: u32,
}
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> dims: array<i32>; // unused (common.wgsl names it)

const WGS: u32 = 32u * WARPS;
const NACC: u32 = RPW * MR;

var<workgroup> red: array<f32, NACC * WGS>;

/// This invocation's partial sums over its chunks, output-major: acc[r * MR + mm].
fn accumulate(blk: u32, lid: u32) -> array<f32, NACC> {
    let row0 = blk * RPW;
    var acc: array<f32, NACC>;
    for (var i = 0u; i < NACC; i = i + 1u) { acc[i] = 0.0; }
    let chunks = P.k / 32u;
    for (var c = lid; c < chunks; c = c + WGS) {
        var xs: array<array<vec4<f32>, 8>, MR>;
        var xsum: array<f32, MR>;
        for (var mm = 0u; mm < MR; mm = mm + 1u) {
            let xb = (P.off_x + mm * P.k) / 4u + c * 8u;
            var t = vec4<f32>(0.0);
            for (var j = 0u; j < 8u; j = j + 1u) {
                let v = X[xb + j];
                xs[mm][j] = v * XSCALE[j];
                t = t + v;
            }
            xsum[mm] = (t.x + t.y) + (t.z + t.w);
        }
        let gi = c / P.cpg;
        for (var r = 0u; r < RPW; r = r + 1u) {
            // rows past N re-read the last row (no branch around the loads); never written
            let row = min(row0 + r, P.n - 1u);
            let q = load_q(P.off_w + row * P.rw + c * BITS);
            let sc = SC[P.off_s + row * P.g + gi];
            let bi = BI[P.off_b + row * P.g + gi];
            for (var mm = 0u; mm < MR; mm = mm + 1u) {
                var d = 0.0;
                for (var j = 0u; j < 8u; j = j + 1u) {
                    d = d + dot(q[j], xs[mm][j]);
                }
                acc[r * MR + mm] = acc[r * MR + mm] + (sc * d + bi * xsum[mm]);
            }
        }
    }
    return acc;
}

/// Writes the total `s` of output `i` (`r * MR + mm`) of workgroup `blk`.
fn store(blk: u32, i: u32, s: f32) {
    let row = blk * RPW + i / MR;
    let mm = i % MR;
    if (row < P.n) { O[mm * P.n + row] = narrow(s); }
}
