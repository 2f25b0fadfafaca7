// softmax.wgsl — fused softmax over the last axis of a dense input: one workgroup per row finds
// the row's maximum, then the sum of exponentials, then writes exp(x - max) / sum, all in f32;
// with LOG_SUM_EXP it writes max + log(sum) per row instead (an infinite max counts as 0).
// Header: A (binding 2, f32), O (binding 3, f32), `fn narrow(x: f32) -> f32`, LOG_SUM_EXP.

struct Params {
    rows: u32,
    n: u32,
    off_a: u32,
    pad: u32,
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
    var m = bitcast<f32>(0xff800000u);
    for (var i = lid; i < P.n; i = i + 256u) {
        m = max(m, A[base + i]);
    }
    red[lid] = m;
    workgroupBarrier();
    for (var s = 128u; s > 0u; s = s >> 1u) {
        if (lid < s) { red[lid] = max(red[lid], red[lid + s]); }
        workgroupBarrier();
    }
    m = red[0]; // softmax: an infinite maximum gives NaN rows, as MLX's kernel does
    if (LOG_SUM_EXP && (m == bitcast<f32>(0xff800000u) || m == bitcast<f32>(0x7f800000u))) { m = 0.0; }
    workgroupBarrier();
    var sum = 0.0;
    for (var i = lid; i < P.n; i = i + 256u) {
        sum = sum + exp(A[base + i] - m);
    }
    red[lid] = sum;
    workgroupBarrier();
    for (var s = 128u; s > 0u; s = s >> 1u) {
        if (lid < s) { red[lid] = red[lid] + red[lid + s]; }
        workgroupBarrier();
    }
    if (LOG_SUM_EXP) {
        if (lid == 0u) { O[row] = narrow(m + log(red[0])); }
        return;
    }
    let inv = 1.0 / red[0];
    let out = row * P.n;
    for (var i = lid; i < P.n; i = i + 256u) {
        O[out + i] = narrow(exp(A[base + i] - m) * inv);
    }
}
