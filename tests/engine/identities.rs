//! Identities that hold on every path (docs/theory.md).

use sptlab::engine::Precision;

use crate::common::{plan, simulate_cpu, MIXED};

#[test]
fn the_master_equation_holds_on_every_path_in_f64() {
    let plan = plan(MIXED);
    let results = simulate_cpu(&plan, Precision::F64);
    for (name, paths) in results.strategy_names.iter().zip(&results.per_path) {
        for (path, stats) in paths.iter().enumerate() {
            let residual = stats.master_equation_residual();
            assert!(residual.abs() <= 1e-9, "{name}, path {path}: residual {residual:e}");
            // Every G here is concave, so every L-divergence term is non-negative.
            assert!(stats.min_divergence >= -1e-12, "{name}, path {path}: term {:e}", stats.min_divergence);
            assert!(stats.relative_log_return.is_finite());
        }
    }
    // The market against itself: nothing happens.
    let market = results.strategy_names.iter().position(|n| n == "cap-weighted").unwrap();
    for stats in &results.per_path[market] {
        assert!(stats.relative_log_return.abs() < 1e-12 && stats.turnover < 1e-12);
    }
}

#[test]
fn the_master_equation_is_a_real_check() {
    // Costs break the identity unless the cost term is counted: leaving it out
    // must show a residual, or the test above could not fail.
    let plan = plan(MIXED);
    let results = simulate_cpu(&plan, Precision::F64);
    let costly = results.strategy_names.iter().position(|n| n == "equal-monthly-costly").unwrap();
    let stats = &results.per_path[costly][0];
    assert!(stats.cost_term < -1e-3);
    let without_cost = stats.relative_log_return - (stats.generating_term + stats.drift_term);
    assert!((without_cost - stats.cost_term).abs() < 1e-9 && without_cost.abs() > 1e-3);
}

#[test]
fn the_diversity_floor_holds_on_every_path() {
    // log(V_pi / V_mu) >= -((1 - p) / p) log n for p in (0, 1), without costs.
    let plan = plan(MIXED);
    let results = simulate_cpu(&plan, Precision::F64);
    let index = results.strategy_names.iter().position(|n| n == "diversity-0.5").unwrap();
    let floor = -((1.0 - 0.5) / 0.5) * (30f64).ln();
    for stats in &results.per_path[index] {
        assert!(stats.relative_log_return >= floor, "{} < {floor}", stats.relative_log_return);
        assert!(stats.generating_term >= floor);
    }
}

#[test]
fn the_diversity_floor_holds_in_a_market_that_concentrates() {
    // Unequal growth makes one stock take over; the floor must still hold.
    let text =
        MIXED.replace("growth = 0.05", "growth = { from = 0.3, to = -0.3 }").replace("years = 10.0", "years = 30.0");
    let results = simulate_cpu(&plan(&text), Precision::F64);
    let index = results.strategy_names.iter().position(|n| n == "diversity-0.5").unwrap();
    let floor = -(30f64).ln();
    let lowest = results.per_path[index].iter().map(|s| s.relative_log_return).fold(f64::INFINITY, f64::min);
    assert!(lowest >= floor, "{lowest} < {floor}");
    assert!(lowest < 0.5 * floor, "the market should concentrate enough to approach the floor: {lowest}");
}
