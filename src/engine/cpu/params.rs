//! The CPU kernel's run-wide parameters, in its precision: the market's kernel, the
//! initial weights and rank order, each strategy's rule, schedule, cost and screen.

use crate::engine::time_grid::GridSpec;
use crate::market::MarketKernel;
use crate::numeric::lanes::Real;
use crate::numeric::philox::seed_key;
use crate::numeric::ranking::sort_by_rank;
use crate::portfolio::KernelWeighting;
use crate::scenario::{ControlVariate, IndexRule, Plan};

/// Run-wide parameters in the kernel's precision.
pub struct KernelParams<R> {
    pub key: [u32; 2],
    pub total_steps: u32,
    pub n: usize,
    pub market: MarketKernel<R>,
    pub initial_mu: Vec<R>,
    pub initial_log_mu: Vec<R>,
    /// Stocks by initial weight, largest first (the starting rank order of every lane).
    pub initial_order: Vec<u32>,
    pub strategies: Vec<StrategyKernel<R>>,
    /// Where each path's strategies are recorded through time.
    pub grid: GridSpec,
    /// Paths 2k + 1 draw the negated normals of paths 2k (docs/control-variates.md).
    pub antithetic: bool,
    /// Whether the controls M are accumulated (not when the run's control is off, so
    /// that `bench` can measure what they cost).
    pub control: bool,
    /// The index that is the benchmark (docs/open-markets.md); the market when `None`.
    pub index: Option<IndexRule>,
}

pub struct StrategyKernel<R> {
    pub weighting: KernelWeighting<R>,
    pub rebalance_every: u32,
    pub cost_rate: R,
    /// The stocks its screen excludes, ascending.
    pub exclude: Vec<usize>,
    /// Whether it holds index members or is screened: its weights are the rule applied
    /// to the allowed stocks' weights, and its leakage and screen terms are kept.
    pub open: bool,
}

impl<R: Real> KernelParams<R> {
    pub fn new(plan: &Plan) -> KernelParams<R> {
        let n = plan.n();
        KernelParams {
            key: seed_key(plan.seed),
            total_steps: plan.steps,
            n,
            market: plan.market.kernel(plan.dt()),
            initial_mu: plan.market.initial_weights().iter().map(|m| R::from_f64(*m)).collect(),
            initial_log_mu: plan.market.initial_weights().iter().map(|m| R::from_f64(m.ln())).collect(),
            initial_order: {
                let mut order: Vec<u32> = (0..n as u32).collect();
                sort_by_rank(&mut order, |stock| plan.market.initial_weights()[stock]);
                order
            },
            strategies: plan
                .strategies
                .iter()
                .map(|s| StrategyKernel {
                    weighting: s.weighting.in_precision(n),
                    rebalance_every: s.rebalance_every,
                    cost_rate: R::from_f64(s.cost_rate),
                    exclude: s.exclude.clone(),
                    open: plan.index.is_some() || !s.exclude.is_empty(),
                })
                .collect(),
            grid: GridSpec::of(plan.steps, plan.steps_per_year),
            antithetic: plan.antithetic,
            control: plan.control_variate == ControlVariate::Martingale,
            index: plan.index,
        }
    }

    /// Whether any strategy holds index members or is screened.
    pub fn is_open(&self) -> bool {
        self.strategies.iter().any(|s| s.open)
    }
}
