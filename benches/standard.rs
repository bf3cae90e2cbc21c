//! The standard workload (../shared/peers/): 100 stocks, 2000 paths, 2520 steps.
//! Throughput is reported in asset-steps (stocks x paths x steps) per second.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use sptlab::engine::cpu::{simulate_batch, KernelParams};
use sptlab::scenario::standard_workload;

fn standard(c: &mut Criterion) {
    let plan = standard_workload(2000).validate().expect("the standard workload is valid");
    let asset_steps = plan.n() as u64 * plan.paths * plan.steps as u64;
    let mut group = c.benchmark_group("standard_workload");
    group.sample_size(10);
    group.throughput(Throughput::Elements(asset_steps));
    let f32_params = KernelParams::<f32>::new(&plan);
    group.bench_function("cpu_f32", |b| {
        b.iter(|| simulate_batch(&f32_params, 0..plan.paths, plan.strategies.len(), &|_| {}))
    });
    group.finish();
}

criterion_group!(benches, standard);
criterion_main!(benches);
