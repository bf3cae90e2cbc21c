// What both simulation kernels share (advance_paths.wgsl, one invocation per path;
// block_paths.wgsl, a workgroup per block of paths): the dispatch parameters
// (`DispatchParams` in src/engine/gpu/backend.rs) and a strategy's per-path accounting
// through the kernel's `slot_value` and `set_slot` (CPU twin: src/engine/accumulators.rs
// and src/engine/cpu.rs).

struct Params {
    first_path: u32,
    batch_paths: u32,
    stride: u32,
    step_begin: u32,
    step_count: u32,
    total_steps: u32,
    key0: u32,
    key1: u32,
    // The max_growth dispatches: strategy, ADMM iterations per dispatch, phase, and the
    // range of rows or returns a trailing estimate's dispatch works on.
    strategy: u32,
    iterations: u32,
    phase: u32,
    chunk_begin: u32,
    chunk_end: u32,
    padding0: u32,
    padding1: u32,
    padding2: u32,
}

@group(0) @binding(0) var<uniform> params: Params;

// Kahan-compensated accumulator `sum` of strategy s += value (compensation in `comp`).
fn kahan_add(s: u32, sum: u32, comp: u32, value: f32) {
    let corrected = value - slot_value(s, comp);
    let total = slot_value(s, sum);
    let next = total + corrected;
    set_slot(s, comp, (next - total) - corrected);
    set_slot(s, sum, next);
}

// Strategy s's returns against the market for the step.
fn accumulate_returns(s: u32, gross: f32, cost_factor: f32, market_gross: f32) {
    let strategy_gross = gross * cost_factor;
    let active_return = strategy_gross - market_gross;
    kahan_add(s, SLOT_RELATIVE, SLOT_RELATIVE_COMP, log(strategy_gross / market_gross));
    kahan_add(s, SLOT_ACTIVE_SUM, SLOT_ACTIVE_SUM_COMP, active_return);
    kahan_add(s, SLOT_ACTIVE_SQUARES, SLOT_ACTIVE_SQUARES_COMP, active_return * active_return);
    let relative = slot_value(s, SLOT_RELATIVE);
    let peak = max(slot_value(s, SLOT_PEAK), relative);
    set_slot(s, SLOT_PEAK, peak);
    set_slot(s, SLOT_DRAWDOWN, max(slot_value(s, SLOT_DRAWDOWN), peak - relative));
}
