//! sptlab: a Monte Carlo engine for Stochastic Portfolio Theory on GPU and CPU.

pub mod engine;
pub mod market;
pub mod portfolio;
pub mod real;
pub mod rng;
pub mod scenario;
