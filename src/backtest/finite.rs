//! Data that f64 cannot follow: values that move by factors like 1e600 from one row to
//! the next (1e-300 to 1e300) are finite and positive, so the reader takes them, but
//! a portfolio's growth over such a step overflows. The backtest then stops at the
//! first date where a number it would print is not finite, naming that date and the
//! stock (or the index) that moved most there, rather than printing NaN.

use crate::data::{log_ratio, Table};
use crate::problems::{invalid, ScenarioError};
use crate::summary::results::Results;

use super::index::{IndexBenchmark, VsIndex};
use super::trace::Trace;

/// The first row of `trace` at which a value is not finite.
fn first_broken_row(trace: &Trace) -> Option<usize> {
    let finite_row = |row: usize| {
        trace.market_log_value[row].is_finite()
            && trace.terms.iter().all(|terms| terms[row].iter().all(|v| v.is_finite()))
    };
    (0..trace.market_log_value.len()).find(|&row| !finite_row(row))
}

/// The first row (from 1) at which the one-row simple return of a log-value series
/// `log_value` is not finite.
fn first_unbounded_return(log_value: &[f64]) -> Option<usize> {
    (1..log_value.len()).find(|&row| !(log_value[row] - log_value[row - 1]).exp_m1().is_finite())
}

/// "moves from A on D0 to B on D1 (a factor of 1eK)": the largest one-row move of a
/// column of `table` into `row`, as (column, words).
fn largest_move(table: &Table, row: usize) -> (usize, String) {
    let row = row.max(1);
    let change = |stock: usize| log_ratio(table.values[row][stock], table.values[row - 1][stock]).abs();
    let stock = (0..table.tickers.len()).max_by(|&a, &b| change(a).total_cmp(&change(b))).unwrap_or(0);
    let words = format!(
        "moves from {:e} on {} to {:e} on {} (a factor of 1e{:.0})",
        table.values[row - 1][stock],
        table.dates[row - 1],
        table.values[row][stock],
        table.dates[row],
        change(stock) / std::f64::consts::LN_10
    );
    (stock, words)
}

/// The problem of a backtest whose arithmetic breaks at `row` of `table` (`what` names
/// its values: price, market cap, index level).
fn broken_at(file: &str, table: &Table, row: usize, what: &str) -> ScenarioError {
    let (stock, moves) = largest_move(table, row);
    invalid(
        file,
        format!(
            "the backtest's numbers overflow on {}: {}'s {what} {moves}, more than f64 arithmetic follows \
             through a portfolio's growth; no result was produced",
            table.dates[row.max(1)],
            table.tickers[stock]
        ),
    )
}

/// Whether every number the backtest prints is finite; if not, where the data broke it.
pub fn check_finite(
    data: (&str, &Table, &str),
    trace: &Trace,
    results: &Results,
    index: Option<(&IndexBenchmark, &[VsIndex])>,
) -> Result<(), ScenarioError> {
    let (file, table, what) = data;
    if let Some(row) = first_broken_row(trace) {
        return Err(broken_at(file, table, row, what));
    }
    if results.first_non_finite().is_some() {
        let row = (1..table.values.len())
            .find(|&row| (0..trace.terms.len()).any(|s| !trace.terms[s][row][0].is_finite()))
            .or_else(|| first_unbounded_return(&trace.market_log_value))
            .or_else(|| (0..trace.terms.len()).find_map(|s| first_unbounded_return(&trace.log_values(s))))
            .unwrap_or(1);
        return Err(broken_at(file, table, row, what));
    }
    if let Some((index, versus)) = index {
        let finite = |v: &VsIndex| {
            [v.relative_log_return, v.excess_return, v.tracking_error, v.information_ratio]
                .iter()
                .all(|x| x.is_finite())
        };
        if !versus.iter().all(finite) {
            if let Some(row) = first_unbounded_return(&index.log_value) {
                let factor = (index.log_value[row] - index.log_value[row - 1]).abs() / std::f64::consts::LN_10;
                return Err(invalid(
                    &index.path,
                    format!(
                        "the backtest's numbers overflow on {}: the index {}'s level moves by a factor of 1e{factor:.0} \
                         from {}, more than f64 arithmetic follows through a one-row return; no result was produced",
                        table.dates[row],
                        index.name,
                        table.dates[row - 1]
                    ),
                ));
            }
            let row = first_unbounded_return(&trace.market_log_value)
                .or_else(|| (0..trace.terms.len()).find_map(|s| first_unbounded_return(&trace.log_values(s))))
                .unwrap_or(1);
            return Err(broken_at(file, table, row, what));
        }
    }
    Ok(())
}
