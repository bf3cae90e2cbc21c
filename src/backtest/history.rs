//! The data as a market: a daily table read and windowed, the initial weights
//! (docs/real-data.md: with prices, shares are constant, so the market is buy-and-hold
//! from w(0)), and the plan whose one path is the data's.

use std::path::{Path, PathBuf};

use crate::data::{DataRecord, Table, Window};
use crate::market::spec::{MarketSpec, ModelKind};
use crate::market::{initial_weights as checked_weights, BootstrapMarket, Market, MAX_STOCKS};
use crate::problems::{invalid, Problems, ScenarioError};
use crate::scenario::{ControlVariate, Plan, Scenario};

/// A daily table read for a backtest, with where it came from.
#[derive(Debug, Clone)]
pub struct History {
    pub table: Table,
    /// The file, made absolute.
    pub path: PathBuf,
    /// The values are market caps (else prices).
    pub caps: bool,
    /// Rows a year, counted from the dates (returns over the calendar span).
    pub periods_per_year: f64,
}

/// Reads `path` (prices, or caps when `caps`) within `window`.
pub fn read_history(path: &Path, caps: bool, window: &Window) -> Result<History, ScenarioError> {
    let table = Table::read(path, window, if caps { "market cap" } else { "price" })?;
    let periods_per_year = table.periods_per_year();
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    Ok(History { table, path, caps, periods_per_year })
}

impl History {
    pub fn n(&self) -> usize {
        self.table.tickers.len()
    }

    /// The first row's values as weights (caps: the market's initial weights).
    pub fn first_row_weights(&self) -> Vec<f64> {
        let first = &self.table.values[0];
        let total: f64 = first.iter().sum();
        if total.is_finite() {
            return first.iter().map(|value| value / total).collect();
        }
        // Caps near f64's largest overflow their total: sum them relative to the largest.
        let largest = first.iter().copied().fold(0.0, f64::max);
        let relative_total: f64 = first.iter().map(|value| value / largest).sum();
        first.iter().map(|value| value / largest / relative_total).collect()
    }

    /// The data's values, in words, for messages.
    pub fn what(&self) -> &'static str {
        if self.caps {
            "market cap"
        } else {
            "price"
        }
    }

    /// Refuses data whose frequency disagrees with `steps_per_year` (the option or
    /// field `field` gave it) by more than 5 %, when the data is long enough to say:
    /// rebalancing intervals and lookbacks count steps, and a step is one row.
    pub fn check_frequency(&self, steps_per_year: u32, field: &str, fix: &str) -> Result<(), ScenarioError> {
        match self.table.frequency() {
            Some(frequency) if !crate::data::frequencies_agree(steps_per_year, frequency.rows_per_year) => {
                Err(invalid(
                    field,
                    format!(
                        "{} has {frequency}, but steps_per_year is {steps_per_year}: rebalancing intervals and \
                         lookbacks count steps, and a step is one row, so the two must agree within 5 %; {fix}",
                        self.path.display(),
                    ),
                ))
            }
            _ => Ok(()),
        }
    }

    pub fn record(&self) -> DataRecord {
        self.table.record(&self.path, self.caps)
    }
}

/// w(0): with caps, the first row's; with prices, the scenario's `initial_weights`
/// (one per ticker) or equal weights. The scenario's `zipf` is a model's and is ignored.
pub fn initial_weights(scenario: &Scenario, history: &History) -> Result<Vec<f64>, ScenarioError> {
    let n = history.n();
    let given = &scenario.market.initial_weights;
    if history.caps {
        if given.is_some() {
            return Err(invalid(
                "market.initial_weights",
                "with --caps the data's first row gives the initial weights; remove initial_weights",
            ));
        }
        return Ok(history.first_row_weights());
    }
    match given {
        None => Ok(vec![1.0 / n as f64; n]),
        Some(weights) if weights.len() != n => Err(invalid(
            "market.initial_weights",
            format!("has {} values, but the data has {n} stocks ({})", weights.len(), history.table.tickers.join(", ")),
        )),
        Some(_) => {
            let mut spec = scenario.market.clone();
            spec.n = n;
            spec.zipf = None;
            checked_weights(&spec)
        }
    }
}

/// The plan of the data's one path: every row after the first a step, the strategies
/// checked against the data's market (a max_growth strategy that needs a model's
/// covariance is refused, as on any market without one), in f64 and without controls.
pub fn history_plan(scenario: &Scenario, history: &History, weights: Vec<f64>) -> Result<Plan, ScenarioError> {
    if history.n() > MAX_STOCKS {
        return Err(invalid("market.n", format!("the data has {} stocks; at most {MAX_STOCKS}", history.n())));
    }
    let returns = history.table.log_returns();
    let steps = returns.len() as u32;
    let steps_per_year = history.periods_per_year.round().max(1.0) as u32;
    let market = Market::Bootstrap(BootstrapMarket::in_order(weights, &returns));
    let mut problems = Problems::default();
    // The one path's report (backtest.csv, its identity check, the figures) follows the
    // market and the closed decomposition: an index and screens are simulated only, for now.
    if scenario.benchmark.is_some() {
        problems.push(invalid(
            "benchmark",
            "a backtest's benchmark is the data's market on a wide table (Date,TICKER,...): an index benchmark \
             needs the data as a long file (date,id,cap; docs/open-markets.md), whose stocks may list and delist",
        ));
    }
    let strategies = scenario.validate_strategies(
        (Some(&market), Some(&history.table.tickers)),
        None,
        steps_per_year,
        &mut problems,
    );
    for (position, spec) in scenario.strategies.iter().enumerate() {
        if spec.exclude.is_some() {
            problems.push(invalid(
                format!("strategies[{position}].exclude"),
                "screens need the data as a long file (date,id,cap; docs/open-markets.md), whose report has the \
                 screen term; a wide table's has none",
            ));
        }
    }
    if !problems.is_empty() {
        return Err(problems.into_error());
    }
    let mut effective = scenario.clone();
    // The market the path ran on: the data's days in order, as read.
    let record = history.record();
    effective.market = MarketSpec {
        n: history.n(),
        initial_weights: scenario.market.initial_weights.clone(),
        data: Some(record.path),
        data_sha256: Some(record.sha256),
        from: Some(record.from),
        to: Some(record.to),
        caps: Some(history.caps),
        ..MarketSpec::new(ModelKind::Bootstrap, history.n())
    };
    effective.paths = 1;
    effective.years = steps as f64 / history.periods_per_year;
    effective.steps_per_year = steps_per_year;
    effective.control_variate = ControlVariate::None;
    effective.antithetic = false;
    Ok(Plan {
        scenario: effective,
        paths: 1,
        steps,
        steps_per_year,
        seed: scenario.seed,
        market,
        strategies,
        control_variate: ControlVariate::None,
        antithetic: false,
        asked_years: None,
        index: None,
    })
}
