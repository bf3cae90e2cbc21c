//! The volatility-stabilised model (docs/models.md):
//! `d log X_i = alpha / (2 mu_i) dt + dW_i / sqrt(mu_i)`, independent W_i, Euler steps.
//!
//! Tiny weights: the coefficients use max(mu_i, dt) in place of mu_i, so no step has a
//! volatility above 1 (100 % in one step) or a drift above alpha / 2, and a weight that
//! underflows to zero (possible in f32) never divides by zero. Where mu_i < dt the Euler
//! step is meaningless anyway (its relative error is of order dt / mu_i); under the
//! stationary Dirichlet(1 + alpha) law the chance of a weight below dt is of order
//! (n dt)^(1 + alpha), negligible for the step sizes the model needs.

use crate::market::spec::MarketSpec;
use crate::market::{fill_normals, initial_weights, Draws};
use crate::numeric::lanes::{Lanes, Real};
use crate::numeric::philox::STREAM_MARKET;
use crate::problems::{invalid, Problems, ScenarioError};

/// Largest alpha accepted: the drift alpha / (2 mu_i) grows with n alpha.
pub const MAX_ALPHA: f64 = 100.0;

#[derive(Debug, Clone)]
pub struct VsmMarket {
    pub initial_weights: Vec<f64>,
    pub alpha: f64,
}

impl VsmMarket {
    pub fn from_spec(spec: &MarketSpec) -> Result<VsmMarket, ScenarioError> {
        let mut problems = Problems::default();
        let alpha = problems.check(match spec.alpha {
            None => Err(invalid("market.alpha", "the vsm model needs alpha (>= 0)")),
            Some(alpha) if !(alpha.is_finite() && (0.0..=MAX_ALPHA).contains(&alpha)) => {
                Err(invalid("market.alpha", format!("must be in [0, {MAX_ALPHA}], got {alpha}")))
            }
            Some(alpha) => Ok(alpha),
        });
        let initial_weights = problems.check(initial_weights(spec));
        let (Some(alpha), Some(initial_weights)) = (alpha, initial_weights) else {
            return Err(problems.into_error());
        };
        Ok(VsmMarket { initial_weights, alpha })
    }

    pub fn n(&self) -> usize {
        self.initial_weights.len()
    }

    pub fn kernel<R: Real>(&self, dt: f64) -> VsmKernel<R> {
        VsmKernel {
            n: self.n(),
            drift_scale: R::from_f64(0.5 * self.alpha * dt),
            vol_scale: R::from_f64(dt.sqrt()),
            weight_floor: R::from_f64(dt),
        }
    }
}

/// VSM parameters in the kernel's precision.
#[derive(Debug, Clone)]
pub struct VsmKernel<R> {
    pub n: usize,
    /// alpha dt / 2.
    pub drift_scale: R,
    /// sqrt(dt).
    pub vol_scale: R,
    /// The smallest weight the coefficients use (dt; see the module comment).
    pub weight_floor: R,
}

/// One Euler step of log caps for `L` paths from the weights `mu` at the start of the
/// step: `alpha dt / (2 m_i) + sqrt(dt / m_i) z_i` with `m_i = max(mu_i, dt)` (`noise`
/// gets the second term).
/// The CPU twin of `shaders/market_vsm.wgsl`.
#[inline(always)]
pub fn vsm_log_steps<R: Real, const L: usize, const FUSED: bool>(
    params: &VsmKernel<R>,
    key: [u32; 2],
    draws: &Draws<R, L>,
    step: u32,
    mu: &[Lanes<R, L>],
    log_steps: &mut [Lanes<R, L>],
    noise: &mut [Lanes<R, L>],
) {
    let n = params.n;
    fill_normals::<R, L, FUSED>(key, draws, step, STREAM_MARKET, &mut log_steps[..n]);
    for ((log_step, noise), mu) in log_steps[..n].iter_mut().zip(noise.iter_mut()).zip(mu) {
        let inverse = mu.max(Lanes::splat(params.weight_floor)).recip();
        let vol = (inverse.sqrt() * params.vol_scale) * *log_step;
        *noise = vol;
        *log_step = inverse.mul_add::<FUSED>(params.drift_scale, vol);
    }
}
