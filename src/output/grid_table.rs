//! The time grid as a table (Python's `Result.grid`): per strategy and grid point, the
//! mean and quantiles over paths of the relative log return L(t) (the fan chart's
//! figures) and the means of the decomposition's terms so far (the decomposition
//! chart's), from the same `TimeGrid` the figures read.

use crate::summary::results::Results;

/// The quantiles of L(t) each row gives.
pub const GRID_QUANTILES: [f64; 5] = [0.05, 0.25, 0.5, 0.75, 0.95];

/// One strategy at one grid point.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct GridRow {
    pub strategy: String,
    /// Completed steps at the point, and the time in years.
    pub step: u32,
    pub years: f64,
    /// Mean over paths of L(t) = log(V_pi(t) / V_mu(t)).
    pub mean_relative_log_return: f64,
    /// Quantiles of L(t) over paths ([`GRID_QUANTILES`]), each within one histogram
    /// bin (0.003) of the paths' own.
    pub q05: f64,
    pub q25: f64,
    pub q50: f64,
    pub q75: f64,
    pub q95: f64,
    /// Means of the generating and drift terms so far (functionally generated
    /// strategies only) and of the costs so far.
    pub generating_term: Option<f64>,
    pub drift_term: Option<f64>,
    pub cost_term: f64,
    /// Means of the leakage term so far (functionally generated strategies only) and of
    /// the screen term as of the last reconstitution (docs/open-markets.md); 0 in a
    /// closed market without screens.
    pub leakage_term: Option<f64>,
    pub screen_term: f64,
}

/// Every strategy's rows in scenario order, points in time order; none when the run
/// kept no grid.
pub fn grid_rows(results: &Results, steps_per_year: u32) -> Vec<GridRow> {
    let Some(grid) = &results.grid else { return Vec::new() };
    let steps_at = grid.spec.steps_at();
    let mut rows = Vec::with_capacity(grid.strategies * steps_at.len());
    for (strategy, name) in results.strategy_names.iter().enumerate().take(grid.strategies) {
        let generated = results.functionally_generated[strategy];
        for (point, &step) in steps_at.iter().enumerate() {
            let point = point as u32;
            let [q05, q25, q50, q75, q95] = GRID_QUANTILES.map(|q| grid.quantile(strategy, point, q));
            let mean = |quantity| grid.mean(strategy, point, quantity);
            rows.push(GridRow {
                strategy: name.clone(),
                step,
                years: step as f64 / steps_per_year as f64,
                mean_relative_log_return: mean(0),
                q05,
                q25,
                q50,
                q75,
                q95,
                generating_term: generated.then(|| mean(1)),
                drift_term: generated.then(|| mean(2)),
                cost_term: mean(3),
                leakage_term: generated.then(|| mean(4)),
                screen_term: mean(5),
            });
        }
    }
    rows
}
