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
//! The batch arrives as [`LitPixels`]: for every pixel row, a bit mask of the samples that light
//! it and their bytes (the trainer records them from each image's sparse pixels as phase 1's
//! gather reads them). Walking a row's set bits from the lowest visits its samples
//! in batch order — the canonical order. The sum lives in registers and is stepped into the
//! weights at once; no gradient matrix is ever stored, and rows no sample lights are skipped
//! (their gradient is exactly zero, and `w − lr·(0/n)` is `w`). The SIMD versions run across the
//! row's lanes, so every lane does the scalar reference's exact sequence of operations.

use std::ops::Range;

use super::update::BatchScale;
use super::PIXEL_VALUE;
use crate::math::aligned::AlignedF64s;
use crate::math::{SimdKind, SimdLevel};

// ANCHOR: lit_pixels
/// A batch's non-zero pixels, by pixel row: the input of the fused step.
#[derive(Clone, Debug)]
pub struct LitPixels {
    /// The pixel number of row 0 (a thread records only its band of rows).
    first_row: usize,
    rows: usize,
    /// Samples per batch (≥ every recorded sample number + 1).
    batch: usize,
    /// 64-bit words per row mask.
    words: usize,
    /// `masks[w·rows + row]`, bit `i`: sample `64·w + i` lights the row (word by word, so that a
    /// sample's words of consecutive rows are neighbours). The step clears them.
    masks: Vec<u64>,
    /// `bytes[row·batch + s]`: sample `s`'s byte at the row's pixel — meaningful only where its
    /// mask bit is set (stale bytes elsewhere are never read, so nothing needs clearing).
    bytes: Vec<u8>,
    /// Working room of the AVX-512 step on rows of 128 lanes or more, kept between batches (empty
    /// elsewhere): every row's masks, taken out before the first block of lanes, and one block of
    /// lanes of each sample's deltas, side by side.
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    block_masks: Vec<u64>,
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    block_deltas: AlignedF64s,
}

impl LitPixels {
    /// Room for pixel rows `rows` and batches of up to `batch` samples, all dark.
    pub fn new(rows: Range<usize>, batch: usize) -> LitPixels {
        let words = batch.div_ceil(64).max(1);
        let (first_row, rows) = (rows.start, rows.len());
        LitPixels {
            first_row,
            rows,
            batch,
            words,
            masks: vec![0; rows * words],
            bytes: vec![0; rows * batch],
            block_masks: Vec::new(),
            block_deltas: AlignedF64s::zeros(0),
        }
    }

    /// Records sample `s`'s non-zero pixels: `index` (pixel numbers, within the rows) and their
    /// `bytes`, which must not be 0 (a dark pixel is not lit).
    pub fn record(&mut self, s: usize, index: &[u16], bytes: &[u8]) {
        let mut sample = self.sample(s);
        for (&k, &v) in index.iter().zip(bytes) {
            sample.record(k as usize, v);
        }
    }

    /// What [`record`](Self::record) does for sample `s`, a pixel at a time: the trainer records
    /// each pixel from inside the forward pass's gather, as the gather reads it.
    pub fn sample(&mut self, s: usize) -> SamplePixels<'_> {
        assert!(s < self.batch, "sample {s} outside a batch of {}", self.batch);
        let (word, bit) = (s / 64, 1u64 << (s % 64));
        SamplePixels {
            first_row: self.first_row,
            rows: self.rows,
            batch: self.batch,
            bit,
            // Sample `s`'s byte of row 0 (`s < batch`) and its mask word of row 0 (`word < words`):
            // in bounds whenever there is a row 0. A band may have no rows at all (a thread per
            // pixel row and more), and then nothing is ever written through them.
            bytes: self.bytes.as_mut_ptr().wrapping_add(s),
            masks: self.masks.as_mut_ptr().wrapping_add(word * self.rows),
            _lit: std::marker::PhantomData,
        }
    }

    /// Whether nothing is recorded (true again after every step).
    pub fn is_clear(&self) -> bool {
        self.masks.iter().all(|&m| m == 0)
    }
}
// ANCHOR_END: lit_pixels

/// One sample's pen into [`LitPixels`] ([`LitPixels::sample`]).
pub struct SamplePixels<'a> {
    first_row: usize,
    rows: usize,
    batch: usize,
    bit: u64,
    /// The sample's byte of row 0; row `r`'s is `r·batch` further.
    bytes: *mut u8,
    /// The sample's mask word of row 0; row `r`'s is `r` further.
    masks: *mut u64,
    _lit: std::marker::PhantomData<&'a mut LitPixels>,
}

impl SamplePixels<'_> {
    /// Records that the sample lights pixel `k` (a pixel number within the rows) with `byte`,
    /// which must not be 0 (a dark pixel is not lit).
    #[inline(always)]
    pub fn record(&mut self, k: usize, byte: u8) {
        assert!(k.wrapping_sub(self.first_row) < self.rows, "pixel {k} outside the rows");
        // SAFETY: checked just above.
        unsafe { self.record_unchecked(k, byte) }
    }

    /// [`record`](Self::record) without the check of `k`, for a caller that has its own proof:
    /// the trainer's gather, whose pixels lie in the thread's band by `BandSplits`' invariant
    /// (the check cost about 1% of a batch at h = 32).
    ///
    /// # Safety
    /// `k` must be within the rows: `first_row <= k < first_row + rows`.
    #[inline(always)]
    pub unsafe fn record_unchecked(&mut self, k: usize, byte: u8) {
        debug_assert!(byte != 0, "a dark pixel recorded as lit");
        let row = k.wrapping_sub(self.first_row);
        debug_assert!(row < self.rows, "pixel {k} outside the rows");
        // SAFETY: `row < rows` (the caller's guarantee). `bytes` is the sample's byte of row 0
        // (`s < batch`), so `row·batch` past it is inside the `rows·batch` bytes; `masks` is its
        // mask word of row 0 (word `w` of every row is `masks[w·rows..][..rows]`), so `row` past
        // it is inside the word's rows. The borrow of the `LitPixels` (`_lit`) keeps both alive
        // and unshared.
        unsafe {
            *self.bytes.add(row * self.batch) = byte;
            *self.masks.add(row) |= self.bit;
        }
    }
}

/// Checks the shapes the unchecked loops rely on.
fn check(lit: &LitPixels, rows: usize, h: usize, lanes: &Range<usize>) {
    assert!(h > 0 && lanes.start <= lanes.end && lanes.end <= h, "lanes within the row");
    assert_eq!(lit.rows, rows, "one mask per weight row");
}

/// Takes row `row`'s masks out of `lit` (leaving them clear) into `masks`; returns whether any
/// sample lights the row. Checks that no set bit names a sample beyond `samples` (which would
/// have no delta row).
#[inline(always)]
fn take_row_masks(lit: &mut LitPixels, row: usize, masks: &mut [u64], samples: usize) -> bool {
    let mut any = 0u64;
    for (w, mask) in masks.iter_mut().enumerate() {
        let slot = &mut lit.masks[w * lit.rows + row];
        *mask = std::mem::take(slot);
        let first = w * 64;
        let allowed = if first >= samples {
            0
        } else if samples - first >= 64 {
            u64::MAX
        } else {
            (1u64 << (samples - first)) - 1
        };
        assert!(*mask & !allowed == 0, "a pixel is lit for a sample without a delta row");
        any |= *mask;
    }
    any != 0
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
/// `weights`, sum the gradient lane by lane in sample order, then step. Leaves `lit` clear for
/// the next batch.
pub fn hidden_step_scalar(
    weights: &mut [f64],
    h: usize,
    lanes: Range<usize>,
    lit: &mut LitPixels,
    delta_rows: &[f64],
    lr: f64,
    scale: BatchScale,
) {
    let rows = weights.len() / h.max(1);
    assert_eq!(weights.len(), rows * h, "weights: rows × h");
    check(lit, rows, h, &lanes);
    let samples = delta_rows.len() / h;
    let mut masks = vec![0u64; lit.words];
    for row in 0..rows {
        if !take_row_masks(lit, row, &mut masks, samples) {
            continue;
        }
        let bytes = &lit.bytes[row * lit.batch..][..lit.batch];
        for j in lanes.clone() {
            let mut acc = 0.0;
            for_each_sample(&masks, |s| acc = acc + delta_rows[s * h + j] * PIXEL_VALUE[bytes[s] as usize]);
            let weight = &mut weights[row * h + j];
            *weight = *weight - lr * scale.mean(acc);
        }
    }
}
// ANCHOR_END: hidden_step_scalar

/// [`hidden_step_scalar`] on the chosen instruction set.
pub fn hidden_step(
    level: SimdLevel,
    weights: &mut [f64],
    h: usize,
    lanes: Range<usize>,
    lit: &mut LitPixels,
    delta_rows: &[f64],
    lr: f64,
    scale: BatchScale,
) {
    let rows = weights.len() / h.max(1);
    // SAFETY: `weights` is exclusively borrowed and holds at least `rows × h` values.
    unsafe { hidden_step_shared(level, weights.as_mut_ptr(), rows, h, lanes, lit, delta_rows, lr, scale) }
}

/// [`hidden_step`] on lanes of a matrix that other threads update in *other lanes* at the same
/// time.
///
/// # Safety
/// `weights` must point to `rows × h` valid doubles, and no other thread may access lanes
/// `lanes` of any row during the call.
pub unsafe fn hidden_step_shared(
    level: SimdLevel,
    weights: *mut f64,
    rows: usize,
    h: usize,
    lanes: Range<usize>,
    lit: &mut LitPixels,
    delta_rows: &[f64],
    lr: f64,
    scale: BatchScale,
) {
    check(lit, rows, h, &lanes);
    match level.kind() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the CPU runs AVX2 (`SimdLevel`'s invariant); `weights` as our caller promised.
        SimdKind::Avx2 => unsafe { x86::hidden_step_avx2(weights, h, lanes, rows, lit, delta_rows, lr, scale) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the CPU runs AVX-512F and AVX2 (`SimdLevel`'s invariant); `weights` as our
        // caller promised.
        SimdKind::Avx512 => unsafe { avx512::hidden_step_avx512(weights, h, lanes, rows, lit, delta_rows, lr, scale) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `weights` as our caller promised.
        SimdKind::Sse2 => unsafe { x86::hidden_step_sse2(weights, h, lanes, rows, lit, delta_rows, lr, scale) },
        #[cfg(target_arch = "aarch64")]
        // SAFETY: `weights` as our caller promised.
        SimdKind::Neon => unsafe {
            two_lanes::hidden_step::<crate::math::neon::Neon>(weights, h, lanes, rows, lit, delta_rows, lr, scale)
        },
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        // SAFETY: `weights` as our caller promised.
        SimdKind::Simd128 => unsafe {
            two_lanes::hidden_step::<crate::math::simd128::Simd128>(weights, h, lanes, rows, lit, delta_rows, lr, scale)
        },
        _ => {
            let delta = delta_rows.as_ptr();
            rows_loop(rows, lit, delta_rows, h, |row, masks, pixels| {
                for j in lanes.clone() {
                    // SAFETY: row `row`, lane `j < h` of `weights` is ours (our caller's promise);
                    // `rows_loop` vouches for the deltas and pixels of `masks`' samples.
                    unsafe { lane(weights.add(row * h + j), delta.add(j), h, masks, pixels, lr, scale) };
                }
            })
        }
    }
}

/// The scalar sequence for one lane: `w` is the lane's weight, `delta` its lane of delta row 0.
///
/// # Safety
/// `w` must be valid for reads and writes; for every set bit `s` of `masks`, `delta + s·h` must be
/// readable and `pixels + s` too (what [`rows_loop`] guarantees its callback).
#[inline(always)]
unsafe fn lane(w: *mut f64, delta: *const f64, h: usize, masks: &[u64], pixels: *const u8, lr: f64, scale: BatchScale) {
    // SAFETY: the caller's guarantee (above).
    unsafe {
        let mut acc = 0.0;
        for_each_sample(masks, |s| acc = acc + *delta.add(s * h) * PIXEL_VALUE[*pixels.add(s) as usize]);
        *w = *w - lr * scale.mean(acc);
    }
}

/// The row loop shared by every level: takes each row's mask of lit samples (clearing it for
/// the next batch) and lets `blocks(row, masks, pixels)` step the row.
///
/// What `blocks` may rely on: every set bit `s` of `masks` is below the number of delta rows
/// (`delta_rows.len() / h`, checked by `take_row_masks`) and below `lit.batch` (checked by
/// `LitPixels::sample`, whose pen is the only code that sets bits), and `pixels` points at the
/// row's `lit.batch` recorded bytes; so `delta_rows[s·h..(s+1)·h]` and `pixels + s` are readable —
/// after the call too, until `lit` records again (`rows_loop` changes masks, never bytes).
#[inline(always)]
fn rows_loop(
    rows: usize,
    lit: &mut LitPixels,
    delta_rows: &[f64],
    h: usize,
    mut blocks: impl FnMut(usize, &[u64], *const u8),
) {
    let samples = delta_rows.len() / h;
    let mut masks = vec![0u64; lit.words];
    assert!(rows <= lit.rows, "one mask per weight row");
    for row in 0..rows {
        if !take_row_masks(lit, row, &mut masks, samples) {
            continue;
        }
        // SAFETY: `row < rows <= lit.rows`, and `bytes` holds `lit.batch` bytes per row.
        blocks(row, &masks, unsafe { lit.bytes.as_ptr().add(row * lit.batch) });
    }
}

crate::math::two_lane_isa! {
/// The fused step on two lanes (NEON, SIMD128): the SSE2 version over [`F64x2`].
mod two_lanes {
    use super::*;
    use crate::math::lanes::F64x2;

    /// `N` two-lane accumulators for lanes `j0..j0+2N` of one row, as `block_sse2`.
    ///
    /// # Safety
    /// `w` must be valid for `2N` doubles that no other thread touches; for every set bit `s`
    /// of `masks`, the `2N` doubles at `delta + s·h` and the byte at `pixels + s` must be
    /// readable.
    #[inline(always)]
    unsafe fn block<V: F64x2, const N: usize>(
        w: *mut f64,
        delta: *const f64,
        h: usize,
        masks: &[u64],
        pixels: *const u8,
        lr: f64,
        scale: BatchScale,
    ) {
        // SAFETY: every pointer is the caller's guarantee (above).
        unsafe {
            let mut acc = [V::zero(); N];
            for_each_sample(masks, |s| {
                let x = V::splat(PIXEL_VALUE[*pixels.add(s) as usize]);
                let d = delta.add(s * h);
                for (v, a) in acc.iter_mut().enumerate() {
                    *a = a.add(V::load(d.add(2 * v)).mul(x));
                }
            });
            let lr = V::splat(lr);
            for (v, a) in acc.iter().enumerate() {
                let mean = match scale.exact_reciprocal() {
                    Some(r) => a.mul(V::splat(r)),
                    None => a.div(V::splat(scale.n())),
                };
                let p = w.add(2 * v);
                V::load(p).sub(lr.mul(mean)).store(p);
            }
        }
    }

    /// [`hidden_step_shared`] on two lanes.
    ///
    /// # Safety
    /// `check` must have passed, and `weights` must be as [`hidden_step_shared`] requires.
    pub(super) unsafe fn hidden_step<V: F64x2>(
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
            // SAFETY: as in `x86::hidden_step_avx2`: every block covers lanes below
            // `lanes.end <= h` of row `row < rows`, ours by the caller's guarantee, and
            // `rows_loop` vouches for the deltas and pixels of `masks`' samples.
            unsafe {
                let w = weights.add(row * h);
                let at = |j: usize| (w.add(j), delta.add(j));
                let mut j = lanes.start;
                while j + 16 <= end {
                    let (w, d) = at(j);
                    block::<V, 8>(w, d, h, masks, pixels, lr, scale);
                    j += 16;
                }
                while j + 2 <= end {
                    let (w, d) = at(j);
                    block::<V, 1>(w, d, h, masks, pixels, lr, scale);
                    j += 2;
                }
                if j < end {
                    let (w, d) = at(j);
                    lane(w, d, h, masks, pixels, lr, scale);
                }
            }
        });
    }
}
}

#[cfg(target_arch = "x86_64")]
pub(super) mod avx512;

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::*;
    use std::arch::x86_64::*;

    // ANCHOR: hidden_step_avx2
    /// `V` four-lane accumulators for lanes `j0..j0+4V` of one row; `w` and `delta` point at the
    /// block's first lane (in the weight row and in delta row 0).
    ///
    /// # Safety
    /// The CPU must run AVX2; `w` must be valid for `4V` doubles that no other thread touches;
    /// for every set bit `s` of `masks`, the `4V` doubles at `delta + s·h` and the byte at
    /// `pixels + s` must be readable.
    #[inline(always)]
    pub(super) unsafe fn block_avx2<const V: usize>(
        w: *mut f64,
        delta: *const f64,
        h: usize,
        masks: &[u64],
        pixels: *const u8,
        lr: f64,
        scale: BatchScale,
    ) {
        // SAFETY: AVX2 and every pointer are the caller's guarantee (above).
        unsafe {
            let mut acc = [_mm256_setzero_pd(); V];
            for_each_sample(masks, |s| {
                let x = _mm256_set1_pd(PIXEL_VALUE[*pixels.add(s) as usize]);
                let d = delta.add(s * h);
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
                let p = w.add(4 * v);
                _mm256_storeu_pd(p, _mm256_sub_pd(_mm256_loadu_pd(p), _mm256_mul_pd(lr, mean)));
            }
        }
    }
    // ANCHOR_END: hidden_step_avx2

    /// [`block_avx2`] with two-lane registers.
    ///
    /// # Safety
    /// As [`block_avx2`], for `2V` doubles (SSE2 is part of x86-64).
    #[inline(always)]
    pub(super) unsafe fn block_sse2<const V: usize>(
        w: *mut f64,
        delta: *const f64,
        h: usize,
        masks: &[u64],
        pixels: *const u8,
        lr: f64,
        scale: BatchScale,
    ) {
        // SAFETY: every pointer is the caller's guarantee (above).
        unsafe {
            let mut acc = [_mm_setzero_pd(); V];
            for_each_sample(masks, |s| {
                let x = _mm_set1_pd(PIXEL_VALUE[*pixels.add(s) as usize]);
                let d = delta.add(s * h);
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
                let p = w.add(2 * v);
                _mm_storeu_pd(p, _mm_sub_pd(_mm_loadu_pd(p), _mm_mul_pd(lr, mean)));
            }
        }
    }

    /// [`hidden_step_shared`] on AVX2.
    ///
    /// # Safety
    /// The CPU must run AVX2, `check` must have passed, and `weights` must be as
    /// [`hidden_step_shared`] requires.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn hidden_step_avx2(
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
            // pixels of `masks`' samples, and the CPU runs AVX2 (the caller's guarantee).
            unsafe {
                let w = weights.add(row * h);
                let at = |j: usize| (w.add(j), delta.add(j));
                let mut j = lanes.start;
                while j + 32 <= end {
                    let (w, d) = at(j);
                    block_avx2::<8>(w, d, h, masks, pixels, lr, scale);
                    j += 32;
                }
                while j + 16 <= end {
                    let (w, d) = at(j);
                    block_avx2::<4>(w, d, h, masks, pixels, lr, scale);
                    j += 16;
                }
                blocks_from_four(w, delta, j, end, h, masks, pixels, lr, scale);
            }
        });
    }

    /// Lanes `j..end` of the row at `w` (delta row 0 at `delta`) in blocks of four (AVX2), then
    /// two (SSE2), then single lanes: how the AVX2 level ends a row, and the AVX-512 level its
    /// lanes that do not fill a `zmm`.
    ///
    /// # Safety
    /// The CPU must run AVX2; lanes `j..end` of the row at `w` must be valid doubles no other
    /// thread touches; for every set bit `s` of `masks`, lanes `j..end` at `delta + s·h` and the
    /// byte at `pixels + s` must be readable.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    pub(super) unsafe fn blocks_from_four(
        w: *mut f64,
        delta: *const f64,
        mut j: usize,
        end: usize,
        h: usize,
        masks: &[u64],
        pixels: *const u8,
        lr: f64,
        scale: BatchScale,
    ) {
        // SAFETY: every block covers lanes below `end` (the caller's guarantee).
        unsafe {
            while j + 4 <= end {
                block_avx2::<1>(w.add(j), delta.add(j), h, masks, pixels, lr, scale);
                j += 4;
            }
            while j + 2 <= end {
                block_sse2::<1>(w.add(j), delta.add(j), h, masks, pixels, lr, scale);
                j += 2;
            }
            if j < end {
                lane(w.add(j), delta.add(j), h, masks, pixels, lr, scale);
            }
        }
    }

    /// [`hidden_step_shared`] on SSE2.
    ///
    /// # Safety
    /// `check` must have passed, and `weights` must be as [`hidden_step_shared`] requires.
    pub(super) unsafe fn hidden_step_sse2(
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
            // SAFETY: as in `hidden_step_avx2`, without AVX2.
            unsafe {
                let w = weights.add(row * h);
                let at = |j: usize| (w.add(j), delta.add(j));
                let mut j = lanes.start;
                while j + 16 <= end {
                    let (w, d) = at(j);
                    block_sse2::<8>(w, d, h, masks, pixels, lr, scale);
                    j += 16;
                }
                while j + 2 <= end {
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
}
