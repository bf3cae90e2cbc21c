//! The standard workload of ../shared/peers/: 100 stocks, 2520 daily steps, full
//! Cholesky with correlation 0.3, equal and diversity 0.5 against the market,
//! rebalanced every step. Throughput is in asset-steps (stocks x paths x steps).
//! The GPU case runs on whatever adapter exists (fewer paths on a software one).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sptlab::engine::gpu::{GpuBackend, GpuContext};
use sptlab::engine::{Backend, CpuBackend, Precision};
use sptlab::scenario::standard_workload;

fn run_on(c: &mut Criterion, label: &str, backend: &mut dyn Backend, paths: u64) {
    let plan = standard_workload(paths).validate().expect("the standard workload is valid");
    let mut group = c.benchmark_group("standard_workload");
    group.sample_size(10);
    group.throughput(Throughput::Elements(plan.n() as u64 * plan.paths * plan.steps as u64));
    group.bench_function(format!("{label} ({}, {paths} paths)", backend.info().adapter), |b| {
        b.iter(|| sptlab::simulate(&plan, backend, &|_| {}).expect("the simulation runs"))
    });
    group.finish();
}

fn standard(c: &mut Criterion) {
    run_on(c, "cpu_f32", &mut CpuBackend::new(Precision::F32, None), 2000);
    run_on(c, "cpu_f64", &mut CpuBackend::new(Precision::F64, None), 500);
    match GpuContext::new(true) {
        Ok(context) => {
            let paths = if context.is_software() { 64 } else { 2000 };
            run_on(c, "gpu_f32", &mut GpuBackend::new(context), paths);
        }
        Err(reason) => eprintln!("no GPU adapter, GPU case skipped: {reason}"),
    }
}

criterion_group!(benches, standard);
criterion_main!(benches);
