use sptlab::engine::{Backend, CpuBackend, Precision};
use sptlab::market::{GbmMarket, Market};
use sptlab::{Plan, Results, Scenario};

/// The GBM parameters of a GBM plan.
pub fn gbm(plan: &Plan) -> &GbmMarket {
    match &plan.market {
        Market::Gbm(gbm) => gbm,
        other => panic!("expected a GBM scenario, got {other:?}"),
    }
}

pub fn plan(toml: &str) -> Plan {
    Scenario::from_toml(toml).expect("test scenario parses").validate().expect("test scenario is valid")
}

pub fn simulate(plan: &Plan, backend: &mut dyn Backend) -> Results {
    sptlab::simulate(plan, backend, &|_| {}).expect("simulation runs").0
}

pub fn simulate_cpu(plan: &Plan, precision: Precision) -> Results {
    simulate(plan, &mut CpuBackend::new(precision, None))
}

/// 30 stocks, ten years daily, every weighting, several rebalancing intervals and costs.
pub const MIXED: &str = r#"
    name = "mixed"
    seed = 11
    paths = 48
    years = 10.0
    [market]
    n = 30
    zipf = 1.0
    growth = 0.05
    vol = { from = 0.15, to = 0.5 }
    correlation = 0.25
    [[strategies]]
    name = "equal"
    weighting = "equal"
    [[strategies]]
    name = "equal-monthly-costly"
    weighting = "equal"
    rebalance_every = 21
    cost_bps = 25.0
    [[strategies]]
    name = "diversity-0.5"
    weighting = "diversity"
    p = 0.5
    [[strategies]]
    name = "diversity-negative"
    weighting = "diversity"
    p = -0.5
    rebalance_every = 5
    cost_bps = 10.0
    [[strategies]]
    name = "entropy"
    weighting = "entropy"
    rebalance_every = 63
    [[strategies]]
    name = "tilted"
    weighting = "constant"
    weights = [0.1, 0.1, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.05, 0.02, 0.02, 0.02, 0.02, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01]
    [[strategies]]
    name = "cap-weighted"
    weighting = "market"
"#;

/// The shipped daily prices of 20 stocks, 1990-2022.
pub const SHIPPED_PRICES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/sp500_20_stocks_1990_2022.csv");

/// A copy of the shipped prices with only the first `stocks` tickers and the rows from
/// `from` (ISO date) on, in the system's temporary folder; its path.
pub fn data_file(stocks: usize, from: &str) -> String {
    let text = std::fs::read_to_string(SHIPPED_PRICES).unwrap();
    let keep = |line: &str| line.split(',').take(stocks + 1).collect::<Vec<_>>().join(",");
    let mut lines = text.lines();
    let mut out = keep(lines.next().unwrap()) + "\n";
    for line in lines.filter(|line| &line[..10] >= from) {
        out.push_str(&keep(line));
        out.push('\n');
    }
    let path = std::env::temp_dir().join(format!("sptlab-test-prices-{stocks}-{from}-{}.csv", std::process::id()));
    // Tests in other threads read the same file: write a private copy and rename it
    // over, so that no reader (the engine now streams the file) sees it half-written.
    static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let write = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let private = path.with_extension(format!("csv.{write}"));
    std::fs::write(&private, out).unwrap();
    std::fs::rename(&private, &path).unwrap();
    path.display().to_string()
}
