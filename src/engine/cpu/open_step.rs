//! An open market's strategy step (docs/open-markets.md): what a strategy on index
//! members or under a screen keeps, its targets on the allowed stocks, and the close of
//! its holding period with the leakage and screen terms at a reconstitution.

use super::accounting::{kahan_add, kahan_add_slot, record_size_tilt, Lanes};
use super::params::StrategyKernel;
use super::rules::{max_growth_block, top_k_block, ReturnWindow, TopKScratch};
use crate::engine::accumulators::slot;
use crate::engine::open_market::{allowed_share, AllowedShare, IndexBlock};
use crate::numeric::lanes::{Real, LANES};
use crate::portfolio::optimize::WarmStart;
use crate::portfolio::{member_target_weights, target_weights, AllowedStocks, KernelWeighting};

/// What a strategy in an open market keeps beside its slots (docs/open-markets.md).
pub(super) struct OpenTerms<R> {
    /// 1 for the stocks it may hold now (the index's members less its screen), 0 elsewhere.
    pub(super) allowed: Vec<Lanes<R>>,
    /// Sum over reconstitutions of log G(rho^E before) - log G(rho^E after), with Kahan.
    pub(super) leakage: Lanes<R>,
    pub(super) leakage_comp: Lanes<R>,
    /// log(V_rho^E / V_rho) at the last index period's start, and summed over the periods closed.
    pub(super) screen_anchor: Lanes<R>,
    pub(super) screen: Lanes<R>,
    /// log A at the holding period's start: the allowed stocks' share of the market.
    pub(super) log_share_anchor: Lanes<R>,
}

/// Scratch of the open market's strategies: the allowed stocks after a reconstitution,
/// and rho^E (for capped).
pub(super) struct OpenScratch<R> {
    pub(super) allowed: Vec<Lanes<R>>,
    pub(super) rho: Vec<Lanes<R>>,
}

/// Why an open-market strategy closes its holding period at a step.
pub(super) struct OpenSchedule<R> {
    /// Its own rebalancing falls here.
    pub(super) rebalance: bool,
    /// The run's last step: the period closes without a trade.
    pub(super) is_last: bool,
    /// The index reconstituted here.
    pub(super) reconstituted: bool,
    /// 1 in the lanes where the reconstitution changed the strategy's allowed stocks.
    pub(super) changed: Lanes<R>,
}

/// A strategy on index members or under a screen, at a step where its period may close.
pub(super) struct OpenStrategy<'a, R> {
    pub(super) kernel: &'a StrategyKernel<R>,
    pub(super) holdings: &'a mut [Lanes<R>],
    /// max_growth: the live lanes' solver states.
    pub(super) warm: &'a mut [WarmStart],
    pub(super) slots: &'a mut [Lanes<R>; slot::COUNT],
    pub(super) terms: &'a mut OpenTerms<R>,
}

/// The block's market as such a strategy sees it: the market weights, their logs and the index.
pub(super) struct MarketView<'a, R> {
    pub(super) mu: &'a [Lanes<R>],
    pub(super) log_mu: &'a [Lanes<R>],
    pub(super) index: Option<&'a IndexBlock<R>>,
    /// With an index, sum_i rho_i log mu_i (`index_log_mu`), for the size tilt.
    pub(super) index_log_mu: Lanes<R>,
    /// max_growth with a trailing estimate: the lanes' recent returns.
    pub(super) window: Option<&'a ReturnWindow<R>>,
}

/// An open-market strategy's targets: its rule on the allowed stocks (`allowed`, their
/// `share` of the market; `rho_scratch` for rho^E; the market's weights and logs) into `target`;
/// returns log G(rho^E) (0 for rules that are not functionally generated).
#[inline(always)]
pub(super) fn open_targets<R: Real, const FUSED: bool>(
    weighting: &KernelWeighting<R>,
    (allowed, rho_scratch, share): (&[Lanes<R>], &mut [Lanes<R>], AllowedShare<R>),
    (mu, log_mu): (&[Lanes<R>], &[Lanes<R>]),
    holdings: &[Lanes<R>],
    (top_k, warm, window): (Option<&mut TopKScratch<R>>, &mut [WarmStart], Option<&ReturnWindow<R>>),
    target: &mut [Lanes<R>],
) -> Lanes<R> {
    match (weighting, top_k) {
        (KernelWeighting::MaxGrowth { belief, max_turnover }, _) => {
            let held = (holdings, *max_turnover);
            max_growth_block(belief, (mu, Some((allowed, share.inverse))), held, window, warm, target);
            Lanes::zero()
        }
        (KernelWeighting::TopK { k, buffer, p }, Some(top_k)) => {
            top_k_block((*k, *buffer, *p), log_mu, Some(allowed), holdings, top_k, target);
            Lanes::zero()
        }
        (KernelWeighting::Capped { .. }, _) => {
            // Capped takes rho^E as its market weights (stocks outside stay at 0).
            for ((rho, m), a) in rho_scratch.iter_mut().zip(mu).zip(allowed) {
                *rho = *m * *a * share.inverse;
            }
            target_weights::<R, LANES, FUSED>(weighting, rho_scratch, rho_scratch, target)
        }
        _ => {
            let allowed =
                AllowedStocks { mask: allowed, count: share.count, log_share: share.log, inverse_share: share.inverse };
            member_target_weights::<R, LANES, FUSED>(weighting, (mu, log_mu), allowed, target)
        }
    }
}

/// An open-market strategy at a step where its period may close (docs/open-markets.md):
/// the period closes on the old allowed stocks (its drift term against rho^E), the
/// leakage term takes log G(rho^E before) - log G(rho^E after) where the
/// reconstitution changed the allowed stocks, the screen term closes at every
/// reconstitution and at the end, and the strategy trades where its own schedule falls
/// or its allowed stocks changed. Returns the step's cost factor.
#[inline(always)]
pub(super) fn open_rebalance<R: Real, const FUSED: bool>(
    OpenStrategy { kernel: strategy, holdings, warm, slots, terms }: OpenStrategy<'_, R>,
    MarketView { mu, log_mu, index, index_log_mu, window }: MarketView<'_, R>,
    (value, schedule): (Lanes<R>, OpenSchedule<R>),
    (scratch, mut top_k, target): (&mut OpenScratch<R>, Option<&mut TopKScratch<R>>, &mut [Lanes<R>]),
) -> Lanes<R> {
    let ones = Lanes::splat(R::ONE);
    let every_lane = schedule.rebalance || schedule.is_last;
    let closes = if every_lane { ones } else { schedule.changed };
    let any_changed = schedule.changed.any_positive();
    let generated = !matches!(
        strategy.weighting,
        KernelWeighting::TopK { .. } | KernelWeighting::Capped { .. } | KernelWeighting::MaxGrowth { .. }
    );
    // The period's end on the old allowed stocks (those before a reconstitution).
    // An unscreened strategy's allowed stocks are the members: their share is the
    // index's, summed in the same order, so the pass over the stocks is saved.
    let members_only = strategy.exclude.is_empty();
    let share_before = match (index, members_only) {
        (Some(index), true) => {
            index.members_share(if schedule.reconstituted { index.share_before } else { index.share })
        }
        _ => allowed_share(mu, &terms.allowed),
    };
    let log_share_before = share_before.log;
    if schedule.reconstituted || schedule.is_last {
        // log(V_rho^E / V_rho) over the index period just ended: log(A / S) at its end less at its start.
        let log_index_share = index.map_or(Lanes::zero(), |index| {
            if schedule.reconstituted {
                index.share_before.ln()
            } else {
                index.share.ln()
            }
        });
        if !strategy.exclude.is_empty() {
            terms.screen = terms.screen + (log_share_before - log_index_share - terms.screen_anchor);
        }
    }
    let mut log_g = Lanes::zero();
    let reforms = schedule.reconstituted && any_changed;
    // Targets only where a period closes (a solve costs far more than a step).
    if (generated || !reforms) && (every_lane || any_changed) {
        log_g = open_targets::<R, FUSED>(
            &strategy.weighting,
            (&terms.allowed, &mut scratch.rho, share_before),
            (mu, log_mu),
            holdings,
            (top_k.as_deref_mut(), &mut *warm, window),
            target,
        );
    }
    // T(q | p) = log(sum_i pi_i(p) q_i / p_i) - log(G(q) / G(p)) with p, q = rho^E: the
    // holdings grew with their caps relative to the market's, and rho^E_i = mu_i / A.
    let log_period_ratio = value.ln() + slots[slot::LOG_Z_ANCHOR] + terms.log_share_anchor - log_share_before;
    let divergence = (log_period_ratio - (log_g - slots[slot::LOG_G_ANCHOR])) * closes;
    kahan_add_slot(slots, slot::DRIFT, slot::DRIFT_COMP, divergence);
    slots[slot::MIN_DIVERGENCE] =
        closes.select(slots[slot::MIN_DIVERGENCE].min(divergence), slots[slot::MIN_DIVERGENCE]);
    let mut log_share = log_share_before;
    if schedule.reconstituted {
        // The new allowed stocks (the same where they did not change), from the scratch.
        std::mem::swap(&mut terms.allowed, &mut scratch.allowed);
        let share_after = match (index, members_only) {
            (Some(index), true) => index.members_share(index.share),
            _ => allowed_share(mu, &terms.allowed),
        };
        let log_share_after = share_after.log;
        let log_index_share = index.map_or(Lanes::zero(), |index| index.share.ln());
        terms.screen_anchor = log_share_after - log_index_share;
        if reforms {
            let log_g_after = open_targets::<R, FUSED>(
                &strategy.weighting,
                (&terms.allowed, &mut scratch.rho, share_after),
                (mu, log_mu),
                holdings,
                (top_k, warm, window),
                target,
            );
            kahan_add(&mut terms.leakage, &mut terms.leakage_comp, (log_g - log_g_after) * schedule.changed);
            log_g = schedule.changed.select(log_g_after, log_g);
            log_share = schedule.changed.select(log_share_after, log_share);
        }
    }
    slots[slot::LOG_G_ANCHOR] = closes.select(log_g, slots[slot::LOG_G_ANCHOR]);
    terms.log_share_anchor = closes.select(log_share, terms.log_share_anchor);
    if schedule.is_last {
        return ones;
    }
    // Trade where the schedule falls, or where the allowed stocks changed.
    // The size tilt of the new weights (`size_tilt`'s arithmetic, in the same pass),
    // counted where it traded.
    let trades = if schedule.rebalance { ones } else { schedule.changed };
    let inverse_value = value.recip();
    let mut traded = Lanes::zero();
    let mut tilt = Lanes::zero();
    let moves = target.iter().zip(holdings.iter_mut()).zip(mu.iter().zip(log_mu));
    match (schedule.rebalance, index.is_some()) {
        (true, true) => {
            for ((target, holding), (_, log_mu)) in moves {
                traded = traded + (*target - *holding * inverse_value).abs();
                tilt = target.mul_add_lanes::<FUSED>(*log_mu, tilt);
                *holding = *target;
            }
        }
        (true, false) => {
            for ((target, holding), (mu, log_mu)) in moves {
                traded = traded + (*target - *holding * inverse_value).abs();
                tilt = (*target - *mu).mul_add_lanes::<FUSED>(*log_mu, tilt);
                *holding = *target;
            }
        }
        (false, with_index) => {
            for ((target, holding), (mu, log_mu)) in moves {
                traded = traded + (*target - *holding * inverse_value).abs();
                let weight = if with_index { *target } else { *target - *mu };
                tilt = weight.mul_add_lanes::<FUSED>(*log_mu, tilt);
                *holding = trades.select(*target, *holding);
            }
        }
    }
    let traded = traded * trades;
    record_size_tilt(slots, tilt - index_log_mu, trades);
    slots[slot::HOLDINGS_VALUE] = trades.select(ones, value);
    slots[slot::LOG_Z_ANCHOR] = trades.select(Lanes::zero(), slots[slot::LOG_Z_ANCHOR]);
    let cost_factor = ones - traded * strategy.cost_rate;
    slots[slot::TURNOVER] = slots[slot::TURNOVER] + traded * R::from_f64(0.5);
    slots[slot::TRADED_SQUARES] = slots[slot::TRADED_SQUARES] + traded * traded;
    slots[slot::COST] = slots[slot::COST] + cost_factor.ln();
    cost_factor
}
