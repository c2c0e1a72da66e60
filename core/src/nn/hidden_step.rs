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
/// A batch's non-zero pixels: the input of the fused step, which walks them by pixel row.
///
/// Phase 1 records each sample's pixels as its gather reads them, into the sample's own stretch
/// of bytes (`dense`, one byte per row of the band). The step then derives each row's mask of
/// lit samples from those stretches in one pass ([`LitPixels::build_masks`]) and reads each lit
/// sample's byte from its stretch. Recording by row instead — a byte and a mask bit per pixel,
/// scattered over every row of the band — cost a quarter of phase 1 at h = 32: those stores
/// landed on lines the weight rows streaming through L1 had just evicted.
#[derive(Clone, Debug)]
pub struct LitPixels {
    /// The pixel number of row 0 (a thread records only its band of rows).
    first_row: usize,
    rows: usize,
    /// Samples per batch (≥ every recorded sample number + 1).
    batch: usize,
    /// 64-bit words per row mask.
    words: usize,
    /// Bytes between two samples' stretches in `dense`: `rows` rounded up to whole cache lines.
    stride: usize,
    /// `dense[s·stride + row]`: sample `s`'s byte at the row's pixel, 0 where it is dark — valid
    /// for the samples recorded since the last step (`recorded`); a stretch is cleared when its
    /// sample is first recorded in a batch.
    dense: Vec<u8>,
    /// `recorded[s]`: sample `s` has been recorded since the last step.
    recorded: Vec<bool>,
    /// The number of samples `masks` were built for ([`LitPixels::prepare`]), until the step
    /// takes them.
    built: Option<usize>,
    /// `masks[w·rows + row]`, bit `i`: sample `64·w + i` lights the row (word by word, so that a
    /// sample's words of consecutive rows are neighbours). Built from `dense` by the step, which
    /// clears them as it takes them.
    masks: Vec<u64>,
    /// Working room of the AVX-512 step on rows of 128 lanes or more, kept between batches (empty
    /// elsewhere): every row's masks, taken out before the first block of lanes, and one block of
    /// lanes of each sample's deltas, side by side.
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    block_masks: Vec<u64>,
    /// Working room of the mask pass, kept between batches: a byte of every row's mask per group
    /// of eight samples (group by group in `build_masks`; block of 64 rows by block in the
    /// AVX-512 version).
    mask_bytes: Vec<u8>,
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    block_deltas: AlignedF64s,
}

impl LitPixels {
    /// Room for pixel rows `rows` and batches of up to `batch` samples, all dark.
    pub fn new(rows: Range<usize>, batch: usize) -> LitPixels {
        let words = batch.div_ceil(64).max(1);
        let (first_row, rows) = (rows.start, rows.len());
        let stride = rows.next_multiple_of(64);
        LitPixels {
            first_row,
            rows,
            batch,
            words,
            stride,
            dense: vec![0; batch * stride],
            recorded: vec![false; batch],
            built: None,
            masks: vec![0; rows * words],
            block_masks: Vec::new(),
            mask_bytes: Vec::new(),
            block_deltas: AlignedF64s::zeros(0),
        }
    }

    /// Moves to the pixel rows `rows` (a trainer thread whose band has moved), keeping the
    /// buffers' memory. Only while nothing is recorded ([`LitPixels::is_clear`]).
    pub fn rebind(&mut self, rows: Range<usize>) {
        assert!(self.is_clear(), "rows moved with pixels recorded");
        let (first_row, rows) = (rows.start, rows.len());
        let stride = rows.next_multiple_of(64);
        (self.first_row, self.rows, self.stride) = (first_row, rows, stride);
        self.dense.clear();
        self.dense.resize(self.batch * stride, 0);
        self.masks.clear();
        self.masks.resize(rows * self.words, 0);
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
        let stretch = &mut self.dense[s * self.stride..][..self.stride];
        if !std::mem::replace(&mut self.recorded[s], true) {
            // Whole cache lines of a fixed size, so this compiles to vector stores, not a call.
            for line in stretch.chunks_exact_mut(64) {
                line.copy_from_slice(&[0; 64]);
            }
        }
        SamplePixels {
            first_row: self.first_row,
            rows: self.rows,
            bytes: stretch.as_mut_ptr(),
            _lit: std::marker::PhantomData,
        }
    }

    /// Whether nothing is recorded (true again after every step).
    pub fn is_clear(&self) -> bool {
        !self.recorded.contains(&true) && self.built.is_none() && self.masks.iter().all(|&m| m == 0)
    }

    // ANCHOR: build_masks
    /// Derives every row's mask from the stretches of samples `0..samples` (the batch's). Eight
    /// samples make one byte of a mask: each sample's stretch ORs its bit into its group's bytes
    /// (`mask_bytes`, one per row), a loop along the stretch that runs in vector registers; then
    /// each row's groups are joined into its mask words. Afterwards nothing counts as recorded:
    /// the next batch starts afresh.
    #[inline(always)]
    fn build_masks(&mut self, samples: usize) {
        let samples = self.settle(samples);
        let (rows, stride) = (self.rows, self.stride);
        let groups = samples.div_ceil(8);
        let mut bytes = std::mem::take(&mut self.mask_bytes);
        bytes.clear();
        bytes.resize(groups * stride, 0);
        for (s, stretch) in self.dense.chunks_exact(stride.max(1)).take(samples).enumerate() {
            let group = &mut bytes[s / 8 * stride..][..stride];
            let bit = 1u8 << (s % 8);
            for (byte, &pixel) in group.iter_mut().zip(stretch) {
                *byte |= if pixel != 0 { bit } else { 0 };
            }
        }
        for (word, masks) in self.masks.chunks_exact_mut(rows.max(1)).enumerate() {
            let groups = &bytes[(8 * word * stride).min(bytes.len())..];
            for (g, group) in groups.chunks_exact(stride.max(1)).take(8).enumerate() {
                for (mask, &byte) in masks.iter_mut().zip(group) {
                    *mask |= (byte as u64) << (8 * g);
                }
            }
        }
        self.mask_bytes = bytes;
    }

    /// Readies the stretches of samples `0..samples` for [`build_masks`](Self::build_masks) and
    /// returns how many of them there are in the batch: clears those not recorded since the last
    /// step (they are dark), checks that no sample from `samples` on lights a pixel (it would
    /// have no delta row), and forgets what was recorded. Every stretch's bytes past `rows` are 0.
    #[inline(always)]
    fn settle(&mut self, samples: usize) -> usize {
        let stride = self.stride;
        for (s, recorded) in self.recorded.iter_mut().enumerate() {
            let stretch = &mut self.dense[s * stride..][..stride];
            if std::mem::take(recorded) {
                assert!(
                    s < samples || !stretch.iter().any(|&b| b != 0),
                    "a pixel is lit for a sample without a delta row"
                );
            } else if s < samples {
                stretch.fill(0);
            }
        }
        samples.min(self.batch)
    }
    // ANCHOR_END: build_masks

    /// Builds the row masks of the batch's `samples` samples now, on `level`, for the step to
    /// take: the trainer does it while it waits for the other threads at the barrier before
    /// phase 3, as it needs only this thread's own recordings. (The step builds them itself
    /// otherwise.)
    pub fn prepare(&mut self, level: SimdLevel, samples: usize) {
        assert!(self.built.is_none(), "the masks are built once a batch");
        self.build_masks_for(level, samples);
        self.built = Some(samples);
    }

    /// The masks for `samples` samples: built now, unless [`prepare`](Self::prepare) built them.
    fn ensure_masks(&mut self, level: SimdLevel, samples: usize) {
        match self.built.take() {
            None => self.build_masks_for(level, samples),
            Some(built) => assert_eq!(built, samples, "masks prepared for {built} samples, stepped with {samples}"),
        }
    }

    /// [`build_masks`](Self::build_masks) on the chosen instruction set.
    fn build_masks_for(&mut self, level: SimdLevel, samples: usize) {
        #[cfg(target_arch = "x86_64")]
        if level.kind() == SimdKind::Avx512 && std::arch::is_x86_feature_detected!("avx512bw") {
            // SAFETY: the CPU runs AVX-512F (`SimdLevel`'s invariant) and AVX-512BW (just checked).
            unsafe { avx512::build_masks(self, samples) };
            return;
        }
        let _ = level;
        self.build_masks(samples);
    }

    /// The bytes of row `row` (`row < rows`): sample `s`'s at `s·stride` from the first.
    #[inline(always)]
    fn row_bytes(&self, row: usize) -> RowBytes {
        debug_assert!(row < self.rows);
        RowBytes { first: self.dense.as_ptr().wrapping_add(row), stride: self.stride }
    }
}
// ANCHOR_END: lit_pixels

/// One pixel row's bytes in [`LitPixels`]: sample `s`'s is `stride` bytes after sample
/// `s − 1`'s.
#[derive(Clone, Copy, Debug)]
pub(super) struct RowBytes {
    first: *const u8,
    stride: usize,
}

impl RowBytes {
    /// Sample `s`'s byte.
    ///
    /// # Safety
    /// Sample `s` must be one of the batch's (the callers' masks only name such samples).
    #[inline(always)]
    pub(super) unsafe fn byte(self, s: usize) -> u8 {
        // SAFETY: the caller's guarantee: `s` names a stretch of `dense`, which holds the row.
        unsafe { *self.first.add(s * self.stride) }
    }

    /// The same row from sample `s` on: its `byte(t)` is sample `s + t`'s.
    #[inline(always)]
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    pub(super) fn skip_samples(self, s: usize) -> RowBytes {
        RowBytes { first: self.first.wrapping_add(s * self.stride), stride: self.stride }
    }
}

/// One sample's pen into [`LitPixels`] ([`LitPixels::sample`]).
pub struct SamplePixels<'a> {
    first_row: usize,
    rows: usize,
    /// The sample's byte of row 0; row `r`'s is `r` further.
    bytes: *mut u8,
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
        // SAFETY: `row < rows` (the caller's guarantee), and `bytes` is the sample's stretch of
        // `stride >= rows` bytes. The borrow of the `LitPixels` (`_lit`) keeps it alive and
        // unshared.
        unsafe { *self.bytes.add(row) = byte };
    }
}

/// Checks the shapes the unchecked loops rely on.
fn check(lit: &LitPixels, rows: usize, h: usize, lanes: &Range<usize>) {
    assert!(h > 0 && lanes.start <= lanes.end && lanes.end <= h, "lanes within the row");
    assert_eq!(lit.rows, rows, "one mask per weight row");
}

/// Takes row `row`'s masks out of `lit` (leaving them clear) into `masks`; returns whether any
/// sample lights the row. (Every set bit names a sample with a delta row: `build_masks` sets
/// bits only for the batch's samples.)
#[inline(always)]
fn take_row_masks(lit: &mut LitPixels, row: usize, masks: &mut [u64]) -> bool {
    let mut any = 0u64;
    for (w, mask) in masks.iter_mut().enumerate() {
        *mask = std::mem::take(&mut lit.masks[w * lit.rows + row]);
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
    lit.ensure_masks(SimdLevel::SCALAR, delta_rows.len() / h);
    let mut masks = vec![0u64; lit.words];
    for row in 0..rows {
        if !take_row_masks(lit, row, &mut masks) {
            continue;
        }
        let byte = |s: usize| lit.dense[s * lit.stride + row];
        for j in lanes.clone() {
            let mut acc = 0.0;
            for_each_sample(&masks, |s| acc = acc + delta_rows[s * h + j] * PIXEL_VALUE[byte(s) as usize]);
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
    lit.ensure_masks(level, delta_rows.len() / h);
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
            rows_loop(rows, lit, |row, masks, pixels| {
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
/// readable and `pixels.byte(s)` too (what [`rows_loop`] guarantees its callback).
#[inline(always)]
unsafe fn lane(w: *mut f64, delta: *const f64, h: usize, masks: &[u64], pixels: RowBytes, lr: f64, scale: BatchScale) {
    // SAFETY: the caller's guarantee (above).
    unsafe {
        let mut acc = 0.0;
        for_each_sample(masks, |s| acc = acc + *delta.add(s * h) * PIXEL_VALUE[pixels.byte(s) as usize]);
        *w = *w - lr * scale.mean(acc);
    }
}

/// The row loop shared by every level: takes each row's mask of lit samples (clearing it for
/// the next batch) and lets `blocks(row, masks, pixels)` step the row.
///
/// What `blocks` may rely on: every set bit `s` of `masks` is below the number of delta rows
/// (`delta_rows.len() / h`) and below `lit.batch` — [`hidden_step_shared`] builds the masks for
/// the batch's samples before any level's loop runs, and `build_masks` sets bits only for those
/// — and `pixels` is the row's recorded bytes; so `delta_rows[s·h..(s+1)·h]` and
/// `pixels.byte(s)` are readable — after the call too, until `lit` records again (`rows_loop`
/// changes masks, never bytes).
#[inline(always)]
fn rows_loop(rows: usize, lit: &mut LitPixels, mut blocks: impl FnMut(usize, &[u64], RowBytes)) {
    let mut masks = vec![0u64; lit.words];
    assert!(rows <= lit.rows, "one mask per weight row");
    for row in 0..rows {
        if !take_row_masks(lit, row, &mut masks) {
            continue;
        }
        blocks(row, &masks, lit.row_bytes(row));
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
    /// of `masks`, the `2N` doubles at `delta + s·h` and the byte at `pixels.byte(s)` must be
    /// readable.
    #[inline(always)]
    unsafe fn block<V: F64x2, const N: usize>(
        w: *mut f64,
        delta: *const f64,
        h: usize,
        masks: &[u64],
        pixels: RowBytes,
        lr: f64,
        scale: BatchScale,
    ) {
        // SAFETY: every pointer is the caller's guarantee (above).
        unsafe {
            let mut acc = [V::zero(); N];
            for_each_sample(masks, |s| {
                let x = V::splat(PIXEL_VALUE[pixels.byte(s) as usize]);
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
        rows_loop(rows, lit, |row, masks, pixels| {
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
    /// for every set bit `s` of `masks`, the `4V` doubles at `delta + s·h` and the byte
    /// `pixels.byte(s)` must be readable.
    #[inline(always)]
    pub(super) unsafe fn block_avx2<const V: usize>(
        w: *mut f64,
        delta: *const f64,
        h: usize,
        masks: &[u64],
        pixels: RowBytes,
        lr: f64,
        scale: BatchScale,
    ) {
        // SAFETY: AVX2 and every pointer are the caller's guarantee (above).
        unsafe {
            let mut acc = [_mm256_setzero_pd(); V];
            for_each_sample(masks, |s| {
                let x = _mm256_set1_pd(PIXEL_VALUE[pixels.byte(s) as usize]);
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
        pixels: RowBytes,
        lr: f64,
        scale: BatchScale,
    ) {
        // SAFETY: every pointer is the caller's guarantee (above).
        unsafe {
            let mut acc = [_mm_setzero_pd(); V];
            for_each_sample(masks, |s| {
                let x = _mm_set1_pd(PIXEL_VALUE[pixels.byte(s) as usize]);
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
        rows_loop(rows, lit, |row, masks, pixels| {
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
    /// byte at `pixels.byte(s)` must be readable.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    pub(super) unsafe fn blocks_from_four(
        w: *mut f64,
        delta: *const f64,
        mut j: usize,
        end: usize,
        h: usize,
        masks: &[u64],
        pixels: RowBytes,
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
        rows_loop(rows, lit, |row, masks, pixels| {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator (xorshift), so the test needs no dependency.
    struct Gen(u64);
    impl Gen {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    /// Every level's mask builder gives each row the samples (below `samples`) that recorded a
    /// pixel in it in this batch — not in an earlier one, whose stretches a sample not recorded
    /// again must not leak into the masks.
    #[test]
    fn masks_name_exactly_the_batch_samples_that_light_each_row() {
        let mut g = Gen(0x9e37_79b9_7f4a_7c15);
        let levels = SimdLevel::available();
        // Rows inside one block of 64 and across several, with a ragged end; one and two mask
        // words; short batches.
        for (rows, batch) in [(9usize, 5usize), (64, 32), (130, 32), (392, 32), (200, 70), (65, 1), (100, 64)] {
            for &level in &levels {
                let mut lit = LitPixels::new(10..10 + rows, batch);
                // A first batch lights everything it can, for every sample.
                for s in 0..batch {
                    let index: Vec<u16> = (10..10 + rows as u16).collect();
                    lit.record(s, &index, &vec![255; rows]);
                }
                lit.build_masks_for(level, batch);
                lit.masks.iter_mut().for_each(|m| *m = 0);
                // The second records some samples only, about a fifth of their pixels.
                for samples in [batch, batch.div_ceil(2)] {
                    let mut expected = vec![0u64; lit.words * rows];
                    for s in (0..samples).filter(|s| s % 3 != 1) {
                        let mut pen = lit.sample(s);
                        for row in 0..rows {
                            if g.next() % 5 == 0 {
                                pen.record(10 + row, 1 + (g.next() % 255) as u8);
                                expected[s / 64 * rows + row] |= 1 << (s % 64);
                            }
                        }
                    }
                    lit.build_masks_for(level, samples);
                    assert_eq!(lit.masks, expected, "{level}: rows {rows}, batch {batch}, samples {samples}");
                    lit.masks.iter_mut().for_each(|m| *m = 0);
                    assert!(lit.is_clear());
                }
            }
        }
    }

    /// Masks prepared ahead of the step (as the trainer does at the barrier) step the same bits
    /// as masks the step builds itself, and leave `lit` as clear.
    #[test]
    fn masks_prepared_ahead_step_the_same_bits() {
        let (rows, batch, h) = (150usize, 32usize, 32usize);
        let mut g = Gen(7);
        let weights: Vec<f64> = (0..rows * h).map(|_| (g.next() % 1000) as f64 * 1e-4 - 0.05).collect();
        let delta: Vec<f64> = (0..batch * h).map(|_| (g.next() % 1000) as f64 * 1e-5 - 0.005).collect();
        let mut lit = LitPixels::new(0..rows, batch);
        let record = |lit: &mut LitPixels, g: &mut Gen| {
            for s in 0..batch {
                let mut pen = lit.sample(s);
                for row in 0..rows {
                    if g.next() % 4 == 0 {
                        pen.record(row, 1 + (g.next() % 255) as u8);
                    }
                }
            }
        };
        for level in SimdLevel::available() {
            let (mut built_by_step, mut prepared) = (weights.clone(), weights.clone());
            let mut g2 = Gen(11);
            record(&mut lit, &mut g2);
            hidden_step(level, &mut built_by_step, h, 0..h, &mut lit, &delta, 0.1, BatchScale::new(batch));
            assert!(lit.is_clear());
            let mut g2 = Gen(11);
            record(&mut lit, &mut g2);
            lit.prepare(level, batch);
            assert!(!lit.is_clear(), "prepared masks wait for the step");
            hidden_step(level, &mut prepared, h, 0..h, &mut lit, &delta, 0.1, BatchScale::new(batch));
            assert!(lit.is_clear());
            assert!(built_by_step != weights, "{level}: the step changed something");
            assert_eq!(
                built_by_step.iter().map(|w| w.to_bits()).collect::<Vec<_>>(),
                prepared.iter().map(|w| w.to_bits()).collect::<Vec<_>>(),
                "{level}"
            );
        }
    }

    #[test]
    #[should_panic(expected = "masks prepared for 32 samples, stepped with 31")]
    fn masks_prepared_for_another_batch_are_refused() {
        let mut lit = LitPixels::new(0..10, 32);
        lit.prepare(SimdLevel::available().pop().unwrap(), 32);
        let mut w = vec![0.0; 10 * 4];
        hidden_step(
            SimdLevel::available().pop().unwrap(),
            &mut w,
            4,
            0..4,
            &mut lit,
            &[0.0; 31 * 4],
            0.1,
            BatchScale::new(31),
        );
    }

    #[test]
    #[should_panic(expected = "a pixel is lit for a sample without a delta row")]
    fn a_pixel_of_a_sample_past_the_batch_is_refused() {
        let mut lit = LitPixels::new(0..100, 32);
        lit.record(31, &[7], &[9]);
        lit.build_masks(31);
    }
}
