//! The bootstrap market (docs/real-data.md): each path's steps are whole days of the
//! data's log changes, all stocks moving by the same day's, taken in blocks (the
//! stationary bootstrap of Politis and Romano, 1994). A backtest is the same market
//! with the days taken in order: the data's one path.
//!
//! The day a path takes at step t comes from Philox words by integer arithmetic only
//! (stream [`STREAM_BOOTSTRAP`]): word 0 below `floor(2^32 / b)` means a jump, to the
//! day `(word 1 x days) >> 32`; otherwise the day after the last one, wrapping at the
//! end. The first step always jumps (a uniform first day). CPU and GPU paths so take
//! the same days, and differ only in the rounding of what follows.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::data::{Bound, DataError, Rows, Table, Window};
use crate::market::spec::MarketSpec;
use crate::market::{initial_weights, MAX_STOCKS};
use crate::numeric::lanes::{Lanes, Real};
use crate::numeric::philox::{philox4x32_10_simd, STREAM_BOOTSTRAP};
use crate::problems::{invalid, Problems, ScenarioError};

/// Most days of changes a bootstrap market takes: 2^24, the integers an f32 holds exactly.
pub const MOST_DAYS: usize = 1 << 24;

/// The mean block length when the scenario gives none (days).
pub const DEFAULT_MEAN_BLOCK: f64 = 20.0;

/// Which day a path takes at each step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DaySchedule {
    /// Blocks of consecutive days with geometric lengths of mean `mean_block` (days).
    Resampled { mean_block: f64 },
    /// Day t at step t: the data's own path (a backtest).
    InOrder,
}

/// A validated bootstrap market: the data's daily log changes and how paths take them.
#[derive(Debug, Clone)]
pub struct BootstrapMarket {
    pub initial_weights: Vec<f64>,
    /// Daily log changes, `[day * n + stock]`, de-meaned when asked.
    pub log_changes: Arc<[f64]>,
    pub schedule: DaySchedule,
    /// The file read (None for a backtest's path, whose data the backtest records).
    pub source: Option<DataSource>,
}

/// Where a bootstrap market's days came from.
#[derive(Debug, Clone, PartialEq)]
pub struct DataSource {
    /// The file, absolute.
    pub path: PathBuf,
    pub sha256: String,
    pub tickers: Vec<String>,
    pub first_date: String,
    pub last_date: String,
    /// Rows a year, counted from the dates.
    pub periods_per_year: f64,
}

/// A data problem as a scenario problem: the window's dates name their fields; the
/// file's own problems (located by line and column) are `market.data`'s.
fn data_problem(error: DataError) -> ScenarioError {
    if error.location.starts_with("market.") {
        invalid(error.location, error.reason)
    } else {
        invalid("market.data", format!("{}: {}", error.location, error.reason))
    }
}

impl BootstrapMarket {
    /// The `[market]` table of `model = "bootstrap"`: the data read (its path as given,
    /// relative to the working directory unless already absolute), windowed, checked
    /// against a recorded SHA-256 and `n`, turned into daily log changes.
    pub fn from_spec(spec: &MarketSpec) -> Result<BootstrapMarket, ScenarioError> {
        let Some(data) = &spec.data else {
            return Err(invalid("market.data", "the bootstrap model needs data = \"FILE.csv\", a wide daily CSV"));
        };
        let caps = spec.caps.unwrap_or(false);
        let window = Window {
            from: spec.from.as_ref().map(|date| Bound::new("market.from", date)),
            to: spec.to.as_ref().map(|date| Bound::new("market.to", date)),
            last_years: None,
        };
        let path = std::path::absolute(Path::new(data)).unwrap_or_else(|_| PathBuf::from(data));
        let table = Table::read(&path, &window, if caps { "market cap" } else { "price" }).map_err(data_problem)?;
        // Read, so it exists: recorded without `..` or links.
        let path = std::fs::canonicalize(&path).unwrap_or(path);
        let mut problems = Problems::default();
        if let Some(recorded) = &spec.data_sha256 {
            if *recorded != table.sha256 {
                problems.push(invalid(
                    "market.data_sha256",
                    format!(
                        "{} has SHA-256 {}, but the scenario records {recorded}: the data changed since the run \
                         that wrote it",
                        path.display(),
                        table.sha256
                    ),
                ));
            }
        }
        let n = table.tickers.len();
        if n > MAX_STOCKS {
            problems.push(invalid("market.data", format!("{} has {n} stocks; at most {MAX_STOCKS}", path.display())));
        }
        if spec.n != 0 && spec.n != n {
            problems.push(invalid("market.n", format!("is {}, but {} has {n} stocks", spec.n, path.display())));
        }
        let mut log_changes = table.log_returns();
        let days = log_changes.len();
        if days > MOST_DAYS {
            problems.push(invalid(
                "market.data",
                format!(
                    "{} has {days} days of changes; at most {MOST_DAYS} (a GPU path keeps its day as a float)",
                    path.display()
                ),
            ));
        }
        let mean_block = spec.mean_block.unwrap_or(DEFAULT_MEAN_BLOCK);
        if !(mean_block.is_finite() && mean_block >= 1.0 && mean_block <= days as f64) {
            problems.push(invalid(
                "market.mean_block",
                format!("must be between 1 and the data's {days} days of changes, got {mean_block}"),
            ));
        }
        let mut with_n = spec.clone();
        with_n.n = n;
        let weights = problems.check(initial_weights(&with_n));
        if !problems.is_empty() {
            return Err(problems.into_error());
        }
        if spec.demean.unwrap_or(false) {
            let mean: Vec<f64> =
                (0..n).map(|i| log_changes.iter().map(|day| day[i]).sum::<f64>() / days as f64).collect();
            for day in log_changes.iter_mut() {
                day.iter_mut().zip(&mean).for_each(|(change, m)| *change -= m);
            }
        }
        let source = DataSource {
            path,
            sha256: table.sha256.clone(),
            periods_per_year: table.periods_per_year(),
            first_date: table.dates[0].clone(),
            last_date: table.dates[table.dates.len() - 1].clone(),
            tickers: table.tickers,
        };
        Ok(BootstrapMarket {
            initial_weights: weights.expect("checked above"),
            log_changes: Arc::from(log_changes.cells()),
            schedule: DaySchedule::Resampled { mean_block },
            source: Some(source),
        })
    }

    /// The market whose steps are the rows of `log_changes` (`[day][stock]`), in order.
    pub fn in_order(initial_weights: Vec<f64>, log_changes: &Rows) -> BootstrapMarket {
        BootstrapMarket {
            initial_weights,
            log_changes: Arc::from(log_changes.cells()),
            schedule: DaySchedule::InOrder,
            source: None,
        }
    }

    pub fn n(&self) -> usize {
        self.initial_weights.len()
    }

    pub fn days(&self) -> usize {
        self.log_changes.len() / self.n()
    }

    /// Each stock's mean log change over the days (zero when de-meaned, to rounding).
    pub fn mean_change(&self) -> Vec<f64> {
        let n = self.n();
        let mut mean = vec![0.0; n];
        for day in self.log_changes.chunks_exact(n) {
            for (m, change) in mean.iter_mut().zip(day) {
                *m += change;
            }
        }
        mean.iter_mut().for_each(|m| *m /= self.days() as f64);
        mean
    }

    /// Word 0 at most this means a jump: `floor(2^32 / b) - 1`, so b = 1 jumps always.
    pub fn jump_at_most(&self) -> u32 {
        match self.schedule {
            DaySchedule::Resampled { mean_block } => (((1u64 << 32) as f64 / mean_block).floor() as u64 - 1) as u32,
            DaySchedule::InOrder => 0,
        }
    }

    pub fn kernel<R: Real>(&self) -> BootstrapKernel<R> {
        let n = self.n();
        let (continue_weight, jump_weight) = match self.schedule {
            DaySchedule::Resampled { mean_block } => (1.0 - 1.0 / mean_block, 1.0 / mean_block),
            DaySchedule::InOrder => (1.0, 0.0),
        };
        BootstrapKernel {
            n,
            days: self.days() as u32,
            log_changes: self.log_changes.iter().map(|c| R::from_f64(*c)).collect(),
            mean_change: self.mean_change().into_iter().map(R::from_f64).collect(),
            in_order: self.schedule == DaySchedule::InOrder,
            jump_at_most: self.jump_at_most(),
            continue_weight: R::from_f64(continue_weight),
            jump_weight: R::from_f64(jump_weight),
        }
    }
}

/// The bootstrap market in a kernel's precision.
#[derive(Debug, Clone)]
pub struct BootstrapKernel<R> {
    pub n: usize,
    pub days: u32,
    pub log_changes: Arc<[R]>,
    /// r-bar: each stock's mean log change over the days.
    pub mean_change: Vec<R>,
    pub in_order: bool,
    pub jump_at_most: u32,
    /// 1 - 1/b and 1/b: the weights of the next day's change and of r-bar in a step's
    /// conditional mean (the control's drift, docs/real-data.md).
    pub continue_weight: R,
    pub jump_weight: R,
}

/// The day each lane takes at `step`, from the day it took at the step before
/// (`days[lane]`, ignored at step 0), for Philox path counters `paths`.
pub fn next_days<const L: usize>(
    params_days: u32,
    jump_at_most: u32,
    in_order: bool,
    key: [u32; 2],
    paths: &[u32; L],
    step: u32,
    days: &mut [u32; L],
) {
    if in_order {
        *days = [step % params_days; L];
        return;
    }
    let words = philox4x32_10_simd([*paths, [step; L], [0; L], [STREAM_BOOTSTRAP; L]], key);
    for (lane, day) in days.iter_mut().enumerate() {
        *day = if step == 0 || words[0][lane] <= jump_at_most {
            ((words[1][lane] as u64 * params_days as u64) >> 32) as u32
        } else if *day + 1 == params_days {
            0
        } else {
            *day + 1
        };
    }
}

/// One step of `L` paths: each lane's day (`days`, updated) and its log changes, with the
/// noise terms against the step's conditional mean `(1 - 1/b) r(next day) + (1/b) r-bar`
/// (`r-bar` alone at step 0; zero noise when the days are taken in order).
pub fn bootstrap_log_steps<R: Real, const L: usize>(
    params: &BootstrapKernel<R>,
    key: [u32; 2],
    paths: &[u32; L],
    step: u32,
    days: &mut [u32; L],
    log_steps: &mut [Lanes<R, L>],
    noise: &mut [Lanes<R, L>],
) {
    let n = params.n;
    let previous = *days;
    next_days(params.days, params.jump_at_most, params.in_order, key, paths, step, days);
    for lane in 0..L {
        let today = &params.log_changes[days[lane] as usize * n..][..n];
        let continued = (previous[lane] + 1) % params.days;
        let following = &params.log_changes[continued as usize * n..][..n];
        for i in 0..n {
            log_steps[i].0[lane] = today[i];
            let expected = if params.in_order {
                today[i]
            } else if step == 0 {
                params.mean_change[i]
            } else {
                params.continue_weight * following[i] + params.jump_weight * params.mean_change[i]
            };
            noise[i].0[lane] = today[i] - expected;
        }
    }
}
