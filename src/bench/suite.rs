//! `sptlab bench`'s measurements of the named workloads (the command line and the
//! Python package's `sptlab.bench` run the same suite): CPU f32 and f64, and the GPU
//! when one is given, each with its efficiency rows when asked.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::bench::efficiency::measure_efficiency;
use crate::bench::{measure_backend, plan_of, Measurement, RunSize, Workload};
use crate::engine::gpu::GpuBackend;
use crate::engine::{Backend, CpuBackend, EngineError, Precision};

/// What to measure.
#[derive(Debug, Clone)]
pub struct Suite {
    pub workloads: Vec<Workload>,
    /// CPU f32 (with `paths`) and f64 (a quarter of them).
    pub cpu: bool,
    /// Paths for CPU f32 and hardware GPUs (default: the workload's own).
    pub paths: Option<u64>,
    /// Paths for the GPU (default: `paths` on hardware, 128 on a software adapter,
    /// which also runs the larger workloads over one year).
    pub gpu_paths: Option<u64>,
    pub repeat: usize,
    /// Each sptlab backend again under every estimator (plain, control, antithetic,
    /// both): not on a software adapter.
    pub efficiency: bool,
    /// Set by another thread to stop: the CPU's runs stop within their blocks of paths
    /// in progress, the GPU's at the end of the measurement (`SuiteError::Interrupted`).
    pub cancel: Option<Arc<AtomicBool>>,
}

/// A measurement that failed, and on which backend.
#[derive(Debug, thiserror::Error)]
pub enum SuiteError {
    #[error("CPU backend: {0}")]
    Cpu(EngineError),
    #[error("GPU backend: {0}")]
    Gpu(EngineError),
    #[error("the benchmark was interrupted")]
    Interrupted,
}

/// Measures `suite`, saying what it times through `note`.
pub fn run_suite(
    suite: &Suite,
    mut gpu: Option<&mut GpuBackend>,
    note: &mut dyn FnMut(String),
) -> Result<Vec<Measurement>, SuiteError> {
    let mut measurements: Vec<Measurement> = Vec::new();
    let cancelled = || suite.cancel.as_ref().is_some_and(|cancel| cancel.load(Ordering::Relaxed));
    // An interrupted CPU run, or a cancel seen between measurements, ends the suite.
    let cpu_failed = |error| match error {
        EngineError::Interrupted => SuiteError::Interrupted,
        error => SuiteError::Cpu(error),
    };
    for &workload in &suite.workloads {
        let paths = suite.paths.unwrap_or(workload.default_paths());
        if suite.cpu {
            for (precision, cpu_paths) in [(Precision::F32, paths), (Precision::F64, (paths / 4).max(1))] {
                if cancelled() {
                    return Err(SuiteError::Interrupted);
                }
                let mut cpu = CpuBackend::new(precision, None);
                if let Some(cancel) = &suite.cancel {
                    cpu = cpu.with_cancel(cancel.clone());
                }
                note(format!("timing {} on CPU {}, {cpu_paths} paths...", workload.name(), precision.name()));
                let size = RunSize { paths: cpu_paths, years: None };
                measurements.push(measure_backend(&mut cpu, workload, size, suite.repeat).map_err(cpu_failed)?);
                if precision == Precision::F32 && suite.efficiency {
                    note(format!(
                        "timing {} on CPU f32 with and without the control and antithetic pairs...",
                        workload.name()
                    ));
                    let rows = measure_efficiency(&mut cpu, workload, size, suite.repeat).map_err(cpu_failed)?;
                    measurements.last_mut().expect("just measured").efficiency = Some(rows);
                }
            }
        }
        if let Some(gpu) = gpu.as_deref_mut() {
            if cancelled() {
                return Err(SuiteError::Interrupted);
            }
            // A software adapter is slow: fewer paths, and one year of the larger workloads.
            let size = match (gpu.is_software(), workload) {
                (false, _) => RunSize { paths: suite.gpu_paths.unwrap_or(paths), years: None },
                (true, Workload::Standard) => RunSize { paths: suite.gpu_paths.unwrap_or(128), years: None },
                (true, _) => RunSize { paths: suite.gpu_paths.unwrap_or(128), years: Some(1.0) },
            };
            // What the adapter cannot run (an index of 1,000 stocks past a software
            // adapter's loop cap) is said, and the other timings go on.
            if let Err(reason) = gpu.check_fits(&plan_of(workload, size)) {
                note(format!("{}: not timed on the GPU backend: {reason}", workload.name()));
                continue;
            }
            note(format!(
                "timing {} on the GPU backend ({}), {} paths...",
                workload.name(),
                gpu.info().adapter,
                size.paths
            ));
            measurements.push(measure_backend(gpu, workload, size, suite.repeat).map_err(SuiteError::Gpu)?);
            if gpu.is_software() && suite.efficiency {
                note(
                    "efficiency: not run on a software adapter (four more kernels to compile; CPU f32 shows it)".into(),
                );
            } else if suite.efficiency {
                note(format!(
                    "timing {} on the GPU with and without the control and antithetic pairs...",
                    workload.name()
                ));
                let rows = measure_efficiency(gpu, workload, size, suite.repeat).map_err(SuiteError::Gpu)?;
                measurements.last_mut().expect("just measured").efficiency = Some(rows);
            }
        }
    }
    Ok(measurements)
}
