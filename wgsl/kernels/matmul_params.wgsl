// matmul_params.wgsl — the params every matmul kernel (matmul, matmul_128, matmul_coop) reads:
// M, N, K, the number of batch axes, A's and B's row/column strides and offsets, and the first
// batch of this dispatch (batches beyond 65,535 take several dispatches).
struct Params {
    m: u32,
    n: u32,
    k: u32,
    nb: u32,
    a_rs: i32,
    a_cs: i32,
    b_rs: i32,
    b_cs: i32,
    off_a: i32,
    off_b: i32,
    batch_base: u32,
    pad: u32,
}
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> dims: array<i32>;
