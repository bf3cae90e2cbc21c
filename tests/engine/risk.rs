//! Risk beside return (docs/statistics.md): each path's volatility, beta, size tilt and
//! its drift, replayed step by step apart from the kernel's sums, in a closed market and
//! against an index.

use sptlab::engine::cpu::{KernelParams, PathBlock};
use sptlab::engine::{PathStatistics, Precision};

use crate::common::{plan, simulate_cpu};
use crate::open_market::members;

/// 12 stocks two years daily; rebalancing intervals that do not divide each other, no
/// costs (a cost only scales a step's gross return).
fn scenario(benchmark: &str) -> String {
    format!(
        r#"
        seed = 21
        paths = 4
        years = 2.0
        [market]
        n = 12
        zipf = 1.0
        growth = 0.05
        vol = {{ from = 0.15, to = 0.45 }}
        correlation = 0.3
        {benchmark}
        [[strategies]]
        name = "equal"
        weighting = "equal"
        rebalance_every = 10
        [[strategies]]
        name = "diversity"
        weighting = "diversity"
        p = 0.5
        rebalance_every = 3
        [[strategies]]
        name = "entropy"
        weighting = "entropy"
        rebalance_every = 63
        exclude = [1]
        "#
    )
}

/// The sample mean and sd (divisor count - 1) of `values`.
fn mean_sd(values: &[f64]) -> (f64, f64) {
    let count = values.len() as f64;
    let mean = values.iter().sum::<f64>() / count;
    (mean, (values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (count - 1.0)).sqrt())
}

/// Path `path` of `plan` replayed a step at a time: every strategy's figures from its
/// held weights and the market's, and the benchmark's from its log value, with the
/// benchmark's weights given by `benchmark_weights(step, mu)`.
fn replay(
    params: &KernelParams<f64>,
    (path, per_year): (u64, f64),
    strategies: usize,
    mut benchmark_weights: impl FnMut(usize, &[f64]) -> Vec<f64>,
) -> (f64, Vec<PathStatistics>) {
    let mut block = PathBlock::init_paths(params, path, 1);
    let tilt = |weights: &[f64], rho: &[f64], mu: &[f64]| -> f64 {
        weights.iter().zip(rho).zip(mu).map(|((w, r), m)| (w - r) * m.ln()).sum()
    };
    let mut mu = block.market_weights(0);
    let mut rho = benchmark_weights(0, &mu);
    let mut held: Vec<Vec<f64>> = (0..strategies).map(|s| block.held_weights(0, s)).collect();
    let mut tilts: Vec<Vec<f64>> = held.iter().map(|w| vec![tilt(w, &rho, &mu)]).collect();
    let mut returns: Vec<Vec<f64>> = vec![Vec::new(); strategies];
    let mut benchmark_returns = Vec::new();
    let (mut log_total, mut benchmark_log) = (0.0, 0.0);
    let steps = params.total_steps as usize;
    for step in 0..steps {
        block.advance_paths(params, step as u32..step as u32 + 1);
        let next_mu = block.market_weights(0);
        let next_log_total = block.market_log_return(0);
        let next_benchmark_log = block.benchmark_log_value(0);
        benchmark_returns.push((next_benchmark_log - benchmark_log).exp() - 1.0);
        // Each cap's gross return through the step: its weight's change times the market's.
        let growth: Vec<f64> = next_mu
            .iter()
            .zip(&mu)
            .map(|(after, before)| after / before * (next_log_total - log_total).exp())
            .collect();
        rho = benchmark_weights(step + 1, &next_mu);
        for s in 0..strategies {
            returns[s].push(held[s].iter().zip(&growth).map(|(w, g)| w * g).sum::<f64>() - 1.0);
            let every = params.strategies[s].rebalance_every as usize;
            let now = block.held_weights(0, s);
            // A rebalance (its own schedule, never at the last step), or a re-form where the
            // index's members changed: the weights held are then the new target.
            let drifted: Vec<f64> = {
                let value: f64 = held[s].iter().zip(&growth).map(|(w, g)| w * g).sum();
                held[s].iter().zip(&growth).map(|(w, g)| w * g / value).collect()
            };
            let traded = drifted.iter().zip(&now).any(|(a, b)| (a - b).abs() > 1e-12);
            if step + 1 < steps && ((step + 1) % every == 0 || traded) {
                tilts[s].push(tilt(&now, &rho, &next_mu));
            }
            held[s] = now;
        }
        (mu, log_total, benchmark_log) = (next_mu, next_log_total, next_benchmark_log);
    }
    let (_, benchmark_sd) = mean_sd(&benchmark_returns);
    let benchmark_volatility = benchmark_sd * per_year.sqrt();
    let stats = (0..strategies)
        .map(|s| {
            let (mean_own, sd_own) = mean_sd(&returns[s]);
            let (mean_benchmark, _) = mean_sd(&benchmark_returns);
            let covariance = returns[s]
                .iter()
                .zip(&benchmark_returns)
                .map(|(x, y)| (x - mean_own) * (y - mean_benchmark))
                .sum::<f64>()
                / (steps as f64 - 1.0);
            let (size_tilt, size_tilt_drift) = mean_sd(&tilts[s]);
            PathStatistics {
                volatility: sd_own * per_year.sqrt(),
                volatility_difference: sd_own * per_year.sqrt() - benchmark_volatility,
                beta: covariance / (benchmark_sd * benchmark_sd),
                size_tilt,
                size_tilt_drift,
                ..PathStatistics::default()
            }
        })
        .collect();
    (benchmark_volatility, stats)
}

fn assert_risk_agrees(toml: &str, mut benchmark_weights: impl FnMut(usize, &[f64]) -> Vec<f64>) {
    let plan = plan(toml);
    let results = simulate_cpu(&plan, Precision::F64);
    let params = KernelParams::<f64>::new(&plan);
    for path in 0..results.paths() {
        let (benchmark_volatility, expected) =
            replay(&params, (path as u64, plan.steps_per_year as f64), plan.strategies.len(), &mut benchmark_weights);
        // f64 sums of 504 steps against a replay in another order: 1e-9 is rounding's
        // margin many times over, and far below any figure's size (volatility ~0.2).
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9 * (1.0 + b.abs());
        assert!(close(results.benchmark_volatility[path], benchmark_volatility), "path {path}: benchmark volatility");
        for (s, want) in expected.iter().enumerate() {
            let got = &results.per_path[s][path];
            let name = &plan.strategies[s].name;
            for (field, a, b) in [
                ("volatility", got.volatility, want.volatility),
                ("volatility_difference", got.volatility_difference, want.volatility_difference),
                ("beta", got.beta, want.beta),
                ("size_tilt", got.size_tilt, want.size_tilt),
                ("size_tilt_drift", got.size_tilt_drift, want.size_tilt_drift),
            ] {
                assert!(close(a, b), "path {path}, {name}: {field} {a} against the replay's {b}");
            }
        }
    }
}

#[test]
fn volatility_beta_and_size_tilt_agree_with_a_step_by_step_replay() {
    assert_risk_agrees(&scenario(""), |_, mu| mu.to_vec());
}

#[test]
fn against_an_index_they_agree_with_the_replay_of_its_members() {
    let (k, every, buffer) = (6, 21, 2);
    let mut member: Vec<usize> = Vec::new();
    let index_weights = move |step: usize, mu: &[f64]| {
        if step == 0 {
            member = members(mu, &[], k, 0);
        } else if step.is_multiple_of(every) && step < 504 {
            member = members(mu, &member, k, buffer);
        }
        let share: f64 = member.iter().map(|&i| mu[i]).sum();
        (0..mu.len()).map(|i| if member.contains(&i) { mu[i] / share } else { 0.0 }).collect()
    };
    let benchmark = format!("[benchmark]\nindex = {k}\nreconstitute_every = {every}\nbuffer = {buffer}");
    // Each path replays its membership from step 0.
    assert_risk_agrees(&scenario(&benchmark), index_weights);
}
