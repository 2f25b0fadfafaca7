// map_vec4.wgsl — the dense fast path of map.wgsl: each invocation maps four consecutive
// elements with 16-byte loads and stores. Used when every input and the output are dense, their
// offsets are multiples of 4 and n is a multiple of 4. The generated header declares A, B, C
// (binding 2.. as the arity needs) and O as arrays of vec4 and `fn compute4(q: u32) -> vec4<SO>`.

struct Params {
    n: u32,
    nd: u32,
    modes: u32, // all 0 (dense) on this path; the layout of map.wgsl's params
    pad: u32,
    off_a: i32,
    off_b: i32,
    off_c: i32,
    off_o: i32,
    q_a: u32,
    q_b: u32,
    q_c: u32,
    q_o: u32,
}
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> dims: array<i32>; // unused (common.wgsl names it)

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let q = linear_id(wid, nwg, lid, 256u);
    if (q >= P.n / 4u) { return; }
    O[q + u32(P.off_o) / 4u] = compute4(q);
}
