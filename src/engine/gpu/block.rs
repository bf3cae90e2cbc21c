//! The block kernel (`shaders/block_paths.wgsl`): a workgroup owns a block of P paths
//! and spreads the stocks over W rows of R each. This module decides the block's shape
//! for a plan and an adapter, lays out the market data the kernel reads, and composes
//! its WGSL with the state accessors of the chosen shape.

use super::kernel_source::kernel_constants;
use super::market::MarketStage;
use super::shaders::{self, f32_literal, PhiloxMultiply};
use crate::engine::accumulators::slot;
use crate::market::gbm::GbmNoise;
use crate::market::Market;
use crate::portfolio::Weighting;
use crate::scenario::Plan;

/// Invocations per workgroup at most: wgpu's default limit, which every adapter
/// offers; blocks of 16 paths take up to twice that where the adapter allows (measured
/// on an H200, standard workload, 2,000 paths: 16 paths x 25 rows of 4 stocks ran in
/// 0.069 s, 8 x 25 of 4 in 0.096 s, 8 x 13 of 8 in 0.088 s).
const MAX_INVOCATIONS: u32 = 256;
const MAX_INVOCATIONS_16: u32 = 512;
/// Most places per invocation kept in registers (R), and most holdings (S x R).
const MAX_REGISTER_PLACES: u32 = 16;
const MAX_REGISTER_HOLDINGS: u32 = 64;
/// Batches of at least this many paths get blocks of 32 paths (one 32-wide row of
/// lanes reads each factor entry as a broadcast; measured on an H200 at 200,000 paths:
/// 32 x 7 rows of 16 stocks 6.1 s, 32 x 13 of 8 7.3 s, 16 x 13 of 8 6.6 s, 8 x 25 of 4
/// 9.9 s); smaller batches get blocks of 16, so that a few thousand paths still make
/// enough workgroups to fill a large GPU (2,000 paths in blocks of 32 would be 63
/// workgroups for 132 multiprocessors).
const PATHS_FOR_BLOCKS_OF_32: u64 = 16_384;

/// The market stages the block kernel has (`MARKET_*` in the WGSL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockMarket {
    Cholesky = 0,
    Factor = 1,
    Vsm = 2,
}

/// Why a plan runs on the per-path kernel instead, if it does.
pub fn unsupported(plan: &Plan) -> Option<&'static str> {
    if block_market(plan).is_none() {
        return Some("rank-based markets rank each path's stocks (the per-path kernel)");
    }
    if plan.index.is_some() || plan.strategies.iter().any(|s| !s.exclude.is_empty()) {
        return Some("an index and screens keep per-path members (the per-path kernel)");
    }
    plan.strategies.iter().find_map(|strategy| match strategy.weighting {
        Weighting::Market
        | Weighting::Equal
        | Weighting::Diversity { .. }
        | Weighting::Entropy
        | Weighting::Constant { .. } => None,
        Weighting::Capped { .. } => Some("capped weights iterate per path"),
        Weighting::TopK { .. } => Some("top-k weights rank each path's stocks"),
        Weighting::MaxGrowth { .. } => Some("max_growth solves per path"),
    })
}

fn block_market(plan: &Plan) -> Option<BlockMarket> {
    match &plan.market {
        Market::Gbm(gbm) => Some(match gbm.noise {
            GbmNoise::Cholesky(_) => BlockMarket::Cholesky,
            GbmNoise::Factor { .. } => BlockMarket::Factor,
        }),
        Market::Vsm(_) => Some(BlockMarket::Vsm),
        Market::Rank(_) | Market::Bootstrap(_) => None,
    }
}

/// Factors of a factor model (0 otherwise).
fn factors(plan: &Plan) -> u32 {
    match &plan.market {
        Market::Gbm(gbm) => match &gbm.noise {
            GbmNoise::Factor { loadings, .. } => loadings.ncols() as u32,
            GbmNoise::Cholesky(_) => 0,
        },
        _ => 0,
    }
}

/// A block's shape and where the kernel keeps what.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BlockShape {
    /// Paths per block (P): the lanes of a row.
    pub paths: u32,
    /// Rows (W).
    pub rows: u32,
    /// Stocks per invocation (R), stock k W + (row or W - 1 - row) at place k.
    pub places: u32,
    /// Each invocation's stocks' state in registers (private arrays, loops over places
    /// and strategies unrolled) for the whole dispatch, else in the state buffer.
    pub registers: bool,
    /// The block's normals in workgroup memory, else in the scratch buffer.
    pub normals_in_workgroup: bool,
    /// The market data staged in workgroup memory, else read from its storage buffer.
    pub data_in_workgroup: bool,
}

impl BlockShape {
    /// The shape for `plan` with batches of `batch_paths` paths on an adapter with
    /// `limits`; None when not even the per-path sums fit its workgroup memory.
    pub fn choose(plan: &Plan, limits: &wgpu::Limits, batch_paths: u64, software: bool) -> Option<BlockShape> {
        let n = plan.n() as u32;
        let strategies = plan.strategies.len() as u32;
        let adapter_invocations = limits.max_compute_invocations_per_workgroup;
        let invocations = |paths: u32| match paths {
            16 => adapter_invocations.min(MAX_INVOCATIONS_16),
            _ => adapter_invocations.min(MAX_INVOCATIONS),
        };
        let preferred = if software {
            // llvmpipe runs 8 invocations per SIMD vector.
            8
        } else if batch_paths >= PATHS_FOR_BLOCKS_OF_32 {
            32
        } else {
            16
        };
        let budget = limits.max_compute_workgroup_storage_size as u64;
        // `SPTLAB_GPU_BLOCK=P,R` (for measuring shapes on a device): P paths per block and
        // R places, up to the adapter's own invocation limit.
        let forced = forced_shape();
        let sizes: Vec<u32> = match forced {
            Some((paths, _)) => vec![paths],
            None => [32u32, 16, 8].into_iter().filter(|&p| p <= preferred && p <= invocations(p)).collect(),
        };
        sizes.into_iter().find_map(|paths| {
            let most_rows = match forced {
                Some(_) => adapter_invocations / paths,
                None => invocations(paths) / paths,
            };
            // Places a multiple of 4 (whole Philox blocks) while they fit registers.
            let mut places = forced.map_or(4 * n.div_ceil(4 * most_rows.max(1)), |(_, places)| places);
            let registers = places <= MAX_REGISTER_PLACES && strategies * places <= MAX_REGISTER_HOLDINGS;
            if !registers {
                places = n.div_ceil(most_rows);
            }
            let rows = n.div_ceil(places);
            if rows > most_rows {
                return None;
            }
            let mut shape =
                BlockShape { paths, rows, places, registers, normals_in_workgroup: false, data_in_workgroup: false };
            let mut bytes = 4 * shape.fixed_workgroup_words(plan);
            if bytes > budget {
                return None;
            }
            let normals = 4 * shape.normal_words(plan);
            if bytes + normals <= budget {
                shape.normals_in_workgroup = true;
                bytes += normals;
            }
            shape.data_in_workgroup = bytes + 4 * block_data(plan).len() as u64 <= budget;
            Some(shape)
        })
    }

    /// Invocations per workgroup (P W).
    pub fn invocations(&self) -> u32 {
        self.paths * self.rows
    }

    /// Stocks the rows hold, padding included (W R).
    fn padded_stocks(&self) -> u32 {
        self.rows * self.places
    }

    /// Words of workgroup memory every shape needs: the per-path sums (`sums_a`, then
    /// S for `sums_b`), the factor normals, the cut flag.
    fn fixed_workgroup_words(&self, plan: &Plan) -> u64 {
        let strategies = plan.strategies.len() as u32;
        let per_quantity = (self.rows * self.paths) as u64;
        (sums_a_quantities(strategies) + strategies) as u64 * per_quantity + self.factor_words(plan) as u64 + 1
    }

    fn factor_words(&self, plan: &Plan) -> u32 {
        (4 * factors(plan).div_ceil(4) * self.paths).max(1)
    }

    fn normal_words(&self, plan: &Plan) -> u64 {
        4 * (plan.n() as u64).div_ceil(4) * self.paths as u64
    }

    /// Where the growths start in the scratch buffer: after every normal the rows
    /// write (whole Philox blocks), so that no row's normals of the next step land on
    /// a growth another row still reads.
    fn growth_base(&self) -> u32 {
        self.padded_stocks().max(self.normal_words_per_path())
    }

    fn normal_words_per_path(&self) -> u32 {
        4 * (self.padded_stocks()).div_ceil(4)
    }

    /// Words of the scratch buffer per path (normals and growths when they are not
    /// kept on chip).
    pub fn scratch_slots(&self) -> u32 {
        if self.registers && self.normals_in_workgroup {
            0
        } else {
            self.growth_base() + self.padded_stocks()
        }
    }

    /// Loop iterations one step runs per invocation, at most (llvmpipe's cap counts the
    /// iterations nested in the step loop; the loops over places and strategies are
    /// unrolled in register mode).
    pub fn loop_trips_per_step(&self, plan: &Plan) -> u32 {
        let n = plan.n() as u32;
        let strategies = plan.strategies.len() as u32;
        let blocks = n.div_ceil(4).div_ceil(self.rows) + factors(plan).div_ceil(4).div_ceil(self.rows);
        let market = match block_market(plan) {
            Some(BlockMarket::Cholesky) if self.registers => n,
            // Place k's stock is below (k + 1) W: sum_k (k + 1) W for R places.
            Some(BlockMarket::Cholesky) => self.rows * self.places * (self.places + 1) / 2,
            Some(BlockMarket::Factor) => self.places * factors(plan),
            _ => 0,
        };
        let places = if self.registers { 0 } else { self.places * (4 + 4 * strategies) + 6 * strategies };
        blocks + market + places + (2 + 3 * strategies) * self.rows + 8
    }
}

/// Whether `SPTLAB_GPU_OMIT` names `stage` (a measuring aid: the kernel then skips it).
fn omitted(stage: &str) -> bool {
    std::env::var("SPTLAB_GPU_OMIT").is_ok_and(|list| list.split(',').any(|name| name.trim() == stage))
}

/// `SPTLAB_GPU_BLOCK=P,R`: P in {8, 16, 32} and R from 1 to 64, else none.
fn forced_shape() -> Option<(u32, u32)> {
    let text = std::env::var("SPTLAB_GPU_BLOCK").ok()?;
    let (paths, places) = text.split_once(',')?;
    let (paths, places) = (paths.trim().parse::<u32>().ok()?, places.trim().parse::<u32>().ok()?);
    ([8, 16, 32].contains(&paths) && (1..=64).contains(&places)).then_some((paths, places))
}

/// The market data in the block kernel's layout: the Cholesky factor times sqrt(dt)
/// packed by rows (`i (i + 1) / 2 + j`); or the factor loadings times sqrt(dt), row by
/// row (stock i at `i K`), then the idiosyncratic vols times sqrt(dt) (at `IDIO_BASE`);
/// or one unused word (VSM). The same f32 values as the CPU's f32 kernels.
pub fn block_data(plan: &Plan) -> Vec<f32> {
    let dt = plan.dt();
    match &plan.market {
        Market::Gbm(gbm) => match &gbm.noise {
            GbmNoise::Cholesky(_) => gbm.packed_step_factor(dt).into_iter().map(|v| v as f32).collect(),
            GbmNoise::Factor { loadings, idiosyncratic_vol } => {
                let mut words: Vec<f32> = (0..plan.n())
                    .flat_map(|i| (0..loadings.ncols()).map(move |k| (loadings[(i, k)] * dt.sqrt()) as f32))
                    .collect();
                words.extend(idiosyncratic_vol.iter().map(|s| (s * dt.sqrt()) as f32));
                words
            }
        },
        _ => vec![0.0],
    }
}

/// The private-array accessors of register mode.
const REGISTER_STATE: &str = "var<private> my_caps: array<f32, R>;
var<private> my_mus: array<f32, R>;
var<private> my_growths: array<f32, R>;
var<private> my_helds: array<f32, HELD_WORDS>;
var<private> my_terms: array<f32, HELD_WORDS>;
fn my_term(s: u32, k: u32) -> f32 { return my_terms[s * R + k]; }
fn set_my_term(s: u32, k: u32, value: f32) { my_terms[s * R + k] = value; }
fn my_cap(k: u32) -> f32 { return my_caps[k]; }
fn set_my_cap(k: u32, value: f32) { my_caps[k] = value; }
fn my_mu(k: u32) -> f32 { return my_mus[k]; }
fn set_my_mu(k: u32, value: f32) { my_mus[k] = value; }
fn my_growth(k: u32) -> f32 { return my_growths[k]; }
fn set_my_growth(k: u32, value: f32) { my_growths[k] = value; }
fn my_held(s: u32, k: u32) -> f32 { return my_helds[s * R + k]; }
fn set_my_held(s: u32, k: u32, value: f32) { my_helds[s * R + k] = value; }
// Columns past the batch take the initial state from the model buffer.
fn load_mine(in_batch: bool) {
    let column_lane = min(lane, params.stride - 1u);
    var k = 0u;
    for (; k < R; k++) { // unroll
        let stock = min(stock_of(k), N - 1u);
        my_caps[k] = select(model[LOG_CAPS_BASE + stock], state[at(LOG_CAPS_BASE + stock, column_lane)], in_batch);
        my_mus[k] = select(model[MU_BASE + stock], state[at(MU_BASE + stock, column_lane)], in_batch);
        var s = 0u;
        for (; s < S; s++) { // unroll
            let slot = HOLDINGS_BASE + s * N + stock;
            my_helds[s * R + k] = select(model[slot], state[at(slot, column_lane)], in_batch);
        }
    }
}
fn store_mine() {
    var k = 0u;
    for (; k < R; k++) { // unroll
        let stock = stock_of(k);
        if (stock < N) {
            state[at(LOG_CAPS_BASE + stock, lane)] = my_caps[k];
            state[at(MU_BASE + stock, lane)] = my_mus[k];
            var s = 0u;
            for (; s < S; s++) { // unroll
                state[at(HOLDINGS_BASE + s * N + stock, lane)] = my_helds[s * R + k];
            }
        }
    }
}
";

/// The state-buffer accessors of storage mode (many stocks): nothing grows with n on chip.
const STORAGE_STATE: &str = "fn my_cap(k: u32) -> f32 { return state[at(LOG_CAPS_BASE + stock_of(k), lane)]; }
fn set_my_cap(k: u32, value: f32) { state[at(LOG_CAPS_BASE + stock_of(k), lane)] = value; }
fn my_mu(k: u32) -> f32 { return state[at(MU_BASE + stock_of(k), lane)]; }
fn set_my_mu(k: u32, value: f32) { state[at(MU_BASE + stock_of(k), lane)] = value; }
fn my_growth(k: u32) -> f32 { return scratch[(GROWTH_BASE + stock_of(k)) * params.stride + lane]; }
fn set_my_growth(k: u32, value: f32) { scratch[(GROWTH_BASE + stock_of(k)) * params.stride + lane] = value; }
fn my_held(s: u32, k: u32) -> f32 { return state[at(HOLDINGS_BASE + s * N + stock_of(k), lane)]; }
fn set_my_held(s: u32, k: u32, value: f32) { state[at(HOLDINGS_BASE + s * N + stock_of(k), lane)] = value; }
fn my_term(s: u32, k: u32) -> f32 { return 0.0; }
fn set_my_term(s: u32, k: u32, value: f32) {}
// Columns past the batch run on whatever their (unread) state holds.
fn load_mine(in_batch: bool) {}
fn store_mine() {}
";

const WORKGROUP_NORMALS: &str = "var<workgroup> normals_on_chip: array<f32, NORMAL_WORDS>;
fn normal(j: u32) -> f32 { return normals_on_chip[j * P + column]; }
fn set_normal(j: u32, value: f32) { normals_on_chip[j * P + column] = value; }
";

const SCRATCH_NORMALS: &str = "fn normal(j: u32) -> f32 { return scratch[j * params.stride + lane]; }
fn set_normal(j: u32, value: f32) { scratch[j * params.stride + lane] = value; }
";

const WORKGROUP_DATA: &str = "var<workgroup> staged_data: array<f32, DATA_WORDS>;
fn stage_block_data(local: u32) {
    for (var i = local; i < DATA_WORDS; i += P * W) {
        staged_data[i] = block_data[i];
    }
    workgroupBarrier();
}
fn market_word(i: u32) -> f32 { return staged_data[i]; }
";

const STORAGE_DATA: &str = "fn stage_block_data(local: u32) {}
fn market_word(i: u32) -> f32 { return block_data[i]; }
";

/// Per-path quantities each row sums for the others (`sums_a` in block_paths.wgsl): the
/// market's gross return, largest and smallest log cap, each strategy's holdings' value,
/// then the controls' noise sums: the market's and each strategy's (reused at a
/// rebalance for each strategy's turnover, then its size tilt).
fn sums_a_quantities(strategies: u32) -> u32 {
    3 + strategies + 1 + strategies
}

/// The composed block kernel for `plan` in `shape`; `from_scratch`: the normals are
/// read from the scratch buffer instead of drawn (the stage test).
pub fn block_source(plan: &Plan, shape: &BlockShape, multiply: PhiloxMultiply, from_scratch: bool) -> String {
    let stage = MarketStage::of(plan, false);
    let u = |v: u32| format!("{v}u");
    let n = plan.n() as u32;
    let strategies = plan.strategies.len() as u32;
    let market = block_market(plan).expect("a plan the block kernel supports");
    // The per-path kernel's constants, less the layout of its own market data.
    let mut constants: Vec<(&'static str, String)> =
        kernel_constants(plan, &stage).into_iter().filter(|(name, _)| !matches!(*name, "K4" | "IDIO_BASE")).collect();
    let factor_count = factors(plan);
    constants.extend([
        ("P", u(shape.paths)),
        ("W", u(shape.rows)),
        ("R", u(shape.places)),
        ("NPAD", u(shape.padded_stocks())),
        ("GROWTH_BASE", u(shape.growth_base())),
        ("HELD_WORDS", u((strategies * shape.places).max(1))),
        ("SUMS_A_WORDS", u(sums_a_quantities(strategies) * shape.rows * shape.paths)),
        ("SUMS_B_WORDS", u(strategies.max(1) * shape.rows * shape.paths)),
        ("FACTOR_WORDS", u(shape.factor_words(plan))),
        ("NORMAL_WORDS", u(shape.normal_words(plan) as u32)),
        ("DATA_WORDS", u(block_data(plan).len() as u32)),
        ("FACTORS", u(factor_count)),
        ("K4", u(factor_count.div_ceil(4))),
        ("IDIO_BASE", u(n * factor_count)),
        ("MARKET", u(market as u32)),
        ("MARKET_CHOLESKY", u(BlockMarket::Cholesky as u32)),
        ("MARKET_FACTOR", u(BlockMarket::Factor as u32)),
        ("MARKET_VSM", u(BlockMarket::Vsm as u32)),
        ("REGISTER_STATE", shape.registers.to_string()),
        ("NORMALS_IN_SCRATCH", (!shape.normals_in_workgroup).to_string()),
        ("FROM_SCRATCH", from_scratch.to_string()),
        // Stages left out, for timing the others on a device (results are then wrong):
        // `SPTLAB_GPU_OMIT=normals,correlation,strategies`.
        ("OMIT_NORMALS", omitted("normals").to_string()),
        ("OMIT_CORRELATION", omitted("correlation").to_string()),
        ("OMIT_STRATEGIES", omitted("strategies").to_string()),
        (
            "HAS_DIVERSITY",
            plan.strategies.iter().any(|s| matches!(s.weighting, Weighting::Diversity { .. })).to_string(),
        ),
    ]);
    if market != BlockMarket::Vsm {
        // The VSM stage's constants, unused by the other stages but named in the kernel.
        constants.extend([
            ("VSM_DRIFT_SCALE", f32_literal(0.0)),
            ("VSM_VOL_SCALE", f32_literal(0.0)),
            ("VSM_WEIGHT_FLOOR", f32_literal(1.0)),
        ]);
    }
    let kernel = format!(
        "{}\n{}\n{}\n{}\n{}",
        shaders::path_accounting(),
        if shape.registers { REGISTER_STATE } else { STORAGE_STATE },
        if shape.normals_in_workgroup { WORKGROUP_NORMALS } else { SCRATCH_NORMALS },
        if shape.data_in_workgroup { WORKGROUP_DATA } else { STORAGE_DATA },
        shaders::BLOCK_PATHS
    );
    let source = shaders::compose(&kernel, &constants, multiply);
    if shape.registers {
        shaders::unroll_marked_loops_with_literals(
            &source,
            &[("R", shape.places), ("S", strategies), ("SLOT_COUNT", slot::COUNT as u32)],
        )
    } else {
        source
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::engine::gpu::shaders::validate_wgsl;
    use crate::scenario::{standard_workload, Scenario};

    fn plans() -> Vec<Plan> {
        let small = |market: &str| {
            let text = format!(
                "[market]\nn = 3\n{market}\n[[strategies]]\nname = \"equal\"\nweighting = \"equal\"\n\
                 [[strategies]]\nname = \"tilted\"\nweighting = \"constant\"\nweights = [0.5, 0.3, 0.2]\n\
                 [[strategies]]\nname = \"negative\"\nweighting = \"diversity\"\np = -1.0\nrebalance_every = 5"
            );
            Scenario::from_toml(&text).unwrap().validate().unwrap()
        };
        let mut many = standard_workload(64);
        many.market.n = 300;
        many.market.initial_weights = None;
        vec![
            Scenario::default_scenario().validate().unwrap(),
            standard_workload(64).validate().unwrap(),
            many.validate().unwrap(),
            small("vol = 0.2"),
            small("model = \"vsm\"\nalpha = 1.0"),
            small("factor_loadings = [[0.1, 0.2], [0.2, 0.1], [0.0, 0.3]]\nidiosyncratic_vol = 0.1"),
        ]
    }

    /// Every shape the chooser gives on a small adapter (wgpu's default limits) and a
    /// large one, for batches of each block size, in register and storage mode.
    pub(crate) fn variants() -> Vec<(String, String)> {
        let large = wgpu::Limits {
            max_compute_workgroup_storage_size: 49_152,
            max_compute_invocations_per_workgroup: 1024,
            ..wgpu::Limits::default()
        };
        let mut variants = Vec::new();
        for plan in plans() {
            for limits in [wgpu::Limits::default(), large.clone()] {
                for (batch, software) in [(2_000, false), (20_000, false), (128, true)] {
                    let shape = BlockShape::choose(&plan, &limits, batch, software).expect("a shape fits");
                    for (multiply, from_scratch) in [
                        (PhiloxMultiply::Halves, false),
                        (PhiloxMultiply::Native64, false),
                        (PhiloxMultiply::Halves, true),
                    ] {
                        let name = format!("{} {shape:?} {multiply:?} {from_scratch}", plan.scenario.name);
                        variants.push((name, block_source(&plan, &shape, multiply, from_scratch)));
                    }
                }
            }
        }
        variants
    }

    #[test]
    fn the_block_kernel_validates_in_every_shape_and_model() {
        let variants = variants();
        for (name, source) in &variants {
            validate_wgsl(source).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        // Both modes are among them.
        assert!(variants.iter().any(|(name, _)| name.contains("registers: true")));
        assert!(variants.iter().any(|(name, _)| name.contains("registers: false")));
    }

    #[test]
    fn shapes_hold_every_stock_once_and_fit_their_adapter() {
        for plan in plans() {
            let n = plan.n() as u32;
            for (batch, software) in [(2_000, false), (20_000, false), (128, true)] {
                let limits = wgpu::Limits::default();
                let shape = BlockShape::choose(&plan, &limits, batch, software).unwrap();
                assert!(shape.invocations() <= limits.max_compute_invocations_per_workgroup, "{shape:?}");
                assert!(shape.padded_stocks() >= n && shape.rows.div_ceil(1) * shape.places - shape.places < n);
                // The snake assignment: each stock below n exactly once.
                let mut seen = vec![0u32; shape.padded_stocks() as usize];
                for row in 0..shape.rows {
                    for k in 0..shape.places {
                        let stock = k * shape.rows + if k % 2 == 0 { row } else { shape.rows - 1 - row };
                        seen[stock as usize] += 1;
                    }
                }
                assert!(seen.iter().all(|&times| times == 1), "{shape:?}");
            }
        }
    }
}
