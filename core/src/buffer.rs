//! Buffers: the memory behind evaluated arrays. A buffer may hold a host copy, a device copy, or
//! both; copies are made lazily, only when an op on the other side needs them (unified memory).

use crate::memory::{self, Reservation};
use crate::{Dtype, Error, Result};
use std::any::Any;
use std::sync::{Arc, OnceLock, RwLock};

/// Host memory: an owned, 8-byte-aligned allocation or a window of a memory-mapped file.
pub enum HostMem {
    /// Owned, zero-initialised, 8-byte aligned.
    Owned {
        words: Vec<u64>,
        nbytes: usize,
        _reservation: Reservation,
    },
    /// A read-only window of a memory-mapped file (aligned to its dtype).
    #[cfg(not(target_arch = "wasm32"))]
    Mapped {
        map: Arc<memmap2::Mmap>,
        offset: usize,
        nbytes: usize,
    },
}

impl HostMem {
    /// Allocates `nbytes` of zeroed memory, counted against the memory limit.
    pub fn zeroed(nbytes: usize) -> Result<HostMem> {
        let reservation = memory::reserve(nbytes)?;
        let nwords = nbytes.div_ceil(8);
        let oom = || Error::OutOfMemory {
            requested: nbytes,
            limit: memory::get_memory_limit(),
            active: memory::get_active_memory(),
        };
        let words = if nwords == 0 {
            Vec::new()
        } else {
            // alloc_zeroed gets fresh zero pages from the OS for large sizes instead of writing
            // zeros (a memset would cost as much as the op that fills the buffer).
            let layout = std::alloc::Layout::array::<u64>(nwords).map_err(|_| oom())?;
            // SAFETY: the layout has non-zero size.
            let ptr = unsafe { std::alloc::alloc_zeroed(layout) } as *mut u64;
            if ptr.is_null() {
                return Err(oom());
            }
            // SAFETY: allocated by the global allocator with exactly Vec<u64>'s layout for
            // `nwords` elements, all initialised (zeroed).
            unsafe { Vec::from_raw_parts(ptr, nwords, nwords) }
        };
        Ok(HostMem::Owned {
            words,
            nbytes,
            _reservation: reservation,
        })
    }
    /// Copies `bytes` into a new allocation.
    pub fn from_bytes(bytes: &[u8]) -> Result<HostMem> {
        let mut m = HostMem::zeroed(bytes.len())?;
        m.bytes_mut().expect("owned").copy_from_slice(bytes);
        Ok(m)
    }
    /// The bytes.
    pub fn bytes(&self) -> &[u8] {
        match self {
            HostMem::Owned { words, nbytes, .. } => &bytemuck::cast_slice(words)[..*nbytes],
            #[cfg(not(target_arch = "wasm32"))]
            HostMem::Mapped {
                map,
                offset,
                nbytes,
            } => &map[*offset..*offset + *nbytes],
        }
    }
    /// The bytes, writable (owned memory only).
    pub fn bytes_mut(&mut self) -> Option<&mut [u8]> {
        match self {
            HostMem::Owned { words, nbytes, .. } => {
                Some(&mut bytemuck::cast_slice_mut(words)[..*nbytes])
            }
            #[cfg(not(target_arch = "wasm32"))]
            HostMem::Mapped { .. } => None,
        }
    }
    /// Number of bytes.
    pub fn len(&self) -> usize {
        self.bytes().len()
    }
    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A backend's copy of a buffer (a GPU allocation). Dropping it frees or pools the memory.
pub trait DeviceMem: Send + Sync + Any {
    /// Copies the contents back to host memory in the host layout of `dtype` (blocking; on
    /// wasm use [`DeviceMem::read_async`]).
    fn read(&self, dtype: Dtype, len: usize) -> Result<HostMem>;
    /// The same as [`DeviceMem::read`] without blocking the thread (needed on the web).
    fn read_async(
        &self,
        dtype: Dtype,
        len: usize,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<HostMem>> + '_>>;
    /// Starts copying the contents towards the host without waiting (a later [`DeviceMem::read`]
    /// then waits only for that copy, not for work submitted after it). Backends without
    /// asynchronous copies do nothing.
    fn prefetch(&self, _dtype: Dtype, _len: usize) -> Result<()> {
        Ok(())
    }
    /// Downcasting support for the owning backend.
    fn as_any(&self) -> &dyn Any;
}

/// The storage of an evaluated array: `len` elements of `dtype` on the host, a device, or both.
pub struct Buffer {
    dtype: Dtype,
    len: usize,
    /// Set once and never replaced: `Array::as_slice` lends out references into it.
    host: OnceLock<Arc<HostMem>>,
    device: RwLock<Option<Arc<dyn DeviceMem>>>,
}

impl Buffer {
    /// A buffer living on the host.
    pub fn from_host(dtype: Dtype, len: usize, mem: HostMem) -> Arc<Buffer> {
        debug_assert!(mem.len() >= len * dtype.size());
        Arc::new(Buffer {
            dtype,
            len,
            host: OnceLock::from(Arc::new(mem)),
            device: RwLock::new(None),
        })
    }
    /// A buffer living on a device.
    pub fn from_device(dtype: Dtype, len: usize, mem: Arc<dyn DeviceMem>) -> Arc<Buffer> {
        Arc::new(Buffer {
            dtype,
            len,
            host: OnceLock::new(),
            device: RwLock::new(Some(mem)),
        })
    }
    /// Element dtype.
    pub fn dtype(&self) -> Dtype {
        self.dtype
    }
    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }
    /// True when it holds no elements.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// True when a host copy exists.
    pub fn has_host(&self) -> bool {
        self.host.get().is_some()
    }
    /// The host copy, read back from the device first if needed.
    pub fn host(&self) -> Result<Arc<HostMem>> {
        if let Some(h) = self.host.get() {
            return Ok(h.clone());
        }
        let dev = self.device.read().unwrap().clone();
        let dev = dev.ok_or_else(|| Error::Backend {
            backend: "core",
            detail: "buffer has no data".into(),
        })?;
        let mem = Arc::new(dev.read(self.dtype, self.len)?);
        // a racing reader may have set it first: keep the first, so references stay valid
        let _ = self.host.set(mem);
        Ok(self.host.get().expect("just set").clone())
    }
    /// The host copy without blocking (for wasm).
    pub async fn host_async(&self) -> Result<Arc<HostMem>> {
        if let Some(h) = self.host.get() {
            return Ok(h.clone());
        }
        let dev = self.device.read().unwrap().clone();
        let dev = dev.ok_or_else(|| Error::Backend {
            backend: "core",
            detail: "buffer has no data".into(),
        })?;
        let mem = Arc::new(dev.read_async(self.dtype, self.len).await?);
        let _ = self.host.set(mem);
        Ok(self.host.get().expect("just set").clone())
    }
    /// Starts the copy to host memory without waiting, when the data lives only on a device.
    pub fn prefetch_host(&self) -> Result<()> {
        if self.host.get().is_some() {
            return Ok(());
        }
        match self.device_mem() {
            Some(dev) => dev.prefetch(self.dtype, self.len),
            None => Ok(()),
        }
    }
    /// The device copy if one exists.
    pub fn device_mem(&self) -> Option<Arc<dyn DeviceMem>> {
        self.device.read().unwrap().clone()
    }
    /// The host bytes, writable, of a buffer its owner holds alone (see
    /// [`crate::backend::Backend::eval_in_place`]); any device copy is dropped, as writing makes
    /// it stale. `None` (and nothing dropped) without an owned, unshared host copy.
    pub fn host_bytes_mut(&mut self) -> Option<&mut [u8]> {
        let host = Arc::get_mut(self.host.get_mut()?)?;
        if !matches!(host, HostMem::Owned { .. }) {
            return None;
        }
        *self.device.get_mut().unwrap_or_else(|p| p.into_inner()) = None;
        host.bytes_mut()
    }
    /// The device copy of a buffer its owner holds alone, for a device to write in place; the
    /// host copy is dropped, as writing makes it stale. `None` (and nothing dropped) without one.
    pub fn device_mem_for_writing(&mut self) -> Option<Arc<dyn DeviceMem>> {
        let dev = self
            .device
            .get_mut()
            .unwrap_or_else(|p| p.into_inner())
            .clone()?;
        self.host.take();
        Some(dev)
    }
    /// Attaches a device copy (made by a backend uploading the host copy).
    pub fn set_device_mem(&self, mem: Arc<dyn DeviceMem>) {
        *self.device.write().unwrap() = Some(mem);
    }
}

/// An evaluated array: a buffer plus the view (shape, strides and offset in elements) into it.
#[derive(Clone)]
pub struct Data {
    /// The shared storage.
    pub buffer: Arc<Buffer>,
    /// Logical shape.
    pub shape: Vec<usize>,
    /// Strides in elements (may be zero for broadcasts, negative for flips).
    pub strides: Vec<isize>,
    /// Offset of element `[0, .., 0]` in elements.
    pub offset: isize,
}

impl Data {
    /// A dense row-major view of a whole buffer.
    pub fn contiguous(buffer: Arc<Buffer>, shape: Vec<usize>) -> Data {
        let strides = crate::layout::row_major_strides(&shape);
        Data {
            buffer,
            shape,
            strides,
            offset: 0,
        }
    }
    /// Element dtype.
    pub fn dtype(&self) -> Dtype {
        self.buffer.dtype()
    }
    /// Number of elements in the view.
    pub fn size(&self) -> usize {
        crate::layout::numel(&self.shape)
    }
    /// True when the view is dense row-major starting anywhere.
    pub fn is_row_contiguous(&self) -> bool {
        crate::layout::is_row_contiguous(&self.shape, &self.strides)
    }
    /// The first and second halves of the last axis (of even length), as views.
    pub fn last_axis_halves(&self) -> [Data; 2] {
        let last = self.shape.len() - 1;
        let mut first = self.clone();
        first.shape[last] /= 2;
        let mut second = first.clone();
        second.offset += first.shape[last] as isize * self.strides[last];
        [first, second]
    }
}
