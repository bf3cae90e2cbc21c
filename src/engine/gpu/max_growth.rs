//! The max_growth weighting on the GPU, host side: where its state and problem data
//! live, the constants and model words of `shaders/max_growth.wgsl` and
//! `shaders/max_growth_estimate.wgsl`, and how a rebalance is split into dispatches
//! (estimate phases and solver rounds sized to the adapter's loop budget).

use std::ops::Range;

use crate::numeric::shrinkage::Shrinkage;
use crate::portfolio::optimize::{CovarianceBelief, TrailingEstimate};
use crate::portfolio::Weighting;
use crate::scenario::Plan;

/// Most ADMM iterations of one solve (as the CPU solver's).
pub const MAX_ITERATIONS: u32 = 2000;
/// Both ADMM residuals of a converged solve are below this (f32; the CPU's f64 solver
/// uses 1e-8).
pub const TOLERANCE: f64 = 2e-6;
/// ADMM iterations per `solve_max_growth` dispatch on hardware adapters, between
/// readbacks of whether any path has iterations left.
pub const HARDWARE_SOLVER_ITERATIONS: u32 = 64;
/// Loop iterations per estimate dispatch on hardware adapters: enough for 100 stocks'
/// correlation over a year of returns in one dispatch, short of driver watchdogs.
pub const HARDWARE_ESTIMATE_TRIPS: u64 = 1 << 22;
/// Cyclic Jacobi sweeps per eigendecomposition: converged to f32 precision well before
/// (rotations of already-zero entries are skipped).
pub const JACOBI_SWEEPS: u32 = 10;

/// `params.phase` of the dispatches (the same numbers as the shaders' constants).
pub mod phase {
    pub const MOMENTS: u32 = 0;
    pub const CORRELATION: u32 = 1;
    pub const SPREAD: u32 = 2;
    pub const SHRINK: u32 = 3;
    pub const JACOBI: u32 = 4;
    pub const DERIVE: u32 = 5;
    /// `finish_max_growth`: trade to the solution.
    pub const TRADE: u32 = 0;
    /// `finish_max_growth`: hold the market (a trailing estimate with under two returns).
    pub const HOLD_MARKET: u32 = 1;
}

/// Strategy `s`'s trailing estimate, if it is max_growth with one.
pub fn trailing(plan: &Plan, s: usize) -> Option<&TrailingEstimate> {
    match &plan.strategies[s].weighting {
        Weighting::MaxGrowth { belief: CovarianceBelief::Trailing(estimate), .. } => Some(estimate),
        _ => None,
    }
}

pub fn is_max_growth(weighting: &Weighting) -> bool {
    matches!(weighting, Weighting::MaxGrowth { .. })
}

/// How a max_growth strategy's problem is solved on the GPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Solver {
    /// `shaders/max_growth.wgsl`: ADMM in Sigma's eigenbasis, N x N products and
    /// N-sized private arrays (full and trailing covariances).
    Eigen,
    /// `shaders/max_growth_factor.wgsl`: the factor form Sigma = B B' + D of the model's
    /// covariance, O(N K^2) a pass and nothing private that grows with N.
    Factor { factors: u32 },
}

/// Most factors the GPU solves in the factor form: its per-stock code is unrolled over
/// the (K + 1)^2 entries of the dual's Hessian. More take the eigenbasis solver.
pub const MAX_GPU_FACTORS: usize = 16;

/// The solver of strategy `s`, if it is max_growth.
pub fn solver(plan: &Plan, s: usize) -> Option<Solver> {
    match &plan.strategies[s].weighting {
        Weighting::MaxGrowth { belief: CovarianceBelief::Model(problem), .. } => match problem.factor_count() {
            Some(factors) if factors <= MAX_GPU_FACTORS && problem.factor_form_fits_f32() => {
                Some(Solver::Factor { factors: factors as u32 })
            }
            _ => Some(Solver::Eigen),
        },
        Weighting::MaxGrowth { .. } => Some(Solver::Eigen),
        _ => None,
    }
}

/// K of the plan's factor-form strategies (all share the market's loadings), if any.
pub fn factors(plan: &Plan) -> Option<u32> {
    (0..plan.strategies.len()).find_map(|s| match solver(plan, s) {
        Some(Solver::Factor { factors }) => Some(factors),
        _ => None,
    })
}

/// Whether some max_growth strategy of `plan` takes the eigenbasis solver.
pub fn has_eigen(plan: &Plan) -> bool {
    (0..plan.strategies.len()).any(|s| solver(plan, s) == Some(Solver::Eigen))
}

/// The slots every solver block starts with (shaders/max_growth_common.wgsl): the
/// deferred step's gross return of the holdings, the largest constraint residual of
/// the path's rebalances so far, whether the current solve is done, its iterations.
pub const COMMON_OFFSETS: [(&str, u32); 4] =
    [("MG_GROSS", 0), ("MG_RESIDUAL", 1), ("MG_DONE", 2), ("MG_ITERATIONS", 3)];
const COMMON_SLOTS: u32 = COMMON_OFFSETS.len() as u32;

/// The residual's offset in a solver block (read back by the host).
pub const RESIDUAL_OFFSET: u32 = COMMON_OFFSETS[1].1;

/// The eigenbasis solver's slots after the common ones (`MG_*` in
/// shaders/max_growth.wgsl): z, u (ADMM's scaled dual), theta (the box projection's
/// last shift).
pub fn eigen_offsets(n: u32) -> [(&'static str, u32); 3] {
    [("MG_Z", COMMON_SLOTS), ("MG_U", COMMON_SLOTS + n), ("MG_THETA", COMMON_SLOTS + 2 * n)]
}

/// The factor solver's slots after the common ones (`MGF_*` in
/// shaders/max_growth_factor.wgsl): theta, eta, the budget search's bracket (low and
/// its phi, high or -1 and its phi), its last point, its stage, the Newton steps at
/// this eta, whether the last was exact, the etas evaluated, then lambda (K).
pub const FACTOR_OFFSETS: [(&str, u32); 13] = [
    ("MGF_THETA", COMMON_SLOTS),
    ("MGF_ETA", COMMON_SLOTS + 1),
    ("MGF_LOW", COMMON_SLOTS + 2),
    ("MGF_PHI_LOW", COMMON_SLOTS + 3),
    ("MGF_HIGH", COMMON_SLOTS + 4),
    ("MGF_PHI_HIGH", COMMON_SLOTS + 5),
    ("MGF_LAST_ETA", COMMON_SLOTS + 6),
    ("MGF_LAST_PHI", COMMON_SLOTS + 7),
    ("MGF_STAGE", COMMON_SLOTS + 8),
    ("MGF_NEWTON", COMMON_SLOTS + 9),
    ("MGF_EXACT", COMMON_SLOTS + 10),
    ("MGF_EVALUATIONS", COMMON_SLOTS + 11),
    ("MGF_LAMBDA", COMMON_SLOTS + 12),
];

/// Slots of a strategy's solver block.
pub fn solver_block(solver: Solver, n: u32) -> u32 {
    match solver {
        Solver::Eigen => eigen_offsets(n)[2].1 + 1,
        Solver::Factor { factors } => FACTOR_OFFSETS[FACTOR_OFFSETS.len() - 1].1 + factors,
    }
}

/// Offsets of a factor problem's words (`MaxGrowthProblem::factor_kernel_words`):
/// B row-major, D, a = diag(Sigma) / 2 + gamma, budget, bound.
pub fn factor_problem_offsets(n: u32, factors: u32) -> [(&'static str, u32); 5] {
    [
        ("MGF_LOADINGS", 0),
        ("MGF_IDIO", n * factors),
        ("MGF_LINEAR", n * factors + n),
        ("MGF_BUDGET", n * factors + 2 * n),
        ("MGF_ACTIVE", n * factors + 2 * n + 1),
    ]
}

/// The factor solver's limits (f32; the f64 CPU solver allows 60 halvings, 100 Newton
/// steps and 100 etas, and stops closer: 1e-10 of the budget).
pub const FACTOR_MAX_HALVINGS: u32 = 30;
pub const FACTOR_MAX_NEWTON: u32 = 50;
pub const FACTOR_MAX_EVALUATIONS: u32 = 50;
/// An inner solve stops when a Newton step's predicted gain (the decrement g'M^-1 g) is
/// below this share of the dual's value: less than its f32 rounding shows (the
/// weights are then exact to about 1e-7).
pub const FACTOR_DECREMENT: f64 = 1e-10;
/// Most passes of the finish's projection that makes the weights' sum exactly 1
/// (Newton inside a bracket: one to three in practice).
pub const FACTOR_SUM_ROUNDS: u32 = 16;
/// How near the budget the tracking error is brought, relative (the finish scales any
/// excess away), and the bracket's relative width at which the search for eta stops.
pub const FACTOR_BUDGET_TOLERANCE: f64 = 1e-5;
pub const FACTOR_BRACKET_TOLERANCE: f64 = 1e-6;
/// Loop iterations a factor solve dispatch may run on hardware adapters (thousands
/// of passes over 1,000 stocks: a solve from a warm start in one dispatch).
pub const HARDWARE_FACTOR_TRIPS: u32 = 1 << 22;

/// Loop iterations of one pass over the stocks (the loops over factors are unrolled).
pub fn factor_pass_trips(n: u32) -> u32 {
    n + 4
}
/// Loop iterations of one Newton direction: the scaled Cholesky of (K + 1)^2 and its
/// two triangular solves, at most.
pub fn factor_cholesky_trips(factors: u32) -> u32 {
    let size = factors + 1;
    size * size * size + 4 * size * size + 8
}
/// Loop iterations of one Newton step at most: its line search's passes and a pass at
/// the next eta.
pub fn factor_step_trips(n: u32, factors: u32) -> u32 {
    (FACTOR_MAX_HALVINGS + 1) * factor_pass_trips(n) + factor_cholesky_trips(factors) + FACTOR_MAX_HALVINGS + 8
}
/// Loop iterations of loading a path's arrays (private ones are copied in).
pub fn factor_load_trips(n: u32, private_arrays: bool) -> u32 {
    if private_arrays {
        2 * n + 2
    } else {
        0
    }
}
/// Loop iterations before a solve dispatch's first Newton step: the loads, B' mu and
/// the first point.
pub fn factor_setup_trips(n: u32, private_arrays: bool) -> u32 {
    factor_load_trips(n, private_arrays) + 2 * factor_pass_trips(n)
}
/// Loop iterations of `finish_max_growth_factor` at most: the loads (and the strategy's
/// holdings), B' mu, the solution, its sum's bracket and rounds, its norm and the
/// targets, three passes for the turnover limit, one for the residual and the trade.
pub fn factor_finish_trips(n: u32, private_arrays: bool) -> u32 {
    factor_load_trips(n, private_arrays) + 2 * n + 64 + (10 + FACTOR_SUM_ROUNDS) * factor_pass_trips(n)
}

/// Why one dispatch of the factor-form solver does not fit `budget` loop iterations,
/// if it does not (software adapters: llvmpipe's cap; hardware: the dispatch size).
pub fn factor_misfit(plan: &Plan, budget: u64, private_arrays: bool) -> Option<String> {
    let n = plan.n() as u32;
    let factors = factors(plan)?;
    let one_step = factor_setup_trips(n, private_arrays) as u64 + factor_step_trips(n, factors) as u64;
    let finish = factor_finish_trips(n, private_arrays) as u64;
    (one_step > budget || finish > budget).then(|| {
        format!(
            "market.n: max_growth over {n} stocks needs more loop iterations per dispatch ({one_step} for one \
             Newton step of its factor-form solver, {finish} to finish) than this adapter runs in one dispatch \
             ({budget}); use the CPU backend"
        )
    })
}

/// Offsets in a path's eigenbasis solver block: the common slots, then z, u, theta.
pub fn solver_offsets(n: u32) -> impl Iterator<Item = (&'static str, u32)> {
    COMMON_OFFSETS.into_iter().chain(eigen_offsets(n))
}

/// Offsets of a problem's words (`MaxGrowthProblem::kernel_words`): Q row-major,
/// Lambda, the unconstrained optimum, budget, bound, rho.
pub fn problem_offsets(n: u32) -> [(&'static str, u32); 6] {
    [
        ("MG_Q", 0),
        ("MG_LAMBDA", n * n),
        ("MG_UNCONSTRAINED", n * n + n),
        ("MG_BUDGET", n * n + 2 * n),
        ("MG_ACTIVE", n * n + 2 * n + 1),
        ("MG_RHO", n * n + 2 * n + 2),
    ]
}

/// Offsets of a trailing estimate's parameters after gamma (`model_words`).
pub fn trailing_parameter_offsets(n: u32) -> [(&'static str, u32); 5] {
    [
        ("TR_BUDGET", n),
        ("TR_BOUND", n + 1),
        ("TR_STEPS_PER_YEAR", n + 2),
        ("TR_SHRINKAGE", n + 3),
        ("TR_LOOKBACK", n + 4),
    ]
}

/// The dispatch phases as the shaders name them.
pub const PHASES: [(&str, u32); 8] = [
    ("PHASE_MOMENTS", phase::MOMENTS),
    ("PHASE_CORRELATION", phase::CORRELATION),
    ("PHASE_SPREAD", phase::SPREAD),
    ("PHASE_SHRINK", phase::SHRINK),
    ("PHASE_JACOBI", phase::JACOBI),
    ("PHASE_DERIVE", phase::DERIVE),
    ("MG_TRADE", phase::TRADE),
    ("MG_HOLD_MARKET", phase::HOLD_MARKET),
];

/// Words of a problem: Q, Lambda, the unconstrained optimum, budget, bound, rho; or in
/// the factor form B, D, a, budget, bound.
pub(super) fn problem_words(solver: Solver, n: u32) -> u32 {
    match solver {
        Solver::Eigen => n * n + 2 * n + 3,
        Solver::Factor { factors } => n * factors + 2 * n + 2,
    }
}

/// Slots of a trailing estimate's per-path block: the problem, then A, means, sds,
/// vols and the spread.
pub fn trailing_block(n: u32) -> u32 {
    problem_words(Solver::Eigen, n) + n * n + 3 * n + 1
}

/// Words of a trailing estimate's parameters: gamma, budget, bound, steps per year,
/// shrinkage, lookback.
pub(super) fn trailing_parameter_words(n: u32) -> u32 {
    n + 5
}

/// Returns the ring of log returns keeps: the longest lookback (0 without a trailing estimate).
pub fn window_length(plan: &Plan) -> u32 {
    (0..plan.strategies.len()).filter_map(|s| trailing(plan, s)).map(|e| e.lookback as u32).max().unwrap_or(0)
}

/// Returns in the estimate of strategy `s` at the rebalance after `completed` steps.
pub fn periods(plan: &Plan, estimate: &TrailingEstimate, completed: u32) -> u32 {
    (estimate.lookback as u32).min(completed).min(window_length(plan))
}

/// Loop iterations of a `solve_max_growth` dispatch before its first ADMM iteration
/// (loads, Q' mu, the target), and of each ADMM iteration at most (two products, the
/// ball's 40 Newton rounds, the projection's 64 rounds, the steps between).
pub fn setup_trips(n: u32) -> u64 {
    let n = n as u64;
    n * n + 6 * n + 8
}
pub fn iteration_trips(n: u32) -> u64 {
    let n = n as u64;
    2 * n * n + 120 * n + 8
}
/// Loop iterations of `finish_max_growth` at most: four products and the trading.
pub fn finish_trips(n: u32) -> u64 {
    let n = n as u64;
    4 * n * n + 30 * n + 8
}

/// Ranges of `0..count` whose items' loop iterations (`trips`), plus `overhead` per
/// dispatch, stay within `budget`; `None` when a single item does not fit.
fn chunks(count: u32, overhead: u64, budget: u64, trips: impl Fn(u32) -> u64) -> Option<Vec<Range<u32>>> {
    let mut ranges = Vec::new();
    let mut start = 0;
    let mut used = overhead;
    for item in 0..count {
        let cost = trips(item);
        if overhead + cost > budget {
            return None;
        }
        if used + cost > budget {
            ranges.push(start..item);
            start = item;
            used = overhead;
        }
        used += cost;
    }
    ranges.push(start..count);
    Some(ranges)
}

/// The dispatches of one trailing estimate over `periods` returns, as (phase, range):
/// moments, correlation rows, Ledoit-Wolf's spread over returns (auto shrinkage only),
/// the shrinkage, the Jacobi sweeps by pivot rows, and the problem's derivation.
/// `None` when some single item exceeds `budget` loop iterations.
pub fn estimate_dispatches(
    n: u32,
    estimate: &TrailingEstimate,
    periods: u32,
    budget: u64,
) -> Option<Vec<(u32, Range<u32>)>> {
    let (n64, t64) = (n as u64, periods as u64);
    // A phase done in one dispatch (its range is unused).
    let whole = |cost: u64| (cost <= budget).then(|| std::iter::once(0..1).collect::<Vec<Range<u32>>>());
    let mut dispatches = Vec::new();
    let mut add = |phase: u32, ranges: Vec<Range<u32>>| dispatches.extend(ranges.into_iter().map(|r| (phase, r)));
    add(phase::MOMENTS, whole(n64 * (2 * t64 + 2) + 8)?);
    add(phase::CORRELATION, chunks(n, n64 + 8, budget, |row| (row as u64 + 1) * (t64 + 1) + 1)?);
    if estimate.shrinkage == Shrinkage::Auto {
        add(phase::SPREAD, chunks(periods, n64 * n64 + n64 + 8, budget, |_| n64 * n64 + n64 + 1)?);
    }
    add(phase::SHRINK, whole(2 * n64 * n64 + 8)?);
    let sweep = chunks(n, 8, budget, |pivot| (n64 - 1 - pivot as u64) * (3 * n64 + 1) + 1)?;
    for _ in 0..JACOBI_SWEEPS {
        add(phase::JACOBI, sweep.clone());
    }
    add(phase::DERIVE, whole(n64 * n64 + 3 * n64 + 8)?);
    Some(dispatches)
}

/// Why a software adapter cannot run `plan`'s max_growth strategies within its loop
/// budget, if it cannot.
pub fn software_misfit(plan: &Plan, budget: u64, private_arrays: bool) -> Option<String> {
    let n = plan.n() as u32;
    if let Some(reason) = factor_misfit(plan, budget, private_arrays) {
        return Some(reason);
    }
    if !has_eigen(plan) {
        return None;
    }
    let one_iteration = setup_trips(n) + iteration_trips(n);
    if one_iteration > budget || finish_trips(n) > budget {
        return Some(format!(
            "market.n: max_growth over {n} stocks needs more loop iterations per dispatch ({one_iteration} for \
             one ADMM iteration, {} to finish) than a software adapter runs correctly ({budget}); use the CPU backend",
            finish_trips(n)
        ));
    }
    let window = window_length(plan);
    for (s, estimate) in (0..plan.strategies.len()).filter_map(|s| trailing(plan, s).map(|e| (s, e))) {
        if estimate_dispatches(n, estimate, window.min(estimate.lookback as u32), budget).is_none() {
            return Some(format!(
                "strategies[{s}].lookback: a trailing estimate of {n} stocks over {} returns needs more loop \
                 iterations per dispatch than a software adapter runs correctly ({budget}); use the CPU backend",
                estimate.lookback
            ));
        }
    }
    None
}

/// The model buffer's max_growth words, in the order `data_bases` assigns: each
/// problem with the model's covariance, each trailing estimate's parameters.
pub fn model_words(plan: &Plan) -> Vec<f64> {
    let mut words = Vec::new();
    for (s, strategy) in plan.strategies.iter().enumerate() {
        match &strategy.weighting {
            Weighting::MaxGrowth { belief: CovarianceBelief::Model(problem), .. } => match solver(plan, s) {
                Some(Solver::Factor { .. }) => {
                    words.extend(problem.factor_kernel_words().expect("the factor solver has a factor form"))
                }
                _ => words.extend(problem.kernel_words()),
            },
            Weighting::MaxGrowth { belief: CovarianceBelief::Trailing(estimate), .. } => {
                match &estimate.growth {
                    Some(growth) => words.extend(growth),
                    None => words.extend(std::iter::repeat_n(0.0, plan.n())),
                }
                words.extend([
                    estimate.te_budget,
                    estimate.max_active.unwrap_or(-1.0),
                    estimate.steps_per_year,
                    match estimate.shrinkage {
                        Shrinkage::Auto => -1.0,
                        Shrinkage::Fixed(intensity) => intensity,
                    },
                    estimate.lookback as f64,
                ]);
            }
            _ => {}
        }
    }
    words
}

/// The max_growth strategies that rebalance at the end of 0-based `step` (never the last).
pub fn rebalancing(plan: &Plan, step: u32) -> Vec<u32> {
    let completed = step + 1;
    if completed >= plan.steps {
        return Vec::new();
    }
    (0..plan.strategies.len() as u32)
        .filter(|&s| {
            let strategy = &plan.strategies[s as usize];
            is_max_growth(&strategy.weighting) && completed.is_multiple_of(strategy.rebalance_every)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_every_item_once_within_the_budget() {
        let ranges = chunks(10, 5, 30, |item| item as u64 + 1).unwrap();
        assert_eq!(ranges.first().unwrap().start, 0);
        assert_eq!(ranges.last().unwrap().end, 10);
        for pair in ranges.windows(2) {
            assert_eq!(pair[0].end, pair[1].start);
        }
        for range in &ranges {
            assert!(!range.is_empty());
            assert!(5 + range.clone().map(|item| item as u64 + 1).sum::<u64>() <= 30, "{range:?}");
        }
        assert!(chunks(3, 5, 30, |_| 26).is_none());
    }
}
