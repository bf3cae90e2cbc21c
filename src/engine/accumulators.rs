//! The per-path accumulators every backend produces, and the per-path statistics
//! of docs/statistics.md derived from them on the host.
//!
//! Slot numbers are shared with the WGSL kernel (`shaders/advance_paths.wgsl`
//! receives them as composed constants), so both backends fill the same layout.

/// Slots of one strategy's accumulators. `*_COMP` slots hold Kahan compensations.
pub mod slot {
    /// L(t) = log(V_pi / V_mu), summed step by step.
    pub const RELATIVE: usize = 0;
    pub const RELATIVE_COMP: usize = 1;
    /// Sum of active returns a_k = R_pi,k - R_mu,k.
    pub const ACTIVE_SUM: usize = 2;
    pub const ACTIVE_SUM_COMP: usize = 3;
    /// Sum of a_k^2.
    pub const ACTIVE_SQUARES: usize = 4;
    pub const ACTIVE_SQUARES_COMP: usize = 5;
    /// Running maximum of L(t) (starts at L(0) = 0).
    pub const PEAK: usize = 6;
    /// Largest fall of L(t) below its running maximum, in log units.
    pub const DRAWDOWN: usize = 7;
    /// Sum over rebalances of 1/2 sum_i |w_after - w_before|.
    pub const TURNOVER: usize = 8;
    /// Sum over rebalances of log(1 - c * traded).
    pub const COST: usize = 9;
    /// Sum of L-divergences T(mu(t_k+1) | mu(t_k)) over rebalance periods.
    pub const DRIFT: usize = 10;
    pub const DRIFT_COMP: usize = 11;
    /// log G(mu(0)).
    pub const LOG_G_START: usize = 12;
    /// log G at the last rebalance; log G(mu(T)) once the run is over.
    pub const LOG_G_ANCHOR: usize = 13;
    /// Smallest single L-divergence term (a check: >= 0 for concave G up to rounding).
    pub const MIN_DIVERGENCE: usize = 14;
    /// Value of the holdings since the last rebalance (working state, not a statistic).
    pub const HOLDINGS_VALUE: usize = 15;
    /// Sum over rebalances of (sum_i |w_after - w_before|)^2: the second-order term of
    /// the cost, for the break-even cost.
    pub const TRADED_SQUARES: usize = 16;
    /// Minus the log of the holdings' value at the last rebalance (0 after trading, when
    /// it is 1). Holdings grow with their caps relative to the market's, so the
    /// L-divergence of a period is log(value) plus this less its log G growth
    /// (working state, not a statistic).
    pub const LOG_Z_ANCHOR: usize = 17;
    /// The control M = sum over steps of sum_i (pi_i - mu_i) eps_i (docs/control-variates.md):
    /// the weights held at the start of each step against the step's noise term.
    pub const CONTROL: usize = 18;
    pub const CONTROL_COMP: usize = 19;
    /// Sum of a_k R_rho,k (the active return times the benchmark's return): with the
    /// benchmark's moments, the strategy's volatility and beta (docs/statistics.md).
    pub const ACTIVE_CROSS: usize = 20;
    pub const ACTIVE_CROSS_COMP: usize = 21;
    /// The size tilt s = sum_i (pi_i - rho_i) log mu_i at the start (step 0).
    pub const TILT_FIRST: usize = 22;
    /// Sums over rebalances of s - s(0) and its square (shifted by the first, so that
    /// f32 keeps the spread of a tilt far from zero).
    pub const TILT_SUM: usize = 23;
    pub const TILT_SQUARES: usize = 24;
    /// Rebalances the tilt was taken at, step 0 included.
    pub const REBALANCES: usize = 25;
    pub const COUNT: usize = 26;
}

/// The benchmark's moments per path: its one-step simple returns' sum and sum of squares.
pub mod benchmark_moment {
    pub const RETURN_SUM: usize = 0;
    pub const RETURN_SQUARES: usize = 1;
    pub const COUNT: usize = 2;
}

/// A strategy's terms of an open market (docs/open-markets.md), kept beside its slots
/// (not in them: the GPU kernels share the slot layout, and run no open market yet).
pub mod open_term {
    /// Sum over reconstitutions of log G(rho^E before) - log G(rho^E after).
    pub const LEAKAGE: usize = 0;
    /// log(V_rho^E(T) / V_rho(T)): the screened index against the index.
    pub const SCREEN: usize = 1;
    pub const COUNT: usize = 2;
}

/// The index benchmark's values per path.
pub mod index_field {
    /// log V_rho(T) - log V_rho(0).
    pub const LOG_RETURN: usize = 0;
    /// The index's control M_rho.
    pub const CONTROL: usize = 1;
    /// Sum over reconstitutions of 1/2 sum_i |rho_after - rho_before|.
    pub const TURNOVER: usize = 2;
    pub const COUNT: usize = 3;
}

/// What a backend returns for a batch of consecutive paths, in f64 whatever the
/// precision it computed in.
#[derive(Debug, Clone)]
pub struct BatchAccumulators {
    pub first_path: u64,
    pub paths: usize,
    pub n: usize,
    pub strategies: usize,
    /// Terminal log caps, `paths x n`.
    pub log_caps: Vec<f64>,
    /// log Z(T) - log Z(0) per path.
    pub log_total_cap_change: Vec<f64>,
    /// The market's control M_mu = sum over steps of sum_i mu_i eps_i per path.
    pub market_control: Vec<f64>,
    /// The benchmark's return moments, `paths x benchmark_moment::COUNT`.
    pub benchmark_moments: Vec<f64>,
    /// `paths x strategies x slot::COUNT`.
    pub strategy_slots: Vec<f64>,
    /// With an index benchmark, `paths x index_field::COUNT`; empty without.
    pub index: Vec<f64>,
    /// In an open market (an index, or a screen), `paths x strategies x open_term::COUNT`
    /// (zero for strategies that are neither); empty otherwise.
    pub open_terms: Vec<f64>,
    /// With an index benchmark, each path's membership history
    /// (`open_market::fold_membership`): a check that two backends chose the same
    /// members, kept apart from the results; empty without an index.
    pub membership_history: Vec<u32>,
    /// The batch's strategies through time (None where the backend does not record it).
    pub grid: Option<crate::engine::time_grid::TimeGrid>,
}

impl BatchAccumulators {
    /// Bytes the accumulators of a batch of `paths` paths take (terminal log caps of
    /// every stock, the total cap change and every strategy's slots), counted twice for
    /// the copy that results are made from.
    pub fn bytes_needed(paths: u64, n: usize, strategies: usize) -> u64 {
        let open = index_field::COUNT + strategies * open_term::COUNT;
        let per_path = (n + 2 + benchmark_moment::COUNT + strategies * slot::COUNT + open) * std::mem::size_of::<f64>();
        paths.saturating_mul(2 * per_path as u64)
    }

    /// Zeroed accumulators for `paths` paths starting at `first_path`.
    pub fn zeroed(first_path: u64, paths: usize, n: usize, strategies: usize) -> BatchAccumulators {
        BatchAccumulators {
            first_path,
            paths,
            n,
            strategies,
            log_caps: vec![0.0; paths * n],
            log_total_cap_change: vec![0.0; paths],
            market_control: vec![0.0; paths],
            benchmark_moments: vec![0.0; paths * benchmark_moment::COUNT],
            strategy_slots: vec![0.0; paths * strategies * slot::COUNT],
            index: Vec::new(),
            open_terms: Vec::new(),
            membership_history: Vec::new(),
            grid: None,
        }
    }

    /// Room for an index's values (`index`) and open-market terms (`open`).
    pub fn with_open_market(mut self, index: bool, open: bool) -> BatchAccumulators {
        self.index = vec![0.0; if index { self.paths * index_field::COUNT } else { 0 }];
        self.membership_history = vec![0; if index { self.paths } else { 0 }];
        self.open_terms = vec![0.0; if open { self.paths * self.strategies * open_term::COUNT } else { 0 }];
        self
    }

    /// A path's index values, when the batch has an index.
    pub fn index_values(&self, path: usize) -> Option<&[f64]> {
        self.index.get(path * index_field::COUNT..(path + 1) * index_field::COUNT)
    }

    /// A path's leakage and screen terms of a strategy ([0, 0] in a closed market).
    pub fn open_terms(&self, path: usize, strategy: usize) -> [f64; open_term::COUNT] {
        let start = (path * self.strategies + strategy) * open_term::COUNT;
        match self.open_terms.get(start..start + open_term::COUNT) {
            Some(terms) => [terms[open_term::LEAKAGE], terms[open_term::SCREEN]],
            None => [0.0; open_term::COUNT],
        }
    }

    /// A path's benchmark return moments (`benchmark_moment`).
    pub fn benchmark_moments(&self, path: usize) -> [f64; benchmark_moment::COUNT] {
        let start = path * benchmark_moment::COUNT;
        [self.benchmark_moments[start], self.benchmark_moments[start + 1]]
    }

    pub fn path_log_caps(&self, path: usize) -> &[f64] {
        &self.log_caps[path * self.n..(path + 1) * self.n]
    }
    pub fn slots(&self, path: usize, strategy: usize) -> &[f64] {
        let start = (path * self.strategies + strategy) * slot::COUNT;
        &self.strategy_slots[start..start + slot::COUNT]
    }
}

/// The per-path statistics of one strategy (docs/statistics.md; `paths.csv` columns).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct PathStatistics {
    pub log_return: f64,
    pub relative_log_return: f64,
    pub excess_return: f64,
    pub tracking_error: f64,
    pub information_ratio: f64,
    pub max_relative_drawdown: f64,
    pub turnover: f64,
    pub generating_term: f64,
    pub drift_term: f64,
    pub cost_term: f64,
    /// The smallest L-divergence term of the path (not reported; checked by tests).
    pub min_divergence: f64,
    /// Sum over rebalances of t_r = sum_i |w_after - w_before| (twice the turnover,
    /// over the whole run): the cost term is sum_r log(1 - c t_r).
    pub traded: f64,
    /// Sum over rebalances of t_r^2.
    pub traded_squares: f64,
    /// The control M_pi of the relative log return (docs/control-variates.md): mean zero.
    pub control_term: f64,
    /// Sum over reconstitutions of log G(rho^E before) - log G(rho^E after) (0 without an index).
    pub leakage_term: f64,
    /// log(V_rho^E(T) / V_rho(T)), the screened index against the index (0 without a screen).
    pub screen_term: f64,
    /// Sample sd of the one-step simple returns R_pi,k, annualised (docs/statistics.md).
    pub volatility: f64,
    /// volatility - the benchmark's volatility on the same path.
    pub volatility_difference: f64,
    /// cov(R_pi, R_rho) / var(R_rho) (0 when the benchmark's returns do not vary).
    pub beta: f64,
    /// Mean over rebalances (step 0 included) of s = sum_i (pi_i - rho_i) log mu_i.
    pub size_tilt: f64,
    /// The sd of s over rebalances (divisor count - 1); NaN below two rebalances.
    pub size_tilt_drift: f64,
}

impl PathStatistics {
    /// Fields, in the order of [`PathStatistics::to_array`].
    pub const FIELDS: usize = 21;
    /// Where `size_tilt_drift` is in [`PathStatistics::to_array`].
    pub const SIZE_TILT_DRIFT: usize = 20;

    pub fn to_array(&self) -> [f64; Self::FIELDS] {
        [
            self.log_return,
            self.relative_log_return,
            self.excess_return,
            self.tracking_error,
            self.information_ratio,
            self.max_relative_drawdown,
            self.turnover,
            self.generating_term,
            self.drift_term,
            self.cost_term,
            self.min_divergence,
            self.traded,
            self.traded_squares,
            self.control_term,
            self.leakage_term,
            self.screen_term,
            self.volatility,
            self.volatility_difference,
            self.beta,
            self.size_tilt,
            self.size_tilt_drift,
        ]
    }

    pub fn from_array(values: [f64; Self::FIELDS]) -> PathStatistics {
        let [log_return, relative_log_return, excess_return, tracking_error, information_ratio, max_relative_drawdown, turnover, generating_term, drift_term, cost_term, min_divergence, traded, traded_squares, control_term, leakage_term, screen_term, volatility, volatility_difference, beta, size_tilt, size_tilt_drift] =
            values;
        PathStatistics {
            log_return,
            relative_log_return,
            excess_return,
            tracking_error,
            information_ratio,
            max_relative_drawdown,
            turnover,
            generating_term,
            drift_term,
            cost_term,
            min_divergence,
            traded,
            traded_squares,
            control_term,
            leakage_term,
            screen_term,
            volatility,
            volatility_difference,
            beta,
            size_tilt,
            size_tilt_drift,
        }
    }

    /// Statistics of one path from its accumulators and open-market terms, `steps` steps
    /// of `1 / per_year` years (a whole number for a simulation; rows a year counted from
    /// the dates for history), against a benchmark of log return `benchmark_log_return`
    /// and return moments `benchmark_moments`.
    pub fn from_slots(
        (slots, [leakage_term, screen_term]): (&[f64], [f64; open_term::COUNT]),
        (benchmark_log_return, benchmark_moments): (f64, [f64; benchmark_moment::COUNT]),
        steps: u32,
        per_year: f64,
    ) -> PathStatistics {
        let count = steps as f64;
        let mean_active = slots[slot::ACTIVE_SUM] / count;
        // Sample (co)variances with divisor N - 1 from the sums; a_k and R_rho,k are small
        // against 1, so the cancellation costs little, and the sums carry Kahan compensation.
        // (The tracking error's variance in exactly its earlier form, so no number moves.)
        let covariance = |xy: f64, x: f64, y: f64| {
            if steps > 1 {
                (xy - count * (x / count) * (y / count)) / (count - 1.0)
            } else {
                0.0
            }
        };
        let variance =
            covariance(slots[slot::ACTIVE_SQUARES], slots[slot::ACTIVE_SUM], slots[slot::ACTIVE_SUM]).max(0.0);
        let [benchmark_sum, benchmark_squares] = benchmark_moments;
        let benchmark_variance = covariance(benchmark_squares, benchmark_sum, benchmark_sum).max(0.0);
        let active_covariance = covariance(slots[slot::ACTIVE_CROSS], slots[slot::ACTIVE_SUM], benchmark_sum);
        // R_pi = a + R_rho: var(R_pi) = var(a) + 2 cov(a, R_rho) + var(R_rho), and the
        // difference of the volatilities is taken from var(a) + 2 cov(a, R_rho), exactly
        // 0 where the strategy is the benchmark.
        let own_variance = (variance + 2.0 * active_covariance + benchmark_variance).max(0.0);
        let volatility = (own_variance * per_year).sqrt();
        let benchmark_volatility = (benchmark_variance * per_year).sqrt();
        let volatility_difference = if volatility + benchmark_volatility > 0.0 {
            (own_variance - benchmark_variance) * per_year / (volatility + benchmark_volatility)
        } else {
            0.0
        };
        let beta = if benchmark_variance > 0.0 { 1.0 + active_covariance / benchmark_variance } else { 0.0 };
        let rebalances = slots[slot::REBALANCES];
        let tilt_shift = slots[slot::TILT_SUM] / rebalances.max(1.0);
        let size_tilt_drift = if rebalances >= 2.0 {
            ((slots[slot::TILT_SQUARES] - rebalances * tilt_shift * tilt_shift) / (rebalances - 1.0)).max(0.0).sqrt()
        } else {
            f64::NAN
        };
        let excess_return = mean_active * per_year;
        let tracking_error = (variance * per_year).sqrt();
        let information_ratio = if tracking_error > 0.0 { excess_return / tracking_error } else { 0.0 };
        PathStatistics {
            log_return: benchmark_log_return + slots[slot::RELATIVE],
            relative_log_return: slots[slot::RELATIVE],
            excess_return,
            tracking_error,
            information_ratio,
            max_relative_drawdown: 1.0 - (-slots[slot::DRAWDOWN]).exp(),
            turnover: slots[slot::TURNOVER] * per_year / count,
            generating_term: slots[slot::LOG_G_ANCHOR] - slots[slot::LOG_G_START],
            drift_term: slots[slot::DRIFT],
            cost_term: slots[slot::COST],
            min_divergence: slots[slot::MIN_DIVERGENCE],
            traded: 2.0 * slots[slot::TURNOVER],
            traded_squares: slots[slot::TRADED_SQUARES],
            control_term: slots[slot::CONTROL],
            leakage_term,
            screen_term,
            volatility,
            volatility_difference,
            beta,
            size_tilt: slots[slot::TILT_FIRST] + tilt_shift,
            size_tilt_drift,
        }
    }

    /// The benchmark's volatility on a path of return moments `moments` (as
    /// [`PathStatistics::volatility`]).
    pub fn benchmark_volatility(moments: [f64; benchmark_moment::COUNT], steps: u32, per_year: f64) -> f64 {
        let mut slots = [0.0; slot::COUNT];
        slots[slot::REBALANCES] = 1.0;
        PathStatistics::from_slots((&slots, [0.0; open_term::COUNT]), (0.0, moments), steps, per_year).volatility
    }

    /// The statistics of a strategy that is the benchmark (held without costs or screens)
    /// on a path of log return `log_return` and volatility `volatility`: every relative
    /// figure 0, its beta 1.
    pub fn of_the_benchmark(log_return: f64, volatility: f64) -> PathStatistics {
        PathStatistics { log_return, volatility, beta: 1.0, ..PathStatistics::default() }
    }

    /// The relative log return before costs: L - cost term.
    pub fn gross_relative_log_return(&self) -> f64 {
        self.relative_log_return - self.cost_term
    }

    /// L - (screen + generating + drift + leakage + cost): zero up to rounding
    /// (docs/theory.md, docs/open-markets.md).
    pub fn master_equation_residual(&self) -> f64 {
        self.relative_log_return
            - (self.screen_term + self.generating_term + self.drift_term + self.leakage_term + self.cost_term)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statistics_follow_their_definitions() {
        // Four steps at 4 steps a year with active returns 0.01, -0.01, 0.02, 0.0.
        let active = [0.01, -0.01, 0.02, 0.0];
        let mut slots = [0.0; slot::COUNT];
        slots[slot::ACTIVE_SUM] = active.iter().sum();
        slots[slot::ACTIVE_SQUARES] = active.iter().map(|a| a * a).sum();
        slots[slot::RELATIVE] = 0.03;
        slots[slot::DRAWDOWN] = 0.1;
        slots[slot::TURNOVER] = 0.5;
        slots[slot::LOG_G_START] = -1.0;
        slots[slot::LOG_G_ANCHOR] = -0.99;
        slots[slot::DRIFT] = 0.025;
        slots[slot::COST] = -0.005;
        // The benchmark's returns, and size tilts at three rebalances.
        let benchmark = [0.02, -0.03, 0.01, 0.005];
        slots[slot::ACTIVE_CROSS] = active.iter().zip(&benchmark).map(|(a, r)| a * r).sum();
        let tilts = [-0.5, -0.4, -0.45];
        slots[slot::TILT_FIRST] = tilts[0];
        slots[slot::TILT_SUM] = tilts.iter().map(|t| t - tilts[0]).sum();
        slots[slot::TILT_SQUARES] = tilts.iter().map(|t| (t - tilts[0]) * (t - tilts[0])).sum();
        slots[slot::REBALANCES] = 3.0;
        let moments = [benchmark.iter().sum(), benchmark.iter().map(|r| r * r).sum()];
        let stats = PathStatistics::from_slots((&slots, [0.0; open_term::COUNT]), (0.2, moments), 4, 4.0);
        let sd_of = |values: &[f64]| {
            let mean = values.iter().sum::<f64>() / values.len() as f64;
            (values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / (values.len() - 1) as f64).sqrt()
        };
        let own: Vec<f64> = active.iter().zip(&benchmark).map(|(a, r)| a + r).collect();
        assert!((stats.volatility - sd_of(&own) * 2.0).abs() < 1e-15);
        let benchmark_volatility = PathStatistics::benchmark_volatility(moments, 4, 4.0);
        assert!((benchmark_volatility - sd_of(&benchmark) * 2.0).abs() < 1e-15);
        assert!((stats.volatility_difference - (stats.volatility - benchmark_volatility)).abs() < 1e-15);
        let mean_own = own.iter().sum::<f64>() / 4.0;
        let mean_benchmark = benchmark.iter().sum::<f64>() / 4.0;
        let covariance =
            own.iter().zip(&benchmark).map(|(x, y)| (x - mean_own) * (y - mean_benchmark)).sum::<f64>() / 3.0;
        assert!((stats.beta - covariance / sd_of(&benchmark).powi(2)).abs() < 1e-12);
        assert!((stats.size_tilt - (-0.45)).abs() < 1e-15);
        assert!((stats.size_tilt_drift - sd_of(&tilts)).abs() < 1e-15);
        slots[slot::REBALANCES] = 1.0;
        let once = PathStatistics::from_slots((&slots, [0.0; open_term::COUNT]), (0.2, moments), 4, 4.0);
        assert!(once.size_tilt_drift.is_nan(), "no drift below two rebalances");
        let mean = 0.005;
        let sd = (active.iter().map(|a| (a - mean) * (a - mean)).sum::<f64>() / 3.0).sqrt();
        assert!((stats.excess_return - mean * 4.0).abs() < 1e-15);
        assert!((stats.tracking_error - sd * 2.0).abs() < 1e-15);
        assert!((stats.information_ratio - mean * 4.0 / (sd * 2.0)).abs() < 1e-12);
        assert!((stats.log_return - 0.23).abs() < 1e-15);
        assert!((stats.max_relative_drawdown - (1.0 - (-0.1f64).exp())).abs() < 1e-15);
        assert!((stats.turnover - 0.5).abs() < 1e-15);
        assert!(stats.master_equation_residual().abs() < 1e-15);
    }
}
