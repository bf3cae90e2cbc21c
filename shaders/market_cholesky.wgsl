// Market stage: correlated GBM through the Cholesky factor. CPU twin:
// `cholesky_log_steps` in src/market/gbm.rs.
//
// market_data holds the factor times sqrt(dt) in groups of four rows (4b .. 4b + 3,
// zero rows past N), each row b + 1 vec4s long, interleaved: group b starts at
// 2 b (b + 1), then vec4 j of its four rows. The step drift is in `model` at
// MODEL_DRIFT_BASE.

// Log steps = drift + (L sqrt(dt)) z into z, the noise terms (L sqrt(dt)) z to
// note_noise; false if a loop was cut short.
fn market_log_steps(key: vec2<u32>, path: u32, step: u32) -> bool {
    var ok = market_normals(key, path, step);
    // Rows 4b .. 4b + 3 share their length (b + 1 vec4s) and are computed together,
    // so each z[j] loaded feeds four rows; groups go from the last, so every row
    // reads only normals not yet overwritten.
    var g = 0u;
    for (; g < N4; g++) {
        let b = N4 - 1u - g;
        let base = 2u * b * (b + 1u);
        var p0 = vec4<f32>(0.0);
        var p1 = vec4<f32>(0.0);
        var p2 = vec4<f32>(0.0);
        var p3 = vec4<f32>(0.0);
        var j = 0u;
        for (; j <= b; j++) {
            let normals = z4(j);
            let at = base + 4u * j;
            p0 = fma(normals, market_at(at), p0);
            p1 = fma(normals, market_at(at + 1u), p1);
            p2 = fma(normals, market_at(at + 2u), p2);
            p3 = fma(normals, market_at(at + 3u), p3);
        }
        ok = ok && j == b + 1u;
        let sums = vec4<f32>((p0.x + p0.y) + (p0.z + p0.w), (p1.x + p1.y) + (p1.z + p1.w),
                             (p2.x + p2.y) + (p2.z + p2.w), (p3.x + p3.y) + (p3.z + p3.w));
        ok = note_noise4(b, sums) && ok;
        set_z4(b, sums + model_drift4(b));
    }
    return ok && g == N4;
}
