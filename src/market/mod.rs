//! Market models: one file per model, with its parameters, validation and CPU step.

pub mod gbm;

/// Initial market weights mu_(k) proportional to k^-zipf (k = 1 is the largest stock).
pub fn zipf_weights(n: usize, zipf: f64) -> Vec<f64> {
    let raw: Vec<f64> = (1..=n).map(|rank| (rank as f64).powf(-zipf)).collect();
    let total: f64 = raw.iter().sum();
    raw.into_iter().map(|w| w / total).collect()
}
