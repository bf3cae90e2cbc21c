//! The bad-input table: every entry is a real run of the binary on one bad scenario,
//! option, calibration CSV or shard directory, and must exit with status 2, print
//! each expected fragment (the field or place, and the reason), never panic, and
//! leave no output behind.

use std::path::Path;

use crate::{no_gpu, scratch, sptlab, write, SMALL};

/// What an entry runs.
enum Input {
    /// `sptlab run FILE --backend cpu --out OUT EXTRA...` on this scenario text.
    Scenario(String),
    /// As `Scenario`, without `--out` (for options that need it).
    ScenarioWithoutOut(String),
    /// `sptlab calibrate FILE --out OUT.toml EXTRA...` on this CSV text.
    Csv(String),
    /// `sptlab merge DIRS... --out OUT` on the shards of a small run, after `spoil`
    /// changes them; `keep` selects which of the 4 shard directories are given.
    Shards { keep: &'static [usize], spoil: fn(&Path) },
    /// `sptlab backtest DIR/prices.csv --scenario DIR/scenario.toml --out OUT EXTRA...` on
    /// this CSV text and scenario (SMALL's strategies when None), `DIR/index.csv` beside
    /// them (the CSV's dates, one column).
    Backtest { csv: String, scenario: Option<String> },
    /// As `Scenario`, with `DIR/prices.csv` beside the scenario (2 stocks, 100 days of
    /// 2020, 341 rows a year) for a bootstrap market or `--history`.
    ScenarioWithData(String),
    /// `sptlab EXTRA...` alone (EXTRA names its own files; `{dir}` is the scratch directory).
    Command,
}

struct Case {
    name: &'static str,
    input: Input,
    extra: Vec<&'static str>,
    /// Each must appear in stderr.
    expect: Vec<&'static str>,
}

fn edited(edits: &[(&str, &str)]) -> String {
    let mut text = SMALL.to_string();
    for (from, to) in edits {
        assert!(text.contains(from), "the edit {from:?} must apply to SMALL");
        text = text.replacen(from, to, 1);
    }
    text
}

fn scenario(name: &'static str, edits: &[(&str, &str)], expect: Vec<&'static str>) -> Case {
    Case { name, input: Input::Scenario(edited(edits)), extra: vec![], expect }
}

fn option(name: &'static str, extra: Vec<&'static str>, expect: Vec<&'static str>) -> Case {
    Case { name, input: Input::Scenario(SMALL.to_string()), extra, expect }
}

const TWO_STOCKS: &str = "paths = 10\nyears = 1.0\n[market]\nn = 2\n";
const EQUAL: &str = "\n[[strategies]]\nname = \"equal\"\nweighting = \"equal\"\n";

fn market(name: &'static str, lines: &str, expect: Vec<&'static str>) -> Case {
    Case { name, input: Input::Scenario(format!("{TWO_STOCKS}{lines}{EQUAL}")), extra: vec![], expect }
}

const FOUR_STOCKS: &str = "paths = 10\nyears = 1.0\n[market]\nn = 4\nvol = 0.2\n";

/// A four-stock scenario with `lines` after its market: a `[benchmark]` and strategies.
fn open_market(name: &'static str, lines: &str, expect: Vec<&'static str>) -> Case {
    Case { name, input: Input::Scenario(format!("{FOUR_STOCKS}{lines}")), extra: vec![], expect }
}

fn csv_rows() -> String {
    (0..100)
        .map(|day| format!("2020-{:02}-{:02},{},{}\n", 1 + day / 28, 1 + day % 28, 10.0 + day as f64 * 0.1, 20.0))
        .collect()
}

fn csv(name: &'static str, text: String, expect: Vec<&'static str>) -> Case {
    Case { name, input: Input::Csv(text), extra: vec![], expect }
}

fn backtest(name: &'static str, csv: String, extra: Vec<&'static str>, expect: Vec<&'static str>) -> Case {
    Case { name, input: Input::Backtest { csv, scenario: None }, extra, expect }
}

/// Two stocks listed over three dates, as a long file.
const TWO_LISTED_LONG: &str =
    "date,id,cap\n2020-01-01,A,10\n2020-01-01,B,5\n2020-01-02,A,11\n2020-01-02,B,5\n2020-01-03,A,12\n2020-01-03,B,5\n";

/// A long file whose largest stock delists at -100 %.
const LOST_EVERYTHING: &str = "date,id,cap,delisting_return\n2020-01-01,A,10,\n2020-01-01,B,5,\n2020-01-01,C,3,\n\
                               2020-01-02,A,11,-1\n2020-01-02,B,5,\n2020-01-02,C,3,\n2020-01-03,B,5,\n2020-01-03,C,3,\n";

fn long_backtest_scenario(name: &'static str, scenario: &str, expect: Vec<&'static str>) -> Case {
    let csv = TWO_LISTED_LONG.to_string();
    Case { name, input: Input::Backtest { csv, scenario: Some(scenario.to_string()) }, extra: vec![], expect }
}

fn backtest_scenario(name: &'static str, scenario: &str, expect: Vec<&'static str>) -> Case {
    let csv = format!("Date,AAA,BBB\n{}", csv_rows());
    Case { name, input: Input::Backtest { csv, scenario: Some(scenario.to_string()) }, extra: vec![], expect }
}

/// A bootstrap market on `DIR/prices.csv` with `lines` added to its `[market]`
/// (`top` before it), equal weight.
fn bootstrap(name: &'static str, top: &str, lines: &str, expect: Vec<&'static str>) -> Case {
    let top = if top.contains("steps_per_year") { top.to_string() } else { format!("steps_per_year = 341\n{top}") };
    let text = format!("paths = 10\nyears = 0.1\n{top}\n[market]\nmodel = \"bootstrap\"\n{lines}\n{EQUAL}");
    Case { name, input: Input::ScenarioWithData(text), extra: vec![], expect }
}

/// A 2-stock GBM run of `years` with `extra` options (`--history DIR/prices.csv` ...).
fn history(name: &'static str, years: &str, extra: Vec<&'static str>, expect: Vec<&'static str>) -> Case {
    let text = format!("paths = 10\nyears = {years}\nsteps_per_year = 341\n[market]\nn = 2\nvol = 0.2\n{EQUAL}");
    Case { name, input: Input::ScenarioWithData(text), extra, expect }
}

fn shards(name: &'static str, keep: &'static [usize], spoil: fn(&Path), expect: Vec<&'static str>) -> Case {
    Case { name, input: Input::Shards { keep, spoil }, extra: vec![], expect }
}

fn cases() -> Vec<Case> {
    let strategy = "name = \"equal\"\nweighting = \"equal\"";
    let header = "Date,AAA,BBB\n";
    let rows = csv_rows();
    vec![
        // Scenario files: syntax, unknown fields, wrong types.
        scenario("syntax", &[("[market]", "[market")], vec!["line 6, column 8", "expected `]`"]),
        scenario(
            "unknown top-level field",
            &[("seed = 5", "seed = 5\ncolour = 1")],
            vec!["colour (line 4", "unknown field"],
        ),
        scenario(
            "unknown market field",
            &[("n = 8", "n = 8\nvolatility = 0.2")],
            vec!["market.volatility (line", "unknown field"],
        ),
        scenario(
            "unknown strategy field",
            &[("rebalance_every = 5", "rebalance = 5")],
            vec!["strategies[0].rebalance (line", "unknown field"],
        ),
        scenario(
            "string for a number",
            &[("paths = 40", "paths = \"many\"")],
            vec!["paths (line 4, column 9)", "invalid type"],
        ),
        scenario("float for an integer", &[("n = 8", "n = 8.5")], vec!["market.n (line", "invalid type"]),
        scenario("negative integer", &[("seed = 5", "seed = -5")], vec!["seed (line", "invalid value"]),
        scenario(
            "unknown weighting",
            &[("weighting = \"equal\"", "weighting = \"equl\"")],
            vec!["strategies[0].weighting", "unknown variant `equl`"],
        ),
        scenario(
            "unknown model",
            &[("n = 8", "model = \"heston\"\nn = 8")],
            vec!["market.model", "unknown variant `heston`"],
        ),
        scenario(
            "text in a number list",
            &[("vol = { from = 0.2, to = 0.4 }", "vol = [0.2, \"x\"]")],
            vec!["market.vol (line", "did not match"],
        ),
        // Scenario values.
        scenario("zero paths", &[("paths = 40", "paths = 0")], vec!["paths: must be at least 1"]),
        scenario(
            "odd paths with antithetic pairs",
            &[("paths = 40", "paths = 41\nantithetic = true")],
            vec!["paths: must be even with antithetic = true (paths come in pairs), got 41"],
        ),
        scenario(
            "an unknown control variate",
            &[("paths = 40", "paths = 40\ncontrol_variate = \"linear\"")],
            vec!["unknown variant `linear`, expected `martingale` or `none`"],
        ),
        scenario("antithetic not a boolean", &[("paths = 40", "paths = 40\nantithetic = 1")], vec!["antithetic"]),
        option(
            "odd --paths with --antithetic",
            vec!["--paths", "7", "--antithetic"],
            vec!["paths: must be even with antithetic = true"],
        ),
        option("an unknown --control-variate", vec!["--control-variate", "linear"], vec!["--control-variate"]),
        scenario("zero years", &[("years = 1.0", "years = 0.0")], vec!["years: must be a positive number"]),
        scenario("NaN years", &[("years = 1.0", "years = nan")], vec!["years: must be a positive number, got NaN"]),
        scenario(
            "zero steps per year",
            &[("years = 1.0", "years = 1.0\nsteps_per_year = 0")],
            vec!["steps_per_year: must be at least 1"],
        ),
        scenario("too many steps", &[("years = 1.0", "years = 1e12")], vec!["years: gives more than"]),
        scenario(
            "absurd size",
            &[("paths = 40", "paths = 4000000000")],
            vec!["paths: 4000000000 paths x 2 strategies keep", "GiB of per-path statistics", "--shard"],
        ),
        scenario("one stock", &[("n = 8", "n = 1")], vec!["market.n: must be between 2 and"]),
        scenario("too many stocks", &[("n = 8", "n = 100000")], vec!["market.n: must be between 2 and"]),
        scenario(
            "vol list too short",
            &[("vol = { from = 0.2, to = 0.4 }", "vol = [0.2, 0.2]")],
            vec!["market.vol: has 2 values, expected n = 8"],
        ),
        scenario(
            "negative vol",
            &[("vol = { from = 0.2, to = 0.4 }", "vol = -0.2")],
            vec!["market.vol[0]: must be positive, got -0.2"],
        ),
        scenario(
            "zero vol",
            &[("vol = { from = 0.2, to = 0.4 }", "vol = { from = 0.2, to = 0.0 }")],
            vec!["market.vol[7]: must be positive, got 0"],
        ),
        scenario(
            "NaN vol",
            &[("vol = { from = 0.2, to = 0.4 }", "vol = nan")],
            vec!["market.vol[0]: must be a finite number, got NaN"],
        ),
        scenario(
            "infinite growth",
            &[("growth = 0.05", "growth = inf")],
            vec!["market.growth[0]: must be a finite number, got inf"],
        ),
        scenario(
            "absurd vol",
            &[("vol = { from = 0.2, to = 0.4 }", "vol = 50.0")],
            vec!["market.vol[0]: must be at most 5 per year"],
        ),
        scenario(
            "correlation of 1.5",
            &[("correlation = 0.3", "correlation = 1.5")],
            vec!["market.correlation: must be in (-1, 1), got 1.5"],
        ),
        scenario(
            "correlation not positive definite",
            &[("correlation = 0.3", "correlation = -0.5")],
            vec!["market.correlation: the covariance matrix is not positive definite"],
        ),
        scenario(
            "zipf and initial weights",
            &[("zipf = 1.0", "zipf = 1.0\ninitial_weights = [1, 1, 1, 1, 1, 1, 1, 1]")],
            vec!["market.initial_weights: give initial_weights or zipf, not both"],
        ),
        market(
            "initial weights too short",
            "initial_weights = [1.0]\nvol = 0.2",
            vec!["market.initial_weights: has 1 values, expected n = 2"],
        ),
        market(
            "negative initial weight",
            "initial_weights = [1.0, -1.0]\nvol = 0.2",
            vec!["market.initial_weights[1]: must be positive"],
        ),
        market(
            "covariance not symmetric",
            "covariance = [[0.04, 0.01], [0.02, 0.04]]",
            vec!["market.covariance[1][0]: is not symmetric"],
        ),
        market(
            "covariance not positive definite",
            "covariance = [[0.04, 0.05], [0.05, 0.04]]",
            vec!["market.covariance: the covariance matrix is not positive definite"],
        ),
        market(
            "covariance and vol",
            "covariance = [[0.04, 0.0], [0.0, 0.04]]\nvol = 0.2",
            vec!["market.covariance: give covariance or vol + correlation, not both"],
        ),
        market(
            "correlation matrix of the wrong size",
            "vol = 0.2\ncorrelation = [[1.0]]",
            vec!["market.correlation: has 1 rows, expected n = 2"],
        ),
        market(
            "factor model without idiosyncratic vol",
            "factor_loadings = [[0.1], [0.2]]",
            vec!["market.idiosyncratic_vol: a factor model needs idiosyncratic_vol"],
        ),
        market(
            "ragged factor loadings",
            "factor_loadings = [[0.1], [0.2, 0.3]]\nidiosyncratic_vol = 0.1",
            vec!["market.factor_loadings[1]: has 2 values, expected K = 1"],
        ),
        market(
            "field of another model",
            "vol = 0.2\natlas_g = 0.1",
            vec!["market.atlas_g: the gbm model does not take atlas_g"],
        ),
        market(
            "atlas without g",
            "model = \"atlas\"\nvol = 0.2",
            vec!["market.atlas_g: the atlas model needs atlas_g"],
        ),
        market(
            "negative atlas g",
            "model = \"atlas\"\natlas_g = -0.1\nvol = 0.2",
            vec!["market.atlas_g: must be positive"],
        ),
        market(
            "unstable rank-based parameters",
            "model = \"first_order\"\nrank_growth = [0.1, -0.1]\nrank_vol = 0.2",
            vec!["market.rank_growth", "stab"],
        ),
        market("negative vsm alpha", "model = \"vsm\"\nalpha = -1.0", vec!["market.alpha: must be in [0,"]),
        // The index benchmark (issue 31, in progress): each field checked and named.
        market("an index of 0", "vol = 0.2\n[benchmark]\nindex = 0", vec!["benchmark.index: must be 1 to the market's 2 stocks, got 0"]),
        market("an index past n", "vol = 0.2\n[benchmark]\nindex = 3", vec!["benchmark.index: must be 1 to the market's 2 stocks, got 3"]),
        market("a benchmark without its index", "vol = 0.2\n[benchmark]\nbuffer = 1", vec!["benchmark.index: is required"]),
        market(
            "reconstitution every 0 steps",
            "vol = 0.2\n[benchmark]\nindex = 1\nreconstitute_every = 0",
            vec!["benchmark.reconstitute_every: must be at least 1 step"],
        ),
        market("a buffer past n - index", "vol = 0.2\n[benchmark]\nindex = 1\nbuffer = 2", vec!["benchmark.buffer: must be at most n - index = 1"]),
        market("an unknown benchmark field", "vol = 0.2\n[benchmark]\nindex = 1\nbufer = 1", vec!["benchmark.bufer", "unknown field"]),
        // Screens, and what an index asks of a strategy.
        open_market(
            "constant weights with an index",
            "[benchmark]\nindex = 2\n[[strategies]]\nname = \"c\"\nweighting = \"constant\"\nweights = [0.25, 0.25, 0.25, 0.25]",
            vec!["strategies[0].weighting: constant weights name stocks, which may leave the index"],
        ),
        open_market(
            "a screen naming a missing stock",
            &format!("{EQUAL}exclude = [4]"),
            vec!["strategies[0].exclude[0]: stock 4 does not exist: the market's stocks are 0 to 3"],
        ),
        open_market(
            "a screen naming a stock twice",
            &format!("{EQUAL}exclude = [1, 1]"),
            vec!["strategies[0].exclude[1]: stock 1 is excluded twice"],
        ),
        open_market(
            "a screen that can leave nothing",
            &format!("[benchmark]\nindex = 2\n{EQUAL}exclude = [0, 1]"),
            vec!["strategies[0].exclude: excludes 2 stocks, but the index holds 2 stocks"],
        ),
        open_market(
            "a screen of every stock",
            &format!("{EQUAL}exclude = [0, 1, 2, 3]"),
            vec!["strategies[0].exclude: excludes 4 stocks, but the market has 4 stocks"],
        ),
        open_market(
            "a ticker screen on a market without tickers",
            &format!("{EQUAL}exclude = [\"AAPL\"]"),
            vec!["strategies[0].exclude[0]: \"AAPL\" is a ticker, but this market's stocks have none"],
        ),
        open_market(
            "top-k past the screened index",
            "[benchmark]\nindex = 3\n[[strategies]]\nname = \"t\"\nweighting = \"top_k\"\nk = 3\nexclude = [0]",
            vec!["strategies[0].k: must be at most the 2 stocks the strategy may hold"],
        ),
        open_market(
            "a cap too low for the index",
            "[benchmark]\nindex = 3\n[[strategies]]\nname = \"c\"\nweighting = \"capped\"\ncap = 0.3",
            vec!["strategies[0].cap: times the 3 stocks the strategy may hold"],
        ),
        open_market(
            "a strategy named index beside an index",
            "[benchmark]\nindex = 3\n[[strategies]]\nname = \"index\"\nweighting = \"equal\"",
            vec!["strategies[0].name: \"index\" is reserved for the benchmark"],
        ),
        // Strategies.
        scenario(
            "no strategies",
            &[(&SMALL[SMALL.find("[[strategies]]").unwrap()..], "")],
            vec!["strategies: list at least one [[strategies]] entry"],
        ),
        scenario(
            "duplicate names",
            &[("name = \"diversity-0.5\"", "name = \"equal\"")],
            vec!["strategies[1].name: \"equal\" is used twice"],
        ),
        scenario(
            "reserved name",
            &[("name = \"equal\"", "name = \"market\"")],
            vec!["strategies[0].name: \"market\" is reserved"],
        ),
        scenario("p of 1", &[("p = 0.5", "p = 1.0")], vec!["strategies[1].p: must be below 1 and not 0, got 1"]),
        scenario("p of 0", &[("p = 0.5", "p = 0.0")], vec!["strategies[1].p: must be below 1 and not 0, got 0"]),
        scenario("diversity without p", &[("p = 0.5", "")], vec!["strategies[1].p: the diversity weighting needs p"]),
        scenario(
            "constant weights not summing to one",
            &[(strategy, "name = \"c\"\nweighting = \"constant\"\nweights = [0.5, 0.5, 0.5, 0, 0, 0, 0, 0]")],
            vec!["strategies[0].weights: must sum to 1, they sum to 1.5"],
        ),
        scenario(
            "constant weights of the wrong length",
            &[(strategy, "name = \"c\"\nweighting = \"constant\"\nweights = [0.5, 0.5]")],
            vec!["strategies[0].weights: has 2 values, expected n = 8"],
        ),
        scenario(
            "cap below 1/n",
            &[(strategy, "name = \"c\"\nweighting = \"capped\"\ncap = 0.01")],
            vec!["strategies[0].cap: must be in [1/n, 1]"],
        ),
        scenario(
            "k above n",
            &[(strategy, "name = \"k\"\nweighting = \"top_k\"\nk = 9")],
            vec!["strategies[0].k: must be between 1 and n = 8, got 9"],
        ),
        scenario(
            "zero te budget",
            &[(strategy, "name = \"g\"\nweighting = \"max_growth\"\nte_budget = 0.0")],
            vec!["strategies[0].te_budget: must be in (0, 10]"],
        ),
        scenario(
            "one-step lookback",
            &[(
                strategy,
                "name = \"g\"\nweighting = \"max_growth\"\nte_budget = 0.02\nestimate = \"trailing\"\nlookback = 1",
            )],
            vec!["strategies[0].lookback: must be 2 to 100000 steps"],
        ),
        scenario(
            "field of another weighting",
            &[("p = 0.5", "p = 0.5\nlookback = 20")],
            vec!["strategies[1].lookback: only the \"max_growth\" weighting takes lookback"],
        ),
        scenario(
            "negative cost",
            &[("cost_bps = 10.0", "cost_bps = -1.0")],
            vec!["strategies[0].cost_bps: must be in [0, 5000)"],
        ),
        scenario(
            "zero rebalance interval",
            &[("rebalance_every = 5", "rebalance_every = 0")],
            vec!["strategies[0].rebalance_every: must be at least 1 step"],
        ),
        // Every problem in one pass.
        scenario(
            "five problems at once",
            &[
                ("paths = 40", "paths = 0"),
                ("vol = { from = 0.2, to = 0.4 }", "vol = -0.2"),
                ("correlation = 0.3", "correlation = 2.0"),
                ("cost_bps = 10.0", "cost_bps = -1.0"),
                ("p = 0.5", "p = 1.5"),
            ],
            vec!["paths: must be", "market.vol[0]", "market.correlation", "strategies[0].cost_bps", "strategies[1].p"],
        ),
        scenario(
            "three schema problems at once",
            &[("seed = 5", "seed = \"five\"\ncolour = 1"), ("weighting = \"equal\"", "weighting = \"equl\"")],
            vec!["seed (line", "colour (line", "unknown variant `equl`"],
        ),
        // Command-line options.
        option("zero paths option", vec!["--paths", "0"], vec!["paths: must be at least 1"]),
        option("negative years option", vec!["--years=-1"], vec!["years: must be a positive number, got -1"]),
        option("zero batch", vec!["--batch-paths", "0"], vec!["--batch-paths: must be at least 1"]),
        option("zero threads", vec!["--threads", "0"], vec!["--threads: must be at least 1"]),
        option("shard index past the count", vec!["--shard", "4/4"], vec!["--shard 4/4: expected I/N"]),
        option("shard without a slash", vec!["--shard", "three"], vec!["--shard three: expected I/N"]),
        option(
            "f64 on the GPU",
            vec!["--backend", "gpu", "--precision", "f64"],
            vec!["--precision f64 is available on the CPU backend only"],
        ),
        option("not a number", vec!["--paths", "lots"], vec!["invalid value 'lots' for '--paths"]),
        Case {
            name: "a GPU too small for the run",
            input: Input::Scenario(edited(&[("n = 8", "n = 1200")])),
            extra: vec!["--backend", "gpu"],
            expect: vec!["market.n: 1200 stocks is more than", "use the CPU backend"],
        },
        option("unknown option", vec!["--colour", "red"], vec!["unexpected argument '--colour'"]),
        Case {
            name: "per-path without out",
            input: Input::ScenarioWithoutOut(SMALL.to_string()),
            extra: vec!["--per-path", "--png"],
            expect: vec!["--per-path needs --out DIR", "--png needs --out DIR"],
        },
        Case {
            name: "out is a file",
            input: Input::ScenarioWithoutOut(SMALL.to_string()),
            extra: vec!["--out", "{dir}/scenario.toml"],
            expect: vec!["scenario.toml: exists and is not a directory"],
        },
        Case {
            name: "unreadable scenario",
            input: Input::Command,
            extra: vec!["run", "{dir}/no-such-scenario.toml", "--out", "{dir}/out"],
            expect: vec!["no-such-scenario.toml: cannot read the scenario"],
        },
        Case {
            name: "scenario is a directory",
            input: Input::Command,
            extra: vec!["run", "{dir}", "--out", "{dir}/out"],
            expect: vec!["cannot read the scenario"],
        },
        Case {
            name: "reproduce a file that is not JSON",
            input: Input::Command,
            extra: vec!["run", "--reproduce", "{dir}/scenario.toml"],
            expect: vec!["scenario.toml: not JSON"],
        },
        // Hostile option values and inputs (issue 15).
        option(
            "checkpoint interval infinite",
            vec!["--checkpoint-every", "inf"],
            vec!["--checkpoint-every inf: must be a number of seconds"],
        ),
        option(
            "checkpoint interval huge",
            vec!["--checkpoint-every", "1e30"],
            vec!["--checkpoint-every 1e30: must be"],
        ),
        option("checkpoint interval NaN", vec!["--checkpoint-every", "nan"], vec!["--checkpoint-every NaN: must be"]),
        option(
            "checkpoint interval negative",
            vec!["--checkpoint-every", "-1"],
            vec!["--checkpoint-every -1.0: must be"],
        ),
        option(
            "checkpoint interval minus zero",
            vec!["--checkpoint-every", "-0"],
            vec!["--checkpoint-every -0.0: must be"],
        ),
        option("a hundred thousand threads", vec!["--threads", "100000"], vec!["--threads 100000: at most 1024"]),
        Case {
            name: "a batch larger than memory",
            input: Input::Scenario(edited(&[("n = 8", "n = 2048"), ("paths = 40", "paths = 3000000")])),
            extra: vec!["--batch-paths", "3000000"],
            expect: vec![
                "--batch-paths 3000000: a batch of 3000000 paths of 2048 stocks needs",
                "paths per batch here",
            ],
        },
        Case {
            name: "hostile threads with --reproduce",
            input: Input::Command,
            extra: vec!["run", "--reproduce", "{dir}/scenario.toml", "--threads", "100000"],
            expect: vec!["--threads 100000: at most 1024"],
        },
        Case {
            name: "five thousand strategies",
            input: Input::Scenario(format!(
                "{TWO_STOCKS}vol = 0.2\ncorrelation = 0.0\n{}",
                (0..5000)
                    .map(|i| format!("[[strategies]]\nname = \"s{i}\"\nweighting = \"equal\"\n"))
                    .collect::<String>()
            )),
            extra: vec![],
            expect: vec!["strategies: 5000 strategies; at most 256", "square of the count"],
        },
        Case {
            name: "an endless scenario file",
            input: Input::Command,
            extra: vec!["run", "/dev/zero", "--out", "{dir}/out"],
            expect: vec!["/dev/zero: cannot read the scenario: is larger than 256 MiB"],
        },
        scenario(
            "diversity p next to zero",
            &[("p = 0.5", "p = 1e-300")],
            vec!["strategies[1].p: 1e-300 is outside", "weighting = \"equal\" is the limit"],
        ),
        scenario(
            "diversity p hugely negative",
            &[("p = 0.5", "p = -1e300")],
            vec!["strategies[1].p: -1e300 is outside [-100, -0.001]"],
        ),
        scenario(
            "an initial weight f32 cannot hold",
            &[("zipf = 1.0", "initial_weights = [1e300, 1, 1, 1, 1, 1, 1, 1e-300]")],
            vec!["market.initial_weights[1]: is 1.0e-300 of the total, below 1e-34"],
        ),
        scenario(
            "an escape sequence in a strategy name",
            &[("name = \"equal\"", "name = \"eq\\u001b[31mual\"")],
            vec!["strategies[0].name: must not contain control characters"],
        ),
        scenario(
            "a tab in the scenario name",
            &[("name = \"small\"", "name = \"sm\\tall\"")],
            vec!["name: must not contain control characters"],
        ),
        scenario(
            "a strategy name too long",
            &[(
                "name = \"equal\"",
                "name = \"equal-weight-with-a-very-long-name-that-goes-on-and-on-beyond-any-table\"",
            )],
            vec!["strategies[0].name: has 71 characters; at most 64"],
        ),
        Case {
            name: "calibrate into a folder",
            input: Input::Command,
            extra: vec!["calibrate", "{dir}/no-such-prices.csv", "--out", "{dir}"],
            expect: vec!["--out", "is a directory; sptlab writes only regular files"],
        },
        Case {
            name: "calibrate into a device",
            input: Input::Command,
            extra: vec!["calibrate", "{dir}/no-such-prices.csv", "--out", "/dev/full"],
            expect: vec!["--out /dev/full: is a character device; sptlab writes only regular files"],
        },
        Case {
            name: "calibrate into a missing folder",
            input: Input::Command,
            extra: vec!["calibrate", "{dir}/no-such-prices.csv", "--out", "{dir}/out/x.toml"],
            expect: vec!["its directory", "does not exist"],
        },
        Case {
            name: "an endless calibration file",
            input: Input::Command,
            extra: vec!["calibrate", "/dev/zero", "--out", "{dir}/out.toml"],
            expect: vec!["/dev/zero: cannot read: is larger than 1024 MiB"],
        },
        Case {
            name: "bench JSON into a folder",
            input: Input::Command,
            extra: vec!["bench", "--backend", "cpu", "--json", "{dir}"],
            expect: vec!["--json", "is a directory; sptlab writes only regular files"],
        },
        Case {
            name: "bench against a folder as its baseline",
            input: Input::Command,
            extra: vec!["bench", "--backend", "cpu", "--baseline", "{dir}"],
            expect: vec!["--baseline", "not an executable file"],
        },
        Case {
            name: "force without out",
            input: Input::ScenarioWithoutOut(SMALL.to_string()),
            extra: vec!["--force"],
            expect: vec!["--force needs --out DIR"],
        },
        // Backtests: the data, its window, the strategies against it, the index.
        Case {
            name: "backtest of a missing file",
            input: Input::Command,
            extra: vec!["backtest", "{dir}/no-such-prices.csv", "--out", "{dir}/out"],
            expect: vec!["no-such-prices.csv: cannot read"],
        },
        backtest(
            "backtest of a file of the wrong shape",
            format!("Day,AAA\n{rows}"),
            vec![],
            vec!["prices.csv:1: the header must be `Date,TICKER1,TICKER2,...`"],
        ),
        backtest(
            "backtest of a non-number",
            format!("{header}2019-12-31,1.0,x\n{rows}"),
            vec![],
            vec!["prices.csv:2, column 3: `x` is not a number (BBB on 2019-12-31)"],
        ),
        backtest(
            "backtest of an empty date range",
            format!("{header}{rows}"),
            vec!["--from", "2020-03-05", "--to", "2020-02-20"],
            vec!["--from: the window 2020-03-05 to 2020-02-20 leaves 0 rows", "at least two are needed"],
        ),
        backtest(
            "backtest of one row",
            format!("{header}{rows}"),
            vec!["--from", "2020-03-05", "--to", "2020-03-05"],
            vec!["leaves 1 row of", "at least two are needed"],
        ),
        backtest(
            "backtest from before the data",
            format!("{header}{rows}"),
            vec!["--from", "1999-01-04"],
            vec!["--from: 1999-01-04 is outside", "which runs from 2020-01-01 to 2020-04-16"],
        ),
        backtest(
            "backtest from a bad date",
            format!("{header}{rows}"),
            vec!["--to", "2020-02-30"],
            vec!["--to: `2020-02-30` is not a date of the form YYYY-MM-DD"],
        ),
        backtest(
            "backtest against an index missing a day",
            format!("{header}{rows}"),
            vec!["--benchmark", "{dir}/index-gap.csv"],
            vec!["--benchmark", "has no row for 2020-02-01, a date of the data"],
        ),
        // The index's own problems name the index, not the data, and suggest nothing
        // --benchmark cannot do.
        backtest(
            "backtest against an index that starts after the data",
            format!("{header}{rows}"),
            vec!["--benchmark", "{dir}/index-late.csv"],
            vec!["--benchmark: 2020-01-01 is outside", "index-late.csv, which runs from 2020-01-10"],
        ),
        backtest(
            "backtest against an index with a blank level",
            format!("{header}{rows}"),
            vec!["--benchmark", "{dir}/index-blank.csv"],
            vec!["missing index level for INDEX on 2020-02-01; the index needs one on every date of the data"],
        ),
        backtest(
            "backtest against an index with a level of zero",
            format!("{header}{rows}"),
            vec!["--benchmark", "{dir}/index-zero.csv"],
            vec!["INDEX on 2020-02-01: an index level must be positive and finite, got 0"],
        ),
        backtest(
            "backtest against a file of two columns as the index",
            format!("{header}{rows}"),
            vec!["--benchmark", "{dir}/prices.csv"],
            vec!["--benchmark", "has 2 value columns; an index file has one"],
        ),
        // Weekly data with the default scenario's 252 steps a year: rebalance_every = 21
        // would mean every 21 weeks. Refused as `run --history` refuses it.
        Case {
            name: "backtest of weekly data with daily steps",
            input: Input::Backtest {
                csv: format!(
                    "Date,AAA,BBB\n{}",
                    (0..30).map(|w| format!("2019-{:02}-{:02},{},20\n", 1 + w / 4, 1 + 7 * (w % 4), 10 + w)).collect::<String>()
                ),
                scenario: Some(format!("steps_per_year = 252\n[market]\nn = 2{EQUAL}")),
            },
            extra: vec![],
            expect: vec!["steps_per_year: ", "prices.csv has 48.4 rows a year (2019-01-01 to 2019-08-08), but steps_per_year is 252"],
        },
        // Finite, positive prices whose one-row move (a factor of 1e600) no f64 growth
        // follows: the backtest stops naming the date and stock instead of printing NaN.
        backtest(
            "backtest of prices that leap from 1e-300 to 1e300",
            format!("{header}{}", rows.replacen(",10.1,20", ",1e-300,20", 1).replacen(",10.2,20", ",1e300,20", 1)),
            vec![],
            vec!["prices.csv: the backtest's numbers overflow on 2020-01-03: AAA's price moves from 1e-300 on 2020-01-02 \
                  to 1e300 on 2020-01-03 (a factor of 1e600)"],
        ),
        backtest(
            "backtest against an index that leaps from 1e-300 to 1e300",
            format!("{header}{rows}"),
            vec!["--benchmark", "{dir}/index-leap.csv"],
            vec!["index-leap.csv: the backtest's numbers overflow on 2020-01-03: the index INDEX's level moves by a \
                  factor of 1e600 from 2020-01-02"],
        ),
        // Long files (date,id,cap ...): each problem named by line and column, or the field.
        backtest(
            "backtest of a long file whose dates go backwards",
            "date,id,cap\n2020-01-01,A,10\n2020-01-01,B,5\n2020-01-02,A,11\n2020-01-01,B,5\n".to_string(),
            vec![],
            vec!["prices.csv, line 5: 2020-01-01 comes after 2020-01-02", "sort -t, -k1,1 -s"],
        ),
        backtest(
            "backtest of a long file with an id twice on a date",
            "date,id,cap\n2020-01-01,A,10\n2020-01-01,A,5\n2020-01-02,A,11\n".to_string(),
            vec![],
            vec!["prices.csv, line 3: id A appears twice on 2020-01-01"],
        ),
        backtest(
            "backtest of a long file with a cap of zero",
            "date,id,cap\n2020-01-01,A,10\n2020-01-02,A,0\n2020-01-03,A,12\n".to_string(),
            vec![],
            vec!["prices.csv, line 3, column 3: a cap of 0: must be positive"],
        ),
        backtest(
            "backtest of a long file with a return of -1 that is no delisting",
            "date,id,cap,return\n2020-01-01,A,10,\n2020-01-02,A,11,-1\n2020-01-03,A,12,0.1\n".to_string(),
            vec![],
            vec!["prices.csv, line 3, column 4: a return of -1: must be above -1"],
        ),
        backtest(
            "backtest of a long file without an id column",
            "date,ticker,cap,return\n2020-01-01,A,10,\n2020-01-02,A,11,0.1\n".to_string(),
            vec![],
            vec!["prices.csv, line 1: a long file needs a column id (or permno)"],
        ),
        backtest(
            "backtest of a long file with prices and no shares",
            "date,id,price,return\n2020-01-01,A,10,\n2020-01-02,A,11,0.1\n".to_string(),
            vec![],
            vec!["prices.csv, line 1: a long file needs a column cap, or both price and shares"],
        ),
        long_backtest_scenario(
            "backtest of a long file with an index larger than the stocks listed",
            &format!("[market]\nn = 2\n[benchmark]\nindex = 3{EQUAL}"),
            vec!["scenario.toml: benchmark.index: is 3, but on 2020-01-01 the data lists 2 stocks"],
        ),
        backtest(
            "backtest of a long file with --caps",
            "date,id,cap\n2020-01-01,A,10\n2020-01-02,A,11\n2020-01-03,A,12\n".to_string(),
            vec!["--caps"],
            vec!["--caps: a long file gives its caps"],
        ),
        backtest(
            "backtest of a long file with a delisting return below -1",
            "date,id,cap\n2020-01-01,A,10\n2020-01-02,A,11\n2020-01-03,A,12\n".to_string(),
            vec!["--missing-delisting-return", "-1.5"],
            vec!["--missing-delisting-return: must be a return of at least -1, got -1.5"],
        ),
        Case {
            name: "backtest of a long file whose index loses everything",
            input: Input::Backtest {
                csv: LOST_EVERYTHING.to_string(),
                scenario: Some(format!("[market]\nn = 2\n[benchmark]\nindex = 1{EQUAL}")),
            },
            extra: vec![],
            expect: vec!["prices.csv: on 2020-01-02 the benchmark's members lost all their value"],
        },
        Case {
            name: "backtest of a long file whose strategy loses everything",
            input: Input::Backtest {
                csv: LOST_EVERYTHING.to_string(),
                scenario: Some(
                    "[market]\nn = 2\n[benchmark]\nindex = 2\n[[strategies]]\nname = \"top\"\nweighting = \"top_k\"\nk = 1\n"
                        .to_string(),
                ),
            },
            extra: vec![],
            expect: vec!["prices.csv: on 2020-01-02 the holdings of \"top\" lost all their value"],
        },
        long_backtest_scenario(
            "backtest of a long file screening an id it lacks",
            &format!("[market]\nn = 2{EQUAL}exclude = [\"ZZZ\"]\n"),
            vec!["strategies[0].exclude[0]: \"ZZZ\" is no id of the data"],
        ),
        long_backtest_scenario(
            "backtest of a long file with max_growth",
            "[market]\nn = 2\n[[strategies]]\nname = \"opt\"\nweighting = \"max_growth\"\nte_budget = 0.02\n\
                 estimate = \"trailing\"\n",
            vec!["strategies[0].weighting: max_growth needs a covariance"],
        ),
        backtest_scenario(
            "backtest of a wide table with an index benchmark",
            "[market]\nn = 2\n[benchmark]\nindex = 1\n[[strategies]]\nname = \"equal\"\nweighting = \"equal\"\n",
            vec!["scenario.toml: benchmark: a backtest's benchmark is the data's market"],
        ),
        backtest_scenario(
            "backtest of a wide table with a screen",
            "[market]\nn = 2\n[[strategies]]\nname = \"equal\"\nweighting = \"equal\"\nexclude = [\"AAA\"]\n",
            vec!["scenario.toml: strategies[0].exclude: screens need the data as a long file"],
        ),
        Case {
            name: "a screen naming a ticker the data lacks",
            input: Input::ScenarioWithData(format!(
                "paths = 10\nyears = 0.1\nsteps_per_year = 341\n[market]\nmodel = \"bootstrap\"\ndata = \"prices.csv\"\n\
                 {EQUAL}exclude = [\"ZZZ\"]\n"
            )),
            extra: vec![],
            expect: vec!["strategies[0].exclude[0]: no stock has the ticker \"ZZZ\" (the data has AAA, BBB)"],
        },
        backtest_scenario(
            "backtest of a strategy that needs a model's covariance",
            "[market]\nn = 2\n[[strategies]]\nname = \"opt\"\nweighting = \"max_growth\"\nte_budget = 0.02\n",
            vec!["scenario.toml: strategies[0]", "covariance", "estimate = \"trailing\""],
        ),
        backtest_scenario(
            "backtest with initial weights for three stocks",
            &format!("[market]\nn = 3\ninitial_weights = [1.0, 2.0, 3.0]{EQUAL}"),
            vec!["market.initial_weights: has 3 values, but the data has 2 stocks (AAA, BBB)"],
        ),
        Case {
            name: "backtest of caps with initial weights",
            input: Input::Backtest {
                csv: format!("{header}{rows}"),
                scenario: Some(format!("[market]\nn = 2\ninitial_weights = [1.0, 2.0]{EQUAL}")),
            },
            extra: vec!["--caps"],
            expect: vec!["market.initial_weights: with --caps the data's first row gives the initial weights"],
        },
        // The bootstrap market.
        bootstrap("bootstrap without data", "", "", vec!["market.data: the bootstrap model needs data = "]),
        bootstrap(
            "bootstrap of a missing file",
            "",
            "data = \"no-such.csv\"",
            vec!["market.data:", "no-such.csv: cannot read"],
        ),
        bootstrap(
            "bootstrap with another n",
            "",
            "data = \"prices.csv\"\nn = 3",
            vec!["market.n: is 3, but", "prices.csv has 2 stocks"],
        ),
        bootstrap(
            "bootstrap with steps of another length than its days",
            "steps_per_year = 252",
            "data = \"prices.csv\"",
            vec!["steps_per_year: is 252, but market.data has 341.1 rows a year", "within 5 %"],
        ),
        bootstrap(
            "bootstrap with antithetic pairs",
            "antithetic = true",
            "data = \"prices.csv\"",
            vec!["antithetic: has no meaning for the bootstrap market"],
        ),
        bootstrap(
            "bootstrap with blocks of no days",
            "",
            "data = \"prices.csv\"\nmean_block = 0.5",
            vec!["market.mean_block: must be between 1 and the data's 99 days of changes, got 0.5"],
        ),
        bootstrap(
            "bootstrap from before its data",
            "",
            "data = \"prices.csv\"\nfrom = \"1980-01-02\"",
            vec!["market.from: 1980-01-02 is outside"],
        ),
        bootstrap(
            "bootstrap of data that changed",
            "",
            "data = \"prices.csv\"\ndata_sha256 = \"00\"",
            vec!["market.data_sha256:", "but the scenario records 00: the data changed"],
        ),
        market(
            "gbm given data",
            "vol = 0.2\ndata = \"prices.csv\"",
            vec!["market.data: the gbm model does not take data"],
        ),
        // History beside simulation.
        Case {
            name: "history of another stock count",
            input: Input::ScenarioWithData(format!(
                "paths = 10\nyears = 0.1\nsteps_per_year = 341\n[market]\nn = 3\nvol = 0.2\n{EQUAL}"
            )),
            extra: vec!["--history", "{dir}/prices.csv"],
            expect: vec!["--history:", "prices.csv has 2 stocks, but the run's market has 3 (market.n)"],
        },
        history(
            "history shorter than the run",
            "1.0",
            vec!["--history", "{dir}/prices.csv"],
            vec!["--history:", "(0.29 years), shorter than the run's 1.00 years"],
        ),
        history(
            "history of caps from other weights",
            "0.1",
            vec!["--history", "{dir}/prices.csv", "--caps"],
            vec!["--history:", "give other initial weights than the run's market"],
        ),
        history("caps without history", "0.1", vec!["--caps"], vec!["--history"]),
        Case {
            name: "history of days against monthly steps",
            input: Input::ScenarioWithData(format!(
                "paths = 10\nyears = 0.1\nsteps_per_year = 12\n[market]\nn = 2\nvol = 0.2\n{EQUAL}"
            )),
            extra: vec!["--history", "{dir}/prices.csv"],
            expect: vec!["--history:", "prices.csv has 341.1 rows a year (2020-01-01 to 2020-04-16), but steps_per_year is 12"],
        },
        // Calibration CSVs.
        csv(
            "missing values",
            format!("{header}2019-12-30,1.0,\n2019-12-31,,1.0\n{rows}"),
            vec![
                "csv:2, column 3: missing price for BBB on 2019-12-30",
                "csv:3, column 2: missing price for AAA on 2019-12-31",
            ],
        ),
        csv(
            "not a number",
            format!("{header}2019-12-31,abc,1.0\n{rows}"),
            vec!["csv:2, column 2: `abc` is not a number"],
        ),
        csv("negative price", format!("{header}2019-12-31,-3,1.0\n{rows}"), vec!["must be positive"]),
        csv(
            "infinite price",
            format!("{header}2019-12-31,inf,1.0\n{rows}"),
            vec!["must be positive and finite, got inf"],
        ),
        csv(
            "bad date",
            format!("{header}2020-02-30,1.0,1.0\n{rows}"),
            vec!["csv:2, column 1: `2020-02-30` is not a date"],
        ),
        csv("unsorted dates", format!("{header}2021-01-01,1.0,1.0\n{rows}"), vec!["rows must be sorted"]),
        csv("duplicate ticker", format!("Date,AAA,AAA\n{rows}"), vec!["csv:1, column 3: ticker AAA appears twice"]),
        // A name that would rewrite the terminal when printed (an escape sequence, a NUL).
        csv(
            "ticker with an escape sequence",
            format!("Date,AAA,\u{1b}[2J\n{rows}"),
            vec!["csv:1, column 3: ticker name \"\\u{1b}[2J\" holds a control character"],
        ),
        backtest(
            "ticker with a NUL",
            format!("Date,AAA,B\u{0}B\n{rows}"),
            vec![],
            vec!["column 3: ticker name \"B\\0B\" holds a control character"],
        ),
        csv("bad header", format!("Day,AAA,BBB\n{rows}"), vec!["csv:1: the header must be"]),
        csv("ragged row", format!("{header}{rows}2020-04-20,1.0\n"), vec!["csv:102"]),
        csv("too short", format!("{header}{}", &rows[..rows.find("2020-02-").unwrap()]), vec!["too short"]),
        csv("header only", header.to_string(), vec!["has a header but no rows"]),
        csv(
            "every bad row at once",
            format!("{header}2019-12-29,x,1.0\n2019-12-30,1.0,-2\n2019-13-01,1.0,1.0\n{rows}"),
            vec!["csv:2, column 2", "csv:3, column 3", "csv:4, column 1"],
        ),
        Case {
            name: "window of negative length",
            input: Input::Csv(format!("{header}{rows}")),
            extra: vec!["--window", "-1"],
            expect: vec!["--window: must be a positive number"],
        },
        Case {
            name: "unreadable CSV",
            input: Input::Command,
            extra: vec!["calibrate", "{dir}/no-such-prices.csv", "--out", "{dir}/out"],
            expect: vec!["no-such-prices.csv: cannot read"],
        },
        // Shard directories.
        shards("a missing shard", &[0, 1, 3], |_| {}, vec!["in no shard directory given"]),
        shards("a shard twice", &[0, 1, 2, 3, 3], |_| {}, vec!["is given twice"]),
        shards(
            "a shard twice and one missing",
            &[0, 0, 2, 3],
            |_| {},
            vec!["shard 0/4 is given twice", "paths 10..20 of 40 are in no shard directory given"],
        ),
        shards(
            "not a shard directory",
            &[0, 1, 2, 3],
            |dir| std::fs::remove_file(dir.join("shard-2/shard.json")).unwrap(),
            vec!["shard-2/shard.json: cannot read", "is it a shard directory?"],
        ),
        shards(
            "a corrupt manifest",
            &[0, 1, 2, 3],
            |dir| std::fs::write(dir.join("shard-1/shard.json"), "{ \"version\": ").unwrap(),
            vec!["shard-1/shard.json: not a shard manifest"],
        ),
        shards(
            "a truncated paths file",
            &[0, 1, 2, 3],
            |dir| {
                let file = dir.join("shard-3/paths.bin");
                let bytes = std::fs::read(&file).unwrap();
                std::fs::write(&file, &bytes[..bytes.len() / 2]).unwrap();
            },
            vec!["shard-3"],
        ),
        shards(
            "an edited manifest",
            &[0, 1, 2, 3],
            |dir| {
                let file = dir.join("shard-0/shard.json");
                let text = std::fs::read_to_string(&file).unwrap();
                assert!(text.contains("\"paths\": 40"));
                std::fs::write(&file, text.replacen("\"paths\": 40", "\"paths\": 41", 1)).unwrap();
            },
            vec!["shard-0/shard.json: its scenario does not hash to its scenario_hash"],
        ),
        shards(
            "a flipped byte in a paths file",
            &[0, 1, 2, 3],
            |dir| {
                let file = dir.join("shard-2/paths.bin");
                let mut bytes = std::fs::read(&file).unwrap();
                bytes[100] ^= 0x10;
                std::fs::write(&file, bytes).unwrap();
            },
            vec!["shard-2: shard.json or paths.bin was changed or damaged", "checksum"],
        ),
        shards(
            "NaN in a paths file",
            &[0, 1, 2, 3],
            |dir| {
                let file = dir.join("shard-1/paths.bin");
                let mut bytes = std::fs::read(&file).unwrap();
                bytes[8..16].copy_from_slice(&f64::NAN.to_le_bytes());
                std::fs::write(&file, bytes).unwrap();
            },
            vec!["shard-1: shard.json or paths.bin was changed or damaged"],
        ),
        shards(
            "one shard's paths copied over another's",
            &[0, 1, 2, 3],
            |dir| {
                std::fs::copy(dir.join("shard-0/paths.bin"), dir.join("shard-1/paths.bin")).unwrap();
            },
            vec!["shard-1: shard.json or paths.bin was changed or damaged"],
        ),
        shards(
            "an edited sum",
            &[0, 1, 2, 3],
            |dir| {
                edit_json(&dir.join("shard-3/shard.json"), |manifest| {
                    let seconds = manifest["seconds"].as_f64().unwrap();
                    manifest["seconds"] = serde_json::json!(seconds + 1.0);
                })
            },
            vec!["shard-3: shard.json or paths.bin was changed or damaged"],
        ),
        shards(
            "a backend label edited",
            &[0, 1, 2, 3],
            |dir| edit_json(&dir.join("shard-0/shard.json"), |manifest| manifest["backend"] = "gpu".into()),
            vec!["shard-0: shard.json or paths.bin was changed or damaged"],
        ),
        shards(
            "a shard of an older sptlab",
            &[0, 1, 2, 3],
            |dir| {
                edit_json(&dir.join("shard-2/shard.json"), |manifest| {
                    manifest.as_object_mut().unwrap().remove("checksum");
                })
            },
            vec!["shard-2/shard.json: has no checksum", "cannot be checked"],
        ),
        shards(
            "two unreadable shards",
            &[0, 1, 2, 3],
            |dir| {
                std::fs::remove_file(dir.join("shard-1/paths.bin")).unwrap();
                std::fs::write(dir.join("shard-2/shard.json"), "[]").unwrap();
            },
            vec!["shard-1/paths.bin: cannot read", "shard-2/shard.json: not a shard manifest"],
        ),
        shards(
            "a shard of another run",
            &[0, 1, 2, 3],
            |dir| {
                let other = write(dir, "other.toml", &SMALL.replace("seed = 5", "seed = 6"));
                let out = dir.join("shard-3");
                std::fs::remove_dir_all(&out).unwrap();
                let args =
                    ["run", &other, "--backend", "cpu", "--quiet", "--shard", "3/4", "--out", out.to_str().unwrap()];
                assert!(sptlab(&args).status.success());
            },
            vec!["is not part of the same run", "scenario hash"],
        ),
    ]
}

/// Rewrites a JSON file through `change`.
pub(crate) fn edit_json(path: &Path, change: impl FnOnce(&mut serde_json::Value)) {
    let mut value: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    change(&mut value);
    std::fs::write(path, serde_json::to_string_pretty(&value).unwrap()).unwrap();
}

/// Writes 4 shards of SMALL into `dir/shard-I`.
fn write_shards(dir: &Path) {
    let scenario = write(dir, "scenario.toml", SMALL);
    for index in 0..4 {
        let out = dir.join(format!("shard-{index}"));
        let shard = format!("{index}/4");
        let args = ["run", &scenario, "--backend", "cpu", "--quiet", "--shard", &shard, "--out", out.to_str().unwrap()];
        let output = sptlab(&args);
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    }
}

#[test]
fn every_bad_input_exits_with_2_says_where_and_why_and_leaves_nothing() {
    let all = cases();
    assert!(all.len() >= 40, "the table has {} entries", all.len());
    let mut failures = Vec::new();
    for (index, case) in all.iter().enumerate() {
        let dir = scratch(&format!("bad-{index}"));
        let out = dir.join("out");
        let fill = |arg: &str| arg.replace("{dir}", dir.to_str().unwrap());
        let mut args: Vec<String> = Vec::new();
        match &case.input {
            Input::Scenario(text) | Input::ScenarioWithoutOut(text) => {
                let file = write(&dir, "scenario.toml", text);
                args.extend(["run".into(), file, "--backend".into(), "cpu".into()]);
                if matches!(case.input, Input::Scenario(_)) {
                    args.extend(["--out".into(), out.to_string_lossy().into_owned()]);
                }
                // An explicit --backend in the entry replaces the default one.
                if case.extra.contains(&"--backend") {
                    args.drain(2..4);
                }
            }
            Input::ScenarioWithData(text) => {
                let file = write(&dir, "scenario.toml", text);
                write(&dir, "prices.csv", &format!("Date,AAA,BBB\n{}", csv_rows()));
                write(
                    &dir,
                    "index.csv",
                    &format!(
                        "Date,INDEX\n{}",
                        csv_rows().lines().map(|l| format!("{},1.0\n", &l[..10])).collect::<String>()
                    ),
                );
                args.extend(["run".into(), file, "--backend".into(), "cpu".into()]);
                args.extend(["--out".into(), out.to_string_lossy().into_owned()]);
            }
            Input::Csv(text) => {
                let file = write(&dir, "prices.csv", text);
                args.extend(["calibrate".into(), file, "--out".into(), out.to_string_lossy().into_owned()]);
            }
            Input::Shards { keep, spoil } => {
                write_shards(&dir);
                spoil(&dir);
                args.push("merge".into());
                args.extend(keep.iter().map(|k| dir.join(format!("shard-{k}")).to_string_lossy().into_owned()));
                args.extend(["--out".into(), out.to_string_lossy().into_owned()]);
            }
            Input::Backtest { csv, scenario } => {
                let file = write(&dir, "prices.csv", csv);
                // The data has 341 rows a year: the scenario's steps must agree with it.
                let text = scenario.as_deref().unwrap_or(SMALL);
                let text = if text.contains("steps_per_year") {
                    text.to_string()
                } else {
                    format!("steps_per_year = 341\n{text}")
                };
                let scenario = write(&dir, "scenario.toml", &text);
                let dates: Vec<&str> = csv.lines().skip(1).filter_map(|line| line.split(',').next()).collect();
                let index = |skip: &str| -> String {
                    let rows = dates.iter().filter(|date| **date != skip).map(|date| format!("{date},100.0\n"));
                    std::iter::once("Date,INDEX\n".to_string()).chain(rows).collect()
                };
                write(&dir, "index.csv", &index(""));
                write(&dir, "index-gap.csv", &index("2020-02-01"));
                let late: String =
                    index("").lines().filter(|line| !line.starts_with("2020-01-0")).map(|l| format!("{l}\n")).collect();
                write(&dir, "index-late.csv", &late);
                write(&dir, "index-blank.csv", &index("").replace("2020-02-01,100.0", "2020-02-01,"));
                write(&dir, "index-zero.csv", &index("").replace("2020-02-01,100.0", "2020-02-01,0"));
                let leap = index("").replacen("2020-01-02,100.0", "2020-01-02,1e-300", 1);
                write(&dir, "index-leap.csv", &leap.replacen("2020-01-03,100.0", "2020-01-03,1e300", 1));
                args.extend(["backtest".into(), file, "--scenario".into(), scenario]);
                args.extend(["--out".into(), out.to_string_lossy().into_owned()]);
            }
            Input::Command => {
                write(&dir, "scenario.toml", SMALL);
            }
        }
        args.extend(case.extra.iter().map(|arg| fill(arg)));
        let output = sptlab(&args.iter().map(String::as_str).collect::<Vec<_>>());
        let stderr = String::from_utf8_lossy(&output.stderr);
        if case.extra.contains(&"gpu") && no_gpu(&stderr) {
            continue;
        }
        let mut wrong = Vec::new();
        if output.status.code() != Some(2) {
            wrong.push(format!("exit status {:?}", output.status.code()));
        }
        wrong.extend(case.expect.iter().filter(|fragment| !stderr.contains(*fragment)).map(|f| format!("no {f:?}")));
        if stderr.contains("panicked") {
            wrong.push("a panic".into());
        }
        if out.exists() {
            wrong.push(format!("{} was written", out.display()));
        }
        if !output.stdout.is_empty() {
            wrong.push(format!("stdout: {}", String::from_utf8_lossy(&output.stdout)));
        }
        if !wrong.is_empty() {
            failures.push(format!("{index} {}: {}\n  stderr: {stderr}", case.name, wrong.join("; ")));
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    assert!(failures.is_empty(), "{} of {} entries failed:\n{}", failures.len(), all.len(), failures.join("\n"));
}
