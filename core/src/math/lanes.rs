//! Two f64 lanes, the register width that NEON (aarch64) and SIMD128 (wasm32) share, as one
//! trait: each of their kernels is written once, generic over it, and mirrors the SSE2 kernel
//! beside it operation for operation. (For SSE2 and AVX2 a shared generic body was tried and
//! dropped: it saved little and hid the intrinsics. For these two it saves a whole second copy
//! of every kernel, and the intrinsics stay in one readable place each: `neon.rs`, `simd128.rs`.)
//!
//! Every method is one IEEE 754 operation per lane (a multiply rounds, then an add rounds: no
//! fused multiply-add exists here), a bitwise operation, or a compare that yields an all-ones or
//! all-zeros lane mask, so a kernel written with them performs per lane exactly its scalar
//! reference's sequence. Methods that behave differently between the two instruction sets on
//! the edges are not offered: there is no `min`/`max` (NEON's differ from `minsd`/`maxsd` on NaN
//! and on ±0), only compare-and-select, as [`min_like`] and [`max_like`].

/// Two f64 lanes; masks are values of the same type with all-ones or all-zeros lanes.
pub(crate) trait F64x2: Copy {
    /// Two doubles from `p`.
    ///
    /// # Safety
    /// `p` must point at two readable doubles (any alignment).
    unsafe fn load(p: *const f64) -> Self;
    /// Two doubles to `p`.
    ///
    /// # Safety
    /// `p` must point at two writable doubles (any alignment).
    unsafe fn store(self, p: *mut f64);
    fn splat(x: f64) -> Self;
    /// Both lanes from the bits `b`.
    fn splat_bits(b: u64) -> Self;
    fn add(self, o: Self) -> Self;
    fn sub(self, o: Self) -> Self;
    fn mul(self, o: Self) -> Self;
    fn div(self, o: Self) -> Self;
    /// `self < o` (false if either is NaN).
    fn lt(self, o: Self) -> Self;
    /// `self > o` (false if either is NaN).
    fn gt(self, o: Self) -> Self;
    /// `self == o` (false if either is NaN).
    fn eq(self, o: Self) -> Self;
    /// Lanes that are NaN.
    fn is_nan(self) -> Self;
    /// `mask ? a : b`, lane by lane (bit by bit).
    fn select(mask: Self, a: Self, b: Self) -> Self;
    fn and(self, o: Self) -> Self;
    fn or(self, o: Self) -> Self;
    fn xor(self, o: Self) -> Self;
    /// The lanes' bits as 64-bit integers, added (wrapping).
    fn add_i64(self, o: Self) -> Self;
    /// The lanes' bits as 64-bit integers, subtracted (wrapping).
    fn sub_i64(self, o: Self) -> Self;
    /// The lanes' bits shifted right by `n` (`0 < n < 64`), zeros in.
    fn shr_u64(self, n: u32) -> Self;
    /// The lanes' bits shifted left by `n` (`0 < n < 64`).
    fn shl_u64(self, n: u32) -> Self;

    fn zero() -> Self {
        Self::splat(0.0)
    }
}

/// `a < b ? a : b` per lane: `minsd`'s semantics, as `min_like_sse`.
#[inline(always)]
pub(crate) fn min_like<V: F64x2>(a: V, b: V) -> V {
    V::select(a.lt(b), a, b)
}

/// `a > b ? a : b` per lane: `maxsd`'s semantics, as `max_like_sse`.
#[inline(always)]
pub(crate) fn max_like<V: F64x2>(a: V, b: V) -> V {
    V::select(a.gt(b), a, b)
}

/// `f` applied to `values` two at a time, the odd one out by `scalar`.
#[inline(always)]
pub(crate) fn map_in_place<V: F64x2>(values: &mut [f64], f: impl Fn(V) -> V, scalar: impl Fn(f64) -> f64) {
    let mut chunks = values.chunks_exact_mut(2);
    for c in &mut chunks {
        // SAFETY: `c` holds two doubles.
        unsafe { f(V::load(c.as_ptr())).store(c.as_mut_ptr()) };
    }
    chunks.into_remainder().iter_mut().for_each(|v| *v = scalar(*v));
}
