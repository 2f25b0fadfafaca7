//! Memory accounting shared by every backend: active and peak bytes, the memory limit (exceeding
//! it is an [`Error::OutOfMemory`], never an abort) and the pass-through to backend caches.

use crate::{Error, Result};
use std::sync::atomic::{AtomicUsize, Ordering};

static ACTIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static LIMIT: AtomicUsize = AtomicUsize::new(usize::MAX);

/// A claim on `bytes` of the memory budget, released when dropped.
#[derive(Debug)]
pub struct Reservation {
    bytes: usize,
}

impl Reservation {
    /// Bytes this reservation holds.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

/// Claims `bytes` of the budget, or fails when the limit would be exceeded.
pub fn reserve(bytes: usize) -> Result<Reservation> {
    let limit = LIMIT.load(Ordering::Relaxed);
    let mut cur = ACTIVE.load(Ordering::Relaxed);
    loop {
        let next = cur
            .checked_add(bytes)
            .filter(|&n| n <= limit)
            .ok_or(Error::OutOfMemory {
                requested: bytes,
                limit,
                active: cur,
            })?;
        match ACTIVE.compare_exchange_weak(cur, next, Ordering::AcqRel, Ordering::Relaxed) {
            Ok(_) => {
                PEAK.fetch_max(next, Ordering::Relaxed);
                return Ok(Reservation { bytes });
            }
            Err(now) => cur = now,
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        ACTIVE.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

/// Bytes held by live arrays on every device (host copies and GPU copies both count).
pub fn get_active_memory() -> usize {
    ACTIVE.load(Ordering::Relaxed)
}

/// The largest value [`get_active_memory`] has had since start or [`reset_peak_memory`].
pub fn get_peak_memory() -> usize {
    PEAK.load(Ordering::Relaxed)
}

/// Resets the peak to the current active memory.
pub fn reset_peak_memory() {
    PEAK.store(ACTIVE.load(Ordering::Relaxed), Ordering::Relaxed);
}

/// Sets the memory limit in bytes and returns the previous one. Allocations that would pass it
/// fail with [`Error::OutOfMemory`].
pub fn set_memory_limit(limit: usize) -> usize {
    LIMIT.swap(limit, Ordering::Relaxed)
}

/// The memory limit in bytes (`usize::MAX` when unset).
pub fn get_memory_limit() -> usize {
    LIMIT.load(Ordering::Relaxed)
}

/// Bytes the backends keep cached for reuse (the GPU buffer pool), not counted as active.
pub fn get_cache_memory() -> usize {
    crate::backend::registered()
        .iter()
        .map(|b| b.cache_memory())
        .sum()
}

/// Sets the cache limit of every backend and returns the previous limit of the first.
pub fn set_cache_limit(limit: usize) -> usize {
    let mut prev = 0;
    for (i, b) in crate::backend::registered().iter().enumerate() {
        let p = b.set_cache_limit(limit);
        if i == 0 {
            prev = p;
        }
    }
    prev
}

/// Frees every backend's cached buffers.
pub fn clear_cache() {
    for b in crate::backend::registered() {
        b.clear_cache();
    }
}
