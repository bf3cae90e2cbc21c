//! `sptlab backtest` (docs/real-data.md, docs/real-data.md): a scenario's strategies on
//! the one historical path of a daily table, in f64. The path runs through the CPU
//! kernel itself (the bootstrap market with its days taken in order), so every
//! statistic, the decomposition and the rebalancing rules are those of `run`; this
//! folder reads the data and watches the path step by step; `output/backtest.rs`
//! renders what it finds.

mod finite;
mod history;
mod index;
mod open_index;
mod open_replay;
mod open_strategy;
mod path_file;
mod trace;

use std::path::PathBuf;
use std::time::Instant;

pub use history::{history_plan, initial_weights, read_history, History};
pub use index::{read_index, vs_index, IndexBenchmark, VsIndex};
pub use open_index::{BenchmarkStep, OpenBenchmark, OpenBenchmarkRule};
pub use open_replay::{
    long_backtest, LongBacktest, LongBacktestOptions, LongRecord, LongTrace, OpenBenchmarkFigures, Progress,
    DEFAULT_MARKET_REFORM_EVERY, MOST_TRACE_DATES,
};
pub use path_file::{step_date, write_path_file, MOST_DATED_STEPS_PER_YEAR};
pub use trace::{replay, sampled_rows, Trace};

use crate::data::{Bound, DataRecord, Window};
use crate::engine::{BackendInfo, BackendKind, Precision};
use crate::market::BootstrapMarket;
use crate::problems::ScenarioError;
use crate::scenario::{Plan, Scenario};
use crate::summary::history::HistoricalOutcome;
use crate::summary::report::{Report, RunInfo};
use crate::summary::results::Results;

/// What `sptlab backtest` was asked (docs/real-data.md).
#[derive(Debug, Clone)]
pub struct BacktestOptions {
    pub data: PathBuf,
    /// The table holds market capitalisations (default: prices, shares held constant).
    pub caps: bool,
    pub from: Option<String>,
    pub to: Option<String>,
    /// A price index as a second benchmark, joined on dates.
    pub benchmark: Option<PathBuf>,
}

/// Why a backtest cannot run: bad input either way.
#[derive(Debug, Clone, thiserror::Error)]
pub enum BacktestError {
    /// The data, its window or the index: located by file, line and column, or option.
    #[error("{0}")]
    Data(ScenarioError),
    /// The scenario's strategies or initial weights against the data's market.
    #[error("{0}")]
    Scenario(ScenarioError),
}

impl BacktestError {
    /// The problem, whichever its kind.
    pub fn problem(&self) -> &ScenarioError {
        match self {
            BacktestError::Data(problem) | BacktestError::Scenario(problem) => problem,
        }
    }
}

/// A finished backtest: the path's plan, its statistics (one path), and its trace.
#[derive(Debug, Clone)]
pub struct Backtest {
    pub plan: Plan,
    pub data: DataRecord,
    pub results: Results,
    pub report: Report,
    pub trace: Trace,
    /// The index, and each strategy's (then the market's) figures against it.
    pub index: Option<(IndexBenchmark, Vec<VsIndex>)>,
}

impl Backtest {
    /// The number of strategies (the market is not one).
    pub fn strategies(&self) -> usize {
        self.plan.strategies.len()
    }
}

/// Runs `scenario`'s strategies on the data `options` names; every problem (the data,
/// the window, the strategies against the data's market, the index) as bad input.
pub fn backtest(scenario: &Scenario, options: &BacktestOptions) -> Result<Backtest, BacktestError> {
    let started = Instant::now();
    let window = Window {
        from: options.from.as_ref().map(|date| Bound::new("--from", date)),
        to: options.to.as_ref().map(|date| Bound::new("--to", date)),
        last_years: None,
    };
    let history = read_history(&options.data, options.caps, &window).map_err(BacktestError::Data)?;
    history
        .check_frequency(
            scenario.steps_per_year,
            "steps_per_year",
            "give the backtest a scenario (--scenario) with the data's steps_per_year, its intervals and lookbacks \
             counted in rows",
        )
        .map_err(BacktestError::Scenario)?;
    let weights = initial_weights(scenario, &history).map_err(BacktestError::Scenario)?;
    let plan = history_plan(scenario, &history, weights).map_err(BacktestError::Scenario)?;
    let index = match &options.benchmark {
        Some(path) => Some(read_index(path, &history.table).map_err(BacktestError::Data)?),
        None => None,
    };
    let (batch, trace) = replay(&plan, &history);
    let mut results = Results::for_history(&plan, history.periods_per_year);
    results.absorb(&batch);
    let seconds = started.elapsed().as_secs_f64();
    let run = RunInfo {
        backend: BackendInfo { backend: BackendKind::Cpu, adapter: "one path".into(), precision: Precision::F64 },
        paths: 1,
        steps: plan.steps,
        stocks: plan.n(),
        seconds,
        asset_steps_per_second: plan.n() as f64 * plan.steps as f64 / seconds.max(1e-9),
    };
    let report = Report::new(&plan, &results, run);
    let index = index.map(|index| {
        let versus: Vec<VsIndex> = (0..plan.strategies.len())
            .map(|s| trace.log_values(s))
            .chain(std::iter::once(trace.market_log_value.clone()))
            .map(|values| vs_index(&values, &index.log_value, history.periods_per_year))
            .collect();
        (index, versus)
    });
    let data_file = options.data.display().to_string();
    finite::check_finite(
        (&data_file, &history.table, history.what()),
        &trace,
        &results,
        index.as_ref().map(|(index, versus)| (index, &versus[..])),
    )
    .map_err(BacktestError::Data)?;
    Ok(Backtest { plan, data: history.record(), results, report, trace, index })
}

/// The option that names the data of [`historical_outcome`], in messages.
const HISTORY_OPTION: &str = "--history";

/// The problems of [`historical_outcome`], one line each, every one under `--history`:
/// they are the data's (the file, or the strategies on its path), not the scenario's.
pub fn history_problems(error: &BacktestError) -> Vec<String> {
    error
        .problem()
        .problems()
        .iter()
        .map(|problem| match problem {
            ScenarioError::Invalid { field, reason } if field == HISTORY_OPTION => {
                format!("{HISTORY_OPTION}: {reason}")
            }
            other => format!("{HISTORY_OPTION}: {other}"),
        })
        .collect()
}

/// Rows between the points of a historical path kept for the fan chart (about a month).
const HISTORY_STRIDE: usize = 21;

/// `run --history`: `plan`'s strategies backtested on the last `plan.years()` of the
/// data at `path` (prices, or caps when `caps`), from the run's initial weights. A file
/// shorter than the horizon, another number of stocks, a caps file whose first row
/// is not the run's initial weights, or a strategy a backtest cannot run is refused.
pub fn historical_outcome(plan: &Plan, path: &std::path::Path, caps: bool) -> Result<HistoricalOutcome, BacktestError> {
    if crate::data::long::is_long_file(path).unwrap_or(false) {
        return long_historical_outcome(plan, path, caps);
    }
    let refused = |reason: String| BacktestError::Data(crate::problems::invalid(HISTORY_OPTION, reason));
    let years = plan.years();
    let history = read_history(path, caps, &Window::last_years(Some(years))).map_err(BacktestError::Data)?;
    let table = &history.table;
    let span = (table.days[table.days.len() - 1] - table.days[0]) as f64 / 365.25;
    // A week's slack: the window starts at the first trading day on or after its date.
    if table.earlier.is_empty() && span < years - 7.0 / 365.25 {
        return Err(refused(format!(
            "{} runs from {} to {} ({span:.2} years), shorter than the run's {years:.2} years",
            path.display(),
            table.dates[0],
            table.dates[table.dates.len() - 1]
        )));
    }
    history
        .check_frequency(
            plan.steps_per_year,
            HISTORY_OPTION,
            "give --history data of the run's frequency, or the run the data's steps_per_year",
        )
        .map_err(BacktestError::Data)?;
    if let crate::market::Market::Bootstrap(BootstrapMarket { source: Some(source), .. }) = &plan.market {
        if source.tickers != table.tickers {
            return Err(refused(format!(
                "{} has the stocks {}, but the run's bootstrap market those of {} ({}), in that order",
                path.display(),
                table.tickers.join(", "),
                source.path.display(),
                source.tickers.join(", ")
            )));
        }
    }
    if history.n() != plan.n() {
        return Err(refused(format!(
            "{} has {} stocks, but the run's market has {} (market.n)",
            path.display(),
            history.n(),
            plan.n()
        )));
    }
    let run_weights = plan.market.initial_weights().to_vec();
    if caps {
        let first = history.first_row_weights();
        let differs = first.iter().zip(&run_weights).any(|(a, b)| (a - b).abs() > 1e-9 * b.max(1e-300));
        if differs {
            return Err(refused(format!(
                "the caps of {} on {} give other initial weights than the run's market (market.initial_weights or \
                 zipf); the historical path must start where the simulated ones do",
                path.display(),
                table.dates[0]
            )));
        }
    }
    let history_plan = history_plan(&plan.scenario, &history, run_weights).map_err(|error| {
        BacktestError::Scenario(crate::problems::invalid(
            HISTORY_OPTION,
            format!("the strategies cannot run on the data's path: {error}"),
        ))
    })?;
    let (batch, trace) = replay(&history_plan, &history);
    let mut results = Results::for_history(&history_plan, history.periods_per_year);
    results.absorb(&batch);
    let data_file = path.display().to_string();
    finite::check_finite((&data_file, &history.table, history.what()), &trace, &results, None)
        .map_err(BacktestError::Data)?;
    let rows = trace.dates.len();
    let sampled: Vec<usize> =
        (0..rows).step_by(HISTORY_STRIDE).chain((rows % HISTORY_STRIDE != 1).then_some(rows - 1)).collect();
    let per_year = history.periods_per_year;
    Ok(HistoricalOutcome {
        data: history.record(),
        years: (rows - 1) as f64 / per_year,
        relative_log_return: trace.terms.iter().map(|terms| terms[rows - 1][0]).collect(),
        times: sampled.iter().map(|&row| row as f64 / per_year).collect(),
        relative_path: trace.terms.iter().map(|terms| sampled.iter().map(|&row| terms[row][0]).collect()).collect(),
        volatility_difference: results.per_path.iter().map(|paths| paths[0].volatility_difference).collect(),
    })
}

/// `run --history` on a long file: `plan`'s strategies on the last `plan.years()` of
/// its open universe, against the `[benchmark]` of its listed stocks.
fn long_historical_outcome(
    plan: &Plan,
    path: &std::path::Path,
    caps: bool,
) -> Result<HistoricalOutcome, BacktestError> {
    let refused = |reason: String| BacktestError::Data(crate::problems::invalid(HISTORY_OPTION, reason));
    if caps {
        return Err(refused("--caps: a long file gives its caps (cap, or price and shares); remove --caps".into()));
    }
    let years = plan.years();
    let options = LongBacktestOptions { data: path.to_path_buf(), last_years: Some(years), ..Default::default() };
    let backtest = long_backtest(&plan.scenario, &options, &mut |_, _, _| {})?;
    let data = &backtest.data;
    let span = (crate::data::parse_date(&data.to).unwrap_or(0) - crate::data::parse_date(&data.from).unwrap_or(0))
        as f64
        / 365.25;
    // A week's slack: the window starts at the first date on or after its start.
    if span < years - 7.0 / 365.25 {
        return Err(refused(format!(
            "{} runs from {} to {} ({span:.2} years), shorter than the run's {years:.2} years",
            path.display(),
            data.from,
            data.to
        )));
    }
    let trace = &backtest.trace;
    // About a month between the points kept, and the last.
    let mut kept: Vec<usize> = Vec::new();
    for (k, step) in trace.steps.iter().enumerate() {
        let due = kept.last().is_none_or(|&last| step - trace.steps[last] >= HISTORY_STRIDE as u32);
        if due || k + 1 == trace.steps.len() {
            kept.push(k);
        }
    }
    let per_year = backtest.periods_per_year;
    Ok(HistoricalOutcome {
        data: DataRecord {
            path: data.path.display().to_string(),
            sha256: data.sha256.clone(),
            values: "long".into(),
            tickers: Vec::new(),
            from: data.from.clone(),
            to: data.to.clone(),
            rows: data.dates,
            periods_per_year: per_year,
        },
        years: backtest.years(),
        relative_log_return: backtest.statistics.iter().map(|s| s.relative_log_return).collect(),
        times: kept.iter().map(|&k| trace.steps[k] as f64 / per_year).collect(),
        relative_path: trace.relative.iter().map(|path| kept.iter().map(|&k| path[k]).collect()).collect(),
        volatility_difference: backtest.statistics.iter().map(|s| s.volatility_difference).collect(),
    })
}
