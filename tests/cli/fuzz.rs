//! Property-based fuzzing of the scenario parser and validator (bounded, in the normal
//! test run): whatever the text, `from_toml` + `validate` return a plan or an error with
//! a message, and never panic.

use proptest::prelude::*;
use sptlab::Scenario;

/// Parses and validates; panics (failing the property) only if sptlab does.
fn check(text: &str) {
    match Scenario::from_toml(text).and_then(|scenario| scenario.validate()) {
        Ok(plan) => assert!(plan.paths > 0 && plan.steps > 0 && plan.n() > 0),
        Err(error) => assert!(!error.to_string().trim().is_empty(), "an error without a message"),
    }
}

const DEFAULT: &str = include_str!("../../examples/scenarios/default.toml");

/// Values that break naive validators.
const HOSTILE: [&str; 16] = [
    "nan",
    "inf",
    "-inf",
    "-1",
    "0",
    "0.0",
    "-0.0",
    "1e308",
    "-1e-308",
    "4294967296",
    "18446744073709551615",
    "9999999999",
    "1e-320",
    "\"text\"",
    "[]",
    "{}",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_text_parses_or_fails_with_a_message(text in "\\PC{0,400}") {
        check(&text);
    }

    #[test]
    fn the_default_scenario_with_one_value_made_hostile(line in 0usize..64, value in 0usize..HOSTILE.len()) {
        let lines: Vec<&str> = DEFAULT.lines().collect();
        let line = line % lines.len();
        let mutated: Vec<String> = lines
            .iter()
            .enumerate()
            .map(|(i, text)| match text.split_once('=') {
                Some((key, _)) if i == line => format!("{key}= {}", HOSTILE[value]),
                _ => text.to_string(),
            })
            .collect();
        check(&mutated.join("\n"));
    }

    #[test]
    fn the_default_scenario_with_lines_dropped_or_repeated(line in 0usize..64, repeat in any::<bool>()) {
        let mut lines: Vec<&str> = DEFAULT.lines().collect();
        let line = line % lines.len();
        if repeat {
            lines.insert(line, lines[line]);
        } else {
            lines.remove(line);
        }
        check(&lines.join("\n"));
    }
}
