//! `sptlab calibrate`: fit a scenario to real daily data.
//!
//! * `gbm` (from prices): growth gamma_i = mean daily log return x periods a year;
//!   vol sigma_i = sample standard deviation x sqrt(periods a year); correlation =
//!   sample correlation shrunk toward the identity (Ledoit–Wolf), so always positive definite.
//! * `first_order` (from market caps): each day the stocks are ranked by cap; sigma_k
//!   is the volatility of the log returns of whichever stock holds rank k, gamma the
//!   mean log return of all stocks, and the rank growth rates come from the mean gaps
//!   Y_k between consecutive ranked log caps through the product-form relation
//!   lambda_k = 1 / E[Y_k] = -4 (g_1 + ... + g_k) / (sigma_k^2 + sigma_(k+1)^2)
//!   (docs/models.md). That fit reproduces the observed capital distribution curve
//!   and satisfies the stability conditions by construction.
//!
//! Periods a year are counted from the data (returns over the calendar span), so the
//! written `steps_per_year` matches the data's frequency.

use std::fmt::Write as _;
use std::path::Path;

use crate::data::{DataError, Rows, Table, Window};

use crate::numeric::shrinkage::{shrunk_correlation, Shrinkage};
use crate::scenario::Scenario;

/// Fewest returns in the window: fewer give estimates too noisy to simulate from.
pub const MIN_RETURNS: usize = 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CalibrationModel {
    Gbm,
    FirstOrder,
}

#[derive(Debug, Clone, Copy)]
pub struct CalibrationOptions {
    pub model: CalibrationModel,
    /// Use only the last this many years of the file (all of it when None).
    pub window_years: Option<f64>,
    pub shrinkage: Shrinkage,
}

/// A calibrated scenario (TOML with comments) and a one-line account of it.
#[derive(Debug, Clone)]
pub struct Calibration {
    pub scenario_text: String,
    pub summary: String,
}

fn mean(values: impl Iterator<Item = f64>) -> f64 {
    let (sum, count) = values.fold((0.0, 0usize), |(s, c), v| (s + v, c + 1));
    sum / count as f64
}

/// Sample standard deviation (divisor count - 1).
fn sample_sd(values: &[f64]) -> f64 {
    let m = mean(values.iter().copied());
    (values.iter().map(|v| (v - m).powi(2)).sum::<f64>() / (values.len() - 1) as f64).sqrt()
}

fn list(values: &[f64]) -> String {
    let items: Vec<String> = values.iter().map(|v| format!("{v:.6}")).collect();
    format!("[{}]", items.join(", "))
}

/// A scenario name from a file stem: letters, digits, '-' and '_' only.
fn scenario_name(path: &Path) -> String {
    let stem = path.file_stem().map_or("data".into(), |s| s.to_string_lossy().to_string());
    let clean: String = stem.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect();
    format!("calibrated-{clean}")
}

const STRATEGIES: &str = r#"
# Strategies to compare against the cap-weighted market (always simulated).
[[strategies]]
name = "equal"
weighting = "equal"
rebalance_every = 21
cost_bps = 10.0

[[strategies]]
name = "diversity-0.76"
weighting = "diversity"
p = 0.76
rebalance_every = 21
cost_bps = 10.0

[[strategies]]
name = "entropy"
weighting = "entropy"
rebalance_every = 63
cost_bps = 10.0
"#;

pub fn calibrate(path: &Path, options: &CalibrationOptions) -> Result<Calibration, DataError> {
    let file = path.display().to_string();
    if let Some(years) = options.window_years {
        if !(years.is_finite() && years > 0.0) {
            return Err(DataError {
                location: "--window".into(),
                reason: format!("must be a positive number of years, got {years}"),
            });
        }
    }
    if let Shrinkage::Fixed(intensity) = options.shrinkage {
        if !(0.0..=1.0).contains(&intensity) {
            return Err(DataError {
                location: "--shrinkage".into(),
                reason: format!("must be auto or a number in [0, 1], got {intensity}"),
            });
        }
    }
    let what = match options.model {
        CalibrationModel::Gbm => "price",
        CalibrationModel::FirstOrder => "market cap",
    };
    let table = Table::read(path, &Window::last_years(options.window_years), what)?;
    let returns = table.log_returns();
    let n = table.tickers.len();
    if returns.len() < MIN_RETURNS.max(n + 1) {
        return Err(DataError {
            location: file,
            reason: format!(
                "the history is too short: {} returns in the window, at least {} needed",
                returns.len(),
                MIN_RETURNS.max(n + 1)
            ),
        });
    }
    let periods_per_year = table.periods_per_year().round().max(1.0);
    let mut text = String::new();
    let _ = writeln!(text, "# Calibrated by `sptlab calibrate` from {}.", path.display());
    let _ = writeln!(
        text,
        "# Window: {} to {}, {} returns ({} a year).",
        table.dates[0],
        table.dates.last().unwrap(),
        returns.len(),
        periods_per_year
    );
    let _ = writeln!(text, "# Stocks, in the order of every per-stock list: {}.", table.tickers.join(", "));
    let summary = match options.model {
        CalibrationModel::Gbm => gbm_section(&table, &returns, periods_per_year, options.shrinkage, &mut text)?,
        CalibrationModel::FirstOrder => first_order_section(&table, &returns, periods_per_year, &mut text)?,
    };
    let body = std::mem::take(&mut text);
    let (comments, market) = body.split_at(body.find("\n[market]").map_or(body.len(), |i| i + 1));
    text = format!(
        "{}\n\nname = \"{}\"\nseed = 42\npaths = 10000\nyears = 10.0\nsteps_per_year = {periods_per_year}\n\n{}\n{STRATEGIES}",
        comments.trim_end(),
        scenario_name(path),
        market.trim()
    );
    // The scenario must run: check it as `sptlab run` would.
    Scenario::from_toml(&text)
        .map_err(|e| e.to_string())
        .and_then(|s| s.validate().map_err(|e| e.to_string()))
        .map_err(|reason| DataError {
            location: file.clone(),
            reason: format!("the calibrated scenario is outside what sptlab can simulate: {reason}"),
        })?;
    Ok(Calibration {
        scenario_text: text,
        summary: format!(
            "calibrated {n} stocks from {} returns, {} to {}: {summary}",
            returns.len(),
            table.dates[0],
            table.dates.last().unwrap()
        ),
    })
}

fn gbm_section(
    table: &Table,
    returns: &Rows,
    periods_per_year: f64,
    shrinkage: Shrinkage,
    text: &mut String,
) -> Result<String, DataError> {
    let n = table.tickers.len();
    let column = |stock: usize| returns.iter().map(|r| r[stock]).collect::<Vec<f64>>();
    let growth: Vec<f64> = (0..n).map(|i| mean(column(i).into_iter()) * periods_per_year).collect();
    let vol: Vec<f64> = (0..n).map(|i| sample_sd(&column(i)) * periods_per_year.sqrt()).collect();
    let (correlation, intensity) = shrunk_correlation(&returns.iter().collect::<Vec<&[f64]>>(), shrinkage);
    if correlation.clone().cholesky().is_none() {
        return Err(DataError {
            location: "--shrinkage".into(),
            reason: format!(
                "the correlation matrix shrunk by {intensity} is not positive definite; use --shrinkage auto or a larger value"
            ),
        });
    }
    let how = match shrinkage {
        Shrinkage::Auto => "the Ledoit-Wolf optimum",
        Shrinkage::Fixed(_) => "as asked",
    };
    let _ = writeln!(text, "# growth: mean log return per year; vol: sample standard deviation per year.");
    let _ = writeln!(
        text,
        "# correlation: sample correlation shrunk toward the identity with intensity {intensity:.4} ({how})."
    );
    let _ = writeln!(text, "# Prices carry no share counts, so the market starts equally weighted (zipf = 0):");
    let _ = writeln!(text, "# set initial_weights to the stocks' market caps for a cap-weighted start. Unequal");
    let _ = writeln!(text, "# growth rates let the fastest stock take over in the long run (docs/models.md).");
    let _ = writeln!(text, "\n[market]\nmodel = \"gbm\"\nn = {n}\nzipf = 0.0");
    let _ = writeln!(text, "growth = {}", list(&growth));
    let _ = writeln!(text, "vol = {}", list(&vol));
    let _ = writeln!(text, "correlation = [");
    for i in 0..n {
        let row: Vec<String> =
            (0..n).map(|j| if i == j { "1.0".to_string() } else { format!("{:.6}", correlation[(i, j)]) }).collect();
        let _ = writeln!(text, "    [{}],  # {}", row.join(", "), table.tickers[i]);
    }
    let _ = writeln!(text, "]");
    Ok(format!("GBM, correlation shrinkage {intensity:.4}"))
}

fn first_order_section(
    table: &Table,
    returns: &Rows,
    periods_per_year: f64,
    text: &mut String,
) -> Result<String, DataError> {
    let n = table.tickers.len();
    let mut by_rank = vec![Vec::with_capacity(returns.len()); n];
    let mut gap_sums = vec![0.0; n - 1];
    for (t, row) in table.values.iter().enumerate() {
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by(|&a, &b| row[b].total_cmp(&row[a]).then(a.cmp(&b)));
        for k in 0..n - 1 {
            gap_sums[k] += (row[order[k]] / row[order[k + 1]]).ln();
        }
        if let Some(next) = returns.get(t) {
            for (k, &stock) in order.iter().enumerate() {
                by_rank[k].push(next[stock]);
            }
        }
    }
    let rank_vol: Vec<f64> = by_rank.iter().map(|r| sample_sd(r) * periods_per_year.sqrt()).collect();
    let naive_rank_growth: Vec<f64> = by_rank.iter().map(|r| mean(r.iter().copied()) * periods_per_year).collect();
    let growth = mean(naive_rank_growth.iter().copied());
    let mut rank_growth = vec![0.0; n];
    let mut previous_partial = 0.0;
    for k in 0..n - 1 {
        let mean_gap = gap_sums[k] / table.values.len() as f64;
        if mean_gap <= 0.0 {
            return Err(DataError {
                location: table.tickers.join(","),
                reason: format!("ranks {} and {} have identical caps throughout the window", k + 1, k + 2),
            });
        }
        let partial = -(rank_vol[k].powi(2) + rank_vol[k + 1].powi(2)) / (4.0 * mean_gap);
        rank_growth[k] = partial - previous_partial;
        previous_partial = partial;
    }
    // Written with six decimals: round, then make the last the negated sum of the
    // rounded others, so the written rates sum to zero as stability needs.
    for g in &mut rank_growth[..n - 1] {
        *g = (*g * 1e6).round() / 1e6;
    }
    rank_growth[n - 1] = -rank_growth[..n - 1].iter().sum::<f64>();
    let last = table.values.last().unwrap();
    let total: f64 = last.iter().sum();
    let initial: Vec<f64> = last.iter().map(|cap| cap / total).collect();
    let _ = writeln!(text, "# The file must hold market caps (shares outstanding x price) per stock and day:");
    let _ = writeln!(text, "# ranks, gaps and the capital distribution are about caps, not prices.");
    let _ = writeln!(text, "# rank_vol: volatility of the log returns of whichever stock holds rank k, per year.");
    let _ = writeln!(text, "# growth: mean log return of all stocks per year.");
    let _ = writeln!(text, "# rank_growth: from the mean gaps between ranked log caps by the product-form relation");
    let _ = writeln!(text, "# 1 / E[Y_k] = -4 (g_1 + ... + g_k) / (s_k^2 + s_(k+1)^2); stable by construction.");
    let _ = writeln!(text, "# For comparison, the mean log return by rank less growth, per year (not used):");
    let naive: Vec<f64> = naive_rank_growth.iter().map(|g| g - growth).collect();
    let _ = writeln!(text, "#   {}", list(&naive));
    let _ = writeln!(text, "# initial_weights: the caps on the last day of the window, in ticker order.");
    let _ = writeln!(text, "\n[market]\nmodel = \"first_order\"\nn = {n}");
    let weights: Vec<String> = initial.iter().map(|w| format!("{w:.6e}")).collect();
    let _ = writeln!(text, "initial_weights = [{}]", weights.join(", "));
    let _ = writeln!(text, "growth = {growth:.6}");
    let _ = writeln!(text, "rank_growth = {}", list(&rank_growth));
    let _ = writeln!(text, "rank_vol = {}", list(&rank_vol));
    Ok("first-order rank-based model".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{format_date, parse_date};
    use crate::market::Market;
    use crate::numeric::philox::normals4;

    #[test]
    fn first_order_calibration_recovers_an_atlas_market() {
        // One long Atlas history (4 stocks, g = 0.2, sigma = 0.2, gamma = 0.05), simulated
        // here by Euler steps of a calendar day, written as a caps CSV, then calibrated.
        // Tolerances: 200 years hold about 800 relaxation times of the widest gap
        // ((0.1 / 0.2)^2 years), so mean gaps carry about 5 % noise and the rank growth
        // rates derived from them about as much; vols are far tighter.
        let (n, g, sigma, gamma) = (4usize, 0.2, 0.2, 0.05);
        let dt = 1.0 / 365.0;
        let days = 200 * 365;
        let mut log_caps = [0.0, -0.1, -0.15, -0.18];
        let mut text = String::from("Date,S0,S1,S2,S3\n");
        let first_day = parse_date("1800-01-01").unwrap();
        for day in 0..days {
            let caps: Vec<String> = log_caps.iter().map(|c: &f64| format!("{}", c.exp())).collect();
            text.push_str(&format!("{},{}\n", format_date(first_day + day as i64), caps.join(",")));
            let mut order: Vec<usize> = (0..n).collect();
            order.sort_by(|&a, &b| log_caps[b].total_cmp(&log_caps[a]));
            let z = normals4(7, 0, day as u32, 0);
            for (rank, &stock) in order.iter().enumerate() {
                let rank_growth = if rank + 1 < n { -g } else { (n - 1) as f64 * g };
                log_caps[stock] += (gamma + rank_growth) * dt + sigma * dt.sqrt() * z[stock];
            }
        }
        let path = std::env::temp_dir().join(format!("sptlab-atlas-caps-{}.csv", std::process::id()));
        std::fs::write(&path, text).unwrap();
        let options =
            CalibrationOptions { model: CalibrationModel::FirstOrder, window_years: None, shrinkage: Shrinkage::Auto };
        let calibration = calibrate(&path, &options).unwrap();
        std::fs::remove_file(&path).unwrap();
        let plan = Scenario::from_toml(&calibration.scenario_text).unwrap().validate().unwrap();
        assert_eq!(plan.steps_per_year, 365);
        let Market::Rank(market) = &plan.market else { panic!("a rank-based scenario") };
        eprintln!("recovered g {:?}, vol {:?}, growth {}", market.rank_growth, market.rank_vol, market.growth);
        for k in 0..n {
            assert!((market.rank_vol[k] - sigma).abs() < 0.03 * sigma, "rank {}: vol {}", k + 1, market.rank_vol[k]);
            let expected = if k + 1 < n { -g } else { (n - 1) as f64 * g };
            assert!(
                (market.rank_growth[k] - expected).abs() < 0.25 * g,
                "rank {}: g {} vs {expected}",
                k + 1,
                market.rank_growth[k]
            );
        }
        // gamma: the mean log return of all stocks; its noise is sigma / sqrt(n T) = 0.007.
        assert!((market.growth - gamma).abs() < 0.03, "growth {}", market.growth);
    }
}
