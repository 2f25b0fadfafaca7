// rope.wgsl — rotary position embedding over a dense x [.., L, D], one invocation per output
// element: feature j < dims pairs with its partner ((2i, 2i+1) if TRADITIONAL, else
// (i, i + dims/2)), theta = ((offset + l) * scale) * inv_freq(i) in f32 with inv_freq(i) =
// exp(-i * log_base) (log_base = ln(base) / (dims/2)) or 1 / F[i]; features past dims are copied.
// Header: A (binding 2, f32), F (binding 3, f32), O (binding 4, f32), `fn narrow(x: f32) -> f32`.

struct Params {
    total: u32,
    d: u32,
    l: u32,
    dims: u32,
    off_a: u32,
    offset: u32,
    has_freqs: u32,
    traditional: u32,
    scale: f32,
    log_base: f32,
    pad0: u32,
    pad1: u32,
}
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> dims: array<i32>; // unused (common.wgsl names it)

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let e = linear_id(wid, nwg, lid, 256u);
    if (e >= P.total) { return; }
    let j = e % P.d;
    let src = P.off_a + e;
    if (j >= P.dims) {
        O[e] = A[src];
        return;
    }
    let half = P.dims / 2u;
    let pos = (e / P.d) % P.l;
    // i: the pair; first: whether j is the pair's first member; k: the partner's offset
    var i: u32;
    var first: bool;
    var partner: u32;
    if (P.traditional != 0u) {
        i = j / 2u;
        first = (j % 2u) == 0u;
        partner = select(src - 1u, src + 1u, first);
    } else {
        first = j < half;
        i = select(j - half, j, first);
        partner = select(src - half, src + half, first);
    }
    var inv: f32;
    if (P.has_freqs != 0u) {
        inv = 1.0 / F[i];
    } else {
        inv = exp(-f32(i) * P.log_base);
    }
    let theta = (f32(P.offset + pos) * P.scale) * inv;
    let c = cos(theta);
    let s = sin(theta);
    var y: f32;
    if (first) {
        y = A[src] * c - A[partner] * s; // x1 cos - x2 sin
    } else {
        y = A[partner] * s + A[src] * c; // x1 sin + x2 cos
    }
    O[e] = narrow(y);
}
