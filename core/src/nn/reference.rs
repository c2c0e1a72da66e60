//! The plain reference trainer: the recipe exactly as the maths reads — shuffle, forward,
//! backward, step — on one thread, in plain scalar Rust, with nothing fused, pipelined or
//! split.
//!
//! It exists to be read and to be checked against. [`train`](super::train::train), the fast
//! trainer, reorganises the same work across threads and SIMD lanes (three phases per batch, a
//! pipeline over pixel bands, a fused gradient-and-step), and a test holds it to this function
//! bit for bit at every SIMD level and thread count (`core/tests/it/trainer.rs`). When the two
//! disagree, this one is right: it is the canonical arithmetic of [`crate::nn`] written out
//! directly, one operation per line of the definition.
//!
//! It is also fast enough to train the real thing (about 10 s for the 30-epoch default run),
//! just not fast.

// Index loops on purpose: `for j in 0..h` reads like the Σ_j of the definitions it implements.
#![allow(clippy::needless_range_loop)]

use super::train::{EpochReport, TrainConfig};
use super::{Network, INPUTS, OUTPUTS, PIXEL_VALUE};
use crate::data::shuffle::{fisher_yates, Rng};
use crate::data::Dataset;
use crate::math::ln::ln;
use crate::math::sigmoid::sigmoid;
use crate::math::softmax::cross_entropy_argument;
use crate::math::{exp::exp, max_like_sse};

/// The parameters in the layout the maths uses: `w_hidden[j][k]` is the weight from pixel `k`
/// into hidden unit `j` (row-major, as in weights.bin), `w_output[o][j]` from hidden unit `j`
/// into output `o`.
#[derive(Clone)]
struct Parameters {
    h: usize,
    w_hidden: Vec<f64>,
    b_hidden: Vec<f64>,
    w_output: Vec<f64>,
    b_output: Vec<f64>,
}

impl Parameters {
    fn zeros(h: usize) -> Parameters {
        Parameters {
            h,
            w_hidden: vec![0.0; h * INPUTS],
            b_hidden: vec![0.0; h],
            w_output: vec![0.0; OUTPUTS * h],
            b_output: vec![0.0; OUTPUTS],
        }
    }

    fn from_network(net: &Network) -> Parameters {
        let h = net.hidden();
        let values = net.to_file_order();
        let (w_hidden, rest) = values.split_at(h * INPUTS);
        let (b_hidden, rest) = rest.split_at(h);
        let (w_output, b_output) = rest.split_at(OUTPUTS * h);
        Parameters {
            h,
            w_hidden: w_hidden.to_vec(),
            b_hidden: b_hidden.to_vec(),
            w_output: w_output.to_vec(),
            b_output: b_output.to_vec(),
        }
    }

    fn to_network(&self) -> Network {
        let values: Vec<f64> = [&self.w_hidden[..], &self.b_hidden, &self.w_output, &self.b_output].concat();
        Network::from_file_order(self.h, &values)
    }
}

// ANCHOR: sample
/// What one sample's forward and backward pass produce.
struct Sample {
    /// The non-zero pixels: positions (ascending) and values `byte / 255`.
    pixels: Vec<(usize, f64)>,
    hidden: Vec<f64>,
    delta_hidden: Vec<f64>,
    delta_out: [f64; OUTPUTS],
    loss: f64,
    correct: bool,
}

/// Forward and backward pass of one image through `p`, following the canonical definitions
/// line by line.
fn forward_backward(p: &Parameters, bytes: &[u8], label: usize) -> Sample {
    let h = p.h;
    // x[k] = byte / 255; a zero pixel adds nothing to any sum, so only the others are kept.
    let pixels: Vec<(usize, f64)> =
        bytes.iter().enumerate().filter(|(_, &b)| b != 0).map(|(k, &b)| (k, PIXEL_VALUE[b as usize])).collect();

    // z_h[j] = (Σ_k w_h[j][k]·x[k]) + b_h[j];  h[j] = σ(z_h[j])
    let mut hidden = vec![0.0; h];
    for j in 0..h {
        let mut sum = 0.0;
        for &(k, x) in &pixels {
            sum = sum + p.w_hidden[j * INPUTS + k] * x;
        }
        hidden[j] = sigmoid(sum + p.b_hidden[j]);
    }

    // z_o[o] = (Σ_j w_o[o][j]·h[j]) + b_o[o]
    let mut z = [0.0; OUTPUTS];
    for o in 0..OUTPUTS {
        let mut sum = 0.0;
        for j in 0..h {
            sum = sum + p.w_output[o * h + j] * hidden[j];
        }
        z[o] = sum + p.b_output[o];
    }

    // p = softmax(z): subtract the maximum, exponentiate, divide by the sum.
    let max = z[1..].iter().fold(z[0], |m, &v| max_like_sse(v, m));
    let mut prob = [0.0; OUTPUTS];
    for o in 0..OUTPUTS {
        prob[o] = exp(z[o] - max);
    }
    let total = prob.iter().fold(0.0, |s, &v| s + v);
    for value in &mut prob {
        *value = *value / total;
    }

    // loss = −ln p[y]; the prediction is the most probable digit.
    let loss = -ln(cross_entropy_argument(&prob, label));
    let correct = super::argmax(&prob) == label;

    // d_o[o] = p[o] − [o = y]
    let mut delta_out = [0.0; OUTPUTS];
    for o in 0..OUTPUTS {
        delta_out[o] = prob[o] - if o == label { 1.0 } else { 0.0 };
    }

    // d_h[j] = (Σ_o w_o[o][j]·d_o[o]) · h[j]·(1 − h[j])
    let mut delta_hidden = vec![0.0; h];
    for j in 0..h {
        let mut sum = 0.0;
        for o in 0..OUTPUTS {
            sum = sum + p.w_output[o * h + j] * delta_out[o];
        }
        delta_hidden[j] = sum * (hidden[j] * (1.0 - hidden[j]));
    }

    Sample { pixels, hidden, delta_hidden, delta_out, loss, correct }
}
// ANCHOR_END: sample

// ANCHOR: reference_train
/// Trains a network on `data` as `config` says (`threads` and `level` are ignored: this is the
/// one-thread scalar reference). Gives the same bits as [`super::train::train`].
pub fn train_reference(config: &TrainConfig, data: &Dataset, mut on_epoch: impl FnMut(&EpochReport)) -> Network {
    assert!(config.batch > 0 && !data.is_empty());
    let mut clock = crate::clock::Stopwatch::start();
    // The same generator draws the initial weights, then every epoch's shuffle.
    let mut rng = Rng::from_seed(config.seed);
    let mut p = Parameters::from_network(&Network::init(config.hidden, &mut rng));
    let h = p.h;
    let n = data.len();
    let mut order: Vec<u32> = (0..n as u32).collect();

    for epoch in 1..=config.epochs {
        // A fresh permutation of the previous epoch's order.
        fisher_yates(&mut rng, &mut order);
        let (mut loss_sum, mut correct) = (0.0, 0usize);

        for batch in order.chunks(config.batch) {
            // Every sample of the batch sees the same parameters: forward and backward first…
            let samples: Vec<Sample> = batch
                .iter()
                .map(|&i| forward_backward(&p, &data.images.dense(i as usize), data.labels[i as usize] as usize))
                .collect();
            for sample in &samples {
                loss_sum = loss_sum + sample.loss;
                correct += sample.correct as usize;
            }

            // …then each gradient element is summed over the batch in batch order, from +0.0…
            let mut g = Parameters::zeros(h);
            for s in &samples {
                for j in 0..h {
                    for &(k, x) in &s.pixels {
                        g.w_hidden[j * INPUTS + k] = g.w_hidden[j * INPUTS + k] + s.delta_hidden[j] * x;
                    }
                    g.b_hidden[j] = g.b_hidden[j] + s.delta_hidden[j];
                }
                for o in 0..OUTPUTS {
                    for j in 0..h {
                        g.w_output[o * h + j] = g.w_output[o * h + j] + s.delta_out[o] * s.hidden[j];
                    }
                    g.b_output[o] = g.b_output[o] + s.delta_out[o];
                }
            }

            // …and every parameter takes the step w = w − lr·(g / n).
            let count = batch.len() as f64;
            for (w, g) in [
                (&mut p.w_hidden, &g.w_hidden),
                (&mut p.b_hidden, &g.b_hidden),
                (&mut p.w_output, &g.w_output),
                (&mut p.b_output, &g.b_output),
            ] {
                for (w, &g) in w.iter_mut().zip(g.iter()) {
                    *w = *w - config.lr * (g / count);
                }
            }
        }

        clock.pause();
        on_epoch(&EpochReport {
            epoch,
            epochs: config.epochs,
            loss: loss_sum / n as f64,
            correct,
            samples: n,
            elapsed: clock.elapsed(),
        });
        clock.resume();
    }
    p.to_network()
}
// ANCHOR_END: reference_train
