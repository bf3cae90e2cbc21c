//! `run`'s options checked once into typed values: every range check of every option
//! (for each form of `run`: a scenario, `--resume`, `--reproduce`), and for a scenario
//! its problems, the shard, the options that need `--out`, and memory, all reported
//! together. Nothing is simulated or written before this passes. What depends on the
//! backend (f64 on a GPU, a plan the adapter cannot fit) is checked when the backend
//! is built (`backends.rs`, `run.rs`), as resumed and reproduced runs take theirs from
//! their files.

use std::path::PathBuf;
use std::time::Duration;

use sptlab::capacity::memory_problems;
use sptlab::engine::choice::{BackendOptions, BackendRequest};
use sptlab::engine::{BackendKind, Precision};
use sptlab::output::out_dir::not_a_folder;
use sptlab::output::per_path::PerPathFormat;
use sptlab::output::shard::ShardSpec;
use sptlab::scenario::{Overrides, Plan, ScenarioSource};
use sptlab::summary::history::HistoricalOutcome;

use crate::args::{BackendChoice, ControlVariateChoice, PrecisionChoice, RunArgs};
use crate::failure::Failure;

/// Longest interval between checkpoints, in seconds (about 11.6 days).
const MAX_CHECKPOINT_EVERY: f64 = 1e6;

/// What `--out DIR` receives besides summary.json, the SVG figures and report.html.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outputs {
    pub per_path: Option<PerPathFormat>,
    pub png: bool,
    /// Replace an earlier run's results (or a stopped run's checkpoint) in --out.
    pub force: bool,
}

/// What to run.
pub enum RunMode {
    /// A validated scenario, from its first path: the whole run or one shard of it.
    Fresh { plan: Box<Plan>, source: String, shard: Option<ShardSpec>, history: Option<Box<HistoricalOutcome>> },
    /// `--resume DIR`: the killed run whose --out was DIR.
    Resume(PathBuf),
    /// `--reproduce summary.json`: that run again, compared number by number.
    Reproduce(PathBuf),
}

/// `sptlab run`, checked.
pub struct RunConfig {
    pub mode: RunMode,
    pub backend: BackendRequest,
    pub precision: Precision,
    pub threads: Option<usize>,
    pub batch_paths: Option<u64>,
    pub out: Option<PathBuf>,
    pub outputs: Outputs,
    pub quiet: bool,
    pub checkpoint_every: Duration,
}

impl RunConfig {
    /// Checks every option (and the scenario, for a fresh run); every problem found is
    /// reported, one per line, as bad input.
    pub fn from_args(args: RunArgs) -> Result<RunConfig, Failure> {
        let mut problems = option_problems(&args);
        let mode = match (&args.reproduce, &args.resume) {
            (Some(summary), _) => Some(RunMode::Reproduce(summary.clone())),
            (None, Some(out)) => Some(RunMode::Resume(out.clone())),
            (None, None) => None,
        };
        let mode = match mode {
            Some(mode) if problems.is_empty() => mode,
            Some(_) => return Err(Failure::bad_input(&problems)),
            None => {
                let fresh = fresh_run(&args, &mut problems);
                match fresh.filter(|_| problems.is_empty()) {
                    Some(mode) => mode,
                    None => return Err(Failure::bad_input(&problems)),
                }
            }
        };
        Ok(RunConfig {
            mode,
            backend: match args.backend {
                BackendChoice::Auto => BackendRequest::Auto,
                BackendChoice::Cpu => BackendRequest::Only(BackendKind::Cpu),
                BackendChoice::Gpu => BackendRequest::Only(BackendKind::Gpu),
            },
            precision: match args.precision {
                PrecisionChoice::F32 => Precision::F32,
                PrecisionChoice::F64 => Precision::F64,
            },
            threads: args.threads,
            batch_paths: args.batch_paths,
            out: args.out,
            outputs: Outputs { per_path: args.output.per_path(), png: args.output.png, force: args.output.force },
            quiet: args.quiet,
            checkpoint_every: Duration::from_secs_f64(args.checkpoint_every),
        })
    }
}

/// The range checks of `run`'s options that need no scenario, in one place (every
/// form of `run` passes through them): each problem as one line.
fn option_problems(args: &RunArgs) -> Vec<String> {
    let mut problems = Vec::new();
    let backend = BackendOptions {
        request: BackendRequest::Auto,
        precision: Precision::F32,
        threads: args.threads,
        batch_paths: args.batch_paths,
        cancel: None,
    };
    problems.extend(backend.problems(&|option| format!("--{}", option.replace('_', "-"))));
    let every = args.checkpoint_every;
    if !every.is_finite() || every.is_sign_negative() || every > MAX_CHECKPOINT_EVERY {
        problems.push(format!(
            "--checkpoint-every {every:?}: must be a number of seconds from 0 (every batch) to {MAX_CHECKPOINT_EVERY}"
        ));
    }
    problems.extend(args.out.as_deref().and_then(|out| not_a_folder(out, "--out")));
    problems
}

/// A fresh run's scenario, shard and output options checked, adding every problem to
/// `problems`; the run when the scenario at least validated.
fn fresh_run(args: &RunArgs, problems: &mut Vec<String>) -> Option<RunMode> {
    let scenario_source = scenario_source(&args.scenario);
    let source = scenario_source.name();
    let overrides = Overrides {
        paths: args.paths,
        years: args.years,
        seed: args.seed,
        control_variate: args.control_variate.map(ControlVariateChoice::chosen),
        antithetic: args.antithetic.then_some(true),
    };
    let plan = scenario_source.plan(&overrides).map_err(|found| problems.extend(found)).ok();
    let shard = match args.shard.as_deref().map(ShardSpec::parse).transpose() {
        Ok(shard) => shard,
        Err(reason) => {
            problems.push(reason.to_string());
            None
        }
    };
    let needs_out = [
        (args.output.per_path, "--per-path needs --out DIR"),
        (args.output.png, "--png needs --out DIR"),
        (args.output.force, "--force needs --out DIR (it lets a run replace the results there)"),
        (args.shard.is_some(), "--shard needs --out DIR (where `sptlab merge` will read it)"),
    ];
    for (asked, problem) in needs_out {
        if asked && args.out.is_none() {
            problems.push(problem.to_string());
        }
    }
    if args.shard.is_some() && args.output.png {
        problems.push("--png goes with `sptlab merge`: a shard writes no figures".into());
    }
    if args.shard.is_some() && args.output.per_path {
        problems.push("--per-path goes with `sptlab merge`: a shard always keeps its paths".into());
    }
    let plan = plan?;
    let range = shard.map_or(0..plan.paths, |shard| shard.paths(plan.paths, plan.antithetic));
    problems.extend(memory_problems(args.batch_paths, &source, &plan, range.end - range.start));
    // The data's own path, backtested before anything runs (its problems are bad input).
    let history = match &args.history {
        Some(data) => match sptlab::backtest::historical_outcome(&plan, data, args.caps) {
            Ok(history) => Some(Box::new(history)),
            Err(error) => {
                problems.extend(sptlab::backtest::history_problems(&error));
                None
            }
        },
        None => None,
    };
    Some(RunMode::Fresh { plan: Box::new(plan), source, shard, history })
}

/// The scenario `--scenario` names (the default scenario without one).
pub fn scenario_source(path: &Option<PathBuf>) -> ScenarioSource {
    path.clone().map_or(ScenarioSource::Default, ScenarioSource::File)
}
