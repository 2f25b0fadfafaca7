//! A spinning fork-join for short parallel regions: the decode mat-vecs, ~150 per token of a
//! small model, each a few tens of microseconds. Between them rayon's workers yield and fall
//! asleep, and waking them costs about as much as the region saves (measured on the 2-core dev
//! VM: ~15% of a SmolLM2 decode in `sched_yield`, futex sleeps and wake-ups). Here helper threads
//! (one per core beyond the caller's) spin for a while on a job counter before parking, and the
//! caller works on the job too.
//!
//! One job runs at a time; a caller that finds the pool busy (another thread inside [`run`])
//! runs its chunks with rayon instead. A job's chunks are claimed through one atomic ticket that
//! packs the job's tag, its chunk count and the next index, so a helper that is late for a job
//! can never claim a chunk of the next one with the wrong task.

use std::sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering::*};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The work of one chunk.
type Task<'a> = dyn Fn(usize) + Sync + 'a;

/// How long an idle helper spins before parking.
const SPIN: Duration = Duration::from_micros(300);
/// Bits of a ticket's chunk count and next index (each); the rest is the job's tag.
const FIELD: u32 = 20;
const FIELD_MASK: u64 = (1 << FIELD) - 1;

struct Pool {
    /// The job number; helpers wait for it to change.
    epoch: AtomicU64,
    /// tag (job number's low bits) << 40 | chunks << 20 | next chunk.
    ticket: AtomicU64,
    /// The current job's task: a pointer to the caller's `&Task` (on its stack while it waits).
    task: AtomicPtr<()>,
    /// Chunks of the current job finished.
    done: AtomicUsize,
    /// Helpers parked on `wake`.
    parked: AtomicUsize,
    lock: Mutex<()>,
    wake: Condvar,
    /// Held by the thread whose job runs.
    busy: Mutex<()>,
    /// Helper threads running.
    helpers: AtomicUsize,
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<&'static Pool> = OnceLock::new();
    POOL.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let wanted = std::env::var("RAYON_NUM_THREADS")
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(cores)
            .saturating_sub(1);
        let pool: &'static Pool = Box::leak(Box::new(Pool {
            epoch: AtomicU64::new(0),
            ticket: AtomicU64::new(0),
            task: AtomicPtr::new(std::ptr::null_mut()),
            done: AtomicUsize::new(0),
            parked: AtomicUsize::new(0),
            lock: Mutex::new(()),
            wake: Condvar::new(),
            busy: Mutex::new(()),
            helpers: AtomicUsize::new(0),
        }));
        for i in 0..wanted {
            let spawned = std::thread::Builder::new()
                .name(format!("mlx-arm-spin-{i}"))
                .spawn(move || helper(pool));
            if spawned.is_err() {
                break; // (no threads, e.g. on wasm32) the caller runs every chunk itself
            }
            pool.helpers.fetch_add(1, Relaxed);
        }
        pool
    })
}

fn unpack(t: u64) -> (u64, usize, usize) {
    (
        t >> (2 * FIELD),
        ((t >> FIELD) & FIELD_MASK) as usize,
        (t & FIELD_MASK) as usize,
    )
}

/// Claims and runs chunks of job `tag` until none is left.
fn work(pool: &Pool, tag: u64) {
    loop {
        let t = pool.ticket.load(Acquire);
        let (job, chunks, next) = unpack(t);
        if job != tag || next >= chunks {
            return;
        }
        let task = pool.task.load(Acquire) as *const &Task;
        if pool
            .ticket
            .compare_exchange_weak(t, t + 1, AcqRel, Acquire)
            .is_err()
        {
            continue;
        }
        // SAFETY: the claim succeeded, so job `tag` is not finished: its caller is still waiting
        // in `run` with the `&Task` this points to alive (it returns only once every chunk is
        // done), and the pointer was stored before the ticket this claim read (a later job's
        // pointer is stored only after this chunk is done).
        let f: &Task = unsafe { *task };
        f(next);
        pool.done.fetch_add(1, Release);
    }
}

fn helper(pool: &'static Pool) {
    let mut seen = pool.epoch.load(Acquire);
    loop {
        let start = Instant::now();
        let mut spins = 0u32;
        while pool.epoch.load(Acquire) == seen {
            std::hint::spin_loop();
            spins = spins.wrapping_add(1);
            if spins % 1024 == 0 && start.elapsed() > SPIN {
                let mut guard = pool.lock.lock().unwrap_or_else(|e| e.into_inner());
                pool.parked.fetch_add(1, SeqCst);
                while pool.epoch.load(SeqCst) == seen {
                    guard = pool.wake.wait(guard).unwrap_or_else(|e| e.into_inner());
                }
                pool.parked.fetch_sub(1, SeqCst);
                break;
            }
        }
        seen = pool.epoch.load(Acquire);
        work(pool, seen & (u64::MAX >> (2 * FIELD)));
    }
}

/// Runs `f(0) .. f(chunks - 1)`, spread over the calling thread and the spinning helpers; returns
/// when all have run. Falls back to rayon when another thread's job is running, and to the
/// calling thread alone for a single chunk or a single core.
pub fn run(chunks: usize, f: &Task) {
    use rayon::prelude::*;
    let pool = pool();
    if chunks <= 1 || pool.helpers.load(Relaxed) == 0 {
        (0..chunks).for_each(f);
        return;
    }
    if chunks as u64 > FIELD_MASK {
        (0..chunks).into_par_iter().for_each(f);
        return;
    }
    let Ok(_busy) = pool.busy.try_lock() else {
        (0..chunks).into_par_iter().for_each(f);
        return;
    };
    let holder: &Task = f;
    pool.done.store(0, Relaxed);
    pool.task.store(&holder as *const &Task as *mut (), Release);
    let epoch = pool.epoch.load(Relaxed) + 1;
    let tag = epoch & (u64::MAX >> (2 * FIELD));
    pool.ticket
        .store(tag << (2 * FIELD) | (chunks as u64) << FIELD, Release);
    pool.epoch.store(epoch, SeqCst);
    if pool.parked.load(SeqCst) > 0 {
        let _g = pool.lock.lock().unwrap_or_else(|e| e.into_inner());
        pool.wake.notify_all();
    }
    work(pool, tag);
    while pool.done.load(Acquire) < chunks {
        std::hint::spin_loop();
    }
}

#[cfg(test)]
mod tests {
    use super::run;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn every_chunk_runs_once_across_jobs_and_threads() {
        let threads: Vec<_> = (0..4)
            .map(|t| {
                std::thread::spawn(move || {
                    for job in 0..300usize {
                        let n = 1 + (job * 7 + t) % 40;
                        let hits: Vec<AtomicUsize> = (0..n).map(|_| AtomicUsize::new(0)).collect();
                        run(n, &|i| {
                            hits[i].fetch_add(1, Ordering::Relaxed);
                        });
                        assert!(hits.iter().all(|h| h.load(Ordering::Relaxed) == 1));
                        if job % 50 == 0 {
                            // let the helpers park, then wake them
                            std::thread::sleep(std::time::Duration::from_millis(2));
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
    }
}
