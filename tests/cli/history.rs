//! Real data on the command line: `backtest`, the bootstrap market in shards, and
//! `run --history` (its percentile against the per-path file, in shards and merged).

use std::path::Path;

use sptlab::data::format_date;

use crate::{json, scratch, sptlab, write};

const PRICES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/sp500_20_stocks_1990_2022.csv");
const INDEX: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/sp500_index_1990_2022.csv");

/// The shipped prices of the first `stocks` tickers from `from` on, written to `dir/name`.
fn prices(dir: &Path, name: &str, stocks: usize, from: &str) -> String {
    let text = std::fs::read_to_string(PRICES).unwrap();
    let keep = |line: &str| line.split(',').take(stocks + 1).collect::<Vec<_>>().join(",") + "\n";
    let mut lines = text.lines();
    let mut out = keep(lines.next().unwrap());
    out.extend(lines.filter(|line| &line[..10] >= from).map(keep));
    write(dir, name, &out)
}

const STRATEGIES: &str = "[[strategies]]\nname = \"equal\"\nweighting = \"equal\"\nrebalance_every = 21\n\
                          [[strategies]]\nname = \"diversity-0.5\"\nweighting = \"diversity\"\np = 0.5\n";

#[test]
fn a_backtest_writes_its_files_and_its_numbers_are_the_library_s() {
    let dir = scratch("backtest");
    let out = dir.join("out");
    let output = sptlab(&[
        "backtest",
        PRICES,
        "--from",
        "2012-01-03",
        "--benchmark",
        INDEX,
        "--out",
        out.to_str().unwrap(),
        "--png",
    ]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8_lossy(&output.stdout);
    for fragment in ["2012-01-03 to 2022-12-28", "generating", "against SP500 (price index)", "survivorship"] {
        assert!(stdout.contains(fragment), "{fragment}: {stdout}");
    }
    for file in ["summary.json", "backtest.csv", "relative_value.svg", "weights.svg", "weights.png", "report.html"] {
        assert!(out.join(file).is_file(), "{file}");
    }
    let summary = json(&out.join("summary.json"));
    let equal = &summary["strategies"]["equal"];
    // One path: each statistic is its value alone.
    assert_eq!(equal["relative_log_return"].as_object().unwrap().len(), 1);
    assert!(equal["decomposition"]["largest_period_residual"].as_f64().unwrap() < 1e-9);
    assert!(equal["vs_index"]["tracking_error"].as_f64().unwrap() > 0.0);
    assert_eq!(summary["index"]["kind"], "price index (no dividends)");
    assert_eq!(summary["data"]["rows"], 2766);
    // The last line of backtest.csv holds each strategy's L, which summary.json reports.
    let csv = std::fs::read_to_string(out.join("backtest.csv")).unwrap();
    let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
    let last: Vec<&str> = csv.lines().last().unwrap().split(',').collect();
    let column = header.iter().position(|c| *c == "equal.log_relative_value").unwrap();
    let l: f64 = last[column].parse().unwrap();
    assert_eq!(l, equal["relative_log_return"]["mean"].as_f64().unwrap());
    assert_eq!(csv.lines().count(), 2767);
    // Not a simulation to reproduce.
    let reproduce = sptlab(&["run", "--reproduce", out.join("summary.json").to_str().unwrap()]);
    assert_eq!(reproduce.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&reproduce.stderr).contains("is a backtest's summary"));
    assert_eq!(summary["scenario"]["market"]["model"], "bootstrap");
    assert_eq!(summary["scenario"]["market"]["from"], "2012-01-03");
    // Asked again into the same folder: refused, nothing replaced, unless --force.
    let again = sptlab(&["backtest", PRICES, "--out", out.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(2), "{}", String::from_utf8_lossy(&again.stderr));
    let forced = sptlab(&["backtest", PRICES, "--out", out.to_str().unwrap(), "--force", "--quiet"]);
    assert!(forced.status.success(), "{}", String::from_utf8_lossy(&forced.stderr));
    assert!(!out.join("weights.png").exists(), "the earlier run's PNG, not asked for now, went");
}

/// summary.json without its run facts (timings, adapter), which differ between runs.
fn without_run(path: &Path) -> serde_json::Value {
    let mut summary = json(path);
    summary.as_object_mut().unwrap().remove("run");
    summary
}

#[test]
fn history_percentiles_count_the_paths_and_survive_shards_and_the_data_is_checked() {
    let dir = scratch("history");
    let data = prices(&dir, "prices.csv", 10, "2008-01-01");
    // The scenario names its data relative to itself; recorded absolute with its hash.
    let scenario = write(
        &dir,
        "bootstrap.toml",
        &format!(
            "seed = 3\npaths = 600\nyears = 3.0\n[market]\nmodel = \"bootstrap\"\ndata = \"prices.csv\"\n\
             mean_block = 15\ninitial_weights = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n{STRATEGIES}"
        ),
    );
    let at = |name: &str| dir.join(name).to_str().unwrap().to_string();
    let common = ["--backend", "cpu", "--quiet", "--history", data.as_str()];
    let whole = sptlab(
        &[&["run", &scenario, "--out", &at("whole"), "--per-path", "--per-path-format", "csv"][..], &common].concat(),
    );
    assert!(whole.status.success(), "{}", String::from_utf8_lossy(&whole.stderr));
    let summary = without_run(&dir.join("whole/summary.json"));
    let market = &summary["scenario"]["market"];
    assert_eq!(market["data"], Path::new(&data).canonicalize().unwrap().to_str().unwrap());
    assert_eq!(market["data_sha256"].as_str().unwrap().len(), 64);
    assert_eq!(market["n"], 10);
    assert_eq!(summary["manifest"]["data"]["sha256"], market["data_sha256"]);
    assert_eq!(summary["manifest"]["data"]["path"], market["data"]);

    // The percentile is a direct count over the per-path file's relative log returns.
    let csv = std::fs::read_to_string(dir.join("whole/paths.csv")).unwrap();
    for strategy in ["equal", "diversity-0.5"] {
        let history = &summary["strategies"][strategy]["history"];
        let historical = history["relative_log_return"].as_f64().unwrap();
        let paths: Vec<f64> = csv
            .lines()
            .skip(1)
            .map(|line| line.split(',').collect::<Vec<_>>())
            .filter(|cells| cells[1] == strategy)
            .map(|cells| cells[3].parse().unwrap())
            .collect();
        assert_eq!(paths.len(), 600);
        let below = paths.iter().filter(|l| **l < historical).count() as f64;
        let ties = paths.iter().filter(|l| **l == historical).count() as f64;
        let expected = 100.0 * (below + 0.5 * ties) / 600.0;
        assert_eq!(history["percentile"].as_f64().unwrap(), expected, "{strategy}");
        assert!(expected > 0.0 && expected < 100.0, "{strategy}: history inside the paths' range here");
        let years = summary["history"]["years"].as_f64().unwrap();
        assert!((years - 3.0).abs() < 0.02, "the last 3 years of the file: {years}");
        assert_eq!(history["relative_growth_rate"].as_f64().unwrap(), historical / years);
    }

    // Shards: each carries the history; the merge reproduces every number.
    crate::run_four_shards(&scenario, &at, &common);
    let merged = sptlab(&["merge", &at("s0"), &at("s1"), &at("s2"), &at("s3"), "--out", &at("merged")]);
    assert!(merged.status.success(), "{}", String::from_utf8_lossy(&merged.stderr));
    assert_eq!(without_run(&dir.join("merged/summary.json")), summary);
    // A shard of another history is not part of the same run.
    let other = prices(&dir, "other.csv", 10, "2010-01-01");
    let odd = sptlab(&[
        "run",
        &scenario,
        "--shard",
        "1/4",
        "--out",
        &at("odd"),
        "--backend",
        "cpu",
        "--quiet",
        "--history",
        &other,
    ]);
    assert!(odd.status.success(), "{}", String::from_utf8_lossy(&odd.stderr));
    let refused = sptlab(&["merge", &at("s0"), &at("odd"), &at("s2"), &at("s3"), "--out", &at("refused")]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--history"));

    // The data changed since the run: its recorded SHA-256 no longer matches.
    let reproduced = sptlab(&["run", "--reproduce", &at("whole/summary.json"), "--backend", "cpu", "--quiet"]);
    assert!(reproduced.status.success(), "{}", String::from_utf8_lossy(&reproduced.stderr));
    prices(&dir, "prices.csv", 10, "2008-01-03");
    let reproduce = sptlab(&["run", "--reproduce", &at("whole/summary.json"), "--backend", "cpu"]);
    assert_eq!(reproduce.status.code(), Some(2), "{}", String::from_utf8_lossy(&reproduce.stderr));
    let stderr = String::from_utf8_lossy(&reproduce.stderr);
    assert!(stderr.contains("market.data_sha256") && stderr.contains("the data changed"), "{stderr}");
}

#[test]
fn a_killed_bootstrap_run_with_history_resumes_to_the_same_results() {
    let dir = scratch("history-resume");
    prices(&dir, "prices.csv", 10, "2008-01-01");
    let scenario = write(
        &dir,
        "bootstrap.toml",
        &format!(
            "seed = 5\npaths = 40000\nyears = 3.0\n[market]\nmodel = \"bootstrap\"\ndata = \"prices.csv\"\n\
             initial_weights = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n{STRATEGIES}"
        ),
    );
    let data = dir.join("prices.csv").to_str().unwrap().to_string();
    let (whole, killed) = (dir.join("whole"), dir.join("killed"));
    let common = ["--backend", "cpu", "--quiet", "--history", data.as_str()];
    let output = sptlab(&[&["run", &scenario, "--out", whole.to_str().unwrap()][..], &common].concat());
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let (mut child, _) = crate::resume::run_until_checkpointed(&[&["run", &scenario][..], &common].concat(), &killed);
    child.kill().unwrap();
    child.wait().unwrap();
    if killed.join("summary.json").exists() {
        eprintln!("the run finished before the kill: nothing resumed");
    } else {
        // The checkpoint carries the history: --resume needs no --history.
        let resumed = sptlab(&["run", "--resume", killed.to_str().unwrap(), "--quiet"]);
        assert!(resumed.status.success(), "{}", String::from_utf8_lossy(&resumed.stderr));
    }
    assert_eq!(without_run(&killed.join("summary.json")), without_run(&whole.join("summary.json")));
    let fan = |dir: &Path| std::fs::read(dir.join("fan_chart.svg")).unwrap();
    assert!(fan(&killed) == fan(&whole), "the fan chart with the historical paths");
    assert!(json(&killed.join("summary.json"))["strategies"]["equal"]["history"]["percentile"].is_number());
}

#[test]
fn a_short_horizon_measures_the_data_s_frequency_over_the_file_not_its_window() {
    // --years 0.01 leaves a window of two rows one day apart, which alone would count
    // 365 rows a year and refuse daily data (before: "has 365.2 rows a year"). The
    // file's frequency, over all of it, is that of daily trading days.
    let dir = scratch("history-short");
    let data = prices(&dir, "prices.csv", 10, "2020-01-01");
    let scenario = write(
        &dir,
        "gbm.toml",
        &format!("seed = 3\npaths = 20\n[market]\nn = 10\nvol = 0.2\ncorrelation = 0.3\n{STRATEGIES}"),
    );
    let output = sptlab(&["run", &scenario, "--backend", "cpu", "--years", "0.01", "--history", &data]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(!stderr.contains("rows a year"), "{stderr}");
    assert!(String::from_utf8_lossy(&output.stdout).contains("history: "));
    // Weekly rows over the same file are still refused, and the message says over which dates.
    let text = std::fs::read_to_string(&data).unwrap();
    let weekly: String =
        text.lines().enumerate().filter(|(row, _)| row % 5 == 0).map(|(_, l)| format!("{l}\n")).collect();
    let weekly_file = write(&dir, "weekly.csv", &weekly);
    let output = sptlab(&["run", &scenario, "--backend", "cpu", "--years", "0.1", "--history", &weekly_file]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("rows a year (2020-01"), "{stderr}");
    assert!(stderr.contains("but steps_per_year is 252"), "{stderr}");
}

#[test]
fn the_csv_reader_holds_about_the_file_s_size() {
    // 250,000 weekdays of 20 stocks (about 42 MB), of which the backtest keeps the last
    // quarter: reading the file must fit in twice its size plus 32 MB of address space
    // (before: the whole file in memory, then two more copies of it as vectors per row,
    // then the rows' log returns: over 200 MB for this file).
    let dir = scratch("reader-memory");
    let mut text = String::from("Date");
    for stock in 0..20 {
        text.push_str(&format!(",S{stock}"));
    }
    text.push('\n');
    let start: i64 = 20_000; // days since 1970-01-01 (2024-10-04); weekends are skipped below
    let mut day = start;
    let mut last = String::new();
    for row in 0..250_000u64 {
        if (day - 4).rem_euclid(7) >= 5 {
            day += 7 - (day - 4).rem_euclid(7);
        }
        last = format_date(day);
        text.push_str(&last);
        for stock in 0..20u64 {
            text.push_str(&format!(",{}.{:04}", 50 + (row * 7 + stock * 13) % 50, (row * 31 + stock) % 10_000));
        }
        text.push('\n');
        day += 1;
    }
    let file = write(&dir, "long.csv", &text);
    let size = std::fs::metadata(&file).unwrap().len();
    let from = format_date(day - 90);
    let limit = format!("--as={}", 2 * size + (32 << 20));
    let output = std::process::Command::new("prlimit")
        .args([limit.as_str(), &crate::binary(), "backtest", &file, "--from", &from, "--quiet"])
        .output()
        .expect("prlimit (util-linux) runs");
    assert!(output.status.success(), "{:?} {}", output.status, String::from_utf8_lossy(&output.stderr));
    assert!(last > from);
}

#[test]
fn caps_whose_total_overflows_backtest_to_finite_numbers() {
    // Two caps of 1e308: their total is infinite, their weights one half each (before:
    // every figure NaN, exit 0).
    let dir = scratch("huge-caps");
    let rows: String = (1..=20).map(|day| format!("2020-01-{day:02},1e308,{}e307\n", 10 - day % 3)).collect();
    let file = write(&dir, "caps.csv", &format!("Date,A,B\n{rows}"));
    let output = sptlab(&["backtest", &file, "--caps", "--out", dir.join("out").to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(!stdout.contains("NaN") && !stdout.contains("inf"), "{stdout}");
    let summary = json(&dir.join("out/summary.json"));
    let market = summary["market"]["log_return"]["mean"].as_f64().unwrap();
    assert!(market.is_finite(), "{summary}");
}

/// An index of 6 of 12 GBM stocks, a year of daily steps, one strategy screened.
const OPEN_HISTORY: &str = "seed = 9\npaths = 64\nyears = 1.0\n[market]\nn = 12\nzipf = 1.0\nvol = 0.3\n\
    [benchmark]\nindex = 6\nreconstitute_every = 21\n\
    [[strategies]]\nname = \"equal\"\nweighting = \"equal\"\nrebalance_every = 21\ncost_bps = 10.0\n\
    [[strategies]]\nname = \"diversity-screen\"\nweighting = \"diversity\"\np = 0.5\nexclude = [0]\n";

#[test]
fn run_history_takes_a_long_file_and_its_own_path_returns_to_the_run_s_numbers() {
    // Path 11 of the run written as a long file is a history whose L is path 11's.
    let dir = scratch("history-long");
    let scenario = write(&dir, "open.toml", OPEN_HISTORY);
    let plan = sptlab::Scenario::from_toml(OPEN_HISTORY).unwrap().validate().unwrap();
    let file = dir.join("path11.csv");
    let mut out = std::io::BufWriter::new(std::fs::File::create(&file).unwrap());
    sptlab::backtest::write_path_file(&plan, 11, &mut out).unwrap();
    drop(out);
    let run_dir = dir.join("out");
    let output = sptlab(&[
        "run",
        &scenario,
        "--backend",
        "cpu",
        "--precision",
        "f64",
        "--history",
        file.to_str().unwrap(),
        "--out",
        run_dir.to_str().unwrap(),
        "--per-path",
        "--per-path-format",
        "csv",
    ]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("a long file: an open universe"), "{stdout}");
    let summary = json(&run_dir.join("summary.json"));
    let paths = std::fs::read_to_string(run_dir.join("paths.csv")).unwrap();
    let header: Vec<&str> = paths.lines().next().unwrap().split(',').collect();
    let column = header.iter().position(|h| *h == "relative_log_return").unwrap();
    for name in ["equal", "diversity-screen"] {
        let row = paths.lines().find(|line| line.starts_with(&format!("11,{name},"))).unwrap();
        let simulated: f64 = row.split(',').nth(column).unwrap().parse().unwrap();
        let history = summary["strategies"][name]["history"]["relative_log_return"].as_f64().unwrap();
        assert!((history - simulated).abs() < 1e-9, "{name}: history {history} against path 11's {simulated}");
    }
}
