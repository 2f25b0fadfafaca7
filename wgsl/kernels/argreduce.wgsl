// argreduce.wgsl — index of the max/min along one axis, one workgroup per output. NaN counts as
// the extremum; ties keep the smallest index. Header: SA, `fn better(a: f32, b: f32) -> bool`
// (is `a` strictly better than `b`), `fn key(x: SA) -> f32`-like conversion to KEY, A (binding
// 2), O: array<u32> (binding 3). dims: kept shape[nk], kept strides[nk].

struct Params {
    n_out: u32,
    n: u32,
    nk: u32,
    stride: i32,
    off_a: i32,
    pad0: u32,
    pad1: u32,
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

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let o = wid.x + wid.y * nwg.x;
    if (o >= P.n_out) { return; }
    let base = i32(strided(o, P.nk, 0u, P.nk, P.off_a));
    var bv: KEY;
    var bi = 0xffffffffu;
    for (var r = lid; r < P.n; r = r + 256u) {
        let v = A[u32(base + i32(r) * P.stride)];
        if (wins(v, r, bv, bi)) { bv = v; bi = r; }
    }
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
    if (lid == 0u) { O[o] = best_idx[0]; }
}
