//! The CPU backend: blocks of `LANES` paths, each simulated start to finish by one
//! rayon task, in f32 or f64.
//!
//! A block keeps every per-path quantity as `[stock][lane]`, so each loop over
//! lanes compiles to SIMD; the hot function is compiled twice (baseline and
//! AVX2 + FMA) and chosen at run time. Every path's arithmetic depends only on
//! its own index, so results are bit-identical for any thread count, batch size
//! or lane position.

use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};

use rayon::prelude::*;

use crate::engine::accumulators::{benchmark_moment, index_field, open_term, slot, BatchAccumulators};
use crate::engine::open_market::{allowed_set_changed, allowed_share, allowed_stocks, IndexBlock};
use crate::engine::time_grid::{TimeGrid, QUANTITIES};
use crate::market::bootstrap::bootstrap_log_steps;
use crate::market::gbm::{cholesky_log_steps, factor_log_steps};
use crate::market::rank::rank_log_steps;
use crate::market::vsm::vsm_log_steps;
use crate::market::{Draws, MarketKernel};
use crate::numeric::lanes::{Real, LANES};
use crate::portfolio::optimize::{CovarianceBelief, WarmStart};
use crate::portfolio::{target_weights, KernelWeighting};

mod accounting;
mod open_start;
mod open_step;
mod params;
mod rules;

use accounting::{grow_holdings, kahan_add, kahan_add_slot, record_size_tilt, size_tilt, Lanes};
pub use open_start::OpenStart;
use open_step::{open_rebalance, open_targets, MarketView, OpenSchedule, OpenScratch, OpenStrategy, OpenTerms};
pub use params::{KernelParams, StrategyKernel};
use rules::{max_growth_block, top_k_block, ReturnWindow, TopKScratch};

pub use crate::numeric::simd::{flavour, kernel_flavour, Flavour, FLAVOUR_VARIABLE};

/// One strategy's state in a block.
struct StrategyBlock<R> {
    /// Value of each holding since the last rebalance (the weights held are
    /// `holdings / slots[HOLDINGS_VALUE]`; they drift with prices in between).
    holdings: Vec<Lanes<R>>,
    slots: [Lanes<R>; slot::COUNT],
    /// max_growth: each lane's solver state from its last rebalance.
    warm: Vec<WarmStart>,
    /// A strategy on index members or under a screen: its leakage and screen terms.
    open: Option<OpenTerms<R>>,
}

impl<R: Real> StrategyBlock<R> {
    /// L so far, and the generating (as of the last rebalance), drift and cost terms so
    /// far; the leakage term so far, and the screen term as of the last reconstitution.
    fn terms_to_date(&self) -> [Lanes<R>; QUANTITIES] {
        let generating = self.slots[slot::LOG_G_ANCHOR] - self.slots[slot::LOG_G_START];
        let (leakage, screen) = self.open.as_ref().map_or((Lanes::zero(), Lanes::zero()), |t| (t.leakage, t.screen));
        [self.slots[slot::RELATIVE], generating, self.slots[slot::DRIFT], self.slots[slot::COST], leakage, screen]
    }
}

/// The state of `LANES` paths.
pub struct PathBlock<R> {
    /// Each lane's normals: its path's own, or its antithetic partner's negated.
    draws: Draws<R, LANES>,
    log_caps: Vec<Lanes<R>>,
    mu: Vec<Lanes<R>>,
    /// log Z(t) - log Z(0), with its Kahan compensation.
    log_total: Lanes<R>,
    log_total_comp: Lanes<R>,
    /// The market's control M_mu (docs/control-variates.md), with its Kahan compensation.
    market_control: Lanes<R>,
    market_control_comp: Lanes<R>,
    /// The benchmark's one-step simple returns: their sum and sum of squares, each
    /// with its Kahan compensation (docs/statistics.md: volatility and beta).
    benchmark_moments: [Lanes<R>; 2 * benchmark_moment::COUNT],
    strategies: Vec<StrategyBlock<R>>,
    // Scratch, kept to avoid allocating per step.
    log_steps: Vec<Lanes<R>>,
    /// The step's noise terms epsilon_i (the log steps less their drift).
    noise: Vec<Lanes<R>>,
    growth: Vec<Lanes<R>>,
    log_mu: Vec<Lanes<R>>,
    target: Vec<Lanes<R>>,
    /// Rank-based models: each lane's stocks by rank (`lane * n + rank`), from the last step.
    rank_order: Vec<u32>,
    /// Rank-based models: (cap, stock) scratch for one lane's sort.
    rank_keyed: Vec<(R, u32)>,
    /// Factor models: the factor normals of the current step.
    factor_normals: Vec<Lanes<R>>,
    /// Bootstrap market: the day each lane took at the last step.
    days: [u32; LANES],
    /// Top-k strategies: each lane's stocks by cap at the last rebalance, and scratch.
    top_k: Option<TopKScratch<R>>,
    /// max_growth with a trailing estimate: the last log returns of every lane.
    window: Option<ReturnWindow<R>>,
    /// The index that is the benchmark, when there is one.
    index: Option<IndexBlock<R>>,
    /// Scratch of strategies on index members or under a screen.
    open: Option<OpenScratch<R>>,
    /// The lanes that are paths of the batch (the last block may have fewer).
    live_lanes: usize,
    /// The block's strategies at each grid point: `[point][strategy][quantity][lane]`
    /// (quantities as `TimeGrid::record` takes them).
    grid_values: Vec<f64>,
}

impl<R: Real> PathBlock<R> {
    /// `init_paths`: every path at the scenario's initial caps, every strategy at its target.
    pub fn init_paths(params: &KernelParams<R>, first_path: u64, live_lanes: usize) -> PathBlock<R> {
        let n = params.n;
        let splat = |values: &[R]| values.iter().map(|v| Lanes::splat(*v)).collect::<Vec<_>>();
        let mu = splat(&params.initial_mu);
        let log_mu = splat(&params.initial_log_mu);
        let strategies = params
            .strategies
            .iter()
            .map(|strategy| {
                let mut target = vec![Lanes::zero(); n];
                let log_g = target_weights::<R, LANES, false>(&strategy.weighting, &mu, &log_mu, &mut target);
                let mut slots = [Lanes::zero(); slot::COUNT];
                slots[slot::LOG_G_START] = log_g;
                slots[slot::LOG_G_ANCHOR] = log_g;
                slots[slot::MIN_DIVERGENCE] = Lanes::splat(R::from_f64(f32::MAX as f64));
                slots[slot::HOLDINGS_VALUE] = target.iter().fold(Lanes::zero(), |sum, t| sum + *t);
                slots[slot::LOG_Z_ANCHOR] = -slots[slot::HOLDINGS_VALUE].ln();
                slots[slot::TILT_FIRST] = size_tilt::<R, false>(&target, &mu, &log_mu, None);
                slots[slot::REBALANCES] = Lanes::splat(R::ONE);
                let warm = match strategy.weighting {
                    KernelWeighting::MaxGrowth { .. } => vec![WarmStart::default(); LANES],
                    _ => Vec::new(),
                };
                StrategyBlock { holdings: target, slots, warm, open: None }
            })
            .collect();
        let index = params.index.map(|rule| IndexBlock::new(rule, &params.initial_order, &mu));
        let mut block = PathBlock {
            live_lanes,
            grid_values: vec![0.0; params.grid.points as usize * params.strategies.len() * QUANTITIES * LANES],
            draws: Draws::of(&std::array::from_fn(|l| (first_path as u32).wrapping_add(l as u32)), params.antithetic),
            log_caps: log_mu.clone(),
            mu,
            log_total: Lanes::zero(),
            log_total_comp: Lanes::zero(),
            market_control: Lanes::zero(),
            market_control_comp: Lanes::zero(),
            benchmark_moments: [Lanes::zero(); 2 * benchmark_moment::COUNT],
            strategies,
            log_steps: vec![Lanes::zero(); n],
            noise: vec![Lanes::zero(); n],
            growth: vec![Lanes::zero(); n],
            log_mu,
            target: vec![Lanes::zero(); n],
            rank_order: match &params.market {
                MarketKernel::Rank(rank) => rank.initial_order.repeat(LANES),
                _ => Vec::new(),
            },
            rank_keyed: match &params.market {
                MarketKernel::Rank(_) => vec![(R::ZERO, 0); n],
                _ => Vec::new(),
            },
            factor_normals: match &params.market {
                MarketKernel::Factor(factor) => vec![Lanes::zero(); factor.factors],
                _ => Vec::new(),
            },
            days: [0; LANES],
            window: trailing_window(params).map(|capacity| ReturnWindow {
                capacity,
                returns: vec![Lanes::zero(); capacity * n],
                next: 0,
                filled: 0,
            }),
            top_k: params.strategies.iter().any(|s| matches!(s.weighting, KernelWeighting::TopK { .. })).then(|| {
                TopKScratch {
                    order: params.initial_order.repeat(LANES),
                    keyed: vec![(R::ZERO, 0); n],
                    log_mu: vec![R::ZERO; n],
                    held: vec![false; n],
                    target: vec![R::ZERO; n],
                }
            }),
            index,
            open: params
                .is_open()
                .then(|| OpenScratch { allowed: vec![Lanes::zero(); n], rho: vec![Lanes::zero(); n] }),
        };
        block.form_open_strategies(params);
        block
    }

    /// Strategies on index members or under a screen start at their rule applied to
    /// the allowed stocks' weights (replacing the closed market's start).
    fn form_open_strategies(&mut self, params: &KernelParams<R>) {
        let Some(scratch) = self.open.as_mut() else { return };
        let log_index_share = self.index.as_ref().map_or(Lanes::zero(), |index| index.share.ln());
        for (strategy, state) in params.strategies.iter().zip(self.strategies.iter_mut()) {
            if !strategy.open {
                continue;
            }
            let members = self.index.as_ref().map(|index| &index.member[..]);
            let mut allowed = vec![Lanes::zero(); self.mu.len()];
            allowed_stocks(members, &strategy.exclude, &mut allowed);
            let share = allowed_share(&self.mu, &allowed);
            // Only max_growth keeps solver states.
            let solvers = self.live_lanes.min(state.warm.len());
            let warm = &mut state.warm[..solvers];
            let log_g = match &strategy.weighting {
                // It starts at its optimum: no turnover limit from the closed market's start.
                KernelWeighting::MaxGrowth { belief, .. } => {
                    let market = (&self.mu[..], Some((&allowed[..], share.inverse)));
                    let held = (&state.holdings[..], None);
                    max_growth_block(belief, market, held, self.window.as_ref(), warm, &mut self.target);
                    Lanes::zero()
                }
                weighting => open_targets::<R, false>(
                    weighting,
                    (&allowed, &mut scratch.rho, share),
                    (&self.mu, &self.log_mu),
                    &state.holdings,
                    (self.top_k.as_mut(), warm, self.window.as_ref()),
                    &mut self.target,
                ),
            };
            state.holdings.copy_from_slice(&self.target);
            state.slots[slot::LOG_G_START] = log_g;
            state.slots[slot::LOG_G_ANCHOR] = log_g;
            state.slots[slot::HOLDINGS_VALUE] = self.target.iter().fold(Lanes::zero(), |sum, t| sum + *t);
            state.slots[slot::LOG_Z_ANCHOR] = -state.slots[slot::HOLDINGS_VALUE].ln();
            state.slots[slot::TILT_FIRST] =
                size_tilt::<R, false>(&self.target, &self.mu, &self.log_mu, self.index.as_ref());
            state.open = Some(OpenTerms {
                allowed,
                leakage: Lanes::zero(),
                leakage_comp: Lanes::zero(),
                screen_anchor: share.log - log_index_share,
                screen: Lanes::zero(),
                log_share_anchor: share.log,
            });
        }
    }

    /// `advance_paths`: simulate the steps in `steps` (CPU twin of the WGSL kernel of that name).
    pub fn advance_paths(&mut self, params: &KernelParams<R>, steps: Range<u32>) {
        match flavour() {
            // SAFETY: `flavour` only returns what the CPU supports.
            #[cfg(target_arch = "x86_64")]
            Flavour::Avx512 => unsafe { self.advance_paths_avx512(params, steps) },
            // SAFETY: as above.
            #[cfg(target_arch = "x86_64")]
            Flavour::Avx2Fma => unsafe { self.advance_paths_avx2(params, steps) },
            _ => self.advance_paths_portable::<false>(params, steps),
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn advance_paths_avx2(&mut self, params: &KernelParams<R>, steps: Range<u32>) {
        self.advance_paths_portable::<true>(params, steps)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma,avx512f,avx512vl,avx512bw,avx512dq")]
    unsafe fn advance_paths_avx512(&mut self, params: &KernelParams<R>, steps: Range<u32>) {
        self.advance_paths_portable::<true>(params, steps)
    }

    #[inline(always)]
    fn advance_paths_portable<const FUSED: bool>(&mut self, params: &KernelParams<R>, steps: Range<u32>) {
        for step in steps {
            self.advance_one_step::<FUSED>(params, step);
        }
    }

    #[inline(always)]
    fn advance_one_step<const FUSED: bool>(&mut self, params: &KernelParams<R>, step: u32) {
        let (key, draws) = (params.key, &self.draws);
        match &params.market {
            MarketKernel::Cholesky(gbm) => {
                cholesky_log_steps::<R, LANES, FUSED>(gbm, key, draws, step, &mut self.log_steps, &mut self.noise)
            }
            MarketKernel::Factor(gbm) => factor_log_steps::<R, LANES, FUSED>(
                gbm,
                key,
                draws,
                step,
                &mut self.factor_normals,
                &mut self.log_steps,
                &mut self.noise,
            ),
            MarketKernel::Rank(rank) => rank_log_steps::<R, LANES, FUSED>(
                rank,
                key,
                draws,
                step,
                &self.log_caps,
                &mut self.rank_order,
                &mut self.rank_keyed,
                &mut self.log_steps,
                &mut self.noise,
            ),
            MarketKernel::Vsm(vsm) => {
                vsm_log_steps::<R, LANES, FUSED>(vsm, key, draws, step, &self.mu, &mut self.log_steps, &mut self.noise)
            }
            MarketKernel::Bootstrap(bootstrap) => bootstrap_log_steps::<R, LANES>(
                bootstrap,
                key,
                &draws.counters,
                step,
                &mut self.days,
                &mut self.log_steps,
                &mut self.noise,
            ),
        }

        // The controls (docs/control-variates.md): the weights at the start of the step (mu here,
        // each strategy's holdings below) against the step's noise terms.
        // The benchmark's noise term is the index's where there is one, else the market's.
        let mut market_noise = Lanes::zero();
        let mut benchmark_noise = Lanes::zero();
        if params.control {
            match self.index.as_mut() {
                None => {
                    for (mu, noise) in self.mu.iter().zip(&self.noise) {
                        market_noise = mu.mul_add_lanes::<FUSED>(*noise, market_noise);
                    }
                    benchmark_noise = market_noise;
                }
                Some(index) => {
                    // One pass for both: the index's weights are mu on its members over their share.
                    let mut member_noise = Lanes::zero();
                    for ((mu, noise), member) in self.mu.iter().zip(&self.noise).zip(&index.member) {
                        let term = *mu * *noise;
                        market_noise = market_noise + term;
                        member_noise = member_noise + term * *member;
                    }
                    benchmark_noise = member_noise / index.share;
                    kahan_add(&mut index.control, &mut index.control_comp, benchmark_noise);
                }
            }
            kahan_add(&mut self.market_control, &mut self.market_control_comp, market_noise);
        }

        // Market: caps, gross returns g_i = X_i(t+1) / X_i(t), weights, log Z.
        let mut market_gross = Lanes::zero();
        for ((log_cap, growth), (log_step, mu)) in
            self.log_caps.iter_mut().zip(self.growth.iter_mut()).zip(self.log_steps.iter().zip(&self.mu))
        {
            *log_cap = *log_cap + *log_step;
            *growth = log_step.exp_with::<FUSED>();
            market_gross = market_gross + *mu * *growth;
        }
        let inverse_market_gross = market_gross.recip();
        // growth becomes each cap's growth relative to the market's: holdings kept in
        // these units stay within a few orders of 1 over any horizon (absolute ones
        // overflow f32 within a century of fast growth).
        let mut member_share = Lanes::zero();
        match &self.index {
            None => {
                for (mu, growth) in self.mu.iter_mut().zip(self.growth.iter_mut()) {
                    *growth = *growth * inverse_market_gross;
                    *mu = *mu * *growth;
                }
            }
            Some(index) => {
                // With the index's new share of the market in the same pass.
                for ((mu, growth), member) in self.mu.iter_mut().zip(self.growth.iter_mut()).zip(&index.member) {
                    *growth = *growth * inverse_market_gross;
                    *mu = *mu * *growth;
                    member_share = member_share + *mu * *member;
                }
            }
        }
        if let Some(window) = self.window.as_mut() {
            window.push(&self.log_steps);
        }
        kahan_add(&mut self.log_total, &mut self.log_total_comp, market_gross.ln());

        let completed = step + 1;
        let is_last = completed == params.total_steps;
        // The benchmark's gross return: the index's (cap weighted over its members), or the market's.
        let (benchmark_gross, reconstituted) = match self.index.as_mut() {
            Some(index) => {
                let gross = index.grow(member_share) * market_gross;
                kahan_add(&mut index.log_value, &mut index.log_value_comp, gross.ln());
                let reconstitutes = index.reconstitutes_at(completed, params.total_steps);
                if reconstitutes {
                    index.reconstitute(&self.log_caps, &self.mu);
                }
                (gross, reconstitutes)
            }
            None => (market_gross, false),
        };
        let inverse_benchmark_gross = match self.index {
            Some(_) => benchmark_gross.recip(),
            None => inverse_market_gross,
        };
        let benchmark_return = benchmark_gross - Lanes::splat(R::ONE);
        let [sum, sum_comp, squares, squares_comp] = &mut self.benchmark_moments;
        kahan_add(sum, sum_comp, benchmark_return);
        kahan_add(squares, squares_comp, benchmark_return * benchmark_return);
        let mut log_mu_ready = false;
        // With an index, sum_i rho_i log mu_i for the open strategies' size tilts (once a step).
        let mut index_log_mu: Option<Lanes<R>> = None;
        for (strategy, state) in params.strategies.iter().zip(self.strategies.iter_mut()) {
            // Shares are held through the step: each holding's value grows with its price.
            // Before it does, the holdings (weights pi = holdings / value) meet the noise.
            let value = if params.control {
                let (value, held_noise) =
                    grow_holdings::<R, FUSED, true>(&mut state.holdings, &self.growth, &self.noise);
                let control = held_noise / state.slots[slot::HOLDINGS_VALUE] - benchmark_noise;
                kahan_add_slot(&mut state.slots, slot::CONTROL, slot::CONTROL_COMP, control);
                value
            } else {
                grow_holdings::<R, FUSED, false>(&mut state.holdings, &self.growth, &self.noise).0
            };
            let gross = value / state.slots[slot::HOLDINGS_VALUE] * market_gross;
            state.slots[slot::HOLDINGS_VALUE] = value;

            let rebalance = completed.is_multiple_of(strategy.rebalance_every) && !is_last;
            let mut cost_factor = Lanes::splat(R::ONE);
            if let (Some(terms), Some(scratch)) = (state.open.as_mut(), self.open.as_mut()) {
                // After a reconstitution, the stocks it may hold from now (into the scratch),
                // and the lanes where they changed.
                let changed = match (&self.index, reconstituted) {
                    (Some(index), true) => {
                        allowed_stocks(Some(&index.member), &strategy.exclude, &mut scratch.allowed);
                        allowed_set_changed(&terms.allowed, &scratch.allowed)
                    }
                    _ => Lanes::zero(),
                };
                if rebalance || is_last || reconstituted || changed.any_positive() {
                    if !log_mu_ready {
                        for (log_mu, log_cap) in self.log_mu.iter_mut().zip(&self.log_caps) {
                            *log_mu = *log_cap - self.log_total;
                        }
                        log_mu_ready = true;
                    }
                    // (Not through a closure: it would be compiled without the kernel's target
                    // features, and its FMAs become library calls.)
                    let index_log_mu = match (index_log_mu, &self.index) {
                        (Some(value), _) => value,
                        (None, Some(index)) => {
                            let value = accounting::index_log_mu::<R, FUSED>(&self.mu, &self.log_mu, index);
                            index_log_mu = Some(value);
                            value
                        }
                        (None, None) => Lanes::zero(),
                    };
                    let schedule = OpenSchedule { rebalance, is_last, reconstituted, changed };
                    let market = MarketView {
                        mu: &self.mu,
                        log_mu: &self.log_mu,
                        index: self.index.as_ref(),
                        index_log_mu,
                        window: self.window.as_ref(),
                    };
                    let solvers = self.live_lanes.min(state.warm.len());
                    let open = OpenStrategy {
                        kernel: strategy,
                        holdings: &mut state.holdings,
                        warm: &mut state.warm[..solvers],
                        slots: &mut state.slots,
                        terms,
                    };
                    cost_factor = open_rebalance::<R, FUSED>(
                        open,
                        market,
                        (value, schedule),
                        (scratch, self.top_k.as_mut(), &mut self.target),
                    );
                }
            } else if rebalance || is_last {
                if !log_mu_ready {
                    for (log_mu, log_cap) in self.log_mu.iter_mut().zip(&self.log_caps) {
                        *log_mu = *log_cap - self.log_total;
                    }
                    log_mu_ready = true;
                }
                let log_g = match (&strategy.weighting, self.top_k.as_mut()) {
                    (KernelWeighting::TopK { k, buffer, p }, Some(scratch)) => {
                        let band = (*k, *buffer, *p);
                        top_k_block(band, &self.log_mu, None, &state.holdings, scratch, &mut self.target);
                        Lanes::zero()
                    }
                    (KernelWeighting::MaxGrowth { belief, max_turnover }, _) => {
                        let held = (&state.holdings[..], *max_turnover);
                        let warm = &mut state.warm[..self.live_lanes];
                        let market = (&self.mu[..], None);
                        max_growth_block(belief, market, held, self.window.as_ref(), warm, &mut self.target);
                        Lanes::zero()
                    }
                    (weighting, _) => {
                        target_weights::<R, LANES, FUSED>(weighting, &self.mu, &self.log_mu, &mut self.target)
                    }
                };
                // Close the decomposition period: T(q | p) = log(sum_i pi_i(p) q_i / p_i) - log(G(q) / G(p)),
                // where sum_i pi_i(p) q_i / p_i = value / value(p): the holdings grew with their caps relative to Z.
                let log_period_ratio = value.ln() + state.slots[slot::LOG_Z_ANCHOR];
                let divergence = log_period_ratio - (log_g - state.slots[slot::LOG_G_ANCHOR]);
                kahan_add_slot(&mut state.slots, slot::DRIFT, slot::DRIFT_COMP, divergence);
                state.slots[slot::MIN_DIVERGENCE] = state.slots[slot::MIN_DIVERGENCE].min(divergence);
                state.slots[slot::LOG_G_ANCHOR] = log_g;

                if rebalance {
                    // Weights before trading are holdings / value; after, the target (value 1).
                    // The size tilt after trading: sum_i (pi_i - mu_i) log mu_i.
                    let inverse_value = value.recip();
                    let mut traded = Lanes::zero();
                    let mut tilt = Lanes::zero();
                    for ((target, holding), (mu, log_mu)) in
                        self.target.iter().zip(state.holdings.iter_mut()).zip(self.mu.iter().zip(&self.log_mu))
                    {
                        traded = traded + (*target - *holding * inverse_value).abs();
                        tilt = (*target - *mu).mul_add_lanes::<FUSED>(*log_mu, tilt);
                        *holding = *target;
                    }
                    record_size_tilt(&mut state.slots, tilt, Lanes::splat(R::ONE));
                    state.slots[slot::HOLDINGS_VALUE] = Lanes::splat(R::ONE);
                    state.slots[slot::LOG_Z_ANCHOR] = Lanes::zero();
                    cost_factor = Lanes::splat(R::ONE) - traded * strategy.cost_rate;
                    state.slots[slot::TURNOVER] = state.slots[slot::TURNOVER] + traded * R::from_f64(0.5);
                    state.slots[slot::TRADED_SQUARES] = state.slots[slot::TRADED_SQUARES] + traded * traded;
                    state.slots[slot::COST] = state.slots[slot::COST] + cost_factor.ln();
                }
            }

            // Per-step returns against the benchmark.
            let strategy_gross = gross * cost_factor;
            let active = strategy_gross - benchmark_gross;
            let slots = &mut state.slots;
            kahan_add_slot(slots, slot::RELATIVE, slot::RELATIVE_COMP, (strategy_gross * inverse_benchmark_gross).ln());
            kahan_add_slot(slots, slot::ACTIVE_SUM, slot::ACTIVE_SUM_COMP, active);
            kahan_add_slot(slots, slot::ACTIVE_SQUARES, slot::ACTIVE_SQUARES_COMP, active * active);
            kahan_add_slot(slots, slot::ACTIVE_CROSS, slot::ACTIVE_CROSS_COMP, active * benchmark_return);
            slots[slot::PEAK] = slots[slot::PEAK].max(slots[slot::RELATIVE]);
            slots[slot::DRAWDOWN] = slots[slot::DRAWDOWN].max(slots[slot::PEAK] - slots[slot::RELATIVE]);
        }
        if let Some(point) = params.grid.point_after(completed) {
            self.record_grid_point(point);
        }
    }

    /// Keeps every lane's strategies at grid point `point` (`StrategyBlock::terms_to_date`).
    fn record_grid_point(&mut self, point: u32) {
        let strategies = self.strategies.len();
        for (s, state) in self.strategies.iter().enumerate() {
            let base = (point as usize * strategies + s) * QUANTITIES * LANES;
            for (q, values) in state.terms_to_date().iter().enumerate() {
                for (lane, value) in values.0.iter().enumerate() {
                    self.grid_values[base + q * LANES + lane] = value.to_f64();
                }
            }
        }
    }

    /// Trailing max_growth strategies hold the market until their window has two
    /// returns; a replay whose window warmed up on earlier data forms their portfolios
    /// from it at the start instead (as a rebalance would, without a cost: every
    /// strategy starts at its target).
    fn form_trailing_portfolios(&mut self, params: &KernelParams<R>) {
        for (strategy, state) in params.strategies.iter().zip(self.strategies.iter_mut()) {
            let KernelWeighting::MaxGrowth { belief, max_turnover } = &strategy.weighting else { continue };
            if !matches!(belief, CovarianceBelief::Trailing(_)) {
                continue;
            }
            let held = (&state.holdings[..], *max_turnover);
            let warm = &mut state.warm[..self.live_lanes];
            max_growth_block(belief, (&self.mu, None), held, self.window.as_ref(), warm, &mut self.target);
            state.holdings.copy_from_slice(&self.target);
            let value = self.target.iter().fold(Lanes::zero(), |sum, t| sum + *t);
            state.slots[slot::HOLDINGS_VALUE] = value;
            state.slots[slot::LOG_Z_ANCHOR] = -value.ln();
        }
    }

    /// Lane `lane`'s log Z(t) - log Z(0): the market portfolio's log return so far.
    pub fn market_log_return(&self, lane: usize) -> f64 {
        self.log_total.0[lane].to_f64()
    }

    /// Lane `lane`'s benchmark log value so far: the index's, or the market's log Z(t) - log Z(0).
    pub fn benchmark_log_value(&self, lane: usize) -> f64 {
        self.index.as_ref().map_or(self.log_total, |index| index.log_value).0[lane].to_f64()
    }

    /// Lane `lane`'s strategy `strategy` so far: L, then the generating (as of the last
    /// rebalance), drift, cost, leakage and screen terms (docs/theory.md, docs/open-markets.md).
    pub fn terms_to_date(&self, lane: usize, strategy: usize) -> [f64; QUANTITIES] {
        self.strategies[strategy].terms_to_date().map(|values| values.0[lane].to_f64())
    }

    /// The weights lane `lane`'s strategy `strategy` holds now (after any rebalance).
    pub fn held_weights(&self, lane: usize, strategy: usize) -> Vec<f64> {
        let state = &self.strategies[strategy];
        let value = state.slots[slot::HOLDINGS_VALUE].0[lane].to_f64();
        state.holdings.iter().map(|h| h.0[lane].to_f64() / value).collect()
    }

    /// Lane `lane`'s log caps now.
    pub fn log_caps(&self, lane: usize) -> Vec<f64> {
        self.log_caps.iter().map(|c| c.0[lane].to_f64()).collect()
    }

    /// Lane `lane`'s market weights now.
    pub fn market_weights(&self, lane: usize) -> Vec<f64> {
        self.mu.iter().map(|m| m.0[lane].to_f64()).collect()
    }

    /// Adds the live lanes' grid points to `grid`, and counts them as paths.
    fn record_grid(&self, grid: &mut TimeGrid) {
        let strategies = self.strategies.len();
        for point in 0..grid.spec.points {
            for s in 0..strategies {
                let base = (point as usize * strategies + s) * QUANTITIES * LANES;
                for lane in 0..self.live_lanes {
                    let value = |q: usize| self.grid_values[base + q * LANES + lane];
                    grid.record(s, point, std::array::from_fn(value));
                }
            }
        }
        for _ in 0..self.live_lanes {
            grid.count_path();
        }
    }

    /// Copies lane `lane` into row `lane` of the block's share of the batch output.
    fn write_lane(&self, lane: usize, out: &mut BlockOutput<'_>) {
        let n = self.log_caps.len();
        for i in 0..n {
            out.log_caps[lane * n + i] = self.log_caps[i].0[lane].to_f64();
        }
        out.log_total[lane] = self.log_total.0[lane].to_f64();
        out.market_control[lane] = self.market_control.0[lane].to_f64();
        let moments = &self.benchmark_moments;
        out.benchmark_moments[lane * benchmark_moment::COUNT + benchmark_moment::RETURN_SUM] =
            moments[0].0[lane].to_f64();
        out.benchmark_moments[lane * benchmark_moment::COUNT + benchmark_moment::RETURN_SQUARES] =
            moments[2].0[lane].to_f64();
        let strategy_slots = &mut *out.strategy_slots;
        let strategies = self.strategies.len();
        for (s, state) in self.strategies.iter().enumerate() {
            let start = (lane * strategies + s) * slot::COUNT;
            for k in 0..slot::COUNT {
                strategy_slots[start + k] = state.slots[k].0[lane].to_f64();
            }
            if let Some(terms) = &state.open {
                let start = (lane * strategies + s) * open_term::COUNT;
                out.open_terms[start + open_term::LEAKAGE] = terms.leakage.0[lane].to_f64();
                out.open_terms[start + open_term::SCREEN] = terms.screen.0[lane].to_f64();
            }
        }
        if let Some(index) = &self.index {
            let row = &mut out.index[lane * index_field::COUNT..(lane + 1) * index_field::COUNT];
            row[index_field::LOG_RETURN] = index.log_value.0[lane].to_f64();
            row[index_field::CONTROL] = index.control.0[lane].to_f64();
            row[index_field::TURNOVER] = index.turnover.0[lane].to_f64();
            out.membership_history[lane] = index.history[lane];
        }
    }
}

/// A block's rows of the batch's output (`BatchAccumulators`' fields).
struct BlockOutput<'a> {
    log_caps: &'a mut [f64],
    log_total: &'a mut [f64],
    market_control: &'a mut [f64],
    benchmark_moments: &'a mut [f64],
    strategy_slots: &'a mut [f64],
    /// Empty without an index, or in a closed market.
    index: &'a mut [f64],
    membership_history: &'a mut [u32],
    open_terms: &'a mut [f64],
}

impl BatchAccumulators {
    /// The rows of each block of `LANES` paths.
    fn block_rows(&mut self) -> Vec<BlockOutput<'_>> {
        let (n, strategies) = (self.n, self.strategies);
        let mut index = self.index.chunks_mut(LANES * index_field::COUNT);
        let mut open_terms = self.open_terms.chunks_mut(LANES * strategies * open_term::COUNT);
        let mut histories = self.membership_history.chunks_mut(LANES);
        self.log_caps
            .chunks_mut(LANES * n)
            .zip(self.log_total_cap_change.chunks_mut(LANES))
            .zip(self.market_control.chunks_mut(LANES))
            .zip(self.benchmark_moments.chunks_mut(LANES * benchmark_moment::COUNT))
            .zip(self.strategy_slots.chunks_mut(LANES * strategies * slot::COUNT))
            .map(|((((log_caps, log_total), market_control), benchmark_moments), strategy_slots)| BlockOutput {
                log_caps,
                log_total,
                market_control,
                benchmark_moments,
                strategy_slots,
                index: index.next().unwrap_or_default(),
                membership_history: histories.next().unwrap_or_default(),
                open_terms: open_terms.next().unwrap_or_default(),
            })
            .collect()
    }
}

/// Where a path first goes non-finite: the path is simulated again alone, step by
/// step, and checked after each. Returns the 0-based step and the strategy index
/// (None when the market itself, its caps or weights, is the first to go).
pub fn first_non_finite_step<R: Real>(params: &KernelParams<R>, path: u64) -> Option<(u32, Option<usize>)> {
    let mut state = PathBlock::init_paths(params, path, 1);
    let finite = |value: &Lanes<R>| value.0[0].to_f64().is_finite();
    for step in 0..params.total_steps {
        state.advance_paths(params, step..step + 1);
        if !(finite(&state.log_total) && state.log_caps.iter().all(finite) && state.mu.iter().all(finite)) {
            return Some((step, None));
        }
        for (index, strategy) in state.strategies.iter().enumerate() {
            if !(strategy.slots.iter().all(finite) && strategy.holdings.iter().all(finite)) {
                return Some((step, Some(index)));
            }
        }
    }
    None
}

/// The rows of returns a path keeps for its trailing estimates: the longest lookback,
/// if any strategy has one.
fn trailing_window<R: Real>(params: &KernelParams<R>) -> Option<usize> {
    params
        .strategies
        .iter()
        .filter_map(|s| match &s.weighting {
            KernelWeighting::MaxGrowth { belief: CovarianceBelief::Trailing(estimate), .. } => Some(estimate.lookback),
            _ => None,
        })
        .max()
}

/// How many of `available` warm-up returns [`replay_path`] needs: none without a
/// trailing estimate, else the last ones that fill its window to the same state as
/// all `available` would (a whole number of windows fewer, so that its ring of
/// returns ends at the same place).
pub fn warm_up_needed<R: Real>(params: &KernelParams<R>, available: usize) -> usize {
    match trailing_window(params) {
        None => 0,
        Some(capacity) if available <= capacity => available,
        Some(capacity) => available - (available - capacity) / capacity * capacity,
    }
}

/// Path `path` of `params` alone (a backtest's one path, 0; or one path of a run: lane 0
/// of a block, the same numbers as in any block), with its trailing-estimate window
/// first filled with `warm_up` (log returns before the first step, oldest first),
/// calling `on_step(completed steps, block)` at the start (0) and after every step.
pub fn replay_path<R: Real>(
    params: &KernelParams<R>,
    (path, warm_up): (u64, &crate::data::Rows),
    mut on_step: impl FnMut(u32, &PathBlock<R>),
) -> BatchAccumulators {
    let n = params.n;
    let strategies = params.strategies.len();
    let mut state = PathBlock::init_paths(params, path, 1);
    if let Some(window) = state.window.as_mut() {
        for returns in warm_up.iter() {
            let lanes: Vec<Lanes<R>> = returns.iter().map(|r| Lanes::splat(R::from_f64(*r))).collect();
            window.push(&lanes);
        }
        if !warm_up.is_empty() {
            state.form_trailing_portfolios(params);
        }
    }
    on_step(0, &state);
    for step in 0..params.total_steps {
        state.advance_paths(params, step..step + 1);
        on_step(step + 1, &state);
    }
    let mut out =
        BatchAccumulators::zeroed(path, 1, n, strategies).with_open_market(params.index.is_some(), params.is_open());
    let mut rows = out.block_rows();
    state.write_lane(0, &mut rows[0]);
    out
}

/// Simulates `paths` (a range of global path indices) in precision `R` on the
/// current rayon pool, calling `on_block_done` with each finished block's path count.
pub fn simulate_batch<R: Real>(
    params: &KernelParams<R>,
    paths: Range<u64>,
    strategies: usize,
    on_block_done: &(dyn Fn(u64) + Sync),
) -> BatchAccumulators {
    simulate_batch_until(params, paths, strategies, on_block_done, &AtomicBool::new(false))
        .expect("a batch nobody cancels completes")
}

/// [`simulate_batch`], abandoned (`None`) once `cancelled` is set: blocks of paths not
/// yet started are skipped, so a caller (Ctrl-C in Python) waits one block, not a batch.
pub fn simulate_batch_until<R: Real>(
    params: &KernelParams<R>,
    paths: Range<u64>,
    strategies: usize,
    on_block_done: &(dyn Fn(u64) + Sync),
    cancelled: &AtomicBool,
) -> Option<BatchAccumulators> {
    let n = params.n;
    let count = (paths.end - paths.start) as usize;
    let mut out = BatchAccumulators::zeroed(paths.start, count, n, strategies)
        .with_open_market(params.index.is_some(), params.is_open());
    let new_grid = || TimeGrid::new(params.grid, params.strategies.len());
    let grid = out
        .block_rows()
        .into_par_iter()
        .enumerate()
        // One grid per rayon job, not per block: a grid is megabytes of histogram.
        .fold(new_grid, |mut grid, (block, mut rows)| {
            if cancelled.load(Ordering::Relaxed) {
                return grid;
            }
            let lanes_used = rows.log_total.len();
            let mut state = PathBlock::init_paths(params, paths.start + (block * LANES) as u64, lanes_used);
            state.advance_paths(params, 0..params.total_steps);
            for lane in 0..lanes_used {
                state.write_lane(lane, &mut rows);
            }
            state.record_grid(&mut grid);
            on_block_done(lanes_used as u64);
            grid
        })
        // Integer counts and sums: the same total in any order.
        .reduce(new_grid, |mut total, part| {
            total.add(&part).expect("the jobs of one batch share the grid");
            total
        });
    if cancelled.load(Ordering::Relaxed) {
        return None;
    }
    out.grid = Some(grid);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Plan, Scenario};

    fn plan() -> Plan {
        let text = r#"
            paths = 4
            years = 1.0
            [market]
            n = 5
            vol = 0.2
            [[strategies]]
            name = "equal"
            weighting = "equal"
            [[strategies]]
            name = "entropy-every-10"
            weighting = "entropy"
            rebalance_every = 10
        "#;
        Scenario::from_toml(text).unwrap().validate().unwrap()
    }

    #[test]
    fn the_first_non_finite_step_and_strategy_are_found() {
        let plan = plan();
        let mut params = KernelParams::<f32>::new(&plan);
        assert_eq!(first_non_finite_step(&params, 2), None, "a healthy path has no such step");
        // A NaN cost rate poisons the second strategy at its first rebalance: after step 10.
        params.strategies[1].cost_rate = f32::NAN;
        assert_eq!(first_non_finite_step(&params, 2), Some((9, Some(1))));
        let error = crate::EngineError::NonFinite {
            path: 2,
            strategy: "entropy-every-10".into(),
            step: Some(9),
            first: Some("strategy entropy-every-10".into()),
        };
        assert_eq!(
            error.to_string(),
            "path 2, strategy entropy-every-10: a statistic is not finite (step 10 of the path: strategy \
             entropy-every-10 went first); no result was produced"
        );
    }
}
