//! Shards of a run and their merge (`sptlab run --shard I/N`, `sptlab merge`).
//!
//! A path's random numbers depend only on (seed, path index, step), so shard I of N
//! simulates paths [I·P/N, (I+1)·P/N) exactly as the whole run would. It writes
//! `shard.json` (what was run: version, scenario and its hash, seed, the shard, the
//! backend, and the cross-path sums in their canonical order, `summary/ordered_sums.rs`) and
//! `paths.bin` (every path's statistics as little-endian f64, in path order). A merge
//! checks that the shards are the complementary parts of one run and rebuilds the
//! run's `Results` bit for bit, so its summary is the unsharded run's.
//!
//! `shard.json` carries a SHA-256 checksum of itself (without the checksum) and of
//! `paths.bin`, so a flipped byte, an edited sum or label, or one shard's `paths.bin`
//! copied over another's is refused when read, as is a non-finite value (a finished
//! run has none).

use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::engine::accumulators::index_field;
use crate::engine::time_grid::TimeGrid;
use crate::engine::{BackendInfo, BackendKind, PathStatistics, Precision};
use crate::provenance::{scenario_hash, GIT_COMMIT, RNG_CONTRACT, SPTLAB_VERSION};
use crate::scenario::{Plan, Scenario};
use crate::summary::history::HistoricalOutcome;
use crate::summary::ordered_sums::OrderedSums;
use crate::summary::report::RunInfo;
use crate::summary::results::{IndexPaths, Results};

/// Why shards cannot be read or merged; each message names the shard directory or file.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ShardError {
    /// `--shard` that is not `I/N` with 0 <= I < N <= MAX_SHARDS.
    #[error("{0}")]
    Spec(String),
    /// A shard file that cannot be read, or is not a shard manifest.
    #[error("{0}")]
    Unreadable(String),
    /// A shard whose files disagree with each other or with their checksum.
    #[error("{0}")]
    Damaged(String),
    /// Shards that are not the complementary parts of one run: every mismatch, gap and
    /// overlap found, one per line.
    #[error("{}", .0.join("\n"))]
    NotOneRun(Vec<String>),
    #[error("merge needs at least one shard directory")]
    NoShards,
}

/// Most shards a run is split into (a Slurm job array's size is bounded alike).
pub const MAX_SHARDS: u64 = 1 << 20;

/// Which part of a run: shard `index` of `count` (0-based, as `--shard I/N` reads).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardSpec {
    pub index: u64,
    pub count: u64,
}

impl ShardSpec {
    /// Parses `I/N` with 0 <= I < N.
    pub fn parse(text: &str) -> Result<ShardSpec, ShardError> {
        let bad = || ShardError::Spec(format!("--shard {text}: expected I/N with 0 <= I < N, e.g. 0/4"));
        let (index, count) = text.split_once('/').ok_or_else(bad)?;
        let index: u64 = index.trim().parse().map_err(|_| bad())?;
        let count: u64 = count.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        if count > MAX_SHARDS {
            return Err(ShardError::Spec(format!("--shard {text}: at most {MAX_SHARDS} shards")));
        }
        Ok(ShardSpec { index, count })
    }

    /// The global path indices of this shard in a run of `paths`; with antithetic pairs
    /// the pairs are shared out instead, so that no pair is split (docs/control-variates.md).
    pub fn paths(self, paths: u64, antithetic: bool) -> Range<u64> {
        let (units, per_unit) = if antithetic { (paths / 2, 2) } else { (paths, 1) };
        let bound = |i: u64| per_unit * (i as u128 * units as u128 / self.count as u128) as u64;
        bound(self.index)..bound(self.index + 1)
    }
}

/// `shard.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShardManifest {
    pub sptlab_version: String,
    /// The git commit of the sptlab that wrote it, when its build could tell.
    #[serde(default)]
    pub git_commit: Option<String>,
    pub rng_contract: String,
    pub scenario: Scenario,
    /// FNV-1a (64-bit) of the scenario's JSON: a quick identity check.
    pub scenario_hash: String,
    pub seed: u64,
    pub shard: ShardSpec,
    pub first_path: u64,
    pub end_path: u64,
    pub total_paths: u64,
    pub strategies: Vec<String>,
    pub backend: BackendKind,
    pub adapter: String,
    pub precision: Precision,
    pub seconds: f64,
    pub terminal_sums: OrderedSums,
    /// The shard's strategies through time (integer sums: shards add up exactly).
    pub time_grid: Option<TimeGrid>,
    /// The layout of `paths.bin` ([`PATHS_FORMAT`]).
    #[serde(default = "first_paths_format")]
    pub paths_format: u32,
    /// The strategies on the data's own path (`run --history`), the same in every shard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub history: Option<HistoricalOutcome>,
    /// SHA-256 (hex) of this manifest without its checksum, then of `paths.bin`.
    #[serde(default)]
    pub checksum: Option<String>,
}

impl ShardManifest {
    /// The checksum of this manifest (its own checksum left out) and `paths_bin`.
    fn checksum_with(&self, paths_bin: &[u8]) -> String {
        let unsigned = ShardManifest { checksum: None, ..self.clone() };
        let json = serde_json::to_vec(&unsigned).expect("a manifest serialises");
        let mut hasher = Sha256::new();
        hasher.update(b"sptlab shard v1\0");
        hasher.update((json.len() as u64).to_le_bytes());
        hasher.update(&json);
        hasher.update(paths_bin);
        hasher.finalize().iter().map(|byte| format!("{byte:02x}")).collect()
    }
}

/// Whether two shards' histories are the same: the same data (by content, wherever each
/// shard found it) and the same outcome.
fn same_history(a: &Option<HistoricalOutcome>, b: &Option<HistoricalOutcome>) -> bool {
    let without_path = |history: &Option<HistoricalOutcome>| {
        history.clone().map(|mut history| {
            history.data.path.clear();
            history
        })
    };
    without_path(a) == without_path(b)
}

/// A shard read back: its manifest and its paths' statistics.
pub struct Shard {
    pub directory: PathBuf,
    pub manifest: ShardManifest,
    pub market_log_return: Vec<f64>,
    pub market_control: Vec<f64>,
    /// The benchmark's volatility per path.
    pub benchmark_volatility: Vec<f64>,
    /// The index's values per path, when the scenario's benchmark is an index.
    pub index: Option<IndexPaths>,
    /// `per_path[strategy][path]`.
    pub per_path: Vec<Vec<PathStatistics>>,
}

/// The layout of `paths.bin` this sptlab writes and reads: 2 added the market's control
/// after its log return, and each strategy's control after its other statistics; 3 added
/// the index's log return, control and traded weight after the market's (with an index
/// only), and each strategy's leakage and screen terms after its control; 4 added the
/// benchmark's volatility after the market's control, and each strategy's volatility,
/// volatility difference, beta, size tilt and size tilt drift (NaN below two
/// rebalances) after its screen term.
pub const PATHS_FORMAT: u32 = 4;

/// Manifests from before `paths_format` existed hold format 1.
fn first_paths_format() -> u32 {
    1
}

/// f64 values per path in `paths.bin`: the market's log return and control, the
/// benchmark's volatility, the index's values (with an index), then each strategy's
/// statistics.
fn words_per_path(strategies: usize, index: bool) -> usize {
    3 + if index { index_field::COUNT } else { 0 } + strategies * PathStatistics::FIELDS
}

/// Whether a scenario's benchmark is an index.
fn has_index(scenario: &Scenario) -> bool {
    scenario.benchmark.as_ref().is_some_and(|benchmark| benchmark.index.is_some())
}

/// A shard's files, `paths.bin` then `shard.json` (a directory with shard.json is a
/// finished shard, so it is written last).
pub fn shard_files(plan: &Plan, shard: ShardSpec, results: &Results, run: &RunInfo) -> Vec<(String, Vec<u8>)> {
    let strategies = results.strategy_names.len();
    let mut bytes = Vec::with_capacity(results.paths() * words_per_path(strategies, results.index.is_some()) * 8);
    for path in 0..results.paths() {
        bytes.extend_from_slice(&results.market_log_return[path].to_le_bytes());
        bytes.extend_from_slice(&results.market_control[path].to_le_bytes());
        bytes.extend_from_slice(&results.benchmark_volatility[path].to_le_bytes());
        if let Some(index) = &results.index {
            for value in [index.log_return[path], index.control[path], index.traded[path]] {
                bytes.extend_from_slice(&value.to_le_bytes());
            }
        }
        for per_path in &results.per_path {
            for value in per_path[path].to_array() {
                bytes.extend_from_slice(&value.to_le_bytes());
            }
        }
    }
    let mut manifest = ShardManifest {
        sptlab_version: SPTLAB_VERSION.to_string(),
        git_commit: GIT_COMMIT.map(str::to_string),
        rng_contract: RNG_CONTRACT.to_string(),
        scenario: plan.scenario.clone(),
        scenario_hash: scenario_hash(&plan.scenario),
        seed: plan.seed,
        shard,
        // The paths held: all of the range for a finished shard, the first ones for a checkpoint.
        first_path: results.path_range.start,
        end_path: results.path_range.start + results.paths() as u64,
        total_paths: plan.paths,
        strategies: results.strategy_names.clone(),
        backend: run.backend.backend,
        adapter: run.backend.adapter.clone(),
        precision: run.backend.precision,
        seconds: run.seconds,
        terminal_sums: results.terminal_sums.clone(),
        time_grid: results.grid.clone(),
        paths_format: PATHS_FORMAT,
        history: results.history.clone(),
        checksum: None,
    };
    manifest.checksum = Some(manifest.checksum_with(&bytes));
    let json = serde_json::to_string_pretty(&manifest).expect("a manifest serialises");
    vec![("paths.bin".to_string(), bytes), ("shard.json".to_string(), json.into_bytes())]
}

/// Writes a shard's `shard.json` and `paths.bin` into `directory` (a checkpoint's
/// generation directory; `--out` folders go through `OutDir::publish`).
pub fn write_shard(
    directory: &Path,
    plan: &Plan,
    shard: ShardSpec,
    results: &Results,
    run: &RunInfo,
) -> std::io::Result<()> {
    std::fs::create_dir_all(directory)?;
    log::info!("shard {}/{}: writing {} paths to {}", shard.index, shard.count, results.paths(), directory.display());
    for (name, bytes) in shard_files(plan, shard, results, run) {
        crate::files::write_atomically(&directory.join(name), &bytes)?;
    }
    Ok(())
}

/// Reads the shard in `directory`, checking that its files agree with each other.
pub fn read_shard(directory: &Path) -> Result<Shard, ShardError> {
    let at = |name: &str| directory.join(name);
    let text = crate::files::read_text_limited(&at("shard.json"), crate::files::MAX_TEXT_INPUT).map_err(|e| {
        ShardError::Unreadable(format!("{}: cannot read ({e}); is it a shard directory?", at("shard.json").display()))
    })?;
    let manifest: ShardManifest = serde_json::from_str(&text)
        .map_err(|e| ShardError::Unreadable(format!("{}: not a shard manifest: {e}", at("shard.json").display())))?;
    if scenario_hash(&manifest.scenario) != manifest.scenario_hash {
        return Err(ShardError::Damaged(format!(
            "{}: its scenario does not hash to its scenario_hash {} (the file was edited or damaged)",
            at("shard.json").display(),
            manifest.scenario_hash
        )));
    }
    let Some(checksum) = manifest.checksum.clone() else {
        return Err(ShardError::Damaged(format!(
            "{}: has no checksum (written by sptlab {} or an older build); its numbers cannot be checked",
            at("shard.json").display(),
            manifest.sptlab_version
        )));
    };
    if manifest.paths_format != PATHS_FORMAT {
        return Err(ShardError::Unreadable(format!(
            "{}: its paths.bin has format {} (written by an older sptlab {}); this sptlab reads format \
             {PATHS_FORMAT}: simulate the shard again",
            at("shard.json").display(),
            manifest.paths_format,
            manifest.sptlab_version
        )));
    }
    let paths =
        manifest.end_path.checked_sub(manifest.first_path).ok_or_else(|| {
            ShardError::Damaged(format!("{}: end_path is before first_path", at("shard.json").display()))
        })? as usize;
    let strategies = manifest.strategies.len();
    let index = has_index(&manifest.scenario);
    let width = words_per_path(strategies, index);
    let expected_bytes = paths.checked_mul(width * 8);
    let size = std::fs::metadata(at("paths.bin"))
        .map_err(|e| ShardError::Unreadable(format!("{}: cannot read ({e})", at("paths.bin").display())))?
        .len();
    if expected_bytes.map(|b| b as u64) != Some(size) {
        return Err(ShardError::Damaged(format!(
            "{}: holds {} bytes, expected {} for {paths} paths of {strategies} strategies",
            at("paths.bin").display(),
            size,
            expected_bytes.map_or("more than memory holds".to_string(), |b| b.to_string())
        )));
    }
    let bytes = crate::files::read_limited(&at("paths.bin"), size)
        .map_err(|e| ShardError::Unreadable(format!("{}: cannot read ({e})", at("paths.bin").display())))?;
    if manifest.checksum_with(&bytes) != checksum {
        return Err(ShardError::Damaged(format!(
            "{}: shard.json or paths.bin was changed or damaged after sptlab wrote them (their checksum does \
             not match)",
            directory.display()
        )));
    }
    let words: Vec<f64> =
        bytes.chunks_exact(8).map(|b| f64::from_le_bytes(b.try_into().expect("chunks of 8"))).collect();
    let mut market_log_return = Vec::with_capacity(paths);
    let mut market_control = Vec::with_capacity(paths);
    let mut benchmark_volatility = Vec::with_capacity(paths);
    let mut index_paths = index.then(IndexPaths::default);
    let mut per_path = vec![Vec::with_capacity(paths); strategies];
    // Every value is finite but a size tilt drift, NaN where a path has fewer than two rebalances.
    let drift_at = |word: usize| {
        let in_row = word % width;
        let header = width - strategies * PathStatistics::FIELDS;
        in_row >= header && (in_row - header) % PathStatistics::FIELDS == PathStatistics::SIZE_TILT_DRIFT
    };
    let undefined = |(word, value): (usize, &f64)| !(value.is_finite() || value.is_nan() && drift_at(word));
    if let Some(at_word) = words.iter().enumerate().position(undefined) {
        return Err(ShardError::Damaged(format!(
            "{}: path {} holds a value that is not finite; a finished run has none",
            at("paths.bin").display(),
            manifest.first_path + (at_word / width) as u64
        )));
    }
    for row in words.chunks_exact(width) {
        market_log_return.push(row[0]);
        market_control.push(row[1]);
        benchmark_volatility.push(row[2]);
        let mut rest = &row[3..];
        if let Some(index) = index_paths.as_mut() {
            let (values, strategies) = rest.split_at(index_field::COUNT);
            index.log_return.push(values[index_field::LOG_RETURN]);
            index.control.push(values[index_field::CONTROL]);
            index.traded.push(values[index_field::TURNOVER]);
            rest = strategies;
        }
        for (strategy, fields) in per_path.iter_mut().zip(rest.chunks_exact(PathStatistics::FIELDS)) {
            strategy.push(PathStatistics::from_array(fields.try_into().expect("chunks of FIELDS")));
        }
    }
    Ok(Shard {
        directory: directory.to_path_buf(),
        manifest,
        market_log_return,
        market_control,
        benchmark_volatility,
        index: index_paths,
        per_path,
    })
}

/// The merged run: its plan, results and run facts (seconds: the shards' sum).
pub fn merge(mut shards: Vec<Shard>) -> Result<(Plan, Results, RunInfo), ShardError> {
    let first = shards.first().ok_or(ShardError::NoShards)?;
    let name = |shard: &Shard| shard.directory.display().to_string();
    let reference = first.manifest.clone();
    let reference = &reference;
    let reference_name = name(first);
    // Every shard that does not belong, and every gap and overlap, reported together.
    let mut problems = Vec::new();
    for shard in &shards[1..] {
        let m = &shard.manifest;
        // (what, whether it differs, this shard's value, the reference's), compared as values.
        let differences = [
            (
                "sptlab version",
                m.sptlab_version != reference.sptlab_version,
                m.sptlab_version.clone(),
                reference.sptlab_version.clone(),
            ),
            (
                "git commit",
                m.git_commit.as_deref().unwrap_or_default() != reference.git_commit.as_deref().unwrap_or_default(),
                m.git_commit.clone().unwrap_or_default(),
                reference.git_commit.clone().unwrap_or_default(),
            ),
            (
                "random-number contract",
                m.rng_contract != reference.rng_contract,
                m.rng_contract.clone(),
                reference.rng_contract.clone(),
            ),
            (
                "scenario hash",
                m.scenario_hash != reference.scenario_hash || m.scenario != reference.scenario,
                m.scenario_hash.clone(),
                reference.scenario_hash.clone(),
            ),
            ("seed", m.seed != reference.seed, m.seed.to_string(), reference.seed.to_string()),
            (
                "shard count",
                m.shard.count != reference.shard.count,
                m.shard.count.to_string(),
                reference.shard.count.to_string(),
            ),
            (
                "backend",
                (m.backend, m.precision) != (reference.backend, reference.precision),
                format!("{} {}", m.backend, m.precision),
                format!("{} {}", reference.backend, reference.precision),
            ),
            (
                "--history",
                !same_history(&m.history, &reference.history),
                m.history.as_ref().map_or("none".into(), |h| format!("{} ({})", h.data.path, h.data.sha256)),
                reference.history.as_ref().map_or("none".into(), |h| format!("{} ({})", h.data.path, h.data.sha256)),
            ),
        ];
        for (what, differs, theirs, ours) in differences {
            if differs {
                problems.push(format!(
                    "{} is not part of the same run as {reference_name}: {what} {theirs} against {ours}",
                    name(shard)
                ));
            }
        }
    }
    if !problems.is_empty() {
        return Err(ShardError::NotOneRun(problems));
    }
    shards.sort_by_key(|shard| (shard.manifest.first_path, shard.manifest.shard.index));
    let count = reference.shard.count;
    let total = reference.total_paths;
    let mut expected_start = 0;
    for (position, shard) in shards.iter().enumerate() {
        let m = &shard.manifest;
        let spec_range = m.shard.paths(total, m.scenario.antithetic);
        if spec_range != (m.first_path..m.end_path) {
            problems.push(format!(
                "{}: paths {}..{} are not those of shard {}/{count}",
                name(shard),
                m.first_path,
                m.end_path,
                m.shard.index
            ));
            continue;
        }
        if let Some(previous) = position.checked_sub(1).map(|p| &shards[p]) {
            if previous.manifest.shard.index == m.shard.index {
                problems.push(format!(
                    "shard {}/{count} is given twice ({} and {}): the shards overlap",
                    m.shard.index,
                    name(previous),
                    name(shard)
                ));
                continue;
            }
        }
        if m.first_path > expected_start {
            problems.push(format!(
                "shards missing before {}: paths {}..{} of {total} are in no shard directory given",
                name(shard),
                expected_start,
                m.first_path
            ));
        }
        expected_start = expected_start.max(m.end_path);
    }
    if expected_start < total {
        problems.push(format!(
            "shards missing: paths {expected_start}..{total} of {total} are in no shard directory given"
        ));
    }
    if count > MAX_SHARDS {
        problems.push(format!("{reference_name}: a run of {count} shards; at most {MAX_SHARDS}"));
    }
    let missing: Vec<u64> = if problems.is_empty() {
        let given: std::collections::HashSet<u64> = shards.iter().map(|s| s.manifest.shard.index).collect();
        (0..count).filter(|i| !given.contains(i)).take(20).collect()
    } else {
        Vec::new()
    };
    if problems.is_empty() && !missing.is_empty() {
        // Only shards of no paths can be missing here (P < N).
        problems.push(format!("shards {missing:?} of {count} are missing (they hold no paths, but give them all)"));
    }
    if !problems.is_empty() {
        return Err(ShardError::NotOneRun(problems));
    }

    let plan =
        reference.scenario.validate().map_err(|e| ShardError::Damaged(format!("{reference_name}/shard.json: {e}")))?;
    let sums: Vec<&OrderedSums> = shards.iter().map(|s| &s.manifest.terminal_sums).collect();
    let terminal_sums = OrderedSums::join(&sums).map_err(|reason| ShardError::NotOneRun(vec![reason]))?;
    let mut results = Results::for_paths(&plan, 0..total);
    results.terminal_sums = terminal_sums;
    results.history = reference.history.clone();
    // A shard of no paths (a run of fewer paths than shards) simulated nothing and has
    // no grid: it adds nothing to the others'.
    let mut grids =
        shards.iter().filter(|s| s.manifest.end_path > s.manifest.first_path).map(|s| s.manifest.time_grid.as_ref());
    results.grid = grids.next().flatten().cloned();
    for grid in grids {
        match (results.grid.as_mut(), grid) {
            (Some(total), Some(grid)) => total.add(grid).map_err(|reason| ShardError::NotOneRun(vec![reason]))?,
            _ => results.grid = None,
        }
    }
    for shard in &mut shards {
        results.market_log_return.append(&mut shard.market_log_return);
        results.market_control.append(&mut shard.market_control);
        results.benchmark_volatility.append(&mut shard.benchmark_volatility);
        if let (Some(merged), Some(part)) = (results.index.as_mut(), shard.index.as_mut()) {
            merged.log_return.append(&mut part.log_return);
            merged.control.append(&mut part.control);
            merged.traded.append(&mut part.traded);
        }
        for (merged, part) in results.per_path.iter_mut().zip(&mut shard.per_path) {
            merged.append(part);
        }
    }
    let seconds: f64 = shards.iter().map(|s| s.manifest.seconds).sum();
    let mut adapters: Vec<&str> = shards.iter().map(|s| s.manifest.adapter.as_str()).collect();
    adapters.dedup();
    let run = RunInfo {
        backend: BackendInfo {
            backend: reference.backend,
            adapter: adapters.join("; "),
            precision: reference.precision,
        },
        paths: total,
        steps: plan.steps,
        stocks: plan.n(),
        seconds,
        asset_steps_per_second: plan.n() as f64 * total as f64 * plan.steps as f64 / seconds.max(1e-9),
    };
    Ok((plan, results, run))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_ranges_tile_the_run() {
        for (paths, count, antithetic) in [
            (10u64, 3u64, false),
            (7, 7, false),
            (3, 5, false),
            (1_000_003, 16, false),
            (10, 3, true),
            (1_000_006, 7, true),
        ] {
            let mut next = 0;
            for index in 0..count {
                let range = ShardSpec { index, count }.paths(paths, antithetic);
                assert_eq!(range.start, next);
                // Antithetic pairs (2k, 2k + 1) are never split.
                assert!(
                    !antithetic || range.start.is_multiple_of(2),
                    "{paths} paths, shard {index}/{count}: {range:?}"
                );
                next = range.end;
            }
            assert_eq!(next, paths);
        }
    }

    #[test]
    fn shard_specs_parse_or_say_why_not() {
        assert_eq!(ShardSpec::parse("3/16"), Ok(ShardSpec { index: 3, count: 16 }));
        for bad in ["16/16", "1/0", "x/2", "3", "-1/4", "1/2/3"] {
            assert!(ShardSpec::parse(bad).unwrap_err().to_string().contains("I/N"), "{bad}");
        }
    }
}
