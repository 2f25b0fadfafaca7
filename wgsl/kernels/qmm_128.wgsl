// qmm_128.wgsl — tiled quantized matmul for prefill shapes: out[M, N] = x[M, K] @ dequant(W).T
// with W [N, K] packed (transposed layout only). 128x128 output tiles, 16x16 invocations each
// computing 8x8 outputs as matmul_128.wgsl (rows ty*4+i and 64+ty*4+i, columns tx*4+j and
// 64+tx*4+j); per step of 32 along K (one group: group sizes are multiples of 32) the x tile is
// copied and the W tile dequantized (scale·q + bias in f32, 16 values per invocation) into
// workgroup memory stored k-major as vec4s. Tiles are numbered linearly over a folded 2-D grid.
// Header: BITS, MASK, X (binding 2, dense), W (3, u32), SC (4), BI (5) read by
// `fn scale`/`fn bias`, O (6), `fn narrow`, `fn qval`. Params as qmm.wgsl (tn counts 128 tiles).

// Params and P: qmm_params.wgsl (prepended).

// [32 k][128 m] and [32 k][128 n] as vec4 along m / n; rows padded to 33 vec4s
var<workgroup> As: array<vec4<f32>, 1056>;
var<workgroup> Bs: array<vec4<f32>, 1056>;

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let tile = wid.x + wid.y * nwg.x;
    if (tile >= P.tiles) { return; } // whole workgroups only
    let row0 = (tile / P.tn) * 128u;
    let col0 = (tile % P.tn) * 128u;
    let tx = lid.x;
    let ty = lid.y;
    // the W values this invocation dequantizes: column nl, K offsets half*16 .. half*16+16
    let nl = li % 128u;
    let half = li / 128u;
    let n = col0 + nl;
    var acc: array<vec4<f32>, 16>;
    for (var k0 = 0u; k0 < P.k; k0 = k0 + 32u) {
        for (var e = 0u; e < 16u; e = e + 1u) {
            let idx = li + e * 256u;
            let am = idx / 32u;
            let ak = idx % 32u;
            let gr = row0 + am;
            let gc = k0 + ak;
            var v = 0.0;
            if (gr < P.m && gc < P.k) { v = X[P.off_x + gr * P.k + gc]; }
            As[ak * 33u + am / 4u][am % 4u] = v;
        }
        let kb = k0 + half * 16u;
        if (n < P.n && kb < P.k) {
            let gi = n * P.g + k0 / P.gs;
            let sc = scale(P.off_s + gi);
            let bi = bias(P.off_b + gi);
            let base = P.off_w + n * P.rw;
            for (var j = 0u; j < 16u; j = j + 1u) {
                Bs[(half * 16u + j) * 33u + nl / 4u][nl % 4u] = sc * f32(qval(base, kb + j)) + bi;
            }
        } else {
            for (var j = 0u; j < 16u; j = j + 1u) { Bs[(half * 16u + j) * 33u + nl / 4u][nl % 4u] = 0.0; }
        }
        workgroupBarrier();
        for (var kk = 0u; kk < 32u; kk = kk + 1u) {
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
    for (var i = 0u; i < 8u; i = i + 1u) {
        let r = row0 + (i / 4u) * 64u + ty * 4u + i % 4u;
        if (r >= P.m) { continue; }
        for (var h = 0u; h < 2u; h = h + 1u) {
            let v = acc[i * 2u + h];
            let c0 = col0 + h * 64u + tx * 4u;
            let o = r * P.n;
            if (c0 < P.n) { O[o + c0] = narrow(v.x); }
            if (c0 + 1u < P.n) { O[o + c0 + 1u] = narrow(v.y); }
            if (c0 + 2u < P.n) { O[o + c0 + 2u] = narrow(v.z); }
            if (c0 + 3u < P.n) { O[o + c0 + 3u] = narrow(v.w); }
        }
    }
}
