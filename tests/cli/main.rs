//! The command line end to end: real runs of the binary on small scenarios.

pub(crate) mod bad_inputs;
mod calibrate;
mod claims;
mod documented;
mod fuzz;
mod fuzz_args;
mod history;
mod hostile;
mod open_market;
pub(crate) mod resume;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The binary under test: this build's, or another named by SPTLAB_TEST_BIN (to show
/// that a test fails on an older build).
fn binary() -> String {
    std::env::var("SPTLAB_TEST_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_sptlab").to_string())
}

fn sptlab(args: &[&str]) -> Output {
    Command::new(binary()).args(args).output().expect("the binary runs")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sptlab-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const SMALL: &str = r#"
name = "small"
seed = 5
paths = 40
years = 1.0
[market]
n = 8
zipf = 1.0
growth = 0.05
vol = { from = 0.2, to = 0.4 }
correlation = 0.3
[[strategies]]
name = "equal"
weighting = "equal"
rebalance_every = 5
cost_bps = 10.0
[[strategies]]
name = "diversity-0.5"
weighting = "diversity"
p = 0.5
"#;

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

/// Whether a run found no GPU adapter, so that a GPU test may skip: allowed only when
/// SPTLAB_REQUIRE_GPU is not 1 (CI sets it, with lavapipe installed).
fn no_gpu(stderr: &str) -> bool {
    let missing = stderr.contains("no GPU adapter");
    assert!(!missing || std::env::var("SPTLAB_REQUIRE_GPU").as_deref() != Ok("1"), "no GPU adapter: {stderr}");
    missing
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn run_with_a_file_writes_the_summary_and_paths() {
    let dir = scratch("file");
    let scenario = write(&dir, "small.toml", SMALL);
    let out = dir.join("results");
    let output = sptlab(&[
        "run",
        &scenario,
        "--backend",
        "cpu",
        "--out",
        out.to_str().unwrap(),
        "--per-path",
        "--per-path-format",
        "csv",
    ]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(table.contains("equal") && table.contains("diversity-0.5") && table.contains("P(outperform)"), "{table}");

    for figure in sptlab::output::plots::FIGURES {
        let svg =
            std::fs::read_to_string(out.join(format!("{figure}.svg"))).unwrap_or_else(|e| panic!("{figure}: {e}"));
        assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"), "{figure} is not a whole SVG");
        let labelled = ["% per year", "rank (log scale)", "years"].iter().any(|label| svg.contains(label));
        assert!(labelled, "{figure} has no axis label");
        if figure != "capital_distribution" {
            assert!(svg.contains("equal") && svg.contains("diversity-0.5"), "{figure} has no legend");
        }
    }
    let page = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert_eq!(
        page.matches("<figure>").count(),
        sptlab::output::plots::FIGURES.len(),
        "report.html inlines every figure"
    );
    assert!(page.contains("diversity-0.5") && page.contains("[market]") && !page.contains("<script"));
    let summary = json(&out.join("summary.json"));
    let manifest = &summary["manifest"];
    assert_eq!(manifest["seed"], 5);
    assert_eq!(manifest["backend"], "cpu");
    assert_eq!(manifest["rng_contract"], sptlab::provenance::RNG_CONTRACT);
    assert_eq!(manifest["sptlab_version"], env!("CARGO_PKG_VERSION"));
    let hash = manifest["scenario_hash"].as_str().unwrap();
    assert!(hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()), "{hash}");
    let scenario: sptlab::Scenario = serde_json::from_value(summary["scenario"].clone()).unwrap();
    assert_eq!(hash, sptlab::provenance::scenario_hash(&scenario), "the hash is the written scenario's");
    assert_eq!(summary["run"]["paths"], 40);
    assert_eq!(summary["run"]["steps"], 252);
    assert_eq!(summary["run"]["backend"], "cpu");
    assert_eq!(summary["scenario"]["name"], "small");
    let equal = &summary["strategies"]["equal"];
    for field in [
        "log_return",
        "relative_log_return",
        "relative_growth_rate",
        "excess_return",
        "tracking_error",
        "information_ratio",
        "max_relative_drawdown",
        "turnover",
    ] {
        for key in ["mean", "se", "sd", "min", "max", "q05", "q25", "q50", "q75", "q95"] {
            assert!(equal[field][key].is_number(), "{field}.{key}");
        }
    }
    let p = &equal["p_outperform"];
    assert!(p["low"].as_f64().unwrap() <= p["estimate"].as_f64().unwrap());
    assert!(equal["decomposition"]["cost_term"]["mean"].as_f64().unwrap() < 0.0);
    assert!(equal["break_even_cost_bps"].is_number() || equal["break_even_cost_bps"].is_null());
    // Comparisons: the one pair, then each strategy against the market.
    let comparisons = summary["comparisons"].as_array().unwrap();
    let pairs: Vec<(&str, &str)> =
        comparisons.iter().map(|c| (c["first"].as_str().unwrap(), c["second"].as_str().unwrap())).collect();
    assert_eq!(pairs, [("equal", "diversity-0.5"), ("equal", "market"), ("diversity-0.5", "market")]);
    for comparison in comparisons {
        for field in ["relative_log_return", "information_ratio"] {
            for key in ["mean", "se", "low", "high"] {
                assert!(comparison[field][key].is_number(), "{field}.{key}");
            }
        }
        assert!(comparison["first_wins"]["estimate"].is_number());
    }
    assert!(table.contains("ranking (paired, 95%): ") && table.contains("b/e cost"), "{table}");
    assert_eq!(summary["market"]["capital_distribution"].as_array().unwrap().len(), 8);
    assert_eq!(summary["market"]["gap_by_rank"].as_array().unwrap().len(), 7);
    let shares: f64 =
        summary["market"]["capital_distribution"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).sum();
    assert!((shares - 1.0).abs() < 1e-9);

    let csv = std::fs::read_to_string(out.join("paths.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert!(lines[0].starts_with("path,strategy,log_return,relative_log_return"));
    assert_eq!(lines.len(), 1 + 40 * 3, "header + (market + 2 strategies) per path");
    // The CSV's mean relative log return is the summary's.
    let mean: f64 = lines[1..]
        .iter()
        .filter(|l| l.split(',').nth(1) == Some("equal"))
        .map(|l| l.split(',').nth(3).unwrap().parse::<f64>().unwrap())
        .sum::<f64>()
        / 40.0;
    assert!((mean - equal["relative_log_return"]["mean"].as_f64().unwrap()).abs() < 1e-12);
    assert!(!out.join("summary.partial").exists());
}

#[test]
fn command_line_values_override_the_file() {
    let dir = scratch("overrides");
    let scenario = write(&dir, "small.toml", SMALL);
    let out = dir.join("results");
    let output = sptlab(&[
        "run",
        &scenario,
        "--backend",
        "cpu",
        "--precision",
        "f64",
        "--paths",
        "17",
        "--years",
        "0.5",
        "--seed",
        "99",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.stdout.is_empty(), "--quiet prints nothing");
    let summary = json(&out.join("summary.json"));
    assert_eq!(summary["scenario"]["paths"], 17);
    assert_eq!(summary["scenario"]["seed"], 99);
    assert_eq!(summary["run"]["steps"], 126);
    assert_eq!(summary["run"]["precision"], "f64");
}

#[test]
fn example_prints_the_default_scenario_which_runs() {
    let output = sptlab(&["example"]);
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(text.contains("[[strategies]]") && text.contains('#'));
    let dir = scratch("example");
    let scenario = write(&dir, "example.toml", &text);
    let run = sptlab(&["run", &scenario, "--paths", "16", "--years", "0.25", "--backend", "cpu"]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    assert!(String::from_utf8_lossy(&run.stdout).contains("diversity-0.76"));
}

#[test]
fn every_named_example_prints_and_runs() {
    let dir = scratch("examples");
    for name in [
        "atlas",
        "first_order",
        "vsm",
        "gbm_factor_500",
        "calibrated_sp500_20",
        "costs",
        "te_budget",
        "bootstrap_sp500_20",
        "max_growth_1000",
    ] {
        let output = sptlab(&["example", name]);
        assert!(output.status.success(), "{name}");
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        let scenario = write(&dir, &format!("{name}.toml"), &text);
        let run = sptlab(&["run", &scenario, "--paths", "16", "--years", "0.05", "--backend", "cpu"]);
        assert!(run.status.success(), "{name}: {}", String::from_utf8_lossy(&run.stderr));
    }
    let unknown = sptlab(&["example", "nope"]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("there are: default, atlas"));
}

#[test]
fn info_lists_the_backend_choice() {
    let output = sptlab(&["info"]);
    assert!(output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("--backend auto chooses"), "{text}");
}

#[test]
fn an_f32_run_whose_weights_underflow_warns_and_an_ordinary_one_does_not() {
    let dir = scratch("underflow");
    // A stock that starts at 1e-30 and shrinks by 5 a year: its weight ends far below
    // f32's normal range (about 1e-41 here).
    let vanishing = write(
        &dir,
        "vanishing.toml",
        "seed = 3\npaths = 64\nyears = 5.0\n[market]\nn = 4\ninitial_weights = [0.5, 0.3, 0.2, 1e-30]\n\
         growth = [0.05, 0.05, 0.05, -5.0]\nvol = 0.2\ncorrelation = 0.3\n[[strategies]]\n\
         name = \"diversity-negative\"\nweighting = \"diversity\"\np = -0.5\n",
    );
    let output = sptlab(&["run", &vanishing, "--backend", "cpu"]);
    assert!(output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("warning: the market concentrated so far") && stderr.contains("f64"), "{stderr}");
    // The same run in f64 holds, and an ordinary f32 run gives no warning.
    let output = sptlab(&["run", &vanishing, "--backend", "cpu", "--precision", "f64"]);
    assert!(!String::from_utf8_lossy(&output.stderr).contains("warning"));
    let ordinary = write(&dir, "small.toml", SMALL);
    let output = sptlab(&["run", &ordinary, "--backend", "cpu"]);
    assert!(!String::from_utf8_lossy(&output.stderr).contains("warning"));
}

#[test]
fn a_strategy_that_is_not_functionally_generated_has_no_decomposition() {
    let dir = scratch("capped");
    let scenario = write(
        &dir,
        "capped.toml",
        "paths = 3\nyears = 0.1\n[market]\nn = 5\nvol = 0.2\n[[strategies]]\nname = \"capped\"\n\
         weighting = \"capped\"\ncap = 0.3\ncost_bps = 10.0\n[[strategies]]\nname = \"equal\"\nweighting = \"equal\"\n",
    );
    let out = dir.join("results");
    let output = sptlab(&[
        "run",
        &scenario,
        "--backend",
        "cpu",
        "--out",
        out.to_str().unwrap(),
        "--per-path",
        "--per-path-format",
        "csv",
    ]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let summary = json(&out.join("summary.json"));
    assert!(summary["strategies"]["capped"]["decomposition"].is_null());
    assert!(summary["strategies"]["equal"]["decomposition"].is_object());
    let csv = std::fs::read_to_string(out.join("paths.csv")).unwrap();
    let capped_row = csv.lines().find(|line| line.starts_with("0,capped,")).unwrap();
    let fields: Vec<&str> = capped_row.split(',').collect();
    assert_eq!(fields.len(), 19);
    // generating_term, drift_term and leakage_term empty; the cost term, the control and
    // the screen term (0: no screen) are still there, and so are its risk figures.
    assert_eq!((fields[9], fields[10], fields[13]), ("", "", ""));
    assert!(fields[15..].iter().all(|field| field.parse::<f64>().is_ok_and(f64::is_finite)), "{capped_row}");
    assert!(fields[11].parse::<f64>().unwrap() < 0.0);
    assert!(fields[12].parse::<f64>().unwrap().abs() > 0.0);
    assert_eq!(fields[14], "0");
}

#[test]
fn bench_times_each_backend_checks_its_answers_and_writes_json() {
    let dir = scratch("bench");
    let out = dir.join("bench.json");
    let output = sptlab(&[
        "bench",
        "--workload",
        "standard",
        "--backend",
        "cpu",
        "--paths",
        "32",
        "--repeat",
        "2",
        "--json",
        out.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(table.contains("| standard | cpu f32 |") && table.contains("| standard | cpu f64 |"), "{table}");
    let lines = json(&out);
    let lines = lines.as_array().unwrap();
    assert_eq!(lines.len(), 2);
    for line in lines {
        for field in ["backend", "adapter", "precision", "seconds", "asset_steps_per_second"] {
            assert!(!line[field].is_null(), "{field} missing in {line}");
        }
        assert_eq!(line["repetitions"], 2);
        assert!(line["seconds_min"].as_f64().unwrap() <= line["seconds"].as_f64().unwrap());
        let rate = 100.0 * line["paths"].as_f64().unwrap() * 2520.0 / line["seconds"].as_f64().unwrap();
        assert!((line["asset_steps_per_second"].as_f64().unwrap() / rate - 1.0).abs() < 1e-9);
        // f32 against f64 on the same 32 paths (10 years): within the engine's 2e-3.
        assert!(line["max_difference_vs_cpu_f64"].as_f64().unwrap() < 2e-3, "{line}");
    }
    assert_eq!(lines[1]["precision"], "f64");
    assert_eq!(lines[1]["speedup_vs_cpu_f64"], 1.0);
    assert_eq!(lines[1]["max_difference_vs_cpu_f64"], 0.0);

    // --baseline: another binary (here this one) timed the same way, as whole `run`
    // processes, beside this binary; its rows in the table and the JSON, and the ratio.
    let binary = binary();
    let out = dir.join("baseline.json");
    let output = sptlab(&[
        "bench",
        "--workload",
        "standard",
        "--backend",
        "cpu",
        "--paths",
        "8",
        "--repeat",
        "1",
        "--no-efficiency",
        "--baseline",
        &binary,
        "--json",
        out.to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(
        table.contains("| standard | this binary f32 |") && table.contains("| standard | baseline f32 |"),
        "{table}"
    );
    assert!(table.contains("standard: this binary ") && table.contains("x faster (whole `run` processes"), "{table}");
    let lines = json(&out);
    let processes: Vec<_> =
        lines.as_array().unwrap().iter().filter(|line| line["adapter"].as_str().unwrap().contains(" run`")).collect();
    assert_eq!(processes.len(), 2);
    for line in processes {
        assert_eq!(line["paths"], 8);
        assert!(line["seconds"].as_f64().unwrap() > 0.0, "{line}");
    }

    let refused = sptlab(&["bench", "--repeat", "0"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--repeat"));
}

#[test]
fn the_simd_kernel_compilations_give_identical_results() {
    // SPTLAB_CPU_KERNEL picks a compilation; one the CPU lacks falls back to the
    // default, which the adapter string names, so the comparison is only over those run.
    let dir = scratch("flavours");
    let scenario = write(&dir, "small.toml", SMALL);
    let mut results: Vec<(String, serde_json::Value, String)> = Vec::new();
    for flavour in ["baseline", "avx2", "avx512"] {
        let out = dir.join(flavour);
        for precision in ["f32", "f64"] {
            let output = Command::new(env!("CARGO_BIN_EXE_sptlab"))
                .env("SPTLAB_CPU_KERNEL", flavour)
                .args(["run", &scenario, "--backend", "cpu", "--precision", precision, "--quiet"])
                .args(["--per-path", "--per-path-format", "csv"])
                .args(["--out", out.join(precision).to_str().unwrap()])
                .output()
                .expect("the binary runs");
            assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
            let mut summary = json(&out.join(precision).join("summary.json"));
            let adapter = summary["run"]["adapter"].as_str().unwrap().to_string();
            summary.as_object_mut().unwrap().remove("run");
            // The manifest names the adapter (and so the kernel) too.
            summary["manifest"].as_object_mut().unwrap().remove("adapter");
            let paths = std::fs::read_to_string(out.join(precision).join("paths.csv")).unwrap();
            results.push((format!("{precision} {adapter}"), summary, paths));
        }
    }
    let baseline = results.iter().filter(|(name, ..)| name.contains("baseline")).count();
    assert_eq!(baseline, 2, "the baseline kernel runs everywhere");
    // The SIMD compilations use FMA, the baseline separate products and sums: the SIMD
    // ones must agree bit for bit with each other.
    let simd: Vec<_> = results.iter().filter(|(name, ..)| !name.contains("baseline")).collect();
    for (name, summary, paths) in &simd {
        let same_precision = |other: &String| other.split(' ').next() == name.split(' ').next();
        let reference = simd.iter().find(|(other, ..)| same_precision(other)).unwrap();
        assert_eq!(summary, &reference.1, "{name} against {}", reference.0);
        assert_eq!(paths, &reference.2, "{name} against {}", reference.0);
    }
}

/// `run --shard I/4` for I = 0..3 into the folders s0..s3 (`at` names them).
fn run_four_shards(scenario: &str, at: &dyn Fn(&str) -> String, common: &[&str]) {
    for i in 0..4 {
        let shard = format!("{i}/4");
        let output =
            sptlab(&[&["run", scenario, "--shard", &shard, "--out", &at(&format!("s{i}"))][..], common].concat());
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    }
}

#[test]
fn four_shards_merge_into_exactly_the_whole_run_and_bad_sets_are_refused() {
    // 5000 paths: the shard cuts fall inside the first 4096-path summation block, so the
    // merge must re-sum that block from per-path terms to match the whole run.
    let dir = scratch("shards");
    let scenario = write(&dir, "small.toml", SMALL);
    let at = |name: &str| dir.join(name).to_str().unwrap().to_string();
    let common = ["--paths", "5000", "--backend", "cpu", "--quiet"];
    let csv = ["--per-path", "--per-path-format", "csv"];
    let whole = sptlab(&[&["run", &scenario, "--out", &at("whole")][..], &csv, &common].concat());
    assert!(whole.status.success(), "{}", String::from_utf8_lossy(&whole.stderr));
    run_four_shards(&scenario, &at, &common);
    let merged =
        sptlab(&[&["merge", &at("s2"), &at("s0"), &at("s3"), &at("s1"), "--out", &at("merged")][..], &csv].concat());
    assert!(merged.status.success(), "{}", String::from_utf8_lossy(&merged.stderr));
    assert!(String::from_utf8_lossy(&merged.stdout).contains("diversity-0.5"));
    let without_run = |path: PathBuf| {
        let mut summary = json(&path);
        let run = summary.as_object_mut().unwrap().remove("run").unwrap();
        (summary, run)
    };
    let (whole_summary, whole_run) = without_run(dir.join("whole/summary.json"));
    let (merged_summary, merged_run) = without_run(dir.join("merged/summary.json"));
    assert_eq!(merged_summary, whole_summary, "the merge reproduces every number of the whole run");
    assert_eq!(merged_run["paths"], whole_run["paths"]);
    assert_eq!(merged_run["precision"], whole_run["precision"]);
    let file_of = |run: &str, name: &str| std::fs::read_to_string(dir.join(run).join(name)).unwrap();
    assert_eq!(file_of("merged", "paths.csv"), file_of("whole", "paths.csv"));
    // The figures too, the time grid's fan chart and decomposition included.
    for figure in sptlab::output::plots::FIGURES {
        let name = format!("{figure}.svg");
        assert_eq!(file_of("merged", &name), file_of("whole", &name), "{name}");
    }

    let refused = |args: &[&str], fragment: &str| {
        let out = at("refused");
        let output = sptlab(&[args, &["--out", &out]].concat());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(fragment), "{args:?}: expected '{fragment}' in: {stderr}");
        assert!(!Path::new(&out).exists(), "{args:?} wrote output");
    };
    refused(&["merge", &at("s0"), &at("s1"), &at("s3")], "paths 2500..3750 of 5000 are in no shard");
    refused(&["merge", &at("s0"), &at("s1"), &at("s1"), &at("s2"), &at("s3")], "shard 1/4 is given twice");
    let other_seed =
        sptlab(&[&["run", &scenario, "--shard", "1/4", "--seed", "6", "--out", &at("seed6")][..], &common].concat());
    assert!(other_seed.status.success());
    refused(&["merge", &at("s0"), &at("seed6"), &at("s2"), &at("s3")], "not part of the same run");
    refused(&["merge", &at("s0"), &at("whole")], "is it a shard directory?");
    let bad_spec = sptlab(&["run", &scenario, "--shard", "4/4", "--out", &at("bad")]);
    assert_eq!(bad_spec.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad_spec.stderr).contains("I/N"));
    // The controlled estimates are part of what merges exactly.
    let controlled = &whole_summary["strategies"]["equal"]["relative_growth_rate"]["controlled"];
    assert!(controlled["variance_ratio"].as_f64().unwrap() > 10.0, "{controlled}");
}

#[test]
fn antithetic_shards_split_between_pairs_and_merge_into_the_whole_run() {
    // 2,004 paths (1,002 pairs) in 4 shards: cut by paths at 501, 1,002 and 1,503, two of
    // them inside pairs; cut by pairs at pairs 250, 501 and 751, paths 500, 1,002, 1,502.
    let dir = scratch("antithetic-shards");
    let scenario = write(&dir, "small.toml", SMALL);
    let at = |name: &str| dir.join(name).to_str().unwrap().to_string();
    let common = ["--paths", "2004", "--backend", "cpu", "--quiet", "--antithetic"];
    let whole = sptlab(&[&["run", &scenario, "--out", &at("whole")][..], &common].concat());
    assert!(whole.status.success(), "{}", String::from_utf8_lossy(&whole.stderr));
    run_four_shards(&scenario, &at, &common);
    for i in 0..4 {
        let first_path = json(&dir.join(format!("s{i}/shard.json")))["first_path"].as_u64().unwrap();
        assert_eq!(first_path % 2, 0, "shard {i} starts inside a pair");
    }
    let merged = sptlab(&["merge", &at("s0"), &at("s1"), &at("s2"), &at("s3"), "--out", &at("merged")]);
    assert!(merged.status.success(), "{}", String::from_utf8_lossy(&merged.stderr));
    let without_run = |path: PathBuf| {
        let mut summary = json(&path);
        summary.as_object_mut().unwrap().remove("run");
        summary
    };
    let whole = without_run(dir.join("whole/summary.json"));
    assert_eq!(without_run(dir.join("merged/summary.json")), whole);
    assert_eq!(whole["scenario"]["antithetic"], true);
    // An odd number of paths cannot be paired.
    let odd = sptlab(&["run", &scenario, "--paths", "2005", "--antithetic", "--backend", "cpu"]);
    assert_eq!(odd.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&odd.stderr).contains("paths: must be even with antithetic = true"));
}

#[test]
fn png_figures_are_real_rasters_with_drawing_and_need_out() {
    let dir = scratch("png");
    let scenario = write(&dir, "small.toml", SMALL);
    let out = dir.join("results");
    let output = sptlab(&["run", &scenario, "--backend", "cpu", "--quiet", "--png", "--out", out.to_str().unwrap()]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    for figure in sptlab::output::plots::FIGURES {
        let file = std::fs::File::open(out.join(format!("{figure}.png"))).unwrap();
        let mut reader = png::Decoder::new(std::io::BufReader::new(file)).read_info().unwrap();
        let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut pixels).unwrap();
        assert_eq!((info.width, info.height), (900, 560), "{figure}");
        // Axes, text and series: a good share of the pixels are not white.
        let drawn = pixels.chunks(3).filter(|p| p.iter().any(|&c| c < 200)).count();
        assert!(drawn > 2_000, "{figure}: only {drawn} drawn pixels");
    }
    let without_out = sptlab(&["run", &scenario, "--png"]);
    assert_eq!(without_out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&without_out.stderr).contains("--png needs --out"));
}

#[test]
fn reproduce_confirms_a_run_made_with_other_threads_and_batches_and_catches_a_change() {
    let dir = scratch("reproduce");
    let scenario = write(&dir, "small.toml", SMALL);
    let out = dir.join("first");
    let first = sptlab(
        &["run", &scenario, "--backend", "cpu", "--threads", "1", "--batch-paths", "7", "--quiet"]
            .iter()
            .copied()
            .chain(["--out", out.to_str().unwrap()])
            .collect::<Vec<_>>(),
    );
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let summary = out.join("summary.json");
    // Every core and the default batch size this time: the same numbers, exactly.
    let again = sptlab(&["run", "--reproduce", summary.to_str().unwrap(), "--threads", "2"]);
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    assert!(String::from_utf8_lossy(&again.stdout).contains("matches exactly (CPU)"));

    let mut changed = json(&summary);
    let mean = &mut changed["strategies"]["equal"]["tracking_error"]["mean"];
    *mean = serde_json::json!(mean.as_f64().unwrap() * (1.0 + 1e-12));
    let tampered = write(&dir, "tampered.json", &changed.to_string());
    let refused = sptlab(&["run", "--reproduce", &tampered]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("not reproduced: 1 numbers") && stderr.contains("strategies.equal.tracking_error.mean"),
        "{stderr}"
    );

    // A summary from another build, without figures this one adds (the controlled means
    // came with issue 18): what both report is compared, the rest noted; from this same
    // build, a missing figure is a difference.
    let mut older = json(&summary);
    fn strip(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Object(map) => {
                map.remove("controlled");
                map.values_mut().for_each(strip);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    strip(&mut older);
    let same_build = write(&dir, "same-build.json", &older.to_string());
    let strict = sptlab(&["run", "--reproduce", &same_build, "--threads", "2"]);
    assert_eq!(strict.status.code(), Some(1), "{}", String::from_utf8_lossy(&strict.stderr));
    assert!(String::from_utf8_lossy(&strict.stderr).contains(".controlled: new"));
    older["manifest"]["git_commit"] = serde_json::json!("0000000000000000000000000000000000000000");
    let other_build = write(&dir, "other-build.json", &older.to_string());
    let lenient = sptlab(&["run", "--reproduce", &other_build, "--threads", "2"]);
    let stderr = String::from_utf8_lossy(&lenient.stderr);
    assert!(lenient.status.success(), "{stderr}");
    assert!(stderr.contains("figures this build reports are not in") && stderr.contains("so not compared"), "{stderr}");

    changed.as_object_mut().unwrap().remove("manifest");
    let old = write(&dir, "old.json", &changed.to_string());
    let no_manifest = sptlab(&["run", "--reproduce", &old]);
    assert_eq!(no_manifest.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&no_manifest.stderr).contains("has no manifest"));
}

#[test]
fn gpu_failures_are_reported_as_such_without_a_panic_or_output() {
    let dir = scratch("gpu-faults");
    let scenario = write(&dir, "small.toml", SMALL);
    let healthy = sptlab(&["run", &scenario, "--backend", "gpu", "--quiet", "--years", "0.1"]);
    if !healthy.status.success() {
        let stderr = String::from_utf8_lossy(&healthy.stderr);
        assert!(no_gpu(&stderr), "the healthy GPU run failed: {stderr}");
        eprintln!("skipped: no GPU adapter");
        return;
    }
    for (fault, expected) in [
        ("shader", "parsing error"),
        ("alloc", "is greater than the maximum buffer size"),
        ("lost", "the GPU device was lost"),
    ] {
        let out = dir.join(fault);
        let output = Command::new(env!("CARGO_BIN_EXE_sptlab"))
            .args(["run", &scenario, "--backend", "gpu", "--quiet", "--years", "0.1", "--out", out.to_str().unwrap()])
            .env("SPTLAB_GPU_FAULT", fault)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{fault}: {stderr}");
        assert!(stderr.contains(expected) && !stderr.contains("panicked"), "{fault}: {stderr}");
        assert!(!out.join("summary.json").exists(), "{fault}: no results");
    }
}

#[test]
fn under_auto_a_failing_gpu_gives_way_to_the_cpu_with_a_notice() {
    let dir = scratch("gpu-fallback");
    let scenario = write(&dir, "small.toml", SMALL);
    let (on_cpu, fell_back) = (dir.join("cpu"), dir.join("auto"));
    let output = sptlab(&["run", &scenario, "--backend", "cpu", "--quiet", "--out", on_cpu.to_str().unwrap()]);
    assert!(output.status.success());
    let output = Command::new(env!("CARGO_BIN_EXE_sptlab"))
        .args(["run", &scenario, "--backend", "auto", "--out", fell_back.to_str().unwrap()])
        .env("SPTLAB_AUTO_SOFTWARE_GPU", "1")
        .env("SPTLAB_GPU_FAULT", "shader")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    if no_gpu(&stderr) {
        return;
    }
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("note: the GPU run failed") && stderr.contains("parsing error"), "{stderr}");
    assert!(stderr.contains("running on the CPU backend instead"), "{stderr}");
    let (expected, got) = (json(&on_cpu.join("summary.json")), json(&fell_back.join("summary.json")));
    assert_eq!(got["manifest"]["backend"], "cpu");
    for section in ["market", "strategies", "comparisons"] {
        assert!(expected[section] == got[section], "{section}: the fall-back run is a CPU run");
    }
}

/// The CPU that takes over from a GPU under `auto` is built with the run's options:
/// `--batch-paths` sets its batches (seen in the debug log of each batch), whether the
/// GPU fails mid-run or refuses the plan up front.
#[test]
fn the_cpu_that_takes_over_from_a_gpu_honours_batch_paths() {
    let dir = scratch("fallback-batches");
    let small = write(&dir, "small.toml", SMALL);
    // More stocks than a software adapter compiles (refused up front on lavapipe and
    // llvmpipe; a hardware adapter runs it, and then there is no fall-back to check).
    let wide = write(&dir, "wide.toml", &SMALL.replace("n = 8", "n = 1500"));
    for (scenario, fault, expected_note) in [
        (&small, Some("shader"), "running on the CPU backend instead"),
        (&wide, None, "note: using the CPU backend: market.n: 1500 stocks"),
    ] {
        let mut command = Command::new(binary());
        command
            .args(["run", scenario.as_str(), "--backend", "auto", "--batch-paths", "7"])
            .env("SPTLAB_AUTO_SOFTWARE_GPU", "1")
            .env("RUST_LOG", "sptlab=debug");
        if let Some(fault) = fault {
            command.env("SPTLAB_GPU_FAULT", fault);
        }
        let output = command.output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        if no_gpu(&stderr) {
            return;
        }
        assert!(output.status.success(), "{stderr}");
        if fault.is_none() && !stderr.contains(expected_note) {
            // A hardware adapter ran the wide market itself.
            continue;
        }
        let fallback = stderr.find(expected_note).unwrap_or_else(|| panic!("no fall-back: {stderr}"));
        let cpu_log = &stderr[fallback..];
        for batch in ["batch of paths 0..7\n", "batch of paths 7..14\n", "batch of paths 35..40\n"] {
            assert!(cpu_log.contains(batch), "the CPU's batches are --batch-paths 7: {cpu_log}");
        }
    }
}

#[test]
fn reproduce_confirms_a_gpu_run_made_with_other_batches() {
    let dir = scratch("reproduce-gpu");
    let scenario = write(&dir, "small.toml", &SMALL.replace("paths = 40", "paths = 200"));
    let out = dir.join("first");
    let first = sptlab(&[
        "run",
        &scenario,
        "--backend",
        "gpu",
        "--batch-paths",
        "64",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&first.stderr);
    if no_gpu(&stderr) {
        return;
    }
    assert!(first.status.success(), "{stderr}");
    // Four batches of 64 the first time, one of 256 now: each path's numbers, the
    // integer time grid and the block-ordered sums do not depend on the batching.
    let again = sptlab(&["run", "--reproduce", out.join("summary.json").to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
    assert!(stdout.contains("within 1e-3 (GPU)"), "{stdout}");
}

#[test]
fn a_size_tilt_drift_undefined_on_every_path_goes_through_shards_as_null() {
    // A strategy that never rebalances has one size tilt a path (step 0's): no drift.
    let dir = scratch("tilt-drift");
    let scenario = dir.join("held.toml");
    std::fs::write(
        &scenario,
        "paths = 20\nyears = 1.0\n[market]\nn = 5\nvol = 0.2\n[[strategies]]\nname = \"held\"\nweighting = \
         \"equal\"\nrebalance_every = 100000\n[[strategies]]\nname = \"monthly\"\nweighting = \"equal\"\n\
         rebalance_every = 21\n",
    )
    .unwrap();
    let at = |name: &str| dir.join(name).to_str().unwrap().to_string();
    for (shard, out) in [("0/2", "a"), ("1/2", "b")] {
        let output =
            sptlab(&["run", scenario.to_str().unwrap(), "--backend", "cpu", "--shard", shard, "--out", &at(out)]);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    }
    let merged = sptlab(&["merge", &at("a"), &at("b"), "--out", &at("m"), "--per-path", "--per-path-format", "csv"]);
    assert!(merged.status.success(), "{}", String::from_utf8_lossy(&merged.stderr));
    let summary = json(&dir.join("m/summary.json"));
    assert!(summary["strategies"]["held"]["size_tilt_drift"].is_null());
    assert!(summary["strategies"]["monthly"]["size_tilt_drift"]["mean"].as_f64().unwrap() > 0.0);
    let csv = std::fs::read_to_string(dir.join("m/paths.csv")).unwrap();
    let held = csv.lines().find(|line| line.starts_with("0,held,")).unwrap();
    assert!(held.ends_with(','), "an empty size_tilt_drift: {held}");
}
