// scatter.wgsl — writes (or adds) dense updates U at indices I along an axis into O, which
// already holds a copy of the source. Header: SO, U (binding 2), I: array<i32> (binding 3),
// O (binding 4; atomic for the add variants) and `fn put(off: u32, v: SO)`.
// dims: U's shape[nd], O's strides[nd] with the axis stride zeroed.

struct Params {
    total: u32,
    nd: u32,
    n: u32,           // O's extent along the axis
    axis_stride: u32, // O's stride along the axis
}
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> dims: array<i32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let p = linear_id(wid, nwg, lid, 256u);
    if (p >= P.total) { return; }
    let off = strided(p, P.nd, 0u, P.nd, 0) + fix_index(I[p], P.n) * P.axis_stride;
    put(off, U[p]);
}
