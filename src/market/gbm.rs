//! Correlated geometric Brownian motion (docs/models.md), exact on the grid:
//! `log X(k+1) = log X(k) + gamma * dt + sqrt(dt) * L z`, with `L L^T = Sigma`.

use nalgebra::DMatrix;

use crate::market::spec::{Correlation, MarketSpec};
use crate::market::{fill_normals, initial_weights, Draws, MarketKernel};
use crate::numeric::lanes::{Lanes, Real};
use crate::numeric::philox::{STREAM_FACTORS, STREAM_MARKET};
use crate::problems::{invalid, Problems, ScenarioError};

/// Largest volatility per year accepted (500 %): beyond any stock, and far enough from
/// where f32 weights underflow within a run.
pub const MAX_VOL: f64 = 5.0;
/// Largest |growth| or |drift| per year accepted (500 %), for the same reason.
pub const MAX_GROWTH: f64 = 5.0;
/// Largest number of factors in a factor model.
pub const MAX_FACTORS: usize = 64;

/// How the correlated noise is drawn: a Cholesky factor (O(n^2) per step) or a
/// factor model (O(nK) per step).
#[derive(Debug, Clone)]
pub enum GbmNoise {
    /// Lower Cholesky factor L of Sigma.
    Cholesky(DMatrix<f64>),
    /// Sigma = B B^T + diag(s^2): `loadings` is B (n x K), `idiosyncratic_vol` is s.
    Factor { loadings: DMatrix<f64>, idiosyncratic_vol: Vec<f64> },
}

/// Validated GBM parameters, per year.
#[derive(Debug, Clone)]
pub struct GbmMarket {
    /// mu_i(0), positive, summing to one (largest stock first for zipf).
    pub initial_weights: Vec<f64>,
    /// gamma_i, drift of log X_i per year.
    pub growth: Vec<f64>,
    /// Sigma, covariance of log caps per year.
    pub covariance: DMatrix<f64>,
    pub noise: GbmNoise,
}

impl GbmMarket {
    pub fn n(&self) -> usize {
        self.initial_weights.len()
    }

    pub fn vols(&self) -> Vec<f64> {
        (0..self.n()).map(|i| self.covariance[(i, i)].sqrt()).collect()
    }

    /// The lower Cholesky factor, when the noise is drawn through one.
    pub fn cholesky(&self) -> Option<&DMatrix<f64>> {
        match &self.noise {
            GbmNoise::Cholesky(factor) => Some(factor),
            GbmNoise::Factor { .. } => None,
        }
    }

    /// The lower Cholesky factor times sqrt(dt), packed row by row (`i * (i + 1) / 2 + j`, j <= i).
    /// Empty for a factor model.
    pub fn packed_step_factor(&self, dt: f64) -> Vec<f64> {
        let Some(cholesky) = self.cholesky() else { return Vec::new() };
        let n = self.n();
        let scale = dt.sqrt();
        let mut packed = Vec::with_capacity(n * (n + 1) / 2);
        for i in 0..n {
            for j in 0..=i {
                packed.push(cholesky[(i, j)] * scale);
            }
        }
        packed
    }

    /// gamma_i * dt, the deterministic part of one log step.
    pub fn step_drift(&self, dt: f64) -> Vec<f64> {
        self.growth.iter().map(|g| g * dt).collect()
    }

    /// Excess growth rate gamma*_pi = 1/2 (sum pi_i s_ii - pi^T Sigma pi) of fixed weights (docs/theory.md).
    pub fn excess_growth_rate(&self, weights: &[f64]) -> f64 {
        let w = nalgebra::DVector::from_column_slice(weights);
        let own: f64 = (0..self.n()).map(|i| weights[i] * self.covariance[(i, i)]).sum();
        0.5 * (own - (w.transpose() * &self.covariance * &w)[(0, 0)])
    }

    pub fn from_spec(spec: &MarketSpec) -> Result<GbmMarket, ScenarioError> {
        let n = spec.n;
        // The three parts are checked independently so that one pass reports them all.
        let mut problems = Problems::default();
        let initial_weights = problems.check(initial_weights(spec));
        let covariance_and_noise =
            problems.check(if spec.factor_loadings.is_some() || spec.idiosyncratic_vol.is_some() {
                factor_model(spec)
            } else {
                covariance(spec).and_then(|covariance| {
                    let cholesky = nalgebra::linalg::Cholesky::new(covariance.clone()).ok_or_else(|| {
                        let field = if spec.covariance.is_some() { "market.covariance" } else { "market.correlation" };
                        invalid(field, "the covariance matrix is not positive definite")
                    })?;
                    Ok((covariance, GbmNoise::Cholesky(cholesky.l())))
                })
            });
        // Growth rates per year, or drifts to be turned into them once the covariance is known.
        let growth_or_drift = problems.check(match (&spec.growth, &spec.drift) {
            (Some(_), Some(_)) => Err(invalid("market.drift", "give growth or drift, not both")),
            (Some(growth), None) => growth.expand(n, "market.growth").and_then(|g| bounded_growth(g, "market.growth")),
            (None, Some(drift)) => drift.expand(n, "market.drift").and_then(|d| bounded_growth(d, "market.drift")),
            (None, None) => Ok(vec![0.0; n]),
        });
        // A part is None exactly when its check recorded a problem.
        let (Some(initial_weights), Some((covariance, noise)), Some(mut growth)) =
            (initial_weights, covariance_and_noise, growth_or_drift)
        else {
            return Err(problems.into_error());
        };
        if spec.drift.is_some() {
            for (i, rate) in growth.iter_mut().enumerate() {
                *rate -= 0.5 * covariance[(i, i)];
            }
        }
        Ok(GbmMarket { initial_weights, growth, covariance, noise })
    }

    /// Independent stocks of equal vol `vol` and zero growth.
    pub fn independent(initial_weights: Vec<f64>, vol: f64) -> GbmMarket {
        let n = initial_weights.len();
        let covariance = DMatrix::from_diagonal_element(n, n, vol * vol);
        let noise = GbmNoise::Cholesky(DMatrix::from_diagonal_element(n, n, vol));
        GbmMarket { initial_weights, growth: vec![0.0; n], covariance, noise }
    }
}

/// Checks growth rates (or drifts) against [`MAX_GROWTH`].
pub(crate) fn bounded_growth(values: Vec<f64>, field: &str) -> Result<Vec<f64>, ScenarioError> {
    match values.iter().position(|v| v.abs() > MAX_GROWTH) {
        Some(i) => {
            Err(invalid(format!("{field}[{i}]"), format!("must be within +/-{MAX_GROWTH} per year, got {}", values[i])))
        }
        None => Ok(values),
    }
}

/// Checks vols: positive and at most [`MAX_VOL`].
pub(crate) fn checked_vols(values: Vec<f64>, field: &str) -> Result<Vec<f64>, ScenarioError> {
    let mut problems = Problems::default();
    for (i, v) in values.iter().enumerate() {
        // One value given for every stock is one problem, reported at its first stock.
        if values[..i].contains(v) {
            continue;
        }
        if *v <= 0.0 {
            problems.push(invalid(format!("{field}[{i}]"), format!("must be positive, got {v}")));
        } else if *v > MAX_VOL {
            problems.push(invalid(format!("{field}[{i}]"), format!("must be at most {MAX_VOL} per year, got {v}")));
        }
    }
    problems.into_result(|| values)
}

/// Sigma = B B^T + diag(s^2), positive definite because every s_i > 0.
fn factor_model(spec: &MarketSpec) -> Result<(DMatrix<f64>, GbmNoise), ScenarioError> {
    let n = spec.n;
    if spec.vol.is_some() || spec.correlation.is_some() || spec.covariance.is_some() {
        return Err(invalid(
            "market.factor_loadings",
            "give factor_loadings + idiosyncratic_vol, or vol + correlation, or covariance: not two of them",
        ));
    }
    let rows = spec
        .factor_loadings
        .as_ref()
        .ok_or_else(|| invalid("market.factor_loadings", "a factor model needs factor_loadings (n rows of K)"))?;
    let idiosyncratic_vol = checked_vols(
        spec.idiosyncratic_vol
            .as_ref()
            .ok_or_else(|| invalid("market.idiosyncratic_vol", "a factor model needs idiosyncratic_vol"))?
            .expand(n, "market.idiosyncratic_vol")?,
        "market.idiosyncratic_vol",
    )?;
    if rows.len() != n {
        return Err(invalid("market.factor_loadings", format!("has {} rows, expected n = {n}", rows.len())));
    }
    let factors = rows[0].len();
    if !(1..=MAX_FACTORS).contains(&factors) {
        return Err(invalid(
            "market.factor_loadings[0]",
            format!("must have 1 to {MAX_FACTORS} factors, got {factors}"),
        ));
    }
    let mut loadings = DMatrix::zeros(n, factors);
    for (i, row) in rows.iter().enumerate() {
        if row.len() != factors {
            return Err(invalid(
                format!("market.factor_loadings[{i}]"),
                format!("has {} values, expected K = {factors} (the length of row 0)", row.len()),
            ));
        }
        for (k, value) in row.iter().enumerate() {
            if !value.is_finite() || value.abs() > MAX_VOL {
                return Err(invalid(
                    format!("market.factor_loadings[{i}][{k}]"),
                    format!("must be a finite number within +/-{MAX_VOL}, got {value}"),
                ));
            }
            loadings[(i, k)] = *value;
        }
    }
    let mut covariance = &loadings * loadings.transpose();
    for i in 0..n {
        covariance[(i, i)] += idiosyncratic_vol[i] * idiosyncratic_vol[i];
        if covariance[(i, i)] > MAX_VOL * MAX_VOL {
            return Err(invalid(
                format!("market.factor_loadings[{i}]"),
                format!("gives stock {i} a vol of {:.3} per year, above {MAX_VOL}", covariance[(i, i)].sqrt()),
            ));
        }
    }
    Ok((covariance, GbmNoise::Factor { loadings, idiosyncratic_vol }))
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
    // Vols and correlation are checked independently so that one pass reports both.
    let mut problems = Problems::default();
    let vol = problems.check(
        spec.vol
            .as_ref()
            .ok_or_else(|| invalid("market.vol", "give vol (with correlation), covariance, or factor_loadings"))
            .and_then(|vol| vol.expand(n, "market.vol"))
            .and_then(|vol| checked_vols(vol, "market.vol")),
    );
    let correlation = problems.check(correlation(spec.correlation.as_ref().unwrap_or(&Correlation::One(0.0)), n));
    let (Some(vol), Some(correlation)) = (vol, correlation) else {
        return Err(problems.into_error());
    };
    Ok(DMatrix::from_fn(n, n, |i, j| correlation[(i, j)] * vol[i] * vol[j]))
}

fn correlation(correlation: &Correlation, n: usize) -> Result<DMatrix<f64>, ScenarioError> {
    Ok(match correlation {
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
    })
}

/// GBM with a Cholesky factor, in the kernel's precision, converted once per run.
#[derive(Debug, Clone)]
pub struct CholeskyKernel<R> {
    pub n: usize,
    /// Lower Cholesky factor times sqrt(dt), packed by rows.
    pub step_factor: Vec<R>,
    /// The same factor for the kernel's blocks of `block_rows` rows, taken from the
    /// last rows up: for block rows `first..first + B`, for each column j < first + B,
    /// the B entries L[first + r][j] side by side, zero above the diagonal. One pass over
    /// j then computes the whole block, the corner included (adding exact zeros leaves
    /// each sum as the row-by-row order gives it).
    pub block_factor: Vec<R>,
    /// Rows per block of `block_factor`: 8 for the AVX-512 kernel (a block's 16 lanes
    /// are one register, 32 registers), else 4 (AVX2 holds a block in two of its 16).
    pub block_rows: usize,
    /// gamma_i * dt.
    pub step_drift: Vec<R>,
}

impl<R: Real> CholeskyKernel<R> {
    pub fn new(n: usize, step_factor: Vec<R>, step_drift: Vec<R>) -> CholeskyKernel<R> {
        // Measured on Zen 5 (standard workload, one core): AVX-512 with 4, 8, 10, 12 rows
        // 483, 525, 534, 530 M asset-steps/s; AVX2 with 4 rows 287 M, with 8 rows 224 M.
        let block_rows = if crate::numeric::simd::flavour() == crate::numeric::simd::Flavour::Avx512 { 8 } else { 4 };
        let entry = |i: usize, j: usize| if j <= i { step_factor[i * (i + 1) / 2 + j] } else { R::ZERO };
        let mut block_factor = Vec::new();
        let mut end = n;
        while end >= block_rows {
            let first = end - block_rows;
            for j in 0..end {
                block_factor.extend((0..block_rows).map(|r| entry(first + r, j)));
            }
            end = first;
        }
        CholeskyKernel { n, step_factor, block_factor, block_rows, step_drift }
    }
}

/// GBM with a factor model, in the kernel's precision.
#[derive(Debug, Clone)]
pub struct FactorKernel<R> {
    pub n: usize,
    pub factors: usize,
    /// B sqrt(dt), row by row (stock i at `i * factors`).
    pub step_loadings: Vec<R>,
    /// s_i sqrt(dt).
    pub step_idiosyncratic: Vec<R>,
    /// gamma_i * dt.
    pub step_drift: Vec<R>,
}

impl GbmMarket {
    pub fn kernel<R: Real>(&self, dt: f64) -> MarketKernel<R> {
        let convert = |values: Vec<f64>| values.into_iter().map(R::from_f64).collect::<Vec<R>>();
        let step_drift = convert(self.step_drift(dt));
        match &self.noise {
            GbmNoise::Cholesky(_) => {
                MarketKernel::Cholesky(CholeskyKernel::new(self.n(), convert(self.packed_step_factor(dt)), step_drift))
            }
            GbmNoise::Factor { loadings, idiosyncratic_vol } => MarketKernel::Factor(FactorKernel {
                n: self.n(),
                factors: loadings.ncols(),
                step_loadings: convert(
                    (0..self.n())
                        .flat_map(|i| (0..loadings.ncols()).map(move |k| loadings[(i, k)] * dt.sqrt()))
                        .collect(),
                ),
                step_idiosyncratic: convert(idiosyncratic_vol.iter().map(|s| s * dt.sqrt()).collect()),
                step_drift,
            }),
        }
    }
}

/// One step of log caps for `L` paths: `log_steps[i] = gamma_i dt + sqrt(dt) (L z)_i`.
///
/// The CPU twin of `shaders/market_cholesky.wgsl`. `paths` holds each lane's global
/// path index; normals follow the contract of `numeric/philox.rs`. `FUSED` selects fused
/// multiply-adds (only where the CPU has FMA).
#[inline(always)]
pub fn cholesky_log_steps<R: Real, const L: usize, const FUSED: bool>(
    params: &CholeskyKernel<R>,
    key: [u32; 2],
    draws: &Draws<R, L>,
    step: u32,
    log_steps: &mut [Lanes<R, L>],
    noise: &mut [Lanes<R, L>],
) {
    let n = params.n;
    fill_normals::<R, L, FUSED>(key, draws, step, STREAM_MARKET, &mut log_steps[..n]);
    correlate_in_place::<R, L, FUSED>(params, log_steps, noise);
}

/// Standard normals `z` (the first n lanes of `log_steps`) into log steps
/// `gamma_i dt + sqrt(dt) (L z)_i`: each row the chain of multiply-adds j = 0, 1, ..., i
/// (the GPU's block kernel sums in the same order; its stage test compares them bit
/// for bit). `noise` receives each step's noise term `sqrt(dt) (L z)_i` before the
/// drift is added (the control variate's epsilon, docs/control-variates.md).
#[inline(always)]
pub fn correlate_in_place<R: Real, const L: usize, const FUSED: bool>(
    params: &CholeskyKernel<R>,
    log_steps: &mut [Lanes<R, L>],
    noise: &mut [Lanes<R, L>],
) {
    // Correlate in place, last rows first: row i reads z_j for j <= i only. Blocks of
    // rows share each load of z_j (the loop is bound by loads, not multiply-adds).
    let end = match params.block_rows {
        8 => correlate_blocks::<R, L, FUSED, 8>(params, log_steps, noise),
        _ => correlate_blocks::<R, L, FUSED, 4>(params, log_steps, noise),
    };
    let row = |i: usize| &params.step_factor[i * (i + 1) / 2..][..=i];
    for i in (0..end).rev() {
        let mut sum = Lanes::zero();
        for (z, factor) in log_steps[..=i].iter().zip(row(i)) {
            sum = z.mul_add::<FUSED>(*factor, sum);
        }
        noise[i] = sum;
        log_steps[i] = sum + params.step_drift[i];
    }
}

/// The rows of whole `B`-row blocks, last rows first, reading the factor in
/// `block_factor`'s order; returns how many rows at the top are left to do.
#[inline(always)]
fn correlate_blocks<R: Real, const L: usize, const FUSED: bool, const B: usize>(
    params: &CholeskyKernel<R>,
    log_steps: &mut [Lanes<R, L>],
    noise: &mut [Lanes<R, L>],
) -> usize {
    let mut end = params.n;
    let mut blocks = params.block_factor.as_slice();
    while end >= B {
        let first = end - B;
        let (block, rest) = blocks.split_at(end * B);
        blocks = rest;
        let mut sums = [Lanes::zero(); B];
        for (z, factors) in log_steps[..end].iter().zip(block.chunks_exact(B)) {
            let z = *z;
            for (sum, factor) in sums.iter_mut().zip(factors) {
                *sum = z.mul_add::<FUSED>(*factor, *sum);
            }
        }
        for (r, sum) in sums.iter().enumerate() {
            noise[first + r] = *sum;
            log_steps[first + r] = *sum + params.step_drift[first + r];
        }
        end = first;
    }
    end
}

/// One step of log caps under a factor model:
/// `log_steps[i] = gamma_i dt + sqrt(dt) (sum_k B_ik f_k + s_i e_i)`, with the
/// idiosyncratic normals e from the market stream and the factor normals f from
/// the factor stream (`noise` gets everything but the drift). The CPU twin of
/// `shaders/market_factor.wgsl`.
#[inline(always)]
pub fn factor_log_steps<R: Real, const L: usize, const FUSED: bool>(
    params: &FactorKernel<R>,
    key: [u32; 2],
    draws: &Draws<R, L>,
    step: u32,
    factor_normals: &mut [Lanes<R, L>],
    log_steps: &mut [Lanes<R, L>],
    noise: &mut [Lanes<R, L>],
) {
    let (n, factors) = (params.n, params.factors);
    fill_normals::<R, L, FUSED>(key, draws, step, STREAM_MARKET, &mut log_steps[..n]);
    fill_normals::<R, L, FUSED>(key, draws, step, STREAM_FACTORS, &mut factor_normals[..factors]);
    for (i, (log_step, noise)) in log_steps[..n].iter_mut().zip(noise.iter_mut()).enumerate() {
        let loadings = &params.step_loadings[i * factors..][..factors];
        let mut common = Lanes::zero();
        for (loading, f) in loadings.iter().zip(factor_normals.iter()) {
            common = f.mul_add::<FUSED>(*loading, common);
        }
        *noise = log_step.mul_add::<FUSED>(params.step_idiosyncratic[i], common);
        *log_step = *noise + params.step_drift[i];
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
            noise: GbmNoise::Cholesky(covariance.clone().cholesky().unwrap().l()),
            covariance,
        };
        let expected = 0.5 * sigma * sigma * (1.0 - 1.0 / n as f64) * (1.0 - rho);
        assert!((market.excess_growth_rate(&[0.1; 10]) - expected).abs() < 1e-15);
    }
}
