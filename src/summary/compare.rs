//! Comparisons between strategies on the same paths, and the break-even cost.
//!
//! * A paired comparison of strategies A and B (docs/statistics.md: paired differences
//!   use the same definitions on the per-path differences) summarises, over paths,
//!   L_A - L_B (relative log returns) and IR_A - IR_B: mean, standard error and the
//!   95 % Student-t interval (none below two units); and the share of paths where A's
//!   relative log return is strictly larger, with its Wilson interval. The market enters
//!   as a strategy with L = 0 and IR = 0 on every path (it has no active return).
//!   A pair whose every path differs by no more than rounding (`Rounding`) is a tie:
//!   no interval, share or IR difference is claimed for it, and the ranking says '='.
//! * The break-even cost of a strategy is the proportional cost c (in basis points of
//!   traded value) at which its mean relative log return is zero. Rebalancing trades
//!   the same weights whatever c is (costs scale every holding alike), so on each path
//!   L(c) = L_gross + sum_r log(1 - c t_r), with t_r = sum_i |w_after - w_before| at
//!   rebalance r. To second order, mean L(c) = g - c b - c^2 a with g = mean L_gross,
//!   b = mean sum_r t_r, a = mean sum_r t_r^2 / 2; its positive root is
//!   c* = 2 g / (b + sqrt(b^2 + 4 a g)); the neglected terms are (c t_r)^3 / 3 per
//!   rebalance, far below a basis point of c* for any cost the scenario file accepts.

use serde::Serialize;

use crate::engine::PathStatistics;
use crate::summary::results::Results;
use crate::summary::stats::{controlled_mean, Controlled, Estimation, Proportion, Rounding};

pub use crate::summary::results::{INDEX, MARKET};

/// Costs at or above this (the scenario file's limit) are not reported as break-even.
pub const MAX_COST_BPS: f64 = 5_000.0;

/// Mean, standard error and 95 % interval of a per-path difference; with a control,
/// also its controlled estimate (docs/control-variates.md: the control of A - B is M_A - M_B).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct PairedDifference {
    pub mean: f64,
    /// Null below two units.
    pub se: Option<f64>,
    /// The 95 % Student-t interval; null below two units and for a tie.
    pub low: Option<f64>,
    pub high: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub controlled: Option<Controlled>,
}

impl PairedDifference {
    /// The plain figures of `differences` (se over the estimation's units).
    pub fn of(differences: &[f64], estimation: Estimation) -> PairedDifference {
        let summary = estimation.summary(differences);
        PairedDifference { mean: summary.mean, se: summary.se, low: summary.low, high: summary.high, controlled: None }
    }

    /// The same figures with no interval: a difference that rounding explains.
    pub fn without_interval(mut self) -> PairedDifference {
        (self.low, self.high) = (None, None);
        self.controlled = self.controlled.map(Controlled::without_interval);
        self
    }

    /// As [`PairedDifference::of`], with the controlled estimate when the estimation has
    /// one: `controls` holds each path's M_A - M_B.
    pub fn controlled(differences: &[f64], controls: &[f64], estimation: Estimation) -> PairedDifference {
        let mut difference = PairedDifference::of(differences, estimation);
        if estimation.controlled {
            let units = estimation.units;
            difference.controlled = controlled_mean(&units.means(differences), &units.means(controls));
        }
        difference
    }

    /// Whether the 95 % interval excludes zero: the controlled one when there is one;
    /// never without an interval.
    pub fn is_significant(&self) -> bool {
        let (low, high) = match self.controlled {
            Some(c) => (c.low, c.high),
            None => (self.low, self.high),
        };
        matches!((low, high), (Some(low), Some(high)) if low > 0.0 || high < 0.0)
    }
}

/// Strategy `first` against strategy `second` (or the market) on the same paths.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    pub first: String,
    pub second: String,
    /// Whether every path's difference is within rounding: the two are the same
    /// portfolio as far as the arithmetic can tell.
    pub tie: bool,
    /// L_first - L_second per path.
    pub relative_log_return: PairedDifference,
    /// IR_first - IR_second per path, over the paths where both are defined; null for a
    /// tie or where no path has both.
    pub information_ratio: Option<PairedDifference>,
    /// The share of paths with L_first > L_second; null for a tie.
    pub first_wins: Option<Proportion>,
}

/// Per path (relative log return, information ratio where defined, control M) of a
/// strategy, or of the market (zero, its IR too: it is its own benchmark).
fn per_path(results: &Results, strategy: Option<usize>, rounding: Rounding) -> Vec<(f64, Option<f64>, f64)> {
    match strategy {
        Some(index) => results.per_path[index]
            .iter()
            .map(|p| (p.relative_log_return, rounding.information_ratio(p), p.control_term))
            .collect(),
        None => vec![(0.0, Some(0.0), 0.0); results.paths()],
    }
}

fn compare(
    results: &Results,
    (first, second): (usize, Option<usize>),
    estimation: Estimation,
    rounding: Rounding,
) -> Comparison {
    let a = per_path(results, Some(first), rounding);
    let b = per_path(results, second, rounding);
    let relative: Vec<f64> = a.iter().zip(&b).map(|(a, b)| a.0 - b.0).collect();
    let controls: Vec<f64> = a.iter().zip(&b).map(|(a, b)| a.2 - b.2).collect();
    let tie = a.iter().zip(&b).all(|(a, b)| rounding.is_tie(a.0, b.0));
    let mut relative_log_return = PairedDifference::controlled(&relative, &controls, estimation);
    let (information_ratio, first_wins) = if tie {
        relative_log_return = relative_log_return.without_interval();
        (None, None)
    } else {
        let information: Vec<f64> = a.iter().zip(&b).filter_map(|(a, b)| Some(a.1? - b.1?)).collect();
        // Paths without an IR break antithetic pairs: the rest count as paths.
        let units = if information.len() == relative.len() { estimation } else { Estimation::PLAIN };
        let wins = relative.iter().filter(|d| **d > 0.0).count();
        let information_ratio = (!information.is_empty()).then(|| PairedDifference::of(&information, units));
        (information_ratio, Some(estimation.share(wins, relative.len())))
    };
    Comparison {
        first: results.strategy_names[first].clone(),
        second: second.map_or(results.benchmark_name().to_string(), |s| results.strategy_names[s].clone()),
        tie,
        relative_log_return,
        information_ratio,
        first_wins,
    }
}

/// Every pair of strategies in scenario order (first before second), then each
/// strategy against the market.
pub fn comparisons(results: &Results, estimation: Estimation, rounding: Rounding) -> Vec<Comparison> {
    let count = results.strategy_names.len();
    let mut out = Vec::with_capacity(count * (count + 1) / 2);
    for first in 0..count {
        for second in first + 1..count {
            out.push(compare(results, (first, Some(second)), estimation, rounding));
        }
    }
    for first in 0..count {
        out.push(compare(results, (first, None), estimation, rounding));
    }
    out
}

/// The break-even cost in basis points (see the module comment); `None` when the
/// strategy never trades, is not ahead of the market before costs, or stays ahead
/// beyond [`MAX_COST_BPS`].
pub fn break_even_cost_bps(paths: &[PathStatistics]) -> Option<f64> {
    let count = paths.len() as f64;
    let gross = paths.iter().map(PathStatistics::gross_relative_log_return).sum::<f64>() / count;
    let traded = paths.iter().map(|p| p.traded).sum::<f64>() / count;
    let half_squares = paths.iter().map(|p| p.traded_squares).sum::<f64>() / count / 2.0;
    if !(gross > 0.0 && traded > 0.0) {
        return None;
    }
    let cost = 2.0 * gross / (traded + (traded * traded + 4.0 * half_squares * gross).sqrt());
    let bps = cost * 1e4;
    (bps < MAX_COST_BPS).then_some(bps)
}

/// Names from best to worst mean relative log return (the benchmark `benchmark` at 0),
/// each joined to the next by "=" when the two differ by rounding only on every path,
/// ">" when their paired difference is significant at 95 % and "~" when not.
pub fn ranking(names: &[String], means: &[f64], benchmark: &str, comparisons: &[Comparison]) -> String {
    let mut entries: Vec<(&str, f64)> = names.iter().map(String::as_str).zip(means.iter().copied()).collect();
    entries.push((benchmark, 0.0));
    entries.sort_by(|a, b| b.1.total_cmp(&a.1));
    let mut out = entries[0].0.to_string();
    for pair in entries.windows(2) {
        let (upper, lower) = (pair[0].0, pair[1].0);
        let comparison = comparisons
            .iter()
            .find(|c| (c.first == upper && c.second == lower) || (c.first == lower && c.second == upper));
        out.push_str(match comparison {
            Some(c) if c.tie => " = ",
            Some(c) if c.relative_log_return.is_significant() => " > ",
            _ => " ~ ",
        });
        out.push_str(lower);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(relative: f64, information: f64, cost_term: f64, traded: f64, traded_squares: f64) -> PathStatistics {
        PathStatistics {
            relative_log_return: relative,
            information_ratio: information,
            cost_term,
            traded,
            traded_squares,
            ..PathStatistics::default()
        }
    }

    #[test]
    fn paired_differences_follow_their_definitions() {
        let d = PairedDifference::of(&[0.1, 0.3, 0.2, 0.4], Estimation::PLAIN);
        let sd = ((0.15f64.powi(2) + 0.05f64.powi(2)) * 2.0 / 3.0).sqrt();
        assert!((d.mean - 0.25).abs() < 1e-15 && (d.se.unwrap() - sd / 2.0).abs() < 1e-15);
        // Student's t with 3 degrees of freedom: 3.182446305.
        assert!((d.low.unwrap() - (0.25 - 3.182_446_305 * sd / 2.0)).abs() < 1e-9 && d.is_significant());
        // One difference: no interval, so nothing is significant.
        let one = PairedDifference::of(&[0.5], Estimation::PLAIN);
        assert_eq!((one.se, one.low, one.high), (None, None, None));
        assert!(!one.is_significant());
        assert!(!PairedDifference::of(&[0.1, -0.1, 0.2, -0.2], Estimation::PLAIN).is_significant());
        // The same differences, nearly all explained by a control: the controlled
        // interval excludes zero where the plain one does not.
        let controlled = Estimation { controlled: true, ..Estimation::PLAIN };
        let d = PairedDifference::controlled(&[0.11, -0.09, 0.21, -0.19], &[0.1, -0.1, 0.2, -0.2], controlled);
        assert!(d.low.unwrap() < 0.0 && d.high.unwrap() > 0.0, "plain: not significant");
        let c = d.controlled.unwrap();
        assert!((c.mean - 0.01).abs() < 1e-12 && (c.beta - 1.0).abs() < 1e-12, "{c:?}");
        assert!(d.is_significant(), "controlled: significant");
    }

    #[test]
    fn break_even_solves_the_second_order_cost_equation() {
        // One path, gross 0.02, two rebalances trading 0.5 and 0.3: the exact cost term
        // log(1 - 0.5 c) + log(1 - 0.3 c) is -0.02 at the break-even cost.
        let paths = [path(0.02, 0.0, 0.0, 0.8, 0.34)];
        let bps = break_even_cost_bps(&paths).unwrap();
        let c = bps * 1e-4;
        let exact = 0.02 + (1.0 - 0.5 * c).ln() + (1.0 - 0.3 * c).ln();
        // Third-order terms: (0.5 c)^3 / 3 + (0.3 c)^3 / 3 = 7.8e-7 at c = 249 bp, which
        // moves the root by 1e-6 (0.01 bp).
        assert!(exact.abs() < 1e-6, "{bps} bp leaves {exact}");
        // First order alone (g / b = 250 bp) would miss by more than a basis point.
        assert!((bps - 250.0).abs() > 1.0);
        // Costs already paid are added back: the same path net of a cost term.
        let net = [path(0.02 - 0.001, 0.0, -0.001, 0.8, 0.34)];
        assert!((break_even_cost_bps(&net).unwrap() - bps).abs() < 1e-12);
        assert_eq!(break_even_cost_bps(&[path(-0.01, 0.0, 0.0, 0.8, 0.34)]), None, "behind before costs");
        assert_eq!(break_even_cost_bps(&[path(0.01, 0.0, 0.0, 0.0, 0.0)]), None, "never trades");
    }

    #[test]
    fn the_ranking_marks_significant_steps() {
        let names = vec!["a".to_string(), "b".to_string()];
        let significant =
            PairedDifference { mean: 1.0, se: Some(0.1), low: Some(0.8), high: Some(1.2), controlled: None };
        let not = PairedDifference { mean: 0.1, se: Some(0.1), low: Some(-0.1), high: Some(0.3), controlled: None };
        let comparison = |first: &str, second: &str, d: PairedDifference, tie: bool| Comparison {
            first: first.into(),
            second: second.into(),
            tie,
            relative_log_return: d,
            information_ratio: Some(d),
            first_wins: Some(Proportion { estimate: 0.5, low: 0.4, high: 0.6 }),
        };
        let comparisons = [
            comparison("a", "b", significant, false),
            comparison("a", MARKET, significant, false),
            comparison("b", MARKET, not, false),
        ];
        assert_eq!(ranking(&names, &[0.3, 0.01], MARKET, &comparisons), "a > b ~ market");
        assert_eq!(ranking(&names, &[-0.3, 0.01], MARKET, &comparisons), "b ~ market > a");
        // A tie is '=', whatever its interval says.
        let tied = [
            comparisons[0].clone(),
            comparisons[1].clone(),
            comparison("b", MARKET, significant.without_interval(), true),
        ];
        assert_eq!(ranking(&names, &[0.3, 1e-15], MARKET, &tied), "a > b = market");
    }
}
