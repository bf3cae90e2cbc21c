//! Correlated geometric Brownian motion (SPT.md section 4), exact on the grid:
//! `log X(k+1) = log X(k) + gamma * dt + sqrt(dt) * L z`, with `L L^T = Sigma`.

use nalgebra::DMatrix;

use crate::market::zipf_weights;
use crate::real::{Lanes, Real};
use crate::rng::{philox4x32_10_simd, STREAM_MARKET};
use crate::scenario::{invalid, Correlation, MarketSpec, ScenarioError};

/// Largest supported number of stocks (the GPU kernel keeps per-stock arrays per path).
pub const MAX_STOCKS: usize = 2048;
/// Largest volatility per year accepted (500 %): beyond any stock, and far enough from
/// where f32 weights underflow within a run.
pub const MAX_VOL: f64 = 5.0;
/// Largest |growth| or |drift| per year accepted (500 %), for the same reason.
pub const MAX_GROWTH: f64 = 5.0;

/// Validated GBM parameters, per year.
#[derive(Debug, Clone)]
pub struct GbmMarket {
    /// mu_i(0), positive, summing to one (largest stock first for zipf).
    pub initial_weights: Vec<f64>,
    /// gamma_i, drift of log X_i per year.
    pub growth: Vec<f64>,
    /// Sigma, covariance of log caps per year.
    pub covariance: DMatrix<f64>,
    /// Lower Cholesky factor of Sigma.
    pub cholesky: DMatrix<f64>,
}

impl GbmMarket {
    pub fn n(&self) -> usize {
        self.initial_weights.len()
    }

    pub fn vols(&self) -> Vec<f64> {
        (0..self.n()).map(|i| self.covariance[(i, i)].sqrt()).collect()
    }

    /// The lower Cholesky factor times sqrt(dt), packed row by row (`i * (i + 1) / 2 + j`, j <= i).
    pub fn packed_step_factor(&self, dt: f64) -> Vec<f64> {
        let n = self.n();
        let scale = dt.sqrt();
        let mut packed = Vec::with_capacity(n * (n + 1) / 2);
        for i in 0..n {
            for j in 0..=i {
                packed.push(self.cholesky[(i, j)] * scale);
            }
        }
        packed
    }

    /// gamma_i * dt, the deterministic part of one log step.
    pub fn step_drift(&self, dt: f64) -> Vec<f64> {
        self.growth.iter().map(|g| g * dt).collect()
    }

    /// Excess growth rate gamma*_pi = 1/2 (sum pi_i s_ii - pi^T Sigma pi) of fixed weights (SPT.md section 3).
    pub fn excess_growth_rate(&self, weights: &[f64]) -> f64 {
        let w = nalgebra::DVector::from_column_slice(weights);
        let own: f64 = (0..self.n()).map(|i| weights[i] * self.covariance[(i, i)]).sum();
        0.5 * (own - (w.transpose() * &self.covariance * &w)[(0, 0)])
    }

    pub fn from_spec(spec: &MarketSpec, _steps_per_year: u32) -> Result<GbmMarket, ScenarioError> {
        let n = spec.n;
        if !(2..=MAX_STOCKS).contains(&n) {
            return Err(invalid("market.n", format!("must be between 2 and {MAX_STOCKS}, got {n}")));
        }
        let initial_weights = initial_weights(spec)?;
        let covariance = covariance(spec)?;
        let cholesky = nalgebra::linalg::Cholesky::new(covariance.clone())
            .ok_or_else(|| {
                let field = if spec.covariance.is_some() { "market.covariance" } else { "market.correlation" };
                invalid(field, "the covariance matrix is not positive definite")
            })?
            .l();
        let bounded = |values: Vec<f64>, field: &str| -> Result<Vec<f64>, ScenarioError> {
            match values.iter().position(|v| v.abs() > MAX_GROWTH) {
                Some(i) => Err(invalid(
                    format!("{field}[{i}]"),
                    format!("must be within +/-{MAX_GROWTH} per year, got {}", values[i]),
                )),
                None => Ok(values),
            }
        };
        let growth = match (&spec.growth, &spec.drift) {
            (Some(_), Some(_)) => return Err(invalid("market.drift", "give growth or drift, not both")),
            (Some(growth), None) => bounded(growth.expand(n, "market.growth")?, "market.growth")?,
            (None, Some(drift)) => {
                let drift = bounded(drift.expand(n, "market.drift")?, "market.drift")?;
                (0..n).map(|i| drift[i] - 0.5 * covariance[(i, i)]).collect()
            }
            (None, None) => vec![0.0; n],
        };
        Ok(GbmMarket { initial_weights, growth, covariance, cholesky })
    }
}

fn initial_weights(spec: &MarketSpec) -> Result<Vec<f64>, ScenarioError> {
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
            let total: f64 = weights.iter().sum();
            Ok(weights.iter().map(|w| w / total).collect())
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

fn square_matrix(rows: &[Vec<f64>], n: usize, field: &str) -> Result<DMatrix<f64>, ScenarioError> {
    if rows.len() != n {
        return Err(invalid(field, format!("has {} rows, expected n = {n}", rows.len())));
    }
    let mut matrix = DMatrix::zeros(n, n);
    for (i, row) in rows.iter().enumerate() {
        if row.len() != n {
            return Err(invalid(format!("{field}[{i}]"), format!("has {} values, expected n = {n}", row.len())));
        }
        for (j, value) in row.iter().enumerate() {
            if !value.is_finite() {
                return Err(invalid(format!("{field}[{i}][{j}]"), format!("must be finite, got {value}")));
            }
            matrix[(i, j)] = *value;
        }
    }
    for i in 0..n {
        for j in 0..i {
            if (matrix[(i, j)] - matrix[(j, i)]).abs() > 1e-12 * (1.0 + matrix[(i, j)].abs()) {
                return Err(invalid(
                    format!("{field}[{i}][{j}]"),
                    format!("is not symmetric: differs from [{j}][{i}]"),
                ));
            }
        }
    }
    Ok(matrix)
}

fn covariance(spec: &MarketSpec) -> Result<DMatrix<f64>, ScenarioError> {
    let n = spec.n;
    if let Some(rows) = &spec.covariance {
        if spec.vol.is_some() || spec.correlation.is_some() {
            return Err(invalid("market.covariance", "give covariance or vol + correlation, not both"));
        }
        let covariance = square_matrix(rows, n, "market.covariance")?;
        for i in 0..n {
            if covariance[(i, i)] <= 0.0 {
                return Err(invalid(format!("market.covariance[{i}][{i}]"), "variances must be positive"));
            }
            if covariance[(i, i)] > MAX_VOL * MAX_VOL {
                return Err(invalid(
                    format!("market.covariance[{i}][{i}]"),
                    format!("a variance above {} per year (vol {MAX_VOL}) is not supported", MAX_VOL * MAX_VOL),
                ));
            }
        }
        return Ok(covariance);
    }
    let vol = spec
        .vol
        .as_ref()
        .ok_or_else(|| invalid("market.vol", "give vol (with correlation) or covariance"))?
        .expand(n, "market.vol")?;
    for (i, v) in vol.iter().enumerate() {
        if *v <= 0.0 {
            return Err(invalid(format!("market.vol[{i}]"), format!("must be positive, got {v}")));
        }
        if *v > MAX_VOL {
            return Err(invalid(format!("market.vol[{i}]"), format!("must be at most {MAX_VOL} per year, got {v}")));
        }
    }
    let correlation = match spec.correlation.as_ref().unwrap_or(&Correlation::One(0.0)) {
        Correlation::One(rho) => {
            if !(rho.is_finite() && *rho > -1.0 && *rho < 1.0) {
                return Err(invalid("market.correlation", format!("must be in (-1, 1), got {rho}")));
            }
            DMatrix::from_fn(n, n, |i, j| if i == j { 1.0 } else { *rho })
        }
        Correlation::Matrix(rows) => {
            let matrix = square_matrix(rows, n, "market.correlation")?;
            for i in 0..n {
                if matrix[(i, i)] != 1.0 {
                    return Err(invalid(format!("market.correlation[{i}][{i}]"), "the diagonal must be 1"));
                }
                for j in 0..n {
                    if matrix[(i, j)].abs() > 1.0 {
                        return Err(invalid(format!("market.correlation[{i}][{j}]"), "must be in [-1, 1]"));
                    }
                }
            }
            matrix
        }
    };
    Ok(DMatrix::from_fn(n, n, |i, j| correlation[(i, j)] * vol[i] * vol[j]))
}

/// GBM parameters in the kernel's precision, converted once per run.
#[derive(Debug, Clone)]
pub struct GbmKernel<R> {
    pub n: usize,
    /// Lower Cholesky factor times sqrt(dt), packed by rows.
    pub step_factor: Vec<R>,
    /// gamma_i * dt.
    pub step_drift: Vec<R>,
}

impl GbmMarket {
    pub fn kernel<R: Real>(&self, dt: f64) -> GbmKernel<R> {
        GbmKernel {
            n: self.n(),
            step_factor: self.packed_step_factor(dt).into_iter().map(R::from_f64).collect(),
            step_drift: self.step_drift(dt).into_iter().map(R::from_f64).collect(),
        }
    }
}

/// One step of log caps for `L` paths: `log_steps[i] = gamma_i dt + sqrt(dt) (L z)_i`.
///
/// The CPU twin of the GBM stage of `shaders/advance_paths.wgsl`. `paths` holds each
/// lane's global path index; normals follow the contract of `rng.rs`. `FUSED` selects
/// fused multiply-adds (only where the CPU has FMA).
#[inline(always)]
pub fn gbm_log_steps<R: Real, const L: usize, const FUSED: bool>(
    params: &GbmKernel<R>,
    key: [u32; 2],
    paths: &[u32; L],
    step: u32,
    log_steps: &mut [Lanes<R, L>],
) {
    let n = params.n;
    // Standard normals, four stocks per Philox call.
    for block in 0..n.div_ceil(4) {
        let counters = [*paths, [step; L], [block as u32; L], [STREAM_MARKET; L]];
        let words = philox4x32_10_simd(counters, key);
        let uniforms = words.map(|word| Lanes(word.map(R::uniform)));
        let mut normals = [Lanes::zero(); 4];
        for pair in 0..2 {
            let radius = (uniforms[2 * pair].ln_with::<FUSED>() * R::from_f64(-2.0)).sqrt();
            let (sin, cos) = uniforms[2 * pair + 1].sin_cos_turns_with::<FUSED>();
            normals[2 * pair] = radius * cos;
            normals[2 * pair + 1] = radius * sin;
        }
        let stocks = (n - 4 * block).min(4);
        log_steps[4 * block..4 * block + stocks].copy_from_slice(&normals[..stocks]);
    }
    // Correlate in place, last row first: row i reads z_j for j <= i only.
    for i in (0..n).rev() {
        let row = &params.step_factor[i * (i + 1) / 2..][..=i];
        // Four partial sums: independent dependency chains keep the SIMD units busy.
        let mut partial = [Lanes::zero(); 4];
        let mut factors = row.chunks_exact(4);
        let mut normals = log_steps[..=i].chunks_exact(4);
        for (factor, z) in (&mut factors).zip(&mut normals) {
            for k in 0..4 {
                partial[k] = z[k].mul_add::<FUSED>(factor[k], partial[k]);
            }
        }
        for (k, (factor, z)) in factors.remainder().iter().zip(normals.remainder()).enumerate() {
            partial[k] = z.mul_add::<FUSED>(*factor, partial[k]);
        }
        log_steps[i] = (partial[0] + partial[1]) + (partial[2] + partial[3]) + params.step_drift[i];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_weight_excess_growth_matches_the_closed_form() {
        // gamma* = 1/2 sigma^2 (1 - 1/n)(1 - rho) for equal weights, common sigma and rho.
        let n = 10;
        let (sigma, rho) = (0.3, 0.25);
        let covariance = DMatrix::from_fn(n, n, |i, j| if i == j { sigma * sigma } else { rho * sigma * sigma });
        let market = GbmMarket {
            initial_weights: vec![0.1; n],
            growth: vec![0.0; n],
            cholesky: covariance.clone().cholesky().unwrap().l(),
            covariance,
        };
        let expected = 0.5 * sigma * sigma * (1.0 - 1.0 / n as f64) * (1.0 - rho);
        assert!((market.excess_growth_rate(&[0.1; 10]) - expected).abs() < 1e-15);
    }
}
