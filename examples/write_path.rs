//! Writes one simulated path of a scenario as a long file (`date,id,cap,return`), the
//! round trip of the long reader: backtesting the file with the same scenario gives the
//! path's own relative log returns and decomposition terms (to rounding, in f64).
//!
//!     cargo run --release --example write_path -- SCENARIO.toml PATH FILE
//!     sptlab backtest FILE --scenario SCENARIO.toml
//!
//! PATH is the path's index in the run (0 to paths - 1); its numbers are its rows of
//! `sptlab run SCENARIO.toml --backend cpu --precision f64 --out DIR --per-path
//! --per-path-format csv` (DIR/paths.csv). The dates are spaced at the scenario's
//! steps_per_year, so the figures annualised by them agree to the rounding of a day;
//! L and its terms do not depend on it. The file also serves as `run --history`.

use std::io::{BufWriter, Write};

use anyhow::Context;
use sptlab::Scenario;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [scenario, path, file] = &args[..] else {
        anyhow::bail!("usage: write_path SCENARIO.toml PATH FILE");
    };
    let text = std::fs::read_to_string(scenario).with_context(|| format!("reading {scenario}"))?;
    let plan = Scenario::from_toml(&text)
        .and_then(|scenario| scenario.validate())
        .map_err(|error| anyhow::anyhow!("{scenario}: {error}"))?;
    let path: u64 = path.parse().with_context(|| format!("PATH: {path:?} is not a path index"))?;
    anyhow::ensure!(path < plan.paths, "PATH: {path} is past the scenario's {} paths", plan.paths);
    let mut out = BufWriter::new(std::fs::File::create(file).with_context(|| format!("creating {file}"))?);
    let batch = sptlab::backtest::write_path_file(&plan, path, &mut out).with_context(|| format!("writing {file}"))?;
    out.flush()?;
    println!(
        "wrote {file}: path {path} of {scenario}, {} stocks over {} dates (to {}); its market's log return {:.6}",
        plan.n(),
        plan.steps + 1,
        sptlab::backtest::step_date(plan.steps, plan.steps_per_year),
        batch.log_total_cap_change[0]
    );
    Ok(())
}
