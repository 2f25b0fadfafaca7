//! The pure Threefry-2x32 counter-based generator behind `Primitive::RandomBits`, bit-exact with
//! MLX (`mlx/backend/cpu/threefry.cpp` and `RandomBits::eval_cpu`). Backends call these
//! functions; the WGSL kernel mirrors [`random_bits_at`] with one output word per thread.
//!
//! # Counter layout
//!
//! A `RandomBits` node with `n` output words (`n` = the node's element count) and key
//! `(k0, k1)` is filled as MLX fills the words of one key:
//!
//! ```text
//! half = n / 2            odd = n % 2
//! i <  half               : word[i] = threefry2x32(key, [i,        i + half + odd])[0]
//! i == half (only if odd) : word[i] = threefry2x32(key, [half,     0             ])[0]
//! i >= half + odd         : word[i] = threefry2x32(key, [i-half-odd, i            ])[1]
//! ```
//!
//! So each hash of counter `[j, j + half + odd]` (for `j < half`) feeds word `j` from its first
//! output and word `j + half + odd` from its second; for odd `n` the middle word takes the first
//! output of counter `[half, 0]`. Counters are `u32` (indices wrap modulo 2^32, as MLX's
//! `uintptr_t` to `uint32_t` conversion does). Every word depends only on `(key, i, n)`, so any
//! word can be computed on its own. Narrower MLX widths (1 or 2 bytes per element) use the
//! little-endian bytes of the `ceil(n_elems * width / 4)` words of this stream, which the op
//! layer (`random::bits`) unpacks with ordinary ops.

/// Rotation amounts of the two alternating groups of four Threefry rounds.
const ROTATIONS: [[u32; 4]; 2] = [[13, 15, 26, 6], [17, 29, 16, 24]];

/// The Threefry key-schedule parity constant.
const PARITY: u32 = 0x1BD1_1BDA;

/// Threefry-2x32 with 20 rounds: hashes the two-word `count` under the two-word `key`.
/// Identical to MLX's `threefry2x32_hash` and JAX's `threefry_2x32`.
pub fn threefry2x32(key: [u32; 2], count: [u32; 2]) -> [u32; 2] {
    let ks = [key[0], key[1], key[0] ^ key[1] ^ PARITY];
    let mut x0 = count[0].wrapping_add(ks[0]);
    let mut x1 = count[1].wrapping_add(ks[1]);
    for i in 0..5usize {
        for &r in &ROTATIONS[i % 2] {
            x0 = x0.wrapping_add(x1);
            x1 = x1.rotate_left(r);
            x1 ^= x0;
        }
        x0 = x0.wrapping_add(ks[(i + 1) % 3]);
        x1 = x1.wrapping_add(ks[(i + 2) % 3]).wrapping_add(i as u32 + 1);
    }
    [x0, x1]
}

/// Word `i` of the `n`-word random stream of `key` (see the module doc for the layout).
/// Returns 0 when `i >= n`.
pub fn random_bits_at(key: [u32; 2], i: usize, n: usize) -> u32 {
    if i >= n {
        return 0;
    }
    let half = n / 2;
    let odd = n % 2;
    if i < half {
        threefry2x32(key, [i as u32, (i + half + odd) as u32])[0]
    } else if odd == 1 && i == half {
        threefry2x32(key, [half as u32, 0])[0]
    } else {
        threefry2x32(key, [(i - half - odd) as u32, i as u32])[1]
    }
}

/// Fills `out` with the `out.len()`-word random stream of `key`, hashing each counter once
/// (two words per hash). Equal to `random_bits_at(key, i, out.len())` for every `i`.
pub fn random_bits_into(key: [u32; 2], out: &mut [u32]) {
    let n = out.len();
    let half = n / 2;
    let odd = n % 2;
    for j in 0..half {
        let [a, b] = threefry2x32(key, [j as u32, (j + half + odd) as u32]);
        out[j] = a;
        out[j + half + odd] = b;
    }
    if odd == 1 {
        out[half] = threefry2x32(key, [half as u32, 0])[0];
    }
}

/// The `n`-word random stream of `key`: what a `RandomBits` node of `n` elements holds.
pub fn random_bits(key: [u32; 2], n: usize) -> Vec<u32> {
    let mut out = vec![0u32; n];
    random_bits_into(key, &mut out);
    out
}

/// The `n` elements of `width` bytes (1, 2 or 4) that MLX's `random::bits` gives for `key`,
/// widened to `u32`: the little-endian bytes of the `ceil(n * width / 4)`-word stream. Returns
/// `None` for another width. A host reference for tests and for the op layer's unpacking.
pub fn random_bits_width(key: [u32; 2], n: usize, width: usize) -> Option<Vec<u32>> {
    if !matches!(width, 1 | 2 | 4) {
        return None;
    }
    let words = random_bits(key, (n * width).div_ceil(4));
    let per_word = 4 / width;
    let mask = if width == 4 {
        u32::MAX
    } else {
        (1u32 << (8 * width)) - 1
    };
    Some(
        (0..n)
            .map(|k| (words[k / per_word] >> (8 * width * (k % per_word))) & mask)
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    // Golden numbers from MLX 0.32.4 (tests/fixtures/make_random_fixtures.py writes them to
    // tests/fixtures/random/mlx_random.json).

    #[test]
    fn split_key0_matches_mlx() {
        // mx.random.split(mx.random.key(0), 3)
        assert_eq!(
            random_bits([0, 0], 6),
            vec![2467461003, 428148500, 3186719485, 3840466878, 2562233961, 1946702221]
        );
    }

    #[test]
    fn bits_key42_widths_match_mlx() {
        let k = [0, 42];
        // mx::random::bits({n}, 4, key(42))
        assert_eq!(random_bits(k, 1), vec![1832780943]);
        assert_eq!(random_bits(k, 2), vec![64467757, 2916123636]);
        assert_eq!(random_bits(k, 3), vec![2465931498, 430176367, 255383827]);
        assert_eq!(
            random_bits(k, 5),
            vec![3134548294, 3733159049, 843694964, 894150801, 801545058]
        );
        assert_eq!(
            random_bits(k, 7),
            vec![2954079971, 2575172198, 1139032965, 1681094280, 3276725750, 1223413151, 173471767]
        );
        assert_eq!(
            random_bits(k, 8),
            vec![
                2954079971, 2575172198, 1139032965, 1035738655, 3276725750, 1223413151, 173471767,
                13772463
            ]
        );
        // width 2 and 1
        assert_eq!(random_bits_width(k, 3, 2).unwrap(), vec![45869, 983, 33780]);
        assert_eq!(
            random_bits_width(k, 7, 2).unwrap(),
            vec![8426, 37627, 39131, 56140, 55571, 3896, 35161]
        );
        assert_eq!(random_bits_width(k, 1, 1).unwrap(), vec![143]);
        assert_eq!(random_bits_width(k, 3, 1).unwrap(), vec![143, 4, 62]);
        assert_eq!(
            random_bits_width(k, 7, 1).unwrap(),
            vec![45, 179, 215, 3, 244, 131, 208]
        );
        assert_eq!(random_bits_width(k, 7, 3), None);
    }

    #[test]
    fn per_element_form_equals_bulk_form() {
        for key in [[0u32, 0u32], [0, 42], [0xDEAD_BEEF, 7]] {
            for n in 0..40 {
                let bulk = random_bits(key, n);
                let each: Vec<u32> = (0..n).map(|i| random_bits_at(key, i, n)).collect();
                assert_eq!(bulk, each, "key {key:?} n {n}");
            }
        }
        assert_eq!(random_bits_at([0, 0], 5, 5), 0);
    }

    #[test]
    fn threefry_known_answer() {
        // Random123 known-answer vectors for threefry2x32_20.
        assert_eq!(threefry2x32([0, 0], [0, 0]), [0x6b20_0159, 0x99ba_4efe]);
        assert_eq!(
            threefry2x32([u32::MAX, u32::MAX], [u32::MAX, u32::MAX]),
            [0x1cb9_96fc, 0xbb00_2be7]
        );
        assert_eq!(
            threefry2x32([0x1319_8a2e, 0x0370_7344], [0x243f_6a88, 0x85a3_08d3]),
            [0xc492_3a9c, 0x483d_f7a0]
        );
    }
}
