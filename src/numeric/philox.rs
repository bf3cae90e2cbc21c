//! Philox4x32-10 and the normal transform: the CPU twin of `shaders/philox.wgsl`.
//!
//! The reproducibility contract (docs/reproducibility.md): the standard normal used for
//! `(seed, path, step, asset)` is a pure function of those four numbers.
//!
//! * key     = the 64-bit seed, `[low 32 bits, high 32 bits]`;
//! * counter = `[path, step, asset / 4, stream]`; one Philox call gives four
//!   uint32 words, hence four uniforms, two Box–Muller pairs and the normals of
//!   four consecutive assets `4b, 4b + 1, 4b + 2, 4b + 3`.
//!
//! The two formulas below are the only definition of the transform; the WGSL
//! twin mirrors them line for line.
//!
//! * uint32 -> uniform: `u = ((x >> 8) | 1) * 2^-24`. The odd 24-bit integer is
//!   exact in f32 and f64, so CPU and GPU uniforms are bit-identical and lie
//!   strictly inside (0, 1): `ln(u)` is always finite.
//! * Box–Muller: `r = sqrt(-2 ln u_a)`, `theta = 2 pi u_b`,
//!   `z_a = r cos(theta)`, `z_b = r sin(theta)`, for the pairs `(u0, u1)` and
//!   `(u2, u3)`, giving the normals of assets `4b, 4b + 1` and `4b + 2, 4b + 3`.

/// Philox multipliers and Weyl key increments (Salmon et al., SC'11).
pub const PHILOX_M0: u32 = 0xD251_1F53;
pub const PHILOX_M1: u32 = 0xCD9E_8D57;
pub const PHILOX_W0: u32 = 0x9E37_79B9;
pub const PHILOX_W1: u32 = 0xBB67_AE85;

/// Which random stream a counter draws from (the counter's fourth word).
/// Market noise is stream 0; later models take further streams so that adding
/// a model never changes the numbers of an existing one.
pub const STREAM_MARKET: u32 = 0;
/// Factor normals of a GBM factor model (one per factor, four per Philox call).
pub const STREAM_FACTORS: u32 = 1;
/// The bootstrap market's day choices (docs/real-data.md): counter `[path, step, 0, 2]`,
/// word 0 decides a jump, word 1 the day jumped to.
pub const STREAM_BOOTSTRAP: u32 = 2;

/// 2^-24, the spacing of the uniforms.
pub const UNIFORM_SCALE: f64 = 1.0 / 16_777_216.0;

#[inline(always)]
fn mulhilo(a: u32, b: u32) -> (u32, u32) {
    let product = (a as u64) * (b as u64);
    ((product >> 32) as u32, product as u32)
}

#[inline(always)]
fn philox_round(counter: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let (hi0, lo0) = mulhilo(PHILOX_M0, counter[0]);
    let (hi1, lo1) = mulhilo(PHILOX_M1, counter[2]);
    [hi1 ^ counter[1] ^ key[0], lo1, hi0 ^ counter[3] ^ key[1], lo0]
}

/// Philox4x32 with ten rounds: a bijection of the counter under the key.
#[inline(always)]
pub fn philox4x32_10(counter: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let mut counter = counter;
    let mut key = key;
    counter = philox_round(counter, key);
    for _ in 1..10 {
        key = [key[0].wrapping_add(PHILOX_W0), key[1].wrapping_add(PHILOX_W1)];
        counter = philox_round(counter, key);
    }
    counter
}

/// Philox4x32-10 on `L` counters at once, laid out word by word (`counter[word][lane]`)
/// so that each round is a handful of SIMD instructions. Same bijection as [`philox4x32_10`].
#[inline(always)]
pub fn philox4x32_10_lanes<const L: usize>(counter: [[u32; L]; 4], key: [u32; 2]) -> [[u32; L]; 4] {
    let mut x = counter;
    let mut key = key;
    for round in 0..10 {
        if round > 0 {
            key = [key[0].wrapping_add(PHILOX_W0), key[1].wrapping_add(PHILOX_W1)];
        }
        let mut next = [[0u32; L]; 4];
        for l in 0..L {
            let (hi0, lo0) = mulhilo(PHILOX_M0, x[0][l]);
            let (hi1, lo1) = mulhilo(PHILOX_M1, x[2][l]);
            next[0][l] = hi1 ^ x[1][l] ^ key[0];
            next[1][l] = lo1;
            next[2][l] = hi0 ^ x[3][l] ^ key[1];
            next[3][l] = lo0;
        }
        x = next;
    }
    x
}

/// [`philox4x32_10_lanes`] with AVX2 when the CPU has it and `L` is a multiple of 8.
/// LLVM widens the generic version's 32 x 32 -> 64-bit products through shuffles;
/// here each product of eight lanes is two `vpmuludq` and two blends.
#[inline(always)]
pub fn philox4x32_10_simd<const L: usize>(counter: [[u32; L]; 4], key: [u32; 2]) -> [[u32; L]; 4] {
    #[cfg(target_arch = "x86_64")]
    {
        // Only inside the AVX-512 kernel: called from the AVX2 one it would not inline.
        if L.is_multiple_of(16) && crate::numeric::simd::flavour() == crate::numeric::simd::Flavour::Avx512 {
            // SAFETY: `flavour` only returns what the CPU supports.
            return unsafe { avx512::philox4x32_10_lanes(counter, key) };
        }
        if L.is_multiple_of(8) && std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2.
            return unsafe { avx2::philox4x32_10_lanes(counter, key) };
        }
    }
    philox4x32_10_lanes(counter, key)
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::{PHILOX_M0, PHILOX_M1, PHILOX_W0, PHILOX_W1};

    /// (high, low) words of the eight products `a * multiplier`.
    #[inline(always)]
    unsafe fn mulhilo(a: __m256i, multiplier: __m256i) -> (__m256i, __m256i) {
        let even = _mm256_mul_epu32(a, multiplier);
        let odd = _mm256_mul_epu32(_mm256_srli_epi64::<32>(a), multiplier);
        let low = _mm256_blend_epi32::<0b1010_1010>(even, _mm256_slli_epi64::<32>(odd));
        let high = _mm256_blend_epi32::<0b1010_1010>(_mm256_srli_epi64::<32>(even), odd);
        (high, low)
    }

    /// Philox4x32-10 on `L` lanes (a multiple of 8), eight at a time.
    #[target_feature(enable = "avx2")]
    pub unsafe fn philox4x32_10_lanes<const L: usize>(counter: [[u32; L]; 4], key: [u32; 2]) -> [[u32; L]; 4] {
        let mut out = [[0u32; L]; 4];
        let (m0, m1) = (_mm256_set1_epi32(PHILOX_M0 as i32), _mm256_set1_epi32(PHILOX_M1 as i32));
        for chunk in 0..L / 8 {
            let load = |word: usize| _mm256_loadu_si256(counter[word][8 * chunk..].as_ptr().cast());
            let mut x = [load(0), load(1), load(2), load(3)];
            let mut key = key;
            for round in 0..10 {
                if round > 0 {
                    key = [key[0].wrapping_add(PHILOX_W0), key[1].wrapping_add(PHILOX_W1)];
                }
                let (hi0, lo0) = mulhilo(x[0], m0);
                let (hi1, lo1) = mulhilo(x[2], m1);
                let k0 = _mm256_set1_epi32(key[0] as i32);
                let k1 = _mm256_set1_epi32(key[1] as i32);
                x = [
                    _mm256_xor_si256(_mm256_xor_si256(hi1, x[1]), k0),
                    lo1,
                    _mm256_xor_si256(_mm256_xor_si256(hi0, x[3]), k1),
                    lo0,
                ];
            }
            for (word, value) in x.iter().enumerate() {
                _mm256_storeu_si256(out[word][8 * chunk..].as_mut_ptr().cast(), *value);
            }
        }
        out
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    use super::{PHILOX_M0, PHILOX_M1, PHILOX_W0, PHILOX_W1};

    /// (high, low) words of the sixteen products `a * multiplier`.
    #[inline(always)]
    unsafe fn mulhilo(a: __m512i, multiplier: __m512i) -> (__m512i, __m512i) {
        let even = _mm512_mul_epu32(a, multiplier);
        let odd = _mm512_mul_epu32(_mm512_srli_epi64::<32>(a), multiplier);
        let low = _mm512_mask_blend_epi32(0xAAAA, even, _mm512_slli_epi64::<32>(odd));
        let high = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64::<32>(even), odd);
        (high, low)
    }

    /// Philox4x32-10 on `L` lanes (a multiple of 16), sixteen at a time.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn philox4x32_10_lanes<const L: usize>(counter: [[u32; L]; 4], key: [u32; 2]) -> [[u32; L]; 4] {
        let mut out = [[0u32; L]; 4];
        let (m0, m1) = (_mm512_set1_epi32(PHILOX_M0 as i32), _mm512_set1_epi32(PHILOX_M1 as i32));
        for chunk in 0..L / 16 {
            let load = |word: usize| _mm512_loadu_si512(counter[word][16 * chunk..].as_ptr().cast());
            let mut x = [load(0), load(1), load(2), load(3)];
            let mut key = key;
            for round in 0..10 {
                if round > 0 {
                    key = [key[0].wrapping_add(PHILOX_W0), key[1].wrapping_add(PHILOX_W1)];
                }
                let (hi0, lo0) = mulhilo(x[0], m0);
                let (hi1, lo1) = mulhilo(x[2], m1);
                let k0 = _mm512_set1_epi32(key[0] as i32);
                let k1 = _mm512_set1_epi32(key[1] as i32);
                x = [
                    _mm512_xor_si512(_mm512_xor_si512(hi1, x[1]), k0),
                    lo1,
                    _mm512_xor_si512(_mm512_xor_si512(hi0, x[3]), k1),
                    lo0,
                ];
            }
            for (word, value) in x.iter().enumerate() {
                _mm512_storeu_si512(out[word][16 * chunk..].as_mut_ptr().cast(), *value);
            }
        }
        out
    }
}

/// The Philox key of a 64-bit seed.
#[inline(always)]
pub fn seed_key(seed: u64) -> [u32; 2] {
    [seed as u32, (seed >> 32) as u32]
}

/// The counter of the four normals of assets `4 * asset_block ..` at `(path, step)`.
#[inline(always)]
pub fn normal_counter(path: u32, step: u32, asset_block: u32, stream: u32) -> [u32; 4] {
    [path, step, asset_block, stream]
}

/// The odd 24-bit integer behind a uniform: `(x >> 8) | 1`.
#[inline(always)]
pub fn uniform_bits(word: u32) -> u32 {
    (word >> 8) | 1
}

/// uint32 -> uniform strictly inside (0, 1), exact in f64.
#[inline(always)]
pub fn uniform_f64(word: u32) -> f64 {
    uniform_bits(word) as f64 * UNIFORM_SCALE
}

/// Box–Muller on a pair of uniforms, in f64 (the reference transform).
#[inline(always)]
pub fn box_muller_f64(u_radius: f64, u_angle: f64) -> (f64, f64) {
    let radius = (-2.0 * u_radius.ln()).sqrt();
    let (sin, cos) = (std::f64::consts::TAU * u_angle).sin_cos();
    (radius * cos, radius * sin)
}

/// The four standard normals of assets `4 * asset_block .. 4 * asset_block + 3`
/// for `(seed, path, step)`, in f64.
pub fn normals4(seed: u64, path: u32, step: u32, asset_block: u32) -> [f64; 4] {
    let words = philox4x32_10(normal_counter(path, step, asset_block, STREAM_MARKET), seed_key(seed));
    let (z0, z1) = box_muller_f64(uniform_f64(words[0]), uniform_f64(words[1]));
    let (z2, z3) = box_muller_f64(uniform_f64(words[2]), uniform_f64(words[3]));
    [z0, z1, z2, z3]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Known answers from Random123 (docs/reproducibility.md).
    #[test]
    fn philox_known_answers() {
        let cases: [([u32; 4], [u32; 2], [u32; 4]); 3] = [
            ([0; 4], [0; 2], [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]),
            ([u32::MAX; 4], [u32::MAX; 2], [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]),
            (
                [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344],
                [0xa4093822, 0x299f31d0],
                [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1],
            ),
        ];
        for (counter, key, expected) in cases {
            assert_eq!(philox4x32_10(counter, key), expected, "counter {counter:08x?}");
        }
    }

    #[test]
    fn the_lane_version_is_the_same_bijection() {
        let key = seed_key(0x0123_4567_89ab_cdef);
        let counters: [[u32; 8]; 4] = [
            std::array::from_fn(|l| 1000 + l as u32),
            std::array::from_fn(|l| u32::MAX - l as u32),
            std::array::from_fn(|l| 7 * l as u32),
            std::array::from_fn(|l| l as u32 % 3),
        ];
        for lanes in [philox4x32_10_lanes(counters, key), philox4x32_10_simd(counters, key)] {
            for l in 0..8 {
                let single = philox4x32_10([counters[0][l], counters[1][l], counters[2][l], counters[3][l]], key);
                assert_eq!([lanes[0][l], lanes[1][l], lanes[2][l], lanes[3][l]], single);
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_avx512_version_is_the_same_bijection() {
        if !std::is_x86_feature_detected!("avx512f") {
            eprintln!("no AVX-512F on this CPU: the AVX-512 Philox is not run (the AVX2 one is tested above)");
            return;
        }
        let key = seed_key(0xfeed_beef_0bad_cafe);
        let counters: [[u32; 32]; 4] = [
            std::array::from_fn(|l| 77 * l as u32),
            std::array::from_fn(|l| u32::MAX - 3 * l as u32),
            std::array::from_fn(|l| l as u32 ^ 0x8000_0000),
            std::array::from_fn(|l| l as u32 % 5),
        ];
        // SAFETY: the CPU supports AVX-512F (checked above).
        let lanes = unsafe { avx512::philox4x32_10_lanes(counters, key) };
        for l in 0..32 {
            let single = philox4x32_10([counters[0][l], counters[1][l], counters[2][l], counters[3][l]], key);
            assert_eq!([lanes[0][l], lanes[1][l], lanes[2][l], lanes[3][l]], single);
        }
    }

    #[test]
    fn uniforms_are_strictly_inside_the_unit_interval() {
        assert!(uniform_f64(0) > 0.0);
        assert!(uniform_f64(u32::MAX) < 1.0);
        assert_eq!(uniform_f64(0), UNIFORM_SCALE);
        assert_eq!(uniform_f64(u32::MAX), 1.0 - UNIFORM_SCALE);
        // Exact in f32 too: the f32 and f64 uniforms are the same number.
        for word in [0u32, 1, 255, 256, 0x8000_0000, u32::MAX, 0x1234_5678] {
            let as_f32 = uniform_bits(word) as f32 * UNIFORM_SCALE as f32;
            assert_eq!(as_f32 as f64, uniform_f64(word));
        }
    }

    #[test]
    fn normals_have_unit_moments() {
        // 400k normals: se of the mean 0.0016, of the variance about 0.0022;
        // the tolerances are 5 standard errors.
        let mut sum = 0.0;
        let mut sum_sq = 0.0;
        let mut sum_cross = 0.0;
        let mut count = 0.0;
        for path in 0..1000 {
            for step in 0..100 {
                let z = normals4(7, path, step, 0);
                sum += z.iter().sum::<f64>();
                sum_sq += z.iter().map(|v| v * v).sum::<f64>();
                sum_cross += z[0] * z[2];
                count += 4.0;
            }
        }
        let mean = sum / count;
        let variance = sum_sq / count - mean * mean;
        assert!(mean.abs() < 0.008, "mean {mean}");
        assert!((variance - 1.0).abs() < 0.011, "variance {variance}");
        assert!((sum_cross / (count / 4.0)).abs() < 0.016, "pairs are correlated");
    }
}
