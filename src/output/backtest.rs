//! What `sptlab backtest` prints and writes (docs/real-data.md): the table, summary.json
//! (the schema of a run's, each statistic only its `mean`: the path's value) and
//! backtest.csv (per date, each strategy's L and its decomposition to date).

use std::fmt::Write as _;

use serde_json::{json, Map, Value};

use crate::backtest::Backtest;
use crate::output::table;

/// What price data cannot show (docs/real-data.md), said wherever results are shown.
pub fn price_data_caveats(backtest: &Backtest) -> Vec<String> {
    let mut notes = Vec::new();
    if backtest.data.values == "prices" {
        notes.push(
            "prices, not caps: shares are held constant, so the \"market\" is buy-and-hold from the initial weights \
             (not the capitalisation-weighted index of the time)"
                .to_string(),
        );
        let equal = backtest.plan.market.initial_weights().windows(2).all(|pair| pair[0] == pair[1]);
        if equal {
            notes.push(
                "equal initial weights: the market starts equally weighted, so diversity and equal weighting start \
                 identical"
                    .to_string(),
            );
        }
    }
    notes.push(
        "survivorship: the stocks are those of the file, chosen after the fact; a backtest on survivors flatters \
         every weighting that holds small stocks"
            .to_string(),
    );
    if let Some((index, _)) = &backtest.index {
        notes.push(format!(
            "{} is a price index (no dividends) while adjusted stock prices include them: against it every \
             strategy, the market included, carries the dividend yield",
            index.name
        ));
    }
    notes
}

fn percent(value: f64) -> String {
    crate::output::table::percent(value, 3, true)
}

/// The table `sptlab backtest` prints: the run's columns without intervals (one path),
/// the decomposition, and the figures against the index when there is one.
pub fn backtest_table(backtest: &Backtest) -> String {
    let data = &backtest.data;
    let report = &backtest.report;
    let years = backtest.results.years();
    let mut out = String::new();
    let tickers = if data.tickers.len() <= 8 {
        data.tickers.join(", ")
    } else {
        format!("{}, ..., {}", data.tickers[..4].join(", "), data.tickers[data.tickers.len() - 2..].join(", "))
    };
    let _ = writeln!(
        out,
        "backtest: {} stocks ({tickers}), {} to {}: {} steps ({years:.2} years, {:.1} rows a year), {}",
        data.tickers.len(),
        data.from,
        data.to,
        backtest.plan.steps,
        data.periods_per_year,
        data.values,
    );
    let market = report.market.log_return.mean;
    let _ = writeln!(
        out,
        "market ({}): log return {}, growth {}/yr, volatility {}/yr",
        if data.values == "prices" { "buy-and-hold from the initial weights" } else { "cap-weighted" },
        table::number(market, 4),
        percent(market / years),
        table::percent(report.benchmark.volatility.mean, 2, false)
    );
    if let Some((index, _)) = &backtest.index {
        let log_return = index.log_value[index.log_value.len() - 1];
        let _ = writeln!(
            out,
            "index {} (price index, no dividends): log return {}, growth {}/yr",
            index.name,
            table::number(log_return, 4),
            percent(log_return / years)
        );
    }
    let _ = writeln!(
        out,
        "\n{:<16} {:>14} {:>9} {:>9} {:>7} {:>8} {:>6} {:>7} {:>8} {:>8} {:>9} {:>10} {:>10} {:>10}",
        "strategy",
        "rel. growth/yr",
        "excess",
        "track.err",
        "IR",
        "vol/yr",
        "beta",
        "tilt",
        "max RDD",
        "turn/yr",
        "b/e cost",
        "generating",
        "drift",
        "cost"
    );
    for (name, strategy) in &report.strategies {
        let decomposition = strategy.decomposition.as_ref().map_or_else(
            || format!("{:>10} {:>10} {:>10}", "-", "-", "-"),
            |d| {
                let term = |s: &crate::summary::stats::Summary| table::number(s.mean, 4);
                format!("{:>10} {:>10} {:>10}", term(&d.generating_term), term(&d.drift_term), term(&d.cost_term))
            },
        );
        let _ = writeln!(
            out,
            "{:<16} {:>14} {:>9} {:>9} {:>7} {:>8} {:>6} {:>7} {:>8} {:>8} {:>9} {decomposition}",
            name,
            percent(strategy.relative_growth_rate.mean),
            table::percent(strategy.excess_return.mean, 2, false),
            table::percent(strategy.tracking_error.mean, 2, false),
            // None: a tracking error at rounding level, whose ratio would mean nothing.
            strategy.information_ratio.map_or("-".to_string(), |ir| table::number(ir.mean, 3)),
            table::percent(strategy.volatility.mean, 2, false),
            table::number(strategy.beta.mean, 2),
            table::number(strategy.size_tilt.mean, 3),
            table::percent(strategy.max_relative_drawdown.mean, 2, false),
            table::percent(strategy.turnover.mean, 1, false),
            strategy.break_even_cost_bps.map_or("-".to_string(), |bps| format!("{} bp", table::number(bps, 0))),
        );
    }
    if let Some((index, versus)) = &backtest.index {
        let _ = writeln!(
            out,
            "\nagainst {} (price index):\n{:<16} {:>14} {:>9} {:>9} {:>7}",
            index.name, "strategy", "rel. growth/yr", "excess", "track.err", "IR"
        );
        let names = report.strategies.iter().map(|(name, _)| name.as_str()).chain(std::iter::once("market"));
        for (name, figures) in names.zip(versus) {
            let _ = writeln!(
                out,
                "{:<16} {:>14} {:>9} {:>9} {:>7}",
                name,
                percent(figures.relative_log_return / years),
                table::percent(figures.excess_return, 2, false),
                table::percent(figures.tracking_error, 2, false),
                table::number(figures.information_ratio, 3)
            );
        }
    }
    let residual = backtest
        .trace
        .largest_residual
        .iter()
        .flatten()
        .copied()
        .fold(None, |a: Option<f64>, r| Some(a.map_or(r, |a| a.max(r))));
    let _ = writeln!(
        out,
        "\none path, no intervals. rel. growth: log(V/V_market)/T; excess, track.err, IR: annualised active returns \
         against the market;\nvol/yr: volatility of one-period returns, annualised; beta: against the market's; \
         tilt: size tilt, mean over rebalances of sum (w - mu) log mu (docs/statistics.md);\nmax RDD: largest relative drawdown; turn/yr: share of value traded per year; b/e cost: \
         cost per unit traded at which rel. growth is zero;\ngenerating, drift, cost: the master equation's terms \
         (log units, docs/theory.md){}.",
        residual.map_or(String::new(), |r| format!("; it holds at the end of every rebalancing period to {r:.1e}"))
    );
    for note in price_data_caveats(backtest) {
        let _ = writeln!(out, "note: {note}.");
    }
    out
}

/// Replaces every across-paths summary (an object with a `mean` and quantiles or an
/// interval) by its mean alone, and drops the proportions a single path cannot estimate.
fn single_path(value: &mut Value) {
    match value {
        Value::Object(map) => {
            let is_summary = map.contains_key("mean") && (map.contains_key("q50") || map.contains_key("low"));
            if is_summary {
                let mean = map["mean"].take();
                *map = Map::from_iter([("mean".to_string(), mean)]);
                return;
            }
            for share in ["p_outperform", "p_less_risk", "p_outperform_less_risk", "first_wins"] {
                map.remove(share);
            }
            map.values_mut().for_each(single_path);
        }
        Value::Array(items) => items.iter_mut().for_each(single_path),
        _ => {}
    }
}

/// summary.json of a backtest: a run's schema, each statistic `{ "mean": value }`, with
/// the data, the index and each strategy's `vs_index`, and the master equation's largest
/// residual per functionally generated strategy.
pub fn backtest_summary_json(backtest: &Backtest) -> String {
    let mut summary = serde_json::to_value(&backtest.report).expect("reports contain only serialisable values");
    single_path(&mut summary);
    // Not a simulation: `run --reproduce` refuses it (its scenario's market is the data's
    // path in order, which `run` would resample).
    summary["kind"] = json!("backtest");
    summary["data"] = serde_json::to_value(&backtest.data).expect("serialisable");
    summary["notes"] = json!(price_data_caveats(backtest));
    let names: Vec<String> = backtest.report.strategies.iter().map(|(name, _)| name.clone()).collect();
    for (name, residual) in names.iter().zip(&backtest.trace.largest_residual) {
        if let Some(residual) = residual {
            summary["strategies"][name]["decomposition"]["largest_period_residual"] = json!(residual);
        }
    }
    if let Some((index, versus)) = &backtest.index {
        summary["index"] = json!({
            "name": index.name,
            "path": index.path,
            "sha256": index.sha256,
            "kind": "price index (no dividends)",
            "log_return": index.log_value[index.log_value.len() - 1],
        });
        for (name, figures) in names.iter().zip(versus) {
            summary["strategies"][name]["vs_index"] = json!(figures);
        }
        summary["market"]["vs_index"] = json!(versus[versus.len() - 1]);
    }
    serde_json::to_string_pretty(&summary).expect("serialisable")
}

/// backtest.csv: per date, the market's log value, the index's when given, and each
/// strategy's L = log(V/V_market) with its generating, drift and cost terms to date.
pub fn backtest_csv(backtest: &Backtest) -> String {
    let mut out = String::from("date,market_log_value");
    if backtest.index.is_some() {
        out.push_str(",index_log_value");
    }
    for (name, _) in &backtest.report.strategies {
        let name = name.replace(['"', ',', '\n', '\r'], "_");
        for column in ["log_relative_value", "generating_term", "drift_term", "cost_term"] {
            let _ = write!(out, ",{name}.{column}");
        }
    }
    out.push('\n');
    let trace = &backtest.trace;
    for (row, date) in trace.dates.iter().enumerate() {
        let _ = write!(out, "{date},{:e}", trace.market_log_value[row]);
        if let Some((index, _)) = &backtest.index {
            let _ = write!(out, ",{:e}", index.log_value[row]);
        }
        for terms in &trace.terms {
            for value in terms[row] {
                let _ = write!(out, ",{value:e}");
            }
        }
        out.push('\n');
    }
    out
}
