//! Cross-path summaries of per-path statistics (docs/statistics.md; `S` in docs/statistics.md).

use serde::{Deserialize, Serialize};

/// A summary over paths of one per-path statistic.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub mean: f64,
    /// Standard error of the mean: sd of the units / sqrt(units); null below two units
    /// (one path, or one antithetic pair), where there is none.
    pub se: Option<f64>,
    /// The mean's 95 % interval, mean -/+ t(0.975, units - 1) se (Student's t); null
    /// where `se` is.
    pub low: Option<f64>,
    pub high: Option<f64>,
    /// Sample standard deviation over paths (divisor paths - 1); null for one path.
    pub sd: Option<f64>,
    pub min: f64,
    pub max: f64,
    pub q05: f64,
    pub q25: f64,
    pub q50: f64,
    pub q75: f64,
    pub q95: f64,
    /// The mean estimated with its control variate (docs/control-variates.md), for the statistics
    /// that have one when the run uses it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controlled: Option<Controlled>,
}

/// A mean as a reader should quote it: its standard error and 95 % interval, each
/// absent where the data give none.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    pub mean: f64,
    pub se: Option<f64>,
    pub low: Option<f64>,
    pub high: Option<f64>,
}

impl Estimate {
    /// Half the width of the 95 % interval.
    pub fn half_width(&self) -> Option<f64> {
        Some((self.high? - self.low?) / 2.0)
    }
}

impl Summary {
    /// The same summary with no interval, plain or controlled (a tie).
    pub fn without_interval(self) -> Summary {
        Summary { low: None, high: None, controlled: self.controlled.map(Controlled::without_interval), ..self }
    }

    /// The mean a reader should quote, with its standard error and interval: the
    /// controlled ones when there are, else the plain ones.
    pub fn estimate(&self) -> Estimate {
        match self.controlled {
            Some(c) => Estimate { mean: c.mean, se: Some(c.se), low: c.low, high: c.high },
            None => Estimate { mean: self.mean, se: self.se, low: self.low, high: self.high },
        }
    }
}

/// Student's t quantile t(0.975, degrees_of_freedom): the half-width of a two-sided 95 %
/// interval in standard errors (12.71 for one degree of freedom, 1.96 in the limit).
///
/// statrs inverts the t distribution through the incomplete beta function, accurate to
/// 1e-9 up to a thousand degrees of freedom but not beyond (at a million it returned
/// less than the normal quantile, and it did not finish at ten million). Past a thousand
/// the Cornish–Fisher expansion in 1/ν (Abramowitz and Stegun 26.7.5) takes over: its
/// fifth term is below 1e-15 there.
pub fn t_95(degrees_of_freedom: usize) -> f64 {
    use statrs::distribution::{ContinuousCDF, StudentsT};
    assert!(degrees_of_freedom >= 1, "a t interval needs a degree of freedom");
    let nu = degrees_of_freedom as f64;
    if degrees_of_freedom <= 1000 {
        return StudentsT::new(0.0, 1.0, nu).expect("positive degrees of freedom").inverse_cdf(0.975);
    }
    let z = Z_95;
    let (z2, z3) = (z * z, z * z * z);
    let (z5, z7, z9) = (z3 * z2, z3 * z2 * z2, z3 * z3 * z3);
    let g1 = (z3 + z) / 4.0;
    let g2 = (5.0 * z5 + 16.0 * z3 + 3.0 * z) / 96.0;
    let g3 = (3.0 * z7 + 19.0 * z5 + 17.0 * z3 - 15.0 * z) / 384.0;
    let g4 = (79.0 * z9 + 776.0 * z7 + 1482.0 * z5 - 1920.0 * z3 - 945.0 * z) / 92_160.0;
    z + g1 / nu + g2 / nu.powi(2) + g3 / nu.powi(3) + g4 / nu.powi(4)
}

/// The 95 % interval mean -/+ t(0.975, degrees_of_freedom) se.
pub fn t_interval(mean: f64, se: f64, degrees_of_freedom: usize) -> (f64, f64) {
    let half_width = t_95(degrees_of_freedom) * se;
    (mean - half_width, mean + half_width)
}

/// The independent units of a run's paths (docs/control-variates.md): each path, or each
/// antithetic pair (paths 2k and 2k + 1, which draw opposite normals).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Units {
    Paths,
    AntitheticPairs,
}

impl Units {
    pub fn of(antithetic: bool) -> Units {
        if antithetic {
            Units::AntitheticPairs
        } else {
            Units::Paths
        }
    }

    /// Each unit's mean of per-path `values` (held from an even path index on).
    pub fn means(self, values: &[f64]) -> Vec<f64> {
        match self {
            Units::Paths => values.to_vec(),
            Units::AntitheticPairs => {
                values.chunks(2).map(|pair| pair.iter().sum::<f64>() / pair.len() as f64).collect()
            }
        }
    }

    /// How many units `paths` paths make.
    pub fn count(self, paths: usize) -> usize {
        match self {
            Units::Paths => paths,
            Units::AntitheticPairs => paths.div_ceil(2),
        }
    }
}

/// How a run's per-path statistics are summarised: over which units standard errors
/// are taken, and whether means with a control get their controlled estimate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Estimation {
    pub units: Units,
    pub controlled: bool,
}

impl Estimation {
    /// Plain means over paths: the units and estimates of a run without either option.
    pub const PLAIN: Estimation = Estimation { units: Units::Paths, controlled: false };

    /// The summary of per-path `values`: quantiles and `sd` over paths; `se` and the
    /// interval over units.
    pub fn summary(&self, values: &[f64]) -> Summary {
        let mut summary = summarize(values).expect("a run has at least one path");
        if self.units == Units::AntitheticPairs {
            let pairs = summarize(&self.units.means(values)).expect("a path makes a pair");
            (summary.se, summary.low, summary.high) = (pairs.se, pairs.low, pairs.high);
        }
        summary
    }

    /// As [`Estimation::summary`], with the controlled estimate of the mean when the run
    /// uses the control: `controls` holds each path's control (mean zero).
    pub fn summary_with_control(&self, values: &[f64], controls: &[f64]) -> Summary {
        let mut summary = self.summary(values);
        if self.controlled {
            summary.controlled = controlled_mean(&self.units.means(values), &self.units.means(controls));
        }
        summary
    }

    /// The share of paths with L > 0 (strictly), its Wilson interval over the units.
    pub fn p_outperform(&self, relative_log_returns: &[f64]) -> Proportion {
        let wins = relative_log_returns.iter().filter(|l| **l > 0.0).count();
        self.share(wins, relative_log_returns.len())
    }

    /// The share of paths whose volatility is at most the benchmark's (`with_outperform`:
    /// and whose L > 0), its Wilson interval over the units. A path whose tracking error
    /// is rounding holds the benchmark's risk: |vol_pi - vol_rho| <= its tracking error.
    pub fn p_less_risk(
        &self,
        paths: &[crate::engine::PathStatistics],
        rounding: Rounding,
        with_outperform: bool,
    ) -> Proportion {
        let less_risk = |p: &&crate::engine::PathStatistics| {
            p.volatility_difference <= 0.0 || p.tracking_error <= rounding.tracking_error()
        };
        let successes =
            paths.iter().filter(less_risk).filter(|p| !with_outperform || p.relative_log_return > 0.0).count();
        self.share(successes, paths.len())
    }

    /// The share `successes / paths`, its Wilson interval with n the units those paths
    /// make (conservative for pairs: a pair's mean indicator is 0, 1/2 or 1).
    pub fn share(&self, successes: usize, paths: usize) -> Proportion {
        let mut proportion = wilson_interval(successes as u64, paths as u64);
        if self.units == Units::AntitheticPairs && paths > 0 {
            let estimate = successes as f64 / paths as f64;
            let (low, high) = wilson_bounds(estimate, self.units.count(paths) as f64);
            proportion = Proportion { estimate, low, high };
        }
        proportion
    }
}

/// A proportion with its 95 % Wilson score interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Proportion {
    pub estimate: f64,
    pub low: f64,
    pub high: f64,
}

/// z for a two-sided 95 % interval (Wilson's intervals of shares).
pub const Z_95: f64 = 1.959_963_984_540_054;

/// How much rounding a run's per-path figures may carry, so that a difference within it
/// is a tie rather than a result (docs/statistics.md). A relative log return is a sum of
/// N steps' rounded changes, and the rounding does not cancel: portfolios that are the
/// same (held from equal caps, or the market rebalanced daily) part by up to 0.1 u N and
/// 0.4 u N over 100 stocks and ten years, in f32 and f64 alike (u the unit roundoff:
/// 2^-24 in f32, 2^-53 in f64). τ = 8 u N max(1, |L|) holds that within a tenth of
/// itself (tests/engine/ties.rs) and no more: a real difference twice the largest such
/// drift is not a tie (the costs example's 10 bp on quarterly diversity weighting, 12.6
/// u N in f32, is not one). A tracking error is the spread of one step's active
/// returns: rounding alone reached 5.2 u sqrt(m) on the same portfolios; 16 u sqrt(m)
/// bounds it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rounding {
    pub unit_roundoff: f64,
    pub steps: f64,
    pub steps_per_year: f64,
}

impl Rounding {
    pub fn new(precision: crate::engine::Precision, steps: u32, steps_per_year: f64) -> Rounding {
        let unit_roundoff = match precision {
            crate::engine::Precision::F32 => f64::from(f32::EPSILON) / 2.0,
            crate::engine::Precision::F64 => f64::EPSILON / 2.0,
        };
        Rounding { unit_roundoff, steps: f64::from(steps), steps_per_year }
    }

    /// τ: the most rounding a relative log return of about `l` can carry.
    pub fn log_return(&self, l: f64) -> f64 {
        8.0 * self.unit_roundoff * self.steps * l.abs().max(1.0)
    }

    /// Whether two relative log returns of one path differ by rounding only.
    pub fn is_tie(&self, a: f64, b: f64) -> bool {
        (a - b).abs() <= self.log_return(a.abs().max(b.abs()))
    }

    /// The largest tracking error rounding alone can make.
    pub fn tracking_error(&self) -> f64 {
        16.0 * self.unit_roundoff * self.steps_per_year.sqrt()
    }

    /// A path's information ratio, or `None` when its tracking error is rounding: an IR
    /// of noise over noise says nothing.
    pub fn information_ratio(&self, path: &crate::engine::PathStatistics) -> Option<f64> {
        (path.tracking_error > self.tracking_error()).then_some(path.information_ratio)
    }
}

/// Neumaier's compensated sum: exact to about one rounding for any order of magnitudes.
#[derive(Debug, Clone, Copy, Default)]
pub struct CompensatedSum {
    sum: f64,
    compensation: f64,
}

impl CompensatedSum {
    pub fn add(&mut self, value: f64) {
        let next = self.sum + value;
        if self.sum.abs() >= value.abs() {
            self.compensation += (self.sum - next) + value;
        } else {
            self.compensation += (value - next) + self.sum;
        }
        self.sum = next;
    }

    pub fn value(&self) -> f64 {
        self.sum + self.compensation
    }
}

/// Linear interpolation between order statistics (Hyndman–Fan type 7, numpy's default).
fn quantile(sorted: &[f64], probability: f64) -> f64 {
    let position = probability * (sorted.len() - 1) as f64;
    let below = position.floor() as usize;
    let above = (below + 1).min(sorted.len() - 1);
    let fraction = position - below as f64;
    sorted[below] + fraction * (sorted[above] - sorted[below])
}

/// Summarises `values`; `None` when there are none.
///
/// Two passes (compensated mean, then squared deviations from it) keep the
/// variance accurate when the values share a large offset.
pub fn summarize(values: &[f64]) -> Option<Summary> {
    if values.is_empty() {
        return None;
    }
    let count = values.len() as f64;
    let mut total = CompensatedSum::default();
    values.iter().for_each(|v| total.add(*v));
    let mean = total.value() / count;
    let mut squares = CompensatedSum::default();
    values.iter().for_each(|v| squares.add((v - mean) * (v - mean)));
    // Below two values there is no spread to measure, so no sd, se or interval.
    let sd = (values.len() > 1).then(|| (squares.value() / (count - 1.0)).sqrt());
    let se = sd.map(|sd| sd / count.sqrt());
    let interval = se.map(|se| t_interval(mean, se, values.len() - 1));
    let mut sorted = values.to_vec();
    sorted.sort_unstable_by(f64::total_cmp);
    Some(Summary {
        mean,
        se,
        low: interval.map(|i| i.0),
        high: interval.map(|i| i.1),
        sd,
        min: sorted[0],
        max: sorted[sorted.len() - 1],
        q05: quantile(&sorted, 0.05),
        q25: quantile(&sorted, 0.25),
        q50: quantile(&sorted, 0.50),
        q75: quantile(&sorted, 0.75),
        q95: quantile(&sorted, 0.95),
        controlled: None,
    })
}

/// A mean estimated with a control variate whose own mean is known to be zero
/// (docs/control-variates.md: the active-weight martingale).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Controlled {
    /// Ȳ − β̂ M̄.
    pub mean: f64,
    /// The regression's standard error of its fit at M = 0:
    /// s · sqrt(1/U + M̄² / Σ (M − M̄)²), s² the residual variance (divisor U − 2).
    pub se: f64,
    /// The 95 % interval mean -/+ t(0.975, U − 2) se; null for a difference that
    /// rounding explains (a tie).
    pub low: Option<f64>,
    pub high: Option<f64>,
    /// β̂ = Σ (Y − Ȳ)(M − M̄) / Σ (M − M̄)².
    pub beta: f64,
    /// The variance of the plain mean over that of the controlled one, se² / se_c²:
    /// how many times fewer units the controlled estimate needs for the same precision.
    pub variance_ratio: f64,
}

/// The controlled estimate of the mean of `values` with `controls` (one each per
/// independent unit U: a path, or an antithetic pair's mean), by regression on the
/// control; `None` below three units (the residual has U − 2 degrees of freedom).
/// The estimate is the regression's fitted value at M = 0 (the control's known mean),
/// and its standard error the regression's own there, which carries the uncertainty of
/// β̂ through M̄ (negligible from a few hundred units, not at three to ten).
/// A control that does not vary carries no information: β̂ = 0 and the plain mean,
/// standard error and interval come back, with a variance ratio of 1. Two passes about
/// the means, as in [`summarize`], so a large common offset costs no accuracy; the units
/// are summed in the order given, so the same units give the same figures bit for bit.
pub fn controlled_mean(values: &[f64], controls: &[f64]) -> Option<Controlled> {
    assert_eq!(values.len(), controls.len(), "one control per value");
    let units = values.len();
    if units < 3 {
        return None;
    }
    let count = units as f64;
    let mean_of = |xs: &[f64]| {
        let mut total = CompensatedSum::default();
        xs.iter().for_each(|x| total.add(*x));
        total.value() / count
    };
    let (value_mean, control_mean) = (mean_of(values), mean_of(controls));
    let (mut value_squares, mut control_squares, mut products) =
        (CompensatedSum::default(), CompensatedSum::default(), CompensatedSum::default());
    for (value, control) in values.iter().zip(controls) {
        let (dy, dm) = (value - value_mean, control - control_mean);
        value_squares.add(dy * dy);
        control_squares.add(dm * dm);
        products.add(dy * dm);
    }
    let plain_se = (value_squares.value() / (count - 1.0) / count).sqrt();
    if control_squares.value() <= 0.0 {
        let (low, high) = t_interval(value_mean, plain_se, units - 1);
        return Some(Controlled {
            mean: value_mean,
            se: plain_se,
            low: Some(low),
            high: Some(high),
            beta: 0.0,
            variance_ratio: 1.0,
        });
    }
    let beta = products.value() / control_squares.value();
    let mut residual_squares = CompensatedSum::default();
    for (value, control) in values.iter().zip(controls) {
        let residual = (value - value_mean) - beta * (control - control_mean);
        residual_squares.add(residual * residual);
    }
    let residual_variance = residual_squares.value() / (count - 2.0);
    let se = (residual_variance * (1.0 / count + control_mean * control_mean / control_squares.value())).sqrt();
    let variance_ratio = if se > 0.0 { (plain_se / se).powi(2) } else { f64::INFINITY };
    let mean = value_mean - beta * control_mean;
    let (low, high) = t_interval(mean, se, units - 2);
    Some(Controlled { mean, se, low: Some(low), high: Some(high), beta, variance_ratio })
}

impl Controlled {
    /// The same estimate with no interval (a tie).
    pub fn without_interval(self) -> Controlled {
        Controlled { low: None, high: None, ..self }
    }
}

/// The share of successes with its 95 % Wilson score interval.
pub fn wilson_interval(successes: u64, trials: u64) -> Proportion {
    if trials == 0 {
        return Proportion { estimate: 0.0, low: 0.0, high: 1.0 };
    }
    let n = trials as f64;
    let p = successes as f64 / n;
    let (low, high) = wilson_bounds(p, n);
    Proportion { estimate: p, low, high }
}

/// The 95 % Wilson score bounds of a share `p` of `n` trials.
fn wilson_bounds(p: f64, n: f64) -> (f64, f64) {
    let z2 = Z_95 * Z_95;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half_width = Z_95 / (1.0 + z2 / n) * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    // (At p = 0 the low bound is 0 to about 1e-19, at p = 1 the high bound 1 to 2e-16:
    // kept as computed, so that earlier runs' summaries reproduce exactly.)
    ((centre - half_width).max(0.0), (centre + half_width).min(1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_controlled_mean_follows_its_definition() {
        // Y = 2 + 3 M + e with e of mean zero and orthogonal to M: β̂ = 3 exactly, the
        // residual is 2 + e, SS_res = Σ e² = 6, SS_Y = 24 (Ȳ = 2).
        let controls = [-1.0, 0.0, 1.0, 0.0];
        let noise = [1.0, -2.0, 1.0, 0.0];
        let values: Vec<f64> = controls.iter().zip(noise).map(|(m, e)| 2.0 + 3.0 * m + e).collect();
        let c = controlled_mean(&values, &controls).unwrap();
        assert!((c.beta - 3.0).abs() < 1e-15, "{c:?}");
        assert!((c.mean - 2.0).abs() < 1e-15);
        // sd of the residual sqrt(6 / (4 - 2)), over sqrt(4).
        assert!((c.se - 3f64.sqrt() / 2.0).abs() < 1e-15);
        // Plain se sqrt(24 / 3) / 2: variance ratio 8 / 3.
        assert!((c.variance_ratio - 8.0 / 3.0).abs() < 1e-14);
        // The control's known mean is zero: a control whose sample mean is not moves
        // the estimate by β̂ times it.
        let shifted: Vec<f64> = controls.iter().map(|m| m + 0.5).collect();
        let c = controlled_mean(&values, &shifted).unwrap();
        assert!((c.mean - (2.0 - 3.0 * 0.5)).abs() < 1e-15 && (c.beta - 3.0).abs() < 1e-15);
        // A control that does not vary: the plain figures.
        let c = controlled_mean(&values, &[0.7; 4]).unwrap();
        let plain = summarize(&values).unwrap();
        assert_eq!((c.mean, Some(c.se), c.beta, c.variance_ratio), (plain.mean, plain.se, 0.0, 1.0));
        assert_eq!((c.low, c.high), (plain.low, plain.high));
        assert!(controlled_mean(&[1.0, 2.0], &[0.0, 1.0]).is_none());
    }

    #[test]
    fn the_controlled_standard_error_is_the_regressions_at_a_control_of_zero() {
        // Y = 2 + 3 M + e on M = (0, 1, 2, 3), e = (1, -1, -1, 1): M̄ = 1.5, Σ (M − M̄)² = 5,
        // β̂ = 3 (e is orthogonal to M), residual sum of squares 4 over U − 2 = 2, so
        // s² = 2 and se = sqrt(2 (1/4 + 1.5² / 5)) = sqrt(1.4); the fitted value at
        // M = 0 is Ȳ − β̂ M̄ = 6.5 − 4.5 = 2, and the interval uses t(0.975, 2).
        let controls = [0.0, 1.0, 2.0, 3.0];
        let values: Vec<f64> = controls.iter().zip([1.0, -1.0, -1.0, 1.0]).map(|(m, e)| 2.0 + 3.0 * m + e).collect();
        let c = controlled_mean(&values, &controls).unwrap();
        assert!((c.beta - 3.0).abs() < 1e-14 && (c.mean - 2.0).abs() < 1e-14, "{c:?}");
        assert!((c.se - 1.4f64.sqrt()).abs() < 1e-14, "{c:?}");
        // Without the M̄² term the se would be sqrt(2 / 4) = 0.707: far too small here.
        let (low, high) = (c.low.unwrap(), c.high.unwrap());
        assert!((high - c.mean - 4.302_652_730 * 1.4f64.sqrt()).abs() < 1e-8, "{c:?}");
        assert!((c.mean - low - (high - c.mean)).abs() < 1e-14);
    }

    #[test]
    fn t_quantiles_match_the_tables() {
        // scipy.stats.t.ppf(0.975, df) for df = 1, 2, 3, 10, 100; the normal's in the limit.
        // Both methods at the seam (1,000 and 1,001: 1.962339081 and 1.962336705), and
        // beyond it (scipy: 1.960201240 at 10,000, 1.959966357 at a million).
        let table = [
            (1, 12.706_204_736),
            (2, 4.302_652_730),
            (3, 3.182_446_305),
            (10, 2.228_138_852),
            (100, 1.983_971_519),
            (1000, 1.962_339_081),
            (1001, 1.962_336_705),
            (10_000, 1.960_201_240),
            (1_000_000, 1.959_966_357),
        ];
        for (df, t) in table {
            assert!((t_95(df) - t).abs() < 1e-8, "df {df}: {} vs {t}", t_95(df));
        }
        // Always above the normal quantile, and down to it in the limit.
        assert!(t_95(100_000_000) > Z_95 && t_95(100_000_000) - Z_95 < 1e-7);
    }

    #[test]
    fn the_controlled_mean_removes_the_variance_its_control_explains() {
        // Y = 1 + Z + 0.1 W, M = Z, with Z and W independent standard normals (Philox,
        // seed 7, 20,000 units): var(Y) / var(Y | M) = 1.01 / 0.01 = 101. The estimated
        // ratio's relative standard error is about sqrt(2 / 20,000) = 1 %; the band of
        // 5 % is five of them. The controlled mean is within 4 of its se of 1, and its
        // se is near 0.1 / sqrt(20,000).
        let units = 20_000u32;
        let (mut values, mut controls) = (Vec::new(), Vec::new());
        for unit in 0..units {
            let [z, w, _, _] = crate::numeric::philox::normals4(7, unit, 0, 0);
            values.push(1.0 + z + 0.1 * w);
            controls.push(z);
        }
        let c = controlled_mean(&values, &controls).unwrap();
        assert!((c.variance_ratio / 101.0 - 1.0).abs() < 0.05, "{c:?}");
        assert!((c.mean - 1.0).abs() < 4.0 * c.se, "{c:?}");
        let expected_se = 0.1 / (units as f64).sqrt();
        assert!((c.se / expected_se - 1.0).abs() < 0.05, "{c:?}");
        assert!((c.beta - 1.0).abs() < 0.01, "{c:?}");
    }

    #[test]
    fn quantiles_match_numpy() {
        // numpy.quantile(range(1, 11), [.05, .25, .5, .75, .95]) = 1.45, 3.25, 5.5, 7.75, 9.55
        let values: Vec<f64> = (1..=10).map(f64::from).collect();
        let s = summarize(&values).unwrap();
        for (got, want) in [(s.q05, 1.45), (s.q25, 3.25), (s.q50, 5.5), (s.q75, 7.75), (s.q95, 9.55)] {
            assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        }
        // numpy.quantile([3, 1, 4, 1, 5], [.05, .25, .5, .75, .95]) = 1, 1, 3, 4, 4.8
        let s = summarize(&[3.0, 1.0, 4.0, 1.0, 5.0]).unwrap();
        assert_eq!((s.q05, s.q25, s.q50, s.q75), (1.0, 1.0, 3.0, 4.0));
        assert!((s.q95 - 4.8).abs() < 1e-12);
        assert_eq!((s.min, s.max), (1.0, 5.0));
    }

    #[test]
    fn moments_follow_their_definitions() {
        let s = summarize(&[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]).unwrap();
        assert_eq!(s.mean, 5.0);
        let sd = (32.0f64 / 7.0).sqrt();
        assert!((s.sd.unwrap() - sd).abs() < 1e-14);
        let se = sd / 8f64.sqrt();
        assert!((s.se.unwrap() - se).abs() < 1e-14);
        // The interval is Student's: t(0.975, 7) = 2.364624252 (scipy.stats.t.ppf).
        assert!((s.low.unwrap() - (5.0 - 2.364_624_252 * se)).abs() < 1e-8, "{s:?}");
        assert!((s.high.unwrap() - (5.0 + 2.364_624_252 * se)).abs() < 1e-8, "{s:?}");
        // One value: a mean and its quantiles, but no spread, so no sd, se or interval.
        let single = summarize(&[3.5]).unwrap();
        assert_eq!((single.sd, single.se, single.low, single.high), (None, None, None, None));
        assert_eq!((single.mean, single.q05, single.q95), (3.5, 3.5, 3.5));
        assert!(summarize(&[]).is_none());
    }

    #[test]
    fn variance_survives_a_large_offset() {
        // 1e9 + (+1, -1, +1, -1, ...): the sd of the noise is exactly sqrt(n / (n - 1)).
        let n = 1_000_000;
        let values: Vec<f64> = (0..n).map(|i| 1e9 + if i % 2 == 0 { 1.0 } else { -1.0 }).collect();
        let s = summarize(&values).unwrap();
        let expected = (n as f64 / (n as f64 - 1.0)).sqrt();
        assert!((s.sd.unwrap() - expected).abs() < 1e-6 * expected, "{:?}", s.sd);
        // Irregular noise in [-1, 1]: v - 1e9 is exact (Sterbenz), so the sd of the
        // recovered noise is the reference, as is 1/sqrt(3) for uniform noise.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let noise: Vec<f64> = (0..n)
            .map(|_| {
                state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                (state >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
            })
            .collect();
        let shifted: Vec<f64> = noise.iter().map(|e| 1e9 + e).collect();
        let exact: Vec<f64> = shifted.iter().map(|v| v - 1e9).collect();
        let (s, reference) = (summarize(&shifted).unwrap(), summarize(&exact).unwrap());
        let (sd, reference_sd) = (s.sd.unwrap(), reference.sd.unwrap());
        assert!((sd - reference_sd).abs() < 1e-6 * reference_sd, "{sd} vs {reference_sd}");
        assert!((s.mean - 1e9 - reference.mean).abs() < 1e-6);
        assert!((reference_sd - 3f64.sqrt().recip()).abs() < 1e-2);
        // A mean tiny relative to the spread: the same noise plus 1e-7.
        let tiny: Vec<f64> = noise.iter().map(|e| e + 1e-7).collect();
        let t = summarize(&tiny).unwrap();
        let direct = noise.iter().sum::<f64>() / n as f64 + 1e-7;
        assert!((t.mean - direct).abs() < 1e-12, "{} vs {}", t.mean, direct);
        assert!((t.sd.unwrap() - summarize(&noise).unwrap().sd.unwrap()).abs() < 1e-12);
    }

    #[test]
    fn wilson_interval_matches_a_hand_computation() {
        // 81 of 263: p = 0.30798; Wilson 95 % interval [0.255289, 0.366210]
        // (the literature's 0.2553..0.3662; closed form in python3: 0.25528852, 0.36620958).
        let p = wilson_interval(81, 263);
        assert!((p.estimate - 81.0 / 263.0).abs() < 1e-15);
        assert!((p.low - 0.255_289).abs() < 1e-6, "{}", p.low);
        assert!((p.high - 0.366_210).abs() < 1e-6, "{}", p.high);
        for (wins, trials) in [(0, 50), (50, 50), (0, 1)] {
            let p = wilson_interval(wins, trials);
            assert!(p.low >= 0.0 && p.high <= 1.0 && p.low <= p.estimate && p.estimate <= p.high);
        }
        assert!(wilson_interval(0, 50).high > 0.0);
        assert!(wilson_interval(50, 50).low < 1.0);
        // The bound at the edge is the edge to rounding.
        assert!(wilson_interval(0, 512).low < 1e-15 && wilson_interval(512, 512).high > 1.0 - 1e-15);
    }

    #[test]
    fn p_outperform_counts_strict_wins() {
        let p = Estimation::PLAIN.p_outperform(&[0.1, -0.2, 0.0, 0.3]);
        assert_eq!(p.estimate, 0.5);
        assert_eq!(p, wilson_interval(2, 4));
    }

    #[test]
    fn antithetic_pairs_are_the_units_of_se_and_intervals_but_not_of_sd_or_quantiles() {
        // Pairs (1, 3), (2, 8), (-1, 5): pair means 2, 5, 2.
        let values = [1.0, 3.0, 2.0, 8.0, -1.0, 5.0];
        let pairs = Estimation { units: Units::AntitheticPairs, controlled: false };
        let paired = pairs.summary(&values);
        let plain = Estimation::PLAIN.summary(&values);
        assert_eq!((paired.mean, paired.sd, paired.q50, paired.min), (plain.mean, plain.sd, plain.q50, plain.min));
        // sd of (2, 5, 2) is sqrt(3), over sqrt(3) pairs.
        assert!((paired.se.unwrap() - 1.0).abs() < 1e-15, "{:?}", paired.se);
        assert!((plain.se.unwrap() - plain.sd.unwrap() / 6f64.sqrt()).abs() < 1e-15);
        // The pairs' interval has pairs - 1 = 2 degrees of freedom: t(0.975, 2) = 4.302652730.
        assert!((paired.high.unwrap() - paired.mean - 4.302_652_730).abs() < 1e-8, "{paired:?}");
        // One pair: a mean, an sd over its two paths, no se or interval.
        let one = pairs.summary(&values[..2]);
        assert_eq!((one.se, one.low, one.high), (None, None, None));
        assert!(one.sd.is_some());
        // 4 of 6 paths win; the interval is Wilson's for a share of 4/6 of 3 trials.
        let share = pairs.p_outperform(&values[..]);
        let (low, high) = wilson_bounds(4.0 / 6.0, 3.0);
        assert_eq!((share.estimate, share.low, share.high), (5.0 / 6.0, share.low, share.high));
        let wins = pairs.share(4, 6);
        assert_eq!((wins.estimate, wins.low, wins.high), (4.0 / 6.0, low, high));
        assert!(wins.high - wins.low > wilson_interval(4, 6).high - wilson_interval(4, 6).low);
        // The controlled estimate regresses pair means on pair means of the control.
        let controls = [0.5, -0.5, 1.0, 2.0, 0.0, -2.0];
        let controlled = Estimation { units: Units::AntitheticPairs, controlled: true };
        let with = controlled.summary_with_control(&values, &controls).controlled.unwrap();
        assert_eq!(with, controlled_mean(&[2.0, 5.0, 2.0], &[0.0, 1.5, -1.0]).unwrap());
        assert!(pairs.summary_with_control(&values, &controls).controlled.is_none(), "off: no key");
    }
}
