//! Where each per-path quantity lives in the GPU kernel's state buffer, and how many
//! paths a workgroup runs: the one description of the layout the host and the
//! composed kernel (`kernel_source.rs`) share.

use super::market;
use super::max_growth;
use crate::engine::accumulators::slot;
use crate::engine::time_grid::{GridSpec, CLOSED_QUANTITIES, QUANTITIES};
use crate::portfolio::optimize::CovarianceBelief;
use crate::portfolio::Weighting;
use crate::scenario::Plan;

/// Invocations per workgroup (one path each).
pub const WORKGROUP: u32 = 64;
/// Loop iterations per invocation per dispatch kept under llvmpipe's cap of 65,535.
/// The same budget holds under OpenGL (measured on llvmpipe through wgpu's GL backend:
/// GBM, factor and VSM markets with every weighting but top-k run whole dispatches of
/// this budget and match the CPU); only ranking fails there, see `check_fits`.
pub const SOFTWARE_LOOP_BUDGET: u32 = 60_000;
/// Most words of strategy state (strategies x stocks) kept in private arrays.
const MAX_PRIVATE_STRATEGY_WORDS: u32 = 1024;
/// Most stocks whose per-path arrays the per-path kernel keeps in private memory. An
/// NVIDIA H200 (Vulkan, driver 580.159) ran such a kernel at 700 stocks and lost the
/// device building it at 850; llvmpipe's compile time grows with their size squared
/// (50 s at 1,000 stocks). Past this, they live in storage buffers, without a limit.
const MAX_PRIVATE_PATH_STOCKS: u32 = 512;
/// Where each per-path quantity lives in the state buffer (in slots of `stride` words).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StateLayout {
    pub n: u32,
    pub strategies: u32,
    /// Capped strategies (their weight setup makes several passes over the stocks).
    pub capped_strategies: u32,
    /// Top-k strategies (they rank the stocks at each rebalance; the order is kept per path).
    pub top_k_strategies: u32,
    /// max_growth strategies (each keeps its solver's state: `max_growth::solver_block`).
    pub max_growth_strategies: u32,
    /// Those that take the eigenbasis solver, whose private arrays grow with n.
    pub eigen_strategies: u32,
    /// The slots of all their solver blocks.
    pub solver_block_slots: u32,
    /// max_growth strategies with a trailing estimate (each keeps a per-path problem
    /// and its estimate's scratch: `max_growth::trailing_block`).
    pub trailing_strategies: u32,
    /// Log returns each path keeps for trailing estimates (the longest lookback).
    pub window_length: u32,
    /// Words the market stage keeps per path (after the strategies' state).
    pub market_slots: u32,
    /// Loop iterations of the market stage per step.
    pub market_loop_trips: u32,
    /// Time-grid points (`time_grid::GridSpec`): each keeps `grid_quantities` words per strategy.
    pub grid_points: u32,
    /// An index is the benchmark (shaders/open_market.wgsl).
    pub index: bool,
    /// Steps between its reconstitutions (0 without an index).
    pub reconstitute_every: u32,
    /// A strategy holds index members or is screened: each strategy keeps `OPEN_WORDS`.
    pub open: bool,
    /// A strategy is screened: the model buffer holds every strategy's exclusions.
    pub screened: bool,
}

/// Words an open market keeps per strategy (`OpenTerms` in src/engine/cpu/open_step.rs),
/// in the order `OpenStart` gives them; the kernel's constants take `NAMES`.
pub mod open_word {
    pub const LEAKAGE: usize = 0;
    pub const SCREEN: usize = 3;
    pub const NAMES: [&str; 5] =
        ["OPEN_LEAKAGE", "OPEN_LEAKAGE_COMP", "OPEN_SCREEN_ANCHOR", "OPEN_SCREEN", "OPEN_LOG_SHARE_ANCHOR"];
}
pub const OPEN_WORDS: u32 = open_word::NAMES.len() as u32;
/// Words of the index (`IndexBlock` in src/engine/open_market.rs): its share of the
/// market, that share before the last reconstitution, its log value and compensation,
/// its control and compensation, its turnover and its membership history (24 bits,
/// exact in f32).
pub mod index_word {
    pub const SHARE: usize = 0;
    pub const SHARE_BEFORE: usize = 1;
    pub const LOG_VALUE: usize = 2;
    pub const CONTROL: usize = 4;
    pub const TURNOVER: usize = 6;
    pub const HISTORY: usize = 7;
    pub const NAMES: [&str; 8] = [
        "INDEX_SHARE",
        "INDEX_SHARE_BEFORE",
        "INDEX_LOG_VALUE",
        "INDEX_LOG_VALUE_COMP",
        "INDEX_CONTROL",
        "INDEX_CONTROL_COMP",
        "INDEX_TURNOVER",
        "INDEX_HISTORY",
    ];
}
pub const INDEX_WORDS: u32 = index_word::NAMES.len() as u32;

impl StateLayout {
    pub fn of(plan: &Plan) -> StateLayout {
        StateLayout {
            n: plan.n() as u32,
            strategies: plan.strategies.len() as u32,
            capped_strategies: plan
                .strategies
                .iter()
                .filter(|s| matches!(s.weighting, Weighting::Capped { .. }))
                .count() as u32,
            top_k_strategies: plan.strategies.iter().filter(|s| matches!(s.weighting, Weighting::TopK { .. })).count()
                as u32,
            max_growth_strategies: plan.strategies.iter().filter(|s| max_growth::is_max_growth(&s.weighting)).count()
                as u32,
            eigen_strategies: (0..plan.strategies.len())
                .filter(|&s| max_growth::solver(plan, s) == Some(max_growth::Solver::Eigen))
                .count() as u32,
            solver_block_slots: (0..plan.strategies.len())
                .filter_map(|s| max_growth::solver(plan, s))
                .map(|solver| max_growth::solver_block(solver, plan.n() as u32))
                .sum(),
            trailing_strategies: (0..plan.strategies.len()).filter(|&s| max_growth::trailing(plan, s).is_some()).count()
                as u32,
            window_length: max_growth::window_length(plan),
            market_slots: market::state_slots(plan),
            market_loop_trips: market::loop_trips_per_step(plan),
            grid_points: GridSpec::of(plan.steps, plan.steps_per_year).points,
            index: plan.index.is_some(),
            reconstitute_every: plan.index.map_or(0, |rule| rule.every),
            open: plan.index.is_some() || plan.strategies.iter().any(|s| !s.exclude.is_empty()),
            screened: plan.strategies.iter().any(|s| !s.exclude.is_empty()),
        }
    }
    /// Quantities each grid point keeps per strategy: the leakage and screen terms too
    /// in an open market.
    pub fn grid_quantities(&self) -> u32 {
        if self.open {
            QUANTITIES as u32
        } else {
            CLOSED_QUANTITIES as u32
        }
    }
    /// log Z - log Z(0) and its Kahan compensation.
    pub fn log_total(&self) -> u32 {
        self.n
    }
    /// The market's control M_mu (docs/control-variates.md) and its Kahan compensation.
    pub fn market_control(&self) -> u32 {
        self.n + 2
    }
    /// The benchmark's return moments (`accumulators::benchmark_moment`): the sum of
    /// its returns and of their squares (plain sums: `add_benchmark_return`).
    pub fn benchmark_moments(&self) -> u32 {
        self.n + 4
    }
    pub fn slots_base(&self) -> u32 {
        self.benchmark_moments() + crate::engine::accumulators::benchmark_moment::COUNT as u32
    }
    /// The open market's words per strategy (`OPEN_WORDS` each), read back with the slots.
    pub fn open_base(&self) -> u32 {
        self.slots_base() + self.strategies * slot::COUNT as u32
    }
    /// The index's words (`INDEX_WORDS`), read back with the slots.
    pub fn index_base(&self) -> u32 {
        self.open_base() + if self.open { self.strategies * OPEN_WORDS } else { 0 }
    }
    pub fn mu_base(&self) -> u32 {
        self.index_base() + if self.index { INDEX_WORDS } else { 0 }
    }
    pub fn holdings_base(&self) -> u32 {
        self.mu_base() + self.n
    }
    pub fn market_state_base(&self) -> u32 {
        self.holdings_base() + self.strategies * self.n
    }
    /// The top-k rank order (n words when a strategy is top_k).
    pub fn top_k_order_base(&self) -> u32 {
        self.market_state_base() + self.market_slots
    }
    pub fn top_k_slots(&self) -> u32 {
        if self.top_k_strategies > 0 {
            self.n
        } else {
            0
        }
    }
    /// The index's members now and before its last reconstitution (1 or 0 each), and
    /// its rank order from the last reconstitution (3n words with an index).
    pub fn members_base(&self) -> u32 {
        self.top_k_order_base() + self.top_k_slots()
    }
    pub fn index_order_base(&self) -> u32 {
        self.members_base() + 2 * self.n
    }
    fn index_array_slots(&self) -> u32 {
        if self.index {
            3 * self.n
        } else {
            0
        }
    }
    /// The max_growth solvers' state: the deferred step's market gross return, then a
    /// block per max_growth strategy (`max_growth::solver_block`: `MG_*` in
    /// shaders/max_growth_common.wgsl, then the solver's own).
    pub fn max_growth_base(&self) -> u32 {
        self.members_base() + self.index_array_slots()
    }
    pub fn max_growth_slots(&self) -> u32 {
        if self.max_growth_strategies > 0 {
            1 + self.solver_block_slots
        } else {
            0
        }
    }
    /// The ring of the last `window_length` steps' log returns ([step % length][stock]).
    pub fn window_base(&self) -> u32 {
        self.max_growth_base() + self.max_growth_slots()
    }
    /// The trailing estimates' blocks.
    pub fn trailing_base(&self) -> u32 {
        self.window_base() + self.window_length * self.n
    }
    /// The time grid: `[point][strategy][quantity]` (written by `record_grid`).
    pub fn grid_base(&self) -> u32 {
        self.trailing_base() + self.trailing_strategies * max_growth::trailing_block(self.n)
    }
    /// Words of state per path.
    pub fn state_slots(&self) -> u32 {
        self.grid_base() + self.grid_points * self.strategies * self.grid_quantities()
    }
    /// Slots read back per batch: log caps, log Z, the market's control, the benchmark's
    /// moments, the strategy accumulators and the open market's words.
    pub fn readback_slots(&self) -> u32 {
        self.mu_base()
    }
    /// Groups of four rows (the last padded with zero rows).
    pub fn row_groups(&self) -> u32 {
        self.n.div_ceil(4)
    }
    /// The model buffer's exclusions (`[strategy][stock]`, 1 where a screen excludes the
    /// stock), after the initial state, the drift and the constant weights.
    pub fn exclusions_base(&self) -> u32 {
        self.state_slots() + 4 * self.row_groups() + self.strategies * self.n
    }
    pub fn exclusion_words(&self) -> u32 {
        if self.screened {
            self.strategies * self.n
        } else {
            0
        }
    }
    /// Whether the kernel keeps the strategies' state in private arrays through a
    /// dispatch (fewer storage accesses per step), which it does while they are small:
    /// llvmpipe's compile time grows with the square of private array sizes.
    pub fn strategy_state_is_private(&self) -> bool {
        self.strategies * self.n <= MAX_PRIVATE_STRATEGY_WORDS
    }
    /// Whether the per-path kernel keeps a path's per-stock arrays in storage buffers
    /// (`shaders/path_arrays_scratch.wgsl`): for many stocks, unless a max_growth
    /// strategy takes the eigenbasis solver, which keeps private arrays of its own (the
    /// factor form keeps none that grow with n).
    pub fn path_arrays_in_scratch(&self) -> bool {
        self.n > MAX_PRIVATE_PATH_STOCKS && self.eigen_strategies == 0
    }
    /// Where the scratch buffer keeps the step's z (4 N4 slots, padded), a rebalance's
    /// targets (N) and top-k's ranks (N, with a top-k strategy), when the arrays are in
    /// scratch: `[z, targets, top-k ranks]`.
    pub fn path_scratch_targets_base(&self) -> u32 {
        4 * self.row_groups()
    }
    pub fn path_scratch_top_k_rank_base(&self) -> u32 {
        self.path_scratch_targets_base() + self.n
    }
    /// Slots of the per-path kernel's scratch buffer (0 with private arrays).
    pub fn path_scratch_slots(&self) -> u32 {
        if self.path_arrays_in_scratch() {
            self.path_scratch_top_k_rank_base() + self.top_k_slots()
        } else {
            0
        }
    }
    /// Loop iterations a software adapter's step loop may run per dispatch: the cap's
    /// budget less the loads and stores around the step loop.
    pub fn software_loop_budget(&self) -> u32 {
        let index_order = if self.index { 2 * self.n } else { 0 };
        SOFTWARE_LOOP_BUDGET - 2 * self.n - 2 * self.strategies * (self.n + slot::COUNT as u32) - index_order
    }
    /// Loop iterations of one step, nested loops included, at most: the market stage,
    /// the market's weights, and per strategy drift, setup and rebalance (capped
    /// weights: budgeted at 8 passes, one more than the stocks they cap in practice;
    /// top-k: the sort with up to 6N shifts plus seven passes; more is caught by the
    /// completed-steps check).
    /// (llvmpipe's cap counts every iteration nested inside the step loop: measured,
    /// the default scenario failed at 30 steps per dispatch and passed at 15.)
    /// A max_growth rebalance is not counted: it runs in dispatches of its own. The
    /// controls' sums (`note_noise`) take one pass per stock and strategy.
    pub fn loop_trips_per_step(&self) -> u32 {
        self.market_loop_trips
            + 4 * self.row_groups() * self.strategies
            + 2 * self.n
            + self.strategies * (1 + 6 * self.n)
            + self.capped_strategies * 8 * self.n
            + self.top_k_strategies * 13 * self.n
    }
    /// The loops a reconstitution adds to its step, at most (none are unrolled): the
    /// index's (its order repaired with up to 6n shifts, as top-k's, checked, and five
    /// passes: 13n) and each strategy's (whether its allowed stocks changed, their
    /// shares before and after, two target setups of up to three passes and the trade:
    /// 10n, counted whole beside the 6n a rebalance is counted above). An open
    /// strategy's step without a reconstitution takes at most the 6n of a closed one.
    pub fn reconstitution_loop_trips(&self) -> u32 {
        if self.index {
            13 * self.n + self.strategies * 10 * self.n
        } else {
            0
        }
    }
    /// The most consecutive steps, each of `per_step` loop iterations, that fit
    /// `budget` together with the reconstitutions among them (one every
    /// `reconstitute_every` steps, wherever the dispatch starts).
    pub fn steps_within(&self, budget: u32, per_step: u32) -> u32 {
        let trips = |steps: u64| {
            let reconstitutions = if self.index { steps.div_ceil(self.reconstitute_every as u64) } else { 0 };
            steps * per_step as u64 + reconstitutions * self.reconstitution_loop_trips() as u64
        };
        let mut steps = budget / per_step.max(1);
        while steps > 0 && trips(steps as u64) > budget as u64 {
            steps -= 1;
        }
        steps
    }
    /// The same for an unrolled kernel (`unroll_marked_loops`): the loops over stocks
    /// and strategies are gone, and so is the Cholesky stage's (the other stages, the
    /// capped and top-k setups and an open market's steps keep theirs).
    pub fn unrolled_loop_trips_per_step(&self, cholesky: bool) -> u32 {
        let market = if cholesky { 0 } else { self.market_loop_trips };
        // An open strategy's step keeps its loops (open_market.wgsl's are not unrolled).
        let open = if self.open { self.strategies * 6 * self.n } else { 0 };
        1 + market + self.capped_strategies * 8 * self.n + self.top_k_strategies * 13 * self.n + open
    }
}

/// Per max_growth strategy, the first slot of its solver block (0 for other strategies).
pub fn max_growth_state_bases(plan: &Plan, layout: &StateLayout) -> Vec<u32> {
    let mut next = layout.max_growth_base() + 1;
    (0..plan.strategies.len())
        .map(|s| match max_growth::solver(plan, s) {
            Some(solver) => {
                next += max_growth::solver_block(solver, layout.n);
                next - max_growth::solver_block(solver, layout.n)
            }
            None => 0,
        })
        .collect()
}

/// Per strategy, where its problem's words start: an offset in the model buffer (the
/// model's covariance), or a state slot of each path's trailing block; and where a
/// trailing estimate's parameters start in the model buffer (0 where none applies).
pub fn max_growth_data_bases(plan: &Plan, layout: &StateLayout) -> (Vec<u32>, Vec<u32>) {
    let n = layout.n;
    let mut next_model = layout.exclusions_base() + layout.exclusion_words();
    let mut next_block = layout.trailing_base();
    let mut data = Vec::new();
    let mut parameters = Vec::new();
    for (s, strategy) in plan.strategies.iter().enumerate() {
        match (&strategy.weighting, max_growth::solver(plan, s)) {
            (Weighting::MaxGrowth { belief: CovarianceBelief::Model(_), .. }, Some(solver)) => {
                data.push(next_model);
                parameters.push(0);
                next_model += max_growth::problem_words(solver, n);
            }
            (Weighting::MaxGrowth { belief: CovarianceBelief::Trailing(_), .. }, _) => {
                data.push(next_block);
                parameters.push(next_model);
                next_block += max_growth::trailing_block(n);
                next_model += max_growth::trailing_parameter_words(n);
            }
            _ => {
                data.push(0);
                parameters.push(0);
            }
        }
    }
    (data, parameters)
}
