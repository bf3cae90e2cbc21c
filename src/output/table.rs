//! The table `sptlab run` and `sptlab merge` print: one row per strategy.

use std::fmt::Write as _;

use crate::market::spec::ModelKind;
use crate::summary::report::{BenchmarkKind, HistorySource, Report};

/// The table printed by `sptlab run`: one row per strategy.
pub fn table(report: &Report) -> String {
    let run = &report.run;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: {} paths x {} steps ({:.1} years), {} stocks; {} backend ({}, {}), {:.2} s, {:.3e} asset-steps/s",
        report.scenario.name,
        run.paths,
        run.steps,
        run.steps as f64 / report.scenario.steps_per_year as f64,
        run.stocks,
        run.backend.backend,
        run.backend.precision.name(),
        run.backend.adapter,
        run.seconds,
        run.asset_steps_per_second,
    );
    let market = &report.market.log_return;
    let market_estimate = market.estimate();
    let benchmark = &report.benchmark;
    // The benchmark's volatility beside its return (the index's, on its own line).
    let market_volatility = match benchmark.kind {
        BenchmarkKind::Market => format!("; volatility {}/yr", percent(benchmark.volatility.mean, 2, false)),
        BenchmarkKind::Index => String::new(),
    };
    let _ = writeln!(
        out,
        "market ({}) log return: mean {} +/- {} (95%), sd {}{market_volatility}\n",
        market_kind(report),
        number(market_estimate.mean, 4),
        optional(market_estimate.half_width(), |w| number(w, 4)),
        optional(market.sd, |sd| number(sd, 4)),
    );
    if let (Some(k), Some(every), Some(buffer)) = (benchmark.index, benchmark.reconstitute_every, benchmark.buffer) {
        let estimate = benchmark.log_return.estimate();
        // Over the market's blank line, the index's before the strategies.
        out.pop();
        let _ = writeln!(
            out,
            "index (the largest {k} of {} by cap, reconstituted every {every} steps, buffer {buffer}) log return: mean {} \
             +/- {} (95%), sd {}; volatility {}/yr; turnover {}/yr\n",
            run.stocks,
            number(estimate.mean, 4),
            optional(estimate.half_width(), |w| number(w, 4)),
            optional(benchmark.log_return.sd, |sd| number(sd, 4)),
            percent(benchmark.volatility.mean, 2, false),
            percent(benchmark.turnover.mean, 1, false),
        );
    }
    let _ = writeln!(
        out,
        "{:<16} {:>22} {:>9} {:>9} {:>7} {:>22} {:>8} {:>8} {:>9} {:>9} {:>9}",
        "strategy",
        "rel. growth/yr (95%)",
        "excess",
        "track.err",
        "IR",
        "P(outperform) [95%]",
        "vol/yr",
        "P(o,<=v)",
        "max RDD",
        "turn/yr",
        "b/e cost"
    );
    for row in table_rows(report) {
        let _ = writeln!(
            out,
            "{:<16} {:>22} {:>9} {:>9} {:>7} {:>22} {:>8} {:>8} {:>9} {:>9} {:>9}",
            row.strategy,
            format!(
                "{} +/- {}",
                percent(row.relative_growth_rate, 3, true),
                optional(row.relative_growth_rate_pm95, |w| percent(w, 3, false))
            ),
            percent(row.excess_return, 2, false),
            percent(row.tracking_error, 2, false),
            optional(row.information_ratio, |ir| number(ir, 3)),
            optional(row.p_outperform_with_interval(), |text| text),
            percent(row.volatility, 2, false),
            optional(row.p_outperform_less_risk, |p| number(p, 3)),
            percent(row.max_relative_drawdown, 2, false),
            percent(row.turnover, 1, false),
            row.break_even_cost_bps.map_or("-".to_string(), |bps| format!("{} bp", number(bps, 0))),
        );
    }
    let _ = writeln!(out, "\nranking (paired, 95%): {}", report.ranking());
    out.push_str(&open_market_lines(report));
    if let Some(history) = &report.history {
        out.push_str(&history_lines(report, history));
    }
    let _ = writeln!(
        out,
        "\nrel. growth: log(V/V_{})/T per path; excess, track.err, IR: annualised active returns, mean over paths;\n\
         vol/yr: volatility of one-step returns, annualised (the {}'s: {}); P(o,<=v): share of paths that outperform \
         with a volatility at most the {}'s;\n\
         max RDD: largest relative drawdown; turn/yr: share of value traded per year;\n\
         b/e cost: cost per unit traded at which mean rel. growth is zero (- if none);\n\
         ranking: by mean relative log return; '>' a significant paired difference, '~' not, '=' equal to rounding;\n\
         - : none (no interval below two paths or pairs; no IR or P(outperform) for a portfolio equal to the {}).",
        benchmark_name(report),
        benchmark_name(report),
        percent(report.benchmark.volatility.mean, 2, false),
        benchmark_name(report),
        benchmark_name(report),
    );
    let _ = writeln!(out, "{}", estimation_note(report));
    out
}

/// The benchmark's name: `index` or `market`.
fn benchmark_name(report: &Report) -> &'static str {
    match report.benchmark.kind {
        BenchmarkKind::Index => crate::summary::compare::INDEX,
        BenchmarkKind::Market => crate::summary::compare::MARKET,
    }
}

/// Each strategy's mean relative log return and, for functionally generated ones, its
/// terms (screen, generating, drift, leakage, cost), formatted for the table and
/// report.html (docs/open-markets.md).
pub fn decomposition_rows(report: &Report) -> Vec<(String, String, Option<[String; 5]>)> {
    report
        .strategies
        .iter()
        .map(|(name, strategy)| {
            let terms = strategy.decomposition.as_ref().map(|d| {
                [d.screen_term.mean, d.generating_term.mean, d.drift_term.mean, d.leakage_term.mean, d.cost_term.mean]
                    .map(|mean| number(mean, 4))
            });
            (name.clone(), number(strategy.relative_log_return.estimate().mean, 4), terms)
        })
        .collect()
}

/// With an index or a screen, each strategy's decomposition with its leakage and screen
/// terms beside the generating, drift and cost terms.
fn open_market_lines(report: &Report) -> String {
    if !report.is_open_market() {
        return String::new();
    }
    let mut out = format!(
        "\ndecomposition of the relative log return (means over paths, whole run):\n{:<16} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}\n",
        "strategy", "rel. log", "screen", "generating", "drift", "leakage", "cost"
    );
    for (name, relative, terms) in decomposition_rows(report) {
        match terms {
            Some(terms) => {
                let _ = writeln!(out, "{name:<16} {relative:>10} {}", terms.map(|t| format!("{t:>10}")).join(" "));
            }
            None => {
                let _ = writeln!(out, "{name:<16} {relative:>10}  (not functionally generated: no decomposition)");
            }
        }
    }
    out.push_str(
        "rel. log = screen + generating + drift + leakage + cost on every path; leakage: log G lost when members \
         leave and enter;\nscreen: the screened index against the index. The index is \"largest K by cap\", a model \
         of an index, not a committee's rules.\n",
    );
    out
}

/// One row of the table, in the units of summary.json (fractions, not percent): the
/// figures the printed table shows and Python's `Result.table()` holds.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TableRow {
    pub strategy: String,
    /// Mean relative growth rate a year (controlled when the run has the control).
    pub relative_growth_rate: f64,
    /// Its standard error, and the half-width of its 95 % interval (Student's t); none
    /// below two units, and no interval for a tie with the market.
    pub relative_growth_rate_se: Option<f64>,
    pub relative_growth_rate_pm95: Option<f64>,
    /// Mean annualised excess return (controlled when the run has the control).
    pub excess_return: f64,
    pub tracking_error: f64,
    /// None where no path's tracking error is more than rounding.
    pub information_ratio: Option<f64>,
    /// None for a strategy equal to the market to rounding.
    pub p_outperform: Option<f64>,
    pub p_outperform_low: Option<f64>,
    pub p_outperform_high: Option<f64>,
    pub max_relative_drawdown: f64,
    pub turnover: f64,
    /// Cost per unit traded, in basis points, at which mean relative growth is zero.
    pub break_even_cost_bps: Option<f64>,
    /// Mean volatility, its mean difference from the benchmark's, mean beta and size tilt.
    pub volatility: f64,
    pub volatility_difference: f64,
    pub beta: f64,
    pub size_tilt: f64,
    /// The shares of paths with a volatility at most the benchmark's, and with L > 0
    /// too; None for a strategy equal to the benchmark to rounding.
    pub p_less_risk: Option<f64>,
    pub p_outperform_less_risk: Option<f64>,
    /// `run --history`: where the data's own path falls among the paths (percent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history_percentile: Option<f64>,
    /// `run --history`: the data's own relative growth rate a year.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history_relative_growth_rate: Option<f64>,
}

impl TableRow {
    /// "p [low, high]", as the table and the report print it; none for a tie with the market.
    pub fn p_outperform_with_interval(&self) -> Option<String> {
        match (self.p_outperform, self.p_outperform_low, self.p_outperform_high) {
            (Some(p), Some(low), Some(high)) => Some(format!("{p:.3} [{low:.3}, {high:.3}]")),
            _ => None,
        }
    }
}

/// The table's rows, one per strategy in scenario order.
pub fn table_rows(report: &Report) -> Vec<TableRow> {
    report
        .strategies
        .iter()
        .map(|(name, strategy)| {
            let growth = strategy.relative_growth_rate.estimate();
            let p = strategy.p_outperform.as_ref();
            TableRow {
                strategy: name.clone(),
                relative_growth_rate: growth.mean,
                relative_growth_rate_se: growth.se,
                relative_growth_rate_pm95: growth.half_width(),
                excess_return: strategy.excess_return.estimate().mean,
                tracking_error: strategy.tracking_error.mean,
                information_ratio: strategy.information_ratio.map(|ir| ir.mean),
                p_outperform: p.map(|p| p.estimate),
                p_outperform_low: p.map(|p| p.low),
                p_outperform_high: p.map(|p| p.high),
                max_relative_drawdown: strategy.max_relative_drawdown.mean,
                turnover: strategy.turnover.mean,
                break_even_cost_bps: strategy.break_even_cost_bps,
                volatility: strategy.volatility.mean,
                volatility_difference: strategy.volatility_difference.mean,
                beta: strategy.beta.mean,
                size_tilt: strategy.size_tilt.mean,
                p_less_risk: strategy.p_less_risk.map(|p| p.estimate),
                p_outperform_less_risk: strategy.p_outperform_less_risk.map(|p| p.estimate),
                history_percentile: strategy.history.as_ref().map(|h| h.percentile),
                history_relative_growth_rate: strategy.history.as_ref().map(|h| h.relative_growth_rate),
            }
        })
        .collect()
}

/// `value` with `decimals` decimals, or in scientific notation when that would be wider
/// than a table column (a figure of 1e150 is not printed as 150 digits).
pub fn number(value: f64, decimals: usize) -> String {
    let fixed = format!("{value:.decimals$}");
    if fixed.len() > 9 {
        format!("{value:.2e}")
    } else {
        fixed
    }
}

/// A fraction as a percentage with `decimals` decimals (and a sign when `signed`), in
/// scientific notation past a table column's width.
pub fn percent(fraction: f64, decimals: usize, signed: bool) -> String {
    let value = 100.0 * fraction;
    let fixed = if signed { format!("{value:+.decimals$}") } else { format!("{value:.decimals$}") };
    if fixed.len() <= 8 {
        format!("{fixed}%")
    } else if signed {
        format!("{value:+.2e}%")
    } else {
        format!("{value:.2e}%")
    }
}

/// `value` formatted, or "-" where there is none.
pub fn optional<T>(value: Option<T>, format: impl FnOnce(T) -> String) -> String {
    value.map_or_else(|| "-".to_string(), format)
}

/// What the means and intervals are: controlled (with the range of variance ratios of
/// the relative growth) or plain, over paths or antithetic pairs.
pub fn estimation_note(report: &Report) -> String {
    let ratios: Vec<f64> = report
        .strategies
        .iter()
        .filter_map(|(_, s)| s.relative_growth_rate.controlled.map(|c| c.variance_ratio))
        .collect();
    let mut note = if ratios.is_empty() {
        "means: plain sample means (no control variate)".to_string()
    } else {
        let low = ratios.iter().copied().fold(f64::INFINITY, f64::min);
        let high = ratios.iter().copied().fold(0.0, f64::max);
        format!(
            "means of rel. growth, excess and the market's log return: controlled by the martingale control \
             variate (docs/control-variates.md; variance ratio {low:.0} to {high:.0}; --control-variate none for plain means)"
        )
    };
    if report.scenario.antithetic {
        note.push_str(&format!("; antithetic pairs: intervals over {} pairs", report.run.paths / 2));
    }
    note
}

/// What the run's market portfolio is: cap-weighted, or (a bootstrap of prices, whose
/// shares are constant) buy-and-hold from the initial weights.
pub fn market_kind(report: &Report) -> &'static str {
    let market = &report.scenario.market;
    if market.model == ModelKind::Bootstrap && market.caps != Some(true) {
        "buy-and-hold from the initial weights"
    } else {
        "cap-weighted"
    }
}

/// What a historical path from prices cannot show (docs/real-data.md), for the notes of
/// `--history`'s table and report.
pub fn history_caveats(report: &Report, history: &HistorySource) -> Vec<String> {
    let mut notes = Vec::new();
    if history.data.values == "prices" {
        notes
            .push("prices, not caps: the historical market is buy-and-hold from the run's initial weights".to_string());
    }
    let equal = report.scenario.market.initial_weights.as_ref().is_some_and(|w| w.windows(2).all(|p| p[0] == p[1]));
    if equal {
        notes.push("equal initial weights: diversity and equal weighting start identical".to_string());
    }
    if history.data.values == "long" {
        notes.push(
            "a long file: an open universe, stocks listing and delisting, against its own benchmark ([benchmark] on \
             the file's listed stocks), not the run's simulated market"
                .to_string(),
        );
    } else {
        notes.push("survivorship: the file's stocks were chosen after the fact".to_string());
    }
    notes
}

/// `run --history`: each strategy on the data's own path, and its percentile among the paths.
fn history_lines(report: &Report, history: &HistorySource) -> String {
    let data = &history.data;
    let mut out = format!(
        "\nhistory: {} ({}, {} to {}, {:.2} years{}):\n{:<16} {:>14} {:>14} {:>12} \
         {:>14} {:>12}\n",
        data.path,
        data.values,
        data.from,
        data.to,
        history.years,
        if data.values == "long" { ", against its own benchmark" } else { ", from the run's initial weights" },
        "strategy",
        "rel. growth/yr",
        "rel. log ret.",
        "percentile",
        "vol. - mkt",
        "percentile"
    );
    for (name, strategy) in &report.strategies {
        if let Some(h) = &strategy.history {
            let _ = writeln!(
                out,
                "{:<16} {:>14} {:>14} {:>12.1} {:>14} {:>12.1}",
                name,
                percent(h.relative_growth_rate, 3, false),
                number(h.relative_log_return, 4),
                h.percentile,
                percent(h.volatility_difference, 2, true),
                h.volatility_difference_percentile
            );
        }
    }
    out.push_str("percentile: share of simulated paths with a lower relative log return (ties half), in %.\n");
    for note in history_caveats(report, history) {
        let _ = writeln!(out, "note: {note}.");
    }
    out
}
