//! Elementwise maps (unary, binary, select, cast, copy) into dense or strided output views, and
//! the copies that concatenate and slice_update are made of.

use super::{i32s, shape_i32, w, Resident};
use crate::engine::{Engine, GpuMem, WG};
use mlx_arm_core::buffer::Data;
use mlx_arm_core::layout::{collapse_dims, is_row_contiguous, numel, row_major_strides};
use mlx_arm_core::{Dtype, Result};
use mlx_arm_wgsl::sources::{KernelKey, MapOp};
use std::sync::Arc;

/// A region of an output buffer: shape, strides and offset in elements.
pub struct OutView<'a> {
    /// Destination buffer.
    pub mem: &'a GpuMem,
    /// Region shape (the inputs' shape).
    pub shape: &'a [usize],
    /// Strides of the region in the destination.
    pub strides: Vec<isize>,
    /// Offset of the region's first element.
    pub offset: isize,
}

/// Records `out[view] = op(inputs...)`.
pub fn map_into(
    engine: &Arc<Engine>,
    op: MapOp,
    inputs: &[Data],
    out_dtype: Dtype,
    out: &OutView,
) -> Result<()> {
    let n = numel(out.shape);
    if n == 0 {
        return Ok(());
    }
    // single host values (Rust scalars, `array!(2.0)`) travel in the params instead of a buffer
    let scalar_bits: Vec<Option<u32>> = inputs.iter().map(scalar_bits).collect::<Result<_>>()?;
    let scalars = scalar_bits
        .iter()
        .enumerate()
        .fold(0u8, |m, (i, b)| m | ((b.is_some() as u8) << i));
    let res = inputs
        .iter()
        .zip(&scalar_bits)
        .map(|(d, b)| {
            if b.is_some() {
                Ok(None)
            } else {
                Resident::of(engine, d).map(Some)
            }
        })
        .collect::<Result<Vec<_>>>()?;
    let mut all: Vec<&[isize]> = inputs.iter().map(|d| d.strides.as_slice()).collect();
    all.push(&out.strides);
    let (shape, strides) = collapse_dims(out.shape, &all);
    let mut dims = shape_i32(&shape);
    for s in &strides {
        dims.extend(i32s(s));
    }
    let mut offs = [0u32; 3];
    let (mut modes, mut q) = (0u32, [0u32; 4]);
    let out_dense = is_row_contiguous(out.shape, &out.strides);
    for (i, (d, b)) in inputs.iter().zip(&scalar_bits).enumerate() {
        offs[i] = b.unwrap_or(w(d.offset as i32));
        let (mode, qi) = if b.is_some() {
            (0, 0)
        } else {
            index_mode(&shape, &strides[i], out_dense)
        };
        modes |= mode << (2 * i);
        q[i] = qi;
    }
    if !out_dense {
        modes |= 1 << (2 * inputs.len());
    }
    // every input dense (or a params scalar) and a dense output: no index arithmetic at all
    let contiguous = modes == 0;
    let params = [
        n as u32,
        shape.len() as u32,
        modes,
        0,
        offs[0],
        offs[1],
        offs[2],
        w(out.offset as i32),
        q[0],
        q[1],
        q[2],
        0,
    ];
    let dtypes: Vec<Dtype> = inputs.iter().map(|d| d.dtype()).collect();
    let mut bufs: Vec<(u32, &wgpu::Buffer)> = res
        .iter()
        .enumerate()
        .filter_map(|(i, r)| r.as_ref().map(|r| (i as u32 + 2, r.buf())))
        .collect();
    bufs.push((inputs.len() as u32 + 2, out.mem.buf()));
    // Dense and 4-aligned: four elements per invocation with 16-byte loads and stores.
    let aligned = offs
        .iter()
        .zip(&scalar_bits)
        .all(|(o, b)| b.is_some() || o % 4 == 0);
    if contiguous && n % 4 == 0 && aligned && out.offset % 4 == 0 {
        let key = KernelKey::MapVec4 {
            op,
            inputs: dtypes,
            out: out_dtype,
            scalars,
        };
        return engine.dispatch_1d(
            &key,
            "main",
            &params,
            None,
            &bufs,
            (n / 4).div_ceil(WG as usize),
        );
    }
    let key = KernelKey::Map {
        op,
        inputs: dtypes,
        out: out_dtype,
        scalars,
    };
    engine.dispatch_1d(
        &key,
        "main",
        &params,
        Some(&dims),
        &bufs,
        n.div_ceil(WG as usize),
    )
}

/// How map.wgsl indexes an input with `strides` (collapsed against the output's `shape`):
/// (0, _) dense, (2, q) zeros then a dense block of q elements (a row vector broadcast over
/// leading axes), (3, q) a dense prefix then zeros over a trailing block of q elements (a column
/// vector), (1, _) anything else, through the dims buffer. Modes 0, 2, 3 need a dense output.
fn index_mode(shape: &[usize], strides: &[isize], out_dense: bool) -> (u32, u32) {
    if !out_dense {
        return (1, 0);
    }
    let dense_from = |k: usize| is_row_contiguous(&shape[k..], &strides[k..]);
    let zero = |r: std::ops::Range<usize>| strides[r].iter().all(|&s| s == 0);
    let nd = shape.len();
    if dense_from(0) {
        return (0, 0);
    }
    for k in 1..nd {
        let inner: usize = shape[k..].iter().product();
        if zero(0..k) && dense_from(k) && inner <= u32::MAX as usize {
            return (2, inner as u32);
        }
        if zero(k..nd)
            && is_row_contiguous(&shape[..k], &strides[..k])
            && inner <= u32::MAX as usize
        {
            // the dense prefix advances one element per `inner` outputs: index = i / inner
            return (3, inner as u32);
        }
    }
    (1, 0)
}

/// The GPU-layout bits of `d` when it is one value held only on the host (else `None`).
fn scalar_bits(d: &Data) -> Result<Option<u32>> {
    if d.buffer.len() != 1 || !d.buffer.has_host() || d.buffer.device_mem().is_some() {
        return Ok(None);
    }
    let host = d.buffer.host()?;
    let words = crate::transfer::to_gpu_layout(d.dtype(), host.bytes())?;
    Ok(words
        .get(..4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])))
}

/// A fresh dense output of `op(inputs...)`.
pub fn map(
    engine: &Arc<Engine>,
    op: MapOp,
    inputs: &[Data],
    shape: &[usize],
    out_dtype: Dtype,
) -> Result<Data> {
    let mem = engine.alloc(numel(shape))?;
    map_into(
        engine,
        op,
        inputs,
        out_dtype,
        &OutView {
            mem: &mem,
            shape,
            strides: row_major_strides(shape),
            offset: 0,
        },
    )?;
    Ok(Engine::output(mem, out_dtype, shape))
}

/// A dense copy (the input itself when it already is one covering its whole buffer).
pub fn copy(engine: &Arc<Engine>, x: &Data, shape: &[usize]) -> Result<Data> {
    if x.is_row_contiguous() && x.offset == 0 && x.size() == x.buffer.len() {
        Resident::of(engine, x)?;
        return Ok(Data::contiguous(x.buffer.clone(), shape.to_vec()));
    }
    map(
        engine,
        MapOp::Copy,
        std::slice::from_ref(x),
        shape,
        x.dtype(),
    )
}

/// Concatenation: one strided copy per input into its slab of the output.
pub fn concatenate(
    engine: &Arc<Engine>,
    axis: usize,
    inputs: &[Data],
    shape: &[usize],
) -> Result<Data> {
    let dt = inputs[0].dtype();
    let mem = engine.alloc(numel(shape))?;
    let ostr = row_major_strides(shape);
    let mut start = 0usize;
    for d in inputs {
        let view = OutView {
            mem: &mem,
            shape: &d.shape,
            strides: ostr.clone(),
            offset: start as isize * ostr[axis],
        };
        map_into(engine, MapOp::Copy, std::slice::from_ref(d), dt, &view)?;
        start += d.shape[axis];
    }
    Ok(Engine::output(mem, dt, shape))
}

/// Copy of `src` with the strided region replaced by `upd`.
pub fn slice_update(
    engine: &Arc<Engine>,
    start: &[usize],
    step: &[isize],
    src: &Data,
    upd: &Data,
    shape: &[usize],
) -> Result<Data> {
    let dt = src.dtype();
    let mem = engine.alloc(numel(shape))?;
    let ostr = row_major_strides(shape);
    map_into(
        engine,
        MapOp::Copy,
        std::slice::from_ref(src),
        dt,
        &OutView {
            mem: &mem,
            shape,
            strides: ostr.clone(),
            offset: 0,
        },
    )?;
    let offset: isize = start.iter().zip(&ostr).map(|(&s, &t)| s as isize * t).sum();
    let strides: Vec<isize> = ostr.iter().zip(step).map(|(&s, &k)| s * k).collect();
    map_into(
        engine,
        MapOp::Copy,
        std::slice::from_ref(upd),
        dt,
        &OutView {
            mem: &mem,
            shape: &upd.shape,
            strides,
            offset,
        },
    )?;
    Ok(Engine::output(mem, dt, shape))
}

/// `slice_update` written over `dst`, donated GPU memory holding a dense array of the output's
/// shape (see `Backend::eval_in_place`): only the region is written.
pub fn slice_update_in_place(
    engine: &Arc<Engine>,
    start: &[usize],
    step: &[isize],
    dst: &GpuMem,
    upd: &Data,
    shape: &[usize],
    dt: Dtype,
) -> Result<()> {
    let ostr = row_major_strides(shape);
    let offset: isize = start.iter().zip(&ostr).map(|(&s, &t)| s as isize * t).sum();
    let strides: Vec<isize> = ostr.iter().zip(step).map(|(&s, &k)| s * k).collect();
    dst.forget_prefetch();
    map_into(
        engine,
        MapOp::Copy,
        std::slice::from_ref(upd),
        dt,
        &OutView {
            mem: dst,
            shape: &upd.shape,
            strides,
            offset,
        },
    )
}

/// `start + i * step` in `dtype`.
pub fn arange(
    engine: &Arc<Engine>,
    start: f64,
    step: f64,
    shape: &[usize],
    dtype: Dtype,
) -> Result<Data> {
    let n = numel(shape);
    let mem = engine.alloc(n)?;
    let integral =
        start.fract() == 0.0 && step.fract() == 0.0 && start.abs() < 2e9 && step.abs() < 2e9;
    let params = [
        n as u32,
        integral as u32,
        w(start as i32),
        w(step as i32),
        (start as f32).to_bits(),
        (step as f32).to_bits(),
        0,
        0,
    ];
    engine.dispatch_1d(
        &KernelKey::Arange { dtype },
        "main",
        &params,
        None,
        &[(2, mem.buf())],
        n.div_ceil(WG as usize),
    )?;
    Ok(Engine::output(mem, dtype, shape))
}

/// Threefry random bits for a key of shape [2] (any view).
pub fn random_bits(engine: &Arc<Engine>, key: &Data, shape: &[usize]) -> Result<Data> {
    let n = numel(shape);
    let mem = engine.alloc(n)?;
    let k = super::Resident::of(engine, key)?;
    let params = [n as u32, key.offset as u32, key.strides[0] as u32, 0];
    engine.dispatch_1d(
        &KernelKey::RandomBits,
        "main",
        &params,
        None,
        &[(2, k.buf()), (3, mem.buf())],
        n.div_ceil(WG as usize),
    )?;
    Ok(Engine::output(mem, Dtype::Uint32, shape))
}
