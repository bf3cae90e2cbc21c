//! The output folder of `run --out`, `run --shard --out` and `merge --out`: sptlab's
//! only where sptlab wrote it.
//!
//! - One writer at a time: the folder is locked (`flock` on `.sptlab.lock`) from the
//!   moment it is opened until the run ends. The kernel releases the lock when the
//!   process dies, so a lock left by a killed run is stale and simply taken over.
//! - A record, `.sptlab-out.json`, lists the files sptlab wrote there. A folder that
//!   holds an earlier run's results or a stopped run's checkpoint is refused unless
//!   `--force` (replace them) or `--resume` (continue the checkpoint); a file with an
//!   output's name that sptlab did not write is never touched, with or without
//!   `--force`; other files in the folder are left alone.
//! - Results are published as one set: the earlier run's files are removed first, the
//!   record says "writing" until the new set is complete and `summary.json` (or a
//!   shard's `shard.json`) comes last, so a run killed while writing never leaves new
//!   files beside old ones, and its partial set is still known to be sptlab's.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::output::checkpoint;

/// The lock file inside an output folder.
pub const LOCK: &str = ".sptlab.lock";
/// The record of the files sptlab wrote in an output folder.
pub const RECORD: &str = ".sptlab-out.json";

/// Why `path` cannot be an output folder before anything is tried: it exists and is
/// not a directory. `option` names it in the message (`--out`, `--resume`).
pub fn not_a_folder(path: &Path, option: &str) -> Option<String> {
    let file = fs::metadata(path).is_ok_and(|metadata| !metadata.is_dir());
    file.then(|| format!("{option} {}: exists and is not a directory", path.display()))
}

/// The files an output folder may receive: a run's, a merge's and a shard's.
pub fn output_names() -> Vec<String> {
    let mut names: Vec<String> =
        ["summary.json", "report.html", "paths.csv", "paths.parquet", "shard.json", "paths.bin"]
            .map(String::from)
            .into();
    names.push("backtest.csv".to_string());
    for figure in crate::output::plots::FIGURES.iter().chain(&crate::output::backtest_plots::BACKTEST_FIGURES) {
        names.push(format!("{figure}.svg"));
        names.push(format!("{figure}.png"));
    }
    names
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum State {
    /// A set of files is being written (a run stopped now leaves part of it).
    Writing,
    /// The files listed are one run's whole set.
    Complete,
}

#[derive(Debug, Serialize, Deserialize)]
struct Record {
    sptlab_version: String,
    state: State,
    files: Vec<String>,
    /// Whether `checkpoint/` is sptlab's (a run writing there, or stopped).
    #[serde(default)]
    checkpoint: bool,
}

/// Largest record read (a few hundred bytes in practice).
const MAX_RECORD_BYTES: u64 = 1 << 20;

/// Why an output folder cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum OutDirError {
    /// The folder's contents or another run forbid it: bad input (exit 2).
    #[error("{0}")]
    Refused(String),
    /// Creating, locking or reading it failed.
    #[error("{}", path.display())]
    Io { path: PathBuf, source: io::Error },
}

/// How to treat a folder that already holds sptlab's files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existing {
    /// Refuse an earlier run's results or checkpoint.
    Refuse,
    /// Replace them (`--force`): only files sptlab recorded as its own go.
    Replace,
    /// Continue the checkpoint there (`--resume`); the results it finds are replaced.
    Resume,
}

impl Existing {
    /// The option that names the folder, for messages.
    fn option(self) -> &'static str {
        match self {
            Existing::Resume => "--resume",
            _ => "--out",
        }
    }
}

/// An output folder, locked for this process.
pub struct OutDir {
    path: PathBuf,
    lock: Option<fs::File>,
    /// Folders this process created (outermost first), removed again if nothing was
    /// published into them.
    created: Vec<PathBuf>,
    /// The files sptlab wrote there earlier (replaced when this run publishes).
    earlier: Vec<String>,
    state: State,
    /// Whether the record claims `checkpoint/` for sptlab.
    checkpoint: bool,
    /// Whether this process claimed it (and so releases the claim if it leaves none).
    claimed: bool,
    published: bool,
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> OutDirError + '_ {
    move |source| OutDirError::Io { path: path.to_path_buf(), source }
}

impl OutDir {
    /// Creates (if need be, and not for `--resume`), locks and inspects `path`.
    pub fn open(path: &Path, existing: Existing) -> Result<OutDir, OutDirError> {
        let shown = path.display();
        let option = existing.option();
        if let Some(problem) = not_a_folder(path, option) {
            return Err(OutDirError::Refused(problem));
        }
        match fs::metadata(path) {
            Err(_) if existing == Existing::Resume => {
                return Err(OutDirError::Refused(format!(
                    "{option} {shown}: no such folder; give the --out folder of a run that was stopped before it \
                     finished"
                )))
            }
            _ => {}
        }
        let mut created = Vec::new();
        for folder in path.ancestors().collect::<Vec<_>>().into_iter().rev() {
            if folder.as_os_str().is_empty() || folder.exists() {
                continue;
            }
            match fs::create_dir(folder) {
                Ok(()) => created.push(folder.to_path_buf()),
                Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {}
                Err(error) => {
                    remove_folders(&created);
                    return Err(OutDirError::Io { path: folder.to_path_buf(), source: error });
                }
            }
        }
        let mut out = OutDir {
            path: path.to_path_buf(),
            lock: None,
            created,
            earlier: Vec::new(),
            state: State::Complete,
            checkpoint: false,
            claimed: false,
            published: false,
        };
        out.lock = Some(lock(path, option)?);
        out.inspect(existing)?;
        Ok(out)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// sptlab's record of the folder, if it has one; only names of outputs count.
    fn read_record(&self, option: &str) -> Result<Option<Record>, OutDirError> {
        let shown = self.path.display();
        let record_path = self.path.join(RECORD);
        let damaged = |why: String| {
            OutDirError::Refused(format!(
                "{option} {shown}: {RECORD}, sptlab's record of its files there, is damaged ({why}); remove the \
                 folder's sptlab files and {RECORD} by hand, or choose another folder"
            ))
        };
        match fs::symlink_metadata(&record_path) {
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(OutDirError::Io { path: record_path, source: error }),
            Ok(metadata) if !metadata.is_file() => return Err(damaged("not a regular file".into())),
            Ok(_) => {}
        }
        let bytes = crate::files::read_limited(&record_path, MAX_RECORD_BYTES).map_err(|e| damaged(e.to_string()))?;
        let mut record: Record = serde_json::from_slice(&bytes).map_err(|e| damaged(e.to_string()))?;
        // A name that is not one of sptlab's outputs (`../notes.txt`) is never sptlab's.
        let names = output_names();
        record.files.retain(|name| names.contains(name));
        Ok(Some(record))
    }

    /// Checks what the folder holds against `existing`, and clears a checkpoint that
    /// `--force` discards.
    fn inspect(&mut self, existing: Existing) -> Result<(), OutDirError> {
        let shown = self.path.display();
        let option = existing.option();
        let record = self.read_record(option)?;
        if let Some(record) = &record {
            self.earlier = record.files.clone();
            self.state = record.state;
            self.checkpoint = record.checkpoint;
        }
        // A file with an output's name that sptlab did not write: never touched.
        let foreign = self.foreign(&output_names());
        if !foreign.is_empty() {
            let them = if foreign.len() == 1 { "it" } else { "them" };
            return Err(OutDirError::Refused(format!(
                "{option} {shown}: holds {} that sptlab did not write (no record of {them} in {RECORD}); move \
                 {them} or choose another folder",
                foreign.join(", "),
            )));
        }
        let checkpoint_root = self.path.join(checkpoint::CHECKPOINT);
        let has_checkpoint = fs::symlink_metadata(&checkpoint_root).is_ok();
        let is_folder = fs::symlink_metadata(&checkpoint_root).is_ok_and(|m| m.is_dir());
        if has_checkpoint && !(self.checkpoint && is_folder) {
            return Err(OutDirError::Refused(format!(
                "{option} {shown}: holds a `{}` that sptlab did not write (no record of it in {RECORD}); move it \
                 or choose another folder",
                checkpoint::CHECKPOINT
            )));
        }
        let present: Vec<String> = output_names()
            .into_iter()
            .filter(|name| self.earlier.contains(name) && self.path.join(name).exists())
            .collect();
        match existing {
            Existing::Refuse if has_checkpoint => {
                let done =
                    checkpoint::paths_done(&self.path).map_or(String::new(), |done| format!(" ({done} paths done)"));
                Err(OutDirError::Refused(format!(
                    "--out {shown}: holds the checkpoint of a run that was stopped before it finished{done}; \
                     `sptlab run --resume {shown}` continues it, --force discards it"
                )))
            }
            Existing::Refuse if !present.is_empty() => {
                let names: Vec<&str> = present.iter().take(4).map(|s| s.as_str()).collect();
                let more = if present.len() > 4 { format!(" and {} more", present.len() - 4) } else { String::new() };
                let how = match self.state {
                    State::Complete => "the results of an earlier sptlab run",
                    State::Writing => "part of an earlier sptlab run's results (stopped while writing them)",
                };
                Err(OutDirError::Refused(format!(
                    "--out {shown}: holds {how} ({}{more}); --force replaces them (only the files sptlab wrote \
                     there), or choose another folder",
                    names.join(", ")
                )))
            }
            Existing::Replace if has_checkpoint => {
                checkpoint::remove(&self.path).map_err(io_error(&checkpoint_root))?;
                Ok(())
            }
            Existing::Resume if !has_checkpoint => Err(OutDirError::Refused(format!(
                "--resume {shown}: holds no checkpoint; is it the --out folder of a run that was stopped before it \
                 finished?"
            ))),
            _ => Ok(()),
        }
    }

    /// Of `names`, those present in the folder that sptlab's record does not list.
    fn foreign(&self, names: &[String]) -> Vec<String> {
        names
            .iter()
            .filter(|name| fs::symlink_metadata(self.path.join(name)).is_ok() && !self.earlier.contains(name))
            .cloned()
            .collect()
    }

    /// Records that `checkpoint/` is sptlab's, before the run writes its first
    /// checkpoint there.
    pub fn claim_checkpoint(&mut self) -> io::Result<()> {
        self.checkpoint = true;
        self.claimed = true;
        self.write_record(self.state, &self.earlier.clone())
    }

    /// Records that the run's checkpoint is gone (it finished).
    pub fn release_checkpoint(&mut self) -> io::Result<()> {
        self.checkpoint = false;
        self.write_record(self.state, &self.earlier.clone())
    }

    /// Writes one run's whole set of files (`(name, bytes)`, names from
    /// [`output_names`]), replacing the earlier run's; the first of `last` present is
    /// written last, so its presence marks a finished set.
    pub fn publish(&mut self, mut files: Vec<(String, Vec<u8>)>, last: &[&str]) -> io::Result<()> {
        files.sort_by_key(|(name, _)| last.contains(&name.as_str()));
        let new: Vec<String> = files.iter().map(|(name, _)| name.clone()).collect();
        // A file put there by someone else while the run went on is not replaced either.
        let foreign = self.foreign(&new);
        if !foreign.is_empty() {
            return Err(io::Error::other(format!(
                "{} appeared in {} during the run, not written by sptlab; nothing was replaced",
                foreign.join(", "),
                self.path.display()
            )));
        }
        let mut listed = self.earlier.clone();
        listed.extend(new.iter().filter(|name| !self.earlier.contains(name)).cloned());
        self.write_record(State::Writing, &listed)?;
        self.state = State::Writing;
        for name in &self.earlier {
            match fs::remove_file(self.path.join(name)) {
                Err(error) if error.kind() != io::ErrorKind::NotFound => {
                    return Err(io::Error::new(error.kind(), format!("removing the earlier {name}: {error}")))
                }
                _ => {}
            }
        }
        self.earlier = listed;
        for (name, bytes) in &files {
            crate::files::write_atomically(&self.path.join(name), bytes)
                .map_err(|e| io::Error::new(e.kind(), format!("{name}: {e}")))?;
        }
        self.write_record(State::Complete, &new)?;
        self.earlier = new;
        self.state = State::Complete;
        self.published = true;
        Ok(())
    }

    fn write_record(&self, state: State, files: &[String]) -> io::Result<()> {
        let record = Record {
            sptlab_version: env!("CARGO_PKG_VERSION").to_string(),
            state,
            files: files.to_vec(),
            checkpoint: self.checkpoint,
        };
        let json = serde_json::to_string_pretty(&record).expect("a record serialises");
        crate::files::write_atomically(&self.path.join(RECORD), json.as_bytes())
    }
}

impl Drop for OutDir {
    fn drop(&mut self) {
        // A claim on a checkpoint that was never written (the run failed first) goes,
        // and so does a record that then lists nothing.
        if self.claimed && !self.path.join(checkpoint::CHECKPOINT).exists() {
            self.checkpoint = false;
            if self.earlier.is_empty() {
                let _ = fs::remove_file(self.path.join(RECORD));
            } else {
                let _ = self.write_record(self.state, &self.earlier.clone());
            }
        }
        // Unlinked while still held, so a process waiting on this file's lock finds it
        // gone and locks a new one (see `lock`).
        if self.lock.is_some() {
            let _ = fs::remove_file(self.path.join(LOCK));
        }
        self.lock = None;
        if !self.published {
            remove_folders(&self.created);
        }
    }
}

/// Removes the folders this process created, innermost first, if they are empty.
fn remove_folders(created: &[PathBuf]) {
    for folder in created.iter().rev() {
        if fs::remove_dir(folder).is_err() {
            break;
        }
    }
}

/// Locks `folder` for this process: an exclusive `flock` on its lock file, which
/// holds the owner's process id for other runs' messages. The lock file must be a
/// regular file of its own (a symbolic link there is refused, never followed).
#[cfg(unix)]
fn lock(folder: &Path, option: &str) -> Result<fs::File, OutDirError> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
    use std::os::unix::io::AsRawFd;
    let path = folder.join(LOCK);
    let refused = |why: &str| {
        OutDirError::Refused(format!(
            "{option} {}: {} {why}; sptlab keeps its lock there: move it or choose another folder",
            folder.display(),
            LOCK
        ))
    };
    for _ in 0..100 {
        let opened = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(&path);
        let mut file = match opened {
            Ok(file) => file,
            Err(error) if error.raw_os_error() == Some(libc::ELOOP) => return Err(refused("is a symbolic link")),
            Err(error) if error.kind() == io::ErrorKind::IsADirectory => return Err(refused("is a directory")),
            Err(error) => return Err(OutDirError::Io { path, source: error }),
        };
        if !file.metadata().is_ok_and(|metadata| metadata.is_file()) {
            return Err(refused("is not a regular file"));
        }
        // SAFETY: flock on a file descriptor this function owns.
        if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
            let error = io::Error::last_os_error();
            if error.raw_os_error() != Some(libc::EWOULDBLOCK) {
                return Err(OutDirError::Io { path, source: error });
            }
            let owner =
                crate::files::read_text_limited(&path, 64).ok().and_then(|text| text.trim().parse::<u32>().ok());
            let who = owner.map_or("another sptlab".to_string(), |pid| format!("another sptlab (process {pid})"));
            return Err(OutDirError::Refused(format!(
                "{option} {}: {who} is writing there; wait for it to finish or choose another folder",
                folder.display()
            )));
        }
        // The file may have been unlinked by the owner that just let go: then lock the new one.
        let same =
            fs::symlink_metadata(&path).is_ok_and(|now| file.metadata().is_ok_and(|held| held.ino() == now.ino()));
        if !same {
            continue;
        }
        file.set_len(0).map_err(io_error(&path))?;
        write!(file, "{}", std::process::id()).map_err(io_error(&path))?;
        return Ok(file);
    }
    Err(OutDirError::Refused(format!("{option} {}: could not take its lock", folder.display())))
}

#[cfg(not(unix))]
fn lock(folder: &Path, _option: &str) -> Result<fs::File, OutDirError> {
    let path = folder.join(LOCK);
    fs::OpenOptions::new().write(true).create(true).truncate(true).open(&path).map_err(io_error(&path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("sptlab-outdir-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    fn files(names: &[&str]) -> Vec<(String, Vec<u8>)> {
        names.iter().map(|name| (name.to_string(), name.as_bytes().to_vec())).collect()
    }

    #[test]
    fn a_folder_is_created_locked_and_removed_when_nothing_was_published() {
        let dir = scratch("created").join("a/b");
        let out = OutDir::open(&dir, Existing::Refuse).unwrap();
        assert!(dir.join(LOCK).exists());
        // A second writer in this process is refused too (flock is per open file).
        let second = OutDir::open(&dir, Existing::Refuse).err().unwrap();
        assert!(second.to_string().contains("is writing there"), "{second}");
        drop(out);
        assert!(!dir.exists() && !dir.parent().unwrap().exists());
    }

    #[test]
    fn earlier_results_are_refused_then_replaced_as_a_set() {
        let dir = scratch("replace");
        let mut out = OutDir::open(&dir, Existing::Refuse).unwrap();
        out.publish(files(&["summary.json", "paths.csv", "fan_chart.png"]), &["summary.json"]).unwrap();
        drop(out);
        fs::write(dir.join("notes.txt"), "mine").unwrap();
        let refused = OutDir::open(&dir, Existing::Refuse).err().unwrap().to_string();
        assert!(refused.contains("earlier sptlab run") && refused.contains("--force"), "{refused}");
        let mut out = OutDir::open(&dir, Existing::Replace).unwrap();
        out.publish(files(&["summary.json", "fan_chart.svg"]), &["summary.json"]).unwrap();
        drop(out);
        let mut names: Vec<String> =
            fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        assert_eq!(names, [RECORD, "fan_chart.svg", "notes.txt", "summary.json"]);
    }

    #[test]
    fn files_sptlab_did_not_write_are_never_touched() {
        let dir = scratch("foreign");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("summary.json"), "the user's").unwrap();
        for existing in [Existing::Refuse, Existing::Replace] {
            let refused = OutDir::open(&dir, existing).err().unwrap().to_string();
            assert!(refused.contains("summary.json that sptlab did not write"), "{refused}");
        }
        assert_eq!(fs::read_to_string(dir.join("summary.json")).unwrap(), "the user's");
        assert!(!dir.join(LOCK).exists());
    }
}
