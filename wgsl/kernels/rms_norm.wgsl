// rms_norm.wgsl — fused RMS normalisation over the last axis of a dense input: one workgroup per
// row sums the squares in f32, then writes narrow(narrow(x * r) * w) with r = 1/sqrt(mean + eps)
// (the weight multiplies the rounded x * r, as MLX's kernel; without a weight, narrow(x * r)).
// Header: A (binding 2, f32), W (binding 3, f32), O (binding 4, f32), `fn narrow(x: f32) -> f32`.

struct Params {
    rows: u32,
    n: u32,
    off_a: u32,
    off_w: u32,
    has_w: u32,
    eps: f32,
    pad0: u32,
    pad1: u32,
}
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> dims: array<i32>; // unused (common.wgsl names it)

var<workgroup> red: array<f32, 256>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let row = wid.x + wid.y * nwg.x;
    if (row >= P.rows) { return; }
    let base = P.off_a + row * P.n;
    var ss = 0.0;
    for (var i = lid; i < P.n; i = i + 256u) {
        let v = A[base + i];
        ss = ss + v * v;
    }
    red[lid] = ss;
    workgroupBarrier();
    for (var s = 128u; s > 0u; s = s >> 1u) {
        if (lid < s) { red[lid] = red[lid] + red[lid + s]; }
        workgroupBarrier();
    }
    let r = 1.0 / sqrt(red[0] / f32(P.n) + P.eps);
    let out = row * P.n;
    for (var i = lid; i < P.n; i = i + 256u) {
        var y = narrow(A[base + i] * r);
        if (P.has_w != 0u) { y = narrow(y * W[P.off_w + i]); }
        O[out + i] = y;
    }
}
