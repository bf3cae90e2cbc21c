//! Backtests (docs/real-data.md) against plain loops over the CSV, and the master
//! equation on the whole shipped data set.

use std::path::PathBuf;

use sptlab::backtest::{backtest, Backtest, BacktestOptions};
use sptlab::Scenario;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/sp500_20_stocks_1990_2022.csv");

fn options(from: Option<&str>, to: Option<&str>) -> BacktestOptions {
    BacktestOptions {
        data: PathBuf::from(DATA),
        caps: false,
        from: from.map(str::to_string),
        to: to.map(str::to_string),
        benchmark: None,
    }
}

fn run(strategies: &str, from: Option<&str>, to: Option<&str>) -> Backtest {
    let scenario = Scenario::from_toml(&format!("[market]\nn = 20\n{strategies}")).unwrap();
    backtest(&scenario, &options(from, to)).unwrap()
}

/// The rows of the CSV from `from` to `to` (ISO dates compare as text): dates and prices.
fn csv_rows(from: &str, to: &str) -> (Vec<String>, Vec<Vec<f64>>) {
    let text = std::fs::read_to_string(DATA).unwrap();
    let rows: Vec<(String, Vec<f64>)> = text
        .lines()
        .skip(1)
        .map(|line| {
            let mut cells = line.split(',');
            let date = cells.next().unwrap().to_string();
            (date, cells.map(|cell| cell.parse().unwrap()).collect())
        })
        .filter(|(date, _)| date.as_str() >= from && date.as_str() <= to)
        .collect();
    rows.into_iter().unzip()
}

/// Days from a date, for the span in years (a plain civil-day count).
fn day(date: &str) -> f64 {
    let parts: Vec<i64> = date.split('-').map(|p| p.parse().unwrap()).collect();
    let (y, m) = if parts[1] <= 2 { (parts[0] - 1, parts[1] + 12) } else { (parts[0], parts[1]) };
    (365 * y + y / 4 - y / 100 + y / 400 + (153 * (m - 3) + 2) / 5 + parts[2]) as f64
}

#[test]
fn a_backtest_matches_a_plain_loop_over_the_csv() {
    // Two quarters of 2010, 20 stocks, equal initial weights (prices: shares constant).
    let (from, to) = ("2010-01-04", "2010-06-30");
    let (dates, prices) = csv_rows(from, to);
    let strategies = "[[strategies]]\nname = \"equal\"\nweighting = \"equal\"\nrebalance_every = 1\n\
                      [[strategies]]\nname = \"diversity-0.5\"\nweighting = \"diversity\"\np = 0.5\nrebalance_every = 1\n";
    let result = run(strategies, Some(from), Some(to));
    assert_eq!(result.trace.dates, dates);
    let n = prices[0].len();
    let steps = prices.len() - 1;
    let per_year = steps as f64 / ((day(&dates[steps]) - day(&dates[0])) / 365.25);

    // The plain loop: caps w0 P(t) / P(0); each step the strategy holds pi(mu(t)).
    let caps: Vec<Vec<f64>> =
        prices.iter().map(|row| row.iter().zip(&prices[0]).map(|(p, p0)| p / p0 / n as f64).collect()).collect();
    let weighting = |mu: &[f64], which: usize| -> Vec<f64> {
        match which {
            0 => vec![1.0 / n as f64; n],
            _ => {
                let total: f64 = mu.iter().map(|m| m.sqrt()).sum();
                mu.iter().map(|m| m.sqrt() / total).collect()
            }
        }
    };
    for (s, name) in ["equal", "diversity-0.5"].iter().enumerate() {
        let mut log_value = 0.0;
        let mut active = Vec::new();
        for t in 0..steps {
            let total: f64 = caps[t].iter().sum();
            let mu: Vec<f64> = caps[t].iter().map(|c| c / total).collect();
            let pi = weighting(&mu, s);
            let growth: Vec<f64> = (0..n).map(|i| prices[t + 1][i] / prices[t][i]).collect();
            let strategy_gross: f64 = pi.iter().zip(&growth).map(|(w, g)| w * g).sum();
            let market_gross: f64 = caps[t + 1].iter().sum::<f64>() / total;
            log_value += strategy_gross.ln();
            active.push(strategy_gross - market_gross);
            let market_log = caps[t + 1].iter().sum::<f64>().ln();
            let relative = log_value - market_log;
            let got = result.trace.terms[s][t + 1][0];
            assert!((got - relative).abs() < 1e-10, "{name} on {}: L {got} vs {relative} from the CSV", dates[t + 1]);
        }
        // docs/statistics.md on the path: excess return and tracking error.
        let mean = active.iter().sum::<f64>() / steps as f64;
        let sd = (active.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / (steps - 1) as f64).sqrt();
        let report = &result.report.strategies[s].1;
        assert!((report.excess_return.mean - mean * per_year).abs() < 1e-10, "{name}: excess return");
        assert!((report.tracking_error.mean - sd * per_year.sqrt()).abs() < 1e-10, "{name}: tracking error");
        let years = (day(&dates[steps]) - day(&dates[0])) / 365.25;
        let growth = result.trace.terms[s][steps][0] / years;
        assert!((report.relative_growth_rate.mean - growth).abs() < 1e-12, "{name}: L / T with T from the dates");
    }
}

#[test]
fn the_master_equation_holds_per_period_on_the_whole_data_for_every_generated_weighting() {
    let weights: Vec<String> = (1..=20).map(|i| format!("{}", i as f64 / 210.0)).collect();
    let generated = [
        ("equal", "weighting = \"equal\""),
        ("diversity-0.5", "weighting = \"diversity\"\np = 0.5"),
        ("diversity-0.76", "weighting = \"diversity\"\np = 0.76"),
        ("diversity-neg", "weighting = \"diversity\"\np = -1.0"),
        ("entropy", "weighting = \"entropy\""),
        ("market-weight", "weighting = \"market\""),
    ];
    let constant = format!("weighting = \"constant\"\nweights = [{}]", weights.join(", "));
    let mut strategies = String::new();
    for (name, weighting) in generated
        .iter()
        .map(|(n, w)| (n.to_string(), w.to_string()))
        .chain([("constant".to_string(), constant.clone())])
    {
        // Every step, and monthly with costs (the cost term joins the identity).
        strategies.push_str(&format!("[[strategies]]\nname = \"{name}\"\n{weighting}\nrebalance_every = 1\n"));
        strategies.push_str(&format!(
            "[[strategies]]\nname = \"{name}-monthly\"\n{weighting}\nrebalance_every = 21\ncost_bps = 25.0\n"
        ));
    }
    let result = run(&strategies, None, None);
    assert_eq!(result.trace.dates.len(), 8313);
    for (s, strategy) in result.plan.strategies.iter().enumerate() {
        // Recomputed from the trace at every period's end, and as the backtest reports it.
        let every = strategy.rebalance_every as usize;
        let mut largest: f64 = 0.0;
        for (row, terms) in result.trace.terms[s].iter().enumerate().skip(1) {
            if row % every == 0 || row == result.trace.terms[s].len() - 1 {
                largest = largest.max((terms[0] - (terms[1] + terms[2] + terms[3])).abs());
            }
        }
        assert!(largest <= 1e-9, "{}: the master equation misses by {largest:e}", strategy.name);
        assert_eq!(result.trace.largest_residual[s], Some(largest), "{}", strategy.name);
        // The drift term is a sum of L-divergences: never negative for concave G (docs/theory.md).
        let terms = result.trace.terms[s].last().unwrap();
        assert!(terms[2] >= -1e-12, "{}: drift term {}", strategy.name, terms[2]);
        if strategy.name.ends_with("-monthly") && !strategy.name.starts_with("market") {
            assert!(terms[3] < 0.0, "{}: costs were charged", strategy.name);
        }
    }
}

#[test]
fn a_trailing_estimate_warms_up_on_the_data_before_the_window() {
    // Monthly: without the warm-up forming its portfolio at the start, the strategy would
    // hold the market for its first 21 days.
    let strategy = "[[strategies]]\nname = \"opt\"\nweighting = \"max_growth\"\nte_budget = 0.05\n\
                    estimate = \"trailing\"\nlookback = 126\nrebalance_every = 21\n";
    let weights_after_first_step = |from: Option<&str>, to: &str| {
        let result = run(strategy, from, Some(to));
        let strategy_weights = &result.trace.weights[0][1];
        let market_weights = &result.trace.weights[1][1];
        strategy_weights.iter().zip(market_weights).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max)
    };
    // From the file's first day the estimate has no returns yet: the market is held.
    assert!(weights_after_first_step(None, "1990-03-30") < 1e-12);
    // From 2001 it has ten years of returns before the window: it trades at once.
    assert!(weights_after_first_step(Some("2001-01-02"), "2001-03-30") > 1e-3);
}

#[test]
fn an_index_benchmark_is_joined_on_dates_and_compared_by_definition() {
    let index_path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/sp500_index_1990_2022.csv");
    let scenario =
        Scenario::from_toml("[market]\nn = 20\n[[strategies]]\nname = \"equal\"\nweighting = \"equal\"").unwrap();
    let mut options = options(Some("2012-01-03"), None);
    options.benchmark = Some(PathBuf::from(index_path));
    let result = backtest(&scenario, &options).unwrap();
    let (index, versus) = result.index.as_ref().unwrap();
    assert_eq!(index.log_value.len(), result.trace.dates.len());
    // The index's log return from its CSV directly.
    let text = std::fs::read_to_string(index_path).unwrap();
    let level = |date: &str| -> f64 {
        text.lines().find(|line| line.starts_with(date)).unwrap().split(',').nth(1).unwrap().parse().unwrap()
    };
    let index_log = (level("2022-12-28") / level("2012-01-03")).ln();
    assert!((index.log_value.last().unwrap() - index_log).abs() < 1e-12);
    let equal_log = result.trace.log_values(0);
    assert!((versus[0].relative_log_return - (equal_log.last().unwrap() - index_log)).abs() < 1e-12);
    // The market's row is last.
    let market_log = result.trace.market_log_value.last().unwrap();
    assert!((versus[1].relative_log_return - (market_log - index_log)).abs() < 1e-12);
}

#[test]
fn caps_with_constant_shares_are_prices_from_their_first_weights() {
    // docs/real-data.md: from prices, caps are w(0) P(t) / P(0). So a caps file made of
    // prices times constant share counts backtests exactly as the prices do from the
    // first row's cap weights.
    let (from, to) = ("2015-01-02", "2015-12-31");
    let (dates, prices) = csv_rows(from, to);
    let shares: Vec<f64> = (0..prices[0].len()).map(|i| 1.0 + (i * 7 % 11) as f64).collect();
    let mut text = String::from(std::fs::read_to_string(DATA).unwrap().lines().next().unwrap());
    text.push('\n');
    for (date, row) in dates.iter().zip(&prices) {
        let caps: Vec<String> = row.iter().zip(&shares).map(|(p, s)| format!("{:e}", p * s)).collect();
        text.push_str(&format!("{date},{}\n", caps.join(",")));
    }
    let caps_file = std::env::temp_dir().join(format!("sptlab-test-caps-{}.csv", std::process::id()));
    std::fs::write(&caps_file, text).unwrap();
    let strategies = "[[strategies]]\nname = \"equal\"\nweighting = \"equal\"\nrebalance_every = 5\ncost_bps = 10.0\n\
                      [[strategies]]\nname = \"entropy\"\nweighting = \"entropy\"\n";
    let by_caps = backtest(
        &Scenario::from_toml(&format!("[market]\nn = 20\n{strategies}")).unwrap(),
        &BacktestOptions { data: caps_file.clone(), caps: true, from: None, to: None, benchmark: None },
    )
    .unwrap();
    let first: Vec<String> = prices[0].iter().zip(&shares).map(|(p, s)| format!("{:e}", p * s)).collect();
    let by_prices = run(&format!("initial_weights = [{}]\n{strategies}", first.join(", ")), Some(from), Some(to));
    assert_eq!(by_caps.data.values, "caps");
    for s in 0..2 {
        for (row, (a, b)) in by_caps.trace.terms[s].iter().zip(&by_prices.trace.terms[s]).enumerate() {
            assert!((a[0] - b[0]).abs() < 1e-12, "strategy {s}, {}: {} vs {}", dates[row], a[0], b[0]);
        }
    }
    let _ = std::fs::remove_file(caps_file);
}
