//! An open market's step 0 for the GPU kernel's initial state: one lane of the CPU
//! kernel's `init_paths` in f64, so that both backends start open-market strategies
//! by one implementation.

use super::{KernelParams, Lanes, PathBlock};
use crate::engine::accumulators::slot;

/// Every path's state at step 0 in an open market (the same in every path), for the
/// GPU kernel's initial state: one lane of `init_paths` in f64, so that both backends
/// start open-market strategies by one implementation.
pub struct OpenStart {
    /// Per strategy: its holdings, slots, and open terms in `OPEN_WORDS` order
    /// (leakage, its compensation, screen anchor, screen, log share anchor; zero for a
    /// strategy that is not open).
    pub holdings: Vec<Vec<f64>>,
    pub slots: Vec<[f64; slot::COUNT]>,
    pub open_words: Vec<[f64; 5]>,
    /// With an index: 1 for its members at step 0, else 0; the members' share of the
    /// market; and the stocks by initial rank.
    pub member: Vec<f64>,
    pub index_share: f64,
    pub order: Vec<u32>,
}

impl OpenStart {
    pub fn of(plan: &crate::Plan) -> OpenStart {
        let params = KernelParams::<f64>::new(plan);
        let block = PathBlock::init_paths(&params, 0, 1);
        let lane = |value: &Lanes<f64>| value.0[0];
        OpenStart {
            holdings: block.strategies.iter().map(|s| s.holdings.iter().map(lane).collect()).collect(),
            slots: block.strategies.iter().map(|s| s.slots.map(|value| value.0[0])).collect(),
            open_words: block
                .strategies
                .iter()
                .map(|s| {
                    s.open.as_ref().map_or([0.0; 5], |t| {
                        [
                            lane(&t.leakage),
                            lane(&t.leakage_comp),
                            lane(&t.screen_anchor),
                            lane(&t.screen),
                            lane(&t.log_share_anchor),
                        ]
                    })
                })
                .collect(),
            member: block.index.as_ref().map_or(Vec::new(), |index| index.member.iter().map(lane).collect()),
            index_share: block.index.as_ref().map_or(1.0, |index| lane(&index.share)),
            order: params.initial_order.clone(),
        }
    }
}
