//! What `sptlab backtest` prints and writes for a long file (docs/open-markets.md): the
//! table with the decomposition's six terms, summary.json, and backtest.csv (at sampled
//! dates, the benchmark's log value and each strategy's L to date).

use std::fmt::Write as _;

use serde_json::{json, Value};

use crate::backtest::{LongBacktest, OpenBenchmarkRule};
use crate::output::table;

/// What a long file cannot show, or what the replay assumed, said wherever results are shown.
pub fn long_data_caveats(backtest: &LongBacktest) -> Vec<String> {
    let data = &backtest.data;
    let caveats = &data.caveats;
    let mut notes =
        vec!["the benchmark is a model of an index: the largest stocks by cap, or every listed stock, without float \
         adjustment or a committee's eligibility rules"
            .to_string()];
    if caveats.missing_delisting_returns > 0 {
        notes.push(format!(
            "{} delistings had no delisting return; they were given {}",
            caveats.missing_delisting_returns,
            data.missing_delisting_return
                .map_or("0 (--missing-delisting-return sets another)".to_string(), |r| { table::percent(r, 1, true) })
        ));
    }
    if caveats.missing_dates > 0 {
        notes.push(format!(
            "{} stock-dates were missing inside a stock's life: cap and price carried, return 0",
            caveats.missing_dates
        ));
    }
    if caveats.cap_ratio_growth > 0 {
        notes.push(format!(
            "{} rows had neither a return nor a price: their growth is the cap ratio (share issues count as returns \
             there)",
            caveats.cap_ratio_growth
        ));
    }
    if caveats.missing_caps > 0 || data.missing.caps > 0 {
        notes.push(format!("{} rows had no cap (no price, or a price of 0): the last carried", data.missing.caps));
    }
    let coded = data.missing.coded_returns + data.missing.coded_delisting_returns;
    if coded > 0 {
        notes.push(format!(
            "{} returns were letter codes (CRSP's missing values; a stock's first row usually has one, and the \
             first row's return is not used): {} returns, {} delisting returns",
            coded, data.missing.coded_returns, data.missing.coded_delisting_returns
        ));
    }
    notes
}

/// The benchmark's rule in words.
fn rule_words(rule: OpenBenchmarkRule) -> String {
    match rule {
        OpenBenchmarkRule::Market { every } => {
            format!(
                "every listed stock (re-formed every {every} dates; a listing joins then, a delisting leaves at once)"
            )
        }
        OpenBenchmarkRule::Index { k, every, buffer } => format!(
            "the largest {k} listed stocks (re-chosen every {every} dates with a buffer of {buffer}; a delisted member \
             replaced at once by the largest other)"
        ),
    }
}

/// The table `sptlab backtest` prints for a long file.
pub fn long_backtest_table(backtest: &LongBacktest) -> String {
    let data = &backtest.data;
    let years = backtest.years();
    let benchmark = &backtest.benchmark;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "backtest: {}, {} to {}: {} steps ({years:.2} years, {:.1} dates a year); {} ids, at most {} listed at once \
         ({} on the first date, {} on the last)",
        data.path.display(),
        data.from,
        data.to,
        backtest.steps,
        backtest.periods_per_year,
        data.ids,
        data.most_listed,
        data.listed_first,
        data.listed_last,
    );
    let _ = writeln!(
        out,
        "benchmark: {}, cap weighted, total return: log return {} (growth {}/yr; in caps alone {}), volatility {}/yr, \
         turnover {}/yr, members changed {} times",
        rule_words(benchmark.rule),
        table::number(benchmark.log_return, 4),
        table::percent(benchmark.log_return / years, 2, true),
        table::number(benchmark.cap_log_return, 4),
        table::percent(benchmark.volatility, 2, false),
        table::percent(benchmark.turnover, 1, false),
        benchmark.member_changes,
    );
    let _ = writeln!(
        out,
        "\n{:<16} {:>14} {:>9} {:>9} {:>7} {:>8} {:>8} {:>8} {:>8} {:>8} {:>10} {:>8} {:>8} {:>8} {:>8}",
        "strategy",
        "rel. growth/yr",
        "excess",
        "track.err",
        "IR",
        "vol/yr",
        "max RDD",
        "turn/yr",
        "screen",
        "generat.",
        "drift",
        "leakage",
        "cost",
        "tot.ret",
        "L"
    );
    for (s, strategy) in backtest.strategies.iter().enumerate() {
        let stats = &backtest.statistics[s];
        let generated = strategy.weighting.is_functionally_generated();
        let term = |value: f64, shown: bool| if shown { table::number(value, 4) } else { "-".to_string() };
        let _ = writeln!(
            out,
            "{:<16} {:>14} {:>9} {:>9} {:>7} {:>8} {:>8} {:>8} {:>8} {:>8} {:>10} {:>8} {:>8} {:>8} {:>8}",
            strategy.name,
            table::percent(stats.relative_log_return / years, 3, true),
            table::percent(stats.excess_return, 2, false),
            table::percent(stats.tracking_error, 2, false),
            table::number(stats.information_ratio, 3),
            table::percent(stats.volatility, 2, false),
            table::percent(stats.max_relative_drawdown, 2, false),
            table::percent(stats.turnover, 1, false),
            term(stats.screen_term, true),
            term(stats.generating_term, generated),
            term(stats.drift_term, true),
            term(stats.leakage_term, generated),
            term(stats.cost_term, true),
            term(backtest.total_return_term[s], true),
            term(stats.relative_log_return, true),
        );
    }
    let residual = (0..backtest.strategies.len()).map(|s| backtest.residual(s).abs()).fold(0.0, f64::max);
    let _ = writeln!(
        out,
        "\none path, no intervals. rel. growth: log(V/V_benchmark)/T, total returns; excess, track.err, IR: \
         annualised active returns against the benchmark;\nL = screen + generating + drift + leakage + cost + tot.ret \
         (log units, docs/open-markets.md), every term but tot.ret in caps; it holds here to {residual:.1e}.\n\
         Top-k and capped have no generating function: their drift column is their whole cap-unit return against \
         the allowed stocks."
    );
    for note in long_data_caveats(backtest) {
        let _ = writeln!(out, "note: {note}.");
    }
    out
}

/// summary.json of a long backtest.
pub fn long_backtest_summary_json(backtest: &LongBacktest) -> String {
    let data = &backtest.data;
    let benchmark = &backtest.benchmark;
    let rule = match benchmark.rule {
        OpenBenchmarkRule::Market { every } => json!({ "kind": "market", "reconstitute_every": every }),
        OpenBenchmarkRule::Index { k, every, buffer } => {
            json!({ "kind": "index", "index": k, "reconstitute_every": every, "buffer": buffer })
        }
    };
    let mut strategies = serde_json::Map::new();
    for (s, strategy) in backtest.strategies.iter().enumerate() {
        let stats = &backtest.statistics[s];
        let generated = strategy.weighting.is_functionally_generated();
        let entry = json!({
                "relative_log_return": stats.relative_log_return,
                "relative_growth_rate": stats.relative_log_return / backtest.years(),
                "log_return": stats.log_return,
                "excess_return": stats.excess_return,
                "tracking_error": stats.tracking_error,
                "information_ratio": stats.information_ratio,
                "volatility": stats.volatility,
                "volatility_difference": stats.volatility_difference,
                "beta": stats.beta,
                "size_tilt": stats.size_tilt,
                "max_relative_drawdown": stats.max_relative_drawdown,
                "turnover": stats.turnover,
                "screen_term": stats.screen_term,
                "generating_term": generated.then_some(stats.generating_term),
                "drift_term": stats.drift_term,
                "leakage_term": generated.then_some(stats.leakage_term),
                "cost_term": stats.cost_term,
                "total_return_term": backtest.total_return_term[s],
                "residual": backtest.residual(s),
        });
        strategies.insert(strategy.name.clone(), entry);
    }
    let summary = json!({
        "data": {
            "path": data.path.display().to_string(),
            "sha256": data.sha256,
            "format": "long",
            "from": data.from,
            "to": data.to,
            "dates": data.dates,
            "ids": data.ids,
            "most_listed": data.most_listed,
            "listed_first": data.listed_first,
            "listed_last": data.listed_last,
            "periods_per_year": backtest.periods_per_year,
            "missing_dates": data.caveats.missing_dates,
            "missing_delisting_returns": data.caveats.missing_delisting_returns,
            "missing_delisting_return_default": data.missing_delisting_return,
            "cap_ratio_growth": data.caveats.cap_ratio_growth,
            "missing_caps": data.missing.caps,
            "coded_returns": data.missing.coded_returns,
            "coded_delisting_returns": data.missing.coded_delisting_returns,
        },
        "steps": backtest.steps,
        "years": backtest.years(),
        "benchmark": {
            "rule": rule,
            "log_return": benchmark.log_return,
            "cap_log_return": benchmark.cap_log_return,
            "volatility": benchmark.volatility,
            "turnover": benchmark.turnover,
            "member_changes": benchmark.member_changes,
            "members_first": benchmark.members_first,
            "members_last": benchmark.members_last,
        },
        "strategies": Value::Object(strategies),
        "caveats": long_data_caveats(backtest),
        "seconds": backtest.seconds,
    });
    serde_json::to_string_pretty(&summary).expect("the summary holds only serialisable values") + "\n"
}

/// backtest.csv of a long backtest: `date,benchmark,<strategy>...`, the benchmark's log
/// value and each strategy's L to date, at the trace's dates.
pub fn long_backtest_csv(backtest: &LongBacktest) -> String {
    let trace = &backtest.trace;
    let mut out = String::from("date,benchmark");
    for strategy in &backtest.strategies {
        let _ = write!(out, ",{}", strategy.name);
    }
    out.push('\n');
    for (k, date) in trace.dates.iter().enumerate() {
        let _ = write!(out, "{date},{}", trace.benchmark_log_value[k]);
        for relative in &trace.relative {
            let _ = write!(out, ",{}", relative[k]);
        }
        out.push('\n');
    }
    out
}

/// The files `backtest --out` writes for a long file.
pub fn long_backtest_files(backtest: &LongBacktest) -> Vec<(String, Vec<u8>)> {
    vec![
        ("summary.json".to_string(), long_backtest_summary_json(backtest).into_bytes()),
        ("backtest.csv".to_string(), long_backtest_csv(backtest).into_bytes()),
    ]
}
