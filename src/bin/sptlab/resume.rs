//! `run --resume DIR`: the killed run whose --out was DIR, continued from its checkpoint
//! with its scenario, backend, precision and output options (options given now add to
//! the output options; --threads, --batch-paths and --checkpoint-every may differ).

use std::path::Path;

use sptlab::capacity::memory_problems;
use sptlab::output::checkpoint;
use sptlab::output::out_dir::{Existing, OutDir};

use sptlab::engine::choice::BackendRequest;

use crate::config::{Outputs, RunConfig, RunMode};
use crate::failure::{note, Failure};

pub fn resume(out: &Path, config: &RunConfig) -> Result<(), Failure> {
    // Locked first: a second resume, or a run into the same folder, waits its turn.
    let out_dir = OutDir::open(out, Existing::Resume)?;
    let resumed = checkpoint::resume(out).map_err(|error| Failure::BadInput(error.to_string()))?;
    let options = resumed.options.clone();
    if options.shard.is_some() && (config.outputs.png || config.outputs.per_path.is_some()) {
        return Err(Failure::BadInput(format!(
            "--png and --per-path go with `sptlab merge`: {} holds the checkpoint of a shard",
            out.display()
        )));
    }
    // Options given now win; otherwise the killed run's.
    let config = RunConfig {
        mode: RunMode::Resume(out.to_path_buf()),
        backend: BackendRequest::Only(resumed.backend),
        precision: resumed.precision,
        out: Some(out.to_path_buf()),
        outputs: Outputs {
            per_path: config.outputs.per_path.or(options.per_path),
            png: config.outputs.png || options.png,
            force: false,
        },
        ..*config
    };
    let range = resumed.results.path_range.clone();
    let problems =
        memory_problems(config.batch_paths, &out.display().to_string(), &resumed.plan, range.end - range.start);
    if !problems.is_empty() {
        return Err(Failure::bad_input(&problems));
    }
    if !config.quiet {
        note!("resuming {}: {} of {} paths were done", out.display(), resumed.results.paths(), range.end - range.start);
    }
    let plan = resumed.plan.clone();
    crate::run::execute(
        &config,
        plan,
        &out.display().to_string(),
        options.shard,
        crate::run::Start::Resumed(Box::new((resumed, out_dir))),
    )
}
