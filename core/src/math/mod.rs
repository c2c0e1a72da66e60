//! The arithmetic rooms of the original (`src/math/*.asm`): weighted sums, exp, ln, sigmoid and
//! softmax, each in one file with a scalar reference beside its SSE2 and AVX2 versions (x86-64)
//! and its two-lane version for NEON (aarch64) and SIMD128 (wasm32), written once over
//! `lanes::F64x2` and instantiated in `neon.rs` and `simd128.rs`.
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

/// Whether this build has two-lane kernels (NEON or SIMD128), for the `cfg`s that gate them.
macro_rules! two_lane_isa {
    ($($item:item)*) => {
        $(#[cfg(any(target_arch = "aarch64", all(target_arch = "wasm32", target_feature = "simd128")))] $item)*
    };
}
pub(crate) use two_lane_isa;

two_lane_isa! {
    pub(crate) mod lanes;
}
#[cfg(target_arch = "aarch64")]
pub(crate) mod neon;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub(crate) mod simd128;

use std::fmt;
use std::str::FromStr;

// ANCHOR: simd_level
/// An instruction set the kernels are written for. Naming one proves nothing about this CPU; a
/// [`SimdLevel`] does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SimdKind {
    /// Plain Rust, one lane at a time: the canonical reference.
    Scalar,
    /// 128-bit SSE2 (two f64 lanes); every x86-64 CPU has it.
    Sse2,
    /// 256-bit AVX2 (four f64 lanes); detected at run time.
    Avx2,
    /// 512-bit AVX-512F (eight f64 lanes) for the two hottest kernels, the forward pass's
    /// gather and the fused hidden step; every other kernel takes its AVX2 path. Detected at run
    /// time, and only where AVX2 is too.
    Avx512,
    /// 128-bit NEON (two f64 lanes); every aarch64 CPU has it.
    Neon,
    /// WebAssembly's 128-bit SIMD (two f64 lanes): in a module compiled with `+simd128`.
    Simd128,
}

/// Which instruction set the kernels use — an instruction set **this CPU has been checked to
/// run**. All levels give bit-identical results; they differ only in speed.
///
/// # Invariant: the one safety argument of the dispatch
///
/// The field is private, and every way to get a `SimdLevel` — [`SimdLevel::new`],
/// [`detect`](SimdLevel::detect), [`available`](SimdLevel::available) and parsing — goes
/// through [`SimdKind::is_supported`], which asks the CPU (`is_x86_feature_detected!`); only
/// [`SimdLevel::SCALAR`] needs no question. So a value of kind [`SimdKind::Avx2`] exists only
/// on a CPU that runs AVX2, one of kind [`SimdKind::Avx512`] only on a CPU that runs both AVX-512F
/// *and* AVX2 (so its kernels may call AVX2 code), and one of kind [`SimdKind::Sse2`] only on
/// x86-64, where SSE2 is
/// part of the base instruction set; one of kind [`SimdKind::Neon`] only on aarch64 (NEON is
/// part of its base), and one of kind [`SimdKind::Simd128`] only in a wasm32 module compiled
/// with `+simd128` (whose engine validated it, so runs it). Every kernel entry point matches on
/// [`kind`](SimdLevel::kind) and calls its `#[target_feature(enable = "avx512f")]`, `"avx2"`
/// (or `"sse2"`) code only in the arm of a kind that guarantees that feature — AVX2 code in the
/// arms of `Avx2` and `Avx512` — and the `unsafe` of that call rests on this invariant instead
/// of checking again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SimdLevel {
    kind: SimdKind,
}

impl SimdKind {
    /// Every kind, slowest first.
    pub const ALL: [SimdKind; 6] =
        [SimdKind::Scalar, SimdKind::Sse2, SimdKind::Avx2, SimdKind::Avx512, SimdKind::Neon, SimdKind::Simd128];

    /// Whether this CPU can run `self`.
    pub fn is_supported(self) -> bool {
        match self {
            SimdKind::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            SimdKind::Sse2 => true,
            #[cfg(target_arch = "x86_64")]
            SimdKind::Avx2 => std::arch::is_x86_feature_detected!("avx2"),
            #[cfg(target_arch = "x86_64")]
            SimdKind::Avx512 => {
                std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("avx2")
            }
            #[cfg(target_arch = "aarch64")]
            SimdKind::Neon => true,
            #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
            SimdKind::Simd128 => true,
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            SimdKind::Scalar => "scalar",
            SimdKind::Sse2 => "sse2",
            SimdKind::Avx2 => "avx2",
            SimdKind::Avx512 => "avx512",
            SimdKind::Neon => "neon",
            SimdKind::Simd128 => "simd128",
        }
    }
}

impl SimdLevel {
    /// The scalar reference, which every CPU runs.
    pub const SCALAR: SimdLevel = SimdLevel { kind: SimdKind::Scalar };

    /// `kind`, if this CPU can run it: the one checked door to the SIMD kernels.
    pub fn new(kind: SimdKind) -> Option<SimdLevel> {
        kind.is_supported().then_some(SimdLevel { kind })
    }

    /// The fastest level this CPU supports.
    pub fn detect() -> SimdLevel {
        SimdLevel::available().pop().unwrap_or(SimdLevel::SCALAR)
    }

    /// Every level this CPU can run, slowest first.
    pub fn available() -> Vec<SimdLevel> {
        SimdKind::ALL.into_iter().filter_map(SimdLevel::new).collect()
    }

    /// The instruction set, for matching on.
    pub fn kind(self) -> SimdKind {
        self.kind
    }

    pub fn name(self) -> &'static str {
        self.kind.name()
    }
}
// ANCHOR_END: simd_level

impl fmt::Display for SimdKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Display for SimdLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for SimdKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SimdKind::ALL
            .into_iter()
            .find(|kind| kind.name() == s)
            .ok_or_else(|| format!("expected one of auto, scalar, sse2, avx2, avx512, neon, simd128, got '{s}'"))
    }
}

/// A level by name (`scalar`, `sse2`, `avx2`, `avx512`, `neon`, `simd128`), if this CPU runs it.
impl FromStr for SimdLevel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let kind: SimdKind = s.parse()?;
        SimdLevel::new(kind).ok_or_else(|| format!("this CPU does not support {kind}"))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_level_exists_exactly_for_the_kinds_this_cpu_runs() {
        for kind in SimdKind::ALL {
            let supported = match kind {
                SimdKind::Scalar => true,
                SimdKind::Sse2 => cfg!(target_arch = "x86_64"),
                #[cfg(target_arch = "x86_64")]
                SimdKind::Avx2 => std::arch::is_x86_feature_detected!("avx2"),
                #[cfg(not(target_arch = "x86_64"))]
                SimdKind::Avx2 => false,
                #[cfg(target_arch = "x86_64")]
                SimdKind::Avx512 => {
                    std::arch::is_x86_feature_detected!("avx512f") && std::arch::is_x86_feature_detected!("avx2")
                }
                #[cfg(not(target_arch = "x86_64"))]
                SimdKind::Avx512 => false,
                SimdKind::Neon => cfg!(target_arch = "aarch64"),
                SimdKind::Simd128 => cfg!(all(target_arch = "wasm32", target_feature = "simd128")),
            };
            assert_eq!(SimdLevel::new(kind).map(SimdLevel::kind), supported.then_some(kind), "{kind}");
            assert_eq!(kind.name().parse::<SimdLevel>().ok().map(SimdLevel::kind), supported.then_some(kind), "{kind}");
            assert_eq!(kind.name().parse::<SimdKind>(), Ok(kind));
            let listed = SimdLevel::available().iter().any(|l| l.kind() == kind);
            assert_eq!(listed, supported, "{kind}");
        }
        assert_eq!(SimdLevel::detect(), *SimdLevel::available().last().unwrap());
        assert_eq!(SimdLevel::SCALAR.kind(), SimdKind::Scalar);
    }

    #[test]
    fn unknown_names_are_refused_with_the_choices() {
        for bad in ["", "AVX2", "avx512f", "avx-512", "auto"] {
            let err = bad.parse::<SimdLevel>().unwrap_err();
            assert_eq!(err, format!("expected one of auto, scalar, sse2, avx2, avx512, neon, simd128, got '{bad}'"));
        }
    }
}
