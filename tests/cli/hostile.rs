//! The command line under hostile use: output folders that hold other runs or the
//! user's files, two runs into one folder, a full disk, damaged checkpoints, edited
//! manifests, a full stdout. Each test is a real run of the binary (issue 15).

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::bad_inputs::edit_json;
use crate::{binary, json, scratch, sptlab, write, SMALL};

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn at(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Every file under `dir`, as paths relative to it.
fn files_under(dir: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                found.push(path.strip_prefix(dir).unwrap().to_string_lossy().into_owned());
            }
        }
    }
    found.sort();
    found
}

/// The numbers of a summary.json (not the run's timing).
fn numbers(summary: &Path) -> Vec<serde_json::Value> {
    let summary = json(summary);
    ["scenario", "market", "strategies", "comparisons"].iter().map(|s| summary[*s].clone()).collect()
}

/// A run of `args` with every file it writes limited to `bytes` (RLIMIT_FSIZE): a
/// write past it fails as it would on a full disk.
fn with_file_limit(args: &[&str], bytes: u64) -> Output {
    let mut command = Command::new(binary());
    command.args(args);
    // SAFETY: setrlimit is async-signal-safe; the closure touches nothing else.
    unsafe {
        command.pre_exec(move || {
            let limit = libc::rlimit { rlim_cur: bytes, rlim_max: bytes };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    command.output().unwrap()
}

fn spawn(args: &[&str]) -> Child {
    Command::new(binary()).args(args).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap()
}

#[test]
fn a_folder_with_an_earlier_run_is_refused_without_force_and_replaced_whole_with_it() {
    let dir = scratch("force");
    let scenario = write(&dir, "small.toml", SMALL);
    let out = dir.join("out");
    let first = sptlab(&["run", &scenario, "--backend", "cpu", "--quiet", "--out", at(&out), "--png", "--per-path"]);
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(out.join("paths.parquet").exists() && out.join("fan_chart.png").exists());
    let before = std::fs::read(out.join("summary.json")).unwrap();

    // Again without --force: refused, nothing touched.
    let again = sptlab(&["run", &scenario, "--backend", "cpu", "--quiet", "--seed", "6", "--out", at(&out)]);
    assert_eq!(again.status.code(), Some(2), "{}", stderr(&again));
    assert!(
        stderr(&again).contains("holds the results of an earlier sptlab run") && stderr(&again).contains("--force")
    );
    assert_eq!(std::fs::read(out.join("summary.json")).unwrap(), before);

    // The user's own files: one beside the results, and a `checkpoint` folder of
    // another tool's (with a file named `latest`, as some have): refused with or
    // without --force, nothing touched.
    std::fs::write(out.join("notes.txt"), "mine").unwrap();
    std::fs::create_dir_all(out.join("checkpoint/7")).unwrap();
    std::fs::write(out.join("checkpoint/latest"), "7").unwrap();
    std::fs::write(out.join("checkpoint/7/paths.bin"), "mine too").unwrap();
    for force in [&[][..], &["--force"][..]] {
        let args = [&["run", &scenario, "--backend", "cpu", "--quiet", "--seed", "6", "--out", at(&out)][..], force];
        let refused = sptlab(&args.concat());
        assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
        assert!(stderr(&refused).contains("holds a `checkpoint` that sptlab did not write"), "{}", stderr(&refused));
    }
    assert_eq!(std::fs::read_to_string(out.join("checkpoint/7/paths.bin")).unwrap(), "mine too");
    std::fs::rename(out.join("checkpoint"), dir.join("moved-checkpoint")).unwrap();

    // --force: the earlier set goes whole (no stale paths.parquet or PNGs beside the
    // new summary); files sptlab did not write stay.
    let forced =
        sptlab(&["run", &scenario, "--backend", "cpu", "--quiet", "--seed", "6", "--out", at(&out), "--force"]);
    assert!(forced.status.success(), "{}", stderr(&forced));
    assert_eq!(json(&out.join("summary.json"))["scenario"]["seed"], 6);
    let left = files_under(&out);
    assert!(left.iter().all(|f| !f.ends_with(".png") && !f.starts_with("paths.")), "{left:?}");
    assert!(left.contains(&"notes.txt".to_string()), "{left:?}");
    assert!(!out.join(".sptlab.lock").exists());
    assert_eq!(json(&out.join(".sptlab-out.json"))["checkpoint"], false);

    // A record naming files outside sptlab's outputs (`../victim.txt`) and a lock file
    // that is a symbolic link: neither is ever followed.
    let victim = dir.join("victim.txt");
    std::fs::write(&victim, "keep me").unwrap();
    edit_json(&out.join(".sptlab-out.json"), |record| {
        record["files"].as_array_mut().unwrap().extend(["../victim.txt".into(), at(&victim).into()]);
    });
    let forced = sptlab(&["run", &scenario, "--backend", "cpu", "--quiet", "--out", at(&out), "--force"]);
    assert!(forced.status.success(), "{}", stderr(&forced));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
    std::os::unix::fs::symlink(&victim, out.join(".sptlab.lock")).unwrap();
    let linked = sptlab(&["run", &scenario, "--backend", "cpu", "--quiet", "--out", at(&out), "--force"]);
    assert_eq!(linked.status.code(), Some(2), "{}", stderr(&linked));
    assert!(stderr(&linked).contains(".sptlab.lock is a symbolic link"), "{}", stderr(&linked));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
    std::fs::remove_file(out.join(".sptlab.lock")).unwrap();

    // A summary.json sptlab did not write is never replaced, --force or not.
    let foreign = dir.join("foreign");
    std::fs::create_dir_all(&foreign).unwrap();
    std::fs::write(foreign.join("summary.json"), "the user's").unwrap();
    for force in [&[][..], &["--force"][..]] {
        let output =
            sptlab(&[&["run", &scenario, "--backend", "cpu", "--quiet", "--out", at(&foreign)][..], force].concat());
        assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
        assert!(stderr(&output).contains("summary.json that sptlab did not write"), "{}", stderr(&output));
    }
    assert_eq!(std::fs::read_to_string(foreign.join("summary.json")).unwrap(), "the user's");
    assert_eq!(files_under(&foreign), ["summary.json"]);
}

#[test]
fn two_runs_into_one_folder_never_mix_or_lose_results() {
    let dir = scratch("concurrent");
    // About a billion asset-steps: a second or more on two cores, ample time for the
    // second run to start, be refused and end while the first still runs.
    let long =
        SMALL.replace("paths = 40", "paths = 60000").replace("years = 1.0", "years = 2.0").replace("n = 8", "n = 30");
    let scenario = write(&dir, "long.toml", &long);

    // One run under way, another started into its folder: refused while the first runs.
    let out = dir.join("busy");
    let mut first =
        spawn(&["run", &scenario, "--backend", "cpu", "--quiet", "--out", at(&out), "--batch-paths", "500"]);
    let waited = Instant::now();
    while !out.join(".sptlab.lock").exists() {
        assert!(waited.elapsed() < Duration::from_secs(60), "the first run never locked its folder");
        std::thread::sleep(Duration::from_millis(2));
    }
    let second = sptlab(&["run", &scenario, "--backend", "cpu", "--quiet", "--seed", "6", "--out", at(&out)]);
    assert!(first.try_wait().unwrap().is_none(), "the first run ended before the second started");
    assert_eq!(second.status.code(), Some(2), "{}", stderr(&second));
    assert!(stderr(&second).contains("is writing there"), "{}", stderr(&second));
    let first = first.wait_with_output().unwrap();
    assert!(first.status.success(), "{}", stderr(&first));
    assert_eq!(json(&out.join("summary.json"))["scenario"]["seed"], 5);

    // Both started at once, a few times: one wins whole, the other is refused.
    let small = write(&dir, "small.toml", SMALL);
    for round in 0..3 {
        let out = dir.join(format!("race-{round}"));
        let children: Vec<Child> = ["5", "6"]
            .iter()
            .map(|seed| spawn(&["run", &small, "--backend", "cpu", "--quiet", "--seed", seed, "--out", at(&out)]))
            .collect();
        let outputs: Vec<Output> = children.into_iter().map(|c| c.wait_with_output().unwrap()).collect();
        let codes: Vec<Option<i32>> = outputs.iter().map(|o| o.status.code()).collect();
        let winners: Vec<usize> = (0..2).filter(|i| codes[*i] == Some(0)).collect();
        assert_eq!(winners.len(), 1, "round {round}: exit codes {codes:?}: {}", stderr(&outputs[1]));
        let loser = 1 - winners[0];
        assert_eq!(codes[loser], Some(2), "{}", stderr(&outputs[loser]));
        let seed = [5, 6][winners[0]];
        assert_eq!(json(&out.join("summary.json"))["scenario"]["seed"], seed);
        assert!(!out.join(".sptlab.lock").exists(), "the lock is gone once the runs are");
    }
}

#[test]
fn a_full_disk_mid_run_leaves_a_whole_checkpoint_and_no_partial_files_and_the_run_resumes() {
    let dir = scratch("full-disk");
    let long = SMALL.replace("paths = 40", "paths = 20000").replace("n = 8", "n = 20");
    let scenario = write(&dir, "long.toml", &long);
    let whole = dir.join("whole");
    let common = ["--backend", "cpu", "--quiet", "--per-path", "--per-path-format", "csv"];
    let output = sptlab(&[&["run", &scenario, "--out", at(&whole)][..], &common].concat());
    assert!(output.status.success(), "{}", stderr(&output));

    // Checkpoints after every batch of 1000 paths; paths.bin grows by 216 kB a batch
    // and passes the 1 MB limit after a few of them.
    let out = dir.join("out");
    let args =
        [&["run", &scenario, "--out", at(&out)][..], &common, &["--batch-paths", "1000", "--checkpoint-every", "0"]]
            .concat();
    let failed = with_file_limit(&args, 1 << 20);
    let message = stderr(&failed);
    assert_eq!(failed.status.code(), Some(1), "{message}");
    assert!(message.contains("File too large") && message.contains("--resume"), "{message}");
    assert!(!message.contains("panicked"));
    let files = files_under(&out);
    assert!(files.iter().all(|f| !f.contains("partial")), "temporary files left: {files:?}");
    let latest = std::fs::read_to_string(out.join("checkpoint/latest")).unwrap();
    let generations: Vec<&String> = files.iter().filter(|f| f.ends_with("shard.json")).collect();
    assert_eq!(generations, [&format!("checkpoint/{}/shard.json", latest.trim())], "{files:?}");
    assert!(!out.join("summary.json").exists());

    // A damaged or relabelled checkpoint is refused, each with its reason.
    let spoiled = |name: &str, spoil: &dyn Fn(&Path), expect: &str| {
        let copy = dir.join(name);
        let status = Command::new("cp").args(["-r", at(&out), at(&copy)]).status().unwrap();
        assert!(status.success());
        spoil(&copy.join("checkpoint").join(latest.trim()));
        let output = sptlab(&["run", "--resume", at(&copy)]);
        assert_eq!(output.status.code(), Some(2), "{name}: {}", stderr(&output));
        assert!(stderr(&output).contains(expect), "{name}: {}", stderr(&output));
        assert!(!copy.join("summary.json").exists());
    };
    let damaged = "shard.json or paths.bin was changed or damaged";
    spoiled(
        "flipped",
        &|generation| {
            let mut bytes = std::fs::read(generation.join("paths.bin")).unwrap();
            bytes[77] ^= 1;
            std::fs::write(generation.join("paths.bin"), bytes).unwrap();
        },
        damaged,
    );
    spoiled("relabelled-gpu", &|g| edit_json(&g.join("shard.json"), |m| m["backend"] = "gpu".into()), damaged);
    spoiled("relabelled-f64", &|g| edit_json(&g.join("shard.json"), |m| m["precision"] = "f64".into()), damaged);
    spoiled("edited-sum", &|g| edit_json(&g.join("shard.json"), |m| m["seconds"] = serde_json::json!(1e6)), damaged);
    spoiled(
        "older",
        &|g| {
            edit_json(&g.join("shard.json"), |m| {
                m.as_object_mut().unwrap().remove("checksum");
            })
        },
        "has no checksum",
    );

    // Resumed with room to write: the numbers of the run that never stopped.
    let resumed = sptlab(&["run", "--resume", at(&out)]);
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    assert_eq!(numbers(&out.join("summary.json")), numbers(&whole.join("summary.json")));
    assert_eq!(std::fs::read(out.join("paths.csv")).unwrap(), std::fs::read(whole.join("paths.csv")).unwrap());
    assert!(!out.join("checkpoint").exists());
}

#[test]
fn a_failed_write_of_the_results_never_leaves_old_and_new_files_side_by_side() {
    let dir = scratch("half-written");
    let scenario = write(&dir, "small.toml", SMALL);
    let out = dir.join("out");
    let first = sptlab(&["run", &scenario, "--backend", "cpu", "--quiet", "--png", "--out", at(&out)]);
    assert!(first.status.success(), "{}", stderr(&first));
    // report.html (about 110 kB) cannot be written under a 60 kB limit; the SVGs and
    // summary.json (under 30 kB each) can.
    let args = ["run", &scenario, "--backend", "cpu", "--quiet", "--seed", "6", "--force", "--out", at(&out)];
    let failed = with_file_limit(&args, 60_000);
    assert_eq!(failed.status.code(), Some(1), "{}", stderr(&failed));
    let files = files_under(&out);
    assert!(!files.contains(&"summary.json".to_string()), "an old or new summary beside the new figures: {files:?}");
    assert!(files.iter().all(|f| !f.ends_with(".png") && !f.contains("partial")), "{files:?}");
    let record = json(&out.join(".sptlab-out.json"));
    assert_eq!(record["state"], "writing", "the record says the set is incomplete");
    // The partial set is still sptlab's: refused without --force, replaced with it.
    let refused = sptlab(&["run", &scenario, "--backend", "cpu", "--quiet", "--out", at(&out)]);
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    let again = sptlab(&["run", &scenario, "--backend", "cpu", "--quiet", "--seed", "6", "--force", "--out", at(&out)]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(json(&out.join("summary.json"))["scenario"]["seed"], 6);
    assert_eq!(json(&out.join(".sptlab-out.json"))["state"], "complete");
}

#[test]
fn reproduce_refuses_a_manifest_that_disagrees_with_its_scenario_and_warns_on_another_version() {
    let dir = scratch("reproduce-manifest");
    let scenario = write(&dir, "small.toml", SMALL);
    let out = dir.join("out");
    let first = sptlab(&["run", &scenario, "--backend", "cpu", "--quiet", "--out", at(&out)]);
    assert!(first.status.success(), "{}", stderr(&first));
    let summary = json(&out.join("summary.json"));
    let edited = |name: &str, field: &str, value: serde_json::Value| -> PathBuf {
        let mut copy = summary.clone();
        copy["manifest"][field] = value;
        let path = dir.join(name);
        std::fs::write(&path, copy.to_string()).unwrap();
        path
    };
    for (field, value, expect) in [
        ("seed", serde_json::json!(6), "manifest.seed: 6 is not the scenario's seed 5"),
        ("scenario_hash", serde_json::json!("0123456789abcdef"), "manifest.scenario_hash: 0123456789abcdef is not"),
        ("backend", serde_json::json!("tpu"), "manifest.backend: expected cpu or gpu, found tpu"),
        ("precision", serde_json::json!("f16"), "manifest.precision: expected f32 or f64, found f16"),
        ("rng_contract", serde_json::json!("xorshift"), "manifest.rng_contract: the run was drawn under xorshift"),
    ] {
        let path = edited(&format!("{field}.json"), field, value);
        let output = sptlab(&["run", "--reproduce", at(&path)]);
        assert_eq!(output.status.code(), Some(2), "{field}: {}", stderr(&output));
        assert!(stderr(&output).contains(expect), "{field}: {}", stderr(&output));
    }
    let other_version = edited("version.json", "sptlab_version", serde_json::json!("0.0.1"));
    let output = sptlab(&["run", "--reproduce", at(&other_version)]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stderr(&output).contains("warning: ") && stderr(&output).contains("sptlab 0.0.1"), "{}", stderr(&output));
    // A summary an older sptlab wrote, without the benchmark section: what it holds is
    // confirmed, and the section is new, not a difference.
    let mut older = summary.clone();
    older.as_object_mut().unwrap().remove("benchmark");
    older["manifest"]["sptlab_version"] = serde_json::json!("0.0.1");
    let path = dir.join("older.json");
    std::fs::write(&path, older.to_string()).unwrap();
    let output = sptlab(&["run", "--reproduce", at(&path)]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stderr(&output).contains("not compared; first: benchmark"), "{}", stderr(&output));
}

#[test]
fn a_horizon_between_whole_steps_is_rounded_and_reported_as_run() {
    let dir = scratch("horizon");
    let scenario = write(&dir, "yearly.toml", &SMALL.replace("years = 1.0", "years = 1.5\nsteps_per_year = 1"));
    let out = dir.join("out");
    let output = sptlab(&["run", &scenario, "--backend", "cpu", "--out", at(&out)]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stderr(&output).contains("years = 1.5 is 1.5 steps of 1/1 year; simulating 2 whole steps"));
    let summary = json(&out.join("summary.json"));
    assert_eq!(summary["scenario"]["years"], 2.0, "the horizon simulated is the one recorded");
    assert_eq!(summary["run"]["steps"], 2);
    // A whole number of steps is taken as it is, with no note.
    let exact = sptlab(&["run", &scenario, "--backend", "cpu", "--years", "3"]);
    assert!(exact.status.success() && !stderr(&exact).contains("note: years"), "{}", stderr(&exact));
}

#[test]
fn a_full_stdout_is_an_error_not_a_panic() {
    let dir = scratch("stdout");
    let scenario = write(&dir, "small.toml", SMALL);
    for args in [&["example"][..], &["info"], &["run", &scenario, "--backend", "cpu"]] {
        let full = std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
        let output = Command::new(binary()).args(args).stdout(full).output().unwrap();
        assert_eq!(output.status.code(), Some(1), "{args:?}: {}", stderr(&output));
        assert!(stderr(&output).contains("error: writing to standard output: No space left"), "{}", stderr(&output));
        assert!(!stderr(&output).contains("panicked"));
    }
}

#[test]
fn huge_caps_are_normalised_and_run() {
    let dir = scratch("huge-caps");
    let text =
        SMALL.replace("zipf = 1.0", "initial_weights = [1e308, 1e308, 1e308, 1e308, 1e308, 1e308, 1e308, 1e308]");
    let scenario = write(&dir, "huge.toml", &text);
    let out = dir.join("out");
    let output = sptlab(&["run", &scenario, "--backend", "cpu", "--quiet", "--out", at(&out)]);
    assert!(output.status.success(), "{}", stderr(&output));
    let summary = json(&out.join("summary.json"));
    let first_weight = summary["market"]["capital_distribution"][0].as_f64().unwrap();
    assert!(first_weight.is_finite() && first_weight > 0.125, "{first_weight}");
}

#[test]
fn a_merge_with_a_shard_of_no_paths_keeps_every_figure() {
    let dir = scratch("empty-shard");
    let scenario = write(&dir, "tiny.toml", &SMALL.replace("paths = 40", "paths = 3"));
    let whole = dir.join("whole");
    let output = sptlab(&["run", &scenario, "--backend", "cpu", "--quiet", "--out", at(&whole)]);
    assert!(output.status.success(), "{}", stderr(&output));
    let mut shards = Vec::new();
    for index in 0..4 {
        let out = dir.join(format!("shard-{index}"));
        let spec = format!("{index}/4");
        let output = sptlab(&["run", &scenario, "--backend", "cpu", "--quiet", "--shard", &spec, "--out", at(&out)]);
        assert!(output.status.success(), "{}", stderr(&output));
        shards.push(out.to_string_lossy().into_owned());
    }
    let merged = dir.join("merged");
    let args: Vec<&str> = ["merge"].into_iter().chain(shards.iter().map(String::as_str)).collect();
    let output = sptlab(&[&args[..], &["--quiet", "--out", at(&merged)]].concat());
    assert!(output.status.success(), "{}", stderr(&output));
    for figure in sptlab::output::plots::FIGURES {
        let name = format!("{figure}.svg");
        assert!(merged.join(&name).exists(), "{name} is missing from the merge");
        assert_eq!(std::fs::read(merged.join(&name)).unwrap(), std::fs::read(whole.join(&name)).unwrap(), "{name}");
    }
}

#[test]
fn writes_through_a_symbolic_link_keep_the_link() {
    let dir = scratch("symlink");
    let target = dir.join("calibrated.toml");
    std::fs::write(&target, "old").unwrap();
    let link = dir.join("link.toml");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let data = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/sp500_20_stocks_1990_2022.csv");
    let output = sptlab(&["calibrate", data, "--window", "5", "--out", at(&link)]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "the link stays a link");
    assert!(std::fs::read_to_string(&target).unwrap().contains("Calibrated by `sptlab calibrate`"));
}

#[test]
fn headless_runs_print_no_mesa_noise() {
    // No XDG_RUNTIME_DIR, as on a server or in CI: Mesa's drivers complain when probed.
    let output = Command::new(binary()).arg("info").env_remove("XDG_RUNTIME_DIR").output().unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    if std::env::var("SPTLAB_REQUIRE_GPU").as_deref() == Ok("1") {
        assert!(stdout.contains("GPU adapter: "), "the probe found no adapter: {stdout}");
    }
    assert!(!stderr(&output).contains("XDG_RUNTIME_DIR"), "{}", stderr(&output));
}

#[test]
fn ranking_on_the_gpu_runs_on_vulkan_and_is_refused_up_front_on_opengl() {
    let dir = scratch("gl-ranking");
    let atlas = SMALL.replace(
        "zipf = 1.0\ngrowth = 0.05\nvol = { from = 0.2, to = 0.4 }\ncorrelation = 0.3",
        "model = \"atlas\"\ngrowth = 0.05\natlas_g = 0.05\nvol = 0.25",
    );
    assert!(atlas.contains("atlas_g"));
    let scenario = write(&dir, "atlas.toml", &atlas);
    let output = sptlab(&["run", &scenario, "--backend", "gpu", "--years", "0.5"]);
    let message = stderr(&output);
    if crate::no_gpu(&message) {
        return;
    }
    let table = String::from_utf8_lossy(&output.stdout);
    match output.status.code() {
        // Vulkan (lavapipe or a hardware GPU) ranks correctly.
        Some(0) => assert!(!table.contains("(Gl)"), "ranking ran on OpenGL: {table}"),
        // llvmpipe under OpenGL does not: refused before anything runs.
        Some(2) => {
            assert!(message.contains("market.model: the rank-based models") && message.contains("OpenGL"), "{message}");
            assert!(table.is_empty());
        }
        code => panic!("exit {code:?}: {message}"),
    }
}
