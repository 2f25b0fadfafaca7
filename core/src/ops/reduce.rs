//! Reductions and scans: sum, prod, max, min, all, any, mean, var, std, argmax, argmin,
//! logsumexp, softmax, cumsum, cumprod, cummax, cummin. Each reduction has MLX's three forms:
//! `f(a, keepdims)` over all axes, `f_axes(a, &axes, keepdims)` and `f_axis(a, axis, keepdims)`.

use super::{axes_of, axis_of, IntoArray};
use crate::primitive::{ArgReduceOp, Primitive, ReduceOp, ScanOp};
use crate::{Array, Dtype, Error, Result, Stream};

/// MLX's accumulator dtype for sum/prod: bool and small ints widen to 32 bits.
pub(crate) fn sum_dtype(dt: Dtype) -> Dtype {
    match dt {
        Dtype::Bool | Dtype::Int8 | Dtype::Int16 => Dtype::Int32,
        Dtype::Uint8 | Dtype::Uint16 => Dtype::Uint32,
        d => d,
    }
}

fn reduce(
    op: ReduceOp,
    a: Array,
    axes: Option<&[i32]>,
    keepdims: bool,
    s: Stream,
) -> Result<Array> {
    let name = Primitive::Reduce { op, axes: vec![] }.name();
    let axes = axes_of(name, axes, a.ndim())?;
    let out_dt = match op {
        ReduceOp::Sum | ReduceOp::Prod => sum_dtype(a.dtype()),
        ReduceOp::Max | ReduceOp::Min => a.dtype(),
        ReduceOp::And | ReduceOp::Or => Dtype::Bool,
    };
    if matches!(op, ReduceOp::Max | ReduceOp::Min) && axes.iter().any(|&ax| a.shape()[ax] == 0) {
        return Err(Error::arg(
            name,
            "cannot reduce an empty axis (no identity for max/min)",
        ));
    }
    let a = super::astype_device(&a, out_dt, s)?;
    let mut kept = a.shape().to_vec();
    for &ax in &axes {
        kept[ax] = 1;
    }
    let r = if axes.is_empty() {
        a
    } else {
        Array::from_op(
            kept.clone(),
            out_dt,
            s,
            Primitive::Reduce {
                op,
                axes: axes.clone(),
            },
            vec![a],
        )
    };
    if keepdims {
        return Ok(r);
    }
    let out: Vec<i32> = (0..kept.len())
        .filter(|i| !axes.contains(i))
        .map(|i| kept[i] as i32)
        .collect();
    super::reshape_device(r, &out, s)
}

macro_rules! reductions {
    ($($(#[$doc:meta])* $op:ident: $all:ident, $axes:ident, $axis:ident, $dev:ident;)*) => {$(
        $(#[$doc])*
        /// (`axes`: `None` = all axes; `keepdims` keeps reduced axes with size 1.)
        pub fn $dev(a: impl IntoArray, axes: Option<&[i32]>, keepdims: bool, stream: impl Into<Stream>) -> Result<Array> {
            reduce(ReduceOp::$op, a.into_array(), axes, keepdims, stream.into())
        }
        $(#[$doc])*
        /// (over every axis)
        pub fn $all(a: impl IntoArray, keepdims: bool) -> Result<Array> {
            $dev(a, None, keepdims, Stream::default_stream())
        }
        $(#[$doc])*
        /// (over `axes`)
        pub fn $axes(a: impl IntoArray, axes: &[i32], keepdims: bool) -> Result<Array> {
            $dev(a, Some(axes), keepdims, Stream::default_stream())
        }
        $(#[$doc])*
        /// (over one axis)
        pub fn $axis(a: impl IntoArray, axis: i32, keepdims: bool) -> Result<Array> {
            $dev(a, Some(&[axis]), keepdims, Stream::default_stream())
        }
    )*};
}

reductions! {
    /// Sum (bool and small ints accumulate in 32 bits).
    Sum: sum, sum_axes, sum_axis, sum_device;
    /// Product.
    Prod: prod, prod_axes, prod_axis, prod_device;
    /// Maximum.
    Max: max, max_axes, max_axis, max_device;
    /// Minimum.
    Min: min, min_axes, min_axis, min_device;
    /// True when every element is non-zero.
    And: all, all_axes, all_axis, all_device;
    /// True when some element is non-zero.
    Or: any, any_axes, any_axis, any_device;
}

fn count(a: &Array, axes: Option<&[i32]>) -> Result<usize> {
    let ax = axes_of("mean", axes, a.ndim())?;
    Ok(ax.iter().map(|&i| a.shape()[i]).product())
}

/// Mean (float output; ints become float32).
pub fn mean_device(
    a: impl IntoArray,
    axes: Option<&[i32]>,
    keepdims: bool,
    stream: impl Into<Stream>,
) -> Result<Array> {
    let s = stream.into();
    let a = a.into_array();
    let dt = a.dtype().to_float();
    let n = count(&a, axes)?;
    let total = sum_device(super::astype_device(&a, dt, s)?, axes, keepdims, s)?;
    super::divide_device(total, super::creation::scalar(n as f64, dt), s)
}
/// Mean over every axis.
pub fn mean(a: impl IntoArray, keepdims: bool) -> Result<Array> {
    mean_device(a, None, keepdims, Stream::default_stream())
}
/// Mean over `axes`.
pub fn mean_axes(a: impl IntoArray, axes: &[i32], keepdims: bool) -> Result<Array> {
    mean_device(a, Some(axes), keepdims, Stream::default_stream())
}
/// Mean over one axis.
pub fn mean_axis(a: impl IntoArray, axis: i32, keepdims: bool) -> Result<Array> {
    mean_device(a, Some(&[axis]), keepdims, Stream::default_stream())
}

/// Variance with `ddof` delta degrees of freedom.
pub fn var_device(
    a: impl IntoArray,
    axes: Option<&[i32]>,
    keepdims: bool,
    ddof: i32,
    stream: impl Into<Stream>,
) -> Result<Array> {
    let s = stream.into();
    let a = a.into_array();
    let dt = a.dtype().to_float();
    let x = super::astype_device(&a, dt, s)?;
    let n = count(&a, axes)? as f64;
    let mu = mean_device(&x, axes, true, s)?;
    let sq = super::square_device(super::subtract_device(&x, mu, s)?, s)?;
    let total = sum_device(sq, axes, keepdims, s)?;
    let denom = (n - ddof as f64).max(0.0);
    super::divide_device(total, super::creation::scalar(denom, dt), s)
}
/// Variance over every axis.
pub fn var(a: impl IntoArray, keepdims: bool, ddof: i32) -> Result<Array> {
    var_device(a, None, keepdims, ddof, Stream::default_stream())
}
/// Variance over `axes`.
pub fn var_axes(a: impl IntoArray, axes: &[i32], keepdims: bool, ddof: i32) -> Result<Array> {
    var_device(a, Some(axes), keepdims, ddof, Stream::default_stream())
}
/// Standard deviation with `ddof`.
pub fn std_device(
    a: impl IntoArray,
    axes: Option<&[i32]>,
    keepdims: bool,
    ddof: i32,
    stream: impl Into<Stream>,
) -> Result<Array> {
    let s = stream.into();
    super::sqrt_device(var_device(a, axes, keepdims, ddof, s)?, s)
}
/// Standard deviation over every axis.
pub fn std(a: impl IntoArray, keepdims: bool, ddof: i32) -> Result<Array> {
    std_device(a, None, keepdims, ddof, Stream::default_stream())
}
/// Standard deviation over `axes`.
pub fn std_axes(a: impl IntoArray, axes: &[i32], keepdims: bool, ddof: i32) -> Result<Array> {
    std_device(a, Some(axes), keepdims, ddof, Stream::default_stream())
}

fn arg_reduce(
    op: ArgReduceOp,
    a: Array,
    axis: Option<i32>,
    keepdims: bool,
    s: Stream,
) -> Result<Array> {
    let name = Primitive::ArgReduce { op, axis: 0 }.name();
    let (x, ax) = match axis {
        Some(ax) => (a.clone(), axis_of(name, ax, a.ndim())?),
        None => (super::reshape_device(&a, &[-1], s)?, 0),
    };
    if x.shape()[ax] == 0 {
        return Err(Error::arg(
            name,
            "cannot take the arg-extremum of an empty axis",
        ));
    }
    let mut kept = x.shape().to_vec();
    kept[ax] = 1;
    let r = Array::from_op(
        kept.clone(),
        Dtype::Uint32,
        s,
        Primitive::ArgReduce { op, axis: ax },
        vec![x],
    );
    match (keepdims, axis) {
        (true, Some(_)) => Ok(r),
        (true, None) => super::reshape_device(r, &vec![1; a.ndim()], s),
        (false, _) => {
            let out: Vec<i32> = (0..kept.len())
                .filter(|&i| i != ax)
                .map(|i| kept[i] as i32)
                .collect();
            super::reshape_device(r, &out, s)
        }
    }
}
/// Index (uint32) of the maximum along `axis` (`None`: of the flattened array); first wins.
pub fn argmax_device(
    a: impl IntoArray,
    axis: Option<i32>,
    keepdims: bool,
    stream: impl Into<Stream>,
) -> Result<Array> {
    arg_reduce(
        ArgReduceOp::ArgMax,
        a.into_array(),
        axis,
        keepdims,
        stream.into(),
    )
}
/// Index of the maximum of the flattened array.
pub fn argmax(a: impl IntoArray, keepdims: bool) -> Result<Array> {
    argmax_device(a, None, keepdims, Stream::default_stream())
}
/// Index of the maximum along `axis`.
pub fn argmax_axis(a: impl IntoArray, axis: i32, keepdims: bool) -> Result<Array> {
    argmax_device(a, Some(axis), keepdims, Stream::default_stream())
}
/// Index (uint32) of the minimum along `axis` (`None`: of the flattened array); first wins.
pub fn argmin_device(
    a: impl IntoArray,
    axis: Option<i32>,
    keepdims: bool,
    stream: impl Into<Stream>,
) -> Result<Array> {
    arg_reduce(
        ArgReduceOp::ArgMin,
        a.into_array(),
        axis,
        keepdims,
        stream.into(),
    )
}
/// Index of the minimum of the flattened array.
pub fn argmin(a: impl IntoArray, keepdims: bool) -> Result<Array> {
    argmin_device(a, None, keepdims, Stream::default_stream())
}
/// Index of the minimum along `axis`.
pub fn argmin_axis(a: impl IntoArray, axis: i32, keepdims: bool) -> Result<Array> {
    argmin_device(a, Some(axis), keepdims, Stream::default_stream())
}

/// `log(sum(exp(a)))`, stable (the maximum is subtracted first).
pub fn logsumexp_device(
    a: impl IntoArray,
    axes: Option<&[i32]>,
    keepdims: bool,
    stream: impl Into<Stream>,
) -> Result<Array> {
    let s = stream.into();
    let a = a.into_array();
    let x = super::astype_device(&a, a.dtype().to_float(), s)?;
    let last_axis_only = match axes {
        None => x.ndim() == 1,
        Some(ax) => {
            ax.len() == 1 && x.ndim() > 0 && axis_of("logsumexp", ax[0], x.ndim())? == x.ndim() - 1
        }
    };
    if last_axis_only && x.size() > 0 {
        // one fused pass per row (max, then sum of exp) instead of six graph nodes
        let mut kept = x.shape().to_vec();
        *kept.last_mut().expect("ndim > 0") = 1;
        let out = Array::from_op(kept, x.dtype(), s, Primitive::LogSumExp, vec![x]);
        if keepdims {
            return Ok(out);
        }
        let shape: Vec<i32> = a.shape()[..a.ndim() - 1]
            .iter()
            .map(|&d| d as i32)
            .collect();
        return super::reshape_device(out, &shape, s);
    }
    let m = super::stop_gradient(max_device(&x, axes, true, s)?)?;
    let zero = super::creation::scalar(0.0, x.dtype());
    let m = super::where_device(super::isinf_device(&m, s)?, zero, &m, s)?;
    let e = super::exp_device(super::subtract_device(&x, &m, s)?, s)?;
    let l = super::log_device(sum_device(e, axes, true, s)?, s)?;
    let out = super::add_device(l, m, s)?;
    if keepdims {
        return Ok(out);
    }
    let ax = axes_of("logsumexp", axes, a.ndim())?;
    let shape: Vec<i32> = (0..a.ndim())
        .filter(|i| !ax.contains(i))
        .map(|i| a.shape()[i] as i32)
        .collect();
    super::reshape_device(out, &shape, s)
}
/// logsumexp over every axis.
pub fn logsumexp(a: impl IntoArray, keepdims: bool) -> Result<Array> {
    logsumexp_device(a, None, keepdims, Stream::default_stream())
}
/// logsumexp over `axes`.
pub fn logsumexp_axes(a: impl IntoArray, axes: &[i32], keepdims: bool) -> Result<Array> {
    logsumexp_device(a, Some(axes), keepdims, Stream::default_stream())
}

/// `exp(a - max) / sum(exp(a - max))` over `axes`: numerically stable for any magnitude.
pub fn softmax_device(
    a: impl IntoArray,
    axes: Option<&[i32]>,
    stream: impl Into<Stream>,
) -> Result<Array> {
    let s = stream.into();
    let a = a.into_array();
    let x = super::astype_device(&a, a.dtype().to_float(), s)?;
    let last_axis_only = match axes {
        None => x.ndim() == 1,
        Some(ax) => {
            ax.len() == 1 && x.ndim() > 0 && axis_of("softmax", ax[0], x.ndim())? == x.ndim() - 1
        }
    };
    if last_axis_only && x.size() > 0 {
        // one fused pass per row (max, sum of exp, normalise) instead of four graph nodes
        return Ok(Array::from_op(
            x.shape().to_vec(),
            x.dtype(),
            s,
            Primitive::Softmax,
            vec![x],
        ));
    }
    let m = super::stop_gradient(max_device(&x, axes, true, s)?)?;
    let e = super::exp_device(super::subtract_device(&x, m, s)?, s)?;
    let total = sum_device(&e, axes, true, s)?;
    super::divide_device(e, total, s)
}
/// Softmax over every axis.
pub fn softmax(a: impl IntoArray) -> Result<Array> {
    softmax_device(a, None, Stream::default_stream())
}
/// Softmax over `axes`.
pub fn softmax_axes(a: impl IntoArray, axes: &[i32]) -> Result<Array> {
    softmax_device(a, Some(axes), Stream::default_stream())
}
/// Softmax over one axis.
pub fn softmax_axis(a: impl IntoArray, axis: i32) -> Result<Array> {
    softmax_device(a, Some(&[axis]), Stream::default_stream())
}

fn scan(
    op: ScanOp,
    a: Array,
    axis: Option<i32>,
    reverse: bool,
    inclusive: bool,
    s: Stream,
) -> Result<Array> {
    let name = Primitive::Scan {
        op,
        axis: 0,
        reverse,
        inclusive,
    }
    .name();
    let (x, ax) = match axis {
        Some(ax) => (a.clone(), axis_of(name, ax, a.ndim())?),
        None => (super::reshape_device(&a, &[-1], s)?, 0),
    };
    // MLX: scans keep the dtype (small ints wrap), except that cumsum of bool counts in int32
    let dt = if op == ScanOp::Sum && x.dtype() == Dtype::Bool {
        Dtype::Int32
    } else {
        x.dtype()
    };
    let x = super::astype_device(&x, dt, s)?;
    Ok(Array::from_op(
        x.shape().to_vec(),
        dt,
        s,
        Primitive::Scan {
            op,
            axis: ax,
            reverse,
            inclusive,
        },
        vec![x],
    ))
}

macro_rules! scans {
    ($($(#[$doc:meta])* $op:ident: $name:ident, $dev:ident;)*) => {$(
        $(#[$doc])*
        /// (`axis` `None`: of the flattened array; `reverse` scans from the end; `inclusive`
        /// includes the current element.)
        pub fn $dev(a: impl IntoArray, axis: Option<i32>, reverse: bool, inclusive: bool, stream: impl Into<Stream>) -> Result<Array> {
            scan(ScanOp::$op, a.into_array(), axis, reverse, inclusive, stream.into())
        }
        $(#[$doc])*
        pub fn $name(a: impl IntoArray, axis: Option<i32>, reverse: bool, inclusive: bool) -> Result<Array> {
            $dev(a, axis, reverse, inclusive, Stream::default_stream())
        }
    )*};
}

scans! {
    /// Cumulative sum.
    Sum: cumsum, cumsum_device;
    /// Cumulative product.
    Prod: cumprod, cumprod_device;
    /// Cumulative maximum.
    Max: cummax, cummax_device;
    /// Cumulative minimum.
    Min: cummin, cummin_device;
}
