//! Closed forms of docs/models.md and docs/theory.md, with fixed seeds and the pass rule of docs/testing.md:
//! |estimate - theory| < 4 standard errors + the time-step bias allowance.

use sptlab::engine::Precision;
use sptlab::summary::stats::summarize;

use crate::common::{gbm, plan, simulate_cpu};

#[test]
fn equal_weight_excess_growth_matches_the_closed_form() {
    // Equal weights rebalanced daily earn the excess growth rate
    // gamma* = 1/2 (sum pi_i s_ii - pi^T Sigma pi) every year: the drift term of the
    // master equation. Per step T_k = log(sum pi_i e^x_i) - pi . x; its expansion in the
    // log steps x gives gamma* dt plus terms of order (s_max^2 dt)^2, so the bias
    // allowance is steps * (s_max^2 dt)^2 (equal growth rates add nothing at that order).
    let plan = plan(
        r#"
        seed = 2024
        paths = 2000
        years = 10.0
        [market]
        n = 10
        zipf = 0.8
        growth = 0.04
        vol = { from = 0.2, to = 0.4 }
        correlation = 0.35
        [[strategies]]
        name = "equal"
        weighting = "equal"
        "#,
    );
    let results = simulate_cpu(&plan, Precision::F64);
    let drift: Vec<f64> = results.per_path[0].iter().map(|s| s.drift_term).collect();
    let summary = summarize(&drift).unwrap();
    let n = plan.n();
    let gamma_star = gbm(&plan).excess_growth_rate(&vec![1.0 / n as f64; n]);
    let expected = gamma_star * plan.years();
    let dt = plan.dt();
    let max_variance = gbm(&plan).vols().iter().map(|v| v * v).fold(0.0, f64::max);
    let allowance = plan.steps as f64 * (max_variance * dt).powi(2);
    let error = (summary.mean - expected).abs();
    assert!(
        error < 4.0 * summary.se.unwrap() + allowance,
        "mean drift term {} vs gamma* T = {expected} (se {}, allowance {allowance})",
        summary.mean,
        summary.se.unwrap()
    );
    // A wrong gamma* (correlation ignored) must fail this test.
    let without_correlation =
        0.5 * gbm(&plan).vols().iter().map(|v| v * v / n as f64).sum::<f64>() * (1.0 - 1.0 / n as f64) * plan.years();
    assert!((summary.mean - without_correlation).abs() > 4.0 * summary.se.unwrap() + allowance);

    // The same claim through the strategy's own log return, log V(T) = (1/n) sum_i
    // log(X_i(T) / X_i(0)) + drift term, whose mean is (mean growth + gamma*) T. Its
    // plain standard error (about 0.014 here) would drown gamma* T; the controlled mean
    // (docs/control-variates.md, control M_pi + M_mu) removes the stocks' noise, and the
    // tolerance shrinks to 4 controlled se (6.3e-5 against 1.4e-2: 222 times smaller)
    // plus the allowance.
    let estimation = sptlab::summary::report::estimation_of(&plan);
    let log_values: Vec<f64> = results.per_path[0].iter().map(|s| s.log_return).collect();
    let controls: Vec<f64> =
        results.per_path[0].iter().zip(&results.market_control).map(|(s, m)| s.control_term + m).collect();
    let own = estimation.summary_with_control(&log_values, &controls);
    let controlled = own.controlled.expect("the control is on by default");
    let mean_growth = gbm(&plan).growth.iter().sum::<f64>() / n as f64;
    let expected = (mean_growth + gamma_star) * plan.years();
    assert!(
        (controlled.mean - expected).abs() < 4.0 * controlled.se + allowance,
        "controlled mean log return {} vs (mean growth + gamma*) T = {expected} (se {}, allowance {allowance})",
        controlled.mean,
        controlled.se
    );
    assert!(
        controlled.se * 20.0 < own.se.unwrap(),
        "controlled se {} against plain {}",
        controlled.se,
        own.se.unwrap()
    );
    assert!(
        (controlled.mean - (mean_growth * plan.years() + without_correlation)).abs() > 4.0 * controlled.se + allowance
    );
}
