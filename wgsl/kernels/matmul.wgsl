// matmul.wgsl — batched C = A @ B for float storage (f32; f16/bf16 stored widened), 64x64 output
// tiles, 16x16 invocations each computing 4x4 outputs, K in steps of 16 through workgroup memory.
// A and B are read through their strides (transposed views need no copy); C is dense.
// Header: A (binding 2), B (binding 3), O (binding 4), `fn narrow(x: f32) -> f32`.
// dims: batch shape[nb], A batch strides[nb], B batch strides[nb].

// Params, P and dims: matmul_params.wgsl (prepended).

var<workgroup> As: array<f32, 1024>; // 64 rows x 16
var<workgroup> Bs: array<f32, 1024>; // 16 x 64 cols

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let batch = wid.z + P.batch_base;
    let a_base = i32(strided(batch, P.nb, 0u, P.nb, P.off_a));
    let b_base = i32(strided(batch, P.nb, 0u, 2u * P.nb, P.off_b));
    let row0 = wid.y * 64u;
    let col0 = wid.x * 64u;
    var acc: array<f32, 16>;
    for (var k0 = 0u; k0 < P.k; k0 = k0 + 16u) {
        for (var e = 0u; e < 4u; e = e + 1u) {
            let idx = li + e * 256u;
            let r = idx / 16u;
            let c = idx % 16u;
            let gr = row0 + r;
            let gc = k0 + c;
            var v = 0.0;
            if (gr < P.m && gc < P.k) {
                v = f32(A[u32(a_base + i32(gr) * P.a_rs + i32(gc) * P.a_cs)]);
            }
            As[r * 16u + c] = v;
            let br = idx / 64u;
            let bc = idx % 64u;
            let gbr = k0 + br;
            let gbc = col0 + bc;
            var w = 0.0;
            if (gbr < P.k && gbc < P.n) {
                w = f32(B[u32(b_base + i32(gbr) * P.b_rs + i32(gbc) * P.b_cs)]);
            }
            Bs[br * 64u + bc] = w;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < 16u; kk = kk + 1u) {
            var af: array<f32, 4>;
            var bf: array<f32, 4>;
            for (var i = 0u; i < 4u; i = i + 1u) {
                af[i] = As[(lid.y * 4u + i) * 16u + kk];
                bf[i] = Bs[kk * 64u + lid.x * 4u + i];
            }
            for (var i = 0u; i < 4u; i = i + 1u) {
                for (var j = 0u; j < 4u; j = j + 1u) {
                    acc[i * 4u + j] = fma(af[i], bf[j], acc[i * 4u + j]);
                }
            }
        }
        workgroupBarrier();
    }
    for (var i = 0u; i < 4u; i = i + 1u) {
        let r = row0 + lid.y * 4u + i;
        for (var j = 0u; j < 4u; j = j + 1u) {
            let c = col0 + lid.x * 4u + j;
            if (r < P.m && c < P.n) {
                O[(batch * P.m + r) * P.n + c] = narrow(acc[i * 4u + j]);
            }
        }
    }
}
