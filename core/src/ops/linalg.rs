//! Matrix products: matmul (batched, broadcast, 1-D promotion as in NumPy), addmm, outer, inner,
//! tensordot. Transposed and sliced operands are passed as views; backends read them in place or
//! copy as their kernels need.

use super::elementwise::shape_i32;
use super::{axis_of, IntoArray};
use crate::layout::broadcast_shapes;
use crate::primitive::Primitive;
use crate::{Array, Error, Result, Stream};

/// Matrix product with NumPy semantics: 1-D operands gain (and then lose) a unit axis, batch axes
/// broadcast. Floating-point dtypes only, as in MLX.
pub fn matmul_device(
    a: impl IntoArray,
    b: impl IntoArray,
    stream: impl Into<Stream>,
) -> Result<Array> {
    let s = stream.into();
    let (a, b) = (a.into_array(), b.into_array());
    if a.ndim() == 0 || b.ndim() == 0 {
        return Err(Error::shape(
            "matmul",
            "operands must have at least one dimension",
        ));
    }
    let dt = super::result_type(&a, &b);
    if !dt.is_float() {
        return Err(Error::dtype(
            "matmul",
            dt,
            "only floating-point types are supported (as in MLX)",
        ));
    }
    let (a1, b1) = (a.ndim() == 1, b.ndim() == 1);
    let a = if a1 {
        super::reshape_device(&a, &[1, -1], s)?
    } else {
        a
    };
    let b = if b1 {
        super::reshape_device(&b, &[-1, 1], s)?
    } else {
        b
    };
    let (m, k) = (a.shape()[a.ndim() - 2], a.shape()[a.ndim() - 1]);
    let (k2, n) = (b.shape()[b.ndim() - 2], b.shape()[b.ndim() - 1]);
    if k != k2 {
        return Err(Error::shape(
            "matmul",
            format!("inner dimensions differ: {:?} @ {:?}", a.shape(), b.shape()),
        ));
    }
    let batch = broadcast_shapes(
        "matmul",
        &a.shape()[..a.ndim() - 2],
        &b.shape()[..b.ndim() - 2],
    )?;
    let mut sa = shape_i32(&batch);
    sa.extend([m as i32, k as i32]);
    let mut sb = shape_i32(&batch);
    sb.extend([k as i32, n as i32]);
    let a = super::broadcast_to_device(&super::astype_device(&a, dt, s)?, &sa, s)?;
    let b = super::broadcast_to_device(&super::astype_device(&b, dt, s)?, &sb, s)?;
    let mut out = batch.clone();
    out.extend([m, n]);
    let r = Array::from_op(out.clone(), dt, s, Primitive::Matmul, vec![a, b]);
    if !a1 && !b1 {
        return Ok(r);
    }
    let mut fin = shape_i32(&batch);
    if !a1 {
        fin.push(m as i32);
    }
    if !b1 {
        fin.push(n as i32);
    }
    super::reshape_device(r, &fin, s)
}
/// [`matmul_device`] on the default stream.
pub fn matmul(a: impl IntoArray, b: impl IntoArray) -> Result<Array> {
    matmul_device(a, b, Stream::default_stream())
}

/// `alpha * (a @ b) + beta * c`.
pub fn addmm_device(
    c: impl IntoArray,
    a: impl IntoArray,
    b: impl IntoArray,
    alpha: f32,
    beta: f32,
    stream: impl Into<Stream>,
) -> Result<Array> {
    let s = stream.into();
    let ab = matmul_device(a, b, s)?;
    let ab = if alpha == 1.0 {
        ab
    } else {
        super::multiply_device(ab, alpha, s)?
    };
    let c = c.into_array();
    let c = if beta == 1.0 {
        c
    } else {
        super::multiply_device(c, beta, s)?
    };
    super::add_device(ab, c, s)
}
/// [`addmm_device`] on the default stream.
pub fn addmm(
    c: impl IntoArray,
    a: impl IntoArray,
    b: impl IntoArray,
    alpha: f32,
    beta: f32,
) -> Result<Array> {
    addmm_device(c, a, b, alpha, beta, Stream::default_stream())
}

/// Outer product of the flattened operands.
pub fn outer_device(
    a: impl IntoArray,
    b: impl IntoArray,
    stream: impl Into<Stream>,
) -> Result<Array> {
    let s = stream.into();
    let a = super::reshape_device(a.into_array(), &[-1, 1], s)?;
    let b = super::reshape_device(b.into_array(), &[1, -1], s)?;
    super::multiply_device(a, b, s)
}
/// [`outer_device`] on the default stream.
pub fn outer(a: impl IntoArray, b: impl IntoArray) -> Result<Array> {
    outer_device(a, b, Stream::default_stream())
}

/// Sum-product over the last axes of `a` and `b`.
pub fn inner_device(
    a: impl IntoArray,
    b: impl IntoArray,
    stream: impl Into<Stream>,
) -> Result<Array> {
    let (a, b) = (a.into_array(), b.into_array());
    if a.ndim() == 0 || b.ndim() == 0 {
        return super::multiply_device(a, b, stream);
    }
    tensordot_device(&a, &b, &[-1], &[-1], stream)
}
/// [`inner_device`] on the default stream.
pub fn inner(a: impl IntoArray, b: impl IntoArray) -> Result<Array> {
    inner_device(a, b, Stream::default_stream())
}

/// Sum-product over `axes_a` of `a` paired with `axes_b` of `b`; output axes are `a`'s free axes
/// then `b`'s.
pub fn tensordot_device(
    a: impl IntoArray,
    b: impl IntoArray,
    axes_a: &[i32],
    axes_b: &[i32],
    stream: impl Into<Stream>,
) -> Result<Array> {
    let s = stream.into();
    let (a, b) = (a.into_array(), b.into_array());
    if axes_a.len() != axes_b.len() {
        return Err(Error::arg(
            "tensordot",
            "axes_a and axes_b need the same length",
        ));
    }
    let ca: Vec<usize> = axes_a
        .iter()
        .map(|&x| axis_of("tensordot", x, a.ndim()))
        .collect::<Result<_>>()?;
    let cb: Vec<usize> = axes_b
        .iter()
        .map(|&x| axis_of("tensordot", x, b.ndim()))
        .collect::<Result<_>>()?;
    for (&i, &j) in ca.iter().zip(&cb) {
        if a.shape()[i] != b.shape()[j] {
            return Err(Error::shape(
                "tensordot",
                format!(
                    "contracted axes differ: {} vs {}",
                    a.shape()[i],
                    b.shape()[j]
                ),
            ));
        }
    }
    let fa: Vec<usize> = (0..a.ndim()).filter(|d| !ca.contains(d)).collect();
    let fb: Vec<usize> = (0..b.ndim()).filter(|d| !cb.contains(d)).collect();
    let k: usize = ca.iter().map(|&d| a.shape()[d]).product();
    let pa: Vec<i32> = fa.iter().chain(&ca).map(|&d| d as i32).collect();
    let pb: Vec<i32> = cb.iter().chain(&fb).map(|&d| d as i32).collect();
    let ma: usize = fa.iter().map(|&d| a.shape()[d]).product();
    let nb: usize = fb.iter().map(|&d| b.shape()[d]).product();
    let a2 = super::reshape_device(
        super::transpose_device(&a, Some(&pa), s)?,
        &[ma as i32, k as i32],
        s,
    )?;
    let b2 = super::reshape_device(
        super::transpose_device(&b, Some(&pb), s)?,
        &[k as i32, nb as i32],
        s,
    )?;
    let r = matmul_device(a2, b2, s)?;
    let out: Vec<i32> = fa
        .iter()
        .map(|&d| a.shape()[d] as i32)
        .chain(fb.iter().map(|&d| b.shape()[d] as i32))
        .collect();
    super::reshape_device(r, &out, s)
}
/// [`tensordot_device`] on the default stream.
pub fn tensordot(
    a: impl IntoArray,
    b: impl IntoArray,
    axes_a: &[i32],
    axes_b: &[i32],
) -> Result<Array> {
    tensordot_device(a, b, axes_a, axes_b, Stream::default_stream())
}
