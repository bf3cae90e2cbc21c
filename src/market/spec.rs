//! The `[market]` table of a scenario file as written (docs/guide.md): the
//! model and its parameters before validation.

use serde::{Deserialize, Serialize};

use crate::problems::{invalid, Problems, ScenarioError};

/// A per-stock parameter: one number for every stock, a list of n, or an even
/// ramp from the largest stock (`from`) to the smallest (`to`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum PerStock {
    One(f64),
    List(Vec<f64>),
    Ramp { from: f64, to: f64 },
}

impl PerStock {
    /// The n values, checked for length and finiteness.
    pub fn expand(&self, n: usize, field: &str) -> Result<Vec<f64>, ScenarioError> {
        let values = match self {
            PerStock::One(value) => vec![*value; n],
            PerStock::List(values) => {
                if values.len() != n {
                    return Err(invalid(field, format!("has {} values, expected n = {n}", values.len())));
                }
                values.clone()
            }
            PerStock::Ramp { from, to } => {
                (0..n).map(|i| if n == 1 { *from } else { from + (to - from) * i as f64 / (n - 1) as f64 }).collect()
            }
        };
        let mut problems = Problems::default();
        for (i, value) in values.iter().enumerate() {
            // One value given for every stock is one problem (NaN != NaN, hence the bit compare).
            if values[..i].iter().any(|earlier| earlier.to_bits() == value.to_bits()) {
                continue;
            }
            if !value.is_finite() {
                problems.push(invalid(format!("{field}[{i}]"), format!("must be a finite number, got {value}")));
            }
        }
        problems.into_result(|| values)
    }
}

/// Correlation: one number for every pair, or a full n x n matrix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Correlation {
    One(f64),
    Matrix(Vec<Vec<f64>>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    Gbm,
    Atlas,
    FirstOrder,
    Vsm,
    /// Days of real data resampled in blocks (docs/real-data.md).
    Bootstrap,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarketSpec {
    #[serde(default = "default_model")]
    pub model: ModelKind,
    /// The number of stocks; 0 when absent (the bootstrap model takes it from its data).
    #[serde(default)]
    pub n: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zipf: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_weights: Option<Vec<f64>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub growth: Option<PerStock>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drift: Option<PerStock>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vol: Option<PerStock>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation: Option<Correlation>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub covariance: Option<Vec<Vec<f64>>>,
    /// Factor model: B, n rows of K loadings (per year, like vol).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub factor_loadings: Option<Vec<Vec<f64>>>,
    /// Factor model: the idiosyncratic vol s_i, Sigma = B B^T + diag(s^2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idiosyncratic_vol: Option<PerStock>,
    /// Atlas: g > 0; every rank but the last gets -g, the last (n - 1) g.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub atlas_g: Option<f64>,
    /// First-order: g_1 .. g_n by rank (largest first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rank_growth: Option<Vec<f64>>,
    /// First-order: sigma_1 .. sigma_n by rank (largest first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rank_vol: Option<PerStock>,
    /// Volatility-stabilised model: alpha >= 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alpha: Option<f64>,
    /// Bootstrap: the daily CSV (relative to the scenario file; absolute once read).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data: Option<String>,
    /// Bootstrap: the SHA-256 of `data`, recorded when read and checked when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_sha256: Option<String>,
    /// Bootstrap: the mean block length b in days (default 20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mean_block: Option<f64>,
    /// Bootstrap: subtract each stock's mean log change (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub demean: Option<bool>,
    /// Bootstrap: the first and last dates of the data used (default: all of it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// Bootstrap: the CSV holds market caps (default false: prices).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caps: Option<bool>,
}

fn default_model() -> ModelKind {
    ModelKind::Gbm
}

impl MarketSpec {
    /// A spec with only the model and n set (every optional field absent).
    pub fn new(model: ModelKind, n: usize) -> MarketSpec {
        MarketSpec {
            model,
            n,
            zipf: None,
            initial_weights: None,
            growth: None,
            drift: None,
            vol: None,
            correlation: None,
            covariance: None,
            factor_loadings: None,
            idiosyncratic_vol: None,
            atlas_g: None,
            rank_growth: None,
            rank_vol: None,
            alpha: None,
            data: None,
            data_sha256: None,
            mean_block: None,
            demean: None,
            from: None,
            to: None,
            caps: None,
        }
    }

    /// The optional fields that are present, by name (for "this model does not take X" errors).
    pub fn present_fields(&self) -> Vec<&'static str> {
        let fields = [
            ("zipf", self.zipf.is_some()),
            ("initial_weights", self.initial_weights.is_some()),
            ("growth", self.growth.is_some()),
            ("drift", self.drift.is_some()),
            ("vol", self.vol.is_some()),
            ("correlation", self.correlation.is_some()),
            ("covariance", self.covariance.is_some()),
            ("factor_loadings", self.factor_loadings.is_some()),
            ("idiosyncratic_vol", self.idiosyncratic_vol.is_some()),
            ("atlas_g", self.atlas_g.is_some()),
            ("rank_growth", self.rank_growth.is_some()),
            ("rank_vol", self.rank_vol.is_some()),
            ("alpha", self.alpha.is_some()),
            ("data", self.data.is_some()),
            ("data_sha256", self.data_sha256.is_some()),
            ("mean_block", self.mean_block.is_some()),
            ("demean", self.demean.is_some()),
            ("from", self.from.is_some()),
            ("to", self.to.is_some()),
            ("caps", self.caps.is_some()),
        ];
        fields.into_iter().filter(|(_, present)| *present).map(|(name, _)| name).collect()
    }
}
