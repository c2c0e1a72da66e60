//! The logistic sigmoid `σ(x) = 1 / (1 + e^(−x))` and its derivative — the original's
//! `sigmoid.asm`. Built on our own [`exp`](super::exp::exp), so it is bit-exact everywhere.
//!
//! For very negative `x`, `e^(−x)` overflows to +inf and `1/inf = 0`; for very positive `x`,
//! `e^(−x)` rounds to 0 and the result is exactly 1. No special cases needed.

use super::exp::exp;
use super::{SimdKind, SimdLevel};

// ANCHOR: sigmoid_scalar
/// `σ(x)`, the canonical scalar reference.
pub fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + exp(-x))
}

/// `σ'(x)` written in terms of the activation `s = σ(x)`: `s·(1 − s)`. Backprop already has `s`,
/// so it never needs `x` again.
pub fn sigmoid_derivative_from_output(s: f64) -> f64 {
    s * (1.0 - s)
}
// ANCHOR_END: sigmoid_scalar

/// `σ` of every element of `values`, in place.
pub fn sigmoid_in_place(level: SimdLevel, values: &mut [f64]) {
    match level.kind() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the CPU runs SSE2 (`SimdLevel`'s invariant: x86-64 always does).
        SimdKind::Sse2 => unsafe { x86::sigmoid_sse2_in_place(values) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the CPU runs AVX2 (`SimdLevel`'s invariant: an `Avx512` level implies it too;
        // this kernel has no AVX-512 version, so that level takes its AVX2 path).
        SimdKind::Avx2 | SimdKind::Avx512 => unsafe { x86::sigmoid_avx2_in_place(values) },
        #[cfg(target_arch = "aarch64")]
        SimdKind::Neon => two_lanes::sigmoid_in_place::<crate::math::neon::Neon>(values),
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        SimdKind::Simd128 => two_lanes::sigmoid_in_place::<crate::math::simd128::Simd128>(values),
        _ => values.iter_mut().for_each(|v| *v = sigmoid(*v)),
    }
}

super::two_lane_isa! {
/// [`sigmoid`] on two lanes (NEON, SIMD128), as the SSE2 version.
mod two_lanes {
    use super::*;
    use crate::math::exp::two_lanes::exp_v;
    use crate::math::lanes::{map_in_place, F64x2};

    pub(crate) fn sigmoid_in_place<V: F64x2>(values: &mut [f64]) {
        let one = V::splat(1.0);
        // Negation flips the sign bit, exactly like scalar `-x` (and unlike `0 − x` at zero).
        let sign = V::splat(-0.0);
        map_in_place::<V>(values, |x| one.div(one.add(exp_v(x.xor(sign)))), sigmoid)
    }
}
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::*;
    use crate::math::exp::x86::{exp_pd, exp_pd4, exp_pd4_many};
    use std::arch::x86_64::*;

    // ANCHOR: sigmoid_sse2
    /// [`sigmoid_in_place`](super::sigmoid_in_place) on SSE2.
    ///
    /// # Safety
    /// The CPU must run SSE2, as every x86-64 CPU does.
    #[target_feature(enable = "sse2")]
    pub(super) fn sigmoid_sse2_in_place(values: &mut [f64]) {
        let one = _mm_set1_pd(1.0);
        // Negation flips the sign bit, exactly like scalar `-x` (and unlike `0 − x` at zero).
        let sign = _mm_set1_pd(-0.0);
        let mut chunks = values.chunks_exact_mut(2);
        for c in &mut chunks {
            // SAFETY: `c` holds two doubles.
            let x = unsafe { _mm_loadu_pd(c.as_ptr()) };
            let e = exp_pd(_mm_xor_pd(x, sign));
            // SAFETY: as above.
            unsafe { _mm_storeu_pd(c.as_mut_ptr(), _mm_div_pd(one, _mm_add_pd(one, e))) };
        }
        chunks.into_remainder().iter_mut().for_each(|v| *v = sigmoid(*v));
    }
    // ANCHOR_END: sigmoid_sse2

    /// [`sigmoid_in_place`](super::sigmoid_in_place) on AVX2.
    ///
    /// # Safety
    /// The CPU must run AVX2, which a `SimdLevel` of kind `Avx2` proves.
    #[target_feature(enable = "avx2")]
    pub(super) fn sigmoid_avx2_in_place(values: &mut [f64]) {
        let one = _mm256_set1_pd(1.0);
        let sign = _mm256_set1_pd(-0.0);
        // Four registers at a time, so their exp chains overlap (see `exp_pd4_many`).
        let mut wide = values.chunks_exact_mut(16);
        for c in &mut wide {
            let p = c.as_mut_ptr();
            // SAFETY: `c` holds sixteen doubles, four registers' worth.
            unsafe {
                let mut x = [_mm256_setzero_pd(); 4];
                for (i, x) in x.iter_mut().enumerate() {
                    *x = _mm256_xor_pd(_mm256_loadu_pd(p.add(4 * i)), sign);
                }
                for (i, e) in exp_pd4_many(x).into_iter().enumerate() {
                    _mm256_storeu_pd(p.add(4 * i), _mm256_div_pd(one, _mm256_add_pd(one, e)));
                }
            }
        }
        let mut chunks = wide.into_remainder().chunks_exact_mut(4);
        for c in &mut chunks {
            // SAFETY: `c` holds four doubles.
            let x = unsafe { _mm256_loadu_pd(c.as_ptr()) };
            let e = exp_pd4(_mm256_xor_pd(x, sign));
            // SAFETY: as above.
            unsafe { _mm256_storeu_pd(c.as_mut_ptr(), _mm256_div_pd(one, _mm256_add_pd(one, e))) };
        }
        sigmoid_sse2_in_place(chunks.into_remainder());
    }
}
