//! The weighting rules that need a block's scratch: top-k's rank orders and
//! max_growth's solves (per lane, warm-started), with the window of recent returns a
//! trailing estimate reads.

use super::accounting::Lanes;
use crate::numeric::lanes::{Real, LANES};
use crate::portfolio::optimize::{CovarianceBelief, WarmStart};
use crate::portfolio::top_k_targets;

/// The last `capacity` steps' log returns, `[slot][stock]` of lanes, as a ring.
pub(super) struct ReturnWindow<R> {
    pub(super) capacity: usize,
    pub(super) returns: Vec<Lanes<R>>,
    /// The slot the next step's returns go to.
    pub(super) next: usize,
    pub(super) filled: usize,
}

impl<R: Real> ReturnWindow<R> {
    pub(super) fn push(&mut self, log_returns: &[Lanes<R>]) {
        let n = log_returns.len();
        self.returns[self.next * n..(self.next + 1) * n].copy_from_slice(log_returns);
        self.next = (self.next + 1) % self.capacity;
        self.filled = (self.filled + 1).min(self.capacity);
    }

    /// Lane `lane`'s last `count` returns (at most those held), oldest first.
    pub(super) fn lane_history(&self, lane: usize, count: usize, n: usize) -> Vec<Vec<f64>> {
        let count = count.min(self.filled);
        (0..count)
            .map(|j| {
                let slot = (self.next + self.capacity - count + j) % self.capacity;
                self.returns[slot * n..(slot + 1) * n].iter().map(|r| r.0[lane].to_f64()).collect()
            })
            .collect()
    }
}

/// What top-k strategies keep per block: each lane's rank order (`lane * n + rank`),
/// shared by every top-k strategy, and one lane's worth of scratch.
pub(super) struct TopKScratch<R> {
    pub(super) order: Vec<u32>,
    pub(super) keyed: Vec<(R, u32)>,
    pub(super) log_mu: Vec<R>,
    pub(super) held: Vec<bool>,
    pub(super) target: Vec<R>,
}

/// With an index or a screen: the allowed stocks (1 and 0) and the inverse of their
/// share of the market's cap.
pub(super) type AllowedMask<'a, R> = Option<(&'a [Lanes<R>], Lanes<R>)>;

/// Top-k targets for every lane of a block, from each lane's holdings (held = positive);
/// with `allowed` (a mask of 1 and 0), among the allowed stocks only.
pub(super) fn top_k_block<R: Real>(
    (k, buffer, p): (usize, usize, R),
    log_mu: &[Lanes<R>],
    allowed: Option<&[Lanes<R>]>,
    holdings: &[Lanes<R>],
    scratch: &mut TopKScratch<R>,
    target: &mut [Lanes<R>],
) {
    let n = log_mu.len();
    // Stocks not allowed rank below every allowed one (k is at most the allowed count).
    let outside = R::from_f64(-1e30);
    for lane in 0..LANES {
        for i in 0..n {
            let allowed = allowed.is_none_or(|a| a[i].0[lane] > R::ZERO);
            scratch.log_mu[i] = if allowed { log_mu[i].0[lane] } else { outside };
            scratch.held[i] = allowed && holdings[i].0[lane] > R::ZERO;
        }
        let order = &mut scratch.order[lane * n..(lane + 1) * n];
        top_k_targets(k, buffer, p, &scratch.log_mu, &mut scratch.held, order, &mut scratch.keyed, &mut scratch.target);
        for (t, value) in target.iter_mut().zip(&scratch.target) {
            t.0[lane] = *value;
        }
    }
}

/// max_growth targets for the live lanes of a block (those `warm` holds: a block's last
/// lanes may carry no path, and a solve costs far more than a step), each solve
/// warm-started from the lane's last; the rest hold the market. With `allowed` (a mask
/// of 1 and 0 and the inverse of the allowed stocks' share of the market), the
/// benchmark is the allowed members among themselves and every other weight is 0. With a trailing
/// estimate each lane builds its own problem from its window of returns, and holds the
/// market until it has two. With a turnover limit, the move from the weights held
/// toward the optimum is cut to the limit.
pub(super) fn max_growth_block<R: Real>(
    belief: &CovarianceBelief,
    (mu, allowed): (&[Lanes<R>], AllowedMask<'_, R>),
    (holdings, max_turnover): (&[Lanes<R>], Option<f64>),
    window: Option<&ReturnWindow<R>>,
    warm: &mut [WarmStart],
    target: &mut [Lanes<R>],
) {
    let n = mu.len();
    let mut lane_mu = vec![0.0; n];
    let mut lane_allowed = vec![true; n];
    for lane in 0..LANES {
        for ((t, m), i) in target.iter_mut().zip(mu).zip(0..n) {
            // Lanes without a path hold the (screened) market.
            t.0[lane] = match allowed {
                Some((mask, inverse_share)) => m.0[lane] * mask[i].0[lane] * inverse_share.0[lane],
                None => m.0[lane],
            };
        }
    }
    for (lane, warm) in warm.iter_mut().enumerate() {
        // The benchmark's weights: the market's, or the allowed members' among themselves.
        for (i, value) in lane_mu.iter_mut().enumerate() {
            *value = target[i].0[lane].to_f64();
        }
        if let Some((mask, _)) = allowed {
            for (a, m) in lane_allowed.iter_mut().zip(mask) {
                *a = m.0[lane] > R::ZERO;
            }
        }
        let estimated;
        let problem = match belief {
            CovarianceBelief::Model(problem) => Some(problem.as_ref()),
            CovarianceBelief::Trailing(estimate) => {
                let history = window.map_or(Vec::new(), |w| w.lane_history(lane, estimate.lookback, n));
                estimated = estimate.problem(&history);
                estimated.as_ref()
            }
        };
        let within = allowed.map(|_| &lane_allowed[..]);
        let weights = match problem {
            Some(problem) => {
                let optimum = problem.solve_within(&lane_mu, within, warm).weights;
                match max_turnover {
                    Some(limit) => {
                        // Leavers are sold whatever the limit: the held weights of the
                        // stocks it may still hold, among themselves, are where it starts.
                        let held: Vec<f64> = holdings
                            .iter()
                            .zip(0..n)
                            .map(|(h, i)| if lane_allowed[i] { h.0[lane].to_f64() } else { 0.0 })
                            .collect();
                        let value: f64 = held.iter().sum();
                        let held: Vec<f64> = held.iter().map(|h| h / value).collect();
                        problem.limit_turnover(&lane_mu, &held, &optimum, limit)
                    }
                    None => optimum,
                }
            }
            None => lane_mu.clone(),
        };
        for (t, w) in target.iter_mut().zip(&weights) {
            t.0[lane] = R::from_f64(*w);
        }
    }
}
