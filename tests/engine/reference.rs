//! The CPU kernel against a literal, one-path-at-a-time f64 transcription of docs/models.md,
//! docs/strategies.md and docs/statistics.md: prices, weights, rebalancing with costs and every per-path statistic.
//! The reference shares only the random numbers (rng::normals4) and the weight
//! formulas (portfolio::weights_and_log_g, tested against hand values) with the engine.
//! (Its top-k strategy has no buffer, so its members are the k largest at every
//! rebalance, which is what weights_and_log_g gives without holdings.)

use sptlab::engine::Precision;
use sptlab::numeric::philox::normals4;
use sptlab::portfolio::weights_and_log_g;

use crate::common::{gbm, plan, simulate_cpu};

/// Per-path statistics computed straight from the definitions.
struct Reference {
    log_return: f64,
    relative_log_return: f64,
    excess_return: f64,
    tracking_error: f64,
    max_relative_drawdown: f64,
    turnover: f64,
    /// Sum over rebalance periods of T(mu(q) | mu(p)) = log(sum_i pi_i(p) q_i / p_i)
    /// - log(G(q) / G(p)), from the market weights alone (functionally generated only).
    drift_term: f64,
}

fn reference_path(plan: &sptlab::Plan, path: u32, strategy_index: usize) -> (f64, Reference) {
    let n = plan.n();
    let dt = plan.dt();
    let strategy = &plan.strategies[strategy_index];
    let market = gbm(plan);
    let cholesky = market.cholesky().expect("a Cholesky GBM scenario");
    let mut mu = market.initial_weights.clone();
    let (mut weights, mut log_g_anchor) = weights_and_log_g(&strategy.weighting, &mu);
    // The period's start: its target weights and the market weights then.
    let (mut target_anchor, mut mu_anchor) = (weights.clone(), mu.clone());
    let mut drift_term = 0.0;
    let (mut log_value, mut log_market) = (0.0f64, 0.0f64);
    let mut active = Vec::new();
    let (mut peak, mut drawdown, mut traded_total) = (0.0f64, 0.0f64, 0.0f64);
    for step in 0..plan.steps {
        let mut z = vec![0.0; n];
        for block in 0..n.div_ceil(4) {
            let normals = normals4(plan.seed, path, step, block as u32);
            for k in 0..4 {
                if 4 * block + k < n {
                    z[4 * block + k] = normals[k];
                }
            }
        }
        let log_steps: Vec<f64> = (0..n)
            .map(|i| market.growth[i] * dt + dt.sqrt() * (0..=i).map(|j| cholesky[(i, j)] * z[j]).sum::<f64>())
            .collect();
        let growth: Vec<f64> = log_steps.iter().map(|x| x.exp()).collect();
        let market_return = (0..n).map(|i| mu[i] * growth[i]).sum::<f64>() - 1.0;
        let strategy_gross: f64 = (0..n).map(|i| weights[i] * growth[i]).sum();
        mu = (0..n).map(|i| mu[i] * growth[i] / (1.0 + market_return)).collect();
        weights = (0..n).map(|i| weights[i] * growth[i] / strategy_gross).collect();
        let mut strategy_return = strategy_gross - 1.0;
        let completed = step + 1;
        let rebalance = completed % strategy.rebalance_every == 0 && completed < plan.steps;
        if rebalance || completed == plan.steps {
            let log_g = weights_and_log_g(&strategy.weighting, &mu).1;
            let ratio: f64 = (0..n).map(|i| target_anchor[i] * mu[i] / mu_anchor[i]).sum();
            drift_term += ratio.ln() - (log_g - log_g_anchor);
            log_g_anchor = log_g;
        }
        if rebalance {
            let target = weights_and_log_g(&strategy.weighting, &mu).0;
            (target_anchor, mu_anchor) = (target.clone(), mu.clone());
            let traded: f64 = (0..n).map(|i| (target[i] - weights[i]).abs()).sum();
            traded_total += 0.5 * traded;
            strategy_return = strategy_gross * (1.0 - strategy.cost_rate * traded) - 1.0;
            weights = target;
        }
        log_value += (1.0 + strategy_return).ln();
        log_market += (1.0 + market_return).ln();
        active.push(strategy_return - market_return);
        let relative = log_value - log_market;
        peak = peak.max(relative);
        drawdown = drawdown.max(peak - relative);
    }
    let count = active.len() as f64;
    let mean = active.iter().sum::<f64>() / count;
    let variance = active.iter().map(|a| (a - mean) * (a - mean)).sum::<f64>() / (count - 1.0);
    let per_year = plan.steps_per_year as f64;
    let reference = Reference {
        log_return: log_value,
        relative_log_return: log_value - log_market,
        excess_return: mean * per_year,
        tracking_error: (variance * per_year).sqrt(),
        max_relative_drawdown: 1.0 - (-drawdown).exp(),
        turnover: traded_total / plan.years(),
        drift_term,
    };
    (log_market, reference)
}

#[test]
fn the_kernel_matches_the_definitions_path_by_path() {
    let plan = plan(
        r#"
        seed = 77
        paths = 19
        years = 2.0
        [market]
        n = 6
        initial_weights = [0.3, 0.25, 0.2, 0.1, 0.1, 0.05]
        drift = [0.08, 0.07, 0.06, 0.09, 0.05, 0.1]
        covariance = [[0.04, 0.01, 0.0, 0.005, 0.0, 0.002],
                      [0.01, 0.09, 0.01, 0.0, 0.0, 0.0],
                      [0.0, 0.01, 0.0625, 0.0, 0.003, 0.0],
                      [0.005, 0.0, 0.0, 0.1, 0.0, 0.01],
                      [0.0, 0.0, 0.003, 0.0, 0.16, 0.0],
                      [0.002, 0.0, 0.0, 0.01, 0.0, 0.2]]
        [[strategies]]
        name = "equal-weekly-costly"
        weighting = "equal"
        rebalance_every = 5
        cost_bps = 30.0
        [[strategies]]
        name = "diversity"
        weighting = "diversity"
        p = 0.3
        cost_bps = 5.0
        [[strategies]]
        name = "entropy-monthly"
        weighting = "entropy"
        rebalance_every = 21
        [[strategies]]
        name = "constant"
        weighting = "constant"
        weights = [0.1, 0.1, 0.2, 0.2, 0.2, 0.2]
        rebalance_every = 3
        cost_bps = 100.0
        [[strategies]]
        name = "capped"
        weighting = "capped"
        cap = 0.22
        rebalance_every = 2
        cost_bps = 15.0
        [[strategies]]
        name = "top-3"
        weighting = "top_k"
        k = 3
        p = 0.5
        rebalance_every = 4
        cost_bps = 20.0
        "#,
    );
    let results = simulate_cpu(&plan, Precision::F64);
    for (s, name) in results.strategy_names.iter().enumerate() {
        for path in 0..plan.paths as usize {
            let (market_log_return, expected) = reference_path(&plan, path as u32, s);
            let got = &results.per_path[s][path];
            let checks = [
                ("market log return", results.market_log_return[path], market_log_return),
                ("log_return", got.log_return, expected.log_return),
                ("relative_log_return", got.relative_log_return, expected.relative_log_return),
                ("excess_return", got.excess_return, expected.excess_return),
                ("tracking_error", got.tracking_error, expected.tracking_error),
                ("max_relative_drawdown", got.max_relative_drawdown, expected.max_relative_drawdown),
                ("turnover", got.turnover, expected.turnover),
            ];
            // Both are f64; they sum in different orders, so they agree to rounding.
            for (what, engine, reference) in checks {
                assert!((engine - reference).abs() < 1e-9, "{name}, path {path}, {what}: {engine} vs {reference}");
            }
            assert!(got.turnover > 0.0 && got.tracking_error > 0.0);
            // The engine takes each period's L-divergence from the holdings' value and
            // log Z; the reference from the weights alone, as docs/statistics.md defines it, so the
            // master equation checks the value accounting.
            if results.functionally_generated[s] {
                let (engine, reference) = (got.drift_term, expected.drift_term);
                assert!((engine - reference).abs() < 1e-9, "{name}, path {path}, drift: {engine} vs {reference}");
            }
        }
    }
}

/// One path's terminal log caps under a rank-based or volatility-stabilised model,
/// straight from docs/models.md: Euler steps, coefficients from the state at the
/// start of each step (ranks by cap, ties by index; VSM weights floored at dt as
/// src/market/vsm.rs documents).
fn reference_euler_log_caps(plan: &sptlab::Plan, path: u32) -> Vec<f64> {
    use sptlab::market::Market;
    let n = plan.n();
    let dt = plan.dt();
    let mut log_caps: Vec<f64> = plan.market.initial_weights().iter().map(|w| w.ln()).collect();
    for step in 0..plan.steps {
        let z: Vec<f64> = (0..n).map(|i| normals4(plan.seed, path, step, (i / 4) as u32)[i % 4]).collect();
        let total: f64 = log_caps.iter().map(|c| c.exp()).sum();
        let steps: Vec<f64> = match &plan.market {
            Market::Rank(rank) => {
                // Rank of stock i: how many stocks are larger, or equal with a lower index.
                (0..n)
                    .map(|i| {
                        let k = (0..n)
                            .filter(|&j| log_caps[j] > log_caps[i] || (log_caps[j] == log_caps[i] && j < i))
                            .count();
                        (rank.growth + rank.rank_growth[k]) * dt + rank.rank_vol[k] * dt.sqrt() * z[i]
                    })
                    .collect()
            }
            Market::Vsm(vsm) => (0..n)
                .map(|i| {
                    let weight = (log_caps[i].exp() / total).max(dt);
                    vsm.alpha / (2.0 * weight) * dt + (dt / weight).sqrt() * z[i]
                })
                .collect(),
            Market::Gbm(_) | Market::Bootstrap(_) => unreachable!("not an Euler model: its reference is elsewhere"),
        };
        for i in 0..n {
            log_caps[i] += steps[i];
        }
    }
    log_caps
}

#[test]
fn euler_models_match_their_definitions_path_by_path() {
    use sptlab::engine::Backend;
    let markets = [
        "model = \"first_order\"\ninitial_weights = [0.2, 0.2, 0.3, 0.1, 0.2]\ngrowth = 0.04\n\
         rank_growth = [-0.3, -0.2, 0.0, 0.1, 0.4]\nrank_vol = [0.2, 0.25, 0.3, 0.35, 0.6]",
        "model = \"vsm\"\ninitial_weights = [0.4, 0.3, 0.2, 0.08, 0.02]\nalpha = 0.7",
    ];
    for market in markets {
        // Equal initial weights in the first market test the tie rule at the first step.
        let plan = plan(&format!(
            "seed = 5\npaths = 21\nyears = 1.0\nsteps_per_year = 500\n[market]\nn = 5\n{market}\n\
             [[strategies]]\nname = \"equal\"\nweighting = \"equal\""
        ));
        let state = sptlab::engine::CpuBackend::new(Precision::F64, None)
            .simulate(&plan, 0..plan.paths, &|_| {})
            .expect("simulation runs");
        for path in 0..plan.paths as usize {
            let expected = reference_euler_log_caps(&plan, path as u32);
            for (i, (engine, reference)) in state.path_log_caps(path).iter().zip(&expected).enumerate() {
                // f64 both; they differ only in the order of rounding (the engine keeps
                // weights multiplicatively), over 500 steps.
                assert!(
                    (engine - reference).abs() < 1e-9 * (1.0 + reference.abs()),
                    "{market}: path {path}, stock {i}: {engine} vs {reference}"
                );
            }
        }
    }
}
