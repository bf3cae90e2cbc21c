//! `sptlab._native`: the crate's pipeline called from Python (docs/python.md,
//! "Python"). Nothing is computed here: scenarios are read by `ScenarioSource`, the
//! backend chosen by `engine::choice`, the run driven by `simulate_from`, and every
//! table, file and figure made by the crate's own `output` code. Values cross as JSON
//! text and Parquet bytes, which `sptlab/__init__.py` turns into dicts, pandas and
//! Arrow. Bad input raises `ValueError` (every problem, one per line, as the command
//! line prints them); a GPU failure `RuntimeError`; files that cannot be written
//! `OSError`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use pyo3::exceptions::{PyMemoryError, PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;

use sptlab::backtest::{Backtest, BacktestError, BacktestOptions, LongBacktest, LongBacktestOptions};
use sptlab::bench::suite::{run_suite, Suite};
use sptlab::bench::Workload;
use sptlab::engine::choice::{BackendOptions, BackendRequest, ChoiceError};
use sptlab::engine::gpu::{self, GpuBackend, GpuContext};
use sptlab::engine::{BackendKind, EngineError, Precision};
use sptlab::output::out_dir::{Existing, OutDir, OutDirError};
use sptlab::output::per_path::PerPathFormat;
use sptlab::scenario::{scenario_problems, ControlVariate, Overrides, Plan, ScenarioSource};
use sptlab::summary::history::HistoricalOutcome;
use sptlab::{Report, Results};

/// How often the waiting thread reports progress and looks for Ctrl-C.
const POLL: Duration = Duration::from_millis(100);

/// Bad input: every problem, one per line, in Python's terms.
fn bad_input(problems: &[String]) -> PyErr {
    PyValueError::new_err(in_python_terms(&problems.join("\n")))
}

/// A message of the crate's as Python spells its arguments: the crate's messages name
/// the command line's options, which these calls take as keyword arguments.
fn in_python_terms(message: &str) -> String {
    const NAMES: [(&str, &str); 10] = [
        ("--missing-delisting-return", "missing_delisting_return"),
        ("--out ", "save: "),
        ("--force", "force=True"),
        ("--batch-paths", "batch_paths"),
        ("--precision f64", "precision=\"f64\""),
        ("--history", "history"),
        ("--caps", "caps=True"),
        ("--benchmark", "benchmark"),
        ("--from", "start"),
        ("--to", "end"),
    ];
    NAMES.iter().fold(message.to_string(), |message, (option, argument)| message.replace(option, argument))
}

/// The scenario a Python call names: `kind` is "default", "file", "toml" or "json".
fn scenario_source(kind: &str, value: String) -> PyResult<ScenarioSource> {
    Ok(match kind {
        "default" => ScenarioSource::Default,
        "file" => ScenarioSource::File(PathBuf::from(value)),
        "toml" => ScenarioSource::Toml(value),
        "json" => ScenarioSource::Json(value),
        other => return Err(PyValueError::new_err(format!("scenario: unknown kind of source {other:?}"))),
    })
}

/// A finished run: the plan, its report and per-path results, and the notes the run made.
#[pyclass(frozen, module = "sptlab._native")]
struct NativeRun {
    plan: Plan,
    report: Report,
    results: Results,
    notes: Vec<String>,
}

#[pymethods]
impl NativeRun {
    /// summary.json's text.
    fn summary_json(&self) -> String {
        sptlab::output::data_files::summary_json(&self.report)
    }

    /// The printed table's rows (`output::table::TableRow`) as JSON.
    fn table_json(&self) -> String {
        json(&sptlab::output::table::table_rows(&self.report))
    }

    /// The table as `sptlab run` prints it.
    fn table_text(&self) -> String {
        sptlab::output::table::table(&self.report)
    }

    /// The time grid's rows (`output::grid_table::GridRow`) as JSON.
    fn grid_json(&self) -> String {
        json(&sptlab::output::grid_table::grid_rows(&self.results, self.plan.steps_per_year))
    }

    /// paths.parquet, every path's statistics, written to `path` one row group at a
    /// time (no copy of the whole table in memory); MemoryError when a row group
    /// does not fit.
    fn write_paths_parquet(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        use sptlab::output::paths_parquet::{write_paths_parquet, PathsTableError};
        let rounding = self.results.rounding(self.report.run.backend.precision);
        py.detach(|| {
            let file = std::fs::File::create(&path)
                .map_err(|error| PyRuntimeError::new_err(format!("writing {}: {error}", path.display())))?;
            let written = write_paths_parquet(&self.results, &rounding, std::io::BufWriter::new(file));
            match written {
                Ok(mut out) => std::io::Write::flush(&mut out)
                    .map_err(|error| PyRuntimeError::new_err(format!("writing {}: {error}", path.display()))),
                Err(error @ PathsTableError::OutOfMemory { .. }) => Err(PyMemoryError::new_err(error.to_string())),
                Err(error) => Err(PyRuntimeError::new_err(format!("encoding the per-path table: {error}"))),
            }
        })
    }

    /// What the run said on the way (a fall-back to the CPU, say).
    fn notes(&self) -> Vec<String> {
        self.notes.clone()
    }

    /// The files `run --out DIR` writes, into `dir`, under the same rules.
    #[pyo3(signature = (dir, per_path = None, png = false, force = false))]
    fn save(&self, py: Python<'_>, dir: PathBuf, per_path: Option<&str>, png: bool, force: bool) -> PyResult<()> {
        let per_path = match per_path {
            None => None,
            Some("csv") => Some(PerPathFormat::Csv),
            Some("parquet") => Some(PerPathFormat::Parquet),
            Some(other) => {
                return Err(PyValueError::new_err(format!("per_path={other:?}: must be \"csv\", \"parquet\" or None")))
            }
        };
        py.detach(|| {
            let files = sptlab::output::run_files::run_files((&self.plan, &self.report, &self.results), per_path, png)
                .map_err(|error| PyRuntimeError::new_err(format!("writing results to {}: {error}", dir.display())))?;
            publish(&dir, files, force)
        })
    }
}

/// A finished backtest.
#[pyclass(frozen, module = "sptlab._native")]
struct NativeBacktest {
    backtest: Backtest,
}

#[pymethods]
impl NativeBacktest {
    fn summary_json(&self) -> String {
        sptlab::output::backtest::backtest_summary_json(&self.backtest)
    }

    fn table_text(&self) -> String {
        sptlab::output::backtest::backtest_table(&self.backtest)
    }

    /// backtest.csv's text: per date, the market's and each strategy's log values and terms.
    fn series_csv(&self) -> String {
        sptlab::output::backtest::backtest_csv(&self.backtest)
    }

    #[pyo3(signature = (dir, png = false, force = false))]
    fn save(&self, py: Python<'_>, dir: PathBuf, png: bool, force: bool) -> PyResult<()> {
        py.detach(|| {
            let files = sptlab::output::backtest_plots::backtest_files(&self.backtest, png).map_err(|reason| {
                PyRuntimeError::new_err(format!("drawing the figures for {}: {reason}", dir.display()))
            })?;
            publish(&dir, files, force)
        })
    }
}

/// A finished backtest on a long file (an open universe).
#[pyclass(frozen, module = "sptlab._native")]
struct NativeLongBacktest {
    backtest: LongBacktest,
}

#[pymethods]
impl NativeLongBacktest {
    fn summary_json(&self) -> String {
        sptlab::output::long_backtest::long_backtest_summary_json(&self.backtest)
    }

    fn table_text(&self) -> String {
        sptlab::output::long_backtest::long_backtest_table(&self.backtest)
    }

    /// backtest.csv's text: at sampled dates, the benchmark's log value and each strategy's L.
    fn series_csv(&self) -> String {
        sptlab::output::long_backtest::long_backtest_csv(&self.backtest)
    }

    #[pyo3(signature = (dir, force = false))]
    fn save(&self, py: Python<'_>, dir: PathBuf, force: bool) -> PyResult<()> {
        py.detach(|| publish(&dir, sptlab::output::long_backtest::long_backtest_files(&self.backtest), force))
    }
}

/// `sptlab.backtest` of a long file (CSV or Parquet; a DataFrame or pyarrow Table comes
/// as a temporary Parquet file): see `sptlab/__init__.py`.
#[pyfunction]
#[pyo3(signature = (data, scenario_kind, scenario, *, start = None, end = None, missing_delisting_return = None))]
fn backtest_long(
    py: Python<'_>,
    data: PathBuf,
    scenario_kind: &str,
    scenario: String,
    start: Option<String>,
    end: Option<String>,
    missing_delisting_return: Option<f64>,
) -> PyResult<NativeLongBacktest> {
    let source = scenario_source(scenario_kind, scenario)?;
    let name = source.name();
    let scenario = source.load().map_err(|problems| bad_input(&problems))?;
    let options = LongBacktestOptions { data, from: start, to: end, missing_delisting_return, last_years: None };
    let backtest =
        py.detach(|| sptlab::backtest::long_backtest(&scenario, &options, &mut |_, _, _| {})).map_err(|error| {
            match error {
                BacktestError::Scenario(error) => bad_input(&scenario_problems(&name, &error)),
                BacktestError::Data(error) => bad_input(&[error.to_string()]),
            }
        })?;
    Ok(NativeLongBacktest { backtest })
}

/// Whether the file at `path` is a long file (by its header, or Parquet's magic bytes).
#[pyfunction]
fn is_long_file(path: PathBuf) -> bool {
    sptlab::data::long::is_long_file(&path).unwrap_or(false)
}

/// Writes `files` into `dir` as one set (summary.json last), refusing to replace
/// another run's results unless `force`, and anything sptlab did not write at all.
fn publish(dir: &std::path::Path, files: Vec<(String, Vec<u8>)>, force: bool) -> PyResult<()> {
    let existing = if force { Existing::Replace } else { Existing::Refuse };
    let mut out_dir = OutDir::open(dir, existing).map_err(|error| match error {
        OutDirError::Refused(reason) => bad_input(&[reason]),
        error => PyOSError::new_err(error.to_string()),
    })?;
    out_dir
        .publish(files, &["summary.json"])
        .map_err(|error| PyOSError::new_err(format!("writing results to {}: {error}", dir.display())))
}

fn json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    serde_json::to_string(value).expect("the tables hold only serialisable values")
}

/// A run's options as Python passes them, before they are checked.
struct RunOptions {
    paths: Option<u64>,
    years: Option<f64>,
    seed: Option<u64>,
    backend: String,
    precision: String,
    threads: Option<usize>,
    batch_paths: Option<u64>,
    control_variate: Option<String>,
    antithetic: Option<bool>,
    history: Option<PathBuf>,
    caps: bool,
}

/// Everything checked into a plan and a backend's options, or every problem found.
fn checked(
    source: &ScenarioSource,
    options: &RunOptions,
) -> Result<(Plan, BackendOptions, Option<HistoricalOutcome>), Vec<String>> {
    let mut problems = Vec::new();
    let request = match options.backend.as_str() {
        "auto" => Some(BackendRequest::Auto),
        "cpu" => Some(BackendRequest::Only(BackendKind::Cpu)),
        "gpu" => Some(BackendRequest::Only(BackendKind::Gpu)),
        other => {
            problems.push(format!("backend={other:?}: must be \"auto\", \"cpu\" or \"gpu\""));
            None
        }
    };
    let precision = match options.precision.as_str() {
        "f32" => Some(Precision::F32),
        "f64" => Some(Precision::F64),
        other => {
            problems.push(format!("precision={other:?}: must be \"f32\" or \"f64\""));
            None
        }
    };
    let control_variate = match options.control_variate.as_deref() {
        None => None,
        Some("martingale") => Some(ControlVariate::Martingale),
        Some("none") => Some(ControlVariate::None),
        Some(other) => {
            problems.push(format!("control_variate={other:?}: must be \"martingale\" or \"none\""));
            None
        }
    };
    let backend = BackendOptions {
        request: request.unwrap_or(BackendRequest::Auto),
        precision: precision.unwrap_or(Precision::F32),
        threads: options.threads,
        batch_paths: options.batch_paths,
        cancel: None,
    };
    problems.extend(backend.problems(&|option| option.to_string()));
    let name = source.name();
    let overrides = Overrides {
        paths: options.paths,
        years: options.years,
        seed: options.seed,
        control_variate,
        antithetic: options.antithetic,
    };
    let plan = source.plan(&overrides).map_err(|found| problems.extend(found)).ok();
    let Some(plan) = plan else { return Err(problems) };
    problems.extend(sptlab::capacity::memory_problems(options.batch_paths, &name, &plan, plan.paths));
    let history = match &options.history {
        Some(data) => match sptlab::backtest::historical_outcome(&plan, data, options.caps) {
            Ok(history) => Some(history),
            Err(error) => {
                problems.extend(sptlab::backtest::history_problems(&error));
                None
            }
        },
        None if options.caps => {
            problems.push("caps=True needs history= (the data it describes)".to_string());
            None
        }
        None => None,
    };
    if problems.is_empty() {
        Ok((plan, backend, history))
    } else {
        Err(problems)
    }
}

/// Why a run in the worker thread stopped.
enum Stopped {
    BadInput(String),
    Failed(String),
    Interrupted,
}

/// Builds the backend and simulates `plan` in full (the CPU taking over from a GPU
/// that fails under `auto`), stopping at the next batch once `interrupted` is set.
fn simulate(
    (plan, source): (&Plan, &str),
    options: &BackendOptions,
    history: Option<HistoricalOutcome>,
    done: &AtomicU64,
    interrupted: &AtomicBool,
) -> Result<(Report, Results, Vec<String>), Stopped> {
    let mut notes = Vec::new();
    let backend = options.choose(&mut |line| notes.push(line)).map_err(|error| match error {
        ChoiceError::F64OnGpu(error) => Stopped::BadInput(error.to_string()),
        ChoiceError::NoGpu(cause) => Stopped::Failed(format!("backend=\"gpu\": {cause}")),
    })?;
    let mut backend = options
        .fitting(backend, plan, &mut |line| notes.push(line))
        .map_err(|reason| Stopped::BadInput(format!("{source}: {reason}")))?;
    let progress = |paths: u64| {
        done.fetch_add(paths, Ordering::Relaxed);
    };
    loop {
        done.store(0, Ordering::Relaxed);
        let mut start = Results::for_paths(plan, 0..plan.paths);
        start.history = history.clone();
        let mut between_batches = |_: &Results, _: f64| match interrupted.load(Ordering::Relaxed) {
            true => Err(EngineError::Interrupted),
            false => Ok(()),
        };
        let outcome = sptlab::simulate_from(plan, backend.as_mut(), start, 0.0, &progress, &mut between_batches);
        match outcome {
            Ok((results, run)) => {
                let report = Report::new(plan, &results, run);
                return Ok((report, results, notes));
            }
            Err(EngineError::Interrupted) => return Err(Stopped::Interrupted),
            Err(error) => match options.takeover(backend.as_ref(), &error, true) {
                Some(cpu) => {
                    notes.push(format!("note: the GPU run failed ({error}); running on the CPU backend instead"));
                    backend = cpu;
                }
                None => return Err(Stopped::Failed(format!("simulation failed: {error}"))),
            },
        }
    }
}

/// `sptlab.run`: see `sptlab/__init__.py`.
#[pyfunction]
#[pyo3(signature = (
    scenario_kind, scenario, *, paths = None, years = None, seed = None, backend = "auto".to_string(),
    precision = "f32".to_string(), threads = None, batch_paths = None, control_variate = None, antithetic = None,
    history = None, caps = false, progress = None
))]
#[allow(clippy::too_many_arguments)]
fn run(
    py: Python<'_>,
    scenario_kind: &str,
    scenario: String,
    paths: Option<u64>,
    years: Option<f64>,
    seed: Option<u64>,
    backend: String,
    precision: String,
    threads: Option<usize>,
    batch_paths: Option<u64>,
    control_variate: Option<String>,
    antithetic: Option<bool>,
    history: Option<PathBuf>,
    caps: bool,
    progress: Option<Py<PyAny>>,
) -> PyResult<NativeRun> {
    let source = scenario_source(scenario_kind, scenario)?;
    let options = RunOptions {
        paths,
        years,
        seed,
        backend,
        precision,
        threads,
        batch_paths,
        control_variate,
        antithetic,
        history,
        caps,
    };
    let (plan, mut backend, history) =
        py.detach(|| checked(&source, &options)).map_err(|problems| bad_input(&problems))?;
    let name = source.name();
    let done = AtomicU64::new(0);
    let interrupted = Arc::new(AtomicBool::new(false));
    backend.cancel = Some(interrupted.clone());
    // The simulation runs on a worker thread; this one, with the GIL released, reports
    // progress and looks for Ctrl-C (which Python delivers to its main thread only),
    // woken by the worker when it finishes.
    let mut reported = None;
    let outcome = on_worker(
        py,
        &interrupted,
        || simulate((&plan, &name), &backend, history, &done, &interrupted),
        |py| {
            let now = done.load(Ordering::Relaxed).min(plan.paths);
            let changed = reported.replace(now) != Some(now);
            match &progress {
                Some(callback) if changed => callback.call1(py, (now, plan.paths)).map(drop),
                _ => Ok(()),
            }
        },
    );
    let outcome = (outcome.0.unwrap_or_else(|| Err(Stopped::Failed("the simulation panicked".into()))), outcome.1);
    match outcome {
        (Ok((report, results, notes)), None) => {
            if let Some(callback) = &progress {
                callback.call1(py, (plan.paths, plan.paths))?;
            }
            Ok(NativeRun { plan, report, results, notes })
        }
        (_, Some(error)) => Err(error),
        (Err(Stopped::BadInput(message)), None) => Err(bad_input(&[message])),
        (Err(Stopped::Failed(message)), None) => Err(PyRuntimeError::new_err(message)),
        (Err(Stopped::Interrupted), None) => Err(PyRuntimeError::new_err("the run was interrupted")),
    }
}

/// Runs `work` on a worker thread with the GIL released, while this thread wakes every
/// [`POLL`] (and when the work ends) to look for Ctrl-C (which Python delivers to its
/// main thread only) and call `report`. The first error of either sets `interrupted`
/// (which the work watches) and is returned beside the work's outcome (`None` if it
/// panicked); nothing more is called after it.
fn on_worker<T: Send>(
    py: Python<'_>,
    interrupted: &AtomicBool,
    work: impl FnOnce() -> T + Send,
    mut report: impl FnMut(Python<'_>) -> PyResult<()> + Send,
) -> (Option<T>, Option<PyErr>) {
    py.detach(|| {
        let caller = std::thread::current();
        std::thread::scope(|scope| {
            let worker = scope.spawn(|| {
                let outcome = work();
                caller.unpark();
                outcome
            });
            let mut stopped_by = None;
            while !worker.is_finished() {
                std::thread::park_timeout(POLL);
                if stopped_by.is_some() || worker.is_finished() {
                    continue;
                }
                if let Err(error) = Python::attach(|py| py.check_signals().and_then(|()| report(py))) {
                    interrupted.store(true, Ordering::Relaxed);
                    stopped_by = Some(error);
                }
            }
            (worker.join().ok(), stopped_by)
        })
    })
}

/// `sptlab.backtest`: see `sptlab/__init__.py`.
#[pyfunction]
#[pyo3(signature = (data, scenario_kind, scenario, *, caps = false, start = None, end = None, benchmark = None))]
#[allow(clippy::too_many_arguments)]
fn backtest(
    py: Python<'_>,
    data: PathBuf,
    scenario_kind: &str,
    scenario: String,
    caps: bool,
    start: Option<String>,
    end: Option<String>,
    benchmark: Option<PathBuf>,
) -> PyResult<NativeBacktest> {
    let source = scenario_source(scenario_kind, scenario)?;
    let name = source.name();
    let scenario = source.load().map_err(|problems| bad_input(&problems))?;
    let options = BacktestOptions { data, caps, from: start, to: end, benchmark };
    let backtest = py.detach(|| sptlab::backtest::backtest(&scenario, &options)).map_err(|error| match error {
        BacktestError::Scenario(error) => bad_input(&scenario_problems(&name, &error)),
        BacktestError::Data(error) => bad_input(&[error.to_string()]),
    })?;
    Ok(NativeBacktest { backtest })
}

/// `sptlab.example`: a shipped scenario's TOML text.
#[pyfunction]
fn example(name: &str) -> PyResult<String> {
    sptlab::scenario::examples::example_text(name).ok_or_else(|| {
        PyValueError::new_err(format!("no example scenario named {name}; there are: {}", example_names().join(", ")))
    })
}

/// The shipped scenarios' names.
#[pyfunction]
fn example_names() -> Vec<&'static str> {
    sptlab::scenario::EXAMPLE_SCENARIOS.iter().map(|(name, _)| *name).collect()
}

/// `sptlab.info`: what `sptlab info` prints, as JSON.
#[pyfunction]
fn info_json(py: Python<'_>) -> String {
    py.detach(|| {
        let auto = match GpuContext::new(false) {
            Ok(context) => format!("gpu ({})", context.adapter_name()),
            Err(reason) => format!("cpu ({reason})"),
        };
        let adapters: Vec<String> = gpu::list_adapters().iter().map(|adapter| adapter.to_string()).collect();
        json(&serde_json::json!({
            "version": sptlab::provenance::SPTLAB_VERSION,
            "cpu_threads": std::thread::available_parallelism().map_or(1, |n| n.get()),
            "cpu_kernel": sptlab::engine::cpu::kernel_flavour(),
            "gpu_adapters": adapters,
            "auto_chooses": auto,
        }))
    })
}

/// `sptlab.bench`: `sptlab bench`'s measurements, as JSON.
#[pyfunction]
#[pyo3(signature = (workload = "standard", backend = "all", paths = None, gpu_paths = None, repeat = 3, efficiency = false))]
fn bench_json(
    py: Python<'_>,
    workload: &str,
    backend: &str,
    paths: Option<u64>,
    gpu_paths: Option<u64>,
    repeat: usize,
    efficiency: bool,
) -> PyResult<String> {
    let workloads = match workload {
        "standard" => vec![Workload::Standard],
        "large" => vec![Workload::Large],
        "rank" => vec![Workload::Rank(100)],
        "max_growth" => vec![Workload::MaxGrowth],
        "all" => vec![Workload::Standard, Workload::Large, Workload::Rank(100)],
        other => {
            return Err(PyValueError::new_err(format!(
                "workload={other:?}: must be \"standard\", \"large\", \"rank\", \"max_growth\" or \"all\""
            )))
        }
    };
    let (cpu, want_gpu) = match backend {
        "all" => (true, true),
        "cpu" => (true, false),
        "gpu" => (false, true),
        other => return Err(PyValueError::new_err(format!("backend={other:?}: must be \"all\", \"cpu\" or \"gpu\""))),
    };
    let valid = |paths: u64| (1..=sptlab::scenario::MAX_PATHS).contains(&paths);
    if !paths.is_none_or(valid) || !gpu_paths.is_none_or(valid) {
        return Err(PyValueError::new_err(format!(
            "paths and gpu_paths must be between 1 and {}",
            sptlab::scenario::MAX_PATHS
        )));
    }
    if !(1..=sptlab::bench::MAX_REPEAT).contains(&repeat) {
        return Err(PyValueError::new_err(format!("repeat={repeat}: must be from 1 to {}", sptlab::bench::MAX_REPEAT)));
    }
    let interrupted = Arc::new(AtomicBool::new(false));
    let suite = Suite { workloads, cpu, paths, gpu_paths, repeat, efficiency, cancel: Some(interrupted.clone()) };
    let measure = || -> PyResult<String> {
        let mut gpu = match (want_gpu, GpuContext::new(true)) {
            (false, _) => None,
            (true, Ok(context)) => Some(GpuBackend::new(context)),
            (true, Err(reason)) if backend == "gpu" => {
                return Err(PyRuntimeError::new_err(format!("backend=\"gpu\": no GPU backend: {reason}")))
            }
            (true, Err(_)) => None,
        };
        let mut measurements =
            run_suite(&suite, gpu.as_mut(), &mut |_| {}).map_err(|error| PyRuntimeError::new_err(error.to_string()))?;
        sptlab::bench::add_ratios(&mut measurements);
        Ok(json(&measurements))
    };
    match on_worker(py, &interrupted, measure, |_| Ok(())) {
        (_, Some(error)) => Err(error),
        (Some(outcome), None) => outcome,
        (None, None) => Err(PyRuntimeError::new_err("the benchmark panicked")),
    }
}

#[pymodule]
fn _native(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_class::<NativeRun>()?;
    module.add_class::<NativeBacktest>()?;
    module.add_class::<NativeLongBacktest>()?;
    module.add_function(wrap_pyfunction!(backtest_long, module)?)?;
    module.add_function(wrap_pyfunction!(is_long_file, module)?)?;
    module.add_function(wrap_pyfunction!(run, module)?)?;
    module.add_function(wrap_pyfunction!(backtest, module)?)?;
    module.add_function(wrap_pyfunction!(example, module)?)?;
    module.add_function(wrap_pyfunction!(example_names, module)?)?;
    module.add_function(wrap_pyfunction!(info_json, module)?)?;
    module.add_function(wrap_pyfunction!(bench_json, module)?)?;
    Ok(())
}
