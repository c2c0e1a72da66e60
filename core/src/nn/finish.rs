//! The rest of each sample once its hidden sums are known — bias and σ, the output layer,
//! softmax, loss and both deltas — for a group of samples at once (the trainer's phase 2).
//!
//! Per sample this is a chain of short dependent sums: each output's pre-activation adds H
//! products one after another, softmax takes a sequential max and sum over ten values. One sample
//! at a time, those chains leave the core waiting on latency. The AVX2 version therefore turns the
//! output layer and softmax sideways: **lane `i` holds sample `i`** of a group of four, so four
//! samples' chains advance together, and every lane still performs exactly the scalar sequence of
//! its own sample (same operands, same order). The scalar reference is simply the per-sample
//! code of `forward.rs` and `backward.rs`.

use super::backward::backward_deltas;
use super::forward::forward_output;
use super::{argmax, Params, OUTPUTS};
use crate::math::ln::ln_in_place;
use crate::math::sigmoid::sigmoid_in_place;
use crate::math::softmax::cross_entropy_argument;
use crate::math::{SimdKind, SimdLevel};

/// What the rest of a sample's forward and backward pass leaves for the gradient phase (its
/// hidden activations and deltas live in `[batch][H]` row matrices beside these).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct SampleOutputs {
    pub probabilities: [f64; OUTPUTS],
    pub delta_out: [f64; OUTPUTS],
    pub loss: f64,
    pub correct: bool,
}

/// Whether [`finish_samples`] reads `params.w_output_t` at this level and width. Not on AVX-512
/// with whole registers (`h` a multiple of 8): its output layer broadcasts each weight from
/// `w_output`, so a trainer need not keep the transpose in step (about 2% of a batch at h = 32
/// on two threads, where each thread transposed the layer once a batch).
pub fn reads_output_transpose(level: SimdLevel, h: usize) -> bool {
    #[cfg(target_arch = "x86_64")]
    return !eight_sample_passes(level, h);
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (level, h);
        true
    }
}

/// Whether [`finish_samples`] takes its eight-sample AVX-512 passes (the output layer and the
/// hidden deltas): on AVX-512, with rows of whole registers. One test for both passes and for
/// [`reads_output_transpose`], which must agree with the first.
#[cfg(target_arch = "x86_64")]
fn eight_sample_passes(level: SimdLevel, h: usize) -> bool {
    level.kind() == SimdKind::Avx512 && h % 8 == 0
}

/// For each sample `s` of a group: `hidden_rows[s]` holds its hidden sums (without bias) and
/// becomes its activations; `delta_rows[s]` receives its hidden deltas, `outputs[s]` the rest.
pub fn finish_samples(
    level: SimdLevel,
    params: &Params,
    labels: &[u8],
    hidden_rows: &mut [f64],
    delta_rows: &mut [f64],
    outputs: &mut [SampleOutputs],
) {
    let h = params.hidden;
    let n = labels.len();
    assert!(
        hidden_rows.len() == n * h && delta_rows.len() == n * h && outputs.len() == n,
        "one row and one output per sample"
    );
    assert!(labels.iter().all(|&y| (y as usize) < OUTPUTS), "labels are digits");
    // The hidden layer: bias, then σ over the whole group at once (independent lanes).
    for row in hidden_rows.chunks_exact_mut(h) {
        for (z, &b) in row.iter_mut().zip(params.b_hidden) {
            *z = *z + b;
        }
    }
    sigmoid_in_place(level, hidden_rows);
    // On AVX-512 with whole registers, eight samples at a time from here to the end: the output
    // layer, softmax, prediction, output deltas and the loss's argument with lane `i` = sample
    // `i` (the last pass padded), then the losses' `ln` and the hidden deltas.
    #[cfg(target_arch = "x86_64")]
    if eight_sample_passes(level, h) {
        for first in (0..n).step_by(8) {
            let group = first..(first + 8).min(n);
            let (rows, deltas) =
                (&hidden_rows[group.start * h..group.end * h], &mut delta_rows[group.start * h..group.end * h]);
            let outs = &mut outputs[group.clone()];
            let mut q = [0.0; 8];
            // SAFETY: the CPU runs AVX-512F and AVX2 (`SimdLevel`'s invariant); shapes as the
            // kernels ask.
            unsafe { x86::output_softmax_avx512(params, rows, &labels[group.clone()], outs, &mut q) };
            let q = &mut q[..outs.len()];
            ln_in_place(level, q);
            for (out, &q) in outs.iter_mut().zip(q.iter()) {
                out.loss = -q;
            }
            // SAFETY: as above.
            unsafe {
                if outs.len() > 4 {
                    x86::hidden_deltas_avx512::<8>(params, rows, outs, deltas)
                } else {
                    x86::hidden_deltas_avx512::<4>(params, rows, outs, deltas)
                }
            };
        }
        return;
    }
    // The output layer and softmax: four samples per AVX2 pass where possible.
    #[cfg_attr(not(target_arch = "x86_64"), allow(unused_mut))]
    let mut done = 0;
    #[cfg(target_arch = "x86_64")]
    if matches!(level.kind(), SimdKind::Avx2 | SimdKind::Avx512) && h % 4 == 0 {
        while done + 4 <= n {
            let rows = &hidden_rows[done * h..(done + 4) * h];
            // SAFETY: the CPU runs AVX2 (`SimdLevel`'s invariant: an `Avx512` level implies it
            // too, and takes this AVX2 path).
            unsafe { x86::output_softmax_avx2(params, rows, &mut outputs[done..done + 4]) };
            done += 4;
        }
    }
    // Two samples per NEON or SIMD128 pass.
    #[cfg(target_arch = "aarch64")]
    if level.kind() == SimdKind::Neon {
        while done + 2 <= n {
            let rows = &hidden_rows[done * h..(done + 2) * h];
            two_lanes::output_softmax::<crate::math::neon::Neon>(params, rows, &mut outputs[done..done + 2]);
            done += 2;
        }
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    if level.kind() == SimdKind::Simd128 {
        while done + 2 <= n {
            let rows = &hidden_rows[done * h..(done + 2) * h];
            two_lanes::output_softmax::<crate::math::simd128::Simd128>(params, rows, &mut outputs[done..done + 2]);
            done += 2;
        }
    }
    for s in done..n {
        forward_output(level, params, &hidden_rows[s * h..(s + 1) * h], &mut outputs[s].probabilities);
    }
    // The losses, `cross_entropy` for sixteen samples at a time: its `ln` runs across lanes.
    for (outs, labels) in outputs.chunks_mut(16).zip(labels.chunks(16)) {
        let mut q = [0.0; 16];
        for ((q, out), &label) in q.iter_mut().zip(outs.iter()).zip(labels) {
            *q = cross_entropy_argument(&out.probabilities, label as usize);
        }
        ln_in_place(level, &mut q[..outs.len()]);
        for (out, &q) in outs.iter_mut().zip(&q) {
            out.loss = -q;
        }
    }
    // Prediction and deltas, one sample at a time.
    for (s, (out, &label)) in outputs.iter_mut().zip(labels).enumerate() {
        let label = label as usize;
        out.correct = argmax(&out.probabilities) == label;
        let (hidden, delta) = (&hidden_rows[s * h..(s + 1) * h], &mut delta_rows[s * h..(s + 1) * h]);
        backward_deltas(level, params, hidden, &out.probabilities, label, &mut out.delta_out, delta);
    }
}

crate::math::two_lane_isa! {
/// The output layer and softmax for two samples on two lanes (NEON, SIMD128).
mod two_lanes {
    use super::*;
    use crate::math::exp::two_lanes::exp_v;
    use crate::math::lanes::{max_like, F64x2};

    /// `forward_output` for two samples (`rows` = their two activation rows), lane `i` = sample
    /// `i`, as `output_softmax_avx2` does for four: each lane the scalar sequence of its sample.
    pub(super) fn output_softmax<V: F64x2>(params: &Params, rows: &[f64], outputs: &mut [SampleOutputs]) {
        let h = params.hidden;
        assert!(rows.len() == 2 * h && outputs.len() == 2 && params.w_output_t.len() >= h * OUTPUTS);
        let (r0, r1) = rows.split_at(h);
        let mut z = [V::zero(); OUTPUTS];
        for (j, (&a, &b)) in r0.iter().zip(r1).enumerate() {
            let pair = [a, b];
            // SAFETY: `pair` holds two doubles.
            let x = unsafe { V::load(pair.as_ptr()) };
            // Row j of w_o transposed: the ten weights from hidden unit j.
            let w = &params.w_output_t[j * OUTPUTS..][..OUTPUTS];
            for (zo, &wo) in z.iter_mut().zip(w) {
                *zo = zo.add(V::splat(wo).mul(x));
            }
        }
        for (zo, &b) in z.iter_mut().zip(params.b_output) {
            *zo = zo.add(V::splat(b));
        }
        // Softmax: max and sum sequential in o, as `softmax_in_place` does per sample.
        let mut max = z[0];
        for &zo in &z[1..] {
            max = max_like(zo, max);
        }
        let mut sum = V::zero();
        for zo in z.iter_mut() {
            *zo = exp_v(zo.sub(max));
            sum = sum.add(*zo);
        }
        let mut p = [[0.0; 2]; OUTPUTS];
        for (po, &zo) in p.iter_mut().zip(&z) {
            // SAFETY: `po` holds two doubles.
            unsafe { zo.div(sum).store(po.as_mut_ptr()) };
        }
        for (i, out) in outputs.iter_mut().enumerate() {
            for (o, po) in p.iter().enumerate() {
                out.probabilities[o] = po[i];
            }
        }
    }
}
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::*;
    use crate::math::exp::x86::{exp_pd4_many, exp_pd8_many};
    use std::arch::x86_64::*;

    // ANCHOR: output_softmax_avx2
    /// `forward_output` for four samples (`rows` = their four activation rows), lane `i` = sample
    /// `i`: `z[o] = (Σ_j w_o[o][j]·h[j]) + b_o[o]` from +0.0 with j ascending, then softmax with the
    /// sequential max and sum over o — each lane the scalar sequence of its own sample.
    ///
    /// # Safety
    /// The CPU must run AVX2, which a `SimdLevel` of kind `Avx2` proves.
    #[target_feature(enable = "avx2")]
    pub(super) fn output_softmax_avx2(params: &Params, rows: &[f64], outputs: &mut [SampleOutputs]) {
        let h = params.hidden;
        assert!(h % 4 == 0 && rows.len() == 4 * h && outputs.len() == 4 && params.w_output_t.len() >= h * OUTPUTS);
        let (r0, r1, r2, r3) = (&rows[..h], &rows[h..2 * h], &rows[2 * h..3 * h], &rows[3 * h..]);
        let w_t = params.w_output_t.as_ptr();
        let mut z = [_mm256_setzero_pd(); OUTPUTS];
        let mut j = 0;
        while j < h {
            // Four hidden units of the four samples, transposed so that lane i is sample i.
            // SAFETY: `j + 4 <= h` (h is a multiple of 4), so each load reads four doubles of its
            // row of `h`.
            let (a, b, c, d) = unsafe {
                (
                    _mm256_loadu_pd(r0.as_ptr().add(j)),
                    _mm256_loadu_pd(r1.as_ptr().add(j)),
                    _mm256_loadu_pd(r2.as_ptr().add(j)),
                    _mm256_loadu_pd(r3.as_ptr().add(j)),
                )
            };
            let (ab_lo, ab_hi) = (_mm256_unpacklo_pd(a, b), _mm256_unpackhi_pd(a, b));
            let (cd_lo, cd_hi) = (_mm256_unpacklo_pd(c, d), _mm256_unpackhi_pd(c, d));
            let hj = [
                _mm256_permute2f128_pd::<0x20>(ab_lo, cd_lo),
                _mm256_permute2f128_pd::<0x20>(ab_hi, cd_hi),
                _mm256_permute2f128_pd::<0x31>(ab_lo, cd_lo),
                _mm256_permute2f128_pd::<0x31>(ab_hi, cd_hi),
            ];
            for (q, &x) in hj.iter().enumerate() {
                // Row j+q of w_o transposed: the ten weights from hidden unit j+q.
                // (Read through a pointer: bounds-checked slices here cost 7% more instructions.)
                let w = w_t.wrapping_add((j + q) * OUTPUTS);
                for (o, zo) in z.iter_mut().enumerate() {
                    // SAFETY: `j + q < h` and `o < OUTPUTS`, inside `w_output_t` (asserted above).
                    *zo = _mm256_add_pd(*zo, _mm256_mul_pd(_mm256_broadcast_sd(unsafe { &*w.add(o) }), x));
                }
            }
            j += 4;
        }
        for (zo, b) in z.iter_mut().zip(params.b_output) {
            *zo = _mm256_add_pd(*zo, _mm256_set1_pd(*b));
        }
        // Softmax: max and sum sequential in o, as `softmax_in_place` does per sample.
        let mut max = z[0];
        for &zo in &z[1..] {
            max = _mm256_max_pd(zo, max);
        }
        // Two groups of five chains (ten at once would spill registers).
        for zo in z.iter_mut() {
            *zo = _mm256_sub_pd(*zo, max);
        }
        let (lo, hi) = (exp_pd4_many([z[0], z[1], z[2], z[3], z[4]]), exp_pd4_many([z[5], z[6], z[7], z[8], z[9]]));
        let z = [lo[0], lo[1], lo[2], lo[3], lo[4], hi[0], hi[1], hi[2], hi[3], hi[4]];
        let mut sum = _mm256_setzero_pd();
        for &zo in &z {
            sum = _mm256_add_pd(sum, zo);
        }
        let mut p = [[0.0; 4]; OUTPUTS];
        for (po, &zo) in p.iter_mut().zip(&z) {
            // SAFETY: `po` holds four doubles.
            unsafe { _mm256_storeu_pd(po.as_mut_ptr(), _mm256_div_pd(zo, sum)) };
        }
        for (i, out) in outputs.iter_mut().enumerate() {
            for (o, po) in p.iter().enumerate() {
                out.probabilities[o] = po[i];
            }
        }
    }
    // ANCHOR_END: output_softmax_avx2

    // ANCHOR: output_softmax_avx512
    /// `forward_output` for `n ≤ 8` samples (`rows` = their activation rows), lane `i` = sample
    /// `i`, as [`output_softmax_avx2`] does for four: each lane the scalar sequence of its own
    /// sample. Eight rows at a time are turned sideways (an 8 × 8 transpose) so that one register
    /// holds hidden unit `j` of all eight; a short group repeats its last sample in the spare
    /// lanes and keeps only its own `n`.
    ///
    /// Then, still sideways, what the scalar code does per sample after softmax: the prediction
    /// (`argmax`: the first largest probability, each lane comparing as its scalar loop does),
    /// `delta_out = p − onehot(label)` and the loss's argument (`cross_entropy_argument`, into
    /// `q[i]`; the caller takes its `ln`).
    ///
    /// # Safety
    /// The CPU must run AVX-512F and AVX2, which a `SimdLevel` of kind `Avx512` proves.
    #[target_feature(enable = "avx512f,avx2")]
    pub(super) fn output_softmax_avx512(
        params: &Params,
        rows: &[f64],
        labels: &[u8],
        outputs: &mut [SampleOutputs],
        q: &mut [f64; 8],
    ) {
        let (h, n) = (params.hidden, outputs.len());
        assert!(h % 8 == 0 && (1..=8).contains(&n) && rows.len() == n * h && params.w_output.len() >= OUTPUTS * h);
        assert!(labels.len() == n && labels.iter().all(|&y| (y as usize) < OUTPUTS));
        let row: [*const f64; 8] = std::array::from_fn(|i| rows[i.min(n - 1) * h..].as_ptr());
        let w = params.w_output.as_ptr();
        let mut z = [_mm512_setzero_pd(); OUTPUTS];
        for j in (0..h).step_by(8) {
            // SAFETY: `j + 8 <= h`: eight doubles of each row of `h`.
            let units = transpose_8x8(std::array::from_fn(|i| unsafe { _mm512_loadu_pd(row[i].add(j)) }));
            for (q, &x) in units.iter().enumerate() {
                for (o, zo) in z.iter_mut().enumerate() {
                    // SAFETY: `o < OUTPUTS` and `j + q < h`: inside `w_output` (asserted above).
                    let wo = _mm512_set1_pd(unsafe { *w.add(o * h + j + q) });
                    *zo = _mm512_add_pd(*zo, _mm512_mul_pd(wo, x));
                }
            }
        }
        for (zo, b) in z.iter_mut().zip(params.b_output) {
            *zo = _mm512_add_pd(*zo, _mm512_set1_pd(*b));
        }
        // Softmax: max and sum sequential in o, as `softmax_in_place` does per sample.
        let mut max = z[0];
        for &zo in &z[1..] {
            max = _mm512_max_pd(zo, max);
        }
        for zo in z.iter_mut() {
            *zo = _mm512_sub_pd(*zo, max);
        }
        // Two groups of five chains, as the AVX2 version.
        let (lo, hi) = (exp_pd8_many([z[0], z[1], z[2], z[3], z[4]]), exp_pd8_many([z[5], z[6], z[7], z[8], z[9]]));
        let z = [lo[0], lo[1], lo[2], lo[3], lo[4], hi[0], hi[1], hi[2], hi[3], hi[4]];
        let mut sum = _mm512_setzero_pd();
        for &zo in &z {
            sum = _mm512_add_pd(sum, zo);
        }
        let p: [__m512d; OUTPUTS] = std::array::from_fn(|o| _mm512_div_pd(z[o], sum));
        // Lane `i`'s label (a short group repeats its last sample's, as its rows).
        let label: [i64; 8] = std::array::from_fn(|i| labels[i.min(n - 1)] as i64);
        // SAFETY: `label` holds eight 64-bit integers.
        let label = unsafe { _mm512_loadu_si512(label.as_ptr().cast()) };
        // argmax: `if p[o] > p[best] { best = o }`, o ascending; an ordered compare, false
        // for NaN, as the scalar `>`.
        let (mut best, mut best_o) = (p[0], _mm512_setzero_si512());
        for (o, &po) in p.iter().enumerate().skip(1) {
            let greater = _mm512_cmp_pd_mask::<_CMP_GT_OQ>(po, best);
            best = _mm512_mask_mov_pd(best, greater, po);
            best_o = _mm512_mask_mov_epi64(best_o, greater, _mm512_set1_epi64(o as i64));
        }
        let correct = _mm512_cmpeq_epi64_mask(best_o, label);
        // delta_out[o] = p[o] − (1.0 where o is the label, else 0.0); p[label] picked on the way.
        let mut picked = _mm512_setzero_pd();
        let delta: [__m512d; OUTPUTS] = std::array::from_fn(|o| {
            let is_label = _mm512_cmpeq_epi64_mask(label, _mm512_set1_epi64(o as i64));
            picked = _mm512_mask_mov_pd(picked, is_label, p[o]);
            _mm512_sub_pd(p[o], _mm512_maskz_mov_pd(is_label, _mm512_set1_pd(1.0)))
        });
        // `cross_entropy_argument`: `max_like_sse(p[label], MIN_POSITIVE)`, which `vmaxpd` is.
        // SAFETY: `q` holds eight doubles.
        unsafe { _mm512_storeu_pd(q.as_mut_ptr(), _mm512_max_pd(picked, _mm512_set1_pd(f64::MIN_POSITIVE))) };
        let (mut probabilities, mut deltas) = ([[0.0; 8]; OUTPUTS], [[0.0; 8]; OUTPUTS]);
        for o in 0..OUTPUTS {
            // SAFETY: each row holds eight doubles.
            unsafe {
                _mm512_storeu_pd(probabilities[o].as_mut_ptr(), p[o]);
                _mm512_storeu_pd(deltas[o].as_mut_ptr(), delta[o]);
            }
        }
        for (i, out) in outputs.iter_mut().enumerate() {
            for o in 0..OUTPUTS {
                out.probabilities[o] = probabilities[o][i];
                out.delta_out[o] = deltas[o][i];
            }
            out.correct = (correct >> i) & 1 == 1;
        }
    }

    /// Eight rows of eight doubles in, their eight columns out: three rounds of shuffles
    /// (pairs of doubles, then pairs of 128-bit lanes, twice). Moves bits, never rounds.
    ///
    /// # Safety
    /// The CPU must run AVX-512F (callers are `avx512f` functions themselves).
    #[inline]
    #[target_feature(enable = "avx512f")]
    fn transpose_8x8(r: [__m512d; 8]) -> [__m512d; 8] {
        // t[2k]: columns 0, 2, 4, 6 of rows 2k and 2k+1, interleaved; t[2k+1]: columns 1, 3, 5, 7.
        let t: [__m512d; 8] = std::array::from_fn(|i| {
            let (a, b) = (r[i / 2 * 2], r[i / 2 * 2 + 1]);
            if i % 2 == 0 {
                _mm512_unpacklo_pd(a, b)
            } else {
                _mm512_unpackhi_pd(a, b)
            }
        });
        // u[4m + c]: for rows 4m..4m+4, columns (c' = 0, 2, 1, 3 for c = 0, 1, 2, 3) and c' + 4.
        let u = [
            _mm512_shuffle_f64x2::<0x88>(t[0], t[2]),
            _mm512_shuffle_f64x2::<0xDD>(t[0], t[2]),
            _mm512_shuffle_f64x2::<0x88>(t[1], t[3]),
            _mm512_shuffle_f64x2::<0xDD>(t[1], t[3]),
            _mm512_shuffle_f64x2::<0x88>(t[4], t[6]),
            _mm512_shuffle_f64x2::<0xDD>(t[4], t[6]),
            _mm512_shuffle_f64x2::<0x88>(t[5], t[7]),
            _mm512_shuffle_f64x2::<0xDD>(t[5], t[7]),
        ];
        [
            _mm512_shuffle_f64x2::<0x88>(u[0], u[4]),
            _mm512_shuffle_f64x2::<0x88>(u[2], u[6]),
            _mm512_shuffle_f64x2::<0x88>(u[1], u[5]),
            _mm512_shuffle_f64x2::<0x88>(u[3], u[7]),
            _mm512_shuffle_f64x2::<0xDD>(u[0], u[4]),
            _mm512_shuffle_f64x2::<0xDD>(u[2], u[6]),
            _mm512_shuffle_f64x2::<0xDD>(u[1], u[5]),
            _mm512_shuffle_f64x2::<0xDD>(u[3], u[7]),
        ]
    }
    // ANCHOR_END: output_softmax_avx512

    // ANCHOR: hidden_deltas_avx512
    /// `backward_deltas`' hidden part for `n ≤ N` samples (`rows` = their activation rows,
    /// `outputs` their `delta_out`): `delta[s][j] = (Σ_o w_o[o][j]·delta_out[s][o]) ·
    /// (h[s][j]·(1 − h[s][j]))`, the sum from +0.0 with o ascending. Lane `j` of a register is
    /// hidden unit `j`, as in the one-sample gather; the `N` samples share each load of a `w_o`
    /// row and give `N` independent chains of adds where one sample had one. A short group
    /// repeats its last sample to fill the `N` chains and stores only its own `n`.
    ///
    /// # Safety
    /// The CPU must run AVX-512F, which a `SimdLevel` of kind `Avx512` proves.
    #[target_feature(enable = "avx512f")]
    pub(super) fn hidden_deltas_avx512<const N: usize>(
        params: &Params,
        rows: &[f64],
        outputs: &[SampleOutputs],
        deltas: &mut [f64],
    ) {
        let (h, n) = (params.hidden, outputs.len());
        assert!(h % 8 == 0 && (1..=N).contains(&n) && rows.len() == n * h && deltas.len() == n * h);
        assert!(params.w_output.len() >= OUTPUTS * h);
        let (w, rows_p, deltas_p) = (params.w_output.as_ptr(), rows.as_ptr(), deltas.as_mut_ptr());
        // Lane group `i` computes sample min(i, n − 1).
        let sample: [usize; N] = std::array::from_fn(|i| i.min(n - 1));
        let one = _mm512_set1_pd(1.0);
        for j in (0..h).step_by(8) {
            let mut acc = [_mm512_setzero_pd(); N];
            for o in 0..OUTPUTS {
                // SAFETY: `o < OUTPUTS` and `j + 8 <= h`: lanes of row o of w_o (asserted above).
                let row = unsafe { _mm512_loadu_pd(w.add(o * h + j)) };
                for (a, &s) in acc.iter_mut().zip(&sample) {
                    *a = _mm512_add_pd(*a, _mm512_mul_pd(row, _mm512_set1_pd(outputs[s].delta_out[o])));
                }
            }
            for (s, a) in acc.iter().enumerate().take(n) {
                // SAFETY: `s < n` and `j + 8 <= h`: lanes of row s of `rows` and `deltas`.
                unsafe {
                    let hv = _mm512_loadu_pd(rows_p.add(s * h + j));
                    let derivative = _mm512_mul_pd(hv, _mm512_sub_pd(one, hv));
                    _mm512_storeu_pd(deltas_p.add(s * h + j), _mm512_mul_pd(*a, derivative));
                }
            }
        }
    }
    // ANCHOR_END: hidden_deltas_avx512
}
