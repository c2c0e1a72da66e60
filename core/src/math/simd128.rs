//! [`F64x2`] on WebAssembly's SIMD128. A module compiled with `+simd128` validates only on
//! engines that run it (every current browser and Node ≥ 16), so there is no run-time question:
//! the level exists iff the module was compiled with `target_feature = "simd128"`.
//!
//! Only the deterministic core of the proposal: `f64x2.mul`/`f64x2.add` round each; relaxed-simd
//! (`f64x2.relaxed_madd` may or may not fuse, `relaxed_min` is implementation-defined) is never
//! used, nor `f64x2.min`/`max` (see `lanes.rs`).

use std::arch::wasm32::*;

use super::lanes::F64x2;

#[derive(Clone, Copy)]
pub(crate) struct Simd128(v128);

impl F64x2 for Simd128 {
    #[inline(always)]
    unsafe fn load(p: *const f64) -> Simd128 {
        // SAFETY: the caller's guarantee: two readable doubles (v128_load allows any alignment).
        Simd128(unsafe { v128_load(p as *const v128) })
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f64) {
        // SAFETY: the caller's guarantee: two writable doubles.
        unsafe { v128_store(p as *mut v128, self.0) }
    }
    #[inline(always)]
    fn splat(x: f64) -> Simd128 {
        Simd128(f64x2_splat(x))
    }
    #[inline(always)]
    fn splat_bits(b: u64) -> Simd128 {
        Simd128(u64x2_splat(b))
    }
    #[inline(always)]
    fn add(self, o: Simd128) -> Simd128 {
        Simd128(f64x2_add(self.0, o.0))
    }
    #[inline(always)]
    fn sub(self, o: Simd128) -> Simd128 {
        Simd128(f64x2_sub(self.0, o.0))
    }
    #[inline(always)]
    fn mul(self, o: Simd128) -> Simd128 {
        Simd128(f64x2_mul(self.0, o.0))
    }
    #[inline(always)]
    fn div(self, o: Simd128) -> Simd128 {
        Simd128(f64x2_div(self.0, o.0))
    }
    #[inline(always)]
    fn lt(self, o: Simd128) -> Simd128 {
        Simd128(f64x2_lt(self.0, o.0))
    }
    #[inline(always)]
    fn gt(self, o: Simd128) -> Simd128 {
        Simd128(f64x2_gt(self.0, o.0))
    }
    #[inline(always)]
    fn eq(self, o: Simd128) -> Simd128 {
        Simd128(f64x2_eq(self.0, o.0))
    }
    #[inline(always)]
    fn is_nan(self) -> Simd128 {
        // x != x is true exactly for NaN.
        Simd128(f64x2_ne(self.0, self.0))
    }
    #[inline(always)]
    fn select(mask: Simd128, a: Simd128, b: Simd128) -> Simd128 {
        Simd128(v128_bitselect(a.0, b.0, mask.0))
    }
    #[inline(always)]
    fn and(self, o: Simd128) -> Simd128 {
        Simd128(v128_and(self.0, o.0))
    }
    #[inline(always)]
    fn or(self, o: Simd128) -> Simd128 {
        Simd128(v128_or(self.0, o.0))
    }
    #[inline(always)]
    fn xor(self, o: Simd128) -> Simd128 {
        Simd128(v128_xor(self.0, o.0))
    }
    #[inline(always)]
    fn add_i64(self, o: Simd128) -> Simd128 {
        Simd128(i64x2_add(self.0, o.0))
    }
    #[inline(always)]
    fn sub_i64(self, o: Simd128) -> Simd128 {
        Simd128(i64x2_sub(self.0, o.0))
    }
    #[inline(always)]
    fn shr_u64(self, n: u32) -> Simd128 {
        Simd128(u64x2_shr(self.0, n))
    }
    #[inline(always)]
    fn shl_u64(self, n: u32) -> Simd128 {
        Simd128(i64x2_shl(self.0, n))
    }
}
