// qx.wgsl — activations of the 4-bit integer mat-vec (`qmv.wgsl` with `INT8`): each 32-value
// block of the MR dense rows of x [MR, K] (f32 at P.off_x) is quantized to two int8 levels,
// x ≈ dx·q1 + dx/254·q2 with dx = max|x|/127, q1 = round(x/dx), q2 = round((x/dx - q1)·254)
// (both in -127..=127; the backend-cpu `qdot_i8` scheme, about 15 bits). One invocation per
// block. Per 8-value word w of a row (the values one packed 4-bit weight word holds), XQ[w] =
// (q1 of values 0,2,4,6, q1 of 1,3,5,7, q2 of 0,2,4,6, q2 of 1,3,5,7), bytes in that order from
// the low one (the nibble order `w & 0x0F0F0F0F` / `(w >> 4) & 0x0F0F0F0F` gives), and
// XF[w] = (dx/254, Σ x over the word) in f32.

struct Params {
    blocks: u32, // MR · K / 32
    off_x: u32,
    pad0: u32,
    pad1: u32,
}
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> dims: array<i32>; // unused (common.wgsl names it)
@group(0) @binding(2) var<storage, read> X: array<f32>;
@group(0) @binding(3) var<storage, read_write> XQ: array<vec4<u32>>;
@group(0) @binding(4) var<storage, read_write> XF: array<vec2<f32>>;

fn byte(q: f32, at: u32) -> u32 {
    return (u32(i32(q)) & 0xffu) << (8u * at);
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let b = linear_id(wid, nwg, lid, 64u);
    if (b >= P.blocks) { return; }
    let base = P.off_x + b * 32u;
    var amax = 0.0;
    for (var i = 0u; i < 32u; i = i + 1u) { amax = max(amax, abs(X[base + i])); }
    // a block of zeros (or of values too small for 127/amax) quantizes to zeros
    let id = select(0.0, 127.0 / amax, amax > 1e-30);
    let dstep = amax / (127.0 * 254.0);
    for (var w = 0u; w < 4u; w = w + 1u) {
        var q = vec4<u32>(0u);
        var sum = 0.0;
        for (var j = 0u; j < 8u; j = j + 1u) {
            let x = X[base + w * 8u + j];
            sum = sum + x;
            let t = x * id;
            let q1 = clamp(round(t), -127.0, 127.0);
            let q2 = clamp(round((t - q1) * 254.0), -127.0, 127.0);
            let odd = j & 1u;
            let at = j / 2u;
            q[odd] = q[odd] | byte(q1, at);
            q[2u + odd] = q[2u + odd] | byte(q2, at);
        }
        XQ[b * 4u + w] = q;
        XF[b * 4u + w] = vec2<f32>(dstep, sum);
    }
}
