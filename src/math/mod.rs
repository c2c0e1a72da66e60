//! The arithmetic rooms of the original (`src/math/*.asm`): weighted sums, exp, ln, sigmoid and
//! softmax, each in one file with a scalar reference beside its SSE2 and AVX2 versions.
//!
//! Every fast path computes *the same bits* as the scalar reference. That works because SIMD only
//! ever runs across independent output elements (lanes), and each lane performs exactly the
//! scalar sequence of IEEE 754 operations: a multiply rounded to f64, then an add, never a fused
//! multiply-add, and never a reordered sum. `SimdLevel` picks the path at run time.

pub mod aligned;
pub mod dot;
pub mod exp;
pub mod ln;
pub mod sigmoid;
pub mod softmax;

use std::fmt;
use std::str::FromStr;

// ANCHOR: simd_level
/// Which instruction set the kernels use. All levels give bit-identical results; they differ
/// only in speed. `Scalar` is the reference the others are tested against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SimdLevel {
    /// Plain Rust, one lane at a time: the canonical reference.
    Scalar,
    /// 128-bit SSE2 (two f64 lanes); every x86-64 CPU has it.
    Sse2,
    /// 256-bit AVX2 (four f64 lanes); detected at run time.
    Avx2,
}

impl SimdLevel {
    /// The fastest level this CPU supports.
    pub fn detect() -> SimdLevel {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2") {
                return SimdLevel::Avx2;
            }
            SimdLevel::Sse2
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            SimdLevel::Scalar
        }
    }

    /// Whether this CPU can run `self`.
    pub fn is_supported(self) -> bool {
        match self {
            SimdLevel::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            SimdLevel::Sse2 => true,
            #[cfg(target_arch = "x86_64")]
            SimdLevel::Avx2 => std::arch::is_x86_feature_detected!("avx2"),
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }

    /// Every level this CPU can run, slowest first.
    pub fn available() -> Vec<SimdLevel> {
        [SimdLevel::Scalar, SimdLevel::Sse2, SimdLevel::Avx2]
            .into_iter()
            .filter(|level| level.is_supported())
            .collect()
    }

    pub fn name(self) -> &'static str {
        match self {
            SimdLevel::Scalar => "scalar",
            SimdLevel::Sse2 => "sse2",
            SimdLevel::Avx2 => "avx2",
        }
    }
}
// ANCHOR_END: simd_level

impl fmt::Display for SimdLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for SimdLevel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "scalar" => Ok(SimdLevel::Scalar),
            "sse2" => Ok(SimdLevel::Sse2),
            "avx2" => Ok(SimdLevel::Avx2),
            other => Err(format!("expected one of auto, scalar, sse2, avx2, got '{other}'")),
        }
    }
}

// ANCHOR: min_max_like_sse
/// `a < b ? a : b` with the exact semantics of `minsd`/`minpd` (the second operand is returned
/// when either is NaN), so that scalar clamping matches the SIMD clamping bit for bit.
#[inline(always)]
pub(crate) fn min_like_sse(a: f64, b: f64) -> f64 {
    if a < b {
        a
    } else {
        b
    }
}

/// `a > b ? a : b` with the exact semantics of `maxsd`/`maxpd`.
#[inline(always)]
pub(crate) fn max_like_sse(a: f64, b: f64) -> f64 {
    if a > b {
        a
    } else {
        b
    }
}
// ANCHOR_END: min_max_like_sse
