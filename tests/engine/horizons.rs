//! Long horizons in f32: a century of daily steps must give finite numbers that agree
//! with f64, with no overflow of caps, holdings or weights.

use sptlab::engine::Precision;

use crate::common::{plan, simulate_cpu};

/// Mean over paths of L(T) = log(V_pi / V_mu) per strategy, with every statistic finite.
fn mean_relative_log_returns(results: &sptlab::Results) -> Vec<f64> {
    assert!(results.first_non_finite().is_none(), "{:?}", results.first_non_finite());
    results
        .per_path
        .iter()
        .map(|paths| paths.iter().map(|p| p.relative_log_return).sum::<f64>() / paths.len() as f64)
        .collect()
}

#[test]
fn a_century_of_daily_steps_with_500_stocks_and_negative_p_is_finite_and_agrees_with_f64() {
    let century = plan(
        r#"
        seed = 11
        paths = 8
        years = 100.0
        [market]
        n = 500
        growth = 0.05
        vol = { from = 0.15, to = 0.6 }
        correlation = 0.2
        [[strategies]]
        name = "diversity-neg0.5"
        weighting = "diversity"
        p = -0.5
        [[strategies]]
        name = "entropy"
        weighting = "entropy"
        "#,
    );
    let single = simulate_cpu(&century, Precision::F32);
    let double = simulate_cpu(&century, Precision::F64);
    // Smallest mean weight after a century: about 2e-11 (f32 keeps it, with its 8 bits of exponent).
    let (f32_means, f64_means) = (mean_relative_log_returns(&single), mean_relative_log_returns(&double));
    for (a, b) in f32_means.iter().zip(&f64_means) {
        // f32 rounding over 25,200 steps: measured 2e-5 to 1e-3 in L (which is about 3 here).
        assert!((a - b).abs() < 5e-3, "f32 {a} vs f64 {b}");
    }
    let (residual, strategy, path) = single.largest_master_equation_residual().unwrap();
    assert!(residual < 1e-2, "the decomposition of {strategy} misses by {residual} on path {path}");
}

#[test]
fn buy_and_hold_through_a_century_of_fast_growth_does_not_overflow_f32() {
    // Caps grow by e^200: holdings kept in absolute units overflow f32 (3.4e38 = e^88).
    let fast = plan(
        r#"
        seed = 3
        paths = 8
        years = 100.0
        [market]
        n = 20
        growth = 2.0
        vol = { from = 0.2, to = 0.5 }
        correlation = 0.3
        [[strategies]]
        name = "equal-held"
        weighting = "equal"
        rebalance_every = 30000
        [[strategies]]
        name = "equal-yearly"
        weighting = "equal"
        rebalance_every = 252
        "#,
    );
    let f32_means = mean_relative_log_returns(&simulate_cpu(&fast, Precision::F32));
    let f64_means = mean_relative_log_returns(&simulate_cpu(&fast, Precision::F64));
    for (a, b) in f32_means.iter().zip(&f64_means) {
        assert!((a - b).abs() < 5e-3, "f32 {a} vs f64 {b}");
    }
}
