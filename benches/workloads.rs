//! Criterion benchmarks of `sptlab bench`'s workloads. Throughput is in asset-steps
//! (stocks x paths x steps).
//!
//! * standard_workload: benches/peers/'s: 100 stocks, 2520 daily steps, full Cholesky
//!   with correlation 0.3, equal and diversity 0.5 against the market, every step.
//! * rank_workload: an Atlas market of 100 and of 1,000 stocks (ranks repaired by
//!   insertion sort every step), the same strategies.
//! * large_workload: 500 stocks with a 10-factor covariance, the same strategies.
//!
//! GPU cases run on whatever adapter exists, with fewer paths and steps on a software one.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sptlab::bench::Workload;
use sptlab::engine::gpu::{GpuBackend, GpuContext};
use sptlab::engine::{Backend, CpuBackend, Precision};

fn run_on(c: &mut Criterion, workload: Workload, label: &str, backend: &mut dyn Backend, paths: u64, years: f64) {
    let mut scenario = workload.scenario(paths);
    scenario.years = years;
    let plan = scenario.validate().expect("the benchmark workloads are valid");
    let mut group = c.benchmark_group(format!("{}_workload", workload.name().replace('-', "_")));
    group.sample_size(10);
    group.throughput(Throughput::Elements(plan.n() as u64 * plan.paths * plan.steps as u64));
    group.bench_function(format!("{label} ({}, {paths} paths, {} steps)", backend.info().adapter, plan.steps), |b| {
        b.iter(|| sptlab::simulate(&plan, backend, &|_| {}).expect("the simulation runs"))
    });
    group.finish();
}

fn workloads(c: &mut Criterion) {
    let mut gpu = match GpuContext::new(true) {
        Ok(context) => Some(GpuBackend::new(context)),
        Err(reason) => {
            eprintln!("no GPU adapter, GPU cases skipped: {reason}");
            None
        }
    };
    let cases = [
        // (workload, CPU f32 paths, CPU f64 paths, GPU paths and years on hardware / software)
        (Workload::Standard, 2000, 500, (2000, 10.0), (64, 10.0)),
        (Workload::Rank(100), 2000, 500, (2000, 10.0), (64, 1.0)),
        (Workload::Rank(1000), 200, 50, (2000, 10.0), (64, 0.2)),
        (Workload::Large, 200, 50, (2000, 10.0), (64, 0.2)),
    ];
    for (workload, f32_paths, f64_paths, hardware, software) in cases {
        run_on(c, workload, "cpu_f32", &mut CpuBackend::new(Precision::F32, None), f32_paths, 10.0);
        run_on(c, workload, "cpu_f64", &mut CpuBackend::new(Precision::F64, None), f64_paths, 10.0);
        if let Some(gpu) = gpu.as_mut() {
            let (paths, years) = if gpu.is_software() { software } else { hardware };
            run_on(c, workload, "gpu_f32", gpu, paths, years);
        }
    }
}

criterion_group!(benches, workloads);
criterion_main!(benches);
