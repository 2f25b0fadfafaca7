// matmul_128.wgsl — batched C = A @ B for float storage, register-blocked for large matrices:
// 128x128 output tiles, 16x16 invocations each computing 8x8 outputs (rows ty*4+i and
// 64+ty*4+i, columns tx*4+j and 64+tx*4+j, so a subgroup's workgroup-memory reads are
// contiguous vec4s), K in steps of 16 through workgroup memory stored k-major.
// A and B are read through their strides (transposed views need no copy; the load pattern
// follows whichever axis is contiguous); C is dense. Every global access is bounds-tested.
// Header: A (binding 2), B (binding 3), O (binding 4), `fn narrow(x: f32) -> f32`.
// dims: batch shape[nb], A batch strides[nb], B batch strides[nb].

// Params, P and dims: matmul_params.wgsl (prepended).

// [16 k][128 m] and [16 k][128 n] as vec4 along m / n; rows padded to 33 vec4s so that 16
// invocations storing one column each hit different banks
var<workgroup> As: array<vec4<f32>, 528>;
var<workgroup> Bs: array<vec4<f32>, 528>;

fn load_a(base: i32, r: u32, c: u32) -> f32 {
    if (r < P.m && c < P.k) {
        return f32(A[u32(base + i32(r) * P.a_rs + i32(c) * P.a_cs)]);
    }
    return 0.0;
}

fn load_b(base: i32, r: u32, c: u32) -> f32 {
    if (r < P.k && c < P.n) {
        return f32(B[u32(base + i32(r) * P.b_rs + i32(c) * P.b_cs)]);
    }
    return 0.0;
}

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let batch = wid.z + P.batch_base;
    let a_base = i32(strided(batch, P.nb, 0u, P.nb, P.off_a));
    let b_base = i32(strided(batch, P.nb, 0u, 2u * P.nb, P.off_b));
    let row0 = wid.y * 128u;
    let col0 = wid.x * 128u;
    let tx = lid.x;
    let ty = lid.y;
    let a_k_fast = P.a_cs == 1;
    let b_n_fast = P.b_cs == 1 || P.b_rs != 1;
    var acc: array<vec4<f32>, 16>;
    for (var k0 = 0u; k0 < P.k; k0 = k0 + 16u) {
        for (var e = 0u; e < 8u; e = e + 1u) {
            let idx = li + e * 256u;
            // A tile element (m, k): walk k fastest when A's rows are contiguous, else m
            var am = idx / 16u;
            var ak = idx % 16u;
            if (!a_k_fast) {
                am = idx % 128u;
                ak = idx / 128u;
            }
            As[ak * 33u + am / 4u][am % 4u] = load_a(a_base, row0 + am, k0 + ak);
            var bn = idx % 128u;
            var bk = idx / 128u;
            if (!b_n_fast) {
                bn = idx / 16u;
                bk = idx % 16u;
            }
            Bs[bk * 33u + bn / 4u][bn % 4u] = load_b(b_base, k0 + bk, col0 + bn);
        }
        workgroupBarrier();
        for (var kk = 0u; kk < 16u; kk = kk + 1u) {
            let a0 = As[kk * 33u + ty];
            let a1 = As[kk * 33u + 16u + ty];
            let b0 = Bs[kk * 33u + tx];
            let b1 = Bs[kk * 33u + 16u + tx];
            acc[0] = fma(vec4<f32>(a0.x), b0, acc[0]);
            acc[1] = fma(vec4<f32>(a0.x), b1, acc[1]);
            acc[2] = fma(vec4<f32>(a0.y), b0, acc[2]);
            acc[3] = fma(vec4<f32>(a0.y), b1, acc[3]);
            acc[4] = fma(vec4<f32>(a0.z), b0, acc[4]);
            acc[5] = fma(vec4<f32>(a0.z), b1, acc[5]);
            acc[6] = fma(vec4<f32>(a0.w), b0, acc[6]);
            acc[7] = fma(vec4<f32>(a0.w), b1, acc[7]);
            acc[8] = fma(vec4<f32>(a1.x), b0, acc[8]);
            acc[9] = fma(vec4<f32>(a1.x), b1, acc[9]);
            acc[10] = fma(vec4<f32>(a1.y), b0, acc[10]);
            acc[11] = fma(vec4<f32>(a1.y), b1, acc[11]);
            acc[12] = fma(vec4<f32>(a1.z), b0, acc[12]);
            acc[13] = fma(vec4<f32>(a1.z), b1, acc[13]);
            acc[14] = fma(vec4<f32>(a1.w), b0, acc[14]);
            acc[15] = fma(vec4<f32>(a1.w), b1, acc[15]);
        }
        workgroupBarrier();
    }
    let out_base = batch * P.m;
    for (var i = 0u; i < 8u; i = i + 1u) {
        let r = row0 + (i / 4u) * 64u + ty * 4u + i % 4u;
        if (r >= P.m) { continue; }
        for (var h = 0u; h < 2u; h = h + 1u) {
            let v = acc[i * 2u + h];
            let c0 = col0 + h * 64u + tx * 4u;
            let o = (out_base + r) * P.n;
            if (c0 < P.n) { O[o + c0] = narrow(v.x); }
            if (c0 + 1u < P.n) { O[o + c0 + 1u] = narrow(v.y); }
            if (c0 + 2u < P.n) { O[o + c0 + 2u] = narrow(v.z); }
            if (c0 + 3u < P.n) { O[o + c0 + 3u] = narrow(v.w); }
        }
    }
}
