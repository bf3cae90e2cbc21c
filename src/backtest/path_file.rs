//! One simulated path as a long file (issue 32's round trip of the long reader): the
//! path's caps and total returns, one row per stock and business day, which a backtest
//! reads back into the path's own relative log returns and decomposition.
//!
//! The path is the run's own (the CPU kernel in f64, lane 0 of a block, as in any
//! block). Dates are business days from 2000-01-03; ids are the stocks' indices, so a
//! screen written as indices (`exclude = [0, 3]`) names the same stocks in both, and
//! ties in cap rank the same way (the backtest's slots follow the rows' order).

use std::io::{self, Write};

use crate::data::format_date;
use crate::engine::cpu::{replay_path, KernelParams};
use crate::engine::BatchAccumulators;
use crate::scenario::Plan;

/// 2000-01-03, a Monday, in days since 1970-01-01.
const FIRST_DATE: i64 = 10_959;

/// The date of step `step`: the `step`th business day from 2000-01-03.
pub fn business_day(step: u32) -> String {
    let weeks = i64::from(step / 5);
    format_date(FIRST_DATE + 7 * weeks + i64::from(step % 5))
}

/// Writes path `path` of `plan` to `out` as `date,id,cap,return` (the return since the
/// stock's previous row; none on the first); returns the path's accumulators.
pub fn write_path_file(plan: &Plan, path: u64, out: &mut impl Write) -> io::Result<BatchAccumulators> {
    let params = KernelParams::<f64>::new(plan);
    let mut before: Vec<f64> = Vec::new();
    let mut failed: Option<io::Error> = None;
    writeln!(out, "date,id,cap,return")?;
    let batch = replay_path(&params, (path, &crate::data::Rows::new(plan.n())), |completed, block| {
        if failed.is_some() {
            return;
        }
        let log_caps = block.log_caps(0);
        let date = business_day(completed);
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
    fn business_days_skip_weekends() {
        assert_eq!(business_day(0), "2000-01-03");
        assert_eq!(business_day(4), "2000-01-07");
        assert_eq!(business_day(5), "2000-01-10");
        assert_eq!(business_day(12), "2000-01-19");
    }
}
