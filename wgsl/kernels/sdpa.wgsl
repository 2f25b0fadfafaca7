// sdpa.wgsl — fused scaled dot-product attention (`Primitive::Sdpa`): one workgroup per query row
// [b, h, i] walks the keys it sees in blocks of 128 with an online softmax (a running maximum and
// sum rescale the partial results), so no scores matrix is stored. Each invocation scores one key
// of a block against the query (held in workgroup memory, pre-scaled), then owns output features
// `lid` and `lid + 128` of the weighted sum of values. Head dimensions up to 256. All in f32.
// Keys and values may be views whose rows are dense but whose heads and batches are not (a
// preallocated KV cache sliced to its filled length): their batch and head strides are params.
// Entry points: `main` (one workgroup per row, all its keys, output normalised); for few rows
// and long contexts (decode) `partial` splits each row's keys over P.nsplit workgroups of
// P.split_keys keys (flash-decoding: 32 rows of an 8B decode step were 32 workgroups walking
// every key) and writes each split's running max and sum (PML) and unnormalised output (PO);
// `combine` merges the splits of a row.
// Header: Q (binding 2), K (3), V (4), O (5), PML (6), PO (7), all f32, `fn narrow(x: f32) -> f32`.

struct Params {
    rows: u32,
    hq: u32,
    hk: u32,
    lq: u32,
    lk: u32,
    d: u32,
    dv: u32,
    causal: u32,
    scale: f32,
    off_q: u32,
    off_k: u32,
    off_v: u32,
    k_bstride: u32, // elements between batches / kv heads of K and V
    k_hstride: u32,
    v_bstride: u32,
    v_hstride: u32,
    nsplit: u32,     // workgroups per query row (`partial`); 1 for `main`
    split_keys: u32, // keys per split, a multiple of 128
    pad0: u32,
    pad1: u32,
}
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> dims: array<i32>; // unused (common.wgsl names it)

const WG: u32 = 128u;
const LOWEST: f32 = -3.4028234e38;

var<workgroup> qs: array<f32, 256>;
var<workgroup> pw: array<f32, 128>;
var<workgroup> red: array<f32, 128>;

/// A row's online-softmax state over a range of keys: running max, sum of weights, and the
/// unnormalised outputs of features `lid` and `lid + WG`.
struct State {
    m: f32,
    l: f32,
    acc0: f32,
    acc1: f32,
}

/// How many keys query row `row` sees (with the causal mask, those up to its position).
fn visible_keys(row: u32) -> u32 {
    let i = row % P.lq;
    var visible = P.lk;
    if (P.causal != 0u) { visible = min(P.lk, max(i + P.lk + 1u, P.lq) - P.lq); }
    return visible;
}

/// Attention of query row `row` over keys `t_begin .. t_end` (may be empty: max LOWEST, sum 0).
fn attend(row: u32, t_begin: u32, t_end: u32, lid: u32) -> State {
    let h = (row / P.lq) % P.hq;
    let b = row / (P.lq * P.hq);
    let hkv = h / (P.hq / P.hk);
    for (var j = lid; j < P.d; j = j + WG) { qs[j] = Q[P.off_q + row * P.d + j] * P.scale; }
    workgroupBarrier();
    let kbase = P.off_k + b * P.k_bstride + hkv * P.k_hstride;
    let vbase = P.off_v + b * P.v_bstride + hkv * P.v_hstride;
    var m = LOWEST;
    var l = 0.0;
    var acc0 = 0.0;
    var acc1 = 0.0;
    for (var t0 = t_begin; t0 < t_end; t0 = t0 + WG) {
        let t = t0 + lid;
        var s = LOWEST;
        if (t < t_end) {
            var dsum = 0.0;
            let kr = kbase + t * P.d;
            for (var j = 0u; j < P.d; j = j + 1u) { dsum = dsum + qs[j] * K[kr + j]; }
            s = dsum;
        }
        red[lid] = s;
        workgroupBarrier();
        for (var w = WG / 2u; w > 0u; w = w >> 1u) {
            if (lid < w) { red[lid] = max(red[lid], red[lid + w]); }
            workgroupBarrier();
        }
        let nm = max(m, red[0]);
        workgroupBarrier();
        var e = 0.0;
        if (t < t_end) { e = exp(s - nm); }
        pw[lid] = e;
        red[lid] = e;
        workgroupBarrier();
        for (var w = WG / 2u; w > 0u; w = w >> 1u) {
            if (lid < w) { red[lid] = red[lid] + red[lid + w]; }
            workgroupBarrier();
        }
        // the first block has nothing to rescale (no infinities needed)
        var alpha = 0.0;
        if (t0 > t_begin) { alpha = exp(m - nm); }
        l = l * alpha + red[0];
        let n = min(WG, t_end - t0);
        if (lid < P.dv) {
            var a = acc0 * alpha;
            for (var j = 0u; j < n; j = j + 1u) { a = a + pw[j] * V[vbase + (t0 + j) * P.dv + lid]; }
            acc0 = a;
        }
        if (lid + WG < P.dv) {
            var a = acc1 * alpha;
            for (var j = 0u; j < n; j = j + 1u) { a = a + pw[j] * V[vbase + (t0 + j) * P.dv + lid + WG]; }
            acc1 = a;
        }
        m = nm;
        workgroupBarrier();
    }
    return State(m, l, acc0, acc1);
}

/// 1 / sum, or NaN for a row that sees no key.
fn inverse_sum(l: f32, visible: u32) -> f32 {
    var inv = bitcast<f32>(0x7fc00000u);
    if (visible > 0u) { inv = 1.0 / l; }
    return inv;
}

@compute @workgroup_size(128)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let row = wid.x + wid.y * nwg.x;
    if (row >= P.rows) { return; }
    let visible = visible_keys(row);
    let st = attend(row, 0u, visible, lid);
    let out = row * P.dv;
    let inv = inverse_sum(st.l, visible);
    if (lid < P.dv) { O[out + lid] = narrow(st.acc0 * inv); }
    if (lid + WG < P.dv) { O[out + lid + WG] = narrow(st.acc1 * inv); }
}

@compute @workgroup_size(128)
fn partial(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
    let g = wid.x + wid.y * nwg.x;
    let row = g / P.nsplit;
    if (row >= P.rows) { return; }
    let sp = g % P.nsplit;
    let t_begin = sp * P.split_keys;
    let st = attend(row, t_begin, min(visible_keys(row), t_begin + P.split_keys), lid);
    if (lid == 0u) { PML[g] = vec2<f32>(st.m, st.l); }
    if (lid < P.dv) { PO[g * P.dv + lid] = st.acc0; }
    if (lid + WG < P.dv) { PO[g * P.dv + lid + WG] = st.acc1; }
}

@compute @workgroup_size(128)
fn combine(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
    let row = wid.x + wid.y * nwg.x;
    if (row >= P.rows) { return; }
    let first = row * P.nsplit;
    var m = LOWEST;
    for (var sp = 0u; sp < P.nsplit; sp = sp + 1u) { m = max(m, PML[first + sp].x); }
    var l = 0.0;
    var a0 = 0.0;
    var a1 = 0.0;
    for (var sp = 0u; sp < P.nsplit; sp = sp + 1u) {
        let ml = PML[first + sp];
        let w = exp(ml.x - m); // empty splits: max LOWEST, sum and outputs 0
        l = l + w * ml.y;
        if (lid < P.dv) { a0 = a0 + w * PO[(first + sp) * P.dv + lid]; }
        if (lid + WG < P.dv) { a1 = a1 + w * PO[(first + sp) * P.dv + lid + WG]; }
    }
    let inv = inverse_sum(l, visible_keys(row));
    if (lid < P.dv) { O[row * P.dv + lid] = narrow(a0 * inv); }
    if (lid + WG < P.dv) { O[row * P.dv + lid + WG] = narrow(a1 * inv); }
}
