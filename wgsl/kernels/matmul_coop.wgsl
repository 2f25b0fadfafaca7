// matmul_coop.wgsl — batched C = A @ B on cooperative matrices (tensor cores): 64x64 output tiles,
// four subgroups of 32 invocations each owning a 32x32 quadrant as 2x2 16x16 f16 x f16 -> f32
// products, K in steps of 32. Tiles are read through the operands' strides (bounds-tested,
// zero-padded), rounded to f16 into workgroup memory, multiplied, and the f32 accumulators go
// out through workgroup memory so every global store is bounds-tested and narrowed.
// Needs: `enable f16; enable wgpu_cooperative_matrix;` (prepended), subgroups of exactly 32.
// Header: X (A, binding 2), Y (B, binding 3), O (binding 4) (not A/B: those name the roles), `fn narrow(x: f32) -> f32`.
// dims: batch shape[nb], A batch strides[nb], B batch strides[nb].

// Params, P and dims: matmul_params.wgsl (prepended).

var<workgroup> As: array<f16, 2048>; // [64 m][32 k]
var<workgroup> Bs: array<f16, 2048>; // [32 k][64 n]
var<workgroup> Cs: array<f32, 4096>; // [64 m][64 n]

@compute @workgroup_size(128)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let batch = wid.z + P.batch_base;
    let a_base = i32(strided(batch, P.nb, 0u, P.nb, P.off_a));
    let b_base = i32(strided(batch, P.nb, 0u, 2u * P.nb, P.off_b));
    let row0 = wid.y * 64u;
    let col0 = wid.x * 64u;
    let sg = li / 32u;
    let qr = (sg / 2u) * 32u;
    let qc = (sg % 2u) * 32u;
    var c00 = coop_mat16x16<f32, C>();
    var c01 = coop_mat16x16<f32, C>();
    var c10 = coop_mat16x16<f32, C>();
    var c11 = coop_mat16x16<f32, C>();
    let a_k_fast = P.a_cs == 1;
    let b_n_fast = P.b_cs == 1 || P.b_rs != 1;
    for (var k0 = 0u; k0 < P.k; k0 = k0 + 32u) {
        for (var e = 0u; e < 16u; e = e + 1u) {
            let idx = li + e * 128u;
            var am = idx / 32u;
            var ak = idx % 32u;
            if (!a_k_fast) {
                am = idx % 64u;
                ak = idx / 64u;
            }
            var av = 0.0;
            if (row0 + am < P.m && k0 + ak < P.k) {
                av = f32(X[u32(a_base + i32(row0 + am) * P.a_rs + i32(k0 + ak) * P.a_cs)]);
            }
            As[am * 32u + ak] = f16(av);
            var bn = idx % 64u;
            var bk = idx / 64u;
            if (!b_n_fast) {
                bn = idx / 32u;
                bk = idx % 32u;
            }
            var bv = 0.0;
            if (k0 + bk < P.k && col0 + bn < P.n) {
                bv = f32(Y[u32(b_base + i32(k0 + bk) * P.b_rs + i32(col0 + bn) * P.b_cs)]);
            }
            Bs[bk * 64u + bn] = f16(bv);
        }
        workgroupBarrier();
        for (var kk = 0u; kk < 32u; kk = kk + 16u) {
            let a0 = coopLoadT<coop_mat16x16<f16, A>>(&As[qr * 32u + kk], 32u);
            let a1 = coopLoadT<coop_mat16x16<f16, A>>(&As[(qr + 16u) * 32u + kk], 32u);
            let b0 = coopLoadT<coop_mat16x16<f16, B>>(&Bs[kk * 64u + qc], 64u);
            let b1 = coopLoadT<coop_mat16x16<f16, B>>(&Bs[kk * 64u + qc + 16u], 64u);
            c00 = coopMultiplyAdd(a0, b0, c00);
            c01 = coopMultiplyAdd(a0, b1, c01);
            c10 = coopMultiplyAdd(a1, b0, c10);
            c11 = coopMultiplyAdd(a1, b1, c11);
        }
        workgroupBarrier();
    }
    coopStoreT(c00, &Cs[qr * 64u + qc], 64u);
    coopStoreT(c01, &Cs[qr * 64u + qc + 16u], 64u);
    coopStoreT(c10, &Cs[(qr + 16u) * 64u + qc], 64u);
    coopStoreT(c11, &Cs[(qr + 16u) * 64u + qc + 16u], 64u);
    workgroupBarrier();
    for (var e = 0u; e < 32u; e = e + 1u) {
        let idx = li + e * 128u;
        let r = row0 + idx / 64u;
        let c = col0 + idx % 64u;
        if (r < P.m && c < P.n) {
            O[(batch * P.m + r) * P.n + c] = narrow(Cs[idx]);
        }
    }
}
