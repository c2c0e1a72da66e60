//! `exp(x)` by range reduction and a Horner polynomial — the room of the original's `exp.asm`.
//!
//! 1. Clamp `x` to `[-745.2, 709.8]`: below, the result is 0; above, +inf (NaN passes through).
//! 2. Reduce: `k = round(x·log2(e))` (with the 1.5·2⁵² "shifter" trick, so no rounding
//!    instruction is needed and SSE2 can do it), and `r = x − k·ln2` in two steps (Cody–Waite:
//!    `ln2_hi` has trailing zero bits so `k·ln2_hi` is exact). Now `|r| ≤ ln2/2 ≈ 0.347`.
//! 3. Approximate `e^r` by its Taylor polynomial of degree 13 in Horner form; the first omitted
//!    term, `r¹⁴/14!`, is at most 4.2·10⁻¹⁸, far under half an ulp.
//! 4. Scale by `2^k` by building the powers of two from exponent bits. `k` is split into two
//!    halves so that every factor is a normal number and only the very last multiply rounds;
//!    that makes subnormal results and the overflow to +inf come out right.
//!
//! Accuracy (tested in `core/tests/it/kernels.rs` over the whole domain): at most 1 ulp from the
//! correctly rounded result.
//!
//! Every operation is a plain IEEE 754 add/sub/mul or an integer bit operation, so the SSE2 and
//! AVX2 versions produce exactly the scalar bits, lane by lane.

use super::{max_like_sse, min_like_sse, SimdKind, SimdLevel};

// ANCHOR: constants
/// Above this, `e^x` overflows to +inf.
pub(crate) const X_MAX: f64 = 709.8;
/// Below this, `e^x` rounds to 0 (the smallest subnormal is `2^-1074 ≈ e^-744.4`).
pub(crate) const X_MIN: f64 = -745.2;
pub(crate) const LOG2_E: f64 = std::f64::consts::LOG2_E;
/// `1.5·2⁵²`: adding it rounds to an integer, which then sits in the low mantissa bits.
pub(crate) const SHIFTER: f64 = 6755399441055744.0;
/// `ln 2` split in a high part with 32 significant bits and the rest.
pub(crate) const LN2_HI: f64 = f64::from_bits(0x3FE6_2E42_FEE0_0000);
pub(crate) const LN2_LO: f64 = 1.9082149292705877e-10;
/// Taylor coefficients `1/n!`, highest degree first, for Horner's rule.
pub(crate) const EXP_POLY: [f64; 14] = [
    1.0 / 6227020800.0, // 1/13!
    1.0 / 479001600.0,  // 1/12!
    1.0 / 39916800.0,   // 1/11!
    1.0 / 3628800.0,    // 1/10!
    1.0 / 362880.0,     // 1/9!
    1.0 / 40320.0,      // 1/8!
    1.0 / 5040.0,       // 1/7!
    1.0 / 720.0,        // 1/6!
    1.0 / 120.0,        // 1/5!
    1.0 / 24.0,         // 1/4!
    1.0 / 6.0,          // 1/3!
    0.5,                // 1/2!
    1.0,                // 1/1!
    1.0,                // 1/0!
];
// ANCHOR_END: constants

// ANCHOR: exp_scalar
/// `e^x`, the canonical scalar reference.
pub fn exp(x: f64) -> f64 {
    // 1. clamp (NaN falls through both: the comparisons are false for it)
    let x = max_like_sse(X_MIN, min_like_sse(X_MAX, x));
    // 2. range reduction: k = round(x·log2 e), r = x − k·ln2
    let t = x * LOG2_E + SHIFTER;
    let k_float = t - SHIFTER;
    let r = (x - k_float * LN2_HI) - k_float * LN2_LO;
    // 3. e^r by Horner's rule
    let mut p = EXP_POLY[0];
    for &c in &EXP_POLY[1..] {
        p = p * r + c;
    }
    // 4. scale by 2^k = 2^k1 · 2^k2; k sits in the low bits of t
    let k = (t.to_bits() as i64).wrapping_sub(SHIFTER.to_bits() as i64);
    let k1 = ((k.wrapping_add(2048) as u64) >> 1) as i64 - 1024; // floor(k/2), SSE2-friendly
    let k2 = k.wrapping_sub(k1);
    (p * pow2(k1)) * pow2(k2)
}

/// `2^k` for `-1022 <= k <= 1023`, built directly from the exponent bits.
#[inline(always)]
fn pow2(k: i64) -> f64 {
    f64::from_bits((k.wrapping_add(1023) as u64) << 52)
}
// ANCHOR_END: exp_scalar

// ANCHOR: exp_in_place
/// `e^x` for every element of `values`, in place, on the given instruction set.
pub fn exp_in_place(level: SimdLevel, values: &mut [f64]) {
    match level.kind() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the CPU runs SSE2 (`SimdLevel`'s invariant: x86-64 always does).
        SimdKind::Sse2 => unsafe { x86::exp_sse2_in_place(values) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the CPU runs AVX2 (`SimdLevel`'s invariant).
        SimdKind::Avx2 => unsafe { x86::exp_avx2_in_place(values) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the CPU runs AVX-512F and AVX2 (`SimdLevel`'s invariant).
        SimdKind::Avx512 => unsafe { x86::exp_avx512_in_place(values) },
        #[cfg(target_arch = "aarch64")]
        SimdKind::Neon => two_lanes::exp_in_place::<crate::math::neon::Neon>(values),
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        SimdKind::Simd128 => two_lanes::exp_in_place::<crate::math::simd128::Simd128>(values),
        _ => values.iter_mut().for_each(|v| *v = exp(*v)),
    }
}
// ANCHOR_END: exp_in_place

super::two_lane_isa! {
/// [`exp`] on two lanes (NEON, SIMD128), the SSE2 version's sequence over [`F64x2`].
pub(crate) mod two_lanes {
    use super::*;
    use crate::math::lanes::{map_in_place, max_like, min_like, F64x2};

    /// Two lanes of [`exp`], operation for operation as `exp_pd` (SSE2).
    #[inline(always)]
    pub(crate) fn exp_v<V: F64x2>(x: V) -> V {
        let x = max_like(V::splat(X_MIN), min_like(V::splat(X_MAX), x));
        let shifter = V::splat(SHIFTER);
        let t = x.mul(V::splat(LOG2_E)).add(shifter);
        let k_float = t.sub(shifter);
        let r = x.sub(k_float.mul(V::splat(LN2_HI))).sub(k_float.mul(V::splat(LN2_LO)));
        let mut p = V::splat(EXP_POLY[0]);
        for &c in &EXP_POLY[1..] {
            p = p.mul(r).add(V::splat(c));
        }
        // k sits in the low bits of t; the integer steps are the scalar code's wrapping ones.
        let k = t.sub_i64(shifter);
        let k1 = k.add_i64(V::splat_bits(2048)).shr_u64(1).sub_i64(V::splat_bits(1024));
        let k2 = k.sub_i64(k1);
        let bias = V::splat_bits(1023);
        let s1 = k1.add_i64(bias).shl_u64(52);
        let s2 = k2.add_i64(bias).shl_u64(52);
        p.mul(s1).mul(s2)
    }

    pub(crate) fn exp_in_place<V: F64x2>(values: &mut [f64]) {
        map_in_place::<V>(values, exp_v, exp)
    }
}
}

#[cfg(target_arch = "x86_64")]
pub(crate) mod x86 {
    use super::*;
    use std::arch::x86_64::*;

    // ANCHOR: exp_sse2
    /// Two lanes of [`exp`], instruction for instruction.
    ///
    /// # Safety
    /// The CPU must run SSE2, as every x86-64 CPU does.
    #[inline]
    #[target_feature(enable = "sse2")]
    pub(crate) fn exp_pd(x: __m128d) -> __m128d {
        let x = _mm_max_pd(_mm_set1_pd(X_MIN), _mm_min_pd(_mm_set1_pd(X_MAX), x));
        let shifter = _mm_set1_pd(SHIFTER);
        let t = _mm_add_pd(_mm_mul_pd(x, _mm_set1_pd(LOG2_E)), shifter);
        let k_float = _mm_sub_pd(t, shifter);
        let r = _mm_sub_pd(
            _mm_sub_pd(x, _mm_mul_pd(k_float, _mm_set1_pd(LN2_HI))),
            _mm_mul_pd(k_float, _mm_set1_pd(LN2_LO)),
        );
        let mut p = _mm_set1_pd(EXP_POLY[0]);
        for &c in &EXP_POLY[1..] {
            p = _mm_add_pd(_mm_mul_pd(p, r), _mm_set1_pd(c));
        }
        let k = _mm_sub_epi64(_mm_castpd_si128(t), _mm_castpd_si128(shifter));
        let k1 = _mm_sub_epi64(_mm_srli_epi64::<1>(_mm_add_epi64(k, _mm_set1_epi64x(2048))), _mm_set1_epi64x(1024));
        let k2 = _mm_sub_epi64(k, k1);
        let bias = _mm_set1_epi64x(1023);
        let s1 = _mm_castsi128_pd(_mm_slli_epi64::<52>(_mm_add_epi64(k1, bias)));
        let s2 = _mm_castsi128_pd(_mm_slli_epi64::<52>(_mm_add_epi64(k2, bias)));
        _mm_mul_pd(_mm_mul_pd(p, s1), s2)
    }
    // ANCHOR_END: exp_sse2

    /// Four lanes of [`exp`].
    ///
    /// # Safety
    /// The CPU must run AVX2, which a `SimdLevel` of kind `Avx2` proves.
    #[inline]
    #[target_feature(enable = "avx2")]
    pub(crate) fn exp_pd4(x: __m256d) -> __m256d {
        exp_pd4_many([x])[0]
    }

    /// `N` registers of four lanes of [`exp`], each step issued for all `N` before the next.
    ///
    /// One register's Horner chain is 13 dependent multiply-add pairs (~80 cycles of latency). A
    /// plain loop over registers lets the core overlap only the few chains whose instructions fit
    /// in its floating-point scheduler at once; issuing the step of several independent chains
    /// together keeps them all moving. Every lane still performs exactly [`exp`]'s sequence.
    ///
    /// # Safety
    /// The CPU must run AVX2, which a `SimdLevel` of kind `Avx2` proves.
    #[inline]
    #[target_feature(enable = "avx2")]
    pub(crate) fn exp_pd4_many<const N: usize>(x: [__m256d; N]) -> [__m256d; N] {
        // (Plain loops rather than `array::map`, whose closures need not inline into an AVX2
        // function.)
        let shifter = _mm256_set1_pd(SHIFTER);
        let mut x = x;
        let mut t = [_mm256_setzero_pd(); N];
        let mut r = [_mm256_setzero_pd(); N];
        for i in 0..N {
            x[i] = _mm256_max_pd(_mm256_set1_pd(X_MIN), _mm256_min_pd(_mm256_set1_pd(X_MAX), x[i]));
            t[i] = _mm256_add_pd(_mm256_mul_pd(x[i], _mm256_set1_pd(LOG2_E)), shifter);
        }
        for i in 0..N {
            let k_float = _mm256_sub_pd(t[i], shifter);
            r[i] = _mm256_sub_pd(
                _mm256_sub_pd(x[i], _mm256_mul_pd(k_float, _mm256_set1_pd(LN2_HI))),
                _mm256_mul_pd(k_float, _mm256_set1_pd(LN2_LO)),
            );
        }
        let mut p = [_mm256_set1_pd(EXP_POLY[0]); N];
        for &c in &EXP_POLY[1..] {
            for i in 0..N {
                p[i] = _mm256_add_pd(_mm256_mul_pd(p[i], r[i]), _mm256_set1_pd(c));
            }
        }
        let bias = _mm256_set1_epi64x(1023);
        let mut out = [_mm256_setzero_pd(); N];
        for i in 0..N {
            let k = _mm256_sub_epi64(_mm256_castpd_si256(t[i]), _mm256_castpd_si256(shifter));
            let k1 = _mm256_sub_epi64(
                _mm256_srli_epi64::<1>(_mm256_add_epi64(k, _mm256_set1_epi64x(2048))),
                _mm256_set1_epi64x(1024),
            );
            let k2 = _mm256_sub_epi64(k, k1);
            let s1 = _mm256_castsi256_pd(_mm256_slli_epi64::<52>(_mm256_add_epi64(k1, bias)));
            let s2 = _mm256_castsi256_pd(_mm256_slli_epi64::<52>(_mm256_add_epi64(k2, bias)));
            out[i] = _mm256_mul_pd(_mm256_mul_pd(p[i], s1), s2);
        }
        out
    }

    /// [`exp_pd4_many`] with eight-lane registers: the AVX-512 sigmoid's exp.
    ///
    /// # Safety
    /// The CPU must run AVX-512F, which a `SimdLevel` of kind `Avx512` proves.
    #[inline]
    #[target_feature(enable = "avx512f")]
    pub(crate) fn exp_pd8_many<const N: usize>(x: [__m512d; N]) -> [__m512d; N] {
        let shifter = _mm512_set1_pd(SHIFTER);
        let mut x = x;
        let mut t = [_mm512_setzero_pd(); N];
        let mut r = [_mm512_setzero_pd(); N];
        for i in 0..N {
            // `vminpd`/`vmaxpd` on zmm have `minpd`/`maxpd`'s NaN and zero rules.
            x[i] = _mm512_max_pd(_mm512_set1_pd(X_MIN), _mm512_min_pd(_mm512_set1_pd(X_MAX), x[i]));
            t[i] = _mm512_add_pd(_mm512_mul_pd(x[i], _mm512_set1_pd(LOG2_E)), shifter);
        }
        for i in 0..N {
            let k_float = _mm512_sub_pd(t[i], shifter);
            r[i] = _mm512_sub_pd(
                _mm512_sub_pd(x[i], _mm512_mul_pd(k_float, _mm512_set1_pd(LN2_HI))),
                _mm512_mul_pd(k_float, _mm512_set1_pd(LN2_LO)),
            );
        }
        let mut p = [_mm512_set1_pd(EXP_POLY[0]); N];
        for &c in &EXP_POLY[1..] {
            for i in 0..N {
                p[i] = _mm512_add_pd(_mm512_mul_pd(p[i], r[i]), _mm512_set1_pd(c));
            }
        }
        // Step 4 in one instruction: `vscalefpd` computes p·2^k with a single rounding, where
        // the scalar `(p·2^k1)·2^k2` rounds only its last multiply (p·2^k1 is exact: p lies in
        // [0.70, 1.42] and k1 ≥ −538). Both are the correctly rounded p·2^k, subnormal or
        // overflowing to +inf alike, so the bits are the same; a NaN `p` comes out as itself in
        // both. (`k_float` holds k exactly, and `vscalefpd` takes the floor of an integer as
        // that integer.) Ten integer and multiply operations fewer per register: the sigmoid
        // ran about 13% faster.
        let mut out = [_mm512_setzero_pd(); N];
        for i in 0..N {
            out[i] = _mm512_scalef_pd(p[i], _mm512_sub_pd(t[i], shifter));
        }
        out
    }

    /// [`exp_in_place`](super::exp_in_place) on SSE2.
    ///
    /// # Safety
    /// The CPU must run SSE2, as every x86-64 CPU does.
    #[target_feature(enable = "sse2")]
    pub(crate) fn exp_sse2_in_place(values: &mut [f64]) {
        let mut chunks = values.chunks_exact_mut(2);
        for c in &mut chunks {
            // SAFETY: `c` holds two doubles.
            unsafe { _mm_storeu_pd(c.as_mut_ptr(), exp_pd(_mm_loadu_pd(c.as_ptr()))) };
        }
        chunks.into_remainder().iter_mut().for_each(|v| *v = exp(*v));
    }

    /// [`exp_in_place`](super::exp_in_place) on AVX2.
    ///
    /// # Safety
    /// The CPU must run AVX2, which a `SimdLevel` of kind `Avx2` proves.
    #[target_feature(enable = "avx2")]
    pub(crate) fn exp_avx2_in_place(values: &mut [f64]) {
        let mut wide = values.chunks_exact_mut(16);
        for c in &mut wide {
            let p = c.as_mut_ptr();
            // SAFETY: `c` holds sixteen doubles, four registers' worth.
            unsafe {
                let e = exp_pd4_many([
                    _mm256_loadu_pd(p),
                    _mm256_loadu_pd(p.add(4)),
                    _mm256_loadu_pd(p.add(8)),
                    _mm256_loadu_pd(p.add(12)),
                ]);
                for (i, e) in e.into_iter().enumerate() {
                    _mm256_storeu_pd(p.add(4 * i), e);
                }
            }
        }
        let mut chunks = wide.into_remainder().chunks_exact_mut(4);
        for c in &mut chunks {
            // SAFETY: `c` holds four doubles.
            unsafe { _mm256_storeu_pd(c.as_mut_ptr(), exp_pd4(_mm256_loadu_pd(c.as_ptr()))) };
        }
        exp_sse2_in_place(chunks.into_remainder());
    }

    /// [`exp_in_place`](super::exp_in_place) on AVX-512F: four eight-lane registers at a time
    /// (the kernel of the AVX-512 sigmoid and softmax, here so the conformance tests hold it to
    /// the scalar bits over `exp`'s whole domain), the rest on AVX2.
    ///
    /// # Safety
    /// The CPU must run AVX-512F and AVX2, which a `SimdLevel` of kind `Avx512` proves.
    #[target_feature(enable = "avx512f,avx2")]
    pub(crate) fn exp_avx512_in_place(values: &mut [f64]) {
        let mut wide = values.chunks_exact_mut(32);
        for c in &mut wide {
            let p = c.as_mut_ptr();
            // SAFETY: `c` holds 32 doubles, four registers' worth.
            unsafe {
                let mut x = [_mm512_setzero_pd(); 4];
                for (i, x) in x.iter_mut().enumerate() {
                    *x = _mm512_loadu_pd(p.add(8 * i));
                }
                let e = exp_pd8_many(x);
                for (i, e) in e.into_iter().enumerate() {
                    _mm512_storeu_pd(p.add(8 * i), e);
                }
            }
        }
        exp_avx2_in_place(wide.into_remainder());
    }
}
