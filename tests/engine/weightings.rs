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

#[test]
fn max_growth_spends_its_tracking_error_budget_and_out_grows_equal_weight() {
    // Daily rebalancing with the true covariance: the realised tracking error is the
    // ex-ante budget up to the day's drift in weights and sampling noise (a path's
    // 252 daily active returns estimate it within about 4.5 %, the mean of 64 paths
    // within 0.6 %); the issue asks for 10 %.
    let text = format!(
        "{}
        [[strategies]]
        name = \"max-growth-2%\"
        weighting = \"max_growth\"
        te_budget = 0.02
        [[strategies]]
        name = \"max-growth-wide\"
        weighting = \"max_growth\"
        te_budget = 10.0
        [[strategies]]
        name = \"equal\"
        weighting = \"equal\"",
        MARKET.replace("years = 3.0", "years = 1.0")
    );
    let plan = plan(&text);
    let results = simulate_cpu(&plan, Precision::F64);
    let paths = results.paths() as f64;
    let tracking_error = results.per_path[0].iter().map(|p| p.tracking_error).sum::<f64>() / paths;
    assert!((tracking_error / 0.02 - 1.0).abs() < 0.1, "realised tracking error {tracking_error} for a 2 % budget");
    assert!(!results.functionally_generated[0]);
    // With room to move it maximises the excess growth rate, which equal weight does
    // not: on the same paths it must not fall behind equal weight (paired, 2 se).
    let differences: Vec<f64> = results.per_path[1]
        .iter()
        .zip(&results.per_path[2])
        .map(|(wide, equal)| wide.relative_log_return - equal.relative_log_return)
        .collect();
    let summary = sptlab::summary::stats::summarize(&differences).unwrap();
    assert!(
        summary.mean > -2.0 * summary.se.unwrap(),
        "max_growth behind equal weight: {} (se {})",
        summary.mean,
        summary.se.unwrap()
    );
}

#[test]
fn max_growth_with_a_trailing_estimate_runs_in_any_model_and_roughly_meets_its_budget() {
    // Estimated from each path's last 252 daily returns of 12 stocks: the estimate's own
    // error (vols within about 4.5 %, correlations within about 0.06) moves the realised
    // tracking error off the budget; 25 % is generous for it, and a wrong annualisation
    // (x sqrt(252)) or a covariance from the wrong returns would miss by far more.
    let text = format!(
        "{}
        [[strategies]]
        name = \"estimated\"
        weighting = \"max_growth\"
        te_budget = 0.02
        estimate = \"trailing\"
        lookback = 252
        rebalance_every = 5",
        MARKET
    );
    let results = simulate_cpu(&plan(&text), Precision::F64);
    let tracking_error = results.per_path[0].iter().map(|p| p.tracking_error).sum::<f64>() / results.paths() as f64;
    assert!((tracking_error / 0.02 - 1.0).abs() < 0.25, "realised tracking error {tracking_error} for a 2 % budget");
    // A rank-based market has no stated covariance, but a trailing estimate works there.
    let atlas = text.replace(
        "growth = 0.05\n    vol = { from = 0.2, to = 0.45 }\n    correlation = 0.3",
        "model = \"atlas\"\n    growth = 0.05\n    atlas_g = 0.05\n    vol = 0.25",
    );
    assert_ne!(atlas, text);
    let results = simulate_cpu(&plan(&atlas), Precision::F64);
    assert!(results.per_path[0].iter().all(|p| p.relative_log_return.is_finite() && p.turnover > 0.0));
}

#[test]
fn a_turnover_limit_caps_trading_and_keeps_the_budget() {
    // Monthly rebalancing (12 a year) with at most 0.5 % of value traded each time. With
    // a budget that never binds (10), every rebalance is cut to the limit: at most 6 % a
    // year on every path. With a 2 % budget that binds, drift takes the held weights
    // outside it about half the time and then the budget wins (the limit's documented
    // rule), so trading exceeds the limit but the realised tracking error stays near 2 %.
    let strategy = |name: &str, budget: f64, limit: &str| {
        format!(
            "[[strategies]]\nname = \"{name}\"\nweighting = \"max_growth\"\nte_budget = {budget}\n{limit}rebalance_every = 21\n"
        )
    };
    let text = format!(
        "{MARKET}\n{}{}{}",
        strategy("free-wide", 10.0, ""),
        strategy("limited-wide", 10.0, "max_turnover = 0.005\n"),
        strategy("limited-2%", 0.02, "max_turnover = 0.005\n")
    );
    let results = simulate_cpu(&plan(&text), Precision::F64);
    let mean = |s: usize, field: fn(&sptlab::engine::PathStatistics) -> f64| {
        results.per_path[s].iter().map(field).sum::<f64>() / results.paths() as f64
    };
    assert!(results.per_path[1].iter().all(|p| p.turnover <= 0.06 * (1.0 + 1e-9)), "every path within 6 % a year");
    assert!(mean(0, |p| p.turnover) > 3.0 * mean(1, |p| p.turnover), "the limit binds");
    let tracking_error = mean(2, |p| p.tracking_error);
    assert!(tracking_error <= 0.02 * 1.1, "realised tracking error {tracking_error}");
}
