//! The bootstrap market (docs/real-data.md): the days a path takes (the contract's
//! integer rule, recomputed here from Philox words), the moments of the simulated
//! changes, the block lengths, and de-meaning.

use sptlab::engine::cpu::{simulate_batch, KernelParams};
use sptlab::market::bootstrap::{bootstrap_log_steps, next_days, BootstrapKernel, BootstrapMarket};
use sptlab::market::Market;
use sptlab::numeric::lanes::Lanes;
use sptlab::numeric::philox::{philox4x32_10, seed_key, STREAM_BOOTSTRAP};
use sptlab::Plan;

use crate::common::{data_file, plan};

fn bootstrap_plan(stocks: usize, paths: u64, years: f64, market: &str) -> Plan {
    plan(&format!(
        "seed = 7\npaths = {paths}\nyears = {years}\n[market]\nmodel = \"bootstrap\"\ndata = \"{}\"\n{market}\n\
         [[strategies]]\nname = \"equal\"\nweighting = \"equal\"\nrebalance_every = 5",
        data_file(stocks, "1990-01-01")
    ))
}

fn market(plan: &Plan) -> &BootstrapMarket {
    match &plan.market {
        Market::Bootstrap(market) => market,
        _ => panic!("a bootstrap plan"),
    }
}

/// The data's daily log changes straight from the CSV, `[day][stock]`.
fn csv_changes(path: &str) -> Vec<Vec<f64>> {
    let text = std::fs::read_to_string(path).unwrap();
    let prices: Vec<Vec<f64>> =
        text.lines().skip(1).map(|line| line.split(',').skip(1).map(|c| c.parse().unwrap()).collect()).collect();
    prices.windows(2).map(|pair| pair[1].iter().zip(&pair[0]).map(|(b, a)| (b / a).ln()).collect()).collect()
}

#[test]
fn each_path_takes_the_days_the_contract_says() {
    let plan = bootstrap_plan(6, 40, 1.0, "mean_block = 8\ninitial_weights = [3, 1, 1, 1, 1, 1]");
    let changes = csv_changes(market(&plan).source.as_ref().unwrap().path.to_str().unwrap());
    let days = changes.len() as u64;
    let params = KernelParams::<f64>::new(&plan);
    let batch = simulate_batch(&params, 0..plan.paths, 1, &|_| {});
    let key = seed_key(plan.seed);
    let jump_below = ((1u64 << 32) as f64 / 8.0).floor() as u64;
    let mut jumps = 0;
    for path in 0..plan.paths as u32 {
        let mut day = 0u64;
        let mut log_caps: Vec<f64> = plan.market.initial_weights().iter().map(|w| w.ln()).collect();
        for step in 0..plan.steps {
            let words = philox4x32_10([path, step, 0, STREAM_BOOTSTRAP], key);
            if step == 0 || (words[0] as u64) < jump_below {
                day = (words[1] as u64 * days) >> 32;
                jumps += 1;
            } else {
                day = (day + 1) % days;
            }
            for (cap, change) in log_caps.iter_mut().zip(&changes[day as usize]) {
                *cap += change;
            }
        }
        for (i, expected) in log_caps.iter().enumerate() {
            let got = batch.path_log_caps(path as usize)[i];
            assert!((got - expected).abs() < 1e-11, "path {path}, stock {i}: {got} vs {expected}");
        }
    }
    // About one jump in 8 steps, and the first of every path.
    let expected = 40.0 * (1.0 + (plan.steps - 1) as f64 / 8.0);
    assert!((jumps as f64 - expected).abs() < 4.0 * expected.sqrt(), "{jumps} jumps, about {expected} expected");
}

/// Per path, the mean of its steps' changes and of their centred cross products; across
/// paths (independent), the mean and standard error of each.
fn path_moments(kernel: &BootstrapKernel<f64>, paths: u32, steps: u32, centre: &[f64]) -> Vec<(f64, f64)> {
    let n = kernel.n;
    let entries = n + n * (n + 1) / 2;
    let mut per_path: Vec<Vec<f64>> = Vec::new();
    for first in (0..paths).step_by(16) {
        let lanes: [u32; 16] = std::array::from_fn(|l| first + l as u32);
        let mut days = [0u32; 16];
        let mut log_steps = vec![Lanes::<f64, 16>::zero(); n];
        let mut noise = vec![Lanes::<f64, 16>::zero(); n];
        let mut sums = vec![vec![0.0; entries]; 16];
        for step in 0..steps {
            bootstrap_log_steps(kernel, seed_key(3), &lanes, step, &mut days, &mut log_steps, &mut noise);
            for (lane, sum) in sums.iter_mut().enumerate() {
                let x: Vec<f64> = (0..n).map(|i| log_steps[i].0[lane] - centre[i]).collect();
                let mut entry = n;
                for i in 0..n {
                    sum[i] += x[i];
                    for j in 0..=i {
                        sum[entry] += x[i] * x[j];
                        entry += 1;
                    }
                }
            }
        }
        per_path.extend(sums.into_iter().map(|sum| sum.iter().map(|s| s / steps as f64).collect()));
    }
    (0..entries)
        .map(|e| {
            let values: Vec<f64> = per_path.iter().map(|p| p[e]).collect();
            let mean = values.iter().sum::<f64>() / values.len() as f64;
            let variance = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (values.len() - 1) as f64;
            (mean, (variance / values.len() as f64).sqrt())
        })
        .collect()
}

#[test]
fn simulated_changes_have_the_data_s_mean_and_covariance() {
    // Every day is equally likely at every step (the first uniform, and a continuation
    // of a uniform day is uniform), so the simulated changes have the data's mean vector
    // and its covariance (divisor: days). The rule: 1,600 paths of 252 steps, each
    // path's average an independent sample; every one of the 6 means and 21 covariance
    // entries within 5 standard errors of the data's (27 comparisons at 5 se: a false
    // alarm has probability below 2e-5 under a correct sampler).
    let plan = bootstrap_plan(6, 16, 1.0, "mean_block = 20");
    let kernel = market(&plan).kernel::<f64>();
    let changes = csv_changes(market(&plan).source.as_ref().unwrap().path.to_str().unwrap());
    let n = 6;
    let mean: Vec<f64> = (0..n).map(|i| changes.iter().map(|c| c[i]).sum::<f64>() / changes.len() as f64).collect();
    let moments = path_moments(&kernel, 1600, 252, &mean);
    let mut entry = n;
    for i in 0..n {
        assert!(
            moments[i].0.abs() < 5.0 * moments[i].1,
            "stock {i}: mean off by {:e} ({:e} se)",
            moments[i].0,
            moments[i].1
        );
        for j in 0..=i {
            let covariance =
                changes.iter().map(|c| (c[i] - mean[i]) * (c[j] - mean[j])).sum::<f64>() / changes.len() as f64;
            let (got, se) = moments[entry];
            assert!((got - covariance).abs() < 5.0 * se, "cov({i}, {j}): {got:e} vs {covariance:e} (se {se:e})");
            entry += 1;
        }
    }
    // The rule has power: a variance wrong by a tenth would fail it (AMD's, the second stock).
    assert!(5.0 * moments[n + 2].1 < 0.1 * moments[n + 2].0, "{:?}", moments[n + 2]);
}

#[test]
fn blocks_have_geometric_lengths_with_the_mean_asked_for() {
    for mean_block in [5.0, 20.0] {
        let plan = bootstrap_plan(3, 16, 1.0, &format!("mean_block = {mean_block}"));
        let kernel = market(&plan).kernel::<f64>();
        // 64 paths of 20,000 steps; a block ends where a step is not the day after the
        // last (a jump that lands on the next day by chance, 1 in 8,312, joins two).
        let mut lengths = Vec::new();
        for first in (0..64u32).step_by(16) {
            let lanes: [u32; 16] = std::array::from_fn(|l| first + l as u32);
            let mut days = [0u32; 16];
            let mut current = [0usize; 16];
            for step in 0..20_000 {
                let previous = days;
                next_days(kernel.days, kernel.jump_at_most, false, seed_key(11), &lanes, step, &mut days);
                for lane in 0..16 {
                    if step > 0 && days[lane] != (previous[lane] + 1) % kernel.days {
                        lengths.push(current[lane]);
                        current[lane] = 0;
                    }
                    current[lane] += 1;
                }
            }
        }
        // Geometric with success 1/b: mean b, sd sqrt(b (b - 1)); P(1) = 1/b;
        // P(> 2b) = (1 - 1/b)^(2b). Each within 4 standard errors.
        let count = lengths.len() as f64;
        let mean = lengths.iter().sum::<usize>() as f64 / count;
        let se = (mean_block * (mean_block - 1.0) / count).sqrt();
        assert!((mean - mean_block).abs() < 4.0 * se, "b = {mean_block}: mean block {mean} (se {se})");
        let share = |hit: &dyn Fn(usize) -> bool, p: f64| {
            let observed = lengths.iter().filter(|&&l| hit(l)).count() as f64 / count;
            let se = (p * (1.0 - p) / count).sqrt();
            assert!((observed - p).abs() < 4.0 * se, "b = {mean_block}: share {observed} vs {p}");
        };
        share(&|l| l == 1, 1.0 / mean_block);
        let long = 2.0 * mean_block;
        share(&|l| l as f64 > long, (1.0 - 1.0 / mean_block).powf(long));
    }
}

#[test]
fn demeaned_changes_have_mean_zero_and_the_same_deviations() {
    let raw = bootstrap_plan(4, 16, 1.0, "");
    let demeaned = bootstrap_plan(4, 16, 1.0, "demean = true");
    let (raw, demeaned) = (market(&raw), market(&demeaned));
    let mean = raw.mean_change();
    assert!(mean.iter().all(|m| m.abs() > 1e-5), "the data's own drifts: {mean:?}");
    assert!(demeaned.mean_change().iter().all(|m| m.abs() < 1e-15), "{:?}", demeaned.mean_change());
    for (day, (a, b)) in raw.log_changes.chunks(4).zip(demeaned.log_changes.chunks(4)).enumerate() {
        for i in 0..4 {
            assert!((a[i] - mean[i] - b[i]).abs() < 1e-15, "day {day}, stock {i}");
        }
    }
}
