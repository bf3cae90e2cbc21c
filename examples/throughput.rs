//! Times the CPU backend once on a workload:
//! `cargo run --release --example throughput -- [paths] [threads] [standard|rank-N]`.

use sptlab::bench::Workload;
use sptlab::engine::{CpuBackend, Precision};

fn main() {
    let mut args = std::env::args().skip(1);
    let paths = args.next().and_then(|a| a.parse().ok()).unwrap_or(2000);
    let threads = args.next().and_then(|a| a.parse().ok());
    let workload = match args.next().as_deref().and_then(|name| name.strip_prefix("rank-")) {
        Some(n) => Workload::Rank(n.parse().expect("rank-N with N a number of stocks")),
        None => Workload::Standard,
    };
    let size = sptlab::bench::RunSize { paths, years: None };
    let measured = sptlab::bench::measure_backend(&mut CpuBackend::new(Precision::F32, threads), workload, size, 1)
        .expect("the CPU backend runs");
    println!(
        "{}, {paths} paths: {:.3} s, {:.1} M asset-steps/s",
        workload.name(),
        measured.seconds,
        measured.asset_steps_per_second / 1e6
    );
}
