// qmm_params.wgsl — params of the tiled quantized matmuls (qmm.wgsl, qmm_128.wgsl), prepended
// to both.

struct Params {
    m: u32,
    n: u32,
    k: u32,
    tn: u32,    // tiles along N
    tiles: u32, // tiles in all
    off_x: u32,
    off_w: u32,
    off_s: u32,
    off_b: u32,
    rw: u32,    // words per W row
    g: u32,     // groups per W row
    gs: u32,
}
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> dims: array<i32>; // unused (common.wgsl names it)
