//! No number claims more than the data support: one path or one pair has no interval,
//! intervals at small counts are Student's, and a portfolio equal to the market is a
//! tie, not a winner (docs/statistics.md).

use crate::{json, scratch, sptlab, write};

fn stdout(output: &std::process::Output) -> String {
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn ranking(table: &str) -> String {
    table.lines().find(|line| line.starts_with("ranking")).expect("a ranking line").to_string()
}

#[test]
fn one_path_or_one_pair_has_no_standard_error_interval_or_significant_step() {
    let dir = scratch("one-path");
    for (name, extra) in [("path", &["--paths", "1"][..]), ("pair", &["--paths", "2", "--antithetic"][..])] {
        let out = dir.join(name);
        let mut args = vec!["run", "--years", "0.2", "--backend", "cpu", "--out", out.to_str().unwrap()];
        args.extend(extra);
        let table = stdout(&sptlab(&args));
        // Every strategy's interval is "-", and no step of the ranking is '>'.
        for line in table.lines().filter(|l| l.starts_with("equal") || l.starts_with("diversity")) {
            assert!(line.contains("+/- -"), "{name}: {line}");
        }
        assert!(table.contains("mean") && table.contains("+/- - (95%)"), "{name}: {table}");
        let ranking = ranking(&table);
        assert!(!ranking.contains('>'), "{name}: {ranking}");
        let summary = json(&out.join("summary.json"));
        let equal = &summary["strategies"]["equal"];
        for key in ["se", "low", "high"] {
            assert!(
                equal["relative_growth_rate"][key].is_null(),
                "{name}: {key} = {}",
                equal["relative_growth_rate"][key]
            );
            assert!(summary["market"]["log_return"][key].is_null(), "{name}: market {key}");
        }
        assert!(equal["relative_growth_rate"].get("controlled").is_none(), "{name}: no control below three units");
        // One path has no sd; one pair's two paths do.
        assert_eq!(equal["tracking_error"]["sd"].is_null(), name == "path", "{name}: sd");
        for comparison in summary["comparisons"].as_array().unwrap() {
            assert!(comparison["relative_log_return"]["se"].is_null(), "{name}: {comparison}");
        }
    }
}

#[test]
fn intervals_at_a_few_paths_are_students_t() {
    // Five paths: t(0.975, 4) = 2.776445105 standard errors either side, plain; the
    // controlled interval t(0.975, 3) = 3.182446305 of its own se.
    let dir = scratch("student");
    let out = dir.join("out");
    stdout(&sptlab(&["run", "--paths", "5", "--years", "0.2", "--backend", "cpu", "--out", out.to_str().unwrap()]));
    let summary = json(&out.join("summary.json"));
    let growth = &summary["strategies"]["equal"]["relative_growth_rate"];
    let (mean, se) = (growth["mean"].as_f64().unwrap(), growth["se"].as_f64().unwrap());
    assert!((growth["high"].as_f64().unwrap() - mean - 2.776_445_105 * se).abs() < 1e-7 * se + 1e-15);
    assert!((mean - growth["low"].as_f64().unwrap() - 2.776_445_105 * se).abs() < 1e-7 * se + 1e-15);
    let controlled = &growth["controlled"];
    let (c_mean, c_se) = (controlled["mean"].as_f64().unwrap(), controlled["se"].as_f64().unwrap());
    assert!((controlled["high"].as_f64().unwrap() - c_mean - 3.182_446_305 * c_se).abs() < 1e-7 * c_se + 1e-15);
}

const SAME_AS_THE_MARKET: &str = r#"
name = "ties"
seed = 4
paths = 40
years = 0.5
[market]
n = 6
zipf = 0.0
growth = 0.05
vol = { from = 0.15, to = 0.35 }
correlation = 0.3
[[strategies]]
name = "cap-weighted"
weighting = "market"
[[strategies]]
name = "equal-held"
weighting = "equal"
rebalance_every = 1000000
[[strategies]]
name = "equal"
weighting = "equal"
rebalance_every = 5
"#;

#[test]
fn a_portfolio_equal_to_the_market_is_a_tie_in_the_table_the_summary_and_the_paths() {
    let dir = scratch("ties");
    let scenario = write(&dir, "ties.toml", SAME_AS_THE_MARKET);
    for precision in ["f32", "f64"] {
        let out = dir.join(precision);
        let table = stdout(&sptlab(&[
            "run",
            &scenario,
            "--backend",
            "cpu",
            "--precision",
            precision,
            "--per-path",
            "--per-path-format",
            "csv",
            "--out",
            out.to_str().unwrap(),
        ]));
        let ranking = ranking(&table);
        // The three are one portfolio: joined by '=' in some order, never '>' or '~'.
        let tied: Vec<&str> = ranking.trim_start_matches("ranking (paired, 95%): ").split(" = ").collect();
        assert!(tied.len() >= 3, "{precision}: {ranking}");
        for line in table.lines().filter(|l| l.starts_with("cap-weighted") || l.starts_with("equal-held")) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // rel. growth, "+/-", "-", excess, track.err, IR "-", P(outperform) "-".
            assert_eq!((fields[3], fields[6], fields[7]), ("-", "-", "-"), "{precision}: {line}");
        }
        let summary = json(&out.join("summary.json"));
        for name in ["cap-weighted", "equal-held"] {
            let strategy = &summary["strategies"][name];
            assert!(strategy["p_outperform"].is_null() && strategy["information_ratio"].is_null(), "{name}");
            assert!(strategy["relative_growth_rate"]["low"].is_null(), "{name}: no interval");
        }
        assert_eq!(summary["strategies"]["cap-weighted"]["relative_log_return"]["max"], 0.0, "zero by construction");
        let ties: Vec<(String, String)> = summary["comparisons"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["tie"] == true)
            .map(|c| (c["first"].as_str().unwrap().to_string(), c["second"].as_str().unwrap().to_string()))
            .collect();
        assert_eq!(ties.len(), 3, "{precision}: {ties:?}");
        assert!(ties.iter().all(|(a, b)| a != "equal" && b != "equal"), "{ties:?}");
        // Equal weight rebalanced every week is not the market: it has its figures.
        assert!(summary["strategies"]["equal"]["p_outperform"].is_object());
        // paths.csv: the information ratio is empty on the tied strategies' rows.
        let csv = std::fs::read_to_string(out.join("paths.csv")).unwrap();
        let header: Vec<&str> = csv.lines().next().unwrap().split(',').collect();
        let column = header.iter().position(|c| *c == "information_ratio").unwrap();
        for line in csv.lines().skip(1) {
            let fields: Vec<&str> = line.split(',').collect();
            let tied = fields[1] == "cap-weighted" || fields[1] == "equal-held";
            assert_eq!(fields[column].is_empty(), tied, "{precision}: {line}");
        }
    }
}

#[test]
fn a_backtest_whose_strategies_equal_the_market_claims_no_information_ratio() {
    // Three steps from an equal start: no strategy of the default scenario has
    // rebalanced but daily diversity 0.5, so the others hold the market's shares, with
    // a tracking error of rounding (2e-15 here), not an information ratio.
    let dir = scratch("backtest-ties");
    let prices =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/sp500_20_stocks_1990_2022.csv"))
            .unwrap();
    let four_rows: Vec<&str> = prices.lines().take(5).collect();
    let data = write(&dir, "four.csv", &(four_rows.join("\n") + "\n"));
    let out = dir.join("out");
    let table = stdout(&sptlab(&["backtest", &data, "--out", out.to_str().unwrap()]));
    for line in table.lines().filter(|l| l.starts_with("equal") || l.starts_with("entropy")) {
        assert_eq!(line.split_whitespace().nth(4), Some("-"), "{line}");
    }
    let summary = json(&out.join("summary.json"));
    assert!(summary["strategies"]["equal"]["information_ratio"].is_null());
    assert!(summary["strategies"]["diversity-0.5"]["information_ratio"]["mean"].is_f64());
}

#[test]
fn huge_figures_print_in_scientific_notation_not_as_pages_of_digits() {
    // A price that rises 1e150-fold in a day: the market grows by 3e6 % a year, which
    // printed in full would be a line of 150 digits.
    let dir = scratch("wide");
    let data = write(&dir, "wide.csv", "Date,AAA,BBB\n2020-01-02,1,1\n2020-01-03,1e150,1\n2020-01-06,1e150,2\n");
    let table = stdout(&sptlab(&["backtest", &data]));
    let longest_digits = table.split(|c: char| !c.is_ascii_digit()).map(str::len).max().unwrap_or(0);
    assert!(longest_digits < 12, "a run of {longest_digits} digits:\n{table}");
    assert!(table.contains("e6%/yr"), "{table}");
}
