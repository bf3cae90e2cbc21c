//! `run --reproduce summary.json`: the run that wrote it, again (its scenario, seed,
//! backend and precision), compared number by number: exactly on the CPU, within 1e-3
//! (relative) on a GPU.

use std::path::Path;

use anyhow::Context;

use sptlab::capacity::memory_problems;
use sptlab::engine::{BackendKind, Precision};
use sptlab::provenance::{json_hash, GIT_COMMIT, RNG_CONTRACT, SPTLAB_VERSION};
use sptlab::summary::history::HistoricalOutcome;
use sptlab::Scenario;

use crate::backends::choose_backend;
use sptlab::engine::choice::BackendRequest;

use crate::config::{RunConfig, RunMode};
use crate::failure::{note, outln, Failure};

/// Relative tolerance of a GPU run's numbers (f32 kernels, another order of operations).
const GPU_TOLERANCE: f64 = 1e-3;

/// The run's `--history`, backtested again from the data it records (the same bytes:
/// its SHA-256 is checked).
fn recorded_history(original: &serde_json::Value, plan: &sptlab::Plan) -> Result<Option<HistoricalOutcome>, String> {
    let Some(record) = original.get("history").filter(|h| !h.is_null()) else {
        return Ok(None);
    };
    let data = &record["data"];
    let path = data["path"].as_str().ok_or("history.data.path: missing")?;
    let caps = data["values"] == "caps";
    let history = sptlab::backtest::historical_outcome(plan, Path::new(path), caps)
        .map_err(|error| format!("history: {}", error.problem()))?;
    if data["sha256"] != history.data.sha256.as_str() {
        return Err(format!(
            "history.data: {path} has SHA-256 {}, but the run recorded {}: the data changed since the run",
            history.data.sha256,
            text_of(&data["sha256"])
        ));
    }
    Ok(Some(history))
}

pub fn reproduce(summary_path: &Path, config: &RunConfig) -> Result<(), Failure> {
    let bad = |reason: String| Failure::BadInput(format!("{}: {reason}", summary_path.display()));
    let text = sptlab::files::read_text_limited(summary_path, sptlab::files::MAX_TEXT_INPUT)
        .map_err(|e| bad(format!("cannot read: {e}")))?;
    let original: serde_json::Value = serde_json::from_str(&text).map_err(|e| bad(format!("not JSON: {e}")))?;
    if original["kind"] == "backtest" {
        return Err(bad("is a backtest's summary (sptlab backtest): run the backtest again to check it".into()));
    }
    let manifest =
        original.get("manifest").ok_or_else(|| bad("has no manifest (written before sptlab recorded one)".into()))?;
    let scenario: Scenario =
        serde_json::from_value(original["scenario"].clone()).map_err(|e| bad(format!("scenario: {e}")))?;
    let plan = scenario.validate().map_err(|e| bad(format!("scenario: {e}")))?;
    let (backend, precision) = match manifest_problems(manifest, &original["scenario"], &scenario) {
        Ok(recorded) => recorded,
        Err(problems) => {
            let lines: Vec<String> = problems.iter().map(|p| format!("{}: {p}", summary_path.display())).collect();
            return Err(Failure::bad_input(&lines));
        }
    };
    if manifest["sptlab_version"] != SPTLAB_VERSION && !config.quiet {
        note!(
            "warning: {} was written by sptlab {}, this is {}: numbers may differ where the versions do",
            summary_path.display(),
            text_of(&manifest["sptlab_version"]),
            SPTLAB_VERSION
        );
    }
    let on_gpu = backend == BackendKind::Gpu;
    let config = RunConfig {
        mode: RunMode::Reproduce(summary_path.to_path_buf()),
        backend: BackendRequest::Only(backend),
        precision,
        out: None,
        ..*config
    };
    let problems = memory_problems(config.batch_paths, &summary_path.display().to_string(), &plan, plan.paths);
    if !problems.is_empty() {
        return Err(Failure::bad_input(&problems));
    }
    let history = recorded_history(&original, &plan).map_err(bad)?;
    let mut backend = choose_backend(&config)?;
    backend.check_fits(&plan).map_err(|reason| bad(reason.to_string()))?;
    let (mut results, run) = sptlab::simulate(&plan, backend.as_mut(), &|_| {}).context("simulation failed")?;
    results.history = history;
    let report = sptlab::Report::new(&plan, &results, run);
    let again: serde_json::Value =
        serde_json::from_str(&sptlab::output::data_files::summary_json(&report)).context("re-reading the summary")?;
    let tolerance = if on_gpu { GPU_TOLERANCE } else { 0.0 };
    let (mut differences, mut new) = (Vec::new(), Vec::new());
    for section in ["scenario", "market", "benchmark", "strategies", "comparisons", "history"] {
        match original.get(section) {
            Some(recorded) => {
                json_differences(section, recorded, &again[section], tolerance, (&mut differences, &mut new))
            }
            // A section an older sptlab did not write is new, like any other new key.
            None if !again[section].is_null() => new.push(section.to_string()),
            None => {}
        }
    }
    // The same build reports the same figures; another may add some (a newer sptlab's
    // controlled means, say), which the file cannot confirm.
    let same_build = manifest["sptlab_version"] == SPTLAB_VERSION
        && manifest["git_commit"].as_str().zip(GIT_COMMIT).is_none_or(|(theirs, ours)| theirs == ours);
    if same_build {
        differences.extend(new.iter().map(|at| format!("{at}: new")));
    } else if !new.is_empty() && !config.quiet {
        note!(
            "note: {} figures this build reports are not in {} (written by sptlab {} at commit {}), so not \
             compared; first: {}",
            new.len(),
            summary_path.display(),
            text_of(&manifest["sptlab_version"]),
            text_of(&manifest["git_commit"]),
            new.iter().take(3).cloned().collect::<Vec<_>>().join(", ")
        );
    }
    let how = if on_gpu { "within 1e-3 (GPU)" } else { "exactly (CPU)" };
    if differences.is_empty() {
        if !config.quiet {
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

/// A field's value as the message shows it: a string without its quotes.
fn text_of(value: &serde_json::Value) -> String {
    value.as_str().map_or_else(|| value.to_string(), str::to_string)
}

/// The recorded backend and precision, when the manifest describes the scenario written
/// beside it (a run is reproduced from its scenario, so a manifest that disagrees would
/// "confirm" another run); else every disagreement.
fn manifest_problems(
    manifest: &serde_json::Value,
    written: &serde_json::Value,
    scenario: &Scenario,
) -> Result<(BackendKind, Precision), Vec<String>> {
    let mut problems = Vec::new();
    // The scenario as the file has it: an older sptlab's has fewer fields than this
    // one's, and hashed those.
    let hash = json_hash(written);
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
    if manifest["rng_contract"] != RNG_CONTRACT {
        problems.push(format!(
            "manifest.rng_contract: the run was drawn under {}, this sptlab draws under {}",
            text_of(&manifest["rng_contract"]),
            RNG_CONTRACT
        ));
    }
    let backend = manifest["backend"].as_str().and_then(BackendKind::from_name);
    if backend.is_none() {
        problems.push(format!("manifest.backend: expected cpu or gpu, found {}", text_of(&manifest["backend"])));
    }
    let precision = manifest["precision"].as_str().and_then(Precision::from_name);
    if precision.is_none() {
        problems.push(format!("manifest.precision: expected f32 or f64, found {}", text_of(&manifest["precision"])));
    }
    if backend == Some(BackendKind::Gpu) && precision == Some(Precision::F64) {
        problems.push("manifest: a GPU run is always f32".to_string());
    }
    match (backend, precision) {
        (Some(backend), Some(precision)) if problems.is_empty() => Ok((backend, precision)),
        _ => Err(problems),
    }
}

/// Where `a` and `b` differ (numbers by more than `tolerance`, relative), as JSON paths.
/// Where `b` (the run again) differs from `a` (the file): into `out`, and the keys only
/// `b` has into `new` (figures a newer sptlab adds: differences only for the same version).
fn json_differences(
    at: &str,
    a: &serde_json::Value,
    b: &serde_json::Value,
    tolerance: f64,
    (out, new): (&mut Vec<String>, &mut Vec<String>),
) {
    use serde_json::Value;
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for (key, value) in x {
                let next = y.get(key).unwrap_or(&Value::Null);
                json_differences(&format!("{at}.{key}"), value, next, tolerance, (&mut *out, &mut *new));
            }
            new.extend(y.keys().filter(|key| !x.contains_key(*key)).map(|extra| format!("{at}.{extra}")));
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (index, (p, q)) in x.iter().zip(y).enumerate() {
                json_differences(&format!("{at}[{index}]"), p, q, tolerance, (&mut *out, &mut *new));
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
