//! The numerical leaves the models, strategies and kernels share: lanes of paths
//! (`Real`, `Lanes`), Philox, the choice of SIMD compilation, rank order, and
//! covariance shrinkage. Nothing here knows about scenarios, markets or strategies.

pub mod lanes;
pub mod philox;
pub mod ranking;
pub mod shrinkage;
pub mod simd;
