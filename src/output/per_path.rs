//! Every path's statistics as a table (DESIGN.md section 3): one row per path and
//! strategy, plus the market's row per path. The columns are listed once, here, for
//! both files: `paths.csv` (below) and `paths.parquet` (`paths_parquet.rs`).

use std::fmt::Write as _;

use crate::engine::PathStatistics;
use crate::summary::results::Results;

/// A value column of the per-path files, after `path` and `strategy`.
pub struct Column {
    pub name: &'static str,
    /// The column's value on a strategy's row.
    pub value: fn(&PathStatistics) -> f64,
    /// Defined only for functionally generated strategies: an empty field in the CSV,
    /// null in Parquet, for the others.
    pub generated_only: bool,
}

const fn column(name: &'static str, value: fn(&PathStatistics) -> f64, generated_only: bool) -> Column {
    Column { name, value, generated_only }
}

/// The value columns, in file order (SPT.md section 6 defines each).
pub const COLUMNS: [Column; 10] = [
    column("log_return", |s| s.log_return, false),
    column("relative_log_return", |s| s.relative_log_return, false),
    column("excess_return", |s| s.excess_return, false),
    column("tracking_error", |s| s.tracking_error, false),
    column("information_ratio", |s| s.information_ratio, false),
    column("max_relative_drawdown", |s| s.max_relative_drawdown, false),
    column("turnover", |s| s.turnover, false),
    column("generating_term", |s| s.generating_term, true),
    column("drift_term", |s| s.drift_term, true),
    column("cost_term", |s| s.cost_term, false),
];

/// The value of column `index` on the market's row: its log return, and zero for
/// every statistic relative to itself.
pub fn market_value(index: usize, market_log_return: f64) -> f64 {
    if index == 0 {
        market_log_return
    } else {
        0.0
    }
}

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

/// `paths.csv`.
pub fn paths_csv(results: &Results) -> String {
    let mut out = String::with_capacity(results.paths() * (results.strategy_names.len() + 1) * 160);
    out.push_str(&csv_header());
    out.push('\n');
    for path in 0..results.paths() {
        let market = results.market_log_return[path];
        let _ = write!(out, "{path},market");
        for index in 0..COLUMNS.len() {
            let _ = write!(out, ",{}", market_value(index, market));
        }
        out.push('\n');
        for (strategy, name) in results.strategy_names.iter().enumerate() {
            let statistics = &results.per_path[strategy][path];
            let generated = results.functionally_generated[strategy];
            let _ = write!(out, "{path},{name}");
            for column in &COLUMNS {
                if column.generated_only && !generated {
                    out.push(',');
                } else {
                    let _ = write!(out, ",{}", (column.value)(statistics));
                }
            }
            out.push('\n');
        }
    }
    out
}
