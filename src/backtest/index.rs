//! An index as a second benchmark (docs/real-data.md): its level per date, joined on the
//! data's dates, and each strategy's figures of docs/statistics.md against it instead of
//! the market. The shipped S&P 500 series is a price index (no dividends), while the
//! stock prices are adjusted closes: against it every strategy carries the dividends.

use std::path::Path;

use serde::Serialize;

use crate::data::{Bound, Table, Window};
use crate::problems::{invalid, ScenarioError};

/// The option that names the index file, in messages.
const OPTION: &str = "--benchmark";

/// The index over the backtest's dates.
#[derive(Debug, Clone)]
pub struct IndexBenchmark {
    /// The column's name (`SP500`).
    pub name: String,
    pub path: String,
    pub sha256: String,
    /// log(I(t) / I(0)) per row of the data.
    pub log_value: Vec<f64>,
}

/// A strategy's (or the market's) figures against the index: docs/statistics.md's
/// definitions with the index's one-period returns in place of the market's.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct VsIndex {
    /// log(V(T) / V(0)) - log(I(T) / I(0)).
    pub relative_log_return: f64,
    /// Mean of the active returns R_k - R_index,k, times the rows a year.
    pub excess_return: f64,
    /// Their sample standard deviation (divisor N - 1) times sqrt(rows a year).
    pub tracking_error: f64,
    pub information_ratio: f64,
}

/// Reads the index at `path` (`Date,NAME`), on the dates of `data`: a date of the data
/// the index lacks, or one of the index's inside the window the data lacks, is refused.
pub fn read_index(path: &Path, data: &Table) -> Result<IndexBenchmark, ScenarioError> {
    let (first, last) = (&data.dates[0], &data.dates[data.dates.len() - 1]);
    let window = Window { from: Some(Bound::new(OPTION, first)), to: Some(Bound::new(OPTION, last)), last_years: None };
    let index = Table::read_columns(path, &window, "index level", 1).map_err(ScenarioError::from)?;
    if index.tickers.len() != 1 {
        return Err(invalid(
            OPTION,
            format!(
                "{} has {} value columns; an index file has one (`Date,NAME`)",
                path.display(),
                index.tickers.len()
            ),
        ));
    }
    if let Some(row) = (0..data.days.len().max(index.days.len())).find(|&row| data.days.get(row) != index.days.get(row))
    {
        let reason = match (data.days.get(row), index.days.get(row)) {
            (Some(day), Some(other)) if day < other => {
                format!("has no row for {}, a date of the data", data.dates[row])
            }
            (Some(_), Some(_)) | (None, Some(_)) => {
                format!("has {}, a date the data lacks between {first} and {last}", index.dates[row])
            }
            (Some(_), None) => format!("has no row for {}, a date of the data", data.dates[row]),
            (None, None) => unreachable!("the row differs"),
        };
        return Err(invalid(OPTION, format!("{}: {reason}; the index must have the data's dates", path.display())));
    }
    let start = index.values[0][0];
    Ok(IndexBenchmark {
        name: index.tickers[0].clone(),
        path: std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()).display().to_string(),
        sha256: index.sha256,
        log_value: index.values.iter().map(|row| crate::data::log_ratio(row[0], start)).collect(),
    })
}

/// The figures of a path with log values `log_value` (log(V(t)/V(0)) per row) against
/// the index's, at `per_year` rows a year.
pub fn vs_index(log_value: &[f64], index: &[f64], per_year: f64) -> VsIndex {
    let simple = |values: &[f64]| values.windows(2).map(|pair| (pair[1] - pair[0]).exp_m1()).collect::<Vec<f64>>();
    let active: Vec<f64> = simple(log_value).iter().zip(simple(index)).map(|(r, r_index)| r - r_index).collect();
    let count = active.len() as f64;
    let mean = active.iter().sum::<f64>() / count;
    let variance = if active.len() > 1 {
        active.iter().map(|a| (a - mean) * (a - mean)).sum::<f64>() / (count - 1.0)
    } else {
        0.0
    };
    let excess_return = mean * per_year;
    let tracking_error = (variance * per_year).sqrt();
    VsIndex {
        relative_log_return: log_value[log_value.len() - 1] - index[index.len() - 1],
        excess_return,
        tracking_error,
        information_ratio: if tracking_error > 0.0 { excess_return / tracking_error } else { 0.0 },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_against_an_index_follow_the_definitions() {
        // Strategy: +10 %, -5 %, +2 %; index: +5 %, +1 %, +0 %; three rows a year.
        let strategy = [0.0, 1.1f64.ln(), (1.1f64 * 0.95).ln(), (1.1f64 * 0.95 * 1.02).ln()];
        let index = [0.0, 1.05f64.ln(), (1.05f64 * 1.01).ln(), (1.05f64 * 1.01).ln()];
        let got = vs_index(&strategy, &index, 3.0);
        let active = [0.10 - 0.05, -0.05 - 0.01, 0.02];
        let mean = active.iter().sum::<f64>() / 3.0;
        let sd = (active.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / 2.0).sqrt();
        assert!((got.excess_return - 3.0 * mean).abs() < 1e-12);
        assert!((got.tracking_error - sd * 3f64.sqrt()).abs() < 1e-12);
        assert!((got.information_ratio - 3.0 * mean / (sd * 3f64.sqrt())).abs() < 1e-12);
        let relative = (1.1f64 * 0.95 * 1.02 / (1.05 * 1.01)).ln();
        assert!((got.relative_log_return - relative).abs() < 1e-12);
    }
}
