// random.wgsl — threefry-2x32 random bits, one output word per invocation, with MLX's counter
// layout (see core/src/random/threefry.rs): for n words, half = n / 2, odd = n % 2,
//   i <  half               -> threefry(key, (i, i + half + odd)).x
//   i == half (when odd)    -> threefry(key, (half, 0)).x
//   i >= half + odd         -> threefry(key, (i - half - odd, i)).y
// Bindings: KEY: array<u32> (binding 2, the key's two words at P.key_off and P.key_off +
// P.key_stride), O: array<u32> (binding 3).

struct Params {
    n: u32,
    key_off: u32,
    key_stride: u32,
    pad: u32,
}
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> dims: array<i32>; // unused (common.wgsl names it)
@group(0) @binding(2) var<storage, read> KEY: array<u32>;
@group(0) @binding(3) var<storage, read_write> O: array<u32>;

fn rotl(x: u32, r: u32) -> u32 {
    return (x << r) | (x >> (32u - r));
}

fn threefry(k0: u32, k1: u32, c0: u32, c1: u32) -> vec2<u32> {
    let ks = array<u32, 3>(k0, k1, k0 ^ k1 ^ 0x1BD11BDAu);
    let rot = array<u32, 8>(13u, 15u, 26u, 6u, 17u, 29u, 16u, 24u);
    var x0 = c0 + ks[0];
    var x1 = c1 + ks[1];
    for (var i = 0u; i < 5u; i = i + 1u) {
        for (var j = 0u; j < 4u; j = j + 1u) {
            x0 = x0 + x1;
            x1 = rotl(x1, rot[(i % 2u) * 4u + j]);
            x1 = x1 ^ x0;
        }
        x0 = x0 + ks[(i + 1u) % 3u];
        x1 = x1 + ks[(i + 2u) % 3u] + i + 1u;
    }
    return vec2<u32>(x0, x1);
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
        @builtin(local_invocation_index) lid: u32) {
    let i = linear_id(wid, nwg, lid, 256u);
    if (i >= P.n) { return; }
    let k0 = KEY[P.key_off];
    let k1 = KEY[P.key_off + P.key_stride];
    let half = P.n / 2u;
    let odd = P.n % 2u;
    if (i < half) {
        O[i] = threefry(k0, k1, i, i + half + odd).x;
    } else if (odd == 1u && i == half) {
        O[i] = threefry(k0, k1, half, 0u).x;
    } else {
        O[i] = threefry(k0, k1, i - half - odd, i).y;
    }
}
