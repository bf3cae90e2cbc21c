//! Sums over paths in one fixed order, whatever the batching or sharding of a run, so
//! that a merge of shards gives the unsharded run's numbers bit for bit.
//!
//! Paths are summed within blocks of [`BLOCK_PATHS`] consecutive global path indices,
//! each from zero in path order, and the block sums are then added in block order. A
//! shard whose range cuts a block keeps that block's per-path terms, so that the merge
//! can re-sum the whole block in path order from the parts of neighbouring shards.

use std::ops::Range;

use serde::{Deserialize, Serialize};

/// Paths per summation block.
pub const BLOCK_PATHS: u64 = 4096;

/// The sums of one block's paths that fall in a range.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlockSum {
    /// Block index: paths `block * BLOCK_PATHS ..`.
    pub block: u64,
    /// The first global path summed here and how many.
    pub first_path: u64,
    pub paths: u64,
    /// Component-wise sums of the per-path terms, from zero in path order.
    pub sums: Vec<f64>,
    /// The per-path terms themselves, kept only where the range cuts the block.
    pub terms: Option<Vec<Vec<f64>>>,
}

/// Per-path vectors of `width` terms summed over the paths `range` of a run of
/// `total_paths`, in the canonical order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OrderedSums {
    pub width: usize,
    pub total_paths: u64,
    pub blocks: Vec<BlockSum>,
}

impl OrderedSums {
    pub fn new(width: usize, total_paths: u64) -> OrderedSums {
        OrderedSums { width, total_paths, blocks: Vec::new() }
    }

    /// Adds the terms of global path `path`; paths must arrive in order, and only those
    /// of `range` (the paths this run or shard simulates).
    pub fn add(&mut self, path: u64, range: &Range<u64>, terms: &[f64]) {
        debug_assert_eq!(terms.len(), self.width);
        let block = path / BLOCK_PATHS;
        if self.blocks.last().is_none_or(|last| last.block != block) {
            let extent = block * BLOCK_PATHS..((block + 1) * BLOCK_PATHS).min(self.total_paths);
            let cut = extent.start < range.start || extent.end > range.end;
            self.blocks.push(BlockSum {
                block,
                first_path: path,
                paths: 0,
                sums: vec![0.0; self.width],
                terms: cut.then(Vec::new),
            });
        }
        let last = self.blocks.last_mut().expect("pushed above");
        for (sum, term) in last.sums.iter_mut().zip(terms) {
            *sum += term;
        }
        if let Some(kept) = last.terms.as_mut() {
            kept.push(terms.to_vec());
        }
        last.paths += 1;
    }

    /// The sum over every path: block sums added in block order.
    pub fn total(&self) -> Vec<f64> {
        let mut total = vec![0.0; self.width];
        for block in &self.blocks {
            for (sum, value) in total.iter_mut().zip(&block.sums) {
                *sum += value;
            }
        }
        total
    }

    /// Joins the sums of consecutive path ranges (in order) into those of their union:
    /// a block cut between parts is re-summed from its per-path terms in path order.
    pub fn join(parts: &[&OrderedSums]) -> Result<OrderedSums, String> {
        let first = parts.first().ok_or("nothing to join")?;
        let mut joined = OrderedSums::new(first.width, first.total_paths);
        for part in parts {
            if part.width != joined.width || part.total_paths != joined.total_paths {
                return Err("the parts are sums of different quantities".into());
            }
            for block in &part.blocks {
                joined.push_part(block)?;
            }
        }
        Ok(joined)
    }

    fn push_part(&mut self, part: &BlockSum) -> Result<(), String> {
        let continues = self.blocks.last().is_some_and(|last| last.block == part.block);
        if !continues {
            self.blocks.push(part.clone());
        } else {
            let last = self.blocks.last_mut().expect("checked above");
            let (Some(kept), Some(more)) = (last.terms.as_mut(), part.terms.as_ref()) else {
                return Err(format!("block {} is summed in two parts without its per-path terms", part.block));
            };
            if last.first_path + last.paths != part.first_path {
                return Err(format!("block {}: paths {} missing", part.block, last.first_path + last.paths));
            }
            kept.extend(more.iter().cloned());
            last.paths += part.paths;
            // From zero in path order, as an uncut run sums the block.
            last.sums = vec![0.0; self.width];
            for terms in kept.iter() {
                for (sum, term) in last.sums.iter_mut().zip(terms) {
                    *sum += term;
                }
            }
        }
        let last = self.blocks.last_mut().expect("pushed above");
        let extent = last.block * BLOCK_PATHS..((last.block + 1) * BLOCK_PATHS).min(self.total_paths);
        if last.first_path == extent.start && last.first_path + last.paths == extent.end {
            last.terms = None;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Terms whose sums depend on the order of addition.
    fn terms(path: u64) -> Vec<f64> {
        let x = (path as f64 * 0.618_033_988_749_895).fract();
        vec![x * 1e-3, 1.0 / (1.0 + path as f64), (x - 0.5) * 1e8]
    }

    fn sums_of(range: Range<u64>, total: u64) -> OrderedSums {
        let mut sums = OrderedSums::new(3, total);
        for path in range.clone() {
            sums.add(path, &range, &terms(path));
        }
        sums
    }

    #[test]
    fn joined_shards_equal_the_whole_run_bit_for_bit() {
        let total = 3 * BLOCK_PATHS + 123;
        let whole = sums_of(0..total, total);
        assert!(whole.blocks.iter().all(|b| b.terms.is_none()), "an uncut run keeps no per-path terms");
        for shards in [2u64, 3, 7, 5000] {
            let cuts: Vec<u64> = (0..=shards).map(|i| i * total / shards).collect();
            let parts: Vec<OrderedSums> = cuts.windows(2).map(|w| sums_of(w[0]..w[1], total)).collect();
            let joined = OrderedSums::join(&parts.iter().collect::<Vec<_>>()).unwrap();
            assert_eq!(joined.total(), whole.total(), "{shards} shards");
            assert_eq!(joined, whole, "{shards} shards");
        }
    }

    #[test]
    fn a_sequential_sum_differs_so_the_test_above_can_fail() {
        // The same terms summed straight through, not block by block, round differently:
        // the block order is a real contract, not an accident of these inputs.
        let total = 3 * BLOCK_PATHS + 123;
        let mut straight = vec![0.0; 3];
        for path in 0..total {
            for (sum, term) in straight.iter_mut().zip(terms(path)) {
                *sum += term;
            }
        }
        assert_ne!(straight, sums_of(0..total, total).total());
    }

    #[test]
    fn a_missing_part_of_a_cut_block_is_an_error() {
        let total = 2 * BLOCK_PATHS;
        let first = sums_of(0..100, total);
        let third = sums_of(200..total, total);
        let error = OrderedSums::join(&[&first, &third]).unwrap_err();
        assert!(error.contains("missing"), "{error}");
    }
}
