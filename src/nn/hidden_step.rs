//! The hidden layer's batch gradient and SGD step, fused — with the forward pass, the hottest loop
//! of training.
//!
//! For each input pixel `k` (one row of the transposed hidden weights) the gradient row is
//!
//! ```text
//! g[k][j] = Σ_s delta_hidden[s][j] · x[s][k]     s ascending over the samples that light pixel k
//! w[k][j] = w[k][j] − lr·(g[k][j] / n)
//! ```
//!
//! The batch arrives as a byte matrix `pixels[k][s]` (zero where sample `s` leaves pixel `k`
//! dark). One SIMD compare per 32 bytes turns a row into a bit mask of the samples that light it,
//! and walking the set bits from the lowest visits them in batch order — the canonical order.
//! The sum lives in registers and is stepped into the weights at once; no gradient matrix is ever
//! stored, and rows no sample lights are skipped (their gradient is exactly zero, and
//! `w − lr·(0/n)` is `w`). The SIMD versions run across the row's H lanes, so every lane does the
//! scalar reference's exact sequence of operations.

use std::ops::Range;

use super::update::BatchScale;
use super::PIXEL_VALUE;
use crate::math::SimdLevel;

/// The batch's pixels, by pixel row.
pub struct Columns<'a> {
    /// `pixels[row·stride + s]`: sample `s`'s byte at the row's pixel, 0 where it is dark.
    pub pixels: &'a mut [u8],
    /// A multiple of 64; bytes past the batch stay 0.
    pub stride: usize,
}

/// Checks the shapes the unchecked loops rely on.
fn check(columns: &Columns, rows: usize, h: usize, lanes: &Range<usize>, weights_len: usize) {
    assert!(h > 0 && lanes.start <= lanes.end && lanes.end <= h, "lanes within the row");
    assert_eq!(weights_len, rows * h, "weights: rows × h");
    assert!(columns.stride % 64 == 0, "stride is a multiple of 64");
    assert_eq!(columns.pixels.len(), rows * columns.stride, "pixels: rows × stride");
}

/// Bit `i` of word `w` of `masks` is set when `bytes[64·w + i] != 0`; returns whether any is.
/// Also checks that no set bit names a sample beyond `samples` (which would have no delta row).
#[inline(always)]
fn row_masks(level: SimdLevel, bytes: &[u8], masks: &mut [u64], samples: usize) -> bool {
    let mut any = 0u64;
    for (w, (chunk, mask)) in bytes.chunks_exact(64).zip(masks.iter_mut()).enumerate() {
        *mask = nonzero_mask64(level, chunk.try_into().expect("64-byte chunk"));
        let first = w * 64;
        let allowed = if first >= samples { 0 } else if samples - first >= 64 { u64::MAX } else { (1u64 << (samples - first)) - 1 };
        assert!(*mask & !allowed == 0, "a pixel is lit for a sample without a delta row");
        any |= *mask;
    }
    any != 0
}

/// A 64-bit mask of the non-zero bytes of `chunk` (bit `i` for byte `i`).
#[inline(always)]
fn nonzero_mask64(level: SimdLevel, chunk: &[u8; 64]) -> u64 {
    #[cfg(target_arch = "x86_64")]
    if level != SimdLevel::Scalar {
        // SAFETY: SSE2 is part of x86-64; the pointer covers 64 bytes.
        return unsafe { x86::nonzero_mask64_sse2(chunk.as_ptr()) };
    }
    let _ = level;
    chunk.iter().enumerate().fold(0u64, |m, (i, &b)| m | (((b != 0) as u64) << i))
}

/// Zeroes the row's lit bytes for the next batch (only those: a row has a handful of them, and a
/// 64-byte fill would be a call to `memset`).
#[inline(always)]
fn clear_lit(bytes: &mut [u8], masks: &[u64]) {
    for_each_sample(masks, |s| bytes[s] = 0);
}

/// Calls `f(s)` for every set bit `s` of `masks`, lowest first: the batch order.
#[inline(always)]
fn for_each_sample(masks: &[u64], mut f: impl FnMut(usize)) {
    for (w, &word) in masks.iter().enumerate() {
        let mut bits = word;
        while bits != 0 {
            f(w * 64 + bits.trailing_zeros() as usize);
            bits &= bits - 1;
        }
    }
}

// ANCHOR: hidden_step_scalar
/// The canonical scalar reference: for lanes `lanes` of every row of the `rows × h` matrix
/// `weights`, sum the gradient lane by lane in sample order, then step. Leaves the pixel
/// matrix all zero for the next batch.
pub fn hidden_step_scalar(weights: &mut [f64], h: usize, lanes: Range<usize>, columns: &mut Columns, delta_rows: &[f64], lr: f64, scale: BatchScale) {
    let rows = weights.len() / h.max(1);
    check(columns, rows, h, &lanes, weights.len());
    let samples = delta_rows.len() / h;
    let mut masks = vec![0u64; columns.stride / 64];
    for row in 0..rows {
        let bytes = &mut columns.pixels[row * columns.stride..][..columns.stride];
        if !row_masks(SimdLevel::Scalar, bytes, &mut masks, samples) {
            continue;
        }
        for j in lanes.clone() {
            let mut acc = 0.0;
            for_each_sample(&masks, |s| acc = acc + delta_rows[s * h + j] * PIXEL_VALUE[bytes[s] as usize]);
            let weight = &mut weights[row * h + j];
            *weight = *weight - lr * scale.mean(acc);
        }
        clear_lit(bytes, &masks);
    }
}
// ANCHOR_END: hidden_step_scalar

/// [`hidden_step_scalar`] on the chosen instruction set.
pub fn hidden_step(level: SimdLevel, weights: &mut [f64], h: usize, lanes: Range<usize>, columns: &mut Columns, delta_rows: &[f64], lr: f64, scale: BatchScale) {
    let rows = weights.len() / h.max(1);
    // SAFETY: `weights` is exclusively borrowed and holds `rows × h` values.
    unsafe { hidden_step_shared(level, weights.as_mut_ptr(), rows, h, lanes, columns, delta_rows, lr, scale) }
}

/// [`hidden_step`] on lanes of a matrix that other threads update in *other lanes* at the same
/// time (the trainer splits the hidden units between threads).
///
/// # Safety
/// `weights` must point to `rows × h` valid doubles, and no other thread may access lanes
/// `lanes` of any row during the call.
pub unsafe fn hidden_step_shared(level: SimdLevel, weights: *mut f64, rows: usize, h: usize, lanes: Range<usize>, columns: &mut Columns, delta_rows: &[f64], lr: f64, scale: BatchScale) {
    check(columns, rows, h, &lanes, rows * h);
    match level {
        #[cfg(target_arch = "x86_64")]
        SimdLevel::Avx2 => {
            assert!(level.is_supported(), "AVX2 requested on a CPU without it");
            x86::hidden_step_avx2(weights, rows, h, lanes, columns, delta_rows, lr, scale)
        }
        #[cfg(target_arch = "x86_64")]
        SimdLevel::Sse2 => x86::hidden_step_sse2(weights, rows, h, lanes, columns, delta_rows, lr, scale),
        _ => {
            // The reference itself, on a view of the raw rows.
            let all = std::slice::from_raw_parts_mut(weights, rows * h);
            hidden_step_scalar(all, h, lanes, columns, delta_rows, lr, scale)
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::*;
    use std::arch::x86_64::*;

    /// [`nonzero_mask64`] with four 16-byte compares.
    #[inline(always)]
    pub(super) unsafe fn nonzero_mask64_sse2(p: *const u8) -> u64 {
        let zero = _mm_setzero_si128();
        let mut zeros = 0u64;
        for q in 0..4 {
            let v = _mm_loadu_si128(p.add(16 * q) as *const __m128i);
            zeros |= (_mm_movemask_epi8(_mm_cmpeq_epi8(v, zero)) as u16 as u64) << (16 * q);
        }
        !zeros
    }

    /// The scalar sequence for one lane `j` (remainder lanes).
    #[inline(always)]
    unsafe fn lane(w: *mut f64, j: usize, h: usize, masks: &[u64], pixels: *const u8, delta: *const f64, lr: f64, scale: BatchScale) {
        let mut acc = 0.0;
        for_each_sample(masks, |s| acc = acc + *delta.add(s * h + j) * PIXEL_VALUE[*pixels.add(s) as usize]);
        *w.add(j) = *w.add(j) - lr * scale.mean(acc);
    }

    // ANCHOR: hidden_step_avx2
    /// `V` four-lane accumulators for lanes `j0..j0+4V` of one row.
    #[inline(always)]
    unsafe fn block_avx2<const V: usize>(w: *mut f64, j0: usize, h: usize, masks: &[u64], pixels: *const u8, delta: *const f64, lr: f64, scale: BatchScale) {
        let mut acc = [_mm256_setzero_pd(); V];
        for_each_sample(masks, |s| {
            let x = _mm256_set1_pd(PIXEL_VALUE[*pixels.add(s) as usize]);
            let d = delta.add(s * h + j0);
            for (v, a) in acc.iter_mut().enumerate() {
                *a = _mm256_add_pd(*a, _mm256_mul_pd(_mm256_loadu_pd(d.add(4 * v)), x));
            }
        });
        let lr = _mm256_set1_pd(lr);
        for (v, a) in acc.iter().enumerate() {
            let mean = match scale.exact_reciprocal() {
                Some(r) => _mm256_mul_pd(*a, _mm256_set1_pd(r)),
                None => _mm256_div_pd(*a, _mm256_set1_pd(scale.n())),
            };
            let p = w.add(j0 + 4 * v);
            _mm256_storeu_pd(p, _mm256_sub_pd(_mm256_loadu_pd(p), _mm256_mul_pd(lr, mean)));
        }
    }
    // ANCHOR_END: hidden_step_avx2

    #[inline(always)]
    unsafe fn block_sse2<const V: usize>(w: *mut f64, j0: usize, h: usize, masks: &[u64], pixels: *const u8, delta: *const f64, lr: f64, scale: BatchScale) {
        let mut acc = [_mm_setzero_pd(); V];
        for_each_sample(masks, |s| {
            let x = _mm_set1_pd(PIXEL_VALUE[*pixels.add(s) as usize]);
            let d = delta.add(s * h + j0);
            for (v, a) in acc.iter_mut().enumerate() {
                *a = _mm_add_pd(*a, _mm_mul_pd(_mm_loadu_pd(d.add(2 * v)), x));
            }
        });
        let lr = _mm_set1_pd(lr);
        for (v, a) in acc.iter().enumerate() {
            let mean = match scale.exact_reciprocal() {
                Some(r) => _mm_mul_pd(*a, _mm_set1_pd(r)),
                None => _mm_div_pd(*a, _mm_set1_pd(scale.n())),
            };
            let p = w.add(j0 + 2 * v);
            _mm_storeu_pd(p, _mm_sub_pd(_mm_loadu_pd(p), _mm_mul_pd(lr, mean)));
        }
    }

    /// The row loop shared by both levels; `blocks` steps one row's lanes.
    #[inline(always)]
    unsafe fn rows_loop(
        level: SimdLevel,
        rows: usize,
        columns: &mut Columns,
        delta_rows: &[f64],
        h: usize,
        mut blocks: impl FnMut(usize, &[u64], *const u8),
    ) {
        let samples = delta_rows.len() / h;
        let mut masks = vec![0u64; columns.stride / 64];
        for row in 0..rows {
            let bytes = &mut columns.pixels[row * columns.stride..][..columns.stride];
            if !row_masks(level, bytes, &mut masks, samples) {
                continue;
            }
            blocks(row, &masks, bytes.as_ptr());
            clear_lit(bytes, &masks);
        }
    }

    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn hidden_step_avx2(weights: *mut f64, rows: usize, h: usize, lanes: Range<usize>, columns: &mut Columns, delta_rows: &[f64], lr: f64, scale: BatchScale) {
        let delta = delta_rows.as_ptr();
        rows_loop(SimdLevel::Avx2, rows, columns, delta_rows, h, |row, masks, pixels| {
            let w = weights.add(row * h);
            let mut j = lanes.start;
            while j + 32 <= lanes.end {
                block_avx2::<8>(w, j, h, masks, pixels, delta, lr, scale);
                j += 32;
            }
            while j + 16 <= lanes.end {
                block_avx2::<4>(w, j, h, masks, pixels, delta, lr, scale);
                j += 16;
            }
            while j + 4 <= lanes.end {
                block_avx2::<1>(w, j, h, masks, pixels, delta, lr, scale);
                j += 4;
            }
            while j + 2 <= lanes.end {
                block_sse2::<1>(w, j, h, masks, pixels, delta, lr, scale);
                j += 2;
            }
            if j < lanes.end {
                lane(w, j, h, masks, pixels, delta, lr, scale);
            }
        });
    }

    pub(super) unsafe fn hidden_step_sse2(weights: *mut f64, rows: usize, h: usize, lanes: Range<usize>, columns: &mut Columns, delta_rows: &[f64], lr: f64, scale: BatchScale) {
        let delta = delta_rows.as_ptr();
        rows_loop(SimdLevel::Sse2, rows, columns, delta_rows, h, |row, masks, pixels| {
            let w = weights.add(row * h);
            let mut j = lanes.start;
            while j + 16 <= lanes.end {
                block_sse2::<8>(w, j, h, masks, pixels, delta, lr, scale);
                j += 16;
            }
            while j + 2 <= lanes.end {
                block_sse2::<1>(w, j, h, masks, pixels, delta, lr, scale);
                j += 2;
            }
            if j < lanes.end {
                lane(w, j, h, masks, pixels, delta, lr, scale);
            }
        });
    }
}
