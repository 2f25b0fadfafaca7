//! Batched matrix product through the `gemm` crate (f32, f64 directly; f16 and bf16 through f32).
//! Operands are read in place with their strides, so transposed views need no copy.

use crate::view::{Host, Output, View};
use mlx_arm_core::buffer::Data;
use mlx_arm_core::layout::{numel, StridedIter};
use mlx_arm_core::{Dtype, Error, Result};
use rayon::prelude::*;

/// Products smaller than this many multiply-adds run on one thread.
const PAR_MIN_WORK: usize = 1 << 18;

/// A pointer that may cross to rayon's threads (each task writes a disjoint block).
#[derive(Clone, Copy)]
struct SendPtr<T>(*mut T);
// SAFETY: used only to hand disjoint output blocks (and shared read-only inputs) to tasks that
// all finish before the owning call returns.
unsafe impl<T> Send for SendPtr<T> {}
unsafe impl<T> Sync for SendPtr<T> {}

/// One product `dst (m x n, row-major) = lhs (m x k) @ rhs (k x n)`, operands with any strides.
///
/// Large products are split here into one block of output columns (or of rows, when there are
/// few columns) per rayon thread, each a single-threaded gemm call. Square products run as fast as
/// under gemm's own threading (2-core measurements agree within noise), and decode-shaped ones
/// (1..8 rows times a 4096 x 4096 weight) use every thread where gemm's mat-vec path runs on one
/// (1 x 4096 x 4096: 7.3 ms -> 3.6-4.6 ms on 2 cores). `MLX_ARM_GEMM_THREADS=gemm` hands whole
/// products to gemm's own parallelism instead; `rows`/`cols` force the direction of the split.
///
/// # Safety
/// `lhs`/`rhs` must be valid for every `offset + r*rs + c*cs` inside their shapes; `dst` must be
/// valid for `m * n` writes and not alias them.
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_one<T: Copy + 'static + Send + Sync>(
    m: usize,
    n: usize,
    k: usize,
    dst: *mut T,
    lhs: *const T,
    lhs_cs: isize,
    lhs_rs: isize,
    rhs: *const T,
    rhs_cs: isize,
    rhs_rs: isize,
    zero: T,
    one: T,
    split: bool,
) {
    let threads = if split {
        rayon::current_num_threads()
    } else {
        1
    };
    let ld = n as isize; // dst's row stride, the full product's n for every block
    let single =
        |m: usize, n: usize, dst: *mut T, lhs: *const T, rhs: *const T, par: gemm::Parallelism| {
            // SAFETY: forwarded from the caller, restricted to a block of its operands.
            unsafe {
                gemm::gemm(
                    m, n, k, dst, 1, ld, false, lhs, lhs_cs, lhs_rs, rhs, rhs_cs, rhs_rs, zero,
                    one, false, false, false, par,
                )
            }
        };
    if m * n * k < PAR_MIN_WORK || threads == 1 {
        return single(m, n, dst, lhs, rhs, gemm::Parallelism::None);
    }
    let mode = gemm_threads_env();
    if mode == "gemm" {
        return single(m, n, dst, lhs, rhs, gemm::Parallelism::Rayon(threads));
    }
    // `threads` blocks of columns (multiples of 8) or rows (multiples of 16)
    let (dst_p, lhs_p, rhs_p) = (SendPtr(dst), SendPtr(lhs as *mut T), SendPtr(rhs as *mut T));
    let by_rows = match mode {
        "rows" => true,
        "cols" => false,
        // columns unless there are few (a little faster than rows on square products here)
        _ => n < 64 * threads && m > n,
    };
    if by_rows {
        let rows = m.div_ceil(threads).next_multiple_of(16).min(m);
        (0..m.div_ceil(rows)).into_par_iter().for_each(|t| {
            let (r0, r1) = (t * rows, ((t + 1) * rows).min(m));
            let (d, l, r) = (dst_p, lhs_p, rhs_p);
            // SAFETY: rows r0..r1 of dst are this task's alone; lhs rows r0..r1 lie inside lhs.
            single(
                r1 - r0,
                n,
                unsafe { d.0.add(r0 * n) },
                unsafe { l.0.offset(r0 as isize * lhs_rs) },
                r.0,
                gemm::Parallelism::None,
            );
        });
    } else {
        let cols = n.div_ceil(threads).next_multiple_of(8).min(n);
        (0..n.div_ceil(cols)).into_par_iter().for_each(|t| {
            let (c0, c1) = (t * cols, ((t + 1) * cols).min(n));
            let (d, l, r) = (dst_p, lhs_p, rhs_p);
            // SAFETY: columns c0..c1 of dst are this task's alone; rhs columns c0..c1 lie inside rhs.
            single(
                m,
                c1 - c0,
                unsafe { d.0.add(c0) },
                l.0,
                unsafe { r.0.offset(c0 as isize * rhs_cs) },
                gemm::Parallelism::None,
            );
        });
    }
}

/// `MLX_ARM_GEMM_THREADS`: `gemm` lets gemm parallelise, `rows`/`cols` force the split (read once).
fn gemm_threads_env() -> &'static str {
    static V: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    V.get_or_init(|| std::env::var("MLX_ARM_GEMM_THREADS").unwrap_or_default())
}

/// `out[b] = a[b] @ b[b]` for native gemm types.
fn gemm_batched<T: Copy + 'static + Default + Send + Sync>(
    a: &View<T>,
    b: &View<T>,
    out: &mut [T],
    m: usize,
    n: usize,
    k: usize,
    zero: T,
    one: T,
) {
    let nd = a.shape.len();
    let batch = &a.shape[..nd - 2];
    let a_off: Vec<isize> = StridedIter::new(batch, &a.strides[..nd - 2], a.offset).collect();
    let b_off: Vec<isize> = StridedIter::new(batch, &b.strides[..nd - 2], b.offset).collect();
    let (ars, acs) = (a.strides[nd - 2], a.strides[nd - 1]);
    let (brs, bcs) = (b.strides[nd - 2], b.strides[nd - 1]);
    if m * n == 0 {
        return;
    }
    let (ap, bp) = (
        SendPtr(a.all.as_ptr() as *mut T),
        SendPtr(b.all.as_ptr() as *mut T),
    );
    let product = |dst: &mut [T], ao: isize, bo: isize, split: bool| {
        if k == 0 {
            dst.fill(zero);
            return;
        }
        let (ap, bp) = (ap, bp);
        // SAFETY: every index gemm touches is `offset + r*rs + c*cs` with r, c inside the view's
        // shape, which lies inside the buffer (views are validated when built); dst is dense m x n.
        unsafe {
            gemm_one(
                m,
                n,
                k,
                dst.as_mut_ptr(),
                ap.0.offset(ao),
                acs,
                ars,
                bp.0.offset(bo),
                bcs,
                brs,
                zero,
                one,
                split,
            )
        }
    };
    let batches = a_off.len();
    if batches >= rayon::current_num_threads() && batches > 1 && batches * m * n * k >= PAR_MIN_WORK
    {
        // many products: one per task, each on one thread
        out.par_chunks_mut(m * n)
            .zip(a_off.par_iter().zip(&b_off))
            .for_each(|(dst, (&ao, &bo))| product(dst, ao, bo, false));
    } else {
        for (dst, (&ao, &bo)) in out.chunks_mut(m * n).zip(a_off.iter().zip(&b_off)) {
            product(dst, ao, bo, true);
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
        Dtype::Float32 => gemm_batched(
            &ha.view::<f32>(),
            &hb.view::<f32>(),
            out.slice::<f32>(),
            m,
            n,
            k,
            0.0,
            1.0,
        ),
        Dtype::Float64 => gemm_batched(
            &ha.view::<f64>(),
            &hb.view::<f64>(),
            out.slice::<f64>(),
            m,
            n,
            k,
            0.0,
            1.0,
        ),
        Dtype::Float16 | Dtype::Bfloat16 => {
            // Widen to f32, multiply, round back once (MLX accumulates half types in f32 too).
            let wa = crate::elementwise::astype(a, &a.shape, Dtype::Float32)?;
            let wb = crate::elementwise::astype(b, &b.shape, Dtype::Float32)?;
            let r = matmul(&wa, &wb, shape, Dtype::Float32)?;
            return crate::elementwise::astype(&r, shape, dt);
        }
        other => {
            return Err(Error::dtype(
                "matmul",
                other,
                "only floating-point types are supported",
            ))
        }
    }
    Ok(out.finish(shape))
}
