// gather.wgsl — take and take_along_axis over a dense source. Header: SA, A (binding 2),
// I: array<i32> (binding 3), O (binding 4), and TAKE_ALONG (bool const).
// take:            out[(o, i, j)] = A[(o, fix(I[i]), j)]  for out shape [outer, ni, inner]
// take_along_axis: out[p] = A[(o, fix(I[p]), j)]          with p = (o, r, j) in I's shape
// Negative indices wrap once; out-of-range ones clamp.

struct Params {
    total: u32,
    ni: u32,     // number of indices (take) or I's extent along the axis (take_along_axis)
    n: u32,      // source extent along the axis
    inner: u32,
}
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> dims: array<i32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let p = linear_id(wid, nwg, lid, 256u);
    if (p >= P.total) { return; }
    let j = p % P.inner;
    let t = p / P.inner;
    let r = t % P.ni;
    let o = t / P.ni;
    var idx: i32;
    if (TAKE_ALONG) { idx = I[p]; } else { idx = I[r]; }
    O[p] = A[(o * P.n + fix_index(idx, P.n)) * P.inner + j];
}
