//! Every path's statistics as a table (docs/statistics.md): one row per path and
//! strategy, plus the market's row per path (and the index's, when it is the benchmark). The columns are listed once, here, for
//! both files: `paths.csv` (below) and `paths.parquet` (`paths_parquet.rs`).

use std::fmt::Write as _;

use crate::engine::PathStatistics;
use crate::summary::results::Results;
use crate::summary::stats::Rounding;

/// A value column of the per-path files, after `path` and `strategy`.
pub struct Column {
    pub name: &'static str,
    /// The column's value on a strategy's row.
    pub value: fn(&PathStatistics) -> f64,
    /// The column's value on the market's row, from its log return and control: the
    /// market's own figures, and zero for every statistic relative to itself.
    pub market: fn(MarketRow) -> f64,
    /// Defined only for functionally generated strategies: an empty field in the CSV,
    /// null in Parquet, for the others.
    pub generated_only: bool,
    /// Defined only when the run accumulated the controls (not with
    /// `control_variate = "none"`): empty or null otherwise, on every row.
    pub control_only: bool,
    /// Undefined on a path whose tracking error is rounding (the information ratio):
    /// empty or null there.
    pub needs_tracking_error: bool,
    /// NaN where the figure is undefined on a row (a size tilt drift below two
    /// rebalances; the whole market's volatility when an index is the benchmark):
    /// empty or null there.
    pub nan_is_undefined: bool,
}

impl Column {
    /// Whether some rows of some runs have no value in this column (null in Parquet).
    pub fn optional(&self) -> bool {
        self.generated_only || self.control_only || self.needs_tracking_error || self.nan_is_undefined
    }

    /// The column's value on a benchmark's row, if it has one there.
    pub fn market_value(&self, row: MarketRow) -> Option<f64> {
        Some((self.market)(row)).filter(|value| !(self.nan_is_undefined && value.is_nan()))
    }

    /// Whether the column has a value on a row of a strategy that is (or is not)
    /// functionally generated, in `results`.
    pub fn defined(&self, results: &Results, generated: bool) -> bool {
        (generated || !self.generated_only) && (results.control || !self.control_only)
    }

    /// The column's value on a strategy's row, if it has one there.
    pub fn value_on(&self, statistics: &PathStatistics, rounding: &Rounding) -> Option<f64> {
        if self.needs_tracking_error {
            rounding.information_ratio(statistics)
        } else {
            Some((self.value)(statistics)).filter(|value| !(self.nan_is_undefined && value.is_nan()))
        }
    }
}

/// The market's (or the index's) per-path figures, for its row.
#[derive(Debug, Clone, Copy)]
pub struct MarketRow {
    pub log_return: f64,
    pub control: f64,
    /// Half the weight traded a year (the index's at reconstitutions; 0 for the market).
    pub turnover: f64,
    /// Its volatility; NaN for the whole market's row when an index is the benchmark
    /// (only the benchmark's returns are accumulated).
    pub volatility: f64,
}

impl MarketRow {
    /// Path `path` (an index into `results`' paths).
    pub fn of(results: &Results, path: usize) -> MarketRow {
        let volatility = if results.index.is_some() { f64::NAN } else { results.benchmark_volatility[path] };
        MarketRow {
            log_return: results.market_log_return[path],
            control: results.market_control[path],
            turnover: 0.0,
            volatility,
        }
    }

    /// The index's row of path `path`, when the benchmark is an index.
    pub fn index_of(results: &Results, path: usize) -> Option<MarketRow> {
        results.index.as_ref().map(|index| MarketRow {
            log_return: index.log_return[path],
            control: index.control[path],
            turnover: index.traded[path] / results.years(),
            volatility: results.benchmark_volatility[path],
        })
    }
}

/// The rows of the benchmarks of path `path`: the market's, then the index's when there
/// is one (named as comparisons name it).
pub fn benchmark_rows(results: &Results, path: usize) -> impl Iterator<Item = (&'static str, MarketRow)> {
    std::iter::once((crate::summary::compare::MARKET, MarketRow::of(results, path)))
        .chain(MarketRow::index_of(results, path).map(|row| (crate::summary::compare::INDEX, row)))
}

const fn column(name: &'static str, value: fn(&PathStatistics) -> f64, generated_only: bool) -> Column {
    Column {
        name,
        value,
        market: |_| 0.0,
        generated_only,
        control_only: false,
        needs_tracking_error: false,
        nan_is_undefined: false,
    }
}

/// The value columns, in file order (docs/statistics.md defines each).
pub const COLUMNS: [Column; 17] = [
    Column {
        name: "log_return",
        value: |s| s.log_return,
        market: |m| m.log_return,
        generated_only: false,
        control_only: false,
        needs_tracking_error: false,
        nan_is_undefined: false,
    },
    column("relative_log_return", |s| s.relative_log_return, false),
    column("excess_return", |s| s.excess_return, false),
    column("tracking_error", |s| s.tracking_error, false),
    // The market's row: 0, its own benchmark's ratio by convention.
    Column {
        name: "information_ratio",
        value: |s| s.information_ratio,
        market: |_| 0.0,
        generated_only: false,
        control_only: false,
        needs_tracking_error: true,
        nan_is_undefined: false,
    },
    column("max_relative_drawdown", |s| s.max_relative_drawdown, false),
    Column {
        name: "turnover",
        value: |s| s.turnover,
        market: |m| m.turnover,
        generated_only: false,
        control_only: false,
        needs_tracking_error: false,
        nan_is_undefined: false,
    },
    column("generating_term", |s| s.generating_term, true),
    column("drift_term", |s| s.drift_term, true),
    column("cost_term", |s| s.cost_term, false),
    // The control of the relative log return M_pi; on the market's row its own M_mu.
    Column {
        name: "control_term",
        value: |s| s.control_term,
        market: |m| m.control,
        generated_only: false,
        control_only: true,
        needs_tracking_error: false,
        nan_is_undefined: false,
    },
    // docs/open-markets.md: 0 without an index, and without a screen.
    column("leakage_term", |s| s.leakage_term, true),
    column("screen_term", |s| s.screen_term, false),
    // Risk beside return; a benchmark's beta is 1 and its size tilt 0, by definition.
    Column {
        name: "volatility",
        value: |s| s.volatility,
        market: |m| m.volatility,
        generated_only: false,
        control_only: false,
        needs_tracking_error: false,
        nan_is_undefined: true,
    },
    Column { market: |_| 1.0, ..column("beta", |s| s.beta, false) },
    column("size_tilt", |s| s.size_tilt, false),
    Column { nan_is_undefined: true, ..column("size_tilt_drift", |s| s.size_tilt_drift, false) },
];

/// The file every path's statistics go to; "parquet" or "csv" in files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PerPathFormat {
    /// `paths.parquet`.
    Parquet,
    /// `paths.csv`.
    Csv,
}

impl PerPathFormat {
    pub fn name(self) -> &'static str {
        match self {
            PerPathFormat::Parquet => "parquet",
            PerPathFormat::Csv => "csv",
        }
    }
}

/// The header line of `paths.csv`.
pub fn csv_header() -> String {
    let names: Vec<&str> = COLUMNS.iter().map(|column| column.name).collect();
    format!("path,strategy,{}", names.join(","))
}

/// `paths.csv`, from results computed with `rounding`.
pub fn paths_csv(results: &Results, rounding: &Rounding) -> String {
    let mut out = String::with_capacity(results.paths() * (results.strategy_names.len() + 1) * 160);
    out.push_str(&csv_header());
    out.push('\n');
    for path in 0..results.paths() {
        for (name, benchmark) in benchmark_rows(results, path) {
            let _ = write!(out, "{path},{name}");
            for column in &COLUMNS {
                match column.market_value(benchmark).filter(|_| column.defined(results, true)) {
                    Some(value) => {
                        let _ = write!(out, ",{value}");
                    }
                    None => out.push(','),
                }
            }
            out.push('\n');
        }
        for (strategy, name) in results.strategy_names.iter().enumerate() {
            let statistics = &results.per_path[strategy][path];
            let generated = results.functionally_generated[strategy];
            let _ = write!(out, "{path},{name}");
            for column in &COLUMNS {
                match column.value_on(statistics, rounding).filter(|_| column.defined(results, generated)) {
                    Some(value) => {
                        let _ = write!(out, ",{value}");
                    }
                    None => out.push(','),
                }
            }
            out.push('\n');
        }
    }
    out
}
