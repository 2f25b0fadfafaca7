//! Typed views of evaluated inputs and the parallel elementwise engine: maps of one, two or three
//! strided inputs into a dense output, chunked over rayon above a grain size, with a contiguous
//! fast path the compiler vectorises.

use mlx_arm_core::buffer::{Buffer, Data, HostMem};
use mlx_arm_core::layout::{collapse_dims, numel, StridedIter};
use mlx_arm_core::{Dtype, Element, Result};
use rayon::prelude::*;
use std::sync::Arc;

/// Elements per parallel task.
pub const GRAIN: usize = 1 << 15;

/// A typed read-only view of an input.
pub struct View<'a, T> {
    /// Every element of the underlying buffer.
    pub all: &'a [T],
    /// The view's shape.
    pub shape: &'a [usize],
    /// Strides in elements.
    pub strides: &'a [isize],
    /// Offset in elements.
    pub offset: isize,
}

/// Host memory of an input, kept alive while views borrow it.
pub struct Host {
    mem: Arc<HostMem>,
    data: Data,
}

impl Host {
    /// Fetches the host copy (reading back from the GPU if needed).
    pub fn of(d: &Data) -> Result<Host> {
        Ok(Host {
            mem: d.buffer.host()?,
            data: d.clone(),
        })
    }
    /// Typed view.
    pub fn view<T: Element>(&self) -> View<'_, T> {
        let n = self.data.buffer.len();
        View {
            all: &bytemuck::cast_slice(self.mem.bytes())[..n],
            shape: &self.data.shape,
            strides: &self.data.strides,
            offset: self.data.offset,
        }
    }
}

impl<'a, T: Copy + Send + Sync> View<'a, T> {
    /// The dense row-major slice when the view is one.
    pub fn as_contiguous(&self) -> Option<&'a [T]> {
        if mlx_arm_core::layout::is_row_contiguous(self.shape, self.strides) {
            let s = self.offset as usize;
            Some(&self.all[s..s + numel(self.shape)])
        } else {
            None
        }
    }
    /// The elements in row-major order, borrowed when dense, else gathered.
    pub fn to_contiguous(&self) -> std::borrow::Cow<'a, [T]> {
        match self.as_contiguous() {
            Some(s) => std::borrow::Cow::Borrowed(s),
            None => std::borrow::Cow::Owned(
                StridedIter::new(self.shape, self.strides, self.offset)
                    .map(|o| self.all[o as usize])
                    .collect(),
            ),
        }
    }
    /// Element at a row-major coordinate.
    pub fn at(&self, coord: &[usize]) -> T {
        let mut o = self.offset;
        for (c, s) in coord.iter().zip(self.strides) {
            o += *c as isize * s;
        }
        self.all[o as usize]
    }
}

/// A dense output being written.
pub struct Output {
    mem: HostMem,
    dtype: Dtype,
    len: usize,
}

impl Output {
    /// Allocates `len` zeroed elements of `dtype` (counted against the memory limit).
    pub fn new(dtype: Dtype, len: usize) -> Result<Output> {
        let mut mem = HostMem::zeroed(len * dtype.size())?;
        if let Some(bytes) = mem.bytes_mut() {
            advise_huge_pages(bytes);
        }
        Ok(Output { mem, dtype, len })
    }
    /// The elements, writable.
    pub fn slice<T: Element>(&mut self) -> &mut [T] {
        debug_assert_eq!(T::DTYPE, self.dtype);
        let n = self.len;
        &mut bytemuck::cast_slice_mut(self.mem.bytes_mut().expect("owned"))[..n]
    }
    /// Finishes into evaluated data of `shape`.
    pub fn finish(self, shape: &[usize]) -> Data {
        Data::contiguous(
            Buffer::from_host(self.dtype, self.len, self.mem),
            shape.to_vec(),
        )
    }
}

/// Asks the kernel to back a large fresh output with transparent huge pages (numpy does the same
/// for arrays of 4 MiB and up): the first write then takes one fault per 2 MiB instead of one
/// per 4 KiB page, which on this kind of VM cost more than the op itself. A hint only: where THP
/// is off or unavailable nothing changes.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn advise_huge_pages(bytes: &mut [u8]) {
    const HUGE_PAGE_MIN: usize = 4 << 20;
    if bytes.len() < HUGE_PAGE_MIN {
        return;
    }
    const PAGE: usize = 4096;
    let start = (bytes.as_mut_ptr() as usize).next_multiple_of(PAGE);
    let end = (bytes.as_mut_ptr() as usize + bytes.len()) & !(PAGE - 1);
    if end > start {
        // SAFETY: [start, end) lies inside memory this output owns; MADV_HUGEPAGE changes no
        // contents or permissions, and a failure (EINVAL without THP) is harmless.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE);
        }
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn advise_huge_pages(_bytes: &mut [u8]) {}

/// Splits `out` into chunks and runs `f(start, chunk)` on each, in parallel when large.
pub fn par_chunks<U: Send>(out: &mut [U], f: impl Fn(usize, &mut [U]) + Sync) {
    if out.len() <= GRAIN {
        f(0, out);
    } else {
        out.par_chunks_mut(GRAIN)
            .enumerate()
            .for_each(|(i, c)| f(i * GRAIN, c));
    }
}

/// Whether every input's last (collapsed) axis is dense or broadcast (stride 1 or 0), so rows
/// can be walked as slices (vectorisable) instead of element by element.
fn rows_dense_or_broadcast(shape: &[usize], strides: &[Vec<isize>]) -> bool {
    !shape.is_empty() && strides.iter().all(|s| matches!(s[s.len() - 1], 0 | 1))
}

/// Calls `f(pos, len, offsets)` for each piece of a last-axis row among elements `s..s + n` of
/// a row-major walk of `shape`: `pos` counts from `s`, `offsets[k]` is input k's offset of the
/// piece's first element (from `base[k]` and `strides[k]`).
fn for_rows(
    shape: &[usize],
    strides: &[Vec<isize>],
    base: &[isize],
    s: usize,
    n: usize,
    mut f: impl FnMut(usize, usize, &[isize]),
) {
    let last = shape.len() - 1;
    let inner = shape[last];
    let mut offs = vec![0isize; strides.len()];
    let mut pos = 0;
    while pos < n {
        let g = s + pos;
        let (mut r, col) = (g / inner, g % inner);
        let len = (inner - col).min(n - pos);
        offs.copy_from_slice(base);
        for d in (0..last).rev() {
            let i = (r % shape[d]) as isize;
            r /= shape[d];
            for (o, st) in offs.iter_mut().zip(strides) {
                *o += i * st[d];
            }
        }
        for (o, st) in offs.iter_mut().zip(strides) {
            *o += col as isize * st[last];
        }
        f(pos, len, &offs);
        pos += len;
    }
}

/// `out[i] = f(a[i])`.
pub fn map1<A: Copy + Send + Sync, U: Send>(a: &View<A>, out: &mut [U], f: impl Fn(A) -> U + Sync) {
    if let Some(a) = a.as_contiguous() {
        par_chunks(out, |s, c| {
            let n = c.len();
            for (o, &x) in c.iter_mut().zip(&a[s..s + n]) {
                *o = f(x);
            }
        });
        return;
    }
    let (shape, st) = collapse_dims(a.shape, &[a.strides]);
    if rows_dense_or_broadcast(&shape, &st) {
        let dense = st[0][st[0].len() - 1] == 1;
        par_chunks(out, |s, c| {
            for_rows(&shape, &st, &[a.offset], s, c.len(), |pos, len, offs| {
                let dst = &mut c[pos..pos + len];
                let o = offs[0] as usize;
                match dense {
                    true => dst
                        .iter_mut()
                        .zip(&a.all[o..o + len])
                        .for_each(|(d, &x)| *d = f(x)),
                    false => dst.fill_with(|| f(a.all[o])),
                }
            });
        });
        return;
    }
    par_chunks(out, |s, c| {
        let it = StridedIter::starting_at(&shape, &st[0], a.offset, s);
        for (o, i) in c.iter_mut().zip(it) {
            *o = f(a.all[i as usize]);
        }
    });
}

/// `out[i] = f(a[i], b[i])` (same shapes).
pub fn map2<A: Copy + Send + Sync, B: Copy + Send + Sync, U: Send>(
    a: &View<A>,
    b: &View<B>,
    out: &mut [U],
    f: impl Fn(A, B) -> U + Sync,
) {
    if let (Some(a), Some(b)) = (a.as_contiguous(), b.as_contiguous()) {
        par_chunks(out, |s, c| {
            let n = c.len();
            for ((o, &x), &y) in c.iter_mut().zip(&a[s..s + n]).zip(&b[s..s + n]) {
                *o = f(x, y);
            }
        });
        return;
    }
    let (shape, st) = collapse_dims(a.shape, &[a.strides, b.strides]);
    if rows_dense_or_broadcast(&shape, &st) {
        // e.g. a row broadcast over a matrix: each row a slice loop
        let last = shape.len() - 1;
        let (da, db) = (st[0][last] == 1, st[1][last] == 1);
        par_chunks(out, |s, c| {
            for_rows(
                &shape,
                &st,
                &[a.offset, b.offset],
                s,
                c.len(),
                |pos, len, offs| {
                    let dst = &mut c[pos..pos + len];
                    let (oa, ob) = (offs[0] as usize, offs[1] as usize);
                    match (da, db) {
                        (true, true) => {
                            let (xs, ys) = (&a.all[oa..oa + len], &b.all[ob..ob + len]);
                            for ((d, &x), &y) in dst.iter_mut().zip(xs).zip(ys) {
                                *d = f(x, y);
                            }
                        }
                        (true, false) => {
                            let y = b.all[ob];
                            for (d, &x) in dst.iter_mut().zip(&a.all[oa..oa + len]) {
                                *d = f(x, y);
                            }
                        }
                        (false, true) => {
                            let x = a.all[oa];
                            for (d, &y) in dst.iter_mut().zip(&b.all[ob..ob + len]) {
                                *d = f(x, y);
                            }
                        }
                        (false, false) => {
                            let (x, y) = (a.all[oa], b.all[ob]);
                            dst.fill_with(|| f(x, y));
                        }
                    }
                },
            );
        });
        return;
    }
    par_chunks(out, |s, c| {
        let ia = StridedIter::starting_at(&shape, &st[0], a.offset, s);
        let ib = StridedIter::starting_at(&shape, &st[1], b.offset, s);
        for ((o, i), j) in c.iter_mut().zip(ia).zip(ib) {
            *o = f(a.all[i as usize], b.all[j as usize]);
        }
    });
}

/// `out[i] = f(a[i], b[i], c[i])` (same shapes).
pub fn map3<A, B, C, U>(
    a: &View<A>,
    b: &View<B>,
    c3: &View<C>,
    out: &mut [U],
    f: impl Fn(A, B, C) -> U + Sync,
) where
    A: Copy + Send + Sync,
    B: Copy + Send + Sync,
    C: Copy + Send + Sync,
    U: Send,
{
    let (shape, st) = collapse_dims(a.shape, &[a.strides, b.strides, c3.strides]);
    par_chunks(out, |s, c| {
        let ia = StridedIter::starting_at(&shape, &st[0], a.offset, s);
        let ib = StridedIter::starting_at(&shape, &st[1], b.offset, s);
        let ic = StridedIter::starting_at(&shape, &st[2], c3.offset, s);
        for (((o, i), j), k) in c.iter_mut().zip(ia).zip(ib).zip(ic) {
            *o = f(a.all[i as usize], b.all[j as usize], c3.all[k as usize]);
        }
    });
}
