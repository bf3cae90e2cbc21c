//! Engine tests: random numbers, identities, theory, reproducibility, GPU vs CPU.
//! One binary (linking wgpu is slow); GPU tests need an adapter (lavapipe is
//! enough) and fail instead of skipping when SPTLAB_REQUIRE_GPU=1.

mod backtest;
mod bootstrap;
mod common;
mod compare;
mod control;
mod gpu;
mod horizons;
mod identities;
mod long_backtest;
mod long_data;
mod long_fixture;
mod models;
mod open_market;
mod reference;
mod reproducibility;
mod risk;
mod theory;
mod ties;
mod time_grid;
mod weightings;
