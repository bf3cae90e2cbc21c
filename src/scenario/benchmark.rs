//! The `[benchmark]` table: an index of the largest K stocks by cap (an open market's
//! benchmark, docs/open-markets.md) instead of the whole market, as written and as
//! checked into the `IndexRule` the engine applies.

use serde::{Deserialize, Serialize};

use crate::problems::{invalid, Problems};

/// Steps between reconstitutions when the scenario does not say (a quarter of daily steps).
pub const DEFAULT_RECONSTITUTE_EVERY: u32 = 63;

/// `[benchmark]` as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BenchmarkSpec {
    /// K: the index holds the K largest stocks by cap, cap weighted (1 <= K <= n).
    pub index: Option<usize>,
    /// Steps between reconstitutions.
    #[serde(default = "default_reconstitute_every")]
    pub reconstitute_every: u32,
    /// Members stay while ranked within K + buffer.
    #[serde(default)]
    pub buffer: usize,
}

fn default_reconstitute_every() -> u32 {
    DEFAULT_RECONSTITUTE_EVERY
}

/// The index rule the engine applies: membership at step 0 and at every multiple of
/// `every` before the last step (`numeric::ranking::choose_members`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexRule {
    pub k: usize,
    pub every: u32,
    pub buffer: usize,
}

impl BenchmarkSpec {
    /// The rule for a market of `n` stocks, every problem reported into `problems`.
    pub(crate) fn rule(&self, n: usize, problems: &mut Problems) -> Option<IndexRule> {
        let Some(k) = self.index else {
            problems.push(invalid(
                "benchmark.index",
                "is required: the number of largest stocks the index holds (a benchmark of every stock \
                 is the market, the default without [benchmark])",
            ));
            return None;
        };
        let mut fine = true;
        if !(1..=n).contains(&k) {
            problems.push(invalid("benchmark.index", format!("must be 1 to the market's {n} stocks, got {k}")));
            fine = false;
        }
        if self.reconstitute_every == 0 {
            problems.push(invalid("benchmark.reconstitute_every", "must be at least 1 step"));
            fine = false;
        }
        if k <= n && self.buffer > n - k {
            problems.push(invalid(
                "benchmark.buffer",
                format!(
                    "must be at most n - index = {} (members stay while ranked within index + buffer), got {}",
                    n - k,
                    self.buffer
                ),
            ));
            fine = false;
        }
        fine.then_some(IndexRule { k, every: self.reconstitute_every, buffer: self.buffer })
    }
}
