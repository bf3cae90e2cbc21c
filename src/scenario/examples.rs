//! The example scenarios shipped in examples/scenarios/ (`sptlab example NAME`), and
//! the embedded default scenario.

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
