//! `sptlab backtest` on a long file (issue 32; docs/open-markets.md): the scenario's
//! strategies on an open universe, stocks listing and delisting, against the
//! cap-weighted total-return index of the `[benchmark]` members, in f64.
//!
//! The file is read twice (`data::universe`): each id's first and last dates, then the
//! replay a date at a time, so memory follows the stocks listed on one date. Each step:
//! the universe's holdings earn their growth; the benchmark earns its return and may
//! change its members (a re-forming, or a delisting); each strategy grows, closes its
//! period where it must and trades (`open_strategy.rs`). Its relative log return
//! decomposes as
//!
//!   L = screen + generating + drift + leakage + cost + total_return,
//!
//! every term but the last in caps, the last carrying dividends, share issues and
//! delisting returns.

use std::collections::HashSet;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::open_index::{OpenBenchmark, OpenBenchmarkRule};
use super::open_strategy::{FormError, OpenStrategyState, StepView};
use super::BacktestError;
use crate::data::long::{Day, LongReader, MissingCells};
use crate::data::universe::{Lifetimes, Universe, UniverseCaveats};
use crate::data::{format_date, DataError};
use crate::engine::accumulators::{benchmark_moment, PathStatistics};
use crate::market::{BootstrapMarket, Market};
use crate::portfolio::spec::{ScreenEntry, WeightingKind};
use crate::portfolio::Strategy;
use crate::problems::{invalid, Problems, ScenarioError};
use crate::scenario::Scenario;

/// The market's re-forming interval without a `[benchmark]` table (about a month).
pub const DEFAULT_MARKET_REFORM_EVERY: u32 = 21;

/// Most dates the per-date trace keeps (evenly spaced, the first and the last always).
pub const MOST_TRACE_DATES: usize = 2_000;

/// What a backtest on a long file was asked.
#[derive(Debug, Clone, Default)]
pub struct LongBacktestOptions {
    pub data: PathBuf,
    /// First and last dates kept (YYYY-MM-DD or YYYYMMDD; default: the file's).
    pub from: Option<String>,
    pub to: Option<String>,
    /// The return of a delisting whose row gives none (default: 0).
    pub missing_delisting_return: Option<f64>,
    /// Only the last this many years (`run --history`: the run's horizon), from the
    /// first date on or after the file's last date less the years.
    pub last_years: Option<f64>,
}

/// The benchmark's figures over the backtest.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenBenchmarkFigures {
    pub rule: OpenBenchmarkRule,
    /// log V(T) / V(0): total return, and in caps alone.
    pub log_return: f64,
    pub cap_log_return: f64,
    /// Sample sd of its one-step simple returns, annualised.
    pub volatility: f64,
    /// 1/2 sum |rho after - rho before| over its member changes, per year.
    pub turnover: f64,
    /// Steps after which its members changed.
    pub member_changes: u32,
    /// Its members on the first and the last date.
    pub members_first: usize,
    pub members_last: usize,
}

/// The file as read.
#[derive(Debug, Clone, PartialEq)]
pub struct LongRecord {
    pub path: PathBuf,
    pub sha256: String,
    pub from: String,
    pub to: String,
    pub dates: usize,
    /// Distinct ids over the window.
    pub ids: usize,
    /// The most stocks listed at once (the slots the replay needed).
    pub most_listed: usize,
    pub listed_first: usize,
    pub listed_last: usize,
    pub missing: MissingCells,
    pub caveats: UniverseCaveats,
    pub missing_delisting_return: Option<f64>,
}

/// A finished backtest on a long file.
#[derive(Debug, Clone)]
pub struct LongBacktest {
    pub data: LongRecord,
    pub strategies: Vec<Strategy>,
    /// Per strategy, its statistics (docs/statistics.md) against the benchmark.
    pub statistics: Vec<PathStatistics>,
    /// Per strategy, the total-return term of the decomposition.
    pub total_return_term: Vec<f64>,
    pub benchmark: OpenBenchmarkFigures,
    pub steps: u32,
    /// Rows a year, counted from the dates.
    pub periods_per_year: f64,
    /// Sampled dates: the benchmark's log value, and each strategy's L to date.
    pub trace: LongTrace,
    pub seconds: f64,
}

impl LongBacktest {
    /// L less the sum of its six terms, per strategy: zero to rounding.
    pub fn residual(&self, strategy: usize) -> f64 {
        self.statistics[strategy].master_equation_residual() - self.total_return_term[strategy]
    }

    pub fn years(&self) -> f64 {
        self.steps as f64 / self.periods_per_year
    }
}

/// The backtest's path at sampled dates.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LongTrace {
    pub dates: Vec<String>,
    /// The steps completed at each date kept (0 for the first).
    pub steps: Vec<u32>,
    pub benchmark_log_value: Vec<f64>,
    /// `relative[strategy][k]`: L to the `k`th sampled date.
    pub relative: Vec<Vec<f64>>,
}

/// Progress of a long backtest: the pass (1 or 2), the dates read, and (on the second
/// pass) the dates in all.
pub type Progress<'a> = &'a mut dyn FnMut(u8, usize, Option<usize>);

/// A pass's reader: CSV, or Parquet (by its magic bytes).
type Reader = LongReader<Box<dyn Read>>;

/// Opens the long file at `path` for a pass.
fn open(path: &Path) -> Result<Reader, ScenarioError> {
    let name = path.display().to_string();
    let cannot = |e: std::io::Error| invalid(&name, format!("cannot be read: {e}"));
    if crate::data::long::is_parquet_file(path).map_err(cannot)? {
        return LongReader::parquet(&name, path).map_err(ScenarioError::from);
    }
    let file = File::open(path).map_err(cannot)?;
    let source: Box<dyn Read> = Box::new(BufReader::with_capacity(1 << 20, file));
    LongReader::new(&name, source).map_err(ScenarioError::from)
}

/// The window's bound given as `option`, in days since 1970.
fn bound(option: &str, text: &Option<String>) -> Result<Option<i64>, ScenarioError> {
    match text {
        None => Ok(None),
        Some(text) => crate::data::long::parse_long_date(text)
            .map(Some)
            .ok_or_else(|| invalid(option, format!("{text:?} is not a date (YYYY-MM-DD or YYYYMMDD)"))),
    }
}

/// The days of a pass within the window `[from, to]`.
fn window(
    reader: &mut Reader,
    (from, to): (Option<i64>, Option<i64>),
) -> impl Iterator<Item = Result<Day, DataError>> + '_ {
    reader
        .filter(move |day| !matches!(day, Ok(day) if from.is_some_and(|from| day.date < from)))
        .take_while(move |day| !matches!(day, Ok(day) if to.is_some_and(|to| day.date > to)))
}

/// The scenario's strategies for an open universe whose ids are `ids`: every rule but
/// `constant` (it names stocks, which come and go) and `max_growth` (it needs a
/// covariance of stocks that come and go); screens name ids.
fn strategies(scenario: &Scenario, lifetimes: &Lifetimes) -> Result<Vec<(Strategy, HashSet<String>)>, ScenarioError> {
    let mut problems = Problems::default();
    if scenario.strategies.is_empty() {
        problems.push(invalid("strategies", "list at least one [[strategies]] entry"));
    }
    // The weightings' parameters are checked against a market as wide as the file's ids.
    let n = lifetimes.spans.len().max(1);
    let market = Market::Bootstrap(BootstrapMarket::in_order(vec![1.0 / n as f64; n], &crate::data::Rows::new(n)));
    let mut checked = Vec::new();
    for (position, spec) in scenario.strategies.iter().enumerate() {
        let field = format!("strategies[{position}]");
        if scenario.strategies[..position].iter().any(|earlier| earlier.name == spec.name) {
            problems.push(invalid(format!("{field}.name"), format!("\"{}\" is used twice", spec.name)));
        }
        match spec.weighting {
            WeightingKind::Constant => {
                problems.push(invalid(
                    format!("{field}.weighting"),
                    "constant weights name stocks, which list and delist in a long file: use another weighting",
                ));
                continue;
            }
            WeightingKind::MaxGrowth => {
                problems.push(invalid(
                    format!("{field}.weighting"),
                    "max_growth needs a covariance of the stocks it may hold, which come and go in a long file: \
                     a backtest on a long file runs the other weightings",
                ));
                continue;
            }
            _ => {}
        }
        let mut excluded = HashSet::new();
        for (entry_position, entry) in spec.exclude.iter().flatten().enumerate() {
            // A long file's ids are text; CRSP's PERMNOs may be written as numbers.
            let id = match entry {
                ScreenEntry::Stock(number) => number.to_string(),
                ScreenEntry::Ticker(id) => id.clone(),
            };
            if !lifetimes.spans.contains_key(&id) {
                problems.push(invalid(
                    format!("{field}.exclude[{entry_position}]"),
                    format!("{id:?} is no id of the data (in a long file a screen names ids)"),
                ));
            }
            excluded.insert(id);
        }
        if let Some(strategy) = problems.check(Strategy::from_spec(spec, &market, scenario.steps_per_year, &field)) {
            checked.push((strategy, excluded));
        }
    }
    if problems.is_empty() {
        Ok(checked)
    } else {
        Err(problems.into_error())
    }
}

/// The benchmark the scenario asks for: `[benchmark] index = K` the largest K, else
/// every listed stock (re-formed every `reconstitute_every`, or monthly without the table).
fn benchmark_rule(scenario: &Scenario) -> OpenBenchmarkRule {
    match &scenario.benchmark {
        Some(spec) => match spec.index {
            Some(k) => OpenBenchmarkRule::Index { k, every: spec.reconstitute_every, buffer: spec.buffer },
            None => OpenBenchmarkRule::Market { every: spec.reconstitute_every },
        },
        None => OpenBenchmarkRule::Market { every: DEFAULT_MARKET_REFORM_EVERY },
    }
}

/// Why a strategy cannot form its weights on `date`.
fn form_problem(position: usize, strategy: &Strategy, date: i64, error: FormError) -> ScenarioError {
    let date = format_date(date);
    match error {
        FormError::NothingAllowed => invalid(
            format!("strategies[{position}].exclude"),
            format!("on {date} the screen of \"{}\" excludes every member of the benchmark", strategy.name),
        ),
        FormError::CapTooLow { allowed } => invalid(
            format!("strategies[{position}].cap"),
            format!(
                "on {date} \"{}\" may hold {allowed} stocks, and a cap below 1/{allowed} cannot sum to one",
                strategy.name
            ),
        ),
    }
}

/// Per-slot views of one step, reused from step to step.
#[derive(Default)]
struct StepArrays {
    growth: Vec<f64>,
    cap_growth: Vec<f64>,
    caps_before_change: Vec<f64>,
    delisted: Vec<bool>,
    caps_now: Vec<f64>,
    log_caps_now: Vec<f64>,
    members_before: Vec<bool>,
}

impl StepArrays {
    fn reset(&mut self, width: usize) {
        for vector in [&mut self.growth, &mut self.cap_growth, &mut self.caps_before_change, &mut self.caps_now] {
            vector.clear();
            vector.resize(width, 0.0);
        }
        self.log_caps_now.clear();
        self.log_caps_now.resize(width, 0.0);
        self.delisted.clear();
        self.delisted.resize(width, false);
    }

    /// The universe's caps now, and their logs (0 where no stock is listed).
    fn take_caps(&mut self, universe: &Universe) {
        for slot in 0..universe.width() {
            let cap = universe.cap(slot).unwrap_or(0.0);
            self.caps_now[slot] = cap;
            self.log_caps_now[slot] = if cap > 0.0 { cap.ln() } else { 0.0 };
        }
    }
}

/// sum over `members` of rho_i log X_i (rho: the members' caps over their sum).
fn members_log_cap(caps: &[f64], log_caps: &[f64], members: &[bool]) -> f64 {
    let (mut total, mut weighted) = (0.0, 0.0);
    for ((cap, log_cap), member) in caps.iter().zip(log_caps).zip(members) {
        if *member {
            total += cap;
            weighted += cap * log_cap;
        }
    }
    weighted / total
}

/// The members of an index of K, checked: fewer listed stocks than K is bad input.
fn check_members(benchmark: &OpenBenchmark, date: i64, listed: usize) -> Result<(), ScenarioError> {
    if let OpenBenchmarkRule::Index { k, .. } = benchmark.rule() {
        let members = benchmark.mask().iter().filter(|m| **m).count();
        if members < k {
            return Err(invalid(
                "benchmark.index",
                format!("is {k}, but on {} the data lists {listed} stocks", format_date(date)),
            ));
        }
    }
    Ok(())
}

/// Runs `scenario`'s strategies on the long file `options.data`.
pub fn long_backtest(
    scenario: &Scenario,
    options: &LongBacktestOptions,
    progress: Progress<'_>,
) -> Result<LongBacktest, BacktestError> {
    use BacktestError::{Data, Scenario as Strategies};
    let started = Instant::now();
    let range = (bound("--from", &options.from).map_err(Data)?, bound("--to", &options.to).map_err(Data)?);
    if let (Some(from), Some(to)) = range {
        if from >= to {
            return Err(Data(invalid("--from", "must be before --to")));
        }
    }
    if let Some(value) = options.missing_delisting_return {
        if !(value.is_finite() && value >= -1.0) {
            return Err(Data(invalid(
                "--missing-delisting-return",
                format!("must be a return of at least -1, got {value}"),
            )));
        }
    }
    let range = match options.last_years {
        None => range,
        Some(years) => {
            // A pass for the file's last date; the window starts `years` before it.
            let mut reader = open(&options.data).map_err(Data)?;
            let mut last = None;
            for day in window(&mut reader, range) {
                last = Some(day.map_err(|e| Data(e.into()))?.date);
            }
            let start = last.map(|last| last - (years * 365.25).round() as i64);
            (range.0.max(start), range.1)
        }
    };
    let sha256 = crate::data::long::file_sha256(&options.data)
        .map_err(|e| Data(invalid(options.data.display().to_string(), format!("cannot be read: {e}"))))?;
    // The first pass: each id's first and last dates.
    let mut reader = open(&options.data).map_err(Data)?;
    let lifetimes = {
        let mut read = 0;
        let days = window(&mut reader, range).inspect(|_| {
            read += 1;
            if read % 64 == 0 {
                progress(1, read, None);
            }
        });
        Lifetimes::of(days).map_err(|e| Data(e.into()))?
    };
    let dates = lifetimes.dates;
    if dates < 3 {
        return Err(Data(invalid(
            options.data.display().to_string(),
            format!("has {dates} dates in the window; a backtest needs at least 3"),
        )));
    }
    let rule = benchmark_rule(scenario);
    let mut problems = Problems::default();
    if let Some(spec) = &scenario.benchmark {
        if spec.reconstitute_every == 0 {
            problems.push(invalid("benchmark.reconstitute_every", "must be at least 1 step"));
        }
        if spec.index == Some(0) {
            problems.push(invalid("benchmark.index", "must be at least 1 stock"));
        }
        if spec.index.is_none() && spec.buffer > 0 {
            problems.push(invalid("benchmark.buffer", "takes an index: without one every listed stock is a member"));
        }
    }
    let checked = problems.check(strategies(scenario, &lifetimes));
    if !problems.is_empty() {
        return Err(Strategies(problems.into_error()));
    }
    let checked = checked.unwrap_or_default();
    let ids = lifetimes.spans.len();
    let stride = dates.div_ceil(MOST_TRACE_DATES).max(1);

    // The second pass: the replay.
    let mut reader = open(&options.data).map_err(Data)?;
    let mut universe = Universe::new(lifetimes, options.missing_delisting_return);
    let mut days = window(&mut reader, range);
    let first = days.next().transpose().map_err(|e| Data(e.into()))?.expect("the first pass counted at least 3 dates");
    let mut strategies: Vec<OpenStrategyState> =
        checked.into_iter().map(|(strategy, excluded)| OpenStrategyState::new(strategy, excluded)).collect();
    for slot in universe.start(&first).map_err(|e| Data(e.into()))? {
        let id = universe.id(slot).unwrap_or_default().to_string();
        for state in strategies.iter_mut() {
            state.listed(slot, &id, universe.width());
        }
    }
    let listed_first = first.rows.len();
    let mut benchmark = OpenBenchmark::start(rule, &universe);
    check_members(&benchmark, first.date, listed_first).map_err(Strategies)?;
    let mut arrays = StepArrays::default();
    arrays.reset(universe.width());
    arrays.take_caps(&universe);
    let benchmark_log_cap = members_log_cap(&arrays.caps_now, &arrays.log_caps_now, benchmark.mask());
    for (position, state) in strategies.iter_mut().enumerate() {
        state
            .start((&arrays.caps_now, &arrays.log_caps_now), benchmark.mask(), benchmark_log_cap)
            .map_err(|error| Strategies(form_problem(position, &state.strategy, first.date, error)))?;
    }
    let members_first = benchmark.mask().iter().filter(|m| **m).count();
    let mut trace = LongTrace {
        dates: vec![format_date(first.date)],
        steps: vec![0],
        benchmark_log_value: vec![0.0],
        relative: vec![vec![0.0]; strategies.len()],
    };
    let (mut log_value, mut cap_log_value, mut turnover, mut member_changes) = (0.0, 0.0, 0.0, 0);
    let mut moments = [0.0; benchmark_moment::COUNT];
    let steps = (dates - 1) as u32;
    let mut last_date = first.date;
    let mut listed_last = listed_first;
    for (done, day) in days.enumerate() {
        let day = day.map_err(|e| Data(e.into()))?;
        let completed = done as u32 + 1;
        let is_last = completed == steps;
        let step = universe.step(&day).map_err(|e| Data(e.into()))?;
        let width = universe.width();
        arrays.reset(width);
        arrays.members_before.clear();
        arrays.members_before.extend_from_slice(benchmark.mask());
        arrays.members_before.resize(width, false);
        for holding in &step.holdings {
            arrays.growth[holding.slot] = holding.growth;
            arrays.cap_growth[holding.slot] = holding.cap_after / holding.cap_before;
            arrays.caps_before_change[holding.slot] = holding.cap_after;
            arrays.delisted[holding.slot] = holding.delists;
        }
        for &slot in &step.listed {
            let id = universe.id(slot).unwrap_or_default().to_string();
            for state in strategies.iter_mut() {
                state.listed(slot, &id, width);
            }
        }
        let result = benchmark.step(&step, &universe);
        check_members(&benchmark, day.date, day.rows.len()).map_err(Strategies)?;
        arrays.take_caps(&universe);
        let mut members_after = benchmark.mask().to_vec();
        members_after.resize(width, false);
        log_value += result.log_return;
        cap_log_value += result.cap_log_return;
        let benchmark_gross = result.log_return.exp();
        if !(benchmark_gross > 0.0 && benchmark_gross.is_finite()) {
            return Err(Data(invalid(
                options.data.display().to_string(),
                format!(
                    "on {} the benchmark's members lost all their value (delisting returns of -1), so its log \
                     return has none",
                    format_date(day.date)
                ),
            )));
        }
        moments[benchmark_moment::RETURN_SUM] += benchmark_gross - 1.0;
        moments[benchmark_moment::RETURN_SQUARES] += (benchmark_gross - 1.0) * (benchmark_gross - 1.0);
        let reconstituted = result.members_changed && !is_last;
        if reconstituted {
            member_changes += 1;
            turnover += 0.5 * weight_change(&arrays, &members_after);
        }
        let view = StepView {
            growth: &arrays.growth,
            cap_growth: &arrays.cap_growth,
            caps_before_change: &arrays.caps_before_change,
            delisted: &arrays.delisted,
            caps_now: &arrays.caps_now,
            log_caps_now: &arrays.log_caps_now,
            members_before: &arrays.members_before,
            members_after: &members_after,
            reconstituted,
            completed,
            is_last,
            benchmark_gross,
            benchmark_log_cap: members_log_cap(&arrays.caps_now, &arrays.log_caps_now, &members_after),
        };
        for (position, state) in strategies.iter_mut().enumerate() {
            let gross = state
                .step(&view)
                .map_err(|error| Strategies(form_problem(position, &state.strategy, day.date, error)))?;
            if !(gross > 0.0 && gross.is_finite()) {
                return Err(Data(invalid(
                    options.data.display().to_string(),
                    format!(
                        "on {} the holdings of \"{}\" lost all their value (delisting returns of -1), so its log \
                         return has none",
                        format_date(day.date),
                        state.strategy.name
                    ),
                )));
            }
            state.record(gross, view.benchmark_gross);
        }
        if (completed as usize).is_multiple_of(stride) || is_last {
            trace.dates.push(format_date(day.date));
            trace.steps.push(completed);
            trace.benchmark_log_value.push(log_value);
            for (relative, state) in trace.relative.iter_mut().zip(&strategies) {
                relative.push(state.slots[crate::engine::accumulators::slot::RELATIVE]);
            }
        }
        if completed.is_multiple_of(64) || is_last {
            progress(2, completed as usize, Some(steps as usize));
        }
        last_date = day.date;
        listed_last = day.rows.len();
    }
    let span_years = (last_date - first.date) as f64 / 365.25;
    let periods_per_year = steps as f64 / span_years;
    if !crate::data::frequencies_agree(scenario.steps_per_year, periods_per_year) && steps as f64 >= periods_per_year {
        return Err(Strategies(invalid(
            "steps_per_year",
            format!(
                "{} has {periods_per_year:.1} dates a year, but steps_per_year is {}: rebalancing intervals count \
                 dates, so the two must agree within 5 %; give the backtest a scenario (--scenario) with the data's \
                 steps_per_year",
                options.data.display(),
                scenario.steps_per_year
            ),
        )));
    }
    let statistics: Vec<PathStatistics> = strategies
        .iter()
        .map(|state| {
            PathStatistics::from_slots(
                (&state.slots, [state.leakage, state.screen]),
                (log_value, moments),
                steps,
                periods_per_year,
            )
        })
        .collect();
    let benchmark_total_return = log_value - cap_log_value;
    let total_return_term = strategies.iter().map(|state| state.own_total_return - benchmark_total_return).collect();
    let volatility = PathStatistics::benchmark_volatility(moments, steps, periods_per_year);
    let caveats = universe.caveats;
    let most_listed = universe.width();
    Ok(LongBacktest {
        data: LongRecord {
            path: std::fs::canonicalize(&options.data).unwrap_or_else(|_| options.data.clone()),
            sha256,
            from: format_date(first.date),
            to: format_date(last_date),
            dates,
            ids,
            most_listed,
            listed_first,
            listed_last,
            missing: reader.missing,
            caveats,
            missing_delisting_return: options.missing_delisting_return,
        },
        strategies: strategies.into_iter().map(|state| state.strategy).collect(),
        statistics,
        total_return_term,
        benchmark: OpenBenchmarkFigures {
            rule,
            log_return: log_value,
            cap_log_return: cap_log_value,
            volatility,
            turnover: turnover * periods_per_year / steps as f64,
            member_changes,
            members_first,
            members_last: benchmark.mask().iter().filter(|m| **m).count(),
        },
        steps,
        periods_per_year,
        trace,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// sum_i |rho_i after - rho_i before| over a change of members (a leaving stock's
/// weight and a new one's in the same slot both count).
fn weight_change(arrays: &StepArrays, members_after: &[bool]) -> f64 {
    let total = |caps: &[f64], members: &[bool]| -> f64 {
        caps.iter().zip(members).filter(|(_, member)| **member).map(|(cap, _)| cap).sum()
    };
    let before_total = total(&arrays.caps_before_change, &arrays.members_before);
    let after_total = total(&arrays.caps_now, members_after);
    let weight = |member: bool, cap: f64, total: f64| if member { cap / total } else { 0.0 };
    let befores = arrays.members_before.iter().zip(&arrays.caps_before_change);
    let afters = members_after.iter().zip(&arrays.caps_now);
    let mut change = 0.0;
    for (((member_before, cap_before), (member_after, cap_now)), delisted) in befores.zip(afters).zip(&arrays.delisted)
    {
        let before = weight(*member_before, *cap_before, before_total);
        let after = weight(*member_after, *cap_now, after_total);
        change += if *delisted { before + after } else { (after - before).abs() };
    }
    change
}
