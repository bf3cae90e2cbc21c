//! The simulation kernel composed for a plan: the constants it is specialised with,
//! where it reads the market data, the WGSL of its stages in order, and the model
//! buffer's words (every path's initial state, the drift, constant weights, the
//! max_growth problems).

use super::layout::{
    index_word, max_growth_data_bases, max_growth_state_bases, open_word, StateLayout, OPEN_WORDS, WORKGROUP,
};
use super::market::MarketStage;
use super::max_growth;
use super::shaders::{self, f32_literal, PhiloxMultiply};
use crate::engine::accumulators::slot;
use crate::engine::time_grid::GridSpec;
use crate::market::Market;
use crate::portfolio::{weights_and_log_g, Weighting};
use crate::scenario::{ControlVariate, Plan};

/// Most stocks for which software adapters get unrolled kernels.
const MAX_UNROLLED_STOCKS: usize = 128;
/// Each weighting's code in the kernels (`STRATEGY_KIND`) and the WGSL constant naming
/// it: the one table both sides read.
const KINDS: [&str; 8] = [
    "KIND_MARKET",
    "KIND_EQUAL",
    "KIND_DIVERSITY",
    "KIND_ENTROPY",
    "KIND_CONSTANT",
    "KIND_CAPPED",
    "KIND_TOP_K",
    "KIND_MAX_GROWTH",
];

fn kind_code(weighting: &Weighting) -> u32 {
    match weighting {
        Weighting::Market => 0,
        Weighting::Equal => 1,
        Weighting::Diversity { .. } => 2,
        Weighting::Entropy => 3,
        Weighting::Constant { .. } => 4,
        Weighting::Capped { .. } => 5,
        Weighting::TopK { .. } => 6,
        Weighting::MaxGrowth { .. } => 7,
    }
}

fn array_literal(element: &str, values: impl Iterator<Item = String>) -> String {
    let values: Vec<String> = values.collect();
    format!("array<{element}, {}>({})", values.len(), values.join(", "))
}

/// The constants composed into the kernel for `plan` and its market stage.
pub fn kernel_constants(plan: &Plan, stage: &MarketStage) -> Vec<(&'static str, String)> {
    let layout = StateLayout::of(plan);
    let strategies = &plan.strategies;
    let u = |v: u32| format!("{v}u");
    let mut constants = vec![
        ("N", u(layout.n)),
        ("N4", u(layout.n.div_ceil(4))),
        ("MARKET_VEC4S", u(stage.data.len() as u32)),
        ("ORDER_BASE", u(layout.market_state_base())),
        ("S", u(layout.strategies)),
        ("SLOT_COUNT", u(slot::COUNT as u32)),
        ("SLOT_RELATIVE", u(slot::RELATIVE as u32)),
        ("SLOT_RELATIVE_COMP", u(slot::RELATIVE_COMP as u32)),
        ("SLOT_ACTIVE_SUM", u(slot::ACTIVE_SUM as u32)),
        ("SLOT_ACTIVE_SUM_COMP", u(slot::ACTIVE_SUM_COMP as u32)),
        ("SLOT_ACTIVE_SQUARES", u(slot::ACTIVE_SQUARES as u32)),
        ("SLOT_ACTIVE_SQUARES_COMP", u(slot::ACTIVE_SQUARES_COMP as u32)),
        ("SLOT_PEAK", u(slot::PEAK as u32)),
        ("SLOT_DRAWDOWN", u(slot::DRAWDOWN as u32)),
        ("SLOT_TURNOVER", u(slot::TURNOVER as u32)),
        ("SLOT_COST", u(slot::COST as u32)),
        ("SLOT_DRIFT", u(slot::DRIFT as u32)),
        ("SLOT_DRIFT_COMP", u(slot::DRIFT_COMP as u32)),
        ("SLOT_LOG_G_START", u(slot::LOG_G_START as u32)),
        ("SLOT_LOG_G_ANCHOR", u(slot::LOG_G_ANCHOR as u32)),
        ("SLOT_MIN_DIVERGENCE", u(slot::MIN_DIVERGENCE as u32)),
        ("SLOT_HOLDINGS_VALUE", u(slot::HOLDINGS_VALUE as u32)),
        ("SLOT_TRADED_SQUARES", u(slot::TRADED_SQUARES as u32)),
        ("SLOT_LOG_Z_ANCHOR", u(slot::LOG_Z_ANCHOR as u32)),
        ("SLOT_CONTROL", u(slot::CONTROL as u32)),
        ("SLOT_CONTROL_COMP", u(slot::CONTROL_COMP as u32)),
        ("SLOT_ACTIVE_CROSS", u(slot::ACTIVE_CROSS as u32)),
        ("SLOT_ACTIVE_CROSS_COMP", u(slot::ACTIVE_CROSS_COMP as u32)),
        ("SLOT_TILT_FIRST", u(slot::TILT_FIRST as u32)),
        ("SLOT_TILT_SUM", u(slot::TILT_SUM as u32)),
        ("SLOT_TILT_SQUARES", u(slot::TILT_SQUARES as u32)),
        ("SLOT_REBALANCES", u(slot::REBALANCES as u32)),
        ("LOG_CAPS_BASE", u(0)),
        ("LOG_TOTAL", u(layout.log_total())),
        ("LOG_TOTAL_COMP", u(layout.log_total() + 1)),
        ("MARKET_CONTROL", u(layout.market_control())),
        ("MARKET_CONTROL_COMP", u(layout.market_control() + 1)),
        ("BENCHMARK_RETURNS", u(layout.benchmark_moments())),
        ("BENCHMARK_SQUARES", u(layout.benchmark_moments() + 1)),
        ("ANTITHETIC", plan.antithetic.to_string()),
        ("CONTROL", (plan.control_variate == ControlVariate::Martingale).to_string()),
        ("SLOTS_BASE", u(layout.slots_base())),
        ("MU_BASE", u(layout.mu_base())),
        ("HOLDINGS_BASE", u(layout.holdings_base())),
        ("STATE_SLOTS", u(layout.state_slots())),
        ("GRID_BASE", u(layout.grid_base())),
        ("GRID_QUANTITIES", u(layout.grid_quantities())),
        ("GRID_EVERY", u(GridSpec::of(plan.steps, plan.steps_per_year).every)),
        ("GRID_POINTS", u(layout.grid_points)),
        ("MODEL_DRIFT_BASE", u(layout.state_slots())),
        ("MODEL_WEIGHTS_BASE", u(layout.state_slots() + 4 * layout.row_groups())),
        ("WORKGROUP", u(WORKGROUP)),
        ("STRATEGY_WORDS", u((layout.strategies * layout.n).max(1))),
        ("STRATEGY_SLOT_WORDS", u((layout.strategies * slot::COUNT as u32).max(1))),
        ("STRATEGY_KIND", array_literal("u32", strategies.iter().map(|s| u(kind_code(&s.weighting))))),
        (
            "STRATEGY_P",
            array_literal(
                "f32",
                strategies.iter().map(|s| match s.weighting {
                    Weighting::Diversity { p } | Weighting::TopK { p, .. } => f32_literal(p),
                    _ => "1.0".to_string(),
                }),
            ),
        ),
        (
            "STRATEGY_CAP",
            array_literal(
                "f32",
                strategies.iter().map(|s| match s.weighting {
                    Weighting::Capped { cap } => f32_literal(cap),
                    _ => "1.0".to_string(),
                }),
            ),
        ),
        (
            "STRATEGY_K",
            array_literal(
                "u32",
                strategies.iter().map(|s| match s.weighting {
                    Weighting::TopK { k, .. } => u(k as u32),
                    _ => u(0),
                }),
            ),
        ),
        (
            "STRATEGY_BUFFER",
            array_literal(
                "u32",
                strategies.iter().map(|s| match s.weighting {
                    Weighting::TopK { buffer, .. } => u(buffer as u32),
                    _ => u(0),
                }),
            ),
        ),
        ("TOPK_ORDER_BASE", u(layout.top_k_order_base())),
        ("STRATEGY_REBALANCE", array_literal("u32", strategies.iter().map(|s| u(s.rebalance_every)))),
        ("STRATEGY_COST", array_literal("f32", strategies.iter().map(|s| f32_literal(s.cost_rate)))),
    ];
    constants.extend(path_array_constants(plan, &layout).into_iter().map(|(name, value)| (name, u(value))));
    constants.extend(open_market_constants(plan, &layout));
    constants.extend(KINDS.iter().enumerate().map(|(code, name)| (*name, u(code as u32))));
    constants.extend(max_growth_constants(plan, &layout));
    constants.extend(stage.constants.iter().cloned());
    constants
}

/// The open market's constants (shaders/open_market.wgsl; harmless in a closed market).
fn open_market_constants(plan: &Plan, layout: &StateLayout) -> Vec<(&'static str, String)> {
    let u = |v: u32| format!("{v}u");
    let rule = plan.index.unwrap_or(crate::scenario::IndexRule { k: 0, every: 1, buffer: 0 });
    let flags = |flag: &dyn Fn(&crate::portfolio::Strategy) -> bool| {
        array_literal("u32", plan.strategies.iter().map(|s| u(flag(s) as u32)))
    };
    let mut constants = vec![
        ("INDEX", layout.index.to_string()),
        ("OPEN", layout.open.to_string()),
        ("INDEX_K", u(rule.k as u32)),
        ("INDEX_BUFFER", u(rule.buffer as u32)),
        ("INDEX_EVERY", u(rule.every)),
        ("INDEX_BASE", u(layout.index_base())),
        ("MEMBER_BASE", u(layout.members_base())),
        ("MEMBER_BEFORE_BASE", u(layout.members_base() + layout.n)),
        ("INDEX_ORDER_BASE", u(layout.index_order_base())),
        ("OPEN_BASE", u(layout.open_base())),
        ("OPEN_WORDS", u(OPEN_WORDS)),
        ("HAS_EXCLUSIONS", layout.screened.to_string()),
        ("EXCLUSIONS_BASE", u(layout.exclusions_base())),
        ("STRATEGY_OPEN", flags(&|s| plan.index.is_some() || !s.exclude.is_empty())),
        ("STRATEGY_SCREENED", flags(&|s| !s.exclude.is_empty())),
    ];
    constants.extend(index_word::NAMES.iter().enumerate().map(|(k, name)| (*name, u(k as u32))));
    constants.extend(open_word::NAMES.iter().enumerate().map(|(k, name)| (*name, u(k as u32))));
    constants
}

/// Where the kernel reads the market model's data (every invocation reads all of it,
/// at the same addresses, every step).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarketDataPlace {
    /// Staged into workgroup memory by each workgroup, from a storage buffer.
    Workgroup,
    /// A uniform buffer (broadcast reads through the constant cache on GPUs; on
    /// llvmpipe measured 20 % slower than workgroup memory on the standard workload).
    Uniform,
    /// Read from a storage buffer (on llvmpipe 2x slower than workgroup memory).
    Storage,
}

impl MarketDataPlace {
    /// The first place that holds `stage`'s data within the adapter's `limits`.
    pub fn for_stage(stage: &MarketStage, limits: &wgpu::Limits) -> MarketDataPlace {
        let bytes = 16 * stage.data.len() as u64;
        if bytes <= limits.max_compute_workgroup_storage_size as u64 {
            MarketDataPlace::Workgroup
        } else if bytes <= limits.max_uniform_buffer_binding_size {
            MarketDataPlace::Uniform
        } else {
            MarketDataPlace::Storage
        }
    }

    /// WGSL declaring `market_data` and the functions `stage_market_data` and `market_at`.
    fn wgsl(self) -> &'static str {
        match self {
            MarketDataPlace::Uniform => {
                "@group(0) @binding(1) var<uniform> market_data: array<vec4<f32>, MARKET_VEC4S>;
fn stage_market_data(local: u32) {}
fn market_at(k: u32) -> vec4<f32> {
    return market_data[k];
}
"
            }
            MarketDataPlace::Workgroup => {
                "@group(0) @binding(1) var<storage, read> market_data: array<vec4<f32>>;
var<workgroup> staged_market_data: array<vec4<f32>, MARKET_VEC4S>;
fn stage_market_data(local: u32) {
    for (var k = local; k < MARKET_VEC4S; k += WORKGROUP) {
        staged_market_data[k] = market_data[k];
    }
    workgroupBarrier();
}
fn market_at(k: u32) -> vec4<f32> {
    return staged_market_data[k];
}
"
            }
            MarketDataPlace::Storage => {
                "@group(0) @binding(1) var<storage, read> market_data: array<vec4<f32>>;
fn stage_market_data(local: u32) {}
fn market_at(k: u32) -> vec4<f32> {
    return market_data[k];
}
"
            }
        }
    }
}

/// Where `shaders/path_arrays_*.wgsl` find a path's arrays: the rank order lists (by
/// their first word in the private `order_lists`, or first slot in the state buffer),
/// the private arrays' sizes, and the scratch buffer's regions.
fn path_array_constants(plan: &Plan, layout: &StateLayout) -> Vec<(&'static str, u32)> {
    let ranks_market = matches!(plan.market, Market::Rank(_));
    let has_top_k = layout.top_k_strategies > 0;
    let (market_order, top_k_order, index_order) = if layout.path_arrays_in_scratch() {
        (layout.market_state_base(), layout.top_k_order_base(), layout.index_order_base())
    } else {
        let before_index = (ranks_market as u32 + has_top_k as u32) * layout.n;
        (0, if ranks_market { layout.n } else { 0 }, before_index)
    };
    let lists = ranks_market as u32 + has_top_k as u32 + layout.index as u32;
    vec![
        ("MARKET_ORDER", market_order),
        ("TOPK_ORDER", top_k_order),
        ("INDEX_ORDER", index_order),
        ("ORDER_LIST_WORDS", (lists * layout.n).max(1)),
        ("TOPK_RANK_WORDS", if has_top_k { layout.n } else { 1 }),
        ("Z_BASE", 0),
        ("TARGETS_BASE", layout.path_scratch_targets_base()),
        ("TOPK_RANK_BASE", layout.path_scratch_top_k_rank_base()),
    ]
}

/// The composed simulation kernel for `plan` (every entry point), reading the market
/// data from `place`.
pub fn kernel_source(
    plan: &Plan,
    stage: &MarketStage,
    place: MarketDataPlace,
    unrolled: bool,
    multiply: PhiloxMultiply,
) -> String {
    // Stages that keep nothing between dispatches get empty state functions.
    let state_functions = if stage.initial_state.is_empty() {
        "fn load_market_state(lane: u32) {}\nfn store_market_state(lane: u32) {}\n"
    } else {
        ""
    };
    let layout = StateLayout::of(plan);
    let has_top_k = layout.top_k_strategies > 0;
    let top_k = if has_top_k { shaders::TOP_K } else { shaders::TOP_K_ABSENT };
    let max_growth = max_growth_source(plan, &layout);
    let ranking =
        if has_top_k || layout.open || matches!(plan.market, Market::Rank(_)) { shaders::RANKING } else { "" };
    let open_market = if layout.open { shaders::OPEN_MARKET } else { shaders::OPEN_MARKET_ABSENT };
    let strategy_state = if layout.strategy_state_is_private() {
        shaders::STRATEGY_STATE_PRIVATE
    } else {
        shaders::STRATEGY_STATE_STORAGE
    };
    let path_arrays =
        if layout.path_arrays_in_scratch() { shaders::PATH_ARRAYS_SCRATCH } else { shaders::PATH_ARRAYS_PRIVATE };
    let kernel = format!(
        "{}\n{}\n{path_arrays}\n{ranking}\n{state_functions}{}\n{strategy_state}\n{top_k}\n{}\n{max_growth}\n{open_market}",
        shaders::path_accounting(),
        place.wgsl(),
        &stage.source,
        shaders::ADVANCE_PATHS
    );
    let source = shaders::compose(&kernel, &kernel_constants(plan, stage), multiply);
    if unrolled {
        let bounds = [("N", layout.n), ("N4", layout.row_groups()), ("S", layout.strategies)];
        shaders::unroll_marked_loops(&source, &bounds)
    } else {
        source
    }
}

/// The max_growth solvers `plan` needs (a stand-in for `defer_max_growth` without
/// any): the shared part, the flags' binding where the path arrays are private (the
/// scratch binding carries them otherwise), the eigenbasis solver and its trailing
/// estimate, the factor-form solver with its loops over factors unrolled.
fn max_growth_source(plan: &Plan, layout: &StateLayout) -> String {
    if layout.max_growth_strategies == 0 {
        return shaders::MAX_GROWTH_ABSENT.to_string();
    }
    let mut source = shaders::MAX_GROWTH_COMMON.to_string();
    if !layout.path_arrays_in_scratch() {
        source.push_str(shaders::MAX_GROWTH_FLAGS);
    }
    if layout.eigen_strategies > 0 {
        source.push_str(shaders::MAX_GROWTH);
    }
    if layout.trailing_strategies > 0 {
        source.push_str(shaders::MAX_GROWTH_ESTIMATE);
    }
    if let Some(factors) = max_growth::factors(plan) {
        let bounds = [("KF", factors), ("KF1", factors + 1)];
        source.push_str(&shaders::unroll_marked_loops_with_literals(shaders::MAX_GROWTH_FACTOR, &bounds));
    }
    source
}

/// Whether kernels for `plan` are unrolled over stocks and strategies: on software
/// adapters (llvmpipe runs a dynamically indexed array access as a loop over its SIMD
/// lanes; measured 5x faster on the standard workload with the Cholesky step unrolled)
/// while the straight-line code stays small enough to compile quickly.
pub fn unrolls(plan: &Plan, is_software: bool) -> bool {
    is_software && plan.n() <= MAX_UNROLLED_STOCKS
}

/// The model buffer: every path's initial state, then the step drift, then constant weights.
pub fn model_words(plan: &Plan, layout: &StateLayout, stage: &MarketStage) -> Vec<f32> {
    let n = plan.n();
    let mu0 = plan.market.initial_weights();
    let mut words = vec![0.0f64; layout.state_slots() as usize];
    for i in 0..n {
        words[i] = mu0[i].ln();
        words[layout.mu_base() as usize + i] = mu0[i];
    }
    for (s, strategy) in plan.strategies.iter().enumerate() {
        let (target, log_g) = weights_and_log_g(&strategy.weighting, mu0);
        let slots = layout.slots_base() as usize + s * slot::COUNT;
        words[slots + slot::LOG_G_START] = log_g;
        words[slots + slot::LOG_G_ANCHOR] = log_g;
        words[slots + slot::MIN_DIVERGENCE] = f32::MAX as f64;
        let value = target.iter().sum::<f64>();
        words[slots + slot::HOLDINGS_VALUE] = value;
        words[slots + slot::LOG_Z_ANCHOR] = -value.ln();
        // The size tilt at step 0: sum_i (pi_i - mu_i) log mu_i.
        words[slots + slot::TILT_FIRST] = target.iter().zip(mu0).map(|(t, m)| (t - m) * m.ln()).sum::<f64>();
        words[slots + slot::REBALANCES] = 1.0;
        for i in 0..n {
            words[layout.holdings_base() as usize + s * n + i] = target[i];
        }
    }
    if layout.open {
        open_start_words(plan, layout, &mut words);
    }
    for (r, value) in stage.initial_state.iter().enumerate() {
        words[layout.market_state_base() as usize + r] = *value;
    }
    if layout.top_k_slots() > 0 {
        let mut order: Vec<u32> = (0..n as u32).collect();
        crate::numeric::ranking::sort_by_rank(&mut order, |stock| mu0[stock]);
        for (r, stock) in order.iter().enumerate() {
            words[layout.top_k_order_base() as usize + r] = *stock as f64;
        }
    }
    words.extend(&stage.drift);
    words.resize(words.len() + 4 * layout.row_groups() as usize - n, 0.0);
    for strategy in &plan.strategies {
        match &strategy.weighting {
            Weighting::Constant { weights } => words.extend(weights),
            _ => words.extend(std::iter::repeat_n(0.0, n)),
        }
    }
    if layout.screened {
        for strategy in &plan.strategies {
            words.extend((0..n).map(|i| if strategy.exclude.contains(&i) { 1.0 } else { 0.0 }));
        }
    }
    words.extend(max_growth::model_words(plan));
    words.into_iter().map(|w| w as f32).collect()
}

/// An open market's initial state (its strategies on the allowed stocks, the index's
/// members, share and rank order) in place of the closed market's: the CPU kernel's
/// step 0 in f64 (`OpenStart`), so that both backends start from one implementation.
fn open_start_words(plan: &Plan, layout: &StateLayout, words: &mut [f64]) {
    let n = plan.n();
    let start = crate::engine::cpu::OpenStart::of(plan);
    for (s, ((holdings, slots), open)) in start.holdings.iter().zip(&start.slots).zip(&start.open_words).enumerate() {
        let slots_at = layout.slots_base() as usize + s * slot::COUNT;
        words[slots_at..slots_at + slot::COUNT].copy_from_slice(slots);
        let holdings_at = layout.holdings_base() as usize + s * n;
        words[holdings_at..holdings_at + n].copy_from_slice(holdings);
        let open_at = (layout.open_base() + s as u32 * OPEN_WORDS) as usize;
        words[open_at..open_at + OPEN_WORDS as usize].copy_from_slice(open);
    }
    if layout.index {
        let index = layout.index_base() as usize;
        words[index + index_word::SHARE] = start.index_share;
        words[index + index_word::SHARE_BEFORE] = start.index_share;
        let members = layout.members_base() as usize;
        words[members..members + n].copy_from_slice(&start.member);
        words[members + n..members + 2 * n].copy_from_slice(&start.member);
        for (r, stock) in start.order.iter().enumerate() {
            words[layout.index_order_base() as usize + r] = *stock as f64;
        }
    }
}

/// The kernel constants of both max_growth shaders (harmless when unused).
fn max_growth_constants(plan: &Plan, layout: &StateLayout) -> Vec<(&'static str, String)> {
    let u = |v: u32| format!("{v}u");
    let array =
        |element: &str, values: Vec<String>| format!("array<{element}, {}>({})", values.len(), values.join(", "));
    let (data, parameters) = max_growth_data_bases(plan, layout);
    let n = layout.n;
    let factors = max_growth::factors(plan).unwrap_or(1);
    let private_arrays = !layout.path_arrays_in_scratch();
    let offsets = max_growth::solver_offsets(n)
        .chain(max_growth::FACTOR_OFFSETS)
        .chain(max_growth::factor_problem_offsets(n, factors))
        .chain(max_growth::problem_offsets(n))
        .chain(max_growth::trailing_parameter_offsets(n))
        .chain(max_growth::PHASES)
        .map(|(name, value)| (name, u(value)));
    let mut constants: Vec<(&'static str, String)> = offsets.collect();
    constants.extend([
        ("MG_MARKET_GROSS", u(layout.max_growth_base())),
        ("MG_STATE_BASE", array("u32", max_growth_state_bases(plan, layout).into_iter().map(u).collect())),
        ("MG_DATA_BASE", array("u32", data.into_iter().map(u).collect())),
        (
            "MG_IN_STATE",
            array(
                "u32",
                (0..plan.strategies.len()).map(|s| u(max_growth::trailing(plan, s).is_some() as u32)).collect(),
            ),
        ),
        ("TR_PARAMS_BASE", array("u32", parameters.into_iter().map(u).collect())),
        (
            "MG_TURNOVER",
            array(
                "f32",
                plan.strategies
                    .iter()
                    .map(|s| match s.weighting {
                        Weighting::MaxGrowth { max_turnover: Some(limit), .. } => f32_literal(limit),
                        _ => "-1.0".to_string(),
                    })
                    .collect(),
            ),
        ),
        ("MG_MAX_ITERATIONS", u(max_growth::MAX_ITERATIONS)),
        ("KF", u(factors)),
        ("KF1", u(factors + 1)),
        ("KF1SQ", u((factors + 1) * (factors + 1))),
        ("MGF_MAX_HALVINGS", u(max_growth::FACTOR_MAX_HALVINGS)),
        ("MGF_MAX_NEWTON", u(max_growth::FACTOR_MAX_NEWTON)),
        ("MGF_MAX_EVALUATIONS", u(max_growth::FACTOR_MAX_EVALUATIONS)),
        ("MGF_BUDGET_TOLERANCE", f32_literal(max_growth::FACTOR_BUDGET_TOLERANCE)),
        ("MGF_BRACKET_TOLERANCE", f32_literal(max_growth::FACTOR_BRACKET_TOLERANCE)),
        ("MGF_DECREMENT", f32_literal(max_growth::FACTOR_DECREMENT)),
        ("MGF_SUM_ROUNDS", u(max_growth::FACTOR_SUM_ROUNDS)),
        ("MGF_PASS_TRIPS", u(max_growth::factor_pass_trips(n))),
        ("MGF_CHOLESKY_TRIPS", u(max_growth::factor_cholesky_trips(factors))),
        ("MGF_STEP_TRIPS", u(max_growth::factor_step_trips(n, factors))),
        ("MGF_LOAD_TRIPS", u(max_growth::factor_load_trips(n, private_arrays))),
        ("MG_TOLERANCE", f32_literal(max_growth::TOLERANCE)),
        ("HAS_WINDOW", (layout.window_length > 0).to_string()),
        ("WINDOW_BASE", u(layout.window_base())),
        ("WINDOW_LENGTH", u(layout.window_length.max(1))),
    ]);
    constants
}
