//! `sptlab bench`: named workloads on each backend (the standard workload of
//! ../shared/peers/ also on the numpy and JAX peers), measured in the same run.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use crate::engine::{Backend, EngineError};
use crate::scenario::{rank_workload, standard_workload, Scenario};

/// A named benchmark workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    /// ../shared/peers/: 100 stocks, full Cholesky, 2520 steps.
    Standard,
    /// An Atlas market of this many stocks, 2520 steps.
    Rank(usize),
}

impl Workload {
    pub fn name(self) -> String {
        match self {
            Workload::Standard => "standard".into(),
            Workload::Rank(n) => format!("rank-{n}"),
        }
    }

    pub fn scenario(self, paths: u64) -> Scenario {
        match self {
            Workload::Standard => standard_workload(paths),
            Workload::Rank(n) => rank_workload(n, paths),
        }
    }
}

/// One measured line of the benchmark table.
#[derive(Debug, Clone)]
pub struct Measurement {
    pub workload: String,
    pub name: String,
    pub adapter: String,
    pub paths: u64,
    pub steps: u32,
    pub seconds: f64,
    pub asset_steps_per_second: f64,
}

/// Runs `workload` with `paths` paths on `backend` (after one short warm-up run, so
/// pipeline compilation and thread start-up are not timed), over `years` when given
/// (slow adapters) instead of the workload's 10.
pub fn measure_backend(
    backend: &mut dyn Backend,
    workload: Workload,
    paths: u64,
    years: Option<f64>,
) -> Result<Measurement, EngineError> {
    let mut warm_up = workload.scenario(paths.min(64));
    warm_up.years = 0.1;
    let warm_up = warm_up.validate().expect("the benchmark workloads are valid");
    crate::simulate(&warm_up, backend, &|_| {})?;
    let mut scenario = workload.scenario(paths);
    if let Some(years) = years {
        scenario.years = years;
    }
    let plan = scenario.validate().expect("the benchmark workloads are valid");
    let started = Instant::now();
    crate::simulate(&plan, backend, &|_| {})?;
    let seconds = started.elapsed().as_secs_f64();
    let info = backend.info();
    Ok(Measurement {
        workload: workload.name(),
        name: format!("sptlab {} {}", info.backend, info.precision.name()),
        adapter: info.adapter,
        paths,
        steps: plan.steps,
        seconds,
        asset_steps_per_second: plan.n() as f64 * paths as f64 * plan.steps as f64 / seconds,
    })
}

/// Runs a peer script (`numpy_peer.py` or `jax_peer.py`) with `python` on the standard
/// workload and reads its JSON `seconds` and `asset_steps_per_s`.
pub fn measure_peer(python: &Path, script: &Path, paths: u64) -> Result<Measurement, String> {
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
    let field =
        |name: &str| report[name].as_f64().ok_or_else(|| format!("{} printed no number `{name}`", script.display()));
    Ok(Measurement {
        workload: Workload::Standard.name(),
        name: script.file_stem().map_or("peer".into(), |s| s.to_string_lossy().into_owned()),
        adapter: "CPU (Python)".into(),
        paths,
        steps: 2520,
        seconds: field("seconds")?,
        asset_steps_per_second: field("asset_steps_per_s")?,
    })
}

/// A markdown table of the measurements, each with its ratio to `baseline` (by name,
/// within the same workload).
pub fn table(measurements: &[Measurement], baseline: Option<&str>) -> String {
    let mut out = String::from(
        "| workload | what | adapter | paths | steps | seconds | M asset-steps/s | ratio |\n|---|---|---|---|---|---|---|---|\n",
    );
    for m in measurements {
        let base = baseline
            .and_then(|name| measurements.iter().find(|b| b.name == name && b.workload == m.workload))
            .map(|b| b.asset_steps_per_second);
        let ratio = base.map_or("".to_string(), |b| format!("{:.2}x", m.asset_steps_per_second / b));
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {:.2} | {:.1} | {} |\n",
            m.workload,
            m.name,
            m.adapter,
            m.paths,
            m.steps,
            m.seconds,
            m.asset_steps_per_second / 1e6,
            ratio
        ));
    }
    out
}
