//! Shapes and strides: broadcasting, axis normalisation, contiguity and index arithmetic shared by
//! every backend.

use crate::{Error, Result};

/// Number of elements of a shape.
pub fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// Row-major (C) strides of a shape, in elements.
pub fn row_major_strides(shape: &[usize]) -> Vec<isize> {
    let mut strides = vec![0isize; shape.len()];
    let mut acc = 1isize;
    for i in (0..shape.len()).rev() {
        strides[i] = acc;
        acc *= shape[i].max(1) as isize;
    }
    strides
}

/// True when `strides` describe a dense row-major layout of `shape` (size-1 dims ignored).
pub fn is_row_contiguous(shape: &[usize], strides: &[isize]) -> bool {
    let mut acc = 1isize;
    for i in (0..shape.len()).rev() {
        if shape[i] == 1 {
            continue;
        }
        if strides[i] != acc {
            return false;
        }
        acc *= shape[i] as isize;
    }
    true
}

/// Broadcasts two shapes with NumPy rules.
pub fn broadcast_shapes(op: &'static str, a: &[usize], b: &[usize]) -> Result<Vec<usize>> {
    let n = a.len().max(b.len());
    let mut out = vec![0; n];
    for i in 0..n {
        let da = if i + a.len() >= n {
            a[i + a.len() - n]
        } else {
            1
        };
        let db = if i + b.len() >= n {
            b[i + b.len() - n]
        } else {
            1
        };
        out[i] = if da == db || db == 1 {
            da
        } else if da == 1 {
            db
        } else {
            return Err(Error::shape(
                op,
                format!("cannot broadcast {a:?} with {b:?}"),
            ));
        };
    }
    Ok(out)
}

/// Normalises a possibly negative axis into `[0, ndim)`.
pub fn normalize_axis(op: &'static str, axis: isize, ndim: usize) -> Result<usize> {
    let n = ndim as isize;
    if axis < -n || axis >= n {
        return Err(Error::Axis { op, axis, ndim });
    }
    Ok(if axis < 0 {
        (axis + n) as usize
    } else {
        axis as usize
    })
}

/// Normalises a list of axes, rejecting repeats; `None` means all axes.
pub fn normalize_axes(op: &'static str, axes: Option<&[isize]>, ndim: usize) -> Result<Vec<usize>> {
    let Some(axes) = axes else {
        return Ok((0..ndim).collect());
    };
    let mut out = Vec::with_capacity(axes.len());
    for &a in axes {
        let ax = normalize_axis(op, a, ndim)?;
        if out.contains(&ax) {
            return Err(Error::arg(op, format!("axis {a} is repeated in {axes:?}")));
        }
        out.push(ax);
    }
    out.sort_unstable();
    Ok(out)
}

/// Iterates the element offsets of a strided view in row-major order.
pub struct StridedIter<'a> {
    shape: &'a [usize],
    strides: &'a [isize],
    index: Vec<usize>,
    offset: isize,
    remaining: usize,
}

impl<'a> StridedIter<'a> {
    /// Starts at `offset` (in elements).
    pub fn new(shape: &'a [usize], strides: &'a [isize], offset: isize) -> Self {
        StridedIter {
            shape,
            strides,
            index: vec![0; shape.len()],
            offset,
            remaining: numel(shape),
        }
    }
    /// Starts at flat position `start` of the view.
    pub fn starting_at(
        shape: &'a [usize],
        strides: &'a [isize],
        offset: isize,
        start: usize,
    ) -> Self {
        let mut it = Self::new(shape, strides, offset);
        let total = it.remaining;
        let mut rem = start;
        for d in (0..shape.len()).rev() {
            let s = shape[d].max(1);
            it.index[d] = rem % s;
            rem /= s;
            it.offset += it.index[d] as isize * strides[d];
        }
        it.remaining = total.saturating_sub(start);
        it
    }
}

impl Iterator for StridedIter<'_> {
    type Item = isize;
    fn next(&mut self) -> Option<isize> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        let cur = self.offset;
        for d in (0..self.shape.len()).rev() {
            self.index[d] += 1;
            self.offset += self.strides[d];
            if self.index[d] < self.shape[d] {
                break;
            }
            self.offset -= self.strides[d] * self.shape[d] as isize;
            self.index[d] = 0;
        }
        Some(cur)
    }
}

/// Offset (in elements) of flat row-major position `flat` of a strided view.
pub fn strided_offset(shape: &[usize], strides: &[isize], offset: isize, mut flat: usize) -> isize {
    let mut off = offset;
    for d in (0..shape.len()).rev() {
        let s = shape[d].max(1);
        off += (flat % s) as isize * strides[d];
        flat /= s;
    }
    off
}

/// Drops size-1 dimensions and merges dimensions that are contiguous with each other, so that
/// kernels loop over as few dimensions as possible. Returns the collapsed (shape, strides) for
/// each of several views of the same shape.
pub fn collapse_dims(shape: &[usize], strides: &[&[isize]]) -> (Vec<usize>, Vec<Vec<isize>>) {
    let mut out_shape: Vec<usize> = Vec::new();
    let mut out_strides: Vec<Vec<isize>> = vec![Vec::new(); strides.len()];
    for d in 0..shape.len() {
        if shape[d] == 1 {
            continue;
        }
        let mergeable = !out_shape.is_empty()
            && strides.iter().enumerate().all(|(k, s)| {
                let last = *out_strides[k].last().unwrap();
                last == s[d] * shape[d] as isize
            });
        if mergeable {
            let n = out_shape.len() - 1;
            out_shape[n] *= shape[d];
            for (k, s) in strides.iter().enumerate() {
                *out_strides[k].last_mut().unwrap() = s[d];
            }
        } else {
            out_shape.push(shape[d]);
            for (k, s) in strides.iter().enumerate() {
                out_strides[k].push(s[d]);
            }
        }
    }
    (out_shape, out_strides)
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn strided_iter_visits_transposed_order() {
        let shape = [2, 3];
        let strides = [1isize, 2];
        let v: Vec<isize> = StridedIter::new(&shape, &strides, 0).collect();
        assert_eq!(v, vec![0, 2, 4, 1, 3, 5]);
        let w: Vec<isize> = StridedIter::starting_at(&shape, &strides, 0, 4).collect();
        assert_eq!(w, vec![3, 5]);
    }
    #[test]
    fn collapse_merges_contiguous_dims() {
        let (s, st) = collapse_dims(&[2, 3, 4], &[&[12, 4, 1], &[0, 4, 1]]);
        assert_eq!(s, vec![2, 12]);
        assert_eq!(st, vec![vec![12, 1], vec![0, 1]]);
    }
    #[test]
    fn broadcast_errors_name_the_op() {
        let e = broadcast_shapes("add", &[2, 3], &[4]).unwrap_err();
        assert!(e.to_string().contains("add"));
    }
}
