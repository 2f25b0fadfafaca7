// qmm_coop.wgsl — quantized matmul for prefill shapes on cooperative matrices (tensor cores):
// out[M, N] = x[M, K] @ dequant(W).T with W [N, K] packed (transposed layout only).
// BM x 128 output tiles (BM = WM·SG_M); SG_M x 2 subgroups of 32 invocations, each owning a
// WM x 64 block as (WM/16) x 4 16x16 f16 x f16 -> f32 products (accumulators, products and
// stores generated: ACC, MMA, STORE). K goes in steps of KSTEP (32 or 64;
// group sizes are multiples of 32, so a 16-value piece of a W row lies in one group; a K
// that is not a multiple of KSTEP leaves a zero-padded last step). Per step,
// x is rounded to f16 and W dequantized (scale·q + bias in f32, then f16) into workgroup memory;
// the next step's x values and packed words are loaded into registers while the current step
// multiplies (one barrier pair per step). Accumulators go out through a 16x16 scratch per
// subgroup, every store bounds-tested.
// Needs: `enable f16; enable wgpu_cooperative_matrix;` (prepended), subgroups of exactly 32.
// Header: BITS, MASK, NW (packed words a 16-value piece spans), WM, SG_M, WGS, KSTEP, X (binding 2,
// dense vec4s: x's offset and K are multiples of 4), W (3, u32), SC (4), BI (5) read by
// `fn scale`/`fn bias`, O (6), `fn narrow`.
// Params: qmm_params.wgsl (prepended; tn counts 128-wide column tiles).

const BM: u32 = WM * SG_M;
const LD: u32 = KSTEP + 8u; // row stride of the f16 tiles: 8 values of padding (bank spread)
const X_VEC: u32 = BM * KSTEP / 4u / WGS; // x vec4s one invocation moves per step
const PIECES: u32 = KSTEP / 16u; // 16-value pieces per W row per step
const W_SLOTS: u32 = 128u * PIECES / WGS; // (row, piece) slots of W one invocation dequantizes

var<workgroup> As: array<f16, BM * LD>; // [BM m][LD]: x tile, k fastest
var<workgroup> Bs: array<f16, 128u * LD>; // [128 n][LD]: W tile, k fastest (column-major B)
var<workgroup> Cs: array<f32, 2048>; // 16x16 scratch per subgroup (8 at most)

/// Value `j` of 16 consecutive packed values starting `sh` bits into `ws` (with `j` unrolled
/// and even widths' `sh` constant 0, every index is a constant: the words stay in registers).
fn unpack_value(ws: ptr<function, array<u32, 4>>, sh: u32, j: u32) -> u32 {
    let b = sh + j * BITS;
    let wi = b >> 5u;
    let s = b & 31u;
    var v = (*ws)[wi] >> s;
    if (s + BITS > 32u) { v = v | ((*ws)[wi + 1u] << (32u - s)); }
    return v & MASK;
}

/// Registers holding one step: x vec4s, packed words with their first bit, scales, biases.
struct Step {
    x: array<vec4<f32>, X_VEC>,
    w: array<array<u32, 4>, W_SLOTS>,
    sh: array<u32, W_SLOTS>,
    sc: array<f32, W_SLOTS>,
    bi: array<f32, W_SLOTS>,
}

/// Loads the step at `kn` (zeros past the edges of x and W).
fn load_step(st: ptr<function, Step>, kn: u32, li: u32, row0: u32, col0: u32) {
    for (var e = 0u; e < X_VEC; e = e + 1u) {
        let idx = li + e * WGS;
        let r = row0 + idx / (KSTEP / 4u);
        let k = kn + (idx % (KSTEP / 4u)) * 4u;
        var v = vec4<f32>();
        if (r < P.m && k < P.k) { v = X[(P.off_x + r * P.k + k) / 4u]; }
        (*st).x[e] = v;
    }
    for (var s = 0u; s < W_SLOTS; s = s + 1u) {
        let slot = li + s * WGS;
        let n = col0 + slot / PIECES;
        let kb = kn + (slot % PIECES) * 16u;
        let bit = kb * BITS;
        // 16 values of an even width fill whole words: they start at bit 0 of one
        (*st).sh[s] = select(bit & 31u, 0u, BITS % 2u == 0u);
        var sc = 0.0;
        var bi = 0.0;
        if (n < P.n && kb < P.k) {
            let gi = n * P.g + kb / P.gs;
            sc = scale(P.off_s + gi);
            bi = bias(P.off_b + gi);
            let base = P.off_w + n * P.rw + (bit >> 5u);
            for (var i = 0u; i < NW; i = i + 1u) { (*st).w[s][i] = W[base + i]; }
        }
        (*st).sc[s] = sc;
        (*st).bi[s] = bi;
    }
}

/// Stores a loaded step into the f16 tiles: x rounded, W dequantized.
fn store_step(st: ptr<function, Step>, li: u32) {
    for (var e = 0u; e < X_VEC; e = e + 1u) {
        let idx = li + e * WGS;
        let at = (idx / (KSTEP / 4u)) * LD + (idx % (KSTEP / 4u)) * 4u;
        let v = vec4<f16>((*st).x[e]);
        As[at] = v.x;
        As[at + 1u] = v.y;
        As[at + 2u] = v.z;
        As[at + 3u] = v.w;
    }
    for (var s = 0u; s < W_SLOTS; s = s + 1u) {
        let slot = li + s * WGS;
        let at = (slot / PIECES) * LD + (slot % PIECES) * 16u;
        var ws = (*st).w[s];
        for (var j = 0u; j < 16u; j = j + 1u) {
            let q = unpack_value(&ws, (*st).sh[s], j);
            Bs[at + j] = f16((*st).sc[s] * f32(q) + (*st).bi[s]);
        }
    }
}

@compute @workgroup_size(WGS)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) li: u32) {
    let tile = wid.x + wid.y * nwg.x;
    if (tile >= P.tiles) { return; } // whole workgroups only
    let row0 = (tile / P.tn) * BM;
    let col0 = (tile % P.tn) * 128u;
    let sg = li / 32u;
    let lane = li % 32u;
    let sm = (sg / 2u) * WM; // the subgroup's rows and columns within the tile
    let sn = (sg % 2u) * 64u;
    var st: Step;
    load_step(&st, 0u, li, row0, col0);
    //@ACC
    for (var k0 = 0u; k0 < P.k; k0 = k0 + KSTEP) {
        store_step(&st, li);
        workgroupBarrier();
        // the next step's loads are in flight while this one multiplies
        if (k0 + KSTEP < P.k) { load_step(&st, k0 + KSTEP, li, row0, col0); }
        for (var kk = 0u; kk < KSTEP; kk = kk + 16u) {
            //@MMA
        }
        workgroupBarrier();
    }
    let scratch = sg * 256u;
    //@STORE
}
