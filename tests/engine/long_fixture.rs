//! The hand-checked fixture (issue 32): examples/data/crsp_fixture.csv backtested by the
//! engine, against a plain loop over the file's cells written here apart from it (by
//! id, not by slot; each term from its definition in docs/open-markets.md, not from
//! the engine's running sums): the index's members on every date, the benchmark's
//! return, and each strategy's L and its six terms.

use std::collections::{BTreeSet, HashMap};

use sptlab::backtest::{long_backtest, LongBacktestOptions, OpenBenchmark, OpenBenchmarkRule};
use sptlab::data::long::LongReader;
use sptlab::data::universe::{Lifetimes, Universe};
use sptlab::Scenario;

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/crsp_fixture.csv");

/// The index: the largest 5, re-chosen every 10 dates. On the fixture it drops 10004
/// for the new listing 10006 on the 10th date, and takes 10004 back when 10003 delists.
const K: usize = 5;
const EVERY: usize = 10;

/// The strategies of the check, as the scenario gives them and as the loop runs them.
const SCENARIO: &str = "\
[market]\nn = 6\n\
[benchmark]\nindex = 5\nreconstitute_every = 10\n\
[[strategies]]\nname = \"equal\"\nweighting = \"equal\"\nrebalance_every = 5\ncost_bps = 20.0\n\
[[strategies]]\nname = \"diversity\"\nweighting = \"diversity\"\np = 0.5\nexclude = [\"10001\"]\n\
[[strategies]]\nname = \"index-screen\"\nweighting = \"market\"\nrebalance_every = 3\ncost_bps = 10.0\nexclude = [10005]\n";

#[derive(Clone, Copy)]
enum Rule {
    Equal,
    Diversity(f64),
    Market,
}

struct Spec {
    rule: Rule,
    every: usize,
    cost_rate: f64,
    excluded: &'static str,
}

const SPECS: [Spec; 3] = [
    Spec { rule: Rule::Equal, every: 5, cost_rate: 20e-4, excluded: "" },
    Spec { rule: Rule::Diversity(0.5), every: 1, cost_rate: 0.0, excluded: "10001" },
    Spec { rule: Rule::Market, every: 3, cost_rate: 10e-4, excluded: "10005" },
];

/// One row's cells: |PRC| (None for 0), SHROUT, RET and DLRET where they are numbers.
struct Cells {
    price: Option<f64>,
    shares: f64,
    ret: Option<f64>,
    dlret: Option<f64>,
}

/// The file: its dates in order, and each (date index, id)'s cells.
fn read() -> (Vec<String>, HashMap<(usize, String), Cells>) {
    let text = std::fs::read_to_string(FIXTURE).unwrap();
    let mut dates: Vec<String> = Vec::new();
    let mut cells = HashMap::new();
    for line in text.lines().skip(1) {
        let c: Vec<&str> = line.split(',').collect();
        if dates.last().map(String::as_str) != Some(c[1]) {
            dates.push(c[1].to_string());
        }
        let price = c[2].parse::<f64>().ok().map(f64::abs).filter(|p| *p > 0.0);
        let cell = Cells { price, shares: c[3].parse().unwrap(), ret: c[4].parse().ok(), dlret: c[5].parse().ok() };
        cells.insert((dates.len() - 1, c[0].to_string()), cell);
    }
    (dates, cells)
}

/// Per date: every listed id's cap (carried over a missing row), and over the step into
/// the date each held id's growth h (total return, delisting return included) and cap ratio.
struct Market {
    dates: usize,
    first: HashMap<String, usize>,
    last: HashMap<String, usize>,
    caps: Vec<HashMap<String, f64>>,
    growth: Vec<HashMap<String, f64>>,
}

impl Market {
    fn of(dates: usize, cells: &HashMap<(usize, String), Cells>) -> Market {
        let (mut first, mut last) = (HashMap::new(), HashMap::new());
        for (date, id) in cells.keys() {
            let f = first.entry(id.clone()).or_insert(*date);
            *f = (*f).min(*date);
            let l = last.entry(id.clone()).or_insert(*date);
            *l = (*l).max(*date);
        }
        let mut caps: Vec<HashMap<String, f64>> = Vec::new();
        let mut growth: Vec<HashMap<String, f64>> = vec![HashMap::new()];
        let mut price: HashMap<String, f64> = HashMap::new();
        for t in 0..dates {
            let mut cap_now = HashMap::new();
            let mut growth_now = HashMap::new();
            for (id, &f) in &first {
                let l = last[id];
                if t < f || t > l {
                    continue;
                }
                let row = cells.get(&(t, id.clone()));
                let cap = match row.and_then(|r| r.price.map(|p| p * r.shares)) {
                    Some(cap) => cap,
                    None => caps[t - 1][id],
                };
                cap_now.insert(id.clone(), cap);
                if t > f {
                    let mut h = match row {
                        None => 1.0,
                        Some(r) => match (r.ret, r.price) {
                            (Some(ret), _) => 1.0 + ret,
                            (None, Some(p)) => p / price[id],
                            (None, None) => 1.0,
                        },
                    };
                    if t == l && t + 1 < dates {
                        h *= 1.0 + row.and_then(|r| r.dlret).unwrap_or(0.0);
                    }
                    growth_now.insert(id.clone(), h);
                }
                if let Some(p) = row.and_then(|r| r.price) {
                    price.insert(id.clone(), p);
                }
            }
            caps.push(cap_now);
            if t > 0 {
                growth.push(growth_now);
            }
        }
        Market { dates, first, last, caps, growth }
    }

    /// Listed after date `t` (holdable over the next step).
    fn listed_after(&self, t: usize) -> Vec<String> {
        let mut ids: Vec<String> = self
            .first
            .iter()
            .filter(|(id, &f)| f <= t && (self.last[*id] > t || self.last[*id] + 1 == self.dates))
            .map(|(id, _)| id.clone())
            .collect();
        ids.sort();
        ids
    }

    /// The largest `count` of `ids` by cap on date `t`.
    fn largest(&self, t: usize, ids: &[String], count: usize) -> Vec<String> {
        let mut ids = ids.to_vec();
        ids.sort_by(|a, b| self.caps[t][b].total_cmp(&self.caps[t][a]));
        ids.truncate(count);
        ids
    }

    /// The index's members over each step's start (date 0 to the last but one).
    fn members(&self) -> Vec<BTreeSet<String>> {
        let mut members: Vec<BTreeSet<String>> = vec![self.largest(0, &self.listed_after(0), K).into_iter().collect()];
        for t in 1..self.dates - 1 {
            let listed = self.listed_after(t);
            let mut now: BTreeSet<String> = members[t - 1].iter().filter(|id| listed.contains(id)).cloned().collect();
            if t % EVERY == 0 {
                now = self.largest(t, &listed, K).into_iter().collect();
            } else if now.len() < K {
                let others: Vec<String> = listed.iter().filter(|id| !now.contains(*id)).cloned().collect();
                now.extend(self.largest(t, &others, K - now.len()));
            }
            members.push(now);
        }
        members
    }
}

/// Weights of `set` on date `t`: caps over their sum.
fn weights(market: &Market, t: usize, set: &BTreeSet<String>) -> HashMap<String, f64> {
    let total: f64 = set.iter().map(|id| market.caps[t][id]).sum();
    set.iter().map(|id| (id.clone(), market.caps[t][id] / total)).collect()
}

/// log G and the portfolio pi of a rule at weights `rho`.
fn generate(rule: Rule, rho: &HashMap<String, f64>) -> (f64, HashMap<String, f64>) {
    let n = rho.len() as f64;
    match rule {
        Rule::Equal => {
            (rho.values().map(|r| r.ln()).sum::<f64>() / n, rho.keys().map(|id| (id.clone(), 1.0 / n)).collect())
        }
        Rule::Diversity(p) => {
            let total: f64 = rho.values().map(|r| r.powf(p)).sum();
            (total.ln() / p, rho.iter().map(|(id, r)| (id.clone(), r.powf(p) / total)).collect())
        }
        Rule::Market => (0.0, rho.clone()),
    }
}

/// What the loop finds for one strategy: L, then screen, generating, drift, leakage,
/// cost and total-return terms.
fn strategy(market: &Market, members: &[BTreeSet<String>], spec: &Spec) -> [f64; 7] {
    let last = market.dates - 1;
    let allowed_at = |t: usize| -> BTreeSet<String> {
        members[t.min(last - 1)].iter().filter(|id| id.as_str() != spec.excluded).cloned().collect()
    };
    let mut allowed = allowed_at(0);
    let rho0 = weights(market, 0, &allowed);
    let (log_g0, mut pi) = generate(spec.rule, &rho0);
    let (mut rho_start, mut log_g_start) = (rho0, log_g0);
    let mut value = pi.clone();
    // Over the period: each held id's product of h and of x.
    let mut product_h: HashMap<String, f64> = pi.keys().map(|id| (id.clone(), 1.0)).collect();
    let mut product_x = product_h.clone();
    let (mut relative, mut drift, mut leakage, mut cost, mut total_return) = (0.0, 0.0, 0.0, 0.0, 0.0);
    // The index and the screened index in caps, and the index's total-return gap.
    let (mut index_cap, mut screened_cap) = (0.0, 0.0);
    let mut log_g_end = log_g0;
    for t in 1..=last {
        let before = &members[t - 1];
        let (g, c) = (&market.growth[t], &market.caps);
        let x = |id: &String| c[t][id] / c[t - 1][id];
        let index_total: f64 = before.iter().map(|id| c[t - 1][id]).sum();
        let index_h: f64 = before.iter().map(|id| c[t - 1][id] * g[id]).sum::<f64>() / index_total;
        let index_x: f64 = before.iter().map(|id| c[t - 1][id] * x(id)).sum::<f64>() / index_total;
        index_cap += index_x.ln();
        total_return -= (index_h / index_x).ln();
        let screened: Vec<&String> = before.iter().filter(|id| id.as_str() != spec.excluded).collect();
        let screened_total: f64 = screened.iter().map(|id| c[t - 1][*id]).sum();
        screened_cap += (screened.iter().map(|id| c[t][*id]).sum::<f64>() / screened_total).ln();
        let worth_before: f64 = value.values().sum();
        for (id, v) in value.iter_mut() {
            *v *= g[id];
            *product_h.get_mut(id).unwrap() *= g[id];
            *product_x.get_mut(id).unwrap() *= x(id);
        }
        let worth: f64 = value.values().sum();
        let mut gross = worth / worth_before;
        let next = if t < last { allowed_at(t) } else { allowed.clone() };
        let changed = next != allowed;
        let rebalance = t % spec.every == 0 && t < last;
        if rebalance || t == last || changed {
            // The period ends on the old allowed stocks at their caps now.
            let rho_end = weights(market, t, &allowed);
            let (log_g_before, _) = generate(spec.rule, &rho_end);
            let (_, pi_start) = generate(spec.rule, &rho_start);
            let ratio: f64 = pi_start.iter().map(|(id, w)| w * rho_end[id] / rho_start[id]).sum();
            drift += ratio.ln() - (log_g_before - log_g_start);
            let h: f64 = pi.iter().map(|(id, w)| w * product_h[id]).sum();
            let x: f64 = pi.iter().map(|(id, w)| w * product_x[id]).sum();
            total_return += (h / x).ln();
            log_g_end = log_g_before;
            if t < last {
                let mut rho_next = rho_end;
                let mut log_g_next = log_g_before;
                if changed {
                    rho_next = weights(market, t, &next);
                    log_g_next = generate(spec.rule, &rho_next).0;
                    leakage += log_g_before - log_g_next;
                    allowed = next;
                }
                let (_, target) = generate(spec.rule, &rho_next);
                let ids: BTreeSet<&String> = target.keys().chain(value.keys()).collect();
                let traded: f64 = ids
                    .iter()
                    .map(|id| (target.get(*id).unwrap_or(&0.0) - value.get(*id).unwrap_or(&0.0) / worth).abs())
                    .sum();
                gross *= 1.0 - spec.cost_rate * traded;
                cost += (1.0 - spec.cost_rate * traded).ln();
                pi = target;
                value = pi.clone();
                product_h = pi.keys().map(|id| (id.clone(), 1.0)).collect();
                product_x = product_h.clone();
                rho_start = rho_next;
                log_g_start = log_g_next;
            }
        }
        relative += (gross / index_h).ln();
    }
    let screen = if spec.excluded.is_empty() { 0.0 } else { screened_cap - index_cap };
    [relative, screen, log_g_end - log_g0, drift, leakage, cost, total_return]
}

#[test]
fn the_fixture_backtests_to_the_values_of_a_plain_loop_over_its_cells() {
    let (dates, cells) = read();
    let market = Market::of(dates.len(), &cells);
    let members = market.members();
    // The engine's index, date by date, against the loop's members.
    let days = || LongReader::new(FIXTURE, std::fs::File::open(FIXTURE).unwrap()).unwrap();
    let mut universe = Universe::new(Lifetimes::of(days()).unwrap(), None);
    let mut reader = days();
    universe.start(&reader.next().unwrap().unwrap()).unwrap();
    let rule = OpenBenchmarkRule::Index { k: K, every: EVERY as u32, buffer: 0 };
    let mut benchmark = OpenBenchmark::start(rule, &universe);
    let ids = |benchmark: &OpenBenchmark, universe: &Universe| -> BTreeSet<String> {
        benchmark.members().map(|slot| universe.id(slot).unwrap().to_string()).collect()
    };
    assert_eq!(ids(&benchmark, &universe), members[0]);
    for (t, day) in reader.enumerate().take(members.len() - 1) {
        let step = universe.step(&day.unwrap()).unwrap();
        benchmark.step(&step, &universe);
        assert_eq!(ids(&benchmark, &universe), members[t + 1], "members after {}", dates[t + 1]);
    }
    // The fixture's events, so the check covers them: 10006 (listed on the 10th date)
    // enters and 10004 leaves at the re-choosing; 10003 delists and 10004 takes its place.
    assert!(!members[9].contains("10006") && members[10].contains("10006") && !members[10].contains("10004"));
    let delisting = market.last["10003"];
    assert!(members[delisting - 1].contains("10003") && members[delisting].contains("10004"));

    let scenario = Scenario::from_toml(SCENARIO).unwrap();
    let options = LongBacktestOptions { data: FIXTURE.into(), ..LongBacktestOptions::default() };
    let engine = long_backtest(&scenario, &options, &mut |_, _, _| {}).unwrap();
    let index_log_return: f64 = (1..dates.len())
        .map(|t| {
            let before = &members[t - 1];
            let total: f64 = before.iter().map(|id| market.caps[t - 1][id]).sum();
            (before.iter().map(|id| market.caps[t - 1][id] * market.growth[t][id]).sum::<f64>() / total).ln()
        })
        .sum();
    assert!((engine.benchmark.log_return - index_log_return).abs() < 1e-13);
    // In caps alone, and its turnover: half the weight moved at each change of members
    // (a leaving stock's weight, and an entering one's, at the caps of that date), a year.
    let (mut cap_log_return, mut traded, mut changes) = (0.0, 0.0, 0);
    for t in 1..dates.len() {
        let before = &members[t - 1];
        let sum = |t: usize, set: &BTreeSet<String>| set.iter().map(|id| market.caps[t][id]).sum::<f64>();
        cap_log_return += (sum(t, before) / sum(t - 1, before)).ln();
        if t + 1 < dates.len() && members[t] != *before {
            changes += 1;
            let (old, new) = (weights(&market, t, before), weights(&market, t, &members[t]));
            let ids: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
            traded +=
                ids.iter().map(|id| (new.get(*id).unwrap_or(&0.0) - old.get(*id).unwrap_or(&0.0)).abs()).sum::<f64>();
        }
    }
    assert!((engine.benchmark.cap_log_return - cap_log_return).abs() < 1e-13);
    assert_eq!((engine.benchmark.member_changes, changes), (2, 2), "10006 in for 10004, then 10004 for 10003");
    let per_year = (dates.len() - 1) as f64 / engine.years();
    assert!((engine.benchmark.turnover - 0.5 * traded * per_year / (dates.len() - 1) as f64).abs() < 1e-12);
    assert!((engine.benchmark.members_first, engine.benchmark.members_last) == (K, K));
    let names = ["L", "screen", "generating", "drift", "leakage", "cost", "total_return"];
    for (s, spec) in SPECS.iter().enumerate() {
        let expected = strategy(&market, &members, spec);
        // The loop's own identity: its six terms sum to its L.
        assert!((expected[0] - expected[1..].iter().sum::<f64>()).abs() < 1e-12, "the loop's identity, {s}");
        let stats = &engine.statistics[s];
        let found = [
            stats.relative_log_return,
            stats.screen_term,
            stats.generating_term,
            stats.drift_term,
            stats.leakage_term,
            stats.cost_term,
            engine.total_return_term[s],
        ];
        for ((name, e), f) in names.iter().zip(expected).zip(found) {
            // f64 over 39 steps: sums in other orders agree to about 1e-15 a term.
            assert!(
                (e - f).abs() < 1e-12,
                "{}: {name}: the loop's {e} against the engine's {f}",
                engine.strategies[s].name
            );
        }
    }
    // Terms that are not zero by construction, so the comparison has teeth.
    let equal = strategy(&market, &members, &SPECS[0]);
    assert!(equal[4].abs() > 1e-4 && equal[5] < 0.0 && equal[6].abs() > 1e-4, "{equal:?}");
}

#[test]
fn the_fixture_as_pandas_writes_it_in_parquet_gives_the_csv_s_numbers() {
    // examples/data/crsp_fixture.parquet: the CSV read by pandas (dates as datetime64,
    // letter codes coerced to NaN) and written by pyarrow with snappy pages.
    let parquet = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/crsp_fixture.parquet");
    let scenario = Scenario::from_toml(SCENARIO).unwrap();
    let run = |data: &str| {
        let options = LongBacktestOptions { data: data.into(), ..LongBacktestOptions::default() };
        long_backtest(&scenario, &options, &mut |_, _, _| {}).unwrap()
    };
    let (csv, parquet) = (run(FIXTURE), run(parquet));
    assert_eq!(parquet.steps, csv.steps);
    assert_eq!(parquet.benchmark, csv.benchmark);
    assert_eq!(parquet.statistics, csv.statistics, "the same numbers read from the same text, bit for bit");
    assert_eq!(parquet.total_return_term, csv.total_return_term);
    assert_eq!(parquet.data.caveats, csv.data.caveats);
    // pandas turned the letter codes into NaN: missing, not coded.
    assert_eq!((csv.data.missing.coded_returns, parquet.data.missing.coded_returns), (2, 0));
}
