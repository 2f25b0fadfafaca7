// reduce.wgsl — workgroups reduce lines (strided over the reduced axes) with a shared-memory
// tree. With P.chunks > 1 each output's line is split into chunks of P.chunk elements, one
// workgroup each, and O holds the per-chunk partials (a second pass reduces them). Header: SA (input scalar), SO (output), ACC (accumulator),
// `fn identity() -> ACC`, `fn combine(a: ACC, b: ACC) -> ACC`, `fn load(x: SA) -> ACC`,
// `fn finish(a: ACC) -> SO`, buffers A (binding 2) and O (binding 3).
// dims: kept shape[nk], kept strides[nk], reduced shape[nr], reduced strides[nr].

struct Params {
    n_out: u32,
    red_size: u32,
    nk: u32,
    nr: u32,
    off_a: i32,
    chunks: u32,
    chunk: u32,
    inner_dense: u32, // 1: each line is `red_size` consecutive elements from o * red_size
}
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> dims: array<i32>;

var<workgroup> partial: array<ACC, 256>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let g = wid.x + wid.y * nwg.x;
    let o = g / P.chunks;
    if (o >= P.n_out) { return; }
    let begin = (g % P.chunks) * P.chunk;
    let end = min(begin + P.chunk, P.red_size);
    var acc = identity();
    if (P.inner_dense == 1u) {
        let base = u32(P.off_a) + o * P.red_size;
        for (var r = begin + lid; r < end; r = r + 256u) {
            acc = combine(acc, load(A[base + r]));
        }
    } else {
        let base = strided(o, P.nk, 0u, P.nk, P.off_a);
        for (var r = begin + lid; r < end; r = r + 256u) {
            let off = strided(r, P.nr, 2u * P.nk, 2u * P.nk + P.nr, i32(base));
            acc = combine(acc, load(A[off]));
        }
    }
    partial[lid] = acc;
    workgroupBarrier();
    for (var s = 128u; s > 0u; s = s >> 1u) {
        if (lid < s) { partial[lid] = combine(partial[lid], partial[lid + s]); }
        workgroupBarrier();
    }
    if (lid == 0u) { O[g] = finish(partial[0]); }
}
