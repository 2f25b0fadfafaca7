// map.wgsl — elementwise map of up to three strided inputs into an output view (dense, or a
// strided region for concatenate / slice_update). The generated header declares the buffers
// A, B, C (binding 2, 3, 4 as the arity needs), O (after them) and `fn compute(i: u32) -> SO`.
// dims: shape[nd], then the strides (nd each) of A, B, C (as present) and last of O.
// Each slot (A, B, C, then O) has a 2-bit index mode in P.modes: 0 dense (`off + i`), 1 strided
// through dims, 2 broadcast along leading axes (`off + i % q`), 3 broadcast along trailing axes
// (`off + i / q`), with q in P.q_a.. (a row vector or a column vector against a dense output).

struct Params {
    n: u32,
    nd: u32,
    modes: u32,
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
@group(0) @binding(1) var<storage, read> dims: array<i32>;

fn index_of(i: u32, slot: u32, base: i32) -> u32 {
    let mode = (P.modes >> (2u * slot)) & 3u;
    if (mode == 0u) { return u32(base) + i; }
    var q = P.q_o;
    if (slot == 0u) { q = P.q_a; } else if (slot == 1u) { q = P.q_b; } else if (slot == 2u) { q = P.q_c; }
    if (mode == 2u) { return u32(base) + i % q; }
    if (mode == 3u) { return u32(base) + i / q; }
    return strided(i, P.nd, 0u, (slot + 1u) * P.nd, base);
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid, 256u);
    if (i >= P.n) { return; }
    O[index_of(i, ARITY, P.off_o)] = narrow(compute(i));
}
