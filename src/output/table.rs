//! Rendering results: the terminal table, `summary.json` and `paths.csv`.
//!
//! The files are returned as bytes for `OutDir::publish`, which writes them as one set.

use std::fmt::Write as _;
use std::io;

use crate::summary::report::Report;
use crate::summary::results::Results;

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
    let _ = writeln!(
        out,
        "market (cap-weighted) log return: mean {:.4} +/- {:.4} (95%), sd {:.4}\n",
        market.mean,
        1.96 * market.se,
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
    for (name, strategy) in &report.strategies {
        let growth = &strategy.relative_growth_rate;
        let p = &strategy.p_outperform;
        let _ = writeln!(
            out,
            "{:<16} {:>22} {:>8.2}% {:>8.2}% {:>7.3} {:>22} {:>8.2}% {:>8.1}% {:>9}",
            name,
            format!("{:+.3}% +/- {:.3}%", 100.0 * growth.mean, 196.0 * growth.se),
            100.0 * strategy.excess_return.mean,
            100.0 * strategy.tracking_error.mean,
            strategy.information_ratio.mean,
            format!("{:.3} [{:.3}, {:.3}]", p.estimate, p.low, p.high),
            100.0 * strategy.max_relative_drawdown.mean,
            100.0 * strategy.turnover.mean,
            strategy.break_even_cost_bps.map_or("-".to_string(), |bps| format!("{bps:.0} bp")),
        );
    }
    let _ = writeln!(out, "\nranking (paired, 95%): {}", report.ranking());
    let _ = writeln!(
        out,
        "\nrel. growth: log(V/V_market)/T per path; excess, track.err, IR: annualised active returns, mean over paths;\n\
         max RDD: largest relative drawdown; turn/yr: share of value traded per year;\n\
         b/e cost: cost per unit traded at which mean rel. growth is zero (- if none);\n\
         ranking: by mean relative log return; '>' a significant paired difference, '~' not."
    );
    out
}

/// `summary.json`, pretty-printed.
pub fn summary_json(report: &Report) -> String {
    serde_json::to_string_pretty(report).expect("reports contain only serialisable values")
}

pub const PATHS_CSV_HEADER: &str = "path,strategy,log_return,relative_log_return,excess_return,tracking_error,\
information_ratio,max_relative_drawdown,turnover,generating_term,drift_term,cost_term";

/// `paths.csv`: one row per path and strategy, plus the market's own row per path.
pub fn paths_csv(results: &Results) -> String {
    let mut out = String::with_capacity(results.paths() * (results.strategy_names.len() + 1) * 160);
    out.push_str(PATHS_CSV_HEADER);
    out.push('\n');
    for path in 0..results.paths() {
        let market = results.market_log_return[path];
        let _ = writeln!(out, "{path},market,{market},0,0,0,0,0,0,0,0,0");
        for (strategy, name) in results.strategy_names.iter().enumerate() {
            let s = &results.per_path[strategy][path];
            // Not functionally generated: no generating or drift term (empty fields).
            let (generating, drift) = if results.functionally_generated[strategy] {
                (s.generating_term.to_string(), s.drift_term.to_string())
            } else {
                (String::new(), String::new())
            };
            let _ = writeln!(
                out,
                "{path},{name},{},{},{},{},{},{},{},{generating},{drift},{}",
                s.log_return,
                s.relative_log_return,
                s.excess_return,
                s.tracking_error,
                s.information_ratio,
                s.max_relative_drawdown,
                s.turnover,
                s.cost_term,
            );
        }
    }
    out
}

/// The file every path's statistics go to; "parquet" or "csv" in files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PerPathFormat {
    /// `paths.parquet`.
    Parquet,
    /// `paths.csv`.
    Csv,
}

impl PerPathFormat {
    pub fn name(self) -> &'static str {
        match self {
            PerPathFormat::Parquet => "parquet",
            PerPathFormat::Csv => "csv",
        }
    }
}

/// `summary.json` and, with `per_path`, every path's statistics, as `(file name, bytes)`.
pub fn output_files(
    report: &Report,
    results: &Results,
    per_path: Option<PerPathFormat>,
) -> io::Result<Vec<(String, Vec<u8>)>> {
    let mut files = vec![("summary.json".to_string(), summary_json(report).into_bytes())];
    match per_path {
        Some(PerPathFormat::Csv) => files.push(("paths.csv".to_string(), paths_csv(results).into_bytes())),
        Some(PerPathFormat::Parquet) => files.push((
            "paths.parquet".to_string(),
            crate::output::paths_parquet::paths_parquet(results).map_err(io::Error::other)?,
        )),
        None => {}
    }
    Ok(files)
}
