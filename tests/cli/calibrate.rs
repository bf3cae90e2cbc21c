//! `sptlab calibrate` end to end on the shipped real data, and on bad files.

use std::path::Path;

use sptlab::market::Market;
use sptlab::Scenario;

use crate::{scratch, sptlab, write};

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/sp500_20_stocks_1990_2022.csv");

/// Annualised sample vols straight from the CSV (a plain reading, not the crate's):
/// rows of the last `years` years, daily log returns, sd with divisor count - 1,
/// times the square root of the returns per calendar year, rounded.
fn direct_vols(path: &Path, years: f64) -> Vec<f64> {
    let text = std::fs::read_to_string(path).unwrap();
    let rows: Vec<Vec<&str>> = text.lines().skip(1).map(|line| line.split(',').collect()).collect();
    let day = |date: &str| {
        // Days from a date by chrono-free arithmetic: good enough to pick the window.
        let parts: Vec<i64> = date.split('-').map(|p| p.parse().unwrap()).collect();
        let (y, m, d) = (parts[0], parts[1], parts[2]);
        let (y, m) = if m <= 2 { (y - 1, m + 12) } else { (y, m) };
        365 * y + y / 4 - y / 100 + y / 400 + (153 * (m - 3) + 2) / 5 + d
    };
    let last = day(rows.last().unwrap()[0]);
    let start = last - (years * 365.25).round() as i64;
    let window: Vec<&Vec<&str>> = rows.iter().filter(|row| day(row[0]) >= start).collect();
    let returns_count = window.len() - 1;
    let span_years = (day(window.last().unwrap()[0]) - day(window[0][0])) as f64 / 365.25;
    let per_year = (returns_count as f64 / span_years).round();
    let stocks = window[0].len() - 1;
    (0..stocks)
        .map(|stock| {
            let prices: Vec<f64> = window.iter().map(|row| row[stock + 1].parse().unwrap()).collect();
            let returns: Vec<f64> = prices.windows(2).map(|p| (p[1] / p[0]).ln()).collect();
            let mean = returns.iter().sum::<f64>() / returns.len() as f64;
            let variance = returns.iter().map(|r| (r - mean).powi(2)).sum::<f64>() / (returns.len() - 1) as f64;
            (variance * per_year).sqrt()
        })
        .collect()
}

#[test]
fn calibrating_the_shipped_data_gives_a_scenario_that_runs() {
    let dir = scratch("calibrate");
    let out = dir.join("calibrated.toml");
    let output = sptlab(&["calibrate", DATA, "--window", "10", "--out", out.to_str().unwrap()]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.contains("# Stocks, in the order of every per-stock list: AAPL, AMD,"), "{text}");

    // The estimated vols are the sample vols of the CSV (written with 6 decimals).
    let scenario = Scenario::from_toml(&text).unwrap();
    let plan = scenario.validate().expect("the calibrated scenario validates");
    let Market::Gbm(market) = &plan.market else { panic!("a GBM scenario") };
    let expected = direct_vols(Path::new(DATA), 10.0);
    assert_eq!(market.vols().len(), 20);
    for (stock, (got, want)) in market.vols().iter().zip(&expected).enumerate() {
        assert!((got - want).abs() < 1e-6, "stock {stock}: vol {got} vs {want} computed from the CSV");
    }
    // Real vols, not placeholders: AMD and RRC are the wild ones (above 50 %), JNJ the calm one.
    assert!(expected[1] > 0.5 && expected[16] > 0.5 && expected[7] < 0.2, "{expected:?}");
    // Positive definite: the Cholesky factor exists and reproduces the covariance.
    let cholesky = market.cholesky().expect("a Cholesky factor");
    let product = cholesky * cholesky.transpose();
    assert!((product - &market.covariance).abs().max() < 1e-12);
    assert!(market.covariance.clone().symmetric_eigenvalues().min() > 0.0);

    // And `sptlab run` accepts it.
    let output = sptlab(&["run", out.to_str().unwrap(), "--paths", "32", "--years", "1", "--backend", "cpu"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stdout).contains("diversity-0.76"));
}

#[test]
fn a_first_order_calibration_also_runs() {
    let dir = scratch("calibrate-first-order");
    let out = dir.join("first_order.toml");
    let output =
        sptlab(&["calibrate", DATA, "--model", "first_order", "--window", "5", "--out", out.to_str().unwrap()]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let plan = Scenario::from_toml(&std::fs::read_to_string(&out).unwrap()).unwrap().validate().unwrap();
    assert!(matches!(plan.market, Market::Rank(_)));
    let output = sptlab(&["run", out.to_str().unwrap(), "--paths", "32", "--years", "1", "--backend", "cpu"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
}

#[test]
fn bad_data_files_exit_with_2_and_say_where_and_why() {
    let dir = scratch("calibrate-bad");
    let header = "Date,AAA,BBB\n";
    let good_rows: String = (0..100)
        .map(|day| {
            format!(
                "2020-{:02}-{:02},{},{}\n",
                1 + day / 28,
                1 + day % 28,
                10.0 + day as f64 * 0.1,
                20.0 - day as f64 * 0.05
            )
        })
        .collect();
    let cases = [
        ("missing", format!("{header}2019-12-31,1.0,\n{good_rows}"), "missing price for BBB on 2019-12-31"),
        ("zero", format!("{header}2019-12-31,0.0,1.0\n{good_rows}"), "must be positive"),
        ("negative", format!("{header}2019-12-31,-3,1.0\n{good_rows}"), "must be positive"),
        ("text", format!("{header}2019-12-31,abc,1.0\n{good_rows}"), "`abc` is not a number"),
        ("unsorted", format!("{header}2021-01-01,1.0,1.0\n{good_rows}"), "rows must be sorted"),
        ("duplicate", format!("{header}{good_rows}2020-04-16,1.0,1.0\n"), "appears twice"),
        ("short", format!("{header}{}", &good_rows[..good_rows.find("2020-02-").unwrap()]), "too short"),
        ("bad date", format!("{header}2020-02-30,1.0,1.0\n{good_rows}"), "is not a date"),
        ("header", format!("Day,AAA,BBB\n{good_rows}"), "header must be"),
        ("one ticker", "Date,AAA\n2020-01-01,1.0\n".to_string(), "at least two tickers"),
        ("ragged", format!("{header}{good_rows}2020-04-20,1.0\n"), "ragged.csv:102"),
    ];
    for (name, text, expected) in cases {
        let file = write(&dir, &format!("{}.csv", name.replace(' ', "_")), &text);
        let out = dir.join(format!("{name}.toml"));
        let output = sptlab(&["calibrate", &file, "--out", out.to_str().unwrap()]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{name}: {stderr}");
        assert!(stderr.contains(expected), "{name}: expected `{expected}` in: {stderr}");
        assert!(stderr.contains(&file), "{name}: the message names the file: {stderr}");
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
        assert!(!out.exists(), "{name}: no scenario may be written");
    }
    // The good rows alone calibrate (so each case above fails for its own reason).
    let file = write(&dir, "good.csv", &format!("{header}{good_rows}"));
    assert!(sptlab(&["calibrate", &file]).status.success());
    // Options are checked too.
    for (args, expected) in [
        (vec!["--shrinkage", "1.5"], "--shrinkage"),
        (vec!["--window", "-1"], "--window: must be a positive number"),
        (vec!["--model", "atlas"], "--model"),
    ] {
        let output = sptlab(&[&["calibrate", file.as_str()][..], &args[..]].concat());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
    let output = sptlab(&["calibrate", "/nonexistent/prices.csv"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("cannot read"));
}
