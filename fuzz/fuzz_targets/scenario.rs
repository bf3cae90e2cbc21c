//! Coverage-guided fuzzing of the scenario parser and validator: any bytes must give
//! either a valid plan or a clear error (one line per problem, each naming a place),
//! never a panic. See fuzz/README.md.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match sptlab::Scenario::from_toml(text) {
        Ok(scenario) => match scenario.validate() {
            Ok(plan) => assert!(plan.paths >= 1 && plan.steps >= 1 && !plan.strategies.is_empty()),
            Err(error) => assert!(!error.to_string().trim().is_empty()),
        },
        Err(error) => assert!(!error.to_string().trim().is_empty()),
    }
});
