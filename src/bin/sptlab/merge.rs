//! `sptlab merge`: the shards of a run checked against each other and joined into the
//! whole run's results, then written as `run --out` writes them.

use sptlab::output::out_dir::{not_a_folder, Existing, OutDir};
use sptlab::output::table;

use crate::args::MergeArgs;
use crate::failure::{out, outln, Failure};

pub fn merge(args: MergeArgs) -> Result<(), Failure> {
    // Every unreadable shard directory is reported, not just the first.
    let (shards, problems): (Vec<_>, Vec<_>) =
        args.shards.iter().map(|directory| sptlab::output::shard::read_shard(directory)).partition(Result::is_ok);
    let mut problems: Vec<String> = problems.into_iter().filter_map(Result::err).map(|e| e.to_string()).collect();
    problems.extend(not_a_folder(&args.out, "--out"));
    if !problems.is_empty() {
        return Err(Failure::bad_input(&problems));
    }
    let shards: Vec<_> = shards.into_iter().filter_map(Result::ok).collect();
    log::info!("merging {} shard directories", shards.len());
    let (plan, results, run) =
        sptlab::output::shard::merge(shards).map_err(|error| Failure::BadInput(error.to_string()))?;
    let report = sptlab::Report::new(&plan, &results, run);
    let existing = if args.output.force { Existing::Replace } else { Existing::Refuse };
    let mut out_dir = OutDir::open(&args.out, existing)?;
    crate::run::write_results(&mut out_dir, (&plan, &report, &results), args.output.per_path(), args.output.png)?;
    if !args.quiet {
        out!("{}", table::table(&report));
        outln!("wrote {}", args.out.join("summary.json").display());
    }
    Ok(())
}
