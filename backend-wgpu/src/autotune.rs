//! Per-adapter autotuning of kernel variants. A kernel family with several correct variants
//! (tile sizes, rows per workgroup, K steps) names its *problem* (kernel, dtype, shape class)
//! and lists candidates, the deterministic default first; on the first use of a problem the
//! tuner runs every candidate on the real inputs, times it, and keeps the fastest. Winners are
//! cached in memory and on disk (JSON), keyed by adapter name + driver + backend, so later
//! processes skip the search.
//!
//! - `MLX_ARM_AUTOTUNE=0` turns it off (every family takes its default), `=1` turns it on for
//!   every adapter; unset, it is on for hardware adapters and off for software ones (lavapipe,
//!   SwiftShader, llvmpipe: their timings say little about GPUs, and the test suite's numbers
//!   stay independent of timing noise). [`configure`] overrides both at run time.
//! - `MLX_ARM_AUTOTUNE_CACHE=PATH` sets the cache file; default
//!   `$XDG_CACHE_HOME/mlx-arm/autotune.json`, else `~/.cache/mlx-arm/autotune.json`. A file that
//!   does not parse is ignored (and replaced on the next write); one that cannot be written
//!   leaves the winners in memory. Off on the web, which cannot block on the GPU to time it.
//! - A family whose variant is forced by its own environment switch offers one candidate, so
//!   there is nothing to search.

use crate::engine::Engine;
use mlx_arm_core::{Dtype, Result};
use mlx_arm_wgsl::sources::MapOp;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// GPU time each measurement of a candidate aims at (runs repeated to fill it).
const TIME_PER_MEASURE: f64 = 2e-3;
/// Most runs per measurement.
const MAX_REPS: usize = 128;
/// Measurements per candidate, taken round-robin over the candidates so that a GPU still
/// raising its clocks does not favour whichever runs last; each keeps its best.
const ROUNDS: usize = 3;
/// How much faster than the default a candidate must be to replace it: timings of one kernel
/// repeated on the same inputs (hot in cache) only approximate its time inside a model, so
/// near-ties keep the default.
const MIN_GAIN: f64 = 0.05;
/// Values (f32) copied between runs to push a candidate's inputs out of the GPU's caches (a
/// 32 MiB read and a 32 MiB write; an H200's L2 is 60 MB), so a kernel that streams its
/// weights is timed streaming them from memory as it does inside a model, not from cache.
const EVICT_VALUES: usize = 8 << 20;

/// What the tuner knows: settings, winners by adapter and problem, searches run.
struct Tuner {
    /// `None`: on for hardware adapters only.
    enabled: Option<bool>,
    path: Option<PathBuf>,
    /// The file's contents once read: adapter → problem → entry (`{"pick", "us"}`).
    table: Option<Map<String, Value>>,
    /// Winners resolved in this process, by engine and problem: candidate index.
    memo: HashMap<(usize, String), usize>,
    searches: usize,
}

static TUNER: Mutex<Option<Tuner>> = Mutex::new(None);

/// The tuner, read from the environment on first use.
fn locked() -> std::sync::MutexGuard<'static, Option<Tuner>> {
    let mut guard = TUNER.lock().unwrap_or_else(|p| p.into_inner());
    guard.get_or_insert_with(|| {
        let enabled = match std::env::var("MLX_ARM_AUTOTUNE").as_deref() {
            Ok("0") => Some(false),
            Ok("1") => Some(true),
            _ => None,
        };
        let path = std::env::var_os("MLX_ARM_AUTOTUNE_CACHE")
            .map(PathBuf::from)
            .or_else(default_path);
        Tuner::new(enabled, path)
    });
    guard
}

fn with_tuner<R>(f: impl FnOnce(&mut Tuner) -> R) -> R {
    f(locked().as_mut().expect("initialised"))
}

#[cfg(not(target_arch = "wasm32"))]
fn default_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("mlx-arm").join("autotune.json"))
}

#[cfg(target_arch = "wasm32")]
fn default_path() -> Option<PathBuf> {
    None
}

/// Turns tuning on or off (`None`: hardware adapters only) and sets the cache file (`None`: no
/// file), replacing the environment's settings; winners already in memory are forgotten.
pub fn configure(enabled: Option<bool>, cache: Option<PathBuf>) {
    with_tuner(|t| {
        t.enabled = enabled;
        t.path = cache;
        t.table = None;
        t.memo.clear();
    });
}

/// Searches run by this process so far.
pub fn searches() -> usize {
    with_tuner(|t| t.searches)
}

/// Every winner known (read from the cache file on first use): (adapter, problem, label).
pub fn winners() -> Vec<(String, String, String)> {
    with_tuner(|t| {
        let table = t.loaded();
        table
            .keys()
            .flat_map(|adapter| {
                picks_in(table, adapter)
                    .into_iter()
                    .map(move |(problem, pick)| (adapter.clone(), problem, pick))
            })
            .collect()
    })
}

/// Adapter name, driver and backend: what a cached winner is valid for.
fn adapter_key(engine: &Engine) -> String {
    let i = &engine.gpu.info;
    format!(
        "{} | {} {} | {:?}",
        i.name, i.driver, i.driver_info, i.backend
    )
}

impl Tuner {
    /// A tuner with nothing read or searched yet.
    fn new(enabled: Option<bool>, path: Option<PathBuf>) -> Tuner {
        Tuner {
            enabled,
            path,
            table: None,
            memo: HashMap::new(),
            searches: 0,
        }
    }

    fn on_for(&self, engine: &Engine) -> bool {
        !cfg!(target_arch = "wasm32")
            && self
                .enabled
                .unwrap_or(engine.gpu.info.device_type != wgpu::DeviceType::Cpu)
    }

    /// The table, read from the file on first use (an unreadable file counts as empty).
    fn loaded(&mut self) -> &mut Map<String, Value> {
        if self.table.is_none() {
            self.table = Some(read_table(self.path.as_ref()));
        }
        self.table.as_mut().expect("just loaded")
    }

    fn record(&mut self, adapter: &str, problem: &str, pick: &str, times: &[(String, f64)]) {
        let us: Map<String, Value> = times
            .iter()
            .map(|(l, t)| (l.clone(), Value::from((t * 1e7).round() / 10.0)))
            .collect();
        let entry = serde_json::json!({ "pick": pick, "us": us });
        let table = self.loaded();
        let per_adapter = table
            .entry(adapter.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if !per_adapter.is_object() {
            *per_adapter = Value::Object(Map::new());
        }
        per_adapter
            .as_object_mut()
            .expect("object")
            .insert(problem.to_string(), entry);
        let mut merged = table.clone();
        if let Some(path) = &self.path {
            // winners another process wrote since this one read the file are kept
            for (a, theirs) in read_table(Some(path)) {
                match (theirs, merged.get_mut(&a)) {
                    (Value::Object(theirs), Some(Value::Object(ours))) => {
                        for (p, e) in theirs {
                            ours.entry(p).or_insert(e);
                        }
                    }
                    (theirs, None) => {
                        merged.insert(a, theirs);
                    }
                    _ => {}
                }
            }
            if let Err(e) = write_atomically(path, &Value::Object(merged)) {
                log::warn!(
                    "mlx-arm: autotune cache {} not written: {e}",
                    path.display()
                );
            }
        }
    }
}

/// The adapters' table in `path`; empty when there is no file or it does not parse.
fn read_table(path: Option<&PathBuf>) -> Map<String, Value> {
    let Some(text) = path.and_then(|p| std::fs::read_to_string(p).ok()) else {
        return Map::new();
    };
    match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(mut top)) => match top.remove("adapters") {
            Some(Value::Object(adapters)) => adapters,
            _ => Map::new(),
        },
        _ => {
            log::warn!("mlx-arm: ignoring an autotune cache that does not parse");
            Map::new()
        }
    }
}

/// Writes the table through a temporary file and a rename, so readers never see half a file.
fn write_atomically(path: &PathBuf, adapters: &Value) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let doc = serde_json::json!({ "format": 1, "adapters": adapters });
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    std::fs::write(&tmp, serde_json::to_string_pretty(&doc)?)?;
    std::fs::rename(&tmp, path)
}

/// The fastest of `times` (the first on ties), by label.
fn fastest(times: &[(String, f64)]) -> Option<&str> {
    times
        .iter()
        .fold(None, |best: Option<&(String, f64)>, c| match best {
            Some(b) if b.1 <= c.1 => Some(b),
            _ => Some(c),
        })
        .map(|(l, _)| l.as_str())
}

/// The winner of `times` (in candidate order, the default first when it ran): the fastest,
/// unless it beats the default by less than [`MIN_GAIN`].
fn pick(times: &[(String, f64)]) -> Option<String> {
    let best = fastest(times)?;
    let t = |label: &str| times.iter().find(|(l, _)| l == label).map(|c| c.1);
    Some(match times.first() {
        Some((default, td)) if t(best)? > td * (1.0 - MIN_GAIN) => default.clone(),
        _ => best.to_string(),
    })
}

impl Engine {
    /// The candidate `problem` should use on this adapter: the winner resolved before, the
    /// cached one, or, when tuning is on and nothing is cached, the fastest after running each
    /// through `run` (which records the candidate's dispatches; it may write only its own
    /// output, as it runs several times). `label` names a candidate in the cache file. The
    /// first candidate is the default, taken when tuning is off or there is one candidate;
    /// `problem` is only formatted when tuning is on. A candidate that fails (e.g. too much
    /// workgroup memory here) is skipped; if all fail, the default is returned and its own
    /// dispatch reports the error.
    pub fn tuned<T: Clone>(
        self: &Arc<Self>,
        problem: impl FnOnce() -> String,
        candidates: &[T],
        label: impl Fn(&T) -> String,
        mut run: impl FnMut(&T) -> Result<()>,
    ) -> Result<T> {
        let default = candidates[0].clone();
        if candidates.len() < 2 {
            return Ok(default);
        }
        let mut guard = locked();
        let tuner = guard.as_mut().expect("initialised");
        if !tuner.on_for(self) {
            return Ok(default);
        }
        let problem = problem();
        let memo_key = (Arc::as_ptr(self) as usize, problem);
        if let Some(&i) = tuner.memo.get(&memo_key) {
            if let Some(c) = candidates.get(i) {
                return Ok(c.clone());
            }
        }
        let problem = memo_key.1.as_str();
        let labels: Vec<String> = candidates.iter().map(&label).collect();
        let adapter = adapter_key(self);
        let cached = tuner
            .loaded()
            .get(&adapter)
            .and_then(|a| a.get(problem))
            .and_then(|e| e.get("pick"))
            .and_then(Value::as_str)
            .and_then(|pick| labels.iter().position(|l| l == pick));
        let index = match cached {
            Some(i) => i,
            None => {
                // inputs first, so their work is not timed
                self.flush()?;
                self.wait()?;
                let times = self.time_candidates(problem, &labels, candidates, &mut run);
                tuner.searches += 1;
                match pick(&times) {
                    Some(pick) => {
                        log::info!("mlx-arm: autotune {problem}: {pick} of {times:?}");
                        tuner.record(&adapter, problem, &pick, &times);
                        labels.iter().position(|l| *l == pick).unwrap_or(0)
                    }
                    None => 0,
                }
            }
        };
        tuner.memo.insert(memo_key, index);
        Ok(candidates[index].clone())
    }

    /// Seconds per run of each candidate that runs (label, best of [`ROUNDS`] measurements),
    /// in candidate order. A warm-up run first (pipeline creation) sizes each measurement to
    /// about [`TIME_PER_MEASURE`]; the clock runs from submission to completion, so recording
    /// the dispatches (host work, the same for every candidate) is not counted. Each run is
    /// followed by a copy of [`EVICT_VALUES`] values whose own time, measured the same way,
    /// is subtracted.
    fn time_candidates<T>(
        self: &Arc<Self>,
        problem: &str,
        labels: &[String],
        candidates: &[T],
        run: &mut impl FnMut(&T) -> Result<()>,
    ) -> Vec<(String, f64)> {
        let scratch = self
            .alloc(EVICT_VALUES)
            .map(|m| Engine::output(m, Dtype::Float32, &[EVICT_VALUES]));
        let evict = || -> Result<()> {
            if let Ok(src) = &scratch {
                let (op, shape) = (MapOp::Copy, [EVICT_VALUES]);
                let src = std::slice::from_ref(src);
                crate::kernels::elementwise::map(self, op, src, &shape, Dtype::Float32)?;
            }
            Ok(())
        };
        let mut timed = |value: Option<&T>, reps: usize| -> Result<f64> {
            for _ in 0..reps {
                if let Some(v) = value {
                    run(v)?;
                }
                evict()?;
            }
            let start = Instant::now();
            self.flush()?;
            self.wait()?;
            self.gpu.take_error()?;
            Ok(start.elapsed().as_secs_f64() / reps as f64)
        };
        // the eviction alone, timed alongside the candidates
        let evict_reps = match timed(None, 1).and_then(|_| timed(None, 1)) {
            Ok(once) => ((TIME_PER_MEASURE / once.max(1e-7)) as usize).clamp(1, MAX_REPS),
            Err(_) => 1,
        };
        let mut evict_time = f64::INFINITY;
        // (index, runs per measurement, best time)
        let mut live: Vec<(usize, usize, f64)> = vec![];
        for (i, value) in candidates.iter().enumerate() {
            match timed(Some(value), 1).and_then(|_| timed(Some(value), 1)) {
                Ok(once) => {
                    let reps = ((TIME_PER_MEASURE / once.max(1e-7)) as usize).clamp(1, MAX_REPS);
                    live.push((i, reps, f64::INFINITY));
                }
                Err(e) => log::info!("mlx-arm: autotune {problem}: {} failed: {e}", labels[i]),
            }
        }
        for _ in 0..ROUNDS {
            if let Ok(t) = timed(None, evict_reps) {
                evict_time = evict_time.min(t);
            }
            for (i, reps, best) in live.iter_mut() {
                match timed(Some(&candidates[*i]), *reps) {
                    Ok(t) if !best.is_nan() => *best = best.min(t),
                    Ok(_) => {}
                    Err(_) => *best = f64::NAN,
                }
            }
        }
        live.into_iter()
            .filter(|c| c.2.is_finite())
            .map(|(i, _, t)| (labels[i].clone(), (t - evict_time).max(t * 0.01)))
            .collect()
    }
}

/// Shape classes: a size rounded up to a power of two, so similar shapes share a winner.
pub fn class(n: usize) -> usize {
    n.max(1).next_power_of_two()
}

/// Winners per problem in `adapters` for `adapter`: problem → pick.
fn picks_in(adapters: &Map<String, Value>, adapter: &str) -> HashMap<String, String> {
    adapters
        .get(adapter)
        .and_then(Value::as_object)
        .map(|a| {
            a.iter()
                .filter_map(|(p, e)| Some((p.clone(), e.get("pick")?.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fastest_takes_the_first_of_equal_times() {
        let t = |l: &str, s| (l.to_string(), s);
        assert_eq!(fastest(&[t("a", 2.0), t("b", 1.0), t("c", 1.0)]), Some("b"));
        assert_eq!(fastest(&[t("a", 1.0), t("b", 1.0)]), Some("a"));
        assert_eq!(fastest(&[]), None);
    }

    #[test]
    fn a_winner_must_beat_the_default_by_the_margin() {
        let t = |l: &str, s| (l.to_string(), s);
        assert_eq!(pick(&[t("d", 1.0), t("b", 0.97)]).as_deref(), Some("d"));
        assert_eq!(
            pick(&[t("d", 1.0), t("b", 0.9), t("c", 0.8)]).as_deref(),
            Some("c")
        );
        assert_eq!(pick(&[t("d", 1.0), t("b", 1.2)]).as_deref(), Some("d"));
        assert_eq!(pick(&[]), None);
    }

    #[test]
    fn corrupt_or_missing_files_read_as_empty_and_a_written_table_reads_back() {
        let dir = std::env::temp_dir().join(format!("mlx-arm-tune-{}", std::process::id()));
        let path = dir.join("t.json");
        assert!(read_table(Some(&path)).is_empty());
        std::fs::create_dir_all(&dir).unwrap();
        for junk in ["{not json", "[1,2]", "{\"adapters\": 3}", ""] {
            std::fs::write(&path, junk).unwrap();
            assert!(read_table(Some(&path)).is_empty(), "{junk:?}");
        }
        let mut t = Tuner::new(Some(true), Some(path.clone()));
        let times = [("x".to_string(), 2e-3), ("y".to_string(), 1e-3)];
        t.record("gpu A", "matmul m64", "y", &times);
        t.record("gpu A", "matmul m128", "x", &times);
        t.record("gpu B", "matmul m64", "x", &times);
        // another process's winners, written after this tuner read the file, are kept
        let mut other = Tuner::new(Some(true), Some(path.clone()));
        other.record("gpu C", "qmm m512", "x", &times);
        other.record("gpu A", "qmm m512", "y", &times);
        t.record("gpu A", "matmul m256", "y", &times);
        let back = read_table(Some(&path));
        assert_eq!(picks_in(&back, "gpu C")["qmm m512"], "x");
        assert_eq!(picks_in(&back, "gpu A")["qmm m512"], "y");
        assert_eq!(picks_in(&back, "gpu A")["matmul m256"], "y");
        assert_eq!(picks_in(&back, "gpu A")["matmul m64"], "y");
        assert_eq!(picks_in(&back, "gpu A")["matmul m128"], "x");
        assert_eq!(picks_in(&back, "gpu B")["matmul m64"], "x");
        assert_eq!(back["gpu A"]["matmul m64"]["us"]["y"], 1000.0);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn classes_round_up_to_powers_of_two() {
        assert_eq!([0, 1, 3, 64, 65, 4096].map(class), [1, 1, 4, 64, 128, 4096]);
    }
}
