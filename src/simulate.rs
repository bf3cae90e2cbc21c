//! The pipeline's driver: a plan's paths through a backend, batch by batch, into
//! `Results` (and, for `run`, the `Report`), resumable from any batch boundary.

use std::time::Instant;

use crate::engine::{self, Backend, EngineError, Precision};
use crate::scenario::Plan;
use crate::summary::report::{Report, RunInfo};
use crate::summary::results::Results;

/// Simulates every path of `plan` on `backend`, batch by batch, calling
/// `progress` with the number of paths finished as they finish.
pub fn simulate(
    plan: &Plan,
    backend: &mut dyn Backend,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<(Results, RunInfo), EngineError> {
    simulate_paths(plan, backend, 0..plan.paths, progress)
}

/// Simulates the paths with global indices `paths` of `plan` (a shard's share: each
/// path's random numbers depend only on its index, so they are those of the whole run).
pub fn simulate_paths(
    plan: &Plan,
    backend: &mut dyn Backend,
    paths: std::ops::Range<u64>,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<(Results, RunInfo), EngineError> {
    simulate_from(plan, backend, Results::for_paths(plan, paths), 0.0, progress, &mut |_, _| Ok(()))
}

/// Continues `results` (the first paths of their range, possibly none) to the end of
/// their range, batch by batch, calling `after_batch` with the results so far and the
/// seconds spent on them (`seconds_before` counts earlier sessions of a resumed run).
/// Results do not depend on where a run was split, so a resumed run equals one run.
pub fn simulate_from(
    plan: &Plan,
    backend: &mut dyn Backend,
    mut results: Results,
    seconds_before: f64,
    progress: &(dyn Fn(u64) + Sync),
    after_batch: &mut dyn FnMut(&Results, f64) -> Result<(), EngineError>,
) -> Result<(Results, RunInfo), EngineError> {
    let started = Instant::now();
    let batch_paths = backend.batch_paths(plan).max(1);
    let paths = results.path_range.clone();
    let mut next = paths.start + results.paths() as u64;
    // Batches started and not yet finished, oldest first: the backend computes the
    // next ones while the host absorbs and checkpoints this one.
    let mut running = std::collections::VecDeque::new();
    loop {
        while running.len() <= backend.batches_ahead() && next < paths.end {
            let last = (next + batch_paths).min(paths.end);
            log::debug!("batch of paths {next}..{last}");
            running.push_back(backend.start_batch(plan, next..last, progress)?);
            next = last;
        }
        let Some(started_batch) = running.pop_front() else { break };
        let batch = backend.finish_batch(plan, started_batch, progress)?;
        let held = results.paths();
        let absorbing = Instant::now();
        results.absorb(&batch);
        log::debug!("batch absorbed into the results in {:.3} s", absorbing.elapsed().as_secs_f64());
        // A non-finite number stops the run at the batch where it appears.
        if let Some((path, strategy)) = results.first_non_finite_from(held) {
            return Err(non_finite(plan, backend.info().precision, path, strategy));
        }
        if (results.paths() as u64) < paths.end - paths.start {
            after_batch(&results, seconds_before + started.elapsed().as_secs_f64())?;
        }
    }
    let seconds = seconds_before + started.elapsed().as_secs_f64();
    let simulated = paths.end - paths.start;
    let asset_steps = plan.n() as f64 * simulated as f64 * plan.steps as f64;
    let run = RunInfo {
        backend: backend.info(),
        paths: simulated,
        steps: plan.steps,
        stocks: plan.n(),
        seconds,
        asset_steps_per_second: asset_steps / seconds.max(1e-9),
    };
    Ok((results, run))
}

/// The error for a path with a non-finite statistic, naming the step where it went
/// (found by simulating that path again on the CPU, step by step, in the run's precision:
/// the same random numbers, so the same path up to the backends' rounding).
fn non_finite(plan: &Plan, precision: Precision, path: u64, strategy: String) -> EngineError {
    let found = match precision {
        Precision::F32 => engine::cpu::first_non_finite_step(&engine::cpu::KernelParams::<f32>::new(plan), path),
        Precision::F64 => engine::cpu::first_non_finite_step(&engine::cpu::KernelParams::<f64>::new(plan), path),
    };
    let first = found.map(|(_, index)| match index {
        Some(index) => format!("strategy {}", plan.strategies[index].name),
        None => "the market".to_string(),
    });
    EngineError::NonFinite { path, strategy, step: found.map(|(step, _)| step), first }
}

/// Simulates and summarises: the library form of `sptlab run`.
pub fn run(
    plan: &Plan,
    backend: &mut dyn Backend,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<(Report, Results), EngineError> {
    let (results, run) = simulate(plan, backend, progress)?;
    Ok((Report::new(plan, &results, run), results))
}
