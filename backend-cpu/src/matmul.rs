//! Batched matrix product through the `gemm` crate (f32, f64 directly; f16 and bf16 through f32).
//! Operands are read in place with their strides, so transposed views need no copy.

use crate::view::{Host, Output, View};
use mlx_arm_core::buffer::Data;
use mlx_arm_core::layout::{numel, StridedIter};
use mlx_arm_core::{Dtype, Error, Result};

fn parallelism(m: usize, n: usize, k: usize) -> gemm::Parallelism {
    if m * n * k >= 1 << 18 {
        gemm::Parallelism::Rayon(rayon::current_num_threads())
    } else {
        gemm::Parallelism::None
    }
}

/// `out[b] = a[b] @ b[b]` for native gemm types.
fn gemm_batched<T: Copy + 'static + Default>(a: &View<T>, b: &View<T>, out: &mut [T], m: usize, n: usize, k: usize, zero: T, one: T) {
    let nd = a.shape.len();
    let batch = &a.shape[..nd - 2];
    let a_off: Vec<isize> = StridedIter::new(batch, &a.strides[..nd - 2], a.offset).collect();
    let b_off: Vec<isize> = StridedIter::new(batch, &b.strides[..nd - 2], b.offset).collect();
    let (ars, acs) = (a.strides[nd - 2], a.strides[nd - 1]);
    let (brs, bcs) = (b.strides[nd - 2], b.strides[nd - 1]);
    for (i, (&ao, &bo)) in a_off.iter().zip(&b_off).enumerate() {
        let dst = &mut out[i * m * n..(i + 1) * m * n];
        if k == 0 {
            dst.fill(zero);
            continue;
        }
        // SAFETY: every index gemm touches is `offset + r*rs + c*cs` with r, c inside the view's
        // shape, which lies inside the buffer (views are validated when built); dst is dense m x n.
        unsafe {
            gemm::gemm(
                m, n, k,
                dst.as_mut_ptr(), 1, n as isize, false,
                a.all.as_ptr().offset(ao), acs, ars,
                b.all.as_ptr().offset(bo), bcs, brs,
                zero, one, false, false, false,
                parallelism(m, n, k),
            );
        }
    }
}

/// Batched matmul `[.., M, K] @ [.., K, N]` (batch shapes already equal).
pub fn matmul(a: &Data, b: &Data, shape: &[usize], dt: Dtype) -> Result<Data> {
    let nd = a.shape.len();
    let (m, k, n) = (a.shape[nd - 2], a.shape[nd - 1], b.shape[nd - 1]);
    let (ha, hb) = (Host::of(a)?, Host::of(b)?);
    let mut out = Output::new(dt, numel(shape))?;
    match dt {
        Dtype::Float32 => gemm_batched(&ha.view::<f32>(), &hb.view::<f32>(), out.slice::<f32>(), m, n, k, 0.0, 1.0),
        Dtype::Float64 => gemm_batched(&ha.view::<f64>(), &hb.view::<f64>(), out.slice::<f64>(), m, n, k, 0.0, 1.0),
        Dtype::Float16 | Dtype::Bfloat16 => {
            // Widen to f32, multiply, round back once (MLX accumulates half types in f32 too).
            let wa = crate::elementwise::astype(a, &a.shape, Dtype::Float32)?;
            let wb = crate::elementwise::astype(b, &b.shape, Dtype::Float32)?;
            let r = matmul(&wa, &wb, shape, Dtype::Float32)?;
            return crate::elementwise::astype(&r, shape, dt);
        }
        other => return Err(Error::dtype("matmul", other, "only floating-point types are supported")),
    }
    Ok(out.finish(shape))
}
