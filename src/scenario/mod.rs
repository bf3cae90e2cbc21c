//! The scenario file (docs/guide.md): its TOML schema, defaults, overrides,
//! and validation into a [`Plan`] that the backends can trust.
//!
//! Raw input is parsed once into [`Scenario`] (serde, unknown fields rejected),
//! then [`Scenario::validate`] checks every field and builds the plan. Every
//! error names the field and the reason.

use serde::{Deserialize, Serialize};

pub mod benchmark;
pub mod examples;
pub mod plan;
mod screens;
pub mod source;
pub mod toml_read;
pub mod workloads;

pub use crate::market::spec::{Correlation, MarketSpec, ModelKind, PerStock};
pub use crate::portfolio::spec::{Estimate, ScreenEntry, ShrinkageSpec, StrategySpec, WeightingKind};
use crate::problems::Problems;
pub use crate::problems::ScenarioError;
pub use benchmark::{BenchmarkSpec, IndexRule};
pub use examples::{DEFAULT_SCENARIO, EXAMPLE_SCENARIOS};
pub use plan::Plan;
pub use source::{scenario_problems, ScenarioSource};
pub use workloads::{
    index_workload, large_workload, max_growth_workload, rank_workload, scaled_workload, sp500_mandate,
    standard_workload, MAX_GROWTH_STOCKS,
};

/// Largest number of paths: the path index is one 32-bit word of the Philox counter.
pub const MAX_PATHS: u64 = u32::MAX as u64;
/// Largest number of steps: the step index is one 32-bit word of the Philox counter.
pub const MAX_STEPS: u64 = u32::MAX as u64;
/// Most strategies in one scenario: summary.json compares every pair (32,640 pairs at 256).
pub const MAX_STRATEGIES: usize = 256;
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
    /// The control variate of the controlled means (docs/control-variates.md).
    #[serde(default)]
    pub control_variate: ControlVariate,
    /// Paths 2k and 2k + 1 draw opposite normals (docs/control-variates.md).
    #[serde(default)]
    pub antithetic: bool,
    pub market: MarketSpec,
    /// An index of the largest stocks as the benchmark (`[benchmark]`); the whole
    /// market without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub benchmark: Option<BenchmarkSpec>,
    #[serde(default)]
    pub strategies: Vec<StrategySpec>,
}

/// Which control variate the report's controlled means use (docs/control-variates.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ControlVariate {
    /// The active-weight martingale M of docs/control-variates.md.
    #[default]
    Martingale,
    /// No control: plain means only.
    None,
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
    pub control_variate: Option<ControlVariate>,
    /// `Some(true)` turns antithetic pairs on (the command line cannot turn them off).
    pub antithetic: Option<bool>,
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

    /// Makes the paths the scenario names relative to `base` (the folder of the file it
    /// was read from) absolute: the bootstrap market's `data`.
    pub fn resolve_paths(&mut self, base: &std::path::Path) {
        if let Some(data) = &self.market.data {
            let path = std::path::Path::new(data);
            if path.is_relative() {
                self.market.data = Some(base.join(path).display().to_string());
            }
        }
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
        if let Some(control_variate) = overrides.control_variate {
            self.control_variate = control_variate;
        }
        if let Some(antithetic) = overrides.antithetic {
            self.antithetic = antithetic;
        }
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
        for (name, _) in EXAMPLE_SCENARIOS {
            // As `sptlab example` prints them (a shipped data file by its absolute path).
            let text = examples::example_text(name).unwrap();
            let scenario = Scenario::from_toml(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
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
        scenario.apply(&Overrides {
            paths: Some(8),
            years: Some(2.0),
            seed: Some(9),
            control_variate: Some(ControlVariate::None),
            antithetic: Some(true),
        });
        let plan = scenario.validate().unwrap();
        assert_eq!((plan.paths, plan.steps, plan.seed), (8, 504, 9));
        assert_eq!((plan.control_variate, plan.antithetic), (ControlVariate::None, true));
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
            ("paths = 10", "paths = 11\nantithetic = true", "paths"),
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
