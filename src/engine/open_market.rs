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
use crate::numeric::ranking::choose_members;
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
    /// Each lane's membership history (`fold_membership`): equal on two backends when
    /// every reconstitution chose the same members.
    pub history: [u32; LANES],
    /// Each lane's stocks by rank at the last reconstitution (`lane * n + rank`), and
    /// one lane's scratch.
    order: Vec<u32>,
    keyed: Vec<u128>,
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
            history: [0; LANES],
            order: initial_order.repeat(LANES),
            keyed: vec![0; n],
            chosen,
        }
    }

    /// After the market's step: the members' new share of the market `share` (summed in
    /// the kernel's pass over the weights) in place of the old; returns the index's gross
    /// return relative to the market's, S(t+1) / S(t).
    #[inline(always)]
    pub fn grow(&mut self, share: Lanes<R>) -> Lanes<R> {
        let relative_gross = share / self.share;
        self.share = share;
        relative_gross
    }

    /// The members' share `share` (`share` or `share_before`) as `allowed_share` gives it
    /// for the members: the same sum in the same order, so the same bits.
    #[inline(always)]
    pub fn members_share(&self, share: Lanes<R>) -> AllowedShare<R> {
        AllowedShare { log: share.ln(), inverse: share.recip(), count: Lanes::splat(R::from_f64(self.rule.k as f64)) }
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
            for (key, &stock) in self.keyed.iter_mut().zip(order.iter()) {
                *key = rank_key(log_caps[stock as usize].0[lane], stock);
            }
            // Only the best K + B ranks decide membership: members stay within them, and
            // they hold at least B + (K - those staying) non-members to fill the places
            // left. So those are put first (O(n)) and sorted; the rest stay unordered.
            let decisive = (self.rule.k + self.rule.buffer).min(n);
            if decisive < n {
                self.keyed.select_nth_unstable(decisive);
            }
            self.keyed[..decisive].sort_unstable();
            for (slot, key) in order.iter_mut().zip(&self.keyed) {
                *slot = *key as u32;
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
            let members = self.chosen.iter().enumerate().filter(|(_, &chosen)| chosen).map(|(stock, _)| stock as u32);
            self.history[lane] = fold_membership(self.history[lane], members);
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

/// A path's membership history `history` with one reconstitution's `members` (in
/// stock order) folded in: FNV-1a over stock + 1, kept to 24 bits so that the GPU
/// kernel's f32 state holds it exactly (`reconstitute_index` in
/// shaders/open_market.wgsl is its twin). Two paths whose every reconstitution chose
/// the same members have the same history.
pub fn fold_membership(history: u32, members: impl Iterator<Item = u32>) -> u32 {
    let folded = members.fold(history, |hash, stock| (hash ^ (stock + 1)).wrapping_mul(16_777_619));
    folded & 0xFF_FFFF
}

/// A stock's place in rank order as one integer: larger cap first, ties by the lower
/// stock (`ranking::ranks_before`), so that the sort compares integers.
#[inline(always)]
fn rank_key<R: Real>(log_cap: R, stock: u32) -> u128 {
    (u128::from(!log_cap.order_bits()) << 32) | u128::from(stock)
}

/// sum_i values_i mask_i.
#[inline(always)]
pub(crate) fn masked_sum<R: Real>(values: &[Lanes<R>], mask: &[Lanes<R>]) -> Lanes<R> {
    values.iter().zip(mask).fold(Lanes::zero(), |total, (v, m)| total + *v * *m)
}

/// A strategy's allowed stocks: `member` (every stock without an index) less `exclude`,
/// as a mask of 1 and 0 in `allowed`.
#[inline(always)]
pub(crate) fn allowed_stocks<R: Real>(member: Option<&[Lanes<R>]>, exclude: &[usize], allowed: &mut [Lanes<R>]) {
    match member {
        Some(member) => allowed.copy_from_slice(member),
        None => allowed.fill(Lanes::splat(R::ONE)),
    }
    for &stock in exclude {
        allowed[stock] = Lanes::zero();
    }
}

/// The allowed stocks' share of the market's cap, A = sum over them of mu_i (rho^E_i =
/// mu_i / A on them), and how many there are.
#[derive(Clone, Copy)]
pub(crate) struct AllowedShare<R> {
    pub log: Lanes<R>,
    pub inverse: Lanes<R>,
    pub count: Lanes<R>,
}

/// The share of the market's cap the `allowed` stocks hold (a mask of 1 and 0), in one pass.
#[inline(always)]
pub(crate) fn allowed_share<R: Real>(mu: &[Lanes<R>], allowed: &[Lanes<R>]) -> AllowedShare<R> {
    let (mut share, mut count) = (Lanes::zero(), Lanes::zero());
    for (m, a) in mu.iter().zip(allowed) {
        share = share + *m * *a;
        count = count + *a;
    }
    AllowedShare { log: share.ln(), inverse: share.recip(), count }
}

/// 1 in the lanes where the masks `before` and `after` (of 1 and 0) differ.
#[inline(always)]
pub(crate) fn allowed_set_changed<R: Real>(before: &[Lanes<R>], after: &[Lanes<R>]) -> Lanes<R> {
    let moved = before.iter().zip(after).fold(Lanes::zero(), |moved, (old, new)| moved + (*new - *old).abs());
    moved.map(|m| if m > R::ZERO { R::ONE } else { R::ZERO })
}
