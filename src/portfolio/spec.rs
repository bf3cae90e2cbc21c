//! A `[[strategies]]` entry of a scenario file as written (docs/guide.md):
//! the weighting and its parameters before validation.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WeightingKind {
    Market,
    Equal,
    Diversity,
    Entropy,
    Constant,
    Capped,
    TopK,
    MaxGrowth,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StrategySpec {
    pub name: String,
    pub weighting: WeightingKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weights: Option<Vec<f64>>,
    /// The `capped` weighting's largest weight per stock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cap: Option<f64>,
    /// The `top_k` weighting's number of stocks held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub k: Option<usize>,
    /// The `top_k` weighting's band: a stock held stays while ranked within k + buffer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buffer: Option<usize>,
    /// `max_growth`: the ex-ante tracking-error budget per year (0.02 = 2 %).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub te_budget: Option<f64>,
    /// `max_growth`: whether the objective includes pi' gamma (the model's growth rates).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_growth: Option<bool>,
    /// `max_growth`: |pi_i - mu_i| at most this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_active: Option<f64>,
    /// `max_growth`: half the traded weight per rebalance at most.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_turnover: Option<f64>,
    /// `max_growth`: the covariance it believes: "true" (the model's) or "trailing".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimate: Option<Estimate>,
    /// `max_growth` with `estimate = "trailing"`: steps of returns to estimate from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lookback: Option<usize>,
    /// `max_growth` with `estimate = "trailing"`: correlation shrinkage toward the
    /// identity, "auto" (Ledoit-Wolf) or an intensity in [0, 1].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shrinkage: Option<ShrinkageSpec>,
    /// An ethical screen: stocks the strategy may not hold, by index (0-based, in the
    /// scenario's stock order) or by ticker where the market has tickers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude: Option<Vec<ScreenEntry>>,
    #[serde(default = "default_rebalance_every")]
    pub rebalance_every: u32,
    #[serde(default)]
    pub cost_bps: f64,
}

/// One stock of a screen, as written: its index or its ticker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ScreenEntry {
    Stock(usize),
    Ticker(String),
}

/// The covariance a max_growth strategy believes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Estimate {
    True,
    Trailing,
}

/// "auto" or an intensity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ShrinkageSpec {
    Intensity(f64),
    Named(String),
}

fn default_rebalance_every() -> u32 {
    1
}
