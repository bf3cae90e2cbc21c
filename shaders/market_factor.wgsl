// Market stage: GBM with a factor model, Sigma = B B^T + diag(s^2), O(N K) per step.
// CPU twin: `factor_log_steps` in src/market/gbm.rs.
//
// market_data: for each stock i (padded to 4 N4 stocks), K4 vec4s of B_i. sqrt(dt)
// at i K4 + j; then the idiosyncratic vols s sqrt(dt) as N4 vec4s at IDIO_BASE.
// Factor normals come from Philox stream 1, idiosyncratic normals from stream 0.

var<private> factor_normals: array<vec4<f32>, K4>;

fn market_log_steps(key: vec2<u32>, path: u32, step: u32) -> bool {
    var ok = market_normals(key, path, step);
    var f = 0u;
    for (; f < K4; f++) {
        factor_normals[f] = drawn_normals4(key, path, step, f, 1u);
    }
    ok = ok && f == K4;
    var b = 0u;
    for (; b < N4; b++) {
        var systematic = vec4<f32>(0.0);
        var r = 0u;
        for (; r < 4u; r++) {
            let row = (4u * b + r) * K4;
            var sum = vec4<f32>(0.0);
            var j = 0u;
            for (; j < K4; j++) {
                sum = fma(market_at(row + j), factor_normals[j], sum);
            }
            ok = ok && j == K4;
            systematic[r] = (sum.x + sum.y) + (sum.z + sum.w);
        }
        ok = ok && r == 4u;
        let noise = fma(z4(b), market_at(IDIO_BASE + b), systematic);
        ok = note_noise4(b, noise) && ok;
        set_z4(b, noise + model_drift4(b));
    }
    return ok && b == N4;
}
