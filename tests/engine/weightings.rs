//! The capped and top-k weightings on whole runs.

use sptlab::engine::Precision;

use crate::common::{plan, simulate_cpu};

const MARKET: &str = r#"
    seed = 8
    paths = 64
    years = 3.0
    [market]
    n = 12
    zipf = 1.0
    growth = 0.05
    vol = { from = 0.2, to = 0.45 }
    correlation = 0.3
"#;

#[test]
fn top_k_of_every_stock_is_diversity_weighting() {
    let results = simulate_cpu(
        &plan(&format!(
            "{MARKET}
            [[strategies]]
            name = \"top-all\"
            weighting = \"top_k\"
            k = 12
            p = 0.5
            [[strategies]]
            name = \"diversity\"
            weighting = \"diversity\"
            p = 0.5"
        )),
        Precision::F64,
    );
    for (top, diversity) in results.per_path[0].iter().zip(&results.per_path[1]) {
        assert!((top.relative_log_return - diversity.relative_log_return).abs() < 1e-12);
        assert!((top.turnover - diversity.turnover).abs() < 1e-12);
    }
}

#[test]
fn a_buffer_cuts_top_k_turnover_and_capping_tracks_the_market() {
    let results = simulate_cpu(
        &plan(&format!(
            "{MARKET}
            [[strategies]]
            name = \"top-5\"
            weighting = \"top_k\"
            k = 5
            [[strategies]]
            name = \"top-5-buffered\"
            weighting = \"top_k\"
            k = 5
            buffer = 2
            [[strategies]]
            name = \"capped-loose\"
            weighting = \"capped\"
            cap = 0.9
            [[strategies]]
            name = \"capped-tight\"
            weighting = \"capped\"
            cap = 0.12"
        )),
        Precision::F64,
    );
    let mean = |s: usize, field: fn(&sptlab::engine::PathStatistics) -> f64| {
        results.per_path[s].iter().map(field).sum::<f64>() / results.paths() as f64
    };
    // Rebalancing daily, top-5 by cap trades only when membership changes.
    let (plain, buffered) = (mean(0, |p| p.turnover), mean(1, |p| p.turnover));
    assert!(plain > 0.0 && buffered < 0.8 * plain, "turnover {plain} without a buffer, {buffered} with");
    // A cap no stock reaches leaves the market portfolio: no active return at all.
    assert!(results.per_path[2].iter().all(|p| p.relative_log_return.abs() < 1e-12 && p.turnover < 1e-12));
    // A binding cap (the largest of 12 zipf weights is 0.32) tracks the market loosely.
    assert!(mean(3, |p| p.tracking_error) > 0.005 && mean(3, |p| p.turnover) > 0.0);
}
