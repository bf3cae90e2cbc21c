//! The backend a run asked for, built with its options (threads, batch size): the
//! one place that does, so the CPU that takes over from a GPU gets them too.

use anyhow::Context;

use sptlab::engine::gpu::{GpuBackend, GpuContext, GpuError};
use sptlab::engine::{Backend, BackendKind, CpuBackend, EngineError, Precision};

use crate::config::{BackendRequest, RunConfig};
use crate::failure::{note, Failure};

/// The CPU backend as the options ask for it (threads, batch size).
pub fn cpu_backend(config: &RunConfig, precision: Precision) -> Box<dyn Backend> {
    let backend = CpuBackend::new(precision, config.threads);
    Box::new(match config.batch_paths {
        Some(paths) => backend.with_batch_paths(paths),
        None => backend,
    })
}

fn gpu_backend(context: GpuContext, batch_paths: Option<u64>) -> Box<dyn Backend> {
    let backend = GpuBackend::new(context);
    Box::new(match batch_paths {
        Some(paths) => backend.with_batch_limit(paths),
        None => backend,
    })
}

/// The backend of `config`: under `auto`, a hardware GPU when there is one (any GPU
/// with SPTLAB_AUTO_SOFTWARE_GPU=1, as tests of the fall-back use), else the CPU with
/// a note saying why.
pub fn choose_backend(config: &RunConfig) -> Result<Box<dyn Backend>, Failure> {
    let precision = config.precision;
    match config.backend {
        BackendRequest::Only(BackendKind::Cpu) => Ok(cpu_backend(config, precision)),
        BackendRequest::Only(BackendKind::Gpu) => {
            if precision == Precision::F64 {
                return Err(Failure::BadInput(EngineError::F64OnGpu.to_string()));
            }
            let context = GpuContext::new(true).context("--backend gpu")?;
            Ok(gpu_backend(context, config.batch_paths))
        }
        BackendRequest::Auto => {
            if precision == Precision::F64 {
                return Ok(cpu_backend(config, precision));
            }
            let allow_software = std::env::var("SPTLAB_AUTO_SOFTWARE_GPU").as_deref() == Ok("1");
            match GpuContext::new(allow_software) {
                Ok(context) => Ok(gpu_backend(context, config.batch_paths)),
                Err(reason) => {
                    if !config.quiet {
                        let hint = match reason {
                            GpuError::SoftwareOnly { .. } => " (--backend gpu runs on it anyway)",
                            _ => "",
                        };
                        note!("note: using the CPU backend: {reason}{hint}");
                    }
                    Ok(cpu_backend(config, precision))
                }
            }
        }
    }
}
