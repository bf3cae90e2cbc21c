// Philox4x32-10 and the normal transform: the WGSL twin of src/numeric/philox.rs.
// Counter (path, step, asset block, stream), key = the 64-bit seed (low, high).
// uint32 -> uniform: ((x >> 8) | 1) * 2^-24, exact and strictly inside (0, 1).
// Box–Muller: r = sqrt(-2 ln u_a), theta = 2 pi u_b; (r cos theta, r sin theta).
// `mulhilo32` is composed before this: philox_multiply16.wgsl, or philox_multiply64.wgsl
// where the adapter has 64-bit integers (the same words either way).

const PHILOX_M0: u32 = 0xD2511F53u;
const PHILOX_M1: u32 = 0xCD9E8D57u;
const PHILOX_W0: u32 = 0x9E3779B9u;
const PHILOX_W1: u32 = 0xBB67AE85u;
const TWO_PI: f32 = 6.283185307179586;

fn philox_round(counter: vec4<u32>, key: vec2<u32>) -> vec4<u32> {
    let product0 = mulhilo32(PHILOX_M0, counter.x);
    let product1 = mulhilo32(PHILOX_M1, counter.z);
    return vec4<u32>(product1.x ^ counter.y ^ key.x, product1.y, product0.x ^ counter.w ^ key.y, product0.y);
}

// Ten rounds, unrolled: no loop counts against llvmpipe's per-loop iteration cap.
fn philox4x32_10(counter: vec4<u32>, key: vec2<u32>) -> vec4<u32> {
    let bump = vec2<u32>(PHILOX_W0, PHILOX_W1);
    var x = philox_round(counter, key);
    x = philox_round(x, key + bump);
    x = philox_round(x, key + 2u * bump);
    x = philox_round(x, key + 3u * bump);
    x = philox_round(x, key + 4u * bump);
    x = philox_round(x, key + 5u * bump);
    x = philox_round(x, key + 6u * bump);
    x = philox_round(x, key + 7u * bump);
    x = philox_round(x, key + 8u * bump);
    return philox_round(x, key + 9u * bump);
}

fn uniform_from_word(word: u32) -> f32 {
    return f32((word >> 8u) | 1u) * 5.9604644775390625e-8;
}

// The standard normals of assets 4 * asset_block .. 4 * asset_block + 3.
fn normals4(key: vec2<u32>, path: u32, step: u32, asset_block: u32, stream: u32) -> vec4<f32> {
    let words = philox4x32_10(vec4<u32>(path, step, asset_block, stream), key);
    let u = vec4<f32>(uniform_from_word(words.x), uniform_from_word(words.y),
                      uniform_from_word(words.z), uniform_from_word(words.w));
    let radius01 = sqrt(-2.0 * log(u.x));
    let radius23 = sqrt(-2.0 * log(u.z));
    let angle01 = TWO_PI * u.y;
    let angle23 = TWO_PI * u.w;
    return vec4<f32>(radius01 * cos(angle01), radius01 * sin(angle01),
                     radius23 * cos(angle23), radius23 * sin(angle23));
}
