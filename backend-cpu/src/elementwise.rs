//! Elementwise kernels: unary, binary, select, astype and copy, over any strided layout. Dense
//! f32 inputs of the hottest ops (add, subtract, multiply, divide, maximum, minimum, exp) run the
//! explicit SIMD kernels of `simd.rs`.

use crate::simd;
use crate::types::CpuType;
use crate::view::{map1, map2, map3, par_chunks, Host, Output};
use crate::with_dtype;
use mlx_arm_core::buffer::Data;
use mlx_arm_core::dtype::Bool8;
use mlx_arm_core::primitive::{BinaryOp, UnaryOp};
use mlx_arm_core::{Dtype, Result};

/// Unary op (output dtype bool for isnan/isinf/logical_not's predicate forms).
pub fn unary(op: UnaryOp, x: &Data, shape: &[usize], out_dt: Dtype) -> Result<Data> {
    let h = Host::of(x)?;
    let mut out = Output::new(out_dt, x.size())?;
    if op == UnaryOp::Exp && x.dtype() == Dtype::Float32 {
        // SIMD exp; strided inputs are gathered first so every layout gives the same bits
        let src = h.view::<f32>().to_contiguous();
        par_chunks(out.slice::<f32>(), |s, c| {
            simd::exp_slice(&src[s..s + c.len()], c)
        });
        return Ok(out.finish(shape));
    }
    if matches!(op, UnaryOp::IsNan | UnaryOp::IsInf) {
        with_dtype!(x.dtype(), T => map1(&h.view::<T>(), out.slice::<Bool8>(), |v| Bool8::from(T::predicate(op, v))));
    } else {
        with_dtype!(x.dtype(), T => map1(&h.view::<T>(), out.slice::<T>(), |v| T::unary(op, v)));
    }
    Ok(out.finish(shape))
}

fn binary_typed<T: CpuType>(op: BinaryOp, a: &Host, b: &Host, out: &mut Output) {
    let (va, vb) = (a.view::<T>(), b.view::<T>());
    if op.outputs_bool() {
        map2(&va, &vb, out.slice::<Bool8>(), |x, y| {
            Bool8::from(T::compare(op, x, y))
        });
        return;
    }
    let o = out.slice::<T>();
    // Monomorphised closures for the hottest ops so the contiguous loop vectorises.
    match (op, T::FLOAT) {
        (BinaryOp::Add, true) => map2(&va, &vb, o, |x, y| T::binary(BinaryOp::Add, x, y)),
        (BinaryOp::Multiply, true) => map2(&va, &vb, o, |x, y| T::binary(BinaryOp::Multiply, x, y)),
        _ => map2(&va, &vb, o, |x, y| T::binary(op, x, y)),
    }
}

/// A dense view as a slice, or a view of one element broadcast everywhere (every stride 0, as
/// `a + 1.0` makes) as that element.
fn dense_or_scalar<'a>(v: &crate::view::View<'a, f32>) -> Option<simd::Operand<'a>> {
    if let Some(s) = v.as_contiguous() {
        return Some(simd::Operand::Slice(s));
    }
    if v.shape.contains(&0) {
        return Some(simd::Operand::Slice(&[]));
    }
    let scalar = v
        .strides
        .iter()
        .zip(v.shape)
        .all(|(&st, &n)| st == 0 || n == 1);
    scalar.then(|| simd::Operand::Splat(v.all[v.offset as usize]))
}

/// Binary op over same-shaped (possibly broadcast) inputs.
pub fn binary(op: BinaryOp, a: &Data, b: &Data, shape: &[usize], out_dt: Dtype) -> Result<Data> {
    let (ha, hb) = (Host::of(a)?, Host::of(b)?);
    let mut out = Output::new(out_dt, a.size())?;
    if a.dtype() == Dtype::Float32 && simd::has_binary_f32(op) {
        let (va, vb) = (ha.view::<f32>(), hb.view::<f32>());
        if let (Some(x), Some(y)) = (dense_or_scalar(&va), dense_or_scalar(&vb)) {
            fn part(o: simd::Operand<'_>, s: usize, n: usize) -> simd::Operand<'_> {
                match o {
                    simd::Operand::Slice(v) => simd::Operand::Slice(&v[s..s + n]),
                    splat => splat,
                }
            }
            par_chunks(out.slice::<f32>(), |s, c| {
                simd::binary_f32(op, part(x, s, c.len()), part(y, s, c.len()), c)
            });
            return Ok(out.finish(shape));
        }
    }
    with_dtype!(a.dtype(), T => binary_typed::<T>(op, &ha, &hb, &mut out));
    Ok(out.finish(shape))
}

/// `where(c, x, y)`.
pub fn select(c: &Data, x: &Data, y: &Data, shape: &[usize]) -> Result<Data> {
    let (hc, hx, hy) = (Host::of(c)?, Host::of(x)?, Host::of(y)?);
    let mut out = Output::new(x.dtype(), x.size())?;
    with_dtype!(x.dtype(), T => map3(&hc.view::<Bool8>(), &hx.view::<T>(), &hy.view::<T>(), out.slice::<T>(), |c, a, b| if c.0 != 0 { a } else { b }));
    Ok(out.finish(shape))
}

/// Conversion between any two dtypes (`as` semantics; ints exact through i128).
pub fn astype(x: &Data, shape: &[usize], out_dt: Dtype) -> Result<Data> {
    let h = Host::of(x)?;
    let mut out = Output::new(out_dt, x.size())?;
    with_dtype!(x.dtype(), S => with_dtype!(out_dt, T => map1(&h.view::<S>(), out.slice::<T>(), |v| T::from_wide(v.wide()))));
    Ok(out.finish(shape))
}

/// Dense row-major copy (returns the input itself when it already is one and covers its buffer).
pub fn copy(x: &Data, shape: &[usize]) -> Result<Data> {
    if x.is_row_contiguous() && x.offset == 0 && x.size() == x.buffer.len() {
        return Ok(Data::contiguous(x.buffer.clone(), shape.to_vec()));
    }
    let h = Host::of(x)?;
    let mut out = Output::new(x.dtype(), x.size())?;
    with_dtype!(x.dtype(), T => map1(&h.view::<T>(), out.slice::<T>(), |v| v));
    Ok(out.finish(shape))
}
