//! The report of a run (`summary.json`, docs/statistics.md): every statistic of
//! docs/statistics.md summarised across paths, the comparisons, and the run's manifest.

use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;

use crate::data::DataRecord;
use crate::engine::{BackendInfo, BackendKind, PathStatistics, Precision};
use crate::provenance::{scenario_hash, GIT_COMMIT, RNG_CONTRACT, SPTLAB_VERSION};
use crate::scenario::ControlVariate;
use crate::scenario::{Plan, Scenario};
use crate::summary::compare::{break_even_cost_bps, comparisons, Comparison};
use crate::summary::history::HistoryReport;
use crate::summary::results::Results;
use crate::summary::stats::{Estimation, Proportion, Summary, Units};

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
    /// 0 without an index (docs/open-markets.md).
    pub leakage_term: Summary,
    /// 0 without a screen.
    pub screen_term: Summary,
}

/// Whether the benchmark is the whole market or an index of its largest stocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BenchmarkKind {
    Market,
    Index,
}

/// The benchmark's own figures (`benchmark` in summary.json, docs/open-markets.md): the
/// whole market's without an index (the index's fields null then).
#[derive(Debug, Clone, Serialize)]
pub struct BenchmarkReport {
    pub kind: BenchmarkKind,
    /// K: the index holds the K largest stocks.
    pub index: Option<usize>,
    pub reconstitute_every: Option<u32>,
    pub buffer: Option<usize>,
    pub log_return: Summary,
    /// The sd of its one-step simple returns, annualised (docs/statistics.md).
    pub volatility: Summary,
    /// Half the traded weight per year at reconstitutions (0 for the market: never traded).
    pub turnover: Summary,
}

#[derive(Debug, Clone, Serialize)]
pub struct StrategyReport {
    pub log_return: Summary,
    pub relative_log_return: Summary,
    pub relative_growth_rate: Summary,
    pub excess_return: Summary,
    pub tracking_error: Summary,
    /// Over the paths whose tracking error is more than rounding; null when none is.
    pub information_ratio: Option<Summary>,
    pub max_relative_drawdown: Summary,
    pub turnover: Summary,
    /// Null when the strategy is the market to rounding on every path (a tie).
    pub p_outperform: Option<Proportion>,
    pub decomposition: Option<Decomposition>,
    /// The cost (bp of traded value) at which the mean relative log return is zero;
    /// null when there is none (see `compare::break_even_cost_bps`).
    pub break_even_cost_bps: Option<f64>,
    /// Absolute risk beside the benchmark's (docs/statistics.md): the volatility of its
    /// one-step returns, its difference from the benchmark's on the same path, beta, and
    /// the size tilt against the benchmark at rebalances and its drift.
    pub volatility: Summary,
    pub volatility_difference: Summary,
    pub beta: Summary,
    pub size_tilt: Summary,
    /// Over the paths with at least two rebalances; null when none has.
    pub size_tilt_drift: Option<Summary>,
    /// The share of paths whose volatility is at most the benchmark's; with L > 0 too.
    /// Null, as p_outperform, when the strategy is the benchmark to rounding.
    pub p_less_risk: Option<Proportion>,
    pub p_outperform_less_risk: Option<Proportion>,
    /// The historical outcome and its percentile among the paths (`run --history`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<HistoryReport>,
}

/// What summary.json records of `run --history`'s data.
#[derive(Debug, Clone, Serialize)]
pub struct HistorySource {
    pub data: DataRecord,
    /// The historical path's horizon in years.
    pub years: f64,
}

/// `summary.json` (docs/statistics.md).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub sptlab_version: &'static str,
    pub scenario: Scenario,
    /// What a reproduction needs to know (issue 8's reproducibility record).
    pub manifest: Manifest,
    pub run: RunInfo,
    pub market: MarketReport,
    pub benchmark: BenchmarkReport,
    #[serde(serialize_with = "in_scenario_order")]
    pub strategies: Vec<(String, StrategyReport)>,
    /// Every pair of strategies, then each against the market (`compare.rs`).
    pub comparisons: Vec<Comparison>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<HistorySource>,
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
    pub backend: BackendKind,
    pub adapter: String,
    pub precision: Precision,
    /// The random-number contract (docs/reproducibility.md) the paths were drawn under.
    pub rng_contract: &'static str,
    /// The bootstrap market's data: its absolute path and SHA-256 (also in the scenario).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<DataFile>,
}

/// A data file a run read, by path and content.
#[derive(Debug, Clone, Serialize)]
pub struct DataFile {
    pub path: String,
    pub sha256: String,
}

impl Manifest {
    pub fn of(plan: &Plan, run: &RunInfo) -> Manifest {
        Manifest {
            sptlab_version: SPTLAB_VERSION,
            git_commit: GIT_COMMIT,
            scenario_hash: scenario_hash(&plan.scenario),
            seed: plan.seed,
            backend: run.backend.backend,
            adapter: run.backend.adapter.clone(),
            precision: run.backend.precision,
            rng_contract: RNG_CONTRACT,
            data: plan
                .scenario
                .market
                .data
                .clone()
                .zip(plan.scenario.market.data_sha256.clone())
                .map(|(path, sha256)| DataFile { path, sha256 }),
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

/// A figure summarised over the paths where it is defined (`value` is `Some`): null
/// when it is nowhere; the paths left count as paths, not pairs, when some of a paired
/// run's paths have none.
fn where_defined(
    paths: &[PathStatistics],
    estimation: Estimation,
    value: impl Fn(&PathStatistics) -> Option<f64>,
) -> Option<Summary> {
    let defined: Vec<f64> = paths.iter().filter_map(value).collect();
    match defined.len() {
        0 => None,
        all if all == paths.len() => Some(estimation.summary(&defined)),
        _ => Some(Estimation { units: Units::Paths, ..estimation }.summary(&defined)),
    }
}

/// How `plan`'s results are summarised: pairs as units under antithetic sampling, and
/// controlled means unless the control is off (docs/control-variates.md).
pub fn estimation_of(plan: &Plan) -> Estimation {
    Estimation { units: Units::of(plan.antithetic), controlled: plan.control_variate == ControlVariate::Martingale }
}

/// The benchmark's figures: the index's, or (`market_log_return` summarised) the market's.
fn benchmark_report(
    plan: &Plan,
    results: &Results,
    estimation: Estimation,
    market_log_return: Summary,
) -> BenchmarkReport {
    let per_year = 1.0 / results.years();
    match (&results.index, plan.index) {
        (Some(index), Some(rule)) => {
            let turnover: Vec<f64> = index.traded.iter().map(|t| t * per_year).collect();
            BenchmarkReport {
                kind: BenchmarkKind::Index,
                index: Some(rule.k),
                reconstitute_every: Some(rule.every),
                buffer: Some(rule.buffer),
                log_return: estimation.summary_with_control(&index.log_return, &index.control),
                volatility: estimation.summary(&results.benchmark_volatility),
                turnover: estimation.summary(&turnover),
            }
        }
        _ => BenchmarkReport {
            kind: BenchmarkKind::Market,
            index: None,
            reconstitute_every: None,
            buffer: None,
            log_return: market_log_return,
            volatility: estimation.summary(&results.benchmark_volatility),
            turnover: estimation.summary(&vec![0.0; results.paths()]),
        },
    }
}

impl Report {
    pub fn new(plan: &Plan, results: &Results, run: RunInfo) -> Report {
        let years = results.years();
        let estimation = estimation_of(plan);
        let rounding = results.rounding(run.backend.precision);
        let market_log_return = estimation.summary_with_control(&results.market_log_return, &results.market_control);
        let strategies = results
            .strategy_names
            .iter()
            .zip(&results.per_path)
            .zip(&results.functionally_generated)
            .enumerate()
            .map(|(index, ((name, paths), &generated))| {
                let values = |field: fn(&PathStatistics) -> f64| paths.iter().map(field).collect::<Vec<f64>>();
                let of = |field: fn(&PathStatistics) -> f64| estimation.summary(&values(field));
                // M_pi for the relative statistics, M_pi + M_mu for the strategy's own log return.
                let control = values(|p| p.control_term);
                let own_control: Vec<f64> =
                    control.iter().zip(results.benchmark_control()).map(|(a, b)| a + b).collect();
                let relative = values(|p| p.relative_log_return);
                let growth: Vec<f64> = relative.iter().map(|l| l / years).collect();
                // The market itself to rounding on every path: no interval, share or IR
                // may claim a difference.
                let tie = relative.iter().all(|l| rounding.is_tie(*l, 0.0));
                let relative_figure = |values: &[f64]| {
                    let summary = estimation.summary_with_control(values, &control);
                    if tie {
                        summary.without_interval()
                    } else {
                        summary
                    }
                };
                let report = StrategyReport {
                    log_return: estimation.summary_with_control(&values(|p| p.log_return), &own_control),
                    relative_log_return: relative_figure(&relative),
                    relative_growth_rate: relative_figure(&growth),
                    excess_return: relative_figure(&values(|p| p.excess_return)),
                    tracking_error: of(|p| p.tracking_error),
                    // Where the tracking error is more than rounding.
                    information_ratio: where_defined(paths, estimation, |p| rounding.information_ratio(p)),
                    max_relative_drawdown: of(|p| p.max_relative_drawdown),
                    turnover: of(|p| p.turnover),
                    p_outperform: (!tie).then(|| estimation.p_outperform(&relative)),
                    decomposition: generated.then(|| Decomposition {
                        generating_term: of(|p| p.generating_term),
                        drift_term: of(|p| p.drift_term),
                        cost_term: of(|p| p.cost_term),
                        leakage_term: of(|p| p.leakage_term),
                        screen_term: of(|p| p.screen_term),
                    }),
                    break_even_cost_bps: break_even_cost_bps(paths),
                    volatility: of(|p| p.volatility),
                    volatility_difference: if tie {
                        of(|p| p.volatility_difference).without_interval()
                    } else {
                        of(|p| p.volatility_difference)
                    },
                    beta: of(|p| p.beta),
                    size_tilt: of(|p| p.size_tilt),
                    // Where a path has two rebalances or more.
                    size_tilt_drift: where_defined(paths, estimation, |p| {
                        Some(p.size_tilt_drift).filter(|d| !d.is_nan())
                    }),
                    p_less_risk: (!tie).then(|| estimation.p_less_risk(paths, rounding, false)),
                    p_outperform_less_risk: (!tie).then(|| estimation.p_less_risk(paths, rounding, true)),
                    history: results
                        .history
                        .as_ref()
                        .map(|history| history.report(index, (&relative, &values(|p| p.volatility_difference)))),
                };
                (name.clone(), report)
            })
            .collect();
        Report {
            sptlab_version: SPTLAB_VERSION,
            scenario: plan.scenario.clone(),
            manifest: Manifest::of(plan, &run),
            run,
            market: MarketReport {
                log_return: market_log_return,
                log_total_cap_change: market_log_return,
                capital_distribution: results.capital_distribution(),
                gap_by_rank: results.gap_by_rank(),
            },
            benchmark: benchmark_report(plan, results, estimation, market_log_return),
            strategies,
            comparisons: comparisons(results, estimation, rounding),
            history: results
                .history
                .as_ref()
                .map(|history| HistorySource { data: history.data.clone(), years: history.years }),
        }
    }

    /// Whether the run is an open market (docs/open-markets.md): an index benchmark, or
    /// a strategy under a screen.
    pub fn is_open_market(&self) -> bool {
        self.benchmark.kind == BenchmarkKind::Index
            || self.scenario.strategies.iter().any(|s| s.exclude.as_ref().is_some_and(|e| !e.is_empty()))
    }

    /// Strategies and the market from best to worst mean relative log return (controlled
    /// when the run has the control), joined by ">" where the paired difference is
    /// significant at 95 % and "~" where not.
    pub fn ranking(&self) -> String {
        let names: Vec<String> = self.strategies.iter().map(|(name, _)| name.clone()).collect();
        let means: Vec<f64> = self.strategies.iter().map(|(_, s)| s.relative_log_return.estimate().mean).collect();
        let benchmark = match self.benchmark.kind {
            BenchmarkKind::Market => crate::summary::compare::MARKET,
            BenchmarkKind::Index => crate::summary::compare::INDEX,
        };
        crate::summary::compare::ranking(&names, &means, benchmark, &self.comparisons)
    }
}
