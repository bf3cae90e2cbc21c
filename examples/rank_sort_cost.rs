//! How much work ranking costs per step in a rank-based market: the shifts the
//! insertion sort of `market::rank` makes when it repairs the last step's order,
//! against the n (n - 1) / 2 comparisons of ranking from scratch by counting.
//!
//!     cargo run --release --example rank_sort_cost
//!
//! Simulates one Atlas path (vol 0.2, g = 0.02, daily steps, zipf 1 start: the
//! rank workloads of `sptlab bench`) with the library's own sort.

use std::cell::Cell;

use sptlab::market::rank::sort_by_rank;
use sptlab::rng::normals4;

fn main() {
    for n in [100usize, 1000] {
        let (g, sigma, dt) = (0.02, 0.2, 1.0 / 252.0);
        let mut log_caps: Vec<f64> = (1..=n).map(|k| -(k as f64).ln()).collect();
        let mut order: Vec<u32> = (0..n as u32).collect();
        let steps = 2520u32;
        let comparisons = Cell::new(0u64);
        let mut most = 0u64;
        for step in 0..steps {
            let before = comparisons.get();
            sort_by_rank(&mut order, |stock| {
                comparisons.set(comparisons.get() + 1);
                log_caps[stock]
            });
            most = most.max(comparisons.get() - before);
            for (rank, &stock) in order.iter().enumerate() {
                let z = normals4(1, 0, step, stock as u32 / 4)[stock as usize % 4];
                let growth = if rank + 1 < n { -g } else { (n - 1) as f64 * g };
                log_caps[stock as usize] += growth * dt + sigma * dt.sqrt() * z;
            }
        }
        // Each cap read is one comparison; a sort of an already sorted order reads 2 (n - 1).
        let per_step = comparisons.get() as f64 / steps as f64;
        println!(
            "n = {n}: {per_step:.0} cap reads per step on average ({:.2} per stock, most {most}); \
             counting ranks from scratch: {} comparisons",
            per_step / n as f64,
            n * (n - 1) / 2
        );
    }
}
