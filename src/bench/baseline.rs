//! This binary against another build of sptlab (an earlier one) on a workload, in the
//! same `bench` run: each runs the workload's scenario file as a whole `sptlab run`
//! process on the CPU backend (f32, the same paths, every core), one after the other,
//! so the two timings are alike and their ratio is measured on the same machine.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use super::{Measurement, Runner, Workload};

/// A scratch folder for the scenario file and the runs' outputs, removed when dropped.
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Times `binary run` on `workload` at `paths` paths, `repetitions` times; `label`
/// names the row (`baseline` or `this binary`).
pub fn measure_run_process(
    binary: &Path,
    label: &str,
    workload: Workload,
    paths: u64,
    repetitions: usize,
) -> Result<Measurement, String> {
    let scenario = workload.scenario(paths);
    let text = toml::to_string(&scenario).map_err(|e| format!("the workload did not serialise: {e}"))?;
    let scratch = Scratch(std::env::temp_dir().join(format!("sptlab-bench-{}-{label}", std::process::id())));
    std::fs::create_dir_all(&scratch.0).map_err(|e| format!("{}: {e}", scratch.0.display()))?;
    let file = scratch.0.join("scenario.toml");
    std::fs::write(&file, text).map_err(|e| format!("{}: {e}", file.display()))?;
    let out = scratch.0.join("out");
    let mut seconds = Vec::with_capacity(repetitions);
    for _ in 0..repetitions.max(1) {
        let started = Instant::now();
        let output = Command::new(binary)
            .arg("run")
            .arg(&file)
            .args(["--backend", "cpu", "--precision", "f32", "--quiet", "--force", "--out"])
            .arg(&out)
            .output()
            .map_err(|e| format!("cannot run {}: {e}", binary.display()))?;
        seconds.push(started.elapsed().as_secs_f64());
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let last = stderr.lines().rev().take(3).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>();
            return Err(format!("{} run failed ({}): {}", binary.display(), output.status, last.join(" / ")));
        }
    }
    let steps = (scenario.years * scenario.steps_per_year as f64).round() as u32;
    let adapter = format!("`{} run`, CPU", binary.display());
    let size = (scenario.market.n, paths, steps);
    Ok(Measurement::of_process(workload.name(), Runner::Process(label.to_string()), adapter, size, seconds))
}
