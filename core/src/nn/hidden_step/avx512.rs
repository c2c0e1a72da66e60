//! The fused hidden step on AVX-512F: [`hidden_step_shared`](super::hidden_step_shared) on
//! eight-lane registers.
//!
//! Each lane of a `zmm` register holds one weight of the row and performs the scalar sequence
//! (the gradient summed over the row's samples in batch order, a product rounded before each add
//! — `vmulpd` then `vaddpd`, never `vfmadd` — then `w − lr·(g/n)`), so the bits are the scalar
//! reference's. Lanes that do not fill a `zmm` finish on the AVX2 blocks, which this CPU runs too
//! (`SimdLevel`'s invariant: an `Avx512` level exists only where AVX2 does).

use std::arch::x86_64::*;
use std::ops::Range;

use super::x86::{block_avx2, block_sse2};
use super::{for_each_sample, lane, rows_loop, BatchScale, LitPixels, PIXEL_VALUE};

// ANCHOR: hidden_step_avx512
/// `V` eight-lane accumulators for lanes `j0..j0+8V` of one row; `w` and `delta` point at the
/// block's first lane (in the weight row and in delta row 0).
///
/// # Safety
/// The CPU must run AVX-512F; `w` must be valid for `8V` doubles that no other thread touches;
/// for every set bit `s` of `masks`, the `8V` doubles at `delta + s·h` and the byte at
/// `pixels + s` must be readable.
#[inline(always)]
unsafe fn block_avx512<const V: usize>(
    w: *mut f64,
    delta: *const f64,
    h: usize,
    masks: &[u64],
    pixels: *const u8,
    lr: f64,
    scale: BatchScale,
) {
    // SAFETY: AVX-512F and every pointer are the caller's guarantee (above).
    unsafe {
        let mut acc = [_mm512_setzero_pd(); V];
        for_each_sample(masks, |s| {
            let x = _mm512_set1_pd(PIXEL_VALUE[*pixels.add(s) as usize]);
            let d = delta.add(s * h);
            for (v, a) in acc.iter_mut().enumerate() {
                *a = _mm512_add_pd(*a, _mm512_mul_pd(_mm512_loadu_pd(d.add(8 * v)), x));
            }
        });
        let lr = _mm512_set1_pd(lr);
        for (v, a) in acc.iter().enumerate() {
            let mean = match scale.exact_reciprocal() {
                Some(r) => _mm512_mul_pd(*a, _mm512_set1_pd(r)),
                None => _mm512_div_pd(*a, _mm512_set1_pd(scale.n())),
            };
            let p = w.add(8 * v);
            _mm512_storeu_pd(p, _mm512_sub_pd(_mm512_loadu_pd(p), _mm512_mul_pd(lr, mean)));
        }
    }
}
// ANCHOR_END: hidden_step_avx512

/// [`hidden_step_shared`](super::hidden_step_shared) on AVX-512F: blocks of 64 lanes (eight
/// registers, h = 128 and 512), then 32 (h = 32) and 8, then AVX2, SSE2 and single lanes.
///
/// # Safety
/// The CPU must run AVX-512F and AVX2, `check` must have passed, and `weights` must be as
/// [`hidden_step_shared`](super::hidden_step_shared) requires.
#[target_feature(enable = "avx512f,avx2")]
pub(super) unsafe fn hidden_step_avx512(
    weights: *mut f64,
    h: usize,
    lanes: Range<usize>,
    rows: usize,
    lit: &mut LitPixels,
    delta_rows: &[f64],
    lr: f64,
    scale: BatchScale,
) {
    let (delta, end) = (delta_rows.as_ptr(), lanes.end);
    rows_loop(rows, lit, delta_rows, h, |row, masks, pixels| {
        // SAFETY: every block covers lanes `j..` below `lanes.end <= h` (checked) of row
        // `row < rows`: ours by the caller's guarantee. `rows_loop` vouches for the deltas and
        // pixels of `masks`' samples, and the CPU runs AVX-512F and AVX2 (the caller's guarantee).
        unsafe {
            let w = weights.add(row * h);
            let at = |j: usize| (w.add(j), delta.add(j));
            let mut j = lanes.start;
            while j + 64 <= end {
                let (w, d) = at(j);
                block_avx512::<8>(w, d, h, masks, pixels, lr, scale);
                j += 64;
            }
            while j + 32 <= end {
                let (w, d) = at(j);
                block_avx512::<4>(w, d, h, masks, pixels, lr, scale);
                j += 32;
            }
            while j + 8 <= end {
                let (w, d) = at(j);
                block_avx512::<1>(w, d, h, masks, pixels, lr, scale);
                j += 8;
            }
            if j + 4 <= end {
                let (w, d) = at(j);
                block_avx2::<1>(w, d, h, masks, pixels, lr, scale);
                j += 4;
            }
            if j + 2 <= end {
                let (w, d) = at(j);
                block_sse2::<1>(w, d, h, masks, pixels, lr, scale);
                j += 2;
            }
            if j < end {
                let (w, d) = at(j);
                lane(w, d, h, masks, pixels, lr, scale);
            }
        }
    });
}
