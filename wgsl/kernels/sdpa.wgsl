// sdpa.wgsl — fused scaled dot-product attention (`Primitive::Sdpa`): one workgroup per query row
// [b, h, i] walks the keys it sees in blocks of 128 with an online softmax (a running maximum and
// sum rescale the partial results), so no scores matrix is stored. Each invocation scores one key
// of a block against the query (held in workgroup memory, pre-scaled), then owns output features
// `lid` and `lid + 128` of the weighted sum of values. Head dimensions up to 256. All in f32.
// Keys and values may be views whose rows are dense but whose heads and batches are not (a
// preallocated KV cache sliced to its filled length): their batch and head strides are params.
// Header: Q (binding 2), K (3), V (4), O (5), all f32, `fn narrow(x: f32) -> f32`.

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
}
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> dims: array<i32>; // unused (common.wgsl names it)

const WG: u32 = 128u;
const LOWEST: f32 = -3.4028234e38;

var<workgroup> qs: array<f32, 256>;
var<workgroup> pw: array<f32, 128>;
var<workgroup> red: array<f32, 128>;

@compute @workgroup_size(128)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let row = wid.x + wid.y * nwg.x;
    if (row >= P.rows) { return; }
    let i = row % P.lq;
    let h = (row / P.lq) % P.hq;
    let b = row / (P.lq * P.hq);
    let hkv = h / (P.hq / P.hk);
    var visible = P.lk;
    if (P.causal != 0u) { visible = min(P.lk, max(i + P.lk + 1u, P.lq) - P.lq); }
    for (var j = lid; j < P.d; j = j + WG) { qs[j] = Q[P.off_q + row * P.d + j] * P.scale; }
    workgroupBarrier();
    let kbase = P.off_k + b * P.k_bstride + hkv * P.k_hstride;
    let vbase = P.off_v + b * P.v_bstride + hkv * P.v_hstride;
    var m = LOWEST;
    var l = 0.0;
    var acc0 = 0.0;
    var acc1 = 0.0;
    for (var t0 = 0u; t0 < visible; t0 = t0 + WG) {
        let t = t0 + lid;
        var s = LOWEST;
        if (t < visible) {
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
        if (t < visible) { e = exp(s - nm); }
        pw[lid] = e;
        red[lid] = e;
        workgroupBarrier();
        for (var w = WG / 2u; w > 0u; w = w >> 1u) {
            if (lid < w) { red[lid] = red[lid] + red[lid + w]; }
            workgroupBarrier();
        }
        // the first block has nothing to rescale (no infinities needed)
        var alpha = 0.0;
        if (t0 > 0u) { alpha = exp(m - nm); }
        l = l * alpha + red[0];
        let n = min(WG, visible - t0);
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
    let out = row * P.dv;
    var inv = bitcast<f32>(0x7fc00000u); // a row that sees no key is NaN
    if (visible > 0u) { inv = 1.0 / l; }
    if (lid < P.dv) { O[out + lid] = narrow(acc0 * inv); }
    if (lid + WG < P.dv) { O[out + lid + WG] = narrow(acc1 * inv); }
}
