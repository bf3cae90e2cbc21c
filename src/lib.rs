//! sptlab: a Monte Carlo engine for Stochastic Portfolio Theory on GPU and CPU.
//!
//! The flow of a run: a [`Scenario`] (TOML) is validated into a [`Plan`]; a
//! [`Backend`] turns batches of paths into per-path accumulators; [`Results`]
//! turns those into per-path statistics and market diagnostics; a [`Report`]
//! summarises them across paths; [`output`] renders the table and writes the files.
//! [`simulate()`] and [`run()`] drive a plan through a backend. The folders follow
//! that flow (ARCHITECTURE.md draws it): `scenario` -> `engine` -> `summary` ->
//! `output`, over the leaves `problems`, `numeric`, `files` and `provenance`, with
//! the domain in `market` and `portfolio`.

pub mod backtest;
pub mod bench;
pub mod calibrate;
pub mod capacity;
pub mod data;
pub mod engine;
pub mod files;
pub mod market;
pub mod numeric;
pub mod output;
pub mod portfolio;
pub mod problems;
pub mod provenance;
pub mod scenario;
pub mod simulate;
pub mod summary;

pub use engine::{Backend, BackendInfo, BackendKind, CpuBackend, EngineError, Precision};
pub use scenario::{Overrides, Plan, Scenario, ScenarioError};
pub use simulate::{run, simulate, simulate_from, simulate_paths};
pub use summary::report::{Report, RunInfo};
pub use summary::results::Results;
