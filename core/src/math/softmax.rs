//! Numerically stable softmax — the original's `softmax.asm`.
//!
//! `softmax(z)_i = e^(z_i − m) / Σ_j e^(z_j − m)` with `m = max z`. Subtracting the maximum
//! changes nothing mathematically but keeps every exponent ≤ 0, so nothing overflows and the
//! largest term is exactly 1, so the sum is ≥ 1 and the division is safe.
//!
//! The max and the sum are sequential reductions in index order — the canonical order — in every
//! version. Only the element-wise parts (subtract, exp, divide) run across SIMD lanes.

use super::exp::{exp, exp_in_place};
use super::{max_like_sse, SimdKind, SimdLevel};

// ANCHOR: softmax
/// Replace `values` by their softmax, in place. An empty slice is left alone.
pub fn softmax_in_place(level: SimdLevel, values: &mut [f64]) {
    let Some((&first, rest)) = values.split_first() else {
        return;
    };
    // Sequential max in index order.
    let max = rest.iter().fold(first, |m, &v| max_like_sse(v, m));
    match level.kind() {
        SimdKind::Scalar => values.iter_mut().for_each(|v| *v = exp(*v - max)),
        _ => {
            values.iter_mut().for_each(|v| *v = *v - max);
            exp_in_place(level, values);
        }
    }
    // Sequential sum from +0.0 in index order.
    let sum = values.iter().fold(0.0, |s, &v| s + v);
    values.iter_mut().for_each(|v| *v = *v / sum);
}
// ANCHOR_END: softmax

// ANCHOR: cross_entropy
/// Cross-entropy of a softmax output against the true class: `−ln p[label]`. The probability is
/// floored at the smallest normal double so a (practically impossible) underflow to 0 gives a
/// large finite loss instead of +inf.
pub fn cross_entropy(probabilities: &[f64], label: usize) -> f64 {
    -super::ln::ln(cross_entropy_argument(probabilities, label))
}

/// What [`cross_entropy`] takes the `ln` of, for callers that run `ln` over many samples at once
/// (`ln_in_place` gives `ln`'s bits on every level).
pub fn cross_entropy_argument(probabilities: &[f64], label: usize) -> f64 {
    max_like_sse(probabilities[label], f64::MIN_POSITIVE)
}
// ANCHOR_END: cross_entropy
