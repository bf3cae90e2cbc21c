// Philox's 32x32 -> 64-bit multiply as one 64-bit product, where the adapter has
// SHADER_INT64 (one wide multiply on GPUs instead of four 16-bit products and their carries).
fn mulhilo32(a: u32, b: u32) -> vec2<u32> {
    let product = u64(a) * u64(b);
    return vec2<u32>(u32(product >> 32u), u32(product));
}
