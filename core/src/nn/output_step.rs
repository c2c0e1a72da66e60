//! The output layer's batch gradient and SGD step, fused: the end of the trainer's phase 3.
//!
//! For each output unit `o` and hidden unit `j`:
//!
//! ```text
//! g_wo[o][j] = Σ_s h[s][j]·delta_out[s][o]     s ascending over the batch, from +0.0
//! g_bo[o]    = Σ_s delta_out[s][o]
//! w = w − lr·(g / n)
//! ```
//!
//! The unfused form ([`OutputStep::step`] on most levels) takes one unit at a time: a gather
//! over the batch's activation rows ([`weighted_sums`]), then the step. Each such gather is one
//! chain of `n` dependent adds per register, so at h = 32 it spends most of its time waiting on
//! add latency, and it reads every activation row ten times. The AVX-512 version turns the loop
//! inside out: for a block of eight hidden units it keeps all ten output units' sums in ten
//! registers and reads each activation row once: ten independent chains instead of one, and a
//! tenth of the loads. Every lane still performs the scalar sequence of its own weight, so the bits are the same.

use std::ops::Range;

use super::update::{sgd_step, BatchScale};
use super::OUTPUTS;
use crate::math::dot::weighted_sums;
use crate::math::SimdLevel;

// ANCHOR: output_step_scalar
/// The canonical scalar reference: the output layer's gradients summed over the `n` samples of
/// `hidden_rows` (`n × h` activations) and `delta_out`, in sample order, and their steps.
pub fn output_step_scalar(
    w_output: &mut [f64],
    b_output: &mut [f64],
    hidden_rows: &[f64],
    delta_out: &[[f64; OUTPUTS]],
    lr: f64,
    scale: BatchScale,
) {
    let h = check(w_output, b_output, hidden_rows, delta_out);
    step_weights_scalar(w_output, hidden_rows, delta_out, 0..h, lr, scale);
    step_biases(b_output, delta_out, lr, scale);
}

/// The weights `w_o[o][j]` of every output unit `o` and hidden unit `j` in `lanes`:
/// `g = Σ_s h[s][j]·delta_out[s][o]` from +0.0 in sample order, then `w − lr·(g/n)`.
fn step_weights_scalar(
    w_output: &mut [f64],
    hidden_rows: &[f64],
    delta_out: &[[f64; OUTPUTS]],
    lanes: Range<usize>,
    lr: f64,
    scale: BatchScale,
) {
    let h = w_output.len() / OUTPUTS;
    for o in 0..OUTPUTS {
        for j in lanes.clone() {
            let mut acc = 0.0;
            for (s, d) in delta_out.iter().enumerate() {
                acc = acc + hidden_rows[s * h + j] * d[o];
            }
            w_output[o * h + j] = w_output[o * h + j] - lr * scale.mean(acc);
        }
    }
}

/// The biases: `g = Σ_s delta_out[s][o]` from +0.0 in sample order, then `b − lr·(g/n)`.
fn step_biases(b_output: &mut [f64], delta_out: &[[f64; OUTPUTS]], lr: f64, scale: BatchScale) {
    for (o, b) in b_output.iter_mut().enumerate() {
        let grad_b = delta_out.iter().fold(0.0, |acc, d| acc + d[o]);
        *b = *b - lr * scale.mean(grad_b);
    }
}
// ANCHOR_END: output_step_scalar

/// Checks the shapes; returns `h`.
fn check(w_output: &[f64], b_output: &[f64], hidden_rows: &[f64], delta_out: &[[f64; OUTPUTS]]) -> usize {
    let h = w_output.len() / OUTPUTS;
    assert!(h > 0 && w_output.len() == OUTPUTS * h, "w_output: {OUTPUTS} rows of h");
    assert_eq!(b_output.len(), OUTPUTS, "one bias per output");
    assert_eq!(hidden_rows.len(), delta_out.len() * h, "one activation row per delta");
    h
}

/// [`output_step_scalar`] on the chosen instruction set, with the scratch buffers the unfused
/// form needs (so a batch allocates nothing).
#[derive(Clone, Debug)]
pub struct OutputStep {
    grad_row: Vec<f64>,
    column: Vec<f64>,
    /// `0, 1, …, batch−1`: the index list that makes `weighted_sums` sum over a batch.
    batch_identity: Vec<u16>,
}

impl OutputStep {
    /// Room for `h` hidden units and batches of up to `batch` samples.
    pub fn new(h: usize, batch: usize) -> OutputStep {
        assert!(batch <= u16::MAX as usize + 1, "batch indices are u16");
        OutputStep {
            grad_row: vec![0.0; h],
            column: Vec::with_capacity(batch),
            batch_identity: (0..batch).map(|s| s as u16).collect(),
        }
    }

    /// Sums and steps the whole output layer, as [`output_step_scalar`].
    pub fn step(
        &mut self,
        level: SimdLevel,
        w_output: &mut [f64],
        b_output: &mut [f64],
        hidden_rows: &[f64],
        delta_out: &[[f64; OUTPUTS]],
        lr: f64,
        scale: BatchScale,
    ) {
        let h = check(w_output, b_output, hidden_rows, delta_out);
        let n = delta_out.len();
        assert!(n <= self.batch_identity.len() && h == self.grad_row.len(), "within the scratch's sizes");
        #[cfg(target_arch = "x86_64")]
        if level.kind() == crate::math::SimdKind::Avx512 {
            // SAFETY: the CPU runs AVX-512F (`SimdLevel`'s invariant); shapes checked above.
            return unsafe { avx512::output_step_avx512(w_output, b_output, hidden_rows, delta_out, lr, scale) };
        }
        // One unit at a time: the batch's gather, then the step.
        for (o, w_row) in w_output.chunks_exact_mut(h).enumerate() {
            self.column.clear();
            self.column.extend(delta_out.iter().map(|d| d[o]));
            weighted_sums(level, &mut self.grad_row, hidden_rows, h, &self.batch_identity[..n], &self.column);
            let grad_b = self.column.iter().fold(0.0, |acc, &d| acc + d);
            sgd_step(level, w_row, &mut self.grad_row, lr, scale);
            b_output[o] = b_output[o] - lr * scale.mean(grad_b);
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512;
