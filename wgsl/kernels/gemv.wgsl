// gemv.wgsl — the M == 1 product y = x @ B where B's columns are contiguous in K (B = W^T for a
// row-major weight W[N, K]: a decoder's x @ W^T): 32 invocations share each output, reading a
// row of W in 128-byte runs, then add up their partial dots in workgroup memory.
// Header: A (x, binding 2), B (binding 3), O (binding 4), `fn narrow(x: f32) -> f32`.

struct Params {
    n: u32,
    k: u32,
    off_a: u32,
    off_b: u32,
    b_col: u32, // elements between consecutive columns of B (rows of W)
    pad0: u32,
    pad1: u32,
    pad2: u32,
}
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> dims: array<i32>; // unused (common.wgsl names it)

var<workgroup> red: array<f32, 256>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let col = (wid.x + wid.y * nwg.x) * 8u + lid / 32u;
    let lane = lid % 32u;
    var acc = 0.0;
    if (col < P.n) {
        let row = P.off_b + col * P.b_col;
        for (var k = lane; k < P.k; k = k + 32u) {
            acc = fma(f32(A[P.off_a + k]), f32(B[row + k]), acc);
        }
    }
    red[lid] = acc;
    workgroupBarrier();
    for (var s = 16u; s > 0u; s = s >> 1u) {
        if (lane < s) { red[lid] = red[lid] + red[lid + s]; }
        workgroupBarrier();
    }
    if (lane == 0u && col < P.n) { O[col] = narrow(red[lid]); }
}
