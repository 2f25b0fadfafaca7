//! Fused `fast` kernels: RMS normalisation (one workgroup per row) and rotary position
//! embedding (one invocation per element). Strided inputs are made dense first.

use super::{elementwise, Resident};
use crate::autotune::class;
use crate::engine::Engine;
use mlx_arm_core::buffer::Data;
use mlx_arm_core::Result;
use mlx_arm_wgsl::sources::KernelKey;
use std::sync::Arc;

fn dense(engine: &Arc<Engine>, x: &Data) -> Result<Data> {
    if x.is_row_contiguous() {
        Ok(x.clone())
    } else {
        elementwise::copy(engine, x, &x.shape)
    }
}

/// `x` `[B, H, L, D]` itself when each head's `[L, D]` rows are dense (batch and head strides
/// free, non-negative: a KV cache sliced to its filled length), else a dense copy.
fn rows_dense(engine: &Arc<Engine>, x: &Data) -> Result<Data> {
    let (l, d) = (x.shape[2], x.shape[3]);
    let rows_ok = (x.strides[3] == 1 || d <= 1) && (x.strides[2] == d as isize || l <= 1);
    let heads_ok = x.strides[0] >= 0 && x.strides[1] >= 0 && x.offset >= 0;
    if rows_ok && heads_ok {
        return Ok(x.clone());
    }
    let c = elementwise::copy(engine, x, &x.shape)?;
    Ok(c)
}

/// `x · rsqrt(mean(x²) + eps) · w` over the last axis (`w` `[D]` optional).
pub fn rms_norm(
    engine: &Arc<Engine>,
    x: &Data,
    w: Option<&Data>,
    eps: f32,
    shape: &[usize],
) -> Result<Data> {
    let dt = x.dtype();
    let total = x.size();
    let mem = engine.alloc(total)?;
    let n = *shape.last().unwrap_or(&1);
    if total == 0 {
        return Ok(Engine::output(mem, dt, shape));
    }
    let xd = dense(engine, x)?;
    let wd = w.map(|w| dense(engine, w)).transpose()?;
    let r = Resident::of(engine, &xd)?;
    let rw = wd.as_ref().map(|w| Resident::of(engine, w)).transpose()?;
    let off_w = wd.as_ref().map_or(0, |w| w.offset as u32);
    let params = [
        (total / n) as u32,
        n as u32,
        xd.offset as u32,
        off_w,
        w.is_some() as u32,
        eps.to_bits(),
        0,
        0,
    ];
    let wbuf = rw.as_ref().map_or(r.buf(), |w| w.buf());
    engine.dispatch_1d(
        &KernelKey::RmsNorm { dtype: dt },
        "main",
        &params,
        None,
        &[(2, r.buf()), (3, wbuf), (4, mem.buf())],
        total / n,
    )?;
    Ok(Engine::output(mem, dt, shape))
}

/// Rotary embedding of `x` `[.., L, D]` (see `Primitive::Rope`), with `freqs` (f32 `[dims/2]`)
/// or frequencies from `base`.
#[allow(clippy::too_many_arguments)]
pub fn rope(
    engine: &Arc<Engine>,
    x: &Data,
    freqs: Option<&Data>,
    dims: usize,
    traditional: bool,
    base: f32,
    scale: f32,
    offset: usize,
    shape: &[usize],
) -> Result<Data> {
    let dt = x.dtype();
    let total = x.size();
    let mem = engine.alloc(total)?;
    if total == 0 {
        return Ok(Engine::output(mem, dt, shape));
    }
    let nd = shape.len();
    let (l, d) = (shape[nd - 2], shape[nd - 1]);
    let xd = dense(engine, x)?;
    // the frequencies are read from index 0: make them dense and start at 0
    let fd = match freqs {
        Some(f) if f.is_row_contiguous() && f.offset == 0 => Some(f.clone()),
        Some(f) => Some(elementwise::copy(engine, f, &f.shape)?),
        None => None,
    };
    let r = Resident::of(engine, &xd)?;
    let rf = fd.as_ref().map(|f| Resident::of(engine, f)).transpose()?;
    let log_base = (base as f64).ln() as f32 / (dims / 2) as f32;
    let params = [
        total as u32,
        d as u32,
        l as u32,
        dims as u32,
        xd.offset as u32,
        offset as u32,
        freqs.is_some() as u32,
        traditional as u32,
        scale.to_bits(),
        log_base.to_bits(),
        0,
        0,
    ];
    let fbuf = rf.as_ref().map_or(r.buf(), |f| f.buf());
    engine.dispatch_1d(
        &KernelKey::Rope { dtype: dt },
        "main",
        &params,
        None,
        &[(2, r.buf()), (3, fbuf), (4, mem.buf())],
        total.div_ceil(256),
    )?;
    Ok(Engine::output(mem, dt, shape))
}

/// Keys per workgroup when attention splits a row's keys (`partial` in sdpa.wgsl).
const SDPA_SPLIT_KEYS: usize = 128;
/// Rows (batch x heads x queries) below which attention splits keys over workgroups.
const SDPA_SPLIT_MAX_ROWS: usize = 512;

/// Whether attention may split keys over workgroups (`MLX_ARM_SDPA_SPLIT=0` turns it off, for
/// A/B measurements).
fn split_keys_enabled() -> bool {
    switch_on!("MLX_ARM_SDPA_SPLIT")
}

/// Whether prefill attention runs on cooperative matrices here (`sdpa_coop.wgsl`): the adapter
/// offers them, head dimensions are equal multiples of 16 up to 128 (`MLX_ARM_SDPA_COOP=0`:
/// off, for A/B runs).
pub fn sdpa_coop_fits(engine: &Arc<Engine>, d: usize, dv: usize) -> bool {
    switch_on!("MLX_ARM_SDPA_COOP")
        && engine.gpu.coop_f16
        && d == dv
        && d % 16 == 0
        && (16..=128).contains(&d)
}

/// Query rows per workgroup of the flash kernel, the default first for the autotuner: 64, then
/// 32 (twice the workgroups; slower on an H200, 8B pp512 5,481 vs 6,184).
/// `MLX_ARM_SDPA_COOP_ROWS=32|64` forces one (no search).
fn sdpa_coop_rows() -> &'static [u32] {
    match std::env::var("MLX_ARM_SDPA_COOP_ROWS").as_deref() {
        Ok("32") => &[32],
        Ok(_) => &[64],
        Err(_) => &[64, 32],
    }
}

/// `x` itself when its rows (last axis) are dense and its other strides and offset are not
/// negative, else a dense copy.
fn last_axis_dense(engine: &Arc<Engine>, x: &Data) -> Result<Data> {
    let ok = x.strides[3] == 1 && x.strides[..3].iter().all(|&s| s >= 0) && x.offset >= 0;
    if ok {
        return Ok(x.clone());
    }
    elementwise::copy(engine, x, &x.shape)
}

/// Flash attention on cooperative matrices for more queries than decode has: 64 query rows per
/// workgroup, q, k and v read through their strides.
fn sdpa_coop(
    engine: &Arc<Engine>,
    (q, k, v): (&Data, &Data, &Data),
    scale: f32,
    causal: bool,
    mem: Arc<crate::engine::GpuMem>,
    shape: &[usize],
) -> Result<Data> {
    let dt = q.dtype();
    let (q, k, v) = (
        last_axis_dense(engine, q)?,
        last_axis_dense(engine, k)?,
        last_axis_dense(engine, v)?,
    );
    let (rq, rk, rv) = (
        Resident::of(engine, &q)?,
        Resident::of(engine, &k)?,
        Resident::of(engine, &v)?,
    );
    let (b, hq, lq, d) = (q.shape[0], q.shape[1], q.shape[2], q.shape[3]);
    let st = |x: &Data, i: usize| x.strides[i] as u32;
    // vec4 loads where every row starts at a multiple of 4 elements
    let aligned = [&q, &k, &v]
        .iter()
        .all(|x| x.offset % 4 == 0 && x.strides[..3].iter().all(|s| s % 4 == 0));
    let bufs = [(2, rq.buf()), (3, rk.buf()), (4, rv.buf()), (5, mem.buf())];
    let record = |&rows: &u32| -> Result<()> {
        let qblocks = lq.div_ceil(rows as usize);
        let tiles = b * hq * qblocks;
        let params = [
            hq as u32,
            k.shape[1] as u32,
            lq as u32,
            k.shape[2] as u32,
            causal as u32,
            scale.to_bits(),
            q.offset as u32,
            k.offset as u32,
            v.offset as u32,
            st(&q, 0),
            st(&q, 1),
            st(&q, 2),
            st(&k, 0),
            st(&k, 1),
            st(&k, 2),
            st(&v, 0),
            st(&v, 1),
            st(&v, 2),
            qblocks as u32,
            tiles as u32,
            u32::from(aligned),
            0,
            0,
            0,
        ];
        let key = KernelKey::SdpaCoop {
            dtype: dt,
            d: d as u32,
            rows,
        };
        engine.dispatch_1d(&key, "main", &params, None, &bufs, tiles)
    };
    let problem = || {
        format!(
            "sdpa_coop {dt:?} d{d} batch{} lq{} lk{}{}",
            class(b * hq),
            class(lq),
            class(k.shape[2]),
            if causal { " causal" } else { "" }
        )
    };
    let rows = engine.tuned(problem, sdpa_coop_rows(), |r| format!("rows{r}"), &record)?;
    record(&rows)?;
    Ok(Engine::output(mem, dt, shape))
}

/// Fused attention (see `Primitive::Sdpa`): one workgroup per query row, online softmax.
pub fn sdpa(
    engine: &Arc<Engine>,
    q: &Data,
    k: &Data,
    v: &Data,
    scale: f32,
    causal: bool,
    shape: &[usize],
) -> Result<Data> {
    let dt = q.dtype();
    let total: usize = shape.iter().product();
    let mem = engine.alloc(total)?;
    if total == 0 {
        return Ok(Engine::output(mem, dt, shape));
    }
    let many_queries = q.shape[2] > mlx_arm_core::fast::SDPA_FUSED_MAX_QUERIES;
    if many_queries && sdpa_coop_fits(engine, q.shape[3], v.shape[3]) {
        return sdpa_coop(engine, (q, k, v), scale, causal, mem, shape);
    }
    let (qd, kd, vd) = (
        dense(engine, q)?,
        rows_dense(engine, k)?,
        rows_dense(engine, v)?,
    );
    let (rq, rk, rv) = (
        Resident::of(engine, &qd)?,
        Resident::of(engine, &kd)?,
        Resident::of(engine, &vd)?,
    );
    let rows = q.shape[0] * q.shape[1] * q.shape[2];
    let (lk, dv) = (k.shape[2], v.shape[3]);
    // few rows over many keys (decode): the keys split over workgroups, then combined
    let nsplit = lk.div_ceil(SDPA_SPLIT_KEYS);
    let split = rows < SDPA_SPLIT_MAX_ROWS && nsplit > 1 && split_keys_enabled();
    let params = [
        rows as u32,
        q.shape[1] as u32,
        k.shape[1] as u32,
        q.shape[2] as u32,
        k.shape[2] as u32,
        q.shape[3] as u32,
        v.shape[3] as u32,
        causal as u32,
        scale.to_bits(),
        qd.offset as u32,
        kd.offset as u32,
        vd.offset as u32,
        kd.strides[0] as u32,
        kd.strides[1] as u32,
        vd.strides[0] as u32,
        vd.strides[1] as u32,
        if split { nsplit as u32 } else { 1 },
        SDPA_SPLIT_KEYS as u32,
        0,
        0,
    ];
    let key = KernelKey::Sdpa { dtype: dt };
    if split {
        let (pml, po) = (
            engine.alloc(2 * rows * nsplit)?,
            engine.alloc(dv * rows * nsplit)?,
        );
        let bufs = [
            (2, rq.buf()),
            (3, rk.buf()),
            (4, rv.buf()),
            (6, pml.buf()),
            (7, po.buf()),
        ];
        engine.dispatch_1d(&key, "partial", &params, None, &bufs, rows * nsplit)?;
        let bufs = [(5, mem.buf()), (6, pml.buf()), (7, po.buf())];
        engine.dispatch_1d(&key, "combine", &params, None, &bufs, rows)?;
    } else {
        let bufs = [(2, rq.buf()), (3, rk.buf()), (4, rv.buf()), (5, mem.buf())];
        engine.dispatch_1d(&key, "main", &params, None, &bufs, rows)?;
    }
    Ok(Engine::output(mem, dt, shape))
}
