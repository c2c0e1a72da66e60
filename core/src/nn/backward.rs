//! Backpropagation — the original's `backward.asm`.
//!
//! With softmax outputs and cross-entropy loss `L = −ln p[y]`, the gradient of the loss with
//! respect to the output pre-activations collapses to `p − onehot(y)`. One step further back,
//! the chain rule through `h = σ(z)` multiplies by `σ'(z) = h·(1 − h)`.

use super::{Network, Params, OUTPUTS};
use crate::math::dot::{accumulate_outer_scalar, weighted_sums};
use crate::math::sigmoid::sigmoid_derivative_from_output;
use crate::math::SimdLevel;
use std::ops::Range;

// ANCHOR: deltas
/// The per-sample error signals: `delta_out = p − onehot(label)` and
/// `delta_hidden[j] = (Σ_o w_o[o][j]·delta_out[o]) · h[j]·(1 − h[j])`.
pub fn backward_deltas(
    level: SimdLevel,
    net: &Params,
    hidden: &[f64],
    probabilities: &[f64; OUTPUTS],
    label: usize,
    delta_out: &mut [f64; OUTPUTS],
    delta_hidden: &mut [f64],
) {
    output_deltas(probabilities, label, delta_out);
    // Backprop through w_o: its rows (one per output) weighted by delta_out.
    weighted_sums(level, delta_hidden, net.w_output, net.hidden, &net.identity[..OUTPUTS], delta_out);
    for (d, &h) in delta_hidden.iter_mut().zip(hidden) {
        *d = *d * sigmoid_derivative_from_output(h);
    }
}

/// `delta_out = p − onehot(label)`: softmax and cross-entropy's gradient, together.
pub fn output_deltas(probabilities: &[f64; OUTPUTS], label: usize, delta_out: &mut [f64; OUTPUTS]) {
    for (o, (d, &p)) in delta_out.iter_mut().zip(probabilities).enumerate() {
        *d = p - if o == label { 1.0 } else { 0.0 };
    }
}
// ANCHOR_END: deltas

/// The output layer's batch gradients, one sample at a time in batch order:
/// `g_wo[o][j] += delta_out[o]·h[j]`, `g_bo[o] += delta_out[o]`. (Scalar: only the reference
/// gradient uses it.)
pub fn accumulate_output_gradients(
    net: &Params,
    hidden: &[f64],
    delta_out: &[f64; OUTPUTS],
    grad_w_output: &mut [f64],
    grad_b_output: &mut [f64],
) {
    accumulate_outer_scalar(grad_w_output, net.hidden, 0, &net.identity[..OUTPUTS], delta_out, hidden);
    add_assign(grad_b_output, delta_out);
}

/// `acc[i] = acc[i] + d[i]`: a bias gradient's batch sum (element-wise, so any SIMD width that
/// the compiler picks gives the same bits).
pub fn add_assign(acc: &mut [f64], d: &[f64]) {
    for (a, &x) in acc.iter_mut().zip(d) {
        *a = *a + x;
    }
}

/// `grad[i] = Σ_s delta_rows[s·h + lanes.start + i]`, over the rows `s` in batch order from
/// +0.0: the batch sums of the hidden biases `lanes` (per element, the sequence of
/// [`add_assign`] applied row by row). Eight lanes at a time, their sums held in registers
/// across the whole batch: row by row through memory, each add waited for the store of the
/// one before it.
pub fn bias_sums(level: SimdLevel, grad: &mut [f64], delta_rows: &[f64], h: usize, lanes: Range<usize>) {
    assert_eq!(grad.len(), lanes.len(), "one sum per lane");
    assert!(lanes.end <= h && delta_rows.len() % h == 0, "lanes of rows of h deltas");
    #[cfg(target_arch = "x86_64")]
    if level.kind() == crate::math::SimdKind::Avx512 {
        // SAFETY: the CPU runs AVX-512F (`SimdLevel`'s invariant); the shapes were checked.
        unsafe { bias_sums_avx512(grad, delta_rows, h, lanes) };
        return;
    }
    let _ = level;
    bias_sums_blocks(grad, delta_rows, h, lanes);
}

/// [`bias_sums`] in plain code: blocks of eight sums in a local array the compiler keeps in
/// registers (whatever vector width it picks, each element's adds stay its own, in order).
fn bias_sums_blocks(grad: &mut [f64], delta_rows: &[f64], h: usize, lanes: Range<usize>) {
    for (b, sums) in grad.chunks_mut(8).enumerate() {
        let first = lanes.start + 8 * b;
        let mut acc = [0.0f64; 8];
        for row in delta_rows.chunks_exact(h) {
            for (a, &d) in acc.iter_mut().zip(&row[first..first + sums.len()]) {
                *a = *a + d;
            }
        }
        sums.copy_from_slice(&acc[..sums.len()]);
    }
}

/// [`bias_sums`] on AVX-512F: one register per eight lanes, the rest as [`bias_sums_blocks`].
///
/// # Safety
/// The CPU must run AVX-512F; `grad.len() == lanes.len()`, `lanes.end <= h`, and `delta_rows`
/// must be whole rows of `h`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn bias_sums_avx512(grad: &mut [f64], delta_rows: &[f64], h: usize, lanes: Range<usize>) {
    use std::arch::x86_64::*;
    let full = lanes.len() / 8 * 8;
    for j in (0..full).step_by(8) {
        // SAFETY: AVX-512F is the caller's guarantee; lanes `lanes.start + j..+8` lie below
        // `lanes.end <= h` inside every row, and sums `j..j + 8` inside `grad`.
        unsafe {
            let mut acc = _mm512_setzero_pd();
            for row in delta_rows.chunks_exact(h) {
                acc = _mm512_add_pd(acc, _mm512_loadu_pd(row.as_ptr().add(lanes.start + j)));
            }
            _mm512_storeu_pd(grad.as_mut_ptr().add(j), acc);
        }
    }
    bias_sums_blocks(&mut grad[full..], delta_rows, h, lanes.start + full..lanes.end);
}

// ANCHOR: batch_gradients
/// The mean loss over `samples` (784 raw pixel bytes and a label each) and its gradient with
/// respect to every parameter, as a [`Network`]-shaped value (so `to_file_order` lays it out like
/// weights.bin). Uses exactly the trainer's kernels and sample order; the trainer's step is
/// `w − lr·g` with this `g`. Used by the gradient check and the book.
pub fn batch_gradients(level: SimdLevel, net: &Network, samples: &[(&[u8], u8)]) -> (f64, Network) {
    use super::{forward::forward, INPUTS, PIXEL_VALUE};
    let params = net.params();
    let h = net.hidden();
    let mut grad = Network::zeros(h);
    let (mut hidden, mut delta_hidden) = (vec![0.0; h], vec![0.0; h]);
    let (mut probabilities, mut delta_out) = ([0.0; OUTPUTS], [0.0; OUTPUTS]);
    let mut loss_sum = 0.0;
    for &(pixels, label) in samples {
        assert_eq!(pixels.len(), INPUTS);
        let index: Vec<u16> = (0..INPUTS as u16).filter(|&k| pixels[k as usize] != 0).collect();
        let value: Vec<f64> = index.iter().map(|&k| PIXEL_VALUE[pixels[k as usize] as usize]).collect();
        let label = label as usize;
        forward(level, &params, &index, &value, &mut hidden, &mut probabilities);
        loss_sum = loss_sum + crate::math::softmax::cross_entropy(&probabilities, label);
        backward_deltas(level, &params, &hidden, &probabilities, label, &mut delta_out, &mut delta_hidden);
        accumulate_outer_scalar(&mut grad.w_hidden_t, h, 0, &index, &value, &delta_hidden);
        add_assign(&mut grad.b_hidden, &delta_hidden);
        accumulate_output_gradients(&params, &hidden, &delta_out, &mut grad.w_output, &mut grad.b_output);
    }
    let n = samples.len() as f64;
    for g in [&mut grad.w_hidden_t[..], &mut grad.b_hidden, &mut grad.w_output, &mut grad.b_output] {
        g.iter_mut().for_each(|v| *v = *v / n);
    }
    grad.sync_output_transpose();
    (loss_sum / n, grad)
}
// ANCHOR_END: batch_gradients
