//! `sptlab bench`: the named workloads and the scaling sweep on CPU f32, CPU f64 and
//! the GPU adapter, and the Python peers, timed in one run (the measuring is
//! `sptlab::bench`; this is the choice of what to time and the printing).

use anyhow::Context;

use sptlab::bench::efficiency::efficiency_table;
use sptlab::bench::suite::{run_suite, Suite};
use sptlab::bench::{Workload, MAX_REPEAT};
use sptlab::engine::gpu::{GpuBackend, GpuContext};
use sptlab::engine::{Backend, CpuBackend, Precision};

use crate::args::{BenchArgs, BenchBackendChoice, WorkloadChoice};
use crate::checks::output_file_problem;
use crate::failure::{note, out, outln, Failure};

pub fn bench(args: BenchArgs) -> Result<(), Failure> {
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
    if let Some(baseline) = &args.baseline {
        if args.workload == WorkloadChoice::Scaling {
            return Err(Failure::BadInput("--baseline: not with --workload scaling (one size at a time)".into()));
        }
        use std::os::unix::fs::PermissionsExt;
        let executable = std::fs::metadata(baseline).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0);
        if !executable {
            return Err(Failure::BadInput(format!(
                "--baseline {}: not an executable file (an sptlab binary, e.g. an earlier build's target/release/sptlab)",
                baseline.display()
            )));
        }
    }
    let workloads: Vec<Workload> = match args.workload {
        WorkloadChoice::Standard => vec![Workload::Standard],
        WorkloadChoice::Large => vec![Workload::Large],
        WorkloadChoice::Rank => vec![Workload::Rank(100)],
        WorkloadChoice::MaxGrowth => vec![Workload::MaxGrowth],
        WorkloadChoice::Index => vec![Workload::Index { index: true }, Workload::Index { index: false }],
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
    let suite = Suite {
        workloads: workloads.clone(),
        cpu: with_cpu,
        paths: args.paths,
        gpu_paths: args.gpu_paths,
        repeat: args.repeat,
        efficiency: !args.no_efficiency,
        cancel: None,
    };
    let mut measurements = run_suite(&suite, gpu.as_mut(), &mut |line| note!("{line}")).map_err(anyhow::Error::new)?;
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
    // This binary and the baseline, each as whole `run` processes, one after the other.
    let mut speedups = Vec::new();
    if let Some(baseline) = &args.baseline {
        let current = std::env::current_exe().context("finding this binary for --baseline")?;
        for &workload in &workloads {
            let paths = args.paths.unwrap_or(workload.default_paths());
            let mut pair = Vec::new();
            for (binary, label) in [(&current, "this binary"), (baseline, "baseline")] {
                note!("timing `{} run` on {} ({paths} paths, CPU f32)...", binary.display(), workload.name());
                let measurement =
                    sptlab::bench::baseline::measure_run_process(binary, label, workload, paths, args.repeat)
                        .map_err(|reason| Failure::Other(anyhow::anyhow!("--baseline: {reason}")))?;
                pair.push(measurement.seconds);
                measurements.push(measurement);
            }
            speedups.push((workload.name(), paths, pair[0], pair[1]));
        }
    }
    sptlab::bench::add_ratios(&mut measurements);
    for workload in &workloads {
        outln!("{}: {}", workload.name(), workload.description());
    }
    if workloads.iter().any(|workload| matches!(workload, Workload::Standard | Workload::Large | Workload::Rank(_))) {
        outln!("strategies: equal and diversity 0.5 against the market, rebalanced every step");
    }
    out!("{}", sptlab::bench::table(&measurements));
    outln!(
        "median and min of {} timed runs after a warm-up; vs: throughput ratios in this run; \
         max |dL|: largest per-path gap in relative log return from CPU f64 on the first paths",
        args.repeat
    );
    for measurement in &measurements {
        let workload = workloads.iter().find(|workload| workload.name() == measurement.workload);
        if let Some(solves) = workload.and_then(|workload| workload.solves_per_path(measurement.steps as u64)) {
            outln!(
                "{} on {} {}: {solves} max_growth solves a path, {:.0} solves/s, {:.1} ms a path (wall)",
                measurement.workload,
                measurement.backend,
                measurement.precision.name(),
                (solves * measurement.paths) as f64 / measurement.seconds,
                1e3 * measurement.seconds / measurement.paths as f64
            );
        }
    }
    // What the index costs: its workload's throughput against the same run without it.
    for with_index in measurements.iter().filter(|m| m.workload == Workload::Index { index: true }.name()) {
        let closed = measurements.iter().find(|m| {
            m.workload == Workload::Index { index: false }.name()
                && (m.backend == with_index.backend && m.precision == with_index.precision)
        });
        if let Some(closed) = closed {
            let ratio = with_index.asset_steps_per_second / closed.asset_steps_per_second;
            outln!(
                "index on {} {}: {:.3} of the throughput without it ({:+.1} %)",
                with_index.backend,
                with_index.precision.name(),
                ratio,
                100.0 * (ratio - 1.0)
            );
        }
    }
    for (workload, paths, this_binary, baseline) in &speedups {
        outln!(
            "{workload}: this binary {this_binary:.2} s, the baseline {baseline:.2} s: {:.1}x faster (whole `run` \
             processes, CPU f32, {paths} paths, median of {})",
            baseline / this_binary,
            args.repeat
        );
    }
    let efficiency: Vec<_> = measurements.iter().filter_map(|m| m.efficiency.clone()).flatten().collect();
    if !efficiency.is_empty() {
        outln!(
            "\nwork for a given precision: se of the mean relative growth (controlled where the estimator is) \
             squared, times the median seconds; gain: the plain estimate's work over this one's (docs/control-variates.md)"
        );
        out!("{}", efficiency_table(&efficiency));
    }
    write_json(args.json.as_deref(), &measurements)
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
    write_json(args.json.as_deref(), &measurements)
}

/// `--json FILE`: the measurements, with summary.json's `run` field names.
fn write_json(json: Option<&std::path::Path>, measurements: &[sptlab::bench::Measurement]) -> Result<(), Failure> {
    if let Some(json) = json {
        let text = serde_json::to_string_pretty(measurements).context("encoding the measurements")?;
        sptlab::files::write_atomically(json, text.as_bytes())
            .with_context(|| format!("writing {}", json.display()))?;
        note!("wrote {}", json.display());
    }
    Ok(())
}
