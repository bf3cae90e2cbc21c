//! A strategy entry checked into a [`Strategy`]: every parameter of every weighting,
//! against the validated market (the max-growth problem is built here, once per run).

use std::sync::Arc;

use crate::market::gbm::GbmNoise;
use crate::market::Market;
use crate::numeric::shrinkage::Shrinkage;
use crate::portfolio::optimize::{CovarianceBelief, MaxGrowthProblem, TrailingEstimate};
use crate::portfolio::spec::{Estimate, ShrinkageSpec, StrategySpec, WeightingKind};
use crate::portfolio::{Strategy, Weighting};
use crate::problems::{invalid, Problems, ScenarioError};

/// Longest strategy name, in characters (names are table labels and JSON keys).
pub const MAX_NAME_CHARS: usize = 64;
/// Smallest |p| of a diversity weighting: log G = log(sum mu^p) / p grows as 1/p, and
/// below this f32 keeps too few of its digits (use weighting = "equal", the limit p -> 0).
pub const MIN_DIVERSITY_P: f64 = 1e-3;
/// Most negative p of a diversity weighting: mu^p of a small stock overflows f32 beyond it.
pub const MOST_NEGATIVE_DIVERSITY_P: f64 = -100.0;

impl Weighting {
    /// The weighting of a strategy entry, with its parameters checked.
    pub fn from_spec(
        spec: &StrategySpec,
        market: &Market,
        steps_per_year: u32,
        field: &str,
    ) -> Result<Weighting, ScenarioError> {
        let n = market.n();
        let takes_p = matches!(spec.weighting, WeightingKind::Diversity | WeightingKind::TopK);
        let takes_budget = spec.weighting == WeightingKind::MaxGrowth;
        let mut problems = Problems::default();
        for (name, present, allowed, who) in [
            ("te_budget", spec.te_budget.is_some(), takes_budget, "the \"max_growth\" weighting takes"),
            ("use_growth", spec.use_growth.is_some(), takes_budget, "the \"max_growth\" weighting takes"),
            ("max_active", spec.max_active.is_some(), takes_budget, "the \"max_growth\" weighting takes"),
            ("max_turnover", spec.max_turnover.is_some(), takes_budget, "the \"max_growth\" weighting takes"),
            ("estimate", spec.estimate.is_some(), takes_budget, "the \"max_growth\" weighting takes"),
            ("lookback", spec.lookback.is_some(), takes_budget, "the \"max_growth\" weighting takes"),
            ("shrinkage", spec.shrinkage.is_some(), takes_budget, "the \"max_growth\" weighting takes"),
            ("k", spec.k.is_some(), spec.weighting == WeightingKind::TopK, "the \"top_k\" weighting takes"),
            ("buffer", spec.buffer.is_some(), spec.weighting == WeightingKind::TopK, "the \"top_k\" weighting takes"),
            ("cap", spec.cap.is_some(), spec.weighting == WeightingKind::Capped, "the \"capped\" weighting takes"),
            ("p", spec.p.is_some(), takes_p, "the \"diversity\" and \"top_k\" weightings take"),
            (
                "weights",
                spec.weights.is_some(),
                spec.weighting == WeightingKind::Constant,
                "the \"constant\" weighting takes",
            ),
        ] {
            if present && !allowed {
                problems.push(invalid(format!("{field}.{name}"), format!("only {who} {name}")));
            }
        }
        problems.into_result(|| ())?;
        Ok(match spec.weighting {
            WeightingKind::Market => Weighting::Market,
            WeightingKind::Equal => Weighting::Equal,
            WeightingKind::Entropy => Weighting::Entropy,
            WeightingKind::Diversity => {
                let p = spec.p.ok_or_else(|| invalid(format!("{field}.p"), "the diversity weighting needs p"))?;
                if !(p.is_finite() && p < 1.0 && p != 0.0) {
                    return Err(invalid(format!("{field}.p"), format!("must be below 1 and not 0, got {p}")));
                }
                if p.abs() < MIN_DIVERSITY_P || p < MOST_NEGATIVE_DIVERSITY_P {
                    return Err(invalid(
                        format!("{field}.p"),
                        format!(
                            "{p:?} is outside [{MOST_NEGATIVE_DIVERSITY_P}, -{MIN_DIVERSITY_P}] and \
                             [{MIN_DIVERSITY_P}, 1): log G = log(sum mu^p)/p loses its digits as p nears 0 \
                             (weighting = \"equal\" is the limit), and mu^p overflows for very negative p"
                        ),
                    ));
                }
                Weighting::Diversity { p }
            }
            WeightingKind::Constant => {
                let weights = spec
                    .weights
                    .as_ref()
                    .ok_or_else(|| invalid(format!("{field}.weights"), "the constant weighting needs weights"))?;
                if weights.len() != n {
                    return Err(invalid(
                        format!("{field}.weights"),
                        format!("has {} values, expected n = {n}", weights.len()),
                    ));
                }
                for (i, w) in weights.iter().enumerate() {
                    if !(w.is_finite() && *w >= 0.0) {
                        return Err(invalid(format!("{field}.weights[{i}]"), format!("must be >= 0, got {w}")));
                    }
                }
                let total: f64 = weights.iter().sum();
                if (total - 1.0).abs() > 1e-6 {
                    return Err(invalid(format!("{field}.weights"), format!("must sum to 1, they sum to {total}")));
                }
                Weighting::Constant { weights: weights.iter().map(|w| w / total).collect() }
            }
            WeightingKind::Capped => {
                let cap = spec.cap.ok_or_else(|| invalid(format!("{field}.cap"), "the capped weighting needs cap"))?;
                // n stocks at the cap must hold everything: cap >= 1/n (tolerating rounding in 1/n).
                if !(cap.is_finite() && cap <= 1.0 && cap * n as f64 >= 1.0 - 1e-12) {
                    return Err(invalid(
                        format!("{field}.cap"),
                        format!(
                            "must be in [1/n, 1] = [{:.6}, 1] so that the weights can sum to one, got {cap}",
                            1.0 / n as f64
                        ),
                    ));
                }
                Weighting::Capped { cap }
            }
            WeightingKind::TopK => {
                let k = spec.k.ok_or_else(|| invalid(format!("{field}.k"), "the top_k weighting needs k"))?;
                if !(1..=n).contains(&k) {
                    return Err(invalid(format!("{field}.k"), format!("must be between 1 and n = {n}, got {k}")));
                }
                let buffer = spec.buffer.unwrap_or(0);
                if buffer > n {
                    return Err(invalid(format!("{field}.buffer"), format!("must be at most n = {n}, got {buffer}")));
                }
                // p = 1 weights the k stocks by cap; p < 1 tilts toward the smaller ones.
                let p = spec.p.unwrap_or(1.0);
                if !(p.is_finite() && p <= 1.0 && p != 0.0) {
                    return Err(invalid(format!("{field}.p"), format!("must be at most 1 and not 0, got {p}")));
                }
                Weighting::TopK { k, buffer, p }
            }
            WeightingKind::MaxGrowth => {
                let te_budget = spec.te_budget.ok_or_else(|| {
                    invalid(format!("{field}.te_budget"), "max_growth needs te_budget (per year, e.g. 0.02)")
                })?;
                if !(te_budget.is_finite() && te_budget > 0.0 && te_budget <= 10.0) {
                    return Err(invalid(
                        format!("{field}.te_budget"),
                        format!("must be in (0, 10] per year, got {te_budget}"),
                    ));
                }
                if let Some(m) = spec.max_active {
                    if !(m.is_finite() && m > 0.0 && m <= 1.0) {
                        return Err(invalid(format!("{field}.max_active"), format!("must be in (0, 1], got {m}")));
                    }
                }
                if let Some(t) = spec.max_turnover {
                    if !(t.is_finite() && t > 0.0 && t <= 1.0) {
                        return Err(invalid(format!("{field}.max_turnover"), format!("must be in (0, 1], got {t}")));
                    }
                }
                let use_growth = spec.use_growth.unwrap_or(false);
                let gbm = match market {
                    Market::Gbm(gbm) => Some(gbm),
                    _ => None,
                };
                if use_growth && gbm.is_none() {
                    return Err(invalid(
                        format!("{field}.use_growth"),
                        "growth forecasts are per-stock growth rates, which only a gbm market states",
                    ));
                }
                let growth = if use_growth { gbm.map(|g| g.growth.clone()) } else { None };
                let estimate = spec.estimate.unwrap_or(Estimate::True);
                if estimate == Estimate::True && (spec.lookback.is_some() || spec.shrinkage.is_some()) {
                    return Err(invalid(
                        format!("{field}.estimate"),
                        "lookback and shrinkage are for estimate = \"trailing\"",
                    ));
                }
                let belief = match estimate {
                    Estimate::True => {
                        let Some(gbm) = gbm else {
                            return Err(invalid(
                                format!("{field}.estimate"),
                                "the model's covariance is stated by a gbm market only; use estimate = \"trailing\"",
                            ));
                        };
                        // A factor model's covariance is solved in its factor form.
                        let problem = match &gbm.noise {
                            GbmNoise::Factor { loadings, idiosyncratic_vol } => MaxGrowthProblem::with_factors(
                                &gbm.covariance,
                                (loadings, idiosyncratic_vol),
                                growth.as_deref(),
                                te_budget,
                                spec.max_active,
                            ),
                            GbmNoise::Cholesky(_) => {
                                MaxGrowthProblem::new(&gbm.covariance, growth.as_deref(), te_budget, spec.max_active)
                            }
                        };
                        CovarianceBelief::Model(Arc::new(problem))
                    }
                    Estimate::Trailing => {
                        let lookback = spec.lookback.unwrap_or(steps_per_year as usize);
                        if !(2..=100_000).contains(&lookback) {
                            return Err(invalid(
                                format!("{field}.lookback"),
                                format!("must be 2 to 100000 steps, got {lookback}"),
                            ));
                        }
                        let shrinkage = match &spec.shrinkage {
                            None => Shrinkage::Auto,
                            Some(ShrinkageSpec::Named(name)) if name == "auto" => Shrinkage::Auto,
                            Some(ShrinkageSpec::Intensity(x)) if (0.0..=1.0).contains(x) => Shrinkage::Fixed(*x),
                            Some(other) => {
                                return Err(invalid(
                                    format!("{field}.shrinkage"),
                                    format!("must be \"auto\" or a number in [0, 1], got {other:?}"),
                                ))
                            }
                        };
                        CovarianceBelief::Trailing(TrailingEstimate {
                            lookback,
                            shrinkage,
                            growth,
                            te_budget,
                            max_active: spec.max_active,
                            steps_per_year: steps_per_year as f64,
                        })
                    }
                };
                Weighting::MaxGrowth {
                    te_budget,
                    use_growth,
                    max_active: spec.max_active,
                    max_turnover: spec.max_turnover,
                    belief,
                }
            }
        })
    }
}

impl Strategy {
    pub fn from_spec(
        spec: &StrategySpec,
        market: &Market,
        steps_per_year: u32,
        field: &str,
    ) -> Result<Strategy, ScenarioError> {
        let mut problems = Problems::default();
        if spec.name.trim().is_empty() {
            problems.push(invalid(format!("{field}.name"), "must not be empty"));
        } else if spec.name == "market" {
            problems.push(invalid(format!("{field}.name"), "\"market\" is reserved for the benchmark"));
        } else if spec.name.contains([',', '"', '\n']) {
            problems.push(invalid(format!("{field}.name"), "must not contain commas, quotes or newlines"));
        } else if spec.name.chars().any(char::is_control) {
            problems.push(invalid(
                format!("{field}.name"),
                "must not contain control characters (tabs, escape sequences): it labels the table and figures",
            ));
        } else if spec.name.chars().count() > MAX_NAME_CHARS {
            problems.push(invalid(
                format!("{field}.name"),
                format!("has {} characters; at most {MAX_NAME_CHARS}", spec.name.chars().count()),
            ));
        }
        if spec.rebalance_every == 0 {
            problems.push(invalid(format!("{field}.rebalance_every"), "must be at least 1 step"));
        }
        // A rebalance trades at most 2 (sell everything, buy everything anew), so the
        // cost factor 1 - c * traded stays positive only below 5000 bp.
        if !(spec.cost_bps.is_finite() && (0.0..5_000.0).contains(&spec.cost_bps)) {
            problems.push(invalid(
                format!("{field}.cost_bps"),
                format!("must be in [0, 5000) basis points, got {}", spec.cost_bps),
            ));
        }
        let weighting = problems.check(Weighting::from_spec(spec, market, steps_per_year, field));
        let Some(weighting) = weighting.filter(|_| problems.is_empty()) else {
            return Err(problems.into_error());
        };
        Ok(Strategy {
            name: spec.name.clone(),
            weighting,
            rebalance_every: spec.rebalance_every,
            cost_rate: spec.cost_bps * 1e-4,
            // Checked against the market's tickers and the index by `Scenario::validate`.
            exclude: Vec::new(),
        })
    }
}
