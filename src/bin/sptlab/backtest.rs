//! `sptlab backtest`: the scenario's strategies on the data's one path; the table
//! printed, and with --out the files of docs/real-data.md published as one set.

use anyhow::Context;

use std::io::IsTerminal;

use sptlab::backtest::{BacktestError, BacktestOptions, LongBacktestOptions};
use sptlab::output::backtest::backtest_table;
use sptlab::output::backtest_plots::backtest_files;
use sptlab::output::long_backtest::{long_backtest_files, long_backtest_table};
use sptlab::output::out_dir::{not_a_folder, Existing, OutDir};

use crate::args::BacktestArgs;
use sptlab::scenario::scenario_problems;

use crate::config::scenario_source;
use crate::failure::{out, outln, Failure};

pub fn backtest(args: BacktestArgs) -> Result<(), Failure> {
    let scenario_source = scenario_source(&args.scenario);
    let source = scenario_source.name();
    let mut problems = Vec::new();
    problems.extend(args.out.as_deref().and_then(|out| not_a_folder(out, "--out")));
    let scenario = match scenario_source.load() {
        Ok(scenario) => Some(scenario),
        Err(found) => {
            problems.extend(found);
            None
        }
    };
    let Some(scenario) = scenario.filter(|_| problems.is_empty()) else {
        return Err(Failure::bad_input(&problems));
    };
    if sptlab::data::long::is_long_file(&args.data).unwrap_or(false) {
        return long_backtest(&args, &scenario, &source);
    }
    if args.missing_delisting_return.is_some() {
        return Err(Failure::BadInput(format!(
            "--missing-delisting-return: {} is a wide table (Date,TICKER,...), which has no delistings; the option \
             takes a long file",
            args.data.display()
        )));
    }
    let options = BacktestOptions {
        data: args.data.clone(),
        caps: args.caps,
        from: args.from.clone(),
        to: args.to.clone(),
        benchmark: args.benchmark.clone(),
    };
    let backtest = sptlab::backtest::backtest(&scenario, &options).map_err(|error| match error {
        BacktestError::Scenario(error) => Failure::bad_input(&scenario_problems(&source, &error)),
        BacktestError::Data(error) => Failure::BadInput(error.to_string()),
    })?;
    if let Some(out) = &args.out {
        let existing = if args.force { Existing::Replace } else { Existing::Refuse };
        let mut out_dir = OutDir::open(out, existing)?;
        let files = backtest_files(&backtest, args.png)
            .map_err(|reason| anyhow::anyhow!("drawing the figures for {}: {reason}", out.display()))?;
        out_dir.publish(files, &["summary.json"]).with_context(|| format!("writing results to {}", out.display()))?;
    }
    if !args.quiet {
        out!("{}", backtest_table(&backtest));
        if let Some(out) = &args.out {
            outln!("wrote {}", out.join("summary.json").display());
        }
    }
    Ok(())
}

/// `sptlab backtest` on a long file: the open universe's replay, its table and files.
fn long_backtest(args: &BacktestArgs, scenario: &sptlab::Scenario, source: &str) -> Result<(), Failure> {
    let mut refused = Vec::new();
    if args.caps {
        refused.push("--caps: a long file gives its caps (cap, or price and shares); remove --caps".to_string());
    }
    if args.benchmark.is_some() {
        refused.push(
            "--benchmark: a price index beside a long file is not supported; its benchmark is [benchmark] of the \
             scenario"
                .to_string(),
        );
    }
    if args.png {
        refused.push("--png: a long file's backtest writes no figures yet".to_string());
    }
    if !refused.is_empty() {
        return Err(Failure::bad_input(&refused));
    }
    let options = LongBacktestOptions {
        data: args.data.clone(),
        from: args.from.clone(),
        to: args.to.clone(),
        missing_delisting_return: args.missing_delisting_return,
        last_years: None,
    };
    let bar = (!args.quiet && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} {msg} {elapsed}").expect("the template is valid"),
        );
        bar
    });
    let mut progress = |pass: u8, dates: usize, total: Option<usize>| {
        if let Some(bar) = &bar {
            bar.set_message(match total {
                None => format!("first pass: {dates} dates read"),
                Some(total) => format!("replay: {dates}/{total} dates"),
            });
            bar.tick();
        }
        let _ = pass;
    };
    let result = sptlab::backtest::long_backtest(scenario, &options, &mut progress);
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let backtest = result.map_err(|error| match error {
        BacktestError::Scenario(error) => Failure::bad_input(&scenario_problems(source, &error)),
        BacktestError::Data(error) => Failure::BadInput(error.to_string()),
    })?;
    if let Some(out) = &args.out {
        let existing = if args.force { Existing::Replace } else { Existing::Refuse };
        let mut out_dir = OutDir::open(out, existing)?;
        out_dir
            .publish(long_backtest_files(&backtest), &["summary.json"])
            .with_context(|| format!("writing results to {}", out.display()))?;
    }
    if !args.quiet {
        out!("{}", long_backtest_table(&backtest));
        if let Some(out) = &args.out {
            outln!("wrote {}", out.join("summary.json").display());
        }
    }
    Ok(())
}
