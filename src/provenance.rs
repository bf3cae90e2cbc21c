//! What identifies a run and the build that made it: sptlab's version and git commit,
//! the random-number contract, and the scenario's hash. Manifests (summary.json,
//! shard.json, checkpoints) record them; `--reproduce`, `merge` and `--resume` check them.

use crate::scenario::Scenario;

/// This sptlab's version.
pub const SPTLAB_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The git commit sptlab was built from, when the build could tell (build.rs).
pub const GIT_COMMIT: Option<&str> = option_env!("SPTLAB_GIT_COMMIT");

/// The random-number contract (docs/reproducibility.md) a run's paths are drawn under;
/// shards of different contracts never merge.
pub const RNG_CONTRACT: &str = "philox4x32-10/box-muller/v1";

/// FNV-1a, 64-bit: stable across platforms and versions (unlike `DefaultHasher`).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| (hash ^ *byte as u64).wrapping_mul(0x0100_0000_01b3))
}

/// FNV-1a of the scenario's JSON: a quick identity check (summary.json, shard.json).
pub fn scenario_hash(scenario: &Scenario) -> String {
    json_hash(&serde_json::to_value(scenario).expect("a scenario serialises"))
}

/// The same hash of a scenario as written in a file (its fields in the file's order,
/// those it has and no others), so that one written by an older sptlab, whose scenario
/// had fewer fields, checks against the hash that sptlab recorded.
pub fn json_hash(scenario: &serde_json::Value) -> String {
    let json = serde_json::to_string(scenario).expect("JSON serialises");
    format!("{:016x}", fnv1a(json.as_bytes()))
}
