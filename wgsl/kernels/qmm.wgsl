// qmm.wgsl — tiled quantized matmul: out[M, N] = x[M, K] @ dequant(W).T (TRANSPOSE, W [N, K])
// or x @ dequant(W) (W [K, N]). 64x64 output tiles, 16x16 invocations with 4x4 outputs each (as
// matmul.wgsl); per step of 32 along K, the x tile is copied and the W tile dequantized
// (scale·q + bias in f32, 8 values per invocation) into workgroup memory. Tiles are numbered
// linearly over a folded 2-D grid, so any number of tiles fits the dispatch limits.
// Header: BITS, MASK, TRANSPOSE, X (binding 2, dense), W (3, u32), SC (4), BI (5) read by `fn scale`/`fn bias`, O (6),
// `fn narrow`, `fn qval`.

// Params and P: qmm_params.wgsl (prepended).

var<workgroup> As: array<f32, 2048>; // 64 rows of x x 32
var<workgroup> Ws: array<f32, 2048>; // 32 x 64 output columns

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
    let tile = wid.x + wid.y * nwg.x;
    if (tile >= P.tiles) { return; } // whole workgroups only
    let row0 = (tile / P.tn) * 64u;
    let col0 = (tile % P.tn) * 64u;
    // the W values this invocation dequantizes: output column nl, K offsets kq*8 .. kq*8+8
    let nl = li % 64u;
    let kq = li / 64u;
    let n = col0 + nl;
    var acc: array<f32, 16>;
    for (var i = 0u; i < 16u; i = i + 1u) { acc[i] = 0.0; }
    for (var k0 = 0u; k0 < P.k; k0 = k0 + 32u) {
        for (var e = 0u; e < 8u; e = e + 1u) {
            let idx = li + e * 256u;
            let r = idx / 32u;
            let c = idx % 32u;
            let gr = row0 + r;
            let gc = k0 + c;
            var v = 0.0;
            if (gr < P.m && gc < P.k) { v = X[P.off_x + gr * P.k + gc]; }
            As[idx] = v;
        }
        if (TRANSPOSE) {
            // W row n, values k0 + kq*8 .. +8: one group (k0 is a multiple of 32)
            let kb = k0 + kq * 8u;
            if (n < P.n && kb < P.k) {
                let gi = P.off_s + n * P.g + k0 / P.gs;
                let sc = scale(gi);
                let bi = bias(P.off_b + n * P.g + k0 / P.gs);
                let base = P.off_w + n * P.rw;
                for (var j = 0u; j < 8u; j = j + 1u) {
                    Ws[(kq * 8u + j) * 64u + nl] = sc * f32(qval(base, kb + j)) + bi;
                }
            } else {
                for (var j = 0u; j < 8u; j = j + 1u) { Ws[(kq * 8u + j) * 64u + nl] = 0.0; }
            }
        } else {
            // W rows k0 + kq*8 .. +8, value n of each
            for (var j = 0u; j < 8u; j = j + 1u) {
                let kr = k0 + kq * 8u + j;
                var v = 0.0;
                if (n < P.n && kr < P.k) {
                    let g = kr * P.g + n / P.gs;
                    v = scale(P.off_s + g) * f32(qval(P.off_w + kr * P.rw, n)) + bias(P.off_b + g);
                }
                Ws[(kq * 8u + j) * 64u + nl] = v;
            }
        }
        workgroupBarrier();
        for (var kk = 0u; kk < 32u; kk = kk + 1u) {
            var af: array<f32, 4>;
            var bf: array<f32, 4>;
            for (var i = 0u; i < 4u; i = i + 1u) {
                af[i] = As[(lid.y * 4u + i) * 32u + kk];
                bf[i] = Ws[kk * 64u + lid.x * 4u + i];
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
                O[r * P.n + c] = narrow(acc[i * 4u + j]);
            }
        }
    }
}
