//! The models of docs/models.md against their closed forms, with fixed seeds and the
//! pass rule of docs/testing.md: |estimate - theory| < 4 standard errors + the
//! time-step bias allowance each test derives (Euler models carry O(dt) or O(sqrt(dt))
//! bias, so each test picks a step small enough that the allowance stays below a
//! tenth of the quantity tested, and says so).

use sptlab::engine::{Backend, BatchAccumulators, CpuBackend, Precision};
use sptlab::market::{Market, RankMarket};
use sptlab::summary::stats::summarize;
use sptlab::Plan;

use crate::common::{gbm, plan, simulate_cpu};

/// Terminal log caps and log Z changes of every path.
fn terminal_state(plan: &Plan, precision: Precision) -> BatchAccumulators {
    CpuBackend::new(precision, None).simulate(plan, 0..plan.paths, &|_| {}).expect("simulation runs")
}

fn rank_market(plan: &Plan) -> &RankMarket {
    match &plan.market {
        Market::Rank(rank) => rank,
        other => panic!("expected a rank-based scenario, got {other:?}"),
    }
}

/// A rank-based scenario of five stocks started at the stationary mean gaps, so
/// that 12 years reach the stationary law (measured: the top gap, the slowest,
/// is within 1 % of it after 10 years from there).
fn rank_scenario(model_lines: &str, mean_gaps: &[f64], paths: u64) -> Plan {
    let mut log_weight = 0.0;
    let mut weights = vec![1.0];
    for gap in mean_gaps {
        log_weight -= gap;
        weights.push(f64::exp(log_weight));
    }
    plan(&format!(
        r#"
        seed = 314
        paths = {paths}
        years = 12.0
        steps_per_year = 2000
        [market]
        n = {}
        initial_weights = {weights:?}
        growth = 0.03
        {model_lines}
        [[strategies]]
        name = "equal"
        weighting = "equal"
        "#,
        mean_gaps.len() + 1
    ))
}

/// Per rank k: the mean terminal gap Y_k(T) over paths and its standard error.
fn mean_gaps(plan: &Plan) -> Vec<(f64, f64)> {
    let state = terminal_state(plan, Precision::F32);
    let n = plan.n();
    let mut gaps_by_rank = vec![Vec::new(); n - 1];
    for path in 0..state.paths {
        let mut caps = state.path_log_caps(path).to_vec();
        caps.sort_by(|a, b| b.total_cmp(a));
        for k in 0..n - 1 {
            gaps_by_rank[k].push(caps[k] - caps[k + 1]);
        }
    }
    gaps_by_rank.iter().map(|gaps| summarize(gaps).map(|s| (s.mean, s.se.unwrap())).unwrap()).collect()
}

/// The Euler allowance for a mean gap: ranks are seen only on the grid, so a crossing
/// inside a step acts up to a step late. The shift this causes is at most that of a
/// discretely monitored reflecting barrier (Broadie, Glasserman and Kou 1997):
/// 0.5826 sigma_Y sqrt(dt), with sigma_Y the gap's volatility sqrt(sigma_k^2 + sigma_(k+1)^2).
/// At dt = 1/2000 that is below a tenth of every mean gap tested here
/// (measured bias at dt = 1/1000: under 2 % of the gap, for every rank).
fn gap_allowance(market: &RankMarket, k: usize, dt: f64) -> f64 {
    0.5826 * (market.rank_vol[k].powi(2) + market.rank_vol[k + 1].powi(2)).sqrt() * dt.sqrt()
}

/// Ranks whose mean gap misses the product-form value by more than the pass rule allows.
/// `fine_step`: insist that the allowance is under a tenth of every gap (the negative
/// control skips this: its small gaps get a larger allowance, which only makes it
/// harder for that test to see a difference).
fn gaps_off_the_product_form(plan: &Plan, fine_step: bool) -> Vec<String> {
    let market = rank_market(plan);
    let expected: Vec<f64> = market.product_form_gap_rates().iter().map(|rate| 1.0 / rate).collect();
    let mut failures = Vec::new();
    for (k, (mean, se)) in mean_gaps(plan).into_iter().enumerate() {
        let allowance = gap_allowance(market, k, plan.dt());
        assert!(!fine_step || allowance < 0.1 * expected[k], "the step is too coarse for rank {}", k + 1);
        if (mean - expected[k]).abs() >= 4.0 * se + allowance {
            failures.push(format!(
                "rank {}: mean gap {mean:.5} vs {:.5} (se {se:.5}, allowance {allowance:.5})",
                k + 1,
                expected[k]
            ));
        }
    }
    failures
}

#[test]
fn atlas_mean_stationary_gaps_are_sigma_squared_over_2kg() {
    let (g, sigma) = (0.1, 0.2);
    let theory: Vec<f64> = (1..5).map(|k| sigma * sigma / (2.0 * k as f64 * g)).collect();
    let plan = rank_scenario(&format!("model = \"atlas\"\natlas_g = {g}\nvol = {sigma}"), &theory, 4000);
    // The model's own rates are the closed form sigma^2 / (2 k g).
    for (rate, expected) in rank_market(&plan).product_form_gap_rates().iter().zip(&theory) {
        assert!((1.0 / rate - expected).abs() < 1e-12);
    }
    let failures = gaps_off_the_product_form(&plan, true);
    assert!(failures.is_empty(), "{failures:#?}");
}

/// g_k of the Atlas shape with g = 0.1, for five stocks.
const RANK_GROWTH: &str = "rank_growth = [-0.1, -0.1, -0.1, -0.1, 0.4]";

#[test]
fn first_order_gaps_match_the_product_form_when_sigma_squared_is_linear_in_rank() {
    let vols: Vec<f64> = (1..=5).map(|k| (0.02 + 0.01 * k as f64).sqrt()).collect();
    let theory: Vec<f64> = (1..5).map(|k| (vols[k - 1].powi(2) + vols[k].powi(2)) / (0.4 * k as f64)).collect();
    let plan = rank_scenario(&format!("model = \"first_order\"\n{RANK_GROWTH}\nrank_vol = {vols:?}"), &theory, 4000);
    let failures = gaps_off_the_product_form(&plan, true);
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn first_order_gaps_leave_the_product_form_when_sigma_squared_is_not_linear() {
    // The negative control: a volatile top rank breaks the product form (measured: the
    // top gaps come out about 30 % wider than the formula), and the same pass rule that
    // accepts the linear case above must reject it, so that test can fail.
    let vols = [0.4f64, 0.1, 0.1, 0.1, 0.1];
    let theory: Vec<f64> = (1..5).map(|k| (vols[k - 1].powi(2) + vols[k].powi(2)) / (0.4 * k as f64)).collect();
    let plan = rank_scenario(&format!("model = \"first_order\"\n{RANK_GROWTH}\nrank_vol = {vols:?}"), &theory, 2000);
    let failures = gaps_off_the_product_form(&plan, false);
    assert!(!failures.is_empty(), "the product form should fail for sigma = {vols:?}");
}

/// Four stocks, alpha = 1, from equal weights (the Dirichlet mean).
const VSM: &str = r#"
    seed = 99
    paths = 4000
    years = 4.0
    steps_per_year = 2520
    [market]
    model = "vsm"
    n = 4
    zipf = 0.0
    alpha = 1.0
    [[strategies]]
    name = "equal"
    weighting = "equal"
"#;

/// E[sum_i 1/mu_i] under Dirichlet(a, ..., a) with n stocks: n (n a - 1) / (a - 1).
fn dirichlet_inverse_weight_sum(n: f64, a: f64) -> f64 {
    n * (n * a - 1.0) / (a - 1.0)
}

#[test]
fn vsm_total_log_cap_is_brownian_with_the_stated_drift() {
    let plan = plan(VSM);
    let state = terminal_state(&plan, Precision::F64);
    let (n, alpha, years) = (4.0, 1.0, plan.years());
    let summary = summarize(&state.log_total_cap_change).unwrap();
    // The Euler step's neglected terms in log(sum mu_i e^(x_i)) are of fourth order in
    // x_i ~ sqrt(dt / mu_i): dt^2 sum 1/mu_i per step, dt T E[sum 1/mu_i] in all
    // (0.044 here, under a tenth of the standard deviation sqrt(T) = 2).
    let allowance = plan.dt() * years * dirichlet_inverse_weight_sum(n, 1.0 + alpha);
    let mean = (n * (1.0 + alpha) - 1.0) * years / 2.0;
    assert!(
        (summary.mean - mean).abs() < 4.0 * summary.se.unwrap() + allowance,
        "mean {} vs {mean} (se {}, allowance {allowance})",
        summary.mean,
        summary.se.unwrap()
    );
    // The sample variance has standard error about var sqrt(2 / (paths - 1)).
    let variance = summary.sd.unwrap() * summary.sd.unwrap();
    let variance_se = years * (2.0 / (plan.paths as f64 - 1.0)).sqrt();
    assert!(
        (variance - years).abs() < 4.0 * variance_se + allowance,
        "variance {variance} vs T = {years} (se {variance_se})"
    );
}

#[test]
fn vsm_weights_reach_the_dirichlet_law() {
    let plan = plan(VSM);
    let state = terminal_state(&plan, Precision::F64);
    let n = plan.n();
    // Dirichlet(a, ..., a), A = n a: E[mu_i^2] = a (a + 1) / (A (A + 1)) and
    // E[mu_i^3] = a (a + 1) (a + 2) / (A (A + 1) (A + 2)); averaged over the stocks per path.
    let a = 2.0;
    let total = n as f64 * a;
    let second = a * (a + 1.0) / (total * (total + 1.0));
    let third = a * (a + 1.0) * (a + 2.0) / (total * (total + 1.0) * (total + 2.0));
    let mut second_moments = Vec::new();
    let mut third_moments = Vec::new();
    for path in 0..state.paths {
        let caps = state.path_log_caps(path);
        let largest = caps.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let raw: Vec<f64> = caps.iter().map(|c| (c - largest).exp()).collect();
        let sum: f64 = raw.iter().sum();
        second_moments.push(raw.iter().map(|r| (r / sum).powi(2)).sum::<f64>() / n as f64);
        third_moments.push(raw.iter().map(|r| (r / sum).powi(3)).sum::<f64>() / n as f64);
    }
    // Euler bias in the weights is O(dt / mu): dt E[sum 1/mu_i] / n relative, times the moment.
    let relative_allowance = plan.dt() * dirichlet_inverse_weight_sum(n as f64, a) / n as f64;
    for (name, values, expected) in [("E[mu^2]", &second_moments, second), ("E[mu^3]", &third_moments, third)] {
        let summary = summarize(values).unwrap();
        let allowance = relative_allowance * expected;
        assert!(
            (summary.mean - expected).abs() < 4.0 * summary.se.unwrap() + allowance,
            "{name}: {} vs {expected} (se {}, allowance {allowance})",
            summary.mean,
            summary.se.unwrap()
        );
    }
    // Not the law it started from: equal weights give E[mu^2] = 1/16, far outside.
    let start = summarize(&second_moments).unwrap();
    assert!((start.mean - 1.0 / 16.0).abs() > 8.0 * start.se.unwrap());
}

/// The strategies of `model_scenarios`: every weighting but constant and max_growth.
pub const MODEL_STRATEGIES: &str = r#"
        [[strategies]]
        name = "equal"
        weighting = "equal"
        rebalance_every = 5
        cost_bps = 10.0
        [[strategies]]
        name = "diversity-0.5"
        weighting = "diversity"
        p = 0.5
        [[strategies]]
        name = "entropy"
        weighting = "entropy"
        rebalance_every = 21
        [[strategies]]
        name = "capped-0.15"
        weighting = "capped"
        cap = 0.15
        rebalance_every = 5
        cost_bps = 20.0
        [[strategies]]
        name = "top-4"
        weighting = "top_k"
        k = 4
        buffer = 2
        p = 0.8
        rebalance_every = 5
        cost_bps = 10.0
    "#;

/// One small scenario per model, with several strategies.
pub fn model_scenarios() -> Vec<(&'static str, String)> {
    let scenario = |market: &str| {
        format!(
            "seed = 5\npaths = 64\nyears = 2.0\nsteps_per_year = 252\n[market]\nn = 10\n{market}\n{MODEL_STRATEGIES}"
        )
    };
    vec![
        ("atlas", scenario("model = \"atlas\"\ngrowth = 0.05\natlas_g = 0.05\nvol = 0.25")),
        (
            "first_order",
            scenario(
                "model = \"first_order\"\nrank_growth = [-0.05, -0.04, -0.03, -0.02, -0.01, 0.0, 0.01, 0.02, 0.03, 0.09]\n\
                 rank_vol = { from = 0.15, to = 0.4 }",
            ),
        ),
        ("vsm", scenario("model = \"vsm\"\nalpha = 0.5")),
        (
            "gbm-factor",
            scenario(
                "growth = 0.05\nidiosyncratic_vol = { from = 0.15, to = 0.3 }\n\
                 factor_loadings = [[0.15, 0.05], [0.14, -0.05], [0.13, 0.04], [0.12, -0.04], [0.11, 0.03], \
                 [0.1, -0.03], [0.09, 0.02], [0.08, -0.02], [0.07, 0.01], [0.06, -0.01]]",
            ),
        ),
    ]
}

#[test]
fn the_master_equation_holds_on_every_path_in_every_model() {
    for (model, text) in model_scenarios() {
        let results = simulate_cpu(&plan(&text), Precision::F64);
        for (s, (name, paths)) in results.strategy_names.iter().zip(&results.per_path).enumerate() {
            for (path, stats) in paths.iter().enumerate() {
                let residual = stats.master_equation_residual();
                assert!(residual.abs() <= 1e-9, "{model}, {name}, path {path}: residual {residual:e}");
                // L-divergences are non-negative for concave generating functions only.
                if results.functionally_generated[s] {
                    assert!(stats.min_divergence >= -1e-12, "{model}, {name}, path {path}");
                }
            }
        }
    }
}

#[test]
fn a_factor_model_has_the_covariance_b_bt_plus_diag_s_squared() {
    // Equal weights rebalanced daily earn gamma* = 1/2 (sum pi_i s_ii - pi^T Sigma pi)
    // a year; with Sigma from the factor model this checks the O(nK) noise has the
    // covariance it claims. Bias allowance as in theory.rs: steps (s_max^2 dt)^2.
    let plan = plan(
        r#"
        seed = 77
        paths = 2000
        years = 10.0
        [market]
        n = 6
        zipf = 0.5
        growth = 0.04
        factor_loadings = [[0.3, 0.0], [0.25, 0.1], [0.2, -0.1], [0.0, 0.3], [0.1, 0.25], [-0.1, 0.2]]
        idiosyncratic_vol = 0.1
        [[strategies]]
        name = "equal"
        weighting = "equal"
        "#,
    );
    let market = gbm(&plan);
    assert!(market.cholesky().is_none(), "the factor path, not a Cholesky factor");
    let results = simulate_cpu(&plan, Precision::F64);
    let drift: Vec<f64> = results.per_path[0].iter().map(|s| s.drift_term).collect();
    let summary = summarize(&drift).unwrap();
    let expected = market.excess_growth_rate(&[1.0 / 6.0; 6]) * plan.years();
    let max_variance = market.vols().iter().map(|v| v * v).fold(0.0, f64::max);
    let allowance = plan.steps as f64 * (max_variance * plan.dt()).powi(2);
    assert!(
        (summary.mean - expected).abs() < 4.0 * summary.se.unwrap() + allowance,
        "drift term {} vs {expected} (se {})",
        summary.mean,
        summary.se.unwrap()
    );
    // Without the factors (idiosyncratic only), gamma* is far larger: the test can fail.
    let idiosyncratic_only = 0.5 * 0.01 * (1.0 - 1.0 / 6.0) * plan.years();
    assert!((summary.mean - idiosyncratic_only).abs() > 4.0 * summary.se.unwrap() + allowance);
}

#[test]
fn vsm_survives_a_vanishing_weight_in_f32_and_f64() {
    // One stock starts at a weight of 1e-30: its Euler coefficients would be
    // 1/sqrt(1e-30) = 1e15 without the floor max(mu_i, dt). With it, every statistic
    // stays finite; in f64 the identities hold on every path. With alpha = 0 nothing
    // pulls the weight back, so it wanders below f32's smallest normal number (1e-38),
    // where f32 weights lose their digits: the f32 relative returns still match f64,
    // but the f32 decomposition does not hold there (sptlab run warns and suggests f64).
    let text = r#"
        seed = 3
        paths = 64
        years = 0.5
        steps_per_year = 2520
        [market]
        model = "vsm"
        n = 4
        initial_weights = [0.5, 0.3, 0.2, 1e-30]
        alpha = 0.0
        [[strategies]]
        name = "diversity-negative"
        weighting = "diversity"
        p = -0.5
        [[strategies]]
        name = "entropy"
        weighting = "entropy"
    "#;
    let in_f64 = simulate_cpu(&plan(text), Precision::F64);
    let in_f32 = simulate_cpu(&plan(text), Precision::F32);
    for (s, name) in in_f64.strategy_names.iter().enumerate() {
        for (path, (wide, narrow)) in in_f64.per_path[s].iter().zip(&in_f32.per_path[s]).enumerate() {
            let residual = wide.master_equation_residual();
            assert!(residual.abs() < 1e-9, "{name}, path {path}: residual {residual:e}");
            assert!(wide.min_divergence >= -1e-12, "{name}, path {path}");
            // f32 rounding over 1260 steps of up to 100 % moves: 1e-3 in log return.
            let gap = (wide.relative_log_return - narrow.relative_log_return).abs();
            assert!(
                gap < 1e-3,
                "{name}, path {path}: f32 {} vs f64 {}",
                narrow.relative_log_return,
                wide.relative_log_return
            );
        }
    }
    assert!(in_f32.market_log_return.iter().chain(&in_f64.market_log_return).all(|r| r.is_finite()));
}
