//! From per-path accumulators to the numbers sptlab prints: per-path statistics and
//! market diagnostics (`results`), the report across paths (`report`), paired comparisons (`compare`), the summary
//! arithmetic (`stats`), sums in a fixed order (`ordered_sums`).

pub mod compare;
pub mod history;
pub mod ordered_sums;
pub mod report;
pub mod results;
pub mod stats;
