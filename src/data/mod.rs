//! Real daily data (docs/real-data.md): the wide CSV tables `calibrate`, `backtest` and
//! the bootstrap market read, every problem reported by file, line and column.

pub mod long;
mod long_parquet;
mod rows;
mod table;
pub mod universe;

pub use rows::Rows;

pub use table::{format_date, log_changes, log_ratio, parse_date, Bound, DataRecord, Frequency, Span, Table, Window};

/// Largest relative gap between a scenario's `steps_per_year` and its data's rows a
/// year: rebalancing intervals and lookbacks count steps, and a step is one row.
pub const MOST_FREQUENCY_GAP: f64 = 0.05;

/// Whether `steps_per_year` agrees with `rows_per_year` within [`MOST_FREQUENCY_GAP`].
pub fn frequencies_agree(steps_per_year: u32, rows_per_year: f64) -> bool {
    ((steps_per_year as f64 - rows_per_year) / rows_per_year).abs() <= MOST_FREQUENCY_GAP
}

/// A problem with the input data: where (file, line, column, or option) and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{location}: {reason}")]
pub struct DataError {
    pub location: String,
    pub reason: String,
}

impl From<DataError> for crate::problems::ScenarioError {
    fn from(error: DataError) -> Self {
        crate::problems::ScenarioError::Invalid { field: error.location, reason: error.reason }
    }
}

/// More problems than this in one file are summarised by their count.
const MOST_LISTED: usize = 20;

impl DataError {
    pub fn new(location: impl Into<String>, reason: impl Into<String>) -> DataError {
        DataError { location: location.into(), reason: reason.into() }
    }

    /// Several problems as one error: the first, then one "location: reason" line for
    /// each of the others.
    pub fn all_of(mut problems: Vec<DataError>) -> DataError {
        if problems.is_empty() {
            return DataError::new("input", "failed a check that recorded no reason");
        }
        let more = problems.len().saturating_sub(MOST_LISTED);
        problems.truncate(MOST_LISTED);
        let mut lines = problems.iter().skip(1).map(ToString::to_string).collect::<Vec<_>>();
        if more > 0 {
            lines.push(format!("{}: and {more} more problems", problems[0].location));
        }
        let first = problems.swap_remove(0);
        let reason = std::iter::once(first.reason).chain(lines).collect::<Vec<_>>().join("\n");
        DataError { location: first.location, reason }
    }
}
