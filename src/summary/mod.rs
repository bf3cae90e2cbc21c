//! From per-path accumulators to the numbers sptlab prints: per-path statistics and
//! market diagnostics (`results`), paired comparisons (`compare`), the summary
//! arithmetic (`stats`), sums in a fixed order (`ordered_sums`).

pub mod compare;
pub mod ordered_sums;
pub mod results;
pub mod stats;
