//! Stable sort and argsort along an axis; NaNs order last.

use crate::types::CpuType;
use crate::view::{Host, Output};
use crate::with_dtype;
use mlx_arm_core::buffer::Data;
use mlx_arm_core::layout::{numel, row_major_strides, StridedIter};
use mlx_arm_core::{Dtype, Result};
use std::cmp::Ordering;

fn order<T: CpuType>(a: &T, b: &T) -> Ordering {
    match (a.is_nan_value(), b.is_nan_value()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => a.partial_cmp(b).unwrap_or(Ordering::Equal),
    }
}

/// Sorted values (`indices == false`) or sorting indices as uint32 (`indices == true`).
pub fn sort(axis: usize, x: &Data, shape: &[usize], indices: bool) -> Result<Data> {
    let h = Host::of(x)?;
    let n = x.shape[axis];
    let out_dt = if indices { Dtype::Uint32 } else { x.dtype() };
    let mut out = Output::new(out_dt, numel(shape))?;
    let ostr = row_major_strides(shape);
    let mut kshape = x.shape.clone();
    kshape[axis] = 1;
    let (sin, sout) = (x.strides[axis], ostr[axis]);
    let ins: Vec<isize> = StridedIter::new(&kshape, &x.strides, x.offset).collect();
    let outs: Vec<isize> = StridedIter::new(&kshape, &ostr, 0).collect();
    with_dtype!(x.dtype(), T => {
        let v = h.view::<T>();
        let mut line: Vec<(T, u32)> = Vec::with_capacity(n);
        for (&bi, &bo) in ins.iter().zip(&outs) {
            line.clear();
            line.extend((0..n).map(|i| (v.all[(bi + i as isize * sin) as usize], i as u32)));
            line.sort_by(|a, b| order(&a.0, &b.0));
            if indices {
                let o = out.slice::<u32>();
                for (i, e) in line.iter().enumerate() { o[(bo + i as isize * sout) as usize] = e.1; }
            } else {
                let o = out.slice::<T>();
                for (i, e) in line.iter().enumerate() { o[(bo + i as isize * sout) as usize] = e.0; }
            }
        }
    });
    Ok(out.finish(shape))
}
