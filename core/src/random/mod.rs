//! Random numbers with MLX's `mlx.core.random` semantics: the same key gives the same numbers
//! as MLX. Keys are `uint32` arrays of shape `[2]`; every sampler draws its bits from one
//! lazy `Primitive::RandomBits` node (Threefry-2x32, see [`threefry`] for the exact counter
//! layout backends implement) and shapes them with ordinary ops, exactly as MLX composes them.
//!
//! Every function takes `key: Option<&Array>`. With `None` it takes the next key of the global
//! key sequence, as MLX's Python module does: the global state `s` is split into `(s', k)`,
//! `s'` becomes the new state and `k` is used as the key (one split per call). [`seed`] resets
//! the state to `key(seed)`; before the first `seed` it is seeded from the clock, as in MLX.
//!
//! Each sampler `f(..)` runs on the default stream and has an `f_device(.., stream)` twin.

mod distributions;
pub mod threefry;

pub use distributions::*;
pub use threefry::{
    random_bits, random_bits_at, random_bits_into, random_bits_width, threefry2x32,
};

use crate::array::to_shape;
use crate::layout::numel;
use crate::primitive::Primitive;
use crate::{ops, Array, Dtype, Error, Result, Stream};
use std::sync::Mutex;

/// The global key sequence state (`None` until first used or seeded).
static KEY_STATE: Mutex<Option<[u32; 2]>> = Mutex::new(None);

/// Milliseconds since the Unix epoch (MLX's default seed); 0 where no clock exists (wasm32).
fn time_seed() -> u64 {
    #[cfg(not(target_arch = "wasm32"))]
    {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    }
    #[cfg(target_arch = "wasm32")]
    {
        0
    }
}

/// The two words of `key(seed)`: the high then the low 32 bits.
fn key_words(seed: u64) -> [u32; 2] {
    [(seed >> 32) as u32, seed as u32]
}

/// Seeds the global key sequence: later calls with `key: None` start from `key(s)`.
pub fn seed(s: u64) {
    let mut state = KEY_STATE.lock().unwrap_or_else(|e| e.into_inner());
    *state = Some(key_words(s));
}

/// The next key of the global sequence, computed on the host: `split(state)` gives
/// `(new_state, key)`, exactly as MLX's `KeySequence::next`.
fn next_key_words() -> [u32; 2] {
    let mut state = KEY_STATE.lock().unwrap_or_else(|e| e.into_inner());
    let cur = *state.get_or_insert_with(|| key_words(time_seed()));
    let w = random_bits(cur, 4);
    *state = Some([w[0], w[1]]);
    [w[2], w[3]]
}

/// The key to use: `key` itself, or the next key of the global sequence.
pub(crate) fn resolve_key(key: Option<&Array>) -> Array {
    match key {
        Some(k) => k.clone(),
        None => Array::from_slice(&next_key_words(), &[2]),
    }
}

/// Checks that `key` is a `uint32` array of shape `[2]`.
pub(crate) fn check_key(op: &'static str, key: &Array) -> Result<()> {
    if key.dtype() != Dtype::Uint32 {
        return Err(Error::dtype(op, key.dtype(), "a PRNG key must be uint32"));
    }
    if key.shape() != [2] {
        return Err(Error::shape(
            op,
            format!("a PRNG key must have shape [2], got {:?}", key.shape()),
        ));
    }
    Ok(())
}

/// A PRNG key from a seed: `[seed >> 32, seed & 0xffffffff]` as `uint32`, shape `[2]`.
pub fn key(seed: u64) -> Result<Array> {
    Array::try_from_slice(&key_words(seed), &[2])
}

/// Splits `key` into `num` new keys, shape `[num, 2]` (`bits([num, 2], 4, key)`, as in MLX).
pub fn split_device(key: &Array, num: i32, stream: impl Into<Stream>) -> Result<Array> {
    if num < 0 {
        return Err(Error::arg(
            "split",
            format!("the number of keys must be non-negative, got {num}"),
        ));
    }
    bits_device(&[num, 2], 4, Some(key), stream)
}
/// [`split_device`] on the default stream.
pub fn split(key: &Array, num: i32) -> Result<Array> {
    split_device(key, num, Stream::default_stream())
}

/// Splits `key` into two keys of shape `[2]` (MLX's `split(key)` returning a pair).
pub fn split_pair_device(key: &Array, stream: impl Into<Stream>) -> Result<(Array, Array)> {
    let s = stream.into();
    let both = split_device(key, 2, s)?;
    let first = ops::reshape_device(
        ops::slice_device(&both, &[0, 0], &[1, 2], &[1, 1], s)?,
        &[2],
        s,
    )?;
    let second = ops::reshape_device(
        ops::slice_device(&both, &[1, 0], &[2, 2], &[1, 1], s)?,
        &[2],
        s,
    )?;
    Ok((first, second))
}
/// [`split_pair_device`] on the default stream.
pub fn split_pair(key: &Array) -> Result<(Array, Array)> {
    split_pair_device(key, Stream::default_stream())
}

/// Random bits of `shape`: `width` 4 gives `uint32`, 2 gives `uint16`, 1 gives `uint8`
/// (the little-endian bytes of the 32-bit stream, as MLX lays them out).
pub fn bits_device(
    shape: &[i32],
    width: i32,
    key: Option<&Array>,
    stream: impl Into<Stream>,
) -> Result<Array> {
    let key = resolve_key(key);
    bits_with_key(shape, width, key, stream.into())
}
/// [`bits_device`] on the default stream.
pub fn bits(shape: &[i32], width: i32, key: Option<&Array>) -> Result<Array> {
    bits_device(shape, width, key, Stream::default_stream())
}

/// `bits` with an already resolved key.
pub(crate) fn bits_with_key(shape: &[i32], width: i32, key: Array, s: Stream) -> Result<Array> {
    check_key("bits", &key)?;
    let dims = to_shape("bits", shape)?;
    let dtype = match width {
        4 => Dtype::Uint32,
        2 => Dtype::Uint16,
        1 => Dtype::Uint8,
        _ => {
            return Err(Error::arg(
                "bits",
                format!("bit width must be 1, 2 or 4 bytes, got {width}"),
            ))
        }
    };
    let n = numel(&dims);
    if n == 0 {
        return ops::zeros_device(shape, dtype, s);
    }
    if width == 4 {
        return Ok(Array::from_op(
            dims,
            Dtype::Uint32,
            s,
            Primitive::RandomBits,
            vec![key],
        ));
    }
    // Narrow widths: element k is byte group k of the little-endian word stream of
    // ceil(n * width / 4) words.
    let width = width as usize;
    let per_word = 4 / width;
    let words = (n * width).div_ceil(4);
    let too_big = || Error::arg("bits", format!("{n} elements of width {width} is too many"));
    let total_i = i32::try_from(words * per_word).map_err(|_| too_big())?;
    let n_i = i32::try_from(n).map_err(|_| too_big())?;
    let raw = Array::from_op(
        vec![words, 1],
        Dtype::Uint32,
        s,
        Primitive::RandomBits,
        vec![key],
    );
    let shifts: Vec<u32> = (0..per_word).map(|k| (8 * width * k) as u32).collect();
    let shifts = Array::try_from_slice(&shifts, &[1, per_word as i32])?;
    let mask = Array::from_scalar((1u32 << (8 * width)) - 1);
    let parts = ops::bitwise_and_device(ops::right_shift_device(raw, shifts, s)?, mask, s)?;
    let flat = ops::reshape_device(parts, &[total_i], s)?;
    let flat = ops::slice_device(flat, &[0], &[n_i], &[1], s)?;
    ops::reshape_device(ops::astype_device(flat, dtype, s)?, shape, s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_words_split_seed() {
        assert_eq!(key_words(0), [0, 0]);
        assert_eq!(key_words(42), [0, 42]);
        assert_eq!(key_words(0x1234_5678_9abc_def0), [0x1234_5678, 0x9abc_def0]);
    }

    #[test]
    fn global_sequence_matches_mlx() {
        // mx.random.split(mx.random.key(0)) = [[4146024105, 967050713], [2718843009, 1272950319]]
        // and mx.random.split(that[0]) = [[2384771982, 3928867769], [1278412471, 2182328957]].
        seed(0);
        assert_eq!(next_key_words(), [2718843009, 1272950319]);
        assert_eq!(next_key_words(), [1278412471, 2182328957]);
        assert_eq!(*KEY_STATE.lock().unwrap(), Some([2384771982, 3928867769]));
    }

    #[test]
    fn bad_keys_and_widths_are_errors() {
        let k = key(1).unwrap();
        assert!(bits(&[3], 3, Some(&k)).is_err());
        assert!(bits(&[-1], 4, Some(&k)).is_err());
        let bad = Array::from_slice(&[1u32, 2, 3], &[3]);
        assert!(bits(&[3], 4, Some(&bad)).is_err());
        let bad = Array::from_slice(&[1i32, 2], &[2]);
        assert!(bits(&[3], 4, Some(&bad)).is_err());
        assert!(split(&k, -1).is_err());
        let b = bits(&[2, 3], 1, Some(&k)).unwrap();
        assert_eq!((b.shape(), b.dtype()), (&[2usize, 3][..], Dtype::Uint8));
        let b = bits(&[5], 4, Some(&k)).unwrap();
        assert_eq!(b.primitive(), Some(Primitive::RandomBits));
    }
}
