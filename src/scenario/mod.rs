//! The scenario file (DESIGN.md section 2): its TOML schema, defaults, overrides,
//! and validation into a [`Plan`] that the backends can trust.
//!
//! Raw input is parsed once into [`Scenario`] (serde, unknown fields rejected),
//! then [`Scenario::validate`] checks every field and builds the plan. Every
//! error names the field and the reason.

use serde::{Deserialize, Serialize};

use std::sync::Arc;

pub mod toml_read;

use crate::numeric::shrinkage::Shrinkage;
use crate::market::Market;
use crate::portfolio::optimize::{CovarianceBelief, MaxGrowthProblem, TrailingEstimate};
use crate::portfolio::{Strategy, Weighting};

/// The embedded default scenario: `sptlab run` without a file, `sptlab example`.
pub const DEFAULT_SCENARIO: &str = include_str!("../../examples/scenarios/default.toml");

/// The example scenarios shipped in examples/scenarios/, by name, for `sptlab example NAME`.
pub const EXAMPLE_SCENARIOS: [(&str, &str); 8] = [
    ("default", DEFAULT_SCENARIO),
    ("atlas", include_str!("../../examples/scenarios/atlas.toml")),
    ("first_order", include_str!("../../examples/scenarios/first_order.toml")),
    ("vsm", include_str!("../../examples/scenarios/vsm.toml")),
    ("gbm_factor_500", include_str!("../../examples/scenarios/gbm_factor_500.toml")),
    ("calibrated_sp500_20", include_str!("../../examples/scenarios/calibrated_sp500_20.toml")),
    ("costs", include_str!("../../examples/scenarios/costs.toml")),
    ("te_budget", include_str!("../../examples/scenarios/te_budget.toml")),
];

/// Largest number of paths: the path index is one 32-bit word of the Philox counter.
pub const MAX_PATHS: u64 = u32::MAX as u64;
/// Largest number of steps: the step index is one 32-bit word of the Philox counter.
pub const MAX_STEPS: u64 = u32::MAX as u64;
/// Most strategies in one scenario: summary.json compares every pair (32,640 pairs at 256).
pub const MAX_STRATEGIES: usize = 256;
/// Longest strategy name, in characters (names are table labels and JSON keys).
pub const MAX_NAME_CHARS: usize = 64;
/// Smallest |p| of a diversity weighting: log G = log(sum mu^p) / p grows as 1/p, and
/// below this f32 keeps too few of its digits (use weighting = "equal", the limit p -> 0).
pub const MIN_DIVERSITY_P: f64 = 1e-3;
/// Most negative p of a diversity weighting: mu^p of a small stock overflows f32 beyond it.
pub const MOST_NEGATIVE_DIVERSITY_P: f64 = -100.0;

/// A bad input: the field (a dotted path such as `market.vol[3]`) and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScenarioError {
    /// TOML syntax errors, unknown fields and wrong types, with their line and column.
    #[error("{0}")]
    Parse(String),
    #[error("{field}: {reason}")]
    Invalid { field: String, reason: String },
    /// Every problem one pass found, in the order found, one per line.
    #[error("{}", lines(.0))]
    Several(Vec<ScenarioError>),
}

fn lines(problems: &[ScenarioError]) -> String {
    problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n")
}

impl ScenarioError {
    /// The single problems, flattened (one for a single error).
    pub fn problems(&self) -> Vec<&ScenarioError> {
        match self {
            ScenarioError::Several(list) => list.iter().flat_map(ScenarioError::problems).collect(),
            single => vec![single],
        }
    }
}

pub(crate) fn invalid(field: impl Into<String>, reason: impl Into<String>) -> ScenarioError {
    ScenarioError::Invalid { field: field.into(), reason: reason.into() }
}

/// Collects problems so that one pass over an input reports all of them: each check
/// that does not block the others records its error and the pass goes on.
#[derive(Debug, Default)]
pub(crate) struct Problems(Vec<ScenarioError>);

impl Problems {
    pub fn push(&mut self, error: ScenarioError) {
        match error {
            ScenarioError::Several(list) => list.into_iter().for_each(|e| self.push(e)),
            single => self.0.push(single),
        }
    }

    /// The value of a check that passed; records the error of one that failed.
    pub fn check<T>(&mut self, result: Result<T, ScenarioError>) -> Option<T> {
        result.map_err(|error| self.push(error)).ok()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The problems found, for a caller that knows some check failed.
    pub fn into_error(self) -> ScenarioError {
        self.into_result(|| ()).err().unwrap_or_else(|| invalid("input", "failed a check that recorded no reason"))
    }

    /// `value` when nothing was found; else the one problem, or all of them.
    pub fn into_result<T>(mut self, value: impl FnOnce() -> T) -> Result<T, ScenarioError> {
        match self.0.len() {
            0 => Ok(value()),
            1 => Err(self.0.remove(0)),
            _ => Err(ScenarioError::Several(self.0)),
        }
    }
}

/// A per-stock parameter: one number for every stock, a list of n, or an even
/// ramp from the largest stock (`from`) to the smallest (`to`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PerStock {
    One(f64),
    List(Vec<f64>),
    Ramp { from: f64, to: f64 },
}

impl PerStock {
    /// The n values, checked for length and finiteness.
    pub fn expand(&self, n: usize, field: &str) -> Result<Vec<f64>, ScenarioError> {
        let values = match self {
            PerStock::One(value) => vec![*value; n],
            PerStock::List(values) => {
                if values.len() != n {
                    return Err(invalid(field, format!("has {} values, expected n = {n}", values.len())));
                }
                values.clone()
            }
            PerStock::Ramp { from, to } => {
                (0..n).map(|i| if n == 1 { *from } else { from + (to - from) * i as f64 / (n - 1) as f64 }).collect()
            }
        };
        let mut problems = Problems::default();
        for (i, value) in values.iter().enumerate() {
            // One value given for every stock is one problem (NaN != NaN, hence the bit compare).
            if values[..i].iter().any(|earlier| earlier.to_bits() == value.to_bits()) {
                continue;
            }
            if !value.is_finite() {
                problems.push(invalid(format!("{field}[{i}]"), format!("must be a finite number, got {value}")));
            }
        }
        problems.into_result(|| values)
    }
}

/// Correlation: one number for every pair, or a full n x n matrix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Correlation {
    One(f64),
    Matrix(Vec<Vec<f64>>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    Gbm,
    Atlas,
    FirstOrder,
    Vsm,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarketSpec {
    #[serde(default = "default_model")]
    pub model: ModelKind,
    pub n: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zipf: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_weights: Option<Vec<f64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub growth: Option<PerStock>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<PerStock>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vol: Option<PerStock>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation: Option<Correlation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub covariance: Option<Vec<Vec<f64>>>,
    /// Factor model: B, n rows of K loadings (per year, like vol).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub factor_loadings: Option<Vec<Vec<f64>>>,
    /// Factor model: the idiosyncratic vol s_i, Sigma = B B^T + diag(s^2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idiosyncratic_vol: Option<PerStock>,
    /// Atlas: g > 0; every rank but the last gets -g, the last (n - 1) g.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub atlas_g: Option<f64>,
    /// First-order: g_1 .. g_n by rank (largest first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rank_growth: Option<Vec<f64>>,
    /// First-order: sigma_1 .. sigma_n by rank (largest first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rank_vol: Option<PerStock>,
    /// Volatility-stabilised model: alpha >= 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alpha: Option<f64>,
}

fn default_model() -> ModelKind {
    ModelKind::Gbm
}

impl MarketSpec {
    /// A spec with only the model and n set (every optional field absent).
    pub fn new(model: ModelKind, n: usize) -> MarketSpec {
        MarketSpec {
            model,
            n,
            zipf: None,
            initial_weights: None,
            growth: None,
            drift: None,
            vol: None,
            correlation: None,
            covariance: None,
            factor_loadings: None,
            idiosyncratic_vol: None,
            atlas_g: None,
            rank_growth: None,
            rank_vol: None,
            alpha: None,
        }
    }

    /// The optional fields that are present, by name (for "this model does not take X" errors).
    pub fn present_fields(&self) -> Vec<&'static str> {
        let fields = [
            ("zipf", self.zipf.is_some()),
            ("initial_weights", self.initial_weights.is_some()),
            ("growth", self.growth.is_some()),
            ("drift", self.drift.is_some()),
            ("vol", self.vol.is_some()),
            ("correlation", self.correlation.is_some()),
            ("covariance", self.covariance.is_some()),
            ("factor_loadings", self.factor_loadings.is_some()),
            ("idiosyncratic_vol", self.idiosyncratic_vol.is_some()),
            ("atlas_g", self.atlas_g.is_some()),
            ("rank_growth", self.rank_growth.is_some()),
            ("rank_vol", self.rank_vol.is_some()),
            ("alpha", self.alpha.is_some()),
        ];
        fields.into_iter().filter(|(_, present)| *present).map(|(name, _)| name).collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WeightingKind {
    Market,
    Equal,
    Diversity,
    Entropy,
    Constant,
    Capped,
    TopK,
    MaxGrowth,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StrategySpec {
    pub name: String,
    pub weighting: WeightingKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<Vec<f64>>,
    /// The `capped` weighting's largest weight per stock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cap: Option<f64>,
    /// The `top_k` weighting's number of stocks held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub k: Option<usize>,
    /// The `top_k` weighting's band: a stock held stays while ranked within k + buffer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buffer: Option<usize>,
    /// `max_growth`: the ex-ante tracking-error budget per year (0.02 = 2 %).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub te_budget: Option<f64>,
    /// `max_growth`: whether the objective includes pi' gamma (the model's growth rates).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_growth: Option<bool>,
    /// `max_growth`: |pi_i - mu_i| at most this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_active: Option<f64>,
    /// `max_growth`: half the traded weight per rebalance at most.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_turnover: Option<f64>,
    /// `max_growth`: the covariance it believes: "true" (the model's) or "trailing".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimate: Option<Estimate>,
    /// `max_growth` with `estimate = "trailing"`: steps of returns to estimate from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lookback: Option<usize>,
    /// `max_growth` with `estimate = "trailing"`: correlation shrinkage toward the
    /// identity, "auto" (Ledoit-Wolf) or an intensity in [0, 1].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shrinkage: Option<ShrinkageSpec>,
    #[serde(default = "default_rebalance_every")]
    pub rebalance_every: u32,
    #[serde(default)]
    pub cost_bps: f64,
}

/// The covariance a max_growth strategy believes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Estimate {
    True,
    Trailing,
}

/// "auto" or an intensity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ShrinkageSpec {
    Intensity(f64),
    Named(String),
}

fn default_rebalance_every() -> u32 {
    1
}

/// The scenario as written (after defaults and command-line overrides).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    #[serde(default = "default_name")]
    pub name: String,
    #[serde(default = "default_seed")]
    pub seed: u64,
    #[serde(default = "default_paths")]
    pub paths: u64,
    #[serde(default = "default_years")]
    pub years: f64,
    #[serde(default = "default_steps_per_year")]
    pub steps_per_year: u32,
    pub market: MarketSpec,
    #[serde(default)]
    pub strategies: Vec<StrategySpec>,
}

fn default_name() -> String {
    "unnamed".to_string()
}
fn default_seed() -> u64 {
    42
}
fn default_paths() -> u64 {
    10_000
}
fn default_years() -> f64 {
    10.0
}
fn default_steps_per_year() -> u32 {
    252
}

/// Command-line values that replace the file's.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub paths: Option<u64>,
    pub years: Option<f64>,
    pub seed: Option<u64>,
}

/// A validated run: everything a backend needs, in model units.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The effective scenario (for the report).
    pub scenario: Scenario,
    pub paths: u64,
    pub steps: u32,
    pub steps_per_year: u32,
    pub seed: u64,
    pub market: Market,
    pub strategies: Vec<Strategy>,
    /// The horizon asked for, when it was not a whole number of steps: the run
    /// simulates the nearest whole number, and its scenario records that horizon.
    pub asked_years: Option<f64>,
}

impl Plan {
    pub fn n(&self) -> usize {
        self.market.n()
    }
    /// Simulated horizon in years (whole steps).
    pub fn years(&self) -> f64 {
        self.steps as f64 / self.steps_per_year as f64
    }
    /// Step length Δ in years.
    pub fn dt(&self) -> f64 {
        1.0 / self.steps_per_year as f64
    }
}

/// The standard benchmark workload of `../shared/peers/`: 100 stocks with initial caps
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
    let strategy = |name: &str, weighting, p| StrategySpec {
        name: name.to_string(),
        weighting,
        p,
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
        rebalance_every: 1,
        cost_bps: 0.0,
    };
    Scenario {
        name: if (n, steps) == (100, 2520) { "standard-workload".to_string() } else { format!("scaled-workload-{n}") },
        seed: 7,
        paths,
        years: steps as f64 / 252.0,
        steps_per_year: 252,
        market: MarketSpec {
            initial_weights: Some(initial_caps),
            growth: None,
            drift: Some(PerStock::One(0.08)),
            vol: Some(PerStock::Ramp { from: 0.20, to: 0.40 }),
            correlation: Some(Correlation::One(0.3)),
            ..MarketSpec::new(ModelKind::Gbm, n)
        },
        // The market portfolio is always simulated as the benchmark.
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

impl Scenario {
    /// Parses TOML; syntax errors, wrong types and unknown fields are reported with their location.
    pub fn from_toml(text: &str) -> Result<Scenario, ScenarioError> {
        // Stand-ins for the required keys, so that a bad one does not hide later problems.
        const REQUIRED: &str = "n = 2\nname = \"stand-in\"\nweighting = \"equal\"\nmarket = { n = 2 }";
        crate::scenario::toml_read::read_all(text, REQUIRED).map_err(|problems| {
            let mut collected = Problems::default();
            problems.into_iter().for_each(|problem| collected.push(ScenarioError::Parse(problem)));
            collected.into_error()
        })
    }

    /// The embedded default scenario.
    pub fn default_scenario() -> Scenario {
        Scenario::from_toml(DEFAULT_SCENARIO).expect("the embedded default scenario parses")
    }

    pub fn apply(&mut self, overrides: &Overrides) {
        if let Some(paths) = overrides.paths {
            self.paths = paths;
        }
        if let Some(years) = overrides.years {
            self.years = years;
        }
        if let Some(seed) = overrides.seed {
            self.seed = seed;
        }
    }

    /// Checks every field and builds the plan; reports every problem found, not just the first.
    pub fn validate(&self) -> Result<Plan, ScenarioError> {
        let mut problems = Problems::default();
        if self.paths == 0 {
            problems.push(invalid("paths", "must be at least 1"));
        } else if self.paths > MAX_PATHS {
            problems.push(invalid("paths", format!("must be at most {MAX_PATHS}")));
        }
        let mut steps = None;
        if !(self.years.is_finite() && self.years > 0.0) {
            problems.push(invalid("years", format!("must be a positive number, got {}", self.years)));
        } else if self.steps_per_year == 0 {
            problems.push(invalid("steps_per_year", "must be at least 1"));
        } else {
            let count = (self.years * self.steps_per_year as f64).round();
            if count < 1.0 {
                problems.push(invalid("years", "is shorter than one step"));
            } else if count > MAX_STEPS as f64 {
                problems.push(invalid("years", format!("gives more than {MAX_STEPS} steps")));
            } else {
                steps = Some(count as u32);
            }
        }
        if self.name.chars().any(char::is_control) {
            problems.push(invalid("name", "must not contain control characters"));
        }
        if self.strategies.len() > MAX_STRATEGIES {
            problems.push(invalid(
                "strategies",
                format!(
                    "{} strategies; at most {MAX_STRATEGIES}: every pair is compared, and the comparisons grow \
                     with the square of the count",
                    self.strategies.len()
                ),
            ));
        }
        let market = problems.check(Market::from_spec(&self.market));
        if self.strategies.is_empty() {
            problems.push(invalid("strategies", "list at least one [[strategies]] entry"));
        }
        // With a bad market the strategies are still checked, against a stand-in market
        // of the same kind and size, so that one pass reports their problems too.
        let stand_in = match &market {
            None if (2..=crate::market::MAX_STOCKS).contains(&self.market.n) => {
                Some(Market::stand_in(self.market.model, self.market.n))
            }
            _ => None,
        };
        let mut strategies = Vec::with_capacity(self.strategies.len());
        for (index, spec) in self.strategies.iter().enumerate() {
            let field = format!("strategies[{index}]");
            if self.strategies[..index].iter().any(|earlier| earlier.name == spec.name) {
                problems.push(invalid(format!("{field}.name"), format!("\"{}\" is used twice", spec.name)));
            }
            if let Some(market) = market.as_ref().or(stand_in.as_ref()) {
                if let Some(strategy) = problems.check(Strategy::from_spec(spec, market, self.steps_per_year, &field)) {
                    strategies.push(strategy);
                }
            }
        }
        match (market, steps) {
            (Some(market), Some(steps)) if problems.is_empty() => {
                // The horizon the run simulates is the one it reports.
                let mut scenario = self.clone();
                let whole = steps as f64 / self.steps_per_year as f64;
                let exact = (self.years * self.steps_per_year as f64 - steps as f64).abs() <= 1e-9 * steps as f64;
                let asked_years = (!exact).then_some(self.years);
                if !exact {
                    scenario.years = whole;
                }
                Ok(Plan {
                    scenario,
                    paths: self.paths,
                    steps,
                    steps_per_year: self.steps_per_year,
                    seed: self.seed,
                    market,
                    strategies,
                    asked_years,
                })
            }
            _ => Err(problems.into_error()),
        }
    }
}

impl Weighting {
    /// The weighting of a strategy entry, with its parameters checked.
    pub fn from_spec(
        spec: &StrategySpec,
        market: &Market,
        steps_per_year: u32,
        field: &str,
    ) -> Result<Weighting, ScenarioError> {
        let n = market.n();
        let takes_p = matches!(spec.weighting, WeightingKind::Diversity | WeightingKind::TopK);
        let takes_budget = spec.weighting == WeightingKind::MaxGrowth;
        let mut problems = Problems::default();
        for (name, present, allowed, who) in [
            ("te_budget", spec.te_budget.is_some(), takes_budget, "the \"max_growth\" weighting takes"),
            ("use_growth", spec.use_growth.is_some(), takes_budget, "the \"max_growth\" weighting takes"),
            ("max_active", spec.max_active.is_some(), takes_budget, "the \"max_growth\" weighting takes"),
            ("max_turnover", spec.max_turnover.is_some(), takes_budget, "the \"max_growth\" weighting takes"),
            ("estimate", spec.estimate.is_some(), takes_budget, "the \"max_growth\" weighting takes"),
            ("lookback", spec.lookback.is_some(), takes_budget, "the \"max_growth\" weighting takes"),
            ("shrinkage", spec.shrinkage.is_some(), takes_budget, "the \"max_growth\" weighting takes"),
            ("k", spec.k.is_some(), spec.weighting == WeightingKind::TopK, "the \"top_k\" weighting takes"),
            ("buffer", spec.buffer.is_some(), spec.weighting == WeightingKind::TopK, "the \"top_k\" weighting takes"),
            ("cap", spec.cap.is_some(), spec.weighting == WeightingKind::Capped, "the \"capped\" weighting takes"),
            ("p", spec.p.is_some(), takes_p, "the \"diversity\" and \"top_k\" weightings take"),
            (
                "weights",
                spec.weights.is_some(),
                spec.weighting == WeightingKind::Constant,
                "the \"constant\" weighting takes",
            ),
        ] {
            if present && !allowed {
                problems.push(invalid(format!("{field}.{name}"), format!("only {who} {name}")));
            }
        }
        problems.into_result(|| ())?;
        Ok(match spec.weighting {
            WeightingKind::Market => Weighting::Market,
            WeightingKind::Equal => Weighting::Equal,
            WeightingKind::Entropy => Weighting::Entropy,
            WeightingKind::Diversity => {
                let p = spec.p.ok_or_else(|| invalid(format!("{field}.p"), "the diversity weighting needs p"))?;
                if !(p.is_finite() && p < 1.0 && p != 0.0) {
                    return Err(invalid(format!("{field}.p"), format!("must be below 1 and not 0, got {p}")));
                }
                if p.abs() < MIN_DIVERSITY_P || p < MOST_NEGATIVE_DIVERSITY_P {
                    return Err(invalid(
                        format!("{field}.p"),
                        format!(
                            "{p:?} is outside [{MOST_NEGATIVE_DIVERSITY_P}, -{MIN_DIVERSITY_P}] and \
                             [{MIN_DIVERSITY_P}, 1): log G = log(sum mu^p)/p loses its digits as p nears 0 \
                             (weighting = \"equal\" is the limit), and mu^p overflows for very negative p"
                        ),
                    ));
                }
                Weighting::Diversity { p }
            }
            WeightingKind::Constant => {
                let weights = spec
                    .weights
                    .as_ref()
                    .ok_or_else(|| invalid(format!("{field}.weights"), "the constant weighting needs weights"))?;
                if weights.len() != n {
                    return Err(invalid(
                        format!("{field}.weights"),
                        format!("has {} values, expected n = {n}", weights.len()),
                    ));
                }
                for (i, w) in weights.iter().enumerate() {
                    if !(w.is_finite() && *w >= 0.0) {
                        return Err(invalid(format!("{field}.weights[{i}]"), format!("must be >= 0, got {w}")));
                    }
                }
                let total: f64 = weights.iter().sum();
                if (total - 1.0).abs() > 1e-6 {
                    return Err(invalid(format!("{field}.weights"), format!("must sum to 1, they sum to {total}")));
                }
                Weighting::Constant { weights: weights.iter().map(|w| w / total).collect() }
            }
            WeightingKind::Capped => {
                let cap = spec.cap.ok_or_else(|| invalid(format!("{field}.cap"), "the capped weighting needs cap"))?;
                // n stocks at the cap must hold everything: cap >= 1/n (tolerating rounding in 1/n).
                if !(cap.is_finite() && cap <= 1.0 && cap * n as f64 >= 1.0 - 1e-12) {
                    return Err(invalid(
                        format!("{field}.cap"),
                        format!(
                            "must be in [1/n, 1] = [{:.6}, 1] so that the weights can sum to one, got {cap}",
                            1.0 / n as f64
                        ),
                    ));
                }
                Weighting::Capped { cap }
            }
            WeightingKind::TopK => {
                let k = spec.k.ok_or_else(|| invalid(format!("{field}.k"), "the top_k weighting needs k"))?;
                if !(1..=n).contains(&k) {
                    return Err(invalid(format!("{field}.k"), format!("must be between 1 and n = {n}, got {k}")));
                }
                let buffer = spec.buffer.unwrap_or(0);
                if buffer > n {
                    return Err(invalid(format!("{field}.buffer"), format!("must be at most n = {n}, got {buffer}")));
                }
                // p = 1 weights the k stocks by cap; p < 1 tilts toward the smaller ones.
                let p = spec.p.unwrap_or(1.0);
                if !(p.is_finite() && p <= 1.0 && p != 0.0) {
                    return Err(invalid(format!("{field}.p"), format!("must be at most 1 and not 0, got {p}")));
                }
                Weighting::TopK { k, buffer, p }
            }
            WeightingKind::MaxGrowth => {
                let te_budget = spec.te_budget.ok_or_else(|| {
                    invalid(format!("{field}.te_budget"), "max_growth needs te_budget (per year, e.g. 0.02)")
                })?;
                if !(te_budget.is_finite() && te_budget > 0.0 && te_budget <= 10.0) {
                    return Err(invalid(
                        format!("{field}.te_budget"),
                        format!("must be in (0, 10] per year, got {te_budget}"),
                    ));
                }
                if let Some(m) = spec.max_active {
                    if !(m.is_finite() && m > 0.0 && m <= 1.0) {
                        return Err(invalid(format!("{field}.max_active"), format!("must be in (0, 1], got {m}")));
                    }
                }
                if let Some(t) = spec.max_turnover {
                    if !(t.is_finite() && t > 0.0 && t <= 1.0) {
                        return Err(invalid(format!("{field}.max_turnover"), format!("must be in (0, 1], got {t}")));
                    }
                }
                let use_growth = spec.use_growth.unwrap_or(false);
                let gbm = match market {
                    Market::Gbm(gbm) => Some(gbm),
                    _ => None,
                };
                if use_growth && gbm.is_none() {
                    return Err(invalid(
                        format!("{field}.use_growth"),
                        "growth forecasts are per-stock growth rates, which only a gbm market states",
                    ));
                }
                let growth = if use_growth { gbm.map(|g| g.growth.clone()) } else { None };
                let estimate = spec.estimate.unwrap_or(Estimate::True);
                if estimate == Estimate::True && (spec.lookback.is_some() || spec.shrinkage.is_some()) {
                    return Err(invalid(
                        format!("{field}.estimate"),
                        "lookback and shrinkage are for estimate = \"trailing\"",
                    ));
                }
                let belief = match estimate {
                    Estimate::True => {
                        let Some(gbm) = gbm else {
                            return Err(invalid(
                                format!("{field}.estimate"),
                                "the model's covariance is stated by a gbm market only; use estimate = \"trailing\"",
                            ));
                        };
                        let problem =
                            MaxGrowthProblem::new(&gbm.covariance, growth.as_deref(), te_budget, spec.max_active);
                        CovarianceBelief::Model(Arc::new(problem))
                    }
                    Estimate::Trailing => {
                        let lookback = spec.lookback.unwrap_or(steps_per_year as usize);
                        if !(2..=100_000).contains(&lookback) {
                            return Err(invalid(
                                format!("{field}.lookback"),
                                format!("must be 2 to 100000 steps, got {lookback}"),
                            ));
                        }
                        let shrinkage = match &spec.shrinkage {
                            None => Shrinkage::Auto,
                            Some(ShrinkageSpec::Named(name)) if name == "auto" => Shrinkage::Auto,
                            Some(ShrinkageSpec::Intensity(x)) if (0.0..=1.0).contains(x) => Shrinkage::Fixed(*x),
                            Some(other) => {
                                return Err(invalid(
                                    format!("{field}.shrinkage"),
                                    format!("must be \"auto\" or a number in [0, 1], got {other:?}"),
                                ))
                            }
                        };
                        CovarianceBelief::Trailing(TrailingEstimate {
                            lookback,
                            shrinkage,
                            growth,
                            te_budget,
                            max_active: spec.max_active,
                            steps_per_year: steps_per_year as f64,
                        })
                    }
                };
                Weighting::MaxGrowth {
                    te_budget,
                    use_growth,
                    max_active: spec.max_active,
                    max_turnover: spec.max_turnover,
                    belief,
                }
            }
        })
    }
}

impl Strategy {
    pub fn from_spec(
        spec: &StrategySpec,
        market: &Market,
        steps_per_year: u32,
        field: &str,
    ) -> Result<Strategy, ScenarioError> {
        let mut problems = Problems::default();
        if spec.name.trim().is_empty() {
            problems.push(invalid(format!("{field}.name"), "must not be empty"));
        } else if spec.name == "market" {
            problems.push(invalid(format!("{field}.name"), "\"market\" is reserved for the benchmark"));
        } else if spec.name.contains([',', '"', '\n']) {
            problems.push(invalid(format!("{field}.name"), "must not contain commas, quotes or newlines"));
        } else if spec.name.chars().any(char::is_control) {
            problems.push(invalid(
                format!("{field}.name"),
                "must not contain control characters (tabs, escape sequences): it labels the table and figures",
            ));
        } else if spec.name.chars().count() > MAX_NAME_CHARS {
            problems.push(invalid(
                format!("{field}.name"),
                format!("has {} characters; at most {MAX_NAME_CHARS}", spec.name.chars().count()),
            ));
        }
        if spec.rebalance_every == 0 {
            problems.push(invalid(format!("{field}.rebalance_every"), "must be at least 1 step"));
        }
        // A rebalance trades at most 2 (sell everything, buy everything anew), so the
        // cost factor 1 - c * traded stays positive only below 5000 bp.
        if !(spec.cost_bps.is_finite() && (0.0..5_000.0).contains(&spec.cost_bps)) {
            problems.push(invalid(
                format!("{field}.cost_bps"),
                format!("must be in [0, 5000) basis points, got {}", spec.cost_bps),
            ));
        }
        let weighting = problems.check(Weighting::from_spec(spec, market, steps_per_year, field));
        let Some(weighting) = weighting.filter(|_| problems.is_empty()) else {
            return Err(problems.into_error());
        };
        Ok(Strategy {
            name: spec.name.clone(),
            weighting,
            rebalance_every: spec.rebalance_every,
            cost_rate: spec.cost_bps * 1e-4,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(error: ScenarioError) -> String {
        match error {
            ScenarioError::Invalid { field, .. } => field,
            ScenarioError::Parse(message) => panic!("expected a validation error, got parse error {message}"),
            ScenarioError::Several(list) => panic!("expected one problem, got {list:?}"),
        }
    }

    const SMALL: &str = r#"
        paths = 10
        years = 1.0
        [market]
        n = 3
        vol = 0.2
        correlation = 0.3
        [[strategies]]
        name = "equal"
        weighting = "equal"
    "#;

    #[test]
    fn every_example_scenario_validates() {
        for (name, text) in EXAMPLE_SCENARIOS {
            let scenario = Scenario::from_toml(text).unwrap_or_else(|e| panic!("{name}: {e}"));
            scenario.validate().unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    #[test]
    fn the_default_scenario_validates() {
        let plan = Scenario::default_scenario().validate().unwrap();
        assert_eq!(plan.n(), 100);
        assert_eq!(plan.steps, 2520);
        assert_eq!(plan.paths, 10_000);
        assert!(plan.strategies.len() >= 4);
    }

    #[test]
    fn overrides_replace_file_values() {
        let mut scenario = Scenario::from_toml(SMALL).unwrap();
        scenario.apply(&Overrides { paths: Some(7), years: Some(2.0), seed: Some(9) });
        let plan = scenario.validate().unwrap();
        assert_eq!((plan.paths, plan.steps, plan.seed), (7, 504, 9));
    }

    #[test]
    fn unknown_fields_are_rejected_with_their_name() {
        let text = SMALL.replace("n = 3", "n = 3\nvolatility = 0.2");
        match Scenario::from_toml(&text) {
            Err(ScenarioError::Parse(message)) => assert!(message.contains("volatility"), "{message}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bad_values_name_their_field() {
        let cases = [
            ("paths = 10", "paths = 0", "paths"),
            ("vol = 0.2", "vol = -0.2", "market.vol[0]"),
            ("vol = 0.2", "vol = [0.2, 0.3]", "market.vol"),
            ("vol = 0.2", "vol = 50.0", "market.vol[0]"),
            ("vol = 0.2", "vol = 0.2\ngrowth = [0.1, 9.0, 0.1]", "market.growth[1]"),
            ("correlation = 0.3", "correlation = -0.9", "market.correlation"),
            ("weighting = \"equal\"", "weighting = \"diversity\"\np = 1.5", "strategies[0].p"),
            ("weighting = \"equal\"", "weighting = \"constant\"\nweights = [0.5, 0.4, 0.2]", "strategies[0].weights"),
            ("weighting = \"equal\"", "weighting = \"equal\"\nrebalance_every = 0", "strategies[0].rebalance_every"),
            ("weighting = \"equal\"", "weighting = \"equal\"\ncost_bps = -1.0", "strategies[0].cost_bps"),
            ("weighting = \"equal\"", "weighting = \"equal\"\ncost_bps = 5000.0", "strategies[0].cost_bps"),
            ("weighting = \"equal\"", "weighting = \"capped\"", "strategies[0].cap"),
            ("weighting = \"equal\"", "weighting = \"capped\"\ncap = 0.3", "strategies[0].cap"),
            ("weighting = \"equal\"", "weighting = \"capped\"\ncap = 1.5", "strategies[0].cap"),
            ("weighting = \"equal\"", "weighting = \"equal\"\ncap = 0.5", "strategies[0].cap"),
            ("weighting = \"equal\"", "weighting = \"top_k\"", "strategies[0].k"),
            ("weighting = \"equal\"", "weighting = \"top_k\"\nk = 0", "strategies[0].k"),
            ("weighting = \"equal\"", "weighting = \"top_k\"\nk = 4", "strategies[0].k"),
            ("weighting = \"equal\"", "weighting = \"top_k\"\nk = 2\nbuffer = 9", "strategies[0].buffer"),
            ("weighting = \"equal\"", "weighting = \"top_k\"\nk = 2\np = 1.5", "strategies[0].p"),
            ("weighting = \"equal\"", "weighting = \"equal\"\nk = 2", "strategies[0].k"),
            ("weighting = \"equal\"", "weighting = \"equal\"\nbuffer = 2", "strategies[0].buffer"),
            ("weighting = \"equal\"", "weighting = \"max_growth\"", "strategies[0].te_budget"),
            ("weighting = \"equal\"", "weighting = \"max_growth\"\nte_budget = -0.01", "strategies[0].te_budget"),
            (
                "weighting = \"equal\"",
                "weighting = \"max_growth\"\nte_budget = 0.02\nmax_active = 0.0",
                "strategies[0].max_active",
            ),
            ("weighting = \"equal\"", "weighting = \"equal\"\nte_budget = 0.02", "strategies[0].te_budget"),
            ("weighting = \"equal\"", "weighting = \"equal\"\nuse_growth = true", "strategies[0].use_growth"),
        ];
        for (from, to, expected_field) in cases {
            let scenario = Scenario::from_toml(&SMALL.replace(from, to)).unwrap();
            assert_eq!(field_of(scenario.validate().unwrap_err()), expected_field, "{to}");
        }
    }

    #[test]
    fn bad_model_parameters_name_their_field() {
        let market =
            |lines: &str| format!("[market]\nn = 3\n{lines}\n[[strategies]]\nname = \"equal\"\nweighting = \"equal\"");
        let cases = [
            ("model = \"atlas\"\nvol = 0.2", "market.atlas_g"),
            ("model = \"atlas\"\natlas_g = -0.1\nvol = 0.2", "market.atlas_g"),
            ("model = \"atlas\"\natlas_g = 0.1", "market.vol"),
            ("model = \"atlas\"\natlas_g = 0.1\nvol = 0.2\ncorrelation = 0.3", "market.correlation"),
            ("model = \"atlas\"\natlas_g = 0.1\nvol = 0.2\ngrowth = [0.1, 0.1, 0.1]", "market.growth"),
            ("model = \"first_order\"\nrank_growth = [-0.1, 0.2, -0.1]\nrank_vol = 0.2", "market.rank_growth"),
            ("model = \"first_order\"\nrank_growth = [-0.1, -0.1, 0.3]\nrank_vol = 0.2", "market.rank_growth"),
            ("model = \"first_order\"\nrank_growth = [-0.1, 0.1]\nrank_vol = 0.2", "market.rank_growth"),
            (
                "model = \"first_order\"\nrank_growth = [-0.1, -0.1, 0.2]\nrank_vol = [0.2, 0.0, 0.2]",
                "market.rank_vol[1]",
            ),
            ("model = \"first_order\"\nrank_growth = [-0.1, -0.1, 0.2]", "market.rank_vol"),
            ("model = \"vsm\"", "market.alpha"),
            ("model = \"vsm\"\nalpha = -1.0", "market.alpha"),
            ("model = \"vsm\"\nalpha = 1.0\nvol = 0.2", "market.vol"),
            ("factor_loadings = [[0.1], [0.2]]\nidiosyncratic_vol = 0.1", "market.factor_loadings"),
            ("factor_loadings = [[0.1], [0.2, 0.1], [0.1]]\nidiosyncratic_vol = 0.1", "market.factor_loadings[1]"),
            ("factor_loadings = [[0.1], [0.2], [0.1]]", "market.idiosyncratic_vol"),
            ("factor_loadings = [[0.1], [0.2], [0.1]]\nidiosyncratic_vol = -0.1", "market.idiosyncratic_vol[0]"),
            ("factor_loadings = [[0.1], [0.2], [0.1]]\nidiosyncratic_vol = 0.1\nvol = 0.2", "market.factor_loadings"),
            ("factor_loadings = [[0.1], [9.0], [0.1]]\nidiosyncratic_vol = 0.1", "market.factor_loadings[1][0]"),
            ("vol = 0.2\natlas_g = 0.1", "market.atlas_g"),
        ];
        for (lines, expected_field) in cases {
            let scenario = Scenario::from_toml(&market(lines)).unwrap();
            assert_eq!(field_of(scenario.validate().unwrap_err()), expected_field, "{lines}");
        }
        let optimised = market("model = \"atlas\"\natlas_g = 0.1\nvol = 0.2")
            .replace("weighting = \"equal\"", "weighting = \"max_growth\"\nte_budget = 0.02");
        assert_eq!(
            field_of(Scenario::from_toml(&optimised).unwrap().validate().unwrap_err()),
            "strategies[0].estimate"
        );
        let trailing =
            optimised.replace("te_budget = 0.02", "te_budget = 0.02\nestimate = \"trailing\"\nlookback = 63");
        assert!(Scenario::from_toml(&trailing).unwrap().validate().is_ok(), "trailing estimates work in any model");
        for (from, to, expected) in [
            ("lookback = 63", "lookback = 1", "strategies[0].lookback"),
            ("lookback = 63", "lookback = 63\nshrinkage = 1.5", "strategies[0].shrinkage"),
            ("lookback = 63", "lookback = 63\nshrinkage = \"some\"", "strategies[0].shrinkage"),
            ("lookback = 63", "lookback = 63\nuse_growth = true", "strategies[0].use_growth"),
        ] {
            let text = trailing.replace(from, to);
            assert_eq!(field_of(Scenario::from_toml(&text).unwrap().validate().unwrap_err()), expected, "{to}");
        }
        for lines in [
            "model = \"atlas\"\natlas_g = 0.1\nvol = 0.2",
            "model = \"first_order\"\nrank_growth = [-0.1, -0.1, 0.2]\nrank_vol = { from = 0.2, to = 0.3 }",
            "model = \"vsm\"\nalpha = 0.0",
            "factor_loadings = [[0.1, 0.0], [0.2, 0.1], [0.1, -0.1]]\nidiosyncratic_vol = 0.1",
        ] {
            assert!(Scenario::from_toml(&market(lines)).unwrap().validate().is_ok(), "{lines}");
        }
    }

    #[test]
    fn per_stock_ramps_run_from_largest_to_smallest() {
        let values = PerStock::Ramp { from: 0.1, to: 0.3 }.expand(3, "vol").unwrap();
        assert!(values.iter().zip([0.1, 0.2, 0.3]).all(|(v, e)| (v - e).abs() < 1e-15), "{values:?}");
    }
}
