// What both max_growth solvers share (shaders/max_growth.wgsl in Sigma's eigenbasis,
// shaders/max_growth_factor.wgsl in its factor form), composed before either.
//
// Every max_growth strategy's state block (MG_STATE_BASE[s]) starts with the same
// slots: MG_GROSS, the deferred step's gross return of the holdings; MG_RESIDUAL, the
// largest constraint residual of the path's rebalances so far (read back for tests:
// `GpuBackend::max_growth_residual`); MG_DONE, whether the current solve is done;
// MG_ITERATIONS, its iterations so far. The solver's own slots follow. The solver
// flags (`raise_solver_flag`: 0, some path's solve has iterations left; 1, some loop
// was cut short) come from path_arrays_scratch.wgsl or, with private path arrays,
// `shaders::MAX_GROWTH_FLAGS`.

// Called by `advance_paths` on a max_growth rebalance step, the last of its dispatch.
fn defer_max_growth(s: u32, lane: u32, gross: f32, market_gross: f32) {
    state[at(MG_STATE_BASE[s] + MG_GROSS, lane)] = gross;
    state[at(MG_MARKET_GROSS, lane)] = market_gross;
}
