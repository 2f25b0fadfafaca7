// map.wgsl — elementwise map of up to three strided inputs into an output view (dense, or a
// strided region for concatenate / slice_update). The generated header declares the buffers
// A, B, C (binding 2, 3, 4 as the arity needs), O (after them) and `fn compute(i: u32) -> SO`.
// dims: shape[nd], then the strides (nd each) of A, B, C (as present) and last of O.

struct Params {
    n: u32,
    nd: u32,
    contiguous: u32, // 1 when every input and the output are dense from their offsets
    pad: u32,
    off_a: i32,
    off_b: i32,
    off_c: i32,
    off_o: i32,
}
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> dims: array<i32>;

fn index_of(i: u32, slot: u32, base: i32) -> u32 {
    if (P.contiguous == 1u) { return u32(base) + i; }
    return strided(i, P.nd, 0u, (slot + 1u) * P.nd, base);
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid, 256u);
    if (i >= P.n) { return; }
    O[index_of(i, ARITY, P.off_o)] = narrow(compute(i));
}
