//! Portfolios that are the same portfolio differ only by rounding, and no statistic may
//! make a result of that (docs/statistics.md, ties): the tie bound τ holds their
//! per-path differences with room to spare in every model and both precisions, and the
//! report calls them ties, not winners.

use sptlab::engine::{Backend, CpuBackend, Precision};
use sptlab::summary::report::{Report, RunInfo};
use sptlab::{Plan, Results};

use crate::common::{data_file, plan, simulate};

/// From equal caps, equal and diversity weighting never rebalanced hold the market's
/// own shares (buy and hold from 1/n), and so does the market rebalanced daily with
/// costs (it trades nothing). Equal weight rebalanced monthly is a different portfolio.
const SAME_PORTFOLIOS: &str = r#"
    [[strategies]]
    name = "equal-held"
    weighting = "equal"
    rebalance_every = 1000000
    [[strategies]]
    name = "diversity-held"
    weighting = "diversity"
    p = 0.5
    rebalance_every = 1000000
    [[strategies]]
    name = "market-with-costs"
    weighting = "market"
    cost_bps = 10.0
    [[strategies]]
    name = "cap-weighted"
    weighting = "market"
    [[strategies]]
    name = "equal-monthly"
    weighting = "equal"
    rebalance_every = 21
"#;

fn markets() -> Vec<(&'static str, String)> {
    let equal = "initial_weights = [1, 1, 1, 1, 1, 1, 1, 1]";
    vec![
        ("gbm", format!("growth = 0.05\nvol = {{ from = 0.15, to = 0.5 }}\ncorrelation = 0.3\n{equal}")),
        (
            "gbm-factor",
            format!(
                "growth = 0.05\nidiosyncratic_vol = 0.2\nfactor_loadings = [[0.15], [0.14], [0.13], [0.12], [0.11], \
                 [0.1], [0.09], [0.08]]\n{equal}"
            ),
        ),
        ("atlas", format!("model = \"atlas\"\ngrowth = 0.05\natlas_g = 0.1\nvol = 0.3\n{equal}")),
        (
            "first_order",
            format!(
                "model = \"first_order\"\nrank_growth = [-0.04, -0.03, -0.02, -0.01, 0.0, 0.01, 0.02, 0.07]\n\
                 rank_vol = {{ from = 0.15, to = 0.4 }}\n{equal}"
            ),
        ),
        ("vsm", format!("model = \"vsm\"\nalpha = 0.5\n{equal}")),
        ("bootstrap", format!("model = \"bootstrap\"\ndata = \"{}\"\nzipf = 0.0", data_file(8, "2000-01-01"))),
    ]
}

/// The plan's results on the CPU in `precision`, and their report.
fn simulated_report(plan: &Plan, precision: Precision) -> (Results, Report) {
    let mut backend = CpuBackend::new(precision, None);
    let results = simulate(plan, &mut backend);
    let run = RunInfo {
        backend: backend.info(),
        paths: plan.paths,
        steps: plan.steps,
        stocks: plan.n(),
        seconds: 1.0,
        asset_steps_per_second: 1.0,
    };
    let report = Report::new(plan, &results, run);
    (results, report)
}

#[test]
fn the_same_portfolio_stays_within_a_tenth_of_the_tie_bound_and_is_reported_as_a_tie() {
    for (model, market) in markets() {
        for precision in [Precision::F32, Precision::F64] {
            let plan =
                plan(&format!("seed = 3\npaths = 24\nyears = 2.0\n[market]\nn = 8\n{market}\n{SAME_PORTFOLIOS}"));
            let (results, report) = simulated_report(&plan, precision);
            let rounding = results.rounding(precision);
            let l = |name: &str, path: usize| {
                let index = results.strategy_names.iter().position(|n| n == name).unwrap();
                results.per_path[index][path].relative_log_return
            };
            let mut worst = 0.0f64;
            for path in 0..results.paths() {
                let held = [l("equal-held", path), l("diversity-held", path), l("market-with-costs", path), 0.0];
                for (i, a) in held.iter().enumerate() {
                    for b in &held[i + 1..] {
                        worst = worst.max((a - b).abs() / rounding.log_return(a.abs().max(b.abs())));
                    }
                }
                assert_eq!(l("cap-weighted", path), 0.0, "{model} {precision:?}: the market strategy is the benchmark");
            }
            assert!(
                worst <= 0.1,
                "{model} {precision:?}: a difference of {worst} tie bounds between the same portfolio"
            );
            println!("{model} {precision:?}: largest difference {worst:.2e} tie bounds");

            for (name, strategy) in &report.strategies {
                let same = name != "equal-monthly";
                assert_eq!(strategy.p_outperform.is_none(), same, "{model} {precision:?} {name}: P(outperform)");
                assert_eq!(strategy.information_ratio.is_none(), same, "{model} {precision:?} {name}: IR");
                assert_eq!(strategy.relative_growth_rate.estimate().low.is_none(), same, "{model} {name}: interval");
                // It ties on risk too: no share of paths with less risk, no interval on the
                // volatility difference, which is rounding (a tracking error's worth at most).
                assert_eq!(strategy.p_less_risk.is_none(), same, "{model} {precision:?} {name}: P(less risk)");
                assert_eq!(strategy.p_outperform_less_risk.is_none(), same, "{model} {name}: P(outperform, less risk)");
                assert_eq!(strategy.volatility_difference.low.is_none(), same, "{model} {name}: volatility interval");
                if same {
                    let bound = rounding.tracking_error();
                    let difference =
                        strategy.volatility_difference.max.abs().max(strategy.volatility_difference.min.abs());
                    assert!(difference <= bound, "{model} {precision:?} {name}: volatility difference {difference:e}");
                    assert!((strategy.beta.mean - 1.0).abs() < 1e-3, "{model} {precision:?} {name}: beta");
                }
            }
            for comparison in &report.comparisons {
                let same = comparison.first != "equal-monthly" && comparison.second != "equal-monthly";
                assert_eq!(
                    comparison.tie, same,
                    "{model} {precision:?}: {} vs {}",
                    comparison.first, comparison.second
                );
                assert_eq!(comparison.first_wins.is_none(), same);
                assert!(!same || !comparison.relative_log_return.is_significant());
            }
            let ranking = report.ranking();
            assert_eq!(ranking.matches(" = ").count(), 4, "{model} {precision:?}: {ranking}");
        }
    }
}

#[test]
fn a_small_real_difference_is_not_a_tie() {
    // The costs example's smallest gap: diversity 0.5 rebalanced quarterly at 0 and at
    // 10 bp, ten years of the default market in f32. The costs take about 0.0019 of log
    // return, 12 u N, while the same portfolio computed two ways parts by at most 0.4 u N:
    // a result, which the tie bound (8 u N) must leave one.
    let text = sptlab::scenario::examples::example_text("default").expect("the default scenario");
    let market = &text[text.find("[market]").unwrap()..text.find("[[strategies]]").unwrap()];
    let plan = plan(&format!(
        "seed = 3\npaths = 24\nyears = 10.0\n{market}\n[[strategies]]\nname = \"free\"\nweighting = \"diversity\"\n\
         p = 0.5\nrebalance_every = 63\n[[strategies]]\nname = \"costly\"\nweighting = \"diversity\"\np = 0.5\n\
         rebalance_every = 63\ncost_bps = 10.0"
    ));
    let (_, report) = simulated_report(&plan, Precision::F32);
    let pair = report.comparisons.iter().find(|c| c.first == "free" && c.second == "costly").unwrap();
    assert!(!pair.tie && pair.relative_log_return.is_significant(), "{pair:?}");
    assert!(pair.relative_log_return.mean < 0.003, "a small difference: {}", pair.relative_log_return.mean);
}
