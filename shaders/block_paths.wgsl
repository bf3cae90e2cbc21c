// Simulation kernel `advance_block`: a workgroup owns a block of P paths. Its W rows
// of P invocations spread the stocks, R per invocation, assigned in a snake
// (`stock_of`) so that every row has as much of the triangular Cholesky product as
// the others. Invocation (row, column) keeps its stocks' log caps, market weights and
// holdings (registers when the state accessors are private arrays with their loops
// expanded by the composer, else the state buffer); the block's normals go through workgroup memory
// (or the scratch buffer, for many stocks); per-path sums across rows go through
// workgroup memory, added in row order so that every row holds the same totals. The
// per-path scalars (log Z, each strategy's accumulators) are kept by every row alike;
// row 0 stores them.
//
// The CPU twins are `PathBlock::advance_paths` (src/engine/cpu/mod.rs) and the market
// stages in src/market/: each stock's correlated step is the same chain of fused
// multiply-adds, j = 0, 1, ..., i, as `correlate_blocks` in src/market/gbm.rs.
// The per-path kernel (advance_paths.wgsl) stays for rank models, top-k, capped and
// max_growth strategies, and for software adapters' smaller runs.
//
// Composed (src/engine/gpu/block.rs) after philox.wgsl, path_accounting.wgsl (`Params`,
// `kahan_add`, `accumulate_returns`) and the kernel constants of
// kernel_source.rs, with: P, W, R, NPAD (= W R), SUMS_A (3 + S quantities), FACTORS
// (K, 0 unless a factor model), K4, MARKET (MARKET_CHOLESKY, MARKET_FACTOR or
// MARKET_VSM), FROM_SCRATCH (normals read from the scratch buffer: the stage test),
// the state accessors (`my_cap`, `my_mu`, `my_held`, `my_growth`, their setters,
// `load_mine`, `store_mine`), the normals' place (`normal`, `set_normal`) and the
// market data's place (`market_word`, `stage_block_data`).

// The market model's data in the block layout (block.rs: `block_data`).
@group(0) @binding(1) var<storage, read> block_data: array<f32>;
// [initial state template: STATE_SLOTS][step drift: 4 N4][constant weights: S x N]
@group(0) @binding(2) var<storage, read> model: array<f32>;
@group(0) @binding(3) var<storage, read_write> state: array<f32>;
@group(0) @binding(4) var<storage, read_write> steps_done: array<u32>;
// [normals: GROWTH_BASE][growths: NPAD] x stride, when the shape keeps them off chip.
@group(0) @binding(5) var<storage, read_write> scratch: array<f32>;

// Per-path partial sums of each row: [quantity][row][column].
// A: market gross, largest and smallest log cap, each strategy's holdings' value, then
// the controls' noise sums (the market's weights', each strategy's holdings';
// docs/control-variates.md); reused for the turnover of a rebalance. B: each strategy's
// weight setup sum.
var<workgroup> sums_a: array<f32, SUMS_A_WORDS>;
var<workgroup> sums_b: array<f32, SUMS_B_WORDS>;
// Factor normals of the block ([factor][column]).
var<workgroup> factor_normals: array<f32, FACTOR_WORDS>;
// Set by any invocation whose loop was cut short (llvmpipe's loop cap).
var<workgroup> block_cut: atomic<u32>;

var<private> row: u32;
var<private> column: u32;
var<private> lane: u32;
// Each strategy's accumulators (SLOT_*), the same in every row.
var<private> slots: array<f32, STRATEGY_SLOT_WORDS>;
// The correlated noise terms of this invocation's stocks (the Cholesky stage; the drift
// is added by `log_step_of`).
var<private> log_steps: array<f32, R>;
// This step's noise term of each place (the controls' epsilon).
var<private> noises: array<f32, R>;

fn at(slot: u32, path_lane: u32) -> u32 {
    return slot * params.stride + path_lane;
}

// The stock of this invocation's k-th place: rows run forwards on even places and
// backwards on odd ones.
fn stock_of(k: u32) -> u32 {
    return k * W + select(W - 1u - row, row, k % 2u == 0u);
}

fn slot_value(s: u32, k: u32) -> f32 {
    return slots[s * SLOT_COUNT + k];
}

fn set_slot(s: u32, k: u32, value: f32) {
    slots[s * SLOT_COUNT + k] = value;
}


fn sum_a(q: u32, r: u32) -> u32 {
    return (q * W + r) * P + column;
}

fn sum_b(s: u32, r: u32) -> u32 {
    return (s * W + r) * P + column;
}

fn drift_of(stock: u32) -> f32 {
    return model[MODEL_DRIFT_BASE + stock];
}

// The block's normals of this step: Philox blocks row, row + W, ... (stream 0), and the
// factor normals (stream 1); false if a loop was cut short.
fn block_normals(key: vec2<u32>, path: u32, step: u32) -> bool {
    var b = row;
    var trips = 0u;
    for (; b < N4; b += W) {
        var z = vec4<f32>(0.01, -0.02, 0.015, -0.005) * f32(step % 7u);
        if (!OMIT_NORMALS) {
            z = drawn_normals4(key, path, step, b, 0u);
        }
        if (FROM_SCRATCH) {
            z = vec4<f32>(scratch[(4u * b) * params.stride + lane], scratch[(4u * b + 1u) * params.stride + lane],
                          scratch[(4u * b + 2u) * params.stride + lane], scratch[(4u * b + 3u) * params.stride + lane]);
        }
        set_normal(4u * b, z.x);
        set_normal(4u * b + 1u, z.y);
        set_normal(4u * b + 2u, z.z);
        set_normal(4u * b + 3u, z.w);
        trips += 1u;
    }
    var f = row;
    for (; f < K4; f += W) {
        let z = drawn_normals4(key, path, step, f, 1u);
        factor_normals[(4u * f) * P + column] = z.x;
        factor_normals[(4u * f + 1u) * P + column] = z.y;
        factor_normals[(4u * f + 2u) * P + column] = z.z;
        factor_normals[(4u * f + 3u) * P + column] = z.w;
    }
    return b >= N4 && f >= K4 && trips == (N4 + W - 1u - row) / W;
}

// The Cholesky stage for every place at once, by bands of W columns: band c holds
// the diagonal of place c, and every later place needs all of it. Each sum is the
// chain fma(L[i][j], z_j, .) for j = 0, 1, ..., i, as on the CPU: the noise term, to
// which `log_step_of` adds the drift.
fn cholesky_log_steps() -> bool {
    var ok = true;
    var k = 0u;
    for (; k < R; k++) { // unroll
        log_steps[k] = 0.0;
    }
    var c = 0u;
    for (; c < R; c++) { // unroll
        let first = c * W;
        // Bands past the last stock (padding) run no iterations.
        let band_end = max(first, min(first + W, N));
        let diagonal_stock = stock_of(c);
        var j = first;
        for (; j < band_end; j++) {
            let z = normal(j);
            if (j <= diagonal_stock && diagonal_stock < N) {
                log_steps[c] = fma(market_word(diagonal_stock * (diagonal_stock + 1u) / 2u + j), z, log_steps[c]);
            }
            var later = 0u;
            for (; later < R; later++) { // unroll
                let stock = stock_of(later);
                if (later > c && stock < N) {
                    log_steps[later] = fma(market_word(stock * (stock + 1u) / 2u + j), z, log_steps[later]);
                }
            }
        }
        ok = ok && j == band_end;
    }
    return ok;
}

// The noise term and the log step of place k (its stock below N): (epsilon, log step).
fn log_step_of(k: u32, stock: u32, ok: ptr<function, bool>) -> vec2<f32> {
    if (MARKET == MARKET_CHOLESKY) {
        if (REGISTER_STATE) {
            return vec2<f32>(log_steps[k], log_steps[k] + drift_of(stock));
        }
        var sum = 0.0;
        var j = 0u;
        let base = stock * (stock + 1u) / 2u;
        for (; j <= stock; j++) {
            sum = fma(market_word(base + j), normal(j), sum);
        }
        *ok = *ok && j == stock + 1u;
        return vec2<f32>(sum, sum + drift_of(stock));
    } else if (MARKET == MARKET_FACTOR) {
        var systematic = 0.0;
        var f = 0u;
        for (; f < FACTORS; f++) {
            systematic = fma(factor_normals[f * P + column], market_word(stock * FACTORS + f), systematic);
        }
        *ok = *ok && f == FACTORS;
        let noise = fma(normal(stock), market_word(IDIO_BASE + stock), systematic);
        return vec2<f32>(noise, noise + drift_of(stock));
    }
    // The volatility-stabilised model (market_vsm.wgsl).
    let inverse = 1.0 / max(my_mu(k), VSM_WEIGHT_FLOOR);
    let noise = sqrt(inverse) * VSM_VOL_SCALE * normal(stock);
    return vec2<f32>(noise, fma(inverse, VSM_DRIFT_SCALE, noise));
}

fn sum_noise(q: u32, r: u32) -> u32 {
    return sum_a(3u + S + q, r);
}

// This invocation's stock's contribution to strategy s's weight setup (its log mu is
// `log_mu`; `largest` is the diversity weights' largest exponent).
fn setup_term(s: u32, k: u32, stock: u32, log_mu: f32, largest: f32) -> f32 {
    let kind = STRATEGY_KIND[s];
    if (kind == KIND_DIVERSITY) {
        return exp(STRATEGY_P[s] * log_mu - largest);
    } else if (kind == KIND_ENTROPY) {
        return -(my_mu(k) * log_mu);
    } else if (kind == KIND_EQUAL) {
        return log_mu;
    } else if (kind == KIND_CONSTANT) {
        return model[MODEL_WEIGHTS_BASE + s * N + stock] * log_mu;
    }
    return 0.0;
}

// Strategy s's target weight of place k from its setup total.
fn target_of(s: u32, k: u32, stock: u32, log_mu: f32, largest: f32, total: f32) -> f32 {
    let kind = STRATEGY_KIND[s];
    if (kind == KIND_DIVERSITY || kind == KIND_ENTROPY) {
        // The setup's term, kept in registers or computed again.
        var term = my_term(s, k);
        if (!REGISTER_STATE) {
            term = setup_term(s, k, stock, log_mu, largest);
        }
        return term * (1.0 / total);
    } else if (kind == KIND_EQUAL) {
        return 1.0 / f32(N);
    } else if (kind == KIND_CONSTANT) {
        return model[MODEL_WEIGHTS_BASE + s * N + stock];
    }
    return my_mu(k);
}

// log G of strategy s from its setup total.
fn log_g_of(s: u32, largest: f32, total: f32) -> f32 {
    let kind = STRATEGY_KIND[s];
    if (kind == KIND_DIVERSITY) {
        return (largest + log(total)) * (1.0 / STRATEGY_P[s]);
    } else if (kind == KIND_ENTROPY) {
        return log(total);
    } else if (kind == KIND_EQUAL) {
        return total * (1.0 / f32(N));
    } else if (kind == KIND_CONSTANT) {
        return total;
    }
    return 0.0;
}

// The diversity weights' largest exponent p log mu_i, from the block's largest and
// smallest log caps.
fn largest_exponent(s: u32, largest_cap: f32, smallest_cap: f32, log_total: f32) -> f32 {
    let p = STRATEGY_P[s];
    return select(p * (smallest_cap - log_total), p * (largest_cap - log_total), p > 0.0);
}

@compute @workgroup_size(P * W)
fn advance_block(@builtin(workgroup_id) group: vec3<u32>, @builtin(local_invocation_index) local: u32) {
    row = local / P;
    column = local % P;
    lane = group.x * P + column;
    // Columns past the batch run on the initial state (no path's), write nothing, and
    // keep every barrier.
    let in_batch = lane < params.batch_paths;
    // The counter of the path's normals (its antithetic partner's, when paired).
    let path = draw_counter(params.first_path + lane);
    let key = vec2<u32>(params.key0, params.key1);
    stage_block_data(local);
    load_mine(in_batch);
    var log_total = model[LOG_TOTAL];
    var log_total_comp = model[LOG_TOTAL_COMP];
    var market_control = model[MARKET_CONTROL];
    var market_control_comp = model[MARKET_CONTROL_COMP];
    var benchmark_moments = vec2<f32>(model[BENCHMARK_RETURNS], model[BENCHMARK_SQUARES]);
    if (in_batch) {
        benchmark_moments = vec2<f32>(state[at(BENCHMARK_RETURNS, lane)], state[at(BENCHMARK_SQUARES, lane)]);
        log_total = state[at(LOG_TOTAL, lane)];
        log_total_comp = state[at(LOG_TOTAL_COMP, lane)];
        market_control = state[at(MARKET_CONTROL, lane)];
        market_control_comp = state[at(MARKET_CONTROL_COMP, lane)];
    }
    var s0 = 0u;
    for (; s0 < S; s0++) { // unroll
        var w0 = 0u;
        for (; w0 < SLOT_COUNT; w0++) { // unroll
            let slot = SLOTS_BASE + s0 * SLOT_COUNT + w0;
            set_slot(s0, w0, select(model[slot], state[at(slot, min(lane, params.stride - 1u))], in_batch));
        }
    }
    var ok = true;
    for (var k_step = 0u; k_step < params.step_count; k_step++) {
        let step = params.step_begin + k_step;
        let completed_steps = step + 1u;
        let is_last = completed_steps == params.total_steps;

        ok = block_normals(key, path, step) && ok;
        workgroupBarrier();
        if (NORMALS_IN_SCRATCH) {
            // Other rows' normals, written to the scratch buffer, before they are read.
            storageBarrier();
        }

        // Market: log steps, caps, growths, and this row's partial sums.
        if (MARKET == MARKET_CHOLESKY && REGISTER_STATE) {
            if (OMIT_CORRELATION) {
                var o = 0u;
                for (; o < R; o++) { // unroll
                    log_steps[o] = normal(min(stock_of(o), N - 1u)) * 0.01;
                }
            } else {
                ok = cholesky_log_steps() && ok;
            }
        }
        var market_part = 0.0;
        var market_noise_part = 0.0;
        var largest_cap = -3.0e38;
        var smallest_cap = 3.0e38;
        var k = 0u;
        for (; k < R; k++) { // unroll
            let stock = stock_of(k);
            noises[k] = 0.0;
            if (stock < N) {
                let step_terms = log_step_of(k, stock, &ok);
                let log_step = step_terms.y;
                // The market's weights at the start of the step against the noise.
                noises[k] = step_terms.x;
                if (CONTROL) {
                    market_noise_part = fma(my_mu(k), step_terms.x, market_noise_part);
                }
                let cap = my_cap(k) + log_step;
                set_my_cap(k, cap);
                let growth = exp(log_step);
                set_my_growth(k, growth);
                market_part += my_mu(k) * growth;
                largest_cap = max(largest_cap, cap);
                smallest_cap = min(smallest_cap, cap);
            }
        }
        sums_a[sum_a(0u, row)] = market_part;
        if (HAS_DIVERSITY) {
            sums_a[sum_a(1u, row)] = largest_cap;
            sums_a[sum_a(2u, row)] = smallest_cap;
        }
        sums_a[sum_noise(0u, row)] = market_noise_part;
        var s = 0u;
        for (; s < S; s++) { // unroll
            var value_part = 0.0;
            var noise_part = 0.0;
            var h = 0u;
            for (; h < R; h++) { // unroll
                if (stock_of(h) < N) {
                    // Holdings at the start of the step against the noise, then grown.
                    if (CONTROL) {
                        noise_part = fma(my_held(s, h), noises[h], noise_part);
                    }
                    value_part += my_held(s, h) * my_growth(h);
                }
            }
            sums_a[sum_a(3u + s, row)] = value_part;
            sums_a[sum_noise(1u + s, row)] = noise_part;
        }
        workgroupBarrier();
        if (NORMALS_IN_SCRATCH) {
            // Every row's reads of this step's normals before the next step writes them.
            storageBarrier();
        }

        var market_gross = 0.0;
        var market_noise = 0.0;
        largest_cap = -3.0e38;
        smallest_cap = 3.0e38;
        var r = 0u;
        for (; r < W; r++) {
            market_gross += sums_a[sum_a(0u, r)];
            market_noise += sums_a[sum_noise(0u, r)];
            if (HAS_DIVERSITY) {
                largest_cap = max(largest_cap, sums_a[sum_a(1u, r)]);
                smallest_cap = min(smallest_cap, sums_a[sum_a(2u, r)]);
            }
        }
        ok = ok && r == W;
        let inverse_market_gross = 1.0 / market_gross;
        // Weights and holdings move to units relative to the market, as in advance_paths.
        var m = 0u;
        for (; m < R; m++) { // unroll
            if (stock_of(m) < N) {
                let relative_growth = my_growth(m) * inverse_market_gross;
                set_my_growth(m, relative_growth);
                set_my_mu(m, my_mu(m) * relative_growth);
                var sh = 0u;
                for (; sh < S; sh++) { // unroll
                    set_my_held(sh, m, my_held(sh, m) * relative_growth);
                }
            }
        }
        let corrected = log(market_gross) - log_total_comp;
        let next_log_total = log_total + corrected;
        log_total_comp = (next_log_total - log_total) - corrected;
        log_total = next_log_total;
        let corrected_control = market_noise - market_control_comp;
        let next_control = market_control + corrected_control;
        market_control_comp = (next_control - market_control) - corrected_control;
        market_control = next_control;
        add_benchmark_return(&benchmark_moments, market_gross - 1.0);

        // Each strategy's holdings' value (V_pi / V_mu since its last rebalance) and gross return.
        var values: array<f32, S>;
        var gross: array<f32, S>;
        var any_setup = is_last;
        var any_rebalance = false;
        var sv = 0u;
        for (; sv < S; sv++) { // unroll
            var value = 0.0;
            var held_noise = 0.0;
            var rv = 0u;
            for (; rv < W; rv++) {
                value += sums_a[sum_a(3u + sv, rv)];
                held_noise += sums_a[sum_noise(1u + sv, rv)];
            }
            ok = ok && rv == W;
            value = value * inverse_market_gross;
            values[sv] = value;
            // The per-path accumulators are row 0's alone (it stores them).
            if (row == 0u) {
                // The control: weights held at the start of the step against the noise.
                if (CONTROL) {
                    kahan_add(sv, SLOT_CONTROL, SLOT_CONTROL_COMP,
                              held_noise / slot_value(sv, SLOT_HOLDINGS_VALUE) - market_noise);
                }
                gross[sv] = value / slot_value(sv, SLOT_HOLDINGS_VALUE) * market_gross;
                set_slot(sv, SLOT_HOLDINGS_VALUE, value);
            }
            let rebalance = (completed_steps % STRATEGY_REBALANCE[sv]) == 0u && !is_last;
            any_setup = any_setup || rebalance;
            any_rebalance = any_rebalance || rebalance;
        }

        var cost_factors: array<f32, S>;
        var ss = 0u;
        for (; ss < S; ss++) { // unroll
            cost_factors[ss] = 1.0;
        }
        // Uniform across the workgroup (it depends on the step only): barriers allowed.
        if (any_setup && !OMIT_STRATEGIES) {
            var largest: array<f32, S>;
            var s1 = 0u;
            for (; s1 < S; s1++) { // unroll
                largest[s1] = largest_exponent(s1, largest_cap, smallest_cap, log_total);
                var part = 0.0;
                var k1 = 0u;
                for (; k1 < R; k1++) { // unroll
                    let stock = stock_of(k1);
                    if (stock < N) {
                        let term = setup_term(s1, k1, stock, my_cap(k1) - log_total, largest[s1]);
                        set_my_term(s1, k1, term);
                        part += term;
                    }
                }
                sums_b[sum_b(s1, row)] = part;
            }
            workgroupBarrier();
            var totals: array<f32, S>;
            var log_g: array<f32, S>;
            var s2 = 0u;
            for (; s2 < S; s2++) { // unroll
                var total = 0.0;
                var r2 = 0u;
                for (; r2 < W; r2++) {
                    total += sums_b[sum_b(s2, r2)];
                }
                ok = ok && r2 == W;
                totals[s2] = total;
                log_g[s2] = log_g_of(s2, largest[s2], total);
            }
            if (any_rebalance) {
                // sums_a was read by every row before the barrier above: free for the
                // turnover (quantities 0 .. S) and the size tilt (S .. 2S).
                var s3 = 0u;
                for (; s3 < S; s3++) { // unroll
                    let rebalance = (completed_steps % STRATEGY_REBALANCE[s3]) == 0u;
                    var traded_part = 0.0;
                    var tilt_part = 0.0;
                    if (rebalance) {
                        let inverse_value = 1.0 / values[s3];
                        var k3 = 0u;
                        for (; k3 < R; k3++) { // unroll
                            let stock = stock_of(k3);
                            if (stock < N) {
                                let log_mu = my_cap(k3) - log_total;
                                let weight = target_of(s3, k3, stock, log_mu, largest[s3], totals[s3]);
                                traded_part += abs(weight - my_held(s3, k3) * inverse_value);
                                tilt_part += (weight - my_mu(k3)) * log_mu;
                                set_my_held(s3, k3, weight);
                            }
                        }
                    }
                    sums_a[sum_a(s3, row)] = traded_part;
                    sums_a[sum_a(S + s3, row)] = tilt_part;
                }
                workgroupBarrier();
            }
            var s4 = 0u;
            for (; s4 < S; s4++) { // unroll
                let rebalance = (completed_steps % STRATEGY_REBALANCE[s4]) == 0u && !is_last;
                if ((rebalance || is_last) && row == 0u) {
                    // close_period (advance_paths.wgsl), with the turnover summed over rows.
                    let log_period_ratio = log(values[s4]) + slot_value(s4, SLOT_LOG_Z_ANCHOR);
                    let divergence = log_period_ratio - (log_g[s4] - slot_value(s4, SLOT_LOG_G_ANCHOR));
                    var traded = 0.0;
                    if (rebalance) {
                        var tilt = 0.0;
                        var r4 = 0u;
                        for (; r4 < W; r4++) {
                            traded += sums_a[sum_a(s4, r4)];
                            tilt += sums_a[sum_a(S + s4, r4)];
                        }
                        ok = ok && r4 == W;
                        set_slot(s4, SLOT_LOG_Z_ANCHOR, 0.0);
                        record_size_tilt(s4, tilt);
                    }
                    kahan_add(s4, SLOT_DRIFT, SLOT_DRIFT_COMP, divergence);
                    set_slot(s4, SLOT_LOG_G_ANCHOR, log_g[s4]);
                    set_slot(s4, SLOT_MIN_DIVERGENCE, min(slot_value(s4, SLOT_MIN_DIVERGENCE), divergence));
                    if (rebalance) {
                        set_slot(s4, SLOT_HOLDINGS_VALUE, 1.0);
                        let cost_factor = 1.0 - STRATEGY_COST[s4] * traded;
                        cost_factors[s4] = cost_factor;
                        set_slot(s4, SLOT_TURNOVER, slot_value(s4, SLOT_TURNOVER) + 0.5 * traded);
                        set_slot(s4, SLOT_TRADED_SQUARES, slot_value(s4, SLOT_TRADED_SQUARES) + traded * traded);
                        set_slot(s4, SLOT_COST, slot_value(s4, SLOT_COST) + log(cost_factor));
                    }
                }
            }
        }
        if (row == 0u) {
            var s5 = 0u;
            for (; s5 < S; s5++) { // unroll
                accumulate_returns(s5, gross[s5], cost_factors[s5], market_gross);
            }
        }
        if ((completed_steps % GRID_EVERY == 0u || is_last) && row == 0u && in_batch) {
            // The time grid (path_accounting.wgsl), as `record_grid_point`.
            let point = select(completed_steps / GRID_EVERY - 1u, GRID_POINTS - 1u, is_last);
            var s6 = 0u;
            for (; s6 < S; s6++) { // unroll
                record_grid_cells(point, s6, lane);
            }
        }
    }
    // A step counts only if no invocation of the block cut a loop short.
    if (!ok) {
        atomicOr(&block_cut, 1u);
    }
    workgroupBarrier();
    let any_cut = atomicLoad(&block_cut) != 0u;
    if (!in_batch) {
        return;
    }
    store_mine();
    if (row == 0u) {
        state[at(LOG_TOTAL, lane)] = log_total;
        state[at(LOG_TOTAL_COMP, lane)] = log_total_comp;
        state[at(MARKET_CONTROL, lane)] = market_control;
        state[at(MARKET_CONTROL_COMP, lane)] = market_control_comp;
        state[at(BENCHMARK_RETURNS, lane)] = benchmark_moments.x;
        state[at(BENCHMARK_SQUARES, lane)] = benchmark_moments.y;
        var s7 = 0u;
        for (; s7 < S; s7++) { // unroll
            var w7 = 0u;
            for (; w7 < SLOT_COUNT; w7++) { // unroll
                state[at(SLOTS_BASE + s7 * SLOT_COUNT + w7, lane)] = slot_value(s7, w7);
            }
        }
        steps_done[lane] += select(params.step_count, 0u, any_cut);
    }
}

// Every path's initial state (path_accounting.wgsl), one invocation per path.
@compute @workgroup_size(P * W)
fn init_block(@builtin(global_invocation_id) id: vec3<u32>) {
    init_path(id.x);
}
