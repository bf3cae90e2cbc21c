//! `sptlab backtest`: the scenario's strategies on the data's one path; the table
//! printed, and with --out the files of docs/real-data.md published as one set.

use anyhow::Context;

use sptlab::backtest::{BacktestError, BacktestOptions};
use sptlab::output::backtest::backtest_table;
use sptlab::output::backtest_plots::backtest_files;
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
