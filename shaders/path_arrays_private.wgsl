// A path's per-stock arrays for advance_paths.wgsl, in private memory: loaded from the
// state buffer at a dispatch's start, stored at its end (the fastest place while they
// are small; `StateLayout::path_arrays_in_scratch` says when they move out).
// Twin: path_arrays_scratch.wgsl, the same functions over storage buffers.

// Log steps, then gross returns, of the current step.
var<private> z: array<vec4<f32>, N4>;
var<private> log_caps: array<f32, N>;
var<private> mu: array<f32, N>;
// A strategy's target weights at a rebalance.
var<private> targets: array<f32, N>;

fn z4(b: u32) -> vec4<f32> {
    return z[b];
}
fn set_z4(b: u32, value: vec4<f32>) {
    z[b] = value;
}
fn get_z(i: u32) -> f32 {
    return z[i / 4u][i % 4u];
}
fn set_z(i: u32, value: f32) {
    z[i / 4u][i % 4u] = value;
}
fn log_cap(i: u32) -> f32 {
    return log_caps[i];
}
fn set_log_cap(i: u32, value: f32) {
    log_caps[i] = value;
}
fn market_weight(i: u32) -> f32 {
    return mu[i];
}
fn set_market_weight(i: u32, value: f32) {
    mu[i] = value;
}
fn rebalance_target(i: u32) -> f32 {
    return targets[i];
}
fn set_rebalance_target(i: u32, value: f32) {
    targets[i] = value;
}

fn load_path_arrays(lane: u32) {
    for (var i = 0u; i < N; i++) {
        log_caps[i] = state[at(LOG_CAPS_BASE + i, lane)];
        mu[i] = state[at(MU_BASE + i, lane)];
    }
}

fn store_path_arrays(lane: u32) {
    for (var i = 0u; i < N; i++) {
        state[at(LOG_CAPS_BASE + i, lane)] = log_caps[i];
        state[at(MU_BASE + i, lane)] = mu[i];
    }
}

// Stocks in rank order (ranking.wgsl): the rank models' list and top-k's, each named
// by its first word in `order_lists` (MARKET_ORDER, TOPK_ORDER); top-k's rank of each
// stock. (One word each when no stage ranks.)
var<private> order_lists: array<u32, ORDER_LIST_WORDS>;
var<private> topk_ranks: array<u32, TOPK_RANK_WORDS>;

fn order_entry(list: u32, k: u32) -> u32 {
    return order_lists[list + k];
}
fn set_order_entry(list: u32, k: u32, stock: u32) {
    order_lists[list + k] = stock;
}
fn topk_rank(stock: u32) -> u32 {
    return topk_ranks[stock];
}
fn set_topk_rank(stock: u32, rank: u32) {
    topk_ranks[stock] = rank;
}

// A list from (and to) its copy in the state buffer, N slots from `base`.
fn load_order(list: u32, base: u32, lane: u32) {
    for (var r = 0u; r < N; r++) {
        order_lists[list + r] = u32(state[at(base + r, lane)]);
    }
}

fn store_order(list: u32, base: u32, lane: u32) {
    for (var r = 0u; r < N; r++) {
        state[at(base + r, lane)] = f32(order_lists[list + r]);
    }
}
