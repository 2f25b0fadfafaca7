// argreduce.wgsl — index of the max/min along one axis. NaN counts as the extremum; ties keep
// the smallest index. `main`: one workgroup per output. For few long lines (an LLM's argmax over
// its vocabulary) one workgroup would walk the whole line alone, so `partial` gives each of
// P.segs workgroups a P.seg_len slice of a line (candidates into PV/PI) and `combine` picks
// each line's best candidate. Header: KEY, `fn better(a: KEY, b: KEY) -> bool` (is `a`
// strictly better than `b`), `fn key_is_nan`, A (binding 2), O: array<u32> (binding 3),
// PV: array<KEY> (4), PI: array<u32> (5). dims: kept shape[nk], kept strides[nk].

struct Params {
    n_out: u32,
    n: u32,
    nk: u32,
    stride: i32,
    off_a: i32,
    segs: u32,    // partial/combine: workgroups per line
    seg_len: u32, // partial: values per workgroup
    pad2: u32,
}
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> dims: array<i32>;

var<workgroup> best_val: array<KEY, 256>;
var<workgroup> best_idx: array<u32, 256>;

// true when candidate (v, i) should replace (bv, bi)
fn wins(v: KEY, i: u32, bv: KEY, bi: u32) -> bool {
    if (bi == 0xffffffffu) { return i != 0xffffffffu; }
    if (i == 0xffffffffu) { return false; }
    let vn = key_is_nan(v);
    let bn = key_is_nan(bv);
    if (bn) { return vn && i < bi; }
    if (vn) { return true; }
    if (better(v, bv)) { return true; }
    return v == bv && i < bi;
}

// the best of the 256 candidates (bv, bi) of the workgroup's invocations, in best_*[0]
fn tree(lid: u32, bv: KEY, bi: u32) {
    best_val[lid] = bv;
    best_idx[lid] = bi;
    workgroupBarrier();
    for (var s = 128u; s > 0u; s = s >> 1u) {
        if (lid < s && wins(best_val[lid + s], best_idx[lid + s], best_val[lid], best_idx[lid])) {
            best_val[lid] = best_val[lid + s];
            best_idx[lid] = best_idx[lid + s];
        }
        workgroupBarrier();
    }
}

// the best (value, index) of line o over indices [lo, hi), per invocation
fn scan_line(o: u32, lo: u32, hi: u32, lid: u32) -> Best {
    let base = i32(strided(o, P.nk, 0u, P.nk, P.off_a));
    var b: Best;
    b.i = 0xffffffffu;
    for (var r = lo + lid; r < hi; r = r + 256u) {
        let v = A[u32(base + i32(r) * P.stride)];
        if (wins(v, r, b.v, b.i)) { b.v = v; b.i = r; }
    }
    return b;
}

struct Best {
    v: KEY,
    i: u32,
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let o = wid.x + wid.y * nwg.x;
    if (o >= P.n_out) { return; }
    let b = scan_line(o, 0u, P.n, lid);
    tree(lid, b.v, b.i);
    if (lid == 0u) { O[o] = best_idx[0]; }
}

@compute @workgroup_size(256)
fn partial(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
    let g = wid.x + wid.y * nwg.x;
    if (g >= P.n_out * P.segs) { return; }
    let lo = (g % P.segs) * P.seg_len;
    let b = scan_line(g / P.segs, lo, min(lo + P.seg_len, P.n), lid);
    tree(lid, b.v, b.i);
    if (lid == 0u) {
        PV[g] = best_val[0];
        PI[g] = best_idx[0];
    }
}

@compute @workgroup_size(256)
fn combine(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
           @builtin(local_invocation_index) lid: u32) {
    let o = wid.x + wid.y * nwg.x;
    if (o >= P.n_out) { return; }
    var bv: KEY;
    var bi = 0xffffffffu;
    for (var c = lid; c < P.segs; c = c + 256u) {
        if (wins(PV[o * P.segs + c], PI[o * P.segs + c], bv, bi)) { bv = PV[o * P.segs + c]; bi = PI[o * P.segs + c]; }
    }
    tree(lid, bv, bi);
    if (lid == 0u) { O[o] = best_idx[0]; }
}
