//! GPU time per kernel, for finding where a workload's device time goes: with
//! `MLX_ARM_GPU_PROFILE=1` (and an adapter offering timestamp queries inside passes) every
//! dispatch is bracketed by two timestamps, each submission is waited for and its timestamps
//! read back, and the durations are summed per kernel ([`report`]). Waiting per submission
//! serialises host and device, and the timestamps themselves separate dispatches, so these
//! times run above the library's (measured on an H200: a 4-bit mat-vec 30 to 52 us profiled
//! against 29 us unprofiled, a tiny add 6.8 us against about 2): compare kernels with each
//! other, not with wall-clock speed. `MLX_ARM_GPU_PROFILE=pass` times whole submissions only
//! (label `pass`), the device's busy time without per-dispatch timestamps.
//! `MLX_ARM_GPU_PROFILE=host` adds no timestamps: it sums the host's time in the engine instead
//! (labels `host:record` for recording dispatches, `host:record:bind_group` for the bind groups
//! it creates (cache misses), `host:encode` for encoding a batch's pass,
//! `host:submit` for the queue submission), to split a step's host time from the rest of eval.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

/// Whether device-time profiling was asked for (`MLX_ARM_GPU_PROFILE=1` per dispatch, or
/// `=pass` for whole submissions only, which adds no timestamps between dispatches; read once).
pub fn requested() -> bool {
    matches!(mode(), Some(Mode::Dispatch | Mode::Pass))
}

/// Whether host time in the engine is summed (`MLX_ARM_GPU_PROFILE=host`).
pub(crate) fn host() -> bool {
    mode() == Some(Mode::Host)
}

/// Adds the host time since `start` to `label` when host profiling is on.
pub(crate) fn add_host(label: &str, start: Option<std::time::Instant>) {
    if let Some(t) = start {
        add(label, t.elapsed().as_secs_f64());
    }
}

/// What is timed: every dispatch, or each submission's whole pass (`MLX_ARM_GPU_PROFILE=pass`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Timestamps around every dispatch.
    Dispatch,
    /// Timestamps at the start and end of each submitted pass only.
    Pass,
    /// No timestamps: host seconds spent recording, encoding and submitting.
    Host,
}

/// The profiling mode asked for, if any.
pub fn mode() -> Option<Mode> {
    static MODE: OnceLock<Option<Mode>> = OnceLock::new();
    *MODE.get_or_init(|| match std::env::var("MLX_ARM_GPU_PROFILE").as_deref() {
        Ok("1") => Some(Mode::Dispatch),
        Ok("pass") => Some(Mode::Pass),
        Ok("host") => Some(Mode::Host),
        _ => None,
    })
}

/// The features profiling needs from the adapter.
pub const FEATURES: wgpu::Features =
    wgpu::Features::TIMESTAMP_QUERY.union(wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES);

/// Dispatch count and device seconds per kernel label, since the last [`reset`].
static TOTALS: Mutex<Option<HashMap<String, (u64, f64)>>> = Mutex::new(None);

/// Adds one dispatch of `label` that took `seconds` on the device.
pub(crate) fn add(label: &str, seconds: f64) {
    let mut t = TOTALS.lock().unwrap_or_else(|p| p.into_inner());
    let e = t
        .get_or_insert_with(HashMap::new)
        .entry(label.to_string())
        .or_default();
    e.0 += 1;
    e.1 += seconds;
}

/// One kernel's profile: its label (the kernel key), dispatches and device seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct KernelTime {
    /// The kernel, as its key prints (family, variant, dtypes).
    pub kernel: String,
    /// Dispatches recorded.
    pub dispatches: u64,
    /// Device seconds summed over them.
    pub seconds: f64,
}

/// Device time per kernel since the last [`reset`], longest first (empty when not profiling).
pub fn report() -> Vec<KernelTime> {
    let t = TOTALS.lock().unwrap_or_else(|p| p.into_inner());
    let mut v: Vec<KernelTime> = t
        .iter()
        .flatten()
        .map(|(k, &(dispatches, seconds))| KernelTime {
            kernel: k.clone(),
            dispatches,
            seconds,
        })
        .collect();
    v.sort_by(|a, b| b.seconds.total_cmp(&a.seconds));
    v
}

/// Forgets what was measured so far.
pub fn reset() {
    *TOTALS.lock().unwrap_or_else(|p| p.into_inner()) = None;
}
