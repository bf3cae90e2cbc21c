//! sptlab: a Monte Carlo engine for Stochastic Portfolio Theory on GPU and CPU.

pub mod engine;
pub mod rng;
