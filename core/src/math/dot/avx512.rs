//! The AVX-512 gather: [`weighted_sums`](super::weighted_sums) and
//! [`pixel_sums`](super::pixel_sums) on eight-lane registers.
//!
//! The forward pass spends about a third of training here. Each lane of a `zmm` register holds
//! one output and performs the scalar sequence (`acc = acc + w·x`, the product rounded before
//! the add: `vmulpd` then `vaddpd`, never `vfmadd`), so the bits are the scalar reference's. The
//! widths that are not a multiple of eight finish on the AVX2 gather, which this CPU runs too
//! (`SimdLevel`'s invariant: an `Avx512` level exists only where AVX2 does).

use super::check_shapes;
use std::arch::x86_64::*;

/// A gather's inputs: for input `t`, the row it reads and the value that weighs it. Two kinds,
/// one block: values given as doubles ([`Weighted`]), or an image's pixels as the store keeps
/// them ([`Pixels`]). Each compiles to its own loop (the block is inlined).
trait Inputs {
    fn len(&self) -> usize;
    /// Row of input `t`.
    ///
    /// # Safety
    /// `t < self.len()`.
    unsafe fn row(&self, t: usize) -> usize;
    /// Value of input `t`.
    ///
    /// # Safety
    /// `t < self.len()`.
    unsafe fn value(&self, t: usize) -> f64;
    /// Shows input `t` to the caller's visitor, if the inputs carry one: the first block of a
    /// gather calls it once per input, in order.
    ///
    /// # Safety
    /// `t < self.len()`.
    #[inline(always)]
    unsafe fn visit(&mut self, _t: usize) {}
}

/// `weighted_sums`' inputs: rows `idx[t]`, values `val[t]` (`val.len() >= idx.len()`).
struct Weighted<'a> {
    idx: &'a [u16],
    val: &'a [f64],
}

impl Inputs for Weighted<'_> {
    #[inline(always)]
    fn len(&self) -> usize {
        self.idx.len()
    }
    #[inline(always)]
    unsafe fn row(&self, t: usize) -> usize {
        // SAFETY: `t < len` (the caller's guarantee).
        unsafe { *self.idx.get_unchecked(t) as usize }
    }
    #[inline(always)]
    unsafe fn value(&self, t: usize) -> f64 {
        // SAFETY: `t < len <= val.len()` (the caller's guarantee and the type's).
        unsafe { *self.val.get_unchecked(t) }
    }
}

/// `pixel_sums`' inputs: rows `idx[t] − first_row`, values `table[bytes[t]]`
/// (`bytes.len() >= idx.len()`, every `idx[t] >= first_row`), each pixel shown to `visit`
/// as `(idx[t], bytes[t])`.
struct Pixels<'a, F: FnMut(usize, u8)> {
    idx: &'a [u16],
    bytes: &'a [u8],
    table: &'a [f64; 256],
    first_row: usize,
    visit: F,
}

impl<F: FnMut(usize, u8)> Inputs for Pixels<'_, F> {
    #[inline(always)]
    fn len(&self) -> usize {
        self.idx.len()
    }
    #[inline(always)]
    unsafe fn row(&self, t: usize) -> usize {
        // SAFETY: `t < len` (the caller's guarantee).
        unsafe { *self.idx.get_unchecked(t) as usize - self.first_row }
    }
    #[inline(always)]
    unsafe fn value(&self, t: usize) -> f64 {
        // SAFETY: `t < len <= bytes.len()`; a byte indexes the 256-entry table.
        unsafe { *self.table.get_unchecked(*self.bytes.get_unchecked(t) as usize) }
    }
    #[inline(always)]
    unsafe fn visit(&mut self, t: usize) {
        // SAFETY: `t < len <= bytes.len()` (the caller's guarantee and the type's).
        let (k, b) = unsafe { (*self.idx.get_unchecked(t), *self.bytes.get_unchecked(t)) };
        (self.visit)(k as usize, b);
    }
}

// ANCHOR: gather_block_avx512
/// `V` eight-lane accumulators stay in registers while all inputs stream past (each shown to
/// the inputs' visitor on the way if `VISIT`).
///
/// # Safety
/// The CPU must run AVX-512F; `out` must be valid for `8V` doubles, and for every input `t`,
/// `rows + row(t)·stride` must point at `8V` readable doubles.
#[inline(always)]
unsafe fn gather_block_avx512<const V: usize, const VISIT: bool>(
    out: *mut f64,
    rows: *const f64,
    stride: usize,
    inputs: &mut impl Inputs,
    carry: bool,
) {
    // SAFETY: AVX-512F and every pointer are the caller's guarantee (above); `t < len`.
    unsafe {
        let mut acc = [_mm512_setzero_pd(); V];
        if carry {
            for (v, a) in acc.iter_mut().enumerate() {
                *a = _mm512_loadu_pd(out.add(8 * v));
            }
        }
        for t in 0..inputs.len() {
            let x = _mm512_set1_pd(inputs.value(t));
            let row = rows.add(inputs.row(t) * stride);
            for (v, a) in acc.iter_mut().enumerate() {
                *a = _mm512_add_pd(*a, _mm512_mul_pd(_mm512_loadu_pd(row.add(8 * v)), x));
            }
            if VISIT {
                inputs.visit(t);
            }
        }
        for (v, a) in acc.iter().enumerate() {
            _mm512_storeu_pd(out.add(8 * v), *a);
        }
    }
}
// ANCHOR_END: gather_block_avx512

/// The blocks of 64 lanes (eight registers, e.g. h = 128 and 512), then 32 (h = 32) and 8;
/// returns how many lanes they covered (the rest do not fill a register). The first block shows
/// every input to the inputs' visitor; if there is no block (`out` narrower than 8), the inputs
/// are shown here instead, so they are always shown once.
///
/// # Safety
/// The CPU must run AVX-512F, and every input's row must have `out.len()` values inside `rows`.
#[inline(always)]
unsafe fn blocks_avx512(out: &mut [f64], rows: &[f64], stride: usize, inputs: &mut impl Inputs, carry: bool) -> usize {
    let (width, o, r) = (out.len(), out.as_mut_ptr(), rows.as_ptr());
    let mut i = 0;
    // SAFETY: each block covers lanes `i..` below `width` of `out` and of the rows (the
    // caller's guarantee), on a CPU that runs AVX-512F; `t < len` for the visits.
    unsafe {
        if width >= 64 {
            gather_block_avx512::<8, true>(o, r, stride, inputs, carry);
            i = 64;
        } else if width >= 32 {
            gather_block_avx512::<4, true>(o, r, stride, inputs, carry);
            i = 32;
        } else if width >= 8 {
            gather_block_avx512::<1, true>(o, r, stride, inputs, carry);
            i = 8;
        } else {
            for t in 0..inputs.len() {
                inputs.visit(t);
            }
        }
        while i + 64 <= width {
            gather_block_avx512::<8, false>(o.add(i), r.add(i), stride, inputs, carry);
            i += 64;
        }
        while i + 32 <= width {
            gather_block_avx512::<4, false>(o.add(i), r.add(i), stride, inputs, carry);
            i += 32;
        }
        while i + 8 <= width {
            gather_block_avx512::<1, false>(o.add(i), r.add(i), stride, inputs, carry);
            i += 8;
        }
    }
    i
}

/// [`weighted_sums`](super::weighted_sums) on AVX-512F, then the AVX2 gather for the lanes
/// that do not fill a register.
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
    // SAFETY: `check_shapes` found every row inside `rows`; this function runs only where
    // AVX-512F does.
    let i = unsafe { blocks_avx512(out, rows, stride, &mut Weighted { idx, val }, carry) };
    if i < out.len() {
        // Lanes `i..` are the same sums over rows shifted by `i`: the AVX2 gather's blocks of
        // four and two, then single lanes. (With no inputs, `rows` may be shorter than `i`.)
        let rows = rows.get(i..).unwrap_or_default();
        super::x86::weighted_sums_avx2(&mut out[i..], rows, stride, idx, val, carry);
    }
}

/// [`pixel_sums`](super::pixel_sums) on AVX-512F, then the AVX2 level's path for the lanes that
/// do not fill a register.
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
    assert_eq!(idx.len(), bytes.len(), "one byte per index");
    if !idx.is_empty() {
        // The shapes the unchecked loop relies on: every row `idx[t] − first_row` has `width`
        // values inside `rows`.
        // A plain loop, not `fold` with a closure: the closure would inherit this function's
        // target features, which the generic `fold` lacks, so it could not be inlined — a call
        // per pixel, a quarter of the gather's time. The loop compiles to vector min and max.
        let (mut lo, mut hi) = (u16::MAX, 0u16);
        for &k in idx {
            lo = lo.min(k);
            hi = hi.max(k);
        }
        assert!(lo as usize >= first_row, "pixel before the first row");
        assert!(width <= stride, "output wider than a row");
        assert!((hi as usize - first_row) * stride + width <= rows.len(), "row index out of range");
    }
    // SAFETY: the rows were found inside `rows` above; this function runs only where AVX-512F
    // and AVX2 do.
    unsafe { pixel_sums_avx512_in_rows(out, rows, first_row, stride, idx, bytes, table, carry, |_, _| {}) }
}

/// [`pixel_sums_avx512`] without its pass over the indices (the caller vouches for the rows),
/// showing each pixel to `visit` as `(idx[t], bytes[t])`, in order, during the first block.
///
/// # Safety
/// The CPU must run AVX-512F and AVX2; `idx.len() == bytes.len()`, `out.len() <= stride`, and
/// for every `t`, `first_row <= idx[t]` and `(idx[t] − first_row)·stride + out.len() <=
/// rows.len()`.
#[target_feature(enable = "avx512f,avx2")]
#[allow(clippy::too_many_arguments)]
pub(super) unsafe fn pixel_sums_avx512_in_rows(
    out: &mut [f64],
    rows: &[f64],
    first_row: usize,
    stride: usize,
    idx: &[u16],
    bytes: &[u8],
    table: &[f64; 256],
    carry: bool,
    visit: impl FnMut(usize, u8),
) {
    let width = out.len();
    // SAFETY: every row lies inside `rows` (the caller's guarantee); this function runs only
    // where AVX-512F does.
    let i = unsafe { blocks_avx512(out, rows, stride, &mut Pixels { idx, bytes, table, first_row, visit }, carry) };
    if i < width {
        // The last lanes: the same sums over rows shifted by `i`, on the AVX2 level's path.
        let level = crate::math::SimdLevel::new(crate::math::SimdKind::Avx2).expect("AVX-512 implies AVX2");
        let rows = rows.get(i..).unwrap_or_default();
        super::pixel_sums(level, &mut out[i..], rows, first_row, stride, idx, bytes, table, carry);
    }
}
