//! An index benchmark with screens (docs/open-markets.md) through shards, a merge, a
//! resumed run and `--reproduce`: each gives exactly the whole run's numbers; and a shard
//! of the format before the index is refused with the reason.

use std::path::{Path, PathBuf};

use crate::resume::run_until_checkpointed;
use crate::{json, scratch, sptlab, write};

/// The shipped open-market example (an index of 15 of 30, a screen), two years.
fn scenario(dir: &Path) -> String {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/scenarios/open_market.toml"))
        .unwrap()
        .replace("years = 5.0", "years = 2.0")
        .replace("paths = 4000", "paths = 6000");
    write(dir, "open.toml", &text)
}

fn without_run(path: PathBuf) -> serde_json::Value {
    let mut summary = json(&path);
    summary.as_object_mut().unwrap().remove("run");
    summary
}

#[test]
fn an_index_with_screens_shards_merges_resumes_and_reproduces_exactly() {
    let dir = scratch("open-market");
    let scenario = scenario(&dir);
    let at = |name: &str| dir.join(name).to_str().unwrap().to_string();
    let common = ["--backend", "cpu", "--quiet", "--per-path", "--per-path-format", "csv"];
    let whole = sptlab(&[&["run", &scenario, "--out", &at("whole")][..], &common].concat());
    assert!(whole.status.success(), "{}", String::from_utf8_lossy(&whole.stderr));
    let summary = without_run(dir.join("whole/summary.json"));
    assert_eq!(summary["benchmark"]["kind"], "index");
    assert!(summary["strategies"]["equal-monthly"]["decomposition"]["leakage_term"]["mean"].as_f64().unwrap() < 0.0);
    assert!(summary["strategies"]["index-screen"]["decomposition"]["screen_term"]["mean"].as_f64().unwrap() != 0.0);
    let paths_csv = |run: &str| std::fs::read_to_string(dir.join(run).join("paths.csv")).unwrap();
    assert!(paths_csv("whole").lines().nth(2).unwrap().starts_with("0,index,"), "the index's row follows the market's");

    // Three shards, merged in another order.
    for i in 0..3 {
        let shard = format!("{i}/3");
        let output = sptlab(&[
            "run",
            &scenario,
            "--shard",
            &shard,
            "--backend",
            "cpu",
            "--quiet",
            "--out",
            &at(&format!("s{i}")),
        ]);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    }
    let merged = sptlab(&[
        "merge",
        &at("s2"),
        &at("s0"),
        &at("s1"),
        "--out",
        &at("merged"),
        "--per-path",
        "--per-path-format",
        "csv",
    ]);
    assert!(merged.status.success(), "{}", String::from_utf8_lossy(&merged.stderr));
    assert_eq!(without_run(dir.join("merged/summary.json")), summary, "the merge is the whole run");
    assert_eq!(paths_csv("merged"), paths_csv("whole"));

    // Killed after its first checkpoint, then resumed.
    let killed = dir.join("killed");
    let (mut child, _) = run_until_checkpointed(&[&["run", &scenario][..], &common].concat(), &killed);
    child.kill().unwrap();
    child.wait().unwrap();
    let resumed = sptlab(&["run", "--resume", killed.to_str().unwrap()]);
    assert!(resumed.status.success(), "{}", String::from_utf8_lossy(&resumed.stderr));
    assert_eq!(without_run(killed.join("summary.json")), summary, "the resumed run is the whole run");
    assert_eq!(paths_csv("killed"), paths_csv("whole"));

    // --reproduce confirms every number, the benchmark's included.
    let reproduced = sptlab(&["run", "--reproduce", &at("whole/summary.json"), "--backend", "cpu"]);
    assert!(reproduced.status.success(), "{}", String::from_utf8_lossy(&reproduced.stderr));

    // A shard in the format before the risk figures (3) is refused, and says why.
    let manifest = dir.join("s1/shard.json");
    let text = std::fs::read_to_string(&manifest).unwrap().replace("\"paths_format\": 4", "\"paths_format\": 3");
    std::fs::write(&manifest, text).unwrap();
    let old = sptlab(&["merge", &at("s0"), &at("s1"), &at("s2"), "--out", &at("old")]);
    let stderr = String::from_utf8_lossy(&old.stderr);
    assert_eq!(old.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("its paths.bin has format 3") && stderr.contains("reads format 4"), "{stderr}");
    assert!(!dir.join("old").exists());
}

#[test]
fn the_sp500_mandate_example_runs_and_its_controls_keep_their_power() {
    // The mandate's example, shortened: every strategy on the index's members, the
    // screened one without its 25 stocks; the control's variance ratio for equal and
    // diversity weights at least 64 (docs/control-variates.md).
    let dir = scratch("mandate");
    let example = sptlab(&["example", "sp500_mandate"]);
    assert!(example.status.success());
    let scenario = write(&dir, "mandate.toml", &String::from_utf8_lossy(&example.stdout));
    let out = dir.join("out");
    let run = sptlab(&[
        "run",
        &scenario,
        "--paths",
        "64",
        "--years",
        "2",
        "--backend",
        "cpu",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let summary = json(&out.join("summary.json"));
    assert_eq!(summary["benchmark"]["index"], 500);
    for name in ["equal", "diversity-0.76"] {
        let ratio =
            summary["strategies"][name]["relative_log_return"]["controlled"]["variance_ratio"].as_f64().unwrap();
        assert!(ratio >= 64.0, "{name}: variance ratio {ratio}");
    }
    let screen = summary["strategies"]["diversity-screen"]["decomposition"]["screen_term"]["mean"].as_f64().unwrap();
    assert!(screen != 0.0);
}
