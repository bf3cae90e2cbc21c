//! Backtests on long files (issue 32): the shipped wide file in the long format gives
//! the wide reader's numbers, and the decomposition with its total-return term holds.

use std::path::PathBuf;

use sptlab::backtest::{backtest, long_backtest, BacktestOptions, LongBacktest, LongBacktestOptions};
use sptlab::Scenario;

const WIDE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/sp500_20_stocks_1990_2022.csv");

/// Strategies every weighting a long file runs: the default scenario's four, top-k
/// with a buffer, and capped (daily, monthly and quarterly; with and without costs).
const STRATEGIES: &str = "\
[[strategies]]\nname = \"equal\"\nweighting = \"equal\"\nrebalance_every = 21\ncost_bps = 10.0\n\
[[strategies]]\nname = \"diversity-0.5\"\nweighting = \"diversity\"\np = 0.5\n\
[[strategies]]\nname = \"diversity-0.76\"\nweighting = \"diversity\"\np = 0.76\nrebalance_every = 21\ncost_bps = 10.0\n\
[[strategies]]\nname = \"entropy\"\nweighting = \"entropy\"\nrebalance_every = 63\ncost_bps = 10.0\n\
[[strategies]]\nname = \"top-8\"\nweighting = \"top_k\"\nk = 8\nbuffer = 2\np = 0.5\nrebalance_every = 21\ncost_bps = 5.0\n\
[[strategies]]\nname = \"capped\"\nweighting = \"capped\"\ncap = 0.1\nrebalance_every = 5\n";

/// Initial weights proportional to 1/(i + 1): distinct, so that no two caps tie (equal
/// caps would leave top-k's choice to the rounding of price x shares).
fn initial_weights() -> Vec<f64> {
    let raw: Vec<f64> = (0..20).map(|i| 1.0 / (i as f64 + 1.0)).collect();
    let total: f64 = raw.iter().sum();
    raw.iter().map(|w| w / total).collect()
}

/// The wide file as a long one: `date,id,price,shares`, the shares chosen so that each
/// stock's cap is the wide reader's (the initial weights above, shares held constant).
fn long_copy_of_the_wide_file() -> PathBuf {
    let text = std::fs::read_to_string(WIDE).unwrap();
    let mut lines = text.lines();
    let tickers: Vec<&str> = lines.next().unwrap().split(',').skip(1).collect();
    let mut shares: Option<Vec<f64>> = None;
    let mut out = String::from("date,id,price,shares\n");
    for line in lines {
        let mut cells = line.split(',');
        let date = cells.next().unwrap();
        let prices: Vec<f64> = cells.map(|cell| cell.parse().unwrap()).collect();
        let shares = shares.get_or_insert_with(|| {
            prices.iter().zip(initial_weights()).map(|(price, weight)| weight / price).collect()
        });
        for ((ticker, price), count) in tickers.iter().zip(&prices).zip(shares.iter()) {
            out.push_str(&format!("{date},{ticker},{price},{count:e}\n"));
        }
    }
    let path = std::env::temp_dir().join(format!("sptlab-test-long-wide-{}.csv", std::process::id()));
    std::fs::write(&path, out).unwrap();
    path
}

fn scenario(extra: &str) -> Scenario {
    let weights: Vec<String> = initial_weights().iter().map(|w| format!("{w:e}")).collect();
    let market = format!("[market]\nn = 20\ninitial_weights = [{}]\n", weights.join(", "));
    Scenario::from_toml(&format!("{extra}{market}{STRATEGIES}")).unwrap()
}

fn run_long(path: &std::path::Path, scenario: &Scenario) -> LongBacktest {
    let options = LongBacktestOptions { data: path.to_path_buf(), ..LongBacktestOptions::default() };
    long_backtest(scenario, &options, &mut |_, _, _| {}).unwrap()
}

#[test]
fn the_wide_file_in_the_long_format_gives_the_wide_readers_numbers() {
    let path = long_copy_of_the_wide_file();
    // Every listed stock, re-formed daily: with no listing or delisting nothing changes.
    let long = run_long(&path, &scenario("[benchmark]\nreconstitute_every = 1\n"));
    let options = BacktestOptions { data: WIDE.into(), caps: false, from: None, to: None, benchmark: None };
    let wide = backtest(&scenario(""), &options).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(long.steps, wide.plan.steps);
    assert_eq!(long.benchmark.member_changes, 0);
    assert!((long.periods_per_year - wide.data.periods_per_year).abs() < 1e-12);
    let market = wide.results.market_log_return[0];
    assert!((long.benchmark.log_return - market).abs() < 1e-10, "{} against {market}", long.benchmark.log_return);
    let wide_volatility = wide.results.benchmark_volatility[0];
    assert!((long.benchmark.volatility - wide_volatility).abs() < 1e-10);
    for (s, strategy) in long.strategies.iter().enumerate() {
        let ours = long.statistics[s].to_array();
        let theirs = wide.results.per_path[s][0].to_array();
        for (field, (a, b)) in ours.iter().zip(&theirs).enumerate() {
            let agree = (a - b).abs() <= 1e-10 || (a.is_nan() && b.is_nan());
            assert!(agree, "{}: field {field}: long {a} against wide {b}", strategy.name);
        }
        // Prices alone: the total-return term is the rounding between price and cap ratios.
        assert!(long.total_return_term[s].abs() < 1e-10, "{}", long.total_return_term[s]);
        assert!(long.residual(s).abs() < 1e-9, "{}: residual {}", strategy.name, long.residual(s));
    }
}

/// An index of 15 of 30 GBM stocks with a buffer, re-chosen monthly, and strategies with
/// screens (by index, which the written file's ids are) and costs.
const ROUND_TRIP: &str = "\
seed = 31\npaths = 8\nyears = 2.0\nsteps_per_year = 252\n\
[market]\nmodel = \"gbm\"\nn = 30\nzipf = 1.0\ngrowth = 0.05\nvol = { from = 0.20, to = 0.50 }\ncorrelation = 0.2\n\
[benchmark]\nindex = 15\nreconstitute_every = 21\nbuffer = 2\n\
[[strategies]]\nname = \"equal\"\nweighting = \"equal\"\nrebalance_every = 21\ncost_bps = 10.0\n\
[[strategies]]\nname = \"diversity-0.5\"\nweighting = \"diversity\"\np = 0.5\ncost_bps = 5.0\n\
[[strategies]]\nname = \"diversity-screen\"\nweighting = \"diversity\"\np = 0.76\nrebalance_every = 10\ncost_bps = 10.0\nexclude = [0, 3]\n\
[[strategies]]\nname = \"entropy\"\nweighting = \"entropy\"\nrebalance_every = 63\ncost_bps = 10.0\nexclude = [1]\n\
[[strategies]]\nname = \"index-screen\"\nweighting = \"market\"\nexclude = [0, 3]\n\
[[strategies]]\nname = \"top-6\"\nweighting = \"top_k\"\nk = 6\nbuffer = 1\nrebalance_every = 21\ncost_bps = 10.0\nexclude = [2]\n\
[[strategies]]\nname = \"capped\"\nweighting = \"capped\"\ncap = 0.15\nrebalance_every = 5\ncost_bps = 5.0\nexclude = [0]\n";

#[test]
fn a_simulated_path_written_as_a_long_file_backtests_to_its_own_numbers() {
    let scenario = Scenario::from_toml(ROUND_TRIP).unwrap();
    let plan = scenario.validate().unwrap();
    let run = crate::common::simulate_cpu(&plan, sptlab::Precision::F64);
    let index = run.index.as_ref().unwrap();
    for path in [0u64, 5] {
        let file = std::env::temp_dir().join(format!("sptlab-test-path-{path}-{}.csv", std::process::id()));
        let mut out = std::io::BufWriter::new(std::fs::File::create(&file).unwrap());
        sptlab::backtest::write_path_file(&plan, path, &mut out).unwrap();
        drop(out);
        let long = run_long(&file, &scenario);
        std::fs::remove_file(&file).unwrap();
        let p = path as usize;
        assert!((long.benchmark.log_return - index.log_return[p]).abs() < 1e-9);
        assert!(long.benchmark.member_changes > 0, "the index changed its members on path {path}");
        for (s, strategy) in long.strategies.iter().enumerate() {
            let ours = &long.statistics[s];
            let theirs = &run.per_path[s][p];
            let terms = |stats: &sptlab::engine::PathStatistics| {
                [
                    stats.relative_log_return,
                    stats.screen_term,
                    stats.generating_term,
                    stats.drift_term,
                    stats.leakage_term,
                    stats.cost_term,
                    stats.traded,
                ]
            };
            for (k, (a, b)) in terms(ours).iter().zip(terms(theirs)).enumerate() {
                assert!(
                    (a - b).abs() < 1e-9,
                    "path {path}, {}: term {k}: long {a} against the run's {b}",
                    strategy.name
                );
            }
            // Caps and returns of one path: total returns are cap ratios.
            assert!(long.total_return_term[s].abs() < 1e-9);
            assert!(long.residual(s).abs() < 1e-9);
        }
        let leakage = long.statistics[0].leakage_term;
        assert!(leakage.abs() > 1e-4, "the round trip covers leakage ({leakage})");
    }
}

#[test]
fn a_new_listing_in_a_delisted_stocks_slot_is_not_held_by_top_k() {
    // A delists on Jan 2 and D lists that day, in A's freed slot; D (7) replaces A in the
    // index of 2 beside B (8). Top-1 re-forms holding nothing, so it takes B, the
    // largest; had it taken the slot's old holding for D's (kept within its buffer),
    // it would hold D, which then doubles.
    let text = "date,id,cap,delisting_return\n\
        2020-01-01,A,10,\n2020-01-01,B,8,\n2020-01-01,C,1,\n\
        2020-01-02,A,10,0\n2020-01-02,B,8,\n2020-01-02,C,1,\n2020-01-02,D,7,\n\
        2020-01-03,B,8,\n2020-01-03,C,1,\n2020-01-03,D,14,\n\
        2020-01-06,B,8,\n2020-01-06,C,1,\n2020-01-06,D,14,\n";
    let file = std::env::temp_dir().join(format!("sptlab-test-slot-reuse-{}.csv", std::process::id()));
    std::fs::write(&file, text).unwrap();
    let scenario = Scenario::from_toml(
        "[market]\nn = 3\n[benchmark]\nindex = 2\nreconstitute_every = 100\n\
         [[strategies]]\nname = \"top-1\"\nweighting = \"top_k\"\nk = 1\nbuffer = 1\np = 1.0\n",
    )
    .unwrap();
    let long = run_long(&file, &scenario);
    std::fs::remove_file(&file).unwrap();
    assert_eq!(long.data.most_listed, 3, "D took A's slot");
    // Jan 3: the index earns (8 + 7 x 2) / 15, top-1 (B) nothing.
    let expected = (15.0f64 / 22.0).ln();
    assert!(
        (long.statistics[0].relative_log_return - expected).abs() < 1e-14,
        "{}",
        long.statistics[0].relative_log_return
    );
    // Sold A and bought B on Jan 2: twice the whole value traded.
    assert!((long.statistics[0].traded - 2.0).abs() < 1e-14);
}
