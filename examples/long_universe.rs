//! Writes a synthetic CRSP-style long daily file, or reads one back through sptlab's
//! long reader and open-universe replay and says what they saw and how long it took:
//!
//!     cargo run --release --example long_universe -- write STOCKS DAYS FILE [SEED]
//!     cargo run --release --example long_universe -- read FILE
//!
//! The written file has WRDS's columns (PERMNO, date as YYYYMMDD, PRC, SHROUT, RET,
//! DLRET), in date order: about STOCKS stocks listed on each business day from
//! 2000-01-03, each a GBM price with its own volatility; a stock delists with
//! probability 1/2000 a day (its delisting return drawn from -100 % to +10 %, missing
//! for one in ten) and a new one lists in its place; quarterly dividends (RET differs
//! from the price ratio), rare share issues (SHROUT jumps: not a return), a bid/ask
//! average (negative PRC) one row in fifty and CRSP's letter code C on each stock's
//! first row. STOCKS x DAYS = 4,000 x 2,520 gives the 10-million-row file.

use std::io::{BufWriter, Write};
use std::time::Instant;

use sptlab::data::long::LongReader;
use sptlab::data::universe::{Lifetimes, Universe};

/// SplitMix64: a small, seeded generator (this file's data need not be Philox's).
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn uniform(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform().max(1e-300), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

struct Stock {
    permno: u64,
    price: f64,
    shares: f64,
    vol: f64,
    first: bool,
}

fn new_stock(permno: u64, rng: &mut SplitMix) -> Stock {
    Stock {
        permno,
        price: 5.0 + 95.0 * rng.uniform(),
        shares: (1_000.0 + 100_000.0 * rng.uniform()).round(),
        vol: 0.15 + 0.45 * rng.uniform(),
        first: true,
    }
}

/// YYYYMMDD of business day `k` from 2000-01-03 (a Monday), weekends skipped.
fn business_date(k: usize) -> String {
    let calendar_days = (k / 5 * 7 + k % 5) as i64;
    let iso = sptlab::data::format_date(sptlab::data::parse_date("2000-01-03").unwrap() + calendar_days);
    iso.replace('-', "")
}

fn write(stocks: usize, days: usize, path: &str, seed: u64) -> anyhow::Result<()> {
    let mut rng = SplitMix(seed);
    let mut out = BufWriter::new(std::fs::File::create(path)?);
    writeln!(out, "PERMNO,date,PRC,SHROUT,RET,DLRET")?;
    let mut next_permno = 10_000;
    let mut listed: Vec<Stock> = (0..stocks)
        .map(|_| {
            next_permno += 1;
            new_stock(next_permno, &mut rng)
        })
        .collect();
    let dt = 1.0 / 252.0;
    let mut rows = 0u64;
    for day in 0..days {
        let date = business_date(day);
        let last_day = day + 1 == days;
        let mut replaced = Vec::new();
        for (slot, stock) in listed.iter_mut().enumerate() {
            let (ret, dlret) = if stock.first {
                stock.first = false;
                ("C".to_string(), String::new())
            } else {
                let growth = ((0.07 - 0.5 * stock.vol * stock.vol) * dt + stock.vol * dt.sqrt() * rng.normal()).exp();
                let dividend = if day % 63 == 0 { 0.005 * stock.price } else { 0.0 };
                let new_price = stock.price * growth - dividend;
                let total_return = (new_price + dividend) / stock.price - 1.0;
                stock.price = new_price;
                if rng.uniform() < 0.001 {
                    stock.shares = (stock.shares * 1.1).round();
                }
                let delists = !last_day && rng.uniform() < 1.0 / 2000.0;
                let dlret = match (delists, rng.uniform() < 0.1) {
                    (false, _) => String::new(),
                    (true, true) => "S".to_string(),
                    (true, false) => format!("{:.6}", -1.0 + 1.1 * rng.uniform()),
                };
                if delists {
                    replaced.push(slot);
                }
                (format!("{total_return:.8}"), dlret)
            };
            let price = if rng.uniform() < 0.02 { -stock.price } else { stock.price };
            writeln!(out, "{},{date},{price:.6},{},{ret},{dlret}", stock.permno, stock.shares)?;
            rows += 1;
        }
        // New listings take the delisted stocks' places from the next day on.
        for slot in replaced {
            next_permno += 1;
            listed[slot] = new_stock(next_permno, &mut rng);
        }
    }
    out.flush()?;
    println!("wrote {path}: {rows} rows, {days} dates, {} ids", next_permno - 10_000);
    Ok(())
}

fn read(path: &str) -> anyhow::Result<()> {
    let started = Instant::now();
    let lifetimes = Lifetimes::of(LongReader::new(path, std::fs::File::open(path)?)?)?;
    let first_pass = started.elapsed().as_secs_f64();
    let ids = lifetimes.spans.len();
    let mut universe = Universe::new(lifetimes, None);
    let mut reader = LongReader::new(path, std::fs::File::open(path)?)?;
    let (mut steps, mut holdings, mut delistings) = (0u64, 0u64, 0u64);
    let mut log_growth = 0.0;
    if let Some(first) = reader.next() {
        universe.start(&first?)?;
    }
    for day in reader.by_ref() {
        let step = universe.step(&day?)?;
        steps += 1;
        holdings += step.holdings.len() as u64;
        delistings += step.holdings.iter().filter(|h| h.delists).count() as u64;
        log_growth += step.holdings.iter().map(|h| h.growth.ln()).sum::<f64>();
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{path}: {ids} ids, {steps} steps, {holdings} holding-steps, {delistings} delistings, {} slots at most; \
         first pass {first_pass:.1} s, both {seconds:.1} s; mean log growth per holding-step {:.2e}",
        universe.width(),
        log_growth / holdings.max(1) as f64
    );
    println!("reader: {:?}; universe: {:?}", reader.missing, universe.caveats);
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["write", stocks, days, path] => write(stocks.parse()?, days.parse()?, path, 32),
        ["write", stocks, days, path, seed] => write(stocks.parse()?, days.parse()?, path, seed.parse()?),
        ["read", path] => read(path),
        _ => anyhow::bail!("usage: long_universe write STOCKS DAYS FILE [SEED] | long_universe read FILE"),
    }
}
