//! The AVX-512 gather: [`weighted_sums`](super::weighted_sums) on eight-lane registers.
//!
//! The forward pass spends about a third of training here. Each lane of a `zmm` register holds
//! one output and performs the scalar sequence (`acc = acc + w·x`, the product rounded before
//! the add: `vmulpd` then `vaddpd`, never `vfmadd`), so the bits are the scalar reference's. The
//! widths that are not a multiple of eight finish on the AVX2 gather, which this CPU runs too
//! (`SimdLevel`'s invariant: an `Avx512` level exists only where AVX2 does).

use super::check_shapes;
use std::arch::x86_64::*;

// ANCHOR: gather_block_avx512
/// `V` eight-lane accumulators stay in registers while all inputs stream past.
///
/// # Safety
/// The CPU must run AVX-512F; `out` must be valid for `8V` doubles, and for every `t`, `rows +
/// idx[t]·stride` must point at `8V` readable doubles; `val.len() >= idx.len()`.
#[inline(always)]
unsafe fn gather_block_avx512<const V: usize>(
    out: *mut f64,
    rows: *const f64,
    stride: usize,
    idx: &[u16],
    val: &[f64],
    carry: bool,
) {
    // SAFETY: AVX-512F and every pointer are the caller's guarantee (above).
    unsafe {
        let mut acc = [_mm512_setzero_pd(); V];
        if carry {
            for (v, a) in acc.iter_mut().enumerate() {
                *a = _mm512_loadu_pd(out.add(8 * v));
            }
        }
        for t in 0..idx.len() {
            let x = _mm512_set1_pd(*val.get_unchecked(t));
            let row = rows.add(*idx.get_unchecked(t) as usize * stride);
            for (v, a) in acc.iter_mut().enumerate() {
                *a = _mm512_add_pd(*a, _mm512_mul_pd(_mm512_loadu_pd(row.add(8 * v)), x));
            }
        }
        for (v, a) in acc.iter().enumerate() {
            _mm512_storeu_pd(out.add(8 * v), *a);
        }
    }
}
// ANCHOR_END: gather_block_avx512

/// [`weighted_sums`](super::weighted_sums) on AVX-512F: blocks of 64 lanes (eight registers,
/// e.g. h = 128 and 512), then 32 (h = 32) and 8, then the AVX2 gather for the rest.
///
/// # Safety
/// The CPU must run AVX-512F and AVX2, which a `SimdLevel` of kind `Avx512` proves.
#[target_feature(enable = "avx512f,avx2")]
pub(super) fn weighted_sums_avx512(
    out: &mut [f64],
    rows: &[f64],
    stride: usize,
    idx: &[u16],
    val: &[f64],
    carry: bool,
) {
    check_shapes(out.len(), rows.len(), stride, idx, val);
    let (width, o, r) = (out.len(), out.as_mut_ptr(), rows.as_ptr());
    let mut i = 0;
    // SAFETY: each block covers lanes `i..` below `width` of `out` and of rows that
    // `check_shapes` found inside `rows`; this function runs only where AVX-512F does.
    unsafe {
        while i + 64 <= width {
            gather_block_avx512::<8>(o.add(i), r.add(i), stride, idx, val, carry);
            i += 64;
        }
        while i + 32 <= width {
            gather_block_avx512::<4>(o.add(i), r.add(i), stride, idx, val, carry);
            i += 32;
        }
        while i + 8 <= width {
            gather_block_avx512::<1>(o.add(i), r.add(i), stride, idx, val, carry);
            i += 8;
        }
    }
    if i < width {
        // Lanes `i..` are the same sums over rows shifted by `i`: the AVX2 gather's blocks of
        // four and two, then single lanes. (With no inputs, `rows` may be shorter than `i`.)
        let rows = rows.get(i..).unwrap_or_default();
        super::x86::weighted_sums_avx2(&mut out[i..], rows, stride, idx, val, carry);
    }
}

/// [`gather_block_avx512`] reading an image's pixels as stored: `x = table[bytes[t]]`, row
/// `idx[t] − first_row`.
///
/// # Safety
/// As [`gather_block_avx512`], with `bytes.len() >= idx.len()` and every `idx[t] >= first_row`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn pixel_block_avx512<const V: usize>(
    out: *mut f64,
    rows: *const f64,
    first_row: usize,
    stride: usize,
    idx: &[u16],
    bytes: &[u8],
    table: &[f64; 256],
    carry: bool,
) {
    // SAFETY: AVX-512F and every pointer are the caller's guarantee (above).
    unsafe {
        let mut acc = [_mm512_setzero_pd(); V];
        if carry {
            for (v, a) in acc.iter_mut().enumerate() {
                *a = _mm512_loadu_pd(out.add(8 * v));
            }
        }
        for t in 0..idx.len() {
            let x = _mm512_set1_pd(*table.get_unchecked(*bytes.get_unchecked(t) as usize));
            let row = rows.add((*idx.get_unchecked(t) as usize - first_row) * stride);
            for (v, a) in acc.iter_mut().enumerate() {
                *a = _mm512_add_pd(*a, _mm512_mul_pd(_mm512_loadu_pd(row.add(8 * v)), x));
            }
        }
        for (v, a) in acc.iter().enumerate() {
            _mm512_storeu_pd(out.add(8 * v), *a);
        }
    }
}

/// [`pixel_sums`](super::pixel_sums) on AVX-512F: blocks as [`weighted_sums_avx512`], then the
/// generic path for lanes that do not fill a register.
///
/// # Safety
/// The CPU must run AVX-512F and AVX2, which a `SimdLevel` of kind `Avx512` proves.
#[target_feature(enable = "avx512f,avx2")]
#[allow(clippy::too_many_arguments)]
pub(super) fn pixel_sums_avx512(
    out: &mut [f64],
    rows: &[f64],
    first_row: usize,
    stride: usize,
    idx: &[u16],
    bytes: &[u8],
    table: &[f64; 256],
    carry: bool,
) {
    let width = out.len();
    if !idx.is_empty() {
        // The shapes the unchecked loop relies on: every row `idx[t] − first_row` has `width`
        // values inside `rows`.
        let (lo, hi) = idx.iter().fold((u16::MAX, 0u16), |(lo, hi), &k| (lo.min(k), hi.max(k)));
        assert!(lo as usize >= first_row, "pixel before the first row");
        assert!(width <= stride, "output wider than a row");
        assert!((hi as usize - first_row) * stride + width <= rows.len(), "row index out of range");
    }
    let (o, r) = (out.as_mut_ptr(), rows.as_ptr());
    let mut i = 0;
    // SAFETY: each block covers lanes `i..` below `width` of `out` and of rows found inside
    // `rows` above; this function runs only where AVX-512F does.
    unsafe {
        while i + 64 <= width {
            pixel_block_avx512::<8>(o.add(i), r.add(i), first_row, stride, idx, bytes, table, carry);
            i += 64;
        }
        while i + 32 <= width {
            pixel_block_avx512::<4>(o.add(i), r.add(i), first_row, stride, idx, bytes, table, carry);
            i += 32;
        }
        while i + 8 <= width {
            pixel_block_avx512::<1>(o.add(i), r.add(i), first_row, stride, idx, bytes, table, carry);
            i += 8;
        }
    }
    if i < width {
        // The last lanes: the same sums over rows shifted by `i`, on the AVX2 level's path.
        let level = crate::math::SimdLevel::new(crate::math::SimdKind::Avx2).expect("AVX-512 implies AVX2");
        let rows = rows.get(i..).unwrap_or_default();
        super::pixel_sums(level, &mut out[i..], rows, first_row, stride, idx, bytes, table, carry);
    }
}
