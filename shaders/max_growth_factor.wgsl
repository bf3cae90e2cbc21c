// The max_growth weighting on the GPU when the believed covariance has a factor form,
// Sigma = B B' + D: the dual method of src/portfolio/factor_solver.rs (`FactorForm::solve`)
// in f32. Nothing per stock is kept but the path's market weights: every weight is a
// function of the K + 1 dual multipliers, d_i = clip((q_i + B_i lambda - theta) / D_i,
// lo_i, hi_i), recomputed in each pass over the stocks, so a pass costs O(N K^2) and
// no private array grows with N (shaders/max_growth.wgsl's eigenbasis solver keeps
// N x N products and N-sized arrays: 700 stocks at most on hardware).
//
// Outer: the budget's multiplier eta (q = q0 / (1 + 2 eta)) by safeguarded secant
// steps on 1 / ||d||_Sigma - 1 / b inside a bracket. Inner: for each eta, semismooth
// Newton on the concave dual in (lambda, theta), with a backtracking line search;
// a step is exact once no weight changes region (below, inside or above its bounds),
// and the inner solve ends after two exact full steps in a row, or when the step's
// predicted gain is below what the f32 dual value can show. The multipliers and eta carry over from the
// path's last rebalance (a warm start). One Newton step (with its line search) never
// spans dispatches: `solve_max_growth_factor` takes steps while the worst case of one
// more fits `params.iterations` loop iterations (llvmpipe's cap on software adapters).
//
// Composed after the per-path kernel and max_growth_common.wgsl, with the loops over
// factors (`KF`, `KF1` = KF + 1) unrolled with literal indices. Constants (all from
// src/engine/gpu/max_growth.rs): MGF_LOADINGS, MGF_IDIO, MGF_LINEAR, MGF_BUDGET,
// MGF_ACTIVE (a problem's words: B row-major, D, a = diag(Sigma) / 2 + gamma, budget,
// bound or -1); MGF_THETA ... MGF_LAMBDA (a path's solver block after MG_ITERATIONS);
// MGF_MAX_HALVINGS, MGF_MAX_NEWTON, MGF_MAX_EVALUATIONS, MGF_BUDGET_TOLERANCE,
// MGF_BRACKET_TOLERANCE, MGF_DECREMENT, MGF_SUM_ROUNDS; MGF_PASS_TRIPS,
// MGF_CHOLESKY_TRIPS, MGF_STEP_TRIPS, MGF_LOAD_TRIPS (loop iterations of a pass, a
// Newton direction, a Newton step at most, loading the path's arrays).

// The outer search's stages: at the last rebalance's eta, at eta = 0 (the last eta
// met the budget), and the bracketed search.
const MGF_STAGE_FIRST = 0u;
const MGF_STAGE_ZERO = 1u;
const MGF_STAGE_SEARCH = 2u;

// What one pass over the stocks finds at a point (lambda, theta) of the dual.
struct MgfPoint {
    // The dual's value, sum d, d' Sigma d, and theta's free range at this lambda
    // (beyond it every weight sits at one bound).
    value: f32,
    sum: f32,
    norm2: f32,
    theta_low: f32,
    theta_high: f32,
    // Weights in another region (below, inside or above their bounds) here than at the
    // current point.
    changed: u32,
    // B'd, and M = I (+) 0 + sum over free i of (B_i, -1)(B_i, -1)' / D_i, the dual's
    // Hessian negated (lower triangle, row-major, KF1 x KF1).
    exposures: array<f32, KF>,
    m: array<f32, KF1SQ>,
}

var<private> mgf_current: MgfPoint;
var<private> mgf_trial: MgfPoint;
// The current point and a trial one.
var<private> mgf_lambda: array<f32, KF>;
var<private> mgf_theta: f32;
var<private> mgf_trial_lambda: array<f32, KF>;
// B' mu, for q0 = a - D mu - B (B' mu).
var<private> mgf_market_exposures: array<f32, KF>;
// (B_i, -1) of the stock a pass is at.
var<private> mgf_row: array<f32, KF1>;
// The Newton direction in (lambda, theta), and the Cholesky factor of the scaled M.
var<private> mgf_direction: array<f32, KF1>;
var<private> mgf_factor: array<f32, KF1SQ>;
var<private> mgf_scales: array<f32, KF1>;
var<private> mgf_data: u32;
var<private> mgf_bound: f32;
var<private> mgf_cut: bool;
// Loop iterations this dispatch has run (llvmpipe's cap counts them all).
var<private> mgf_trips: u32;

fn mgf_lower(weight: f32) -> f32 {
    if (mgf_bound >= 0.0) {
        return -min(weight, mgf_bound);
    }
    return -weight;
}

fn mgf_upper(weight: f32) -> f32 {
    if (mgf_bound >= 0.0) {
        return mgf_bound;
    }
    return 1.0 - weight;
}

// 0 below the bounds (at lo), 1 inside (free), 2 above (at hi).
fn mgf_region(unclipped: f32, lo: f32, hi: f32) -> u32 {
    return select(select(1u, 2u, unclipped >= hi), 0u, unclipped <= lo);
}

fn mgf_load_row(i: u32) {
    let row = mgf_data + MGF_LOADINGS + i * KF;
    var kf = 0u;
    for (; kf < KF; kf++) { // unroll
        mgf_row[kf] = model[row + kf];
    }
    mgf_row[KF] = -1.0;
}

// B_i x for the row loaded.
fn mgf_row_dot(x: ptr<private, array<f32, KF>>) -> f32 {
    var sum = 0.0;
    var kf = 0u;
    for (; kf < KF; kf++) { // unroll
        sum = fma(mgf_row[kf], (*x)[kf], sum);
    }
    return sum;
}

// q0_i = a_i - D_i mu_i - B_i (B' mu) for the row loaded.
fn mgf_q0(i: u32, weight: f32, variance: f32) -> f32 {
    return model[mgf_data + MGF_LINEAR + i] - variance * weight - mgf_row_dot(&mgf_market_exposures);
}

// B' mu (one pass).
fn mgf_find_market_exposures() {
    var kz = 0u;
    for (; kz < KF; kz++) { // unroll
        mgf_market_exposures[kz] = 0.0;
    }
    var i = 0u;
    for (; i < N; i++) {
        mgf_load_row(i);
        let weight = market_weight(i);
        var kf = 0u;
        for (; kf < KF; kf++) { // unroll
            mgf_market_exposures[kf] = fma(mgf_row[kf], weight, mgf_market_exposures[kf]);
        }
    }
    mgf_cut = mgf_cut || i != N;
    mgf_trips += MGF_PASS_TRIPS;
}

// mgf_trial at (lambda, theta) with the linear term q = q0 * scale, scale = 1 / (1 + 2 eta).
fn mgf_evaluate(lambda: ptr<private, array<f32, KF>>, theta: f32, scale: f32) {
    mgf_trial.value = 0.0;
    mgf_trial.sum = 0.0;
    mgf_trial.norm2 = 0.0;
    mgf_trial.theta_low = 3.4028235e38;
    mgf_trial.theta_high = -3.4028235e38;
    mgf_trial.changed = 0u;
    var kz = 0u;
    for (; kz < KF; kz++) { // unroll
        mgf_trial.exposures[kz] = 0.0;
    }
    var ma = 0u;
    for (; ma < KF1; ma++) { // unroll
        var mb = 0u;
        for (; mb < KF1; mb++) { // unroll
            mgf_trial.m[ma * KF1 + mb] = select(0.0, 1.0, ma == mb && ma < KF);
        }
    }
    var i = 0u;
    for (; i < N; i++) {
        mgf_load_row(i);
        let weight = market_weight(i);
        let lo = mgf_lower(weight);
        let hi = mgf_upper(weight);
        let variance = model[mgf_data + MGF_IDIO + i];
        let q = scale * mgf_q0(i, weight, variance);
        let reach = q + mgf_row_dot(lambda);
        let pull = reach - theta;
        let unclipped = pull / variance;
        let d = clamp(unclipped, lo, hi);
        let free = unclipped > lo && unclipped < hi;
        let current = (q + mgf_row_dot(&mgf_lambda) - mgf_theta) / variance;
        if (mgf_region(unclipped, lo, hi) != mgf_region(current, lo, hi)) {
            mgf_trial.changed += 1u;
        }
        mgf_trial.value += (0.5 * variance * d - pull) * d;
        mgf_trial.sum += d;
        mgf_trial.norm2 += variance * d * d;
        mgf_trial.theta_low = min(mgf_trial.theta_low, reach - hi * variance);
        mgf_trial.theta_high = max(mgf_trial.theta_high, reach - lo * variance);
        var kf = 0u;
        for (; kf < KF; kf++) { // unroll
            mgf_trial.exposures[kf] = fma(mgf_row[kf], d, mgf_trial.exposures[kf]);
        }
        if (free) {
            let inverse = 1.0 / variance;
            var ka = 0u;
            for (; ka < KF1; ka++) { // unroll
                let weighted = inverse * mgf_row[ka];
                var kb = 0u;
                for (; kb < KF1; kb++) { // unroll
                    if (kb <= ka) {
                        mgf_trial.m[ka * KF1 + kb] = fma(weighted, mgf_row[kb], mgf_trial.m[ka * KF1 + kb]);
                    }
                }
            }
        }
    }
    mgf_cut = mgf_cut || i != N;
    var kl = 0u;
    for (; kl < KF; kl++) { // unroll
        mgf_trial.value -= 0.5 * (*lambda)[kl] * (*lambda)[kl];
        mgf_trial.norm2 += mgf_trial.exposures[kl] * mgf_trial.exposures[kl];
    }
    mgf_trips += MGF_PASS_TRIPS;
}

// The dual's gradient at mgf_current in (lambda, theta), component k: -B'd - lambda, sum d.
fn mgf_gradient(k: u32) -> f32 {
    if (k == KF) {
        return mgf_current.sum;
    }
    return -mgf_current.exposures[k] - mgf_lambda[k];
}

// The same at mgf_trial, the trial's multipliers in mgf_trial_lambda.
fn mgf_trial_gradient(k: u32) -> f32 {
    if (k == KF) {
        return mgf_trial.sum;
    }
    return -mgf_trial.exposures[k] - mgf_trial_lambda[k];
}

// mgf_direction = M^-1 g at mgf_current by Cholesky of M scaled to a unit diagonal (a
// ridge on theta's entry keeps M definite when no weight is free: the long step it
// gives is cut at theta's free range). False when M is not positive definite in f32.
fn mgf_find_direction() -> bool {
    mgf_trips += MGF_CHOLESKY_TRIPS;
    var a = 0u;
    for (; a < KF1; a++) {
        var diagonal = mgf_current.m[a * KF1 + a];
        if (a == KF) {
            diagonal += 1e-6 * (1.0 + diagonal);
        }
        if (!(diagonal > 0.0)) {
            return false;
        }
        mgf_scales[a] = inverseSqrt(diagonal);
        var b = 0u;
        for (; b < a; b++) {
            mgf_factor[a * KF1 + b] = mgf_current.m[a * KF1 + b] * mgf_scales[a] * mgf_scales[b];
        }
        mgf_cut = mgf_cut || b != a;
        mgf_factor[a * KF1 + a] = 1.0;
    }
    mgf_cut = mgf_cut || a != KF1;
    // Cholesky in place: L L' = S M S.
    var j = 0u;
    for (; j < KF1; j++) {
        var pivot = mgf_factor[j * KF1 + j];
        var k = 0u;
        for (; k < j; k++) {
            pivot -= mgf_factor[j * KF1 + k] * mgf_factor[j * KF1 + k];
        }
        if (!(pivot > 0.0)) {
            return false;
        }
        let root = sqrt(pivot);
        mgf_factor[j * KF1 + j] = root;
        var r = j + 1u;
        for (; r < KF1; r++) {
            var entry = mgf_factor[r * KF1 + j];
            var c = 0u;
            for (; c < j; c++) {
                entry -= mgf_factor[r * KF1 + c] * mgf_factor[j * KF1 + c];
            }
            mgf_factor[r * KF1 + j] = entry / root;
        }
    }
    mgf_cut = mgf_cut || j != KF1;
    // L y = S g, then L' x = y; the direction is S x.
    var f = 0u;
    for (; f < KF1; f++) {
        var value = mgf_scales[f] * mgf_gradient(f);
        var c = 0u;
        for (; c < f; c++) {
            value -= mgf_factor[f * KF1 + c] * mgf_direction[c];
        }
        mgf_direction[f] = value / mgf_factor[f * KF1 + f];
    }
    var back = 0u;
    for (; back < KF1; back++) {
        let row = KF - back;
        var value = mgf_direction[row];
        var c = row + 1u;
        for (; c < KF1; c++) {
            value -= mgf_factor[c * KF1 + row] * mgf_direction[c];
        }
        mgf_direction[row] = value / mgf_factor[row * KF1 + row];
    }
    var g = 0u;
    for (; g < KF1; g++) {
        mgf_direction[g] *= mgf_scales[g];
    }
    mgf_cut = mgf_cut || f != KF1 || back != KF1 || g != KF1;
    return true;
}

// One Newton step from mgf_current (its line search included): 0 when no step gained
// (the inner solve is as far as f32 goes), 1 for a step, 2 for an exact step (the
// full step, with no weight changing sides: the dual's maximum on that piece).
fn mgf_newton_step(scale: f32) -> u32 {
    if (!mgf_find_direction()) {
        return 0u;
    }
    var slope = 0.0;
    var kd = 0u;
    for (; kd < KF1; kd++) { // unroll
        slope += mgf_gradient(kd) * mgf_direction[kd];
    }
    // No ascent, or a gain the dual's f32 value could not show: as far as f32 goes.
    if (!(slope > MGF_DECREMENT * abs(mgf_current.value))) {
        return 0u;
    }
    // A step of theta past its free range (long when few weights are free) starts
    // shortened to reach the range's edge.
    let step_theta = mgf_direction[KF];
    var edge = mgf_current.theta_low;
    if (step_theta > 0.0) {
        edge = mgf_current.theta_high;
    }
    var t = 1.0;
    if (step_theta != 0.0 && (mgf_theta + step_theta - edge) * sign(step_theta) > 0.0) {
        t = clamp((edge - mgf_theta) / step_theta, 1.1754944e-38, 1.0);
    }
    var halvings = 0u;
    for (; halvings < MGF_MAX_HALVINGS; halvings++) {
        var kt = 0u;
        for (; kt < KF; kt++) { // unroll
            mgf_trial_lambda[kt] = mgf_lambda[kt] + t * mgf_direction[kt];
        }
        let trial_theta = mgf_theta + t * step_theta;
        // A step that rounds to nothing moves nothing.
        var moved = trial_theta != mgf_theta;
        var km = 0u;
        for (; km < KF; km++) { // unroll
            moved = moved || mgf_trial_lambda[km] != mgf_lambda[km];
        }
        if (!moved) {
            return 0u;
        }
        mgf_evaluate(&mgf_trial_lambda, trial_theta, scale);
        let exact = t == 1.0 && mgf_trial.changed == 0u;
        // The dual is concave: a trial whose slope along the direction is still
        // non-negative gained; else the sufficient increase is judged on the values.
        var along = 0.0;
        var ks = 0u;
        for (; ks < KF1; ks++) { // unroll
            along += mgf_trial_gradient(ks) * mgf_direction[ks];
        }
        if (exact || along >= 0.0 || mgf_trial.value >= mgf_current.value + 1e-4 * t * slope) {
            var ka = 0u;
            for (; ka < KF; ka++) { // unroll
                mgf_lambda[ka] = mgf_trial_lambda[ka];
            }
            mgf_theta = trial_theta;
            mgf_current = mgf_trial;
            return select(1u, 2u, exact);
        }
        t *= 0.5;
    }
    return 0u;
}

// Whether eta and the current multipliers are all finite (NaN fails every comparison).
fn mgf_is_finite_point(eta: f32) -> bool {
    var finite = abs(eta) <= 3.4028235e38 && abs(mgf_theta) <= 3.4028235e38;
    var kf = 0u;
    for (; kf < KF; kf++) { // unroll
        finite = finite && abs(mgf_lambda[kf]) <= 3.4028235e38;
    }
    return finite;
}

// The start of both entry points: strategy s's problem, the path's market weights and
// B' mu, and the multipliers the path carries.
fn mgf_begin(s: u32, lane: u32) {
    mgf_cut = false;
    mgf_trips = 0u;
    current_lane = lane;
    load_path_arrays(lane);
    mgf_trips += MGF_LOAD_TRIPS;
    mgf_data = MG_DATA_BASE[s];
    mgf_bound = model[mgf_data + MGF_ACTIVE];
    let base = MG_STATE_BASE[s];
    var kl = 0u;
    for (; kl < KF; kl++) { // unroll
        mgf_lambda[kl] = state[at(base + MGF_LAMBDA + kl, lane)];
    }
    mgf_theta = state[at(base + MGF_THETA, lane)];
    mgf_find_market_exposures();
}

// The budget's search, given ||d||_Sigma at eta: the next eta, or -1 when eta is the
// answer (kept in MGF_ETA for the next rebalance). As `FactorForm::solve`.
fn mgf_next_eta(base: u32, lane: u32, eta: f32, norm: f32, budget: f32) -> f32 {
    let stage = u32(state[at(base + MGF_STAGE, lane)]);
    let phi = 1.0 / norm - 1.0 / budget;
    // (A norm that is not a number counts as over the budget: eta grows.)
    if (stage != MGF_STAGE_SEARCH && norm <= budget) {
        if (stage == MGF_STAGE_FIRST && eta > 0.0) {
            // The last rebalance's eta meets the budget: so may eta = 0.
            state[at(base + MGF_HIGH, lane)] = eta;
            state[at(base + MGF_PHI_HIGH, lane)] = phi;
            state[at(base + MGF_STAGE, lane)] = f32(MGF_STAGE_ZERO);
            return 0.0;
        }
        state[at(base + MGF_ETA, lane)] = 0.0;
        return -1.0;
    }
    if (stage == MGF_STAGE_SEARCH && abs(norm - budget) <= MGF_BUDGET_TOLERANCE * budget) {
        state[at(base + MGF_ETA, lane)] = eta;
        return -1.0;
    }
    state[at(base + MGF_STAGE, lane)] = f32(MGF_STAGE_SEARCH);
    var low = state[at(base + MGF_LOW, lane)];
    var phi_low = state[at(base + MGF_PHI_LOW, lane)];
    // No upper end yet: -1.
    var high = state[at(base + MGF_HIGH, lane)];
    var phi_high = state[at(base + MGF_PHI_HIGH, lane)];
    if (!(norm <= budget)) {
        low = eta;
        phi_low = phi;
    } else {
        high = eta;
        phi_high = phi;
    }
    if (high >= 0.0 && high - low <= MGF_BRACKET_TOLERANCE * high) {
        state[at(base + MGF_ETA, lane)] = eta;
        return -1.0;
    }
    // Secant through the last two points (phi is nearly linear in eta), else from one
    // point the eta at which h (1 + 2 eta), constant without binding bounds, meets b;
    // inside the bracket, else regula falsi (or doubling without an upper end).
    let last_eta = state[at(base + MGF_LAST_ETA, lane)];
    let last_phi = state[at(base + MGF_LAST_PHI, lane)];
    var next = 0.5 * ((1.0 + 2.0 * eta) * norm / budget - 1.0);
    if (last_eta >= 0.0 && last_eta != eta && last_phi != phi) {
        next = eta - phi * (eta - last_eta) / (phi - last_phi);
    }
    if (!(next > low && (high < 0.0 || next < high))) {
        if (high >= 0.0) {
            next = low - phi_low * (high - low) / (phi_high - phi_low);
        } else {
            next = 2.0 * low + 1e-6;
        }
    }
    state[at(base + MGF_LOW, lane)] = low;
    state[at(base + MGF_PHI_LOW, lane)] = phi_low;
    state[at(base + MGF_HIGH, lane)] = high;
    state[at(base + MGF_PHI_HIGH, lane)] = phi_high;
    state[at(base + MGF_LAST_ETA, lane)] = eta;
    state[at(base + MGF_LAST_PHI, lane)] = phi;
    return next;
}

@compute @workgroup_size(WORKGROUP)
fn solve_max_growth_factor(@builtin(global_invocation_id) id: vec3<u32>) {
    let lane = id.x;
    if (lane >= params.batch_paths) {
        return;
    }
    let s = params.strategy;
    let base = MG_STATE_BASE[s];
    if (state[at(base + MG_DONE, lane)] != 0.0) {
        return;
    }
    mgf_begin(s, lane);
    let budget = model[mgf_data + MGF_BUDGET];
    var iterations = u32(state[at(base + MG_ITERATIONS, lane)]);
    if (iterations == 0u) {
        // A new solve: the search starts at the last rebalance's eta.
        state[at(base + MGF_STAGE, lane)] = f32(MGF_STAGE_FIRST);
        state[at(base + MGF_NEWTON, lane)] = 0.0;
        state[at(base + MGF_EXACT, lane)] = 0.0;
        state[at(base + MGF_EVALUATIONS, lane)] = 0.0;
        state[at(base + MGF_LOW, lane)] = 0.0;
        state[at(base + MGF_PHI_LOW, lane)] = 0.0;
        state[at(base + MGF_HIGH, lane)] = -1.0;
        state[at(base + MGF_PHI_HIGH, lane)] = 0.0;
        state[at(base + MGF_LAST_ETA, lane)] = -1.0;
        state[at(base + MGF_LAST_PHI, lane)] = 0.0;
    }
    var eta = state[at(base + MGF_ETA, lane)];
    if (iterations == 0u && !mgf_is_finite_point(eta)) {
        // A start that is not a number (f32 overflow on an earlier rebalance) is dropped,
        // so one bad solve cannot spoil the path's later ones.
        eta = 0.0;
        mgf_theta = 0.0;
        var kr = 0u;
        for (; kr < KF; kr++) { // unroll
            mgf_lambda[kr] = 0.0;
        }
    }
    var newton = u32(state[at(base + MGF_NEWTON, lane)]);
    var exact_before = state[at(base + MGF_EXACT, lane)] != 0.0;
    var evaluations = u32(state[at(base + MGF_EVALUATIONS, lane)]);
    mgf_evaluate(&mgf_lambda, mgf_theta, 1.0 / (1.0 + 2.0 * eta));
    mgf_current = mgf_trial;
    var finished = false;
    var rounds = 0u;
    for (; !finished && mgf_trips + MGF_STEP_TRIPS <= params.iterations; rounds++) {
        iterations += 1u;
        newton += 1u;
        let taken = mgf_newton_step(1.0 / (1.0 + 2.0 * eta));
        let exact = taken == 2u;
        let settled = taken == 0u || (exact && exact_before) || newton >= MGF_MAX_NEWTON;
        exact_before = exact;
        if (settled) {
            // The minimiser over P at this eta: its tracking error moves the budget's search.
            evaluations += 1u;
            newton = 0u;
            exact_before = false;
            let next = mgf_next_eta(base, lane, eta, sqrt(max(mgf_current.norm2, 0.0)), budget);
            if (next < 0.0 || evaluations >= MGF_MAX_EVALUATIONS) {
                if (next >= 0.0) {
                    state[at(base + MGF_ETA, lane)] = eta;
                }
                finished = true;
            } else {
                eta = next;
                mgf_evaluate(&mgf_lambda, mgf_theta, 1.0 / (1.0 + 2.0 * eta));
                mgf_current = mgf_trial;
            }
        }
    }
    if (!finished) {
        state[at(base + MGF_ETA, lane)] = eta;
    }
    // Each path takes at least one step per dispatch (the host sizes the budget so).
    mgf_cut = mgf_cut || rounds == 0u;
    var kl = 0u;
    for (; kl < KF; kl++) { // unroll
        state[at(base + MGF_LAMBDA + kl, lane)] = mgf_lambda[kl];
    }
    state[at(base + MGF_THETA, lane)] = mgf_theta;
    state[at(base + MGF_NEWTON, lane)] = f32(newton);
    state[at(base + MGF_EXACT, lane)] = select(0.0, 1.0, exact_before);
    state[at(base + MGF_EVALUATIONS, lane)] = f32(evaluations);
    state[at(base + MG_ITERATIONS, lane)] = f32(iterations);
    state[at(base + MG_DONE, lane)] = select(0.0, 1.0, finished);
    if (!finished) {
        raise_solver_flag(0u);
    }
    if (mgf_cut) {
        raise_solver_flag(1u);
    }
}

// The active weight of stock i at the solution, before the sum's last correction.
fn mgf_solution(i: u32, scale: f32) -> f32 {
    mgf_load_row(i);
    let weight = market_weight(i);
    let variance = model[mgf_data + MGF_IDIO + i];
    let pull = scale * mgf_q0(i, weight, variance) + mgf_row_dot(&mgf_lambda) - mgf_theta;
    return clamp(pull / variance, mgf_lower(weight), mgf_upper(weight));
}

// x' Sigma x and x' Sigma y accumulated over one stock (row loaded), into
// (xx, xy, yy) with the factor exposures of x and y in mgf_trial_lambda and
// mgf_direction (scratch here).
fn mgf_add_inner(i: u32, x: f32, y: f32, sums: ptr<function, vec3<f32>>) {
    let variance = model[mgf_data + MGF_IDIO + i];
    *sums += vec3<f32>(variance * x * x, variance * x * y, variance * y * y);
    var kf = 0u;
    for (; kf < KF; kf++) { // unroll
        mgf_trial_lambda[kf] = fma(mgf_row[kf], x, mgf_trial_lambda[kf]);
        mgf_direction[kf] = fma(mgf_row[kf], y, mgf_direction[kf]);
    }
}

fn mgf_start_inner() {
    var kf = 0u;
    for (; kf < KF; kf++) { // unroll
        mgf_trial_lambda[kf] = 0.0;
        mgf_direction[kf] = 0.0;
    }
}

fn mgf_finish_inner(sums: vec3<f32>) -> vec3<f32> {
    var total = sums;
    var kf = 0u;
    for (; kf < KF; kf++) { // unroll
        let x = mgf_trial_lambda[kf];
        let y = mgf_direction[kf];
        total += vec3<f32>(x * x, x * y, y * y);
    }
    return total;
}

// Turnover control (`MaxGrowthProblem::limit_turnover`, as mg_limit_turnover): moves
// the targets back toward the held weights until half the traded weight is within
// `limit`, unless the budget or the bounds, which drift may have broken, need more.
fn mgf_limit_turnover(value: f32, limit: f32, budget: f32, s: u32) {
    var turnover = 0.0;
    var sums = vec3<f32>(0.0);
    mgf_start_inner();
    var i = 0u;
    for (; i < N; i++) {
        mgf_load_row(i);
        let held = holding(s, i) / value;
        let away = held - market_weight(i);
        let step = rebalance_target(i) - held;
        turnover += 0.5 * abs(step);
        mgf_add_inner(i, away, step, &sums);
    }
    mgf_cut = mgf_cut || i != N;
    let inner = mgf_finish_inner(sums);
    var scale = 1.0;
    if (turnover > limit) {
        scale = limit / turnover;
    }
    let budget2 = budget * budget;
    if (inner.x > budget2 && inner.z > 0.0) {
        let discriminant = max(inner.y * inner.y - inner.z * (inner.x - budget2), 0.0);
        scale = max(scale, clamp((-inner.y - sqrt(discriminant)) / inner.z, 0.0, 1.0));
    }
    if (mgf_bound >= 0.0) {
        var j = 0u;
        for (; j < N; j++) {
            let held = holding(s, j) / value;
            let away = held - market_weight(j);
            let step = rebalance_target(j) - held;
            if (abs(away) > mgf_bound && step != 0.0) {
                scale = max(scale, clamp((sign(away) * mgf_bound - away) / step, 0.0, 1.0));
            }
        }
        mgf_cut = mgf_cut || j != N;
    }
    var m = 0u;
    for (; m < N; m++) {
        let held = holding(s, m) / value;
        set_rebalance_target(m, held + scale * (rebalance_target(m) - held));
    }
    mgf_cut = mgf_cut || m != N;
}

// Keeps the largest residual of the weights' constraints: |sum - 1|, negative weights,
// tracking error over the budget, active weights over the bound.
fn mgf_record_residual(base: u32, lane: u32, budget: f32) {
    var sum = 0.0;
    var worst = 0.0;
    var sums = vec3<f32>(0.0);
    mgf_start_inner();
    var i = 0u;
    for (; i < N; i++) {
        mgf_load_row(i);
        let new_weight = rebalance_target(i);
        let active_weight = new_weight - market_weight(i);
        sum += new_weight;
        worst = max(worst, -new_weight);
        if (mgf_bound >= 0.0) {
            worst = max(worst, abs(active_weight) - mgf_bound);
        }
        mgf_add_inner(i, active_weight, 0.0, &sums);
    }
    mgf_cut = mgf_cut || i != N;
    let tracking_error = sqrt(mgf_finish_inner(sums).x);
    worst = max(worst, max(abs(sum - 1.0), tracking_error - budget));
    state[at(base + MG_RESIDUAL, lane)] = max(state[at(base + MG_RESIDUAL, lane)], worst);
}

// The shift s with sum clip(d_i - s, lo_i, hi_i) = 0 for the active weights d in the
// targets (`project_onto_box_and_sum` in src/portfolio/projection.rs, as mg_project):
// Newton steps from 0, exact once on the right piece, inside a bracket that bisection
// narrows when a step would leave it; at most MGF_SUM_ROUNDS passes.
fn mgf_restore_sum() -> f32 {
    var low = 3.4028235e38;
    var high = -3.4028235e38;
    var i = 0u;
    for (; i < N; i++) {
        let weight = market_weight(i);
        let d = rebalance_target(i);
        low = min(low, d - mgf_upper(weight));
        high = max(high, d - mgf_lower(weight));
    }
    mgf_cut = mgf_cut || i != N;
    var shift = clamp(0.0, low, high);
    for (var rounds = 0u; rounds < MGF_SUM_ROUNDS; rounds++) {
        var total = 0.0;
        var free = 0.0;
        var j = 0u;
        for (; j < N; j++) {
            let weight = market_weight(j);
            let lo = mgf_lower(weight);
            let hi = mgf_upper(weight);
            let value = rebalance_target(j) - shift;
            total += clamp(value, lo, hi);
            if (value > lo && value < hi) {
                free += 1.0;
            }
        }
        mgf_cut = mgf_cut || j != N;
        if (total == 0.0 || high - low <= 1.2e-7 * (1.0 + max(abs(low), abs(high)))) {
            break;
        }
        if (total > 0.0) {
            low = shift;
        } else {
            high = shift;
        }
        var next = 0.5 * (low + high);
        if (free > 0.0) {
            let step = shift + total / free;
            // A step that no longer moves the shift: the sum is zero to f32 precision.
            if (step == shift) {
                break;
            }
            if (step > low && step < high) {
                next = step;
            }
        }
        shift = next;
    }
    return shift;
}

@compute @workgroup_size(WORKGROUP)
fn finish_max_growth_factor(@builtin(global_invocation_id) id: vec3<u32>) {
    let lane = id.x;
    if (lane >= params.batch_paths) {
        return;
    }
    let s = params.strategy;
    let base = MG_STATE_BASE[s];
    mgf_begin(s, lane);
    load_strategy(s, lane);
    let value = slot_value(s, SLOT_HOLDINGS_VALUE);
    let budget = model[mgf_data + MGF_BUDGET];
    let scale = 1.0 / (1.0 + 2.0 * state[at(base + MGF_ETA, lane)]);
    // The solution's active weights (in the targets for now), their sum made zero by
    // the Euclidean shift of `restore_sum` (the dual leaves it near zero, exactly so
    // only to f32 rounding), and their Sigma-norm.
    var i = 0u;
    for (; i < N; i++) {
        set_rebalance_target(i, mgf_solution(i, scale));
    }
    mgf_cut = mgf_cut || i != N;
    let shift = mgf_restore_sum();
    var sums = vec3<f32>(0.0);
    mgf_start_inner();
    var j = 0u;
    for (; j < N; j++) {
        mgf_load_row(j);
        let weight = market_weight(j);
        let d = clamp(rebalance_target(j) - shift, mgf_lower(weight), mgf_upper(weight));
        set_rebalance_target(j, d);
        mgf_add_inner(j, d, 0.0, &sums);
    }
    mgf_cut = mgf_cut || j != N;
    // Exactly feasible: d is in P; scale it toward the market to meet the budget.
    let norm = sqrt(mgf_finish_inner(sums).x);
    var toward = 1.0;
    if (norm > budget) {
        toward = budget / norm;
    }
    var t = 0u;
    for (; t < N; t++) {
        set_rebalance_target(t, market_weight(t) + toward * rebalance_target(t));
    }
    mgf_cut = mgf_cut || t != N;
    if (MG_TURNOVER[s] >= 0.0) {
        mgf_limit_turnover(value, MG_TURNOVER[s], budget, s);
    }
    mgf_record_residual(base, lane, budget);
    // max_growth is not functionally generated: log G = 0 in the decomposition.
    var cut = false;
    let cost_factor = close_period(s, 0.0, state[at(LOG_TOTAL, lane)], value, true, &cut);
    accumulate_returns(s, state[at(base + MG_GROSS, lane)], cost_factor, state[at(MG_MARKET_GROSS, lane)]);
    store_strategy(s, lane);
    state[at(base + MG_ITERATIONS, lane)] = 0.0;
    state[at(base + MG_DONE, lane)] = 0.0;
    if (cut || mgf_cut) {
        raise_solver_flag(1u);
    }
}
