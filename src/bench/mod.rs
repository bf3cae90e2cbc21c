//! `sptlab bench`: named workloads on each backend (and the standard workload on the
//! numpy and JAX peers of benches/peers/), measured in the same run: a warm-up, then
//! several timed repetitions (median and minimum), with every backend's answers checked
//! per path against CPU f64 on the same paths.

pub mod baseline;
pub mod efficiency;
pub mod suite;

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use serde::Serialize;

use crate::engine::{Backend, BackendKind, CpuBackend, EngineError, Precision};
use crate::scenario::{
    index_workload, large_workload, max_growth_workload, rank_workload, scaled_workload, standard_workload, Plan,
    Scenario,
};

/// A named benchmark workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// benches/peers/: 100 stocks, full Cholesky, 2000 paths, 2520 steps.
    Standard,
    /// 500 stocks, a 10-factor covariance, 20,000 paths, 10 years.
    Large,
    /// An Atlas market of this many stocks, 2000 paths, 2520 steps.
    Rank(usize),
    /// A point of the scaling sweep: the standard workload's market and strategies
    /// with `stocks` stocks over `steps` daily steps.
    Scaled { stocks: usize, steps: u32 },
    /// 1,000 stocks, a 10-factor covariance, 64 paths, with a 2 % tracking-error
    /// max_growth strategy (40 solves a path) beside diversity and equal weight.
    MaxGrowth,
    /// The max_growth workload's market with diversity and equal weight against an index
    /// of its largest 500 (`index: true`), or against the whole market (`false`): what
    /// the index costs, measured in the same run.
    Index { index: bool },
}

impl Workload {
    pub fn name(self) -> String {
        match self {
            Workload::Standard => "standard".into(),
            Workload::Large => "large".into(),
            Workload::Rank(n) => format!("rank-{n}"),
            Workload::Scaled { .. } => "scaling".into(),
            Workload::MaxGrowth => "max_growth".into(),
            Workload::Index { index: true } => "index".into(),
            Workload::Index { index: false } => "index-off".into(),
        }
    }

    pub fn scenario(self, paths: u64) -> Scenario {
        match self {
            Workload::Standard => standard_workload(paths),
            Workload::Large => large_workload(paths),
            Workload::Rank(n) => rank_workload(n, paths),
            Workload::Scaled { stocks, steps } => scaled_workload(stocks, paths, steps),
            Workload::MaxGrowth => max_growth_workload(paths),
            Workload::Index { index } => index_workload(paths, index),
        }
    }

    /// The max_growth solves of each path over `steps` steps, for a workload whose cost
    /// they are: the start's, then one per rebalance of its max_growth strategy (every
    /// `rebalance_every` steps, never at the last).
    pub fn solves_per_path(self, steps: u64) -> Option<u64> {
        let scenario = match self {
            Workload::MaxGrowth => self.scenario(1),
            _ => return None,
        };
        let strategy =
            scenario.strategies.iter().find(|s| s.weighting == crate::portfolio::spec::WeightingKind::MaxGrowth)?;
        Some(steps.saturating_sub(1) / strategy.rebalance_every as u64 + 1)
    }

    /// The paths the workload is defined with.
    pub fn default_paths(self) -> u64 {
        match self {
            Workload::Large => 20_000,
            Workload::MaxGrowth => 64,
            Workload::Index { .. } => 256,
            _ => 2000,
        }
    }

    pub fn description(self) -> String {
        match self {
            Workload::Standard => "100 stocks, full Cholesky (correlation 0.3), 2520 daily steps".into(),
            Workload::Large => "500 stocks, 10-factor covariance, 2520 daily steps".into(),
            Workload::Rank(n) => format!("Atlas market of {n} stocks, ranked every step, 2520 daily steps"),
            Workload::Scaled { .. } => "the standard market (full Cholesky) at each size; axis: what varies".into(),
            Workload::MaxGrowth => {
                "1000 stocks, 10-factor covariance, 2% TE max_growth quarterly (40 solves a path), 2520 daily steps"
                    .into()
            }
            Workload::Index { index: true } => "the max_growth market, diversity 0.76 and equal monthly, diversity \
                 0.5 daily, against an index of the largest 500 (quarterly, buffer 50), 2520 daily steps"
                .into(),
            Workload::Index { index: false } => "the same strategies against the whole market".into(),
        }
    }
}

/// What a measurement timed: one of sptlab's backends, or a Python peer script
/// (`numpy_peer`, `jax_peer`); "cpu", "gpu" or the script's name in `--json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Runner {
    Backend(BackendKind),
    Peer(String),
    /// A whole `sptlab run` process of a binary (`bench --baseline`): `baseline` or
    /// `this binary`.
    Process(String),
}

impl std::fmt::Display for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Runner::Backend(kind) => kind.fmt(f),
            Runner::Peer(name) | Runner::Process(name) => f.write_str(name),
        }
    }
}

/// Most timed repetitions `bench` takes (each can take minutes).
pub const MAX_REPEAT: usize = 1000;

/// The JAX peer's script name, against which every throughput is also compared.
const JAX_PEER: &str = "jax_peer";

/// One line of the benchmark table and of `--json` (the timing fields named as in
/// summary.json's `run`).
#[derive(Debug, Clone, Serialize)]
pub struct Measurement {
    pub workload: String,
    pub backend: Runner,
    pub adapter: String,
    pub precision: Precision,
    pub stocks: usize,
    pub paths: u64,
    pub steps: u32,
    pub repetitions: usize,
    /// The median of the repetitions.
    pub seconds: f64,
    pub seconds_min: f64,
    /// From the median.
    pub asset_steps_per_second: f64,
    /// Throughput over CPU f64's on the same workload, in this run.
    pub speedup_vs_cpu_f64: Option<f64>,
    /// Throughput over the JAX peer's on the same workload, in this run.
    pub ratio_to_jax: Option<f64>,
    /// The largest per-path difference in relative log return from CPU f64 on the
    /// same paths (the first `compared_paths`), over every strategy.
    pub max_difference_vs_cpu_f64: Option<f64>,
    pub compared_paths: u64,
    /// Scaling sweep only: which size varies ("paths", "stocks" or "steps").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub axis: Option<&'static str>,
    /// The process's peak resident memory during the timed runs (Linux).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peak_rss_bytes: Option<u64>,
    /// The GPU buffers one batch held at most (GPU backend).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gpu_buffer_bytes: Option<u64>,
    /// The same workload and backend under each estimator of the mean (`efficiency.rs`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub efficiency: Option<Vec<efficiency::Efficiency>>,
}

/// Median and minimum of `seconds` (not empty).
pub(crate) fn median_and_min(seconds: &mut [f64]) -> (f64, f64) {
    seconds.sort_by(f64::total_cmp);
    let middle = seconds.len() / 2;
    let median = if seconds.len() % 2 == 1 { seconds[middle] } else { 0.5 * (seconds[middle - 1] + seconds[middle]) };
    (median, seconds[0])
}

/// How a backend runs a workload: paths, and years when a slow adapter needs fewer.
#[derive(Debug, Clone, Copy)]
pub struct RunSize {
    pub paths: u64,
    pub years: Option<f64>,
}

pub(crate) fn plan_of(workload: Workload, size: RunSize) -> Plan {
    let mut scenario = workload.scenario(size.paths);
    if let Some(years) = size.years {
        scenario.years = years;
    }
    scenario.validate().expect("the benchmark workloads are valid")
}

/// Paths compared against CPU f64 per measurement (a path's result depends only on its
/// index, so the first paths of any run are the same paths).
const COMPARED_PATHS: u64 = 64;

/// Runs `workload` at `size` on `backend`: one short warm-up (pipeline compilation and
/// thread start-up are not timed), then `repetitions` timed runs; then compares the
/// first paths with a CPU f64 run of the same plan.
pub fn measure_backend(
    backend: &mut dyn Backend,
    workload: Workload,
    size: RunSize,
    repetitions: usize,
) -> Result<Measurement, EngineError> {
    let mut warm_up = workload.scenario(size.paths.min(64));
    warm_up.years = 0.1;
    let warm_up = warm_up.validate().expect("the benchmark workloads are valid");
    crate::simulate(&warm_up, backend, &|_| {})?;
    let plan = plan_of(workload, size);
    backend.take_peak_buffer_bytes();
    reset_peak_rss();
    let mut seconds = Vec::with_capacity(repetitions);
    let mut results = None;
    for _ in 0..repetitions.max(1) {
        // Dropped first, so the peak memory is one run's.
        drop(results.take());
        let started = Instant::now();
        let (run, _) = crate::simulate(&plan, backend, &|_| {})?;
        seconds.push(started.elapsed().as_secs_f64());
        results = Some(run);
    }
    let results = results.expect("at least one repetition");
    let peak_rss_bytes = peak_rss_bytes();
    let gpu_buffer_bytes = backend.take_peak_buffer_bytes();
    // The scaling sweep times sizes; the named workloads check the answers too.
    let compared_paths = if matches!(workload, Workload::Scaled { .. }) { 0 } else { size.paths.min(COMPARED_PATHS) };
    let max_difference = if compared_paths == 0 {
        None
    } else {
        let reference = crate::simulate(
            &plan_of(workload, RunSize { paths: compared_paths, ..size }),
            &mut CpuBackend::new(Precision::F64, None),
            &|_| {},
        )?
        .0;
        Some(
            (0..results.strategy_names.len())
                .flat_map(|s| {
                    results.per_path[s]
                        .iter()
                        .zip(&reference.per_path[s])
                        .map(|(a, b)| (a.relative_log_return - b.relative_log_return).abs())
                })
                .fold(0.0, f64::max),
        )
    };
    let (median, min) = median_and_min(&mut seconds);
    let info = backend.info();
    Ok(Measurement {
        workload: workload.name(),
        backend: Runner::Backend(info.backend),
        adapter: info.adapter,
        precision: info.precision,
        stocks: plan.n(),
        paths: plan.paths,
        steps: plan.steps,
        repetitions: seconds.len(),
        seconds: median,
        seconds_min: min,
        asset_steps_per_second: plan.n() as f64 * plan.paths as f64 * plan.steps as f64 / median,
        speedup_vs_cpu_f64: None,
        ratio_to_jax: None,
        max_difference_vs_cpu_f64: max_difference,
        compared_paths,
        axis: None,
        peak_rss_bytes,
        gpu_buffer_bytes,
        efficiency: None,
    })
}

/// Restarts the kernel's count of this process's peak resident memory (Linux 4.0+:
/// writing 5 to clear_refs resets VmHWM), so each measurement reports its own peak.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// This process's peak resident memory (VmHWM), where the OS reports it.
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kib: u64 = line.trim_start_matches("VmHWM:").trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kib * 1024)
}

/// The scaling sweep: the standard market with one size varied at a time around 100
/// stocks, 1,000 paths and 252 steps. Paths go from 10^2 to `max_paths`, steps from 63
/// to 2,520, stocks from 10 to `max_stocks`.
pub fn scaling_points(max_paths: u64, max_stocks: usize) -> Vec<(&'static str, Workload, u64)> {
    let year = 252;
    let mut points = Vec::new();
    for paths in [100, 1_000, 10_000, 100_000, 1_000_000].into_iter().filter(|&p| p <= max_paths) {
        points.push(("paths", Workload::Scaled { stocks: 100, steps: year }, paths));
    }
    for steps in [63, 252, 1008, 2520] {
        points.push(("steps", Workload::Scaled { stocks: 100, steps }, 1_000));
    }
    // Last: the largest kernels are the likeliest to exceed what a device can build.
    for stocks in [10, 30, 100, 300, 1000, 2000].into_iter().filter(|&n| n <= max_stocks) {
        points.push(("stocks", Workload::Scaled { stocks, steps: year }, 1_000));
    }
    points
}

/// The scaling table's header (markdown); rows come from `scaling_row`, printed as
/// each point finishes so that a long sweep shows its progress.
pub const SCALING_HEADER: &str =
    "| axis | backend | adapter | stocks | paths | steps | median s | M asset-steps/s | peak RSS MiB | GPU buffers MiB |\n\
     |---|---|---|---|---|---|---|---|---|---|\n";

/// One row of the scaling table: throughput and memory at one size.
pub fn scaling_row(m: &Measurement) -> String {
    let mib = |bytes: Option<u64>| bytes.map_or(String::new(), |b| format!("{:.1}", b as f64 / (1024.0 * 1024.0)));
    format!(
        "| {} | {} {} | {} | {} | {} | {} | {:.3} | {:.1} | {} | {} |\n",
        m.axis.unwrap_or(""),
        m.backend,
        m.precision,
        m.adapter,
        m.stocks,
        m.paths,
        m.steps,
        m.seconds,
        m.asset_steps_per_second / 1e6,
        mib(m.peak_rss_bytes),
        mib(m.gpu_buffer_bytes),
    )
}

/// Runs a peer script (`numpy_peer.py` or `jax_peer.py`) with `python` on the standard
/// workload `repetitions` times and reads its JSON `seconds` and `asset_steps_per_s`
/// (each run compiles first and times one simulation).
pub fn measure_peer(python: &Path, script: &Path, paths: u64, repetitions: usize) -> Result<Measurement, String> {
    let mut seconds = Vec::new();
    for _ in 0..repetitions.max(1) {
        let output = Command::new(python)
            .arg(script)
            .args(["100", &paths.to_string(), "2520"])
            .output()
            .map_err(|e| format!("cannot run {} {}: {e}", python.display(), script.display()))?;
        if !output.status.success() {
            return Err(format!("{} failed: {}", script.display(), String::from_utf8_lossy(&output.stderr).trim()));
        }
        let report: serde_json::Value =
            serde_json::from_slice(&output.stdout).map_err(|e| format!("{} printed no JSON: {e}", script.display()))?;
        seconds.push(report["seconds"].as_f64().ok_or_else(|| format!("{} printed no `seconds`", script.display()))?);
    }
    let runner = Runner::Peer(script.file_stem().map_or("peer".into(), |s| s.to_string_lossy().into_owned()));
    Ok(Measurement::of_process(
        Workload::Standard.name(),
        runner,
        peer_device(python, script),
        (100, paths, 2520),
        seconds,
    ))
}

impl Measurement {
    /// A measurement of another process (a peer script, an sptlab binary's `run`) from
    /// its timed repetitions (not empty): f32, no answers compared.
    pub(crate) fn of_process(
        workload: String,
        backend: Runner,
        adapter: String,
        (stocks, paths, steps): (usize, u64, u32),
        mut seconds: Vec<f64>,
    ) -> Measurement {
        let (median, min) = median_and_min(&mut seconds);
        Measurement {
            workload,
            backend,
            adapter,
            precision: Precision::F32,
            stocks,
            paths,
            steps,
            repetitions: seconds.len(),
            seconds: median,
            seconds_min: min,
            asset_steps_per_second: stocks as f64 * paths as f64 * steps as f64 / median,
            speedup_vs_cpu_f64: None,
            ratio_to_jax: None,
            max_difference_vs_cpu_f64: None,
            compared_paths: 0,
            axis: None,
            peak_rss_bytes: None,
            gpu_buffer_bytes: None,
            efficiency: None,
        }
    }
}

/// Where a peer script computes: JAX runs on its default device (a GPU when it has
/// one), numpy on the CPU.
fn peer_device(python: &Path, script: &Path) -> String {
    let is_jax = script.file_stem().is_some_and(|stem| stem.to_string_lossy().contains("jax"));
    if !is_jax {
        return "CPU (numpy)".into();
    }
    let query = "import jax; d = jax.devices()[0]; print(d.platform.upper(), d.device_kind)";
    match Command::new(python).args(["-c", query]).output() {
        Ok(output) if output.status.success() => {
            format!("JAX on {}", String::from_utf8_lossy(&output.stdout).trim())
        }
        _ => "JAX (device unknown)".into(),
    }
}

/// Fills each measurement's ratios to CPU f64 and to the JAX peer on its workload.
pub fn add_ratios(measurements: &mut [Measurement]) {
    let throughput_of = |measurements: &[Measurement], workload: &str, runner: &Runner, precision: Precision| {
        measurements
            .iter()
            .find(|m| m.workload == workload && m.backend == *runner && m.precision == precision)
            .map(|m| m.asset_steps_per_second)
    };
    let (cpu, jax) = (Runner::Backend(BackendKind::Cpu), Runner::Peer(JAX_PEER.to_string()));
    let rates: Vec<(Option<f64>, Option<f64>)> = measurements
        .iter()
        .map(|m| {
            (
                throughput_of(measurements, &m.workload, &cpu, Precision::F64),
                throughput_of(measurements, &m.workload, &jax, Precision::F32),
            )
        })
        .collect();
    for (m, (f64_rate, jax_rate)) in measurements.iter_mut().zip(rates) {
        m.speedup_vs_cpu_f64 = f64_rate.map(|rate| m.asset_steps_per_second / rate);
        m.ratio_to_jax = jax_rate.map(|rate| m.asset_steps_per_second / rate);
    }
}

/// The benchmark table (markdown).
pub fn table(measurements: &[Measurement]) -> String {
    let mut out = String::from(
        "| workload | backend | adapter | paths | steps | median s | min s | M asset-steps/s | vs CPU f64 | vs JAX | max |dL| vs f64 |\n\
         |---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    let ratio = |value: Option<f64>| value.map_or("".to_string(), |v| format!("{v:.2}x"));
    for m in measurements {
        out.push_str(&format!(
            "| {} | {} {} | {} | {} | {} | {:.3} | {:.3} | {:.1} | {} | {} | {} |\n",
            m.workload,
            m.backend,
            m.precision,
            m.adapter,
            m.paths,
            m.steps,
            m.seconds,
            m.seconds_min,
            m.asset_steps_per_second / 1e6,
            ratio(m.speedup_vs_cpu_f64),
            ratio(m.ratio_to_jax),
            m.max_difference_vs_cpu_f64.map_or("".to_string(), |d| format!("{d:.1e}")),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_minimum_of_odd_and_even_counts() {
        assert_eq!(median_and_min(&mut [3.0, 1.0, 2.0]), (2.0, 1.0));
        assert_eq!(median_and_min(&mut [4.0, 1.0, 2.0, 3.0]), (2.5, 1.0));
    }

    #[test]
    fn ratios_are_taken_within_a_workload() {
        let line = |workload: &str, backend: &str, precision: &str, rate: f64| Measurement {
            precision: Precision::from_name(precision).unwrap(),
            asset_steps_per_second: rate,
            ..Measurement::of_process(
                workload.into(),
                BackendKind::from_name(backend).map_or(Runner::Peer(backend.into()), Runner::Backend),
                String::new(),
                (100, 1, 1),
                vec![1.0; 5],
            )
        };
        let mut lines = vec![
            line("standard", "cpu", "f32", 300.0),
            line("standard", "cpu", "f64", 100.0),
            line("standard", "jax_peer", "f32", 75.0),
            line("rank-100", "cpu", "f32", 50.0),
            line("rank-100", "cpu", "f64", 25.0),
        ];
        add_ratios(&mut lines);
        assert_eq!(lines[0].speedup_vs_cpu_f64, Some(3.0));
        assert_eq!(lines[0].ratio_to_jax, Some(4.0));
        assert_eq!(lines[3].speedup_vs_cpu_f64, Some(2.0));
        assert_eq!(lines[3].ratio_to_jax, None);
    }
}
