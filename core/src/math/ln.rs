//! `ln(x)` by splitting the IEEE 754 bits — the room of the original's `ln.asm`.
//!
//! A positive double is `x = m·2^e` with the mantissa `m` in `[1, 2)`. We read `e` and `m`
//! straight from the bits, move `m` into `[√½, √2)` (so `|m − 1|` is small on both sides), and
//! use `ln x = e·ln2 + ln m`.
//!
//! For `ln m` with `f = m − 1` (exact), `s = f/(2+f)`: `2s` is the [1/1] Padé approximant of
//! `ln(1+f)`, and the exact value is the odd series `2·atanh(s) = 2s + 2s³/3 + 2s⁵/5 + …`.
//! With `|s| ≤ 0.172`, eleven terms of the series in `z = s²` reach far below half an ulp. The
//! sum is arranged as `f − (f²/2 − s·(f²/2 + R(z)))` so that the large part `f` is added last
//! and exactly, which keeps the error near half an ulp.
//!
//! Special inputs: `ln(0) = −inf`, `ln(x<0) = NaN`, `ln(+inf) = +inf`, NaN stays NaN, and
//! subnormals are first scaled by `2⁵²`.
//!
//! Accuracy (tested in `core/tests/it/kernels.rs`): at most 1 ulp from the correctly rounded result.

use super::{SimdKind, SimdLevel};

// ANCHOR: constants
const LN2_HI: f64 = super::exp::LN2_HI;
const LN2_LO: f64 = super::exp::LN2_LO;
const SQRT2: f64 = std::f64::consts::SQRT_2;
const TWO_POW_52: f64 = 4503599627370496.0;
const MANTISSA_BITS: u64 = 0x000F_FFFF_FFFF_FFFF;
const ONE_BITS: u64 = 0x3FF0_0000_0000_0000;
/// `R(z) = Σ 2zⁿ/(2n+1)` for n = 1..=11, highest degree first, for Horner's rule in `z`.
const LN_SERIES: [f64; 11] = [
    2.0 / 23.0,
    2.0 / 21.0,
    2.0 / 19.0,
    2.0 / 17.0,
    2.0 / 15.0,
    2.0 / 13.0,
    2.0 / 11.0,
    2.0 / 9.0,
    2.0 / 7.0,
    2.0 / 5.0,
    2.0 / 3.0,
];
// ANCHOR_END: constants

// ANCHOR: ln_scalar
/// The natural logarithm, the canonical scalar reference.
pub fn ln(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    if x < 0.0 {
        return f64::NAN;
    }
    if x == 0.0 {
        return f64::NEG_INFINITY;
    }
    if x == f64::INFINITY {
        return x;
    }
    // Subnormals: scale into the normal range first.
    let subnormal = x < f64::MIN_POSITIVE;
    let scaled = if subnormal { x * TWO_POW_52 } else { x };
    let bits = scaled.to_bits();
    // Exponent as a double: put the 11 exponent bits under 2^52's mantissa and subtract 2^52.
    let biased = f64::from_bits((bits >> 52) | TWO_POW_52.to_bits()) - TWO_POW_52;
    let mut e = biased - 1023.0 - if subnormal { 52.0 } else { 0.0 };
    let mut m = f64::from_bits((bits & MANTISSA_BITS) | ONE_BITS);
    if m > SQRT2 {
        m = m * 0.5;
        e = e + 1.0;
    }
    let f = m - 1.0;
    let s = f / (2.0 + f);
    let z = s * s;
    let mut r = LN_SERIES[0];
    for &c in &LN_SERIES[1..] {
        r = r * z + c;
    }
    let r = r * z;
    let half_f2 = 0.5 * f * f;
    let low = s * (half_f2 + r) + e * LN2_LO;
    e * LN2_HI - ((half_f2 - low) - f)
}
// ANCHOR_END: ln_scalar

/// `ln` of every element of `values`, in place, on the given instruction set.
pub fn ln_in_place(level: SimdLevel, values: &mut [f64]) {
    match level.kind() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the CPU runs SSE2 (`SimdLevel`'s invariant: x86-64 always does).
        SimdKind::Sse2 => unsafe { x86::ln_sse2_in_place(values) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the CPU runs AVX2 (`SimdLevel`'s invariant: an `Avx512` level implies it too;
        // this kernel has no AVX-512 version, so that level takes its AVX2 path).
        SimdKind::Avx2 | SimdKind::Avx512 => unsafe { x86::ln_avx2_in_place(values) },
        #[cfg(target_arch = "aarch64")]
        SimdKind::Neon => two_lanes::ln_in_place::<crate::math::neon::Neon>(values),
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        SimdKind::Simd128 => two_lanes::ln_in_place::<crate::math::simd128::Simd128>(values),
        _ => values.iter_mut().for_each(|v| *v = ln(*v)),
    }
}

super::two_lane_isa! {
/// [`ln`] on two lanes (NEON, SIMD128), the SSE2 version's sequence over [`F64x2`].
mod two_lanes {
    use super::*;
    use crate::math::lanes::{map_in_place, F64x2};

    /// Two lanes of [`ln`], operation for operation as `ln_pd` (SSE2).
    #[inline(always)]
    fn ln_v<V: F64x2>(x: V) -> V {
        let zero = V::zero();
        let is_nan = x.is_nan();
        let is_negative = x.lt(zero);
        let is_zero = x.eq(zero);
        let is_inf = x.eq(V::splat(f64::INFINITY));
        let subnormal = x.lt(V::splat(f64::MIN_POSITIVE));
        let scaled = V::select(subnormal, x.mul(V::splat(TWO_POW_52)), x);
        let two52 = V::splat(TWO_POW_52);
        let biased = scaled.shr_u64(52).or(two52).sub(two52);
        let mut e = biased.sub(V::splat(1023.0)).sub(subnormal.and(V::splat(52.0)));
        let mut m = scaled.and(V::splat_bits(MANTISSA_BITS)).or(V::splat_bits(ONE_BITS));
        let big = m.gt(V::splat(SQRT2));
        m = V::select(big, m.mul(V::splat(0.5)), m);
        e = V::select(big, e.add(V::splat(1.0)), e);
        let f = m.sub(V::splat(1.0));
        let s = f.div(V::splat(2.0).add(f));
        let z = s.mul(s);
        let mut r = V::splat(LN_SERIES[0]);
        for &c in &LN_SERIES[1..] {
            r = r.mul(z).add(V::splat(c));
        }
        let r = r.mul(z);
        let half_f2 = V::splat(0.5).mul(f).mul(f);
        let low = s.mul(half_f2.add(r)).add(e.mul(V::splat(LN2_LO)));
        let main = e.mul(V::splat(LN2_HI)).sub(half_f2.sub(low).sub(f));
        // Special cases, in the scalar reference's order of precedence.
        let out = V::select(is_inf, x, main);
        let out = V::select(is_zero, V::splat(f64::NEG_INFINITY), out);
        let out = V::select(is_negative, V::splat(f64::NAN), out);
        V::select(is_nan, x, out)
    }

    pub(crate) fn ln_in_place<V: F64x2>(values: &mut [f64]) {
        map_in_place::<V>(values, ln_v, ln)
    }
}
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::*;
    use std::arch::x86_64::*;

    /// `mask ? a : b`, SSE2 has no blend instruction.
    ///
    /// # Safety
    /// The CPU must run SSE2, as every x86-64 CPU does.
    #[inline]
    #[target_feature(enable = "sse2")]
    fn select(mask: __m128d, a: __m128d, b: __m128d) -> __m128d {
        _mm_or_pd(_mm_and_pd(mask, a), _mm_andnot_pd(mask, b))
    }

    // ANCHOR: ln_sse2
    /// Two lanes of [`ln`]: the special cases become masks, the main path runs on every lane.
    ///
    /// # Safety
    /// The CPU must run SSE2, as every x86-64 CPU does.
    #[inline]
    #[target_feature(enable = "sse2")]
    fn ln_pd(x: __m128d) -> __m128d {
        let zero = _mm_setzero_pd();
        let is_nan = _mm_cmpunord_pd(x, x);
        let is_negative = _mm_cmplt_pd(x, zero);
        let is_zero = _mm_cmpeq_pd(x, zero);
        let is_inf = _mm_cmpeq_pd(x, _mm_set1_pd(f64::INFINITY));
        let subnormal = _mm_cmplt_pd(x, _mm_set1_pd(f64::MIN_POSITIVE));
        let scaled = select(subnormal, _mm_mul_pd(x, _mm_set1_pd(TWO_POW_52)), x);
        let bits = _mm_castpd_si128(scaled);
        let two52 = _mm_set1_pd(TWO_POW_52);
        let biased = _mm_sub_pd(_mm_or_pd(_mm_castsi128_pd(_mm_srli_epi64::<52>(bits)), two52), two52);
        let mut e = _mm_sub_pd(_mm_sub_pd(biased, _mm_set1_pd(1023.0)), _mm_and_pd(subnormal, _mm_set1_pd(52.0)));
        let mut m = _mm_castsi128_pd(_mm_or_si128(
            _mm_and_si128(bits, _mm_set1_epi64x(MANTISSA_BITS as i64)),
            _mm_set1_epi64x(ONE_BITS as i64),
        ));
        let big = _mm_cmpgt_pd(m, _mm_set1_pd(SQRT2));
        m = select(big, _mm_mul_pd(m, _mm_set1_pd(0.5)), m);
        e = select(big, _mm_add_pd(e, _mm_set1_pd(1.0)), e);
        let one = _mm_set1_pd(1.0);
        let f = _mm_sub_pd(m, one);
        let s = _mm_div_pd(f, _mm_add_pd(_mm_set1_pd(2.0), f));
        let z = _mm_mul_pd(s, s);
        let mut r = _mm_set1_pd(LN_SERIES[0]);
        for &c in &LN_SERIES[1..] {
            r = _mm_add_pd(_mm_mul_pd(r, z), _mm_set1_pd(c));
        }
        let r = _mm_mul_pd(r, z);
        let half_f2 = _mm_mul_pd(_mm_mul_pd(_mm_set1_pd(0.5), f), f);
        let low = _mm_add_pd(_mm_mul_pd(s, _mm_add_pd(half_f2, r)), _mm_mul_pd(e, _mm_set1_pd(LN2_LO)));
        let main = _mm_sub_pd(_mm_mul_pd(e, _mm_set1_pd(LN2_HI)), _mm_sub_pd(_mm_sub_pd(half_f2, low), f));
        // Special cases, in the scalar reference's order of precedence.
        let out = select(is_inf, x, main);
        let out = select(is_zero, _mm_set1_pd(f64::NEG_INFINITY), out);
        let out = select(is_negative, _mm_set1_pd(f64::NAN), out);
        select(is_nan, x, out)
    }
    // ANCHOR_END: ln_sse2

    /// `mask ? a : b` for four lanes.
    ///
    /// # Safety
    /// The CPU must run AVX2, which a `SimdLevel` of kind `Avx2` proves.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn select4(mask: __m256d, a: __m256d, b: __m256d) -> __m256d {
        _mm256_blendv_pd(b, a, mask)
    }

    /// Four lanes of [`ln`].
    ///
    /// # Safety
    /// The CPU must run AVX2, which a `SimdLevel` of kind `Avx2` proves.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn ln_pd4(x: __m256d) -> __m256d {
        let zero = _mm256_setzero_pd();
        let is_nan = _mm256_cmp_pd::<_CMP_UNORD_Q>(x, x);
        let is_negative = _mm256_cmp_pd::<_CMP_LT_OQ>(x, zero);
        let is_zero = _mm256_cmp_pd::<_CMP_EQ_OQ>(x, zero);
        let is_inf = _mm256_cmp_pd::<_CMP_EQ_OQ>(x, _mm256_set1_pd(f64::INFINITY));
        let subnormal = _mm256_cmp_pd::<_CMP_LT_OQ>(x, _mm256_set1_pd(f64::MIN_POSITIVE));
        let scaled = select4(subnormal, _mm256_mul_pd(x, _mm256_set1_pd(TWO_POW_52)), x);
        let bits = _mm256_castpd_si256(scaled);
        let two52 = _mm256_set1_pd(TWO_POW_52);
        let biased = _mm256_sub_pd(_mm256_or_pd(_mm256_castsi256_pd(_mm256_srli_epi64::<52>(bits)), two52), two52);
        let mut e = _mm256_sub_pd(
            _mm256_sub_pd(biased, _mm256_set1_pd(1023.0)),
            _mm256_and_pd(subnormal, _mm256_set1_pd(52.0)),
        );
        let mut m = _mm256_castsi256_pd(_mm256_or_si256(
            _mm256_and_si256(bits, _mm256_set1_epi64x(MANTISSA_BITS as i64)),
            _mm256_set1_epi64x(ONE_BITS as i64),
        ));
        let big = _mm256_cmp_pd::<_CMP_GT_OQ>(m, _mm256_set1_pd(SQRT2));
        m = select4(big, _mm256_mul_pd(m, _mm256_set1_pd(0.5)), m);
        e = select4(big, _mm256_add_pd(e, _mm256_set1_pd(1.0)), e);
        let f = _mm256_sub_pd(m, _mm256_set1_pd(1.0));
        let s = _mm256_div_pd(f, _mm256_add_pd(_mm256_set1_pd(2.0), f));
        let z = _mm256_mul_pd(s, s);
        let mut r = _mm256_set1_pd(LN_SERIES[0]);
        for &c in &LN_SERIES[1..] {
            r = _mm256_add_pd(_mm256_mul_pd(r, z), _mm256_set1_pd(c));
        }
        let r = _mm256_mul_pd(r, z);
        let half_f2 = _mm256_mul_pd(_mm256_mul_pd(_mm256_set1_pd(0.5), f), f);
        let low = _mm256_add_pd(_mm256_mul_pd(s, _mm256_add_pd(half_f2, r)), _mm256_mul_pd(e, _mm256_set1_pd(LN2_LO)));
        let main =
            _mm256_sub_pd(_mm256_mul_pd(e, _mm256_set1_pd(LN2_HI)), _mm256_sub_pd(_mm256_sub_pd(half_f2, low), f));
        let out = select4(is_inf, x, main);
        let out = select4(is_zero, _mm256_set1_pd(f64::NEG_INFINITY), out);
        let out = select4(is_negative, _mm256_set1_pd(f64::NAN), out);
        select4(is_nan, x, out)
    }

    /// [`ln_in_place`](super::ln_in_place) on SSE2.
    ///
    /// # Safety
    /// The CPU must run SSE2, as every x86-64 CPU does.
    #[target_feature(enable = "sse2")]
    pub(super) fn ln_sse2_in_place(values: &mut [f64]) {
        let mut chunks = values.chunks_exact_mut(2);
        for c in &mut chunks {
            // SAFETY: `c` holds two doubles.
            unsafe { _mm_storeu_pd(c.as_mut_ptr(), ln_pd(_mm_loadu_pd(c.as_ptr()))) };
        }
        chunks.into_remainder().iter_mut().for_each(|v| *v = ln(*v));
    }

    /// [`ln_in_place`](super::ln_in_place) on AVX2.
    ///
    /// # Safety
    /// The CPU must run AVX2, which a `SimdLevel` of kind `Avx2` proves.
    #[target_feature(enable = "avx2")]
    pub(super) fn ln_avx2_in_place(values: &mut [f64]) {
        let mut chunks = values.chunks_exact_mut(4);
        for c in &mut chunks {
            // SAFETY: `c` holds four doubles.
            unsafe { _mm256_storeu_pd(c.as_mut_ptr(), ln_pd4(_mm256_loadu_pd(c.as_ptr()))) };
        }
        ln_sse2_in_place(chunks.into_remainder());
    }
}
