//! The table `sptlab run` and `sptlab merge` print: one row per strategy.

use std::fmt::Write as _;

use crate::market::spec::ModelKind;
use crate::summary::report::{HistorySource, Report};
use crate::summary::stats::Z_95;

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
    let (market_mean, market_se) = market.estimate();
    let _ = writeln!(
        out,
        "market ({}) log return: mean {:.4} +/- {:.4} (95%), sd {:.4}\n",
        market_kind(report),
        market_mean,
        Z_95 * market_se,
        market.sd
    );
    let _ = writeln!(
        out,
        "{:<16} {:>22} {:>9} {:>9} {:>7} {:>22} {:>9} {:>9} {:>9}",
        "strategy",
        "rel. growth/yr (95%)",
        "excess",
        "track.err",
        "IR",
        "P(outperform) [95%]",
        "max RDD",
        "turn/yr",
        "b/e cost"
    );
    for row in table_rows(report) {
        let _ = writeln!(
            out,
            "{:<16} {:>22} {:>8.2}% {:>8.2}% {:>7.3} {:>22} {:>8.2}% {:>8.1}% {:>9}",
            row.strategy,
            format!("{:+.3}% +/- {:.3}%", 100.0 * row.relative_growth_rate, 100.0 * Z_95 * row.relative_growth_rate_se),
            100.0 * row.excess_return,
            100.0 * row.tracking_error,
            row.information_ratio,
            format!("{:.3} [{:.3}, {:.3}]", row.p_outperform, row.p_outperform_low, row.p_outperform_high),
            100.0 * row.max_relative_drawdown,
            100.0 * row.turnover,
            row.break_even_cost_bps.map_or("-".to_string(), |bps| format!("{bps:.0} bp")),
        );
    }
    let _ = writeln!(out, "\nranking (paired, 95%): {}", report.ranking());
    if let Some(history) = &report.history {
        out.push_str(&history_lines(report, history));
    }
    let _ = writeln!(
        out,
        "\nrel. growth: log(V/V_market)/T per path; excess, track.err, IR: annualised active returns, mean over paths;\n\
         max RDD: largest relative drawdown; turn/yr: share of value traded per year;\n\
         b/e cost: cost per unit traded at which mean rel. growth is zero (- if none);\n\
         ranking: by mean relative log return; '>' a significant paired difference, '~' not."
    );
    let _ = writeln!(out, "{}", estimation_note(report));
    out
}

/// One row of the table, in the units of summary.json (fractions, not percent): the
/// figures the printed table shows and Python's `Result.table()` holds.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct TableRow {
    pub strategy: String,
    /// Mean relative growth rate a year (controlled when the run has the control).
    pub relative_growth_rate: f64,
    /// Its standard error, and the half-width of its 95 % interval (`Z_95` x se).
    pub relative_growth_rate_se: f64,
    pub relative_growth_rate_pm95: f64,
    /// Mean annualised excess return (controlled when the run has the control).
    pub excess_return: f64,
    pub tracking_error: f64,
    pub information_ratio: f64,
    pub p_outperform: f64,
    pub p_outperform_low: f64,
    pub p_outperform_high: f64,
    pub max_relative_drawdown: f64,
    pub turnover: f64,
    /// Cost per unit traded, in basis points, at which mean relative growth is zero.
    pub break_even_cost_bps: Option<f64>,
    /// `run --history`: where the data's own path falls among the paths (percent).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history_percentile: Option<f64>,
    /// `run --history`: the data's own relative growth rate a year.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history_relative_growth_rate: Option<f64>,
}

/// The table's rows, one per strategy in scenario order.
pub fn table_rows(report: &Report) -> Vec<TableRow> {
    report
        .strategies
        .iter()
        .map(|(name, strategy)| {
            let (growth, growth_se) = strategy.relative_growth_rate.estimate();
            let p = &strategy.p_outperform;
            TableRow {
                strategy: name.clone(),
                relative_growth_rate: growth,
                relative_growth_rate_se: growth_se,
                relative_growth_rate_pm95: Z_95 * growth_se,
                excess_return: strategy.excess_return.estimate().0,
                tracking_error: strategy.tracking_error.mean,
                information_ratio: strategy.information_ratio.mean,
                p_outperform: p.estimate,
                p_outperform_low: p.low,
                p_outperform_high: p.high,
                max_relative_drawdown: strategy.max_relative_drawdown.mean,
                turnover: strategy.turnover.mean,
                break_even_cost_bps: strategy.break_even_cost_bps,
                history_percentile: strategy.history.as_ref().map(|h| h.percentile),
                history_relative_growth_rate: strategy.history.as_ref().map(|h| h.relative_growth_rate),
            }
        })
        .collect()
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
    notes.push("survivorship: the file's stocks were chosen after the fact".to_string());
    notes
}

/// `run --history`: each strategy on the data's own path, and its percentile among the paths.
fn history_lines(report: &Report, history: &HistorySource) -> String {
    let data = &history.data;
    let mut out = format!(
        "\nhistory: {} ({}, {} to {}, {:.2} years, from the run's initial weights):\n{:<16} {:>14} {:>14} {:>12}\n",
        data.path,
        data.values,
        data.from,
        data.to,
        history.years,
        "strategy",
        "rel. growth/yr",
        "rel. log ret.",
        "percentile"
    );
    for (name, strategy) in &report.strategies {
        if let Some(h) = &strategy.history {
            let _ = writeln!(
                out,
                "{:<16} {:>13.3}% {:>14.4} {:>12.1}",
                name,
                100.0 * h.relative_growth_rate,
                h.relative_log_return,
                h.percentile
            );
        }
    }
    out.push_str("percentile: share of simulated paths with a lower relative log return (ties half), in %.\n");
    for note in history_caveats(report, history) {
        let _ = writeln!(out, "note: {note}.");
    }
    out
}
