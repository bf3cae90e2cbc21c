//! One simulated path as a long file (issue 32's round trip of the long reader): the
//! path's caps and total returns, one row per stock and business day, which a backtest
//! reads back into the path's own relative log returns and decomposition.
//!
//! The path is the run's own (the CPU kernel in f64, lane 0 of a block, as in any
//! block). Dates run from 2000-01-03, step k on day round(k x 365.25 / steps_per_year),
//! so the file's dates a year are the scenario's steps_per_year (to the rounding of a
//! day) and its span the run's years; ids are the stocks' indices, so a
//! screen written as indices (`exclude = [0, 3]`) names the same stocks in both, and
//! ties in cap rank the same way (the backtest's slots follow the rows' order).

use std::io::{self, Write};

use crate::data::format_date;
use crate::engine::cpu::{replay_path, KernelParams};
use crate::engine::BatchAccumulators;
use crate::scenario::Plan;

/// 2000-01-03, a Monday, in days since 1970-01-01.
const FIRST_DATE: i64 = 10_959;

/// The most steps a year a path file can date: one a day.
pub const MOST_DATED_STEPS_PER_YEAR: u32 = 365;

/// The date of step `step` at `steps_per_year` steps a year.
pub fn step_date(step: u32, steps_per_year: u32) -> String {
    format_date(FIRST_DATE + (f64::from(step) * 365.25 / f64::from(steps_per_year)).round() as i64)
}

/// Writes path `path` of `plan` to `out` as `date,id,cap,return` (the return since the
/// stock's previous row; none on the first); returns the path's accumulators.
pub fn write_path_file(plan: &Plan, path: u64, out: &mut impl Write) -> io::Result<BatchAccumulators> {
    if plan.steps_per_year > MOST_DATED_STEPS_PER_YEAR {
        return Err(io::Error::other(format!(
            "steps_per_year is {}: a path file dates each step, at most one a day ({MOST_DATED_STEPS_PER_YEAR})",
            plan.steps_per_year
        )));
    }
    let params = KernelParams::<f64>::new(plan);
    let mut before: Vec<f64> = Vec::new();
    let mut failed: Option<io::Error> = None;
    writeln!(out, "date,id,cap,return")?;
    let batch = replay_path(&params, (path, &crate::data::Rows::new(plan.n())), |completed, block| {
        if failed.is_some() {
            return;
        }
        let log_caps = block.log_caps(0);
        let date = step_date(completed, plan.steps_per_year);
        let mut write = || -> io::Result<()> {
            for (stock, log_cap) in log_caps.iter().enumerate() {
                match before.get(stock) {
                    None => writeln!(out, "{date},{stock},{:e},", log_cap.exp())?,
                    Some(last) => writeln!(out, "{date},{stock},{:e},{:e}", log_cap.exp(), (log_cap - last).exp_m1())?,
                }
            }
            Ok(())
        };
        failed = write().err();
        before = log_caps;
    });
    match failed {
        Some(error) => Err(error),
        None => Ok(batch),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_are_dated_at_their_frequency_one_a_day_at_most() {
        assert_eq!(step_date(0, 252), "2000-01-03");
        // 252 steps a year: a year's steps span 365 or 366 days.
        assert_eq!(step_date(252, 252), "2001-01-02");
        assert_eq!(step_date(1, 252), "2000-01-04");
        assert_eq!(step_date(2, 252), "2000-01-06");
        let dates: Vec<String> = (0..2000).map(|step| step_date(step, 365)).collect();
        assert!(dates.windows(2).all(|pair| pair[0] < pair[1]), "one step a day: every date distinct");
    }
}
