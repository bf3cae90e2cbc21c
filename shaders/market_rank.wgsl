// Market stage: rank-based first-order models (Atlas included). CPU twin:
// `rank_log_steps` in src/market/rank.rs.
//
// Each path keeps its stocks in rank order (the list MARKET_ORDER, saved in the state
// at ORDER_BASE between dispatches) and repairs it every step (`repair_order`, ranking.wgsl):
// O(N + swaps), and ranks change little between steps. market_data holds, for rank k, the vec4
// ((gamma + g_k) dt, sigma_k sqrt(dt), 0, 0).

fn load_market_state(lane: u32) {
    load_order(MARKET_ORDER, ORDER_BASE, lane);
}

fn store_market_state(lane: u32) {
    store_order(MARKET_ORDER, ORDER_BASE, lane);
}

fn market_log_steps(key: vec2<u32>, path: u32, step: u32) -> bool {
    var ok = market_normals(key, path, step);
    ok = repair_order(MARKET_ORDER) && ok;
    var r = 0u;
    for (; r < N; r++) {
        let stock = order_entry(MARKET_ORDER, r);
        let coefficients = market_at(r);
        // The noise term sigma_k sqrt(dt) z, then the drift of the rank held (as the CPU:
        // two roundings).
        let noise = coefficients.y * get_z(stock);
        ok = note_noise(stock, noise) && ok;
        set_z(stock, coefficients.x + noise);
    }
    return ok && r == N;
}
