//! `report.html`: one self-contained page (no scripts, no network) with the run facts,
//! the summary table, the figures inlined as SVG, and the scenario, so a run can be
//! shared as a single file.

use std::fmt::Write as _;

use crate::output::table::{number, optional};
use crate::summary::report::Report;

/// `text` with the five HTML-special characters escaped.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

pub(super) const STYLE: &str = "body{font-family:sans-serif;max-width:960px;margin:2em auto;padding:0 1em;color:#222}\
table{border-collapse:collapse;margin:1em 0}th,td{border:1px solid #ccc;padding:4px 8px;text-align:right}\
th:first-child,td:first-child{text-align:left}caption{text-align:left;font-weight:bold;margin-bottom:4px}\
figure{margin:1.5em 0}figcaption{color:#555}pre{background:#f6f6f6;padding:1em;overflow:auto}";

/// The page, with `figures` as (caption, SVG text) in the order shown.
pub fn report_html(report: &Report, figures: &[(&str, String)]) -> String {
    let run = &report.run;
    let mut out = String::new();
    let title = format!("sptlab: {}", report.scenario.name);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title><style>{STYLE}</style></head><body>\n",
        escape(&title)
    );
    let _ = writeln!(out, "<h1>{}</h1>", escape(&title));
    let facts = [
        ("sptlab version", report.sptlab_version.to_string()),
        ("backend", format!("{} ({}, {})", run.backend.backend, run.backend.precision.name(), run.backend.adapter)),
        ("paths", run.paths.to_string()),
        ("stocks", run.stocks.to_string()),
        ("steps", format!("{} ({:.2} years)", run.steps, run.steps as f64 / report.scenario.steps_per_year as f64)),
        ("seed", report.scenario.seed.to_string()),
        ("seconds", format!("{:.2}", run.seconds)),
        ("asset-steps per second", format!("{:.3e}", run.asset_steps_per_second)),
    ];
    out.push_str("<table class=\"facts\"><caption>Run</caption>\n");
    for (name, value) in facts {
        let _ = writeln!(out, "<tr><th>{}</th><td>{}</td></tr>", escape(name), escape(&value));
    }
    out.push_str("</table>\n");

    let market = &report.market.log_return;
    let market_estimate = market.estimate();
    let _ = writeln!(
        out,
        "<p>Market ({}) log return over the run: mean {} &plusmn; {} (95 %), sd {}.</p>",
        crate::output::table::market_kind(report),
        number(market_estimate.mean, 4),
        optional(market_estimate.half_width(), |w| number(w, 4)),
        optional(market.sd, |sd| number(sd, 4)),
    );
    let benchmark = &report.benchmark;
    if let (Some(k), Some(every), Some(buffer)) = (benchmark.index, benchmark.reconstitute_every, benchmark.buffer) {
        let estimate = benchmark.log_return.estimate();
        let _ = writeln!(
            out,
            "<p>Benchmark: the index of the largest {k} of {} stocks by cap, reconstituted every {every} steps with a \
             buffer of {buffer} (a model of an index, not a committee's rules). Its log return over the run: mean {} \
             &plusmn; {} (95 %), sd {}; turnover {:.1} %/yr.</p>",
            report.run.stocks,
            number(estimate.mean, 4),
            optional(estimate.half_width(), |w| number(w, 4)),
            optional(benchmark.log_return.sd, |sd| number(sd, 4)),
            100.0 * benchmark.turnover.mean,
        );
    }
    let against = match benchmark.kind {
        crate::summary::report::BenchmarkKind::Index => "the index",
        crate::summary::report::BenchmarkKind::Market => "the market",
    };
    let _ = write!(
        out,
        "<table class=\"summary\"><caption>Strategies against {against} (means over paths, 95 % intervals)</caption>\n\
         <tr><th>strategy</th><th>relative growth, %/yr</th><th>excess return, %/yr</th><th>tracking error, %/yr</th>\
         <th>information ratio</th><th>P(outperform)</th><th>volatility, %/yr (the benchmark's: {:.2})</th>\
         <th>beta</th><th>size tilt</th><th>P(outperform with equal or less risk)</th>\
         <th>max relative drawdown</th><th>turnover, %/yr</th><th>break-even cost</th></tr>\n",
        100.0 * benchmark.volatility.mean
    );
    for row in crate::output::table::table_rows(report) {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{:+.3} &plusmn; {}</td><td>{:.2}</td><td>{:.2}</td><td>{}</td>\
             <td>{}</td><td>{:.2}</td><td>{:.3}</td><td>{:+.3}</td><td>{}</td><td>{:.2} %</td><td>{:.1}</td><td>{}</td></tr>",
            escape(&row.strategy),
            100.0 * row.relative_growth_rate,
            optional(row.relative_growth_rate_pm95, |w| format!("{:.3}", 100.0 * w)),
            100.0 * row.excess_return,
            100.0 * row.tracking_error,
            optional(row.information_ratio, |ir| format!("{ir:.3}")),
            row.p_outperform_with_interval().unwrap_or_else(|| "&ndash;".to_string()),
            100.0 * row.volatility,
            row.beta,
            row.size_tilt,
            optional(row.p_outperform_less_risk, |p| format!("{p:.3}")),
            100.0 * row.max_relative_drawdown,
            100.0 * row.turnover,
            row.break_even_cost_bps.map_or("&ndash;".to_string(), |bps| format!("{bps:.0} bp")),
        );
    }
    out.push_str("</table>\n");
    let _ = writeln!(out, "<p>{}.</p>", escape(&crate::output::table::estimation_note(report)));
    let _ = writeln!(out, "<p>Ranking (paired, 95 %): {}</p>", escape(&report.ranking()));
    out.push_str(&open_market_table(report));
    if let Some(history) = &report.history {
        let data = &history.data;
        let _ = writeln!(
            out,
            "<table class=\"history\"><caption>History: {} ({}, {} to {}, {:.2} years, from the run's initial \
             weights)</caption>\n<tr><th>strategy</th><th>relative growth, %/yr</th><th>relative log return</th>\
             <th>percentile among the paths</th></tr>",
            escape(&data.path),
            escape(&data.values),
            escape(&data.from),
            escape(&data.to),
            history.years
        );
        for (name, strategy) in &report.strategies {
            if let Some(h) = &strategy.history {
                let _ = writeln!(
                    out,
                    "<tr><td>{}</td><td>{:+.3}</td><td>{:.4}</td><td>{:.1}</td></tr>",
                    escape(name),
                    100.0 * h.relative_growth_rate,
                    h.relative_log_return,
                    h.percentile
                );
            }
        }
        out.push_str("</table>\n<ul>\n");
        for note in crate::output::table::history_caveats(report, history) {
            let _ = writeln!(out, "<li>{}.</li>", escape(&note));
        }
        out.push_str("</ul>\n");
    }

    for (caption, svg) in figures {
        let _ = writeln!(out, "<figure>\n{svg}\n<figcaption>{}</figcaption></figure>", escape(caption));
    }

    let scenario =
        toml::to_string(&report.scenario).unwrap_or_else(|e| format!("(the scenario did not serialise: {e})"));
    let _ = writeln!(out, "<h2>Scenario</h2>\n<pre>{}</pre>", escape(&scenario));
    out.push_str("</body></html>\n");
    out
}

/// With an index or a screen, each strategy's decomposition with its leakage and screen
/// terms (docs/open-markets.md); nothing otherwise.
fn open_market_table(report: &Report) -> String {
    if !report.is_open_market() {
        return String::new();
    }
    let mut out = String::from(
        "<table class=\"decomposition\"><caption>The relative log return, term by term (means over paths): \
         screen + generating + drift + leakage + cost</caption>\n<tr><th>strategy</th><th>relative log return</th>\
         <th>screen</th><th>generating</th><th>drift</th><th>leakage</th><th>cost</th></tr>\n",
    );
    for (name, relative, terms) in crate::output::table::decomposition_rows(report) {
        let cells = match terms {
            Some(terms) => terms.map(|t| format!("<td>{t}</td>")).concat(),
            None => "<td colspan=\"5\">not functionally generated: no decomposition</td>".to_string(),
        };
        let _ = writeln!(out, "<tr><td>{}</td><td>{relative}</td>{cells}</tr>", escape(&name));
    }
    out.push_str("</table>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_leaves_no_markup() {
        assert_eq!(escape("<a href=\"x\">&'</a>"), "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;");
    }
}
