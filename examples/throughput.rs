//! Times the CPU backend once on the standard workload: `cargo run --release --example throughput -- [paths] [threads]`.

use sptlab::engine::{CpuBackend, Precision};

fn main() {
    let mut args = std::env::args().skip(1);
    let paths = args.next().and_then(|a| a.parse().ok()).unwrap_or(2000);
    let threads = args.next().and_then(|a| a.parse().ok());
    let measured = sptlab::bench::measure_backend(&mut CpuBackend::new(Precision::F32, threads), paths)
        .expect("the CPU backend runs");
    println!("{paths} paths: {:.3} s, {:.1} M asset-steps/s", measured.seconds, measured.asset_steps_per_second / 1e6);
}
