//! Each strategy's path through time on a coarse grid (about monthly), in memory that
//! does not grow with the number of paths: at every grid point, a histogram of the
//! relative log return L(t) = log(V_pi / V_mu) over paths (for the fan chart's
//! quantiles) and sums over paths of L and of the decomposition's generating, drift,
//! cost, leakage and screen terms so far (for their means over time).
//!
//! Histogram counts and sums are integers (the sums in units of 2^-40), so grids of
//! batches, blocks or shards add up exactly in any order: a merge gives the unsharded
//! run's grid bit for bit.

use serde::{Deserialize, Serialize};

/// Most grid points of a run; longer runs space them wider.
pub const MAX_POINTS: u32 = 240;
/// The histogram covers L in [-L_RANGE, L_RANGE] (relative wealth between e^-3 and
/// e^3) in `BINS` bins of 0.003, with one more bin at each end for what falls outside.
pub const L_RANGE: f64 = 3.0;
pub const BINS: usize = 2000;
/// Quantities summed per point: L, generating term, drift term, cost term, leakage
/// term, screen term (docs/open-markets.md).
pub const QUANTITIES: usize = 6;
/// The first four, all a closed market has: the GPU kernels record only these in a
/// closed market (its leakage and screen terms are 0).
pub const CLOSED_QUANTITIES: usize = 4;
/// The sums' unit: 2^-40 (about 1e-12).
const SCALE: f64 = (1u64 << 40) as f64;

/// Grid points at completed steps `every, 2 every, ...` and the last step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct GridSpec {
    pub every: u32,
    pub points: u32,
    pub steps: u32,
}

impl GridSpec {
    /// Monthly (steps_per_year / 12, at least one step), widened to at most
    /// [`MAX_POINTS`] points.
    pub fn of(steps: u32, steps_per_year: u32) -> GridSpec {
        let monthly = (steps_per_year / 12).max(1);
        let every = monthly.max(steps.div_ceil(MAX_POINTS));
        GridSpec { every, points: steps.div_ceil(every), steps }
    }

    /// The grid point recorded after `completed` steps, if any.
    pub fn point_after(&self, completed: u32) -> Option<u32> {
        if completed == self.steps {
            Some(self.points - 1)
        } else if completed.is_multiple_of(self.every) {
            Some(completed / self.every - 1)
        } else {
            None
        }
    }

    /// Completed steps at each point.
    pub fn steps_at(&self) -> Vec<u32> {
        (1..=self.points).map(|p| (p * self.every).min(self.steps)).collect()
    }

    /// The time axis of a figure: 0, then each point's time in years.
    pub fn years_at(&self, steps_per_year: u32) -> Vec<f64> {
        std::iter::once(0.0).chain(self.steps_at().iter().map(|&steps| steps as f64 / steps_per_year as f64)).collect()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimeGrid {
    pub spec: GridSpec,
    pub strategies: usize,
    /// `[strategy][point][bin]`, BINS + 2 bins (below the range first, above it last).
    pub counts: Vec<u64>,
    /// `[strategy][point][quantity]`, in units of 2^-40.
    pub sums: Vec<i128>,
    /// Paths recorded.
    pub paths: u64,
}

/// `value` in units of 2^-40, rounded: through i64 where it fits (a float to i128
/// conversion is a slow library call, and the GPU's fold records a hundred million
/// values a run), the same integer either way.
fn fixed_point(value: f64) -> i128 {
    let scaled = (value * SCALE).round();
    if scaled.abs() < 9.0e18 {
        scaled as i64 as i128
    } else {
        scaled as i128
    }
}

/// One path's values into one cell's histogram bins and sums.
fn record_in_cell(counts: &mut [u64], sums: &mut [i128], values: [f64; QUANTITIES]) {
    let relative = values[0];
    let bin = if relative.is_nan() {
        BINS + 1
    } else if relative < -L_RANGE {
        0
    } else if relative >= L_RANGE {
        BINS + 1
    } else {
        1 + (((relative + L_RANGE) / (2.0 * L_RANGE) * BINS as f64) as usize).min(BINS - 1)
    };
    counts[bin] += 1;
    for (sum, value) in sums.iter_mut().zip(values) {
        // Finite values only; a non-finite statistic stops the run elsewhere.
        if value.is_finite() {
            *sum += fixed_point(value);
        }
    }
}

impl TimeGrid {
    pub fn new(spec: GridSpec, strategies: usize) -> TimeGrid {
        let cells = strategies * spec.points as usize;
        TimeGrid { spec, strategies, counts: vec![0; cells * (BINS + 2)], sums: vec![0; cells * QUANTITIES], paths: 0 }
    }

    fn cell(&self, strategy: usize, point: u32) -> usize {
        strategy * self.spec.points as usize + point as usize
    }

    /// Records one path's values at `point`: L, generating, drift, cost, leakage and screen terms.
    pub fn record(&mut self, strategy: usize, point: u32, values: [f64; QUANTITIES]) {
        let cell = self.cell(strategy, point);
        record_in_cell(
            &mut self.counts[cell * (BINS + 2)..][..BINS + 2],
            &mut self.sums[cell * QUANTITIES..][..QUANTITIES],
            values,
        );
    }

    /// Records `count` paths at every point and strategy from rows of f32 values
    /// (`rows(strategy, point)`: a row per quantity, path by path; the leakage and screen
    /// rows empty where they are 0, as in a closed market), the cells in parallel: the
    /// same counts and integer sums as `record` path by path.
    pub fn record_rows<'a>(&mut self, count: usize, rows: impl Fn(usize, u32) -> [&'a [f32]; QUANTITIES] + Sync) {
        use rayon::prelude::*;
        let points = self.spec.points;
        self.counts.par_chunks_mut(BINS + 2).zip(self.sums.par_chunks_mut(QUANTITIES)).enumerate().for_each(
            |(cell, (counts, sums))| {
                let (strategy, point) = (cell / points as usize, (cell % points as usize) as u32);
                let rows = rows(strategy, point);
                for path in 0..count {
                    let values = rows.map(|row| row.get(path).map_or(0.0, |value| f64::from(*value)));
                    record_in_cell(counts, sums, values);
                }
            },
        );
        self.paths += count as u64;
    }

    /// Counts one more path (after recording all its points).
    pub fn count_path(&mut self) {
        self.paths += 1;
    }

    /// Adds another grid of the same run.
    pub fn add(&mut self, other: &TimeGrid) -> Result<(), String> {
        if (other.spec, other.strategies) != (self.spec, self.strategies) {
            return Err("time grids of different runs".into());
        }
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        for (a, b) in self.sums.iter_mut().zip(&other.sums) {
            *a += b;
        }
        self.paths += other.paths;
        Ok(())
    }

    /// The mean over paths of quantity `quantity` (0 L, 1 generating, 2 drift, 3 cost,
    /// 4 leakage, 5 screen).
    pub fn mean(&self, strategy: usize, point: u32, quantity: usize) -> f64 {
        let sum = self.sums[self.cell(strategy, point) * QUANTITIES + quantity];
        sum as f64 / SCALE / self.paths.max(1) as f64
    }

    /// The `q` quantile of L over paths at `point`, interpolated within its bin (the
    /// range's ends for what fell outside it).
    pub fn quantile(&self, strategy: usize, point: u32, q: f64) -> f64 {
        let counts = &self.counts[self.cell(strategy, point) * (BINS + 2)..][..BINS + 2];
        let total: u64 = counts.iter().sum();
        let target = q.clamp(0.0, 1.0) * total as f64;
        let width = 2.0 * L_RANGE / BINS as f64;
        let mut below = 0.0;
        for (bin, &count) in counts.iter().enumerate() {
            let count = count as f64;
            if count > 0.0 && below + count >= target {
                return match bin {
                    0 => -L_RANGE,
                    b if b == BINS + 1 => L_RANGE,
                    b => -L_RANGE + (b - 1) as f64 * width + width * ((target - below) / count),
                };
            }
            below += count;
        }
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_grid_is_monthly_and_ends_at_the_last_step() {
        let spec = GridSpec::of(2520, 252);
        assert_eq!((spec.every, spec.points), (21, 120));
        assert_eq!(spec.point_after(21), Some(0));
        assert_eq!(spec.point_after(2520), Some(119));
        assert_eq!(spec.point_after(22), None);
        let odd = GridSpec::of(100, 252);
        assert_eq!((odd.every, odd.points), (21, 5));
        assert_eq!(odd.steps_at(), vec![21, 42, 63, 84, 100]);
        assert_eq!(odd.point_after(100), Some(4));
        let long = GridSpec::of(25_200, 252);
        assert!(long.points <= MAX_POINTS, "{long:?}");
    }

    #[test]
    fn quantiles_and_means_come_back_within_a_bin() {
        let spec = GridSpec::of(21, 252);
        let mut grid = TimeGrid::new(spec, 1);
        // L uniform on [-0.5, 0.5]: quantile q is q - 0.5.
        let paths = 10_001;
        for i in 0..paths {
            let relative = -0.5 + i as f64 / (paths - 1) as f64;
            grid.record(0, 0, [relative, 0.25, -0.125, 0.0, -0.5, 0.0625]);
            grid.count_path();
        }
        let bin = 2.0 * L_RANGE / BINS as f64;
        for q in [0.05, 0.5, 0.95] {
            assert!((grid.quantile(0, 0, q) - (q - 0.5)).abs() <= bin, "q = {q}: {}", grid.quantile(0, 0, q));
        }
        assert!(grid.mean(0, 0, 0).abs() < 1e-9);
        assert!((grid.mean(0, 0, 1) - 0.25).abs() < 1e-12 && (grid.mean(0, 0, 2) + 0.125).abs() < 1e-12);
        assert!((grid.mean(0, 0, 4) + 0.5).abs() < 1e-12 && (grid.mean(0, 0, 5) - 0.0625).abs() < 1e-12);
    }

    #[test]
    fn grids_add_up_exactly_in_any_order() {
        let spec = GridSpec::of(42, 252);
        let record = |range: std::ops::Range<u32>| {
            let mut grid = TimeGrid::new(spec, 2);
            for i in range {
                let x = (i as f64 * 0.618_033_988_749_895).fract() - 0.5;
                for s in 0..2 {
                    grid.record(s, 1, [x, x * 1e-3, x * x, -1e-7 * x, -x * x, 1e-5 * x]);
                }
                grid.count_path();
            }
            grid
        };
        let whole = record(0..1000);
        let mut parts = record(600..1000);
        parts.add(&record(0..250)).unwrap();
        parts.add(&record(250..600)).unwrap();
        assert_eq!(parts, whole);
    }
}
