//! One strategy of a backtest on an open universe (issue 32; docs/open-markets.md for
//! the rules), in f64, by the universe's slots: what it holds, in total-return units
//! (dividends and delisting returns included) and in cap units (the decomposition's),
//! and its accumulators, in the layout and definitions of a simulated path's
//! (`engine::accumulators::slot`), so `PathStatistics::from_slots` reads both.
//!
//! A holding period closes where the strategy's own schedule falls, at the end, or
//! where the stocks it may hold changed (a re-forming of the benchmark, or a delisting).
//! It closes on the old allowed stocks, with their caps at the step's end (a leaving
//! stock at its last cap): the drift term is the L-divergence of rho^E over the period,
//! the leakage term log G(rho^E before) - log G(rho^E after) where the allowed stocks
//! changed, and the strategy's part of the total-return term log(sum of its total-return
//! holdings / sum of its cap holdings) over the period.

use std::collections::HashSet;

use crate::engine::accumulators::slot;
use crate::portfolio::{weights_and_log_g, Strategy, Weighting};

/// What every strategy sees of a step: per slot, what the stock held over it earned,
/// and the caps before and after any change of membership. Unlisted slots hold zeros.
pub(super) struct StepView<'a> {
    /// h: the holding's growth over the step (total return), by slot.
    pub growth: &'a [f64],
    /// x: the cap ratio over the step, by slot.
    pub cap_growth: &'a [f64],
    /// The caps at the step's end of the stocks held over it (a leaving stock's last).
    pub caps_before_change: &'a [f64],
    /// The stock held over the step delisted at its end (its slot may hold a new one now).
    pub delisted: &'a [bool],
    /// The caps now, after new listings took their slots, and their logs.
    pub caps_now: &'a [f64],
    pub log_caps_now: &'a [f64],
    /// The benchmark's members over the step, and from now.
    pub members_before: &'a [bool],
    pub members_after: &'a [bool],
    /// The benchmark's members changed at the step's end (not on the last step).
    pub reconstituted: bool,
    /// Steps completed, counting this one; and whether it is the last.
    pub completed: u32,
    pub is_last: bool,
    /// The benchmark's gross total return over the step.
    pub benchmark_gross: f64,
    /// sum over members (after) of rho_i log X_i: the benchmark's side of the size tilt.
    pub benchmark_log_cap: f64,
}

/// One strategy's state.
pub(super) struct OpenStrategyState {
    pub strategy: Strategy,
    /// The ids its screen excludes, and by slot the stocks they are now.
    excluded_ids: HashSet<String>,
    excluded: Vec<bool>,
    /// The stocks it may hold now: members less its screen.
    allowed: Vec<bool>,
    /// Its holdings in total-return units and in cap units, equal after each trade.
    value: Vec<f64>,
    cap_value: Vec<f64>,
    /// log of the sums of `value` and `cap_value` at the period's start.
    value_anchor: f64,
    cap_anchor: f64,
    /// Sum of `value` before this step's growth.
    value_total: f64,
    pub slots: [f64; slot::COUNT],
    pub leakage: f64,
    pub screen: f64,
    /// log(A / S) at the index period's start; log A at the holding period's start.
    screen_anchor: f64,
    log_share_anchor: f64,
    /// Sum over holding periods of log(total-return value / cap value) growth.
    pub own_total_return: f64,
    target: Vec<f64>,
}

/// Why a target cannot be formed on some date.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum FormError {
    /// No stock is allowed (the screen excludes every member).
    NothingAllowed,
    /// A capped weighting's cap is below 1 / the number allowed.
    CapTooLow { allowed: usize },
}

impl OpenStrategyState {
    pub fn new(strategy: Strategy, excluded_ids: HashSet<String>) -> OpenStrategyState {
        OpenStrategyState {
            strategy,
            excluded_ids,
            excluded: Vec::new(),
            allowed: Vec::new(),
            value: Vec::new(),
            cap_value: Vec::new(),
            value_anchor: 0.0,
            cap_anchor: 0.0,
            value_total: 0.0,
            slots: [0.0; slot::COUNT],
            leakage: 0.0,
            screen: 0.0,
            screen_anchor: 0.0,
            log_share_anchor: 0.0,
            own_total_return: 0.0,
            target: Vec::new(),
        }
    }

    fn widen(&mut self, width: usize) {
        for vector in [&mut self.value, &mut self.cap_value, &mut self.target] {
            vector.resize(width, 0.0);
        }
        self.excluded.resize(width, false);
        self.allowed.resize(width, false);
    }

    /// A stock with id `id` now lives in `slot` (listed at the start, or since).
    pub fn listed(&mut self, slot: usize, id: &str, width: usize) {
        self.widen(width);
        self.excluded[slot] = self.excluded_ids.contains(id);
    }

    fn screened(&self) -> bool {
        !self.excluded_ids.is_empty()
    }

    /// The first date: its target on the members' weights, `caps` and `log_caps` by slot.
    pub fn start(
        &mut self,
        (caps, log_caps): (&[f64], &[f64]),
        members: &[bool],
        benchmark_log_cap: f64,
    ) -> Result<(), FormError> {
        self.widen(caps.len());
        for ((allowed, member), excluded) in self.allowed.iter_mut().zip(members).zip(&self.excluded) {
            *allowed = *member && !*excluded;
        }
        let log_g = self.form(caps, log_caps, &[])?;
        self.value.copy_from_slice(&self.target);
        self.cap_value.copy_from_slice(&self.target);
        self.value_total = self.target.iter().sum();
        self.value_anchor = self.value_total.ln();
        self.cap_anchor = self.value_anchor;
        let log_share = log_sum_over(caps, &self.allowed);
        self.log_share_anchor = log_share;
        self.screen_anchor = log_share - log_sum_over(caps, members);
        let slots = &mut self.slots;
        slots[slot::LOG_G_START] = log_g;
        slots[slot::LOG_G_ANCHOR] = log_g;
        slots[slot::MIN_DIVERGENCE] = f32::MAX as f64;
        slots[slot::HOLDINGS_VALUE] = self.value_total;
        slots[slot::TILT_FIRST] = tilt(&self.target, log_caps) - benchmark_log_cap;
        slots[slot::REBALANCES] = 1.0;
        Ok(())
    }

    /// Targets on the allowed stocks' weights rho^E (their `caps` over their sum) into
    /// `self.target`, by slot; returns log G(rho^E) (0 where the rule is not generated).
    /// `left`: by slot, a stock that delisted (its slot's holding is not the stock there
    /// now, for top-k's "held"); empty for none.
    fn form(&mut self, caps: &[f64], log_caps: &[f64], left: &[bool]) -> Result<f64, FormError> {
        let allowed: Vec<usize> = (0..self.allowed.len()).filter(|&slot| self.allowed[slot]).collect();
        if allowed.is_empty() {
            return Err(FormError::NothingAllowed);
        }
        let total: f64 = allowed.iter().map(|&slot| caps[slot]).sum();
        let rho: Vec<f64> = allowed.iter().map(|&slot| caps[slot] / total).collect();
        self.target.fill(0.0);
        let log_g = match &self.strategy.weighting {
            Weighting::TopK { k, buffer, p } => {
                let log_rho: Vec<f64> = allowed.iter().map(|&slot| log_caps[slot] - total.ln()).collect();
                let left = |slot: usize| left.get(slot).copied().unwrap_or(false);
                let mut held: Vec<bool> = allowed.iter().map(|&slot| self.value[slot] > 0.0 && !left(slot)).collect();
                let mut order: Vec<u32> = (0..allowed.len() as u32).collect();
                let mut keyed = vec![(0.0, 0); allowed.len()];
                let mut compact = vec![0.0; allowed.len()];
                // Fewer allowed stocks than k: all of them.
                let k = (*k).min(allowed.len());
                crate::portfolio::top_k_targets(
                    k,
                    *buffer,
                    *p,
                    &log_rho,
                    &mut held,
                    &mut order,
                    &mut keyed,
                    &mut compact,
                );
                for (&slot, weight) in allowed.iter().zip(compact) {
                    self.target[slot] = weight;
                }
                0.0
            }
            Weighting::Capped { cap } if cap * (allowed.len() as f64) < 1.0 - 1e-12 => {
                return Err(FormError::CapTooLow { allowed: allowed.len() })
            }
            weighting => {
                let (weights, log_g) = weights_and_log_g(weighting, &rho);
                for (&slot, weight) in allowed.iter().zip(weights) {
                    self.target[slot] = weight;
                }
                if weighting.is_functionally_generated() {
                    log_g
                } else {
                    0.0
                }
            }
        };
        Ok(log_g)
    }

    /// The step of `view`: the holdings grow, a period closes where it must (and the
    /// strategy trades, unless it is the last step); returns the strategy's gross return
    /// over the step, costs included.
    pub fn step(&mut self, view: &StepView<'_>) -> Result<f64, FormError> {
        let width = view.caps_now.len();
        self.widen(width);
        let mut total = 0.0;
        let mut cap_total = 0.0;
        for slot in 0..width {
            if self.value[slot] != 0.0 {
                self.value[slot] *= view.growth[slot];
                self.cap_value[slot] *= view.cap_growth[slot];
                total += self.value[slot];
                cap_total += self.cap_value[slot];
            }
        }
        let gross = total / self.value_total;
        self.value_total = total;
        let strategy = &self.strategy;
        let rebalance = view.completed.is_multiple_of(strategy.rebalance_every) && !view.is_last;
        // The stocks it may hold from now, and whether they changed (a leaving stock's
        // slot may already hold a new listing, so a delisting counts apart).
        let mut changed = false;
        // Only a change of members can change them (no allocation on the other steps).
        let mut allowed_after = Vec::new();
        if view.reconstituted {
            allowed_after.resize(width, false);
            let slots = allowed_after.iter_mut().zip(view.members_after).zip(&self.excluded);
            for (((after, member), excluded), (before, delisted)) in slots.zip(self.allowed.iter().zip(view.delisted)) {
                *after = *member && !*excluded;
                changed |= *after != *before || (*before && *delisted);
            }
        }
        if !(rebalance || view.is_last || changed || view.reconstituted) {
            return Ok(gross);
        }
        let caps = view.caps_before_change;
        let log_share_before = log_sum_over(caps, &self.allowed);
        if self.screened() && (view.reconstituted || view.is_last) {
            let log_index_share = log_sum_over(caps, view.members_before);
            self.screen += log_share_before - log_index_share - self.screen_anchor;
        }
        let closes = rebalance || view.is_last || changed;
        let mut cost_factor = 1.0;
        if closes {
            let log_caps: Vec<f64> =
                caps.iter().map(|cap| if *cap > 0.0 { cap.ln() } else { f64::NEG_INFINITY }).collect();
            // Top-k, capped and max_growth have no log G; their targets on the old
            // stocks are only needed where they trade on them.
            let mut log_g = if self.strategy.weighting.is_functionally_generated() || !changed {
                self.form(caps, &log_caps, &[])?
            } else {
                0.0
            };
            let log_period_ratio = cap_total.ln() - self.cap_anchor - (log_share_before - self.log_share_anchor);
            let divergence = log_period_ratio - (log_g - self.slots[slot::LOG_G_ANCHOR]);
            self.slots[slot::DRIFT] += divergence;
            self.slots[slot::MIN_DIVERGENCE] = self.slots[slot::MIN_DIVERGENCE].min(divergence);
            self.own_total_return += (total.ln() - self.value_anchor) - (cap_total.ln() - self.cap_anchor);
            let mut log_share = log_share_before;
            if view.reconstituted {
                self.allowed = allowed_after;
                let log_share_after = log_sum_over(view.caps_now, &self.allowed);
                self.screen_anchor = log_share_after - log_sum_over(view.caps_now, view.members_after);
                if changed {
                    let log_g_after = self.form(view.caps_now, view.log_caps_now, view.delisted)?;
                    self.leakage += log_g - log_g_after;
                    log_g = log_g_after;
                    log_share = log_share_after;
                }
            }
            self.slots[slot::LOG_G_ANCHOR] = log_g;
            self.log_share_anchor = log_share;
            if !view.is_last && (rebalance || changed) {
                cost_factor = self.trade(view, total);
            }
        } else if view.reconstituted {
            // Members changed elsewhere: the index period (the screen term's) restarts.
            self.allowed = allowed_after;
            self.screen_anchor =
                log_sum_over(view.caps_now, &self.allowed) - log_sum_over(view.caps_now, view.members_after);
        }
        Ok(gross * cost_factor)
    }

    /// Trades the holdings (worth `total`) to `self.target`; returns the cost factor.
    fn trade(&mut self, view: &StepView<'_>, total: f64) -> f64 {
        let mut traded = 0.0;
        for slot in 0..self.target.len() {
            let held = self.value[slot] / total;
            traded += if view.delisted[slot] {
                // A leaving stock sold, and a new one in its slot bought: two trades.
                held + self.target[slot]
            } else {
                (self.target[slot] - held).abs()
            };
        }
        self.value.copy_from_slice(&self.target);
        self.cap_value.copy_from_slice(&self.target);
        self.value_total = self.target.iter().sum();
        self.value_anchor = self.value_total.ln();
        self.cap_anchor = self.value_anchor;
        let slots = &mut self.slots;
        let shift = tilt(&self.target, view.log_caps_now) - view.benchmark_log_cap - slots[slot::TILT_FIRST];
        slots[slot::TILT_SUM] += shift;
        slots[slot::TILT_SQUARES] += shift * shift;
        slots[slot::REBALANCES] += 1.0;
        slots[slot::HOLDINGS_VALUE] = self.value_total;
        let cost_factor = 1.0 - traded * self.strategy.cost_rate;
        slots[slot::TURNOVER] += traded * 0.5;
        slots[slot::TRADED_SQUARES] += traded * traded;
        slots[slot::COST] += cost_factor.ln();
        cost_factor
    }

    /// Records the step's returns against the benchmark (the strategy's `gross`).
    pub fn record(&mut self, gross: f64, benchmark_gross: f64) {
        let active = gross - benchmark_gross;
        let slots = &mut self.slots;
        slots[slot::RELATIVE] += (gross / benchmark_gross).ln();
        slots[slot::ACTIVE_SUM] += active;
        slots[slot::ACTIVE_SQUARES] += active * active;
        slots[slot::ACTIVE_CROSS] += active * (benchmark_gross - 1.0);
        slots[slot::PEAK] = slots[slot::PEAK].max(slots[slot::RELATIVE]);
        slots[slot::DRAWDOWN] = slots[slot::DRAWDOWN].max(slots[slot::PEAK] - slots[slot::RELATIVE]);
    }
}

/// log of the sum of `caps` over the slots `mask` keeps.
fn log_sum_over(caps: &[f64], mask: &[bool]) -> f64 {
    caps.iter().zip(mask).filter(|(_, keep)| **keep).map(|(cap, _)| cap).sum::<f64>().ln()
}

/// sum_i w_i log X_i over the slots held.
fn tilt(weights: &[f64], log_caps: &[f64]) -> f64 {
    weights.iter().zip(log_caps).filter(|(w, _)| **w > 0.0).map(|(w, log_cap)| w * log_cap).sum()
}
