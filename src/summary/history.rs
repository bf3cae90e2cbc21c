//! History beside simulation (`run --history`, docs/real-data.md): the strategies'
//! outcome on the data's own path over the run's horizon, and where it falls among the
//! simulated paths.

use serde::{Deserialize, Serialize};

use crate::data::DataRecord;

/// The historical path of a run's strategies: computed once by a backtest of the data
/// over the run's horizon, carried with the results (through shards and checkpoints) so
/// that a merged or resumed run reports the same.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoricalOutcome {
    pub data: DataRecord,
    /// The horizon of the historical path in years (from its dates).
    pub years: f64,
    /// Per strategy, log(V/V_market) over the whole historical path.
    pub relative_log_return: Vec<f64>,
    /// Years from the start at which `relative_path` is given (about monthly).
    pub times: Vec<f64>,
    /// `relative_path[strategy][k]`: L at `times[k]` (for the fan chart).
    pub relative_path: Vec<Vec<f64>>,
    /// Per strategy, its volatility less the market's on the historical path.
    #[serde(default)]
    pub volatility_difference: Vec<f64>,
}

/// A strategy's historical outcome in summary.json.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct HistoryReport {
    pub relative_log_return: f64,
    pub relative_growth_rate: f64,
    /// 100 x the share of paths whose relative log return is below the historical one
    /// (ties counted half).
    pub percentile: f64,
    /// Its volatility less the market's on the historical path, and where that falls
    /// among the simulated paths' (a percentile, as above).
    pub volatility_difference: f64,
    pub volatility_difference_percentile: f64,
}

/// 100 x (paths below `value` + half the paths equal to it) / paths.
pub fn percentile(paths: &[f64], value: f64) -> f64 {
    let below = paths.iter().filter(|l| **l < value).count() as f64;
    let equal = paths.iter().filter(|l| **l == value).count() as f64;
    100.0 * (below + 0.5 * equal) / paths.len().max(1) as f64
}

impl HistoricalOutcome {
    /// Strategy `strategy`'s report against its simulated paths' relative log returns
    /// and volatility differences.
    pub fn report(&self, strategy: usize, (simulated, volatility_differences): (&[f64], &[f64])) -> HistoryReport {
        let relative = self.relative_log_return[strategy];
        let volatility_difference = self.volatility_difference.get(strategy).copied().unwrap_or(f64::NAN);
        HistoryReport {
            relative_log_return: relative,
            relative_growth_rate: relative / self.years,
            percentile: percentile(simulated, relative),
            volatility_difference,
            volatility_difference_percentile: percentile(volatility_differences, volatility_difference),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_count_ties_half() {
        let paths = [0.1, -0.2, 0.3, 0.1, 0.0];
        assert_eq!(percentile(&paths, 0.1), 100.0 * (2.0 + 1.0) / 5.0);
        assert_eq!(percentile(&paths, -1.0), 0.0);
        assert_eq!(percentile(&paths, 1.0), 100.0);
        assert_eq!(percentile(&paths, 0.05), 40.0);
    }
}
