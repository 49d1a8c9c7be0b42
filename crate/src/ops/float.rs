//! `Float`: the number type the CPU ops are written over.
//!
//! The model runs in f32. The same code instantiated with f64 is what the finite-difference tests check:
//! in f64 a central difference with eps = 1e-5 is accurate to about 1e-9, so a gradient bug cannot hide
//! behind rounding noise. Callers with `&[f32]` slices never name the type; it is inferred.

use std::fmt::Debug;
use std::iter::Sum;
use std::ops::{Add, AddAssign, Div, DivAssign, Mul, MulAssign, Neg, Sub, SubAssign};

/// f32 or f64: the arithmetic and the few functions the ops use.
pub trait Float:
    Copy
    + Default
    + PartialOrd
    + Debug
    + Send
    + Sync
    + 'static
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
    + Sum
{
    const ZERO: Self;
    const ONE: Self;
    const NEG_INFINITY: Self;
    fn from_f64(x: f64) -> Self;
    fn to_f64(self) -> f64;
    fn exp(self) -> Self;
    fn ln(self) -> Self;
    fn sqrt(self) -> Self;
    fn tanh(self) -> Self;
    /// e^x without a library call, so loops over it vectorize: [`exp_fast_f32`] in f32 (relative error
    /// below 3e-7); in f64 (the gradient checks) the exact `exp`.
    fn exp_fast(self) -> Self;
    /// tanh without a library call, so loops over it vectorize: in f32, 1 - 2 / (e^{2x} + 1) with a
    /// polynomial e^x (absolute error below 2e-7); in f64 (the gradient checks) the exact `tanh`.
    fn tanh_fast(self) -> Self;
    fn abs(self) -> Self;
    fn max(self, other: Self) -> Self;
    fn is_finite(self) -> bool;
    /// self * a + b rounded once; only fast where the target has FMA (see `gemm_acc`).
    fn mul_add(self, a: Self, b: Self) -> Self;
    /// `n` as this type (sizes, counts).
    fn from_usize(n: usize) -> Self {
        Self::from_f64(n as f64)
    }
}

macro_rules! impl_float {
    ($t:ty, $tanh_fast:path, $exp_fast:path) => {
        impl Float for $t {
            const ZERO: Self = 0.0;
            const ONE: Self = 1.0;
            const NEG_INFINITY: Self = <$t>::NEG_INFINITY;
            #[inline(always)]
            fn from_f64(x: f64) -> Self {
                x as $t
            }
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn exp(self) -> Self {
                <$t>::exp(self)
            }
            #[inline(always)]
            fn ln(self) -> Self {
                <$t>::ln(self)
            }
            #[inline(always)]
            fn sqrt(self) -> Self {
                <$t>::sqrt(self)
            }
            #[inline(always)]
            fn tanh(self) -> Self {
                <$t>::tanh(self)
            }
            #[inline(always)]
            fn exp_fast(self) -> Self {
                $exp_fast(self)
            }
            #[inline(always)]
            fn tanh_fast(self) -> Self {
                $tanh_fast(self)
            }
            #[inline(always)]
            fn abs(self) -> Self {
                <$t>::abs(self)
            }
            #[inline(always)]
            fn max(self, other: Self) -> Self {
                <$t>::max(self, other)
            }
            #[inline(always)]
            fn mul_add(self, a: Self, b: Self) -> Self {
                <$t>::mul_add(self, a, b)
            }
            #[inline(always)]
            fn is_finite(self) -> bool {
                <$t>::is_finite(self)
            }
        }
    };
}

impl_float!(f32, tanh_fast_f32, exp_fast_f32);
impl_float!(f64, f64::tanh, f64::exp);

/// `x` as an f32 slice when R is f32 (for kernels written for f32 alone, such as the wasm simd128 ones).
#[allow(dead_code)] // used by the wasm build
pub(crate) fn as_f32<R: Float>(x: &[R]) -> Option<&[f32]> {
    (std::any::TypeId::of::<R>() == std::any::TypeId::of::<f32>())
        // SAFETY: R is f32 (checked on the line above): same layout and length.
        .then(|| unsafe { std::slice::from_raw_parts(x.as_ptr().cast::<f32>(), x.len()) })
}

/// [`as_f32`] for a mutable slice.
#[allow(dead_code)] // used by the wasm build
pub(crate) fn as_f32_mut<R: Float>(x: &mut [R]) -> Option<&mut [f32]> {
    (std::any::TypeId::of::<R>() == std::any::TypeId::of::<f32>())
        // SAFETY: R is f32 (checked on the line above): same layout and length.
        .then(|| unsafe { std::slice::from_raw_parts_mut(x.as_mut_ptr().cast::<f32>(), x.len()) })
}

/// dst = src (same lengths), as `copy_from_slice`. In the wasm module an f32 row is copied four lanes at a time:
/// there `copy_from_slice` is a `memory.copy`, which V8 runs out of line, slow for the rows of a few dozen
/// floats that the attention's head slices and the matmul's bias rows are (3% of a training step).
#[inline(always)]
pub(crate) fn copy_row<R: Float>(dst: &mut [R], src: &[R]) {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    if let (Some(d), Some(s)) = (as_f32_mut(dst), as_f32(src)) {
        super::simd128::copy(d, s);
        return;
    }
    dst.copy_from_slice(src);
}

/// e^x for f32 in plain arithmetic (no library call, so the compiler vectorizes loops around it):
/// x = n ln2 + r with |r| <= ln2/2, e^r by its degree-6 Taylor polynomial (relative error below 2e-7),
/// 2^n by building the float's exponent bits. Inputs are clamped to [-87, 88], the range of normal f32.
#[inline(always)]
pub fn exp_fast_f32(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_145_75; // ln 2 split in two, so n * LN2_HI is exact for |n| < 2^8
    const LN2_LO: f32 = 1.428_606_8e-6;
    const ROUND: f32 = 12_582_912.0; // 1.5 * 2^23: adding and subtracting it rounds to the nearest integer
    let x = x.clamp(-87.0, 88.0);
    let shifted = x * LOG2E + ROUND;
    let n = shifted - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0))))));
    // n as an integer, read from the bits of `shifted` (ROUND + n: n sits in the low mantissa bits) rather than
    // by `n as i32`, whose saturating conversion the compiler does not vectorize. The same value either way.
    let n_int = shifted.to_bits().wrapping_sub(ROUND.to_bits()) as i32;
    p * f32::from_bits((n_int.wrapping_add(127) << 23) as u32)
}

#[inline(always)]
fn tanh_fast_f32(x: f32) -> f32 {
    // tanh(x) = sign(x) (1 - 2 / (e^{2|x|} + 1)); for |x| > 44 e^{2|x|} saturates and this gives +-1.
    let t = 1.0 - 2.0 / (exp_fast_f32(2.0 * x.abs()) + 1.0);
    if x < 0.0 { -t } else { t }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fast_exp_and_tanh_are_accurate() {
        let mut worst_exp = 0.0f64;
        let mut worst_tanh = 0.0f64;
        for i in -20000..=20000 {
            let x = i as f32 * 0.004; // -80 .. 80
            let e = f64::from(exp_fast_f32(x));
            let exact = f64::from(x).exp();
            worst_exp = worst_exp.max(((e - exact) / exact).abs());
            let t = f64::from(x.tanh_fast());
            worst_tanh = worst_tanh.max((t - f64::from(x).tanh()).abs());
        }
        assert!(worst_exp < 3e-7, "exp relative error {worst_exp}");
        assert!(worst_tanh < 3e-7, "tanh absolute error {worst_tanh}");
        assert!(f32::NAN.tanh_fast().is_nan());
        assert_eq!(1000.0f32.tanh_fast(), 1.0);
        assert_eq!((-1000.0f32).tanh_fast(), -1.0);
    }
}
