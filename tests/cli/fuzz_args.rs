//! Property-based fuzzing of the command line itself (bounded, in the normal test run):
//! real runs of the binary on argument vectors built from every option of `run`,
//! `merge`, `calibrate` and `bench` with hostile values. Whatever the arguments, sptlab
//! exits 0, 1 (a real failure, with its message) or 2 (bad input), never panics, is
//! never ended by a signal, and never runs long: paths and years are drawn only from
//! values that are small or refused.

use std::process::Command;
use std::time::{Duration, Instant};

use proptest::prelude::*;

use crate::{binary, scratch, write, SMALL};

/// Values that break naive option parsing and range checks.
const HOSTILE: [&str; 12] =
    ["", "0", "-0", "-1", "nan", "inf", "1e30", "4294967296", "18446744073709551616", "1/0", "💥", "-"];

/// `(option, takes a value)` of `run`, `merge` and `calibrate`.
const OPTIONS: [(&str, bool); 18] = [
    ("--paths", true),
    ("--years", true),
    ("--seed", true),
    ("--backend", true),
    ("--precision", true),
    ("--threads", true),
    ("--out", true),
    ("--per-path", false),
    ("--per-path-format", true),
    ("--png", false),
    ("--quiet", false),
    ("--force", false),
    ("--batch-paths", true),
    ("--checkpoint-every", true),
    ("--shard", true),
    ("--resume", true),
    ("--reproduce", true),
    ("--window", true),
];

/// A value for `option`: hostile, or one of its real ones (kept small where it sets
/// the run's size, so that every case ends quickly).
fn value(option: &str, pick: usize, dir: &str) -> String {
    let real: &[&str] = match option {
        "--paths" => &["3", "17"],
        "--years" => &["0.05", "0.3", "1e-9", "1e300"],
        "--backend" => &["cpu", "auto", "gpu", "tpu"],
        "--precision" => &["f32", "f64", "f16"],
        "--per-path-format" => &["csv", "parquet", "xls"],
        "--out" | "--resume" => &["{dir}/out", "{dir}/scenario.toml", "/dev/null", "{dir}", "/proc/self"],
        "--reproduce" => &["{dir}/scenario.toml", "{dir}/out/summary.json", "/dev/zero"],
        "--shard" => &["1/3", "0/1"],
        "--threads" => &["1", "100000"],
        "--batch-paths" => &["1", "5", "3000000000"],
        _ => &["1", "7"],
    };
    let all: Vec<&str> = real.iter().chain(HOSTILE.iter()).copied().collect();
    all[pick % all.len()].replace("{dir}", dir)
}

fn check(command: &str, picks: &[(usize, usize)]) {
    let dir = scratch(&format!("fuzz-args-{command}"));
    let scenario = write(&dir, "scenario.toml", SMALL);
    let dir_text = dir.to_string_lossy().into_owned();
    let mut args: Vec<String> = vec![command.to_string()];
    match command {
        "run" => args.push(scenario.clone()),
        "merge" => args.push(dir_text.clone()),
        "calibrate" => {
            args.push(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/sp500_20_stocks_1990_2022.csv").into())
        }
        _ => {}
    }
    for &(option, pick) in picks {
        let (name, takes_value) = OPTIONS[option % OPTIONS.len()];
        args.push(name.to_string());
        if takes_value {
            args.push(value(name, pick, &dir_text));
        }
    }
    // Relative paths among the values (`--out 0`) land in the scratch folder.
    let mut child = Command::new(binary())
        .current_dir(&dir)
        .args(&args)
        .env("SPTLAB_AUTO_SOFTWARE_GPU", "0")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(120) {
            child.kill().unwrap();
            panic!("sptlab {args:?} ran for more than two minutes");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    let code = output.status.code();
    assert!(matches!(code, Some(0..=2)), "sptlab {args:?}: ended by {:?}: {stderr}", output.status);
    assert!(!stderr.contains("panicked"), "sptlab {args:?} panicked: {stderr}");
    if code != Some(0) {
        assert!(stderr.contains("error"), "sptlab {args:?}: exit {code:?} without a message: {stderr}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 80, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn run_with_hostile_options_exits_0_1_or_2_without_a_panic(
        picks in proptest::collection::vec((0usize..OPTIONS.len(), 0usize..40), 1..5)
    ) {
        check("run", &picks);
    }

    #[test]
    fn other_commands_with_hostile_options_exit_0_1_or_2_without_a_panic(
        command in 0usize..3,
        picks in proptest::collection::vec((0usize..OPTIONS.len(), 0usize..40), 0..4)
    ) {
        check(["merge", "calibrate", "example"][command], &picks);
    }
}
