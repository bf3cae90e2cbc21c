//! Every key summary.json can hold is defined in docs/: the keys are gathered from real
//! runs that between them write every kind of summary (each example scenario, the
//! control off, antithetic pairs, history beside a run, a backtest with an index).

use std::collections::BTreeSet;
use std::path::Path;

use crate::{json, scratch, sptlab};

const PRICES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/sp500_20_stocks_1990_2022.csv");
const INDEX: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/sp500_index_1990_2022.csv");

/// Every object key in `value`, at any depth, but the names a user chose: the strategy
/// names under `strategies`.
fn keys(value: &serde_json::Value, parent: Option<&str>, out: &mut BTreeSet<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, child) in map {
                if parent != Some("strategies") {
                    out.insert(key.clone());
                }
                keys(child, Some(key), out);
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|item| keys(item, parent, out)),
        _ => {}
    }
}

/// Every docs/ page, one text.
fn documentation() -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
    let mut pages: Vec<_> = std::fs::read_dir(dir).unwrap().map(|entry| entry.unwrap().path()).collect();
    pages.sort();
    pages
        .iter()
        .filter(|page| page.extension().is_some_and(|e| e == "md"))
        .map(|page| std::fs::read_to_string(page).unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn every_key_summary_json_can_hold_is_defined_in_docs() {
    let dir = scratch("documented");
    let scenarios = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/scenarios");
    let mut runs: Vec<Vec<String>> = Vec::new();
    let mut names: Vec<_> = std::fs::read_dir(&scenarios).unwrap().map(|entry| entry.unwrap().path()).collect();
    names.sort();
    for scenario in names {
        runs.push(vec![
            "run".into(),
            scenario.to_string_lossy().into_owned(),
            "--paths".into(),
            "8".into(),
            "--years".into(),
            "0.1".into(),
        ]);
    }
    let default_with = |extra: &[&str]| -> Vec<String> {
        let mut args: Vec<String> = ["run", "--paths", "8", "--years", "0.1"].iter().map(|s| s.to_string()).collect();
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    };
    runs.push(default_with(&["--control-variate", "none"]));
    runs.push(default_with(&["--antithetic"]));
    let bootstrap = scenarios.join("bootstrap_sp500_20.toml").to_string_lossy().into_owned();
    runs.push(vec![
        "run".into(),
        bootstrap,
        "--paths".into(),
        "8".into(),
        "--years".into(),
        "0.5".into(),
        "--history".into(),
        PRICES.into(),
    ]);
    runs.push(vec![
        "backtest".into(),
        PRICES.into(),
        "--from".into(),
        "2022-01-03".into(),
        "--benchmark".into(),
        INDEX.into(),
    ]);

    // A long file: an index, a screen, the decomposition's total-return term.
    let long_scenario = dir.join("long.toml");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        &long_scenario,
        "[market]\nn = 6\n[benchmark]\nindex = 3\nreconstitute_every = 10\n[[strategies]]\nname = \"equal\"\nweighting = \"equal\"\n\
         exclude = [10001]\n[[strategies]]\nname = \"top\"\nweighting = \"top_k\"\nk = 2\n",
    )
    .unwrap();
    runs.push(vec![
        "backtest".into(),
        concat!(env!("CARGO_MANIFEST_DIR"), "/examples/data/crsp_fixture.csv").into(),
        "--scenario".into(),
        long_scenario.to_string_lossy().into_owned(),
    ]);

    let mut found = BTreeSet::new();
    for (index, args) in runs.iter().enumerate() {
        let out = dir.join(format!("run{index}"));
        let mut args: Vec<&str> = args.iter().map(String::as_str).collect();
        args.extend(["--out", out.to_str().unwrap(), "--quiet", "--backend", "cpu"]);
        if args[0] == "backtest" {
            args.truncate(args.len() - 2);
        }
        let output = sptlab(&args);
        assert!(output.status.success(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
        keys(&json(&out.join("summary.json")), None, &mut found);
    }
    // The walk sees the nested keys it must: a control's, a comparison's, history's, an index's.
    for key in [
        "controlled",
        "variance_ratio",
        "first_wins",
        "percentile",
        "vs_index",
        "antithetic",
        "manifest",
        "total_return_term",
        "member_changes",
    ] {
        assert!(found.contains(key), "{key} was written by one of the runs: {found:?}");
    }
    let docs = documentation();
    let undefined: Vec<&String> = found.iter().filter(|key| !docs.contains(&format!("`{key}`"))).collect();
    assert!(undefined.is_empty(), "summary.json keys no docs/ page defines (as `key`): {undefined:?}");
}
