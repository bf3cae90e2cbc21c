//! Times the CPU backend once on the standard workload and prints asset-steps per second.
//! `cargo run --release --example throughput -- [paths]`

use std::time::Instant;

use sptlab::engine::cpu::{simulate_batch, KernelParams};
use sptlab::scenario::standard_workload;

fn main() {
    let paths = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(2000);
    let plan = standard_workload(paths).validate().expect("the standard workload is valid");
    let params = KernelParams::<f32>::new(&plan);
    let start = Instant::now();
    let batch = simulate_batch(&params, 0..plan.paths, plan.strategies.len(), &|_| {});
    let seconds = start.elapsed().as_secs_f64();
    let asset_steps = (plan.n() as u64 * plan.paths * plan.steps as u64) as f64;
    println!(
        "{paths} paths: {seconds:.3} s, {:.1} M asset-steps/s (first path log Z change {:.4})",
        asset_steps / seconds / 1e6,
        batch.log_total_cap_change[0]
    );
}
