//! The GPU backend: runs `shaders/advance_paths.wgsl` over batches of paths.
//!
//! Per batch: one `init_paths` dispatch, then `advance_paths` dispatches of
//! `steps_per_dispatch` steps each (sized so that no shader loop exceeds
//! llvmpipe's silent 65,535-iteration cap on software adapters), then one
//! readback of the accumulators and of every path's completed-step count
//! (`readback.rs`). A batch is started (queued) before the previous one is read and
//! folded, so the device computes while the host folds.

use std::ops::Range;
use std::time::Instant;

use super::block::{self, BlockShape};
use super::context::GpuContext;
use super::kernel_source::{kernel_constants, kernel_source, model_words, unrolls, MarketDataPlace};
use super::layout::{max_growth_state_bases, StateLayout, SOFTWARE_LOOP_BUDGET, WORKGROUP};
use super::market::MarketStage;
use super::max_growth;
use super::params::DispatchParams;
use super::readback::{fold_batch, Readback};
use super::GpuError;
use crate::engine::accumulators::BatchAccumulators;
use crate::engine::time_grid::GridSpec;
use crate::engine::{Backend, BackendInfo, BackendKind, DoesNotFit, EngineError, Precision, StartedBatch};
use crate::market::gbm::GbmNoise;
use crate::market::Market;
use crate::numeric::philox::seed_key;
use crate::portfolio::Weighting;
use crate::scenario::Plan;

/// Steps per dispatch on hardware adapters: long enough to amortise launches,
/// short enough to stay clear of driver watchdogs.
const HARDWARE_STEPS_PER_DISPATCH: u32 = 256;
/// Most stocks a software adapter is asked to run with a max_growth strategy (the only
/// per-path plans that keep private arrays past 512 stocks: `path_arrays_in_scratch`):
/// llvmpipe's compile time for them grows about with their size squared (measured, one
/// kernel: 27-66 s at 1,000 stocks, 190 s at 1,500, 570 s at 2,000).
const SOFTWARE_MAX_STOCKS: usize = 1000;
/// Most stocks a hardware adapter is asked to run with a max_growth strategy (likewise).
/// Measured on an NVIDIA H200 (Vulkan, driver 580.159): the kernel with its per-path
/// private arrays runs at 700 stocks and loses the device ("driver implementation is at
/// fault") at 850 and 1,000.
const HARDWARE_MAX_STOCKS: usize = 700;
/// Most loop iterations a step of the block kernel may take on a software adapter
/// (a few steps per dispatch at least): a 1,200-stock Cholesky market, 23,712 a step,
/// ran at 41 thousand asset-steps/s on lavapipe, 293 s for 40 paths over a year.
const SOFTWARE_BLOCK_TRIPS: u32 = 16_000;
/// Most steps per dispatch on any adapter: progress moves at least this often.
const MAX_STEPS_PER_DISPATCH: u32 = 1024;
/// Largest state buffer per batch, whatever the adapter allows.
const MAX_STATE_BYTES: u64 = 1 << 30;

/// Everything a plan's kernels and buffers depend on: constants, market data, model words.
type PlanKey = (Vec<(&'static str, String)>, Vec<[f32; 4]>, Vec<f32>);

/// Pipelines and constant buffers for one plan.
struct Kernels {
    /// The constants, market data and model words the kernels were built for.
    plan_key: PlanKey,
    layout: StateLayout,
    bind_group_layout: wgpu::BindGroupLayout,
    /// Every path's initial state (`init_paths`, `init_block`).
    init: wgpu::ComputePipeline,
    advance: wgpu::ComputePipeline,
    /// The per-path kernel's extras, or the block kernel's shape.
    kind: KernelKind,
    /// The market data in the kernel's layout (binding 1).
    market_data: wgpu::Buffer,
    model: wgpu::Buffer,
}

enum KernelKind {
    PerPath {
        record_grid: wgpu::ComputePipeline,
        /// When a strategy is max_growth.
        max_growth: Option<MaxGrowthPipelines>,
    },
    Block(BlockShape),
}

/// Which simulation kernel runs a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KernelChoice {
    /// The block kernel on hardware adapters, and on software ones beyond the
    /// per-path kernel's unrolled sizes, wherever it supports the plan; else per path.
    Auto,
    /// One invocation per path (`shaders/advance_paths.wgsl`).
    PerPath,
    /// A workgroup per block of paths (`shaders/block_paths.wgsl`) wherever it
    /// supports the plan (GBM, factor and VSM markets; market, equal, diversity,
    /// entropy and constant weights).
    Block,
}

impl KernelChoice {
    /// `SPTLAB_GPU_KERNEL=per-path|block` (for measuring one against the other), else Auto.
    fn from_environment() -> KernelChoice {
        match std::env::var("SPTLAB_GPU_KERNEL").as_deref() {
            Ok("per-path") => KernelChoice::PerPath,
            Ok("block") => KernelChoice::Block,
            _ => KernelChoice::Auto,
        }
    }
}

/// The max_growth entry points (shaders/max_growth.wgsl, max_growth_estimate.wgsl,
/// max_growth_factor.wgsl).
struct MaxGrowthPipelines {
    /// With a trailing estimate.
    estimate: Option<wgpu::ComputePipeline>,
    /// The eigenbasis solver's solve and finish, with a strategy that takes it.
    eigen: Option<(wgpu::ComputePipeline, wgpu::ComputePipeline)>,
    /// The factor form's, likewise.
    factor: Option<(wgpu::ComputePipeline, wgpu::ComputePipeline)>,
}

pub struct GpuBackend {
    context: GpuContext,
    kernels: Option<Kernels>,
    kernel: KernelChoice,
    /// An upper bound on paths per batch below the adapter's (results do not depend on it).
    batch_limit: Option<u64>,
    /// The largest constraint residual of any max_growth rebalance simulated so far
    /// (|sum - 1|, negative weight, tracking error over budget, active weight over bound).
    max_growth_residual: f64,
    /// The most buffer bytes the batches in flight have held together since
    /// `take_peak_buffer_bytes`.
    peak_buffer_bytes: u64,
    /// Batches started and not yet read, oldest first.
    in_flight: std::collections::VecDeque<InFlight>,
}

impl GpuBackend {
    pub fn new(context: GpuContext) -> GpuBackend {
        GpuBackend {
            context,
            kernels: None,
            kernel: KernelChoice::from_environment(),
            batch_limit: None,
            max_growth_residual: 0.0,
            peak_buffer_bytes: 0,
            in_flight: Default::default(),
        }
    }

    /// Runs plans on `kernel` (tests compare the two kernels on one adapter).
    pub fn with_kernel(mut self, kernel: KernelChoice) -> GpuBackend {
        self.kernel = kernel;
        self.kernels = None;
        self
    }

    /// The block kernel's shape for `plan`, when the block kernel runs it.
    pub fn block_shape(&self, plan: &Plan) -> Option<BlockShape> {
        if block::unsupported(plan).is_some() {
            return None;
        }
        let wanted = match self.kernel {
            KernelChoice::PerPath => false,
            KernelChoice::Block => true,
            KernelChoice::Auto => !self.context.is_software() || !unrolls(plan, true),
        };
        if !wanted {
            return None;
        }
        let batch = self.batch_limit.unwrap_or(u64::MAX).min(plan.paths);
        BlockShape::choose(plan, &self.context.limits, batch, self.context.is_software())
    }

    /// At most `paths` paths per batch (rounded up to a workgroup).
    pub fn with_batch_limit(mut self, paths: u64) -> GpuBackend {
        self.batch_limit = Some(paths.max(1));
        self
    }

    /// The largest constraint residual of the max_growth rebalances simulated so far
    /// (each path keeps its own in the kernel; read back with each batch).
    pub fn max_growth_residual(&self) -> f64 {
        self.max_growth_residual
    }

    /// Whether the adapter is a software emulation (lavapipe, llvmpipe).
    pub fn is_software(&self) -> bool {
        self.context.is_software()
    }

    /// Whether the adapter is driven through OpenGL (wgpu's GL backend).
    pub fn is_gl(&self) -> bool {
        self.context.adapter_info.backend == wgpu::Backend::Gl
    }

    /// Why this adapter cannot rank stocks by cap, if it cannot: llvmpipe under OpenGL
    /// fails the rank order's check part-way through a run (measured: an Atlas market
    /// of 10 stocks, equal weight, 504 steps failed at step 80 to 493 with dispatches of
    /// 126 steps down to 3, so it is no loop budget; a GBM market with a top-k strategy
    /// likewise), while the same kernel runs on Vulkan. With the check disabled the
    /// results are wrong, not just unchecked: that Atlas market's mean log return came
    /// out 18.8 over two years against 0.10 on the CPU, as if its daily log steps were
    /// raw normals (the rank order lost). The check stops such a run with an error;
    /// this refuses it before it starts.
    fn ranking_refused(&self, plan: &Plan) -> Option<String> {
        if !(self.is_gl() && self.context.is_software()) {
            return None;
        }
        let field = if matches!(plan.market, Market::Rank(_)) {
            "market.model: the rank-based models".to_string()
        } else if plan.index.is_some() {
            "benchmark.index: an index's reconstitutions".to_string()
        } else {
            let index = plan.strategies.iter().position(|s| matches!(s.weighting, Weighting::TopK { .. }))?;
            format!("strategies[{index}].weighting: top_k weights")
        };
        Some(format!(
            "{field} rank stocks by cap, which llvmpipe's OpenGL driver ({}) gets wrong part-way through a \
             run; install Mesa's Vulkan driver (lavapipe: apt-get install mesa-vulkan-drivers) or use the CPU \
             backend",
            self.context.adapter_name()
        ))
    }

    /// Steps per `advance_paths` dispatch for this plan on this adapter.
    pub fn steps_per_dispatch(&self, plan: &Plan) -> u32 {
        let layout = StateLayout::of(plan);
        let budget = layout.software_loop_budget();
        let steps = if !self.context.is_software() {
            HARDWARE_STEPS_PER_DISPATCH
        } else if let Some(shape) = self.block_shape(plan) {
            // The block kernel's loads and stores are loops of their own.
            (SOFTWARE_LOOP_BUDGET / shape.loop_trips_per_step(plan)).min(MAX_STEPS_PER_DISPATCH)
        } else if unrolls(plan, true) {
            let cholesky = matches!(&plan.market, Market::Gbm(gbm) if matches!(gbm.noise, GbmNoise::Cholesky(_)));
            layout.steps_within(budget, layout.unrolled_loop_trips_per_step(cholesky)).min(MAX_STEPS_PER_DISPATCH)
        } else {
            layout.steps_within(budget, layout.loop_trips_per_step())
        };
        steps.clamp(1, plan.steps)
    }

    /// ADMM iterations per `solve_max_growth` dispatch (0: not even one fits the
    /// software adapter's loop cap).
    pub fn solver_iterations_per_dispatch(&self, plan: &Plan) -> u32 {
        if !self.context.is_software() {
            return max_growth::HARDWARE_SOLVER_ITERATIONS;
        }
        let n = plan.n() as u32;
        (SOFTWARE_LOOP_BUDGET as u64)
            .saturating_sub(max_growth::setup_trips(n))
            .div_euclid(max_growth::iteration_trips(n)) as u32
    }

    /// Loop iterations a factor-form solve dispatch may run on this adapter (the shader
    /// takes Newton steps while the worst case of one more fits).
    fn factor_trips_per_dispatch(&self) -> u32 {
        if self.context.is_software() {
            SOFTWARE_LOOP_BUDGET
        } else {
            max_growth::HARDWARE_FACTOR_TRIPS
        }
    }

    /// Loop iterations a max_growth estimate dispatch may run on this adapter.
    fn estimate_budget(&self) -> u64 {
        if self.context.is_software() {
            SOFTWARE_LOOP_BUDGET as u64
        } else {
            max_growth::HARDWARE_ESTIMATE_TRIPS
        }
    }

    /// Paths per batch allowed by the adapter's buffer limits (0 when not even one workgroup fits).
    fn max_batch_paths(&self, plan: &Plan) -> u64 {
        let layout = StateLayout::of(plan);
        let limits = &self.context.limits;
        let bytes = limits.max_storage_buffer_binding_size.min(limits.max_buffer_size).min(MAX_STATE_BYTES);
        let shape = self.block_shape(plan);
        // The scratch buffer has the same per-path size limit.
        let scratch_slots = shape.map_or(layout.path_scratch_slots(), |shape| shape.scratch_slots());
        let per_path = 4 * layout.state_slots().max(scratch_slots) as u64;
        // (The scratch binding starts with the 8 bytes of the solver flags.)
        let by_memory = bytes.saturating_sub(8) / per_path / WORKGROUP as u64 * WORKGROUP as u64;
        let per_workgroup = shape.map_or(WORKGROUP, |shape| shape.paths);
        let by_dispatch = limits.max_compute_workgroups_per_dimension as u64 * per_workgroup as u64;
        by_memory.min(by_dispatch / WORKGROUP as u64 * WORKGROUP as u64)
    }

    fn prepare(&mut self, plan: &Plan) -> Result<(), GpuError> {
        let shape = self.block_shape(plan);
        let unrolled = shape.is_none() && unrolls(plan, self.context.is_software());
        let stage = MarketStage::of(plan, unrolled);
        let layout = StateLayout::of(plan);
        let multiply = self.context.philox_multiply();
        let place = MarketDataPlace::for_stage(&stage, &self.context.limits);
        let (mut source, data) = match &shape {
            Some(shape) => (
                block::block_source(plan, shape, multiply, false),
                bytemuck::cast_slice::<f32, [f32; 4]>(&padded_to_vec4(block::block_data(plan))).to_vec(),
            ),
            None => (kernel_source(plan, &stage, place, unrolled, multiply), stage.data.clone()),
        };
        // Everything the kernels and their buffers depend on: a plan of the same shape
        // with other parameters must not reuse them.
        let mut constants = kernel_constants(plan, &stage);
        constants.push(("BLOCK_SHAPE", format!("{shape:?}")));
        let plan_key = (constants, data, model_words(plan, &layout, &stage));
        if self.kernels.as_ref().is_some_and(|k| k.plan_key == plan_key) {
            return Ok(());
        }
        let device = &self.context.device;
        if injected_fault() == Some(Fault::Shader) {
            source.push_str("\nfn injected_fault( {\n");
        }
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some(if shape.is_some() { "block_paths.wgsl" } else { "advance_paths.wgsl" }),
            source: wgpu::ShaderSource::Wgsl(source.into()),
        });
        let storage = |binding, read_only| wgpu::BindGroupLayoutEntry {
            binding,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: wgpu::BindingType::Buffer {
                ty: wgpu::BufferBindingType::Storage { read_only },
                has_dynamic_offset: false,
                min_binding_size: None,
            },
            count: None,
        };
        let uniform = |binding| wgpu::BindGroupLayoutEntry {
            binding,
            visibility: wgpu::ShaderStages::COMPUTE,
            ty: wgpu::BindingType::Buffer {
                ty: wgpu::BufferBindingType::Uniform,
                has_dynamic_offset: false,
                min_binding_size: None,
            },
            count: None,
        };
        let market_data_binding =
            if shape.is_none() && place == MarketDataPlace::Uniform { uniform(1) } else { storage(1, true) };
        let bind_group_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("simulation"),
            entries: &[
                uniform(0),
                market_data_binding,
                storage(2, true),
                storage(3, false),
                storage(4, false),
                // The per-path kernel's max_growth flags, or the block kernel's scratch.
                storage(5, false),
            ],
        });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("simulation"),
            bind_group_layouts: &[Some(&bind_group_layout)],
            immediate_size: 0,
        });
        let pipeline = |entry_point: &str| {
            device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(entry_point),
                layout: Some(&pipeline_layout),
                module: &module,
                entry_point: Some(entry_point),
                compilation_options: Default::default(),
                cache: None,
            })
        };
        let (init, advance, kind) = match shape {
            Some(shape) => (pipeline("init_block"), pipeline("advance_block"), KernelKind::Block(shape)),
            None => (
                pipeline("init_paths"),
                pipeline("advance_paths"),
                KernelKind::PerPath {
                    record_grid: pipeline("record_grid"),
                    max_growth: (layout.max_growth_strategies > 0).then(|| MaxGrowthPipelines {
                        estimate: (layout.trailing_strategies > 0).then(|| pipeline("estimate_max_growth")),
                        eigen: (layout.eigen_strategies > 0)
                            .then(|| (pipeline("solve_max_growth"), pipeline("finish_max_growth"))),
                        factor: max_growth::factors(plan)
                            .map(|_| (pipeline("solve_max_growth_factor"), pipeline("finish_max_growth_factor"))),
                    }),
                },
            ),
        };
        // A kernel the driver could not build fails here, before any buffer is made.
        self.context.take_error()?;
        let market_data = self.context.buffer_holding(
            "market_data",
            &plan_key.1,
            wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::UNIFORM,
        );
        let model = self.context.buffer_holding("model", &plan_key.2, wgpu::BufferUsages::STORAGE);
        self.context.take_error()?;
        if let KernelKind::Block(shape) = &kind {
            log::debug!("block kernel: {shape:?}, Philox multiply {multiply:?}");
        }
        self.kernels = Some(Kernels { plan_key, layout, bind_group_layout, init, advance, kind, market_data, model });
        Ok(())
    }
}

/// Why the GPU does not run `plan`'s open market, if it does not: the per-path kernel
/// runs an index and screens (shaders/open_market.wgsl) for every weighting but
/// max_growth, whose GPU solvers take the whole market as their benchmark; on index
/// members or under a screen it runs on the CPU.
fn open_market_refused(plan: &Plan) -> Option<String> {
    let position = plan.strategies.iter().position(|s| {
        (plan.index.is_some() || !s.exclude.is_empty()) && matches!(s.weighting, Weighting::MaxGrowth { .. })
    })?;
    let context = if plan.index.is_some() { "on an index's members" } else { "under a screen" };
    Some(format!(
        "strategies[{position}].weighting: max_growth {context} runs on the CPU backend only (the GPU runs every \
         other weighting there; docs/open-markets.md)"
    ))
}

/// Words padded with zeros to whole vec4s (the market data buffer's unit).
fn padded_to_vec4(mut words: Vec<f32>) -> Vec<f32> {
    words.resize(words.len().next_multiple_of(4).max(4), 0.0);
    words
}

impl Backend for GpuBackend {
    fn info(&self) -> BackendInfo {
        BackendInfo { backend: BackendKind::Gpu, adapter: self.context.adapter_name(), precision: Precision::F32 }
    }

    fn check_fits(&self, plan: &Plan) -> Result<(), DoesNotFit> {
        if let Some(reason) = open_market_refused(plan) {
            return Err(DoesNotFit::Unsupported(reason));
        }
        if let crate::market::Market::Bootstrap(bootstrap) = &plan.market {
            if bootstrap.schedule == crate::market::bootstrap::DaySchedule::InOrder {
                return Err(DoesNotFit::Unsupported(
                    "market.model: a backtest's path (the data's days in order) runs on the CPU backend".into(),
                ));
            }
            // The days' changes go to one storage binding: (days + 1) x ceil(n / 4) vec4s.
            let bytes = (bootstrap.days() as u64 + 1) * bootstrap.n().div_ceil(4) as u64 * 16;
            let limits = &self.context.limits;
            let most = limits.max_storage_buffer_binding_size.min(limits.max_buffer_size);
            if bytes > most {
                return Err(DoesNotFit::TooSmall(format!(
                    "market.data: the GPU adapter {} is too small for this data: its {} days of {} stocks take {bytes} \
                     bytes, and one of its storage buffers holds at most {most}; use the CPU backend or fewer days \
                     (market.from, market.to)",
                    self.context.adapter_name(),
                    bootstrap.days(),
                    bootstrap.n()
                )));
            }
        }
        let layout = StateLayout::of(plan);
        if let Some(shape) = self.block_shape(plan) {
            // The block kernel: nothing on chip grows with n past its register shapes, so
            // no stock limit; a software adapter's loop cap still bounds one step.
            let trips = shape.loop_trips_per_step(plan);
            if self.context.is_software() && trips > SOFTWARE_BLOCK_TRIPS {
                return Err(DoesNotFit::TooManyStocks(format!(
                    "market.n: {} stocks is more than the software adapter {} runs in reasonable time: the \
                     block kernel needs {trips} loop iterations a step (measured: a 1,200-stock Cholesky \
                     market ran at 41 thousand asset-steps/s on lavapipe); use the CPU backend",
                    plan.n(),
                    self.context.adapter_name(),
                )));
            }
            if self.context.is_software() && trips > SOFTWARE_LOOP_BUDGET {
                return Err(DoesNotFit::LoopBudget(format!(
                    "market.n: {} stocks and {} strategies need {trips} loop iterations per step, more than the \
                     software adapter {} runs correctly in one dispatch ({SOFTWARE_LOOP_BUDGET}); use the CPU backend",
                    plan.n(),
                    plan.strategies.len(),
                    self.context.adapter_name(),
                )));
            }
        } else if self.context.is_software() && plan.n() > SOFTWARE_MAX_STOCKS && !layout.path_arrays_in_scratch() {
            return Err(DoesNotFit::TooManyStocks(format!(
                "market.n: {} stocks with a max_growth strategy is more than the software adapter {} compiles \
                 in reasonable time ({SOFTWARE_MAX_STOCKS}: its compile time grows with the square of the solver's \
                 per-path arrays, measured 50 s at 1,000 stocks and 190 s at 1,500); use the CPU backend",
                plan.n(),
                self.context.adapter_name(),
            )));
        }
        if !self.context.is_software()
            && plan.n() > HARDWARE_MAX_STOCKS
            && self.block_shape(plan).is_none()
            && !layout.path_arrays_in_scratch()
        {
            return Err(DoesNotFit::TooManyStocks(format!(
                "market.n: {} stocks with a max_growth strategy is more than the GPU kernel is known to run on \
                 hardware adapters ({HARDWARE_MAX_STOCKS}: an NVIDIA H200 lost the device building its per-path \
                 arrays for 850); use the CPU backend",
                plan.n(),
            )));
        }
        if let Some(reason) = self.ranking_refused(plan) {
            return Err(DoesNotFit::Unsupported(reason));
        }
        if !self.context.is_software() && self.block_shape(plan).is_none() {
            // The factor form's dispatches are sized on hardware too (past about 130,000
            // stocks one Newton step would not fit one).
            let budget = self.factor_trips_per_dispatch() as u64;
            if let Some(reason) = max_growth::factor_misfit(plan, budget, !layout.path_arrays_in_scratch()) {
                return Err(DoesNotFit::LoopBudget(reason));
            }
        }
        if self.context.is_software() {
            if let Some(reason) =
                max_growth::software_misfit(plan, SOFTWARE_LOOP_BUDGET as u64, !layout.path_arrays_in_scratch())
            {
                return Err(DoesNotFit::LoopBudget(reason));
            }
        }
        let budget = layout.software_loop_budget();
        let per_step = layout.loop_trips_per_step();
        if self.context.is_software() && self.block_shape(plan).is_none() && layout.steps_within(budget, per_step) == 0
        {
            return Err(DoesNotFit::LoopBudget(format!(
                "market.n: {} stocks and {} strategies need {} loop iterations per step (a reconstitution \
                 included), more than the software adapter {} runs correctly in one dispatch ({}); use the CPU \
                 backend",
                plan.n(),
                plan.strategies.len(),
                per_step + layout.reconstitution_loop_trips(),
                self.context.adapter_name(),
                budget
            )));
        }
        if self.max_batch_paths(plan) == 0 {
            return Err(DoesNotFit::TooSmall(format!(
                "market.n: the GPU adapter {} is too small for this run: {} stocks and {} strategies need {} bytes of \
                 state per path and its storage buffers hold at most {} bytes",
                self.context.adapter_name(),
                plan.n(),
                plan.strategies.len(),
                4 * layout.state_slots() as u64 * WORKGROUP as u64,
                self.context.limits.max_storage_buffer_binding_size
            )));
        }
        Ok(())
    }

    fn take_peak_buffer_bytes(&mut self) -> Option<u64> {
        Some(std::mem::take(&mut self.peak_buffer_bytes))
    }

    fn batch_paths(&self, plan: &Plan) -> u64 {
        // (u64::MAX rounded up to a workgroup would wrap to 0: one workgroup per batch.)
        let limit = self.batch_limit.map_or(u64::MAX, |paths| paths.next_multiple_of(WORKGROUP as u64));
        self.max_batch_paths(plan).min(limit).max(WORKGROUP as u64).min(plan.paths.next_multiple_of(WORKGROUP as u64))
    }

    fn simulate(
        &mut self,
        plan: &Plan,
        paths: Range<u64>,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<BatchAccumulators, EngineError> {
        let batch = self.start_batch(plan, paths, progress)?;
        self.finish_batch(plan, batch, progress)
    }

    fn batches_ahead(&self) -> usize {
        BATCHES_AHEAD
    }

    fn start_batch(
        &mut self,
        plan: &Plan,
        paths: Range<u64>,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<StartedBatch, EngineError> {
        let batch = StartedBatch::new(paths);
        let in_flight = self.start(plan, &batch, progress)?;
        self.in_flight.push_back(in_flight);
        self.peak_buffer_bytes = self.peak_buffer_bytes.max(self.in_flight.iter().map(|b| b.buffer_bytes).sum());
        Ok(batch)
    }

    fn finish_batch(
        &mut self,
        plan: &Plan,
        batch: StartedBatch,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<BatchAccumulators, EngineError> {
        // Batches a run that stopped early left in flight are dropped unread.
        while let Some(in_flight) = self.in_flight.pop_front() {
            if in_flight.id == batch.id {
                let finished = self.finish(plan, in_flight, progress);
                if finished.is_err() {
                    self.in_flight.clear();
                }
                return finished;
            }
        }
        // Not started here (or dropped): simulated now.
        self.simulate(plan, batch.paths, progress)
    }
}

/// Batches started beyond the one the host is finishing: one, so the device computes
/// batch k + 1 while the host folds and absorbs batch k (two batches' buffers held).
const BATCHES_AHEAD: usize = 1;

/// A batch queued on the device by `start_batch`, until `finish_batch` reads it.
struct InFlight {
    /// `StartedBatch::id`.
    id: u64,
    first_path: u64,
    count: u32,
    stride: u32,
    /// Submissions after which a share of the batch is done, with the path-equivalents
    /// done by then (paths x share of steps).
    progress_marks: Vec<(wgpu::SubmissionIndex, u64)>,
    /// Path-equivalents already reported.
    reported: u64,
    readback: Readback,
    /// The state, steps-done, scratch and parameter buffers, held until the batch is read.
    _buffers: [wgpu::Buffer; 4],
    buffer_bytes: u64,
    computing: Instant,
}

impl GpuBackend {
    /// Queues a batch's dispatches and its readback. Without max_growth nothing waits:
    /// progress is reported by `finish` as the marked submissions complete. A max_growth
    /// solve reads its flags between dispatches, so that batch runs here, reporting
    /// progress as it goes.
    fn start(
        &mut self,
        plan: &Plan,
        batch: &StartedBatch,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<InFlight, EngineError> {
        self.prepare(plan)?;
        let computing = Instant::now();
        let paths = batch.paths.clone();
        let steps_per_dispatch = self.steps_per_dispatch(plan);
        log::debug!("{steps_per_dispatch} steps per dispatch");
        let kernels = self.kernels.as_ref().expect("prepared above");
        let (device, queue) = (&self.context.device, &self.context.queue);
        let layout = kernels.layout;
        let count = (paths.end - paths.start) as u32;
        let stride = count.next_multiple_of(WORKGROUP);
        let mut state_bytes = 4 * layout.state_slots() as u64 * stride as u64;
        match injected_fault() {
            Some(Fault::Alloc) => state_bytes = self.context.limits.max_buffer_size.next_multiple_of(4) + 4,
            Some(Fault::Lost) => device.destroy(),
            _ => {}
        }
        let state = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("state"),
            size: state_bytes,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let steps_done = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("steps_done"),
            size: 4 * stride as u64,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let key = seed_key(plan.seed);
        let params_for = |step_begin: u32, step_count: u32| {
            DispatchParams::for_steps(paths.start as u32, count, stride, step_begin, step_count, plan.steps, key)
        };
        // [0]: some path's max_growth solve has iterations left; [1]: a solver loop was cut.
        // (Else the kernel's scratch: the per-path kernel's per-stock arrays for many
        // stocks, or the block kernel's normals and growths when its shape keeps them off
        // chip; laid out as the state buffer.)
        let (solver_flags_bytes, block_shape, max_growth, record_grid) = match &kernels.kind {
            KernelKind::PerPath { record_grid, max_growth } => {
                // The solver flags (8 bytes), then the path arrays' scratch.
                let scratch_bytes = 4 * layout.path_scratch_slots() as u64 * stride as u64;
                (8 + scratch_bytes, None, max_growth.as_ref(), Some(record_grid))
            }
            KernelKind::Block(shape) => {
                (4 * (shape.scratch_slots() as u64 * stride as u64).max(1), Some(*shape), None, None)
            }
        };
        let solver_flags = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(if block_shape.is_some() { "scratch" } else { "solver_flags" }),
            size: solver_flags_bytes,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let params = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("params"),
            size: std::mem::size_of::<DispatchParams>() as u64,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("simulation"),
            layout: &kernels.bind_group_layout,
            entries: &[
                wgpu::BindGroupEntry { binding: 0, resource: params.as_entire_binding() },
                wgpu::BindGroupEntry { binding: 1, resource: kernels.market_data.as_entire_binding() },
                wgpu::BindGroupEntry { binding: 2, resource: kernels.model.as_entire_binding() },
                wgpu::BindGroupEntry { binding: 3, resource: state.as_entire_binding() },
                wgpu::BindGroupEntry { binding: 4, resource: steps_done.as_entire_binding() },
                wgpu::BindGroupEntry { binding: 5, resource: solver_flags.as_entire_binding() },
            ],
        });
        // The block kernel: a workgroup per block of paths (stride is a multiple of every
        // block size), and its initialisation one invocation per path.
        let (workgroups, init_workgroups) = match block_shape {
            Some(shape) => (stride / shape.paths, stride.div_ceil(shape.invocations())),
            None => (stride / WORKGROUP, stride / WORKGROUP),
        };
        let dispatch_sized = |pipeline: &wgpu::ComputePipeline, dispatch_params: DispatchParams, workgroups: u32| {
            queue.write_buffer(&params, 0, bytemuck::bytes_of(&dispatch_params));
            self.context.dispatch(pipeline, &bind_group, workgroups)
        };
        let dispatch = |pipeline: &wgpu::ComputePipeline, dispatch_params: DispatchParams| {
            dispatch_sized(pipeline, dispatch_params, workgroups)
        };
        dispatch_sized(&kernels.init, params_for(0, 0), init_workgroups);
        let mut step = 0;
        let mut reported = 0;
        let mut progress_marks = Vec::new();
        let solver_iterations = self.solver_iterations_per_dispatch(plan);
        let grid = GridSpec::of(plan.steps, plan.steps_per_year);
        let mut marked_at = 0;
        while step < plan.steps {
            let mut step_count = steps_per_dispatch.min(plan.steps - step);
            // A dispatch ends at the next step on which a max_growth strategy rebalances.
            if let Some(rebalance_step) =
                (step..step + step_count).find(|&t| !max_growth::rebalancing(plan, t).is_empty())
            {
                step_count = rebalance_step - step + 1;
            }
            // Each parameter write lands before the submission that follows it.
            let mut submission = dispatch(&kernels.advance, params_for(step, step_count));
            step += step_count;
            if let Some(pipelines) = max_growth {
                for strategy in max_growth::rebalancing(plan, step - 1) {
                    let strategy_params = DispatchParams { strategy, ..params_for(step - 1, 1) };
                    // One dispatch, then its flags: whether any path's solve has iterations
                    // left, and whether any loop was cut short (an error: no result).
                    let run_checked = |pipeline: &wgpu::ComputePipeline, dispatch_params: DispatchParams| {
                        queue.write_buffer(&solver_flags, 0, bytemuck::cast_slice(&[0u32; 2]));
                        dispatch(pipeline, dispatch_params);
                        let flags: Vec<u32> = self.context.read_buffer(&solver_flags, 0, 2)?;
                        if flags[1] != 0 {
                            return Err(EngineError::SolverCut {
                                step: step - 1,
                                strategy: plan.strategies[strategy as usize].name.clone(),
                            });
                        }
                        Ok(flags[0] != 0)
                    };
                    let mut finish_phase = max_growth::phase::TRADE;
                    if let Some(estimate) = max_growth::trailing(plan, strategy as usize) {
                        let periods = max_growth::periods(plan, estimate, step);
                        if periods < 2 {
                            finish_phase = max_growth::phase::HOLD_MARKET;
                        } else {
                            let estimate_pipeline =
                                pipelines.estimate.as_ref().expect("built with a trailing estimate");
                            let dispatches =
                                max_growth::estimate_dispatches(layout.n, estimate, periods, self.estimate_budget())
                                    .expect("checked by check_fits");
                            for (phase, rows) in dispatches {
                                let estimate_params = DispatchParams {
                                    phase,
                                    chunk_begin: rows.start,
                                    chunk_end: rows.end,
                                    ..strategy_params
                                };
                                run_checked(estimate_pipeline, estimate_params)?;
                            }
                        }
                    }
                    // Solver rounds until every path's solve has converged or used its
                    // iterations (the eigenbasis shader stops each at MG_MAX_ITERATIONS; the
                    // factor form takes a Newton step at least per round, and at most
                    // FACTOR_MAX_EVALUATIONS x FACTOR_MAX_NEWTON).
                    let (pipelines, iterations, rounds) = match max_growth::solver(plan, strategy as usize) {
                        Some(max_growth::Solver::Factor { .. }) => (
                            pipelines.factor.as_ref().expect("built with a factor-form strategy"),
                            self.factor_trips_per_dispatch(),
                            max_growth::FACTOR_MAX_EVALUATIONS * max_growth::FACTOR_MAX_NEWTON,
                        ),
                        _ => (
                            pipelines.eigen.as_ref().expect("built with an eigenbasis strategy"),
                            solver_iterations,
                            max_growth::MAX_ITERATIONS.div_ceil(solver_iterations.max(1)),
                        ),
                    };
                    let (solve, finish) = pipelines;
                    if finish_phase == max_growth::phase::TRADE {
                        let solver_params = DispatchParams { iterations, ..strategy_params };
                        for _ in 0..rounds + 1 {
                            if !run_checked(solve, solver_params)? {
                                break;
                            }
                        }
                    }
                    run_checked(finish, DispatchParams { phase: finish_phase, ..strategy_params })?;
                }
            }
            // The kernel records grid points as it passes them; one whose step a max_growth
            // strategy has just booked between dispatches is recorded again.
            if let Some(point) = grid.point_after(step).filter(|_| !max_growth::rebalancing(plan, step - 1).is_empty())
            {
                let record_grid = record_grid.expect("max_growth runs on the per-path kernel");
                submission = dispatch(record_grid, DispatchParams { phase: point, ..params_for(step, 0) });
            }
            // Progress moves in path-equivalents (paths x share of steps done) every
            // MAX_STEPS_PER_DISPATCH steps: reported now where this batch waits anyway
            // (max_growth), else by `finish` as the marked submission completes.
            if step - marked_at >= MAX_STEPS_PER_DISPATCH || step == plan.steps {
                marked_at = step;
                let done = count as u64 * step as u64 / plan.steps as u64;
                if max_growth.is_some() {
                    self.context.wait()?;
                    progress(done - reported);
                    reported = done;
                } else {
                    progress_marks.push((submission, done));
                }
            }
        }
        let residual_slots = max_growth_state_bases(plan, &layout)
            .into_iter()
            .filter(|&base| base > 0)
            .map(|base| (base + max_growth::RESIDUAL_OFFSET) as u64)
            .collect();
        let readback = Readback::queue(&self.context, &layout, count, stride, &state, &steps_done, residual_slots);
        // A buffer or dispatch the device refused fails the batch now.
        self.context.take_error()?;
        let buffers = [state, steps_done, solver_flags, params];
        let buffer_bytes = buffers.iter().chain([&kernels.market_data, &kernels.model]).map(|b| b.size()).sum::<u64>()
            + readback.bytes();
        Ok(InFlight {
            id: batch.id,
            first_path: paths.start,
            count,
            stride,
            progress_marks,
            reported,
            readback,
            _buffers: buffers,
            buffer_bytes,
            computing,
        })
    }

    /// Waits for a batch started by `start`, reporting its progress, and folds its words.
    fn finish(
        &mut self,
        plan: &Plan,
        in_flight: InFlight,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<BatchAccumulators, EngineError> {
        let mut reported = in_flight.reported;
        for (submission, done) in in_flight.progress_marks {
            self.context.wait_for(submission)?;
            progress(done - reported);
            reported = done;
        }
        let words = in_flight.readback.read(&self.context)?;
        if let Some(&completed) = words.steps_done.iter().find(|&&d| d != plan.steps) {
            return Err(EngineError::IncompleteSteps { expected: plan.steps, completed });
        }
        let read_back = Instant::now();
        let layout = StateLayout::of(plan);
        let grid = GridSpec::of(plan.steps, plan.steps_per_year);
        let (count, stride) = (in_flight.count as usize, in_flight.stride as usize);
        let out = fold_batch(&layout, grid, in_flight.first_path, count, stride, &words.accumulators, &words.grid);
        log::debug!(
            "batch of {count} paths: computed and read back {:.3} s after its start, folded in {:.3} s",
            (read_back - in_flight.computing).as_secs_f64(),
            read_back.elapsed().as_secs_f64()
        );
        for residual in words.residuals.into_iter().flatten() {
            // NaN counts as a violation.
            let residual = if residual.is_nan() { f64::INFINITY } else { residual as f64 };
            self.max_growth_residual = self.max_growth_residual.max(residual);
        }
        Ok(out)
    }
}

/// A GPU failure to provoke, for testing that each is reported clearly (and that
/// `--backend auto` falls back to the CPU): `SPTLAB_GPU_FAULT=shader` (a kernel that
/// does not compile), `alloc` (a buffer larger than the device allows) or `lost` (the
/// device destroyed before a batch). Real wgpu failures, not simulated ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    Shader,
    Alloc,
    Lost,
}

fn injected_fault() -> Option<Fault> {
    static FAULT: std::sync::OnceLock<Option<Fault>> = std::sync::OnceLock::new();
    *FAULT.get_or_init(|| match std::env::var("SPTLAB_GPU_FAULT").as_deref() {
        Ok("shader") => Some(Fault::Shader),
        Ok("alloc") => Some(Fault::Alloc),
        Ok("lost") => Some(Fault::Lost),
        _ => None,
    })
}
