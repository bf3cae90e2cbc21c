// Simulation kernels: `init_paths` and `advance_paths`, one invocation per path.
// The CPU twins are `PathBlock::init_paths` and `PathBlock::advance_paths` in
// src/engine/cpu/mod.rs, with the market stages in src/market/; the arithmetic
// below follows them step for step.
//
// Composed at load time (src/engine/gpu/shaders.rs) after philox.wgsl,
// path_accounting.wgsl (`Params`, `kahan_add`, `accumulate_returns`), the market
// data access functions `stage_market_data` and `market_at` (workgroup memory when
// the adapter has room for the data, else the storage buffer), the market stage
// (shaders/market_*.wgsl: `market_log_steps`, `load_market_state`,
// `store_market_state`), and these constants: N (stocks), N4 (ceil(N / 4)),
// MARKET_VEC4S, the market stage's own constants, S (strategies),
// SLOT_COUNT and the SLOT_* indices, LOG_CAPS_BASE, LOG_TOTAL, LOG_TOTAL_COMP,
// SLOTS_BASE, MU_BASE, HOLDINGS_BASE, STATE_SLOTS, MODEL_DRIFT_BASE,
// MODEL_WEIGHTS_BASE, WORKGROUP, the weighting codes KIND_*, and the per-strategy arrays STRATEGY_KIND,
// STRATEGY_P, STRATEGY_CAP, STRATEGY_K, STRATEGY_BUFFER, STRATEGY_REBALANCE,
// STRATEGY_COST; the strategy state accessors (`holding`, `slot_value`,
// their setters, `load_strategy` and `store_strategy`: shaders.rs, private arrays or
// the state buffer); the top-k functions (shaders/top_k.wgsl, or empty stand-ins
// when no strategy is top_k); and `defer_max_growth` (shaders/max_growth_common.wgsl, which
// adds the max_growth entry points, or a stand-in); the open market's functions
// (shaders/open_market.wgsl, or stand-ins in a closed market: `member`,
// `index_step`, `open_strategy_step`, `record_open_grid_cells`, `load_index_state`,
// `store_index_state`).
//
// State is laid out [slot][path] (slot * stride + lane) so that neighbouring
// invocations touch neighbouring words.

// The market model's parameters, in the layout its stage (market_*.wgsl) describes.
// (`market_data`, binding 1, is declared with its access functions: a uniform,
// workgroup-staged or storage buffer, `MarketDataPlace` in backend.rs.)
// [initial state template: STATE_SLOTS][step drift: 4 N4, zero past N][constant weights: S x N]
// (the drift is zero for models whose drift is not per stock)
@group(0) @binding(2) var<storage, read> model: array<f32>;
@group(0) @binding(3) var<storage, read_write> state: array<f32>;
@group(0) @binding(4) var<storage, read_write> steps_done: array<u32>;

// The path's per-stock arrays (the step's z, log caps, market weights mu, a
// rebalance's targets, rank orders) are reached through functions composed from
// path_arrays_private.wgsl or path_arrays_scratch.wgsl: `get_z`, `z4`, `log_cap`,
// `market_weight`, `rebalance_target`, `order_entry` and their setters.
// This invocation's column in the state buffer.
var<private> current_lane: u32;

fn model_drift4(b: u32) -> vec4<f32> {
    return vec4<f32>(model[MODEL_DRIFT_BASE + 4u * b], model[MODEL_DRIFT_BASE + 4u * b + 1u],
                     model[MODEL_DRIFT_BASE + 4u * b + 2u], model[MODEL_DRIFT_BASE + 4u * b + 3u]);
}

fn at(slot: u32, lane: u32) -> u32 {
    return slot * params.stride + lane;
}

// The standard normals of every stock at this step (Philox stream 0) into z;
// false if the loop was cut short.
fn market_normals(key: vec2<u32>, path: u32, step: u32) -> bool {
    var block = 0u;
    for (; block < N4; block++) { // unroll
        set_z4(block, drawn_normals4(key, path, step, block, 0u));
    }
    return block == N4;
}

// The controls' sums of a step (docs/control-variates.md): the market's weights and each
// strategy's holdings at the start of the step against the step's noise terms.
var<private> market_noise: f32;
var<private> held_noise: array<f32, S>;
// With an index: sum over its members of mu_i eps_i.
var<private> member_noise: f32;

// Stock i's noise term epsilon_i of the step (its log step before the drift is added),
// as the market stage computes it.
fn note_noise(i: u32, noise: f32) -> bool {
    if (!CONTROL) {
        return true;
    }
    market_noise = fma(market_weight(i), noise, market_noise);
    if (INDEX) {
        member_noise = fma(market_weight(i) * member(i), noise, member_noise);
    }
    var s = 0u;
    for (; s < S; s++) { // unroll
        held_noise[s] = fma(holding(s, i), noise, held_noise[s]);
    }
    return s == S;
}

// The noise terms of stocks 4b .. 4b + 3 (those below N; no loop, for the unrolled stage).
fn note_noise4(b: u32, noise: vec4<f32>) -> bool {
    var ok = true;
    if (4u * b < N) {
        ok = note_noise(4u * b, noise.x) && ok;
    }
    if (4u * b + 1u < N) {
        ok = note_noise(4u * b + 1u, noise.y) && ok;
    }
    if (4u * b + 2u < N) {
        ok = note_noise(4u * b + 2u, noise.z) && ok;
    }
    if (4u * b + 3u < N) {
        ok = note_noise(4u * b + 3u, noise.w) && ok;
    }
    return ok;
}


@compute @workgroup_size(WORKGROUP)
fn init_paths(@builtin(global_invocation_id) id: vec3<u32>) {
    init_path(id.x);
}

// What a weighting needs before its per-stock weights: (largest exponent or capped
// scale, normaliser, log G, top-k cutoff).
fn weight_setup(s: u32, log_total: f32, cut: ptr<function, bool>) -> vec4<f32> {
    let kind = STRATEGY_KIND[s];
    let p = STRATEGY_P[s];
    var largest = -3.0e38;
    var total = 0.0;
    var log_g = 0.0;
    if (kind == KIND_DIVERSITY) {
        var i = 0u;
        for (; i < N; i++) { // unroll
            largest = max(largest, p * (log_cap(i) - log_total));
        }
        var k = 0u;
        for (; k < N; k++) { // unroll
            // Kept for `target_weight`, which only normalises: one exp per stock.
            let target_k = exp(p * (log_cap(k) - log_total) - largest);
            set_rebalance_target(k, target_k);
            total += target_k;
        }
        *cut = *cut || i != N || k != N;
        log_g = (largest + log(total)) * (1.0 / p);
    } else if (kind == KIND_ENTROPY) {
        var i = 0u;
        for (; i < N; i++) { // unroll
            total += -(market_weight(i) * (log_cap(i) - log_total));
        }
        *cut = *cut || i != N;
        log_g = log(total);
    } else if (kind == KIND_EQUAL) {
        var i = 0u;
        for (; i < N; i++) { // unroll
            log_g += log_cap(i) - log_total;
        }
        *cut = *cut || i != N;
        log_g = log_g * (1.0 / f32(N));
    } else if (kind == KIND_CONSTANT) {
        var i = 0u;
        for (; i < N; i++) { // unroll
            log_g += model[MODEL_WEIGHTS_BASE + s * N + i] * (log_cap(i) - log_total);
        }
        *cut = *cut || i != N;
    } else if (kind == KIND_CAPPED) {
        largest = capped_scale(s, false, false, 1.0, cut);
    } else if (kind == KIND_TOP_K) {
        return top_k_setup(s, log_total, cut);
    }
    return vec4<f32>(largest, total, log_g, 0.0);
}

// Stock i's weight as capped weights of strategy s take it: mu_i, or in an open market
// rho^E_i = mu_i / A on its allowed stocks (`before` this step's reconstitution or
// after; `inverse_share` 1 / A).
fn capped_base_weight(s: u32, i: u32, open: bool, before: bool, inverse_share: f32) -> f32 {
    if (open) {
        return market_weight(i) * allowed(s, i, before) * inverse_share;
    }
    return market_weight(i);
}

// lambda of pi_i = min(cap, lambda w_i), w the weights `capped_base_weight` gives:
// `capped_scale` in src/portfolio/weighting.rs. The passes stop only when the capped
// set stops growing; anything else was cut.
fn capped_scale(s: u32, open: bool, before: bool, inverse_share: f32, cut: ptr<function, bool>) -> f32 {
    let cap = STRATEGY_CAP[s];
    var scale = 1.0;
    var last_count = -1.0;
    var converged = false;
    for (var sweep = 0u; sweep <= N && !converged; sweep++) {
        var count = 0.0;
        var free = 0.0;
        var i = 0u;
        for (; i < N; i++) {
            let weight = capped_base_weight(s, i, open, before, inverse_share);
            if (scale * weight >= cap) {
                count += 1.0;
            } else {
                free += weight;
            }
        }
        *cut = *cut || i != N;
        if (count == last_count) {
            converged = true;
        } else {
            last_count = count;
            var next = 3.4028235e38;
            if (free > 0.0) {
                next = (1.0 - count * cap) / free;
            }
            scale = max(scale, next);
        }
    }
    *cut = *cut || !converged;
    return scale;
}

fn target_weight(s: u32, i: u32, log_total: f32, setup: vec4<f32>) -> f32 {
    let kind = STRATEGY_KIND[s];
    let log_mu = log_cap(i) - log_total;
    if (kind == KIND_DIVERSITY) {
        // exp(p log mu_i - largest), left in `targets` by `weight_setup`.
        return rebalance_target(i) * (1.0 / setup.y);
    } else if (kind == KIND_ENTROPY) {
        return -(market_weight(i) * log_mu) * (1.0 / setup.y);
    } else if (kind == KIND_EQUAL) {
        return 1.0 / f32(N);
    } else if (kind == KIND_CONSTANT) {
        return model[MODEL_WEIGHTS_BASE + s * N + i];
    } else if (kind == KIND_CAPPED) {
        return min(STRATEGY_CAP[s], setup.x * market_weight(i));
    } else if (kind == KIND_TOP_K) {
        return top_k_weight(s, i, log_total, setup);
    }
    return market_weight(i);
}

// Closes strategy s's decomposition period at log G = `log_g` and log Z = `log_total`:
// T(q | p) = log(sum_i pi_i(p) q_i / p_i) - log(G(q) / G(p)), where the sum is
// value / value(p), since the holdings grew with their caps relative to the market's
// (SLOT_LOG_Z_ANCHOR holds -log value(p)); and when
// `rebalance`, trades from holdings worth `value` (weights holdings / value) to
// `targets` (worth 1). Returns the step's cost factor.
fn close_period(s: u32, log_g: f32, log_total: f32, value: f32, rebalance: bool, cut: ptr<function, bool>) -> f32 {
    let log_period_ratio = log(value) + slot_value(s, SLOT_LOG_Z_ANCHOR);
    let divergence = log_period_ratio - (log_g - slot_value(s, SLOT_LOG_G_ANCHOR));
    var traded = 0.0;
    if (rebalance) {
        let inverse_value = 1.0 / value;
        var tilt = 0.0;
        var w = 0u;
        for (; w < N; w++) { // unroll
            traded += abs(rebalance_target(w) - holding(s, w) * inverse_value);
            tilt += (rebalance_target(w) - market_weight(w)) * (log_cap(w) - log_total);
            set_holding(s, w, rebalance_target(w));
        }
        *cut = *cut || w != N;
        set_slot(s, SLOT_LOG_Z_ANCHOR, 0.0);
        record_size_tilt(s, tilt);
    }
    kahan_add(s, SLOT_DRIFT, SLOT_DRIFT_COMP, divergence);
    set_slot(s, SLOT_LOG_G_ANCHOR, log_g);
    set_slot(s, SLOT_MIN_DIVERGENCE, min(slot_value(s, SLOT_MIN_DIVERGENCE), divergence));
    var cost_factor = 1.0;
    if (rebalance) {
        set_slot(s, SLOT_HOLDINGS_VALUE, 1.0);
        cost_factor = 1.0 - STRATEGY_COST[s] * traded;
        set_slot(s, SLOT_TURNOVER, slot_value(s, SLOT_TURNOVER) + 0.5 * traded);
        set_slot(s, SLOT_TRADED_SQUARES, slot_value(s, SLOT_TRADED_SQUARES) + traded * traded);
        set_slot(s, SLOT_COST, slot_value(s, SLOT_COST) + log(cost_factor));
    }
    return cost_factor;
}


// Every strategy's cells of grid point `point` (path_accounting.wgsl).
fn record_grid_point(point: u32, lane: u32, cut: ptr<function, bool>) {
    var s = 0u;
    for (; s < S; s++) { // unroll
        record_grid_cells(point, s, lane);
        if (OPEN) {
            record_open_grid_cells(point, s, lane);
        }
    }
    *cut = *cut || s != S;
}

@compute @workgroup_size(WORKGROUP)
fn advance_paths(@builtin(global_invocation_id) id: vec3<u32>, @builtin(local_invocation_index) local: u32) {
    // Every invocation of the workgroup reads the model's data each step: stage it once.
    stage_market_data(local);
    let lane = id.x;
    if (lane >= params.batch_paths) {
        return;
    }
    // The counter of the path's normals (its antithetic partner's, when paired).
    let path = draw_counter(params.first_path + lane);
    current_lane = lane;
    let key = vec2<u32>(params.key0, params.key1);
    load_path_arrays(lane);
    var log_total = state[at(LOG_TOTAL, lane)];
    var log_total_comp = state[at(LOG_TOTAL_COMP, lane)];
    var market_control = state[at(MARKET_CONTROL, lane)];
    var market_control_comp = state[at(MARKET_CONTROL_COMP, lane)];
    var benchmark_moments = vec2<f32>(state[at(BENCHMARK_RETURNS, lane)], state[at(BENCHMARK_SQUARES, lane)]);
    for (var s0 = 0u; s0 < S; s0++) {
        load_strategy(s0, lane);
    }
    load_market_state(lane);
    load_top_k_state(lane);
    load_index_state(lane);
    // Every loop checks that it ran to its bound: llvmpipe silently cuts long
    // loops short, and a cut step must not count as completed.
    var cut = false;
    var completed = 0u;
    for (var k = 0u; k < params.step_count; k++) {
        let step = params.step_begin + k;

        // The market model's log steps into z (composed market_*.wgsl stage), which
        // hands each noise term to `note_noise`.
        market_noise = 0.0;
        member_noise = 0.0;
        var s_reset = 0u;
        for (; s_reset < S; s_reset++) { // unroll
            held_noise[s_reset] = 0.0;
        }
        cut = cut || s_reset != S;
        cut = !market_log_steps(key, path, step) || cut;
        // The market's control, Kahan-compensated.
        let corrected_control = market_noise - market_control_comp;
        let next_control = market_control + corrected_control;
        market_control_comp = (next_control - market_control) - corrected_control;
        market_control = next_control;

        // Market: caps, gross returns, weights, log Z.
        var market_gross = 0.0;
        // With an index, its members' new share of the market.
        var member_share = 0.0;
        var i = 0u;
        for (; i < N; i++) { // unroll
            let log_step = get_z(i);
            if (HAS_WINDOW) {
                // The trailing estimates' ring of log returns (max_growth_estimate.wgsl).
                state[at(WINDOW_BASE + (step % WINDOW_LENGTH) * N + i, lane)] = log_step;
            }
            set_log_cap(i, log_cap(i) + log_step);
            let growth = exp(log_step);
            set_z(i, growth);
            market_gross += market_weight(i) * growth;
        }
        cut = cut || i != N;
        let inverse_market_gross = 1.0 / market_gross;
        var m = 0u;
        for (; m < N; m++) { // unroll
            // z becomes each cap's growth relative to the market's: holdings kept in
            // these units stay within a few orders of 1 over any horizon.
            let relative_growth = get_z(m) * inverse_market_gross;
            set_z(m, relative_growth);
            set_market_weight(m, market_weight(m) * relative_growth);
            if (INDEX) {
                member_share += market_weight(m) * member(m);
            }
        }
        cut = cut || m != N;
        // Kahan-compensated log Z.
        let corrected = log(market_gross) - log_total_comp;
        let next_log_total = log_total + corrected;
        log_total_comp = (next_log_total - log_total) - corrected;
        log_total = next_log_total;

        let completed_steps = step + 1u;
        let is_last = completed_steps == params.total_steps;
        // The benchmark: the index (its step, and a reconstitution when one falls here)
        // or the market.
        var benchmark_gross = market_gross;
        var benchmark_noise = market_noise;
        var reconstituted = false;
        if (INDEX) {
            let index = index_step(market_gross, member_share, completed_steps, is_last, &cut);
            benchmark_gross = index.x;
            reconstituted = index.y > 0.0;
            benchmark_noise = index.z;
        }
        add_benchmark_return(&benchmark_moments, benchmark_gross - 1.0);
        var s = 0u;
        for (; s < S; s++) { // unroll
            // Shares are held through the step: each holding's value grows with its price
            // (here: relative to the market, so the value is V_pi / V_mu since the last rebalance).
            var value = 0.0;
            var h = 0u;
            for (; h < N; h++) { // unroll
                let grown = holding(s, h) * get_z(h);
                set_holding(s, h, grown);
                value += grown;
            }
            cut = cut || h != N;
            // The control: weights held at the start of the step (holdings / their value).
            if (CONTROL) {
                kahan_add(s, SLOT_CONTROL, SLOT_CONTROL_COMP, held_noise[s] / slot_value(s, SLOT_HOLDINGS_VALUE) - benchmark_noise);
            }
            let gross = value / slot_value(s, SLOT_HOLDINGS_VALUE) * market_gross;
            set_slot(s, SLOT_HOLDINGS_VALUE, value);

            let rebalance = (completed_steps % STRATEGY_REBALANCE[s]) == 0u && !is_last;
            if (OPEN && STRATEGY_OPEN[s] == 1u) {
                // On index members or under a screen (open_market.wgsl).
                let cost_factor = open_strategy_step(s, value, rebalance, is_last, reconstituted, log_total, &cut);
                accumulate_returns(s, gross, cost_factor, benchmark_gross);
            } else if (rebalance && STRATEGY_KIND[s] == KIND_MAX_GROWTH) {
                // Its solve runs in dispatches of its own (max_growth.wgsl), which finish
                // this step; the host ends the dispatch here.
                defer_max_growth(s, lane, gross, market_gross);
                cut = cut || k + 1u != params.step_count;
            } else {
                var cost_factor = 1.0;
                if (rebalance || is_last) {
                    let setup = weight_setup(s, log_total, &cut);
                    if (rebalance) {
                        var t = 0u;
                        for (; t < N; t++) { // unroll
                            set_rebalance_target(t, target_weight(s, t, log_total, setup));
                        }
                        cut = cut || t != N;
                    }
                    cost_factor = close_period(s, setup.z, log_total, value, rebalance, &cut);
                }
                accumulate_returns(s, gross, cost_factor, benchmark_gross);
            }
        }
        cut = cut || s != S;
        if (completed_steps % GRID_EVERY == 0u || is_last) {
            // The time grid (src/engine/time_grid.rs). A max_growth strategy rebalancing at this
            // step books it later: the host records that point again after its solve.
            record_grid_point(select(completed_steps / GRID_EVERY - 1u, GRID_POINTS - 1u, is_last), lane, &cut);
        }
        if (!cut) {
            completed += 1u;
        }
    }
    store_path_arrays(lane);
    state[at(LOG_TOTAL, lane)] = log_total;
    state[at(LOG_TOTAL_COMP, lane)] = log_total_comp;
    state[at(MARKET_CONTROL, lane)] = market_control;
    state[at(MARKET_CONTROL_COMP, lane)] = market_control_comp;
    state[at(BENCHMARK_RETURNS, lane)] = benchmark_moments.x;
    state[at(BENCHMARK_SQUARES, lane)] = benchmark_moments.y;
    for (var s1 = 0u; s1 < S; s1++) {
        store_strategy(s1, lane);
    }
    store_market_state(lane);
    store_top_k_state(lane);
    store_index_state(lane);
    steps_done[lane] += completed;
}

// The time grid again at point params.phase, after a max_growth strategy has booked
// the step that ends there (its solve runs between dispatches).
@compute @workgroup_size(WORKGROUP)
fn record_grid(@builtin(global_invocation_id) id: vec3<u32>) {
    let lane = id.x;
    if (lane >= params.batch_paths) {
        return;
    }
    current_lane = lane;
    for (var s0 = 0u; s0 < S; s0++) {
        load_strategy(s0, lane);
    }
    var cut = false;
    record_grid_point(params.phase, lane, &cut);
}
