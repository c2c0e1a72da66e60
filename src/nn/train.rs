//! The training loop — the original's `main.asm` training section — run by a small team of
//! threads that never split a sum.
//!
//! Each mini-batch takes two phases separated by a barrier:
//!
//! 1. **Per sample** (samples divided between threads): forward pass, loss, and the two delta
//!    vectors, each written to that sample's own slot.
//! 2. **Per parameter** (parameters divided between threads): every gradient element is summed
//!    over the batch's samples *in batch order* by exactly one thread, then stepped. Thread `t`
//!    owns a band of input pixels — rows `bands[t]` of the transposed hidden weights and their
//!    gradients; thread 0 also owns the biases and the output layer.
//!
//! No element is ever computed by more than one thread and no sum is ever split, so the result
//! is bit-identical for any thread count. The bands are only a work division; they are sized so
//! each thread sees about the same number of non-zero pixels.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::backward::{add_assign, backward_deltas};
use super::forward::forward;
use super::update::{sgd_step, BatchScale};
use super::{argmax, Network, Params, DEFAULT_HIDDEN, INPUTS, OUTPUTS, PIXEL_VALUE};
use crate::data::shuffle::{fisher_yates, Rng};
use crate::data::Dataset;
use crate::math::dot::{accumulate_outer, weighted_sums};
use crate::math::softmax::cross_entropy;
use crate::math::SimdLevel;

// ANCHOR: config
/// Everything that determines a training run. Two runs with equal configs (whatever `threads`
/// and `level`) produce bit-identical networks.
#[derive(Clone, Debug)]
pub struct TrainConfig {
    pub epochs: usize,
    pub batch: usize,
    pub lr: f64,
    pub hidden: usize,
    pub seed: u64,
    /// Work division only: never changes a bit of the result.
    pub threads: usize,
    /// Instruction set only: never changes a bit of the result.
    pub level: SimdLevel,
}

impl Default for TrainConfig {
    /// The original's recipe: 30 epochs of mini-batch SGD, batch 32, learning rate 0.1.
    fn default() -> Self {
        TrainConfig {
            epochs: 30,
            batch: 32,
            lr: 0.1,
            hidden: DEFAULT_HIDDEN,
            seed: DEFAULT_SEED,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            level: SimdLevel::detect(),
        }
    }
}
// ANCHOR_END: config

/// The seed of the default run (and of the golden files).
pub const DEFAULT_SEED: u64 = 1;

/// One line of the epoch log.
#[derive(Clone, Debug, PartialEq)]
pub struct EpochReport {
    pub epoch: usize,
    pub epochs: usize,
    /// Mean cross-entropy over the epoch's samples, as seen by their forward passes.
    pub loss: f64,
    /// Training samples classified correctly by those same forward passes.
    pub correct: usize,
    pub samples: usize,
    pub elapsed: Duration,
}

impl EpochReport {
    pub fn accuracy_percent(&self) -> f64 {
        100.0 * self.correct as f64 / self.samples as f64
    }
}

/// What phase 1 leaves for phase 2 about one sample of the current batch. The sample's hidden
/// activations and hidden deltas live in the team's `[batch][H]` matrices instead, so that
/// phase 2 can gather them by sample number.
struct Slot {
    sample: usize,
    value: Vec<f64>,
    probabilities: [f64; OUTPUTS],
    delta_out: [f64; OUTPUTS],
    loss: f64,
    correct: bool,
}

/// A barrier for a few threads that meet ~100,000 times per run: spinning briefly is much
/// cheaper than a futex sleep; after a while it yields, so oversubscribed cores still progress.
struct SpinBarrier {
    count: usize,
    arrived: AtomicUsize,
    generation: AtomicUsize,
}

impl SpinBarrier {
    fn new(count: usize) -> SpinBarrier {
        SpinBarrier { count, arrived: AtomicUsize::new(0), generation: AtomicUsize::new(0) }
    }

    fn wait(&self) {
        if self.count == 1 {
            return;
        }
        let generation = self.generation.load(Ordering::Acquire);
        if self.arrived.fetch_add(1, Ordering::AcqRel) + 1 == self.count {
            self.arrived.store(0, Ordering::Relaxed);
            self.generation.fetch_add(1, Ordering::Release);
        } else {
            let mut spins = 0u32;
            while self.generation.load(Ordering::Acquire) == generation {
                if spins < 4_000 {
                    std::hint::spin_loop();
                    spins += 1;
                } else {
                    std::thread::yield_now();
                }
            }
        }
    }
}

/// Raw views of the buffers the team shares. Access follows the two-phase protocol in the
/// module docs; every `unsafe` block below names the phase that makes it sound.
struct Team {
    hidden: usize,
    threads: usize,
    w_hidden_t: *mut f64,
    b_hidden: *mut f64,
    w_output: *mut f64,
    w_output_t: *mut f64,
    b_output: *mut f64,
    identity: *const u16,
    identity_len: usize,
    /// `[batch][H]`: row `s` is sample `s`'s hidden activations.
    hidden_rows: *mut f64,
    /// `[batch][H]`: row `s` is sample `s`'s hidden deltas.
    delta_hidden_rows: *mut f64,
    slots: Vec<UnsafeCell<Slot>>,
    order: UnsafeCell<Vec<u32>>,
    barrier: SpinBarrier,
}

// SAFETY: the raw pointers point into buffers owned by `train`, which outlive the thread scope;
// concurrent access is disjoint by the phase protocol.
unsafe impl Sync for Team {}

impl Team {
    /// The parameters as the forward pass sees them. Sound in phase 1, when nobody writes
    /// parameters.
    unsafe fn params(&self) -> Params<'_> {
        let h = self.hidden;
        Params {
            hidden: h,
            w_hidden_t: std::slice::from_raw_parts(self.w_hidden_t, INPUTS * h),
            b_hidden: std::slice::from_raw_parts(self.b_hidden, h),
            w_output: std::slice::from_raw_parts(self.w_output, OUTPUTS * h),
            w_output_t: std::slice::from_raw_parts(self.w_output_t, h * OUTPUTS),
            b_output: std::slice::from_raw_parts(self.b_output, OUTPUTS),
            identity: std::slice::from_raw_parts(self.identity, self.identity_len),
        }
    }
}

/// Splits `0..n` into `parts` contiguous ranges of near-equal size; returns range `i`.
fn split_evenly(n: usize, parts: usize, i: usize) -> (usize, usize) {
    (n * i / parts, n * (i + 1) / parts)
}

/// Pixel-row bands with about equal non-zero counts.
fn balanced_bands(histogram: &[u64], threads: usize) -> Vec<(usize, usize)> {
    let weights: Vec<u64> = histogram.iter().map(|&c| c + 1).collect();
    let total: u64 = weights.iter().sum();
    let mut bands = Vec::with_capacity(threads);
    let mut start = 0;
    let mut acc = 0u64;
    for t in 0..threads {
        let target = total * (t as u64 + 1) / threads as u64;
        let mut end = start;
        while end < INPUTS && acc + weights[end] <= target {
            acc += weights[end];
            end += 1;
        }
        if t + 1 == threads {
            end = INPUTS;
        }
        bands.push((start, end));
        start = end;
    }
    bands
}

// ANCHOR: train
/// Trains a network on `data` as `config` says; `on_epoch` is called after every epoch.
pub fn train(config: &TrainConfig, data: &Dataset, mut on_epoch: impl FnMut(&EpochReport)) -> Network {
    assert!(config.batch > 0 && config.threads > 0 && !data.is_empty());
    assert!(config.batch <= u16::MAX as usize + 1, "batch indices are u16");
    let mut rng = Rng::from_seed(config.seed);
    let mut net = Network::init(config.hidden, &mut rng);
    let h = config.hidden;
    let threads = config.threads.min(INPUTS);
    let bands = balanced_bands(&data.images.pixel_histogram(), threads);
    let batch = config.batch.min(data.len());
    let mut hidden_rows = vec![0.0; batch * h];
    let mut delta_hidden_rows = vec![0.0; batch * h];
    let slots = (0..batch)
        .map(|_| {
            UnsafeCell::new(Slot {
                sample: 0,
                value: Vec::with_capacity(INPUTS),
                probabilities: [0.0; OUTPUTS],
                delta_out: [0.0; OUTPUTS],
                loss: 0.0,
                correct: false,
            })
        })
        .collect();
    let team = Team {
        hidden: h,
        threads,
        w_hidden_t: net.w_hidden_t.as_mut_ptr(),
        b_hidden: net.b_hidden.as_mut_ptr(),
        w_output: net.w_output.as_mut_ptr(),
        w_output_t: net.w_output_t.as_mut_ptr(),
        b_output: net.b_output.as_mut_ptr(),
        identity: net.identity.as_ptr(),
        identity_len: net.identity.len(),
        hidden_rows: hidden_rows.as_mut_ptr(),
        delta_hidden_rows: delta_hidden_rows.as_mut_ptr(),
        slots,
        order: UnsafeCell::new((0..data.len() as u32).collect()),
        barrier: SpinBarrier::new(threads),
    };
    std::thread::scope(|scope| {
        for id in 1..threads {
            let (team, bands) = (&team, &bands);
            scope.spawn(move || worker(id, team, bands[id], config, data, None));
        }
        worker(0, &team, bands[0], config, data, Some((&mut rng, &mut on_epoch)));
    });
    drop(team);
    net
}
// ANCHOR_END: train

/// Thread 0's extra duties: the shuffle, the output layer, and the epoch log.
type Leader<'a> = (&'a mut Rng, &'a mut dyn FnMut(&EpochReport));

/// Asks the CPU to start loading a sample's pixels before we need them (the shuffle makes
/// every sample a cache miss otherwise). A hint only: it changes no result.
#[inline(always)]
fn prefetch<T>(items: &[T]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let bytes = std::mem::size_of_val(items);
        let base = items.as_ptr() as *const i8;
        for offset in (0..bytes).step_by(64) {
            // SAFETY: prefetching an address inside the slice; it never faults.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(base.add(offset)) };
        }
    }
}

/// Phase 2's view of one pixel row: the batch's samples that light that pixel, in batch order,
/// and the pixel's value in each — the input column of the gradient sum for that row.
struct ColumnLists {
    starts: Vec<u32>,
    cursor: Vec<u32>,
    sample: Vec<u16>,
    value: Vec<f64>,
}

impl ColumnLists {
    fn new(rows: usize) -> ColumnLists {
        ColumnLists { starts: vec![0; rows + 1], cursor: vec![0; rows], sample: Vec::new(), value: Vec::new() }
    }

    /// A counting sort of the batch's non-zero pixels in `band` by pixel, stable in sample order.
    fn build(&mut self, band: (usize, usize), data: &Dataset, slots: &[&Slot]) {
        let (start, end) = band;
        self.starts.iter_mut().for_each(|c| *c = 0);
        let ranges: Vec<(usize, usize)> = slots
            .iter()
            .map(|slot| {
                let index = data.images.get(slot.sample).index;
                let lo = index.partition_point(|&k| (k as usize) < start);
                let hi = lo + index[lo..].partition_point(|&k| (k as usize) < end);
                for &k in &index[lo..hi] {
                    self.starts[k as usize - start + 1] += 1;
                }
                (lo, hi)
            })
            .collect();
        for r in 1..self.starts.len() {
            self.starts[r] += self.starts[r - 1];
        }
        let total = self.starts[end - start] as usize;
        self.sample.resize(total, 0);
        self.value.resize(total, 0.0);
        self.cursor.copy_from_slice(&self.starts[..end - start]);
        for (s, (slot, &(lo, hi))) in slots.iter().zip(&ranges).enumerate() {
            let index = data.images.get(slot.sample).index;
            for t in lo..hi {
                let row = index[t] as usize - start;
                let at = self.cursor[row] as usize;
                self.cursor[row] += 1;
                self.sample[at] = s as u16;
                self.value[at] = slot.value[t];
            }
        }
    }

    fn row(&self, row: usize) -> (&[u16], &[f64]) {
        let (a, b) = (self.starts[row] as usize, self.starts[row + 1] as usize);
        (&self.sample[a..b], &self.value[a..b])
    }
}

/// The loop every thread runs in lockstep (SPMD, like an OpenMP parallel region).
fn worker(id: usize, team: &Team, band: (usize, usize), config: &TrainConfig, data: &Dataset, mut leader: Option<Leader<'_>>) {
    let (h, level, n) = (team.hidden, config.level, data.len());
    let (band_start, band_end) = band;
    // Thread 0's private state: output-layer and bias gradients.
    let mut grad_b_hidden = vec![0.0; h];
    let mut grad_w_output = vec![0.0; OUTPUTS * h];
    let mut grad_b_output = vec![0.0; OUTPUTS];
    // One row of the hidden-weight gradient, summed and stepped before the next row.
    let mut grad_row = vec![0.0; h];
    let mut columns = ColumnLists::new(band_end - band_start);
    let started = Instant::now();

    for epoch in 1..=config.epochs {
        if let Some((rng, _)) = leader.as_mut() {
            // SAFETY: between epochs only thread 0 touches `order`; the barrier publishes it.
            fisher_yates(rng, unsafe { &mut *team.order.get() });
        }
        team.barrier.wait();
        // SAFETY: `order` is only read until the next epoch's barrier.
        let order = unsafe { &*team.order.get() };
        let (mut loss_sum, mut correct) = (0.0, 0usize);

        for batch_start in (0..n).step_by(config.batch) {
            let batch_len = config.batch.min(n - batch_start);

            // ---- Phase 1: per-sample forward and backward, samples split between threads.
            {
                // SAFETY: phase 1 — parameters are read-only for everyone.
                let params = unsafe { team.params() };
                let (s0, s1) = split_evenly(batch_len, team.threads, id);
                for s in s0..s1 {
                    if s + 1 < s1 {
                        let next = data.images.get(order[batch_start + s + 1] as usize);
                        prefetch(next.index);
                        prefetch(next.value);
                    }
                    // SAFETY: slot `s` and row `s` of the two matrices belong to this thread
                    // in phase 1.
                    let (slot, hidden, delta_hidden) = unsafe {
                        (
                            &mut *team.slots[s].get(),
                            std::slice::from_raw_parts_mut(team.hidden_rows.add(s * h), h),
                            std::slice::from_raw_parts_mut(team.delta_hidden_rows.add(s * h), h),
                        )
                    };
                    slot.sample = order[batch_start + s] as usize;
                    let image = data.images.get(slot.sample);
                    let label = data.labels[slot.sample] as usize;
                    slot.value.clear();
                    slot.value.extend(image.value.iter().map(|&v| PIXEL_VALUE[v as usize]));
                    forward(level, &params, image.index, &slot.value, hidden, &mut slot.probabilities);
                    slot.loss = cross_entropy(&slot.probabilities, label);
                    slot.correct = argmax(&slot.probabilities) == label;
                    backward_deltas(level, &params, hidden, &slot.probabilities, label, &mut slot.delta_out, delta_hidden);
                }
            }
            team.barrier.wait();

            // ---- Phase 2: per-parameter batch sums and SGD steps, parameters split.
            {
                // SAFETY: phase 2 — slots and the two matrices are read-only for everyone.
                let slots: Vec<&Slot> = team.slots[..batch_len].iter().map(|c| unsafe { &*c.get() }).collect();
                let (hidden_rows, delta_hidden_rows) = unsafe {
                    (
                        std::slice::from_raw_parts(team.hidden_rows, batch_len * h),
                        std::slice::from_raw_parts(team.delta_hidden_rows, batch_len * h),
                    )
                };
                let scale = BatchScale::new(batch_len);
                // SAFETY: this thread's band of weight rows is written by this thread only.
                let weight_band = unsafe {
                    std::slice::from_raw_parts_mut(team.w_hidden_t.add(band_start * h), (band_end - band_start) * h)
                };
                // g_wh[k][·] = Σ_s x[s][k]·delta_hidden[s][·] over the samples that light pixel k,
                // in batch order: a weighted sum of delta rows. Pixels no sample lights have a zero
                // gradient, and stepping them would change no bit, so they are skipped.
                columns.build(band, data, &slots);
                for (row, weights) in weight_band.chunks_exact_mut(h).enumerate() {
                    let (samples, values) = columns.row(row);
                    if !samples.is_empty() {
                        weighted_sums(level, &mut grad_row, delta_hidden_rows, h, samples, values);
                        sgd_step(level, weights, &mut grad_row, config.lr, scale);
                    }
                }

                if id == 0 {
                    // SAFETY: phase 2 — the output layer and the biases belong to thread 0.
                    let (b_hidden, w_output, w_output_t, b_output, identity) = unsafe {
                        (
                            std::slice::from_raw_parts_mut(team.b_hidden, h),
                            std::slice::from_raw_parts_mut(team.w_output, OUTPUTS * h),
                            std::slice::from_raw_parts_mut(team.w_output_t, h * OUTPUTS),
                            std::slice::from_raw_parts_mut(team.b_output, OUTPUTS),
                            std::slice::from_raw_parts(team.identity, team.identity_len),
                        )
                    };
                    for (s, slot) in slots.iter().enumerate() {
                        let (hidden, delta_hidden) = (&hidden_rows[s * h..][..h], &delta_hidden_rows[s * h..][..h]);
                        add_assign(&mut grad_b_hidden, delta_hidden);
                        accumulate_outer(level, &mut grad_w_output, h, 0, &identity[..OUTPUTS], &slot.delta_out, hidden);
                        add_assign(&mut grad_b_output, &slot.delta_out);
                        loss_sum = loss_sum + slot.loss;
                        correct += slot.correct as usize;
                    }
                    sgd_step(level, b_hidden, &mut grad_b_hidden, config.lr, scale);
                    sgd_step(level, w_output, &mut grad_w_output, config.lr, scale);
                    sgd_step(level, b_output, &mut grad_b_output, config.lr, scale);
                    for o in 0..OUTPUTS {
                        for j in 0..h {
                            w_output_t[j * OUTPUTS + o] = w_output[o * h + j];
                        }
                    }
                }
            }
            team.barrier.wait();
        }

        if let Some((_, on_epoch)) = leader.as_mut() {
            on_epoch(&EpochReport {
                epoch,
                epochs: config.epochs,
                loss: loss_sum / n as f64,
                correct,
                samples: n,
                elapsed: started.elapsed(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_cover_every_row_once() {
        let hist: Vec<u64> = (0..INPUTS as u64).map(|k| (k * 7919) % 100).collect();
        for threads in 1..=6 {
            let bands = balanced_bands(&hist, threads);
            assert_eq!(bands.len(), threads);
            assert_eq!(bands[0].0, 0);
            assert_eq!(bands[threads - 1].1, INPUTS);
            for w in bands.windows(2) {
                assert_eq!(w[0].1, w[1].0);
            }
        }
    }

    #[test]
    fn split_evenly_covers_range() {
        for parts in 1..5 {
            let mut next = 0;
            for i in 0..parts {
                let (a, b) = split_evenly(32, parts, i);
                assert_eq!(a, next);
                next = b;
            }
            assert_eq!(next, 32);
        }
    }
}
