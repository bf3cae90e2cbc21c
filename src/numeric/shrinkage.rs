//! Ledoit–Wolf shrinkage of a correlation matrix toward the identity
//! (Ledoit and Wolf 2004, "A well-conditioned estimator for large-dimensional
//! covariance matrices"), applied to standardised returns so the vols stay the
//! sample vols. Any intensity above zero makes the result positive definite.

use nalgebra::DMatrix;

/// How much to shrink: the Ledoit–Wolf optimum, or a fixed intensity in [0, 1].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Shrinkage {
    Auto,
    Fixed(f64),
}

/// Sample correlation of `returns[t][stock]` shrunk toward the identity; returns the
/// matrix and the intensity used.
pub fn shrunk_correlation(returns: &[impl AsRef<[f64]>], shrinkage: Shrinkage) -> (DMatrix<f64>, f64) {
    let periods = returns.len();
    let n = returns[0].as_ref().len();
    // Standardise each column (divisor T, so the sample matrix has a unit diagonal).
    let mut standardised = DMatrix::zeros(periods, n);
    for stock in 0..n {
        let mean = returns.iter().map(|r| r.as_ref()[stock]).sum::<f64>() / periods as f64;
        let variance = returns.iter().map(|r| (r.as_ref()[stock] - mean).powi(2)).sum::<f64>() / periods as f64;
        let sd = variance.sqrt().max(f64::MIN_POSITIVE);
        for (t, r) in returns.iter().enumerate() {
            standardised[(t, stock)] = (r.as_ref()[stock] - mean) / sd;
        }
    }
    let sample = standardised.transpose() * &standardised / periods as f64;
    let identity = DMatrix::<f64>::identity(n, n);
    let intensity = match shrinkage {
        Shrinkage::Fixed(intensity) => intensity,
        Shrinkage::Auto => {
            // Norms are LW's scaled Frobenius norm, ||A||^2 = tr(A A^T) / n.
            let norm2 = |a: &DMatrix<f64>| a.iter().map(|v| v * v).sum::<f64>() / n as f64;
            let distance = norm2(&(&sample - &identity));
            let sample_norm = norm2(&sample) * n as f64;
            let mut spread = 0.0;
            for t in 0..periods {
                let x = standardised.row(t).transpose();
                let squared_length = x.norm_squared();
                let quadratic = (x.transpose() * &sample * &x)[(0, 0)];
                // ||x x^T - S||_F^2 = (x^T x)^2 - 2 x^T S x + ||S||_F^2.
                spread += (squared_length * squared_length - 2.0 * quadratic + sample_norm) / n as f64;
            }
            let spread = (spread / (periods as f64 * periods as f64)).min(distance);
            if distance > 0.0 {
                spread / distance
            } else {
                1.0
            }
        }
    };
    let mut shrunk = &sample * (1.0 - intensity) + &identity * intensity;
    // Exactly symmetric with a unit diagonal, as a scenario's correlation must be.
    for i in 0..n {
        shrunk[(i, i)] = 1.0;
        for j in 0..i {
            let value = 0.5 * (shrunk[(i, j)] + shrunk[(j, i)]);
            shrunk[(i, j)] = value;
            shrunk[(j, i)] = value;
        }
    }
    (shrunk, intensity)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Returns of two strongly correlated stocks and one independent one (a fixed LCG).
    fn returns(periods: usize) -> Vec<Vec<f64>> {
        let mut state = 12345u64;
        let mut uniform = || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
        };
        (0..periods)
            .map(|_| {
                let common = uniform();
                vec![common + 0.3 * uniform(), common + 0.3 * uniform(), uniform()]
            })
            .collect()
    }

    #[test]
    fn auto_shrinkage_falls_with_more_data_and_fixed_is_exact() {
        let (_, few) = shrunk_correlation(&returns(30), Shrinkage::Auto);
        let (_, many) = shrunk_correlation(&returns(3000), Shrinkage::Auto);
        assert!(few > many && many > 0.0 && few <= 1.0, "{few} vs {many}");
        let (matrix, intensity) = shrunk_correlation(&returns(100), Shrinkage::Fixed(1.0));
        assert_eq!(intensity, 1.0);
        assert_eq!(matrix, DMatrix::identity(3, 3));
        let (matrix, _) = shrunk_correlation(&returns(3000), Shrinkage::Fixed(0.0));
        assert!(matrix[(0, 1)] > 0.8 && matrix[(0, 2)].abs() < 0.1, "{matrix}");
    }

    #[test]
    fn fewer_periods_than_stocks_still_give_a_positive_definite_matrix() {
        // 2 periods of 3 stocks: the sample matrix is singular; shrinkage repairs it.
        let (matrix, intensity) = shrunk_correlation(&returns(2), Shrinkage::Auto);
        assert!(intensity > 0.0);
        assert!(matrix.cholesky().is_some());
    }
}
