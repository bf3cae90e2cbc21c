//! The benchmark of a backtest on an open universe (issue 32; docs/open-markets.md for
//! the rule): the cap-weighted total-return index of its members, step by step over a
//! long file's universe (`data::universe`).
//!
//! - With `[benchmark] index = K`: the K largest listed stocks at the first date, then
//!   re-chosen every `reconstitute_every` steps with the buffer (`choose_members`, as
//!   in simulation). A member that delists leaves at once, and the largest listed
//!   non-member takes its place.
//! - Without an index: every listed stock, re-formed every `reconstitute_every` steps;
//!   a new listing joins at the next re-forming, a delisting leaves at once (and should
//!   every member leave at once, the listed stocks re-form it then).
//!
//! Over a step the index earns sum over members of X_i h_i / sum of X_i (caps at the
//! step's start, h the holdings' growth, dividends and delisting returns included),
//! and in caps alone sum of X_i(t+1) / sum of X_i(t): the second is what the
//! decomposition's cap terms use, the gap between them its total-return term.

use crate::data::universe::{Step, Universe};
use crate::numeric::ranking::{choose_members, sort_by_rank};

/// Which stocks the benchmark holds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OpenBenchmarkRule {
    /// Every listed stock, re-formed every `every` steps.
    Market { every: u32 },
    /// The largest `k`, re-chosen every `every` steps with a `buffer`.
    Index { k: usize, every: u32, buffer: usize },
}

/// The benchmark over one step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BenchmarkStep {
    /// log of sum over members of X_i h_i / sum of X_i.
    pub log_return: f64,
    /// log of sum over members of X_i(t + 1) / sum of X_i(t).
    pub cap_log_return: f64,
    /// Whether its members changed after the step (a re-forming, or a delisting).
    pub members_changed: bool,
}

/// The benchmark's members, by the universe's slots.
pub struct OpenBenchmark {
    rule: OpenBenchmarkRule,
    /// `members[slot]`: whether the stock in that slot is a member.
    members: Vec<bool>,
    steps: u32,
}

impl OpenBenchmark {
    /// The members at the first date, from the stocks `universe` listed on it.
    pub fn start(rule: OpenBenchmarkRule, universe: &Universe) -> OpenBenchmark {
        let mut benchmark = OpenBenchmark { rule, members: vec![false; universe.width()], steps: 0 };
        benchmark.reform(universe, true);
        benchmark
    }

    pub fn is_member(&self, slot: usize) -> bool {
        self.members.get(slot).copied().unwrap_or(false)
    }

    /// By slot, whether the stock in it is a member (as wide as the universe was at the
    /// last step).
    pub fn mask(&self) -> &[bool] {
        &self.members
    }

    /// The rule it follows.
    pub fn rule(&self) -> OpenBenchmarkRule {
        self.rule
    }

    /// The members' slots.
    pub fn members(&self) -> impl Iterator<Item = usize> + '_ {
        self.members.iter().enumerate().filter(|(_, &member)| member).map(|(slot, _)| slot)
    }

    /// The benchmark over `step` (the universe already taken past it), then its members
    /// for the next: delisted members out (replaced in an index), and a re-forming when
    /// one falls after this step.
    pub fn step(&mut self, step: &Step, universe: &Universe) -> BenchmarkStep {
        let (mut caps_before, mut earned, mut caps_after) = (0.0, 0.0, 0.0);
        for holding in step.holdings.iter().filter(|h| self.is_member(h.slot)) {
            caps_before += holding.cap_before;
            earned += holding.cap_before * holding.growth;
            caps_after += holding.cap_after;
        }
        let result = BenchmarkStep {
            log_return: (earned / caps_before).ln(),
            cap_log_return: (caps_after / caps_before).ln(),
            members_changed: false,
        };
        self.members.resize(universe.width(), false);
        let before = self.members.clone();
        let mut left = 0;
        for holding in step.holdings.iter().filter(|h| h.delists) {
            left += usize::from(std::mem::replace(&mut self.members[holding.slot], false));
        }
        self.steps += 1;
        let every = match self.rule {
            OpenBenchmarkRule::Market { every } | OpenBenchmarkRule::Index { every, .. } => every,
        };
        let none_left = !self.members.iter().any(|member| *member);
        if self.steps.is_multiple_of(every) || none_left {
            // (A market whose members all delisted at once re-forms from the listed now.)
            self.reform(universe, false);
        } else if left > 0 {
            if let OpenBenchmarkRule::Index { .. } = self.rule {
                // The largest listed non-members take the leavers' places.
                let order = self.rank_order(universe);
                let mut needed = left;
                for slot in order {
                    if needed == 0 {
                        break;
                    }
                    if !self.members[slot as usize] {
                        self.members[slot as usize] = true;
                        needed -= 1;
                    }
                }
            }
        }
        // A delisted member's slot may hold a new listing now, so leavers count apart.
        BenchmarkStep { members_changed: left > 0 || self.members != before, ..result }
    }

    /// The listed stocks' slots by cap now, largest first (ties by the lower slot).
    fn rank_order(&self, universe: &Universe) -> Vec<u32> {
        let mut order: Vec<u32> =
            (0..universe.width() as u32).filter(|&slot| universe.cap(slot as usize).is_some()).collect();
        sort_by_rank(&mut order, |slot| universe.cap(slot).unwrap_or(0.0));
        order
    }

    /// Members from the listed stocks' caps now: every one, or the largest K (the
    /// buffer keeping members ranked within K + buffer, except at the start).
    fn reform(&mut self, universe: &Universe, first: bool) {
        self.members.resize(universe.width(), false);
        match self.rule {
            OpenBenchmarkRule::Market { .. } => {
                for (slot, member) in self.members.iter_mut().enumerate() {
                    *member = universe.cap(slot).is_some();
                }
            }
            OpenBenchmarkRule::Index { k, buffer, .. } => {
                let order = self.rank_order(universe);
                if first {
                    self.members.fill(false);
                }
                // Slots outside the order (none listed there) are never members.
                let mut chosen: Vec<bool> = self.members.clone();
                let listed: Vec<bool> = (0..self.members.len()).map(|slot| universe.cap(slot).is_some()).collect();
                for (member, listed) in chosen.iter_mut().zip(&listed) {
                    *member = *member && *listed;
                }
                choose_members(k.min(order.len()), buffer, &order, &mut chosen);
                self.members = chosen;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::long::{Day, LongReader};
    use crate::data::universe::Lifetimes;

    fn run(text: &str, rule: OpenBenchmarkRule) -> (Vec<BenchmarkStep>, Vec<Vec<String>>) {
        let days: Vec<Day> = LongReader::new("t.csv", text.as_bytes()).unwrap().collect::<Result<_, _>>().unwrap();
        let mut universe = Universe::new(Lifetimes::of(days.iter().cloned().map(Ok)).unwrap(), None);
        universe.start(&days[0]).unwrap();
        let mut benchmark = OpenBenchmark::start(rule, &universe);
        let ids = |benchmark: &OpenBenchmark, universe: &Universe| {
            let mut ids: Vec<String> = benchmark.members().map(|s| universe.id(s).unwrap().to_string()).collect();
            ids.sort();
            ids
        };
        let mut members = vec![ids(&benchmark, &universe)];
        let mut steps = Vec::new();
        for day in &days[1..] {
            let step = universe.step(day).unwrap();
            steps.push(benchmark.step(&step, &universe));
            members.push(ids(&benchmark, &universe));
        }
        (steps, members)
    }

    const FILE: &str = "date,id,cap,return,delisting_return\n\
        2020-01-01,A,50,,\n2020-01-01,B,30,,\n2020-01-01,C,20,,\n\
        2020-01-02,A,55,0.12,\n2020-01-02,B,27,,-0.5\n2020-01-02,C,22,0.1,\n2020-01-02,D,40,,\n\
        2020-01-03,A,50,,\n2020-01-03,C,60,,\n2020-01-03,D,40,,\n\
        2020-01-06,A,50,,\n2020-01-06,C,60,,\n2020-01-06,D,40,,\n";

    #[test]
    fn an_index_earns_total_returns_and_replaces_a_delisted_member_with_the_largest_other() {
        let (steps, members) = run(FILE, OpenBenchmarkRule::Index { k: 2, every: 2, buffer: 0 });
        // Start: A and B (50 and 30). Jan 2: A earns 12 %, B 27/30 and its -50 % delisting.
        assert_eq!(members[0], ["A", "B"]);
        let earned = (50.0 * 1.12 + 30.0 * 0.9 * 0.5) / 80.0;
        assert!((steps[0].log_return - f64::ln(earned)).abs() < 1e-15);
        assert!((steps[0].cap_log_return - f64::ln(82.0 / 80.0)).abs() < 1e-15);
        // B leaves at once; D (40, listed on Jan 2) is the largest non-member.
        assert_eq!(members[1], ["A", "D"]);
        assert!(steps[0].members_changed);
        // Jan 3: A 55 -> 50 (cap ratio), D 40 -> 40; then the re-choosing after two
        // steps takes C (60) and A (50).
        assert!((steps[1].log_return - f64::ln(90.0 / 95.0)).abs() < 1e-15);
        assert_eq!(members[2], ["A", "C"]);
        assert!(!steps[2].members_changed);
    }

    #[test]
    fn the_market_takes_new_listings_at_its_next_reforming() {
        let (steps, members) = run(FILE, OpenBenchmarkRule::Market { every: 2 });
        assert_eq!(members[0], ["A", "B", "C"]);
        // B delists and leaves; D waits for the re-forming after step 2.
        assert_eq!(members[1], ["A", "C"]);
        assert_eq!(members[2], ["A", "C", "D"]);
        assert!((steps[1].cap_log_return - f64::ln(110.0 / 77.0)).abs() < 1e-15);
    }
}
