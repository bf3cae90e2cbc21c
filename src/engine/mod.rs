//! Backends that turn a validated plan into per-path accumulators.
//!
//! Both backends implement [`Backend`] and fill the same [`BatchAccumulators`]
//! layout for any range of path indices, so a run is a loop over batches and the
//! result does not depend on how paths are split.

pub mod accumulators;
pub mod choice;
pub mod cpu;
pub mod gpu;
mod open_market;
pub mod time_grid;

use std::ops::Range;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use crate::scenario::Plan;
pub use accumulators::{BatchAccumulators, PathStatistics};

/// Floating-point precision of the simulation; "f32" or "f64" in files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase", try_from = "String")]
pub enum Precision {
    F32,
    F64,
}

impl Precision {
    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::F64 => "f64",
        }
    }

    /// The precision a label written by [`Precision::name`] names.
    pub fn from_name(name: &str) -> Option<Precision> {
        [Precision::F32, Precision::F64].into_iter().find(|precision| precision.name() == name)
    }
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl TryFrom<String> for Precision {
    type Error = String;
    fn try_from(name: String) -> Result<Precision, String> {
        Precision::from_name(&name).ok_or_else(|| format!("precision {name:?} is not a precision (f32, f64)"))
    }
}

/// Which backend ran (or is to run) a simulation; "cpu" or "gpu" in files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase", try_from = "String")]
pub enum BackendKind {
    Cpu,
    Gpu,
}

impl BackendKind {
    pub fn name(self) -> &'static str {
        match self {
            BackendKind::Cpu => "cpu",
            BackendKind::Gpu => "gpu",
        }
    }

    /// The backend a label written by [`BackendKind::name`] names.
    pub fn from_name(name: &str) -> Option<BackendKind> {
        [BackendKind::Cpu, BackendKind::Gpu].into_iter().find(|backend| backend.name() == name)
    }
}

impl std::fmt::Display for BackendKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl TryFrom<String> for BackendKind {
    type Error = String;
    fn try_from(name: String) -> Result<BackendKind, String> {
        BackendKind::from_name(&name).ok_or_else(|| format!("backend {name:?} is not a backend (cpu, gpu)"))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Gpu(#[from] gpu::GpuError),
    #[error("--precision f64 is available on the CPU backend only (the GPU kernels are f32)")]
    F64OnGpu,
    #[error(
        "the GPU kernel completed only {completed} of {expected} steps in one dispatch \
         (the driver cut a loop short); no result was produced"
    )]
    IncompleteSteps { expected: u32, completed: u32 },
    #[error(
        "the GPU max_growth solver of strategy {strategy} was cut short by the driver at step {step}; \
         no result was produced"
    )]
    SolverCut { step: u32, strategy: String },
    #[error(
        "path {path}, strategy {strategy}: a statistic is not finite{}; no result was produced",
        where_it_went(*step, first)
    )]
    NonFinite {
        path: u64,
        strategy: String,
        /// The first step after which the path's state was not finite, and what went
        /// first (a strategy, or "the market"), when a step-by-step re-run found it.
        step: Option<u32>,
        first: Option<String>,
    },
    #[error("writing the checkpoint: {0}")]
    Checkpoint(std::io::Error),
    /// The caller stopped the run between batches (Ctrl-C in Python).
    #[error("the run was interrupted")]
    Interrupted,
}

fn where_it_went(step: Option<u32>, first: &Option<String>) -> String {
    match (step, first) {
        (Some(step), Some(first)) => format!(" (step {} of the path: {first} went first)", step + 1),
        _ => " (numerical overflow)".to_string(),
    }
}

/// Why a backend cannot run a plan: bad input for that backend (each message names
/// the scenario field and says what to do), on which `--backend auto` falls back to the
/// CPU, which runs every plan.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DoesNotFit {
    /// More stocks than the adapter's kernel is known to compile or run.
    #[error("{0}")]
    TooManyStocks(String),
    /// More loop iterations per dispatch than a software adapter runs correctly.
    #[error("{0}")]
    LoopBudget(String),
    /// A feature the adapter's driver gets wrong (ranking under OpenGL on llvmpipe).
    #[error("{0}")]
    Unsupported(String),
    /// Storage buffers too small for one workgroup of paths.
    #[error("{0}")]
    TooSmall(String),
}

/// What ran: reported in every summary and benchmark.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct BackendInfo {
    pub backend: BackendKind,
    /// The adapter's name, or the CPU's thread count.
    pub adapter: String,
    pub precision: Precision,
}

/// A simulation backend: paths in, per-path accumulators out.
pub trait Backend {
    fn info(&self) -> BackendInfo;
    /// Whether the run fits this backend's device (a GPU too small for it is bad input).
    fn check_fits(&self, _plan: &Plan) -> Result<(), DoesNotFit> {
        Ok(())
    }
    /// How many paths to simulate per call, bounding memory.
    fn batch_paths(&self, plan: &Plan) -> u64;
    /// The most device-buffer bytes one batch has held since the last call (GPU
    /// backends; `None` where the backend has no device memory).
    fn take_peak_buffer_bytes(&mut self) -> Option<u64> {
        None
    }
    /// Simulates the paths with global indices `paths`, calling `progress` with
    /// the number of paths finished as they finish.
    fn simulate(
        &mut self,
        plan: &Plan,
        paths: Range<u64>,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<BatchAccumulators, EngineError>;
    /// Batches the driver may start beyond the one it is finishing: a device that
    /// computes beside the host (a GPU) runs the next batch while the host folds and
    /// absorbs the last one. 0 (the default): one batch at a time.
    fn batches_ahead(&self) -> usize {
        0
    }
    /// Starts the batch `paths`: a device backend queues its work and returns; the
    /// default does nothing until [`Backend::finish_batch`]. Batches finish in the
    /// order they started.
    fn start_batch(
        &mut self,
        _plan: &Plan,
        paths: Range<u64>,
        _progress: &(dyn Fn(u64) + Sync),
    ) -> Result<StartedBatch, EngineError> {
        Ok(StartedBatch::new(paths))
    }
    /// The accumulators of a batch [`Backend::start_batch`] started (the oldest one
    /// not yet finished), calling `progress` as its paths finish.
    fn finish_batch(
        &mut self,
        plan: &Plan,
        batch: StartedBatch,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<BatchAccumulators, EngineError> {
        self.simulate(plan, batch.paths, progress)
    }
}

/// A batch a backend has started: its paths, and a number that tells it apart from
/// every other batch started in this process (a backend that keeps work in flight
/// finds the batch's by it, and drops work a failed run left behind).
#[derive(Debug, PartialEq, Eq)]
pub struct StartedBatch {
    pub paths: Range<u64>,
    pub id: u64,
}

impl StartedBatch {
    pub fn new(paths: Range<u64>) -> StartedBatch {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        StartedBatch { paths, id: NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) }
    }
}

/// The rayon CPU backend, in f32 or f64.
pub struct CpuBackend {
    precision: Precision,
    pool: rayon::ThreadPool,
    batch_paths: u64,
    /// Set by another thread to abandon the batch in progress (`EngineError::Interrupted`).
    cancel: Option<Arc<AtomicBool>>,
}

impl CpuBackend {
    /// `threads = None` uses every core.
    pub fn new(precision: Precision, threads: Option<usize>) -> CpuBackend {
        let mut builder = rayon::ThreadPoolBuilder::new();
        if let Some(threads) = threads {
            builder = builder.num_threads(threads);
        }
        let pool = builder.build().unwrap_or_else(|_| {
            rayon::ThreadPoolBuilder::new().num_threads(1).build().expect("a one-thread pool always builds")
        });
        CpuBackend { precision, pool, batch_paths: 16_384, cancel: None }
    }

    /// Paths per batch (results do not depend on it; memory does).
    pub fn with_batch_paths(mut self, batch_paths: u64) -> CpuBackend {
        self.batch_paths = batch_paths.max(1);
        self
    }

    /// A flag another thread sets to stop the run: the batch in progress is abandoned
    /// after the blocks of paths already started, and the run ends `Interrupted`.
    pub fn with_cancel(mut self, cancel: Arc<AtomicBool>) -> CpuBackend {
        self.cancel = Some(cancel);
        self
    }
}

impl Backend for CpuBackend {
    fn info(&self) -> BackendInfo {
        BackendInfo {
            backend: BackendKind::Cpu,
            adapter: format!("CPU, {} threads, {} kernel", self.pool.current_num_threads(), cpu::kernel_flavour()),
            precision: self.precision,
        }
    }

    fn batch_paths(&self, _plan: &Plan) -> u64 {
        self.batch_paths
    }

    fn simulate(
        &mut self,
        plan: &Plan,
        paths: Range<u64>,
        progress: &(dyn Fn(u64) + Sync),
    ) -> Result<BatchAccumulators, EngineError> {
        let strategies = plan.strategies.len();
        let never = AtomicBool::new(false);
        let cancelled = self.cancel.as_deref().unwrap_or(&never);
        let batch = self.pool.install(|| match self.precision {
            Precision::F32 => {
                cpu::simulate_batch_until(&cpu::KernelParams::<f32>::new(plan), paths, strategies, progress, cancelled)
            }
            Precision::F64 => {
                cpu::simulate_batch_until(&cpu::KernelParams::<f64>::new(plan), paths, strategies, progress, cancelled)
            }
        });
        batch.ok_or(EngineError::Interrupted)
    }
}
