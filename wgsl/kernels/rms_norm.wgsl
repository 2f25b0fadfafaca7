// rms_norm.wgsl — fused RMS normalisation over the last axis of a dense input: one workgroup per
// row sums the squares in f32, then writes narrow(narrow(x * r) * w) with r = 1/sqrt(mean + eps)
// (the weight multiplies the rounded x * r, as MLX's kernel; without a weight, narrow(x * r)).
// Rows of at most 4096 values (decode's hidden states) take `short_row`.
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

/// 1/sqrt(mean of squares + eps) of the row whose partial sums of squares the workgroup's
/// invocations hold (`ss`).
fn inverse_rms(lid: u32, ss: f32) -> f32 {
    red[lid] = ss;
    workgroupBarrier();
    for (var s = 128u; s > 0u; s = s >> 1u) {
        if (lid < s) { red[lid] = red[lid] + red[lid + s]; }
        workgroupBarrier();
    }
    return 1.0 / sqrt(red[0] / f32(P.n) + P.eps);
}

/// Values per invocation of a row held in registers (rows up to 4096: Llama-3-8B's width).
const PER: u32 = 16u;

/// A row of at most 256·PER values: every load of the row and of the weight issued at once
/// (one memory round trip instead of one per four values, and the weight's latency hidden
/// behind the reduction), the values kept in registers for the output.
fn short_row(row: u32, lid: u32) {
    let base = P.off_a + row * P.n;
    var v: array<f32, PER>;
    var w: array<f32, PER>;
    for (var t = 0u; t < PER; t = t + 1u) {
        let i = lid + t * 256u;
        v[t] = select(0.0, A[base + min(i, P.n - 1u)], i < P.n);
    }
    for (var t = 0u; t < PER; t = t + 1u) {
        w[t] = select(1.0, W[P.off_w + min(lid + t * 256u, P.n - 1u)], P.has_w != 0u);
    }
    var ss = 0.0;
    for (var t = 0u; t < PER; t = t + 1u) { ss = ss + v[t] * v[t]; }
    let r = inverse_rms(lid, ss);
    for (var t = 0u; t < PER; t = t + 1u) {
        let i = lid + t * 256u;
        var y = narrow(v[t] * r);
        if (P.has_w != 0u) { y = narrow(y * w[t]); }
        if (i < P.n) { O[row * P.n + i] = y; }
    }
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let row = wid.x + wid.y * nwg.x;
    if (row >= P.rows) { return; }
    let base = P.off_a + row * P.n;
    if (P.n <= 256u * PER) {
        short_row(row, lid);
        return;
    }
    // four loads in flight per invocation: a decode step normalises one row, so this one
    // workgroup's load latency is the whole kernel's time
    var ss = 0.0;
    var i = lid;
    for (; i + 768u < P.n; i = i + 1024u) {
        let v0 = A[base + i];
        let v1 = A[base + i + 256u];
        let v2 = A[base + i + 512u];
        let v3 = A[base + i + 768u];
        ss = ss + ((v0 * v0 + v1 * v1) + (v2 * v2 + v3 * v3));
    }
    for (; i < P.n; i = i + 256u) {
        let v = A[base + i];
        ss = ss + v * v;
    }
    let r = inverse_rms(lid, ss);
    let out = row * P.n;
    var j = lid;
    if (P.has_w != 0u) {
        for (; j + 768u < P.n; j = j + 1024u) {
            let a = vec4<f32>(A[base + j], A[base + j + 256u], A[base + j + 512u], A[base + j + 768u]);
            let w = vec4<f32>(W[P.off_w + j], W[P.off_w + j + 256u], W[P.off_w + j + 512u], W[P.off_w + j + 768u]);
            O[out + j] = narrow(narrow(a.x * r) * w.x);
            O[out + j + 256u] = narrow(narrow(a.y * r) * w.y);
            O[out + j + 512u] = narrow(narrow(a.z * r) * w.z);
            O[out + j + 768u] = narrow(narrow(a.w * r) * w.w);
        }
    }
    for (; j < P.n; j = j + 256u) {
        var y = narrow(A[base + j] * r);
        if (P.has_w != 0u) { y = narrow(y * W[P.off_w + j]); }
        O[out + j] = y;
    }
}
