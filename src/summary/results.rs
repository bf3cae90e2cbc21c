//! From batches of per-path accumulators to the run's results: per-path statistics,
//! market diagnostics, and the cross-path summaries of the report (SPT.md section 6).

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

use crate::summary::compare::{break_even_cost_bps, comparisons, Comparison};
use std::ops::Range;

use crate::engine::{BackendInfo, BatchAccumulators, PathStatistics};
use crate::summary::ordered_sums::OrderedSums;
use crate::scenario::{Plan, Scenario};
use crate::summary::stats::{p_outperform, summarize, Proportion, Summary};
use crate::engine::time_grid::TimeGrid;

/// Everything a run produced, path by path, in path order.
#[derive(Debug, Clone)]
pub struct Results {
    pub strategy_names: Vec<String>,
    pub functionally_generated: Vec<bool>,
    /// `per_path[strategy][path]`.
    pub per_path: Vec<Vec<PathStatistics>>,
    /// log Z(T) - log Z(0) per path: the market portfolio's log return.
    pub market_log_return: Vec<f64>,
    /// The global indices of the paths held (the whole run, or one shard's share).
    pub path_range: Range<u64>,
    /// Sums over paths of mu_(k)(T) (ranks largest first), then of the gaps
    /// Y_k(T) = log X_(k) - log X_(k+1), in the order that shards can reproduce.
    pub terminal_sums: OrderedSums,
    /// The strategies through time (None when the backend did not record it).
    pub grid: Option<TimeGrid>,
    /// Whether every batch so far came with its grid.
    grid_complete: bool,
    steps: u32,
    steps_per_year: u32,
}

impl Results {
    /// Bytes the per-path results of `paths` paths of `plan` take (every strategy's
    /// statistics and the market's log return per path).
    pub fn bytes_needed(plan: &Plan, paths: u64) -> u64 {
        let per_path = plan.strategies.len() * std::mem::size_of::<PathStatistics>() + std::mem::size_of::<f64>();
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
            per_path: plan.strategies.iter().map(|_| Vec::with_capacity(capacity)).collect(),
            market_log_return: Vec::with_capacity(capacity),
            path_range,
            terminal_sums: OrderedSums::new(2 * n - 1, plan.paths),
            grid: None,
            grid_complete: true,
            steps: plan.steps,
            steps_per_year: plan.steps_per_year,
        }
    }

    pub fn paths(&self) -> usize {
        self.market_log_return.len()
    }

    /// The paths `path_range.start ..` (in order) already simulated, to be continued:
    /// their statistics, market log returns, cross-path sums and time grid.
    pub fn resumed(
        plan: &Plan,
        path_range: Range<u64>,
        per_path: Vec<Vec<PathStatistics>>,
        market_log_return: Vec<f64>,
        terminal_sums: OrderedSums,
        grid: Option<TimeGrid>,
    ) -> Results {
        let mut results = Results::for_paths(plan, path_range);
        results.grid_complete = grid.is_some() || market_log_return.is_empty();
        results.per_path = per_path;
        results.market_log_return = market_log_return;
        results.terminal_sums = terminal_sums;
        results.grid = grid;
        results
    }

    /// The largest |master-equation residual| over every path and strategy, with the
    /// strategy and path: a check on the decomposition's accuracy (SPT.md section 3).
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
            for (strategy, per_path) in self.per_path.iter_mut().enumerate() {
                per_path.push(PathStatistics::from_slots(
                    batch.slots(path, strategy),
                    market_log_return,
                    self.steps,
                    self.steps_per_year,
                ));
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

    pub fn years(&self) -> f64 {
        self.steps as f64 / self.steps_per_year as f64
    }
}

/// Run facts for the report (`run` in summary.json).
#[derive(Debug, Clone, Serialize)]
pub struct RunInfo {
    #[serde(flatten)]
    pub backend: BackendInfo,
    pub paths: u64,
    pub steps: u32,
    pub stocks: usize,
    pub seconds: f64,
    pub asset_steps_per_second: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct MarketReport {
    pub log_return: Summary,
    pub log_total_cap_change: Summary,
    pub capital_distribution: Vec<f64>,
    pub gap_by_rank: Vec<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Decomposition {
    pub generating_term: Summary,
    pub drift_term: Summary,
    pub cost_term: Summary,
}

#[derive(Debug, Clone, Serialize)]
pub struct StrategyReport {
    pub log_return: Summary,
    pub relative_log_return: Summary,
    pub relative_growth_rate: Summary,
    pub excess_return: Summary,
    pub tracking_error: Summary,
    pub information_ratio: Summary,
    pub max_relative_drawdown: Summary,
    pub turnover: Summary,
    pub p_outperform: Proportion,
    pub decomposition: Option<Decomposition>,
    /// The cost (bp of traded value) at which the mean relative log return is zero;
    /// null when there is none (see `compare::break_even_cost_bps`).
    pub break_even_cost_bps: Option<f64>,
}

/// `summary.json` (DESIGN.md section 3).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub sptlab_version: &'static str,
    pub scenario: Scenario,
    /// What a reproduction needs to know (issue 8's reproducibility record).
    pub manifest: Manifest,
    pub run: RunInfo,
    pub market: MarketReport,
    #[serde(serialize_with = "in_scenario_order")]
    pub strategies: Vec<(String, StrategyReport)>,
    /// Every pair of strategies, then each against the market (`compare.rs`).
    pub comparisons: Vec<Comparison>,
}

/// The run's identity: enough to re-run it and expect the same numbers (exactly on the
/// CPU backend, within tolerance on a GPU).
#[derive(Debug, Clone, Serialize)]
pub struct Manifest {
    pub sptlab_version: &'static str,
    /// The git commit sptlab was built from, when the build could tell.
    pub git_commit: Option<&'static str>,
    /// FNV-1a of the scenario's JSON (the same hash shards carry).
    pub scenario_hash: String,
    pub seed: u64,
    pub backend: &'static str,
    pub adapter: String,
    pub precision: &'static str,
    /// The random-number contract (SPT.md section 7) the paths were drawn under.
    pub rng_contract: &'static str,
}

impl Manifest {
    pub fn of(plan: &Plan, run: &RunInfo) -> Manifest {
        Manifest {
            sptlab_version: env!("CARGO_PKG_VERSION"),
            git_commit: option_env!("SPTLAB_GIT_COMMIT"),
            scenario_hash: crate::output::shard::scenario_hash(&plan.scenario),
            seed: plan.seed,
            backend: run.backend.backend,
            adapter: run.backend.adapter.clone(),
            precision: run.backend.precision.name(),
            rng_contract: crate::output::shard::RNG_CONTRACT,
        }
    }
}

/// Strategies as a JSON object, keys in the scenario's order.
fn in_scenario_order<S: Serializer>(strategies: &[(String, StrategyReport)], serializer: S) -> Result<S::Ok, S::Error> {
    let mut map = serializer.serialize_map(Some(strategies.len()))?;
    for (name, report) in strategies {
        map.serialize_entry(name, report)?;
    }
    map.end()
}

fn summary_of(values: impl Iterator<Item = f64>) -> Summary {
    let values: Vec<f64> = values.collect();
    summarize(&values).expect("a run has at least one path")
}

impl Report {
    pub fn new(plan: &Plan, results: &Results, run: RunInfo) -> Report {
        let years = results.years();
        let market_log_return = summary_of(results.market_log_return.iter().copied());
        let strategies = results
            .strategy_names
            .iter()
            .zip(&results.per_path)
            .zip(&results.functionally_generated)
            .map(|((name, paths), &generated)| {
                let of = |field: fn(&PathStatistics) -> f64| summary_of(paths.iter().map(field));
                let relative: Vec<f64> = paths.iter().map(|p| p.relative_log_return).collect();
                let report = StrategyReport {
                    log_return: of(|p| p.log_return),
                    relative_log_return: of(|p| p.relative_log_return),
                    relative_growth_rate: summary_of(relative.iter().map(|l| l / years)),
                    excess_return: of(|p| p.excess_return),
                    tracking_error: of(|p| p.tracking_error),
                    information_ratio: of(|p| p.information_ratio),
                    max_relative_drawdown: of(|p| p.max_relative_drawdown),
                    turnover: of(|p| p.turnover),
                    p_outperform: p_outperform(&relative),
                    decomposition: generated.then(|| Decomposition {
                        generating_term: of(|p| p.generating_term),
                        drift_term: of(|p| p.drift_term),
                        cost_term: of(|p| p.cost_term),
                    }),
                    break_even_cost_bps: break_even_cost_bps(paths),
                };
                (name.clone(), report)
            })
            .collect();
        Report {
            sptlab_version: env!("CARGO_PKG_VERSION"),
            scenario: plan.scenario.clone(),
            manifest: Manifest::of(plan, &run),
            run,
            market: MarketReport {
                log_return: market_log_return,
                log_total_cap_change: market_log_return,
                capital_distribution: results.capital_distribution(),
                gap_by_rank: results.gap_by_rank(),
            },
            strategies,
            comparisons: comparisons(results),
        }
    }

    /// Strategies and the market from best to worst mean relative log return, joined by
    /// ">" where the paired difference is significant at 95 % and "~" where not.
    pub fn ranking(&self) -> String {
        let names: Vec<String> = self.strategies.iter().map(|(name, _)| name.clone()).collect();
        let means: Vec<f64> = self.strategies.iter().map(|(_, s)| s.relative_log_return.mean).collect();
        crate::summary::compare::ranking(&names, &means, &self.comparisons)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::accumulators::slot;

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
