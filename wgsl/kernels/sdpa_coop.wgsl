// sdpa_coop.wgsl — attention for prefill shapes on cooperative matrices (tensor cores), flash
// style: a workgroup takes BQ query rows of one (batch, head), BQ/16 subgroups of 16 rows each,
// and walks the keys its rows see in blocks of 64, never storing a scores matrix in memory.
// Two passes over the keys (attention is a few percent of a prefill's products, so recomputing
// the scores costs less than rescaling tensor-core accumulators row by row): the first finds each
// row's maximum and sum of exp, the second writes the normalised probabilities as f16 and adds
// P·V into f32 accumulators. q, k and v are rounded to f16 in workgroup memory (the query block
// once: its fragments stay in registers); scores and softmax are f32. Rows of q, k and v are
// dense; batches, heads and rows are strided (views of a projection's output or a KV cache).
// Needs: `enable f16; enable wgpu_cooperative_matrix;` (prepended), subgroups of exactly 32.
// Header: D (head dimension, a multiple of 16 up to 128), BQ (32 or 64), WGS (2·BQ), Q (binding
// 2), K (3), V (4) as vec4s, O (5),
// `fn narrow`; the generated blocks QFRAGS, SCORES, PV, OZERO and OSTORE (unrolled per D).

struct Params {
    hq: u32,
    hk: u32,
    lq: u32,
    lk: u32,
    causal: u32,
    scale: f32,
    off_q: u32,
    off_k: u32,
    off_v: u32,
    q_b: u32, // strides between batches, heads and rows (elements)
    q_h: u32,
    q_l: u32,
    k_b: u32,
    k_h: u32,
    k_l: u32,
    v_b: u32,
    v_h: u32,
    v_l: u32,
    qblocks: u32, // blocks of BQ query rows per (batch, head)
    tiles: u32,   // workgroups in all
    vec4: u32,    // whether every offset and stride of q, k, v is a multiple of 4
    pad0: u32,
    pad1: u32,
    pad2: u32,
}
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> dims: array<i32>; // unused (common.wgsl names it)

const LDD: u32 = D + 8u; // row stride of the staged q/k/v block (8 values of padding)
const LDP: u32 = 72u;    // row stride of the probabilities
const LOWEST: f32 = -3.4028234e38;

var<workgroup> KV: array<f16, 64u * LDD>; // the query block, then each key block, then its values
var<workgroup> Ss: array<f32, BQ * 64u>;  // [BQ rows][64 keys] scores; the epilogue's scratch
var<workgroup> Ps: array<f16, BQ * LDP>;  // [BQ rows][LDP] probabilities
var<workgroup> seen: array<u32, BQ>;      // whether each row sees a key (else its output is NaN)

/// How many keys query row `i` sees (with the causal mask, those up to its position).
fn visible_keys(i: u32) -> u32 {
    if (P.causal == 0u) { return P.lk; }
    return min(P.lk, max(i + P.lk + 1u, P.lq) - P.lq);
}

/// Four consecutive values of q, k or v (`which`) from element `i`: one vec4 load where every
/// offset and stride is a multiple of 4 (`P.vec4`), else four.
fn src4(which: u32, i: u32) -> vec4<f32> {
    if (P.vec4 != 0u) {
        switch which {
            case 0u: { return Q[i / 4u]; }
            case 1u: { return K[i / 4u]; }
            default: { return V[i / 4u]; }
        }
    }
    var v: vec4<f32>;
    for (var j = 0u; j < 4u; j = j + 1u) {
        let e = i + j;
        switch which {
            case 0u: { v[j] = Q[e / 4u][e % 4u]; }
            case 1u: { v[j] = K[e / 4u][e % 4u]; }
            default: { v[j] = V[e / 4u][e % 4u]; }
        }
    }
    return v;
}

/// `n` rows from `r0` (of `rows`) of q, k or v (`which`) from `base`, row stride `ls`, rounded
/// to f16 into KV; zeros past the last row.
fn stage(which: u32, base: u32, ls: u32, r0: u32, n: u32, rows: u32, li: u32) {
    for (var e = li; e < n * D / 4u; e = e + WGS) {
        let r = e / (D / 4u);
        let c = (e % (D / 4u)) * 4u;
        var v = vec4<f32>();
        if (r0 + r < rows) { v = src4(which, base + (r0 + r) * ls + c); }
        let h = vec4<f16>(v);
        let at = r * LDD + c;
        KV[at] = h.x;
        KV[at + 1u] = h.y;
        KV[at + 2u] = h.z;
        KV[at + 3u] = h.w;
    }
}

@compute @workgroup_size(WGS)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let tile = wid.x + wid.y * nwg.x;
    if (tile >= P.tiles) { return; } // whole workgroups only
    let qb = tile % P.qblocks;
    let h = (tile / P.qblocks) % P.hq;
    let b = tile / (P.qblocks * P.hq);
    let hkv = h / (P.hq / P.hk);
    let i0 = qb * BQ;
    let sg = li / 32u;
    let lane = li % 32u;
    let kbase = P.off_k + b * P.k_b + hkv * P.k_h;
    let vbase = P.off_v + b * P.v_b + hkv * P.v_h;
    // keys the block's last row sees (the others see fewer)
    let kend = visible_keys(min(i0 + BQ - 1u, P.lq - 1u));
    stage(0u, P.off_q + b * P.q_b + h * P.q_h, P.q_l, i0, BQ, P.lq, li);
    workgroupBarrier();
    //@QFRAGS
    workgroupBarrier();
    // the softmax: two lanes per row, each over half of a block's keys
    let rl = sg * 16u + lane / 2u;
    let half = lane % 2u;
    let vis = visible_keys(min(i0 + rl, P.lq - 1u));
    var m = LOWEST;
    var l = 0.0;
    //@OZERO
    // Two loops rather than one over the passes: naga rejects cooperative operations under a
    // branch on a loop variable (non-uniform to its analysis).
    // first pass: each row's maximum and sum of exp
    for (var t0 = 0u; t0 < kend; t0 = t0 + 64u) {
        stage(1u, kbase, P.k_l, t0, 64u, P.lk, li);
        workgroupBarrier();
        //@SCORES
        workgroupBarrier();
        let at = rl * 64u + half * 32u;
        let t1 = t0 + half * 32u;
        var mx = LOWEST;
        for (var c = 0u; c < 32u; c = c + 1u) {
            if (t1 + c < vis) { mx = max(mx, Ss[at + c] * P.scale); }
        }
        mx = max(mx, subgroupShuffleXor(mx, 1u));
        let mn = max(m, mx);
        var sum = 0.0;
        for (var c = 0u; c < 32u; c = c + 1u) {
            if (t1 + c < vis) { sum = sum + exp(Ss[at + c] * P.scale - mn); }
        }
        sum = sum + subgroupShuffleXor(sum, 1u);
        if (mn > LOWEST) { l = l * exp(m - mn) + sum; }
        m = mn;
        workgroupBarrier();
    }
    var inv = 0.0;
    if (l > 0.0) { inv = 1.0 / l; }
    seen[rl] = u32(l > 0.0);
    // second pass: the same scores, normalised, times the values
    for (var t0 = 0u; t0 < kend; t0 = t0 + 64u) {
        stage(1u, kbase, P.k_l, t0, 64u, P.lk, li);
        workgroupBarrier();
        //@SCORES
        workgroupBarrier();
        let at = rl * 64u + half * 32u;
        let t1 = t0 + half * 32u;
        for (var c = 0u; c < 32u; c = c + 1u) {
            var p = 0.0;
            if (t1 + c < vis) { p = exp(Ss[at + c] * P.scale - m) * inv; }
            Ps[rl * LDP + half * 32u + c] = f16(p);
        }
        stage(2u, vbase, P.v_l, t0, 64u, P.lk, li);
        workgroupBarrier();
        //@PV
        workgroupBarrier();
    }
    //@OSTORE
}
