//! The `sptlab` command line: parse arguments, call the library, print.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use sptlab::bench::Workload;
use sptlab::calibrate::{CalibrationModel, CalibrationOptions};
use sptlab::numeric::shrinkage::Shrinkage;
use sptlab::engine::gpu::{self, GpuBackend, GpuContext};
use sptlab::engine::{Backend, CpuBackend, Precision};
use sptlab::output::out_dir::{not_a_folder, Existing, OutDir, OutDirError};
use sptlab::scenario::{Overrides, Scenario, EXAMPLE_SCENARIOS};

/// Prints to stdout; a write that fails (a full disk, say) ends the command with
/// that error instead of a panic. Only in functions returning `Result<_, Failure>`.
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        std::io::stdout().lock().write_fmt(format_args!($($arg)*)).map_err(Failure::Stdout)?
    }};
}

macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout().lock(), $($arg)*).map_err(Failure::Stdout)?
    }};
}

/// A line on stderr; if stderr itself cannot be written there is nowhere to say so.
macro_rules! note {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

#[derive(Parser)]
#[command(name = "sptlab", version, about = "Monte Carlo research engine for Stochastic Portfolio Theory")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Simulate a scenario (the embedded default without a file) and report.
    Run(RunArgs),
    /// Print an example scenario, commented, as a starting point.
    Example {
        /// Which one: default, atlas, first_order, vsm, gbm_factor_500, calibrated_sp500_20.
        #[arg(default_value = "default")]
        name: String,
    },
    /// List GPU adapters and their limits, and the backend `auto` would choose.
    Info,
    /// Time benchmark workloads on the CPU and GPU backends in one run: the standard
    /// workload (100 stocks, full Cholesky, 2520 steps; optionally also on the numpy
    /// and JAX peers) and Atlas markets of 100 and 1,000 stocks.
    Bench(BenchArgs),
    /// Merge the shards of a run (`run --shard I/N`) into the whole run's results.
    Merge(MergeArgs),
    /// Fit a scenario to daily data: a wide CSV `Date,TICKER1,TICKER2,...` of prices
    /// (gbm) or market caps (first_order), one row per day, oldest first.
    Calibrate(CalibrateArgs),
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum CalibrationModelChoice {
    /// Growth, vol and correlation per stock, from prices.
    Gbm,
    /// Rank-based growth and vol, from market caps.
    #[value(name = "first_order", alias = "first-order")]
    FirstOrder,
}

#[derive(clap::Args)]
struct CalibrateArgs {
    /// The CSV file.
    data: PathBuf,
    /// Write the scenario here (default: print it).
    #[arg(long)]
    out: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "gbm")]
    model: CalibrationModelChoice,
    /// Use only the last YEARS years of the file (default: all of it).
    #[arg(long, value_name = "YEARS", allow_negative_numbers = true)]
    window: Option<f64>,
    /// Correlation shrinkage toward the identity: auto (Ledoit-Wolf) or an intensity in [0, 1].
    #[arg(long, default_value = "auto", value_parser = parse_shrinkage)]
    shrinkage: Shrinkage,
}

fn parse_shrinkage(text: &str) -> Result<Shrinkage, String> {
    if text == "auto" {
        return Ok(Shrinkage::Auto);
    }
    match text.parse::<f64>() {
        Ok(intensity) if (0.0..=1.0).contains(&intensity) => Ok(Shrinkage::Fixed(intensity)),
        _ => Err(format!("expected auto or a number in [0, 1], got {text}")),
    }
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum WorkloadChoice {
    /// 100 stocks, full Cholesky, 2000 paths: the peers' workload.
    Standard,
    /// 500 stocks, 10-factor covariance, 20,000 paths.
    Large,
    /// An Atlas market of 100 stocks, 2000 paths.
    Rank,
    /// standard, large and rank.
    All,
    /// Throughput and memory against paths (10^2..10^6), stocks (10..2,000) and steps,
    /// on CPU f32 and the GPU (a software adapter runs the smaller sizes only).
    Scaling,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum BenchBackendChoice {
    /// The GPU adapter (when there is one), CPU f32 and CPU f64.
    All,
    Gpu,
    /// CPU f32 and CPU f64.
    Cpu,
}

#[derive(clap::Args)]
struct BenchArgs {
    #[arg(long, value_enum, default_value = "standard")]
    workload: WorkloadChoice,
    #[arg(long, value_enum, default_value = "all")]
    backend: BenchBackendChoice,
    /// Paths for CPU f32, hardware GPUs and the peers (default: the workload's own;
    /// CPU f64 runs a quarter of them).
    #[arg(long)]
    paths: Option<u64>,
    /// Paths for the GPU backend (default: as --paths on hardware, 128 on a software
    /// adapter, which also runs rank and large workloads over one year).
    #[arg(long)]
    gpu_paths: Option<u64>,
    /// Timed repetitions of each measurement, after one warm-up (median and minimum shown).
    #[arg(long, default_value_t = 5)]
    repeat: usize,
    /// Also write the measurements as JSON (one object per workload and backend).
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Directory holding numpy_peer.py and jax_peer.py (e.g. ../shared/peers).
    #[arg(long)]
    peers: Option<PathBuf>,
    /// Python interpreter with numpy and jax for the peers.
    #[arg(long, default_value = "python3")]
    python: PathBuf,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum BackendChoice {
    /// A hardware GPU when one exists, else the CPU.
    Auto,
    Gpu,
    Cpu,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum PerPathFormatChoice {
    Parquet,
    Csv,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum PrecisionChoice {
    F32,
    F64,
}

#[derive(clap::Args, Clone)]
struct RunArgs {
    /// Scenario file (TOML); the embedded default scenario when absent.
    scenario: Option<PathBuf>,
    /// Number of simulated paths (overrides the file).
    #[arg(long)]
    paths: Option<u64>,
    /// Horizon in years (overrides the file).
    #[arg(long, allow_negative_numbers = true)]
    years: Option<f64>,
    /// Random seed (overrides the file).
    #[arg(long)]
    seed: Option<u64>,
    #[arg(long, value_enum, default_value = "auto")]
    backend: BackendChoice,
    /// f64 is available on the CPU backend only.
    #[arg(long, value_enum, default_value = "f32")]
    precision: PrecisionChoice,
    /// CPU threads (default: every core).
    #[arg(long)]
    threads: Option<usize>,
    /// Write summary.json, the figures and report.html into this directory.
    #[arg(long)]
    out: Option<PathBuf>,
    #[command(flatten)]
    output: OutputOptions,
    /// Print nothing but errors.
    #[arg(long)]
    quiet: bool,
    /// Paths per batch (memory, and how often a checkpoint can be written; results do not
    /// depend on it). The GPU rounds it up to whole workgroups and may take fewer.
    #[arg(long)]
    batch_paths: Option<u64>,
    /// Re-run the run that wrote this summary.json (its scenario, seed, backend and
    /// precision; --threads and --batch-paths may differ) and report whether every
    /// number matches: exactly on the CPU, within 1e-3 (relative) on a GPU.
    #[arg(long, value_name = "SUMMARY_JSON", conflicts_with_all = ["scenario", "paths", "years", "seed", "shard", "out", "force", "per_path", "png"])]
    reproduce: Option<PathBuf>,
    /// Continue the run whose --out was DIR from its last checkpoint (same scenario,
    /// backend, precision and output options; --threads and --batch-paths may differ).
    /// The results equal those of a run that was never stopped.
    #[arg(
        long,
        value_name = "DIR",
        conflicts_with_all = ["scenario", "paths", "years", "seed", "shard", "reproduce", "out", "backend", "precision", "force"]
    )]
    resume: Option<PathBuf>,
    /// With --out: write a checkpoint after a finished batch of paths once this many
    /// seconds have passed since the last (0: after every batch).
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0, allow_negative_numbers = true)]
    checkpoint_every: f64,
    /// Simulate only shard I of N (paths [I·P/N, (I+1)·P/N), with the random numbers they
    /// have in the whole run) and write it to --out for `sptlab merge`.
    #[arg(long, value_name = "I/N")]
    shard: Option<String>,
}

#[derive(clap::Args)]
struct MergeArgs {
    /// Directories written by `sptlab run --shard I/N --out DIR`, every shard of one run.
    #[arg(required = true)]
    shards: Vec<PathBuf>,
    /// Where to write summary.json, the figures and report.html.
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    output: OutputOptions,
    /// Print nothing but errors.
    #[arg(long)]
    quiet: bool,
}

/// What `--out DIR` holds besides summary.json, the SVG figures and report.html.
#[derive(clap::Args, Clone)]
struct OutputOptions {
    /// Also write every path's statistics (needs --out): paths.parquet, or paths.csv
    /// with --per-path-format csv.
    #[arg(long)]
    per_path: bool,
    #[arg(long, value_enum, default_value = "parquet")]
    per_path_format: PerPathFormatChoice,
    /// Also write each figure as PNG.
    #[arg(long)]
    png: bool,
    /// Replace the results of an earlier run (or discard a stopped run's checkpoint) in
    /// the --out folder; only files sptlab wrote there are removed.
    #[arg(long)]
    force: bool,
}

impl OutputOptions {
    /// The per-path file's format, when one is asked for.
    fn per_path(&self) -> Option<sptlab::output::table::PerPathFormat> {
        self.per_path.then_some(match self.per_path_format {
            PerPathFormatChoice::Parquet => sptlab::output::table::PerPathFormat::Parquet,
            PerPathFormatChoice::Csv => sptlab::output::table::PerPathFormat::Csv,
        })
    }
}

/// Largest master-equation residual an f32 run shows without losing weights to
/// underflow (measured: about 3e-5 over 2520 steps; GPU tests allow 1e-3).
const F32_RESIDUAL_LIMIT: f64 = 1e-3;

const GIB: f64 = (1u64 << 30) as f64;

/// This machine's memory in bytes (Linux: MemTotal), when known.
fn physical_memory() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|line| line.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Errors sorted by exit status: 2 for bad input, 1 for everything else (141 for a
/// closed stdout, as a shell reports a process ended by SIGPIPE).
enum Failure {
    BadInput(String),
    Other(anyhow::Error),
    /// Standard output could not be written.
    Stdout(std::io::Error),
}

impl From<OutDirError> for Failure {
    fn from(error: OutDirError) -> Failure {
        match error {
            OutDirError::Refused(reason) => Failure::BadInput(reason),
            error => Failure::Other(error.into()),
        }
    }
}

impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Failure {
        Failure::Other(error)
    }
}

fn main() -> ExitCode {
    // Output piped into `head` and closed early ends the process quietly, as with other
    // Unix tools, rather than panicking in println!.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // A write past a file-size limit (RLIMIT_FSIZE) fails with an error sptlab
    // reports and cleans up after, instead of killing the process.
    #[cfg(unix)]
    // SAFETY: as above.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
    quiet_mesa_probe();
    // RUST_LOG=sptlab=info (or =debug, or wgpu=warn, ...) shows what the run is doing.
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("off")).init();
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Run(args) => run(args),
        Command::Example { name } => example(&name),
        Command::Info => info(),
        Command::Bench(args) => bench(args),
        Command::Calibrate(args) => calibrate(args),
        Command::Merge(args) => merge(args),
    };
    let outcome = outcome.and_then(|()| {
        use std::io::Write as _;
        std::io::stdout().flush().map_err(Failure::Stdout)
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::BadInput(message)) => {
            // One problem per line, each its own "error:" line.
            for line in message.lines() {
                note!("error: {line}");
            }
            ExitCode::from(2)
        }
        Err(Failure::Other(error)) => {
            note!("error: {error:#}");
            ExitCode::from(1)
        }
        Err(Failure::Stdout(error)) if error.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::from(141),
        Err(Failure::Stdout(error)) => {
            note!("error: writing to standard output: {error}");
            ExitCode::from(1)
        }
    }
}

/// Mesa's drivers print "XDG_RUNTIME_DIR is invalid or not set" when probed without
/// one (any headless machine), though nothing is wrong: give the process a private
/// one first. Called before any thread starts.
fn quiet_mesa_probe() {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
        if std::env::var_os("XDG_RUNTIME_DIR").is_some_and(|dir| std::path::Path::new(&dir).is_dir()) {
            return;
        }
        // SAFETY: getuid has no preconditions.
        let uid = unsafe { libc::getuid() };
        let dir = std::env::temp_dir().join(format!("sptlab-runtime-{uid}"));
        let _ = std::fs::DirBuilder::new().mode(0o700).create(&dir);
        // Only a directory of this user's that no one else can enter (as the spec asks).
        let private = std::fs::symlink_metadata(&dir)
            .is_ok_and(|m| m.is_dir() && m.uid() == uid && m.permissions().mode() & 0o077 == 0);
        if private {
            // SAFETY: no other thread exists yet (called first thing in main).
            std::env::set_var("XDG_RUNTIME_DIR", &dir);
        }
    }
}

fn example(name: &str) -> Result<(), Failure> {
    match EXAMPLE_SCENARIOS.iter().find(|(example, _)| *example == name) {
        Some((_, text)) => {
            out!("{text}");
            Ok(())
        }
        None => {
            let names: Vec<&str> = EXAMPLE_SCENARIOS.iter().map(|(example, _)| *example).collect();
            Err(Failure::BadInput(format!("no example scenario named {name}; there are: {}", names.join(", "))))
        }
    }
}

/// Every problem of a scenario, one per line, each prefixed with where it came from.
fn scenario_problems(source: &str, error: &sptlab::scenario::ScenarioError) -> Vec<String> {
    error.problems().iter().map(|problem| format!("{source}: {problem}")).collect()
}

fn load_scenario(path: &Option<PathBuf>) -> Result<Scenario, Vec<String>> {
    match path {
        None => Ok(Scenario::default_scenario()),
        Some(path) => {
            let text = sptlab::files::read_text_limited(path, sptlab::files::MAX_TEXT_INPUT)
                .map_err(|error| vec![format!("{}: cannot read the scenario: {error}", path.display())])?;
            Scenario::from_toml(&text).map_err(|error| scenario_problems(&path.display().to_string(), &error))
        }
    }
}

fn precision_of(choice: PrecisionChoice) -> Precision {
    match choice {
        PrecisionChoice::F32 => Precision::F32,
        PrecisionChoice::F64 => Precision::F64,
    }
}

/// The options that rerun a recorded run: its backend ("cpu" or "gpu") and precision.
fn recorded_choices(backend: &str, precision: Precision) -> (BackendChoice, PrecisionChoice) {
    let backend = if backend == "gpu" { BackendChoice::Gpu } else { BackendChoice::Cpu };
    let precision = match precision {
        Precision::F32 => PrecisionChoice::F32,
        Precision::F64 => PrecisionChoice::F64,
    };
    (backend, precision)
}

/// The CPU backend as the options ask for it (threads, batch size).
fn cpu_backend(args: &RunArgs, precision: Precision) -> Box<dyn Backend> {
    let backend = CpuBackend::new(precision, args.threads);
    Box::new(match args.batch_paths {
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

fn choose_backend(args: &RunArgs) -> Result<Box<dyn Backend>, Failure> {
    let precision = precision_of(args.precision);
    match args.backend {
        BackendChoice::Cpu => Ok(cpu_backend(args, precision)),
        BackendChoice::Gpu => {
            if precision == Precision::F64 {
                return Err(Failure::BadInput(
                    "--precision f64 is available on the CPU backend only (the GPU kernels are f32)".into(),
                ));
            }
            let context = GpuContext::new(true).context("--backend gpu")?;
            Ok(gpu_backend(context, args.batch_paths))
        }
        BackendChoice::Auto => {
            if precision == Precision::F64 {
                return Ok(cpu_backend(args, precision));
            }
            // SPTLAB_AUTO_SOFTWARE_GPU=1 lets auto take a software adapter (lavapipe), as
            // tests of the GPU fall-back do.
            let allow_software = std::env::var("SPTLAB_AUTO_SOFTWARE_GPU").as_deref() == Ok("1");
            match GpuContext::new(allow_software) {
                Ok(context) => Ok(gpu_backend(context, args.batch_paths)),
                Err(reason) => {
                    if !args.quiet {
                        let hint = match reason {
                            gpu::GpuError::SoftwareOnly { .. } => " (--backend gpu runs on it anyway)",
                            _ => "",
                        };
                        note!("note: using the CPU backend: {reason}{hint}");
                    }
                    Ok(cpu_backend(args, precision))
                }
            }
        }
    }
}

/// Most CPU threads a run may ask for: more only add overhead (and creating a
/// hundred thousand takes the machine down).
const MAX_THREADS: usize = 1024;
/// Longest interval between checkpoints, in seconds (about 11.6 days).
const MAX_CHECKPOINT_EVERY: f64 = 1e6;

/// The range checks of `run`'s options that need no scenario, in one place (every
/// form of `run` passes through them): each problem as one line.
fn option_problems(args: &RunArgs) -> Vec<String> {
    let mut problems = Vec::new();
    if args.batch_paths == Some(0) {
        problems.push("--batch-paths: must be at least 1".into());
    }
    match args.threads {
        Some(0) => problems.push("--threads: must be at least 1".into()),
        Some(threads) if threads > MAX_THREADS => problems.push(format!(
            "--threads {threads}: at most {MAX_THREADS}; this machine has {} cores, and more threads than cores \
             only add overhead",
            std::thread::available_parallelism().map_or(1, |n| n.get())
        )),
        _ => {}
    }
    let every = args.checkpoint_every;
    if !every.is_finite() || every.is_sign_negative() || every > MAX_CHECKPOINT_EVERY {
        problems.push(format!(
            "--checkpoint-every {every:?}: must be a number of seconds from 0 (every batch) to {MAX_CHECKPOINT_EVERY}"
        ));
    }
    problems.extend(args.out.as_deref().and_then(|out| not_a_folder(out, "--out")));
    problems
}

/// Whether `paths` paths of `plan` fit in this machine's memory: their per-path
/// statistics, and one batch of `--batch-paths` paths, whose accumulators hold every
/// stock's terminal log cap for every path (a large batch of a large market is
/// refused before it is allocated). `source` names the scenario in messages.
fn memory_problems(args: &RunArgs, source: &str, plan: &sptlab::Plan, paths: u64) -> Vec<String> {
    let Some(memory) = physical_memory() else {
        return Vec::new();
    };
    let mut problems = Vec::new();
    let needed = sptlab::summary::results::Results::bytes_needed(plan, paths);
    if needed > memory {
        problems.push(format!(
            "{source}: paths: {paths} paths x {} strategies keep {:.1} GiB of per-path statistics, more than this \
             machine's {:.1} GiB of memory; split the run with --shard I/N (a shard holds only its paths)",
            plan.strategies.len(),
            needed as f64 / GIB,
            memory as f64 / GIB
        ));
    }
    if let Some(batch) = args.batch_paths {
        let batch = batch.min(paths.max(1));
        let per_path = sptlab::engine::BatchAccumulators::bytes_needed(1, plan.n(), plan.strategies.len());
        let needed = sptlab::engine::BatchAccumulators::bytes_needed(batch, plan.n(), plan.strategies.len());
        if needed > memory / 2 {
            problems.push(format!(
                "--batch-paths {batch}: a batch of {batch} paths of {} stocks needs {:.1} GiB, more than half of \
                 this machine's {:.1} GiB of memory; at most {} paths per batch here",
                plan.n(),
                needed as f64 / GIB,
                memory as f64 / GIB,
                memory / 2 / per_path
            ));
        }
    }
    problems
}

fn run(args: RunArgs) -> Result<(), Failure> {
    let option_problems = option_problems(&args);
    if (args.reproduce.is_some() || args.resume.is_some()) && !option_problems.is_empty() {
        return Err(Failure::BadInput(option_problems.join("\n")));
    }
    if let Some(summary) = &args.reproduce {
        return reproduce(summary, &args);
    }
    if let Some(out) = &args.resume {
        return resume(out, &args);
    }
    // Every problem of the scenario and the options, reported together.
    let mut problems = option_problems;
    let source = args.scenario.as_ref().map_or("default scenario".to_string(), |p| p.display().to_string());
    let plan = match load_scenario(&args.scenario) {
        Ok(mut scenario) => {
            scenario.apply(&Overrides { paths: args.paths, years: args.years, seed: args.seed });
            scenario.validate().map_err(|error| problems.extend(scenario_problems(&source, &error))).ok()
        }
        Err(found) => {
            problems.extend(found);
            None
        }
    };
    let shard = match args.shard.as_deref().map(sptlab::output::shard::ShardSpec::parse).transpose() {
        Ok(shard) => shard,
        Err(reason) => {
            problems.push(reason);
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
    if let Some(plan) = &plan {
        let range = shard.map_or(0..plan.paths, |shard| shard.paths(plan.paths));
        let paths = range.end - range.start;
        problems.extend(memory_problems(&args, &source, plan, paths));
    }
    let Some(plan) = plan.filter(|_| problems.is_empty()) else {
        return Err(Failure::BadInput(problems.join("\n")));
    };
    if let (Some(asked), false) = (plan.asked_years, args.quiet) {
        note!(
            "note: years = {asked} is {} steps of 1/{} year; simulating {} whole steps, a horizon of {} years \
             (summary.json records it)",
            format!("{:.6}", asked * plan.steps_per_year as f64).trim_end_matches('0').trim_end_matches('.'),
            plan.steps_per_year,
            plan.steps,
            plan.years()
        );
    }
    execute(&args, plan, &source, shard, None)
}

/// `run --resume DIR`: the killed run whose --out was DIR, continued from its checkpoint.
fn resume(out: &std::path::Path, args: &RunArgs) -> Result<(), Failure> {
    // Locked first: a second resume, or a run into the same folder, waits its turn.
    let out_dir = OutDir::open(out, Existing::Resume)?;
    let resumed = sptlab::output::checkpoint::resume(out).map_err(Failure::BadInput)?;
    let options = resumed.options.clone();
    if options.shard.is_some() && (args.output.png || args.output.per_path) {
        return Err(Failure::BadInput(format!(
            "--png and --per-path go with `sptlab merge`: {} holds the checkpoint of a shard",
            out.display()
        )));
    }
    // Options given now win; otherwise the killed run's.
    let per_path_format = match (args.output.per_path, options.per_path.as_deref()) {
        (false, Some("csv")) => PerPathFormatChoice::Csv,
        (false, Some(_)) => PerPathFormatChoice::Parquet,
        _ => args.output.per_path_format,
    };
    let (backend, precision) = recorded_choices(resumed.backend, resumed.precision);
    let args = RunArgs {
        backend,
        precision,
        out: Some(out.to_path_buf()),
        output: OutputOptions {
            per_path: args.output.per_path || options.per_path.is_some(),
            per_path_format,
            png: args.output.png || options.png,
            force: false,
        },
        ..args.clone()
    };
    let range = resumed.results.path_range.clone();
    let problems = memory_problems(&args, &out.display().to_string(), &resumed.plan, range.end - range.start);
    if !problems.is_empty() {
        return Err(Failure::BadInput(problems.join("\n")));
    }
    if !args.quiet {
        note!("resuming {}: {} of {} paths were done", out.display(), resumed.results.paths(), range.end - range.start);
    }
    let plan = resumed.plan.clone();
    execute(&args, plan, &out.display().to_string(), options.shard, Some((resumed, out_dir)))
}

/// Simulates a validated plan (or the rest of a resumed one), checkpointing into --out
/// as it goes, and writes and prints the results.
fn execute(
    args: &RunArgs,
    plan: sptlab::Plan,
    source: &str,
    shard: Option<sptlab::output::shard::ShardSpec>,
    resumed: Option<(sptlab::output::checkpoint::Resumed, OutDir)>,
) -> Result<(), Failure> {
    let mut backend = choose_backend(args)?;
    if let Err(reason) = backend.check_fits(&plan) {
        // `auto` may fall back to the CPU, which runs every plan; an explicit choice may not.
        if args.backend != BackendChoice::Auto || backend.info().backend == "cpu" {
            return Err(Failure::BadInput(format!("{source}: {reason}")));
        }
        if !args.quiet {
            note!("note: using the CPU backend: {reason}");
        }
        backend = cpu_backend(args, Precision::F32);
    }
    // The output folder is opened (created, locked, checked) only now that nothing
    // else can refuse the run.
    let (resumed, mut out_dir) = match resumed {
        Some((resumed, out_dir)) => (Some(resumed), Some(out_dir)),
        None => {
            let existing = if args.output.force { Existing::Replace } else { Existing::Refuse };
            (None, args.out.as_deref().map(|out| OutDir::open(out, existing)).transpose()?)
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
    // The bar appears only once a run has lasted a second.
    let asset_steps_per_path = plan.n() as f64 * plan.steps as f64;
    let bar = ProgressBar::with_draw_target(Some(plan.paths), ProgressDrawTarget::hidden()).with_style(
        ProgressStyle::with_template(
            "{spinner} {wide_bar} {pos}/{len} paths, {asset_steps} asset-steps/s, {elapsed} elapsed, eta {eta}",
        )
        .expect("the progress template is valid")
        .with_key("asset_steps", move |state: &indicatif::ProgressState, out: &mut dyn std::fmt::Write| {
            let _ = write!(out, "{:.0} M", state.per_sec() * asset_steps_per_path / 1e6);
        }),
    );
    let started = Instant::now();
    let shown = AtomicBool::new(false);
    let progress = |paths: u64| {
        bar.inc(paths);
        if !args.quiet && started.elapsed().as_secs_f64() > 1.0 && !shown.swap(true, Ordering::Relaxed) {
            bar.set_draw_target(ProgressDrawTarget::stderr());
        }
    };
    let range = shard.map_or(0..plan.paths, |shard| shard.paths(plan.paths));
    bar.set_length(range.end - range.start);
    let (mut start, seconds_before) = match resumed {
        Some(resumed) => (Some(resumed.results), resumed.seconds),
        None => (None, 0.0),
    };
    let every = std::time::Duration::from_secs_f64(args.checkpoint_every);
    let options = sptlab::output::checkpoint::RunOptions {
        shard,
        per_path: args.output.per_path().map(|format| format.name().to_string()),
        png: args.output.png,
    };
    // Runs once, or twice when a GPU fails mid-run under `auto` and the CPU takes over.
    let (results, run, checkpointer) = loop {
        let start = start.take().unwrap_or_else(|| sptlab::Results::for_paths(&plan, range.clone()));
        bar.set_position(start.paths() as u64);
        let mut checkpointer = match &out_dir {
            None => None,
            Some(out_dir) => {
                let out = out_dir.path();
                Some(if start.paths() > 0 {
                    sptlab::output::checkpoint::Checkpointer::continuing(out, every, options.clone(), backend.info())
                        .with_context(|| format!("reading the checkpoint in {}", out.display()))?
                } else {
                    sptlab::output::checkpoint::Checkpointer::new(out, every, options.clone(), backend.info())
                        .with_context(|| format!("clearing this run's checkpoint in {}", out.display()))?
                })
            }
        };
        let mut after_batch = |results: &sptlab::Results, seconds: f64| match checkpointer.as_mut() {
            Some(checkpointer) => checkpointer
                .save(&plan, results, seconds)
                .map_err(|error| sptlab::EngineError::Checkpoint(error.to_string())),
            None => Ok(()),
        };
        let outcome =
            sptlab::simulate_from(&plan, backend.as_mut(), start, seconds_before, &progress, &mut after_batch);
        match outcome {
            // A GPU that fails mid-run under `auto` (a kernel the driver cannot build, a
            // buffer it cannot allocate, a lost device): nothing was written but
            // checkpoints, which the CPU run replaces, so running again on the CPU is safe.
            Err(sptlab::EngineError::Gpu(error))
                if args.backend == BackendChoice::Auto && seconds_before == 0.0 && backend.info().backend == "gpu" =>
            {
                if !args.quiet {
                    note!("note: the GPU run failed ({error}); running on the CPU backend instead");
                }
                backend = cpu_backend(args, Precision::F32);
            }
            Ok((results, run)) => break (results, run, checkpointer),
            Err(error) => {
                bar.finish_and_clear();
                let resumable = match &out_dir {
                    Some(out_dir) if sptlab::output::checkpoint::paths_done(out_dir.path()).is_some() => format!(
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
        let files = sptlab::output::shard::shard_files(&plan, shard, &results, &run);
        out_dir
            .publish(files, &["shard.json"])
            .with_context(|| format!("writing the shard to {}", out_dir.path().display()))?;
        if let Some(checkpointer) = checkpointer {
            checkpointer
                .finish()
                .with_context(|| format!("removing the checkpoint in {}", out_dir.path().display()))?;
            out_dir.release_checkpoint().with_context(|| format!("writing to {}", out_dir.path().display()))?;
        }
        if !args.quiet {
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
    let report = sptlab::Report::new(&plan, &results, run);
    if let Some(out_dir) = out_dir.as_mut() {
        write_results(out_dir, (&plan, &report, &results), args.output.per_path(), args.output.png)?;
        if let Some(checkpointer) = checkpointer {
            checkpointer
                .finish()
                .with_context(|| format!("removing the checkpoint in {}", out_dir.path().display()))?;
            out_dir.release_checkpoint().with_context(|| format!("writing to {}", out_dir.path().display()))?;
        }
    }
    if !args.quiet {
        // f32 weights lose their digits below 1e-38: a market that concentrated that far
        // needs f64 for trustworthy weightings of its smallest stocks. The decomposition
        // shows it: its terms stop adding up to the relative return.
        if report.run.backend.precision == Precision::F32 {
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
        out!("{}", sptlab::output::table::table(&report));
        if let Some(out) = &args.out {
            outln!("wrote {}", out.join("summary.json").display());
        }
    }
    Ok(())
}

/// `run --reproduce summary.json`: the same run again, compared number by number.
fn reproduce(summary_path: &std::path::Path, args: &RunArgs) -> Result<(), Failure> {
    let bad = |reason: String| Failure::BadInput(format!("{}: {reason}", summary_path.display()));
    let text = sptlab::files::read_text_limited(summary_path, sptlab::files::MAX_TEXT_INPUT)
        .map_err(|e| bad(format!("cannot read: {e}")))?;
    let original: serde_json::Value = serde_json::from_str(&text).map_err(|e| bad(format!("not JSON: {e}")))?;
    let manifest =
        original.get("manifest").ok_or_else(|| bad("has no manifest (written before sptlab recorded one)".into()))?;
    let scenario: sptlab::Scenario =
        serde_json::from_value(original["scenario"].clone()).map_err(|e| bad(format!("scenario: {e}")))?;
    let plan = scenario.validate().map_err(|e| bad(format!("scenario: {e}")))?;
    // The manifest must describe the scenario written beside it: a run is reproduced
    // from its scenario, so a manifest that disagrees would "confirm" another run.
    let mut problems = Vec::new();
    let text_of = |value: &serde_json::Value| value.as_str().map_or_else(|| value.to_string(), str::to_string);
    let hash = sptlab::output::shard::scenario_hash(&scenario);
    if manifest["scenario_hash"] != hash.as_str() {
        problems.push(format!(
            "manifest.scenario_hash: {} is not the hash of the scenario written beside it ({hash}); \
             the file was edited or damaged",
            text_of(&manifest["scenario_hash"])
        ));
    }
    if manifest["seed"] != scenario.seed {
        problems.push(format!(
            "manifest.seed: {} is not the scenario's seed {}",
            text_of(&manifest["seed"]),
            scenario.seed
        ));
    }
    if manifest["rng_contract"] != sptlab::output::shard::RNG_CONTRACT {
        problems.push(format!(
            "manifest.rng_contract: the run was drawn under {}, this sptlab draws under {}",
            text_of(&manifest["rng_contract"]),
            sptlab::output::shard::RNG_CONTRACT
        ));
    }
    let backend = manifest["backend"].as_str().and_then(sptlab::engine::backend_label);
    if backend.is_none() {
        problems.push(format!("manifest.backend: expected cpu or gpu, found {}", text_of(&manifest["backend"])));
    }
    let precision = manifest["precision"].as_str().and_then(Precision::from_name);
    if precision.is_none() {
        problems.push(format!("manifest.precision: expected f32 or f64, found {}", text_of(&manifest["precision"])));
    }
    if backend == Some("gpu") && precision == Some(Precision::F64) {
        problems.push("manifest: a GPU run is always f32".to_string());
    }
    let (Some(backend), Some(precision), true) = (backend, precision, problems.is_empty()) else {
        let lines: Vec<String> = problems.iter().map(|p| format!("{}: {p}", summary_path.display())).collect();
        return Err(Failure::BadInput(lines.join("\n")));
    };
    if manifest["sptlab_version"] != env!("CARGO_PKG_VERSION") && !args.quiet {
        note!(
            "warning: {} was written by sptlab {}, this is {}: numbers may differ where the versions do",
            summary_path.display(),
            text_of(&manifest["sptlab_version"]),
            env!("CARGO_PKG_VERSION")
        );
    }
    let on_gpu = backend == "gpu";
    let (backend, precision) = recorded_choices(backend, precision);
    let rerun_args = RunArgs { backend, precision, ..args.clone() };
    let problems = memory_problems(&rerun_args, &summary_path.display().to_string(), &plan, plan.paths);
    if !problems.is_empty() {
        return Err(Failure::BadInput(problems.join("\n")));
    }
    let mut backend = choose_backend(&rerun_args)?;
    backend.check_fits(&plan).map_err(bad)?;
    let (report, _) = sptlab::run(&plan, backend.as_mut(), &|_| {}).context("simulation failed")?;
    let again: serde_json::Value =
        serde_json::from_str(&sptlab::output::table::summary_json(&report)).context("re-reading the summary")?;
    let tolerance = if on_gpu { 1e-3 } else { 0.0 };
    let mut differences = Vec::new();
    for section in ["scenario", "market", "strategies", "comparisons"] {
        json_differences(section, &original[section], &again[section], tolerance, &mut differences);
    }
    let how = if on_gpu { "within 1e-3 (GPU)" } else { "exactly (CPU)" };
    if differences.is_empty() {
        if !args.quiet {
            outln!(
                "reproduced {}: every number of {} matches {how}, on {}",
                summary_path.display(),
                report.scenario.name,
                report.run.backend.adapter
            );
        }
        Ok(())
    } else {
        let shown: Vec<&str> = differences.iter().take(5).map(String::as_str).collect();
        Err(Failure::Other(anyhow::anyhow!(
            "not reproduced: {} numbers of {} differ ({how} expected); first: {}",
            differences.len(),
            summary_path.display(),
            shown.join("; ")
        )))
    }
}

/// Where `a` and `b` differ (numbers by more than `tolerance`, relative), as JSON paths.
fn json_differences(at: &str, a: &serde_json::Value, b: &serde_json::Value, tolerance: f64, out: &mut Vec<String>) {
    use serde_json::Value;
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (key, value) in x {
                json_differences(&format!("{at}.{key}"), value, y.get(key).unwrap_or(&Value::Null), tolerance, out);
            }
            if let Some(extra) = y.keys().find(|key| !x.contains_key(*key)) {
                out.push(format!("{at}.{extra}: new"));
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (index, (p, q)) in x.iter().zip(y).enumerate() {
                json_differences(&format!("{at}[{index}]"), p, q, tolerance, out);
            }
        }
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap_or(f64::NAN), y.as_f64().unwrap_or(f64::NAN));
            if x != y && (x - y).abs() > tolerance * x.abs().max(y.abs()).max(1e-12) {
                out.push(format!("{at}: {x} then {y}"));
            }
        }
        (x, y) if x != y => out.push(format!("{at}: {x} then {y}")),
        _ => {}
    }
}

fn info() -> Result<(), Failure> {
    outln!("sptlab {}", env!("CARGO_PKG_VERSION"));
    outln!("CPU backend: {} threads, {} kernel", rayon::current_num_threads(), sptlab::engine::cpu::kernel_flavour());
    let adapters = gpu::list_adapters();
    if adapters.is_empty() {
        outln!("GPU adapters: none found");
    }
    for adapter in &adapters {
        outln!("GPU adapter: {adapter}");
    }
    let auto = match GpuContext::new(false) {
        Ok(context) => format!("gpu ({})", context.adapter_name()),
        Err(reason) => format!("cpu ({reason})"),
    };
    outln!("--backend auto chooses: {auto}");
    Ok(())
}

/// Most timed repetitions `bench` takes (each can take minutes).
const MAX_REPEAT: usize = 1000;

fn bench(args: BenchArgs) -> Result<(), Failure> {
    let valid = |paths: u64| (1..=sptlab::scenario::MAX_PATHS).contains(&paths);
    if !args.paths.is_none_or(valid) || !args.gpu_paths.is_none_or(valid) {
        return Err(Failure::BadInput(format!(
            "--paths and --gpu-paths must be between 1 and {}",
            sptlab::scenario::MAX_PATHS
        )));
    }
    if args.repeat == 0 {
        return Err(Failure::BadInput("--repeat must be at least 1".into()));
    }
    if args.repeat > MAX_REPEAT {
        return Err(Failure::BadInput(format!("--repeat {}: at most {MAX_REPEAT}", args.repeat)));
    }
    if let Some(problem) = args.json.as_deref().and_then(|json| output_file_problem("--json", json)) {
        return Err(Failure::BadInput(problem));
    }
    let workloads: Vec<Workload> = match args.workload {
        WorkloadChoice::Standard => vec![Workload::Standard],
        WorkloadChoice::Large => vec![Workload::Large],
        WorkloadChoice::Rank => vec![Workload::Rank(100)],
        WorkloadChoice::All => vec![Workload::Standard, Workload::Large, Workload::Rank(100)],
        WorkloadChoice::Scaling => Vec::new(),
    };
    let with_cpu = args.backend != BenchBackendChoice::Gpu;
    let mut gpu = match (args.backend, GpuContext::new(true)) {
        (BenchBackendChoice::Cpu, _) => None,
        (_, Ok(context)) => Some(GpuBackend::new(context)),
        (BenchBackendChoice::Gpu, Err(reason)) => {
            return Err(Failure::Other(anyhow::anyhow!("no GPU backend: {reason}")))
        }
        (BenchBackendChoice::All, Err(reason)) => {
            note!("no GPU backend: {reason}");
            None
        }
    };
    if args.workload == WorkloadChoice::Scaling {
        return bench_scaling(&args, with_cpu, gpu.as_mut());
    }
    let mut measurements = Vec::new();
    for &workload in &workloads {
        let paths = args.paths.unwrap_or(workload.default_paths());
        if with_cpu {
            for (precision, cpu_paths) in [(Precision::F32, paths), (Precision::F64, (paths / 4).max(1))] {
                let mut cpu = CpuBackend::new(precision, None);
                note!("timing {} on CPU {}, {cpu_paths} paths...", workload.name(), precision.name());
                let size = sptlab::bench::RunSize { paths: cpu_paths, years: None };
                measurements.push(
                    sptlab::bench::measure_backend(&mut cpu, workload, size, args.repeat).context("CPU backend")?,
                );
            }
        }
        if let Some(gpu) = gpu.as_mut() {
            // A software adapter is slow: fewer paths, and one year of the larger workloads.
            let size = match (gpu.is_software(), workload) {
                (false, _) => sptlab::bench::RunSize { paths: args.gpu_paths.unwrap_or(paths), years: None },
                (true, Workload::Standard) => {
                    sptlab::bench::RunSize { paths: args.gpu_paths.unwrap_or(128), years: None }
                }
                (true, _) => sptlab::bench::RunSize { paths: args.gpu_paths.unwrap_or(128), years: Some(1.0) },
            };
            note!("timing {} on the GPU backend ({}), {} paths...", workload.name(), gpu.info().adapter, size.paths);
            measurements.push(sptlab::bench::measure_backend(gpu, workload, size, args.repeat).context("GPU backend")?);
        }
    }
    if let Some(peers) = args.peers.as_ref().filter(|_| workloads.contains(&Workload::Standard)) {
        let paths = args.paths.unwrap_or(Workload::Standard.default_paths());
        for script in ["numpy_peer.py", "jax_peer.py"] {
            note!("timing {script}, {paths} paths...");
            match sptlab::bench::measure_peer(&args.python, &peers.join(script), paths, args.repeat) {
                Ok(measurement) => measurements.push(measurement),
                Err(reason) => note!("skipping {script}: {reason}"),
            }
        }
    }
    sptlab::bench::add_ratios(&mut measurements);
    for workload in &workloads {
        outln!("{}: {}", workload.name(), workload.description());
    }
    outln!("strategies: equal and diversity 0.5 against the market, rebalanced every step");
    out!("{}", sptlab::bench::table(&measurements));
    outln!(
        "median and min of {} timed runs after a warm-up; vs: throughput ratios in this run; \
         max |dL|: largest per-path gap in relative log return from CPU f64 on the first paths",
        args.repeat
    );
    if let Some(json) = &args.json {
        let text = serde_json::to_string_pretty(&measurements).context("encoding the measurements")?;
        sptlab::files::write_atomically(json, text.as_bytes())
            .with_context(|| format!("writing {}", json.display()))?;
        note!("wrote {}", json.display());
    }
    Ok(())
}

/// `bench --workload scaling`: one size varied at a time, on CPU f32 and the GPU.
fn bench_scaling(args: &BenchArgs, with_cpu: bool, gpu: Option<&mut GpuBackend>) -> Result<(), Failure> {
    // A sweep point is timed up to 3 times: the largest take minutes on a small machine.
    let repeat = args.repeat.min(3);
    let max_paths = args.paths.unwrap_or(1_000_000);
    let mut measurements = Vec::new();
    outln!("scaling: {}", Workload::Scaled { stocks: 0, steps: 0 }.description());
    out!("{}", sptlab::bench::SCALING_HEADER);
    let mut measure =
        |backend: &mut dyn Backend, axis: &'static str, workload: Workload, paths: u64| -> Result<(), Failure> {
            let size = sptlab::bench::RunSize { paths, years: None };
            // A size the device cannot run is reported and the sweep goes on.
            let plan = workload.scenario(paths).validate().expect("the sweep's scenarios are valid");
            if let Err(reason) = backend.check_fits(&plan) {
                outln!("| {axis} | {} | not run: {reason} |", backend.info().adapter);
                return Ok(());
            }
            match sptlab::bench::measure_backend(backend, workload, size, repeat) {
                Ok(mut measurement) => {
                    measurement.axis = Some(axis);
                    out!("{}", sptlab::bench::scaling_row(&measurement));
                    measurements.push(measurement);
                }
                Err(error) => outln!("| {axis} | {} | failed: {error} |", backend.info().adapter),
            }
            Ok(())
        };
    if with_cpu {
        let mut cpu = CpuBackend::new(Precision::F32, None);
        for (axis, workload, paths) in sptlab::bench::scaling_points(max_paths, 2000) {
            measure(&mut cpu, axis, workload, paths)?;
        }
    }
    if let Some(gpu) = gpu {
        // A software adapter compiles large kernels slowly and runs slowly: the small end.
        let (gpu_paths, gpu_stocks) = if gpu.is_software() { (max_paths.min(1_000), 300) } else { (max_paths, 2000) };
        for (axis, workload, paths) in sptlab::bench::scaling_points(gpu_paths, gpu_stocks) {
            measure(gpu, axis, workload, paths)?;
        }
    }
    outln!("median of {repeat} timed runs after a warm-up; peak RSS: the process's, during the timed runs");
    if let Some(json) = &args.json {
        let text = serde_json::to_string_pretty(&measurements).context("encoding the measurements")?;
        sptlab::files::write_atomically(json, text.as_bytes())
            .with_context(|| format!("writing {}", json.display()))?;
        note!("wrote {}", json.display());
    }
    Ok(())
}

/// summary.json, the per-path file (with `per_path`), the figures (PNG too with `png`)
/// and report.html, into `out`.
fn write_results(
    out_dir: &mut OutDir,
    (plan, report, results): (&sptlab::Plan, &sptlab::Report, &sptlab::Results),
    per_path: Option<sptlab::output::table::PerPathFormat>,
    png: bool,
) -> Result<(), Failure> {
    let out = out_dir.path().display().to_string();
    let mut files =
        sptlab::output::table::output_files(report, results, per_path).with_context(|| format!("writing results to {out}"))?;
    files.extend(
        sptlab::output::plots::figure_files(plan, report, results, png)
            .map_err(|reason| anyhow::anyhow!("drawing the figures for {out}: {reason}"))?,
    );
    out_dir.publish(files, &["summary.json"]).with_context(|| format!("writing results to {out}"))?;
    Ok(())
}

fn merge(args: MergeArgs) -> Result<(), Failure> {
    // Every unreadable shard directory is reported, not just the first.
    let (shards, problems): (Vec<_>, Vec<_>) =
        args.shards.iter().map(|directory| sptlab::output::shard::read_shard(directory)).partition(Result::is_ok);
    let mut problems: Vec<String> = problems.into_iter().filter_map(Result::err).collect();
    problems.extend(not_a_folder(&args.out, "--out"));
    if !problems.is_empty() {
        return Err(Failure::BadInput(problems.join("\n")));
    }
    let shards: Vec<_> = shards.into_iter().filter_map(Result::ok).collect();
    log::info!("merging {} shard directories", shards.len());
    let (plan, results, run) = sptlab::output::shard::merge(shards).map_err(Failure::BadInput)?;
    let report = sptlab::Report::new(&plan, &results, run);
    let existing = if args.output.force { Existing::Replace } else { Existing::Refuse };
    let mut out_dir = OutDir::open(&args.out, existing)?;
    write_results(&mut out_dir, (&plan, &report, &results), args.output.per_path(), args.output.png)?;
    if !args.quiet {
        out!("{}", sptlab::output::table::table(&report));
        outln!("wrote {}", args.out.join("summary.json").display());
    }
    Ok(())
}

/// A single file the command will write (`calibrate --out`, `bench --json`), checked
/// before any work: a regular file or nothing yet, in a folder that exists.
fn output_file_problem(option: &str, path: &std::path::Path) -> Option<String> {
    sptlab::files::output_file(path).err().map(|reason| format!("{option} {}: {reason}", path.display()))
}

fn calibrate(args: CalibrateArgs) -> Result<(), Failure> {
    let options = CalibrationOptions {
        model: match args.model {
            CalibrationModelChoice::Gbm => CalibrationModel::Gbm,
            CalibrationModelChoice::FirstOrder => CalibrationModel::FirstOrder,
        },
        window_years: args.window,
        shrinkage: args.shrinkage,
    };
    if let Some(problem) = args.out.as_deref().and_then(|out| output_file_problem("--out", out)) {
        return Err(Failure::BadInput(problem));
    }
    let calibration =
        sptlab::calibrate::calibrate(&args.data, &options).map_err(|error| Failure::BadInput(error.to_string()))?;
    match &args.out {
        Some(out) => {
            sptlab::files::write_atomically(out, calibration.scenario_text.as_bytes())
                .with_context(|| format!("writing {}", out.display()))?;
            note!("{}", calibration.summary);
            note!("wrote {}", out.display());
        }
        None => {
            out!("{}", calibration.scenario_text);
            note!("{}", calibration.summary);
        }
    }
    Ok(())
}
