//! The tracking-error-budgeted excess-growth optimiser of the `max_growth` weighting.
//!
//! Given the covariance Sigma the strategy believes, the market weights mu and,
//! optionally, growth rates gamma, it chooses long-only weights pi maximising
//!
//!   1/2 (sum_i pi_i s_ii - pi' Sigma pi) + pi' gamma
//!
//! (the market's own terms are constants) subject to sum pi = 1, pi >= 0, the
//! tracking-error budget (pi - mu)' Sigma (pi - mu) <= b^2 and optional bounds
//! |pi_i - mu_i| <= m. In d = pi - mu the objective is, up to a constant,
//! -1/2 ||d - d_u||^2_Sigma with d_u = Sigma^-1 (diag(Sigma) / 2 + gamma) - mu: the
//! problem is the Sigma-metric projection of d_u onto {||d||_Sigma <= b} intersected
//! with P = {sum d = 0, lo <= d <= hi}.
//!
//! Method: ADMM splitting d (the ball) from z (the set P), in the eigenbasis of
//! Sigma = Q Lambda Q' computed once per run, where the d-step is diagonal up to one
//! scalar multiplier found by bisection, and the z-step is a clipped shift found by
//! bisection. At most `max_iterations` iterations, each two n x n products. The answer
//! is made exactly feasible at the end: z satisfies P, and is scaled toward d = 0
//! (the market, which satisfies every constraint) until it meets the budget.

use std::sync::{Arc, OnceLock};

use nalgebra::{DMatrix, DVector, SymmetricEigen};

use crate::numeric::shrinkage::{shrunk_correlation, Shrinkage};

use super::factor_solver::{FactorForm, FactorWarm};
use super::projection::project_onto_box_and_sum;

/// The covariance a max_growth strategy believes.
#[derive(Debug, Clone, PartialEq)]
pub enum CovarianceBelief {
    /// The model's own (a gbm market's): one problem for every path and rebalance.
    Model(Arc<MaxGrowthProblem>),
    /// Estimated on each path at each rebalance from its own trailing log returns.
    Trailing(TrailingEstimate),
}

/// How a path estimates its covariance: sample vols and a correlation shrunk toward the
/// identity (Ledoit-Wolf, as `sptlab calibrate` does) over the last `lookback` steps.
#[derive(Debug, Clone, PartialEq)]
pub struct TrailingEstimate {
    pub lookback: usize,
    pub shrinkage: Shrinkage,
    /// gamma, when the strategy is told the growth rates.
    pub growth: Option<Vec<f64>>,
    pub te_budget: f64,
    pub max_active: Option<f64>,
    pub steps_per_year: f64,
}

impl TrailingEstimate {
    /// The problem for a path whose last returns are `returns[t][stock]` (oldest first);
    /// `None` with fewer than two returns (the strategy then holds the market).
    pub fn problem(&self, returns: &[Vec<f64>]) -> Option<MaxGrowthProblem> {
        if returns.len() < 2 {
            return None;
        }
        let n = returns[0].len();
        let periods = returns.len() as f64;
        let vols: Vec<f64> = (0..n)
            .map(|i| {
                let mean = returns.iter().map(|r| r[i]).sum::<f64>() / periods;
                let variance = returns.iter().map(|r| (r[i] - mean).powi(2)).sum::<f64>() / (periods - 1.0);
                // A stock that never moved gets a tiny vol, keeping Sigma positive definite.
                (variance * self.steps_per_year).sqrt().max(1e-8)
            })
            .collect();
        let (correlation, _) = shrunk_correlation(returns, self.shrinkage);
        let covariance = DMatrix::from_fn(n, n, |i, j| correlation[(i, j)] * vols[i] * vols[j]);
        Some(MaxGrowthProblem::new(&covariance, self.growth.as_deref(), self.te_budget, self.max_active))
    }
}

/// The smallest eigenvalue of Sigma kept, relative to the largest.
const EIGENVALUE_FLOOR: f64 = 1e-12;

/// A validated problem: everything that does not change between rebalances.
#[derive(Debug, Clone, PartialEq)]
pub struct MaxGrowthProblem {
    n: usize,
    /// Sigma, and gamma when the strategy is told the growth rates.
    covariance: DMatrix<f64>,
    growth: Option<Vec<f64>>,
    /// The eigenbasis of Sigma, for the ADMM method and the GPU kernel's words: made
    /// when first needed (a factor form that solves alone never needs it; at 1,000
    /// stocks it costs about a second).
    eigen: OnceLock<EigenForm>,
    /// Sigma = B B' + D, when the belief has that structure: solved in O(nK^2).
    factor: Option<FactorForm>,
    te_budget: f64,
    max_active: Option<f64>,
    pub max_iterations: usize,
    pub tolerance: f64,
}

/// Sigma in its eigenbasis, with the unconstrained optimum there.
#[derive(Debug, Clone, PartialEq)]
struct EigenForm {
    n: usize,
    /// Q, row-major (Q[i][k] at i * n + k): column k is eigenvector k of Sigma.
    eigenvectors: Vec<f64>,
    /// Lambda, the eigenvalues of Sigma (positive).
    eigenvalues: Vec<f64>,
    /// Lambda^-1 Q' (diag(Sigma) / 2 + gamma): the unconstrained optimum in the eigenbasis.
    unconstrained: Vec<f64>,
    /// The ADMM penalty: the geometric mean of the extreme eigenvalues.
    rho: f64,
}

/// What a path carries from one solve to the next: ADMM's z and scaled dual u, and the
/// last shift of the box projection; or the factor solver's multipliers. Starting from
/// the last rebalance's solution cuts the iterations several fold, since weights move
/// little between rebalances.
#[derive(Debug, Clone, Default)]
pub struct WarmStart {
    z: Vec<f64>,
    u: Vec<f64>,
    theta: f64,
    factor: FactorWarm,
}

/// A solution with what it took.
#[derive(Debug, Clone)]
pub struct MaxGrowthSolution {
    pub weights: Vec<f64>,
    pub iterations: usize,
}

impl MaxGrowthProblem {
    /// `covariance` must be positive definite (a validated scenario's is); `growth`
    /// adds pi' gamma to the objective; `te_budget` is b (annualised, like Sigma).
    pub fn new(
        covariance: &DMatrix<f64>,
        growth: Option<&[f64]>,
        te_budget: f64,
        max_active: Option<f64>,
    ) -> MaxGrowthProblem {
        MaxGrowthProblem {
            n: covariance.nrows(),
            covariance: covariance.clone(),
            growth: growth.map(<[f64]>::to_vec),
            eigen: OnceLock::new(),
            factor: None,
            te_budget,
            max_active,
            max_iterations: 2000,
            tolerance: 1e-8,
        }
    }

    /// As [`MaxGrowthProblem::new`] for `covariance` = B B' + diag(s^2), B =
    /// `loadings` (n x K) and s = `idiosyncratic_vol`: solved in the factor form.
    pub fn with_factors(
        covariance: &DMatrix<f64>,
        (loadings, idiosyncratic_vol): (&DMatrix<f64>, &[f64]),
        growth: Option<&[f64]>,
        te_budget: f64,
        max_active: Option<f64>,
    ) -> MaxGrowthProblem {
        let form = FactorForm::new(loadings, idiosyncratic_vol, growth);
        let factor = form.is_definite().then_some(form);
        MaxGrowthProblem { factor, ..MaxGrowthProblem::new(covariance, growth, te_budget, max_active) }
    }

    /// The same problem solved by the eigenbasis ADMM whatever its structure (the
    /// reference the factor form is tested against).
    pub fn without_factors(&self) -> MaxGrowthProblem {
        MaxGrowthProblem { factor: None, ..self.clone() }
    }

    /// Whether the factor form solves it.
    pub fn has_factor_form(&self) -> bool {
        self.factor.is_some()
    }

    /// K, when the factor form solves it.
    pub fn factor_count(&self) -> Option<usize> {
        self.factor.as_ref().map(FactorForm::factors)
    }

    /// Whether the factor form's words hold in f32 (the GPU's): every idiosyncratic
    /// variance and its inverse a positive normal f32.
    pub fn factor_form_fits_f32(&self) -> bool {
        self.factor.as_ref().is_some_and(FactorForm::fits_f32)
    }

    /// The factor form in the GPU kernel's layout (shaders/max_growth_factor.wgsl):
    /// `FactorForm::kernel_words`, then the budget and the bound on each active weight
    /// (-1 for none); `None` without a factor form.
    pub fn factor_kernel_words(&self) -> Option<Vec<f64>> {
        let mut words = self.factor.as_ref()?.kernel_words();
        words.extend([self.te_budget, self.max_active.unwrap_or(-1.0)]);
        Some(words)
    }

    fn eigen(&self) -> &EigenForm {
        self.eigen.get_or_init(|| EigenForm::new(&self.covariance, self.growth.as_deref()))
    }

    /// The problem in the GPU kernel's layout (shaders/max_growth.wgsl, `MG_*` offsets):
    /// Q row-major, Lambda, the unconstrained optimum, then the budget, the bound on
    /// each active weight (-1 for none) and rho.
    pub fn kernel_words(&self) -> Vec<f64> {
        let eigen = self.eigen();
        let mut words = eigen.eigenvectors.clone();
        words.extend(&eigen.eigenvalues);
        words.extend(&eigen.unconstrained);
        words.extend([self.te_budget, self.max_active.unwrap_or(-1.0), eigen.rho]);
        words
    }

    /// ||x||_Sigma = sqrt(x' Sigma x).
    pub fn sigma_norm(&self, x: &[f64]) -> f64 {
        self.sigma_inner(x, x).sqrt()
    }

    /// The weights for market weights `mu`, from a cold start.
    pub fn solve(&self, mu: &[f64]) -> MaxGrowthSolution {
        self.solve_from(mu, &mut WarmStart::default())
    }

    /// The weights for market weights `mu`, starting from (and updating) `warm`.
    pub fn solve_from(&self, mu: &[f64], warm: &mut WarmStart) -> MaxGrowthSolution {
        self.solve_within(mu, None, warm)
    }

    /// As [`MaxGrowthProblem::solve_from`], holding only the stocks `allowed` marks (an
    /// index's members less a screen, docs/open-markets.md), whose weights among
    /// themselves `mu` then is: every other weight is bound at 0, so the full
    /// covariance serves every set of members.
    pub fn solve_within(&self, mu: &[f64], allowed: Option<&[bool]>, warm: &mut WarmStart) -> MaxGrowthSolution {
        let n = self.n;
        let budget = self.te_budget;
        let (lo, hi): (Vec<f64>, Vec<f64>) = (0..n)
            .map(|i| match (allowed.is_none_or(|a| a[i]), self.max_active) {
                (false, _) => (0.0, 0.0),
                (true, Some(m)) => (-mu[i].min(m), m),
                (true, None) => (-mu[i], 1.0 - mu[i]),
            })
            .unzip();
        if let Some(form) = &self.factor {
            let (d, iterations) = form.solve(mu, (&lo, &hi), budget, &mut warm.factor);
            return MaxGrowthSolution { weights: mu.iter().zip(&d).map(|(m, di)| m + di).collect(), iterations };
        }
        if warm.z.len() != n {
            *warm = WarmStart { z: vec![0.0; n], u: vec![0.0; n], theta: 0.0, factor: FactorWarm::default() };
        }
        let eigen = self.eigen();
        // The target in the eigenbasis: a = Lambda^-1 Q' (...) - Q' mu.
        let mut target = vec![0.0; n];
        eigen.rotate_in(mu, &mut target);
        for (t, u) in target.iter_mut().zip(&eigen.unconstrained) {
            *t = u - *t;
        }
        let rho = eigen.rho;
        let mut d = vec![0.0; n];
        let (z, u) = (&mut warm.z, &mut warm.u);
        let (mut rotated, mut y, mut shifted) = (vec![0.0; n], vec![0.0; n], vec![0.0; n]);
        let mut iterations = 0;
        for iteration in 1..=self.max_iterations {
            iterations = iteration;
            // d-step: argmin 1/2 ||d - d_u||^2_Sigma + rho/2 ||d - (z - u)||^2 on the ball.
            for ((s, zi), ui) in shifted.iter_mut().zip(z.iter()).zip(u.iter()) {
                *s = zi - ui;
            }
            eigen.rotate_in(&shifted, &mut rotated);
            let y_at = |eta: f64, k: usize| {
                let l = eigen.eigenvalues[k];
                (l * target[k] + rho * rotated[k]) / (l * (1.0 + 2.0 * eta) + rho)
            };
            let te2 = |eta: f64| (0..n).map(|k| eigen.eigenvalues[k] * y_at(eta, k).powi(2)).sum::<f64>();
            let eta = if te2(0.0) <= budget * budget {
                0.0
            } else {
                // Newton on phi(eta) = 1 / sqrt(te2(eta)) - 1 / budget, which is nearly
                // linear in eta (the secular-equation trick of trust-region methods), kept
                // inside a bracket [low, high] that bisection narrows when a step leaves it.
                // At the bracket's top every y_k is within the budget's bound.
                let spread: f64 = (0..n)
                    .map(|k| (eigen.eigenvalues[k] * target[k] + rho * rotated[k]).powi(2) / eigen.eigenvalues[k])
                    .sum();
                let (mut low, mut high) = (0.0, spread.sqrt() / (2.0 * budget) + 1.0);
                let mut eta = 0.0;
                for _ in 0..100 {
                    let (mut value, mut slope) = (0.0, 0.0);
                    for k in 0..n {
                        let l = eigen.eigenvalues[k];
                        let denominator = l * (1.0 + 2.0 * eta) + rho;
                        let yk = (l * target[k] + rho * rotated[k]) / denominator;
                        value += l * yk * yk;
                        slope -= 4.0 * l * l * yk * yk / denominator;
                    }
                    let excess = value - budget * budget;
                    if excess.abs() <= 1e-13 * budget * budget {
                        break;
                    }
                    if excess > 0.0 {
                        low = eta;
                    } else {
                        high = eta;
                    }
                    if high - low <= 1e-15 * high {
                        break;
                    }
                    // phi = value^-1/2 - 1/b; phi' = -1/2 value^-3/2 slope.
                    let phi = 1.0 / value.sqrt() - 1.0 / budget;
                    let phi_slope = -0.5 * slope / (value * value.sqrt());
                    let step = if phi_slope > 0.0 { eta - phi / phi_slope } else { f64::NAN };
                    eta = if step > low && step < high { step } else { 0.5 * (low + high) };
                }
                // The last point may sit a rounding above the budget; the final scaling
                // below makes the answer feasible whatever happens here.
                eta
            };
            for (k, yk) in y.iter_mut().enumerate() {
                *yk = y_at(eta, k);
            }
            eigen.rotate_out(&y, &mut d);
            // z-step: the Euclidean projection of d + u onto P: clip(x - theta, lo, hi), sum 0.
            let previous_z = z.clone();
            for ((s, di), ui) in shifted.iter_mut().zip(&d).zip(u.iter()) {
                *s = di + ui;
            }
            warm.theta = project_onto_box_and_sum(&shifted, &lo, &hi, warm.theta, z);
            // u-step.
            let mut primal = 0.0f64;
            let mut dual = 0.0f64;
            for i in 0..n {
                u[i] += d[i] - z[i];
                primal = primal.max((d[i] - z[i]).abs());
                dual = dual.max((z[i] - previous_z[i]).abs());
            }
            if primal < self.tolerance && dual < self.tolerance {
                break;
            }
        }
        // Exactly feasible: z is in P; scale it toward the market to meet the budget.
        let norm = self.sigma_norm(z);
        let scale = if norm > budget { budget / norm } else { 1.0 };
        MaxGrowthSolution { weights: mu.iter().zip(z.iter()).map(|(m, zi)| m + scale * zi).collect(), iterations }
    }

    /// x' Sigma v.
    pub fn sigma_inner(&self, x: &[f64], v: &[f64]) -> f64 {
        if let Some(form) = &self.factor {
            return form.sigma_inner(x, v);
        }
        let eigen = self.eigen();
        let (mut rx, mut rv) = (vec![0.0; self.n], vec![0.0; self.n]);
        eigen.rotate_in(x, &mut rx);
        eigen.rotate_in(v, &mut rv);
        rx.iter().zip(&rv).zip(&eigen.eigenvalues).map(|((a, b), l)| l * a * b).sum()
    }

    /// Turnover control: from the weights held, `held`, move toward `optimum` only as far
    /// as half the traded weight stays within `max_turnover`: pi = w + s (pi* - w). Both
    /// ends are long-only and sum to one, and when the held weights meet the budget and
    /// bounds, so does every point between (both constraints are convex), so the answer
    /// meets every constraint. When drift has taken the held weights outside the budget or
    /// the bounds, the budget and bounds win: s is the least that brings them back.
    pub fn limit_turnover(&self, mu: &[f64], held: &[f64], optimum: &[f64], max_turnover: f64) -> Vec<f64> {
        let away: Vec<f64> = held.iter().zip(mu).map(|(w, m)| w - m).collect();
        let step: Vec<f64> = optimum.iter().zip(held).map(|(p, w)| p - w).collect();
        let turnover = 0.5 * step.iter().map(|v| v.abs()).sum::<f64>();
        let mut s = if turnover > max_turnover { max_turnover / turnover } else { 1.0 };
        // The budget: TE^2(s) = |a|^2 + 2 s <a, v> + s^2 |v|^2 is convex, above b^2 at s = 0
        // when the held weights break it and within it at s = 1: its smaller root.
        let (aa, av, vv) =
            (self.sigma_inner(&away, &away), self.sigma_inner(&away, &step), self.sigma_inner(&step, &step));
        let budget2 = self.te_budget * self.te_budget;
        if aa > budget2 && vv > 0.0 {
            let discriminant = (av * av - vv * (aa - budget2)).max(0.0);
            s = s.max(((-av - discriminant.sqrt()) / vv).clamp(0.0, 1.0));
        }
        // The bounds |a_i + s v_i| <= m, each met at s = 1.
        if let Some(m) = self.max_active {
            for (a, v) in away.iter().zip(&step) {
                if a.abs() > m && *v != 0.0 {
                    s = s.max(((a.signum() * m - a) / v).clamp(0.0, 1.0));
                }
            }
        }
        held.iter().zip(&step).map(|(w, v)| w + s * v).collect()
    }

    /// The objective 1/2 (sum_i pi_i s_ii - pi' Sigma pi) + pi' gamma, from the eigenbasis.
    pub fn objective(&self, covariance: &DMatrix<f64>, growth: Option<&[f64]>, weights: &[f64]) -> f64 {
        let pi = DVector::from_column_slice(weights);
        let own: f64 = (0..self.n).map(|i| weights[i] * covariance[(i, i)]).sum();
        let tilt = growth.map_or(0.0, |g| g.iter().zip(weights).map(|(g, w)| g * w).sum());
        0.5 * (own - (pi.transpose() * covariance * &pi)[(0, 0)]) + tilt
    }
}

impl EigenForm {
    fn new(covariance: &DMatrix<f64>, growth: Option<&[f64]>) -> EigenForm {
        let n = covariance.nrows();
        let eigen = SymmetricEigen::new(covariance.clone());
        // A singular estimate (two returns of many stocks: rank one, and Ledoit–Wolf
        // then finds nothing to shrink) has zero eigenvalues, whose inverses are
        // infinite: floor them relative to the largest (the GPU's f32 twin floors at
        // 1e-7 of it). A well-conditioned Sigma is untouched.
        let largest = eigen.eigenvalues.iter().copied().fold(f64::MIN, f64::max);
        let eigenvalues: Vec<f64> =
            eigen.eigenvalues.iter().map(|lambda| lambda.max(EIGENVALUE_FLOOR * largest)).collect();
        let q = &eigen.eigenvectors;
        let mut linear = DVector::from_fn(n, |i, _| 0.5 * covariance[(i, i)]);
        if let Some(growth) = growth {
            linear += DVector::from_column_slice(growth);
        }
        let rotated = q.transpose() * linear;
        let unconstrained = (0..n).map(|k| rotated[k] / eigenvalues[k]).collect();
        let smallest = eigenvalues.iter().copied().fold(f64::MAX, f64::min);
        EigenForm {
            n,
            eigenvectors: (0..n * n).map(|index| q[(index / n, index % n)]).collect(),
            eigenvalues,
            unconstrained,
            rho: (largest * smallest).sqrt(),
        }
    }

    /// Q' x.
    fn rotate_in(&self, x: &[f64], out: &mut [f64]) {
        out.fill(0.0);
        for (i, xi) in x.iter().enumerate() {
            let row = &self.eigenvectors[i * self.n..(i + 1) * self.n];
            for (o, q) in out.iter_mut().zip(row) {
                *o += q * xi;
            }
        }
    }

    /// Q y.
    fn rotate_out(&self, y: &[f64], out: &mut [f64]) {
        for (i, o) in out.iter_mut().enumerate() {
            let row = &self.eigenvectors[i * self.n..(i + 1) * self.n];
            *o = row.iter().zip(y).map(|(q, yk)| q * yk).sum();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn covariance(vols: &[f64], correlation: f64) -> DMatrix<f64> {
        let n = vols.len();
        DMatrix::from_fn(n, n, |i, j| if i == j { vols[i] * vols[i] } else { correlation * vols[i] * vols[j] })
    }

    #[test]
    fn a_singular_trailing_estimate_still_solves() {
        // Two returns of five stocks: a rank-one sample, which Ledoit–Wolf leaves as it is.
        let estimate = TrailingEstimate {
            lookback: 126,
            shrinkage: Shrinkage::Auto,
            growth: None,
            te_budget: 0.05,
            max_active: None,
            steps_per_year: 252.0,
        };
        let returns = vec![vec![0.01, -0.02, 0.0, 0.03, 0.005], vec![-0.01, 0.01, 0.02, 0.0, -0.004]];
        let problem = estimate.problem(&returns).expect("two returns give a problem");
        let mu = [0.3, 0.25, 0.2, 0.15, 0.1];
        let solution = problem.solve_from(&mu, &mut WarmStart::default());
        assert!(solution.weights.iter().all(|w| w.is_finite() && *w >= -1e-12), "{:?}", solution.weights);
        assert!((solution.weights.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    }

    fn te(problem: &MaxGrowthProblem, weights: &[f64], mu: &[f64]) -> f64 {
        let d: Vec<f64> = weights.iter().zip(mu).map(|(w, m)| w - m).collect();
        problem.sigma_norm(&d)
    }

    /// Feasible and no worse than every point of a fine grid on the 2-simplex (n = 3).
    fn check_against_grid(sigma: &DMatrix<f64>, growth: Option<&[f64]>, mu: &[f64], budget: f64, active: Option<f64>) {
        let problem = MaxGrowthProblem::new(sigma, growth, budget, active);
        let solution = problem.solve(mu);
        let w = &solution.weights;
        assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-12 && w.iter().all(|x| *x >= 0.0), "{w:?}");
        assert!(te(&problem, w, mu) <= budget * (1.0 + 1e-12), "te {} > {budget}", te(&problem, w, mu));
        if let Some(m) = active {
            assert!(w.iter().zip(mu).all(|(x, m0)| (x - m0).abs() <= m + 1e-12));
        }
        let value = problem.objective(sigma, growth, w);
        let steps = 1000;
        let (mut best, mut best_point) = (f64::MIN, vec![0.0; 3]);
        for a in 0..=steps {
            for b in 0..=steps - a {
                let point = [a as f64 / steps as f64, b as f64 / steps as f64, (steps - a - b) as f64 / steps as f64];
                let feasible = te(&problem, &point, mu) <= budget
                    && active.is_none_or(|m| point.iter().zip(mu).all(|(x, m0)| (x - m0).abs() <= m));
                if feasible {
                    let v = problem.objective(sigma, growth, &point);
                    if v > best {
                        best = v;
                        best_point = point.to_vec();
                    }
                }
            }
        }
        // No feasible grid point may beat the solver; and the grid's best, within the
        // objective's flatness along the budget's boundary, sits near the solver's point.
        assert!(value >= best - 1e-12, "solver {value} at {w:?} below the grid's {best} at {best_point:?}");
        // (The grid's spacing, 1e-3, times the objective's largest slope, under 0.5 here.)
        assert!(value - best < 5e-4, "the grid comes only this close: {value} vs {best}");
        assert!(w.iter().zip(&best_point).all(|(a, b)| (a - b).abs() < 2e-2), "{w:?} vs grid {best_point:?}");
    }

    #[test]
    fn small_problems_match_an_exhaustive_search() {
        let sigma = covariance(&[0.15, 0.3, 0.5], 0.3);
        let mu = [0.6, 0.3, 0.1];
        for budget in [0.01, 0.03, 0.1, 1.0] {
            check_against_grid(&sigma, None, &mu, budget, None);
            check_against_grid(&sigma, Some(&[0.05, 0.0, -0.1]), &mu, budget, None);
            check_against_grid(&sigma, None, &mu, budget, Some(0.05));
        }
        // Long-only binds: the optimum wants the large, calm stock short.
        let sigma = covariance(&[0.1, 0.4, 0.45], -0.2);
        check_against_grid(&sigma, None, &[0.2, 0.5, 0.3], 1.0, None);
    }

    #[test]
    fn without_binding_bounds_the_answer_is_the_closed_form() {
        // With only sum-to-one and the budget binding, pi = mu + s Sigma^-1 (c - nu 1)
        // with c = diag(Sigma)/2 - Sigma mu, nu making the sum zero, and s from the budget.
        let vols: Vec<f64> = (0..8).map(|i| 0.2 + 0.03 * i as f64).collect();
        let sigma = covariance(&vols, 0.25);
        let mu: Vec<f64> = (1..=8).map(|k| 1.0 / k as f64).collect();
        let total: f64 = mu.iter().sum();
        let mu: Vec<f64> = mu.iter().map(|m| m / total).collect();
        let inverse = sigma.clone().try_inverse().unwrap();
        let mu_vector = DVector::from_column_slice(&mu);
        let c = DVector::from_fn(8, |i, _| 0.5 * sigma[(i, i)]) - &sigma * &mu_vector;
        let ones = DVector::from_element(8, 1.0);
        let nu = (ones.transpose() * &inverse * &c)[(0, 0)] / (ones.transpose() * &inverse * &ones)[(0, 0)];
        let direction = &inverse * (c - ones * nu);
        let budget = 0.02;
        let norm = (direction.transpose() * &sigma * &direction)[(0, 0)].sqrt();
        let expected: Vec<f64> = (0..8).map(|i| mu[i] + budget / norm * direction[i]).collect();
        assert!(expected.iter().all(|w| *w > 0.0), "the bounds must not bind here: {expected:?}");
        let mut problem = MaxGrowthProblem::new(&sigma, None, budget, None);
        // The default tolerance (1e-8 on ADMM's residuals) leaves weights within 1e-6;
        // a tighter one shows the method converges to the closed form itself.
        for (tolerance, accuracy) in [(problem.tolerance, 1e-6), (1e-12, 1e-10)] {
            problem.tolerance = tolerance;
            let solution = problem.solve(&mu);
            for (got, want) in solution.weights.iter().zip(&expected) {
                assert!((got - want).abs() < accuracy, "{got} vs {want} after {} iterations", solution.iterations);
            }
        }
    }

    #[test]
    fn constraints_hold_for_any_market_weights() {
        // 300 random market weights (a fixed LCG), budgets from 0.5 % to 50 %, with and
        // without active bounds and growth tilts: every answer is long-only, sums to one,
        // meets its budget and bounds (residuals at rounding level, far below 1e-6).
        let vols: Vec<f64> = (0..12).map(|i| 0.15 + 0.03 * i as f64).collect();
        let sigma = covariance(&vols, 0.35);
        let growth: Vec<f64> = (0..12).map(|i| 0.02 * (i % 5) as f64 - 0.03).collect();
        let mut state = 99u64;
        let mut uniform = || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        for case in 0..300 {
            let raw: Vec<f64> = (0..12).map(|_| uniform().powi(4) + 1e-6).collect();
            let total: f64 = raw.iter().sum();
            let mu: Vec<f64> = raw.iter().map(|r| r / total).collect();
            let budget = 0.005 * 100f64.powf(uniform());
            let active = (case % 3 == 0).then(|| 0.01 + 0.1 * uniform());
            let tilt = (case % 2 == 0).then_some(growth.as_slice());
            let problem = MaxGrowthProblem::new(&sigma, tilt, budget, active);
            let weights = problem.solve(&mu).weights;
            let sum_residual = (weights.iter().sum::<f64>() - 1.0).abs();
            let negative = weights.iter().fold(0.0f64, |worst, w| worst.max(-w));
            let over_budget = (te(&problem, &weights, &mu) - budget).max(0.0);
            let over_active = active
                .map_or(0.0, |m| weights.iter().zip(&mu).fold(0.0f64, |worst, (w, m0)| worst.max((w - m0).abs() - m)));
            let residual = sum_residual.max(negative).max(over_budget).max(over_active);
            assert!(residual <= 1e-12, "case {case}: residual {residual:e} (budget {budget}, active {active:?})");
        }
    }

    #[test]
    fn turnover_control_trades_at_most_the_limit_unless_the_budget_needs_more() {
        let vols: Vec<f64> = (0..6).map(|i| 0.15 + 0.05 * i as f64).collect();
        let sigma = covariance(&vols, 0.3);
        let mu = [0.3, 0.25, 0.2, 0.12, 0.08, 0.05];
        let problem = MaxGrowthProblem::new(&sigma, None, 0.03, Some(0.1));
        let optimum = problem.solve(&mu).weights;
        // Held weights inside the budget (between the market and the optimum): the move
        // is cut to the limit and stays feasible.
        let held: Vec<f64> = mu.iter().zip(&optimum).map(|(m, p)| 0.8 * m + 0.2 * p).collect();
        let limited = problem.limit_turnover(&mu, &held, &optimum, 0.01);
        let traded = 0.5 * limited.iter().zip(&held).map(|(a, b)| (a - b).abs()).sum::<f64>();
        assert!((traded - 0.01).abs() < 1e-12, "traded {traded}");
        assert!((limited.iter().sum::<f64>() - 1.0).abs() < 1e-12 && limited.iter().all(|w| *w >= 0.0));
        assert!(te(&problem, &limited, &mu) <= 0.03 + 1e-12);
        // Held weights far outside the budget: the budget wins, met exactly.
        let held = [0.05, 0.05, 0.1, 0.2, 0.3, 0.3];
        assert!(te(&problem, &held, &mu) > 0.03);
        let limited = problem.limit_turnover(&mu, &held, &optimum, 0.01);
        assert!(te(&problem, &limited, &mu) <= 0.03 * (1.0 + 1e-9), "{}", te(&problem, &limited, &mu));
        assert!(limited.iter().zip(&mu).all(|(w, m)| (w - m).abs() <= 0.1 + 1e-12));
        // No limit reached: the optimum itself.
        assert_eq!(problem.limit_turnover(&mu, &optimum, &optimum, 0.01), optimum);
    }

    #[test]
    fn a_large_budget_beats_equal_weight() {
        // The optimiser maximises excess growth; with room to move, it must do at least
        // as well as equal weights (a feasible point there).
        let vols: Vec<f64> = (0..20).map(|i| 0.15 + 0.02 * i as f64).collect();
        let sigma = covariance(&vols, 0.3);
        let mu: Vec<f64> = (1..=20).map(|k| 1.0 / k as f64).collect();
        let total: f64 = mu.iter().sum();
        let mu: Vec<f64> = mu.iter().map(|m| m / total).collect();
        let problem = MaxGrowthProblem::new(&sigma, None, 10.0, None);
        let solution = problem.solve(&mu);
        let equal = vec![0.05; 20];
        assert!(problem.objective(&sigma, None, &solution.weights) >= problem.objective(&sigma, None, &equal));
        assert!(solution.weights.iter().all(|w| *w >= 0.0));
    }
}
