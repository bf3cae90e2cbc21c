// The open market in the per-path kernel (docs/open-markets.md): an index of the
// largest INDEX_K stocks as the benchmark, reconstituted every INDEX_EVERY steps with
// a buffer of INDEX_BUFFER ranks, and strategies on its members or under a screen.
// CPU twins: `IndexBlock` in src/engine/open_market.rs (the index) and
// `open_rebalance` in src/engine/cpu/open_step.rs (a strategy's step); the arithmetic
// follows them, path by path where they go lane by lane.
//
// Composed after advance_paths.wgsl's helpers and ranking.wgsl when a plan has an
// index or a screen (else open_market_absent.wgsl), with the constants INDEX, OPEN,
// INDEX_K, INDEX_BUFFER, INDEX_EVERY, INDEX_BASE and the INDEX_* words (layout.rs
// `index_word`), MEMBER_BASE, MEMBER_BEFORE_BASE, INDEX_ORDER (the order list) and
// INDEX_ORDER_BASE, OPEN_BASE, OPEN_WORDS and the OPEN_* words (`open_word`),
// HAS_EXCLUSIONS, EXCLUSIONS_BASE (the model buffer's [strategy][stock] exclusions),
// STRATEGY_OPEN and STRATEGY_SCREENED. Every weighting but max_growth runs here
// (`GpuBackend::check_fits` refuses max_growth in an open market).

// 1 where stock i is a member of the index now (every stock without an index).
fn member(i: u32) -> f32 {
    if (!INDEX) {
        return 1.0;
    }
    return state[at(MEMBER_BASE + i, current_lane)];
}

// The same before this step's reconstitution (equal to `member` until the first).
fn member_before(i: u32) -> f32 {
    if (!INDEX) {
        return 1.0;
    }
    return state[at(MEMBER_BEFORE_BASE + i, current_lane)];
}

// 1 where strategy s may hold stock i: the members (`before` this step's
// reconstitution, or after it) less its screen.
fn allowed(s: u32, i: u32, before: bool) -> f32 {
    var excluded = 0.0;
    if (HAS_EXCLUSIONS) {
        excluded = model[EXCLUSIONS_BASE + s * N + i];
    }
    return select(member(i), member_before(i), before) * (1.0 - excluded);
}

fn index_word(k: u32) -> f32 {
    return state[at(INDEX_BASE + k, current_lane)];
}
fn set_index_word(k: u32, value: f32) {
    state[at(INDEX_BASE + k, current_lane)] = value;
}
fn open_word(s: u32, k: u32) -> f32 {
    return state[at(OPEN_BASE + s * OPEN_WORDS + k, current_lane)];
}
fn set_open_word(s: u32, k: u32, value: f32) {
    state[at(OPEN_BASE + s * OPEN_WORDS + k, current_lane)] = value;
}

// Kahan-compensated state slot `sum` += value (compensation in slot `comp`): the
// index's words and the strategies' open words, which stay in the state buffer.
fn state_kahan_add(sum: u32, comp: u32, value: f32) {
    let corrected = value - state[at(comp, current_lane)];
    let total = state[at(sum, current_lane)];
    let next = total + corrected;
    state[at(comp, current_lane)] = (next - total) - corrected;
    state[at(sum, current_lane)] = next;
}

// The index's rank order between dispatches (in the state buffer when the path's
// arrays are in scratch, where `load_order` is empty).
fn load_index_state(lane: u32) {
    if (INDEX) {
        load_order(INDEX_ORDER, INDEX_ORDER_BASE, lane);
    }
}
fn store_index_state(lane: u32) {
    if (INDEX) {
        store_order(INDEX_ORDER, INDEX_ORDER_BASE, lane);
    }
}

// Re-chooses the members by rank (`choose_members`: a member stays while ranked within
// INDEX_K + INDEX_BUFFER, the places left go to the best-ranked others), keeps the old
// ones, folds the new ones into the membership history (`fold_membership`) and adds
// the index's turnover. Returns false if a loop was cut short.
fn reconstitute_index() -> bool {
    var ok = repair_order(INDEX_ORDER);
    var b = 0u;
    for (; b < N; b++) {
        state[at(MEMBER_BEFORE_BASE + b, current_lane)] = member(b);
    }
    var count = 0u;
    var r = 0u;
    for (; r < N; r++) {
        let stock = order_entry(INDEX_ORDER, r);
        let stays = member(stock) > 0.0 && count < INDEX_K && r < INDEX_K + INDEX_BUFFER;
        state[at(MEMBER_BASE + stock, current_lane)] = select(0.0, 1.0, stays);
        count += select(0u, 1u, stays);
    }
    var f = 0u;
    for (; f < N && count < INDEX_K; f++) {
        let stock = order_entry(INDEX_ORDER, f);
        if (member(stock) == 0.0) {
            state[at(MEMBER_BASE + stock, current_lane)] = 1.0;
            count += 1u;
        }
    }
    ok = ok && b == N && r == N && count == INDEX_K;
    let share_before = index_word(INDEX_SHARE_BEFORE);
    var share = 0.0;
    var history = u32(index_word(INDEX_HISTORY));
    var h = 0u;
    for (; h < N; h++) {
        share += market_weight(h) * member(h);
        if (member(h) > 0.0) {
            history = (history ^ (h + 1u)) * 16777619u;
        }
    }
    set_index_word(INDEX_HISTORY, f32(history & 0xFFFFFFu));
    set_index_word(INDEX_SHARE, share);
    let after = 1.0 / share;
    let before = 1.0 / share_before;
    var traded = 0.0;
    var t = 0u;
    for (; t < N; t++) {
        let m = market_weight(t);
        traded += abs(m * member(t) * after - m * member_before(t) * before);
    }
    set_index_word(INDEX_TURNOVER, index_word(INDEX_TURNOVER) + traded * 0.5);
    return ok && h == N && t == N;
}

// The index's step after the market's (`member_share`: its members' new share of the
// market): its gross return S(t+1)/S(t) times the market's, its log value and control
// (from `member_noise`, the step's sum over members of mu_i eps_i), and a
// reconstitution when one falls here. Returns (the index's gross return, 1 if it
// reconstituted, its noise term, 0).
fn index_step(market_gross: f32, member_share: f32, completed_steps: u32, is_last: bool,
              cut: ptr<function, bool>) -> vec4<f32> {
    let share = index_word(INDEX_SHARE);
    let noise = member_noise / share;
    if (CONTROL) {
        state_kahan_add(INDEX_BASE + INDEX_CONTROL, INDEX_BASE + INDEX_CONTROL_COMP, noise);
    }
    let gross = member_share / share * market_gross;
    set_index_word(INDEX_SHARE, member_share);
    state_kahan_add(INDEX_BASE + INDEX_LOG_VALUE, INDEX_BASE + INDEX_LOG_VALUE_COMP, log(gross));
    var reconstituted = 0.0;
    if (completed_steps % INDEX_EVERY == 0u && !is_last) {
        set_index_word(INDEX_SHARE_BEFORE, member_share);
        *cut = !reconstitute_index() || *cut;
        reconstituted = 1.0;
    }
    return vec4<f32>(gross, reconstituted, noise, 0.0);
}

// The allowed stocks' share of the market A and their count, (A, count).
fn allowed_share(s: u32, before: bool, cut: ptr<function, bool>) -> vec2<f32> {
    var share = 0.0;
    var count = 0.0;
    var i = 0u;
    for (; i < N; i++) {
        let a = allowed(s, i, before);
        share += market_weight(i) * a;
        count += a;
    }
    *cut = *cut || i != N;
    return vec2<f32>(share, count);
}

// Whether this step's reconstitution changed the stocks strategy s may hold.
fn allowed_changed(s: u32, cut: ptr<function, bool>) -> bool {
    var changed = false;
    var i = 0u;
    for (; i < N; i++) {
        changed = changed || allowed(s, i, true) != allowed(s, i, false);
    }
    *cut = *cut || i != N;
    return changed;
}

// Strategy s's targets on its allowed stocks (`before` this step's reconstitution or
// after; `share` = (A, count)) into the rebalance targets: the rule applied to
// rho^E_i = mu_i / A (`member_target_weights`). Returns log G(rho^E).
fn open_targets(s: u32, before: bool, share: vec2<f32>, log_total: f32, cut: ptr<function, bool>) -> f32 {
    let kind = STRATEGY_KIND[s];
    let log_share = log(share.x);
    let inverse_share = 1.0 / share.x;
    var log_g = 0.0;
    var total = 0.0;
    var i = 0u;
    if (kind == KIND_EQUAL) {
        let inverse = 1.0 / share.y;
        var log_sum = 0.0;
        for (; i < N; i++) {
            let a = allowed(s, i, before);
            set_rebalance_target(i, a * inverse);
            log_sum += (log_cap(i) - log_total) * a;
        }
        log_g = log_sum * inverse - log_share;
    } else if (kind == KIND_DIVERSITY) {
        let p = STRATEGY_P[s];
        // Stocks outside take the lowest exponent, so that they never set the largest.
        let lowest = -3.4028235e38;
        var largest = lowest;
        for (; i < N; i++) {
            let a = allowed(s, i, before);
            let exponent = select(lowest, (log_cap(i) - log_total) * p, a > 0.0);
            set_rebalance_target(i, exponent);
            largest = max(largest, exponent);
        }
        var k = 0u;
        for (; k < N; k++) {
            let weight = exp(rebalance_target(k) - largest) * allowed(s, k, before);
            set_rebalance_target(k, weight);
            total += weight;
        }
        *cut = *cut || k != N;
        log_g = (largest + log(total)) * (1.0 / p) - log_share;
    } else if (kind == KIND_ENTROPY) {
        for (; i < N; i++) {
            let weight = -(market_weight(i) * allowed(s, i, before) * inverse_share * (log_cap(i) - log_total - log_share));
            set_rebalance_target(i, weight);
            total += weight;
        }
        log_g = log(total);
    } else if (kind == KIND_CAPPED) {
        // Capped on rho^E (stocks outside stay at 0), then pi_i = min(cap, scale rho^E_i);
        // not functionally generated (log G = 0).
        let cap = STRATEGY_CAP[s];
        let scale = capped_scale(s, true, before, inverse_share, cut);
        for (; i < N; i++) {
            set_rebalance_target(i, min(cap, scale * capped_base_weight(s, i, true, before, inverse_share)));
        }
    } else if (kind == KIND_TOP_K) {
        // Top-k among the allowed stocks (top_k.wgsl); not functionally generated.
        open_top_k_targets(s, before, log_total, cut);
        i = N;
    } else {
        // The market on the allowed stocks: rho^E itself (log G = 0).
        for (; i < N; i++) {
            set_rebalance_target(i, market_weight(i) * allowed(s, i, before) * inverse_share);
        }
    }
    *cut = *cut || i != N;
    if (kind == KIND_DIVERSITY || kind == KIND_ENTROPY) {
        let inverse_total = 1.0 / total;
        var t = 0u;
        for (; t < N; t++) {
            set_rebalance_target(t, rebalance_target(t) * inverse_total);
        }
        *cut = *cut || t != N;
    }
    return log_g;
}

// An open-market strategy at a step where its period may close (`open_rebalance`):
// the period closes on the old allowed stocks (its drift term against rho^E), the
// leakage term takes log G(rho^E before) - log G(rho^E after) where the
// reconstitution changed the allowed stocks, the screen term closes at every
// reconstitution and at the end, and the strategy trades where its own schedule falls
// or its allowed stocks changed. Returns the step's cost factor.
fn open_strategy_step(s: u32, value: f32, rebalance: bool, is_last: bool, reconstituted: bool, log_total: f32,
                      cut: ptr<function, bool>) -> f32 {
    var changed = false;
    if (reconstituted) {
        changed = allowed_changed(s, cut);
    }
    if (!(rebalance || is_last || reconstituted)) {
        return 1.0;
    }
    let closes = rebalance || is_last || changed;
    let share_before = allowed_share(s, reconstituted, cut);
    let log_share_before = log(share_before.x);
    if ((reconstituted || is_last) && STRATEGY_SCREENED[s] == 1u) {
        // log(V_rho^E / V_rho) over the index period just ended: log(A / S) at its end less at its start.
        var log_index_share = 0.0;
        if (INDEX) {
            log_index_share = log(select(index_word(INDEX_SHARE), index_word(INDEX_SHARE_BEFORE), reconstituted));
        }
        let screen = open_word(s, OPEN_SCREEN) + (log_share_before - log_index_share - open_word(s, OPEN_SCREEN_ANCHOR));
        set_open_word(s, OPEN_SCREEN, screen);
    }
    var log_g = 0.0;
    if (closes) {
        log_g = open_targets(s, reconstituted, share_before, log_total, cut);
        // T(q | p) with p, q = rho^E: the holdings grew with their caps relative to the
        // market's, and rho^E_i = mu_i / A.
        let log_period_ratio = log(value) + slot_value(s, SLOT_LOG_Z_ANCHOR) + open_word(s, OPEN_LOG_SHARE_ANCHOR)
            - log_share_before;
        let divergence = log_period_ratio - (log_g - slot_value(s, SLOT_LOG_G_ANCHOR));
        kahan_add(s, SLOT_DRIFT, SLOT_DRIFT_COMP, divergence);
        set_slot(s, SLOT_MIN_DIVERGENCE, min(slot_value(s, SLOT_MIN_DIVERGENCE), divergence));
    }
    var log_share = log_share_before;
    if (reconstituted) {
        let share_after = allowed_share(s, false, cut);
        var log_index_share = 0.0;
        if (INDEX) {
            log_index_share = log(index_word(INDEX_SHARE));
        }
        set_open_word(s, OPEN_SCREEN_ANCHOR, log(share_after.x) - log_index_share);
        if (changed) {
            let log_g_after = open_targets(s, false, share_after, log_total, cut);
            let words = OPEN_BASE + s * OPEN_WORDS;
            state_kahan_add(words + OPEN_LEAKAGE, words + OPEN_LEAKAGE_COMP, log_g - log_g_after);
            log_g = log_g_after;
            log_share = log(share_after.x);
        }
    }
    if (closes) {
        set_slot(s, SLOT_LOG_G_ANCHOR, log_g);
        set_open_word(s, OPEN_LOG_SHARE_ANCHOR, log_share);
    }
    if (is_last || !(rebalance || changed)) {
        return 1.0;
    }
    // Trade to the targets; the size tilt of the new weights: sum_i (pi_i - rho_i) log mu_i,
    // rho the benchmark's weights (the index's, or the market's).
    let inverse_value = 1.0 / value;
    var traded = 0.0;
    var tilt = 0.0;
    var index_log_mu = 0.0;
    let inverse_index_share = 1.0 / index_word(INDEX_SHARE);
    var w = 0u;
    for (; w < N; w++) {
        let log_mu = log_cap(w) - log_total;
        traded += abs(rebalance_target(w) - holding(s, w) * inverse_value);
        if (INDEX) {
            tilt += rebalance_target(w) * log_mu;
            index_log_mu += market_weight(w) * member(w) * log_mu;
        } else {
            tilt += (rebalance_target(w) - market_weight(w)) * log_mu;
        }
        set_holding(s, w, rebalance_target(w));
    }
    *cut = *cut || w != N;
    record_size_tilt(s, tilt - index_log_mu * inverse_index_share);
    set_slot(s, SLOT_HOLDINGS_VALUE, 1.0);
    set_slot(s, SLOT_LOG_Z_ANCHOR, 0.0);
    let cost_factor = 1.0 - STRATEGY_COST[s] * traded;
    set_slot(s, SLOT_TURNOVER, slot_value(s, SLOT_TURNOVER) + 0.5 * traded);
    set_slot(s, SLOT_TRADED_SQUARES, slot_value(s, SLOT_TRADED_SQUARES) + traded * traded);
    set_slot(s, SLOT_COST, slot_value(s, SLOT_COST) + log(cost_factor));
    return cost_factor;
}

// Strategy s's leakage and screen terms at grid point `point` (after its closed-market
// cells: `record_grid_cells`).
fn record_open_grid_cells(point: u32, s: u32, lane: u32) {
    let base = GRID_BASE + (point * S + s) * GRID_QUANTITIES;
    state[at(base + 4u, lane)] = open_word(s, OPEN_LEAKAGE);
    state[at(base + 5u, lane)] = open_word(s, OPEN_SCREEN);
}
