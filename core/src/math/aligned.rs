//! A buffer of f64 that starts on a 64-byte cache-line boundary.
//!
//! A weight row of 32 lanes is 256 bytes. A plain `Vec<f64>` of the hidden weights lands 16 bytes
//! past a line boundary (the allocator's header), so every other 32-byte AVX2 load of a row
//! straddles two cache lines and costs two. Aligning the matrices removes those split loads, which
//! makes the forward kernel measurably faster with rows from L2 and from L1. Alignment changes
//! where the numbers live, never what they are.

use std::fmt;
use std::ops::{Deref, DerefMut};

/// One cache line of doubles; only its alignment matters.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Line([f64; 8]);

/// `len` doubles, the first on a 64-byte boundary. Derefs to `[f64]`.
#[derive(Clone)]
pub struct AlignedF64s {
    lines: Vec<Line>,
    len: usize,
}

impl AlignedF64s {
    /// `len` zeros.
    pub fn zeros(len: usize) -> AlignedF64s {
        AlignedF64s { lines: vec![Line([0.0; 8]); len.div_ceil(8)], len }
    }

    /// A copy of `values`.
    pub fn from_slice(values: &[f64]) -> AlignedF64s {
        let mut out = AlignedF64s::zeros(values.len());
        out.copy_from_slice(values);
        out
    }
}

impl Deref for AlignedF64s {
    type Target = [f64];
    fn deref(&self) -> &[f64] {
        // SAFETY: `lines` holds at least `len` contiguous initialised doubles (`Line` is
        // `repr(C)` over `[f64; 8]`, so lines pack without gaps).
        unsafe { std::slice::from_raw_parts(self.lines.as_ptr() as *const f64, self.len) }
    }
}

impl DerefMut for AlignedF64s {
    fn deref_mut(&mut self) -> &mut [f64] {
        // SAFETY: as in `deref`, and `self` is exclusively borrowed.
        unsafe { std::slice::from_raw_parts_mut(self.lines.as_mut_ptr() as *mut f64, self.len) }
    }
}

impl PartialEq for AlignedF64s {
    fn eq(&self, other: &AlignedF64s) -> bool {
        **self == **other
    }
}

impl fmt::Debug for AlignedF64s {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_on_a_cache_line_and_holds_exactly_len_values() {
        for len in [0, 1, 7, 8, 9, 25_088] {
            let mut a = AlignedF64s::zeros(len);
            assert_eq!(a.as_ptr() as usize % 64, 0);
            assert_eq!(a.len(), len);
            a.iter_mut().enumerate().for_each(|(i, v)| *v = i as f64);
            let b = AlignedF64s::from_slice(&a);
            assert_eq!(a, b);
            assert!(b.iter().enumerate().all(|(i, &v)| v == i as f64));
        }
    }
}
