//! The network room (the original's `src/nn/*.asm`): 784 → H (sigmoid) → 10 (softmax).
//!
// ANCHOR: canonical_arithmetic
//! # Canonical arithmetic
//!
//! Every golden file depends on these definitions, so they are fixed here once. For one sample
//! with pixels `x` (`u8 / 255.0`) and label `y`:
//!
//! ```text
//! z_h[j] = (Σ_k w_h[j][k]·x[k]) + b_h[j]      sum from +0.0, k ascending, zero x[k] skipped
//! h[j]   = σ(z_h[j]) = 1 / (1 + exp(−z_h[j]))
//! z_o[o] = (Σ_j w_o[o][j]·h[j]) + b_o[o]       j ascending
//! p      = softmax(z_o)                        max and sum sequential, o ascending
//! loss   = −ln(p[y])
//! d_o[o] = p[o] − [o = y]
//! d_h[j] = (Σ_o w_o[o][j]·d_o[o]) · (h[j]·(1 − h[j]))
//! ```
//!
//! For a batch of `n` samples, each gradient element is a sum over the samples *in batch order*,
//! from +0.0 (`g_wh[j][k] = Σ_s d_h[s][j]·x[s][k]`, `g_bh[j] = Σ_s d_h[s][j]`, and the same for
//! the output layer), and every parameter then takes the step `w = w − lr·(g / n)`.
//!
//! Every product is rounded to f64 before its add (no fused multiply-add), `exp` and `ln` are our
//! own (`crate::math`), and no sum is ever split or reordered: SIMD lanes and threads only ever
//! divide *independent output elements* between them. That is why the scalar, SSE2 and AVX2
//! paths, and any thread count, give the same bits on any x86-64 machine.
// ANCHOR_END: canonical_arithmetic
//!
// ANCHOR: layout
//! # Layout
//!
//! weights.bin stores each matrix with one row per output unit (`w_h` is H rows of 784). For
//! the hot loops we keep `w_h` transposed: one row of H weights per *input pixel*, so a non-zero
//! pixel adds one contiguous row to all H hidden sums at once (and a zero pixel costs nothing).
//! The matrix starts on a 64-byte cache-line boundary (`AlignedF64s`), so with H = 32 a row is
//! exactly four cache lines and no SIMD load of it straddles two.
// ANCHOR_END: layout

pub mod backward;
mod bands;
mod barrier;
pub mod evaluate;
pub mod finish;
pub mod forward;
pub mod hidden_step;
pub mod output_step;
pub mod profile;
pub mod reference;
pub mod session;
pub mod train;
pub mod update;

use crate::data::shuffle::Rng;
use crate::data::PIXELS;
use crate::math::aligned::AlignedF64s;
use crate::math::SimdLevel;

/// Number of inputs (28×28 pixels).
pub const INPUTS: usize = PIXELS;
/// Number of outputs (digits).
pub const OUTPUTS: usize = 10;
/// The hidden layer's size in the original.
pub const DEFAULT_HIDDEN: usize = 32;
/// The largest hidden layer we accept (indices into it are `u16`).
pub const MAX_HIDDEN: usize = 4096;

// ANCHOR: init_bounds
/// Hidden-layer init bound of the original. Glorot/Xavier's `√(6/(784+32))` would be ±0.0857;
/// the original used ±0.0815 and so do we.
pub const HIDDEN_INIT_BOUND: f64 = 0.0815;
/// Output-layer init bound of the original (Glorot's `√(6/(32+10))` = 0.378).
pub const OUTPUT_INIT_BOUND: f64 = 0.378;
// ANCHOR_END: init_bounds

// ANCHOR: pixel_value
/// `PIXEL_VALUE[b] = b / 255.0`: the original's normalisation, as a table.
pub static PIXEL_VALUE: [f64; 256] = {
    let mut t = [0.0; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = i as f64 / 255.0;
        i += 1;
    }
    t
};
// ANCHOR_END: pixel_value

// ANCHOR: network
/// The parameters of a 784 → H → 10 network.
#[derive(Clone, Debug, PartialEq)]
pub struct Network {
    hidden: usize,
    /// `w_h` transposed: row `k` (one per input pixel) holds the H weights from pixel `k`.
    /// Cache-line aligned, so no SIMD load of a row straddles two lines.
    pub(crate) w_hidden_t: AlignedF64s,
    /// Cache-line aligned, like `w_hidden_t`: phase 3 of the trainer gives each thread whole lines
    /// of it (`lane_range`).
    pub(crate) b_hidden: AlignedF64s,
    /// `w_o` as in weights.bin: row `o` holds the H weights into output `o`.
    pub(crate) w_output: Vec<f64>,
    /// `w_o` transposed (row `j` holds the 10 weights from hidden unit `j`), kept in step with
    /// `w_output` for the forward pass.
    pub(crate) w_output_t: Vec<f64>,
    pub(crate) b_output: Vec<f64>,
    /// `0, 1, …, max(H, 10)−1`: the index list of a dense input to [`crate::math::dot::weighted_sums`].
    pub(crate) identity: Vec<u16>,
}
// ANCHOR_END: network

impl Network {
    /// All-zero parameters.
    pub fn zeros(hidden: usize) -> Network {
        assert!((1..=MAX_HIDDEN).contains(&hidden), "hidden size out of range");
        Network {
            hidden,
            w_hidden_t: AlignedF64s::zeros(INPUTS * hidden),
            b_hidden: AlignedF64s::zeros(hidden),
            w_output: vec![0.0; OUTPUTS * hidden],
            w_output_t: vec![0.0; hidden * OUTPUTS],
            b_output: vec![0.0; OUTPUTS],
            identity: (0..hidden.max(OUTPUTS) as u16).collect(),
        }
    }

    // ANCHOR: init
    /// The original's initialisation: weights uniform in ±bound, drawn in weights.bin order
    /// (hidden rows, then output rows), biases zero.
    pub fn init(hidden: usize, rng: &mut Rng) -> Network {
        let mut net = Network::zeros(hidden);
        for j in 0..hidden {
            for k in 0..INPUTS {
                net.w_hidden_t[k * hidden + j] = rng.next_symmetric(HIDDEN_INIT_BOUND);
            }
        }
        for w in net.w_output.iter_mut() {
            *w = rng.next_symmetric(OUTPUT_INIT_BOUND);
        }
        net.sync_output_transpose();
        net
    }
    // ANCHOR_END: init

    pub fn hidden(&self) -> usize {
        self.hidden
    }

    /// Number of parameters: `795·H + 10`.
    pub fn parameter_count(&self) -> usize {
        parameter_count(self.hidden)
    }

    /// Rebuilds `w_output_t` from `w_output`.
    pub(crate) fn sync_output_transpose(&mut self) {
        for o in 0..OUTPUTS {
            for j in 0..self.hidden {
                self.w_output_t[j * OUTPUTS + o] = self.w_output[o * self.hidden + j];
            }
        }
    }

    /// All parameters in weights.bin order: w_hidden (H×784), b_hidden, w_output (10×H), b_output.
    pub fn to_file_order(&self) -> Vec<f64> {
        let h = self.hidden;
        let mut out = Vec::with_capacity(self.parameter_count());
        for j in 0..h {
            out.extend((0..INPUTS).map(|k| self.w_hidden_t[k * h + j]));
        }
        out.extend_from_slice(&self.b_hidden);
        out.extend_from_slice(&self.w_output);
        out.extend_from_slice(&self.b_output);
        out
    }

    /// The inverse of [`Network::to_file_order`]. `values.len()` must be `795·H + 10`.
    pub fn from_file_order(hidden: usize, values: &[f64]) -> Network {
        assert_eq!(values.len(), parameter_count(hidden), "parameter count");
        let mut net = Network::zeros(hidden);
        let (w_h, rest) = values.split_at(hidden * INPUTS);
        let (b_h, rest) = rest.split_at(hidden);
        let (w_o, b_o) = rest.split_at(OUTPUTS * hidden);
        for j in 0..hidden {
            for k in 0..INPUTS {
                net.w_hidden_t[k * hidden + j] = w_h[j * INPUTS + k];
            }
        }
        net.b_hidden.copy_from_slice(b_h);
        net.w_output.copy_from_slice(w_o);
        net.b_output.copy_from_slice(b_o);
        net.sync_output_transpose();
        net
    }

    // ANCHOR: predict
    /// Class probabilities for one dense 28×28 image of raw bytes (0–255, row-major).
    pub fn predict(&self, level: SimdLevel, pixels: &[u8]) -> [f64; OUTPUTS] {
        self.predict_with_hidden(level, pixels).0
    }

    /// [`Network::predict`], also returning the H hidden activations `h[j]` it computed on the
    /// way (the drawing app lights its hidden-unit pictures with them). Same kernels, same bits.
    pub fn predict_with_hidden(&self, level: SimdLevel, pixels: &[u8]) -> ([f64; OUTPUTS], Vec<f64>) {
        assert_eq!(pixels.len(), INPUTS, "an image has 784 pixels");
        // Compact the non-zero pixels. A drawing is mostly background, so whole 8-byte words of
        // zeros are skipped at once; inside a word, always write and advance only past non-zeros
        // (a data-dependent branch per pixel would mispredict along every stroke edge).
        let mut index = [0u16; INPUTS];
        let mut value = [0.0f64; INPUTS];
        let mut count = 0;
        for (w, word) in pixels.chunks_exact(8).enumerate() {
            if u64::from_ne_bytes(word.try_into().expect("8 bytes")) == 0 {
                continue;
            }
            for (i, &p) in word.iter().enumerate() {
                index[count] = (w * 8 + i) as u16;
                value[count] = PIXEL_VALUE[p as usize];
                count += (p != 0) as usize;
            }
        }
        let mut hidden = vec![0.0; self.hidden];
        let mut probabilities = [0.0; OUTPUTS];
        forward::forward(level, &self.params(), &index[..count], &value[..count], &mut hidden, &mut probabilities);
        (probabilities, hidden)
    }
    // ANCHOR_END: predict

    /// Hidden unit `j`'s 784 incoming weights `w_h[j][k]`, in pixel order: the picture of what
    /// excites it (the drawing app shows one per unit).
    pub fn hidden_unit_weights(&self, j: usize) -> Vec<f64> {
        assert!(j < self.hidden, "hidden unit {j} of {}", self.hidden);
        (0..INPUTS).map(|k| self.w_hidden_t[k * self.hidden + j]).collect()
    }
}

/// A borrowed view of a network's parameters: what the forward and backward passes read. The
/// trainer builds one from raw parts while its threads share the buffers (see `train.rs`).
#[derive(Clone, Copy, Debug)]
pub struct Params<'a> {
    pub hidden: usize,
    pub w_hidden_t: &'a [f64],
    pub b_hidden: &'a [f64],
    pub w_output: &'a [f64],
    pub w_output_t: &'a [f64],
    pub b_output: &'a [f64],
    pub identity: &'a [u16],
}

impl Network {
    pub fn params(&self) -> Params<'_> {
        Params {
            hidden: self.hidden,
            w_hidden_t: &self.w_hidden_t,
            b_hidden: &self.b_hidden,
            w_output: &self.w_output,
            w_output_t: &self.w_output_t,
            b_output: &self.b_output,
            identity: &self.identity,
        }
    }
}

/// Number of parameters of a network with `hidden` hidden units: `795·H + 10`.
pub fn parameter_count(hidden: usize) -> usize {
    (INPUTS + 1 + OUTPUTS) * hidden + OUTPUTS
}

// ANCHOR: argmax
/// The index of the largest probability (the first one on a tie), i.e. the predicted digit.
pub fn argmax(values: &[f64]) -> usize {
    let mut best = 0;
    for (i, &v) in values.iter().enumerate().skip(1) {
        if v > values[best] {
            best = i;
        }
    }
    best
}
// ANCHOR_END: argmax
