//! A block's per-lane accounting, shared by the closed and the open market's steps:
//! Kahan sums, holdings grown through a step, and the size tilt at a rebalance.

use crate::engine::accumulators::slot;
use crate::engine::open_market::IndexBlock;
use crate::numeric::lanes::{self, Real, LANES};

pub(super) type Lanes<R> = lanes::Lanes<R, LANES>;

/// Kahan-compensated `*sum += value`, with the compensation in `*compensation`.
#[inline(always)]
pub(super) fn kahan_add<R: Real>(sum: &mut Lanes<R>, compensation: &mut Lanes<R>, value: Lanes<R>) {
    let corrected = value - *compensation;
    let next = *sum + corrected;
    *compensation = (next - *sum) - corrected;
    *sum = next;
}

/// Kahan-compensated `slots[sum] += value`, with the compensation in `slots[compensation]`.
#[inline(always)]
pub(super) fn kahan_add_slot<R: Real>(
    slots: &mut [Lanes<R>; slot::COUNT],
    sum: usize,
    compensation: usize,
    value: Lanes<R>,
) {
    let (mut total, mut carried) = (slots[sum], slots[compensation]);
    kahan_add(&mut total, &mut carried, value);
    (slots[sum], slots[compensation]) = (total, carried);
}

/// Grows every holding with its price through the step; returns their value and, with
/// `CONTROL`, the sum of the holdings at the start of the step times the step's noise.
#[inline(always)]
pub(super) fn grow_holdings<R: Real, const FUSED: bool, const CONTROL: bool>(
    holdings: &mut [Lanes<R>],
    growth: &[Lanes<R>],
    noise: &[Lanes<R>],
) -> (Lanes<R>, Lanes<R>) {
    let mut value = Lanes::zero();
    let mut held_noise = Lanes::zero();
    for ((holding, growth), noise) in holdings.iter_mut().zip(growth).zip(noise) {
        if CONTROL {
            held_noise = holding.mul_add_lanes::<FUSED>(*noise, held_noise);
        }
        *holding = *holding * *growth;
        value = value + *holding;
    }
    (value, held_noise)
}

/// The size tilt of `weights` (summing to 1) against the benchmark's weights:
/// s = sum_i (pi_i - rho_i) log mu_i, with rho the market's weights or the index's
/// (mu on its members over their share).
#[inline(always)]
pub(super) fn size_tilt<R: Real, const FUSED: bool>(
    weights: &[Lanes<R>],
    mu: &[Lanes<R>],
    log_mu: &[Lanes<R>],
    index: Option<&IndexBlock<R>>,
) -> Lanes<R> {
    let mut tilt = Lanes::zero();
    match index {
        None => {
            for ((weight, mu), log_mu) in weights.iter().zip(mu).zip(log_mu) {
                tilt = (*weight - *mu).mul_add_lanes::<FUSED>(*log_mu, tilt);
            }
        }
        Some(index) => {
            for (weight, log_mu) in weights.iter().zip(log_mu) {
                tilt = weight.mul_add_lanes::<FUSED>(*log_mu, tilt);
            }
            tilt = tilt - index_log_mu::<R, FUSED>(mu, log_mu, index);
        }
    }
    tilt
}

/// The index's weighted mean log weight, sum_i rho_i log mu_i (rho = mu on the members
/// over their share): what `size_tilt` takes from a portfolio's against an index, the
/// same for every strategy at a step.
#[inline(always)]
pub(super) fn index_log_mu<R: Real, const FUSED: bool>(
    mu: &[Lanes<R>],
    log_mu: &[Lanes<R>],
    index: &IndexBlock<R>,
) -> Lanes<R> {
    let mut member_tilt = Lanes::zero();
    for ((mu, log_mu), member) in mu.iter().zip(log_mu).zip(&index.member) {
        member_tilt = (*mu * *member).mul_add_lanes::<FUSED>(*log_mu, member_tilt);
    }
    member_tilt * index.share.recip()
}

/// Counts a rebalance's size tilt `tilt` in the lanes where `taken` is 1.
#[inline(always)]
pub(super) fn record_size_tilt<R: Real>(slots: &mut [Lanes<R>; slot::COUNT], tilt: Lanes<R>, taken: Lanes<R>) {
    let shifted = (tilt - slots[slot::TILT_FIRST]) * taken;
    slots[slot::TILT_SUM] = slots[slot::TILT_SUM] + shifted;
    slots[slot::TILT_SQUARES] = slots[slot::TILT_SQUARES] + shifted * shifted;
    slots[slot::REBALANCES] = slots[slot::REBALANCES] + taken;
}
