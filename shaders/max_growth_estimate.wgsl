// max_growth with a trailing estimate on the GPU: each path estimates its covariance
// from its own last returns at each rebalance and eigendecomposes it, as
// `TrailingEstimate::problem` (src/portfolio/optimize.rs) and `shrunk_correlation`
// (src/numeric/shrinkage.rs) do on the CPU, then solves with max_growth.wgsl.
//
// The work is O(n^2 T) for the correlation and its shrinkage and O(n^3) per Jacobi
// sweep, so it runs in phases (`params.phase`), each a dispatch over a range of rows,
// returns or pivots (`params.chunk_begin` .. `chunk_end`) that the host sizes to the
// adapter's loop budget. Every path of a batch is at the same step, so the same
// ranges fit every path.
//
// Composed after max_growth.wgsl, with the constants WINDOW_BASE and WINDOW_LENGTH (the
// ring of the last log returns `advance_paths` writes), and TR_PARAMS_BASE (per
// strategy: gamma (n, zeros without use_growth), budget, bound (-1 for none), steps
// per year, shrinkage (-1 for Ledoit-Wolf), lookback, in the model buffer). The
// problem is written to the path's block at MG_DATA_BASE[s] in max_growth.wgsl's
// layout, followed by the estimate's scratch.

const TR_A = N * N + 2u * N + 3u;
const TR_MEAN = 2u * N * N + 2u * N + 3u;
const TR_SD = TR_MEAN + N;
const TR_VOL = TR_MEAN + 2u * N;
const TR_SPREAD = TR_MEAN + 3u * N;
const TR_GAMMA = 0u;
// (TR_BUDGET, TR_BOUND, TR_STEPS_PER_YEAR, TR_SHRINKAGE, TR_LOOKBACK: offsets of the
// estimate's parameters after gamma; PHASE_MOMENTS .. PHASE_DERIVE: the dispatch
// phases. Composed from src/engine/gpu/max_growth.rs.)

// The current path's block (a state slot) and the estimate's sample length.
var<private> tr_block: u32;
var<private> tr_periods: u32;

fn tr_slot(offset: u32) -> u32 {
    return at(tr_block + offset, current_lane);
}

fn tr_get(offset: u32) -> f32 {
    return state[tr_slot(offset)];
}

fn tr_set(offset: u32, value: f32) {
    state[tr_slot(offset)] = value;
}

fn tr_param(s: u32, offset: u32) -> f32 {
    return model[TR_PARAMS_BASE[s] + offset];
}

// Return `t` (0 = oldest) of stock i in the sample.
fn tr_return(t: u32, i: u32) -> f32 {
    let step = params.step_begin + 1u - tr_periods + t;
    return state[at(WINDOW_BASE + (step % WINDOW_LENGTH) * N + i, current_lane)];
}

// Standardised return (divisor T, as the sample correlation has a unit diagonal).
// (The means and sds are in mg_target and mg_u: `tr_load_moments`.)
fn tr_standardised(t: u32, i: u32) -> f32 {
    return (tr_return(t, i) - mg_target[i]) / mg_u[i];
}

fn tr_load_moments() {
    var i = 0u;
    for (; i < N; i++) {
        mg_target[i] = tr_get(TR_MEAN + i);
        mg_u[i] = tr_get(TR_SD + i);
    }
    mg_cut = mg_cut || i != N;
}

fn tr_a(i: u32, j: u32) -> u32 {
    return TR_A + i * N + j;
}

// Means, standardising sds and annualised vols (divisor T - 1), as the CPU.
fn tr_moments(s: u32) {
    let periods = f32(tr_periods);
    var i = 0u;
    for (; i < N; i++) {
        var sum = 0.0;
        var t = 0u;
        for (; t < tr_periods; t++) {
            sum += tr_return(t, i);
        }
        let mean = sum / periods;
        var squares = 0.0;
        var u = 0u;
        for (; u < tr_periods; u++) {
            let deviation = tr_return(u, i) - mean;
            squares += deviation * deviation;
        }
        mg_cut = mg_cut || t != tr_periods || u != tr_periods;
        tr_set(TR_MEAN + i, mean);
        tr_set(TR_SD + i, max(sqrt(squares / periods), 1e-30));
        // A stock that never moved gets a tiny vol, keeping Sigma positive definite.
        tr_set(TR_VOL + i, max(sqrt(squares / (periods - 1.0) * tr_param(s, TR_STEPS_PER_YEAR)), 1e-8));
    }
    mg_cut = mg_cut || i != N;
    tr_set(TR_SPREAD, 0.0);
}

// Rows [chunk_begin, chunk_end) of the sample correlation, both triangles.
fn tr_correlation() {
    let periods = f32(tr_periods);
    var i = params.chunk_begin;
    for (; i < params.chunk_end; i++) {
        var j = 0u;
        for (; j <= i; j++) {
            var sum = 0.0;
            var t = 0u;
            for (; t < tr_periods; t++) {
                sum += tr_standardised(t, i) * tr_standardised(t, j);
            }
            mg_cut = mg_cut || t != tr_periods;
            tr_set(tr_a(i, j), sum / periods);
            tr_set(tr_a(j, i), sum / periods);
        }
        mg_cut = mg_cut || j != i + 1u;
    }
    mg_cut = mg_cut || i != params.chunk_end;
}

// Returns [chunk_begin, chunk_end) of Ledoit-Wolf's spread:
// sum_t ||x x' - S||_F^2 / n = ((x'x)^2 - 2 x'Sx + ||S||_F^2) / n.
fn tr_spread() {
    var sample_norm = 0.0;
    var k = 0u;
    for (; k < N * N; k++) {
        let value = tr_get(TR_A + k);
        sample_norm += value * value;
    }
    mg_cut = mg_cut || k != N * N;
    var spread = tr_get(TR_SPREAD);
    var t = params.chunk_begin;
    for (; t < params.chunk_end; t++) {
        var squared_length = 0.0;
        var i = 0u;
        for (; i < N; i++) {
            mg_d[i] = tr_standardised(t, i);
            squared_length += mg_d[i] * mg_d[i];
        }
        mg_cut = mg_cut || i != N;
        var quadratic = 0.0;
        var r = 0u;
        for (; r < N * N; r++) {
            quadratic += mg_d[r / N] * tr_get(TR_A + r) * mg_d[r % N];
        }
        mg_cut = mg_cut || r != N * N;
        spread += (squared_length * squared_length - 2.0 * quadratic + sample_norm) / f32(N);
    }
    mg_cut = mg_cut || t != params.chunk_end;
    tr_set(TR_SPREAD, spread);
}

// The shrunk correlation times the vols: the covariance, into A; Q = I.
fn tr_shrink(s: u32) {
    var intensity = tr_param(s, TR_SHRINKAGE);
    if (intensity < 0.0) {
        var distance = 0.0;
        var k = 0u;
        for (; k < N * N; k++) {
            let identity = select(0.0, 1.0, k / N == k % N);
            let gap = tr_get(TR_A + k) - identity;
            distance += gap * gap;
        }
        mg_cut = mg_cut || k != N * N;
        distance = distance / f32(N);
        let periods = f32(tr_periods);
        let spread = min(tr_get(TR_SPREAD) / (periods * periods), distance);
        intensity = select(1.0, spread / distance, distance > 0.0);
    }
    var r = 0u;
    for (; r < N * N; r++) {
        let i = r / N;
        let j = r % N;
        var correlation = 1.0;
        if (i != j) {
            correlation = (1.0 - intensity) * tr_get(TR_A + r);
        }
        tr_set(TR_A + r, correlation * tr_get(TR_VOL + i) * tr_get(TR_VOL + j));
        tr_set(MG_Q + r, select(0.0, 1.0, i == j));
    }
    mg_cut = mg_cut || r != N * N;
}

// Cyclic Jacobi: the rotations of pivot rows [chunk_begin, chunk_end) of one sweep,
// A <- J' A J and Q <- Q J, each zeroing A[p][q] (Numerical Recipes' stable form).
fn tr_jacobi() {
    var p = params.chunk_begin;
    for (; p < params.chunk_end; p++) {
        var q = p + 1u;
        for (; q < N; q++) {
            let apq = tr_get(tr_a(p, q));
            let app = tr_get(tr_a(p, p));
            let aqq = tr_get(tr_a(q, q));
            // Already zero to f32 precision against its diagonal: nothing to rotate.
            if (abs(apq) <= 1e-9 * sqrt(abs(app * aqq))) {
                continue;
            }
            let theta = (aqq - app) / (2.0 * apq);
            var t = 1.0 / (abs(theta) + sqrt(theta * theta + 1.0));
            if (theta < 0.0) {
                t = -t;
            }
            let c = 1.0 / sqrt(t * t + 1.0);
            let sn = t * c;
            var k = 0u;
            for (; k < N; k++) {
                let akp = tr_get(tr_a(k, p));
                let akq = tr_get(tr_a(k, q));
                tr_set(tr_a(k, p), c * akp - sn * akq);
                tr_set(tr_a(k, q), sn * akp + c * akq);
            }
            var m = 0u;
            for (; m < N; m++) {
                let apm = tr_get(tr_a(p, m));
                let aqm = tr_get(tr_a(q, m));
                tr_set(tr_a(p, m), c * apm - sn * aqm);
                tr_set(tr_a(q, m), sn * apm + c * aqm);
            }
            tr_set(tr_a(p, q), 0.0);
            tr_set(tr_a(q, p), 0.0);
            var e = 0u;
            for (; e < N; e++) {
                let qep = tr_get(MG_Q + e * N + p);
                let qeq = tr_get(MG_Q + e * N + q);
                tr_set(MG_Q + e * N + p, c * qep - sn * qeq);
                tr_set(MG_Q + e * N + q, sn * qep + c * qeq);
            }
            mg_cut = mg_cut || k != N || m != N || e != N;
        }
    }
    mg_cut = mg_cut || p != params.chunk_end;
}

// Lambda from A's diagonal, the unconstrained optimum Lambda^-1 Q' (diag(Sigma) / 2 +
// gamma), the budget, the bound and rho, in max_growth.wgsl's layout.
fn tr_derive(s: u32) {
    var largest = 0.0;
    var d = 0u;
    for (; d < N; d++) {
        largest = max(largest, tr_get(tr_a(d, d)));
    }
    var smallest = largest;
    var k = 0u;
    for (; k < N; k++) {
        // f32 rounding must not leave an eigenvalue at or below zero.
        let lambda = max(tr_get(tr_a(k, k)), 1e-7 * largest);
        smallest = min(smallest, lambda);
        tr_set(MG_LAMBDA + k, lambda);
        var rotated = 0.0;
        var i = 0u;
        for (; i < N; i++) {
            let vol = tr_get(TR_VOL + i);
            rotated += tr_get(MG_Q + i * N + k) * (0.5 * vol * vol + tr_param(s, TR_GAMMA + i));
        }
        mg_cut = mg_cut || i != N;
        tr_set(MG_UNCONSTRAINED + k, rotated / lambda);
    }
    mg_cut = mg_cut || d != N || k != N;
    tr_set(MG_BUDGET, tr_param(s, TR_BUDGET));
    tr_set(MG_ACTIVE, tr_param(s, TR_BOUND));
    tr_set(MG_RHO, sqrt(largest * smallest));
}

@compute @workgroup_size(WORKGROUP)
fn estimate_max_growth(@builtin(global_invocation_id) id: vec3<u32>) {
    let lane = id.x;
    if (lane >= params.batch_paths) {
        return;
    }
    let s = params.strategy;
    current_lane = lane;
    tr_block = MG_DATA_BASE[s];
    let lookback = u32(tr_param(s, TR_LOOKBACK));
    tr_periods = min(lookback, min(params.step_begin + 1u, WINDOW_LENGTH));
    mg_cut = false;
    switch params.phase {
        case PHASE_MOMENTS: {
            tr_moments(s);
        }
        case PHASE_CORRELATION: {
            tr_load_moments();
            tr_correlation();
        }
        case PHASE_SPREAD: {
            tr_load_moments();
            tr_spread();
        }
        case PHASE_SHRINK: {
            tr_shrink(s);
        }
        case PHASE_JACOBI: {
            tr_jacobi();
        }
        case PHASE_DERIVE: {
            tr_derive(s);
        }
        default: {
            mg_cut = true;
        }
    }
    if (mg_cut) {
        raise_solver_flag(1u);
    }
}
