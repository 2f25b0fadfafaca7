// sort.wgsl — stable sort/argsort along an axis by a bitonic network over lines padded to a
// power of two P2. Entry points: `init` copies each line into scratch keys K and indices I
// (padding marked with index 0xffffffff), `step` runs one compare-exchange pass (k, j), and
// `finish` writes the first n sorted keys (or indices) of each line into O.
// Ordering: real values ascending, then NaN, then padding; ties by original index (stability).
// Header: SA, A (binding 2), K: array<SA> (binding 3), I: array<u32> (binding 4), O (binding 5),
// `fn key_is_nan(x: SA) -> bool`, and OUT_INDICES (bool const) with `fn out_value`.
// dims: line shape[nd] (axis extent 1), A strides[nd], O strides[nd].

struct Params {
    lines: u32,
    n: u32,
    p2: u32,
    nd: u32,
    k: u32,
    j: u32,
    stride_a: i32,
    stride_o: i32,
    off_a: i32,
    pad0: u32,
    pad1: u32,
    pad2: u32,
}
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> dims: array<i32>;

fn before(ka: SA, ia: u32, kb: SA, ib: u32) -> bool {
    // true when (ka, ia) sorts strictly before (kb, ib)
    if (ia == 0xffffffffu) { return false; }
    if (ib == 0xffffffffu) { return true; }
    let na = key_is_nan(ka);
    let nb = key_is_nan(kb);
    if (na != nb) { return nb; }
    if (!na && ka != kb) { return ka < kb; }
    return ia < ib;
}

@compute @workgroup_size(256)
fn init(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let t = linear_id(wid, nwg, lid, 256u);
    if (t >= P.lines * P.p2) { return; }
    let line = t / P.p2;
    let p = t % P.p2;
    if (p < P.n) {
        let base = i32(strided(line, P.nd, 0u, P.nd, P.off_a));
        K[t] = A[u32(base + i32(p) * P.stride_a)];
        I[t] = p;
    } else {
        I[t] = 0xffffffffu;
    }
}

@compute @workgroup_size(256)
fn step(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let t = linear_id(wid, nwg, lid, 256u);
    if (t >= P.lines * P.p2) { return; }
    let p = t % P.p2;
    let q = p ^ P.j;
    if (q <= p) { return; }
    let u = t - p + q;
    let ascending = (p & P.k) == 0u;
    let swap = select(before(K[t], I[t], K[u], I[u]), before(K[u], I[u], K[t], I[t]), ascending);
    if (swap) {
        let tk = K[t];
        let ti = I[t];
        K[t] = K[u];
        I[t] = I[u];
        K[u] = tk;
        I[u] = ti;
    }
}

@compute @workgroup_size(256)
fn finish(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
          @builtin(local_invocation_index) lid: u32) {
    let t = linear_id(wid, nwg, lid, 256u);
    if (t >= P.lines * P.n) { return; }
    let line = t / P.n;
    let p = t % P.n;
    let base = i32(strided(line, P.nd, 0u, 2u * P.nd, 0));
    O[u32(base + i32(p) * P.stride_o)] = out_value(line * P.p2 + p);
}
