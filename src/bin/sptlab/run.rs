//! `sptlab run`: simulate a checked plan (or the rest of a resumed one), checkpointing
//! into --out as it goes, falling back from a failed GPU to the CPU under `auto`, then
//! write and print the results.

use anyhow::Context;

use sptlab::engine::{EngineError, Precision};
use sptlab::output::checkpoint::{self, Checkpointer, Resumed, RunOptions};
use sptlab::output::out_dir::{Existing, OutDir};
use sptlab::output::per_path::PerPathFormat;
use sptlab::output::run_files::{run_files, RunFilesError};
use sptlab::output::shard::{self, ShardSpec};
use sptlab::output::table;
use sptlab::summary::history::HistoricalOutcome;
use sptlab::{Plan, Report, Results};

use crate::backends::{choose_backend, notes};
use crate::config::RunConfig;
use crate::failure::{note, out, outln, Failure};
use crate::progress::Progress;

/// Largest master-equation residual an f32 run shows without losing weights to
/// underflow (measured: about 3e-5 over 2520 steps; GPU tests allow 1e-3).
const F32_RESIDUAL_LIMIT: f64 = 1e-3;

/// A validated scenario run from its first path (the whole run, or one shard).
pub fn fresh(
    config: &RunConfig,
    plan: &Plan,
    source: &str,
    shard: Option<ShardSpec>,
    history: Option<Box<HistoricalOutcome>>,
) -> Result<(), Failure> {
    if let (Some(asked), false) = (plan.asked_years, config.quiet) {
        note!(
            "note: years = {asked} is {} steps of 1/{} year; simulating {} whole steps, a horizon of {} years \
             (summary.json records it)",
            format!("{:.6}", asked * plan.steps_per_year as f64).trim_end_matches('0').trim_end_matches('.'),
            plan.steps_per_year,
            plan.steps,
            plan.years()
        );
    }
    execute(config, plan.clone(), source, shard, Start::Fresh(history))
}

/// Where a run starts: from its first path (with the data's own path, under
/// `--history`), or from a checkpoint (which carries that path).
pub enum Start {
    Fresh(Option<Box<HistoricalOutcome>>),
    Resumed(Box<(Resumed, OutDir)>),
}

/// Simulates a validated plan (or the rest of a resumed one), checkpointing into --out
/// as it goes, and writes and prints the results.
pub fn execute(
    config: &RunConfig,
    plan: Plan,
    source: &str,
    shard: Option<ShardSpec>,
    start: Start,
) -> Result<(), Failure> {
    let backend_options = config.backend_options();
    // `auto` may fall back to the CPU, which runs every plan; an explicit choice may not.
    let mut backend = backend_options
        .fitting(choose_backend(config)?, &plan, &mut notes(config))
        .map_err(|reason| Failure::BadInput(format!("{source}: {reason}")))?;
    // The output folder is opened (created, locked, checked) only now that nothing
    // else can refuse the run.
    let (resumed, mut out_dir, history) = match start {
        Start::Resumed(resumed) => {
            let (resumed, out_dir) = *resumed;
            let history = resumed.results.history.clone();
            (Some(resumed), Some(out_dir), history)
        }
        Start::Fresh(history) => {
            let existing = if config.outputs.force { Existing::Replace } else { Existing::Refuse };
            (None, config.out.as_deref().map(|out| OutDir::open(out, existing)).transpose()?, history.map(|h| *h))
        }
    };
    if let Some(out_dir) = out_dir.as_mut() {
        out_dir.claim_checkpoint().with_context(|| format!("writing to {}", out_dir.path().display()))?;
    }

    log::info!(
        "{}: {} paths x {} stocks x {} steps on {} ({} paths per batch)",
        source,
        plan.paths,
        plan.n(),
        plan.steps,
        backend.info().adapter,
        backend.batch_paths(&plan)
    );
    let progress_bar = Progress::new(plan.paths, plan.n(), plan.steps, config.quiet);
    let progress = |paths: u64| progress_bar.advance(paths);
    let bar = &progress_bar.bar;
    let range = shard.map_or(0..plan.paths, |shard| shard.paths(plan.paths, plan.antithetic));
    bar.set_length(range.end - range.start);
    let (mut start, seconds_before) = match resumed {
        Some(resumed) => (Some(resumed.results), resumed.seconds),
        None => (None, 0.0),
    };
    let options = RunOptions { shard, per_path: config.outputs.per_path, png: config.outputs.png };
    // Runs once, or twice when a GPU fails mid-run under `auto` and the CPU takes over.
    let (results, run, checkpointer) = loop {
        let start = start.take().unwrap_or_else(|| {
            let mut results = Results::for_paths(&plan, range.clone());
            results.history = history.clone();
            results
        });
        bar.set_position(start.paths() as u64);
        let mut checkpointer = match &out_dir {
            None => None,
            Some(out_dir) => {
                let out = out_dir.path();
                let every = config.checkpoint_every;
                Some(if start.paths() > 0 {
                    Checkpointer::continuing(out, every, options.clone(), backend.info())
                        .with_context(|| format!("reading the checkpoint in {}", out.display()))?
                } else {
                    Checkpointer::new(out, every, options.clone(), backend.info())
                        .with_context(|| format!("clearing this run's checkpoint in {}", out.display()))?
                })
            }
        };
        let mut after_batch = |results: &Results, seconds: f64| match checkpointer.as_mut() {
            Some(checkpointer) => checkpointer.save(&plan, results, seconds).map_err(EngineError::Checkpoint),
            None => Ok(()),
        };
        let outcome =
            sptlab::simulate_from(&plan, backend.as_mut(), start, seconds_before, &progress, &mut after_batch);
        // A GPU that fails mid-run under `auto`: nothing was written but checkpoints,
        // which the CPU run replaces, so running again on the CPU is safe.
        let takeover = match &outcome {
            Err(error) => {
                backend_options.takeover(backend.as_ref(), error, seconds_before == 0.0).map(|cpu| (cpu, error))
            }
            Ok(_) => None,
        };
        if let Some((cpu, error)) = takeover {
            if !config.quiet {
                note!("note: the GPU run failed ({error}); running on the CPU backend instead");
            }
            backend = cpu;
            continue;
        }
        match outcome {
            Ok((results, run)) => break (results, run, checkpointer),
            Err(error) => {
                bar.finish_and_clear();
                let resumable = match &out_dir {
                    Some(out_dir) if checkpoint::paths_done(out_dir.path()).is_some() => format!(
                        " (the checkpoint in {0} holds the paths done: `sptlab run --resume {0}` continues)",
                        out_dir.path().display()
                    ),
                    _ => String::new(),
                };
                return Err(Failure::Other(anyhow::Error::new(error).context(format!("simulation failed{resumable}"))));
            }
        }
    };
    bar.finish_and_clear();
    if let (Some(shard), Some(out_dir)) = (shard, out_dir.as_mut()) {
        let files = shard::shard_files(&plan, shard, &results, &run);
        out_dir
            .publish(files, &["shard.json"])
            .with_context(|| format!("writing the shard to {}", out_dir.path().display()))?;
        finish_checkpoint(out_dir, checkpointer)?;
        if !config.quiet {
            outln!(
                "shard {}/{}: paths {}..{} of {} in {:.1} s; wrote {}",
                shard.index,
                shard.count,
                range.start,
                range.end,
                plan.paths,
                run.seconds,
                out_dir.path().join("shard.json").display()
            );
        }
        return Ok(());
    }
    let report = Report::new(&plan, &results, run);
    if let Some(out_dir) = out_dir.as_mut() {
        write_results(out_dir, (&plan, &report, &results), config.outputs.per_path, config.outputs.png)?;
        finish_checkpoint(out_dir, checkpointer)?;
    }
    if !config.quiet {
        warn_if_f32_lost_precision(&report, &results);
        out!("{}", table::table(&report));
        if let Some(out) = &config.out {
            outln!("wrote {}", out.join("summary.json").display());
        }
    }
    Ok(())
}

/// Removes the checkpoint of a run whose results are written.
fn finish_checkpoint(out_dir: &mut OutDir, checkpointer: Option<Checkpointer>) -> Result<(), Failure> {
    if let Some(checkpointer) = checkpointer {
        checkpointer.finish().with_context(|| format!("removing the checkpoint in {}", out_dir.path().display()))?;
        out_dir.release_checkpoint().with_context(|| format!("writing to {}", out_dir.path().display()))?;
    }
    Ok(())
}

/// f32 weights lose their digits below 1e-38: a market that concentrated that far
/// needs f64 for trustworthy weightings of its smallest stocks. The decomposition
/// shows it: its terms stop adding up to the relative return.
fn warn_if_f32_lost_precision(report: &Report, results: &Results) {
    if report.run.backend.precision != Precision::F32 {
        return;
    }
    let smallest = report.market.capital_distribution.last().copied().unwrap_or(1.0);
    let residual = results.largest_master_equation_residual().filter(|(r, _, _)| *r > F32_RESIDUAL_LIMIT);
    if smallest < 1e-30 || residual.is_some() {
        let evidence = match residual {
            Some((residual, strategy, path)) => {
                format!("the decomposition of {strategy} misses by {residual:.1e} on path {path}")
            }
            None => format!("mean smallest weight {smallest:.1e}"),
        };
        note!(
            "warning: the market concentrated so far ({evidence}) that f32 weights lose precision; \
             rerun with --backend cpu --precision f64 to check"
        );
    }
}

/// summary.json, the per-path file (with `per_path`), the figures (PNG too with `png`)
/// and report.html, into `out_dir`, as one set.
pub fn write_results(
    out_dir: &mut OutDir,
    (plan, report, results): (&Plan, &Report, &Results),
    per_path: Option<PerPathFormat>,
    png: bool,
) -> Result<(), Failure> {
    let out = out_dir.path().display().to_string();
    let files = run_files((plan, report, results), per_path, png).map_err(|error| match error {
        RunFilesError::Data(error) => anyhow::Error::new(error).context(format!("writing results to {out}")),
        RunFilesError::Figures(reason) => anyhow::anyhow!("drawing the figures for {out}: {reason}"),
    })?;
    out_dir.publish(files, &["summary.json"]).with_context(|| format!("writing results to {out}"))?;
    Ok(())
}
