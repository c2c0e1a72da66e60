//! The SGD step — the original's `update.asm`: `w = w − lr·(g / n)`, then `g = 0` for the next
//! batch.
//!
//! Division is slow, and for the default batch of 32 we never need it: when `n` is a power of
//! two, `g / n` and `g · (1/n)` are both the correctly rounded value of the same real number
//! (`1/n` is exact), so they are the same bits — including for subnormals. For any other `n`
//! every path divides.

use crate::math::{SimdKind, SimdLevel};

// ANCHOR: step
/// How to form `g / n` exactly.
#[derive(Clone, Copy, Debug)]
pub struct BatchScale {
    n: f64,
    /// `Some(1/n)` when that multiply is bit-identical to dividing by `n`.
    exact_reciprocal: Option<f64>,
}

impl BatchScale {
    pub fn new(n: usize) -> BatchScale {
        assert!(n > 0);
        let exact_reciprocal = n.is_power_of_two().then(|| 1.0 / n as f64);
        BatchScale { n: n as f64, exact_reciprocal }
    }

    /// `g / n`, exactly as the canonical definition (a division) rounds it.
    #[inline(always)]
    pub fn mean(self, g: f64) -> f64 {
        match self.exact_reciprocal {
            Some(r) => g * r,
            None => g / self.n,
        }
    }

    pub fn n(self) -> f64 {
        self.n
    }

    pub fn exact_reciprocal(self) -> Option<f64> {
        self.exact_reciprocal
    }
}

/// `w[i] = w[i] − lr·(g[i] / n)` and `g[i] = 0`, the canonical scalar reference.
pub fn sgd_step_scalar(weights: &mut [f64], grads: &mut [f64], lr: f64, scale: BatchScale) {
    assert_eq!(weights.len(), grads.len());
    for (w, g) in weights.iter_mut().zip(grads.iter_mut()) {
        *w = *w - lr * scale.mean(*g);
        *g = 0.0;
    }
}
// ANCHOR_END: step

/// [`sgd_step_scalar`] on the chosen instruction set.
pub fn sgd_step(level: SimdLevel, weights: &mut [f64], grads: &mut [f64], lr: f64, scale: BatchScale) {
    assert_eq!(weights.len(), grads.len());
    match level.kind() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the CPU runs SSE2 (`SimdLevel`'s invariant: x86-64 always does).
        SimdKind::Sse2 => unsafe { x86::sgd_step_sse2(weights, grads, lr, scale) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the CPU runs AVX2 (`SimdLevel`'s invariant: an `Avx512` level implies it too;
        // this kernel has no AVX-512 version, so that level takes its AVX2 path).
        SimdKind::Avx2 | SimdKind::Avx512 => unsafe { x86::sgd_step_avx2(weights, grads, lr, scale) },
        #[cfg(target_arch = "aarch64")]
        SimdKind::Neon => two_lanes::sgd_step::<crate::math::neon::Neon>(weights, grads, lr, scale),
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        SimdKind::Simd128 => two_lanes::sgd_step::<crate::math::simd128::Simd128>(weights, grads, lr, scale),
        _ => sgd_step_scalar(weights, grads, lr, scale),
    }
}

crate::math::two_lane_isa! {
/// The step on two lanes (NEON, SIMD128), as the SSE2 version.
mod two_lanes {
    use super::*;
    use crate::math::lanes::F64x2;

    pub(super) fn sgd_step<V: F64x2>(weights: &mut [f64], grads: &mut [f64], lr: f64, scale: BatchScale) {
        let n = weights.len().min(grads.len());
        let (w, g) = (weights.as_mut_ptr(), grads.as_mut_ptr());
        let lr_v = V::splat(lr);
        let mut i = 0;
        while i + 2 <= n {
            // SAFETY: `i + 2 <= n`, so both pairs lie inside `weights` and `grads`.
            unsafe {
                let gv = V::load(g.add(i));
                let mean = match scale.exact_reciprocal {
                    Some(r) => gv.mul(V::splat(r)),
                    None => gv.div(V::splat(scale.n)),
                };
                V::load(w.add(i)).sub(lr_v.mul(mean)).store(w.add(i));
                V::zero().store(g.add(i));
            }
            i += 2;
        }
        sgd_step_scalar(&mut weights[i..], &mut grads[i..], lr, scale);
    }
}
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::*;
    use std::arch::x86_64::*;

    // ANCHOR: sgd_step_sse2
    /// [`sgd_step`](super::sgd_step) on SSE2.
    ///
    /// # Safety
    /// The CPU must run SSE2, as every x86-64 CPU does.
    #[target_feature(enable = "sse2")]
    pub(super) fn sgd_step_sse2(weights: &mut [f64], grads: &mut [f64], lr: f64, scale: BatchScale) {
        let n = weights.len().min(grads.len());
        let (w, g) = (weights.as_mut_ptr(), grads.as_mut_ptr());
        let lr_v = _mm_set1_pd(lr);
        let mut i = 0;
        while i + 2 <= n {
            // SAFETY: `i + 2 <= n`, so both pairs lie inside `weights` and `grads`.
            unsafe {
                let gv = _mm_loadu_pd(g.add(i));
                let mean = match scale.exact_reciprocal {
                    Some(r) => _mm_mul_pd(gv, _mm_set1_pd(r)),
                    None => _mm_div_pd(gv, _mm_set1_pd(scale.n)),
                };
                _mm_storeu_pd(w.add(i), _mm_sub_pd(_mm_loadu_pd(w.add(i)), _mm_mul_pd(lr_v, mean)));
                _mm_storeu_pd(g.add(i), _mm_setzero_pd());
            }
            i += 2;
        }
        sgd_step_scalar(&mut weights[i..], &mut grads[i..], lr, scale);
    }
    // ANCHOR_END: sgd_step_sse2

    /// [`sgd_step`](super::sgd_step) on AVX2.
    ///
    /// # Safety
    /// The CPU must run AVX2, which a `SimdLevel` of kind `Avx2` proves.
    #[target_feature(enable = "avx2")]
    pub(super) fn sgd_step_avx2(weights: &mut [f64], grads: &mut [f64], lr: f64, scale: BatchScale) {
        let n = weights.len().min(grads.len());
        let (w, g) = (weights.as_mut_ptr(), grads.as_mut_ptr());
        let lr_v = _mm256_set1_pd(lr);
        let mut i = 0;
        while i + 4 <= n {
            // SAFETY: `i + 4 <= n`, so both quadruples lie inside `weights` and `grads`.
            unsafe {
                let gv = _mm256_loadu_pd(g.add(i));
                let mean = match scale.exact_reciprocal {
                    Some(r) => _mm256_mul_pd(gv, _mm256_set1_pd(r)),
                    None => _mm256_div_pd(gv, _mm256_set1_pd(scale.n)),
                };
                _mm256_storeu_pd(w.add(i), _mm256_sub_pd(_mm256_loadu_pd(w.add(i)), _mm256_mul_pd(lr_v, mean)));
                _mm256_storeu_pd(g.add(i), _mm256_setzero_pd());
            }
            i += 4;
        }
        sgd_step_sse2(&mut weights[i..], &mut grads[i..], lr, scale);
    }
}
