//! The vector-Jacobian product of every primitive, written with the public ops. Each rule gets
//! the node's inputs, its output and the cotangent of the output, and returns one cotangent per
//! input (`None` where the input is not differentiable).

use crate::ops::{self, shape_of};
use crate::primitive::{BinaryOp, Primitive, ReduceOp, ScanOp, ScatterMode, UnaryOp};
use crate::{Array, Result};

type Grads = Vec<Option<Array>>;

fn zeros_of(a: &Array) -> Result<Array> {
    ops::zeros(&shape_of(a), a.dtype())
}

/// Sums `g` down to `shape` (undoing a broadcast).
pub(crate) fn unbroadcast(g: &Array, shape: &[usize]) -> Result<Array> {
    if g.shape() == shape {
        return Ok(g.clone());
    }
    let lead = g.ndim() - shape.len();
    let mut axes: Vec<i32> = (0..lead as i32).collect();
    for (i, &d) in shape.iter().enumerate() {
        if d == 1 && g.shape()[lead + i] != 1 {
            axes.push((lead + i) as i32);
        }
    }
    let s = ops::sum_axes(g, &axes, true)?;
    let target: Vec<i32> = shape.iter().map(|&d| d as i32).collect();
    ops::reshape(s, &target)
}

/// RMS norm: with `r = rsqrt(mean(x²) + eps)` and `h = g · w`,
/// `dx = r · h - x · r³ · mean(x · h)` and `dw = Σ_rows g · x · r` (in f32 for half types).
fn rms_norm_vjp(eps: f32, inputs: &[Array], cot: &Array) -> Result<Grads> {
    let x = &inputs[0];
    let wide = |a: &Array| -> Result<Array> {
        if matches!(a.dtype(), crate::Dtype::Float16 | crate::Dtype::Bfloat16) {
            ops::astype(a, crate::Dtype::Float32)
        } else {
            Ok(a.clone())
        }
    };
    let (xf, gf) = (wide(x)?, wide(cot)?);
    let r = ops::rsqrt(ops::add(ops::mean_axis(ops::square(&xf)?, -1, true)?, eps)?)?;
    let h = match inputs.get(1) {
        Some(w) => ops::multiply(&gf, wide(w)?)?,
        None => gf.clone(),
    };
    let m = ops::mean_axis(ops::multiply(&xf, &h)?, -1, true)?;
    let r3 = ops::multiply(ops::square(&r)?, &r)?;
    let dx = ops::subtract(
        ops::multiply(&h, &r)?,
        ops::multiply(&xf, ops::multiply(r3, m)?)?,
    )?;
    let mut out = vec![Some(ops::astype(dx, x.dtype())?)];
    if let Some(w) = inputs.get(1) {
        let d = *x.shape().last().expect("rms_norm input has an axis") as i32;
        let gxr = ops::reshape(ops::multiply(ops::multiply(&gf, &xf)?, &r)?, &[-1, d])?;
        out.push(Some(ops::astype(
            ops::sum_axes(gxr, &[0], false)?,
            w.dtype(),
        )?));
    }
    Ok(out)
}

/// Cotangents of `prim` applied to `inputs` giving `out`, for output cotangent `cot`.
pub(crate) fn vjp(prim: &Primitive, inputs: &[Array], out: &Array, cot: &Array) -> Result<Grads> {
    use Primitive::*;
    let x = inputs.first();
    Ok(match prim {
        Reshape | Copy => vec![Some(ops::reshape(cot, &shape_of(&inputs[0]))?)],
        StopGradient
        | Arange { .. }
        | RandomBits
        | ArgReduce { .. }
        | ArgSort { .. }
        | Dequantize { .. } => vec![None; inputs.len()],
        QuantizedMatmul {
            group_size,
            bits,
            transpose,
            fuse,
        } if fuse.rms_norm_eps_bits.is_none() && !fuse.silu_mul && fuse.rope.is_none() => {
            // Only x is differentiable (as in MLX): dx = g @ W^T = qmm(g, w, !transpose); an
            // addend (same shape as the output) gets g itself.
            let (w, s, b) = (&inputs[1], &inputs[2], &inputs[3]);
            let gx =
                ops::quantized_matmul(cot, w, s, b, !*transpose, *group_size as i32, *bits as i32)?;
            let mut g = vec![Some(gx), None, None, None];
            if fuse.residual {
                g.push(Some(cot.clone()));
            }
            g
        }
        QuantizedMatmul {
            group_size,
            bits,
            transpose,
            fuse,
        } => {
            // the gradient of the composed ops, for x, the norm's weight and the addend
            let (w, s, b) = (&inputs[1], &inputs[2], &inputs[3]);
            let (gs, bits, tr, fuse) = (*group_size, *bits, *transpose, *fuse);
            let mut diff = vec![0];
            diff.extend(fuse.norm_input());
            diff.extend(fuse.addend_input());
            let f = |xs: &[Array]| -> Result<Vec<Array>> {
                let mut all = vec![xs[0].clone(), w.clone(), s.clone(), b.clone()];
                all.extend(xs[1..].iter().cloned());
                Ok(vec![ops::qmm_fused_composed(&all, gs, bits, tr, fuse)?])
            };
            let primals: Vec<Array> = diff.iter().map(|&i| inputs[i].clone()).collect();
            let (_, grads) = crate::autodiff::vjp(f, &primals, &[cot.clone()])?;
            let mut g = vec![None; inputs.len()];
            for (i, gi) in diff.into_iter().zip(grads) {
                g[i] = Some(gi);
            }
            g
        }
        Transpose(perm) => {
            let mut inv = vec![0i32; perm.len()];
            for (i, &p) in perm.iter().enumerate() {
                inv[p] = i as i32;
            }
            vec![Some(ops::transpose(cot, Some(&inv))?)]
        }
        Broadcast => vec![Some(unbroadcast(cot, inputs[0].shape())?)],
        Slice { start, step } => {
            let z = zeros_of(&inputs[0])?;
            let cot = ops::astype(cot, z.dtype())?;
            vec![Some(Array::from_op(
                z.shape().to_vec(),
                z.dtype(),
                z.stream(),
                SliceUpdate {
                    start: start.clone(),
                    step: step.clone(),
                },
                vec![z, cot],
            ))]
        }
        AsStrided { strides, offset } => {
            let a = &inputs[0];
            let n = a.size() as f64;
            let pos = ops::arange(0.0, n, 1.0, crate::Dtype::Int32)?;
            let st: Vec<i64> = strides.iter().map(|&s| s as i64).collect();
            let idx = ops::as_strided(pos, &shape_of(out), &st, *offset)?;
            let flat = ops::zeros(&[a.size() as i32], cot.dtype())?;
            let g = ops::scatter_add_along_axis(
                flat,
                ops::reshape(idx, &[-1])?,
                ops::reshape(cot, &[-1])?,
                0,
            )?;
            vec![Some(ops::reshape(g, &shape_of(a))?)]
        }
        AsType => {
            let a = &inputs[0];
            if a.dtype().is_float() && cot.dtype().is_float() {
                vec![Some(ops::astype(cot, a.dtype())?)]
            } else {
                vec![None]
            }
        }
        Unary(op) => vec![unary_vjp(*op, x.expect("one input"), out, cot)?],
        Binary(op) => binary_vjp(*op, &inputs[0], &inputs[1], out, cot)?,
        Select => {
            let c = &inputs[0];
            let z = ops::zeros_like(cot)?;
            vec![
                None,
                Some(ops::r#where(c, cot, &z)?),
                Some(ops::r#where(c, &z, cot)?),
            ]
        }
        Reduce { op, .. } => {
            let a = &inputs[0];
            let sh = shape_of(a);
            let g = match op {
                ReduceOp::Sum => Some(ops::broadcast_to(cot, &sh)?),
                ReduceOp::Prod => Some(ops::divide(
                    ops::multiply(ops::broadcast_to(cot, &sh)?, out)?,
                    a,
                )?),
                ReduceOp::Max | ReduceOp::Min => {
                    let mask = ops::astype(ops::equal(a, out)?, cot.dtype())?;
                    let axes: Vec<i32> = (0..a.ndim())
                        .filter(|&d| out.shape()[d] == 1 && a.shape()[d] != 1)
                        .map(|d| d as i32)
                        .collect();
                    let cnt = ops::sum_axes(&mask, &axes, true)?;
                    Some(ops::divide(ops::multiply(&mask, cot)?, cnt)?)
                }
                ReduceOp::And | ReduceOp::Or => None,
            };
            vec![g]
        }
        Scan {
            op,
            axis,
            reverse,
            inclusive,
        } => vec![Some(scan_vjp(
            *op, *axis, *reverse, *inclusive, &inputs[0], out, cot,
        )?)],
        LogSumExp => {
            // d logsumexp: softmax(x) * g, with `out` (last axis kept) broadcast along the row
            let p = ops::exp(ops::subtract(&inputs[0], out)?)?;
            vec![Some(ops::multiply(p, cot)?)]
        }
        RmsNorm { eps_bits } => rms_norm_vjp(f32::from_bits(*eps_bits), inputs, cot)?,
        Sdpa { scale_bits, causal } => {
            // the gradient of the composed attention the fused kernel computes
            let (scale, causal) = (f32::from_bits(*scale_bits), *causal);
            let f = move |xs: &[Array]| -> Result<Vec<Array>> {
                Ok(vec![crate::fast::sdpa_composed(
                    &xs[0],
                    &xs[1],
                    &xs[2],
                    scale,
                    causal.then_some(crate::fast::SdpaMask::Causal),
                )?])
            };
            let (_, grads) = crate::autodiff::vjp(f, inputs, &[cot.clone()])?;
            grads.into_iter().map(Some).collect()
        }
        Rope {
            dims,
            traditional,
            base_bits,
            scale_bits,
            offset,
        } => {
            // the transpose of a rotation by θ is the rotation by -θ: the same rope with the
            // scale negated ((offset + l) · (-scale) · f = -θ exactly in f32)
            let neg = Rope {
                dims: *dims,
                traditional: *traditional,
                base_bits: *base_bits,
                scale_bits: (-f32::from_bits(*scale_bits)).to_bits(),
                offset: *offset,
            };
            let mut ins = vec![ops::astype(cot, inputs[0].dtype())?];
            ins.extend(inputs.get(1).cloned());
            let g = Array::from_op(
                inputs[0].shape().to_vec(),
                inputs[0].dtype(),
                cot.stream(),
                neg,
                ins,
            );
            let mut out = vec![Some(g)];
            if inputs.len() > 1 {
                out.push(None); // frequencies are not differentiated (as in MLX)
            }
            out
        }
        Softmax => {
            // d softmax: y * (g - sum(g * y, last axis))
            let gy = ops::multiply(cot, out)?;
            let s = ops::sum_axes(&gy, &[-1], true)?;
            vec![Some(ops::multiply(out, ops::subtract(cot, s)?)?)]
        }
        Matmul => {
            let (a, b) = (&inputs[0], &inputs[1]);
            let ga = ops::matmul(cot, ops::swapaxes(b, -1, -2)?)?;
            let gb = ops::matmul(ops::swapaxes(a, -1, -2)?, cot)?;
            vec![Some(ga), Some(gb)]
        }
        Take { axis } => {
            let (a, idx) = (&inputs[0], &inputs[1]);
            let ax = *axis;
            let ni = idx.size() as i32;
            let mut cshape: Vec<i32> = a.shape()[..ax].iter().map(|&d| d as i32).collect();
            cshape.push(ni);
            cshape.extend(a.shape()[ax + 1..].iter().map(|&d| d as i32));
            let c = ops::reshape(cot, &cshape)?;
            let mut ishape = vec![1i32; a.ndim()];
            ishape[ax] = ni;
            let i = ops::broadcast_to(ops::reshape(idx, &ishape)?, &cshape)?;
            let g =
                ops::scatter_add_along_axis(zeros_of(a)?.astype(cot.dtype())?, i, c, ax as i32)?;
            vec![Some(g), None]
        }
        TakeAlongAxis { axis } => {
            let (a, idx) = (&inputs[0], &inputs[1]);
            let g = ops::scatter_add_along_axis(
                zeros_of(a)?.astype(cot.dtype())?,
                idx,
                cot,
                *axis as i32,
            )?;
            vec![Some(g), None]
        }
        ScatterAlongAxis { axis, mode } => {
            let idx = &inputs[1];
            let ax = *axis as i32;
            let gu = ops::take_along_axis(cot, idx, ax)?;
            let ga = match mode {
                ScatterMode::Add => cot.clone(),
                ScatterMode::Set => ops::put_along_axis(cot, idx, ops::zeros_like(&gu)?, ax)?,
            };
            vec![Some(ga), None, Some(gu)]
        }
        Sort { axis } => {
            let a = &inputs[0];
            let idx = ops::argsort(a, Some(*axis as i32))?;
            vec![Some(ops::scatter_add_along_axis(
                zeros_of(a)?.astype(cot.dtype())?,
                idx,
                cot,
                *axis as i32,
            )?)]
        }
        Concatenate { axis } => {
            let mut start = 0usize;
            let mut grads = Vec::with_capacity(inputs.len());
            for a in inputs {
                let n = a.shape()[*axis];
                grads.push(Some(crate::ops::slice_axis_range(
                    cot,
                    *axis,
                    start,
                    start + n,
                )?));
                start += n;
            }
            grads
        }
        SliceUpdate { start, step } => {
            let upd = &inputs[1];
            let region = Array::from_op(
                upd.shape().to_vec(),
                cot.dtype(),
                cot.stream(),
                Slice {
                    start: start.clone(),
                    step: step.clone(),
                },
                vec![cot.clone()],
            );
            let z = ops::zeros(&shape_of(upd), cot.dtype())?;
            let ga = Array::from_op(
                cot.shape().to_vec(),
                cot.dtype(),
                cot.stream(),
                SliceUpdate {
                    start: start.clone(),
                    step: step.clone(),
                },
                vec![cot.clone(), z],
            );
            vec![Some(ga), Some(region)]
        }
    })
}

fn c(v: f64, like: &Array) -> Array {
    ops::full(&[], v, like.dtype()).expect("scalar")
}

fn unary_vjp(op: UnaryOp, x: &Array, out: &Array, g: &Array) -> Result<Option<Array>> {
    use ops::*;
    use UnaryOp::*;
    let one = c(1.0, x);
    Ok(Some(match op {
        Negative => negative(g)?,
        Abs => multiply(g, sign(x)?)?,
        Sign | Floor | Ceil | Round => zeros_like(x)?,
        Square => multiply(multiply(g, x)?, c(2.0, x))?,
        Sqrt => divide(g, multiply(out, c(2.0, x))?)?,
        Rsqrt => multiply(multiply(g, c(-0.5, x))?, power(out, c(3.0, x))?)?,
        Reciprocal => negative(multiply(g, square(out)?)?)?,
        Exp => multiply(g, out)?,
        Expm1 => multiply(g, add(out, &one)?)?,
        Log => divide(g, x)?,
        Log1p => divide(g, add(x, &one)?)?,
        Log2 => divide(g, multiply(x, c(std::f64::consts::LN_2, x))?)?,
        Log10 => divide(g, multiply(x, c(std::f64::consts::LN_10, x))?)?,
        Sin => multiply(g, cos(x)?)?,
        Cos => negative(multiply(g, sin(x)?)?)?,
        Tan => multiply(g, add(&one, square(out)?)?)?,
        Arcsin => multiply(g, rsqrt(subtract(&one, square(x)?)?)?)?,
        Arccos => negative(multiply(g, rsqrt(subtract(&one, square(x)?)?)?)?)?,
        Arctan => divide(g, add(&one, square(x)?)?)?,
        Sinh => multiply(g, cosh(x)?)?,
        Cosh => multiply(g, sinh(x)?)?,
        Tanh => multiply(g, subtract(&one, square(out)?)?)?,
        Arcsinh => multiply(g, rsqrt(add(square(x)?, &one)?)?)?,
        Arccosh => multiply(g, rsqrt(subtract(square(x)?, &one)?)?)?,
        Arctanh => divide(g, subtract(&one, square(x)?)?)?,
        Sigmoid => multiply(g, multiply(out, subtract(&one, out)?)?)?,
        Erf => multiply(
            g,
            multiply(
                exp(negative(square(x)?)?)?,
                c(2.0 / std::f64::consts::PI.sqrt(), x),
            )?,
        )?,
        Erfinv => multiply(
            g,
            multiply(exp(square(out)?)?, c(std::f64::consts::PI.sqrt() / 2.0, x))?,
        )?,
        LogicalNot | BitwiseInvert | IsNan | IsInf => return Ok(None),
    }))
}

fn binary_vjp(op: BinaryOp, a: &Array, b: &Array, out: &Array, g: &Array) -> Result<Grads> {
    use ops::*;
    use BinaryOp::*;
    if !a.dtype().is_float() {
        return Ok(vec![None, None]);
    }
    Ok(match op {
        Add => vec![Some(g.clone()), Some(g.clone())],
        Subtract => vec![Some(g.clone()), Some(negative(g)?)],
        Multiply => vec![Some(multiply(g, b)?), Some(multiply(g, a)?)],
        Divide => vec![
            Some(divide(g, b)?),
            Some(negative(divide(multiply(g, out)?, b)?)?),
        ],
        FloorDivide => vec![Some(zeros_like(a)?), Some(zeros_like(b)?)],
        Remainder => vec![
            Some(g.clone()),
            Some(negative(multiply(g, floor_divide(a, b)?)?)?),
        ],
        Power => {
            let one = c(1.0, a);
            let ga = multiply(g, multiply(b, power(a, subtract(b, &one)?)?)?)?;
            let loga = r#where(greater(a, c(0.0, a))?, log(a)?, zeros_like(a)?)?;
            vec![Some(ga), Some(multiply(g, multiply(out, loga)?)?)]
        }
        Maximum | Minimum => {
            let take_a = if op == Maximum {
                greater_equal(a, b)?
            } else {
                less_equal(a, b)?
            };
            let z = zeros_like(g)?;
            vec![
                Some(r#where(&take_a, g, &z)?),
                Some(r#where(&take_a, &z, g)?),
            ]
        }
        Arctan2 => {
            let den = add(square(a)?, square(b)?)?;
            vec![
                Some(divide(multiply(g, b)?, &den)?),
                Some(negative(divide(multiply(g, a)?, &den)?)?),
            ]
        }
        LogAddExp => vec![
            Some(multiply(g, exp(subtract(a, out)?)?)?),
            Some(multiply(g, exp(subtract(b, out)?)?)?),
        ],
        SiluMul => {
            // d/da = b·σ(a)·(1 + a·(1 − σ(a))), d/db = a·σ(a)
            let s = sigmoid(a)?;
            let silu = multiply(a, &s)?;
            let slope = multiply(&s, add(multiply(a, subtract(1.0f32, &s)?)?, 1.0f32)?)?;
            vec![
                Some(multiply(multiply(g, b)?, slope)?),
                Some(multiply(g, silu)?),
            ]
        }
        Equal | NotEqual | Less | LessEqual | Greater | GreaterEqual | LogicalAnd | LogicalOr
        | BitwiseAnd | BitwiseOr | BitwiseXor | LeftShift | RightShift => vec![None, None],
    })
}

fn scan_vjp(
    op: ScanOp,
    axis: usize,
    reverse: bool,
    inclusive: bool,
    x: &Array,
    out: &Array,
    g: &Array,
) -> Result<Array> {
    let ax = axis as i32;
    let n = x.shape()[axis];
    if !inclusive {
        // out_excl[j] = out_incl[j - 1] (forward): shift the cotangent onto the inclusive scan.
        let incl = Array::from_op(
            x.shape().to_vec(),
            out.dtype(),
            out.stream(),
            Primitive::Scan {
                op,
                axis,
                reverse,
                inclusive: true,
            },
            vec![x.clone()],
        );
        let z = ops::zeros(
            &{
                let mut s = shape_of(g);
                s[axis] = 1;
                s
            },
            g.dtype(),
        )?;
        let gi = if !reverse {
            ops::concatenate(&[ops::slice_axis_range(g, axis, 1, n)?, z], ax)?
        } else {
            ops::concatenate(
                &[z, ops::slice_axis_range(g, axis, 0, n.saturating_sub(1))?],
                ax,
            )?
        };
        return scan_vjp(op, axis, reverse, true, x, &incl, &gi);
    }
    match op {
        ScanOp::Sum => ops::cumsum(g, Some(ax), !reverse, true),
        ScanOp::Prod => ops::divide(
            ops::cumsum(ops::multiply(g, out)?, Some(ax), !reverse, true)?,
            x,
        ),
        ScanOp::Max | ScanOp::Min => {
            if reverse {
                let fx = ops::flip(x, Some(&[ax]))?;
                let fo = ops::flip(out, Some(&[ax]))?;
                let fg = ops::flip(g, Some(&[ax]))?;
                return ops::flip(scan_vjp(op, axis, false, true, &fx, &fo, &fg)?, Some(&[ax]));
            }
            // Each output's gradient goes to the latest position that attained the running extremum.
            let mut ishape = vec![1i32; x.ndim()];
            ishape[axis] = n as i32;
            let pos = ops::broadcast_to(
                ops::reshape(
                    ops::arange(0.0, n as f64, 1.0, crate::Dtype::Int32)?,
                    &ishape,
                )?,
                &shape_of(x),
            )?;
            let attained = ops::equal(x, out)?;
            let marks = ops::r#where(
                attained,
                pos,
                c(-1.0, &ops::full(&[], 0.0, crate::Dtype::Int32)?),
            )?;
            let idx = ops::cummax(marks, Some(ax), false, true)?;
            ops::scatter_add_along_axis(ops::zeros_like(g)?, idx, g, ax)
        }
    }
}
