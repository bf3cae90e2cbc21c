//! The benchmark workloads: the standard one of `benches/peers/`, its scaled
//! variants, the large factor market and Atlas markets.

use crate::market::spec::{Correlation, MarketSpec, ModelKind, PerStock};
use crate::portfolio::spec::{ScreenEntry, StrategySpec, WeightingKind};
use crate::scenario::{BenchmarkSpec, ControlVariate, Scenario, EXAMPLE_SCENARIOS};

/// A strategy of `weighting` rebalanced every `rebalance_every` steps without costs,
/// every other option at its default.
fn strategy_spec(name: &str, weighting: WeightingKind, rebalance_every: u32) -> StrategySpec {
    StrategySpec {
        name: name.to_string(),
        weighting,
        p: None,
        weights: None,
        cap: None,
        k: None,
        buffer: None,
        te_budget: None,
        use_growth: None,
        max_active: None,
        max_turnover: None,
        estimate: None,
        lookback: None,
        shrinkage: None,
        exclude: None,
        rebalance_every,
        cost_bps: 0.0,
    }
}

/// The standard benchmark workload of `benches/peers/`: 100 stocks with initial caps
/// geometric from 100 to 1, vols evenly 0.20 to 0.40, correlation 0.3, arithmetic
/// drift 0.08, 10 years daily; equal and diversity 0.5 rebalanced every step against
/// the market.
pub fn standard_workload(paths: u64) -> Scenario {
    scaled_workload(100, paths, 2520)
}

/// The standard workload's market and strategies at another size: `n` stocks (caps
/// geometric from 100 to 1, vols evenly 0.20 to 0.40, correlation 0.3), `steps` daily
/// steps. The benchmark's scaling sweep.
pub fn scaled_workload(n: usize, paths: u64, steps: u32) -> Scenario {
    let initial_caps: Vec<f64> = (0..n).map(|i| 100f64.powf(1.0 - i as f64 / (n - 1) as f64)).collect();
    let strategy = |name: &str, weighting, p| StrategySpec { p, ..strategy_spec(name, weighting, 1) };
    Scenario {
        name: if (n, steps) == (100, 2520) { "standard-workload".to_string() } else { format!("scaled-workload-{n}") },
        seed: 7,
        paths,
        years: steps as f64 / 252.0,
        steps_per_year: 252,
        control_variate: ControlVariate::default(),
        antithetic: false,
        market: MarketSpec {
            initial_weights: Some(initial_caps),
            growth: None,
            drift: Some(PerStock::One(0.08)),
            vol: Some(PerStock::Ramp { from: 0.20, to: 0.40 }),
            correlation: Some(Correlation::One(0.3)),
            ..MarketSpec::new(ModelKind::Gbm, n)
        },
        // The market portfolio is always simulated as the benchmark.
        benchmark: None,
        strategies: vec![
            strategy("equal", WeightingKind::Equal, None),
            strategy("diversity-0.5", WeightingKind::Diversity, Some(0.5)),
        ],
    }
}

/// The large benchmark workload: the `gbm_factor_500` example's market (500 stocks,
/// a 10-factor covariance), 10 years daily, with the standard workload's strategies.
pub fn large_workload(paths: u64) -> Scenario {
    let text = EXAMPLE_SCENARIOS.iter().find(|(name, _)| *name == "gbm_factor_500").map(|(_, text)| *text);
    let mut scenario = Scenario::from_toml(text.expect("shipped example")).expect("the shipped example parses");
    let standard = standard_workload(paths);
    scenario.name = "large-workload".to_string();
    scenario.seed = standard.seed;
    scenario.paths = paths;
    scenario.years = standard.years;
    scenario.strategies = standard.strategies;
    scenario
}

/// Stocks and factors of the max_growth workload.
pub const MAX_GROWTH_STOCKS: usize = 1000;
const MAX_GROWTH_FACTORS: usize = 10;

/// The max_growth benchmark workload: a 10-factor GBM of 1,000 stocks from a Zipf
/// start (loadings on a market factor from 0.12 to 0.22 and nine sector-like factors
/// of +-0.06, idiosyncratic vols from 15 % to 35 %, growth 7 %), 10 years daily, with
/// diversity 0.76 and equal weight rebalanced monthly and a 2 % tracking-error
/// max_growth on the model's covariance rebalanced quarterly at 10 bp: a strategy
/// whose cost is its optimiser, 40 solves a path.
pub fn max_growth_workload(paths: u64) -> Scenario {
    let n = MAX_GROWTH_STOCKS;
    let loadings: Vec<Vec<f64>> = (0..n)
        .map(|i| {
            let market = 0.12 + 0.10 * i as f64 / (n - 1) as f64;
            std::iter::once(market)
                .chain((1..MAX_GROWTH_FACTORS).map(|f| 0.06 * (1.7 * (i * f) as f64 + 0.3 * f as f64).sin()))
                .collect()
        })
        .collect();
    let idiosyncratic: Vec<f64> = (0..n).map(|i| 0.15 + 0.20 * ((i * 37) % n) as f64 / (n - 1) as f64).collect();
    let strategy = strategy_spec;
    Scenario {
        name: "max-growth-workload".to_string(),
        seed: 11,
        paths,
        years: 10.0,
        steps_per_year: 252,
        control_variate: ControlVariate::default(),
        antithetic: false,
        market: MarketSpec {
            zipf: Some(1.0),
            growth: Some(PerStock::One(0.07)),
            factor_loadings: Some(loadings),
            idiosyncratic_vol: Some(PerStock::List(idiosyncratic)),
            ..MarketSpec::new(ModelKind::Gbm, n)
        },
        benchmark: None,
        strategies: vec![
            StrategySpec { p: Some(0.76), ..strategy("diversity-0.76", WeightingKind::Diversity, 21) },
            strategy("equal", WeightingKind::Equal, 21),
            StrategySpec {
                te_budget: Some(0.02),
                cost_bps: 10.0,
                ..strategy("max-growth-2%", WeightingKind::MaxGrowth, 63)
            },
        ],
    }
}

/// The index benchmark workload: the max_growth workload's market (1,000 stocks, 10
/// factors) with diversity 0.76 and equal weight monthly and diversity 0.5 daily,
/// against an index of its largest 500 reconstituted quarterly with a buffer of 50
/// (`index`), or against the whole market: the pair `bench` compares in one run.
pub fn index_workload(paths: u64, index: bool) -> Scenario {
    let mut scenario = max_growth_workload(paths);
    scenario.name = if index { "index-workload" } else { "index-off-workload" }.to_string();
    scenario.strategies.retain(|s| s.weighting != WeightingKind::MaxGrowth);
    scenario
        .strategies
        .push(StrategySpec { p: Some(0.5), ..strategy_spec("diversity-0.5", WeightingKind::Diversity, 1) });
    scenario.benchmark = index.then_some(BenchmarkSpec { index: Some(500), reconstitute_every: 63, buffer: 50 });
    scenario
}

/// Stocks of the S&P 500 mandate's universe, and the index's size.
pub const MANDATE_STOCKS: usize = 1000;
pub const MANDATE_INDEX: usize = 500;

/// The S&P 500 mandate (docs/open-markets.md): a universe of 1,000 stocks in a
/// 10-factor GBM from a Zipf start (the US market's capital distribution is close to
/// Zipf's), idiosyncratic volatility rising with initial rank from 15 % (the largest)
/// to 40 % (the smallest), the max_growth workload's factor loadings, growth 7 %;
/// the benchmark the index of the largest 500, reconstituted quarterly with a buffer of
/// 50; 10 years daily. Strategies on the index, at 10 bp: diversity 0.76 and equal
/// weight monthly, a 2 % tracking-error max_growth quarterly, and diversity 0.76 under
/// a 25-stock ethical screen (every 20th stock by initial rank: 0, 20, ..., 480).
pub fn sp500_mandate(paths: u64) -> Scenario {
    let mut scenario = max_growth_workload(paths);
    let n = MANDATE_STOCKS;
    scenario.name = "sp500-mandate".to_string();
    scenario.seed = 500;
    scenario.market.idiosyncratic_vol =
        Some(PerStock::List((0..n).map(|i| 0.15 + 0.25 * i as f64 / (n - 1) as f64).collect()));
    scenario.benchmark = Some(BenchmarkSpec { index: Some(MANDATE_INDEX), reconstitute_every: 63, buffer: 50 });
    let costly = |spec: StrategySpec| StrategySpec { cost_bps: 10.0, ..spec };
    scenario.strategies = vec![
        costly(StrategySpec { p: Some(0.76), ..strategy_spec("diversity-0.76", WeightingKind::Diversity, 21) }),
        costly(strategy_spec("equal", WeightingKind::Equal, 21)),
        costly(StrategySpec { te_budget: Some(0.02), ..strategy_spec("max-growth-2%", WeightingKind::MaxGrowth, 63) }),
        costly(StrategySpec {
            p: Some(0.76),
            exclude: Some((0..25).map(|k| ScreenEntry::Stock(20 * k)).collect()),
            ..strategy_spec("diversity-screen", WeightingKind::Diversity, 21)
        }),
    ];
    scenario
}

/// The rank-based benchmark workload: an Atlas market of `n` stocks (vol 0.2, g = 0.02,
/// zipf 1 start, near its stationary curve), 10 years daily, with the standard workload's
/// strategies (equal and diversity 0.5 rebalanced every step).
pub fn rank_workload(n: usize, paths: u64) -> Scenario {
    let mut scenario = standard_workload(paths);
    scenario.name = format!("rank-workload-{n}");
    scenario.market = MarketSpec {
        zipf: Some(1.0),
        growth: Some(PerStock::One(0.07)),
        atlas_g: Some(0.02),
        vol: Some(PerStock::One(0.2)),
        ..MarketSpec::new(ModelKind::Atlas, n)
    };
    scenario
}
