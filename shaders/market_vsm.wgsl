// Market stage: the volatility-stabilised model. CPU twin: `vsm_log_steps` in
// src/market/vsm.rs. Log step = alpha dt / (2 m) + sqrt(dt / m) z with
// m = max(mu_i, dt): the floor keeps tiny weights from producing huge steps.

fn market_log_steps(key: vec2<u32>, path: u32, step: u32) -> bool {
    var ok = market_normals(key, path, step);
    var i = 0u;
    for (; i < N; i++) {
        let inverse = 1.0 / max(market_weight(i), VSM_WEIGHT_FLOOR);
        let noise = sqrt(inverse) * VSM_VOL_SCALE * get_z(i);
        ok = note_noise(i, noise) && ok;
        set_z(i, fma(inverse, VSM_DRIFT_SCALE, noise));
    }
    return ok && i == N;
}
