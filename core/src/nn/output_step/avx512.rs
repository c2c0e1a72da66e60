//! The fused output step on AVX-512F: [`OutputStep::step`](super::OutputStep::step) with the ten
//! output units' sums side by side in registers.
//!
//! Each lane of a `zmm` register holds one weight `w_o[o][j]` and performs the scalar sequence
//! (`acc = acc + h[s][j]·delta_out[s][o]` over the batch in order, the product rounded before
//! the add — `vmulpd` then `vaddpd`, never `vfmadd` — then `w − lr·(g/n)`), so the bits are the
//! scalar reference's. Hidden units past the last block of eight take the scalar sequence itself.

use std::arch::x86_64::*;

use super::{BatchScale, OUTPUTS};
use crate::nn::hidden_step::avx512::step;

// ANCHOR: output_step_avx512
/// The output layer's gradients and steps, eight hidden units at a time: one pass over the batch
/// per block, with the ten output units' sums in ten registers.
///
/// # Safety
/// The CPU must run AVX-512F; `w_output` must hold `OUTPUTS × h` values, `b_output` `OUTPUTS`,
/// and `hidden_rows` `delta_out.len() × h` (what `check` verified).
#[target_feature(enable = "avx512f")]
pub(super) unsafe fn output_step_avx512(
    w_output: &mut [f64],
    b_output: &mut [f64],
    hidden_rows: &[f64],
    delta_out: &[[f64; OUTPUTS]],
    lr: f64,
    scale: BatchScale,
) {
    let h = w_output.len() / OUTPUTS;
    let (w, rows) = (w_output.as_mut_ptr(), hidden_rows.as_ptr());
    let mut j = 0;
    while j + 8 <= h {
        // SAFETY: lanes `j..j + 8` lie inside every row of `hidden_rows` (n rows of h) and of
        // `w_output` (OUTPUTS rows of h): `j + 8 <= h`.
        unsafe {
            let mut acc = [_mm512_setzero_pd(); OUTPUTS];
            for (s, d) in delta_out.iter().enumerate() {
                let x = _mm512_loadu_pd(rows.add(s * h + j));
                for (a, &d) in acc.iter_mut().zip(d) {
                    *a = _mm512_add_pd(*a, _mm512_mul_pd(x, _mm512_set1_pd(d)));
                }
            }
            // Each unit's eight weights take the hidden step's `w − lr·(g/n)`.
            for (o, a) in acc.iter().enumerate() {
                step::<1>(w.add(o * h + j), &[*a], lr, scale);
            }
        }
        j += 8;
    }
    // The lanes that do not fill a register, and the biases: the scalar sequence.
    super::step_weights_scalar(w_output, hidden_rows, delta_out, j..h, lr, scale);
    super::step_biases(b_output, delta_out, lr, scale);
}
// ANCHOR_END: output_step_avx512
