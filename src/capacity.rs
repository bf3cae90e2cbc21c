//! Whether a run fits this machine's memory, checked before anything is allocated
//! (by the command line and the Python package alike).

use crate::engine::BatchAccumulators;
use crate::scenario::Plan;
use crate::summary::results::Results;

const GIB: f64 = (1u64 << 30) as f64;

/// This machine's memory in bytes (Linux: MemTotal), when known.
fn physical_memory() -> Option<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = meminfo.lines().find(|line| line.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Whether `paths` paths of `plan` fit in this machine's memory: their per-path
/// statistics, and one batch of `batch_paths` paths (`--batch-paths`), whose
/// accumulators hold every stock's terminal log cap for every path (a large batch of a
/// large market is refused before it is allocated). `source` names the scenario in
/// messages.
pub fn memory_problems(batch_paths: Option<u64>, source: &str, plan: &Plan, paths: u64) -> Vec<String> {
    let Some(memory) = physical_memory() else {
        return Vec::new();
    };
    let mut problems = Vec::new();
    let needed = Results::bytes_needed(plan, paths);
    if needed > memory {
        problems.push(format!(
            "{source}: paths: {paths} paths x {} strategies keep {:.1} GiB of per-path statistics, more than this \
             machine's {:.1} GiB of memory; split the run with --shard I/N (a shard holds only its paths)",
            plan.strategies.len(),
            needed as f64 / GIB,
            memory as f64 / GIB
        ));
    }
    if let Some(batch) = batch_paths {
        let batch = batch.min(paths.max(1));
        let per_path = BatchAccumulators::bytes_needed(1, plan.n(), plan.strategies.len());
        let needed = BatchAccumulators::bytes_needed(batch, plan.n(), plan.strategies.len());
        if needed > memory / 2 {
            problems.push(format!(
                "--batch-paths {batch}: a batch of {batch} paths of {} stocks needs {:.1} GiB, more than half of \
                 this machine's {:.1} GiB of memory; at most {} paths per batch here",
                plan.n(),
                needed as f64 / GIB,
                memory as f64 / GIB,
                memory / 2 / per_path
            ));
        }
    }
    problems
}
