//! The forward pass — the original's `forward.asm`: a sigmoid layer, then a linear layer and
//! softmax.

use super::{Params, OUTPUTS};
use crate::math::dot::weighted_sums;
use crate::math::sigmoid::sigmoid_in_place;
use crate::math::softmax::softmax_in_place;
use crate::math::SimdLevel;

// ANCHOR: forward_hidden
/// `hidden[j] = σ(Σ_k w_h[j][k]·x[k] + b_h[j])` over the non-zero pixels `(index, value)`.
pub fn forward_hidden(level: SimdLevel, net: &Params, index: &[u16], value: &[f64], hidden: &mut [f64]) {
    weighted_sums(level, hidden, net.w_hidden_t, net.hidden, index, value);
    for (z, &b) in hidden.iter_mut().zip(net.b_hidden) {
        *z = *z + b;
    }
    sigmoid_in_place(level, hidden);
}
// ANCHOR_END: forward_hidden

// ANCHOR: forward_output
/// `p = softmax(Σ_j w_o[o][j]·h[j] + b_o[o])`.
pub fn forward_output(level: SimdLevel, net: &Params, hidden: &[f64], probabilities: &mut [f64; OUTPUTS]) {
    weighted_sums(level, probabilities, net.w_output_t, OUTPUTS, &net.identity[..net.hidden], hidden);
    for (z, &b) in probabilities.iter_mut().zip(net.b_output) {
        *z = *z + b;
    }
    softmax_in_place(level, probabilities);
}
// ANCHOR_END: forward_output

/// Both layers for one sample.
pub fn forward(
    level: SimdLevel,
    net: &Params,
    index: &[u16],
    value: &[f64],
    hidden: &mut [f64],
    probabilities: &mut [f64; OUTPUTS],
) {
    forward_hidden(level, net, index, value, hidden);
    forward_output(level, net, hidden, probabilities);
}
