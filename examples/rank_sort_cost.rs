//! How much work ranking costs per step in a rank-based market: the comparisons the
//! insertion sort of `market::rank` makes when it repairs the last step's order,
//! against the n (n - 1) / 2 comparisons of ranking from scratch by counting.
//!
//!     cargo run --release --example rank_sort_cost
//!
//! Simulates one Atlas path (vol 0.2, g = 0.02, daily steps, zipf 1 start: the
//! rank workloads of `sptlab bench`) with the library's own sort.

use std::cell::Cell;
use std::cmp::Ordering;

use sptlab::numeric::philox::normals4;
use sptlab::numeric::ranking::sort_by_rank;

thread_local! {
    static COMPARISONS: Cell<u64> = const { Cell::new(0) };
}

/// A log cap that counts how often the sort compares it.
#[derive(Clone, Copy, PartialEq)]
struct Counted(f64);

impl PartialOrd for Counted {
    fn partial_cmp(&self, other: &Counted) -> Option<Ordering> {
        COMPARISONS.with(|count| count.set(count.get() + 1));
        self.0.partial_cmp(&other.0)
    }
}

fn main() {
    for n in [100usize, 1000] {
        let (g, sigma, dt) = (0.02, 0.2, 1.0 / 252.0);
        let mut log_caps: Vec<f64> = (1..=n).map(|k| -(k as f64).ln()).collect();
        let mut order: Vec<u32> = (0..n as u32).collect();
        let steps = 2520u32;
        COMPARISONS.with(|count| count.set(0));
        let mut most = 0u64;
        for step in 0..steps {
            let before = COMPARISONS.with(Cell::get);
            sort_by_rank(&mut order, |stock| Counted(log_caps[stock]));
            most = most.max(COMPARISONS.with(Cell::get) - before);
            for (rank, &stock) in order.iter().enumerate() {
                let z = normals4(1, 0, step, stock / 4)[stock as usize % 4];
                let growth = if rank + 1 < n { -g } else { (n - 1) as f64 * g };
                log_caps[stock as usize] += growth * dt + sigma * dt.sqrt() * z;
            }
        }
        // An already sorted order costs n - 1 comparisons (one `>` per neighbour pair,
        // plus an `==` only on ties); each shift costs one more.
        let per_step = COMPARISONS.with(Cell::get) as f64 / steps as f64;
        println!(
            "n = {n}: {per_step:.0} comparisons per step on average ({:.2} per stock, most {most}); \
             counting ranks from scratch: {}",
            per_step / n as f64,
            n * (n - 1) / 2
        );
    }
}
