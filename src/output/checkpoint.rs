//! Checkpoints of a long run, and resuming a killed one: `run --out DIR` writes them,
//! `run --resume DIR` continues.
//!
//! A checkpoint is a shard directory (shard.rs) holding the paths finished so far:
//! their per-path statistics, the cross-path sums in their canonical order and the
//! time grid's integer sums, all exact, so a resumed run ends with the very numbers of
//! an uninterrupted one. Each checkpoint goes into a new generation directory
//! `DIR/checkpoint/<paths done>/`; the file `DIR/checkpoint/latest`, replaced
//! atomically (write, then rename) once that directory is complete, names the one to
//! resume from, so a kill at any moment leaves a whole checkpoint behind. A generation
//! whose writing failed (a full disk) is removed at once, and one a killed run left
//! half-written is removed when the run is resumed. Only files of these names are
//! ever removed: anything else in the checkpoint directory is left alone.
//!
//! A checkpoint is checked before a run continues from it: its checksum (shard.rs),
//! its labels, and the sptlab that wrote it, which must be this one (another build's
//! kernels could draw other numbers for the remaining paths).

use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::engine::{BackendInfo, BackendKind, Precision};
use crate::files::write_atomically;
use crate::output::per_path::PerPathFormat;
use crate::output::shard::{read_shard, write_shard, ShardSpec};
use crate::provenance::{GIT_COMMIT, RNG_CONTRACT, SPTLAB_VERSION};
use crate::scenario::Plan;
use crate::summary::report::RunInfo;
use crate::summary::results::Results;

/// The checkpoint directory inside a run's `--out` directory.
pub const CHECKPOINT: &str = "checkpoint";

/// How the killed run was asked to write its results, restored on resume.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunOptions {
    /// The shard of the run (`--shard I/N`), if it was one.
    pub shard: Option<ShardSpec>,
    /// `--per-path`: "parquet" or "csv".
    pub per_path: Option<PerPathFormat>,
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
    /// Checkpoints into `out/checkpoint`, replacing one this run left there (a GPU
    /// attempt that gave way to the CPU; `OutDir` refuses or clears anyone else's).
    pub fn new(out: &Path, every: Duration, options: RunOptions, backend: BackendInfo) -> io::Result<Checkpointer> {
        remove(out)?;
        Ok(Checkpointer { root: out.join(CHECKPOINT), every, last: None, written: None, options, backend })
    }

    /// Continues the checkpoints of a resumed run in `out/checkpoint`, removing any
    /// generation other than the current one (a killed run's half-written next one).
    pub fn continuing(
        out: &Path,
        every: Duration,
        options: RunOptions,
        backend: BackendInfo,
    ) -> io::Result<Checkpointer> {
        let root = out.join(CHECKPOINT);
        let latest = read_latest(&root).map_err(io::Error::other)?;
        for entry in std::fs::read_dir(&root)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if is_generation(&name) && name != latest.to_string() && entry.file_type()?.is_dir() {
                remove_generation(&entry.path())?;
            } else if is_partial(&name) {
                std::fs::remove_file(entry.path())?;
            }
        }
        // Options given on resuming (--per-path, --png) hold if the run is stopped again.
        let text = serde_json::to_string_pretty(&options).expect("options serialise");
        write_atomically(&root.join("options.json"), text.as_bytes())?;
        let written = Some(root.join(latest.to_string()));
        Ok(Checkpointer { root, every, last: Some(Instant::now()), written, options, backend })
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
        let written = (|| {
            write_shard(&generation, plan, shard, results, &run)?;
            if self.written.is_none() {
                // The options do not change during a run (a resumed run finds them there).
                let options = serde_json::to_string_pretty(&self.options).expect("options serialise");
                write_atomically(&self.root.join("options.json"), options.as_bytes())?;
            }
            write_atomically(&self.root.join("latest"), done.to_string().as_bytes())
        })();
        if let Err(error) = written {
            // The previous generation stays current; this one's part goes.
            if self.written.as_ref() != Some(&generation) {
                let _ = remove_generation(&generation);
            }
            return Err(error);
        }
        if let Some(previous) = self.written.replace(generation.clone()).filter(|previous| *previous != generation) {
            let _ = remove_generation(&previous);
        }
        self.last = Some(Instant::now());
        log::info!("checkpoint: {done} paths in {}", self.root.display());
        Ok(())
    }

    /// The run finished and its results are written: the checkpoint goes.
    pub fn finish(self) -> io::Result<()> {
        remove(self.root.parent().unwrap_or(Path::new(".")))
    }
}

/// Whether a name in the checkpoint directory is a generation (a number of paths).
fn is_generation(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit())
}

/// Whether a name is one of `files::write_atomically`'s temporary files.
fn is_partial(name: &str) -> bool {
    name.starts_with('.') && name.ends_with(".partial")
}

fn remove_if_present(path: &Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
        _ => Ok(()),
    }
}

/// Removes a generation directory's shard files (and temporary ones), then the
/// directory if nothing else is in it.
fn remove_generation(directory: &Path) -> io::Result<()> {
    for entry in std::fs::read_dir(directory)? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if name == "paths.bin" || name == "shard.json" || is_partial(&name) {
            remove_if_present(&directory.join(name))?;
        }
    }
    remove_empty_dir(directory)
}

fn remove_empty_dir(directory: &Path) -> io::Result<()> {
    match std::fs::remove_dir(directory) {
        Err(error) if error.kind() == io::ErrorKind::DirectoryNotEmpty => {
            log::warn!("{}: left in place, it holds files sptlab did not write", directory.display());
            Ok(())
        }
        Err(error) if error.kind() != io::ErrorKind::NotFound => Err(error),
        _ => Ok(()),
    }
}

/// Removes the checkpoint in `out/checkpoint`: the files sptlab writes there and
/// nothing else.
pub fn remove(out: &Path) -> io::Result<()> {
    let root = out.join(CHECKPOINT);
    let entries = match std::fs::read_dir(&root) {
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
        entries => entries?,
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if is_generation(&name) && entry.file_type()?.is_dir() {
            remove_generation(&entry.path())?;
        } else if name == "latest" || name == "options.json" || is_partial(&name) {
            remove_if_present(&entry.path())?;
        }
    }
    remove_empty_dir(&root)
}

/// The number of paths the current checkpoint in `root` holds (the file `latest`).
fn read_latest(root: &Path) -> Result<u64, String> {
    let latest = root.join("latest");
    let text = crate::files::read_text_limited(&latest, 64)
        .map_err(|error| format!("{}: cannot read ({error})", latest.display()))?;
    let text = text.trim();
    match text.parse::<u64>() {
        Ok(done) if is_generation(text) => Ok(done),
        _ => Err(format!("{}: expected a number of paths, found {text:?}", latest.display())),
    }
}

/// The number of paths done by the checkpoint in `out`, if it has a readable one.
pub fn paths_done(out: &Path) -> Option<u64> {
    read_latest(&out.join(CHECKPOINT)).ok()
}

/// A killed run read back from its checkpoint.
pub struct Resumed {
    pub plan: Plan,
    /// The paths finished, to be continued to the end of their range.
    pub results: Results,
    /// Seconds the run spent before it was killed.
    pub seconds: f64,
    /// The backend and precision the run used: a resumed run must use the same.
    pub backend: BackendKind,
    pub precision: Precision,
    pub options: RunOptions,
}

/// Why a checkpoint cannot be resumed; each message names the folder or file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ResumeError {
    /// No readable checkpoint: the folder is not one a stopped run wrote into.
    #[error("{0}")]
    NoCheckpoint(String),
    /// A checkpoint file that cannot be read or does not check out.
    #[error("{0}")]
    Damaged(String),
    /// A checkpoint of another sptlab build or random-number contract, which may draw
    /// other numbers for the remaining paths.
    #[error("{0}")]
    OtherBuild(String),
}

/// Reads the checkpoint in `out/checkpoint`.
pub fn resume(out: &Path) -> Result<Resumed, ResumeError> {
    let root = out.join(CHECKPOINT);
    let generation = read_latest(&root).map_err(|reason| {
        ResumeError::NoCheckpoint(format!(
            "{reason}; is {} the --out directory of a run that was stopped before it finished?",
            out.display()
        ))
    })?;
    let options_file = root.join("options.json");
    let options: RunOptions = crate::files::read_text_limited(&options_file, 1 << 20)
        .map_err(|e| format!("{}: cannot read ({e})", options_file.display()))
        .and_then(|text| serde_json::from_str(&text).map_err(|e| format!("{}: {e}", options_file.display())))
        .map_err(ResumeError::Damaged)?;
    let shard =
        read_shard(&root.join(generation.to_string())).map_err(|error| ResumeError::Damaged(error.to_string()))?;
    let manifest = &shard.manifest;
    if manifest.sptlab_version != SPTLAB_VERSION
        || manifest.git_commit.as_deref().zip(GIT_COMMIT).is_some_and(|(theirs, ours)| theirs != ours)
    {
        return Err(ResumeError::OtherBuild(format!(
            "{}: the checkpoint was written by sptlab {} (commit {}), this is sptlab {} (commit {}): another \
             build may draw other numbers for the remaining paths; finish it with that build, or start again \
             with --force",
            out.display(),
            manifest.sptlab_version,
            manifest.git_commit.as_deref().unwrap_or("unknown"),
            SPTLAB_VERSION,
            GIT_COMMIT.unwrap_or("unknown")
        )));
    }
    if manifest.shard != options.shard.unwrap_or(ShardSpec { index: 0, count: 1 }) {
        return Err(ResumeError::Damaged(format!(
            "{}: the checkpoint's shard does not match {}",
            out.display(),
            options_file.display()
        )));
    }
    if manifest.rng_contract != RNG_CONTRACT {
        return Err(ResumeError::OtherBuild(format!(
            "{}: the run drew random numbers under {}, this sptlab draws under {}",
            out.display(),
            manifest.rng_contract,
            RNG_CONTRACT
        )));
    }
    let plan = manifest
        .scenario
        .validate()
        .map_err(|e| ResumeError::Damaged(format!("{}: the checkpoint's scenario: {e}", out.display())))?;
    let range = options.shard.map_or(0..plan.paths, |shard| shard.paths(plan.paths, plan.antithetic));
    if manifest.first_path != range.start || manifest.end_path > range.end {
        return Err(ResumeError::Damaged(format!(
            "{}: holds paths {}..{}, which do not start the run's paths {}..{}",
            out.display(),
            manifest.first_path,
            manifest.end_path,
            range.start,
            range.end
        )));
    }
    let mut results = Results::resumed(
        &plan,
        range,
        shard.per_path,
        (shard.market_log_return, shard.market_control, shard.benchmark_volatility, shard.index),
        manifest.terminal_sums.clone(),
        manifest.time_grid.clone(),
    );
    results.history = manifest.history.clone();
    let (backend, precision) = (manifest.backend, manifest.precision);
    Ok(Resumed { seconds: manifest.seconds, backend, precision, plan, results, options })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("sptlab-checkpoint-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    fn generation(root: &Path, done: u64) {
        let directory = root.join(done.to_string());
        std::fs::create_dir_all(&directory).unwrap();
        std::fs::write(directory.join("paths.bin"), [0u8; 16]).unwrap();
    }

    #[test]
    fn resuming_clears_half_written_generations_and_removal_spares_other_files() {
        let out = scratch("stale");
        let root = out.join(CHECKPOINT);
        generation(&root, 1000);
        // A killed run's next generation, half written, and a temporary file.
        generation(&root, 2000);
        std::fs::write(root.join(".latest.77.partial"), "2000").unwrap();
        std::fs::write(root.join("latest"), "1000").unwrap();
        std::fs::write(root.join("notes.txt"), "the user's").unwrap();
        let backend = BackendInfo { backend: BackendKind::Cpu, adapter: "test".into(), precision: Precision::F32 };
        let options = RunOptions { shard: None, per_path: None, png: false };
        Checkpointer::continuing(&out, Duration::ZERO, options, backend).unwrap();
        let mut names: Vec<String> =
            std::fs::read_dir(&root).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        assert_eq!(names, ["1000", "latest", "notes.txt", "options.json"]);
        assert_eq!(paths_done(&out), Some(1000));
        remove(&out).unwrap();
        assert_eq!(std::fs::read_to_string(root.join("notes.txt")).unwrap(), "the user's");
        assert_eq!(std::fs::read_dir(&root).unwrap().count(), 1, "only the user's file is left");
    }
}
