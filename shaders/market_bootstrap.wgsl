// Market stage: the bootstrap market (docs/real-data.md). CPU twin:
// `bootstrap_log_steps` in src/market/bootstrap.rs.
//
// market_data holds the days' log changes, day by day in groups of four stocks
// (BOOT_DAYS x N4 vec4s, zero past N), then each stock's mean change r-bar (N4 vec4s).
// A path keeps the day it took last in its state at ORDER_BASE (a float: exact for
// the fewer than 2^24 days a table may have). The day's choice is integer
// arithmetic on Philox words, as on the CPU, so both take the same days.

var<private> market_day: u32;

fn load_market_state(lane: u32) {
    market_day = u32(state[at(ORDER_BASE, lane)]);
}

fn store_market_state(lane: u32) {
    state[at(ORDER_BASE, lane)] = f32(market_day);
}

fn market_log_steps(key: vec2<u32>, path: u32, step: u32) -> bool {
    let words = philox4x32_10(vec4<u32>(path, step, 0u, STREAM_BOOTSTRAP), key);
    let previous = market_day;
    let continued = select(previous + 1u, 0u, previous + 1u == BOOT_DAYS);
    // A jump (always at step 0: a uniform first day) to day floor(word 1 x days / 2^32).
    if (step == 0u || words.x <= BOOT_JUMP_AT_MOST) {
        market_day = mulhilo32(words.y, BOOT_DAYS).x;
    } else {
        market_day = continued;
    }
    var ok = true;
    var b = 0u;
    for (; b < N4; b++) {
        let today = market_at(market_day * N4 + b);
        // The step's conditional mean: r-bar at step 0, else (1 - 1/b) r(next day) + (1/b) r-bar.
        var expected = market_at(BOOT_DAYS * N4 + b);
        if (step != 0u) {
            expected = BOOT_CONTINUE * market_at(continued * N4 + b) + BOOT_JUMP * expected;
        }
        ok = note_noise4(b, today - expected) && ok;
        set_z4(b, today);
    }
    return ok && b == N4;
}
