//! The time grid against the per-path statistics it summarises over time.

use sptlab::engine::Precision;

use crate::common::{plan, simulate_cpu, MIXED};

#[test]
fn the_grids_last_point_is_the_runs_end_and_its_decomposition_adds_up() {
    let plan = plan(MIXED);
    let results = simulate_cpu(&plan, Precision::F64);
    let grid = results.grid.as_ref().expect("the CPU backend records the time grid");
    assert_eq!(grid.paths, plan.paths);
    assert_eq!(grid.spec.points, 120, "monthly over ten years");
    let last = grid.spec.points - 1;
    // Sums are kept in units of 2^-40 per path: means agree to about 1e-12.
    let tolerance = 1e-10;
    for (s, paths) in results.per_path.iter().enumerate() {
        let mean = |field: fn(&sptlab::engine::PathStatistics) -> f64| {
            paths.iter().map(field).sum::<f64>() / paths.len() as f64
        };
        let name = &results.strategy_names[s];
        assert!((grid.mean(s, last, 0) - mean(|p| p.relative_log_return)).abs() < tolerance, "{name}: L");
        assert!((grid.mean(s, last, 2) - mean(|p| p.drift_term)).abs() < tolerance, "{name}: drift");
        assert!((grid.mean(s, last, 3) - mean(|p| p.cost_term)).abs() < tolerance, "{name}: cost");
        if results.functionally_generated[s] {
            assert!((grid.mean(s, last, 1) - mean(|p| p.generating_term)).abs() < tolerance, "{name}: generating");
            // The master equation, on the means at the last point.
            let parts: f64 = (1..4).map(|q| grid.mean(s, last, q)).sum();
            assert!((grid.mean(s, last, 0) - parts).abs() < 1e-8, "{name}: master equation");
        }
        // The histogram's median lies between the middle order statistics of the paths,
        // give or take a bin (0.003).
        let mut relative: Vec<f64> = paths.iter().map(|p| p.relative_log_return).collect();
        relative.sort_by(f64::total_cmp);
        let (below, above) = (relative[relative.len() / 2 - 1], relative[relative.len() / 2]);
        let from_grid = grid.quantile(s, last, 0.5);
        let bin = 0.003 + 1e-12;
        assert!(below - bin <= from_grid && from_grid <= above + bin, "{name}: median {from_grid} vs {below}..{above}");
    }
    // Half-way, L has moved from zero but not to its end (the points are in time order).
    let middle = grid.spec.points / 2 - 1;
    let equal = results.strategy_names.iter().position(|n| n == "equal").unwrap();
    assert!(grid.mean(equal, middle, 2) > 0.0 && grid.mean(equal, middle, 2) < grid.mean(equal, last, 2));
}
