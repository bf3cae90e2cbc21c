//! The floating-point types the CPU kernels are generic over.
//!
//! The kernels process `LANES` paths side by side (`[R; LANES]` per quantity), so
//! every loop over lanes is a straight-line SIMD candidate. For that the f32
//! transcendentals must be branch-free inline code (libm calls do not
//! vectorize): Cephes-style polynomials, accurate to a few ulp, below. f64 is the
//! validation precision and uses the standard library.

use std::fmt::Debug;
use std::ops::{Add, Div, Mul, Neg, Sub};

/// Paths per CPU kernel block: one AVX-512 register of f32, or two AVX2 ones (two
/// independent instruction chains). Measured: with AVX2, 16 lanes ran 20 % faster than
/// 8 and 32 collapsed (LLVM stopped vectorising); with AVX-512, 32 lanes gained 4 %.
pub const LANES: usize = 16;

pub trait Real:
    Copy
    + Send
    + Sync
    + Default
    + Debug
    + PartialOrd
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + 'static
{
    const ZERO: Self;
    const ONE: Self;
    const NAME: &'static str;
    fn from_f64(value: f64) -> Self;
    fn to_f64(self) -> f64;
    fn exp(self) -> Self;
    fn ln(self) -> Self;
    fn sqrt(self) -> Self;
    /// `self * factor + addend`, rounded once. Only for code compiled with FMA enabled:
    /// elsewhere it is a slow library call.
    fn fused_mul_add(self, factor: Self, addend: Self) -> Self;
    fn abs(self) -> Self;
    /// `(sin 2 pi u, cos 2 pi u)` for u in (0, 1).
    fn sin_cos_turns(u: Self) -> (Self, Self);
    /// The same functions with polynomials evaluated by fused multiply-adds, for code
    /// compiled with FMA enabled (elsewhere a slow library call).
    #[inline(always)]
    fn exp_fused(self) -> Self {
        self.exp()
    }
    #[inline(always)]
    fn ln_fused(self) -> Self {
        self.ln()
    }
    #[inline(always)]
    fn sin_cos_turns_fused(u: Self) -> (Self, Self) {
        Self::sin_cos_turns(u)
    }
    /// The uniform of a Philox word (`philox::uniform_bits` times 2^-24, exact).
    fn uniform(word: u32) -> Self;
    /// An unsigned integer in the order of the values (for sorting by integer keys;
    /// NaN anywhere): larger values, larger integers.
    fn order_bits(self) -> u64;
    #[inline(always)]
    fn max(self, other: Self) -> Self {
        if other > self {
            other
        } else {
            self
        }
    }
    #[inline(always)]
    fn min(self, other: Self) -> Self {
        if other < self {
            other
        } else {
            self
        }
    }
}

impl Real for f64 {
    const ZERO: f64 = 0.0;
    const ONE: f64 = 1.0;
    const NAME: &'static str = "f64";
    #[inline(always)]
    fn from_f64(value: f64) -> f64 {
        value
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }
    #[inline(always)]
    fn exp(self) -> f64 {
        f64::exp(self)
    }
    #[inline(always)]
    fn ln(self) -> f64 {
        f64::ln(self)
    }
    #[inline(always)]
    fn sqrt(self) -> f64 {
        f64::sqrt(self)
    }
    #[inline(always)]
    fn fused_mul_add(self, factor: f64, addend: f64) -> f64 {
        self.mul_add(factor, addend)
    }
    #[inline(always)]
    fn abs(self) -> f64 {
        f64::abs(self)
    }
    #[inline(always)]
    fn sin_cos_turns(u: f64) -> (f64, f64) {
        (std::f64::consts::TAU * u).sin_cos()
    }
    #[inline(always)]
    fn order_bits(self) -> u64 {
        let bits = self.to_bits();
        if bits >> 63 == 1 {
            !bits
        } else {
            bits | (1 << 63)
        }
    }
    #[inline(always)]
    fn uniform(word: u32) -> f64 {
        crate::numeric::philox::uniform_f64(word)
    }
}

/// One value per lane: `L` paths' copies of a quantity, operated on as a unit.
///
/// Every operation builds a new value (`from_fn` over lanes) rather than writing
/// through references, so LLVM sees plain registers without aliasing and turns
/// each operation into one SIMD instruction (or a few, for transcendentals).
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(transparent)]
pub struct Lanes<R, const L: usize>(pub [R; L]);

impl<R: Real, const L: usize> Lanes<R, L> {
    /// `if_set` in the lanes where `self` (a mask of 0 and 1) is positive, else `otherwise`: exact, unlike a blend.
    #[inline(always)]
    pub fn select(self, if_set: Self, otherwise: Self) -> Self {
        Lanes(std::array::from_fn(|l| if self.0[l] > R::ZERO { if_set.0[l] } else { otherwise.0[l] }))
    }

    /// Whether any lane is positive (of a mask of 0 and 1: whether any is set).
    #[inline(always)]
    pub fn any_positive(self) -> bool {
        self.0.iter().any(|v| *v > R::ZERO)
    }

    #[inline(always)]
    pub fn splat(value: R) -> Self {
        Lanes([value; L])
    }
    #[inline(always)]
    pub fn zero() -> Self {
        Lanes([R::ZERO; L])
    }
    #[inline(always)]
    pub fn map(self, f: impl Fn(R) -> R) -> Self {
        Lanes(std::array::from_fn(|l| f(self.0[l])))
    }
    #[inline(always)]
    pub fn zip_map(self, other: Self, f: impl Fn(R, R) -> R) -> Self {
        Lanes(std::array::from_fn(|l| f(self.0[l], other.0[l])))
    }
    #[inline(always)]
    pub fn exp(self) -> Self {
        self.map(R::exp)
    }
    #[inline(always)]
    pub fn ln(self) -> Self {
        self.map(R::ln)
    }
    /// `exp`, with fused multiply-adds when `FUSED`.
    #[inline(always)]
    pub fn exp_with<const FUSED: bool>(self) -> Self {
        if FUSED {
            self.map(R::exp_fused)
        } else {
            self.exp()
        }
    }
    /// `ln`, with fused multiply-adds when `FUSED`.
    #[inline(always)]
    pub fn ln_with<const FUSED: bool>(self) -> Self {
        if FUSED {
            self.map(R::ln_fused)
        } else {
            self.ln()
        }
    }
    /// `(sin 2 pi u, cos 2 pi u)` lane by lane, with fused multiply-adds when `FUSED`.
    #[inline(always)]
    pub fn sin_cos_turns_with<const FUSED: bool>(self) -> (Self, Self) {
        // One loop computing both (two `from_fn` passes would evaluate each lane twice).
        let (mut sin, mut cos) = ([R::ZERO; L], [R::ZERO; L]);
        for l in 0..L {
            (sin[l], cos[l]) = if FUSED { R::sin_cos_turns_fused(self.0[l]) } else { R::sin_cos_turns(self.0[l]) };
        }
        (Lanes(sin), Lanes(cos))
    }
    #[inline(always)]
    pub fn sqrt(self) -> Self {
        self.map(R::sqrt)
    }
    #[inline(always)]
    pub fn abs(self) -> Self {
        self.map(R::abs)
    }
    #[inline(always)]
    pub fn max(self, other: Self) -> Self {
        self.zip_map(other, R::max)
    }
    #[inline(always)]
    pub fn min(self, other: Self) -> Self {
        self.zip_map(other, R::min)
    }
    /// `self * factor + addend`: one rounding when `FUSED` (FMA hardware), two otherwise.
    #[inline(always)]
    pub fn mul_add<const FUSED: bool>(self, factor: R, addend: Self) -> Self {
        if FUSED {
            Lanes(std::array::from_fn(|l| self.0[l].fused_mul_add(factor, addend.0[l])))
        } else {
            self * factor + addend
        }
    }
    /// `self * factors + addend`, lane by lane: one rounding when `FUSED`, two otherwise.
    #[inline(always)]
    pub fn mul_add_lanes<const FUSED: bool>(self, factors: Self, addend: Self) -> Self {
        if FUSED {
            Lanes(std::array::from_fn(|l| self.0[l].fused_mul_add(factors.0[l], addend.0[l])))
        } else {
            self * factors + addend
        }
    }
    #[inline(always)]
    pub fn recip(self) -> Self {
        self.map(|v| R::ONE / v)
    }
}

macro_rules! lanes_operator {
    ($trait:ident, $method:ident, $op:tt) => {
        impl<R: Real, const L: usize> $trait for Lanes<R, L> {
            type Output = Self;
            #[inline(always)]
            fn $method(self, other: Self) -> Self {
                self.zip_map(other, |a, b| a $op b)
            }
        }
        impl<R: Real, const L: usize> $trait<R> for Lanes<R, L> {
            type Output = Self;
            #[inline(always)]
            fn $method(self, other: R) -> Self {
                self.map(|a| a $op other)
            }
        }
    };
}
lanes_operator!(Add, add, +);
lanes_operator!(Sub, sub, -);
lanes_operator!(Mul, mul, *);
lanes_operator!(Div, div, /);

impl<R: Real, const L: usize> Neg for Lanes<R, L> {
    type Output = Self;
    #[inline(always)]
    fn neg(self) -> Self {
        self.map(|a| -a)
    }
}

/// 1.5 * 2^23: adding it rounds an f32 of magnitude below 2^22 to an integer
/// held in the low mantissa bits (round to nearest, even), without a libm call.
const ROUND_MAGIC: f32 = 12_582_912.0;

#[inline(always)]
fn round_to_int(x: f32) -> (f32, i32) {
    let shifted = x + ROUND_MAGIC;
    (shifted - ROUND_MAGIC, shifted.to_bits() as i32 - ROUND_MAGIC.to_bits() as i32)
}

/// `a * b + c`, fused (one rounding) when `FUSED`.
#[inline(always)]
fn madd<const FUSED: bool>(a: f32, b: f32, c: f32) -> f32 {
    if FUSED {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// e^x, Cephes expf: x = n ln 2 + r with |r| <= ln2 / 2, degree-6 polynomial, then 2^n.
#[inline(always)]
pub fn exp_f32(x: f32) -> f32 {
    exp_f32_with::<false>(x)
}

#[inline(always)]
#[allow(clippy::excessive_precision)] // Cephes' coefficients, as published
fn exp_f32_with<const FUSED: bool>(x: f32) -> f32 {
    let x = x.clamp(-87.0, 88.0);
    let (n, n_int) = round_to_int(x * std::f32::consts::LOG2_E);
    let r = x - n * 0.693_359_4 - n * -2.121_944_4e-4;
    let mut p = 1.987_569_1e-4f32;
    p = madd::<FUSED>(p, r, 1.398_199_9e-3);
    p = madd::<FUSED>(p, r, 8.333_452e-3);
    p = madd::<FUSED>(p, r, 4.166_579_6e-2);
    p = madd::<FUSED>(p, r, 1.666_666_5e-1);
    p = madd::<FUSED>(p, r, 5.000_000_1e-1);
    let poly = madd::<FUSED>(p * r, r, r) + 1.0;
    poly * f32::from_bits(((n_int + 127) as u32) << 23)
}

/// ln x for positive normal x, Cephes logf: x = m 2^e with m in [sqrt(1/2), sqrt 2).
#[inline(always)]
pub fn ln_f32(x: f32) -> f32 {
    ln_f32_with::<false>(x)
}

#[inline(always)]
#[allow(clippy::excessive_precision)] // Cephes' coefficients, as published
fn ln_f32_with<const FUSED: bool>(x: f32) -> f32 {
    let bits = x.to_bits();
    let exponent = ((bits >> 23) & 0xff) as i32 - 126;
    let mantissa = f32::from_bits((bits & 0x007f_ffff) | 0x3f00_0000); // in [0.5, 1)
    let small = mantissa < std::f32::consts::FRAC_1_SQRT_2;
    let e = (exponent - small as i32) as f32;
    let f = if small { mantissa + mantissa - 1.0 } else { mantissa - 1.0 };
    let z = f * f;
    let mut y = 7.037_683_6e-2f32;
    y = madd::<FUSED>(y, f, -1.151_461_e-1);
    y = madd::<FUSED>(y, f, 1.167_699_9e-1);
    y = madd::<FUSED>(y, f, -1.242_014_1e-1);
    y = madd::<FUSED>(y, f, 1.424_932_3e-1);
    y = madd::<FUSED>(y, f, -1.666_805_8e-1);
    y = madd::<FUSED>(y, f, 2.000_071_4e-1);
    y = madd::<FUSED>(y, f, -2.499_999_4e-1);
    y = madd::<FUSED>(y, f, 3.333_333_1e-1);
    y = y * f * z;
    y = madd::<FUSED>(-2.121_944_4e-4, e, y);
    y = madd::<FUSED>(-0.5, z, y);
    madd::<FUSED>(0.693_359_4, e, f + y)
}

/// (sin 2 pi u, cos 2 pi u) for u in (0, 1): reduce to a quarter turn, Cephes polynomials.
#[inline(always)]
pub fn sin_cos_turns_f32(u: f32) -> (f32, f32) {
    sin_cos_turns_f32_with::<false>(u)
}

#[inline(always)]
fn sin_cos_turns_f32_with<const FUSED: bool>(u: f32) -> (f32, f32) {
    // u - q/4 is exact in f32 for u in (0, 1), so the reduction adds no error.
    let (q, q_int) = round_to_int(u * 4.0);
    let r = (u - q * 0.25) * std::f32::consts::TAU; // |r| <= pi / 4
    let z = r * r;
    let sin_poly = madd::<FUSED>(madd::<FUSED>(z, -1.951_529_6e-4, 8.332_161e-3), z, -1.666_665_5e-1);
    let sin_r = madd::<FUSED>(r * z, sin_poly, r);
    let cos_poly = madd::<FUSED>(madd::<FUSED>(z, 2.443_315_7e-5, -1.388_731_6e-3), z, 4.166_664_6e-2);
    let cos_r = madd::<FUSED>(z * z, cos_poly, madd::<FUSED>(-0.5, z, 1.0));
    // Rotate by q quarter turns without branches (so the lanes vectorize):
    // q = 0: (s, c), 1: (c, -s), 2: (-s, -c), 3: (-c, s).
    let swap = q_int & 1 != 0;
    let (sin_abs, cos_abs) = if swap { (cos_r, sin_r) } else { (sin_r, cos_r) };
    let sin_sign = ((q_int & 2) as u32) << 30;
    let cos_sign = (((q_int + 1) & 2) as u32) << 30;
    (f32::from_bits(sin_abs.to_bits() ^ sin_sign), f32::from_bits(cos_abs.to_bits() ^ cos_sign))
}

impl Real for f32 {
    const ZERO: f32 = 0.0;
    const ONE: f32 = 1.0;
    const NAME: &'static str = "f32";
    #[inline(always)]
    fn from_f64(value: f64) -> f32 {
        value as f32
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self as f64
    }
    #[inline(always)]
    fn exp(self) -> f32 {
        exp_f32(self)
    }
    #[inline(always)]
    fn ln(self) -> f32 {
        ln_f32(self)
    }
    #[inline(always)]
    fn sqrt(self) -> f32 {
        f32::sqrt(self)
    }
    #[inline(always)]
    fn fused_mul_add(self, factor: f32, addend: f32) -> f32 {
        self.mul_add(factor, addend)
    }
    #[inline(always)]
    fn abs(self) -> f32 {
        f32::abs(self)
    }
    #[inline(always)]
    fn sin_cos_turns(u: f32) -> (f32, f32) {
        sin_cos_turns_f32(u)
    }
    #[inline(always)]
    fn exp_fused(self) -> f32 {
        exp_f32_with::<true>(self)
    }
    #[inline(always)]
    fn ln_fused(self) -> f32 {
        ln_f32_with::<true>(self)
    }
    #[inline(always)]
    fn sin_cos_turns_fused(u: f32) -> (f32, f32) {
        sin_cos_turns_f32_with::<true>(u)
    }
    #[inline(always)]
    fn order_bits(self) -> u64 {
        let bits = self.to_bits();
        u64::from(if bits >> 31 == 1 { !bits } else { bits | (1 << 31) })
    }
    #[inline(always)]
    fn uniform(word: u32) -> f32 {
        crate::numeric::philox::uniform_bits(word) as f32 * crate::numeric::philox::UNIFORM_SCALE as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn relative_error(approx: f32, exact: f64) -> f64 {
        ((approx as f64 - exact) / exact.abs().max(f64::MIN_POSITIVE)).abs()
    }

    #[test]
    fn exp_is_accurate_to_a_few_ulp() {
        let mut x = -80.0f32;
        while x < 80.0 {
            for value in [exp_f32(x), exp_f32_with::<true>(x)] {
                let error = relative_error(value, (x as f64).exp());
                assert!(error < 4e-7, "exp({x}): relative error {error}");
            }
            x += 0.0137;
        }
    }

    #[test]
    fn ln_is_accurate_to_a_few_ulp() {
        for k in 1..200_000u32 {
            let x = k as f32 * 1.7e-5;
            let exact = (x as f64).ln();
            for value in [ln_f32(x), ln_f32_with::<true>(x)] {
                let error = (value as f64 - exact).abs();
                assert!(error < 3e-7 * exact.abs().max(1.0), "ln({x}): error {error}");
            }
        }
        assert!((ln_f32(crate::numeric::philox::UNIFORM_SCALE as f32) as f64 - (-24.0 * 2f64.ln())).abs() < 1e-5);
    }

    #[test]
    fn sin_cos_turns_match_the_standard_library() {
        for k in 1..(1 << 16) {
            let u = k as f32 / 65536.0;
            let (sin_exact, cos_exact) = (std::f64::consts::TAU * u as f64).sin_cos();
            for (sin, cos) in [sin_cos_turns_f32(u), sin_cos_turns_f32_with::<true>(u)] {
                assert!((sin as f64 - sin_exact).abs() < 3e-7, "sin at u = {u}");
                assert!((cos as f64 - cos_exact).abs() < 3e-7, "cos at u = {u}");
            }
        }
    }
}
