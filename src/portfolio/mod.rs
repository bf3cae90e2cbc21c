//! Strategies: the weightings and their rules (`weighting`), and the max-growth
//! optimiser (`optimize`).

pub mod optimize;
pub mod weighting;

pub use weighting::*;
