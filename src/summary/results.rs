//! From batches of per-path accumulators to the run's results: per-path statistics
//! and market diagnostics, for any range of paths (a run, a shard, a checkpoint).

use std::ops::Range;

use crate::engine::time_grid::TimeGrid;
use crate::engine::{BatchAccumulators, PathStatistics};
use crate::scenario::{ControlVariate, Plan};
use crate::summary::history::HistoricalOutcome;
use crate::summary::ordered_sums::OrderedSums;

/// Everything a run produced, path by path, in path order.
#[derive(Debug, Clone)]
pub struct Results {
    pub strategy_names: Vec<String>,
    pub functionally_generated: Vec<bool>,
    /// Strategies that hold the market without costs: the benchmark itself, whose every
    /// relative figure is zero by construction (the arithmetic would leave rounding).
    the_market: Vec<bool>,
    /// `per_path[strategy][path]`.
    pub per_path: Vec<Vec<PathStatistics>>,
    /// log Z(T) - log Z(0) per path: the market portfolio's log return.
    pub market_log_return: Vec<f64>,
    /// The market's control M_mu per path (docs/control-variates.md).
    pub market_control: Vec<f64>,
    /// The benchmark's volatility per path (the index's, or the market's).
    pub benchmark_volatility: Vec<f64>,
    /// The index benchmark's values per path, when the benchmark is an index.
    pub index: Option<IndexPaths>,
    /// Whether the controls were accumulated (zero throughout when not).
    pub control: bool,
    /// The global indices of the paths held (the whole run, or one shard's share).
    pub path_range: Range<u64>,
    /// Sums over paths of mu_(k)(T) (ranks largest first), then of the gaps
    /// Y_k(T) = log X_(k) - log X_(k+1), in the order that shards can reproduce.
    pub terminal_sums: OrderedSums,
    /// The strategies through time (None when the backend did not record it).
    pub grid: Option<TimeGrid>,
    /// The strategies on the data's own path (`run --history`), when asked.
    pub history: Option<HistoricalOutcome>,
    /// Whether every batch so far came with its grid.
    grid_complete: bool,
    steps: u32,
    /// Steps a year: the plan's, or for history the rows a year counted from the dates.
    steps_per_year: f64,
}

/// The benchmark's name in comparisons, the ranking and the per-path files: the
/// market's, or with an index benchmark [`INDEX`].
pub const MARKET: &str = "market";
pub const INDEX: &str = "index";

/// An index benchmark's values per path (docs/open-markets.md).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IndexPaths {
    /// log V_rho(T) - log V_rho(0).
    pub log_return: Vec<f64>,
    /// The index's control M_rho.
    pub control: Vec<f64>,
    /// Sum over reconstitutions of 1/2 sum_i |rho_after - rho_before|.
    pub traded: Vec<f64>,
}

impl IndexPaths {
    fn push(&mut self, values: &[f64]) {
        use crate::engine::accumulators::index_field;
        self.log_return.push(values[index_field::LOG_RETURN]);
        self.control.push(values[index_field::CONTROL]);
        self.traded.push(values[index_field::TURNOVER]);
    }
}

impl Results {
    /// Bytes the per-path results of `paths` paths of `plan` take (every strategy's
    /// statistics and the market's log return per path).
    pub fn bytes_needed(plan: &Plan, paths: u64) -> u64 {
        let per_path = plan.strategies.len() * std::mem::size_of::<PathStatistics>() + 3 * std::mem::size_of::<f64>();
        paths.saturating_mul(per_path as u64)
    }

    pub fn new(plan: &Plan) -> Results {
        Results::for_paths(plan, 0..plan.paths)
    }

    /// The results of the paths `path_range` of `plan` (a shard's share).
    pub fn for_paths(plan: &Plan, path_range: Range<u64>) -> Results {
        let n = plan.n();
        let capacity = (path_range.end - path_range.start).min(1 << 24) as usize;
        Results {
            strategy_names: plan.strategies.iter().map(|s| s.name.clone()).collect(),
            functionally_generated: plan.strategies.iter().map(|s| s.weighting.is_functionally_generated()).collect(),
            the_market: plan
                .strategies
                .iter()
                .map(|s| {
                    s.weighting == crate::portfolio::Weighting::Market && s.cost_rate == 0.0 && s.exclude.is_empty()
                })
                .collect(),
            per_path: plan.strategies.iter().map(|_| Vec::with_capacity(capacity)).collect(),
            market_log_return: Vec::with_capacity(capacity),
            market_control: Vec::with_capacity(capacity),
            benchmark_volatility: Vec::with_capacity(capacity),
            index: plan.index.map(|_| IndexPaths::default()),
            control: plan.control_variate == ControlVariate::Martingale,
            path_range,
            terminal_sums: OrderedSums::new(2 * n - 1, plan.paths),
            grid: None,
            history: None,
            grid_complete: true,
            steps: plan.steps,
            steps_per_year: plan.steps_per_year as f64,
        }
    }

    /// The results of a plan whose steps are rows of data, `periods_per_year` a year
    /// (docs/real-data.md: annualised figures use the data's own frequency).
    pub fn for_history(plan: &Plan, periods_per_year: f64) -> Results {
        Results { steps_per_year: periods_per_year, ..Results::new(plan) }
    }

    pub fn paths(&self) -> usize {
        self.market_log_return.len()
    }

    /// The rounding these results may carry when computed in `precision`.
    pub fn rounding(&self, precision: crate::engine::Precision) -> crate::summary::stats::Rounding {
        crate::summary::stats::Rounding::new(precision, self.steps, self.steps_per_year)
    }

    /// The paths `path_range.start ..` (in order) already simulated, to be continued:
    /// their statistics, the market's log returns and controls, the benchmark's
    /// volatility, the index's values (with an index), cross-path sums and time grid.
    pub fn resumed(
        plan: &Plan,
        path_range: Range<u64>,
        per_path: Vec<Vec<PathStatistics>>,
        (market_log_return, market_control, benchmark_volatility, index): (
            Vec<f64>,
            Vec<f64>,
            Vec<f64>,
            Option<IndexPaths>,
        ),
        terminal_sums: OrderedSums,
        grid: Option<TimeGrid>,
    ) -> Results {
        let mut results = Results::for_paths(plan, path_range);
        results.grid_complete = grid.is_some() || market_log_return.is_empty();
        results.per_path = per_path;
        results.market_log_return = market_log_return;
        results.market_control = market_control;
        results.benchmark_volatility = benchmark_volatility;
        results.index = index;
        results.terminal_sums = terminal_sums;
        results.grid = grid;
        results
    }

    /// The largest |master-equation residual| over every path and strategy, with the
    /// strategy and path: a check on the decomposition's accuracy (docs/theory.md).
    pub fn largest_master_equation_residual(&self) -> Option<(f64, String, u64)> {
        let mut largest: Option<(f64, String, u64)> = None;
        for (name, paths) in self.strategy_names.iter().zip(&self.per_path) {
            for (path, stats) in paths.iter().enumerate() {
                let residual = stats.master_equation_residual().abs();
                if largest.as_ref().is_none_or(|(worst, _, _)| residual > *worst) {
                    largest = Some((residual, name.clone(), self.path_range.start + path as u64));
                }
            }
        }
        largest
    }

    /// The first path and strategy with a non-finite statistic, if any.
    pub fn first_non_finite(&self) -> Option<(u64, String)> {
        self.first_non_finite_from(0)
    }

    /// As [`Results::first_non_finite`], among the paths held from index `from` on (the
    /// last batch's, so that each path is checked once).
    pub fn first_non_finite_from(&self, from: usize) -> Option<(u64, String)> {
        for (name, paths) in self.strategy_names.iter().zip(&self.per_path) {
            for (path, stats) in paths.iter().enumerate().skip(from) {
                let values = [
                    stats.log_return,
                    stats.relative_log_return,
                    stats.excess_return,
                    stats.tracking_error,
                    stats.information_ratio,
                    stats.max_relative_drawdown,
                    stats.turnover,
                    stats.generating_term,
                    stats.drift_term,
                    stats.cost_term,
                    stats.volatility,
                    stats.volatility_difference,
                    stats.beta,
                    stats.size_tilt,
                ];
                if values.iter().any(|v| !v.is_finite()) {
                    return Some((self.path_range.start + path as u64, name.clone()));
                }
            }
        }
        None
    }

    /// Adds a batch; batches must arrive in path order.
    pub fn absorb(&mut self, batch: &BatchAccumulators) {
        match (&mut self.grid, &batch.grid) {
            (_, None) => {
                self.grid = None;
                self.grid_complete = false;
            }
            (None, Some(grid)) if self.grid_complete => self.grid = Some(grid.clone()),
            (Some(total), Some(grid)) => {
                if total.add(grid).is_err() {
                    self.grid = None;
                    self.grid_complete = false;
                }
            }
            (None, Some(_)) => {}
        }
        let n = batch.n;
        let mut ranked = vec![0.0; n];
        let mut terms = vec![0.0; 2 * n - 1];
        for path in 0..batch.paths {
            let market_log_return = batch.log_total_cap_change[path];
            self.market_log_return.push(market_log_return);
            self.market_control.push(batch.market_control[path]);
            let mut benchmark_log_return = market_log_return;
            if let Some(index) = self.index.as_mut() {
                let values = batch.index_values(path).expect("a batch of an index plan carries the index");
                index.push(values);
                benchmark_log_return = values[crate::engine::accumulators::index_field::LOG_RETURN];
            }
            let moments = batch.benchmark_moments(path);
            let benchmark_volatility = PathStatistics::benchmark_volatility(moments, self.steps, self.steps_per_year);
            self.benchmark_volatility.push(benchmark_volatility);
            for (strategy, per_path) in self.per_path.iter_mut().enumerate() {
                per_path.push(if self.the_market[strategy] {
                    PathStatistics::of_the_benchmark(benchmark_log_return, benchmark_volatility)
                } else {
                    PathStatistics::from_slots(
                        (batch.slots(path, strategy), batch.open_terms(path, strategy)),
                        (benchmark_log_return, moments),
                        self.steps,
                        self.steps_per_year,
                    )
                });
            }
            ranked.copy_from_slice(batch.path_log_caps(path));
            ranked.sort_unstable_by(|a, b| b.total_cmp(a));
            let largest = ranked[0];
            let log_total = largest + ranked.iter().map(|v| (v - largest).exp()).sum::<f64>().ln();
            for (term, log_cap) in terms[..n].iter_mut().zip(&ranked) {
                *term = (log_cap - log_total).exp();
            }
            for (term, pair) in terms[n..].iter_mut().zip(ranked.windows(2)) {
                *term = pair[0] - pair[1];
            }
            self.terminal_sums.add(batch.first_path + path as u64, &self.path_range, &terms);
        }
    }

    /// Mean terminal mu_(k)(T) by rank.
    pub fn capital_distribution(&self) -> Vec<f64> {
        let n = self.terminal_sums.width.div_ceil(2);
        self.terminal_sums.total()[..n].iter().map(|s| s / self.paths() as f64).collect()
    }

    /// Mean terminal gap Y_k(T) by rank.
    pub fn gap_by_rank(&self) -> Vec<f64> {
        let n = self.terminal_sums.width.div_ceil(2);
        self.terminal_sums.total()[n..].iter().map(|s| s / self.paths() as f64).collect()
    }

    /// The benchmark's name: `index`, or `market`.
    pub fn benchmark_name(&self) -> &'static str {
        match self.index {
            Some(_) => INDEX,
            None => MARKET,
        }
    }

    /// The benchmark's log return per path: the index's, or the market's.
    pub fn benchmark_log_return(&self) -> &[f64] {
        self.index.as_ref().map_or(&self.market_log_return, |index| &index.log_return)
    }

    /// The benchmark's control per path: the index's M_rho, or the market's M_mu.
    pub fn benchmark_control(&self) -> &[f64] {
        self.index.as_ref().map_or(&self.market_control, |index| &index.control)
    }

    pub fn years(&self) -> f64 {
        self.steps as f64 / self.steps_per_year
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::accumulators::slot;
    use crate::scenario::Scenario;

    #[test]
    fn market_diagnostics_rank_each_path_before_averaging() {
        let plan = Scenario::from_toml(
            "paths = 2\nyears = 1.0\n[market]\nn = 3\nvol = 0.2\n[[strategies]]\nname = \"equal\"\nweighting = \"equal\"",
        )
        .unwrap()
        .validate()
        .unwrap();
        let mut batch = BatchAccumulators::zeroed(0, 2, 3, 1);
        // Path 0: weights 0.5, 0.3, 0.2 (already ranked); path 1: 0.1, 0.6, 0.3 (unranked),
        // each given as log caps with an arbitrary common offset.
        let weights = [[0.5f64, 0.3, 0.2], [0.1, 0.6, 0.3]];
        for (path, w) in weights.iter().enumerate() {
            for (i, weight) in w.iter().enumerate() {
                batch.log_caps[path * 3 + i] = weight.ln() + 7.0 * path as f64;
            }
            batch.log_total_cap_change[path] = 0.1 * (path + 1) as f64;
            batch.strategy_slots[path * slot::COUNT + slot::RELATIVE] = if path == 0 { 0.05 } else { -0.02 };
        }
        let mut results = Results::new(&plan);
        results.absorb(&batch);
        let expected = [(0.5 + 0.6) / 2.0, (0.3 + 0.3) / 2.0, (0.2 + 0.1) / 2.0];
        for (got, want) in results.capital_distribution().iter().zip(expected) {
            assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        }
        let gaps =
            [((0.5f64 / 0.3).ln() + (0.6f64 / 0.3).ln()) / 2.0, ((0.3f64 / 0.2).ln() + (0.3f64 / 0.1).ln()) / 2.0];
        for (got, want) in results.gap_by_rank().iter().zip(gaps) {
            assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        }
        assert_eq!(results.per_path[0][1].relative_log_return, -0.02);
        assert!((results.per_path[0][0].log_return - 0.15).abs() < 1e-15);
        assert!((results.per_path[0][0].relative_log_return / results.years() - 0.05).abs() < 1e-15);
        assert_eq!(results.first_non_finite(), None);

        batch.strategy_slots[slot::COST] = f64::NAN;
        let mut broken = Results::new(&plan);
        broken.absorb(&batch);
        assert_eq!(broken.first_non_finite(), Some((0, "equal".to_string())));
    }
}
