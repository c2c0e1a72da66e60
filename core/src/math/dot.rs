//! Weighted sums — the original's `dot.asm`, turned sideways for SIMD.
//!
//! The original computed one dot product per output unit. We compute the same sums, in the same
//! order per output, but *many outputs at once*: for each input `t` (in ascending order) we add
//! `row_t[i] · x_t` to every output `i`. Lane `i` of a SIMD register holds output `i`, so the
//! vector code performs, per output, exactly the scalar sequence
//!
//! ```text
//! acc = +0.0;  for t in order { acc = acc + (w[t][i] · x[t]) }   // mul rounds, then add rounds
//! ```
//!
//! and therefore returns exactly the scalar bits. Two kernels:
//!
//! * [`weighted_sums`] (gather): `out[i] = Σ_t rows[idx[t]][i] · val[t]`, accumulators in
//!   registers — the forward pass (`idx` = the non-zero pixels) and backprop through a layer.
//! * [`accumulate_outer_scalar`] (scatter): `acc[idx[t]][i] += d[i] · val[t]` — a batch gradient, one
//!   outer product `d ⊗ x` added per sample, samples in batch order. Only the reference
//!   gradient (`batch_gradients`) uses it — the trainer sums the same gradients row by row in
//!   `hidden_step` — so it is scalar only.
//!
//! Skipping an input whose value is zero is exact under this order: `w·0` is ±0, and adding ±0
//! to a sum that started at +0.0 never changes its bits (a sum can never become −0 here).

use super::{SimdKind, SimdLevel};

/// Checks the shapes the SIMD loops rely on, so they can use unchecked loads: one value per
/// index, and every row `idx[t]` has `width` values inside `rows`. (One vectorised pass over the
/// indices: a few cycles per hundred inputs.)
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64", all(target_arch = "wasm32", target_feature = "simd128")))]
#[inline(always)]
fn check_shapes(width: usize, rows_len: usize, stride: usize, idx: &[u16], val: &[f64]) {
    assert_eq!(idx.len(), val.len(), "one value per index");
    if idx.is_empty() {
        return;
    }
    assert!(width <= stride, "output wider than a row");
    let max = idx.iter().fold(0u16, |hi, &k| hi.max(k));
    assert!(max as usize * stride + width <= rows_len, "row index out of range");
}

// ANCHOR: weighted_sums
/// `out[i] = Σ_t rows[idx[t]·stride + i] · val[t]`, summed from +0.0 in ascending `t`.
pub fn weighted_sums(level: SimdLevel, out: &mut [f64], rows: &[f64], stride: usize, idx: &[u16], val: &[f64]) {
    gather(level, out, rows, stride, idx, val, false)
}

/// [`weighted_sums`] continued: each `out[i]` is a sum already begun over earlier inputs, and
/// goes on adding `rows[idx[t]·stride + i] · val[t]` in ascending `t`. Splitting a canonical sum
/// into consecutive stretches this way — on one thread or handed from one to the next — performs
/// exactly the same operations in the same order, so it gives the same bits.
pub fn weighted_sums_continue(
    level: SimdLevel,
    out: &mut [f64],
    rows: &[f64],
    stride: usize,
    idx: &[u16],
    val: &[f64],
) {
    gather(level, out, rows, stride, idx, val, true)
}

// ANCHOR: dispatch
fn gather(level: SimdLevel, out: &mut [f64], rows: &[f64], stride: usize, idx: &[u16], val: &[f64], carry: bool) {
    match level.kind() {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the CPU runs SSE2 (`SimdLevel`'s invariant: x86-64 always does).
        SimdKind::Sse2 => unsafe { x86::weighted_sums_sse2(out, rows, stride, idx, val, carry) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the CPU runs AVX2 (`SimdLevel`'s invariant).
        SimdKind::Avx2 => unsafe { x86::weighted_sums_avx2(out, rows, stride, idx, val, carry) },
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the CPU runs AVX-512F and AVX2 (`SimdLevel`'s invariant).
        SimdKind::Avx512 => unsafe { avx512::weighted_sums_avx512(out, rows, stride, idx, val, carry) },
        #[cfg(target_arch = "aarch64")]
        SimdKind::Neon => two_lanes::weighted_sums::<crate::math::neon::Neon>(out, rows, stride, idx, val, carry),
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        SimdKind::Simd128 => {
            two_lanes::weighted_sums::<crate::math::simd128::Simd128>(out, rows, stride, idx, val, carry)
        }
        _ => {
            if !carry {
                out.fill(0.0);
            }
            weighted_sums_continue_scalar(out, rows, stride, idx, val)
        }
    }
}
// ANCHOR_END: dispatch

/// The canonical scalar reference of [`weighted_sums`].
pub fn weighted_sums_scalar(out: &mut [f64], rows: &[f64], stride: usize, idx: &[u16], val: &[f64]) {
    out.fill(0.0);
    weighted_sums_continue_scalar(out, rows, stride, idx, val)
}

/// The canonical scalar reference of [`weighted_sums_continue`].
pub fn weighted_sums_continue_scalar(out: &mut [f64], rows: &[f64], stride: usize, idx: &[u16], val: &[f64]) {
    for (&k, &x) in idx.iter().zip(val) {
        let row = &rows[k as usize * stride..][..out.len()];
        for (acc, &w) in out.iter_mut().zip(row) {
            *acc = *acc + w * x;
        }
    }
}
// ANCHOR_END: weighted_sums

// ANCHOR: pixel_sums
/// The forward pass's sums straight from an image's sparse pixels: [`weighted_sums`] (or its
/// `_continue` if `carry`) with `val[t] = table[bytes[t]]` and row `idx[t] − first_row` of `rows`
/// (`rows` holds rows `first_row..` of a larger matrix, so a thread can pass its band). The same
/// operations in the same order, so the same bits; the point is speed: the AVX-512 kernel reads
/// the bytes and pixel numbers as the image stores them, where the trainer used to convert and
/// renumber every sample's pixels into two buffers first.
#[allow(clippy::too_many_arguments)]
pub fn pixel_sums(
    level: SimdLevel,
    out: &mut [f64],
    rows: &[f64],
    first_row: usize,
    stride: usize,
    idx: &[u16],
    bytes: &[u8],
    table: &[f64; 256],
    carry: bool,
) {
    assert_eq!(idx.len(), bytes.len(), "one byte per index");
    #[cfg(target_arch = "x86_64")]
    if level.kind() == SimdKind::Avx512 {
        // SAFETY: the CPU runs AVX-512F and AVX2 (`SimdLevel`'s invariant).
        return unsafe { avx512::pixel_sums_avx512(out, rows, first_row, stride, idx, bytes, table, carry) };
    }
    // Elsewhere: convert a stretch of pixels at a time and gather them (a sum split into
    // consecutive stretches performs the same operations in the same order).
    let (mut index, mut value) = ([0u16; 256], [0.0f64; 256]);
    let mut carry = carry;
    for (idx, bytes) in idx.chunks(256).zip(bytes.chunks(256)) {
        for ((i, v), (&k, &b)) in index.iter_mut().zip(value.iter_mut()).zip(idx.iter().zip(bytes)) {
            *i = k.checked_sub(first_row as u16).expect("pixel before the first row");
            *v = table[b as usize];
        }
        gather(level, out, rows, stride, &index[..idx.len()], &value[..idx.len()], carry);
        carry = true;
    }
    if idx.is_empty() && !carry {
        out.fill(0.0);
    }
}
// ANCHOR_END: pixel_sums

/// [`pixel_sums`] for a caller that knows every pixel's row lies inside `rows`, which also shows
/// every pixel to `visit` as `(idx[t], bytes[t])`, in order. On AVX-512 it skips the safe
/// version's pass over the indices (their minimum and maximum), about 3% of a training batch,
/// and visits the pixels inside the gather's loop, where they are loaded anyway: the trainer's
/// phase 1 calls this once per sample and band and records the pixels for phase 3's step as
/// they go by (8% of a batch at h = 32, against a second pass over them). Other levels check
/// as they convert, as before, and visit the pixels after the gather.
///
/// # Safety
/// `out.len() <= stride`, and for every `t`: `first_row <= idx[t]` and
/// `(idx[t] − first_row)·stride + out.len() <= rows.len()`.
#[allow(clippy::too_many_arguments)]
pub unsafe fn pixel_sums_in_rows(
    level: SimdLevel,
    out: &mut [f64],
    rows: &[f64],
    first_row: usize,
    stride: usize,
    idx: &[u16],
    bytes: &[u8],
    table: &[f64; 256],
    carry: bool,
    mut visit: impl FnMut(usize, u8),
) {
    assert_eq!(idx.len(), bytes.len(), "one byte per index");
    #[cfg(target_arch = "x86_64")]
    if level.kind() == SimdKind::Avx512 {
        // SAFETY: the CPU runs AVX-512F and AVX2 (`SimdLevel`'s invariant); the rows are the
        // caller's guarantee.
        return unsafe {
            avx512::pixel_sums_avx512_in_rows(out, rows, first_row, stride, idx, bytes, table, carry, visit)
        };
    }
    pixel_sums(level, out, rows, first_row, stride, idx, bytes, table, carry);
    for (&k, &b) in idx.iter().zip(bytes) {
        visit(k as usize, b);
    }
}

// ANCHOR: accumulate_outer
/// `acc[(idx[t] − first_row)·stride + i] += d[i] · val[t]` for ascending `t`.
///
/// `acc` holds rows `first_row..` of a larger matrix, so a caller can pass a band of rows.
/// Scalar only, like the reference it serves (no SIMD twin: the trainer never calls it).
pub fn accumulate_outer_scalar(acc: &mut [f64], stride: usize, first_row: usize, idx: &[u16], val: &[f64], d: &[f64]) {
    assert_eq!(idx.len(), val.len(), "one value per index");
    for (&k, &x) in idx.iter().zip(val) {
        let row = &mut acc[(k as usize - first_row) * stride..][..d.len()];
        for (a, &di) in row.iter_mut().zip(d) {
            *a = *a + di * x;
        }
    }
}
// ANCHOR_END: accumulate_outer

super::two_lane_isa! {
/// The two-lane gather (NEON, SIMD128): the SSE2 gather over [`F64x2`](crate::math::lanes::F64x2).
mod two_lanes {
    use super::check_shapes;
    use crate::math::lanes::F64x2;

    /// `V` two-lane accumulators stay in registers while all inputs stream past.
    ///
    /// # Safety
    /// `out` must be valid for `2N` doubles, and for every `t`, `rows + idx[t]·stride` must point
    /// at `2N` readable doubles; `val.len() >= idx.len()`.
    #[inline(always)]
    unsafe fn block<V: F64x2, const N: usize>(
        out: *mut f64,
        rows: *const f64,
        stride: usize,
        idx: &[u16],
        val: &[f64],
        carry: bool,
    ) {
        // SAFETY: every pointer is the caller's guarantee (above).
        unsafe {
            let mut acc = [V::zero(); N];
            if carry {
                for (v, a) in acc.iter_mut().enumerate() {
                    *a = V::load(out.add(2 * v));
                }
            }
            for t in 0..idx.len() {
                let x = V::splat(*val.get_unchecked(t));
                let row = rows.add(*idx.get_unchecked(t) as usize * stride);
                for (v, a) in acc.iter_mut().enumerate() {
                    *a = a.add(V::load(row.add(2 * v)).mul(x));
                }
            }
            for (v, a) in acc.iter().enumerate() {
                a.store(out.add(2 * v));
            }
        }
    }

    /// [`weighted_sums`](super::weighted_sums) on two lanes, blocked as the SSE2 version.
    pub(super) fn weighted_sums<V: F64x2>(
        out: &mut [f64],
        rows: &[f64],
        stride: usize,
        idx: &[u16],
        val: &[f64],
        carry: bool,
    ) {
        check_shapes(out.len(), rows.len(), stride, idx, val);
        let (width, o, rows) = (out.len(), out.as_mut_ptr(), rows.as_ptr());
        let mut i = 0;
        // SAFETY: each block covers lanes `i..` below `width` of `out` and of rows that
        // `check_shapes` found inside `rows`.
        unsafe {
            while i + 16 <= width {
                block::<V, 8>(o.add(i), rows.add(i), stride, idx, val, carry);
                i += 16;
            }
            while i + 2 <= width {
                block::<V, 1>(o.add(i), rows.add(i), stride, idx, val, carry);
                i += 2;
            }
            if i < width {
                let mut acc = if carry { *o.add(i) } else { 0.0 };
                for t in 0..idx.len() {
                    acc = acc + *rows.add(i + *idx.get_unchecked(t) as usize * stride) * *val.get_unchecked(t);
                }
                *o.add(i) = acc;
            }
        }
    }
}
}

#[cfg(target_arch = "x86_64")]
mod avx512;

/// The SSE2 and AVX2 gathers. Each entry point checks the shapes first ([`check_shapes`]); the
/// loops then load without bounds checks.
#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::check_shapes;
    use std::arch::x86_64::*;

    // ANCHOR: weighted_sums_avx2
    /// `V` four-lane accumulators stay in registers while all inputs stream past.
    ///
    /// # Safety
    /// The CPU must run AVX2; `out` must be valid for `4V` doubles, and for every `t`, `rows +
    /// idx[t]·stride` must point at `4V` readable doubles; `val.len() >= idx.len()`.
    #[inline(always)]
    unsafe fn gather_block_avx2<const V: usize>(
        out: *mut f64,
        rows: *const f64,
        stride: usize,
        idx: &[u16],
        val: &[f64],
        carry: bool,
    ) {
        // SAFETY: AVX2 and every pointer are the caller's guarantee (above).
        unsafe {
            let mut acc = [_mm256_setzero_pd(); V];
            if carry {
                for (v, a) in acc.iter_mut().enumerate() {
                    *a = _mm256_loadu_pd(out.add(4 * v));
                }
            }
            for t in 0..idx.len() {
                let x = _mm256_set1_pd(*val.get_unchecked(t));
                let row = rows.add(*idx.get_unchecked(t) as usize * stride);
                for (v, a) in acc.iter_mut().enumerate() {
                    *a = _mm256_add_pd(*a, _mm256_mul_pd(_mm256_loadu_pd(row.add(4 * v)), x));
                }
            }
            for (v, a) in acc.iter().enumerate() {
                _mm256_storeu_pd(out.add(4 * v), *a);
            }
        }
    }
    // ANCHOR_END: weighted_sums_avx2

    // Why a second body rather than one generic over a register-width trait: that version was
    // tried — `weighted_sums_avx2` compiled to the same 516 instructions — but the trait and its
    // two impls cost 58 more lines than the pair they replace, and hide the intrinsics that the
    // book's scalar-to-SIMD table names.

    /// [`gather_block_avx2`] with two-lane registers.
    ///
    /// # Safety
    /// As [`gather_block_avx2`], for `2V` doubles (SSE2 is part of x86-64).
    #[inline(always)]
    unsafe fn gather_block_sse2<const V: usize>(
        out: *mut f64,
        rows: *const f64,
        stride: usize,
        idx: &[u16],
        val: &[f64],
        carry: bool,
    ) {
        // SAFETY: every pointer is the caller's guarantee (above).
        unsafe {
            let mut acc = [_mm_setzero_pd(); V];
            if carry {
                for (v, a) in acc.iter_mut().enumerate() {
                    *a = _mm_loadu_pd(out.add(2 * v));
                }
            }
            for t in 0..idx.len() {
                let x = _mm_set1_pd(*val.get_unchecked(t));
                let row = rows.add(*idx.get_unchecked(t) as usize * stride);
                for (v, a) in acc.iter_mut().enumerate() {
                    *a = _mm_add_pd(*a, _mm_mul_pd(_mm_loadu_pd(row.add(2 * v)), x));
                }
            }
            for (v, a) in acc.iter().enumerate() {
                _mm_storeu_pd(out.add(2 * v), *a);
            }
        }
    }

    // ANCHOR: gather_lane
    /// Lanes that do not fill a register: the scalar sequence, one lane at a time.
    ///
    /// # Safety
    /// As [`gather_block_avx2`], for one double, on any CPU.
    #[inline(always)]
    unsafe fn gather_lane(out: *mut f64, rows: *const f64, stride: usize, idx: &[u16], val: &[f64], carry: bool) {
        // SAFETY: every pointer is the caller's guarantee (above).
        unsafe {
            let mut acc = if carry { *out } else { 0.0 };
            for t in 0..idx.len() {
                acc = acc + *rows.add(*idx.get_unchecked(t) as usize * stride) * *val.get_unchecked(t);
            }
            *out = acc;
        }
    }
    // ANCHOR_END: gather_lane

    /// [`weighted_sums`](super::weighted_sums) on SSE2.
    ///
    /// # Safety
    /// The CPU must run SSE2, as every x86-64 CPU does.
    #[target_feature(enable = "sse2")]
    pub(super) fn weighted_sums_sse2(
        out: &mut [f64],
        rows: &[f64],
        stride: usize,
        idx: &[u16],
        val: &[f64],
        carry: bool,
    ) {
        check_shapes(out.len(), rows.len(), stride, idx, val);
        let (width, o, rows) = (out.len(), out.as_mut_ptr(), rows.as_ptr());
        let mut i = 0;
        // SAFETY: each block covers lanes `i..` below `width` of `out` and of rows that
        // `check_shapes` found inside `rows`.
        unsafe {
            while i + 16 <= width {
                gather_block_sse2::<8>(o.add(i), rows.add(i), stride, idx, val, carry);
                i += 16;
            }
            while i + 2 <= width {
                gather_block_sse2::<1>(o.add(i), rows.add(i), stride, idx, val, carry);
                i += 2;
            }
            if i < width {
                gather_lane(o.add(i), rows.add(i), stride, idx, val, carry);
            }
        }
    }

    // ANCHOR: weighted_sums_avx2_driver
    /// [`weighted_sums`](super::weighted_sums) on AVX2.
    ///
    /// # Safety
    /// The CPU must run AVX2, which a `SimdLevel` of kind `Avx2` proves.
    #[target_feature(enable = "avx2")]
    pub(super) fn weighted_sums_avx2(
        out: &mut [f64],
        rows: &[f64],
        stride: usize,
        idx: &[u16],
        val: &[f64],
        carry: bool,
    ) {
        check_shapes(out.len(), rows.len(), stride, idx, val);
        let (width, o, rows) = (out.len(), out.as_mut_ptr(), rows.as_ptr());
        let mut i = 0;
        // SAFETY: each block covers lanes `i..` below `width` of `out` and of rows that
        // `check_shapes` found inside `rows`; this function runs only where AVX2 does.
        unsafe {
            while i + 32 <= width {
                gather_block_avx2::<8>(o.add(i), rows.add(i), stride, idx, val, carry);
                i += 32;
            }
            while i + 8 <= width {
                gather_block_avx2::<2>(o.add(i), rows.add(i), stride, idx, val, carry);
                i += 8;
            }
            while i + 4 <= width {
                gather_block_avx2::<1>(o.add(i), rows.add(i), stride, idx, val, carry);
                i += 4;
            }
            while i + 2 <= width {
                gather_block_sse2::<1>(o.add(i), rows.add(i), stride, idx, val, carry);
                i += 2;
            }
            if i < width {
                gather_lane(o.add(i), rows.add(i), stride, idx, val, carry);
            }
        }
    }
    // ANCHOR_END: weighted_sums_avx2_driver
}
