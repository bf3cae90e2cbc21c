//! A long file of CRSP's columns (examples/data/crsp_fixture.csv) through the long
//! reader and the open-universe replay, against the file's cells read in plain code
//! here: which stocks each step holds and what each earns (issue 32's hand-checked
//! fixture; its strategy and decomposition values come with the backtest).

use std::collections::HashMap;

use sptlab::data::long::LongReader;
use sptlab::data::universe::{Lifetimes, Universe, UniverseCaveats};

const FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/crsp_fixture.csv");

/// (date text, permno) -> the row's cells PRC, SHROUT, RET, DLRET.
type Cells = HashMap<(String, String), Vec<String>>;

/// The file's rows, and its dates.
fn cells() -> (Cells, Vec<String>) {
    let text = std::fs::read_to_string(FIXTURE).unwrap();
    let mut rows = HashMap::new();
    let mut dates: Vec<String> = Vec::new();
    for line in text.lines().skip(1) {
        let cells: Vec<String> = line.split(',').map(str::to_string).collect();
        if dates.last() != Some(&cells[1]) {
            dates.push(cells[1].clone());
        }
        rows.insert((cells[1].clone(), cells[0].clone()), cells[2..].to_vec());
    }
    (rows, dates)
}

#[test]
fn the_fixture_replays_to_the_growths_its_cells_give() {
    let (rows, dates) = cells();
    let days = || LongReader::new(FIXTURE, std::fs::File::open(FIXTURE).unwrap()).unwrap();
    let mut universe = Universe::new(Lifetimes::of(days()).unwrap(), None);
    let mut reader = days();
    universe.start(&reader.next().unwrap().unwrap()).unwrap();
    let ids = ["10001", "10002", "10003", "10004", "10005", "10006"];
    // Each stock's last reported price, for the price-ratio fallback.
    let mut last_price: HashMap<&str, f64> = HashMap::new();
    for id in ids {
        if let Some(cells) = rows.get(&(dates[0].clone(), id.to_string())) {
            last_price.insert(id, cells[0].parse::<f64>().unwrap().abs());
        }
    }
    let mut held_through = HashMap::new();
    for (k, day) in reader.by_ref().enumerate() {
        // Each slot's stock at the step's start (one that delists leaves its slot in the step).
        let slots: Vec<Option<String>> = (0..universe.width()).map(|s| universe.id(s).map(str::to_string)).collect();
        let step = universe.step(&day.unwrap()).unwrap();
        let date = &dates[k + 1];
        let mut seen = Vec::new();
        for holding in &step.holdings {
            let id = slots[holding.slot].clone().expect("a holding's slot held a stock at the step's start");
            let expected = match rows.get(&(date.clone(), id.clone())) {
                // 10001's missing date: carried, a zero return.
                None => 1.0,
                Some(cells) => {
                    let price = cells[0].parse::<f64>().unwrap().abs();
                    let growth = match cells[2].parse::<f64>() {
                        Ok(total_return) => 1.0 + total_return,
                        // A letter code: the price ratio since its last row.
                        Err(_) => price / last_price[id.as_str()],
                    };
                    last_price.insert(ids.iter().find(|i| **i == id).unwrap(), price);
                    match cells[3].parse::<f64>() {
                        Ok(delisting_return) => growth * (1.0 + delisting_return),
                        Err(_) => growth,
                    }
                }
            };
            assert!(
                (holding.growth - expected).abs() < 1e-15,
                "{date}, {id}: growth {} against {expected} from the cells",
                holding.growth
            );
            seen.push(id.clone());
            *held_through.entry(id).or_insert(0) += 1;
        }
        seen.sort();
        // Listed at the step's start: every stock whose life covers it.
        let listed_at_start: Vec<&str> = ids
            .iter()
            .copied()
            .filter(|id| match *id {
                "10006" => k + 1 > 10,
                "10003" => k < 24,
                _ => true,
            })
            .collect();
        assert_eq!(seen, listed_at_start, "{date}");
        for &slot in &step.listed {
            let id = universe.id(slot).unwrap();
            last_price.insert(
                ids.iter().find(|i| **i == id).unwrap(),
                rows[&(date.clone(), id.to_string())][0].parse::<f64>().unwrap(),
            );
        }
    }
    // 10003 earns over 24 steps, the last with its delisting return; 10006 from its
    // listing on the 11th date; the others over all 39.
    assert_eq!(held_through["10003"], 24);
    assert_eq!(held_through["10006"], 29);
    assert_eq!(held_through["10001"], 39);
    assert_eq!(universe.width(), 6, "10006 lists before 10003 delists: six slots");
    assert_eq!(
        universe.caveats,
        UniverseCaveats { missing_dates: 1, missing_delisting_returns: 0, cap_ratio_growth: 0, missing_caps: 0 }
    );
    assert_eq!((reader.missing.coded_returns, reader.missing.coded_delisting_returns), (2, 0));
}
