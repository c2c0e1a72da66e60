//! [`F64x2`] on aarch64's NEON (Advanced SIMD), part of every aarch64 CPU's base instruction
//! set, so no run-time question is needed.
//!
//! `vmulq_f64`/`vaddq_f64` compile to `fmul`/`fadd`: never `fmla` (a fused multiply-add), which
//! would round once instead of twice. No `vminq`/`vmaxq` (see `lanes.rs`).

use std::arch::aarch64::*;

use super::lanes::F64x2;

#[derive(Clone, Copy)]
pub(crate) struct Neon(float64x2_t);

impl Neon {
    #[inline(always)]
    fn bits(self) -> uint64x2_t {
        // SAFETY: NEON is part of aarch64 (so are all the intrinsics below).
        unsafe { vreinterpretq_u64_f64(self.0) }
    }

    #[inline(always)]
    fn from_bits(b: uint64x2_t) -> Neon {
        // SAFETY: as above.
        Neon(unsafe { vreinterpretq_f64_u64(b) })
    }
}

// SAFETY (every block below): NEON is part of the aarch64 base instruction set.
#[allow(clippy::undocumented_unsafe_blocks)]
impl F64x2 for Neon {
    #[inline(always)]
    unsafe fn load(p: *const f64) -> Neon {
        // SAFETY: the caller's guarantee: two readable doubles.
        Neon(unsafe { vld1q_f64(p) })
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f64) {
        // SAFETY: the caller's guarantee: two writable doubles.
        unsafe { vst1q_f64(p, self.0) }
    }
    #[inline(always)]
    fn splat(x: f64) -> Neon {
        Neon(unsafe { vdupq_n_f64(x) })
    }
    #[inline(always)]
    fn splat_bits(b: u64) -> Neon {
        Neon::from_bits(unsafe { vdupq_n_u64(b) })
    }
    #[inline(always)]
    fn add(self, o: Neon) -> Neon {
        Neon(unsafe { vaddq_f64(self.0, o.0) })
    }
    #[inline(always)]
    fn sub(self, o: Neon) -> Neon {
        Neon(unsafe { vsubq_f64(self.0, o.0) })
    }
    #[inline(always)]
    fn mul(self, o: Neon) -> Neon {
        Neon(unsafe { vmulq_f64(self.0, o.0) })
    }
    #[inline(always)]
    fn div(self, o: Neon) -> Neon {
        Neon(unsafe { vdivq_f64(self.0, o.0) })
    }
    #[inline(always)]
    fn lt(self, o: Neon) -> Neon {
        Neon::from_bits(unsafe { vcltq_f64(self.0, o.0) })
    }
    #[inline(always)]
    fn gt(self, o: Neon) -> Neon {
        Neon::from_bits(unsafe { vcgtq_f64(self.0, o.0) })
    }
    #[inline(always)]
    fn eq(self, o: Neon) -> Neon {
        Neon::from_bits(unsafe { vceqq_f64(self.0, o.0) })
    }
    #[inline(always)]
    fn is_nan(self) -> Neon {
        // x == x is false exactly for NaN.
        let ordered = unsafe { vceqq_f64(self.0, self.0) };
        Neon::from_bits(unsafe { veorq_u64(ordered, vdupq_n_u64(u64::MAX)) })
    }
    #[inline(always)]
    fn select(mask: Neon, a: Neon, b: Neon) -> Neon {
        Neon(unsafe { vbslq_f64(mask.bits(), a.0, b.0) })
    }
    #[inline(always)]
    fn and(self, o: Neon) -> Neon {
        Neon::from_bits(unsafe { vandq_u64(self.bits(), o.bits()) })
    }
    #[inline(always)]
    fn or(self, o: Neon) -> Neon {
        Neon::from_bits(unsafe { vorrq_u64(self.bits(), o.bits()) })
    }
    #[inline(always)]
    fn xor(self, o: Neon) -> Neon {
        Neon::from_bits(unsafe { veorq_u64(self.bits(), o.bits()) })
    }
    #[inline(always)]
    fn add_i64(self, o: Neon) -> Neon {
        Neon::from_bits(unsafe { vaddq_u64(self.bits(), o.bits()) })
    }
    #[inline(always)]
    fn sub_i64(self, o: Neon) -> Neon {
        Neon::from_bits(unsafe { vsubq_u64(self.bits(), o.bits()) })
    }
    #[inline(always)]
    fn shr_u64(self, n: u32) -> Neon {
        // `ushl` by a negative count shifts right, zeros in.
        Neon::from_bits(unsafe { vshlq_u64(self.bits(), vdupq_n_s64(-(n as i64))) })
    }
    #[inline(always)]
    fn shl_u64(self, n: u32) -> Neon {
        Neon::from_bits(unsafe { vshlq_u64(self.bits(), vdupq_n_s64(n as i64)) })
    }
}
