// matmul_coop.wgsl — batched C = A @ B on cooperative matrices (tensor cores), built like
// qmm_coop.wgsl: 128x128 output tiles, 8 subgroups of 32 invocations each owning a 32x64 block as
// 2x4 16x16 f16 x f16 -> f32 products, K in steps of 32. Per step both operand tiles are read
// through their strides (bounds-tested, zero-padded; consecutive invocations walk the operand's
// contiguous axis), rounded to f16 into workgroup memory in the layout that keeps those stores
// consecutive (A_KM / B_KM: k-major), while the next step's values load into registers. The f32
// accumulators go out through a 16x16 scratch per subgroup, every store bounds-tested and
// narrowed. Needs: `enable f16; enable wgpu_cooperative_matrix;` (prepended), subgroups of 32.
// Header: X (A, binding 2), Y (B, binding 3), O (binding 4) (not A/B: those name the roles),
// `fn narrow`, A_KM (A's m axis is its contiguous one: tile stored [k][m]), B_KM (B's n axis is
// contiguous: tile stored [k][n]; else [n][k]); the generated block MMA.
// dims: batch shape[nb], A batch strides[nb], B batch strides[nb].

// Params, P and dims: matmul_params.wgsl (prepended).

const LK: u32 = 40u;   // row stride of a [128][32 k] tile (8 values of padding)
const LMN: u32 = 136u; // row stride of a [32 k][128] tile

var<workgroup> As: array<f16, 5120>; // [128 m][LK] or [32 k][LMN]
var<workgroup> Bs: array<f16, 5120>; // [128 n][LK] or [32 k][LMN]
var<workgroup> Cs: array<f32, 2048>; // 16x16 scratch per subgroup

/// The (row or column within the tile, k within the step) element `idx` of 4096 covers, with
/// consecutive `idx` along the operand's contiguous axis (`fast_k`: k, else the other).
fn tile_pos(idx: u32, fast_k: bool) -> vec2<u32> {
    if (fast_k) { return vec2<u32>(idx / 32u, idx % 32u); }
    return vec2<u32>(idx % 128u, idx / 128u);
}

/// Where element (mn, k) of a tile goes in workgroup memory.
fn tile_at(mn: u32, k: u32, km: bool) -> u32 {
    if (km) { return k * LMN + mn; }
    return mn * LK + k;
}

struct Step {
    a: array<f32, 16>,
    b: array<f32, 16>,
}

fn load_step(st: ptr<function, Step>, k0: u32, li: u32, row0: u32, col0: u32, a_base: i32, b_base: i32) {
    for (var e = 0u; e < 16u; e = e + 1u) {
        let idx = li + e * 256u;
        let pa = tile_pos(idx, !A_KM);
        var av = 0.0;
        if (row0 + pa.x < P.m && k0 + pa.y < P.k) {
            av = X[u32(a_base + i32(row0 + pa.x) * P.a_rs + i32(k0 + pa.y) * P.a_cs)];
        }
        (*st).a[e] = av;
        let pb = tile_pos(idx, !B_KM);
        var bv = 0.0;
        if (col0 + pb.x < P.n && k0 + pb.y < P.k) {
            bv = Y[u32(b_base + i32(k0 + pb.y) * P.b_rs + i32(col0 + pb.x) * P.b_cs)];
        }
        (*st).b[e] = bv;
    }
}

fn store_step(st: ptr<function, Step>, li: u32) {
    for (var e = 0u; e < 16u; e = e + 1u) {
        let idx = li + e * 256u;
        let pa = tile_pos(idx, !A_KM);
        As[tile_at(pa.x, pa.y, A_KM)] = f16((*st).a[e]);
        let pb = tile_pos(idx, !B_KM);
        Bs[tile_at(pb.x, pb.y, B_KM)] = f16((*st).b[e]);
    }
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let batch = wid.z + P.batch_base;
    let a_base = i32(strided(batch, P.nb, 0u, P.nb, P.off_a));
    let b_base = i32(strided(batch, P.nb, 0u, 2u * P.nb, P.off_b));
    let row0 = wid.y * 128u;
    let col0 = wid.x * 128u;
    let sg = li / 32u;
    let lane = li % 32u;
    let sm = (sg / 2u) * 32u; // the subgroup's rows and columns within the tile
    let sn = (sg % 2u) * 64u;
    var st: Step;
    load_step(&st, 0u, li, row0, col0, a_base, b_base);
    var c00 = coop_mat16x16<f32, C>();
    var c01 = coop_mat16x16<f32, C>();
    var c02 = coop_mat16x16<f32, C>();
    var c03 = coop_mat16x16<f32, C>();
    var c10 = coop_mat16x16<f32, C>();
    var c11 = coop_mat16x16<f32, C>();
    var c12 = coop_mat16x16<f32, C>();
    var c13 = coop_mat16x16<f32, C>();
    for (var k0 = 0u; k0 < P.k; k0 = k0 + 32u) {
        store_step(&st, li);
        workgroupBarrier();
        // the next step's loads are in flight while this one multiplies
        if (k0 + 32u < P.k) { load_step(&st, k0 + 32u, li, row0, col0, a_base, b_base); }
        for (var kk = 0u; kk < 32u; kk = kk + 16u) {
            //@MMA
        }
        workgroupBarrier();
    }
    let scratch = sg * 256u;
    for (var q = 0u; q < 8u; q = q + 1u) {
        switch q {
            case 0u: { coopStoreT(c00, &Cs[scratch], 16u); }
            case 1u: { coopStoreT(c01, &Cs[scratch], 16u); }
            case 2u: { coopStoreT(c02, &Cs[scratch], 16u); }
            case 3u: { coopStoreT(c03, &Cs[scratch], 16u); }
            case 4u: { coopStoreT(c10, &Cs[scratch], 16u); }
            case 5u: { coopStoreT(c11, &Cs[scratch], 16u); }
            case 6u: { coopStoreT(c12, &Cs[scratch], 16u); }
            default: { coopStoreT(c13, &Cs[scratch], 16u); }
        }
        workgroupBarrier();
        let r0 = row0 + sm + (q / 4u) * 16u;
        let c0 = col0 + sn + (q % 4u) * 16u;
        for (var e = 0u; e < 8u; e = e + 1u) {
            let idx = lane + e * 32u;
            let r = r0 + idx / 16u;
            let c = c0 + idx % 16u;
            if (r < P.m && c < P.n) { O[(batch * P.m + r) * P.n + c] = narrow(Cs[scratch + idx]); }
        }
        workgroupBarrier();
    }
}
