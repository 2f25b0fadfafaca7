// arange.wgsl — O[i] = start + i * step in the output dtype. Header: SO, O (binding 2) and
// `fn value(i: u32) -> SO`.

struct Params {
    n: u32,
    integral: u32,
    start_i: i32,
    step_i: i32,
    start_f: f32,
    step_f: f32,
    pad0: u32,
    pad1: u32,
}
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> dims: array<i32>; // unused (common.wgsl names it)

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid, 256u);
    if (i >= P.n) { return; }
    O[i] = narrow(value(i));
}
