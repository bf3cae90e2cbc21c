//! Kill a real run with SIGKILL at a random moment, resume it, and get the numbers of
//! a run that was never stopped.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant, SystemTime};

use crate::{binary, json, scratch, sptlab, write, SMALL};

/// Starts `sptlab ARGS --out OUT --batch-paths 500 --checkpoint-every 0` and returns it
/// once its first checkpoint is written, with the checkpoint's `latest` file.
pub fn run_until_checkpointed(args: &[&str], out: &Path) -> (Child, PathBuf) {
    let child = Command::new(binary())
        .args(args)
        .args(["--out", out.to_str().unwrap(), "--batch-paths", "500", "--checkpoint-every", "0"])
        .spawn()
        .unwrap();
    let latest = out.join("checkpoint/latest");
    let waited = Instant::now();
    while !latest.exists() {
        assert!(waited.elapsed() < Duration::from_secs(120), "no checkpoint appeared");
        std::thread::sleep(Duration::from_millis(2));
    }
    (child, latest)
}

/// Long enough (about 4 s on two cores) for a kill to land mid-run.
fn long_scenario() -> String {
    SMALL.replace("paths = 40", "paths = 40000").replace("years = 1.0", "years = 5.0").replace("n = 8", "n = 50")
}

#[test]
fn a_run_killed_at_a_random_point_and_resumed_equals_an_uninterrupted_run() {
    let dir = scratch("resume");
    let scenario = write(&dir, "long.toml", &long_scenario());
    let whole = dir.join("whole");
    let killed = dir.join("killed");
    let common = ["--backend", "cpu", "--quiet", "--per-path", "--per-path-format", "csv"];
    let output = sptlab(&[&["run", &scenario, "--out", whole.to_str().unwrap()][..], &common].concat());
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));

    // A pseudo-random moment (reported on failure): after the first checkpoint, before the end.
    let nanos = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().subsec_nanos();
    let delay = Duration::from_millis(u64::from(nanos % 800));
    let (mut child, latest) = run_until_checkpointed(&[&["run", &scenario][..], &common].concat(), &killed);
    std::thread::sleep(delay);
    assert!(
        child.try_wait().unwrap().is_none(),
        "the run ended before the kill ({delay:?} after the first checkpoint)"
    );
    child.kill().unwrap(); // SIGKILL on Unix: no chance to clean up
    child.wait().unwrap();
    assert!(!killed.join("summary.json").exists());
    let done: u64 = std::fs::read_to_string(&latest).unwrap().trim().parse().unwrap();
    assert!(done > 0 && done < 40_000, "{done} paths checkpointed");

    // Started again into the same folder without --resume: refused, the checkpoint kept.
    let again = sptlab(&[&["run", &scenario, "--out", killed.to_str().unwrap()][..], &common].concat());
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert_eq!(again.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("holds the checkpoint of a run that was stopped") && stderr.contains("--resume"));
    assert_eq!(std::fs::read_to_string(&latest).unwrap().trim(), done.to_string());

    // Resumed and killed again once it has checkpointed further.
    let mut child = Command::new(binary())
        .args(["run", "--resume", killed.to_str().unwrap(), "--batch-paths", "300", "--checkpoint-every", "0"])
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let waited = Instant::now();
    let progressed =
        || std::fs::read_to_string(&latest).ok().and_then(|t| t.trim().parse::<u64>().ok()).is_some_and(|d| d > done);
    while !progressed() {
        assert!(waited.elapsed() < Duration::from_secs(120), "the resumed run wrote no checkpoint");
        assert!(child.try_wait().unwrap().is_none(), "the resumed run ended before it checkpointed");
        std::thread::sleep(Duration::from_millis(2));
    }
    std::thread::sleep(delay / 4);
    child.kill().unwrap();
    child.wait().unwrap();
    // (If it finished before the second kill, its results are complete and checked below.)
    if let Ok(latest) = std::fs::read_to_string(&latest) {
        let done: u64 = latest.trim().parse().unwrap();
        assert!(!killed.join("summary.json").exists());
        // Resumed with other threads and batches: results do not depend on either.
        let resumed = sptlab(&["run", "--resume", killed.to_str().unwrap(), "--threads", "1", "--batch-paths", "777"]);
        let stderr = String::from_utf8_lossy(&resumed.stderr);
        assert!(resumed.status.success(), "killed {delay:?} after the first checkpoint: {stderr}");
        assert!(stderr.contains(&format!("{done} of 40000 paths were done")), "{stderr}");
    }
    let (a, b) = (json(&whole.join("summary.json")), json(&killed.join("summary.json")));
    for section in ["scenario", "market", "strategies", "comparisons"] {
        assert!(a[section] == b[section], "{section} differs after a kill at {done} paths ({delay:?})");
    }
    let per_path = |dir: &std::path::Path| std::fs::read(dir.join("paths.csv")).unwrap();
    assert!(per_path(&whole) == per_path(&killed), "paths.csv differs (resumed runs keep --per-path)");
    for figure in ["fan_chart.svg", "decomposition_over_time.svg", "relative_growth.svg"] {
        assert!(std::fs::read(whole.join(figure)).unwrap() == std::fs::read(killed.join(figure)).unwrap(), "{figure}");
    }
    assert!(!killed.join("checkpoint").exists(), "a finished run removes its checkpoint");

    // Nothing to resume: a finished directory, or one that never was a run.
    for dir in [&killed, &dir] {
        let output = sptlab(&["run", "--resume", dir.to_str().unwrap()]);
        assert_eq!(output.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&output.stderr).contains("holds no checkpoint"));
    }
}
