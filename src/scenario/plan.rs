//! A validated run: [`Scenario::validate`] checks every field and builds the [`Plan`]
//! the backends trust.

use crate::market::{BootstrapMarket, Market};
use crate::portfolio::Strategy;
use crate::problems::{invalid, Problems, ScenarioError};
use crate::scenario::{screens, ControlVariate, IndexRule, Scenario, MAX_PATHS, MAX_STEPS, MAX_STRATEGIES};

/// A validated run: everything a backend needs, in model units.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The effective scenario (for the report).
    pub scenario: Scenario,
    pub paths: u64,
    pub steps: u32,
    pub steps_per_year: u32,
    pub seed: u64,
    pub market: Market,
    pub strategies: Vec<Strategy>,
    /// The control variate of the report's controlled means.
    pub control_variate: ControlVariate,
    /// Paths 2k and 2k + 1 draw opposite normals, and pairs are the independent units.
    pub antithetic: bool,
    /// The horizon asked for, when it was not a whole number of steps: the run
    /// simulates the nearest whole number, and its scenario records that horizon.
    pub asked_years: Option<f64>,
    /// The index that is the benchmark (`[benchmark]`); the whole market when `None`.
    pub index: Option<IndexRule>,
}

impl Plan {
    pub fn n(&self) -> usize {
        self.market.n()
    }
    /// Simulated horizon in years (whole steps).
    pub fn years(&self) -> f64 {
        self.steps as f64 / self.steps_per_year as f64
    }
    /// Step length Δ in years.
    pub fn dt(&self) -> f64 {
        1.0 / self.steps_per_year as f64
    }
}

impl Scenario {
    /// The strategies checked against `market` (names only when there is none), their
    /// problems added to `problems`.
    /// `tickers` are the market's stock names where it has them; `index` the benchmark's
    /// rule, which the strategies' screens and weightings are checked against.
    pub(crate) fn validate_strategies(
        &self,
        (market, tickers): (Option<&Market>, Option<&[String]>),
        index_rule: Option<IndexRule>,
        steps_per_year: u32,
        problems: &mut Problems,
    ) -> Vec<Strategy> {
        if self.strategies.is_empty() {
            problems.push(invalid("strategies", "list at least one [[strategies]] entry"));
        }
        let mut strategies = Vec::with_capacity(self.strategies.len());
        for (index, spec) in self.strategies.iter().enumerate() {
            let field = format!("strategies[{index}]");
            if self.strategies[..index].iter().any(|earlier| earlier.name == spec.name) {
                problems.push(invalid(format!("{field}.name"), format!("\"{}\" is used twice", spec.name)));
            }
            if index_rule.is_some() && spec.name == "index" {
                problems.push(invalid(
                    format!("{field}.name"),
                    "\"index\" is reserved for the benchmark when [benchmark] has an index",
                ));
            }
            if let Some(market) = market {
                let exclude = screens::resolve_screen(spec, market.n(), tickers, index_rule, &field, problems);
                if let Some(mut strategy) = problems.check(Strategy::from_spec(spec, market, steps_per_year, &field)) {
                    strategy.exclude = exclude;
                    screens::open_market_problems(&strategy, market.n(), index_rule, &field, problems);
                    strategies.push(strategy);
                }
            }
        }
        strategies
    }

    /// Checks every field and builds the plan; reports every problem found, not just the first.
    pub fn validate(&self) -> Result<Plan, ScenarioError> {
        let mut problems = Problems::default();
        if self.paths == 0 {
            problems.push(invalid("paths", "must be at least 1"));
        } else if self.paths > MAX_PATHS {
            problems.push(invalid("paths", format!("must be at most {MAX_PATHS}")));
        } else if self.antithetic && self.paths % 2 == 1 {
            problems.push(invalid(
                "paths",
                format!("must be even with antithetic = true (paths come in pairs), got {}", self.paths),
            ));
        }
        let mut steps = None;
        if !(self.years.is_finite() && self.years > 0.0) {
            problems.push(invalid("years", format!("must be a positive number, got {}", self.years)));
        } else if self.steps_per_year == 0 {
            problems.push(invalid("steps_per_year", "must be at least 1"));
        } else {
            let count = (self.years * self.steps_per_year as f64).round();
            if count < 1.0 {
                problems.push(invalid("years", "is shorter than one step"));
            } else if count > MAX_STEPS as f64 {
                problems.push(invalid("years", format!("gives more than {MAX_STEPS} steps")));
            } else {
                steps = Some(count as u32);
            }
        }
        if self.name.chars().any(char::is_control) {
            problems.push(invalid("name", "must not contain control characters"));
        }
        if self.strategies.len() > MAX_STRATEGIES {
            problems.push(invalid(
                "strategies",
                format!(
                    "{} strategies; at most {MAX_STRATEGIES}: every pair is compared, and the comparisons grow \
                     with the square of the count",
                    self.strategies.len()
                ),
            ));
        }
        let market = problems.check(Market::from_spec(&self.market));
        // With a bad market the strategies are still checked, against a stand-in market
        // of the same kind and size, so that one pass reports their problems too.
        let stand_in = match &market {
            None if (2..=crate::market::MAX_STOCKS).contains(&self.market.n) => {
                Some(Market::stand_in(self.market.model, self.market.n))
            }
            _ => None,
        };
        let n = market.as_ref().map_or(self.market.n, Market::n);
        let index = self.benchmark.as_ref().and_then(|benchmark| benchmark.rule(n, &mut problems));
        let tickers = match &market {
            Some(Market::Bootstrap(BootstrapMarket { source: Some(source), .. })) => Some(&source.tickers[..]),
            _ => None,
        };
        let strategies = self.validate_strategies(
            (market.as_ref().or(stand_in.as_ref()), tickers),
            index,
            self.steps_per_year,
            &mut problems,
        );
        if let Some(Market::Bootstrap(bootstrap)) = &market {
            bootstrap_problems(self, bootstrap, &mut problems);
        }
        match (market, steps) {
            (Some(market), Some(steps)) if problems.is_empty() => {
                // The horizon the run simulates is the one it reports.
                let mut scenario = self.clone();
                if let Market::Bootstrap(BootstrapMarket { source: Some(source), .. }) = &market {
                    // The data as read: where, which bytes, how many stocks.
                    scenario.market.data = Some(source.path.display().to_string());
                    scenario.market.data_sha256 = Some(source.sha256.clone());
                    scenario.market.n = source.tickers.len();
                }
                let whole = steps as f64 / self.steps_per_year as f64;
                let exact = (self.years * self.steps_per_year as f64 - steps as f64).abs() <= 1e-9 * steps as f64;
                let asked_years = (!exact).then_some(self.years);
                if !exact {
                    scenario.years = whole;
                }
                Ok(Plan {
                    scenario,
                    paths: self.paths,
                    steps,
                    steps_per_year: self.steps_per_year,
                    seed: self.seed,
                    market,
                    strategies,
                    control_variate: self.control_variate,
                    antithetic: self.antithetic,
                    asked_years,
                    index,
                })
            }
            _ => Err(problems.into_error()),
        }
    }
}

/// What the bootstrap market asks of the rest of the scenario: steps as long as the
/// data's days, and no antithetic pairs (its randomness is days, not normals).
fn bootstrap_problems(scenario: &Scenario, bootstrap: &BootstrapMarket, problems: &mut Problems) {
    if let Some(source) = &bootstrap.source {
        let per_year = source.periods_per_year;
        if !crate::data::frequencies_agree(scenario.steps_per_year, per_year) {
            problems.push(invalid(
                "steps_per_year",
                format!(
                    "is {}, but market.data has {per_year:.1} rows a year ({} to {}); a step is one of its days, \
                     so they must agree within 5 %",
                    scenario.steps_per_year, source.first_date, source.last_date
                ),
            ));
        }
    }
    if scenario.antithetic {
        problems.push(invalid(
            "antithetic",
            "has no meaning for the bootstrap market (a path draws days, not normals to negate); remove it",
        ));
    }
}
