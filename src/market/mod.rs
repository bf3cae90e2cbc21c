//! Market models (docs/models.md): one file per model, with its parameters,
//! validation and CPU step. [`Market`] is the validated model of a plan;
//! [`MarketKernel`] is the same model in a kernel's precision.

pub mod bootstrap;
pub mod gbm;
pub mod rank;
pub mod spec;
pub mod vsm;

use crate::market::spec::{MarketSpec, ModelKind};
use crate::numeric::lanes::{Lanes, Real};
use crate::numeric::philox::philox4x32_10_simd;
use crate::problems::{invalid, Problems, ScenarioError};

pub use bootstrap::BootstrapMarket;
pub use gbm::GbmMarket;
pub use rank::RankMarket;
pub use vsm::VsmMarket;

/// Largest supported number of stocks (the GPU kernel keeps per-stock arrays per path).
pub const MAX_STOCKS: usize = 2048;

/// A validated market model.
#[derive(Debug, Clone)]
pub enum Market {
    Gbm(GbmMarket),
    /// Atlas and first-order models.
    Rank(RankMarket),
    Vsm(VsmMarket),
    /// Days of real data, resampled in blocks or (a backtest) in order.
    Bootstrap(BootstrapMarket),
}

impl Market {
    pub fn from_spec(spec: &MarketSpec) -> Result<Market, ScenarioError> {
        if spec.model != ModelKind::Bootstrap && spec.n == 0 {
            return Err(invalid("market.n", format!("missing: the number of stocks (2 to {MAX_STOCKS})")));
        }
        if spec.model != ModelKind::Bootstrap && !(2..=MAX_STOCKS).contains(&spec.n) {
            return Err(invalid("market.n", format!("must be between 2 and {MAX_STOCKS}, got {}", spec.n)));
        }
        let allowed: &[&str] = match spec.model {
            ModelKind::Gbm => &[
                "zipf",
                "initial_weights",
                "growth",
                "drift",
                "vol",
                "correlation",
                "covariance",
                "factor_loadings",
                "idiosyncratic_vol",
            ],
            ModelKind::Atlas => &["zipf", "initial_weights", "growth", "atlas_g", "vol"],
            ModelKind::FirstOrder => &["zipf", "initial_weights", "growth", "rank_growth", "rank_vol"],
            ModelKind::Vsm => &["zipf", "initial_weights", "alpha"],
            ModelKind::Bootstrap => {
                &["zipf", "initial_weights", "data", "data_sha256", "mean_block", "demean", "from", "to", "caps"]
            }
        };
        let model = format!("{:?}", spec.model).to_lowercase().replace("firstorder", "first_order");
        let mut problems = Problems::default();
        for field in spec.present_fields().into_iter().filter(|field| !allowed.contains(field)) {
            problems.push(invalid(
                format!("market.{field}"),
                format!("the {model} model does not take {field} (it takes {})", allowed.join(", ")),
            ));
        }
        problems.into_result(|| ())?;
        Ok(match spec.model {
            ModelKind::Gbm => Market::Gbm(GbmMarket::from_spec(spec)?),
            ModelKind::Atlas | ModelKind::FirstOrder => Market::Rank(RankMarket::from_spec(spec)?),
            ModelKind::Vsm => Market::Vsm(VsmMarket::from_spec(spec)?),
            ModelKind::Bootstrap => Market::Bootstrap(BootstrapMarket::from_spec(spec)?),
        })
    }

    /// A valid market of `model`'s family with `n` equal stocks, used only to check a
    /// scenario's strategies when its own market has problems (so that one pass
    /// reports both).
    pub fn stand_in(model: ModelKind, n: usize) -> Market {
        let initial_weights = vec![1.0 / n as f64; n];
        match model {
            ModelKind::Gbm => Market::Gbm(GbmMarket::independent(initial_weights, 0.2)),
            ModelKind::Atlas | ModelKind::FirstOrder | ModelKind::Vsm | ModelKind::Bootstrap => {
                Market::Vsm(VsmMarket { initial_weights, alpha: 0.0 })
            }
        }
    }

    pub fn n(&self) -> usize {
        self.initial_weights().len()
    }

    /// mu_i(0), positive, summing to one.
    pub fn initial_weights(&self) -> &[f64] {
        match self {
            Market::Gbm(market) => &market.initial_weights,
            Market::Rank(market) => &market.initial_weights,
            Market::Vsm(market) => &market.initial_weights,
            Market::Bootstrap(market) => &market.initial_weights,
        }
    }

    /// The model in a kernel's precision, for steps of `dt` years.
    pub fn kernel<R: Real>(&self, dt: f64) -> MarketKernel<R> {
        match self {
            Market::Gbm(market) => market.kernel(dt),
            Market::Rank(market) => MarketKernel::Rank(market.kernel(dt)),
            Market::Vsm(market) => MarketKernel::Vsm(market.kernel(dt)),
            Market::Bootstrap(market) => MarketKernel::Bootstrap(market.kernel()),
        }
    }
}

/// A model's per-step parameters in a kernel's precision.
#[derive(Debug, Clone)]
pub enum MarketKernel<R> {
    Cholesky(gbm::CholeskyKernel<R>),
    Factor(gbm::FactorKernel<R>),
    Rank(rank::RankKernel<R>),
    Vsm(vsm::VsmKernel<R>),
    Bootstrap(bootstrap::BootstrapKernel<R>),
}

/// Initial market weights mu_(k) proportional to k^-zipf (k = 1 is the largest stock).
pub fn zipf_weights(n: usize, zipf: f64) -> Vec<f64> {
    let raw: Vec<f64> = (1..=n).map(|rank| (rank as f64).powf(-zipf)).collect();
    let total: f64 = raw.iter().sum();
    raw.into_iter().map(|w| w / total).collect()
}

/// Smallest initial weight: f32 holds numbers down to about 1e-38, and a weight must
/// be able to shrink from where it starts (zipf = 10 over 2,048 stocks starts at 7e-34).
pub const MIN_INITIAL_WEIGHT: f64 = 1e-34;

/// mu(0) from `initial_weights` (normalised) or `zipf` (default 1), checked.
pub fn initial_weights(spec: &MarketSpec) -> Result<Vec<f64>, ScenarioError> {
    match (&spec.initial_weights, spec.zipf) {
        (Some(_), Some(_)) => Err(invalid("market.initial_weights", "give initial_weights or zipf, not both")),
        (Some(weights), None) => {
            if weights.len() != spec.n {
                return Err(invalid(
                    "market.initial_weights",
                    format!("has {} values, expected n = {}", weights.len(), spec.n),
                ));
            }
            for (i, w) in weights.iter().enumerate() {
                if !(w.is_finite() && *w > 0.0) {
                    return Err(invalid(format!("market.initial_weights[{i}]"), format!("must be positive, got {w}")));
                }
            }
            let mut total: f64 = weights.iter().sum();
            let mut scaled = weights.clone();
            if !total.is_finite() {
                // Huge caps (1e308 each) overflow their sum: scale by the largest first.
                let largest = weights.iter().copied().fold(0.0, f64::max);
                scaled.iter_mut().for_each(|w| *w /= largest);
                total = scaled.iter().sum();
            }
            let normalised: Vec<f64> = scaled.iter().map(|w| w / total).collect();
            if let Some(i) = normalised.iter().position(|w| *w < MIN_INITIAL_WEIGHT) {
                return Err(invalid(
                    format!("market.initial_weights[{i}]"),
                    format!(
                        "is {:.1e} of the total, below {MIN_INITIAL_WEIGHT:e}: f32 weights cannot follow a stock \
                         that small",
                        normalised[i]
                    ),
                ));
            }
            Ok(normalised)
        }
        (None, zipf) => {
            let zipf = zipf.unwrap_or(1.0);
            if !(zipf.is_finite() && (0.0..=10.0).contains(&zipf)) {
                return Err(invalid("market.zipf", format!("must be in [0, 10], got {zipf}")));
            }
            Ok(zipf_weights(spec.n, zipf))
        }
    }
}

/// Whose normals a block of `L` lanes draws: each lane's Philox path counter and the
/// sign its normals take. Without antithetic pairs a lane draws its own path's normals;
/// with them (docs/control-variates.md) path 2k + 1 draws path 2k's, negated.
#[derive(Debug, Clone, Copy)]
pub struct Draws<R, const L: usize> {
    pub counters: [u32; L],
    pub signs: Lanes<R, L>,
}

impl<R: Real, const L: usize> Draws<R, L> {
    /// The draws of paths `paths`, paired antithetically or not.
    pub fn of(paths: &[u32; L], antithetic: bool) -> Draws<R, L> {
        if !antithetic {
            return Draws { counters: *paths, signs: Lanes::splat(R::ONE) };
        }
        Draws {
            counters: paths.map(|path| path & !1),
            signs: Lanes(paths.map(|path| if path % 2 == 1 { -R::ONE } else { R::ONE })),
        }
    }
}

/// Standard normals of stocks (or factors) `0 .. out.len()` for `L` paths at `step`
/// from random stream `stream`: four per Philox call, as the contract of `numeric/philox.rs` says.
/// A lane's sign multiplies the Box–Muller radius, so a negated lane's normals are
/// exactly the others' negated (and a sign of one changes no bit).
#[inline(always)]
pub fn fill_normals<R: Real, const L: usize, const FUSED: bool>(
    key: [u32; 2],
    draws: &Draws<R, L>,
    step: u32,
    stream: u32,
    out: &mut [Lanes<R, L>],
) {
    let count = out.len();
    for block in 0..count.div_ceil(4) {
        let counters = [draws.counters, [step; L], [block as u32; L], [stream; L]];
        let words = philox4x32_10_simd(counters, key);
        // Plain loops: `array::map` here was left out of line, in baseline code.
        let mut uniforms = [Lanes::zero(); 4];
        for (uniform, word) in uniforms.iter_mut().zip(&words) {
            for (u, w) in uniform.0.iter_mut().zip(word) {
                *u = R::uniform(*w);
            }
        }
        let mut normals = [Lanes::zero(); 4];
        for pair in 0..2 {
            let radius = (uniforms[2 * pair].ln_with::<FUSED>() * R::from_f64(-2.0)).sqrt() * draws.signs;
            let (sin, cos) = uniforms[2 * pair + 1].sin_cos_turns_with::<FUSED>();
            normals[2 * pair] = radius * cos;
            normals[2 * pair + 1] = radius * sin;
        }
        let used = (count - 4 * block).min(4);
        out[4 * block..4 * block + used].copy_from_slice(&normals[..used]);
    }
}
