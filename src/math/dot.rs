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
//! * [`accumulate_outer`] (scatter): `acc[idx[t]][i] += d[i] · val[t]` — a batch gradient, one
//!   outer product `d ⊗ x` added per sample, samples in batch order.
//!
//! Skipping an input whose value is zero is exact under this order: `w·0` is ±0, and adding ±0
//! to a sum that started at +0.0 never changes its bits (a sum can never become −0 here).

use super::SimdLevel;

/// Checks the shapes both kernels rely on, so the unsafe inner loops can use unchecked loads.
/// (One vectorised pass over the indices: a few cycles per hundred inputs.)
fn check_shapes(width: usize, rows_len: usize, stride: usize, first_row: usize, idx: &[u16], val: &[f64]) {
    assert_eq!(idx.len(), val.len(), "one value per index");
    if idx.is_empty() {
        return;
    }
    assert!(width <= stride, "output wider than a row");
    let (min, max) = idx.iter().fold((u16::MAX, 0u16), |(lo, hi), &k| (lo.min(k), hi.max(k)));
    assert!(min as usize >= first_row, "row index below the first row");
    assert!((max as usize - first_row) * stride + width <= rows_len, "row index out of range");
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
pub fn weighted_sums_continue(level: SimdLevel, out: &mut [f64], rows: &[f64], stride: usize, idx: &[u16], val: &[f64]) {
    gather(level, out, rows, stride, idx, val, true)
}

fn gather(level: SimdLevel, out: &mut [f64], rows: &[f64], stride: usize, idx: &[u16], val: &[f64], carry: bool) {
    check_shapes(out.len(), rows.len(), stride, 0, idx, val);
    match level {
        #[cfg(target_arch = "x86_64")]
        SimdLevel::Sse2 => unsafe { x86::weighted_sums_sse2(out, rows.as_ptr(), stride, idx, val, carry) },
        #[cfg(target_arch = "x86_64")]
        SimdLevel::Avx2 => {
            assert!(level.is_supported(), "AVX2 requested on a CPU without it");
            unsafe { x86::weighted_sums_avx2(out, rows.as_ptr(), stride, idx, val, carry) }
        }
        _ => {
            if !carry {
                out.fill(0.0);
            }
            weighted_sums_continue_scalar(out, rows, stride, idx, val)
        }
    }
}

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

// ANCHOR: accumulate_outer
/// `acc[(idx[t] − first_row)·stride + i] += d[i] · val[t]` for ascending `t`.
///
/// `acc` holds rows `first_row..` of a larger matrix, so a thread can own a band of rows.
pub fn accumulate_outer(
    level: SimdLevel,
    acc: &mut [f64],
    stride: usize,
    first_row: usize,
    idx: &[u16],
    val: &[f64],
    d: &[f64],
) {
    check_shapes(d.len(), acc.len(), stride, first_row, idx, val);
    match level {
        #[cfg(target_arch = "x86_64")]
        SimdLevel::Sse2 => unsafe { x86::accumulate_outer_sse2(acc.as_mut_ptr(), stride, first_row, idx, val, d) },
        #[cfg(target_arch = "x86_64")]
        SimdLevel::Avx2 => {
            assert!(level.is_supported(), "AVX2 requested on a CPU without it");
            unsafe { x86::accumulate_outer_avx2(acc.as_mut_ptr(), stride, first_row, idx, val, d) }
        }
        _ => accumulate_outer_scalar(acc, stride, first_row, idx, val, d),
    }
}

/// The canonical scalar reference of [`accumulate_outer`].
pub fn accumulate_outer_scalar(acc: &mut [f64], stride: usize, first_row: usize, idx: &[u16], val: &[f64], d: &[f64]) {
    for (&k, &x) in idx.iter().zip(val) {
        let row = &mut acc[(k as usize - first_row) * stride..][..d.len()];
        for (a, &di) in row.iter_mut().zip(d) {
            *a = *a + di * x;
        }
    }
}
// ANCHOR_END: accumulate_outer

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    // ANCHOR: weighted_sums_avx2
    /// `V` four-lane accumulators stay in registers while all inputs stream past.
    #[inline(always)]
    unsafe fn gather_block_avx2<const V: usize>(out: *mut f64, rows: *const f64, stride: usize, idx: &[u16], val: &[f64], carry: bool) {
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
    // ANCHOR_END: weighted_sums_avx2

    #[inline(always)]
    unsafe fn gather_block_sse2<const V: usize>(out: *mut f64, rows: *const f64, stride: usize, idx: &[u16], val: &[f64], carry: bool) {
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

    // ANCHOR: gather_lane
    /// Lanes that do not fill a register: the scalar sequence, one lane at a time.
    #[inline(always)]
    unsafe fn gather_lane(out: *mut f64, rows: *const f64, stride: usize, idx: &[u16], val: &[f64], carry: bool) {
        let mut acc = if carry { *out } else { 0.0 };
        for t in 0..idx.len() {
            acc = acc + *rows.add(*idx.get_unchecked(t) as usize * stride) * *val.get_unchecked(t);
        }
        *out = acc;
    }
    // ANCHOR_END: gather_lane

    pub(super) unsafe fn weighted_sums_sse2(out: &mut [f64], rows: *const f64, stride: usize, idx: &[u16], val: &[f64], carry: bool) {
        let width = out.len();
        let o = out.as_mut_ptr();
        let mut i = 0;
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

    // ANCHOR: weighted_sums_avx2_driver
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn weighted_sums_avx2(out: &mut [f64], rows: *const f64, stride: usize, idx: &[u16], val: &[f64], carry: bool) {
        let width = out.len();
        let o = out.as_mut_ptr();
        let mut i = 0;
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
    // ANCHOR_END: weighted_sums_avx2_driver

    // ANCHOR: accumulate_outer_avx2
    /// `d` stays in `V` registers; each input row of `acc` is loaded, updated and stored.
    #[inline(always)]
    unsafe fn scatter_block_avx2<const V: usize>(acc: *mut f64, stride: usize, first_row: usize, idx: &[u16], val: &[f64], d: *const f64) {
        let mut dv = [_mm256_setzero_pd(); V];
        for (v, r) in dv.iter_mut().enumerate() {
            *r = _mm256_loadu_pd(d.add(4 * v));
        }
        for t in 0..idx.len() {
            let x = _mm256_set1_pd(*val.get_unchecked(t));
            let row = acc.add((*idx.get_unchecked(t) as usize - first_row) * stride);
            for (v, dr) in dv.iter().enumerate() {
                let p = row.add(4 * v);
                _mm256_storeu_pd(p, _mm256_add_pd(_mm256_loadu_pd(p), _mm256_mul_pd(*dr, x)));
            }
        }
    }
    // ANCHOR_END: accumulate_outer_avx2

    #[inline(always)]
    unsafe fn scatter_block_sse2<const V: usize>(acc: *mut f64, stride: usize, first_row: usize, idx: &[u16], val: &[f64], d: *const f64) {
        let mut dv = [_mm_setzero_pd(); V];
        for (v, r) in dv.iter_mut().enumerate() {
            *r = _mm_loadu_pd(d.add(2 * v));
        }
        for t in 0..idx.len() {
            let x = _mm_set1_pd(*val.get_unchecked(t));
            let row = acc.add((*idx.get_unchecked(t) as usize - first_row) * stride);
            for (v, dr) in dv.iter().enumerate() {
                let p = row.add(2 * v);
                _mm_storeu_pd(p, _mm_add_pd(_mm_loadu_pd(p), _mm_mul_pd(*dr, x)));
            }
        }
    }

    #[inline(always)]
    unsafe fn scatter_lane(acc: *mut f64, stride: usize, first_row: usize, idx: &[u16], val: &[f64], d: f64) {
        for t in 0..idx.len() {
            let p = acc.add((*idx.get_unchecked(t) as usize - first_row) * stride);
            *p = *p + d * *val.get_unchecked(t);
        }
    }

    pub(super) unsafe fn accumulate_outer_sse2(acc: *mut f64, stride: usize, first_row: usize, idx: &[u16], val: &[f64], d: &[f64]) {
        let width = d.len();
        let dp = d.as_ptr();
        let mut i = 0;
        while i + 16 <= width {
            scatter_block_sse2::<8>(acc.add(i), stride, first_row, idx, val, dp.add(i));
            i += 16;
        }
        while i + 2 <= width {
            scatter_block_sse2::<1>(acc.add(i), stride, first_row, idx, val, dp.add(i));
            i += 2;
        }
        if i < width {
            scatter_lane(acc.add(i), stride, first_row, idx, val, d[i]);
        }
    }

    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn accumulate_outer_avx2(acc: *mut f64, stride: usize, first_row: usize, idx: &[u16], val: &[f64], d: &[f64]) {
        let width = d.len();
        let dp = d.as_ptr();
        let mut i = 0;
        while i + 32 <= width {
            scatter_block_avx2::<8>(acc.add(i), stride, first_row, idx, val, dp.add(i));
            i += 32;
        }
        while i + 4 <= width {
            scatter_block_avx2::<1>(acc.add(i), stride, first_row, idx, val, dp.add(i));
            i += 4;
        }
        while i + 2 <= width {
            scatter_block_sse2::<1>(acc.add(i), stride, first_row, idx, val, dp.add(i));
            i += 2;
        }
        if i < width {
            scatter_lane(acc.add(i), stride, first_row, idx, val, d[i]);
        }
    }
}
