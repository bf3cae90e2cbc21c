// The max_growth weighting on the GPU in Sigma's eigenbasis: the ADMM solver of
// src/portfolio/optimize.rs (`MaxGrowthProblem::solve_from`, `limit_turnover`), step
// for step, in f32, for full and estimated covariances (a factor covariance is solved
// by shaders/max_growth_factor.wgsl instead, in O(N K^2) a pass).
//
// A solve takes tens to hundreds of iterations of two n x n products each, far more
// than fits in the simulation step loop (llvmpipe cuts any loop past 65,535
// iterations; a real GPU's watchdog is the same concern at larger n). So it runs
// in its own dispatches. The host ends an `advance_paths` dispatch at every step on
// which a max_growth strategy rebalances; that step defers the strategy's rebalance
// and returns (`defer_max_growth`, shaders/max_growth_common.wgsl). Then, per such
// strategy (`params.strategy`): `solve_max_growth` dispatches of `params.iterations`
// ADMM iterations each, until no path has iterations left (solver flag 0),
// warm-started from the path's last solve (z, u and theta in its state); then one
// `finish_max_growth`, which makes the answer exactly feasible, applies the turnover
// limit, trades and books the step.
//
// Composed after advance_paths.wgsl and max_growth_common.wgsl, with the constants
// MG_DATA_BASE (per strategy: its problem's offset in the model buffer, laid out by
// `MaxGrowthProblem::kernel_words`, or with a trailing estimate, MG_IN_STATE, the first
// slot of the same layout in each path's state), MG_STATE_BASE (per strategy: its
// block of 2N + 5 state slots), MG_TURNOVER (per strategy: the turnover limit, -1 for
// none), MG_MARKET_GROSS (the deferred step's market gross return), MG_MAX_ITERATIONS
// and MG_TOLERANCE.

// A strategy's state block: the common slots (max_growth_common.wgsl), then z, u
// (ADMM's scaled dual) and theta (the box projection's last shift).
// (MG_Z, MG_U, MG_THETA: their offsets; MG_Q, MG_LAMBDA, MG_UNCONSTRAINED, MG_BUDGET,
// MG_ACTIVE, MG_RHO: a problem's words, Q row-major, Lambda, the unconstrained optimum,
// budget, bound, rho; MG_TRADE, MG_HOLD_MARKET: `params.phase` of a `finish_max_growth`
// dispatch, trade to the solution or, a trailing estimate with fewer than two returns
// so far, hold the market. All composed from src/engine/gpu/max_growth.rs.)
// Bounds on the inner searches (the f64 CPU solver allows 100 and 200; f32 settles sooner).
const MG_BALL_ROUNDS = 40u;
const MG_PROJECTION_ROUNDS = 64u;

// a = Lambda^-1 Q' (diag(Sigma) / 2 + gamma) - Q' mu, the target in the eigenbasis.
var<private> mg_target: array<f32, N>;
var<private> mg_z: array<f32, N>;
var<private> mg_u: array<f32, N>;
var<private> mg_d: array<f32, N>;
var<private> mg_rotated: array<f32, N>;
var<private> mg_shifted: array<f32, N>;
var<private> mg_cut: bool;
// Whether the current strategy's problem is per path in the state buffer (a trailing
// estimate: shaders/max_growth_estimate.wgsl) rather than shared in the model buffer.
var<private> mg_in_state: bool;

// Word `index` of the current problem (MG_DATA_BASE[s] + offset): a model-buffer
// index, or a state slot of this path. Uniform across invocations: no divergence.
fn mg_word(index: u32) -> f32 {
    if (mg_in_state) {
        return state[at(index, current_lane)];
    }
    return model[index];
}

// out = Q' x. Every invocation reads the same entry of Q at once.
fn mg_rotate_in(data: u32, x: ptr<private, array<f32, N>>, out: ptr<private, array<f32, N>>) {
    var k0 = 0u;
    for (; k0 < N; k0++) {
        (*out)[k0] = 0.0;
    }
    var i = 0u;
    for (; i < N; i++) {
        let xi = (*x)[i];
        let row = data + i * N;
        var k = 0u;
        for (; k < N; k++) {
            (*out)[k] += mg_word(row + k) * xi;
        }
        mg_cut = mg_cut || k != N;
    }
    mg_cut = mg_cut || i != N || k0 != N;
}

// out = Q y.
fn mg_rotate_out(data: u32, y: ptr<private, array<f32, N>>, out: ptr<private, array<f32, N>>) {
    var i = 0u;
    for (; i < N; i++) {
        let row = data + i * N;
        var sum = 0.0;
        var k = 0u;
        for (; k < N; k++) {
            sum += mg_word(row + k) * (*y)[k];
        }
        mg_cut = mg_cut || k != N;
        (*out)[i] = sum;
    }
    mg_cut = mg_cut || i != N;
}

// x' Sigma x from Q' x.
fn mg_sigma_square(data: u32, rotated: ptr<private, array<f32, N>>) -> f32 {
    var total = 0.0;
    var k = 0u;
    for (; k < N; k++) {
        total += mg_word(data + MG_LAMBDA + k) * (*rotated)[k] * (*rotated)[k];
    }
    mg_cut = mg_cut || k != N;
    return total;
}

// The ball's multiplier eta of the d-step: y_k = (l a_k + rho r_k) / (l (1 + 2 eta) + rho)
// with sum l y_k^2 = b^2, or 0 when eta = 0 is inside the budget. Newton on
// 1 / sqrt(te2) - 1 / b inside a bracket, as the CPU solver.
fn mg_ball_multiplier(data: u32, budget: f32, rho: f32) -> f32 {
    var te2 = 0.0;
    var spread = 0.0;
    var k = 0u;
    for (; k < N; k++) {
        let l = mg_word(data + MG_LAMBDA + k);
        let numerator = l * mg_target[k] + rho * mg_rotated[k];
        let y = numerator / (l + rho);
        te2 += l * y * y;
        spread += numerator * numerator / l;
    }
    mg_cut = mg_cut || k != N;
    let budget2 = budget * budget;
    if (te2 <= budget2) {
        return 0.0;
    }
    var low = 0.0;
    var high = sqrt(spread) / (2.0 * budget) + 1.0;
    var eta = 0.0;
    for (var rounds_done = 0u; rounds_done < MG_BALL_ROUNDS; rounds_done++) {
        var value = 0.0;
        var slope = 0.0;
        var j = 0u;
        for (; j < N; j++) {
            let l = mg_word(data + MG_LAMBDA + j);
            let denominator = l * (1.0 + 2.0 * eta) + rho;
            let y = (l * mg_target[j] + rho * mg_rotated[j]) / denominator;
            value += l * y * y;
            slope -= 4.0 * l * l * y * y / denominator;
        }
        mg_cut = mg_cut || j != N;
        let excess = value - budget2;
        if (abs(excess) <= 1e-6 * budget2) {
            break;
        }
        if (excess > 0.0) {
            low = eta;
        } else {
            high = eta;
        }
        if (high - low <= 1e-7 * high) {
            break;
        }
        let phi = 1.0 / sqrt(value) - 1.0 / budget;
        let phi_slope = -0.5 * slope / (value * sqrt(value));
        var next = 0.5 * (low + high);
        if (phi_slope > 0.0) {
            let step = eta - phi / phi_slope;
            if (step > low && step < high) {
                next = step;
            }
        }
        eta = next;
    }
    return eta;
}

fn mg_lower(i: u32, bound: f32) -> f32 {
    if (bound >= 0.0) {
        return -min(mu[i], bound);
    }
    return -mu[i];
}

fn mg_upper(i: u32, bound: f32) -> f32 {
    if (bound >= 0.0) {
        return bound;
    }
    return 1.0 - mu[i];
}

// mg_z = clip(mg_shifted - theta, lo, hi) with sum 0; returns theta
// (`project_onto_box_and_sum` in src/portfolio/optimize.rs).
fn mg_project(bound: f32, guess: f32) -> f32 {
    var low = 3.4028235e38;
    var high = -3.4028235e38;
    var i = 0u;
    for (; i < N; i++) {
        low = min(low, mg_shifted[i] - mg_upper(i, bound));
        high = max(high, mg_shifted[i] - mg_lower(i, bound));
    }
    mg_cut = mg_cut || i != N;
    var theta = clamp(guess, low, high);
    for (var rounds_done = 0u; rounds_done < MG_PROJECTION_ROUNDS; rounds_done++) {
        var total = 0.0;
        var free = 0.0;
        var j = 0u;
        for (; j < N; j++) {
            let value = mg_shifted[j] - theta;
            let lo = mg_lower(j, bound);
            let hi = mg_upper(j, bound);
            if (value <= lo) {
                total += lo;
            } else if (value >= hi) {
                total += hi;
            } else {
                total += value;
                free += 1.0;
            }
        }
        mg_cut = mg_cut || j != N;
        if (total == 0.0 || high - low <= 1.2e-7 * (1.0 + max(abs(low), abs(high)))) {
            break;
        }
        if (total > 0.0) {
            low = theta;
        } else {
            high = theta;
        }
        var next = 0.5 * (low + high);
        if (free > 0.0) {
            let step = theta + total / free;
            // A Newton step that no longer moves theta: the sum is zero to f32 precision.
            if (step == theta) {
                break;
            }
            if (step > low && step < high) {
                next = step;
            }
        }
        theta = next;
    }
    var k = 0u;
    for (; k < N; k++) {
        mg_z[k] = clamp(mg_shifted[k] - theta, mg_lower(k, bound), mg_upper(k, bound));
    }
    mg_cut = mg_cut || k != N;
    return theta;
}

// The start of both entry points: strategy s's flags, and the path's market weights
// and ADMM state.
fn mg_begin(s: u32, lane: u32) {
    mg_cut = false;
    mg_in_state = MG_IN_STATE[s] != 0u;
    current_lane = lane;
    let base = MG_STATE_BASE[s];
    var i = 0u;
    for (; i < N; i++) {
        mu[i] = state[at(MU_BASE + i, lane)];
        mg_z[i] = state[at(base + MG_Z + i, lane)];
        mg_u[i] = state[at(base + MG_U + i, lane)];
    }
    mg_cut = mg_cut || i != N;
}

@compute @workgroup_size(WORKGROUP)
fn solve_max_growth(@builtin(global_invocation_id) id: vec3<u32>) {
    let lane = id.x;
    if (lane >= params.batch_paths) {
        return;
    }
    let s = params.strategy;
    let base = MG_STATE_BASE[s];
    if (state[at(base + MG_DONE, lane)] != 0.0) {
        return;
    }
    let data = MG_DATA_BASE[s];
    mg_begin(s, lane);
    mg_rotate_in(data, &mu, &mg_target);
    var t = 0u;
    for (; t < N; t++) {
        mg_target[t] = mg_word(data + MG_UNCONSTRAINED + t) - mg_target[t];
    }
    mg_cut = mg_cut || t != N;
    let budget = mg_word(data + MG_BUDGET);
    let bound = mg_word(data + MG_ACTIVE);
    let rho = mg_word(data + MG_RHO);
    var theta = state[at(base + MG_THETA, lane)];
    var iterations = u32(state[at(base + MG_ITERATIONS, lane)]);
    var converged = false;
    var rounds_done = 0u;
    for (; rounds_done < params.iterations && !converged && iterations < MG_MAX_ITERATIONS; rounds_done++) {
        iterations += 1u;
        // d-step: argmin 1/2 ||d - d_u||^2_Sigma + rho/2 ||d - (z - u)||^2 on the ball.
        var j = 0u;
        for (; j < N; j++) {
            mg_shifted[j] = mg_z[j] - mg_u[j];
        }
        mg_cut = mg_cut || j != N;
        mg_rotate_in(data, &mg_shifted, &mg_rotated);
        let eta = mg_ball_multiplier(data, budget, rho);
        var k = 0u;
        for (; k < N; k++) {
            let l = mg_word(data + MG_LAMBDA + k);
            mg_shifted[k] = (l * mg_target[k] + rho * mg_rotated[k]) / (l * (1.0 + 2.0 * eta) + rho);
        }
        mg_cut = mg_cut || k != N;
        mg_rotate_out(data, &mg_shifted, &mg_d);
        // z-step: the projection of d + u onto P (the previous z kept in mg_rotated).
        var m = 0u;
        for (; m < N; m++) {
            mg_rotated[m] = mg_z[m];
            mg_shifted[m] = mg_d[m] + mg_u[m];
        }
        mg_cut = mg_cut || m != N;
        theta = mg_project(bound, theta);
        // u-step and the residuals.
        var primal = 0.0;
        var dual = 0.0;
        var r = 0u;
        for (; r < N; r++) {
            mg_u[r] += mg_d[r] - mg_z[r];
            primal = max(primal, abs(mg_d[r] - mg_z[r]));
            dual = max(dual, abs(mg_z[r] - mg_rotated[r]));
        }
        mg_cut = mg_cut || r != N;
        converged = primal < MG_TOLERANCE && dual < MG_TOLERANCE;
    }
    mg_cut = mg_cut || !(rounds_done == params.iterations || converged || iterations >= MG_MAX_ITERATIONS);
    var w = 0u;
    for (; w < N; w++) {
        state[at(base + MG_Z + w, lane)] = mg_z[w];
        state[at(base + MG_U + w, lane)] = mg_u[w];
    }
    mg_cut = mg_cut || w != N;
    let finished = converged || iterations >= MG_MAX_ITERATIONS;
    state[at(base + MG_THETA, lane)] = theta;
    state[at(base + MG_ITERATIONS, lane)] = f32(iterations);
    state[at(base + MG_DONE, lane)] = select(0.0, 1.0, finished);
    if (!finished) {
        raise_solver_flag(0u);
    }
    if (mg_cut) {
        raise_solver_flag(1u);
    }
}

// Turnover control (`MaxGrowthProblem::limit_turnover`): moves `target` back toward the
// held weights until half the traded weight is within `limit`, unless the budget or
// the bounds, which drift may have broken, need more.
fn mg_limit_turnover(data: u32, value: f32, limit: f32, budget: f32, bound: f32, s: u32) {
    var turnover = 0.0;
    var i = 0u;
    for (; i < N; i++) {
        let held = holding(s, i) / value;
        mg_shifted[i] = held - mu[i];
        mg_d[i] = targets[i] - held;
        turnover += 0.5 * abs(mg_d[i]);
    }
    mg_cut = mg_cut || i != N;
    var scale = 1.0;
    if (turnover > limit) {
        scale = limit / turnover;
    }
    mg_rotate_in(data, &mg_shifted, &mg_rotated);
    mg_rotate_in(data, &mg_d, &mg_u);
    var aa = 0.0;
    var av = 0.0;
    var vv = 0.0;
    var k = 0u;
    for (; k < N; k++) {
        let l = mg_word(data + MG_LAMBDA + k);
        aa += l * mg_rotated[k] * mg_rotated[k];
        av += l * mg_rotated[k] * mg_u[k];
        vv += l * mg_u[k] * mg_u[k];
    }
    mg_cut = mg_cut || k != N;
    let budget2 = budget * budget;
    if (aa > budget2 && vv > 0.0) {
        let discriminant = max(av * av - vv * (aa - budget2), 0.0);
        scale = max(scale, clamp((-av - sqrt(discriminant)) / vv, 0.0, 1.0));
    }
    if (bound >= 0.0) {
        var j = 0u;
        for (; j < N; j++) {
            let away = mg_shifted[j];
            let step = mg_d[j];
            if (abs(away) > bound && step != 0.0) {
                scale = max(scale, clamp((sign(away) * bound - away) / step, 0.0, 1.0));
            }
        }
        mg_cut = mg_cut || j != N;
    }
    var m = 0u;
    for (; m < N; m++) {
        targets[m] = mu[m] + mg_shifted[m] + scale * mg_d[m];
    }
    mg_cut = mg_cut || m != N;
}

// Keeps the largest residual of the weights' constraints: |sum - 1|, negative weights,
// tracking error over the budget, active weights over the bound.
fn record_residual(data: u32, lane: u32, base: u32, budget: f32, bound: f32) {
    var sum = 0.0;
    var worst = 0.0;
    var i = 0u;
    for (; i < N; i++) {
        sum += targets[i];
        worst = max(worst, -targets[i]);
        mg_d[i] = targets[i] - mu[i];
        if (bound >= 0.0) {
            worst = max(worst, abs(mg_d[i]) - bound);
        }
    }
    mg_cut = mg_cut || i != N;
    mg_rotate_in(data, &mg_d, &mg_rotated);
    worst = max(worst, max(abs(sum - 1.0), sqrt(mg_sigma_square(data, &mg_rotated)) - budget));
    state[at(base + MG_RESIDUAL, lane)] = max(state[at(base + MG_RESIDUAL, lane)], worst);
}

@compute @workgroup_size(WORKGROUP)
fn finish_max_growth(@builtin(global_invocation_id) id: vec3<u32>) {
    let lane = id.x;
    if (lane >= params.batch_paths) {
        return;
    }
    let s = params.strategy;
    let base = MG_STATE_BASE[s];
    let data = MG_DATA_BASE[s];
    mg_begin(s, lane);
    load_strategy(s, lane);
    // The log caps, for the size tilt of the rebalance (close_period).
    var c = 0u;
    for (; c < N; c++) {
        set_log_cap(c, state[at(LOG_CAPS_BASE + c, lane)]);
    }
    mg_cut = mg_cut || c != N;
    let value = slot_value(s, SLOT_HOLDINGS_VALUE);
    if (params.phase == MG_HOLD_MARKET) {
        // A trailing estimate with fewer than two returns: the strategy holds the market.
        var h = 0u;
        for (; h < N; h++) {
            targets[h] = mu[h];
        }
        mg_cut = mg_cut || h != N;
    } else {
        // Exactly feasible: z is in P; scale it toward the market to meet the budget.
        let budget = mg_word(data + MG_BUDGET);
        mg_rotate_in(data, &mg_z, &mg_rotated);
        let norm = sqrt(mg_sigma_square(data, &mg_rotated));
        var scale = 1.0;
        if (norm > budget) {
            scale = budget / norm;
        }
        var t = 0u;
        for (; t < N; t++) {
            targets[t] = mu[t] + scale * mg_z[t];
        }
        mg_cut = mg_cut || t != N;
        if (MG_TURNOVER[s] >= 0.0) {
            mg_limit_turnover(data, value, MG_TURNOVER[s], budget, mg_word(data + MG_ACTIVE), s);
        }
        record_residual(data, lane, base, budget, mg_word(data + MG_ACTIVE));
    }
    // max_growth is not functionally generated: log G = 0 in the decomposition.
    var cut = false;
    let cost_factor = close_period(s, 0.0, state[at(LOG_TOTAL, lane)], value, true, &cut);
    accumulate_returns(s, state[at(base + MG_GROSS, lane)], cost_factor, state[at(MG_MARKET_GROSS, lane)]);
    store_strategy(s, lane);
    state[at(base + MG_ITERATIONS, lane)] = 0.0;
    state[at(base + MG_DONE, lane)] = 0.0;
    if (cut || mg_cut) {
        raise_solver_flag(1u);
    }
}
