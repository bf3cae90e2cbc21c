//! The command line as clap reads it: raw arguments, each subcommand's options and
//! their help text. Checked and turned into typed values by `config.rs` (`run`) and by
//! each subcommand's file.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use sptlab::numeric::shrinkage::Shrinkage;
use sptlab::output::per_path::PerPathFormat;
use sptlab::scenario::ControlVariate;

#[derive(Parser)]
#[command(name = "sptlab", version, about = "Monte Carlo research engine for Stochastic Portfolio Theory")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Simulate a scenario (the embedded default without a file) and report.
    Run(RunArgs),
    /// Print an example scenario, commented, as a starting point.
    Example {
        /// Which one: default, atlas, first_order, vsm, gbm_factor_500, calibrated_sp500_20,
        /// costs, te_budget, bootstrap_sp500_20, max_growth_1000 (the max_growth workload).
        #[arg(default_value = "default")]
        name: String,
    },
    /// List GPU adapters and their limits, and the backend `auto` would choose.
    Info,
    /// Time benchmark workloads on the CPU and GPU backends in one run: the standard
    /// workload (100 stocks, full Cholesky, 2520 steps; optionally also on the numpy
    /// and JAX peers), a 500-stock factor market and an Atlas market of 100 stocks, or the
    /// scaling sweep.
    Bench(BenchArgs),
    /// Merge the shards of a run (`run --shard I/N`) into the whole run's results.
    Merge(MergeArgs),
    /// Fit a scenario to daily data: a wide CSV `Date,TICKER1,TICKER2,...` of prices
    /// (gbm) or market caps (first_order), one row per day, oldest first.
    Calibrate(CalibrateArgs),
    /// Run a scenario's strategies on the one historical path of a daily CSV (prices, or
    /// market caps with --caps), in f64, with the master-equation decomposition.
    Backtest(BacktestArgs),
}

#[derive(clap::Args)]
pub struct BacktestArgs {
    /// The CSV file: wide (`Date,TICKER1,TICKER2,...`, one row per day, oldest first), or
    /// long (one row per stock and date: `date,id,cap` or `price,shares`, optional
    /// `return`, `delisting_return`; CRSP's PERMNO, PRC, SHROUT, RET, DLRET), told by its header.
    pub data: PathBuf,
    /// The strategies (and `initial_weights`) from this scenario file; its market is
    /// otherwise ignored (default: the default scenario's strategies).
    #[arg(long)]
    pub scenario: Option<PathBuf>,
    /// The CSV holds market capitalisations (default: prices, shares held constant).
    #[arg(long)]
    pub caps: bool,
    /// First date (YYYY-MM-DD; default: the file's first).
    #[arg(long, value_name = "DATE")]
    pub from: Option<String>,
    /// Last date (YYYY-MM-DD; default: the file's last).
    #[arg(long, value_name = "DATE")]
    pub to: Option<String>,
    /// A price index (`Date,NAME`) as a second benchmark, on the data's dates.
    #[arg(long, value_name = "INDEX_CSV")]
    pub benchmark: Option<PathBuf>,
    /// A long file: the return of a delisting whose row gives none (e.g. -0.3; default 0).
    #[arg(long, value_name = "RETURN", allow_hyphen_values = true)]
    pub missing_delisting_return: Option<f64>,
    /// Write summary.json, backtest.csv, the figures and report.html here.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Also write each figure as PNG (needs --out).
    #[arg(long, requires = "out")]
    pub png: bool,
    /// Replace an earlier run's results in the --out folder (only files sptlab wrote).
    #[arg(long, requires = "out")]
    pub force: bool,
    /// Print nothing but errors.
    #[arg(long)]
    pub quiet: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CalibrationModelChoice {
    /// Growth, vol and correlation per stock, from prices.
    Gbm,
    /// Rank-based growth and vol, from market caps.
    #[value(name = "first_order", alias = "first-order")]
    FirstOrder,
}

#[derive(clap::Args)]
pub struct CalibrateArgs {
    /// The CSV file.
    pub data: PathBuf,
    /// Write the scenario here (default: print it).
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[arg(long, value_enum, default_value = "gbm")]
    pub model: CalibrationModelChoice,
    /// Use only the last YEARS years of the file (default: all of it).
    #[arg(long, value_name = "YEARS", allow_negative_numbers = true)]
    pub window: Option<f64>,
    /// Correlation shrinkage toward the identity: auto (Ledoit-Wolf) or an intensity in [0, 1].
    #[arg(long, default_value = "auto", value_parser = parse_shrinkage)]
    pub shrinkage: Shrinkage,
}

pub fn parse_shrinkage(text: &str) -> Result<Shrinkage, String> {
    if text == "auto" {
        return Ok(Shrinkage::Auto);
    }
    match text.parse::<f64>() {
        Ok(intensity) if (0.0..=1.0).contains(&intensity) => Ok(Shrinkage::Fixed(intensity)),
        _ => Err(format!("expected auto or a number in [0, 1], got {text}")),
    }
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum WorkloadChoice {
    /// 100 stocks, full Cholesky, 2000 paths: the peers' workload.
    Standard,
    /// 500 stocks, 10-factor covariance, 20,000 paths.
    Large,
    /// An Atlas market of 100 stocks, 2000 paths.
    Rank,
    /// 1,000 stocks, 10-factor covariance, 64 paths, with a 2 % tracking-error
    /// max_growth strategy: the optimiser's cost (solves per second, time per path).
    #[value(name = "max_growth")]
    MaxGrowth,
    /// That market against an index of its largest 500 and against the whole market,
    /// 256 paths: what the index costs (CPU; the GPU runs no index yet).
    Index,
    /// standard, large and rank.
    All,
    /// Throughput and memory against paths (10^2..10^6), stocks (10..2,000) and steps,
    /// on CPU f32 and the GPU (a software adapter runs the smaller sizes only).
    Scaling,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BenchBackendChoice {
    /// The GPU adapter (when there is one), CPU f32 and CPU f64.
    All,
    Gpu,
    /// CPU f32 and CPU f64.
    Cpu,
}

#[derive(clap::Args)]
pub struct BenchArgs {
    #[arg(long, value_enum, default_value = "standard")]
    pub workload: WorkloadChoice,
    #[arg(long, value_enum, default_value = "all")]
    pub backend: BenchBackendChoice,
    /// Paths for CPU f32, hardware GPUs and the peers (default: the workload's own;
    /// CPU f64 runs a quarter of them).
    #[arg(long)]
    pub paths: Option<u64>,
    /// Paths for the GPU backend (default: as --paths on hardware, 128 on a software
    /// adapter, which also runs rank and large workloads over one year).
    #[arg(long)]
    pub gpu_paths: Option<u64>,
    /// Timed repetitions of each measurement, after one warm-up (median and minimum shown).
    #[arg(long, default_value_t = 5)]
    pub repeat: usize,
    /// Also write the measurements as JSON (one object per workload and backend).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// Directory holding numpy_peer.py and jax_peer.py (e.g. benches/peers).
    #[arg(long)]
    pub peers: Option<PathBuf>,
    /// Python interpreter with numpy and jax for the peers.
    #[arg(long, default_value = "python3")]
    pub python: PathBuf,
    /// Skip the efficiency table: each sptlab backend's runs (CPU f32, a hardware GPU)
    /// again under every estimator of the mean (plain, the martingale control, antithetic
    /// pairs, both), with se² x seconds of the mean relative growth.
    #[arg(long)]
    pub no_efficiency: bool,
    /// Another sptlab binary (an earlier build) to time against this one: each runs
    /// the workload's scenario file as a whole `sptlab run` process on the CPU backend
    /// (f32, --paths paths, every core), one after the other, and the speed-up is
    /// printed (not with --workload scaling).
    #[arg(long, value_name = "BINARY")]
    pub baseline: Option<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BackendChoice {
    /// A hardware GPU when one exists, else the CPU.
    Auto,
    Gpu,
    Cpu,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PerPathFormatChoice {
    Parquet,
    Csv,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ControlVariateChoice {
    /// The active-weight martingale of docs/control-variates.md.
    Martingale,
    /// Plain means only.
    None,
}

impl ControlVariateChoice {
    pub fn chosen(self) -> ControlVariate {
        match self {
            ControlVariateChoice::Martingale => ControlVariate::Martingale,
            ControlVariateChoice::None => ControlVariate::None,
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PrecisionChoice {
    F32,
    F64,
}

#[derive(clap::Args, Clone)]
pub struct RunArgs {
    /// Scenario file (TOML); the embedded default scenario when absent.
    pub scenario: Option<PathBuf>,
    /// Number of simulated paths (overrides the file).
    #[arg(long)]
    pub paths: Option<u64>,
    /// Horizon in years (overrides the file).
    #[arg(long, allow_negative_numbers = true)]
    pub years: Option<f64>,
    /// Random seed (overrides the file).
    #[arg(long)]
    pub seed: Option<u64>,
    /// The control variate of the controlled means (overrides the file; default
    /// martingale): `none` reports plain means only, to compare.
    #[arg(long, value_enum)]
    pub control_variate: Option<ControlVariateChoice>,
    /// Pair paths antithetically: path 2k + 1 draws the negated normals of path 2k
    /// (overrides the file; paths must be even).
    #[arg(long)]
    pub antithetic: bool,
    #[arg(long, value_enum, default_value = "auto")]
    pub backend: BackendChoice,
    /// f64 is available on the CPU backend only.
    #[arg(long, value_enum, default_value = "f32")]
    pub precision: PrecisionChoice,
    /// CPU threads (default: every core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Write summary.json, the figures and report.html into this directory.
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub output: OutputOptions,
    /// Print nothing but errors.
    #[arg(long)]
    pub quiet: bool,
    /// Paths per batch (memory, and how often a checkpoint can be written; results do not
    /// depend on it). The GPU rounds it up to whole workgroups and may take fewer.
    #[arg(long)]
    pub batch_paths: Option<u64>,
    /// Re-run the run that wrote this summary.json (its scenario, seed, backend and
    /// precision; --threads and --batch-paths may differ) and report whether every
    /// number matches: exactly on the CPU, within 1e-3 (relative) on a GPU.
    #[arg(long, value_name = "SUMMARY_JSON", conflicts_with_all = ["scenario", "paths", "years", "seed", "control_variate", "antithetic", "shard", "out", "force", "per_path", "png", "history"])]
    pub reproduce: Option<PathBuf>,
    /// Continue the run whose --out was DIR from its last checkpoint (same scenario,
    /// backend, precision and output options; --threads and --batch-paths may differ).
    /// The results equal those of a run that was never stopped.
    #[arg(
        long,
        value_name = "DIR",
        conflicts_with_all = ["scenario", "paths", "years", "seed", "control_variate", "antithetic", "shard", "reproduce", "out", "backend", "precision", "force", "history"]
    )]
    pub resume: Option<PathBuf>,
    /// With --out: write a checkpoint after a finished batch of paths once this many
    /// seconds have passed since the last (0: after every batch).
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0, allow_negative_numbers = true)]
    pub checkpoint_every: f64,
    /// Simulate only shard I of N (paths [I·P/N, (I+1)·P/N), with the random numbers they
    /// have in the whole run) and write it to --out for `sptlab merge`.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Also backtest the strategies on this daily CSV over the run's horizon (its last
    /// `years`), from the run's initial weights, and report where history falls among
    /// the simulated paths (a percentile per strategy).
    #[arg(long, value_name = "DATA_CSV")]
    pub history: Option<PathBuf>,
    /// The --history CSV holds market capitalisations (default: prices).
    #[arg(long, requires = "history")]
    pub caps: bool,
}

#[derive(clap::Args)]
pub struct MergeArgs {
    /// Directories written by `sptlab run --shard I/N --out DIR`, every shard of one run.
    #[arg(required = true)]
    pub shards: Vec<PathBuf>,
    /// Where to write summary.json, the figures and report.html.
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub output: OutputOptions,
    /// Print nothing but errors.
    #[arg(long)]
    pub quiet: bool,
}

/// What `--out DIR` holds besides summary.json, the SVG figures and report.html.
#[derive(clap::Args, Clone)]
pub struct OutputOptions {
    /// Also write every path's statistics (needs --out): paths.parquet, or paths.csv
    /// with --per-path-format csv.
    #[arg(long)]
    pub per_path: bool,
    #[arg(long, value_enum, default_value = "parquet")]
    pub per_path_format: PerPathFormatChoice,
    /// Also write each figure as PNG.
    #[arg(long)]
    pub png: bool,
    /// Replace the results of an earlier run (or discard a stopped run's checkpoint) in
    /// the --out folder; only files sptlab wrote there are removed.
    #[arg(long)]
    pub force: bool,
}

impl OutputOptions {
    /// The per-path file's format, when one is asked for.
    pub fn per_path(&self) -> Option<PerPathFormat> {
        self.per_path.then_some(match self.per_path_format {
            PerPathFormatChoice::Parquet => PerPathFormat::Parquet,
            PerPathFormatChoice::Csv => PerPathFormat::Csv,
        })
    }
}
