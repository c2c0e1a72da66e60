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

use super::x86::blocks_from_four;
use super::{rows_loop, take_row_masks, BatchScale, LitPixels, RowBytes, PIXEL_VALUE};
use crate::math::aligned::AlignedF64s;

// ANCHOR: hidden_step_avx512
/// `V` eight-lane accumulators for lanes `j0..j0+8V` of one row; `w` and `delta` point at the
/// block's first lane (in the weight row and in delta row 0).
///
/// # Safety
/// The CPU must run AVX-512F; `w` must be valid for `8V` doubles that no other thread touches;
/// for every set bit `s` of `masks`, the `8V` doubles at `delta + s·h` and the byte at
/// `pixels.byte(s)` must be readable.
#[inline(always)]
unsafe fn block_avx512<const V: usize>(
    w: *mut f64,
    delta: *const f64,
    h: usize,
    masks: &[u64],
    pixels: RowBytes,
    lr: f64,
    scale: BatchScale,
) {
    // SAFETY: AVX-512F and every pointer are the caller's guarantee (above).
    unsafe {
        let mut acc = [_mm512_setzero_pd(); V];
        // `for_each_sample`, written out (see `add_next_sample`).
        for (word, &bits) in masks.iter().enumerate() {
            let mut bits = bits;
            while bits != 0 {
                add_next_sample(&mut acc, &mut bits, delta.add(64 * word * h), h, pixels.skip_samples(64 * word));
            }
        }
        step(w, &acc, lr, scale);
    }
}

/// The step of `8V` weights at `w` by their summed gradients `acc`: `w = w − lr·(g / n)`.
///
/// # Safety
/// The CPU must run AVX-512F; `w` must be valid for `8V` doubles that no other thread touches.
#[inline(always)]
pub(in crate::nn) unsafe fn step<const V: usize>(w: *mut f64, acc: &[__m512d; V], lr: f64, scale: BatchScale) {
    // SAFETY: AVX-512F and `w` are the caller's guarantee (above).
    unsafe {
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

/// Adds the sample of the lowest set bit of `bits` (the batch order) to the `V` registers
/// `acc`, and clears the bit. A function rather than a closure: a closure holding the intrinsics
/// runs as AVX-512 code only while LLVM chooses to inline it (one it did not, in an experiment,
/// ran 40 times slower, its intrinsics called one by one).
///
/// # Safety
/// The CPU must run AVX-512F; `bits` must not be 0; for its lowest set bit `s`, the `8V`
/// doubles at `delta + s·h` and the byte at `pixels.byte(s)` must be readable.
#[inline(always)]
unsafe fn add_next_sample<const V: usize>(
    acc: &mut [__m512d; V],
    bits: &mut u64,
    delta: *const f64,
    h: usize,
    pixels: RowBytes,
) {
    // SAFETY: AVX-512F and every pointer are the caller's guarantee (above).
    unsafe {
        let s = bits.trailing_zeros() as usize;
        *bits &= *bits - 1;
        let x = _mm512_set1_pd(PIXEL_VALUE[pixels.byte(s) as usize]);
        let d = delta.add(s * h);
        for (v, a) in acc.iter_mut().enumerate() {
            *a = _mm512_add_pd(*a, _mm512_mul_pd(_mm512_loadu_pd(d.add(8 * v)), x));
        }
    }
}

/// [`block_avx512`] with four registers for each of two rows at once (32 lanes of row 0 with
/// mask `masks[0]`, the same lanes of row 1): two independent chains of adds, so one row's
/// latency hides behind the other's (the arguments are those of `block_avx512`, one per row).
///
/// One loop walks the samples that light either row, in batch order. The two rows are
/// neighbouring pixels, lit mostly by the same samples, so the delta row loaded for one serves
/// the other; and where three loops (both rows, then the rest of either) each ended on a branch
/// the predictor could not know, one does. A sample that lights only one of the rows must leave
/// the other's sums as they are, and two ways do that:
///
/// - `FINITE` (every delta of the batch is finite): the other row's byte of the sample is 0, so
///   its product is `δ·0.0 = ±0`, and adding ±0 leaves a sum's bits as they are, unless the sum
///   is −0. A sum that starts at +0.0 never is: `+0 + −0` is +0, and so is `x + −x`. So both
///   rows simply take every product.
/// - otherwise a masked add (`vaddpd` with a write mask, which leaves a register as it is
///   where the mask is clear), since `±∞·0.0` is NaN.
///
/// The masks cost two shifts, two negations and two mask moves (`kmovb`, which take the same
/// port as half the vector arithmetic) for every sample: without them the trainer's phase 3
/// took about 1,400 TSC cycles less a batch on each thread (h = 32, two threads).
/// (In alternated runs at h = 32 on two threads, the one loop instead of three took 0.4–2.5k
/// fewer TSC cycles a batch. Four rows at once took 2k more: their products for samples that
/// light only some of them cost more than the branches they save.)
///
/// # Safety
/// As [`block_avx512`] for each row: `w[i]` valid for 32 doubles no other thread touches, and
/// for every set bit `s` of either mask, the 32 doubles at `delta + s·h` and the bytes at
/// `pixels[0].byte(s)` and `pixels[1].byte(s)` readable. If `FINITE`, every delta row of a set
/// bit must be finite, and `pixels[i].byte(s)` must be 0 wherever `masks[i]` lacks bit `s`
/// (`LitPixels` clears a sample's stretch when it records the sample).
#[inline(always)]
unsafe fn block_pair_avx512<const FINITE: bool>(
    w: [*mut f64; 2],
    delta: *const f64,
    h: usize,
    masks: [u64; 2],
    pixels: [RowBytes; 2],
    lr: f64,
    scale: BatchScale,
) {
    // SAFETY: AVX-512F and every pointer are the caller's guarantee (above).
    unsafe {
        let (mut a0, mut a1) = ([_mm512_setzero_pd(); 4], [_mm512_setzero_pd(); 4]);
        let [m0, m1] = masks;
        let mut either = m0 | m1;
        while either != 0 {
            let s = either.trailing_zeros() as usize;
            either &= either - 1;
            let x0 = _mm512_set1_pd(PIXEL_VALUE[pixels[0].byte(s) as usize]);
            let x1 = _mm512_set1_pd(PIXEL_VALUE[pixels[1].byte(s) as usize]);
            let d = delta.add(s * h);
            // Without `FINITE`, each row's write mask: all eight lanes of a register, or none,
            // as the row's mask has bit `s` or not.
            let (k0, k1) = if FINITE {
                (0, 0)
            } else {
                ((((m0 >> s) & 1) as u8).wrapping_neg(), (((m1 >> s) & 1) as u8).wrapping_neg())
            };
            for v in 0..4 {
                let dv = _mm512_loadu_pd(d.add(8 * v));
                let (p0, p1) = (_mm512_mul_pd(dv, x0), _mm512_mul_pd(dv, x1));
                if FINITE {
                    a0[v] = _mm512_add_pd(a0[v], p0);
                    a1[v] = _mm512_add_pd(a1[v], p1);
                } else {
                    a0[v] = _mm512_mask_add_pd(a0[v], k0, a0[v], p0);
                    a1[v] = _mm512_mask_add_pd(a1[v], k1, a1[v], p1);
                }
            }
        }
        step(w[0], &a0, lr, scale);
        step(w[1], &a1, lr, scale);
    }
}

/// [`hidden_step_shared`](super::hidden_step_shared) on AVX-512F. Rows of 128 lanes or more
/// go block by block ([`hidden_step_block_major`]); narrower rows go row by row, in blocks of 64
/// lanes, then 32 and 8, then AVX2, SSE2 and single lanes ([`row_blocks`]). Rows of exactly 32
/// lanes (h = 32) with a batch of at most 64 go two at a time instead ([`block_pair_avx512`]):
/// four registers of one row are a chain of adds as long as the row's samples with only four of
/// them in flight, so a row alone waits on add latency.
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
    if lanes.len() >= BLOCK_LANES {
        // SAFETY: our caller's guarantees are the callee's.
        unsafe { hidden_step_block_major(weights, h, lanes, rows, lit, delta_rows, lr, scale) };
        return;
    }
    if lanes.len() == 32 && lit.words == 1 {
        let first = lanes.start;
        // Whether the pairs may add the products of unlit bytes (`block_pair_avx512`).
        let mut finite = true;
        for &d in delta_rows {
            finite &= d.is_finite();
        }
        // The lit row waiting for a partner: its weights, mask and bytes.
        let mut waiting: Option<(*mut f64, u64, RowBytes)> = None;
        rows_loop(rows, lit, |row, masks, pixels| {
            // SAFETY: lanes `first..first + 32 <= h` (checked) of row `row < rows` are ours by the
            // caller's guarantee, and `rows_loop` vouches for the deltas and pixels of `masks`'
            // samples, the waiting row's too (nothing records into `lit` meanwhile). A row's
            // byte of a sample is 0 exactly where its mask lacks the sample (`LitPixels::dense`,
            // from which the masks were built), and `finite` was checked over every delta.
            unsafe {
                let w = weights.add(row * h + first);
                match waiting.take() {
                    None => waiting = Some((w, masks[0], pixels)),
                    Some((w0, m0, p0)) => {
                        let (w, m, p) = ([w0, w], [m0, masks[0]], [p0, pixels]);
                        if finite {
                            block_pair_avx512::<true>(w, delta.add(first), h, m, p, lr, scale)
                        } else {
                            block_pair_avx512::<false>(w, delta.add(first), h, m, p, lr, scale)
                        }
                    }
                }
            }
        });
        if let Some((w0, m0, p0)) = waiting {
            // SAFETY: as above; `block_avx512::<4>` reads the masks as a slice of one word.
            unsafe { block_avx512::<4>(w0, delta.add(first), h, &[m0], p0, lr, scale) };
        }
        return;
    }
    rows_loop(rows, lit, |row, masks, pixels| {
        // SAFETY: lanes `lanes` (below `h`, checked) of row `row < rows` are ours by the caller's
        // guarantee; `rows_loop` vouches for the deltas and pixels of `masks`' samples, and the
        // CPU runs AVX-512F and AVX2 (the caller's guarantee).
        unsafe { row_blocks(weights.add(row * h), delta, lanes.start, end, h, masks, pixels, lr, scale) }
    });
}

/// Steps lanes `j..end` of one row (`w` and `delta` point at lane 0 of the weight row and of
/// delta row 0): blocks of 64 lanes, then 32 and 8, then the AVX2 blocks, SSE2 and a single lane.
///
/// # Safety
/// The CPU must run AVX-512F and AVX2; lanes `j..end` of the row at `w` must be valid doubles no
/// other thread touches; for every set bit `s` of `masks`, lanes `j..end` at `delta + s·h` and
/// the byte at `pixels.byte(s)` must be readable.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn row_blocks(
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
        while j + 64 <= end {
            block_avx512::<8>(w.add(j), delta.add(j), h, masks, pixels, lr, scale);
            j += 64;
        }
        while j + 32 <= end {
            block_avx512::<4>(w.add(j), delta.add(j), h, masks, pixels, lr, scale);
            j += 32;
        }
        while j + 8 <= end {
            block_avx512::<1>(w.add(j), delta.add(j), h, masks, pixels, lr, scale);
            j += 8;
        }
        blocks_from_four(w, delta, j, end, h, masks, pixels, lr, scale);
    }
}

/// The lanes of a block of [`hidden_step_block_major`]: sixteen registers of sums. A block of
/// a batch of 32's deltas takes 32 KB, inside the 48 KB L1 cache.
const BLOCK_LANES: usize = 128;

// ANCHOR: hidden_step_block_major
/// [`hidden_step_avx512`] on rows of [`BLOCK_LANES`] lanes or more, the lane blocks outermost:
/// for each block, the block of every sample's delta row is copied side by side, and then every
/// lit row of the band steps that block. Row by row, each lit pixel's sample would fetch a whole
/// delta row (4 KB at h = 512) from the L2 cache, as the batch's deltas (128 KB) do not fit L1;
/// a block's (32 KB) do, and stay there while the rows stream past. Every weight still sees
/// the same sequence of operations: only the order of the rows and blocks changes, and those
/// are independent sums.
///
/// # Safety
/// As [`hidden_step_avx512`].
#[target_feature(enable = "avx512f,avx2")]
#[allow(clippy::too_many_arguments)]
unsafe fn hidden_step_block_major(
    weights: *mut f64,
    h: usize,
    lanes: Range<usize>,
    rows: usize,
    lit: &mut LitPixels,
    delta_rows: &[f64],
    lr: f64,
    scale: BatchScale,
) {
    let (samples, words) = (delta_rows.len() / h, lit.words);
    // Every row's masks, taken out of `lit` (leaving it clear for the next batch).
    let mut masks = std::mem::take(&mut lit.block_masks);
    masks.clear();
    masks.resize(rows * words, 0);
    for (row, row_masks) in masks.chunks_exact_mut(words).enumerate() {
        take_row_masks(lit, row, row_masks);
    }
    let mut block = std::mem::replace(&mut lit.block_deltas, AlignedF64s::zeros(0));
    if block.len() < samples * BLOCK_LANES {
        block = AlignedF64s::zeros(lit.batch.max(samples) * BLOCK_LANES);
    }
    let lit_rows = masks.chunks_exact(words).enumerate().filter(|(_, m)| m.iter().any(|&w| w != 0));
    let pixels = |row: usize| lit.row_bytes(row);
    let mut j = lanes.start;
    while j + BLOCK_LANES <= lanes.end {
        for (s, copy) in block.chunks_exact_mut(BLOCK_LANES).take(samples).enumerate() {
            copy.copy_from_slice(&delta_rows[s * h + j..s * h + j + BLOCK_LANES]);
        }
        for (row, row_masks) in lit_rows.clone() {
            // SAFETY: lanes `j..j + BLOCK_LANES`, below `lanes.end <= h` (checked), of row
            // `row < rows` are ours by the caller's guarantee. Every set bit `s` of the masks is
            // below `samples` and `lit.batch` (`build_masks`), so row `s` of `block` holds the
            // block of delta row `s`, and `pixels(row).byte(s)` is the row's byte of sample `s`.
            unsafe {
                block_avx512::<{ BLOCK_LANES / 8 }>(
                    weights.add(row * h + j),
                    block.as_ptr(),
                    BLOCK_LANES,
                    row_masks,
                    pixels(row),
                    lr,
                    scale,
                )
            };
        }
        j += BLOCK_LANES;
    }
    if j < lanes.end {
        for (row, row_masks) in lit_rows {
            // SAFETY: lanes `j..lanes.end` of row `row < rows` are ours, and the deltas and
            // pixels of the masks' samples are readable, as above (with the delta rows of `h`).
            unsafe {
                row_blocks(
                    weights.add(row * h),
                    delta_rows.as_ptr(),
                    j,
                    lanes.end,
                    h,
                    row_masks,
                    pixels(row),
                    lr,
                    scale,
                )
            };
        }
    }
    lit.block_masks = masks;
    lit.block_deltas = block;
}
// ANCHOR_END: hidden_step_block_major

// ANCHOR: build_masks_avx512
/// [`LitPixels::build_masks`] on AVX-512BW. The same two steps: each sample's stretch, 64 rows
/// at a time, is tested (`vptestmb`, one bit per row) and the sample's bit added into its
/// group's 64 mask bytes where that bit is set; then the four groups of 64 rows are widened
/// and joined, sixteen rows at a time in 32-bit lanes, into the rows' mask words.
///
/// # Safety
/// The CPU must run AVX-512F and AVX-512BW.
#[target_feature(enable = "avx512f,avx512bw,avx2")]
pub(super) unsafe fn build_masks(lit: &mut LitPixels, samples: usize) {
    let samples = lit.settle(samples);
    let (rows, stride) = (lit.rows, lit.stride);
    let blocks = stride / 64;
    let (dense, masks) = (lit.dense.as_ptr(), lit.masks.as_mut_ptr());
    // Block `b` of group `g` (samples `first + 8g..`, 32 at a time) at `64·(4b + g)`: byte `r`
    // holds those samples' bits for row `64b + r`.
    let mut bytes = std::mem::take(&mut lit.mask_bytes);
    bytes.clear();
    bytes.resize(4 * 64 * blocks, 0);
    let at = bytes.as_mut_ptr();
    let group_block = |b: usize, g: usize| at.wrapping_add(64 * (4 * b + g));
    // SAFETY: AVX-512F/BW are the caller's guarantee. Sample `s < samples <= batch` has the
    // stretch `dense[s·stride..][..stride]`, and `stride` is `blocks` blocks of 64 bytes, as is
    // each group in `bytes`; mask word `w` of row `r < rows` is `masks[w·rows + r]`, and
    // `w = first / 64 < words`.
    unsafe {
        for first in (0..samples).step_by(32) {
            // Sample by sample, each stretch read from its start: its lines stream in order.
            for i in 0..(samples - first).min(32) {
                let stretch = dense.add((first + i) * stride);
                let bit = _mm512_set1_epi8(1 << (i % 8));
                for b in 0..blocks {
                    let line = _mm512_loadu_si512(stretch.add(64 * b).cast());
                    let lit = _mm512_test_epi8_mask(line, line);
                    let p = group_block(b, i / 8);
                    // The bits are distinct, so adding one is setting it.
                    let sum = _mm512_loadu_si512(p.cast());
                    _mm512_storeu_si512(p.cast(), _mm512_mask_add_epi8(sum, lit, sum, bit));
                }
            }
            let (word, shift) = (first / 64, _mm_cvtsi32_si128((first % 64) as i32));
            for b in 0..blocks {
                let groups = [0, 1, 2, 3].map(|g| _mm512_loadu_si512(group_block(b, g).cast()));
                for q in 0..4 {
                    let mut sixteen = _mm512_setzero_si512();
                    for (g, &group) in groups.iter().enumerate() {
                        let quarter = _mm512_cvtepu8_epi32(extract_quarter(group, q));
                        sixteen = _mm512_or_si512(sixteen, _mm512_sllv_epi32(quarter, _mm512_set1_epi32(8 * g as i32)));
                    }
                    for half in 0..2 {
                        let row = 64 * b + 16 * q + 8 * half;
                        if row >= rows {
                            break;
                        }
                        let eight = if half == 0 {
                            _mm512_castsi512_si256(sixteen)
                        } else {
                            _mm512_extracti64x4_epi64(sixteen, 1)
                        };
                        let bits = _mm512_sll_epi64(_mm512_cvtepu32_epi64(eight), shift);
                        let keep = ((1u32 << (rows - row).min(8)) - 1) as u8;
                        let p = masks.add(word * rows + row);
                        let old = _mm512_maskz_loadu_epi64(keep, p.cast());
                        _mm512_mask_storeu_epi64(p.cast(), keep, _mm512_or_si512(old, bits));
                    }
                }
            }
            if first + 32 < samples {
                // The next 32 samples sum into the same bytes, from zero (`resize` above cleared
                // them for the first 32).
                std::ptr::write_bytes(at, 0, 4 * 64 * blocks);
            }
        }
    }
    lit.mask_bytes = bytes;
}

/// The 16 bytes `16q..16q + 16` of `v`.
///
/// # Safety
/// The CPU must run AVX-512F.
#[inline(always)]
unsafe fn extract_quarter(v: __m512i, q: usize) -> __m128i {
    // SAFETY: AVX-512F is the caller's guarantee.
    unsafe {
        match q {
            0 => _mm512_extracti32x4_epi32(v, 0),
            1 => _mm512_extracti32x4_epi32(v, 1),
            2 => _mm512_extracti32x4_epi32(v, 2),
            _ => _mm512_extracti32x4_epi32(v, 3),
        }
    }
}
// ANCHOR_END: build_masks_avx512
