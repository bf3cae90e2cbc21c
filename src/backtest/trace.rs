//! The data's path step by step: the CPU kernel replays it (one lane of a block) and,
//! after every step, the trace keeps what the per-date outputs show: the market's log
//! value, each strategy's L and decomposition to date, the weights held, and the
//! master equation's residual at the end of every rebalancing period.

use crate::engine::cpu::{replay_path, warm_up_needed, KernelParams};
use crate::engine::BatchAccumulators;
use crate::scenario::Plan;

use super::history::History;

/// Most stocks whose weights the trace keeps (the weights figure's lines).
pub const MOST_STOCKS_SHOWN: usize = 20;

/// Most rows whose weights the trace keeps (the weights figure's points): a weight
/// per stock, strategy and row of a long file would be the backtest's largest memory.
pub const MOST_WEIGHT_POINTS: usize = 250;

/// Rows kept for a figure: at most about `most`, evenly spaced, always the first and the last.
pub fn sampled_rows(rows: usize, most: usize) -> Vec<usize> {
    let stride = rows.div_ceil(most).max(1);
    let mut kept: Vec<usize> = (0..rows).step_by(stride).collect();
    if kept.last() != Some(&(rows - 1)) {
        kept.push(rows - 1);
    }
    kept
}

/// A backtest's path, one entry per row of the data (the first: the start).
#[derive(Debug, Clone)]
pub struct Trace {
    pub dates: Vec<String>,
    /// log(V_market(t) / V_market(0)) = log Z(t) - log Z(0).
    pub market_log_value: Vec<f64>,
    /// `terms[strategy][row]`: L = log(V/V_market) to date, then the generating (as of
    /// the last rebalance), drift and cost terms to date (docs/theory.md).
    pub terms: Vec<Vec<[f64; 4]>>,
    /// The stocks whose weights are kept: all, or the largest `MOST_STOCKS_SHOWN` at the start.
    pub shown_stocks: Vec<usize>,
    /// The rows whose weights are kept ([`MOST_WEIGHT_POINTS`] of them, evenly spaced).
    pub weight_rows: Vec<usize>,
    /// `weights[strategy][j][k]`: the weight of stock `shown_stocks[k]` held after the
    /// step (and rebalance) of row `weight_rows[j]`; the market's last.
    pub weights: Vec<Vec<Vec<f64>>>,
    /// Per strategy: the largest |L - (generating + drift + cost)| at the end of a
    /// rebalancing period (None for weightings that are not functionally generated).
    pub largest_residual: Vec<Option<f64>>,
}

impl Trace {
    /// log(V(t) / V(0)) of strategy `strategy` per row.
    pub fn log_values(&self, strategy: usize) -> Vec<f64> {
        self.market_log_value.iter().zip(&self.terms[strategy]).map(|(market, terms)| market + terms[0]).collect()
    }
}

/// The log returns a trailing estimate may warm up on: the complete rows before the
/// window, and the step from the last of them into the window; of those, the last
/// `needed` (a function of the number available).
fn warm_up_returns(history: &History, needed: impl Fn(usize) -> usize) -> crate::data::Rows {
    let table = &history.table;
    let available = table.earlier.len();
    let rows: Vec<&[f64]> =
        table.earlier.iter().skip(available - needed(available)).chain(std::iter::once(&table.values[0])).collect();
    crate::data::log_changes(&rows)
}

/// Replays `plan`'s one path (the data of `history`) in f64: its accumulators and its trace.
pub fn replay(plan: &Plan, history: &History) -> (BatchAccumulators, Trace) {
    let params = KernelParams::<f64>::new(plan);
    let strategies = plan.strategies.len();
    let initial = plan.market.initial_weights();
    let mut shown_stocks: Vec<usize> = (0..plan.n()).collect();
    shown_stocks.sort_by(|&a, &b| initial[b].total_cmp(&initial[a]).then(a.cmp(&b)));
    shown_stocks.truncate(MOST_STOCKS_SHOWN);
    shown_stocks.sort_unstable();
    let rows = plan.steps as usize + 1;
    let mut trace = Trace {
        dates: history.table.dates.clone(),
        market_log_value: Vec::with_capacity(rows),
        terms: vec![Vec::with_capacity(rows); strategies],
        shown_stocks,
        weight_rows: sampled_rows(rows, MOST_WEIGHT_POINTS),
        weights: vec![Vec::new(); strategies + 1],
        largest_residual: plan
            .strategies
            .iter()
            .map(|s| s.weighting.is_functionally_generated().then_some(0.0))
            .collect(),
    };
    let pick = |weights: Vec<f64>, shown: &[usize]| shown.iter().map(|&i| weights[i]).collect::<Vec<f64>>();
    let warm_up = warm_up_returns(history, |available| warm_up_needed(&params, available));
    let batch = replay_path(&params, (0, &warm_up), |completed, block| {
        trace.market_log_value.push(block.market_log_return(0));
        // The weights of the sampled rows only: the next one not yet kept is this one.
        let weights_kept = trace.weight_rows.get(trace.weights[strategies].len()) == Some(&(completed as usize));
        for (s, strategy) in plan.strategies.iter().enumerate() {
            // A backtest's market is closed: its leakage and screen terms are 0.
            let [relative, generating, drift, cost, ..] = block.terms_to_date(0, s);
            let terms = [relative, generating, drift, cost];
            trace.terms[s].push(terms);
            if weights_kept {
                trace.weights[s].push(pick(block.held_weights(0, s), &trace.shown_stocks));
            }
            let period_ends =
                completed > 0 && (completed.is_multiple_of(strategy.rebalance_every) || completed == plan.steps);
            if let (true, Some(largest)) = (period_ends, trace.largest_residual[s].as_mut()) {
                let residual = (terms[0] - (terms[1] + terms[2] + terms[3])).abs();
                *largest = largest.max(residual);
            }
        }
        if weights_kept {
            trace.weights[strategies].push(pick(block.market_weights(0), &trace.shown_stocks));
        }
    });
    (batch, trace)
}
