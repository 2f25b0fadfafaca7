// scan.wgsl — cumulative reduction, one invocation per line along the axis (sequential within a
// line). Header: SA, ACC, `identity`, `combine`, `load`, `finish` as in reduce.wgsl, A (binding 2)
// and O (binding 3). dims: line shape[nk] (the other axes), input strides[nk], output strides[nk].

struct Params {
    lines: u32,
    n: u32,
    nk: u32,
    reverse: u32,
    inclusive: u32,
    off_a: i32,
    stride_a: i32,
    stride_o: i32,
}
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> dims: array<i32>;

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let line = linear_id(wid, nwg, lid, 256u);
    if (line >= P.lines) { return; }
    let bi = i32(strided(line, P.nk, 0u, P.nk, P.off_a));
    let bo = i32(strided(line, P.nk, 0u, 2u * P.nk, 0));
    var acc = identity();
    for (var k = 0u; k < P.n; k = k + 1u) {
        var i = k;
        if (P.reverse == 1u) { i = P.n - 1u - k; }
        let dst = u32(bo + i32(i) * P.stride_o);
        if (P.inclusive == 0u) { O[dst] = finish(acc); }
        acc = combine(acc, load(A[u32(bi + i32(i) * P.stride_a)]));
        if (P.inclusive == 1u) { O[dst] = finish(acc); }
    }
}
