//! Checkpoints of a long run, and resuming a killed one: `run --out DIR` writes them,
//! `run --resume DIR` continues.
//!
//! A checkpoint is a shard directory (shard.rs) holding the paths finished so far:
//! their per-path statistics, the cross-path sums in their canonical order and the
//! time grid's integer sums, all exact, so a resumed run ends with the very numbers of
//! an uninterrupted one. Each checkpoint goes into a new generation directory
//! `DIR/checkpoint/<paths done>/`; the file `DIR/checkpoint/latest`, replaced
//! atomically (write, then rename) once that directory is complete, names the one to
//! resume from, so a kill at any moment leaves a whole checkpoint behind.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::engine::BackendInfo;
use crate::report::write_atomically;
use crate::results::{Results, RunInfo};
use crate::scenario::Plan;
use crate::shard::{read_shard, write_shard, ShardSpec};

/// The checkpoint directory inside a run's `--out` directory.
pub const CHECKPOINT: &str = "checkpoint";

/// How the killed run was asked to write its results, restored on resume.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunOptions {
    /// The shard of the run (`--shard I/N`), if it was one.
    pub shard: Option<ShardSpec>,
    /// `--per-path`: "parquet" or "csv".
    pub per_path: Option<String>,
    pub png: bool,
}

/// Writes a checkpoint after a finished batch when `every` has passed since the last.
pub struct Checkpointer {
    root: PathBuf,
    every: Duration,
    last: Option<Instant>,
    written: Option<PathBuf>,
    options: RunOptions,
    backend: BackendInfo,
}

impl Checkpointer {
    /// Checkpoints into `out/checkpoint`, replacing any left there by an earlier run.
    pub fn new(
        out: &Path,
        every: Duration,
        options: RunOptions,
        backend: BackendInfo,
    ) -> std::io::Result<Checkpointer> {
        let root = out.join(CHECKPOINT);
        if root.exists() {
            std::fs::remove_dir_all(&root)?;
        }
        Ok(Checkpointer { root, every, last: None, written: None, options, backend })
    }

    /// Continues the checkpoints of a resumed run in `out/checkpoint`.
    pub fn continuing(out: &Path, every: Duration, options: RunOptions, backend: BackendInfo) -> Checkpointer {
        let root = out.join(CHECKPOINT);
        let written = std::fs::read_to_string(root.join("latest")).ok().map(|latest| root.join(latest.trim()));
        Checkpointer { root, every, last: Some(Instant::now()), written, options, backend }
    }

    /// Saves `results` (the first paths of the run) when a checkpoint is due.
    pub fn save(&mut self, plan: &Plan, results: &Results, seconds: f64) -> std::io::Result<()> {
        if self.last.is_some_and(|last| last.elapsed() < self.every) {
            return Ok(());
        }
        let done = results.path_range.start + results.paths() as u64;
        let generation = self.root.join(done.to_string());
        let run = RunInfo {
            backend: self.backend.clone(),
            paths: results.paths() as u64,
            steps: plan.steps,
            stocks: plan.n(),
            seconds,
            asset_steps_per_second: 0.0,
        };
        let shard = self.options.shard.unwrap_or(ShardSpec { index: 0, count: 1 });
        write_shard(&generation, plan, shard, results, &run)?;
        if self.written.is_none() {
            // The options do not change during a run (a resumed run finds them there).
            let options = serde_json::to_string_pretty(&self.options).expect("options serialise");
            write_atomically(&self.root.join("options.json"), options.as_bytes())?;
        }
        write_atomically(&self.root.join("latest"), done.to_string().as_bytes())?;
        if let Some(previous) = self.written.replace(generation) {
            let _ = std::fs::remove_dir_all(previous);
        }
        self.last = Some(Instant::now());
        log::info!("checkpoint: {done} paths in {}", self.root.display());
        Ok(())
    }

    /// The run finished and its results are written: the checkpoint goes.
    pub fn finish(self) -> std::io::Result<()> {
        match std::fs::remove_dir_all(&self.root) {
            Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(error),
            _ => Ok(()),
        }
    }
}

/// A killed run read back from its checkpoint.
pub struct Resumed {
    pub plan: Plan,
    /// The paths finished, to be continued to the end of their range.
    pub results: Results,
    /// Seconds the run spent before it was killed.
    pub seconds: f64,
    /// "cpu" or "gpu", and "f32" or "f64": a resumed run must use the same.
    pub backend: String,
    pub precision: String,
    pub options: RunOptions,
}

/// Reads the checkpoint in `out/checkpoint`.
pub fn resume(out: &Path) -> Result<Resumed, String> {
    let root = out.join(CHECKPOINT);
    let latest = root.join("latest");
    let generation = std::fs::read_to_string(&latest).map_err(|error| {
        format!(
            "{}: cannot read ({error}); is {} the --out directory of a run that was stopped before it finished?",
            latest.display(),
            out.display()
        )
    })?;
    let generation = generation.trim();
    if generation.is_empty() || !generation.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{}: expected a number of paths, found {generation:?}", latest.display()));
    }
    let options_file = root.join("options.json");
    let options: RunOptions = std::fs::read_to_string(&options_file)
        .map_err(|e| format!("{}: cannot read ({e})", options_file.display()))
        .and_then(|text| serde_json::from_str(&text).map_err(|e| format!("{}: {e}", options_file.display())))?;
    let shard = read_shard(&root.join(generation))?;
    let manifest = &shard.manifest;
    if manifest.rng_contract != crate::shard::RNG_CONTRACT {
        return Err(format!(
            "{}: the run drew random numbers under {}, this sptlab draws under {}",
            out.display(),
            manifest.rng_contract,
            crate::shard::RNG_CONTRACT
        ));
    }
    let plan =
        manifest.scenario.validate().map_err(|e| format!("{}: the checkpoint's scenario: {e}", out.display()))?;
    let range = options.shard.map_or(0..plan.paths, |shard| shard.paths(plan.paths));
    if manifest.first_path != range.start || manifest.end_path > range.end {
        return Err(format!(
            "{}: holds paths {}..{}, which do not start the run's paths {}..{}",
            out.display(),
            manifest.first_path,
            manifest.end_path,
            range.start,
            range.end
        ));
    }
    let results = Results::resumed(
        &plan,
        range,
        shard.per_path,
        shard.market_log_return,
        manifest.terminal_sums.clone(),
        manifest.time_grid.clone(),
    );
    Ok(Resumed {
        seconds: manifest.seconds,
        backend: manifest.backend.clone(),
        precision: manifest.precision.clone(),
        plan,
        results,
        options,
    })
}
