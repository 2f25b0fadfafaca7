// qdequantize.wgsl — affine dequantize (MLX): out = scale * q + bias per value of each packed row,
// one invocation per output value. Rows of `n` values are `rw` words of one little-endian bit
// stream (`qval`, header). f32: the product is kept from being fused into an fma (XOR with a
// runtime zero), so results equal the CPU's and MLX's bit for bit; f16/bf16 round the product
// and then the sum to the dtype, as MLX computes in the scales' type.
// Header: BITS, MASK, W (binding 2, u32), SC (3), BI (4) read by `fn scale`/`fn bias`, O (5),
// `fn narrow`, `fn qval`.

struct Params {
    total: u32,
    n: u32,
    rw: u32,
    gs: u32,
    off_w: u32,
    off_s: u32,
    off_b: u32,
    zero: u32, // always 0: an opaque value that stops mul+add contraction
}
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> dims: array<i32>; // unused (common.wgsl names it)

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid, 256u);
    if (i >= P.total) { return; }
    let r = i / P.n;
    let c = i % P.n;
    let q = f32(qval(P.off_w + r * P.rw, c));
    let g = r * (P.n / P.gs) + c / P.gs;
    let prod = narrow(bitcast<f32>(bitcast<u32>(scale(P.off_s + g) * q) ^ P.zero));
    O[i] = narrow(prod + bias(P.off_b + g));
}
