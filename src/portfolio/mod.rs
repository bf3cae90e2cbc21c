//! Strategies: the weightings and their rules (`weighting`), the max-growth
//! optimiser (`optimize`), a strategy entry as written (`spec`) and checked (`validate`).

mod factor_solver;
pub mod optimize;
mod projection;
pub mod spec;
pub mod validate;
pub mod weighting;

pub use weighting::{
    member_target_weights, target_weights, top_k_targets, weights_and_log_g, AllowedStocks, KernelWeighting, Strategy,
    Weighting,
};
