//! An open universe from a long file (issue 32): which stocks are listed on each date,
//! and what holding each one earns over each step, from the file's rows in date order.
//!
//! The rules:
//! - steps are the file's distinct dates; step k runs from date k to date k + 1;
//! - a stock is listed from its first row to its last, and a holding in it can be kept
//!   over a step that starts on or after its first row and before its last;
//! - a holding's growth over a step is 1 + `return` where the row at the step's end
//!   gives one, else the price ratio, else the cap ratio (never the cap ratio where a
//!   price exists: share issues are not returns);
//! - a date missing inside a stock's life carries its cap and price forward with a
//!   zero return (counted);
//! - on its last row before the file's last date a stock delists: the step into that
//!   row also pays (1 + `delisting_return`), or the default when the file gives none
//!   (counted), and the stock is not listed after it.
//!
//! A stock's last row is only known at the file's end, so the file is read twice:
//! once for each id's first and last dates (memory: one entry per id over the whole
//! file), then again a date at a time ([`Universe::step`]), keeping only the stocks
//! listed now. Each listed stock takes a slot, freed when it delists and reused by the
//! next listing, so per-stock state elsewhere stays as wide as the most stocks listed
//! on one date.

use std::collections::HashMap;

use super::long::{Day, StockRow};
use super::DataError;

/// Each id's first and last dates (days since 1970-01-01), from the file's first pass.
#[derive(Debug, Clone, Default)]
pub struct Lifetimes {
    pub spans: HashMap<String, (i64, i64)>,
    /// The file's last date: a stock whose last row is on it has not delisted.
    pub last_date: i64,
    pub dates: usize,
}

impl Lifetimes {
    /// The first pass: every id's first and last dates.
    pub fn of(days: impl Iterator<Item = Result<Day, DataError>>) -> Result<Lifetimes, DataError> {
        let mut lifetimes = Lifetimes { last_date: i64::MIN, ..Lifetimes::default() };
        for day in days {
            let day = day?;
            for row in &day.rows {
                let span = lifetimes.spans.entry(row.id.clone()).or_insert((day.date, day.date));
                span.1 = day.date;
            }
            lifetimes.last_date = day.date;
            lifetimes.dates += 1;
        }
        Ok(lifetimes)
    }
}

/// One listed stock over a step.
#[derive(Debug, Clone, PartialEq)]
pub struct Holding {
    pub slot: usize,
    /// Its cap at the step's start and end (carried forward over a missing date).
    pub cap_before: f64,
    pub cap_after: f64,
    /// What a holding in it earns over the step, h (the delisting return included).
    pub growth: f64,
    /// It delists at the step's end: its last row before the file's last date.
    pub delists: bool,
}

/// A step of the universe: the stocks listed at its start and what they earn.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub from: i64,
    pub to: i64,
    pub holdings: Vec<Holding>,
    /// Slots of stocks first listed at the step's end (holdable from the next step).
    pub listed: Vec<usize>,
}

/// What the replay counted for a backtest's caveats.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UniverseCaveats {
    /// Dates inside a stock's life without its row (cap and price carried, zero return).
    pub missing_dates: u64,
    /// Delistings without a delisting return (the default applied, if any).
    pub missing_delisting_returns: u64,
    /// Rows whose growth came from the cap ratio (no return, no price).
    pub cap_ratio_growth: u64,
    /// Rows without a cap inside a stock's life (carried forward).
    pub missing_caps: u64,
}

/// A listed stock's last known state.
#[derive(Debug, Clone)]
struct Listed {
    id: String,
    last: i64,
    cap: f64,
    price: Option<f64>,
}

/// The second pass: the universe date by date.
pub struct Universe {
    lifetimes: Lifetimes,
    /// Slot -> the stock in it.
    slots: Vec<Option<Listed>>,
    by_id: HashMap<String, usize>,
    free: Vec<usize>,
    date: Option<i64>,
    /// The return a delisting gets when the file gives none (None: 0).
    default_delisting_return: Option<f64>,
    pub caveats: UniverseCaveats,
}

impl Universe {
    pub fn new(lifetimes: Lifetimes, default_delisting_return: Option<f64>) -> Universe {
        Universe {
            lifetimes,
            slots: Vec::new(),
            by_id: HashMap::new(),
            free: Vec::new(),
            date: None,
            default_delisting_return,
            caveats: UniverseCaveats::default(),
        }
    }

    /// The most slots taken at once so far (per-stock state elsewhere needs this many).
    pub fn width(&self) -> usize {
        self.slots.len()
    }

    /// The id in `slot` now.
    pub fn id(&self, slot: usize) -> Option<&str> {
        self.slots.get(slot)?.as_ref().map(|listed| listed.id.as_str())
    }

    /// The cap of the stock in `slot` now (as of the last date taken, carried forward).
    pub fn cap(&self, slot: usize) -> Option<f64> {
        self.slots.get(slot)?.as_ref().map(|listed| listed.cap)
    }

    /// Takes the file's first date: its stocks listed (no step yet). Returns their slots.
    pub fn start(&mut self, day: &Day) -> Result<Vec<usize>, DataError> {
        self.date = Some(day.date);
        let mut listed = Vec::new();
        for row in &day.rows {
            listed.push(self.list(row, day.date)?);
        }
        Ok(listed)
    }

    /// The step from the last date taken to `day`: every stock listed then (and not
    /// delisted on it) earns its growth; stocks first seen on `day` are listed.
    pub fn step(&mut self, day: &Day) -> Result<Step, DataError> {
        let from = self.date.ok_or_else(|| DataError::new("long file", "a step before the first date"))?;
        let rows: HashMap<&str, &StockRow> = day.rows.iter().map(|row| (row.id.as_str(), row)).collect();
        let mut holdings = Vec::new();
        let file_end = self.lifetimes.last_date;
        for slot in 0..self.slots.len() {
            let Some(listed) = self.slots[slot].as_mut() else { continue };
            let delists = listed.last == day.date && day.date != file_end;
            let cap_before = listed.cap;
            let (cap_after, mut growth) = match rows.get(listed.id.as_str()) {
                // A missing date inside its life: carried forward, zero return.
                None => {
                    self.caveats.missing_dates += 1;
                    (cap_before, 1.0)
                }
                Some(row) => {
                    let cap_after = match row.cap {
                        Some(cap) => cap,
                        None => {
                            self.caveats.missing_caps += 1;
                            cap_before
                        }
                    };
                    let growth = match (row.total_return, row.price, listed.price) {
                        (Some(total_return), _, _) => 1.0 + total_return,
                        (None, Some(now), Some(before)) => now / before,
                        (None, None, Some(_)) | (None, Some(_), None) => 1.0,
                        (None, None, None) => {
                            self.caveats.cap_ratio_growth += 1;
                            cap_after / cap_before
                        }
                    };
                    listed.cap = cap_after;
                    if row.price.is_some() {
                        listed.price = row.price;
                    }
                    (cap_after, growth)
                }
            };
            if delists {
                let delisting = rows.get(listed.id.as_str()).and_then(|row| row.delisting_return);
                let delisting = delisting.or_else(|| {
                    self.caveats.missing_delisting_returns += 1;
                    self.default_delisting_return
                });
                growth *= 1.0 + delisting.unwrap_or(0.0);
            }
            holdings.push(Holding { slot, cap_before, cap_after, growth, delists });
        }
        // Delisted stocks free their slots; new ones take the free slots first.
        for holding in holdings.iter().filter(|h| h.delists) {
            if let Some(listed) = self.slots[holding.slot].take() {
                self.by_id.remove(&listed.id);
                self.free.push(holding.slot);
            }
        }
        let mut listed = Vec::new();
        for row in &day.rows {
            let first_seen = self.lifetimes.spans.get(&row.id).is_some_and(|(first, _)| *first == day.date);
            if first_seen && !self.by_id.contains_key(&row.id) {
                listed.push(self.list(row, day.date)?);
            }
        }
        self.date = Some(day.date);
        Ok(Step { from, to: day.date, holdings, listed })
    }

    /// Lists the stock of `row` on `date` in a free slot.
    fn list(&mut self, row: &StockRow, date: i64) -> Result<usize, DataError> {
        let (_, last) = self.lifetimes.spans.get(&row.id).copied().unwrap_or((date, date));
        let cap = row.cap.ok_or_else(|| {
            DataError::new(
                format!("id {}", row.id),
                format!(
                    "its first row ({}) has no cap: a stock is listed from a row with its cap",
                    super::format_date(date)
                ),
            )
        })?;
        let listed = Listed { id: row.id.clone(), last, cap, price: row.price };
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot] = Some(listed);
                slot
            }
            None => {
                self.slots.push(Some(listed));
                self.slots.len() - 1
            }
        };
        self.by_id.insert(row.id.clone(), slot);
        Ok(slot)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::long::LongReader;

    const FILE: &str = "date,id,price,shares,return,delisting_return\n\
        2020-01-01,A,10,100,,\n\
        2020-01-01,B,20,10,,\n\
        2020-01-02,A,11,100,0.1,\n\
        2020-01-02,B,19,10,,\n\
        2020-01-03,B,19,20,,-0.5\n\
        2020-01-03,C,5,10,,\n\
        2020-01-06,A,12.1,100,0.12,\n\
        2020-01-06,C,6,10,0.2,\n";

    fn universe(text: &str, default: Option<f64>) -> (Universe, Vec<Day>) {
        let days: Vec<Day> = LongReader::new("test.csv", text.as_bytes()).unwrap().collect::<Result<_, _>>().unwrap();
        let lifetimes = Lifetimes::of(days.iter().cloned().map(Ok)).unwrap();
        (Universe::new(lifetimes, default), days)
    }

    #[test]
    fn growth_comes_from_returns_then_prices_carries_over_missing_dates_and_pays_delisting() {
        let (mut universe, days) = universe(FILE, None);
        assert_eq!(universe.start(&days[0]).unwrap(), [0, 1]);
        // Jan 2: A's return 10 %; B has no return, so its price ratio.
        let step = universe.step(&days[1]).unwrap();
        assert_eq!(step.holdings[0].growth, 1.1);
        assert_eq!(step.holdings[1].growth, 19.0 / 20.0);
        assert!(step.listed.is_empty());
        // Jan 3: A has no row (carried, growth 1); B delists with -50 % on a price ratio
        // of 1 (its shares doubled: a share issue, not a return); C is listed.
        let step = universe.step(&days[2]).unwrap();
        assert_eq!((step.holdings[0].growth, step.holdings[0].cap_after), (1.0, 1100.0));
        let b = &step.holdings[1];
        assert_eq!((b.growth, b.delists, b.cap_after), (0.5, true, 380.0));
        // C takes B's freed slot.
        assert_eq!(step.listed, [1]);
        assert_eq!(universe.id(1), Some("C"));
        // Jan 6 (the file's end): A earns its return since its last row; nothing delists.
        let step = universe.step(&days[3]).unwrap();
        assert_eq!(step.holdings.iter().map(|h| (h.slot, h.growth)).collect::<Vec<_>>(), [(0, 1.12), (1, 1.2)]);
        assert!(step.holdings.iter().all(|h| !h.delists));
        assert_eq!(universe.width(), 2);
        assert_eq!(universe.caveats, UniverseCaveats { missing_dates: 1, ..UniverseCaveats::default() });
    }

    #[test]
    fn a_delisting_without_its_return_takes_the_default_and_is_counted() {
        let text = "date,id,cap\n2020-01-01,A,10\n2020-01-01,B,5\n2020-01-02,A,12\n2020-01-02,B,4\n2020-01-03,B,4\n";
        let (mut universe, days) = universe(text, Some(-0.3));
        universe.start(&days[0]).unwrap();
        let step = universe.step(&days[1]).unwrap();
        // Caps only: the cap ratio, counted; A delists on its last row before the end.
        assert!((step.holdings[0].growth - 1.2 * 0.7).abs() < 1e-15);
        assert!(step.holdings[0].delists && !step.holdings[1].delists);
        assert_eq!(universe.caveats.missing_delisting_returns, 1);
        assert_eq!(universe.caveats.cap_ratio_growth, 2);
        let step = universe.step(&days[2]).unwrap();
        assert_eq!(step.holdings.len(), 1, "A is gone after its delisting");
    }
}
