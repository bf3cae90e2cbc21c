//! The CPU kernel's open market (docs/open-markets.md): an index of the largest K
//! stocks as the benchmark, reconstituted every R steps with a buffer, and the
//! allowed stocks of each strategy (the members less its screen).
//!
//! Everything is kept through the market weights mu the kernel already carries: the
//! index's share of the market S(t) = sum over members of mu_i, its weights
//! rho_i = mu_i / S on members, and a strategy's allowed share A(t) = sum over its
//! allowed stocks of mu_i. Between reconstitutions the index grows by S(t+1)/S(t)
//! against the market, so one pass over the stocks a step is its whole cost.

use crate::numeric::lanes::{self, Real, LANES};
use crate::numeric::ranking::{choose_members, sort_keyed};
use crate::scenario::IndexRule;

type Lanes<R> = lanes::Lanes<R, LANES>;

/// The index of a block of paths.
pub(crate) struct IndexBlock<R> {
    pub rule: IndexRule,
    /// 1 where a stock is a member, 0 elsewhere, `[stock]` of lanes.
    pub member: Vec<Lanes<R>>,
    /// The members before the last reconstitution (equal to `member` until the first).
    pub member_before: Vec<Lanes<R>>,
    /// S: the members' share of the market's cap, and S just before the last reconstitution.
    pub share: Lanes<R>,
    pub share_before: Lanes<R>,
    /// log V_rho(t) - log V_rho(0), with its Kahan compensation.
    pub log_value: Lanes<R>,
    pub log_value_comp: Lanes<R>,
    /// The index's control M_rho (docs/control-variates.md), with its Kahan compensation.
    pub control: Lanes<R>,
    pub control_comp: Lanes<R>,
    /// Sum over reconstitutions of 1/2 sum_i |rho_after - rho_before|.
    pub turnover: Lanes<R>,
    /// 1 in the lanes whose members the last reconstitution changed.
    pub changed: Lanes<R>,
    /// Each lane's stocks by rank at the last reconstitution (`lane * n + rank`), and
    /// one lane's scratch.
    order: Vec<u32>,
    keyed: Vec<(R, u32)>,
    chosen: Vec<bool>,
}

impl<R: Real> IndexBlock<R> {
    /// The index at step 0: the K largest of `initial_order` (stocks by initial cap,
    /// largest first) in every lane.
    pub fn new(rule: IndexRule, initial_order: &[u32], mu: &[Lanes<R>]) -> IndexBlock<R> {
        let n = initial_order.len();
        let mut chosen = vec![false; n];
        choose_members(rule.k, rule.buffer, initial_order, &mut chosen);
        let member: Vec<Lanes<R>> = chosen.iter().map(|&m| Lanes::splat(if m { R::ONE } else { R::ZERO })).collect();
        let share = masked_sum(mu, &member);
        IndexBlock {
            rule,
            member_before: member.clone(),
            member,
            share,
            share_before: share,
            log_value: Lanes::zero(),
            log_value_comp: Lanes::zero(),
            control: Lanes::zero(),
            control_comp: Lanes::zero(),
            turnover: Lanes::zero(),
            changed: Lanes::zero(),
            order: initial_order.repeat(LANES),
            keyed: vec![(R::ZERO, 0); n],
            chosen,
        }
    }

    /// sum_i rho_i eps_i: the index's weights at the start of the step against its noise.
    pub fn noise(&self, mu: &[Lanes<R>], noise: &[Lanes<R>]) -> Lanes<R> {
        let mut total = Lanes::zero();
        for ((m, e), member) in mu.iter().zip(noise).zip(&self.member) {
            total = total + *m * *e * *member;
        }
        total / self.share
    }

    /// After the market's step (`mu` the new weights): the index's gross return
    /// relative to the market's, S(t+1) / S(t).
    pub fn grow(&mut self, mu: &[Lanes<R>]) -> Lanes<R> {
        let share = masked_sum(mu, &self.member);
        let relative_gross = share / self.share;
        self.share = share;
        relative_gross
    }

    /// Whether the index reconstitutes after `completed` steps of `total`: every R steps,
    /// never at the last.
    pub fn reconstitutes_at(&self, completed: u32, total: u32) -> bool {
        completed.is_multiple_of(self.rule.every) && completed != total
    }

    /// Re-chooses every lane's members by rank on `log_caps` (`choose_members`: the
    /// buffer keeps members ranked within K + buffer), keeps the old ones in
    /// `member_before`, marks the lanes that changed and adds the index's turnover.
    pub fn reconstitute(&mut self, log_caps: &[Lanes<R>], mu: &[Lanes<R>]) {
        let n = log_caps.len();
        self.member_before.copy_from_slice(&self.member);
        self.share_before = self.share;
        let mut changed = Lanes::zero();
        for lane in 0..LANES {
            let order = &mut self.order[lane * n..(lane + 1) * n];
            for (pair, &stock) in self.keyed.iter_mut().zip(order.iter()) {
                *pair = (log_caps[stock as usize].0[lane], stock);
            }
            sort_keyed(&mut self.keyed);
            for (slot, (_, stock)) in order.iter_mut().zip(&self.keyed) {
                *slot = *stock;
            }
            for (chosen, member) in self.chosen.iter_mut().zip(&self.member) {
                *chosen = member.0[lane] > R::ZERO;
            }
            choose_members(self.rule.k, self.rule.buffer, order, &mut self.chosen);
            for (member, &chosen) in self.member.iter_mut().zip(&self.chosen) {
                let now = if chosen { R::ONE } else { R::ZERO };
                if member.0[lane] != now {
                    changed.0[lane] = R::ONE;
                }
                member.0[lane] = now;
            }
        }
        self.changed = changed;
        self.share = masked_sum(mu, &self.member);
        let (before, after) = (self.share_before.recip(), self.share.recip());
        let mut traded = Lanes::zero();
        for ((m, old), new) in mu.iter().zip(&self.member_before).zip(&self.member) {
            traded = traded + (*m * *new * after - *m * *old * before).abs();
        }
        self.turnover = self.turnover + traded * R::from_f64(0.5);
    }
}

/// sum_i values_i mask_i.
pub(crate) fn masked_sum<R: Real>(values: &[Lanes<R>], mask: &[Lanes<R>]) -> Lanes<R> {
    values.iter().zip(mask).fold(Lanes::zero(), |total, (v, m)| total + *v * *m)
}

/// A strategy's allowed stocks: `member` (every stock without an index) less `exclude`,
/// as a mask of 1 and 0 in `allowed`.
pub(crate) fn allowed_stocks<R: Real>(member: Option<&[Lanes<R>]>, exclude: &[usize], allowed: &mut [Lanes<R>]) {
    match member {
        Some(member) => allowed.copy_from_slice(member),
        None => allowed.fill(Lanes::splat(R::ONE)),
    }
    for &stock in exclude {
        allowed[stock] = Lanes::zero();
    }
}

/// The market weights restricted to `allowed` and renormalised (rho^E), with their logs
/// (0 outside); returns log A, A = sum over allowed of mu_i, and how many are allowed.
pub(crate) fn restricted_weights<R: Real>(
    (mu, log_mu): (&[Lanes<R>], &[Lanes<R>]),
    allowed: &[Lanes<R>],
    (rho, log_rho): (&mut [Lanes<R>], &mut [Lanes<R>]),
) -> (Lanes<R>, Lanes<R>) {
    let share = masked_sum(mu, allowed);
    let count = allowed.iter().fold(Lanes::zero(), |total, a| total + *a);
    let (log_share, inverse) = (share.ln(), share.recip());
    for ((((r, lr), m), lm), a) in rho.iter_mut().zip(log_rho.iter_mut()).zip(mu).zip(log_mu).zip(allowed) {
        *r = *m * *a * inverse;
        *lr = (*lm - log_share) * *a;
    }
    (log_share, count)
}

/// 1 in the lanes where the allowed stocks of a strategy screening out `exclude`
/// changed from `before` to `after`.
pub(crate) fn allowed_set_changed<R: Real>(before: &[Lanes<R>], after: &[Lanes<R>], exclude: &[usize]) -> Lanes<R> {
    let mut moved = Lanes::zero();
    for (stock, (old, new)) in before.iter().zip(after).enumerate() {
        if exclude.binary_search(&stock).is_err() {
            moved = moved + (*new - *old).abs();
        }
    }
    moved.map(|m| if m > R::ZERO { R::ONE } else { R::ZERO })
}
