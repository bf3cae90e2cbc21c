// Top-k weighting support, composed when a strategy is top_k. CPU twin:
// `top_k_targets` in src/portfolio/weighting.rs.
//
// Each path keeps its stocks in order of cap (the list TOPK_ORDER, saved in the state
// at TOPK_ORDER_BASE between dispatches), shared by every top-k strategy and repaired at
// each rebalance (`repair_order`, ranking.wgsl). A stock is held when its holding is
// positive (non-members hold exactly zero). Members after a rebalance: the stocks held
// and ranked within k + buffer ("kept"), then the largest of the others until there
// are k.

fn load_top_k_state(lane: u32) {
    load_order(TOPK_ORDER, TOPK_ORDER_BASE, lane);
}

fn store_top_k_state(lane: u32) {
    store_order(TOPK_ORDER, TOPK_ORDER_BASE, lane);
}

fn topk_held(s: u32, stock: u32) -> bool {
    return holding(s, stock) > 0.0;
}

fn topk_kept(s: u32, stock: u32) -> bool {
    return topk_held(s, stock) && topk_rank(stock) < STRATEGY_K[s] + STRATEGY_BUFFER[s];
}

// Whether `stock` is a member after this rebalance; `cutoff` is the rank of the last
// stock let in from outside (-1: none).
fn topk_member(s: u32, stock: u32, cutoff: f32) -> bool {
    return topk_kept(s, stock) || f32(topk_rank(stock)) <= cutoff;
}

// (largest exponent, normaliser, 0, cutoff rank) of strategy s's new weights.
fn top_k_setup(s: u32, log_total: f32, cut: ptr<function, bool>) -> vec4<f32> {
    *cut = !repair_order(TOPK_ORDER) || *cut;
    var r = 0u;
    for (; r < N; r++) {
        set_topk_rank(order_entry(TOPK_ORDER, r), r);
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
        if (!topk_kept(s, order_entry(TOPK_ORDER, e))) {
            needed -= 1u;
            cutoff = f32(e);
        }
    }
    let p = STRATEGY_P[s];
    var largest = -3.0e38;
    var m = 0u;
    for (; m < N; m++) {
        if (topk_member(s, m, cutoff)) {
            largest = max(largest, p * (log_cap(m) - log_total));
        }
    }
    var total = 0.0;
    var t = 0u;
    for (; t < N; t++) {
        if (topk_member(s, t, cutoff)) {
            total += exp(p * (log_cap(t) - log_total) - largest);
        }
    }
    *cut = *cut || r != N || c != N || m != N || t != N || needed != 0u;
    return vec4<f32>(largest, total, 0.0, cutoff);
}

fn top_k_weight(s: u32, i: u32, log_total: f32, setup: vec4<f32>) -> f32 {
    if (topk_member(s, i, setup.w)) {
        return exp(STRATEGY_P[s] * (log_cap(i) - log_total) - setup.x) * (1.0 / setup.y);
    }
    return 0.0;
}

// Top-k among strategy s's allowed stocks in an open market (`top_k_block` with a
// mask; open_market.wgsl): ranks count the allowed stocks only (before this step's
// reconstitution, or after), a stock outside is neither kept nor let in (its rank is
// N), and the members' diversity(p) weights go to the rebalance targets.
fn open_top_k_targets(s: u32, before: bool, log_total: f32, cut: ptr<function, bool>) {
    *cut = !repair_order(TOPK_ORDER) || *cut;
    var allowed_rank = 0u;
    var r = 0u;
    for (; r < N; r++) {
        let stock = order_entry(TOPK_ORDER, r);
        if (allowed(s, stock, before) > 0.0) {
            set_topk_rank(stock, allowed_rank);
            allowed_rank += 1u;
        } else {
            set_topk_rank(stock, N);
        }
    }
    var kept = 0u;
    var c = 0u;
    for (; c < N; c++) {
        if (open_topk_kept(s, c, before)) {
            kept += 1u;
        }
    }
    var needed = STRATEGY_K[s] - min(kept, STRATEGY_K[s]);
    var cutoff = -1.0;
    var e = 0u;
    for (; e < N && needed > 0u; e++) {
        let stock = order_entry(TOPK_ORDER, e);
        if (allowed(s, stock, before) > 0.0 && !open_topk_kept(s, stock, before)) {
            needed -= 1u;
            cutoff = f32(topk_rank(stock));
        }
    }
    let p = STRATEGY_P[s];
    var largest = -3.0e38;
    var m = 0u;
    for (; m < N; m++) {
        if (open_topk_member(s, m, before, cutoff)) {
            largest = max(largest, p * (log_cap(m) - log_total));
        }
    }
    var total = 0.0;
    var t = 0u;
    for (; t < N; t++) {
        var weight = 0.0;
        if (open_topk_member(s, t, before, cutoff)) {
            weight = exp(p * (log_cap(t) - log_total) - largest);
        }
        set_rebalance_target(t, weight);
        total += weight;
    }
    let inverse_total = 1.0 / total;
    var w = 0u;
    for (; w < N; w++) {
        set_rebalance_target(w, rebalance_target(w) * inverse_total);
    }
    *cut = *cut || r != N || c != N || m != N || t != N || w != N || needed != 0u;
}

fn open_topk_kept(s: u32, stock: u32, before: bool) -> bool {
    return allowed(s, stock, before) > 0.0 && topk_held(s, stock) && topk_rank(stock) < STRATEGY_K[s] + STRATEGY_BUFFER[s];
}

fn open_topk_member(s: u32, stock: u32, before: bool, cutoff: f32) -> bool {
    return open_topk_kept(s, stock, before) || f32(topk_rank(stock)) <= cutoff;
}
