//! The same seed gives the same paths whatever the thread count and batch size.

use sptlab::engine::{CpuBackend, Precision};

use crate::common::{plan, simulate, MIXED};

#[test]
fn cpu_results_are_bit_identical_across_threads_and_batches() {
    let text = MIXED.replace("paths = 48", "paths = 43").replace("years = 10.0", "years = 1.0");
    let plan = plan(&text);
    // Antithetic pairs too (44 paths: the pairs are whole, batches and blocks may split
    // them, which changes nothing: a path's normals depend on its index alone).
    let paired = crate::common::plan(&text.replace("paths = 43", "paths = 44\nantithetic = true"));
    for (plan, paths) in [(&plan, 43), (&paired, 44)] {
        for precision in [Precision::F32, Precision::F64] {
            let reference = simulate(plan, &mut CpuBackend::new(precision, Some(1)).with_batch_paths(paths));
            for (threads, batch) in [(2, paths), (7, paths), (2, 5), (7, 16), (1, 1)] {
                let results = simulate(plan, &mut CpuBackend::new(precision, Some(threads)).with_batch_paths(batch));
                assert_eq!(results.market_log_return, reference.market_log_return, "{threads} threads, batch {batch}");
                assert_eq!(results.market_control, reference.market_control, "{threads} threads, batch {batch}");
                // Every statistic, the controls included (PathStatistics compares them all).
                assert_eq!(results.per_path, reference.per_path, "{threads} threads, batch {batch}");
            }
        }
    }
}

#[test]
fn a_different_seed_gives_different_paths() {
    let text = MIXED.replace("years = 10.0", "years = 0.5");
    let first = simulate(&plan(&text), &mut CpuBackend::new(Precision::F64, None));
    let second = simulate(&plan(&text.replace("seed = 11", "seed = 12")), &mut CpuBackend::new(Precision::F64, None));
    assert_ne!(first.market_log_return, second.market_log_return);
}
