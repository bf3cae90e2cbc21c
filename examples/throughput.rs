//! Times the CPU backend once on a workload (for profiling: no warm-up, no reference run):
//! `cargo run --release --example throughput -- [paths] [threads] [standard|large|rank-N] [f32|f64]`.

use std::time::Instant;

use sptlab::bench::Workload;
use sptlab::engine::{CpuBackend, Precision};

fn main() {
    let mut args = std::env::args().skip(1);
    let paths = args.next().and_then(|a| a.parse().ok()).unwrap_or(2000);
    let threads = args.next().and_then(|a| a.parse().ok());
    let workload = match args.next().as_deref() {
        Some("large") => Workload::Large,
        Some(name) if name.starts_with("rank-") => {
            Workload::Rank(name["rank-".len()..].parse().expect("rank-N with N a number of stocks"))
        }
        _ => Workload::Standard,
    };
    let precision = if args.next().as_deref() == Some("f64") { Precision::F64 } else { Precision::F32 };
    let plan = workload.scenario(paths).validate().expect("the benchmark workloads are valid");
    let started = Instant::now();
    sptlab::simulate(&plan, &mut CpuBackend::new(precision, threads), &|_| {}).expect("the CPU backend runs");
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{}, {paths} paths, {}: {seconds:.3} s, {:.1} M asset-steps/s",
        workload.name(),
        precision.name(),
        plan.n() as f64 * paths as f64 * plan.steps as f64 / seconds / 1e6
    );
}
