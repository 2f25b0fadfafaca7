//! The CPU backend's worker threads. Kernels parallelise with rayon on the pool of the thread
//! that calls them: from a plain thread that is rayon's global pool, whose workers run the
//! kernel while the caller blocks, and on a machine with as many cores as workers the caller's
//! own serial work (building graphs, small ops) competes with workers spinning between kernels.
//! [`run_as_worker`] runs a whole workload on one of the workers instead, so the caller is one
//! of them: measured on the 2-core dev VM, SmolLM2 decode 71–78 → 86–95 tok/s.

use std::sync::OnceLock;

/// The pool [`run_as_worker`] uses: one worker per core (rayon's default count, which
/// `RAYON_NUM_THREADS` sets).
fn pool() -> &'static rayon::ThreadPool {
    static POOL: OnceLock<rayon::ThreadPool> = OnceLock::new();
    POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .thread_name(|i| format!("mlx-arm-cpu-{i}"))
            .build()
            .expect("a thread pool")
    })
}

/// Runs `f` on a worker of the CPU backend's pool, so kernels it evaluates parallelise with the
/// calling thread taking part (a no-op wrapper when already on that pool's worker).
pub fn run_as_worker<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    pool().install(f)
}
