//! WGSL sources and their composition: constants, then shared modules, then the kernel.

/// Philox4x32-10 and the normal transform (shared module, no entry points).
pub const PHILOX: &str = include_str!("../../../shaders/philox.wgsl");
/// The simulation kernels `init_paths` and `advance_paths`.
pub const ADVANCE_PATHS: &str = include_str!("../../../shaders/advance_paths.wgsl");
/// Ranking by cap (insertion sort of a per-path order), composed for rank-based
/// markets and top-k strategies.
pub const RANKING: &str = include_str!("../../../shaders/ranking.wgsl");
/// Top-k weighting support, composed when a strategy is top_k.
pub const TOP_K: &str = include_str!("../../../shaders/top_k.wgsl");
/// Its stand-ins otherwise.
pub const TOP_K_ABSENT: &str = "fn load_top_k_state(lane: u32) {}
fn store_top_k_state(lane: u32) {}
fn top_k_setup(s: u32, log_total: f32, cut: ptr<function, bool>) -> vec4<f32> {
    return vec4<f32>(0.0);
}
fn top_k_weight(s: u32, i: u32, log_total: f32, setup: vec4<f32>) -> f32 {
    return 0.0;
}
";
/// The max_growth solver's entry points and `defer_max_growth`, composed when a
/// strategy is max_growth.
pub const MAX_GROWTH: &str = include_str!("../../../shaders/max_growth.wgsl");
/// The trailing estimate's entry point, composed after it when a max_growth strategy
/// estimates its covariance from each path's returns.
pub const MAX_GROWTH_ESTIMATE: &str = include_str!("../../../shaders/max_growth_estimate.wgsl");
/// Its stand-in otherwise.
pub const MAX_GROWTH_ABSENT: &str = "fn defer_max_growth(s: u32, lane: u32, gross: f32, market_gross: f32) {}\n";
/// Test kernel: Philox words and normals for given counters.
pub const PHILOX_WORDS: &str = include_str!("../../../shaders/philox_words.wgsl");

/// `const NAME = VALUE;` for each constant (values are typed WGSL literals such as
/// `100u` or `array<f32, 2>(0.5, 1.0)`), then the shared modules, then `kernel`.
pub fn compose(kernel: &str, constants: &[(&str, String)]) -> String {
    let mut source = String::from("// Composed by sptlab: constants, philox.wgsl, kernel.\n");
    for (name, value) in constants {
        source.push_str(&format!("const {name} = {value};\n"));
    }
    source.push_str(PHILOX);
    source.push('\n');
    source.push_str(kernel);
    source
}

pub fn philox_words_source() -> String {
    compose(PHILOX_WORDS, &[])
}

/// Parses and validates WGSL with naga, as wgpu would, without a GPU.
#[cfg(test)]
pub(crate) fn validate_wgsl(source: &str) -> Result<(), String> {
    let module = naga::front::wgsl::parse_str(source).map_err(|e| e.emit_to_string(source))?;
    naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::all())
        .validate(&module)
        .map(|_| ())
        .map_err(|e| e.emit_to_string(source))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{standard_workload, Scenario};

    #[test]
    fn the_philox_test_kernel_validates() {
        validate_wgsl(&philox_words_source()).unwrap_or_else(|e| panic!("{e}"));
    }

    #[test]
    fn the_simulation_kernel_validates_for_every_weighting_and_model() {
        let plans = [
            Scenario::default_scenario().validate().unwrap(),
            standard_workload(64).validate().unwrap(),
            Scenario::from_toml(
                r#"
                [market]
                n = 3
                vol = 0.2
                [[strategies]]
                name = "sixty-thirty-ten"
                weighting = "constant"
                weights = [0.6, 0.3, 0.1]
                [[strategies]]
                name = "cap"
                weighting = "market"
                [[strategies]]
                name = "negative-p"
                weighting = "diversity"
                p = -1.0
                [[strategies]]
                name = "capped"
                weighting = "capped"
                cap = 0.4
                [[strategies]]
                name = "top-2"
                weighting = "top_k"
                k = 2
                buffer = 1
                p = 0.5
                [[strategies]]
                name = "optimised"
                weighting = "max_growth"
                te_budget = 0.02
                max_active = 0.1
                max_turnover = 0.05
                [[strategies]]
                name = "estimated"
                weighting = "max_growth"
                te_budget = 0.02
                estimate = "trailing"
                lookback = 20
                "#,
            )
            .unwrap()
            .validate()
            .unwrap(),
        ];
        let models = [
            "model = \"atlas\"\natlas_g = 0.05\nvol = 0.2",
            "model = \"first_order\"\nrank_growth = [-0.1, -0.1, 0.2]\nrank_vol = [0.2, 0.25, 0.3]",
            "model = \"vsm\"\nalpha = 1.0",
            "factor_loadings = [[0.1, 0.2], [0.2, 0.1], [0.0, 0.3]]\nidiosyncratic_vol = 0.1",
        ];
        let plans = plans.into_iter().chain(models.iter().map(|market| {
            let text = format!("[market]\nn = 3\n{market}\n[[strategies]]\nname = \"equal\"\nweighting = \"equal\"");
            Scenario::from_toml(&text).unwrap().validate().unwrap()
        }));
        for plan in plans {
            // Both ways of reading the factor: workgroup memory (room for it) and storage (none).
            for workgroup_bytes in [1 << 20, 0] {
                let stage = super::super::market::MarketStage::of(&plan);
                let source = super::super::backend::kernel_source(&plan, &stage, workgroup_bytes);
                validate_wgsl(&source).unwrap_or_else(|e| panic!("{}: {e}", plan.scenario.name));
            }
        }
    }
}
