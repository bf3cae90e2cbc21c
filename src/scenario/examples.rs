//! The example scenarios shipped in examples/scenarios/ (`sptlab example NAME`), and
//! the embedded default scenario.

/// The embedded default scenario: `sptlab run` without a file, `sptlab example`.
pub const DEFAULT_SCENARIO: &str = include_str!("../../examples/scenarios/default.toml");

/// The example scenarios shipped in examples/scenarios/, by name, for `sptlab example NAME`.
pub const EXAMPLE_SCENARIOS: [(&str, &str); 10] = [
    ("default", DEFAULT_SCENARIO),
    ("atlas", include_str!("../../examples/scenarios/atlas.toml")),
    ("first_order", include_str!("../../examples/scenarios/first_order.toml")),
    ("vsm", include_str!("../../examples/scenarios/vsm.toml")),
    ("gbm_factor_500", include_str!("../../examples/scenarios/gbm_factor_500.toml")),
    ("calibrated_sp500_20", include_str!("../../examples/scenarios/calibrated_sp500_20.toml")),
    ("costs", include_str!("../../examples/scenarios/costs.toml")),
    ("te_budget", include_str!("../../examples/scenarios/te_budget.toml")),
    ("bootstrap_sp500_20", include_str!("../../examples/scenarios/bootstrap_sp500_20.toml")),
    ("open_market", include_str!("../../examples/scenarios/open_market.toml")),
];

/// The shipped data's folder as this build knows it (the source tree's examples/data).
pub const SHIPPED_DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data");

/// Example `name` as `sptlab example` prints it: a data file named relative to
/// examples/scenarios/ is given by the shipped data's absolute path when this build's
/// source tree is there, so the printed scenario runs from any folder; otherwise the
/// path stays relative, with a comment saying where the file comes from.
pub fn example_text(name: &str) -> Option<String> {
    let (_, text) = EXAMPLE_SCENARIOS.iter().find(|(example, _)| *example == name)?;
    if !text.contains("\"../data/") {
        return Some(text.to_string());
    }
    Some(if std::path::Path::new(SHIPPED_DATA).is_dir() {
        text.replace("\"../data/", &format!("\"{SHIPPED_DATA}/")).replace("   # relative to this file", "")
    } else {
        text.replace("   # relative to this file", "   # relative to this file: examples/data/ of sptlab's source")
    })
}
