// What both simulation kernels share (advance_paths.wgsl, one invocation per path;
// block_paths.wgsl, a workgroup per block of paths): a strategy's per-path accounting
// through the kernel's `slot_value` and `set_slot` (CPU twin: src/engine/accumulators.rs
// and src/engine/cpu/mod.rs). `struct Params` is composed before it from Rust
// (src/engine/gpu/params.rs).

@group(0) @binding(0) var<uniform> params: Params;

// Antithetic pairs (docs/control-variates.md; CPU twin: `Draws` in src/market/mod.rs): path
// 2k + 1 draws the normals of path 2k, negated. The sign of this invocation's normals.
var<private> draw_sign: f32 = 1.0;

// The Philox path counter of `path`'s normals (sets their sign).
fn draw_counter(path: u32) -> u32 {
    draw_sign = 1.0;
    if (ANTITHETIC) {
        draw_sign = select(1.0, -1.0, (path & 1u) == 1u);
        return path & ~1u;
    }
    return path;
}

// Four normals of the path whose counter is `counter` (draw_counter), with its sign:
// exactly the partner's negated.
fn drawn_normals4(key: vec2<u32>, counter: u32, step: u32, block: u32, stream: u32) -> vec4<f32> {
    return normals4(key, counter, step, block, stream) * draw_sign;
}

// Path `lane`'s initial state from the model buffer's template (both kernels' init entry
// points, one invocation per path).
fn init_path(lane: u32) {
    if (lane >= params.batch_paths) {
        return;
    }
    for (var slot = 0u; slot < STATE_SLOTS; slot++) {
        state[at(slot, lane)] = model[slot];
    }
    steps_done[lane] = 0u;
}

// Strategy s's cells of time-grid point `point` (src/engine/time_grid.rs): its L so far,
// generating term as of the last rebalance, and drift and cost terms so far.
fn record_grid_cells(point: u32, s: u32, lane: u32) {
    let base = GRID_BASE + (point * S + s) * GRID_QUANTITIES;
    state[at(base, lane)] = slot_value(s, SLOT_RELATIVE);
    state[at(base + 1u, lane)] = slot_value(s, SLOT_LOG_G_ANCHOR) - slot_value(s, SLOT_LOG_G_START);
    state[at(base + 2u, lane)] = slot_value(s, SLOT_DRIFT);
    state[at(base + 3u, lane)] = slot_value(s, SLOT_COST);
}

// Kahan-compensated accumulator `sum` of strategy s += value (compensation in `comp`).
fn kahan_add(s: u32, sum: u32, comp: u32, value: f32) {
    let corrected = value - slot_value(s, comp);
    let total = slot_value(s, sum);
    let next = total + corrected;
    set_slot(s, comp, (next - total) - corrected);
    set_slot(s, sum, next);
}

// Counts strategy s's size tilt after a rebalance, sum_i (pi_i - mu_i) log mu_i,
// shifted by its tilt at step 0.
fn record_size_tilt(s: u32, tilt: f32) {
    let shifted = tilt - slot_value(s, SLOT_TILT_FIRST);
    set_slot(s, SLOT_TILT_SUM, slot_value(s, SLOT_TILT_SUM) + shifted);
    set_slot(s, SLOT_TILT_SQUARES, slot_value(s, SLOT_TILT_SQUARES) + shifted * shifted);
    set_slot(s, SLOT_REBALANCES, slot_value(s, SLOT_REBALANCES) + 1.0);
}

// The benchmark's moments of a path (BENCHMARK_RETURNS and BENCHMARK_SQUARES in the
// state) += the step's return and its square. Plain sums, as the active-times-benchmark
// sum in `accumulate_returns`: Kahan's compensation here cost lavapipe 15 % of the
// standard workload's throughput, and their rounding (about 1e-5 of a volatility over
// ten years of daily steps) is far below the figures' spread over paths.
fn add_benchmark_return(moments: ptr<function, vec2<f32>>, benchmark_return: f32) {
    *moments = vec2<f32>((*moments).x + benchmark_return, fma(benchmark_return, benchmark_return, (*moments).y));
}

// Strategy s's returns against the market for the step.
fn accumulate_returns(s: u32, gross: f32, cost_factor: f32, market_gross: f32) {
    let strategy_gross = gross * cost_factor;
    let active_return = strategy_gross - market_gross;
    kahan_add(s, SLOT_RELATIVE, SLOT_RELATIVE_COMP, log(strategy_gross / market_gross));
    kahan_add(s, SLOT_ACTIVE_SUM, SLOT_ACTIVE_SUM_COMP, active_return);
    kahan_add(s, SLOT_ACTIVE_SQUARES, SLOT_ACTIVE_SQUARES_COMP, active_return * active_return);
    set_slot(s, SLOT_ACTIVE_CROSS, fma(active_return, market_gross - 1.0, slot_value(s, SLOT_ACTIVE_CROSS)));
    // (SLOT_ACTIVE_CROSS_COMP stays 0 here: see `add_benchmark_return`.)
    let relative = slot_value(s, SLOT_RELATIVE);
    let peak = max(slot_value(s, SLOT_PEAK), relative);
    set_slot(s, SLOT_PEAK, peak);
    set_slot(s, SLOT_DRAWDOWN, max(slot_value(s, SLOT_DRAWDOWN), peak - relative));
}
