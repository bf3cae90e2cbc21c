//! Weightings, their generating functions and the L-divergence (docs/theory.md and docs/strategies.md).
//!
//! [`target_weights`] is the one implementation of every weighting rule: the CPU
//! kernel calls it on blocks of `LANES` paths, the f64 helpers below on one path
//! (`L = 1`). Quantities are laid out `[stock]` of `Lanes`.

use crate::numeric::lanes::{Lanes, Real};
use crate::numeric::ranking::{choose_members, sort_keyed};
use crate::portfolio::optimize::CovarianceBelief;

/// A weighting rule. Every rule here is functionally generated (the table of docs/theory.md).
#[derive(Debug, Clone, PartialEq)]
pub enum Weighting {
    Market,
    Equal,
    /// pi_i = mu_i^p / sum_j mu_j^p, p < 1, p != 0.
    Diversity {
        p: f64,
    },
    /// pi_i = -mu_i log mu_i / G(mu).
    Entropy,
    /// Fixed weights, non-negative, summing to one.
    Constant {
        weights: Vec<f64>,
    },
    /// Market weights capped at `cap` per stock, the excess spread over the uncapped
    /// stocks in proportion to their weights: pi_i = min(cap, lambda mu_i), sum 1.
    Capped {
        cap: f64,
    },
    /// Exactly k stocks held, weighted by diversity(p) among themselves (p = 1: by cap).
    /// At each rebalance the stocks held stay while ranked within k + buffer; the
    /// places left go to the largest stocks not kept. At the start: the k largest.
    TopK {
        k: usize,
        buffer: usize,
        p: f64,
    },
    /// The long-only weights of largest excess growth rate within a tracking-error
    /// budget, solved at every rebalance with the model's covariance (`optimize.rs`).
    MaxGrowth {
        te_budget: f64,
        use_growth: bool,
        max_active: Option<f64>,
        /// Half the traded weight per rebalance at most (`MaxGrowthProblem::limit_turnover`).
        max_turnover: Option<f64>,
        belief: CovarianceBelief,
    },
}

impl Weighting {
    /// Whether the master-equation decomposition applies: every rule but `Capped`,
    /// whose weights are not the gradient of a generating function, and `TopK`, whose
    /// holdings depend on the path's history (their decomposition is reported as null;
    /// the kernels give them log G = 0).
    pub fn is_functionally_generated(&self) -> bool {
        !matches!(self, Weighting::Capped { .. } | Weighting::TopK { .. } | Weighting::MaxGrowth { .. })
    }

    /// The rule with its parameters in the kernel's precision.
    pub fn in_precision<R: Real>(&self, n: usize) -> KernelWeighting<R> {
        match self {
            Weighting::Market => KernelWeighting::Market,
            Weighting::Equal => KernelWeighting::Equal { inverse_n: R::from_f64(1.0 / n as f64) },
            Weighting::Diversity { p } => {
                KernelWeighting::Diversity { p: R::from_f64(*p), inverse_p: R::from_f64(1.0 / p) }
            }
            Weighting::Entropy => KernelWeighting::Entropy,
            Weighting::Constant { weights } => {
                KernelWeighting::Constant { weights: weights.iter().map(|w| R::from_f64(*w)).collect() }
            }
            Weighting::Capped { cap } => KernelWeighting::Capped { cap: R::from_f64(*cap) },
            Weighting::TopK { k, buffer, p } => KernelWeighting::TopK { k: *k, buffer: *buffer, p: R::from_f64(*p) },
            Weighting::MaxGrowth { belief, max_turnover, .. } => {
                KernelWeighting::MaxGrowth { belief: belief.clone(), max_turnover: *max_turnover }
            }
        }
    }
}

/// A weighting rule plus how it trades (docs/strategies.md).
#[derive(Debug, Clone, PartialEq)]
pub struct Strategy {
    pub name: String,
    pub weighting: Weighting,
    /// Steps between rebalances; shares are held in between.
    pub rebalance_every: u32,
    /// Proportional cost per unit of traded value (`cost_bps * 1e-4`).
    pub cost_rate: f64,
    /// The stocks its screen excludes, ascending (empty: none; docs/open-markets.md).
    pub exclude: Vec<usize>,
}

/// [`Weighting`] with parameters converted once, outside the step loop.
#[derive(Debug, Clone)]
pub enum KernelWeighting<R> {
    Market,
    Equal {
        inverse_n: R,
    },
    Diversity {
        p: R,
        inverse_p: R,
    },
    Entropy,
    Constant {
        weights: Vec<R>,
    },
    Capped {
        cap: R,
    },
    TopK {
        k: usize,
        buffer: usize,
        p: R,
    },
    /// Solved in f64 whatever the kernel's precision.
    MaxGrowth {
        belief: CovarianceBelief,
        max_turnover: Option<f64>,
    },
}

/// Writes the target weights pi(mu) of every lane into `target` and returns log G(mu).
///
/// `log_mu` must be the logarithm of `mu` (the kernels carry both, so no logarithm
/// is taken here). Diversity weights subtract the largest exponent first, so
/// exp never overflows for any p < 1, negative p included. `FUSED`: use fused
/// multiply-adds (only where the CPU has FMA).
#[inline(always)]
pub fn target_weights<R: Real, const L: usize, const FUSED: bool>(
    weighting: &KernelWeighting<R>,
    mu: &[Lanes<R, L>],
    log_mu: &[Lanes<R, L>],
    target: &mut [Lanes<R, L>],
) -> Lanes<R, L> {
    match weighting {
        KernelWeighting::Market => {
            target.copy_from_slice(mu);
            Lanes::zero()
        }
        KernelWeighting::Equal { inverse_n } => {
            target.fill(Lanes::splat(*inverse_n));
            sum(log_mu.iter().copied()) * *inverse_n
        }
        KernelWeighting::Diversity { p, inverse_p } => {
            let largest = log_mu.iter().fold(Lanes::splat(R::from_f64(f64::MIN)), |m, lm| m.max(*lm * *p));
            let mut total = Lanes::zero();
            for (t, lm) in target.iter_mut().zip(log_mu) {
                *t = (*lm * *p - largest).exp_with::<FUSED>();
                total = total + *t;
            }
            normalise(target, total);
            (largest + total.ln()) * *inverse_p
        }
        KernelWeighting::Entropy => {
            let mut total = Lanes::zero();
            for ((t, m), lm) in target.iter_mut().zip(mu).zip(log_mu) {
                *t = -(*m * *lm);
                total = total + *t;
            }
            normalise(target, total);
            total.ln()
        }
        KernelWeighting::Constant { weights } => {
            let mut log_g = Lanes::zero();
            for ((t, w), lm) in target.iter_mut().zip(weights).zip(log_mu) {
                *t = Lanes::splat(*w);
                log_g = log_g + *lm * *w;
            }
            log_g
        }
        KernelWeighting::TopK { k, buffer, p } => {
            // Nothing held yet: the k largest. (Rebalances go through `top_k_targets`
            // with the path's holdings and rank order.)
            let n = mu.len();
            let mut lane_log_mu = vec![R::ZERO; n];
            let mut lane_target = vec![R::ZERO; n];
            let mut keyed = vec![(R::ZERO, 0u32); n];
            for lane in 0..L {
                for (value, lm) in lane_log_mu.iter_mut().zip(log_mu) {
                    *value = lm.0[lane];
                }
                let mut order: Vec<u32> = (0..n as u32).collect();
                let mut held = vec![false; n];
                top_k_targets(*k, *buffer, *p, &lane_log_mu, &mut held, &mut order, &mut keyed, &mut lane_target);
                for (t, value) in target.iter_mut().zip(&lane_target) {
                    t.0[lane] = *value;
                }
            }
            Lanes::zero()
        }
        KernelWeighting::MaxGrowth { belief, .. } => {
            // A cold start (rebalances go through `max_growth_block` with warm starts).
            // With a trailing estimate and no history yet, the strategy holds the market.
            match belief {
                CovarianceBelief::Model(problem) => {
                    let mut lane_mu = vec![0.0; mu.len()];
                    for lane in 0..L {
                        for (value, m) in lane_mu.iter_mut().zip(mu) {
                            *value = m.0[lane].to_f64();
                        }
                        let solution = problem.solve(&lane_mu);
                        for (t, w) in target.iter_mut().zip(&solution.weights) {
                            t.0[lane] = R::from_f64(*w);
                        }
                    }
                }
                CovarianceBelief::Trailing(_) => target.copy_from_slice(mu),
            }
            Lanes::zero()
        }
        KernelWeighting::Capped { cap } => {
            let scale = capped_scale(*cap, mu);
            for (t, m) in target.iter_mut().zip(mu) {
                *t = (scale * *m).min(Lanes::splat(*cap));
            }
            Lanes::zero()
        }
    }
}

/// The stocks an open-market strategy may hold (docs/open-markets.md), per lane.
#[derive(Clone, Copy)]
pub struct AllowedStocks<'a, R, const L: usize> {
    /// 1 for a stock it may hold, 0 for the rest.
    pub mask: &'a [Lanes<R, L>],
    pub count: Lanes<R, L>,
    /// log A and 1 / A for A, their share of the market's cap.
    pub log_share: Lanes<R, L>,
    pub inverse_share: Lanes<R, L>,
}

/// [`target_weights`] applied to index members or under a screen (docs/open-markets.md):
/// the rule on the allowed stocks' own weights rho^E_i = mu_i / A, with A their share
/// of the market's cap (`AllowedStocks`).
/// Writes pi(rho^E), 0 outside, and returns log G(rho^E) of the rule on the allowed
/// stocks alone. For the functionally generated rules (market, equal, diversity,
/// entropy); a scenario with an index or a screen refuses constant weights, and the
/// others are computed apart (the CPU kernel's `open_targets`).
#[inline(always)]
pub fn member_target_weights<R: Real, const L: usize, const FUSED: bool>(
    weighting: &KernelWeighting<R>,
    (mu, log_mu): (&[Lanes<R, L>], &[Lanes<R, L>]),
    allowed: AllowedStocks<'_, R, L>,
    target: &mut [Lanes<R, L>],
) -> Lanes<R, L> {
    let AllowedStocks { mask: allowed, count, log_share, inverse_share } = allowed;
    let one = Lanes::splat(R::ONE);
    match weighting {
        KernelWeighting::Equal { .. } => {
            let inverse = count.recip();
            let mut log_sum = Lanes::zero();
            for ((t, a), lm) in target.iter_mut().zip(allowed).zip(log_mu) {
                *t = *a * inverse;
                log_sum = log_sum + *lm * *a;
            }
            // The mean log weight among themselves: log rho^E = log mu - log A.
            log_sum * inverse - log_share
        }
        KernelWeighting::Diversity { p, inverse_p } => {
            // (rho^E)^p is mu^p up to the factor A^-p, which the normalisation removes;
            // stocks outside take the lowest exponent, so that they never set the largest.
            let lowest = Lanes::splat(R::from_f64(f64::from(f32::MIN)));
            let mut largest = lowest;
            for ((t, lm), a) in target.iter_mut().zip(log_mu).zip(allowed) {
                *t = *lm * *p * *a + (one - *a) * lowest;
                largest = largest.max(*t);
            }
            let mut total = Lanes::zero();
            for (t, a) in target.iter_mut().zip(allowed) {
                *t = (*t - largest).exp_with::<FUSED>() * *a;
                total = total + *t;
            }
            normalise(target, total);
            (largest + total.ln()) * *inverse_p - log_share
        }
        KernelWeighting::Entropy => {
            let mut total = Lanes::zero();
            for (((t, m), lm), a) in target.iter_mut().zip(mu).zip(log_mu).zip(allowed) {
                *t = -(*m * *a * inverse_share * (*lm - log_share));
                total = total + *t;
            }
            normalise(target, total);
            total.ln()
        }
        KernelWeighting::Market => {
            for ((t, m), a) in target.iter_mut().zip(mu).zip(allowed) {
                *t = *m * *a * inverse_share;
            }
            Lanes::zero()
        }
        // Not reached (see above): the rule on every stock.
        _ => target_weights::<R, L, FUSED>(weighting, mu, log_mu, target),
    }
}

/// Top-k targets of one path (see [`Weighting::TopK`]): `held` says which stocks the
/// strategy holds now (overwritten with the new members: `choose_members`), `order` is the path's order of stocks by cap from the last
/// rebalance (repaired here by insertion sort and kept for the next), `keyed` is
/// scratch of n pairs. Writes every stock's target weight.
#[allow(clippy::too_many_arguments)]
pub fn top_k_targets<R: Real>(
    k: usize,
    buffer: usize,
    p: R,
    log_mu: &[R],
    held: &mut [bool],
    order: &mut [u32],
    keyed: &mut [(R, u32)],
    target: &mut [R],
) {
    for (pair, &stock) in keyed.iter_mut().zip(order.iter()) {
        *pair = (log_mu[stock as usize], stock);
    }
    sort_keyed(keyed);
    for (slot, (_, stock)) in order.iter_mut().zip(keyed.iter()) {
        *slot = *stock;
    }
    // Membership: the stocks held were the members (non-members hold exactly zero).
    choose_members(k, buffer, order, held);
    for (t, &member) in target.iter_mut().zip(held.iter()) {
        *t = if member { R::ONE } else { R::ZERO };
    }
    // Diversity(p) among the members, the largest exponent subtracted first.
    let mut largest = R::from_f64(f64::MIN);
    for (member, lm) in target.iter().zip(log_mu) {
        if *member > R::ZERO {
            largest = largest.max(p * *lm);
        }
    }
    let mut total = R::ZERO;
    for (member, lm) in target.iter_mut().zip(log_mu) {
        if *member > R::ZERO {
            *member = (p * *lm - largest).exp();
            total = total + *member;
        }
    }
    let inverse = R::ONE / total;
    for t in target.iter_mut() {
        *t = *t * inverse;
    }
}

/// lambda of the capped weights pi_i = min(cap, lambda mu_i) with sum_i pi_i = 1, per lane.
///
/// Each pass caps the stocks with lambda mu_i >= cap and spreads what is left over the
/// others: lambda = (1 - capped cap) / (sum of the uncapped mu_i). lambda only grows
/// (taken as the max with the last pass, so rounding cannot undo a cap), so the capped
/// set only grows, and the passes stop once it stops growing: at most n + 1 passes,
/// in practice one more than the number of capped stocks.
#[inline(always)]
pub fn capped_scale<R: Real, const L: usize>(cap: R, mu: &[Lanes<R, L>]) -> Lanes<R, L> {
    let caps = Lanes::splat(cap);
    let mut scale = Lanes::splat(R::ONE);
    let mut last_count = Lanes::splat(R::from_f64(-1.0));
    for _pass in 0..=mu.len() {
        let mut count = Lanes::zero();
        let mut free = Lanes::zero();
        for m in mu {
            let capped = (scale * *m).zip_map(caps, |x, c| if x >= c { R::ONE } else { R::ZERO });
            count = count + capped;
            free = free + (Lanes::splat(R::ONE) - capped) * *m;
        }
        if count == last_count {
            break;
        }
        last_count = count;
        let next = (Lanes::splat(R::ONE) - count * cap).zip_map(free, |left, free| {
            if free > R::ZERO {
                left / free
            } else {
                R::from_f64(f32::MAX as f64)
            }
        });
        scale = scale.max(next);
    }
    scale
}

#[inline(always)]
fn sum<R: Real, const L: usize>(values: impl Iterator<Item = Lanes<R, L>>) -> Lanes<R, L> {
    values.fold(Lanes::zero(), |total, v| total + v)
}

#[inline(always)]
fn normalise<R: Real, const L: usize>(values: &mut [Lanes<R, L>], total: Lanes<R, L>) {
    let inverse = total.recip();
    for v in values.iter_mut() {
        *v = *v * inverse;
    }
}

/// Target weights and log G of one weight vector, in f64.
pub fn weights_and_log_g(weighting: &Weighting, mu: &[f64]) -> (Vec<f64>, f64) {
    let kernel = weighting.in_precision::<f64>(mu.len());
    let mu_lanes: Vec<Lanes<f64, 1>> = mu.iter().map(|m| Lanes([*m])).collect();
    let log_mu: Vec<Lanes<f64, 1>> = mu.iter().map(|m| Lanes([m.ln()])).collect();
    let mut target = vec![Lanes([0.0]); mu.len()];
    let log_g = target_weights::<f64, 1, false>(&kernel, &mu_lanes, &log_mu, &mut target);
    (target.into_iter().map(|t| t.0[0]).collect(), log_g.0[0])
}

/// The L-divergence T(q | p) = log(1 + <grad log G(p), q - p>) - log(G(q) / G(p)),
/// with 1 + <grad log G(p), q - p> = sum_i pi_i(p) q_i / p_i (docs/theory.md).
pub fn l_divergence(weighting: &Weighting, p: &[f64], q: &[f64]) -> f64 {
    let (pi, log_g_p) = weights_and_log_g(weighting, p);
    let (_, log_g_q) = weights_and_log_g(weighting, q);
    let ratio: f64 = pi.iter().zip(p).zip(q).map(|((w, pi), qi)| w * qi / pi).sum();
    ratio.ln() - (log_g_q - log_g_p)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MU: [f64; 3] = [0.5, 0.3, 0.2];

    fn close(a: &[f64], b: &[f64]) -> bool {
        a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-14)
    }

    #[test]
    fn weights_match_hand_computed_values() {
        let (equal, log_g) = weights_and_log_g(&Weighting::Equal, &MU);
        assert!(close(&equal, &[1.0 / 3.0; 3]));
        assert!((log_g - (0.5f64 * 0.3 * 0.2).ln() / 3.0).abs() < 1e-14);

        let (diversity, log_g) = weights_and_log_g(&Weighting::Diversity { p: 0.5 }, &MU);
        let roots = [0.5f64.sqrt(), 0.3f64.sqrt(), 0.2f64.sqrt()];
        let total: f64 = roots.iter().sum();
        assert!(close(&diversity, &roots.map(|r| r / total)));
        assert!((log_g - 2.0 * total.ln()).abs() < 1e-14);

        let (entropy, log_g) = weights_and_log_g(&Weighting::Entropy, &MU);
        let h = MU.map(|m| -m * m.ln());
        let g: f64 = h.iter().sum();
        assert!(close(&entropy, &h.map(|v| v / g)));
        assert!((log_g - g.ln()).abs() < 1e-14);

        let (market, log_g) = weights_and_log_g(&Weighting::Market, &MU);
        assert!(close(&market, &MU) && log_g == 0.0);
    }

    #[test]
    fn capped_weights_cap_and_spread_the_excess_proportionally() {
        // 0.5 and 0.3 exceed a cap of 0.25; after capping both, 0.5 is left for the
        // other three in proportion 0.1 : 0.06 : 0.04, i.e. 0.25, 0.15, 0.1. The third
        // stock's 0.25 then sits exactly at the cap.
        let mu = [0.5, 0.3, 0.1, 0.06, 0.04];
        let (weights, log_g) = weights_and_log_g(&Weighting::Capped { cap: 0.25 }, &mu);
        assert!(close(&weights, &[0.25, 0.25, 0.25, 0.15, 0.1]), "{weights:?}");
        assert_eq!(log_g, 0.0);
        // Nothing above the cap: the market itself.
        let (weights, _) = weights_and_log_g(&Weighting::Capped { cap: 0.6 }, &mu);
        assert!(close(&weights, &mu));
        // cap = 1/n: equal weights.
        let (weights, _) = weights_and_log_g(&Weighting::Capped { cap: 0.2 }, &mu);
        assert!(close(&weights, &[0.2; 5]), "{weights:?}");
        // A cascade: each pass caps one more stock (zipf weights, cap 0.12).
        let zipf: Vec<f64> = (1..=20).map(|k| 1.0 / k as f64).collect();
        let total: f64 = zipf.iter().sum();
        let zipf: Vec<f64> = zipf.iter().map(|w| w / total).collect();
        let (weights, _) = weights_and_log_g(&Weighting::Capped { cap: 0.12 }, &zipf);
        assert!((weights.iter().sum::<f64>() - 1.0).abs() < 1e-14);
        assert!(weights.iter().all(|w| *w <= 0.12 + 1e-15));
        let uncapped: Vec<usize> = (0..20).filter(|&i| weights[i] < 0.12 - 1e-12).collect();
        let ratio = weights[uncapped[0]] / zipf[uncapped[0]];
        assert!(uncapped.iter().all(|&i| (weights[i] / zipf[i] - ratio).abs() < 1e-12), "proportional");
    }

    #[test]
    fn top_k_keeps_members_within_the_buffer_and_fills_from_the_top() {
        // Caps by stock: 0 > 1 > 2 > 3 > 4 > 5 (log weights falling).
        let log_mu: Vec<f64> = [0.3, 0.25, 0.2, 0.12, 0.08, 0.05].iter().map(|m: &f64| m.ln()).collect();
        let mut order: Vec<u32> = vec![5, 4, 3, 2, 1, 0];
        let mut keyed = vec![(0.0, 0); 6];
        let mut target = vec![0.0; 6];
        // Nothing held: the 3 largest, by cap (p = 1).
        top_k_targets(3, 1, 1.0, &log_mu, &mut [false; 6], &mut order, &mut keyed, &mut target);
        assert_eq!(order, vec![0, 1, 2, 3, 4, 5]);
        assert!(close(&target, &[0.3 / 0.75, 0.25 / 0.75, 0.2 / 0.75, 0.0, 0.0, 0.0]), "{target:?}");
        // Stock 3 held at rank 4 (within k + buffer = 4) stays; stock 4 held at rank 5
        // leaves; the place left goes to the largest not kept (stock 0).
        let mut held = [false, false, true, true, true, false];
        top_k_targets(3, 1, 1.0, &log_mu, &mut held, &mut order, &mut keyed, &mut target);
        let members: Vec<usize> = (0..6).filter(|&i| target[i] > 0.0).collect();
        assert_eq!(members, vec![0, 2, 3]);
        // Diversity among members: p = 0.5.
        top_k_targets(3, 0, 0.5, &log_mu, &mut [false; 6], &mut order, &mut keyed, &mut target);
        let roots = [0.3f64.sqrt(), 0.25f64.sqrt(), 0.2f64.sqrt()];
        let total: f64 = roots.iter().sum();
        assert!(close(&target[..3], &roots.map(|r| r / total)) && target[3..].iter().all(|t| *t == 0.0));
    }

    #[test]
    fn negative_p_diversity_tilts_harder_to_small_stocks_without_overflow() {
        let mu = [1.0 - 2e-30, 1e-30, 1e-30];
        let (weights, log_g) = weights_and_log_g(&Weighting::Diversity { p: -3.0 }, &mu);
        assert!(weights.iter().all(|w| w.is_finite()) && log_g.is_finite());
        assert!((weights.iter().sum::<f64>() - 1.0).abs() < 1e-14);
        assert!(weights[1] > 0.49);
    }

    #[test]
    fn l_divergence_is_non_negative_for_every_concave_generator() {
        let rules = [
            Weighting::Equal,
            Weighting::Diversity { p: 0.5 },
            Weighting::Diversity { p: -1.5 },
            Weighting::Entropy,
            Weighting::Constant { weights: vec![0.2, 0.3, 0.5] },
            Weighting::Market,
        ];
        let mut state = 12345u64;
        let mut next = || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64 + 1e-3
        };
        for _ in 0..2000 {
            let p: Vec<f64> = (0..3).map(|_| next()).collect();
            let q: Vec<f64> = (0..3).map(|_| next()).collect();
            let (sp, sq) = (p.iter().sum::<f64>(), q.iter().sum::<f64>());
            let p: Vec<f64> = p.iter().map(|v| v / sp).collect();
            let q: Vec<f64> = q.iter().map(|v| v / sq).collect();
            for rule in &rules {
                assert!(l_divergence(rule, &p, &q) >= -1e-12, "{rule:?} at {p:?} -> {q:?}");
            }
        }
    }
}
