//! The backend a run asks for, built with its options (threads, batch size), and the
//! rules of `auto`: a hardware GPU when there is one, else the CPU; the CPU when the
//! GPU cannot fit the plan or fails before anything was kept. The one place that
//! decides, for the command line and the Python package alike.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use crate::engine::gpu::{GpuBackend, GpuContext, GpuError};
use crate::engine::{Backend, BackendKind, CpuBackend, DoesNotFit, EngineError, Precision};
use crate::scenario::Plan;

/// Most CPU threads a run may ask for: more only add overhead (and creating a
/// hundred thousand takes the machine down).
pub const MAX_THREADS: usize = 1024;

/// Which backend a run asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendRequest {
    /// A hardware GPU when one exists, else the CPU (and the CPU when the GPU fails).
    Auto,
    Only(BackendKind),
}

/// A run's backend options.
#[derive(Debug, Clone)]
pub struct BackendOptions {
    pub request: BackendRequest,
    pub precision: Precision,
    /// CPU threads (default: one per core).
    pub threads: Option<usize>,
    /// Paths per batch (default: the backend's own choice).
    pub batch_paths: Option<u64>,
    /// Set by another thread to stop the run: a CPU backend abandons its batch after the
    /// blocks already started (the driver checks it between batches for any backend).
    pub cancel: Option<Arc<AtomicBool>>,
}

/// Why the asked-for backend cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum ChoiceError {
    /// Bad input: f64 asked of a GPU.
    #[error(transparent)]
    F64OnGpu(EngineError),
    /// `--backend gpu` and no GPU could be opened.
    #[error("--backend gpu: {0}")]
    NoGpu(GpuError),
}

impl BackendOptions {
    /// The options' range problems, one per entry; `option` spells an option's name
    /// the caller's way (`--threads` on the command line, `threads` in Python).
    pub fn problems(&self, option: &dyn Fn(&str) -> String) -> Vec<String> {
        let mut problems = Vec::new();
        if self.batch_paths == Some(0) {
            problems.push(format!("{}: must be at least 1", option("batch_paths")));
        }
        match self.threads {
            Some(0) => problems.push(format!("{}: must be at least 1", option("threads"))),
            Some(threads) if threads > MAX_THREADS => problems.push(format!(
                "{} {threads}: at most {MAX_THREADS}; this machine has {} cores, and more threads than cores \
                 only add overhead",
                option("threads"),
                std::thread::available_parallelism().map_or(1, |n| n.get())
            )),
            _ => {}
        }
        problems
    }

    /// The CPU backend with these options, in `precision`.
    pub fn cpu(&self, precision: Precision) -> Box<dyn Backend> {
        let mut backend = CpuBackend::new(precision, self.threads);
        if let Some(paths) = self.batch_paths {
            backend = backend.with_batch_paths(paths);
        }
        if let Some(cancel) = &self.cancel {
            backend = backend.with_cancel(cancel.clone());
        }
        Box::new(backend)
    }

    fn gpu(&self, context: GpuContext) -> Box<dyn Backend> {
        let backend = GpuBackend::new(context);
        Box::new(match self.batch_paths {
            Some(paths) => backend.with_batch_limit(paths),
            None => backend,
        })
    }

    /// The backend asked for: under `auto`, a hardware GPU when there is one (any GPU
    /// with SPTLAB_AUTO_SOFTWARE_GPU=1, as tests of the fall-back use), else the CPU,
    /// with a note saying why.
    pub fn choose(&self, note: &mut dyn FnMut(String)) -> Result<Box<dyn Backend>, ChoiceError> {
        match self.request {
            BackendRequest::Only(BackendKind::Cpu) => Ok(self.cpu(self.precision)),
            BackendRequest::Only(BackendKind::Gpu) => {
                if self.precision == Precision::F64 {
                    return Err(ChoiceError::F64OnGpu(EngineError::F64OnGpu));
                }
                GpuContext::new(true).map(|context| self.gpu(context)).map_err(ChoiceError::NoGpu)
            }
            BackendRequest::Auto => {
                if self.precision == Precision::F64 {
                    return Ok(self.cpu(self.precision));
                }
                let allow_software = std::env::var("SPTLAB_AUTO_SOFTWARE_GPU").as_deref() == Ok("1");
                match GpuContext::new(allow_software) {
                    Ok(context) => Ok(self.gpu(context)),
                    Err(reason) => {
                        let hint = match reason {
                            GpuError::SoftwareOnly { .. } => " (--backend gpu runs on it anyway)",
                            _ => "",
                        };
                        note(format!("note: using the CPU backend: {reason}{hint}"));
                        Ok(self.cpu(self.precision))
                    }
                }
            }
        }
    }

    /// `backend` if it fits `plan`; under `auto`, the CPU (which runs every plan) with a
    /// note when a GPU does not; the reason otherwise (bad input for that backend).
    pub fn fitting(
        &self,
        backend: Box<dyn Backend>,
        plan: &Plan,
        note: &mut dyn FnMut(String),
    ) -> Result<Box<dyn Backend>, DoesNotFit> {
        match backend.check_fits(plan) {
            Ok(()) => Ok(backend),
            Err(reason) if self.request == BackendRequest::Auto && backend.info().backend == BackendKind::Gpu => {
                note(format!("note: using the CPU backend: {reason}"));
                Ok(self.cpu(Precision::F32))
            }
            Err(reason) => Err(reason),
        }
    }

    /// The CPU backend that takes over a run whose GPU failed with `error` under `auto`
    /// (a kernel the driver cannot build, a buffer it cannot allocate, a lost device),
    /// when the run kept nothing from the GPU (`fresh`: not resumed); `None` when the
    /// error stands.
    pub fn takeover(&self, failed: &dyn Backend, error: &EngineError, fresh: bool) -> Option<Box<dyn Backend>> {
        let gpu_failed = matches!(error, EngineError::Gpu(_)) && failed.info().backend == BackendKind::Gpu;
        (self.request == BackendRequest::Auto && fresh && gpu_failed).then(|| self.cpu(Precision::F32))
    }
}
