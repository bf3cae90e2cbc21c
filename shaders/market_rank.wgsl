// Market stage: rank-based first-order models (Atlas included). CPU twin:
// `rank_log_steps` in src/market/rank.rs.
//
// Each path keeps its stocks in rank order (`order`, saved in the state at ORDER_BASE
// between dispatches) and repairs it every step by insertion sort: O(N + swaps), and
// ranks change little between steps. market_data holds, for rank k, the vec4
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

// Whether stock a ranks before stock b: larger cap first, ties by index.
fn ranks_before(a: u32, b: u32) -> bool {
    let cap_a = log_caps[a];
    let cap_b = log_caps[b];
    return cap_a > cap_b || (cap_a == cap_b && a < b);
}

fn market_log_steps(key: vec2<u32>, path: u32, step: u32) -> bool {
    var ok = market_normals(key, path, step);
    var k = 1u;
    for (; k < N; k++) {
        let stock = order[k];
        var j = k;
        loop {
            if (j == 0u || !ranks_before(stock, order[j - 1u])) {
                break;
            }
            order[j] = order[j - 1u];
            j -= 1u;
        }
        order[j] = stock;
    }
    ok = ok && k == N;
    // The shift loop has no fixed bound, so check its result: a loop cut short
    // would leave the order unsorted.
    var v = 1u;
    for (; v < N; v++) {
        if (ranks_before(order[v], order[v - 1u])) {
            ok = false;
        }
    }
    ok = ok && v == N;
    var r = 0u;
    for (; r < N; r++) {
        let stock = order[r];
        let coefficients = market_at(r);
        set_z(stock, fma(coefficients.y, get_z(stock), coefficients.x));
    }
    return ok && r == N;
}
