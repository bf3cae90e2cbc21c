//! Rank-based first-order models, Atlas included (docs/models.md): the stock at
//! rank k (1 = largest cap, ties by index) gets growth gamma + g_k and volatility
//! sigma_k, with independent noise. Euler steps, ranks re-evaluated every step.
//!
//! Ranking: each path keeps its order of stocks from the last step and repairs it
//! by insertion sort, which costs O(n + swaps). Ranks change little between steps
//! (a handful of neighbouring swaps per step), so this is O(n) per step in practice,
//! on the CPU and in each GPU invocation alike, without the O(n^2) of counting ranks
//! or the barriers of a workgroup sort (costly on llvmpipe, see docs/testing.md).

use crate::market::spec::{MarketSpec, ModelKind, PerStock};
use crate::market::{fill_normals, initial_weights, Draws};
use crate::numeric::lanes::{Lanes, Real};
use crate::numeric::philox::STREAM_MARKET;
use crate::numeric::ranking::{sort_by_rank, sort_keyed};
use crate::problems::{invalid, Problems, ScenarioError};

use super::gbm::{bounded_growth, checked_vols};

/// Validated rank-based parameters, per year.
#[derive(Debug, Clone)]
pub struct RankMarket {
    pub initial_weights: Vec<f64>,
    /// gamma, the growth rate common to every stock.
    pub growth: f64,
    /// g_1 .. g_n by rank (largest first); partial sums negative, total zero.
    pub rank_growth: Vec<f64>,
    /// sigma_1 .. sigma_n by rank.
    pub rank_vol: Vec<f64>,
    /// Whether this is the Atlas model (for the report).
    pub atlas: bool,
}

impl RankMarket {
    pub fn from_spec(spec: &MarketSpec) -> Result<RankMarket, ScenarioError> {
        let mut problems = Problems::default();
        let initial_weights = problems.check(initial_weights(spec));
        let parameters = problems.check(Self::parameters(spec));
        let (Some(initial_weights), Some((growth, rank_growth, rank_vol))) = (initial_weights, parameters) else {
            return Err(problems.into_error());
        };
        Ok(RankMarket { initial_weights, growth, rank_growth, rank_vol, atlas: spec.model == ModelKind::Atlas })
    }

    /// gamma, g_k and sigma_k, checked.
    fn parameters(spec: &MarketSpec) -> Result<(f64, Vec<f64>, Vec<f64>), ScenarioError> {
        let n = spec.n;
        let growth = match &spec.growth {
            None => 0.0,
            Some(PerStock::One(growth)) => bounded_growth(vec![*growth], "market.growth")?[0],
            Some(_) => return Err(invalid(
                "market.growth",
                "rank-based models take one growth rate gamma for every stock (rank effects go in the rank parameters)",
            )),
        };
        if !growth.is_finite() {
            return Err(invalid("market.growth", "must be a finite number"));
        }
        let atlas = spec.model == ModelKind::Atlas;
        let (rank_growth, rank_vol) = if atlas {
            let g = spec.atlas_g.ok_or_else(|| invalid("market.atlas_g", "the atlas model needs atlas_g (g > 0)"))?;
            if !(g.is_finite() && g > 0.0 && g <= super::gbm::MAX_GROWTH) {
                return Err(invalid(
                    "market.atlas_g",
                    format!("must be positive and at most {} per year, got {g}", super::gbm::MAX_GROWTH),
                ));
            }
            let mut rank_growth = vec![-g; n];
            rank_growth[n - 1] = (n - 1) as f64 * g;
            let vol = spec.vol.as_ref().ok_or_else(|| invalid("market.vol", "the atlas model needs vol"))?;
            (rank_growth, checked_vols(vol.expand(n, "market.vol")?, "market.vol")?)
        } else {
            let rank_growth = spec
                .rank_growth
                .as_ref()
                .ok_or_else(|| invalid("market.rank_growth", "the first_order model needs rank_growth (n values)"))?;
            let rank_growth = PerStock::List(rank_growth.clone()).expand(n, "market.rank_growth")?;
            // The bottom ranks of a stable market may need large rates (Atlas: (n - 1) g),
            // so the bound scales with n; the stock holding such a rank leaves it quickly.
            let bound = super::gbm::MAX_GROWTH * n as f64;
            if let Some(k) = rank_growth.iter().position(|g| g.abs() > bound) {
                return Err(invalid(
                    format!("market.rank_growth[{k}]"),
                    format!("must be within +/-{bound} per year (5 n), got {}", rank_growth[k]),
                ));
            }
            check_stability(&rank_growth)?;
            let vol = spec
                .rank_vol
                .as_ref()
                .ok_or_else(|| invalid("market.rank_vol", "the first_order model needs rank_vol"))?;
            (rank_growth, checked_vols(vol.expand(n, "market.rank_vol")?, "market.rank_vol")?)
        };
        Ok((growth, rank_growth, rank_vol))
    }

    pub fn n(&self) -> usize {
        self.initial_weights.len()
    }

    /// lambda_k = -4 (g_1 + ... + g_k) / (sigma_k^2 + sigma_(k+1)^2), k = 1 .. n - 1: the
    /// rates of the stationary exponential gaps when sigma_k^2 is linear in k (docs/models.md).
    pub fn product_form_gap_rates(&self) -> Vec<f64> {
        let mut partial = 0.0;
        (0..self.n() - 1)
            .map(|k| {
                partial += self.rank_growth[k];
                -4.0 * partial / (self.rank_vol[k].powi(2) + self.rank_vol[k + 1].powi(2))
            })
            .collect()
    }

    /// Stocks by rank at the start: largest initial weight first, ties by index.
    pub fn initial_order(&self) -> Vec<u32> {
        let mut order: Vec<u32> = (0..self.n() as u32).collect();
        sort_by_rank(&mut order, |i| self.initial_weights[i]);
        order
    }

    pub fn kernel<R: Real>(&self, dt: f64) -> RankKernel<R> {
        RankKernel {
            n: self.n(),
            rank_drift: self.rank_growth.iter().map(|g| R::from_f64((self.growth + g) * dt)).collect(),
            rank_vol: self.rank_vol.iter().map(|s| R::from_f64(s * dt.sqrt())).collect(),
            initial_order: self.initial_order(),
        }
    }
}

/// The stability conditions: g_1 + ... + g_k < 0 for k < n, and sum g_k = 0.
pub fn check_stability(rank_growth: &[f64]) -> Result<(), ScenarioError> {
    let n = rank_growth.len();
    let scale: f64 = rank_growth.iter().map(|g| g.abs()).sum::<f64>().max(1e-300);
    let mut partial = 0.0;
    for (k, g) in rank_growth[..n - 1].iter().enumerate() {
        partial += g;
        if partial >= 0.0 {
            return Err(invalid(
                "market.rank_growth",
                format!(
                    "g_1 + ... + g_{} = {partial} must be negative for every k < n (stability: the top ranks must grow slower)",
                    k + 1
                ),
            ));
        }
    }
    let total = partial + rank_growth[n - 1];
    if total.abs() > 1e-9 * scale {
        return Err(invalid("market.rank_growth", format!("must sum to zero (stability), they sum to {total}")));
    }
    Ok(())
}

/// Rank-based parameters in the kernel's precision.
#[derive(Debug, Clone)]
pub struct RankKernel<R> {
    pub n: usize,
    /// (gamma + g_k) dt by rank.
    pub rank_drift: Vec<R>,
    /// sigma_k sqrt(dt) by rank.
    pub rank_vol: Vec<R>,
    pub initial_order: Vec<u32>,
}

/// One Euler step of log caps for `L` paths. `order` holds each lane's stocks by rank
/// (`lane * n + rank`), repaired here against the caps at the start of the step;
/// `keyed` is scratch of n pairs. The CPU twin of `shaders/market_rank.wgsl`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub fn rank_log_steps<R: Real, const L: usize, const FUSED: bool>(
    params: &RankKernel<R>,
    key: [u32; 2],
    draws: &Draws<R, L>,
    step: u32,
    log_caps: &[Lanes<R, L>],
    order: &mut [u32],
    keyed: &mut [(R, u32)],
    log_steps: &mut [Lanes<R, L>],
    noise: &mut [Lanes<R, L>],
) {
    let n = params.n;
    fill_normals::<R, L, FUSED>(key, draws, step, STREAM_MARKET, &mut log_steps[..n]);
    for (lane, order) in order.chunks_exact_mut(n).enumerate() {
        for (pair, &stock) in keyed.iter_mut().zip(order.iter()) {
            *pair = (log_caps[stock as usize].0[lane], stock);
        }
        sort_keyed(keyed);
        for (rank, ((_, stock), slot)) in keyed.iter().zip(order.iter_mut()).enumerate() {
            *slot = *stock;
            // The noise term sigma_k sqrt(dt) z, then the drift of the rank held.
            let stock = *stock as usize;
            let z = &mut log_steps[stock].0[lane];
            let term = params.rank_vol[rank] * *z;
            noise[stock].0[lane] = term;
            *z = params.rank_drift[rank] + term;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insertion_sort_ranks_by_cap_with_ties_by_index() {
        let caps = [1.0, 3.0, 2.0, 3.0, 0.5];
        let mut order = vec![4, 3, 2, 1, 0];
        sort_by_rank(&mut order, |i| caps[i]);
        assert_eq!(order, vec![1, 3, 2, 0, 4]);
    }

    #[test]
    fn stability_conditions_are_enforced() {
        assert!(check_stability(&[-0.1, -0.1, 0.2]).is_ok());
        assert!(check_stability(&[-0.1, 0.2, -0.1]).is_err(), "partial sum g1 + g2 > 0");
        assert!(check_stability(&[-0.1, -0.1, 0.3]).is_err(), "total not zero");
    }

    #[test]
    fn atlas_gap_rates_are_2kg_over_sigma_squared() {
        let market = RankMarket {
            initial_weights: vec![0.25; 4],
            growth: 0.0,
            rank_growth: vec![-0.1, -0.1, -0.1, 0.3],
            rank_vol: vec![0.2; 4],
            atlas: true,
        };
        for (k, rate) in market.product_form_gap_rates().iter().enumerate() {
            let expected = 2.0 * (k + 1) as f64 * 0.1 / 0.04;
            assert!((rate - expected).abs() < 1e-12, "rank {}: {rate} vs {expected}", k + 1);
        }
    }
}
