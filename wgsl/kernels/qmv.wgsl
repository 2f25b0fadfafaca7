// qmv.wgsl — quantized mat-vec for decode shapes: out[m, n] = Σ_k x[m, k] · (scale·q + bias)
// over the packed rows of W [N, K·BITS/32] (x @ dequant(W).T), for MR (1..=4) rows of x.
// A workgroup of WGS = 32·WARPS invocations owns RPW consecutive weight rows; all of its
// invocations split K between them in chunks of 32 values (BITS words: vec4/vec2 loads), chunk
// c going to invocation c % WGS, so a row is read as WGS lanes x 16 bytes (4-bit) of contiguous
// memory per step and a long K (Llama's down projection) still spreads over many invocations. A
// chunk lies in one group (group sizes are multiples of 32), so per chunk the partial sum is
// scale·dot(x, q) + bias·Σx, accumulated in f32 by `accumulate` (generated straight-line:
// `qmv_accumulate_fn` in sources.rs). The entry point (generated: `QMV_ENTRY_*`) adds the WGS
// partial sums of each output, with subgroup sums where the adapter has them, else a tree in
// workgroup memory, then calls `store`. x is read as vec4 (dense, offset a multiple of 4).
// Header: BITS, MASK, MR, RPW, WARPS, NRED (sums per invocation: products, then Σx² per row of
// x with a norm), NOUT, X (binding 2, vec4<f32>), W (3, vec of u32), SC (4), BI (5) read by
// `fn scale`/`fn bias`, O (6), G (9, the norm's weight), `fn narrow`, `fn accumulate`,
// `fn total`, `fn product`, `fn value` (the output's narrowed value) and `fn epilogue` (adds the
// addend R (binding 8) for residual keys).

struct Params {
    n: u32,     // outputs per row of x (weight rows: n, or 2n with GLU)
    k: u32,
    blocks: u32,
    off_x: u32, // in floats, a multiple of 4
    off_w: u32, // in words, a multiple of the load width
    off_s: u32,
    off_b: u32,
    rw: u32,    // words per weight row
    g: u32,     // groups per weight row
    cpg: u32,   // chunks of 32 values per group
    wpg_shift: u32, // log2 of packed words per group (2, 4 and 8 bits)
    off_r: u32, // of the addend (residual keys)
    off_g: u32, // of the norm's weight (norm keys), a multiple of 4
    eps: f32,   // of the norm
    rope_rows: u32, // rows rotated (rope keys): the first heads
    head_dim: u32,
    rope_dims: u32, // values rotated per head
    rope_off: u32,  // the first position
    rope_l: u32,    // positions per batch of x rows
    rope_scale: f32,
    rope_log_base: f32, // ln(base) / (rope_dims / 2)
    pad0: u32,
}
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> dims: array<i32>; // unused (common.wgsl names it)

const WGS: u32 = 32u * WARPS;
const NACC: u32 = RPW * MR;

var<workgroup> red: array<f32, NRED * WGS>;

/// Stores the outputs of workgroup `blk` (NOUT of them: RPW rows, or RPW / 2 with GLU, times MR
/// rows of x) from its reduced sums.
fn outputs(blk: u32, lid: u32, nsg: u32) {
    for (var i = lid; i < NOUT; i = i + WGS) { // NOUT may exceed WGS
        let row = blk * (NOUT / MR) + i / MR;
        let mm = i % MR;
        if (row < P.n) { O[mm * P.n + row] = epilogue(mm * P.n + row, value(blk, i, nsg)); }
    }
}
