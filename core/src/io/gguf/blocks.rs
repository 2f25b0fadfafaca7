//! ggml's tensor types and block formats: sizes, dequantization to f32, the exact mapping of
//! Q4_0 / Q4_1 / Q8_0 onto MLX's affine quantization (group 32, packed low bits first into
//! uint32), and ggml's reference quantizers for the writer.
//!
//! Block layouts follow ggml's `ggml-common.h`; dequantization follows `ggml-quants.c`.

use half::f16;

/// A ggml tensor type (the `type` field of a GGUF tensor info).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GgmlType {
    F32,
    F16,
    Q4_0,
    Q4_1,
    Q5_0,
    Q5_1,
    Q8_0,
    Q4K,
    Q5K,
    Q6K,
    /// OCP microscaling FP4: 32 e2m1 values sharing a power-of-two (E8M0) scale.
    Mxfp4,
    I8,
    I16,
    I32,
    I64,
    F64,
    BF16,
}

impl GgmlType {
    /// The type with ggml's numeric id, if MLX-ARM reads it.
    pub fn from_id(id: u32) -> Option<GgmlType> {
        use GgmlType::*;
        Some(match id {
            0 => F32,
            1 => F16,
            2 => Q4_0,
            3 => Q4_1,
            6 => Q5_0,
            7 => Q5_1,
            8 => Q8_0,
            12 => Q4K,
            13 => Q5K,
            14 => Q6K,
            24 => I8,
            39 => Mxfp4,
            25 => I16,
            26 => I32,
            27 => I64,
            28 => F64,
            30 => BF16,
            _ => return None,
        })
    }
    /// ggml's numeric id.
    pub fn id(self) -> u32 {
        use GgmlType::*;
        match self {
            F32 => 0,
            F16 => 1,
            Q4_0 => 2,
            Q4_1 => 3,
            Q5_0 => 6,
            Q5_1 => 7,
            Q8_0 => 8,
            Q4K => 12,
            Q5K => 13,
            Q6K => 14,
            Mxfp4 => 39,
            I8 => 24,
            I16 => 25,
            I32 => 26,
            I64 => 27,
            F64 => 28,
            BF16 => 30,
        }
    }
    /// ggml's name of the type.
    pub fn name(self) -> &'static str {
        use GgmlType::*;
        match self {
            F32 => "F32",
            F16 => "F16",
            Q4_0 => "Q4_0",
            Q4_1 => "Q4_1",
            Q5_0 => "Q5_0",
            Q5_1 => "Q5_1",
            Q8_0 => "Q8_0",
            Q4K => "Q4_K",
            Q5K => "Q5_K",
            Q6K => "Q6_K",
            Mxfp4 => "MXFP4",
            I8 => "I8",
            I16 => "I16",
            I32 => "I32",
            I64 => "I64",
            F64 => "F64",
            BF16 => "BF16",
        }
    }
    /// Elements per block (1 for plain types).
    pub fn block_elems(self) -> usize {
        use GgmlType::*;
        match self {
            Q4_0 | Q4_1 | Q5_0 | Q5_1 | Q8_0 | Mxfp4 => 32,
            Q4K | Q5K | Q6K => 256,
            _ => 1,
        }
    }
    /// Bytes per block.
    pub fn block_bytes(self) -> usize {
        use GgmlType::*;
        match self {
            F32 | I32 => 4,
            F16 | BF16 | I16 => 2,
            I8 => 1,
            I64 | F64 => 8,
            Q4_0 => 18,
            Q4_1 => 20,
            Q5_0 => 22,
            Q5_1 => 24,
            Q8_0 => 34,
            Q4K => 144,
            Q5K => 176,
            Q6K => 210,
            Mxfp4 => 17,
        }
    }
    /// True for block-quantized types.
    pub fn is_quantized(self) -> bool {
        self.block_elems() > 1
    }
}

fn h(b: &[u8], at: usize) -> f32 {
    f16::from_le_bytes([b[at], b[at + 1]]).to_f32()
}

/// Dequantizes whole blocks of a quantized type into `out` as ggml does (`out.len()` values, a
/// multiple of the block size; `bytes` must hold exactly the matching number of blocks).
pub fn dequantize_blocks(t: GgmlType, bytes: &[u8], out: &mut [f32]) -> crate::Result<()> {
    let (be, bb) = (t.block_elems(), t.block_bytes());
    if !t.is_quantized() || out.len() % be != 0 || bytes.len() != out.len() / be * bb {
        return Err(crate::Error::arg(
            "dequantize_blocks",
            format!(
                "{} bytes of {} for {} values (blocks of {be} values in {bb} bytes)",
                bytes.len(),
                t.name(),
                out.len()
            ),
        ));
    }
    for (blk, y) in bytes.chunks_exact(bb).zip(out.chunks_exact_mut(be)) {
        match t {
            GgmlType::Q4_0 => {
                let d = h(blk, 0);
                for j in 0..16 {
                    y[j] = ((blk[2 + j] & 0xF) as i32 - 8) as f32 * d;
                    y[j + 16] = ((blk[2 + j] >> 4) as i32 - 8) as f32 * d;
                }
            }
            GgmlType::Q4_1 => {
                let (d, m) = (h(blk, 0), h(blk, 2));
                for j in 0..16 {
                    y[j] = (blk[4 + j] & 0xF) as f32 * d + m;
                    y[j + 16] = (blk[4 + j] >> 4) as f32 * d + m;
                }
            }
            GgmlType::Q5_0 | GgmlType::Q5_1 => {
                let one = t == GgmlType::Q5_1;
                let d = h(blk, 0);
                let (m, at) = if one { (h(blk, 2), 4) } else { (0.0, 2) };
                let qh = u32::from_le_bytes([blk[at], blk[at + 1], blk[at + 2], blk[at + 3]]);
                let qs = &blk[at + 4..at + 20];
                let off = if one { 0 } else { 16 };
                for j in 0..16 {
                    let h0 = ((qh >> j) << 4) & 0x10;
                    let h1 = (qh >> (j + 12)) & 0x10;
                    let x0 = ((qs[j] as u32 & 0xF) | h0) as i32 - off;
                    let x1 = ((qs[j] as u32 >> 4) | h1) as i32 - off;
                    y[j] = x0 as f32 * d + m;
                    y[j + 16] = x1 as f32 * d + m;
                }
            }
            GgmlType::Q8_0 => {
                let d = h(blk, 0);
                for j in 0..32 {
                    y[j] = (blk[2 + j] as i8) as f32 * d;
                }
            }
            GgmlType::Q4K | GgmlType::Q5K => {
                let five = t == GgmlType::Q5K;
                let KQuant {
                    d,
                    dmin,
                    scales,
                    qh,
                    qs,
                } = KQuant::of(blk, five);
                for (n, j) in (0..256).step_by(64).enumerate() {
                    let (u1, u2) = (1u8 << (2 * n), 2u8 << (2 * n));
                    let (sc1, m1) = scale_min_k4(2 * n, scales);
                    let (sc2, m2) = scale_min_k4(2 * n + 1, scales);
                    let (d1, m1) = (d * sc1 as f32, dmin * m1 as f32);
                    let (d2, m2) = (d * sc2 as f32, dmin * m2 as f32);
                    let q = &qs[32 * n..32 * n + 32];
                    for l in 0..32 {
                        let (hi1, hi2) = if five {
                            (
                                (if qh[l] & u1 != 0 { 16 } else { 0 }),
                                (if qh[l] & u2 != 0 { 16 } else { 0 }),
                            )
                        } else {
                            (0, 0)
                        };
                        y[j + l] = d1 * ((q[l] & 0xF) + hi1) as f32 - m1;
                        y[j + 32 + l] = d2 * ((q[l] >> 4) + hi2) as f32 - m2;
                    }
                }
            }
            GgmlType::Q6K => {
                let (ql, qh) = (&blk[0..128], &blk[128..192]);
                let sc = &blk[192..208];
                let d = h(blk, 208);
                for n in 0..2 {
                    let (ql, qh, sc, y) = (
                        &ql[64 * n..],
                        &qh[32 * n..],
                        &sc[8 * n..],
                        &mut y[128 * n..],
                    );
                    for l in 0..32 {
                        let is = l / 16;
                        let q1 = ((ql[l] & 0xF) | ((qh[l] & 3) << 4)) as i32 - 32;
                        let q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) as i32 - 32;
                        let q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) as i32 - 32;
                        let q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) as i32 - 32;
                        y[l] = d * (sc[is] as i8) as f32 * q1 as f32;
                        y[l + 32] = d * (sc[is + 2] as i8) as f32 * q2 as f32;
                        y[l + 64] = d * (sc[is + 4] as i8) as f32 * q3 as f32;
                        y[l + 96] = d * (sc[is + 6] as i8) as f32 * q4 as f32;
                    }
                }
            }
            GgmlType::Mxfp4 => {
                // ggml's kvalues_mxfp4 (e2m1 values, doubled) times half the E8M0 scale
                const KV: [i8; 16] = [0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12];
                let e = blk[0] as u32;
                let d = f32::from_bits(if e < 2 {
                    0x0020_0000 << e
                } else {
                    (e - 1) << 23
                });
                for j in 0..16 {
                    y[j] = KV[(blk[1 + j] & 0xF) as usize] as f32 * d;
                    y[j + 16] = KV[(blk[1 + j] >> 4) as usize] as f32 * d;
                }
            }
            _ => unreachable!("checked above: a block type"),
        }
    }
    Ok(())
}

/// The parts of a Q4_K / Q5_K block (ggml's `block_q4_K`, `block_q5_K`).
struct KQuant<'a> {
    d: f32,
    dmin: f32,
    /// 12 bytes of 6-bit scales and minimums (see [`scale_min_k4`]).
    scales: &'a [u8],
    /// The fifth bits (Q5_K; empty for Q4_K): bit j of byte l for value l of sub-block j.
    qh: &'a [u8],
    /// Low nibbles: sub-block 2n in the low halves of bytes 32n.., 2n+1 in the high ones.
    qs: &'a [u8],
}

impl<'a> KQuant<'a> {
    fn of(blk: &'a [u8], five: bool) -> Self {
        let (qh, qs) = if five {
            (&blk[16..48], &blk[48..176])
        } else {
            (&blk[0..0], &blk[16..144])
        };
        KQuant {
            d: h(blk, 0),
            dmin: h(blk, 2),
            scales: &blk[4..16],
            qh,
            qs,
        }
    }
}

/// ggml's `get_scale_min_k4`: the 6-bit scale and min of sub-block `j` of a K-quant block.
fn scale_min_k4(j: usize, q: &[u8]) -> (u8, u8) {
    if j < 4 {
        (q[j] & 63, q[j + 4] & 63)
    } else {
        (
            (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4),
            (q[j + 4] >> 4) | ((q[j] >> 6) << 4),
        )
    }
}

/// Bits per value of the types [`blocks_to_affine`] converts (`None` for the others).
pub fn affine_bits(t: GgmlType) -> Option<usize> {
    match t {
        GgmlType::Q4_0 | GgmlType::Q4_1 | GgmlType::Q4K => Some(4),
        GgmlType::Q5K => Some(5),
        GgmlType::Q8_0 => Some(8),
        _ => None,
    }
}

/// Converts Q4_0 / Q4_1 / Q8_0 / Q4_K / Q5_K blocks to MLX's affine layout (group 32): packed
/// uint32 words (low bits first, one continuous bit stream), and one f16 scale and bias per 32
/// values. Q4_0's bias is −8·d, Q8_0's −128·d, Q4_1's is its stored minimum; a K-quant's 32-value
/// sub-block j has scale d·scale_j and bias −dmin·min_j (rounded to f16: within 2^-11 of the
/// file's, as the f16 values of a dequantized load are). The quantized values are the file's, bit
/// for bit.
pub fn blocks_to_affine(
    t: GgmlType,
    bytes: &[u8],
    words: &mut Vec<u32>,
    scales: &mut Vec<f16>,
    biases: &mut Vec<f16>,
) {
    for blk in bytes.chunks_exact(t.block_bytes()) {
        let d = f16::from_le_bytes([blk[0], blk[1]]);
        match t {
            GgmlType::Q4_0 | GgmlType::Q4_1 => {
                let (bias, qs) = if t == GgmlType::Q4_0 {
                    (f16::from_f32(-8.0 * d.to_f32()), &blk[2..18])
                } else {
                    (f16::from_le_bytes([blk[2], blk[3]]), &blk[4..20])
                };
                let q = |i: usize| {
                    if i < 16 {
                        (qs[i] & 0xF) as u32
                    } else {
                        (qs[i - 16] >> 4) as u32
                    }
                };
                for w in 0..4 {
                    words.push((0..8).fold(0u32, |acc, k| acc | q(8 * w + k) << (4 * k)));
                }
                scales.push(d);
                biases.push(bias);
            }
            GgmlType::Q8_0 => {
                for w in 0..8 {
                    let b = |k: usize| (blk[2 + 4 * w + k] ^ 0x80) as u32;
                    words.push(b(0) | b(1) << 8 | b(2) << 16 | b(3) << 24);
                }
                scales.push(d);
                biases.push(f16::from_f32(-128.0 * d.to_f32()));
            }
            GgmlType::Q4K | GgmlType::Q5K => {
                let five = t == GgmlType::Q5K;
                let KQuant {
                    d,
                    dmin,
                    scales: sc,
                    qh,
                    qs,
                } = KQuant::of(blk, five);
                // sub-block j: values 32 (j / 2) .. of qs, low nibbles for even j, high for odd
                for j in 0..8 {
                    let (scale, min) = scale_min_k4(j, sc);
                    scales.push(f16::from_f32(d * scale as f32));
                    biases.push(f16::from_f32(-dmin * min as f32));
                    let q = |l: usize| {
                        let byte = qs[32 * (j / 2) + l];
                        let low = if j % 2 == 0 { byte & 0xF } else { byte >> 4 };
                        let high = if five { (qh[l] >> j) & 1 } else { 0 };
                        (low | high << 4) as u64
                    };
                    let bits = if five { 5 } else { 4 };
                    // 32 values of `bits` bits fill exactly `bits` words
                    let (mut acc, mut filled) = (0u64, 0);
                    for l in 0..32 {
                        acc |= q(l) << filled;
                        filled += bits;
                        if filled >= 32 {
                            words.push(acc as u32);
                            acc >>= 32;
                            filled -= 32;
                        }
                    }
                }
            }
            _ => unreachable!("blocks_to_affine is called for the types affine_bits accepts"),
        }
    }
}

/// Quantizes f32 values (a multiple of 32) into Q4_0, Q4_1 or Q8_0 blocks with ggml's reference
/// quantizers (`quantize_row_*_ref`), appending to `out`.
pub fn quantize_blocks(t: GgmlType, x: &[f32], out: &mut Vec<u8>) {
    for g in x.chunks_exact(32) {
        match t {
            GgmlType::Q4_0 => {
                let max = g
                    .iter()
                    .copied()
                    .fold(0.0f32, |m, v| if v.abs() > m.abs() { v } else { m });
                let d = max / -8.0;
                let id = if d != 0.0 { 1.0 / d } else { 0.0 };
                out.extend_from_slice(&f16::from_f32(d).to_le_bytes());
                let q = |v: f32| ((v * id + 8.5) as i8).min(15) as u8;
                out.extend((0..16).map(|j| q(g[j]) | q(g[j + 16]) << 4));
            }
            GgmlType::Q4_1 => {
                let min = g.iter().copied().fold(f32::INFINITY, f32::min);
                let max = g.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let d = (max - min) / 15.0;
                let id = if d != 0.0 { 1.0 / d } else { 0.0 };
                out.extend_from_slice(&f16::from_f32(d).to_le_bytes());
                out.extend_from_slice(&f16::from_f32(min).to_le_bytes());
                let q = |v: f32| (((v - min) * id + 0.5) as i8).min(15) as u8;
                out.extend((0..16).map(|j| q(g[j]) | q(g[j + 16]) << 4));
            }
            GgmlType::Q8_0 => {
                let amax = g.iter().fold(0.0f32, |m, v| m.max(v.abs()));
                let d = amax / 127.0;
                let id = if d != 0.0 { 1.0 / d } else { 0.0 };
                out.extend_from_slice(&f16::from_f32(d).to_le_bytes());
                out.extend(g.iter().map(|&v| (v * id).round() as i8 as u8));
            }
            _ => unreachable!("quantize_blocks is called for Q4_0, Q4_1 and Q8_0 only"),
        }
    }
}
