// Philox's 32x32 -> 64-bit multiply without 64-bit integers (WGSL's core has none).
// (high, low) words of the 64-bit product a * b, from 16-bit halves (WGSL has no 64-bit integers).
fn mulhilo32(a: u32, b: u32) -> vec2<u32> {
    let a_lo = a & 0xFFFFu;
    let a_hi = a >> 16u;
    let b_lo = b & 0xFFFFu;
    let b_hi = b >> 16u;
    let lo_lo = a_lo * b_lo;
    let hi_lo = a_hi * b_lo;
    let lo_hi = a_lo * b_hi;
    let hi_hi = a_hi * b_hi;
    // Sum of the middle terms' low halves plus the carry out of the low word.
    let middle = (lo_lo >> 16u) + (hi_lo & 0xFFFFu) + (lo_hi & 0xFFFFu);
    let high = hi_hi + (hi_lo >> 16u) + (lo_hi >> 16u) + (middle >> 16u);
    return vec2<u32>(high, a * b);
}
