// A path's per-stock arrays for advance_paths.wgsl, in storage buffers ([slot][path],
// so neighbouring invocations touch neighbouring words): log caps and market weights
// where the state buffer keeps them, the step's z and a rebalance's targets in the
// scratch buffer. Nothing private grows with N, so no stock count is too large to
// compile (private arrays of 850 stocks lost an H200's device; llvmpipe's compile time
// grows with their square). Twin: path_arrays_private.wgsl.

// The binding starts with the max_growth solvers' two flags (max_growth_common.wgsl),
// which the host clears and reads at offset 0 whatever the path arrays' place.
struct PathScratch {
    solver_flags: array<atomic<u32>, 2>,
    values: array<f32>,
}
@group(0) @binding(5) var<storage, read_write> path_scratch: PathScratch;

fn raise_solver_flag(k: u32) {
    atomicStore(&path_scratch.solver_flags[k], 1u);
}

fn get_z(i: u32) -> f32 {
    return path_scratch.values[at(Z_BASE + i, current_lane)];
}
fn set_z(i: u32, value: f32) {
    path_scratch.values[at(Z_BASE + i, current_lane)] = value;
}
fn z4(b: u32) -> vec4<f32> {
    return vec4<f32>(get_z(4u * b), get_z(4u * b + 1u), get_z(4u * b + 2u), get_z(4u * b + 3u));
}
fn set_z4(b: u32, value: vec4<f32>) {
    set_z(4u * b, value.x);
    set_z(4u * b + 1u, value.y);
    set_z(4u * b + 2u, value.z);
    set_z(4u * b + 3u, value.w);
}
fn log_cap(i: u32) -> f32 {
    return state[at(LOG_CAPS_BASE + i, current_lane)];
}
fn set_log_cap(i: u32, value: f32) {
    state[at(LOG_CAPS_BASE + i, current_lane)] = value;
}
fn market_weight(i: u32) -> f32 {
    return state[at(MU_BASE + i, current_lane)];
}
fn set_market_weight(i: u32, value: f32) {
    state[at(MU_BASE + i, current_lane)] = value;
}
fn rebalance_target(i: u32) -> f32 {
    return path_scratch.values[at(TARGETS_BASE + i, current_lane)];
}
fn set_rebalance_target(i: u32, value: f32) {
    path_scratch.values[at(TARGETS_BASE + i, current_lane)] = value;
}

fn load_path_arrays(lane: u32) {}
fn store_path_arrays(lane: u32) {}

// Stocks in rank order (ranking.wgsl), each list named by its first slot in the state
// buffer (MARKET_ORDER, TOPK_ORDER), where it stays; top-k's rank of each stock in the
// scratch buffer. (Indices below 2^24 are exact in f32.)
fn order_entry(list: u32, k: u32) -> u32 {
    return u32(state[at(list + k, current_lane)]);
}
fn set_order_entry(list: u32, k: u32, stock: u32) {
    state[at(list + k, current_lane)] = f32(stock);
}
fn topk_rank(stock: u32) -> u32 {
    return u32(path_scratch.values[at(TOPK_RANK_BASE + stock, current_lane)]);
}
fn set_topk_rank(stock: u32, rank: u32) {
    path_scratch.values[at(TOPK_RANK_BASE + stock, current_lane)] = f32(rank);
}

fn load_order(list: u32, base: u32, lane: u32) {}
fn store_order(list: u32, base: u32, lane: u32) {}
