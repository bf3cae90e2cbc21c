//! Criterion benchmark of the max_growth optimiser alone, per solve, on the max_growth
//! workload's problem (1,000 stocks, 10 factors, a 2 % tracking-error budget, the Zipf
//! start's market weights): the factor form warm-started from the previous solve at
//! nearby market weights, as a path's rebalances find it, and cold.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use sptlab::market::Market;
use sptlab::portfolio::optimize::{CovarianceBelief, WarmStart};
use sptlab::portfolio::Weighting;
use sptlab::scenario::max_growth_workload;

fn solver(c: &mut Criterion) {
    let plan = max_growth_workload(1).validate().expect("the max_growth workload is valid");
    let problem = plan
        .strategies
        .iter()
        .find_map(|strategy| match &strategy.weighting {
            Weighting::MaxGrowth { belief: CovarianceBelief::Model(problem), .. } => Some(problem.clone()),
            _ => None,
        })
        .expect("the workload has a max_growth strategy on the model's covariance");
    let Market::Gbm(gbm) = &plan.market else { unreachable!("the workload is GBM") };
    let mu = gbm.initial_weights.clone();
    // Market weights a quarter later: each moved by up to 5 %, renormalised.
    let moved = |shift: usize| -> Vec<f64> {
        let raw: Vec<f64> =
            mu.iter().enumerate().map(|(i, m)| m * (1.0 + 0.05 * ((i * 7 + shift) as f64).sin())).collect();
        let total: f64 = raw.iter().sum();
        raw.iter().map(|w| w / total).collect()
    };
    let (first, second) = (moved(0), moved(1));
    let mut group = c.benchmark_group("max_growth solver (1000 stocks, 10 factors)");
    group.sample_size(20);
    group.bench_function("factor form, cold", |b| b.iter(|| problem.solve(black_box(&first))));
    let mut warm = WarmStart::default();
    problem.solve_from(&first, &mut warm);
    let mut flip = false;
    group.bench_function("factor form, warm (the next rebalance)", |b| {
        b.iter(|| {
            flip = !flip;
            problem.solve_from(black_box(if flip { &second } else { &first }), &mut warm)
        })
    });
    let eigen = problem.without_factors();
    let mut eigen_warm = WarmStart::default();
    eigen.solve_from(&first, &mut eigen_warm);
    group.bench_function("eigenbasis ADMM, warm (the method for full covariances)", |b| {
        b.iter(|| {
            flip = !flip;
            eigen.solve_from(black_box(if flip { &second } else { &first }), &mut eigen_warm)
        })
    });
    group.finish();
}

criterion_group!(benches, solver);
criterion_main!(benches);
