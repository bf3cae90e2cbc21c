// Top-k weighting support, composed when a strategy is top_k. CPU twin:
// `top_k_targets` in src/portfolio/weighting.rs.
//
// Each path keeps its stocks in order of cap (`topk_order`, saved in the state at
// TOPK_ORDER_BASE between dispatches), shared by every top-k strategy and repaired at
// each rebalance (`repair_order`, ranking.wgsl). A stock is held when its holding is
// positive (non-members hold exactly zero). Members after a rebalance: the stocks held
// and ranked within k + buffer ("kept"), then the largest of the others until there
// are k.

var<private> topk_order: array<u32, N>;
var<private> topk_rank: array<u32, N>;

fn load_top_k_state(lane: u32) {
    for (var r = 0u; r < N; r++) {
        topk_order[r] = u32(state[at(TOPK_ORDER_BASE + r, lane)]);
    }
}

fn store_top_k_state(lane: u32) {
    for (var r = 0u; r < N; r++) {
        state[at(TOPK_ORDER_BASE + r, lane)] = f32(topk_order[r]);
    }
}

fn topk_held(s: u32, stock: u32) -> bool {
    return holding(s, stock) > 0.0;
}

fn topk_kept(s: u32, stock: u32) -> bool {
    return topk_held(s, stock) && topk_rank[stock] < STRATEGY_K[s] + STRATEGY_BUFFER[s];
}

// Whether `stock` is a member after this rebalance; `cutoff` is the rank of the last
// stock let in from outside (-1: none).
fn topk_member(s: u32, stock: u32, cutoff: f32) -> bool {
    return topk_kept(s, stock) || f32(topk_rank[stock]) <= cutoff;
}

// (largest exponent, normaliser, 0, cutoff rank) of strategy s's new weights.
fn top_k_setup(s: u32, log_total: f32, cut: ptr<function, bool>) -> vec4<f32> {
    *cut = !repair_order(&topk_order) || *cut;
    var r = 0u;
    for (; r < N; r++) {
        topk_rank[topk_order[r]] = r;
    }
    var kept = 0u;
    var c = 0u;
    for (; c < N; c++) {
        if (topk_kept(s, c)) {
            kept += 1u;
        }
    }
    var needed = STRATEGY_K[s] - min(kept, STRATEGY_K[s]);
    var cutoff = -1.0;
    var e = 0u;
    for (; e < N && needed > 0u; e++) {
        if (!topk_kept(s, topk_order[e])) {
            needed -= 1u;
            cutoff = f32(e);
        }
    }
    let p = STRATEGY_P[s];
    var largest = -3.0e38;
    var m = 0u;
    for (; m < N; m++) {
        if (topk_member(s, m, cutoff)) {
            largest = max(largest, p * (log_caps[m] - log_total));
        }
    }
    var total = 0.0;
    var t = 0u;
    for (; t < N; t++) {
        if (topk_member(s, t, cutoff)) {
            total += exp(p * (log_caps[t] - log_total) - largest);
        }
    }
    *cut = *cut || r != N || c != N || m != N || t != N || needed != 0u;
    return vec4<f32>(largest, total, 0.0, cutoff);
}

fn top_k_weight(s: u32, i: u32, log_total: f32, setup: vec4<f32>) -> f32 {
    if (topk_member(s, i, setup.w)) {
        return exp(STRATEGY_P[s] * (log_caps[i] - log_total) - setup.x) * (1.0 / setup.y);
    }
    return 0.0;
}
