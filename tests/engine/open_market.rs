//! The open market (docs/open-markets.md): an index of the largest K as the benchmark,
//! leakage, screens. Each identity holds on every path; membership is replayed apart
//! from the kernel.

use sptlab::engine::cpu::{KernelParams, PathBlock};
use sptlab::engine::{PathStatistics, Precision};
use sptlab::summary::results::Results;

use crate::common::{data_file, plan, simulate_cpu};

/// 30 stocks ten years daily; every weighting an index takes, rebalancing intervals that
/// do not divide the index's 21 steps, costs and screens.
fn open_scenario(benchmark: &str, paths: u64) -> String {
    format!(
        r#"
        seed = 5
        paths = {paths}
        years = 4.0
        [market]
        n = 30
        zipf = 1.0
        growth = 0.05
        vol = {{ from = 0.2, to = 0.5 }}
        correlation = 0.2
        {benchmark}
        [[strategies]]
        name = "equal"
        weighting = "equal"
        rebalance_every = 10
        cost_bps = 20.0
        exclude = [0, 5, 7]
        [[strategies]]
        name = "diversity"
        weighting = "diversity"
        p = 0.5
        cost_bps = 5.0
        [[strategies]]
        name = "diversity-negative"
        weighting = "diversity"
        p = -0.5
        rebalance_every = 5
        [[strategies]]
        name = "entropy"
        weighting = "entropy"
        rebalance_every = 63
        exclude = [1]
        [[strategies]]
        name = "screened-index"
        weighting = "market"
        exclude = [2]
        [[strategies]]
        name = "capped"
        weighting = "capped"
        cap = 0.1
        rebalance_every = 21
        [[strategies]]
        name = "top-8"
        weighting = "top_k"
        k = 8
        buffer = 2
        rebalance_every = 42
        cost_bps = 10.0
        [[strategies]]
        name = "max-growth"
        weighting = "max_growth"
        te_budget = 0.03
        max_turnover = 0.3
        rebalance_every = 63
        cost_bps = 10.0
        exclude = [6]
        "#
    )
}

const INDEX: &str = "[benchmark]\nindex = 15\nreconstitute_every = 21\nbuffer = 3";

fn strategy(results: &Results, name: &str) -> usize {
    results.strategy_names.iter().position(|n| n == name).unwrap()
}

#[test]
fn an_index_of_every_stock_is_the_closed_market() {
    // No screens here: a screen is not the closed market.
    let unscreened = |benchmark: &str| {
        open_scenario(benchmark, 32)
            .replace("exclude = [0, 5, 7]", "")
            .replace("exclude = [1]", "")
            .replace("exclude = [2]", "")
            .replace("exclude = [6]", "")
    };
    let closed = simulate_cpu(&plan(&unscreened("")), Precision::F64);
    let open = simulate_cpu(&plan(&unscreened("[benchmark]\nindex = 30\nreconstitute_every = 21")), Precision::F64);
    let index = open.index.as_ref().expect("an index run keeps the index's values");
    for path in 0..closed.paths() {
        assert!((index.log_return[path] - closed.market_log_return[path]).abs() < 1e-12);
        assert_eq!(index.traded[path], 0.0, "an index of every stock never trades");
    }
    for (name, (a, b)) in closed.strategy_names.iter().zip(closed.per_path.iter().zip(&open.per_path)) {
        for (path, (a, b)) in a.iter().zip(b).enumerate() {
            assert_eq!((b.leakage_term, b.screen_term), (0.0, 0.0), "{name}, path {path}");
            // max_growth's solver iterates to a tolerance: index weights that differ from
            // the market's by rounding (mu / sum mu) move its answer within that tolerance.
            let tolerance = if name == "max-growth" { 1e-6 } else { 1e-12 };
            for (field, (x, y)) in a.to_array().iter().zip(b.to_array()).enumerate() {
                assert!((x - y).abs() <= tolerance, "{name}, path {path}, field {field}: {x} vs {y}");
            }
        }
    }
}

#[test]
fn the_identity_holds_on_every_path_with_an_index_a_buffer_a_screen_and_costs() {
    let results = simulate_cpu(&plan(&open_scenario(INDEX, 32)), Precision::F64);
    for (name, paths) in results.strategy_names.iter().zip(&results.per_path) {
        for (path, stats) in paths.iter().enumerate() {
            let residual = stats.master_equation_residual();
            assert!(residual.abs() <= 1e-9, "{name}, path {path}: residual {residual:e}");
        }
    }
    // Every G here but capped's and top-k's is concave: each holding period's drift is
    // non-negative, with an index too.
    for name in ["equal", "diversity", "entropy", "screened-index"] {
        for stats in &results.per_path[strategy(&results, name)] {
            assert!(stats.min_divergence >= -1e-12, "{name}: {:e}", stats.min_divergence);
        }
    }
    let mean = |name: &str, field: fn(&PathStatistics) -> f64| {
        let paths = &results.per_path[strategy(&results, name)];
        paths.iter().map(field).sum::<f64>() / paths.len() as f64
    };
    // Leakage is a loss for a tilt toward small members, and no term is idle.
    assert!(mean("equal", |s| s.leakage_term) < -0.01);
    assert!(mean("diversity", |s| s.leakage_term) < -0.005);
    assert!(mean("equal", |s| s.screen_term).abs() > 1e-4);
    assert!(mean("equal", |s| s.cost_term) < -1e-3);
    assert_eq!(mean("diversity", |s| s.screen_term), 0.0, "no screen, no screen term");
    // The screened index holds exactly the screened index: its L is its screen term.
    for stats in &results.per_path[strategy(&results, "screened-index")] {
        assert!((stats.relative_log_return - stats.screen_term).abs() < 1e-9);
        assert_eq!(stats.leakage_term, 0.0);
    }
    // The check is real: leaving the leakage out leaves a residual.
    let stats = &results.per_path[strategy(&results, "equal")][0];
    assert!((stats.master_equation_residual() + stats.leakage_term).abs() > 1e-3);
    // The time grid carries both terms: at its last point, their means over paths (sums
    // in units of 2^-40: within 1e-11 of the paths' own).
    let grid = results.grid.as_ref().expect("the CPU keeps the time grid");
    let last = grid.spec.points - 1;
    for name in ["equal", "entropy", "screened-index"] {
        let s = strategy(&results, name);
        let (leakage, screen) = (grid.mean(s, last, 4), grid.mean(s, last, 5));
        assert!((leakage - mean(name, |p| p.leakage_term)).abs() < 1e-11, "{name}: leakage {leakage}");
        assert!((screen - mean(name, |p| p.screen_term)).abs() < 1e-11, "{name}: screen {screen}");
    }
    assert!(grid.mean(strategy(&results, "equal"), last / 2, 4) < 0.0, "leakage builds up through the run");
}

/// Path `path`'s market weights after every step (0 to the last), from the kernel run
/// alone on that path.
fn weights_through_time(params: &KernelParams<f64>, path: u64) -> Vec<Vec<f64>> {
    let mut block = PathBlock::init_paths(params, path, 1);
    let mut out = vec![block.market_weights(0)];
    for step in 0..params.total_steps {
        block.advance_paths(params, step..step + 1);
        out.push(block.market_weights(0));
    }
    out
}

/// The index's members by rank on `weights` (larger first, ties by the lower stock),
/// given the members before: those ranked within `k + buffer` stay (the best ranked if
/// more than k), the places left go to the largest others. Written apart from
/// `numeric::ranking`.
pub fn members(weights: &[f64], before: &[usize], k: usize, buffer: usize) -> Vec<usize> {
    let mut ranked: Vec<usize> = (0..weights.len()).collect();
    ranked.sort_by(|&a, &b| weights[b].partial_cmp(&weights[a]).unwrap().then(a.cmp(&b)));
    let mut chosen: Vec<usize> = ranked[..(k + buffer).min(ranked.len())]
        .iter()
        .copied()
        .filter(|stock| before.contains(stock))
        .take(k)
        .collect();
    for stock in ranked {
        if chosen.len() == k {
            break;
        }
        if !chosen.contains(&stock) {
            chosen.push(stock);
        }
    }
    chosen.sort_unstable();
    chosen
}

#[test]
fn membership_the_index_and_leakage_agree_with_a_replay_written_apart() {
    let plan = plan(&open_scenario(INDEX, 6));
    let results = simulate_cpu(&plan, Precision::F64);
    let params = KernelParams::<f64>::new(&plan);
    let (k, every, buffer) = (15, 21, 3);
    let equal = strategy(&results, "equal");
    let screen = [0usize, 5, 7];
    let mut changes = 0;
    for path in 0..results.paths() {
        let weights = weights_through_time(&params, path as u64);
        let steps = weights.len() - 1;
        let mut member = members(&weights[0], &[], k, 0);
        let share = |w: &[f64], set: &[usize]| set.iter().map(|&i| w[i]).sum::<f64>();
        // log G of equal weights on the allowed members: the mean log of their weights among themselves.
        let log_g_equal = |w: &[f64], set: &[usize]| {
            let allowed: Vec<usize> = set.iter().copied().filter(|i| !screen.contains(i)).collect();
            let total = share(w, &allowed);
            allowed.iter().map(|&i| (w[i] / total).ln()).sum::<f64>() / allowed.len() as f64
        };
        let (mut index_relative, mut leakage, mut start) = (0.0, 0.0, 0);
        for t in (every..steps).step_by(every) {
            index_relative += (share(&weights[t], &member) / share(&weights[start], &member)).ln();
            let next = members(&weights[t], &member, k, buffer);
            if next != member {
                changes += 1;
                leakage += log_g_equal(&weights[t], &member) - log_g_equal(&weights[t], &next);
            }
            (member, start) = (next, t);
        }
        index_relative += (share(&weights[steps], &member) / share(&weights[start], &member)).ln();
        let index = results.index.as_ref().unwrap();
        let expected = results.market_log_return[path] + index_relative;
        assert!(
            (index.log_return[path] - expected).abs() < 1e-10,
            "path {path}: index {} vs {expected}",
            index.log_return[path]
        );
        let got = results.per_path[equal][path].leakage_term;
        assert!((got - leakage).abs() < 1e-10, "path {path}: leakage {got} vs {leakage}");
    }
    assert!(changes >= 6, "the replay saw the members change ({changes} times)");
}

#[test]
fn the_controls_have_mean_zero_with_an_index_a_screen_and_costs() {
    // 2,000 paths of two years: each control's mean within 4 standard errors of 0.
    let text = open_scenario(INDEX, 2000).replace("years = 4.0", "years = 2.0");
    let results = simulate_cpu(&plan(&text), Precision::F32);
    let check = |name: &str, values: &[f64]| {
        let count = values.len() as f64;
        let mean = values.iter().sum::<f64>() / count;
        let sd = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (count - 1.0)).sqrt();
        assert!(sd > 0.0, "{name}: the control is not idle");
        assert!(mean.abs() <= 4.0 * sd / count.sqrt(), "{name}: mean {mean:e}, se {:e}", sd / count.sqrt());
    };
    check("index", &results.index.as_ref().unwrap().control);
    for (name, paths) in results.strategy_names.iter().zip(&results.per_path) {
        if name != "screened-index" || paths.iter().any(|p| p.control_term != 0.0) {
            check(name, &paths.iter().map(|p| p.control_term).collect::<Vec<f64>>());
        }
    }
}

#[test]
fn a_screen_names_stocks_by_ticker_where_the_market_has_tickers() {
    // A bootstrap market of the shipped data's first four stocks (AAPL, AMD, BAC, BBY).
    let data = data_file(4, "2015-01-01");
    let text = format!(
        "paths = 8\nyears = 1.0\n[market]\nmodel = \"bootstrap\"\ndata = \"{data}\"\n[[strategies]]\n\
         name = \"equal-screened\"\nweighting = \"equal\"\nrebalance_every = 21\nexclude = [\"BAC\", \"AAPL\"]\n"
    );
    let plan = plan(&text);
    assert_eq!(plan.strategies[0].exclude, [0, 2], "tickers resolved to stock indices, in order");
    let results = simulate_cpu(&plan, Precision::F64);
    let params = KernelParams::<f64>::new(&plan);
    let mut block = PathBlock::init_paths(&params, 0, 1);
    block.advance_paths(&params, 0..params.total_steps);
    let held = block.held_weights(0, 0);
    assert_eq!((held[0], held[2]), (0.0, 0.0), "the screened stocks are never held: {held:?}");
    for stats in &results.per_path[0] {
        assert!(stats.screen_term != 0.0 && stats.master_equation_residual().abs() < 1e-9);
    }
}

#[test]
fn every_strategy_holds_only_its_allowed_members_after_every_step() {
    // Membership replayed apart from the kernel; every weight outside the members less
    // the strategy's screen is exactly 0 after every step, max_growth's included.
    let plan = plan(&open_scenario(INDEX, 2));
    let params = KernelParams::<f64>::new(&plan);
    let (k, every, buffer, total) = (15, 21, 3, params.total_steps);
    let mut reconstitutions = 0;
    for path in 0..2 {
        let mut block = PathBlock::init_paths(&params, path, 1);
        let mut member = members(&block.market_weights(0), &[], k, 0);
        for step in 0..=total {
            if step > 0 {
                block.advance_paths(&params, step - 1..step);
                if step % every == 0 && step != total {
                    member = members(&block.market_weights(0), &member, k, buffer);
                    reconstitutions += 1;
                }
            }
            for (s, strategy) in plan.strategies.iter().enumerate() {
                let held = block.held_weights(0, s);
                for (stock, weight) in held.iter().enumerate() {
                    if !member.contains(&stock) || strategy.exclude.contains(&stock) {
                        assert_eq!(*weight, 0.0, "{}, path {path}, after step {step}: stock {stock}", strategy.name);
                    }
                }
                assert!((held.iter().sum::<f64>() - 1.0).abs() < 1e-9, "{}: weights sum to one", strategy.name);
            }
        }
    }
    assert!(reconstitutions > 50, "{reconstitutions}");
}
