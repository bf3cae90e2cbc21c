//! `sptlab bench`: the standard workload (../shared/peers/) on each backend, and
//! optionally the numpy and JAX peers, measured in the same run.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use crate::engine::{Backend, EngineError};
use crate::scenario::standard_workload;

/// One measured line of the benchmark table.
#[derive(Debug, Clone)]
pub struct Measurement {
    pub name: String,
    pub adapter: String,
    pub paths: u64,
    pub seconds: f64,
    pub asset_steps_per_second: f64,
}

/// Runs the standard workload with `paths` paths on `backend` (after one short warm-up
/// run, so pipeline compilation and thread start-up are not timed).
pub fn measure_backend(backend: &mut dyn Backend, paths: u64) -> Result<Measurement, EngineError> {
    let mut warm_up = standard_workload(paths.min(64));
    warm_up.years = 0.1;
    let warm_up = warm_up.validate().expect("the standard workload is valid");
    crate::simulate(&warm_up, backend, &|_| {})?;
    let plan = standard_workload(paths).validate().expect("the standard workload is valid");
    let started = Instant::now();
    crate::simulate(&plan, backend, &|_| {})?;
    let seconds = started.elapsed().as_secs_f64();
    let info = backend.info();
    Ok(Measurement {
        name: format!("sptlab {} {}", info.backend, info.precision.name()),
        adapter: info.adapter,
        paths,
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
        name: script.file_stem().map_or("peer".into(), |s| s.to_string_lossy().into_owned()),
        adapter: "CPU (Python)".into(),
        paths,
        seconds: field("seconds")?,
        asset_steps_per_second: field("asset_steps_per_s")?,
    })
}

/// A markdown table of the measurements, each with its ratio to `baseline` (by name).
pub fn table(measurements: &[Measurement], baseline: Option<&str>) -> String {
    let base = baseline.and_then(|name| measurements.iter().find(|m| m.name == name)).map(|m| m.asset_steps_per_second);
    let mut out =
        String::from("| what | adapter | paths | seconds | M asset-steps/s | ratio |\n|---|---|---|---|---|---|\n");
    for m in measurements {
        let ratio = base.map_or("".to_string(), |b| format!("{:.2}x", m.asset_steps_per_second / b));
        out.push_str(&format!(
            "| {} | {} | {} | {:.2} | {:.1} | {} |\n",
            m.name,
            m.adapter,
            m.paths,
            m.seconds,
            m.asset_steps_per_second / 1e6,
            ratio
        ));
    }
    out
}
