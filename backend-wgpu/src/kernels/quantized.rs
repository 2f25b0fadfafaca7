//! Affine-quantized kernels on MLX's packed weights (see `mlx_arm_core::ops::quantized`):
//! `dequantize` (one invocation per value, bit-exact with MLX), and `quantized_matmul` as
//! - `qmv.wgsl`, a mat-vec for decode shapes (`transpose` and at most [`MATVEC_MAX_ROWS`] rows
//!   of x): a workgroup per few weight rows whose invocations split K, reading 2/4/8-bit weights
//!   a packed word per invocation and step (3/5/6 bits: 32-value chunks, vector loads), per group
//!   `scale·dot(x, q) + bias·Σx`;
//! - `qmm.wgsl`, 64x64 output tiles that dequantize a 32 x 64 slab of W into workgroup memory
//!   per K-step (prefill, and `transpose == false`, which gradients use).
//! Inputs that are not dense (or whose offsets break the vector loads' alignment) are copied
//! dense first with the elementwise copy kernel.

use super::{elementwise, Resident};
use crate::autotune::class;
use crate::engine::{Engine, WG};
use mlx_arm_core::buffer::Data;
use mlx_arm_core::layout::numel;
use mlx_arm_core::primitive::{BinaryOp, QmmFuse, QmmRope};
use mlx_arm_core::{Dtype, Error, Result};
use mlx_arm_wgsl::sources::{KernelKey, MapOp, ScaleStore};
use std::sync::Arc;

/// Rows of x up to which `quantized_matmul` (transposed) takes the mat-vec kernel.
pub const MATVEC_MAX_ROWS: usize = 4;
/// How the quantized mat-vec splits its work; defaults from the environment, changeable at run
/// time (tests sweep it; `benches/gpu/run-qmv-on-device.sh` sweeps the environment switches).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QmvTuning {
    /// Weight rows per workgroup: 1, 2, 4, 8 or 16 (`MLX_ARM_QMV_RPW`, default 2), for
    /// matrices of fewer than `large_from` values (more, smaller workgroups: measured on the
    /// H200, Llama-3-1B decode 775 → 853 tok/s against 4 rows everywhere).
    pub rows_per_workgroup: usize,
    /// Weight rows per workgroup from `large_from` values on (`MLX_ARM_QMV_RPW_LARGE`,
    /// default 8: x read once for more rows; Llama-3-8B decode 227 → 245 tok/s).
    pub rows_per_workgroup_large: usize,
    /// Values (N·K) from which a matrix counts as large (`MLX_ARM_QMV_LARGE`, default 12M:
    /// 1B's gate/up and down, every 8B projection).
    pub large_from: usize,
    /// Chunks of 32 values each invocation should get: warps per workgroup are chosen from K so
    /// (1 to 8 warps, a power of two; `MLX_ARM_QMV_CPL`, default 1).
    pub chunks_per_lane: usize,
    /// Steps (packed words, or 32-value chunks for 3/5/6 bits) per pass of an invocation whose
    /// loads are issued together: 1, 2, 4 or 8 (`MLX_ARM_QMV_UNROLL`, default 1).
    pub unroll: usize,
    /// Add partial sums with subgroup operations where the adapter has them, else a tree in
    /// workgroup memory (`MLX_ARM_SUBGROUPS=0` turns them off).
    pub subgroups: bool,
    /// 4-bit weights: quantize x to two int8 levels per 32 values first (one small dispatch)
    /// and take integer dot products (`MLX_ARM_QMV_INT8=1`; off by default: on the H200 it was
    /// slower, 8B decode 103.5 vs 115.1 tok/s — for adapters short of float throughput).
    pub int8: bool,
    /// 2/4/8-bit weights read by 32-value chunks (vector loads, one scale and bias per chunk)
    /// instead of by packed words (`MLX_ARM_QMV_CHUNKS=1`).
    pub chunks: bool,
}

static QMV_TUNING: std::sync::Mutex<Option<QmvTuning>> = std::sync::Mutex::new(None);

/// The mat-vec tuning in effect.
pub fn qmv_tuning() -> QmvTuning {
    let mut t = QMV_TUNING.lock().unwrap_or_else(|p| p.into_inner());
    *t.get_or_insert_with(|| {
        let env = |name: &str, ok: &[usize], default: usize| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.parse().ok())
                .filter(|v| ok.contains(v))
                .unwrap_or(default)
        };
        QmvTuning {
            rows_per_workgroup: env("MLX_ARM_QMV_RPW", &[1, 2, 4, 8, 16], 2),
            rows_per_workgroup_large: env("MLX_ARM_QMV_RPW_LARGE", &[1, 2, 4, 8, 16], 8),
            large_from: std::env::var("MLX_ARM_QMV_LARGE")
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(12_000_000),
            chunks_per_lane: env("MLX_ARM_QMV_CPL", &[1, 2, 4, 8, 16], 1),
            unroll: env("MLX_ARM_QMV_UNROLL", &[1, 2, 4, 8], 1),
            subgroups: std::env::var("MLX_ARM_SUBGROUPS").map_or(true, |v| v != "0"),
            int8: std::env::var("MLX_ARM_QMV_INT8").is_ok_and(|v| v == "1"),
            chunks: std::env::var("MLX_ARM_QMV_CHUNKS").is_ok_and(|v| v == "1"),
        }
    })
}

/// Set when the tuning was chosen by hand ([`set_qmv_tuning`] or an `MLX_ARM_QMV_*` variable):
/// the autotuner then leaves it as it is.
static QMV_FORCED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Mat-vec variants for the autotuner over `n` weight rows of `k` values, the tuning in effect
/// first: rows per workgroup 2/4/8/16 x unroll 1/2/4 x chunks per lane 1/2 (24 kernels, searched
/// once per shape class and adapter). Only the tuning in effect when it was set by hand or
/// mat-vec tuning is off ([`tune_matvec`]).
fn qmv_candidates(n: usize, k: usize) -> Vec<QmvTuning> {
    let base = qmv_tuning();
    let rpw = match n * k >= base.large_from {
        true => base.rows_per_workgroup_large,
        false => base.rows_per_workgroup,
    };
    let with = |rpw, unroll, cpl| QmvTuning {
        rows_per_workgroup: rpw,
        rows_per_workgroup_large: rpw,
        unroll,
        chunks_per_lane: cpl,
        ..base
    };
    let mut out = vec![with(rpw, base.unroll, base.chunks_per_lane)];
    static ENV_SET: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let env_set = *ENV_SET.get_or_init(|| {
        std::env::vars_os().any(|(k, _)| k.to_string_lossy().starts_with("MLX_ARM_QMV_"))
    });
    if env_set || QMV_FORCED.load(std::sync::atomic::Ordering::Relaxed) || !tune_matvec() {
        return out;
    }
    for rpw in [2, 4, 8, 16] {
        for unroll in [1, 2, 4] {
            for cpl in [1, 2] {
                let c = with(rpw, unroll, cpl);
                if c != out[0] {
                    out.push(c);
                }
            }
        }
    }
    out
}

/// Whether the autotuner may search the mat-vec's work split (`MLX_ARM_AUTOTUNE_MATVEC=1`; off
/// by default): timed alone, variants ranked differently than inside a decode step, where the
/// winners made an H200 slower (Llama-3-1B tg128 ~724 vs ~825 tok/s with the defaults, 8B 240-242
/// vs 244), so the hand-measured defaults stand unless asked.
fn tune_matvec() -> bool {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ON.get_or_init(|| std::env::var("MLX_ARM_AUTOTUNE_MATVEC").is_ok_and(|v| v == "1"))
}

/// A mat-vec candidate's name in the autotuner's cache.
fn qmv_label(t: &QmvTuning) -> String {
    format!(
        "rpw{}_unroll{}_cpl{}",
        t.rows_per_workgroup, t.unroll, t.chunks_per_lane
    )
}

/// Sets the mat-vec tuning for later dispatches (the autotuner then leaves the mat-vec alone);
/// a typed error for values the kernel lacks.
pub fn set_qmv_tuning(t: QmvTuning) -> Result<()> {
    if ![1, 2, 4, 8, 16].contains(&t.rows_per_workgroup)
        || ![1, 2, 4, 8, 16].contains(&t.rows_per_workgroup_large)
        || t.chunks_per_lane == 0
        || ![1, 2, 4, 8].contains(&t.unroll)
    {
        let detail = format!("{t:?}: rows per workgroup must be 1, 2, 4, 8 or 16, unroll 1, 2, 4 or 8, chunks per lane positive");
        return Err(Error::Argument {
            op: "set_qmv_tuning",
            detail,
        });
    }
    *QMV_TUNING.lock().unwrap_or_else(|p| p.into_inner()) = Some(t);
    QMV_FORCED.store(true, std::sync::atomic::Ordering::Relaxed);
    Ok(())
}

/// The mat-vec kernel for `m` rows of x, K values per row, and its rows per workgroup.
#[allow(clippy::too_many_arguments)]
fn matvec_kernel(
    e: &Engine,
    t: QmvTuning,
    dtype: Dtype,
    bits: u32,
    (m, n, k): (usize, usize, usize),
    store: ScaleStore,
    fuse: QmmFuse,
) -> (KernelKey, usize) {
    let per_warp = (k / 32).div_ceil(32 * t.chunks_per_lane).clamp(1, 8);
    let norm = fuse.rms_norm_eps_bits.is_some();
    let rpw = match n * k >= t.large_from {
        true => t.rows_per_workgroup_large,
        false => t.rows_per_workgroup,
    };
    // with GLU a workgroup takes rows of both halves; with RoPE both rows of each pair
    let rpw = match fuse.silu_mul || fuse.rope.is_some() {
        true => rpw.max(2),
        false => rpw,
    };
    let key = KernelKey::QMatvec {
        dtype,
        bits,
        rows: m as u32,
        rpw: rpw as u32,
        warps: 1 << per_warp.ilog2(),
        unroll: t.unroll as u32,
        subgroups: t.subgroups && e.gpu.features.contains(wgpu::Features::SUBGROUP),
        store,
        int8: t.int8 && bits == 4 && !norm,
        residual: fuse.residual,
        chunks: t.chunks && !(t.int8 && bits == 4 && !norm),
        norm,
        glu: fuse.silu_mul,
        rope: fuse.rope.is_some(),
    };
    // outputs per workgroup
    (key, if fuse.silu_mul { rpw / 2 } else { rpw })
}

/// Scales and biases made resident, and how the kernel reads them: packed as they are when both
/// are packed 16-bit floats of one dtype, else both widened.
fn scales_and_biases(
    e: &Arc<Engine>,
    s: &Data,
    b: &Data,
) -> Result<(Resident, Resident, ScaleStore)> {
    let (rs, rb) = (Resident::packed_ok(e, s)?, Resident::packed_ok(e, b)?);
    if rs.packed16() && rb.packed16() && s.dtype() == b.dtype() {
        let store = if s.dtype() == Dtype::Bfloat16 {
            ScaleStore::Bf16
        } else {
            ScaleStore::F16
        };
        return Ok((rs, rb, store));
    }
    Ok((Resident::of(e, s)?, Resident::of(e, b)?, ScaleStore::Wide))
}

/// Scales and biases resident as a kernel reads them, with their offsets in its index units.
struct Scales {
    rs: Resident,
    rb: Resident,
    store: ScaleStore,
    off_s: u32,
    off_b: u32,
}

impl Scales {
    /// The two halves of one dense `[.., G, 2]` f16 array held packed (scale and bias of a
    /// group in one word: `ScaleStore::F16Pair`, offsets in words) as they are; other layouts
    /// through [`scales_and_biases`] (dense copies of other views first).
    fn of(e: &Arc<Engine>, s: &Data, b: &Data) -> Result<Scales> {
        if let Some(pair) = Self::paired(e, s, b)? {
            return Ok(pair);
        }
        let (s, b) = (dense(e, s, 1)?, dense(e, b, 1)?);
        let (rs, rb, store) = scales_and_biases(e, &s, &b)?;
        let (off_s, off_b) = (s.offset as u32, b.offset as u32);
        Ok(Scales {
            rs,
            rb,
            store,
            off_s,
            off_b,
        })
    }

    fn paired(e: &Arc<Engine>, s: &Data, b: &Data) -> Result<Option<Scales>> {
        let nd = s.shape.len();
        // the strides of the `[.., 0]` view of a dense `[.., G, 2]` array
        let mut want = vec![2isize; nd];
        for i in (0..nd.saturating_sub(1)).rev() {
            want[i] = want[i + 1] * s.shape[i + 1] as isize;
        }
        let halves = nd > 0
            && s.dtype() == Dtype::Float16
            && b.dtype() == Dtype::Float16
            && Arc::ptr_eq(&s.buffer, &b.buffer)
            && s.shape == b.shape
            && s.strides == want
            && b.strides == want
            && s.offset >= 0
            && s.offset % 2 == 0
            && b.offset == s.offset + 1;
        if !halves {
            return Ok(None);
        }
        let rs = Resident::packed_ok(e, s)?;
        if !rs.packed16() {
            return Ok(None);
        }
        let off = (s.offset / 2) as u32;
        Ok(Some(Scales {
            rb: Resident::packed_ok(e, b)?,
            rs,
            store: ScaleStore::F16Pair,
            off_s: off,
            off_b: off,
        }))
    }
}

/// Whether prefill-shaped products (`transpose`, more than [`TILE`] rows of x) take the
/// 128x128-tile kernel (`MLX_ARM_QMM_128=0`: the 64x64 one, for A/B runs).
fn qmm128() -> bool {
    switch_on!("MLX_ARM_QMM_128")
}

/// Whether prefill-shaped products take the cooperative-matrix kernel where the adapter has it
/// (`MLX_ARM_QMM_COOP=0`: the f32 tiles, for A/B runs and full f32 precision of x).
fn qmm_coop() -> bool {
    switch_on!("MLX_ARM_QMM_COOP")
}

/// A prefill-kernel variant: its key and output tile (rows, columns).
type TileChoice = (KernelKey, usize, usize);

/// Variants of the cooperative-matrix kernel for the autotuner, the default first: 128-row
/// tiles, K step 64, 32-row subgroup blocks (on an H200 128 rows won at every Llama prefill
/// shape, even with 128 tiles for 132 multiprocessors: 8B pp512 3,708 vs 2,508 tok/s; K step 64
/// halves the barriers per K: 6,059 vs 4,665). The alternatives (64-row tiles, K step 32,
/// 64-row subgroup blocks: 4 subgroups with twice the products each) were each measured slower
/// there and may win on other GPUs. `MLX_ARM_QMM_COOP_ROWS=64`, `MLX_ARM_QMM_COOP_K=32`,
/// `MLX_ARM_QMM_COOP_WARP=64` force one variant (no search).
fn coop_candidates(dtype: Dtype, bits: u32, store: ScaleStore) -> Vec<TileChoice> {
    let forced = [
        "MLX_ARM_QMM_COOP_ROWS",
        "MLX_ARM_QMM_COOP_K",
        "MLX_ARM_QMM_COOP_WARP",
    ]
    .iter()
    .any(|v| std::env::var_os(v).is_some());
    let defaults = [(
        choice!("MLX_ARM_QMM_COOP_ROWS", 128, 64),
        choice!("MLX_ARM_QMM_COOP_K", 64, 32),
        choice!("MLX_ARM_QMM_COOP_WARP", 32, 64),
    )];
    // (rows, K step, subgroup rows): the combinations tested on tensor-core hardware
    let all = [
        (128, 64, 32),
        (128, 32, 32),
        (64, 64, 32),
        (64, 32, 32),
        (128, 64, 64),
        (128, 32, 64),
    ];
    let variants: &[(u32, u32, u32)] = if forced { &defaults } else { &all };
    variants
        .iter()
        .map(|&(rows, kstep, warp)| {
            let key = KernelKey::QMatmulCoop {
                dtype,
                bits,
                store,
                rows,
                kstep,
                warp_rows: warp.min(rows),
            };
            (key, rows as usize, 128)
        })
        .collect()
}

/// A prefill-kernel candidate's name in the autotuner's cache.
fn tile_label((key, rows, _): &TileChoice) -> String {
    match key {
        KernelKey::QMatmulCoop {
            kstep, warp_rows, ..
        } => format!("rows{rows}_k{kstep}_warp{warp_rows}"),
        _ => format!("tile{rows}"),
    }
}

/// Variants of the f32 tiled kernel, the default first: 128x128 tiles for transposed weights
/// and more than one tile of rows (`MLX_ARM_QMM_128=0`: 64x64 only, no search), else 64x64.
fn tiled_candidates(
    dtype: Dtype,
    bits: u32,
    transpose: bool,
    store: ScaleStore,
    m: usize,
) -> Vec<TileChoice> {
    let sides = if !(transpose && m > TILE) {
        vec![false]
    } else if std::env::var_os("MLX_ARM_QMM_128").is_some() {
        vec![qmm128()]
    } else {
        vec![true, false]
    };
    sides
        .iter()
        .map(|&tile128| {
            let side = if tile128 { 128 } else { TILE };
            let key = KernelKey::QMatmul {
                dtype,
                bits,
                transpose,
                store,
                tile128,
            };
            (key, side, side)
        })
        .collect()
}

/// Output tile side of the tiled kernel.
const TILE: usize = 64;

/// `d` itself when dense with an offset that is a multiple of `align` elements, else a dense
/// copy (at offset 0).
fn dense(e: &Arc<Engine>, d: &Data, align: usize) -> Result<Data> {
    if d.is_row_contiguous() && d.offset >= 0 && d.offset as usize % align == 0 {
        return Ok(d.clone());
    }
    elementwise::map(e, MapOp::Copy, std::slice::from_ref(d), &d.shape, d.dtype())
}

/// `dequantize(w, scales, biases)` into `shape` / `dt`.
pub fn dequantize(
    e: &Arc<Engine>,
    inputs: &[Data],
    gs: usize,
    bits: usize,
    shape: &[usize],
    dt: Dtype,
) -> Result<Data> {
    let total = numel(shape);
    let mem = e.alloc(total)?;
    if total == 0 {
        return Ok(Engine::output(mem, dt, shape));
    }
    let w = dense(e, &inputs[0], 1)?;
    let rw = Resident::of(e, &w)?;
    let Scales {
        rs,
        rb,
        store,
        off_s,
        off_b,
    } = Scales::of(e, &inputs[1], &inputs[2])?;
    let n = shape[shape.len() - 1];
    let params = [
        total as u32,
        n as u32,
        (n * bits / 32) as u32,
        gs as u32,
        w.offset as u32,
        off_s,
        off_b,
        0,
    ];
    let key = KernelKey::QDequantize {
        dtype: dt,
        bits: bits as u32,
        store,
    };
    let bufs = [(2, rw.buf()), (3, rs.buf()), (4, rb.buf()), (5, mem.buf())];
    e.dispatch_1d(
        &key,
        "main",
        &params,
        None,
        &bufs,
        total.div_ceil(WG as usize),
    )?;
    Ok(Engine::output(mem, dt, shape))
}

/// Whether the mat-vec kernel does the fused work itself (`MLX_ARM_FUSE_QMV=0`: only the
/// residual add, as before the norm and GLU fusions, for A/B runs).
fn fuse_in_matvec() -> bool {
    switch_on!("MLX_ARM_FUSE_QMV")
}

/// `quantized_matmul(x, w, scales, biases)` into `shape` / `dt` with the `fuse`d work (see
/// `QmmFuse`): done inside the mat-vec kernel for decode shapes; otherwise (and where the
/// mat-vec cannot) by the rms_norm kernel before and elementwise kernels after the product.
#[allow(clippy::too_many_arguments)]
pub fn quantized_matmul(
    e: &Arc<Engine>,
    inputs: &[Data],
    gs: usize,
    bits: usize,
    transpose: bool,
    fuse: QmmFuse,
    shape: &[usize],
    dt: Dtype,
) -> Result<Data> {
    let n = shape[shape.len() - 1] * if fuse.silu_mul { 2 } else { 1 };
    let m = numel(shape) / shape[shape.len() - 1].max(1);
    let matvec = transpose && m <= MATVEC_MAX_ROWS && numel(shape) > 0;
    let addend = fuse.addend_input().map(|i| &inputs[i]);
    let plain_matvec = fuse.rms_norm_eps_bits.is_none() && !fuse.silu_mul && fuse.rope.is_none();
    if matvec && (fuse_in_matvec() || plain_matvec) {
        let norm = match (fuse.norm_input(), fuse.rms_norm_eps_bits) {
            (Some(i), Some(eps)) => Some((&inputs[i], f32::from_bits(eps))),
            _ => None,
        };
        return product(
            e,
            &inputs[..4],
            gs,
            bits,
            transpose,
            fuse,
            norm,
            addend,
            shape,
            dt,
        );
    }
    let mut xs = inputs[..4].to_vec();
    if let (Some(i), Some(eps)) = (fuse.norm_input(), fuse.rms_norm_eps_bits) {
        let eps = f32::from_bits(eps);
        xs[0] = super::fast::rms_norm(e, &inputs[0], Some(&inputs[i]), eps, &inputs[0].shape)?;
    }
    let mut product_shape = shape.to_vec();
    product_shape[shape.len() - 1] = n;
    let plain = QmmFuse::default();
    let shape_p = &product_shape;
    let mut y = product(e, &xs, gs, bits, transpose, plain, None, None, shape_p, dt)?;
    if let Some(r) = fuse.rope {
        let l = QmmRope::positions(&inputs[0].shape);
        let (base, scale) = (f32::from_bits(r.base_bits), f32::from_bits(r.scale_bits));
        let (start, step) = ([0; 4], [1; 4]);
        y = mlx_arm_core::backend::rope_heads(
            &y,
            l,
            r,
            |h, shape| super::fast::rope(e, h, None, r.dims, true, base, scale, r.offset, shape),
            |dst, upd, shape| elementwise::slice_update(e, &start, &step, dst, upd, shape),
        )?;
    }
    if fuse.silu_mul {
        let [gate, up] = y.last_axis_halves();
        let op = MapOp::Binary(BinaryOp::SiluMul);
        y = elementwise::map(e, op, &[gate, up], shape, dt)?;
    }
    match addend {
        Some(a) => {
            let add = MapOp::Binary(BinaryOp::Add);
            elementwise::map(e, add, &[y, a.clone()], shape, dt)
        }
        None => Ok(y),
    }
}

/// The product of `inputs` (x, w, scales, biases) into `shape` / `dt`: the mat-vec kernel with
/// the `fuse`d work in it (norm weight and eps in `norm`, the addend in `addend`), or the tiled
/// kernel (plain `fuse` only) plus one more dispatch for an addend.
#[allow(clippy::too_many_arguments)]
fn product(
    e: &Arc<Engine>,
    inputs: &[Data],
    gs: usize,
    bits: usize,
    transpose: bool,
    fuse: QmmFuse,
    norm: Option<(&Data, f32)>,
    addend: Option<&Data>,
    shape: &[usize],
    dt: Dtype,
) -> Result<Data> {
    let n = shape[shape.len() - 1];
    let total = numel(shape);
    let mem = e.alloc(total)?;
    if total == 0 {
        return Ok(Engine::output(mem, dt, shape));
    }
    let m = total / n;
    let k = inputs[0].shape[inputs[0].shape.len() - 1];
    // vec4 loads of x and of the packed words need 16-byte aligned offsets
    let x = dense(e, &inputs[0], 4)?;
    let w = dense(e, &inputs[1], 4)?;
    let (rx, rw) = (Resident::of(e, &x)?, Resident::of(e, &w)?);
    let Scales {
        rs,
        rb,
        store,
        off_s,
        off_b,
    } = Scales::of(e, &inputs[2], &inputs[3])?;
    let addend = addend.map(|a| dense(e, a, 1)).transpose()?;
    let mut bufs = vec![
        (2, rx.buf()),
        (3, rw.buf()),
        (4, rs.buf()),
        (5, rb.buf()),
        (6, mem.buf()),
    ];
    let cols = if transpose { k } else { n }; // values per packed row
    let row_words = (cols * bits / 32) as u32;
    let groups = (cols / gs) as u32;
    let bits = bits as u32;
    let matvec = transpose && m <= MATVEC_MAX_ROWS;
    if matvec {
        let fuse = QmmFuse {
            residual: addend.is_some(),
            ..fuse
        };
        // weight rows: the product's outputs, twice that with GLU
        let rows = if fuse.silu_mul { 2 * n } else { n };
        let ra = addend.as_ref().map(|a| Resident::of(e, a)).transpose()?;
        if let Some(ra) = &ra {
            bufs.push((8, ra.buf()));
        }
        if store == ScaleStore::F16Pair {
            // the mat-vec reads scale and bias with one load through SC only
            bufs.retain(|(binding, _)| *binding != 5);
        }
        let g = norm.map(|(g, _)| dense(e, g, 4)).transpose()?;
        let rg = g.as_ref().map(|g| Resident::of(e, g)).transpose()?;
        if let Some(rg) = &rg {
            bufs.push((9, rg.buf()));
        }
        let record = |t: &QmvTuning| -> Result<()> {
            let (key, rpw) = matvec_kernel(e, *t, dt, bits, (m, rows, k), store, fuse);
            let mut bufs = bufs.clone();
            // the integer kernel reads x quantized: 4 words of bytes and (step, sum) per 8 values
            let quantized_x = match key {
                KernelKey::QMatvec { int8: true, .. } => {
                    let (words, blocks) = (m * k / 8, m * k / 32);
                    let (xq, xf) = (e.alloc(4 * words)?, e.alloc(2 * words)?);
                    let params = [blocks as u32, x.offset as u32, 0, 0];
                    let qbufs = [(2, rx.buf()), (3, xq.buf()), (4, xf.buf())];
                    e.dispatch_1d(
                        &KernelKey::QuantizeX,
                        "main",
                        &params,
                        None,
                        &qbufs,
                        blocks.div_ceil(64),
                    )?;
                    Some((xq, xf))
                }
                _ => None,
            };
            if let Some((xq, xf)) = &quantized_x {
                bufs[0] = (2, xq.buf());
                bufs.push((7, xf.buf()));
            }
            let blocks = n.div_ceil(rpw);
            let params = [
                n as u32,
                k as u32,
                blocks as u32,
                x.offset as u32,
                w.offset as u32,
                off_s,
                off_b,
                row_words,
                groups,
                (gs / 32) as u32,
                (gs * bits as usize / 32).max(1).ilog2(),
                addend.as_ref().map_or(0, |a| a.offset as u32),
                g.as_ref().map_or(0, |g| g.offset as u32),
                norm.map_or(0.0f32, |(_, eps)| eps).to_bits(),
            ];
            let mut params = params.to_vec();
            match fuse.rope {
                Some(r) => {
                    let l = QmmRope::positions(&inputs[0].shape);
                    let base = f32::from_bits(r.base_bits);
                    let log_base = (base as f64).ln() as f32 / (r.dims / 2) as f32;
                    params.extend([
                        (r.heads * r.head_dim) as u32,
                        r.head_dim as u32,
                        r.dims as u32,
                        r.offset as u32,
                        l as u32,
                        r.scale_bits,
                        log_base.to_bits(),
                        0,
                    ]);
                }
                None => params.extend([0, 1, 0, 0, 1, 0, 0, 0]),
            }
            e.dispatch_1d(&key, "main", &params, None, &bufs, blocks)
        };
        let problem = || {
            format!(
                "qmv {dt:?} {bits}bit gs{gs} {store:?} x{m} n{} k{}{}{}{}{}",
                class(rows),
                class(k),
                if fuse.rms_norm_eps_bits.is_some() {
                    " norm"
                } else {
                    ""
                },
                if fuse.silu_mul { " glu" } else { "" },
                if fuse.rope.is_some() { " rope" } else { "" },
                if fuse.residual { " residual" } else { "" },
            )
        };
        let choices = qmv_candidates(rows, k);
        let tuning = e.tuned(problem, &choices, qmv_label, &record)?;
        record(&tuning)?;
    } else {
        let coop = transpose && m > TILE && e.gpu.coop_f16 && qmm_coop();
        let record = |key: &KernelKey, rows: usize, cols: usize| -> Result<()> {
            let tn = n.div_ceil(cols);
            let tiles = tn * m.div_ceil(rows);
            let params = [
                m as u32,
                n as u32,
                k as u32,
                tn as u32,
                tiles as u32,
                x.offset as u32,
                w.offset as u32,
                off_s,
                off_b,
                row_words,
                groups,
                gs as u32,
            ];
            e.dispatch_1d(key, "main", &params, None, &bufs, tiles)
        };
        let choices = match coop {
            true => coop_candidates(dt, bits, store),
            false => tiled_candidates(dt, bits, transpose, store, m),
        };
        let problem = || {
            format!(
                "qmm {dt:?} {bits}bit gs{gs} {store:?} {} m{} n{} k{}",
                if transpose { "wT" } else { "w" },
                class(m),
                class(n),
                class(k),
            )
        };
        let (key, rows, cols) = e.tuned(problem, &choices, tile_label, |(key, r, c)| {
            record(key, *r, *c)
        })?;
        record(&key, rows, cols)?;
    }
    let y = Engine::output(mem, dt, shape);
    match addend {
        // the mat-vec added it as it stored
        Some(a) if !matvec => {
            let add = MapOp::Binary(BinaryOp::Add);
            elementwise::map(e, add, &[y, a], shape, dt)
        }
        _ => Ok(y),
    }
}
