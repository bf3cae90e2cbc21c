// Market stage: rank-based first-order models (Atlas included). CPU twin:
// `rank_log_steps` in src/market/rank.rs.
//
// Each path keeps its stocks in rank order (`order`, saved in the state at ORDER_BASE
// between dispatches) and repairs it every step (`repair_order`, ranking.wgsl):
// O(N + swaps), and ranks change little between steps. market_data holds, for rank k, the vec4
// ((gamma + g_k) dt, sigma_k sqrt(dt), 0, 0).

var<private> order: array<u32, N>;

fn load_market_state(lane: u32) {
    for (var r = 0u; r < N; r++) {
        order[r] = u32(state[at(ORDER_BASE + r, lane)]);
    }
}

fn store_market_state(lane: u32) {
    for (var r = 0u; r < N; r++) {
        state[at(ORDER_BASE + r, lane)] = f32(order[r]);
    }
}

fn market_log_steps(key: vec2<u32>, path: u32, step: u32) -> bool {
    var ok = market_normals(key, path, step);
    ok = repair_order(&order) && ok;
    var r = 0u;
    for (; r < N; r++) {
        let stock = order[r];
        let coefficients = market_at(r);
        set_z(stock, fma(coefficients.y, get_z(stock), coefficients.x));
    }
    return ok && r == N;
}
