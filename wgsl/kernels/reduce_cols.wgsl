// reduce_cols.wgsl — reduction over the leading axes of a dense input seen as [rows, cols]
// (sum over axis 0, a bias gradient): one invocation per column walks a chunk of rows, so
// neighbouring invocations read neighbouring addresses. With several chunks O holds
// [chunks, cols] partials that a second dispatch of this kernel reduces.
// Header as reduce.wgsl (SA, SO, ACC, identity, combine, load, finish, A, O).

struct Params {
    rows: u32,
    cols: u32,
    rows_per_chunk: u32,
    off_a: u32,
}
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> dims: array<i32>; // unused (common.wgsl names it)

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let c = wid.x * 256u + lid;
    if (c >= P.cols) { return; }
    let r0 = wid.y * P.rows_per_chunk;
    let r1 = min(r0 + P.rows_per_chunk, P.rows);
    var acc = identity();
    for (var r = r0; r < r1; r = r + 1u) {
        acc = combine(acc, load(A[P.off_a + r * P.cols + c]));
    }
    O[wid.y * P.cols + c] = finish(acc);
}
