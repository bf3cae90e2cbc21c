//! Work-normalised efficiency (docs/control-variates.md): for each way of estimating the mean
//! relative growth (plain, with the martingale control, antithetic pairs, both), the
//! squared standard error times the seconds the run took. A smaller SE² x seconds is
//! less work for the same precision; its ratio to the plain estimate's is the gain a
//! user sees (a run that needs `gain` times fewer paths for the same interval).

use std::time::Instant;

use serde::Serialize;

use crate::bench::{median_and_min, RunSize, Runner, Workload};
use crate::engine::{Backend, EngineError, Precision};
use crate::scenario::ControlVariate;
use crate::summary::report::estimation_of;

/// How the mean is estimated: the scenario's `control_variate` and `antithetic`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Estimator {
    Plain,
    Control,
    Antithetic,
    AntitheticControl,
}

impl Estimator {
    pub const ALL: [Estimator; 4] =
        [Estimator::Plain, Estimator::Control, Estimator::Antithetic, Estimator::AntitheticControl];

    pub fn name(self) -> &'static str {
        match self {
            Estimator::Plain => "plain",
            Estimator::Control => "control",
            Estimator::Antithetic => "antithetic",
            Estimator::AntitheticControl => "antithetic+control",
        }
    }

    fn control(self) -> ControlVariate {
        match self {
            Estimator::Control | Estimator::AntitheticControl => ControlVariate::Martingale,
            Estimator::Plain | Estimator::Antithetic => ControlVariate::None,
        }
    }

    fn antithetic(self) -> bool {
        matches!(self, Estimator::Antithetic | Estimator::AntitheticControl)
    }
}

/// One strategy's mean relative growth under one estimator.
#[derive(Debug, Clone, Serialize)]
pub struct StrategyEfficiency {
    pub strategy: String,
    /// The standard error of the mean relative growth (controlled when the estimator is).
    pub se: f64,
    /// se² x seconds: the work for a given precision.
    pub work: f64,
    /// The plain estimator's work over this one's, on the same backend in this run.
    pub gain_vs_plain: Option<f64>,
}

/// One estimator on one backend and workload.
#[derive(Debug, Clone, Serialize)]
pub struct Efficiency {
    pub workload: String,
    pub backend: Runner,
    pub adapter: String,
    pub precision: Precision,
    pub estimator: &'static str,
    pub paths: u64,
    /// The median of the timed runs.
    pub seconds: f64,
    pub asset_steps_per_second: f64,
    /// Throughput over the plain estimator's (what the control and the pairing cost).
    pub throughput_vs_plain: Option<f64>,
    pub strategies: Vec<StrategyEfficiency>,
}

/// Times `workload` at `size` (paths rounded down to even, for the pairs) on `backend`
/// under every estimator, in two passes of about half the `repetitions` each (median of
/// all); the standard errors come from each estimator's last run.
pub fn measure_efficiency(
    backend: &mut dyn Backend,
    workload: Workload,
    size: RunSize,
    repetitions: usize,
) -> Result<Vec<Efficiency>, EngineError> {
    let paths = (size.paths & !1).max(4);
    let variant = |estimator: Estimator, paths: u64, years: Option<f64>| {
        let mut scenario = workload.scenario(paths);
        if let Some(years) = years {
            scenario.years = years;
        }
        scenario.control_variate = estimator.control();
        scenario.antithetic = estimator.antithetic();
        scenario.validate().expect("the benchmark workloads are valid")
    };
    let plans: Vec<_> = Estimator::ALL.iter().map(|&e| variant(e, paths, size.years)).collect();
    // Two passes, the second in reverse order, so that a drift in the machine's speed
    // (turbo, other load) falls on every estimator alike; each estimator's runs follow
    // an untimed run of the same plan, since a GPU composes a kernel per estimator.
    let per_pass = repetitions.max(1).div_ceil(2);
    let mut seconds = vec![Vec::with_capacity(2 * per_pass); plans.len()];
    let mut last: Vec<Option<crate::Results>> = vec![None; plans.len()];
    for pass in 0..2 {
        let order: Vec<usize> = if pass == 0 { (0..plans.len()).collect() } else { (0..plans.len()).rev().collect() };
        for index in order {
            drop(last[index].take());
            crate::simulate(&plans[index], backend, &|_| {})?;
            for _ in 0..per_pass {
                drop(last[index].take());
                let started = Instant::now();
                let (results, _) = crate::simulate(&plans[index], backend, &|_| {})?;
                seconds[index].push(started.elapsed().as_secs_f64());
                last[index] = Some(results);
            }
        }
    }
    let mut rows: Vec<Efficiency> = Vec::with_capacity(plans.len());
    for ((estimator, plan), (times, results)) in Estimator::ALL.iter().zip(&plans).zip(seconds.iter_mut().zip(last)) {
        let results = results.expect("at least one repetition");
        let (median, _) = median_and_min(times);
        let estimation = estimation_of(plan);
        let years = results.years();
        let strategies = results
            .strategy_names
            .iter()
            .zip(&results.per_path)
            .map(|(name, per_path)| {
                let growth: Vec<f64> = per_path.iter().map(|p| p.relative_log_return / years).collect();
                let controls: Vec<f64> = per_path.iter().map(|p| p.control_term).collect();
                // NaN where there is no standard error (fewer than two units).
                let se = estimation.summary_with_control(&growth, &controls).estimate().se.unwrap_or(f64::NAN);
                StrategyEfficiency { strategy: name.clone(), se, work: se * se * median, gain_vs_plain: None }
            })
            .collect();
        let info = backend.info();
        rows.push(Efficiency {
            workload: workload.name(),
            backend: Runner::Backend(info.backend),
            adapter: info.adapter,
            precision: info.precision,
            estimator: estimator.name(),
            paths,
            seconds: median,
            asset_steps_per_second: plan.n() as f64 * paths as f64 * plan.steps as f64 / median,
            throughput_vs_plain: None,
            strategies,
        });
    }
    let plain = rows[0].clone();
    for row in &mut rows {
        row.throughput_vs_plain = Some(row.asset_steps_per_second / plain.asset_steps_per_second);
        for (strategy, base) in row.strategies.iter_mut().zip(&plain.strategies) {
            strategy.gain_vs_plain = (strategy.work > 0.0).then(|| base.work / strategy.work);
        }
    }
    Ok(rows)
}

/// The efficiency table (markdown): a row per estimator and strategy.
pub fn efficiency_table(rows: &[Efficiency]) -> String {
    let mut out = String::from(
        "| workload | backend | estimator | strategy | paths | median s | throughput vs plain | se of mean rel. growth | se² x s | gain vs plain |\n\
         |---|---|---|---|---|---|---|---|---|---|\n",
    );
    let ratio = |value: Option<f64>| value.map_or(String::new(), |v| format!("{v:.2}x"));
    for row in rows {
        for strategy in &row.strategies {
            out.push_str(&format!(
                "| {} | {} {} | {} | {} | {} | {:.3} | {} | {:.2e} | {:.2e} | {} |\n",
                row.workload,
                row.backend,
                row.precision,
                row.estimator,
                strategy.strategy,
                row.paths,
                row.seconds,
                ratio(row.throughput_vs_plain),
                strategy.se,
                strategy.work,
                ratio(strategy.gain_vs_plain),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::CpuBackend;

    #[test]
    fn the_control_and_the_pairs_shrink_the_standard_error_of_the_same_workload() {
        // The standard workload's market over a quarter year, 64 paths: the controlled
        // standard errors are at least 4x smaller (variance ratios are in the hundreds
        // at this horizon), and every estimator ran the paths asked for.
        let mut cpu = CpuBackend::new(Precision::F64, None);
        let size = RunSize { paths: 64, years: Some(0.25) };
        let rows = measure_efficiency(&mut cpu, Workload::Standard, size, 1).unwrap();
        assert_eq!(
            rows.iter().map(|r| r.estimator).collect::<Vec<_>>(),
            ["plain", "control", "antithetic", "antithetic+control"]
        );
        for (plain, controlled) in rows[0].strategies.iter().zip(&rows[1].strategies) {
            assert!(controlled.se * 4.0 < plain.se, "{}: {} vs {}", plain.strategy, controlled.se, plain.se);
            assert_eq!(plain.gain_vs_plain, Some(1.0));
        }
        assert!(rows.iter().all(|r| r.paths == 64 && r.throughput_vs_plain.is_some()));
        let table = efficiency_table(&rows);
        assert_eq!(table.lines().count(), 2 + 4 * rows[0].strategies.len(), "{table}");
    }
}
