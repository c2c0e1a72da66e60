//! The training loop — the original's `main.asm` training section — run by a small team of
//! threads that never split a sum.
//!
//! Thread `t` owns a band of input pixels — rows `band` of the transposed hidden weights — so
//! that 200 KB matrix does not travel between cores. (The bands' edges move between batches,
//! a stretch of rows at a time, toward the cores' measured speeds: see `BandBalance`.) Each
//! mini-batch takes three phases:
//!
//! 1. **Hidden sums, as a pipeline over the bands.** A hidden unit's sum runs over the pixels in
//!    ascending order; thread 0 adds the terms of its (lowest) band for a sample and hands the
//!    partial sums on to thread 1, which continues them with its band while thread 0 starts on
//!    the next sample, and so on. The sum is still one sequential chain of operations — only the
//!    core performing each stretch of it changes.
//! 2. **The rest of each sample, by samples.** Samples are divided between threads (not evenly:
//!    see `Phase2Split`): bias and σ, the output layer, softmax, loss, `delta_out` and the full
//!    `delta_hidden` row of each sample (the output layer is tiny).
//! 3. **Gradients and steps, by parameters.** Thread `t` sums and steps the hidden weights of
//!    its band and some hidden biases, and the last thread the whole output layer: each
//!    gradient element is summed over the batch in sample order by exactly one thread.
//!
//! No element is ever computed by more than one thread and no sum is ever split, so the result
//! is bit-identical for any thread count; the division of work only decides who computes what.
//!
// ANCHOR: one_barrier
//! # One barrier per batch
//!
//! Only phase 3 needs every thread's phase 2 (each band's step sums over *all* the batch's
//! deltas), so only there do the threads meet at a barrier. The other two hand-overs ride on
//! the pipeline's own progress counters, which say more than a barrier would:
//!
//! * **Phase 1 → 2.** A sample's sums are complete when the last stage has passed it, so a
//!   thread finishes each group of *its* samples as soon as the last stage has passed that
//!   group (and, before the first, at least the batch's first sample).
//! * **Phase 3 → the next batch.** A thread goes straight on into the next batch's phase 1: its
//!   band's rows are its own, and it has just stepped them. Stage `t` takes a sample only after
//!   stage `t − 1` has, so when the last stage has passed the batch's first sample, every thread
//!   has finished the previous batch's phase 3 — which is what phase 2 waits for before it reads
//!   the parameters that phase 3 stepped, or overwrites the deltas and outputs it read.
//!   Meanwhile phase 1 writes its sums into the *other* of two row buffers (batches alternate
//!   between them), since a slower thread may still be reading this batch's activations.
//!
//! The threads meet at a barrier once more at the end of each epoch, before thread 0 reads the
//! whole network for the log and reshuffles.
// ANCHOR_END: one_barrier

use std::cell::UnsafeCell;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use super::backward::bias_sums;
use super::bands::{grid_cuts, grid_quanta, lane_range, BandBalance, BandSplits, Phase2Split};
use super::barrier::{PoisonOnPanic, Progress, SpinBarrier};
use super::finish::{finish_samples, reads_output_transpose, SampleOutputs};
use super::hidden_step::{hidden_step_shared, LitPixels};
use super::output_step::OutputStep;
use super::profile::{
    ticks, PhaseClock, PhaseTicks, FINISH, GRADIENTS, HIDDEN_SUMS, LAST_STAGE, ROWS_TAKEN, STAGE_BEFORE,
};
use super::update::{sgd_step, BatchScale};
use super::{Network, Params, DEFAULT_HIDDEN, INPUTS, OUTPUTS, PIXEL_VALUE};
use crate::clock::Stopwatch;
use crate::data::images::prefetch_lines;
use crate::data::shuffle::{fisher_yates, Rng};
use crate::data::Dataset;
use crate::math::aligned::AlignedF64s;
use crate::math::dot::pixel_sums_in_rows;
use crate::math::SimdLevel;

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

/// Raw views of the buffers the team shares. Access follows the three-phase protocol in the
/// module docs; every `unsafe` block below names the phase that makes it sound.
pub(super) struct Team {
    hidden: usize,
    threads: usize,
    w_hidden_t: *mut f64,
    b_hidden: *mut f64,
    w_output: *mut f64,
    b_output: *mut f64,
    identity: *const u16,
    identity_len: usize,
    /// Two `[batch][H]` matrices, used by alternate batches: row `s` is sample `s`'s hidden
    /// sums, then its activations (points into `_rows[0..2]`; see "One barrier per batch").
    hidden_rows: [*mut f64; 2],
    /// `[batch][H]`: row `s` is sample `s`'s hidden deltas (points into `_rows[2]`).
    delta_hidden_rows: *mut f64,
    /// The buffers behind the row pointers; their heap blocks stay put when the team moves.
    _rows: [AlignedF64s; 3],
    /// What phase 2 leaves for phase 3 about sample `s` of the current batch: `delta_out[s]`
    /// (for the output layer's step), `losses[s]` and `hits[s]` (for thread 0's tally). Packed
    /// apart, not as whole `SampleOutputs`: the lines another core reads (and that phase 2 must
    /// take back from it before writing them again) hold only what it reads. The probabilities
    /// never leave their thread. (Whole slots cost about 2% of a batch at h = 32 on two threads.)
    delta_out: *mut [f64; OUTPUTS],
    losses: *mut f64,
    hits: *mut bool,
    /// The buffers behind those three pointers.
    _handover: (Vec<[f64; OUTPUTS]>, Vec<f64>, Vec<bool>),
    pub(super) order: UnsafeCell<Vec<u32>>,
    barrier: SpinBarrier,
    /// `progress[t]`: how many samples (counted from the start of the run) thread `t` has
    /// finished its stretch of in phase 1; thread `t + 1` waits on it.
    progress: Vec<Progress>,
    /// `stepped[t]`: how many batches thread `t` has finished phase 3 of. A thread whose band
    /// has taken rows from another waits on it before it reads them (see [`BandBalance`]).
    stepped: Vec<Progress>,
    /// `step_cost[t]`: thread `t`'s last hidden step, (cycles, lit pixels), published before
    /// each barrier for every thread's [`BandBalance`], which must all see the same numbers (or
    /// their bands would disagree). Thread `t` writes it just before it arrives, and every thread
    /// reads all of them just after the barrier, before its phase 3. Thread `t` writes again only
    /// after its next phase 2, and phase 2 waits for the last stage to pass the next batch's
    /// first sample, which no stage passes before every thread has finished this phase 3 ("One
    /// barrier per batch"), the last stage's own phase 2 coming after that pass too.
    step_cost: Vec<(AtomicU64, AtomicU64)>,
    /// Tests only: publish made-up step times in which the threads take turns being slow, so
    /// the bands keep moving (`bands_that_keep_moving_change_no_bit`).
    #[cfg(test)]
    shake_bands: bool,
}

// SAFETY: the raw pointers point into buffers owned by `train`, which outlive the thread scope;
// concurrent access is disjoint by the phase protocol.
unsafe impl Sync for Team {}

impl Team {
    /// A team of `config.threads` working on `net`'s parameters in place. `net`'s buffers must
    /// outlive the team and be touched only through it until it is dropped.
    pub(super) fn new(config: &TrainConfig, data: &Dataset, net: &mut Network) -> Team {
        let (h, threads) = (config.hidden, config.threads);
        assert_eq!(net.hidden(), h);
        let batch = config.batch.min(data.len());
        assert!(batch <= u16::MAX as usize + 1, "batch indices are u16");
        let mut rows: [AlignedF64s; 3] = std::array::from_fn(|_| AlignedF64s::zeros(batch * h));
        let mut handover = (vec![[0.0; OUTPUTS]; batch], vec![0.0; batch], vec![false; batch]);
        Team {
            hidden: h,
            threads,
            w_hidden_t: net.w_hidden_t.as_mut_ptr(),
            b_hidden: net.b_hidden.as_mut_ptr(),
            w_output: net.w_output.as_mut_ptr(),
            b_output: net.b_output.as_mut_ptr(),
            identity: net.identity.as_ptr(),
            identity_len: net.identity.len(),
            hidden_rows: [rows[0].as_mut_ptr(), rows[1].as_mut_ptr()],
            delta_hidden_rows: rows[2].as_mut_ptr(),
            _rows: rows,
            delta_out: handover.0.as_mut_ptr(),
            losses: handover.1.as_mut_ptr(),
            hits: handover.2.as_mut_ptr(),
            _handover: handover,
            order: UnsafeCell::new((0..data.len() as u32).collect()),
            barrier: SpinBarrier::new(threads),
            progress: (0..threads).map(|_| Progress(AtomicUsize::new(0))).collect(),
            stepped: (0..threads).map(|_| Progress(AtomicUsize::new(0))).collect(),
            step_cost: (0..threads).map(|_| (AtomicU64::new(0), AtomicU64::new(0))).collect(),
            #[cfg(test)]
            shake_bands: false,
        }
    }

    /// The parameters as the forward pass sees them.
    /// `w_output_t` is the caller's own transpose of the current `w_output` (the team keeps none).
    ///
    /// # Safety
    /// Only in phases 1 and 2, when nobody writes parameters, and only for as long as they last.
    unsafe fn params<'a>(&'a self, w_output_t: &'a [f64]) -> Params<'a> {
        let h = self.hidden;
        assert_eq!(w_output_t.len(), h * OUTPUTS);
        // SAFETY: the buffers have these lengths and outlive the team (see `Sync for Team`);
        // nobody writes them while the views live (the caller's guarantee).
        unsafe {
            Params {
                hidden: h,
                w_hidden_t: std::slice::from_raw_parts(self.w_hidden_t, INPUTS * h),
                b_hidden: std::slice::from_raw_parts(self.b_hidden, h),
                w_output: std::slice::from_raw_parts(self.w_output, OUTPUTS * h),
                w_output_t,
                b_output: std::slice::from_raw_parts(self.b_output, OUTPUTS),
                identity: std::slice::from_raw_parts(self.identity, self.identity_len),
            }
        }
    }

    /// Reorders the samples for the next epoch.
    ///
    /// # Safety
    /// Only between epochs, by one thread, while no thread reads `order`.
    pub(super) unsafe fn shuffle(&self, rng: &mut Rng) {
        // SAFETY: nobody else touches `order` now (the caller's guarantee).
        fisher_yates(rng, unsafe { &mut *self.order.get() });
    }

    /// A copy of the network as it stands.
    ///
    /// # Safety
    /// Only while no thread writes parameters.
    pub(super) unsafe fn snapshot(&self) -> Network {
        let h = self.hidden;
        let mut net = Network::zeros(h);
        // SAFETY: the buffers have these lengths and outlive the team (see `Sync for Team`);
        // nobody writes them during the copy (the caller's guarantee).
        unsafe {
            net.w_hidden_t.copy_from_slice(std::slice::from_raw_parts(self.w_hidden_t, INPUTS * h));
            net.b_hidden.copy_from_slice(std::slice::from_raw_parts(self.b_hidden, h));
            net.w_output.copy_from_slice(std::slice::from_raw_parts(self.w_output, OUTPUTS * h));
            net.b_output.copy_from_slice(std::slice::from_raw_parts(self.b_output, OUTPUTS));
        }
        net.sync_output_transpose();
        net
    }
}

/// Trains a network on `data` as `config` says; `on_epoch` is called after every epoch.
pub fn train(config: &TrainConfig, data: &Dataset, mut on_epoch: impl FnMut(&EpochReport)) -> Network {
    train_observed(config, data, |report, _| on_epoch(report))
}

/// [`train`], with `on_epoch` also given a copy of the network as it stands after the epoch
/// (what `train --log` measures test accuracy on). Copying reads the parameters between epochs,
/// when no thread writes them, so it cannot change a bit of the run.
pub fn train_observed(
    config: &TrainConfig,
    data: &Dataset,
    mut on_epoch: impl FnMut(&EpochReport, &Network),
) -> Network {
    train_team(config, data, &mut on_epoch, false, false).0
}

/// [`train`], also returning each thread's time per phase ([`PhaseTicks`], thread 0 first):
/// what `mnistlearn time-phases` reports. The same bits as an unprofiled run.
pub fn train_profiled(
    config: &TrainConfig,
    data: &Dataset,
    mut on_epoch: impl FnMut(&EpochReport),
) -> (Network, Vec<PhaseTicks>) {
    let (net, profiles) = train_team(config, data, &mut |report, _| on_epoch(report), true, false);
    (net, profiles.into_iter().map(|p| p.expect("profiled")).collect())
}

/// The team's run: thread 0 here, the others spawned; returns the network and, if `profile`,
/// each thread's phase times.
fn train_team(
    config: &TrainConfig,
    data: &Dataset,
    on_epoch: &mut dyn FnMut(&EpochReport, &Network),
    profile: bool,
    #[cfg_attr(not(test), allow(unused_variables))] shake_bands: bool,
) -> (Network, Vec<Option<PhaseTicks>>) {
    assert!(config.batch > 0 && config.threads > 0 && !data.is_empty());
    let mut rng = Rng::from_seed(config.seed);
    let mut net = Network::init(config.hidden, &mut rng);
    #[cfg_attr(not(test), allow(unused_mut))]
    let mut team = Team::new(config, data, &mut net);
    #[cfg(test)]
    {
        team.shake_bands = shake_bands;
    }
    let quanta = grid_quanta(config.threads);
    let splits = BandSplits::new(data, &grid_cuts(&data.images.pixel_histogram(), quanta));
    let run = Run { team: &team, splits: &splits, config, data };
    let balance = BandBalance::new(quanta, config.threads);
    let profiles = std::thread::scope(|scope| {
        let others: Vec<_> = (1..config.threads)
            .map(|id| {
                let balance = balance.clone();
                scope.spawn(move || worker(id, run, balance, None, profile))
            })
            .collect();
        let mut profiles = vec![worker(0, run, balance, Some((&mut rng, on_epoch)), profile)];
        profiles.extend(others.into_iter().map(|t| t.join().expect("a trainer thread panicked")));
        profiles
    });
    drop(team);
    net.sync_output_transpose();
    (net, profiles)
}

/// Phase 2 finishes a thread's samples in groups of this many (or fewer, the last): one of
/// `finish_samples`' eight-sample AVX-512 passes, two of its four-sample AVX2 ones.
const FINISH_GROUP: usize = 8;

/// Thread 0's extra duties: the shuffle, the loss and accuracy totals, and the epoch log.
type Leader<'a> = (&'a mut Rng, &'a mut dyn FnMut(&EpochReport, &Network));

/// What every thread of a run reads: the team's shared buffers, where each image crosses the
/// bands, the recipe and the training set.
#[derive(Clone, Copy)]
pub(super) struct Run<'a> {
    pub(super) team: &'a Team,
    pub(super) splits: &'a BandSplits,
    pub(super) config: &'a TrainConfig,
    pub(super) data: &'a Dataset,
}

/// The loop every thread runs in lockstep (SPMD, like an OpenMP parallel region): for every
/// batch, the three phases of the module docs ([`Worker::batch`]). Returns the thread's phase
/// times if `profile`.
fn worker(
    id: usize,
    run: Run<'_>,
    balance: BandBalance,
    mut leader: Option<Leader<'_>>,
    profile: bool,
) -> Option<PhaseTicks> {
    // If this thread panics (an assertion, or the caller's `on_epoch`), the others stop waiting.
    let _poison = PoisonOnPanic(&run.team.barrier);
    let mut me = Worker::new(id, run, balance);
    if profile {
        me.phases = PhaseClock::running();
    }
    let (team, n) = (run.team, run.data.len());
    let mut clock = Stopwatch::start();

    for epoch in 1..=run.config.epochs {
        // ANCHOR: epoch_shuffle
        if let Some((rng, _)) = leader.as_mut() {
            // SAFETY: between epochs only thread 0 touches `order`; the barrier publishes it.
            unsafe { team.shuffle(rng) };
        }
        team.barrier.wait(id);
        // SAFETY: `order` is only read until the next epoch's first barrier.
        let order = unsafe { &*team.order.get() };
        // ANCHOR_END: epoch_shuffle
        let mut tally = Tally::default();
        for batch_start in (0..n).step_by(run.config.batch) {
            me.batch(run, order, batch_start, &mut tally);
        }
        // Every thread has finished the epoch's last phase 3 (see "One barrier per batch").
        let waited = me.phases.stamp();
        team.barrier.wait(id);
        me.phases.add_epoch_waiting(waited);

        if let Some((_, on_epoch)) = leader.as_mut() {
            let report = tally.report(epoch, run.config.epochs, clock.elapsed());
            // The clock stops while the caller works: `elapsed` is the trainer's own time.
            clock.pause();
            // SAFETY: after the epoch's last barrier the other threads write nothing until the
            // next epoch's first barrier, which waits for this thread.
            on_epoch(&report, &unsafe { team.snapshot() });
            clock.resume();
        }
    }
    me.phases.into_ticks(me.band.clone())
}

/// Thread 0's running totals over the epoch's batches so far.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Tally {
    pub(super) loss_sum: f64,
    pub(super) correct: usize,
    pub(super) samples: usize,
}

impl Tally {
    pub(super) fn report(&self, epoch: usize, epochs: usize, elapsed: Duration) -> EpochReport {
        EpochReport {
            epoch,
            epochs,
            loss: self.loss_sum / self.samples as f64,
            correct: self.correct,
            samples: self.samples,
            elapsed,
        }
    }
}

/// One thread's share of the team: what it owns for the whole run (a band of pixel rows, a
/// range of hidden lanes, perhaps the output layer) and its scratch buffers.
pub(super) struct Worker {
    id: usize,
    /// This thread's pixel rows: its band of stretches `quanta` of the grid (`BandSplits`).
    band: Range<usize>,
    quanta: (usize, usize),
    /// Where every thread's band stands and goes (this thread's copy; every thread's is the same).
    /// After the barrier it may already say where this band goes; the band moves there only
    /// after phase 3.
    balance: BandBalance,
    /// Whether the band took rows from another thread at the last move: the next phase 1 must
    /// first wait until that thread has stepped them.
    took_rows: bool,
    /// Lit pixels of the band gathered in the current batch's phase 1 (the step's pixels too).
    pixels: u64,
    /// The last hidden step: (cycles, lit pixels), for [`BandBalance`].
    step_cost: (u64, u64),
    /// Hidden lanes whose biases this thread steps.
    lanes: Range<usize>,
    /// Whether this thread steps the output layer's weights and biases (the last one does).
    output_layer: bool,
    output_step: OutputStep,
    /// Phase 2's scratch: the whole outputs of a group of samples, before the handover.
    outputs: Vec<SampleOutputs>,
    lit: LitPixels,
    grad_bias: Vec<f64>,
    labels: Vec<u8>,
    w_output_t: Vec<f64>,
    /// Who finishes which samples in phase 2 (this thread's copy; every thread's is the same).
    phase2: Phase2Split,
    /// The samples this thread finished in the current batch's phase 2.
    finished: Range<usize>,
    /// Samples this thread has passed through phase 1 since the start (its `progress`).
    ticket: usize,
    /// The previous stage's `progress` as this thread last read it.
    seen: usize,
    /// Batches this thread has begun: their parity picks the hidden-row buffer.
    batches: usize,
    /// Time per phase, when the run is profiled.
    phases: PhaseClock,
}

impl Worker {
    pub(super) fn new(id: usize, run: Run<'_>, balance: BandBalance) -> Self {
        let h = run.team.hidden;
        let quanta = balance.band(id);
        let band = run.splits.rows(quanta);
        let batch = run.config.batch.min(run.data.len());
        let lanes = lane_range(h, run.team.threads, id);
        Worker {
            id,
            lit: LitPixels::new(band.clone(), batch),
            band,
            quanta,
            balance,
            took_rows: false,
            pixels: 0,
            step_cost: (0, 0),
            grad_bias: vec![0.0; lanes.len()],
            lanes,
            // The last thread: the last stage of phase 1, which starts each batch waiting for
            // the stage before it; work at the end of its phase 3 fills that wait. (Split, the
            // layer cost each thread nearly what all of it cost one, and the first thread the
            // activation rows it fetched from across the cores.)
            output_layer: id + 1 == run.team.threads,
            output_step: OutputStep::new(h, batch),
            outputs: vec![SampleOutputs::default(); FINISH_GROUP],
            labels: Vec::with_capacity(batch),
            w_output_t: vec![0.0; h * OUTPUTS],
            phase2: Phase2Split::new(batch, run.team.threads),
            finished: 0..0,
            ticket: 0,
            seen: 0,
            batches: 0,
            phases: PhaseClock::default(),
        }
    }

    /// The mini-batch `order[batch_start..]` (at most `config.batch` samples): the three
    /// phases of the module docs, with one barrier, before phase 3; thread 0 adds the samples'
    /// losses and hits to `tally`.
    #[inline]
    pub(super) fn batch(&mut self, run: Run<'_>, order: &[u32], batch_start: usize, tally: &mut Tally) {
        let team = run.team;
        let batch_len = run.config.batch.min(order.len() - batch_start);
        let samples = &order[batch_start..batch_start + batch_len];
        let rows = team.hidden_rows[self.batches % 2];
        self.batches += 1;
        let t0 = self.phases.stamp();
        if std::mem::take(&mut self.took_rows) {
            // This band took rows from another thread after the last batch: that thread may
            // still be stepping them (its phase 3), and phase 1 is about to read them.
            let waited = self.phases.stamp();
            for (u, stepped) in team.stepped.iter().enumerate() {
                if u != self.id {
                    stepped.wait_for(self.batches - 1, &team.barrier);
                }
            }
            self.phases.move_to_waiting(HIDDEN_SUMS, ROWS_TAKEN, waited);
        }
        self.hidden_sums(run, rows, order, batch_start, batch_len);
        let t1 = self.phases.stamp();
        self.finish_samples(run, rows, samples);
        let t2 = self.phases.stamp();
        // The last step's speed, for every thread's `BandBalance` after the barrier.
        let (ticks, pixels) = self.step_cost;
        #[cfg(test)]
        let ticks =
            if team.shake_bands { pixels * if (self.batches / 7 + self.id) % 2 == 0 { 4 } else { 1 } } else { ticks };
        let (cost_ticks, cost_pixels) = &team.step_cost[self.id];
        cost_ticks.store(ticks, Ordering::Relaxed);
        cost_pixels.store(pixels, Ordering::Relaxed);
        let arrival = team.barrier.arrive(self.id);
        // Phase 3's row masks, from this thread's own recordings, while the others may still be
        // on their way: a thread that arrives first builds them in time it would have spent
        // spinning. (Counted with phase 3, not as waiting.)
        let building = self.phases.stamp();
        self.lit.prepare(run.config.level, batch_len);
        self.phases.move_from_waiting(GRADIENTS, building);
        let last = team.barrier.finish(arrival);
        self.phase2.give_away(last);
        if team.threads > 1 {
            let step_cost =
                |t: usize| (team.step_cost[t].0.load(Ordering::Relaxed), team.step_cost[t].1.load(Ordering::Relaxed));
            self.balance.update(step_cost);
        }
        let t3 = self.phases.stamp();
        self.gradients_and_steps(run, rows, samples);
        self.phases.end_batch([t0, t1, t2, t3]);
        team.stepped[self.id].0.store(self.batches, Ordering::Release);
        let quanta = self.balance.band(self.id);
        if quanta != self.quanta {
            // The new band, from the next batch on (this batch's pixels were recorded and
            // stepped in the old one).
            let band = run.splits.rows(quanta);
            self.took_rows = band.start < self.band.start || band.end > self.band.end;
            self.lit.rebind(band.clone());
            self.phases.band_moved();
            (self.band, self.quanta) = (band, quanta);
        }
        if self.id == 0 {
            // SAFETY: phase 3 — the handover is read-only for everyone until the last stage has
            // passed the next batch's first sample, which waits for this thread's phase 1.
            let (losses, hits) = unsafe {
                (std::slice::from_raw_parts(team.losses, batch_len), std::slice::from_raw_parts(team.hits, batch_len))
            };
            for (&loss, &hit) in losses.iter().zip(hits) {
                tally.loss_sum = tally.loss_sum + loss;
                tally.correct += hit as usize;
            }
            tally.samples += batch_len;
        }
    }

    // ANCHOR: phase1
    /// Phase 1: the hidden sums of the batch `order[batch_start..][..batch_len]`, a pipeline
    /// over the pixel bands — this thread adds its band's terms to each sample's sums and hands
    /// them on to the next thread.
    #[inline]
    fn hidden_sums(&mut self, run: Run<'_>, rows: *mut f64, order: &[u32], batch_start: usize, batch_len: usize) {
        let (team, data, h, level) = (run.team, run.data, run.team.hidden, run.config.level);
        let first_stage = self.id == 0;
        let samples = &order[batch_start..batch_start + batch_len];
        let first_row = self.band.start;
        // SAFETY: the band's rows are this thread's own: it stepped them in the last phase 3,
        // and no other thread ever touches them (other threads may be stepping theirs).
        let band_rows = unsafe { std::slice::from_raw_parts(team.w_hidden_t.add(first_row * h), self.band.len() * h) };
        for (s, &sample) in samples.iter().enumerate() {
            // Start loading the samples to come (a hint; no result changes): where the images
            // 16 ahead are stored and cut by the bands, so that 8 ahead this thread can ask for
            // just its own pixels.
            if let Some(&ahead) = order.get(batch_start + s + 16) {
                data.images.prefetch_offsets(ahead as usize);
                run.splits.prefetch(ahead as usize);
            }
            if let Some(&next) = order.get(batch_start + s + 8) {
                let (lo, hi) = run.splits.range(next as usize, self.quanta);
                data.images.prefetch_pixels(next as usize, lo..hi);
            }
            let image = data.images.get(sample as usize);
            let (lo, hi) = run.splits.range(sample as usize, self.quanta);
            self.pixels += (hi - lo) as u64;
            let (index, bytes) = (&image.index[lo..hi], &image.value[lo..hi]);
            // The previous stage's counter is read only when the count last read from it does not
            // cover this sample. Reading it for every sample while that stage kept writing it sent
            // its cache line back and forth between the cores twice a sample, and the last stage
            // took ~840 TSC cycles a sample instead of ~650 (h = 32) until the first had finished.
            if !first_stage && self.seen <= self.ticket {
                let waited = self.phases.stamp();
                self.seen = team.progress[self.id - 1].wait_for(self.ticket + 1, &team.barrier);
                self.phases.move_to_waiting(HIDDEN_SUMS, STAGE_BEFORE, waited);
            }
            // SAFETY: row `s` is this thread's from the moment the previous stage has
            // published it until this thread publishes it to the next.
            let sums = unsafe { std::slice::from_raw_parts_mut(rows.add(s * h), h) };
            // The same pixels, into the sample's stretch of `lit` for phase 3's step (`hidden_step`),
            // recorded as the gather reads them: a second pass over them in phase 3 cost about 8% of
            // a batch at h = 32.
            let mut sample_pixels = self.lit.sample(s);
            // SAFETY: the gather shows `record` only the pixels of `index`, which lie in this
            // thread's band (`BandSplits`' invariant): `lit`'s rows.
            let record = |k: usize, byte: u8| unsafe { sample_pixels.record_unchecked(k, byte) };
            // SAFETY: `splits.range` holds only pixels of this thread's band (`BandSplits`'
            // invariant), and `band_rows` is the band's rows of h weights.
            unsafe {
                pixel_sums_in_rows(
                    level,
                    sums,
                    band_rows,
                    first_row,
                    h,
                    index,
                    bytes,
                    &PIXEL_VALUE,
                    !first_stage,
                    record,
                )
            };
            self.ticket += 1;
            team.progress[self.id].0.store(self.ticket, Ordering::Release);
        }
    }
    // ANCHOR_END: phase1

    // ANCHOR: phase2
    /// Phase 2: the rest of the forward pass and both deltas for this thread's share of the
    /// batch's samples.
    #[inline]
    fn finish_samples(&mut self, run: Run<'_>, rows: *mut f64, samples: &[u32]) {
        let (team, h) = (run.team, run.team.hidden);
        let (s0, s1) = self.phase2.range(samples.len(), self.id);
        self.finished = s0..s1;
        // A group of samples is ready when the last stage of phase 1 has passed it. The first
        // wait is also for at least the batch's first sample, which means every thread has
        // finished the last batch's phase 3 (see "One barrier per batch" in the module docs),
        // so the parameters hold still from here on.
        let last = team.threads - 1;
        let batch_start_ticket = self.ticket - samples.len();
        let wait_for = |me: &mut Self, end: usize| {
            if me.id != last {
                let waited = me.phases.stamp();
                team.progress[last].wait_for(batch_start_ticket + end.max(1), &team.barrier);
                me.phases.move_to_waiting(FINISH, LAST_STAGE, waited);
            }
        };
        let mut groups = (s0..s1).step_by(FINISH_GROUP).map(|g| g..(g + FINISH_GROUP).min(s1));
        let Some(first) = groups.next() else {
            wait_for(self, 0);
            return;
        };
        wait_for(self, first.end);
        // This thread's own transpose of w_o, where finishing reads it: keeping one shared copy
        // in step in phase 3 had both threads writing every one of its cache lines.
        if reads_output_transpose(run.config.level, h) {
            // SAFETY: phase 2 — parameters are read-only for everyone (the wait above).
            let w_output = unsafe { std::slice::from_raw_parts(team.w_output, OUTPUTS * h) };
            for (o, row) in w_output.chunks_exact(h).enumerate() {
                for (j, &w) in row.iter().enumerate() {
                    self.w_output_t[j * OUTPUTS + o] = w;
                }
            }
        }
        for (k, range) in std::iter::once(first).chain(groups).enumerate() {
            // Finish each group as soon as the last stage has passed it, rather than wait for
            // all of this thread's samples first: the first stage, which takes most of them,
            // waited 2-3k cycles a batch at h = 32 for the last stage to pass its last ones.
            // (The first group's wait is the one above.)
            if k > 0 {
                wait_for(self, range.end);
            }
            let (g0, g1) = (range.start, range.end);
            // SAFETY: as above.
            let params = unsafe { team.params(&self.w_output_t) };
            self.labels.clear();
            self.labels.extend(samples[g0..g1].iter().map(|&sample| run.data.labels[sample as usize]));
            // SAFETY: the handover, hidden rows and delta rows `s0..s1` belong to this thread in
            // phase 2, the hidden rows from the moment the last stage of phase 1 has passed them:
            // rows `g0..g1` have been (the wait above), and the rows after them are not touched
            // yet.
            let (hidden, delta_hidden, delta_out, losses, hits) = unsafe {
                (
                    std::slice::from_raw_parts_mut(rows.add(g0 * h), (g1 - g0) * h),
                    std::slice::from_raw_parts_mut(team.delta_hidden_rows.add(g0 * h), (g1 - g0) * h),
                    std::slice::from_raw_parts_mut(team.delta_out.add(g0), g1 - g0),
                    std::slice::from_raw_parts_mut(team.losses.add(g0), g1 - g0),
                    std::slice::from_raw_parts_mut(team.hits.add(g0), g1 - g0),
                )
            };
            let outputs = &mut self.outputs[..g1 - g0];
            finish_samples(run.config.level, &params, &self.labels, hidden, delta_hidden, outputs);
            for (i, out) in outputs.iter().enumerate() {
                (delta_out[i], losses[i], hits[i]) = (out.delta_out, out.loss, out.correct);
            }
        }
    }
    // ANCHOR_END: phase2

    // ANCHOR: phase3
    /// Phase 3: the gradients and steps of the parameters this thread owns — its band of
    /// hidden-weight rows, its hidden biases, its output units.
    #[inline]
    fn gradients_and_steps(&mut self, run: Run<'_>, rows: *mut f64, samples: &[u32]) {
        let (team, h, level, lr) = (run.team, run.team.hidden, run.config.level, run.config.lr);
        let batch_len = samples.len();
        // SAFETY: phase 3 — the handover, this batch's hidden rows and the delta rows are
        // read-only for everyone: the next batch's phase 1 writes the other row buffer, and its
        // phase 2 waits for every thread's phase 3.
        let (hidden_rows, delta_hidden_rows) = unsafe {
            (
                std::slice::from_raw_parts(rows, batch_len * h),
                std::slice::from_raw_parts(team.delta_hidden_rows, batch_len * h),
            )
        };
        let scale = BatchScale::new(batch_len);
        // The other threads' samples' activations and deltas were written on their cores in
        // phase 2. Ask for all their lines at once, so the transfers overlap; the loops below
        // would otherwise meet them one at a time. Only while they fit a third of a 48 KB L1
        // cache, beside the weight rows the step streams (at h = 32, 12 KB at most: 2-4% faster
        // batches on 2 threads; at h = 512, up to 128 KB, it was 2% slower). A hint: no result
        // changes.
        let (s0, s1) = (self.finished.start, self.finished.end);
        let remote_rows = batch_len - (s1 - s0);
        if 2 * remote_rows * h * std::mem::size_of::<f64>() <= 16 << 10 {
            for s in (0..s0).chain(s1..batch_len) {
                prefetch_lines(&delta_hidden_rows[s * h..(s + 1) * h]);
                if self.output_layer {
                    prefetch_lines(&hidden_rows[s * h..(s + 1) * h]);
                }
            }
        }

        // This thread's band of hidden-weight rows (see `hidden_step`), stepped by the batch's
        // pixels that phase 1 recorded in `lit`.
        let started = if team.threads > 1 { ticks() } else { 0 };
        // SAFETY: rows `band` of the hidden weights are this thread's in phase 3.
        unsafe {
            hidden_step_shared(
                level,
                team.w_hidden_t.add(self.band.start * h),
                self.band.len(),
                h,
                0..h,
                &mut self.lit,
                delta_hidden_rows,
                lr,
                scale,
            );
        }
        if team.threads > 1 {
            self.step_cost = (ticks() - started, self.pixels);
        }
        self.pixels = 0;

        // This thread's hidden biases: g_bh[j] = Σ_s delta_hidden[s][j].
        let lanes = self.lanes.clone();
        if !lanes.is_empty() {
            bias_sums(level, &mut self.grad_bias, delta_hidden_rows, h, lanes.clone());
            // SAFETY: lanes `lanes` of the hidden bias are this thread's in phase 3.
            let b_hidden = unsafe { std::slice::from_raw_parts_mut(team.b_hidden.add(lanes.start), lanes.len()) };
            sgd_step(level, b_hidden, &mut self.grad_bias, lr, scale);
        }

        // The output layer, if this thread owns it (see `output_step`).
        if self.output_layer {
            // SAFETY: phase 3 — the handover is read-only for everyone.
            let delta_out = unsafe { std::slice::from_raw_parts(team.delta_out, batch_len) };
            // SAFETY: the output layer's weights and biases are this thread's in phase 3.
            let (w_output, b_output) = unsafe {
                (
                    std::slice::from_raw_parts_mut(team.w_output, OUTPUTS * h),
                    std::slice::from_raw_parts_mut(team.b_output, OUTPUTS),
                )
            };
            self.output_step.step(level, w_output, b_output, hidden_rows, delta_out, lr, scale);
        }
    }
    // ANCHOR_END: phase3
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::fixture;
    use crate::nn::reference::train_reference;

    /// Bands that move every few batches, on both edges of a middle thread, end on the reference
    /// trainer's bits, and the test sees them move.
    #[test]
    fn bands_that_keep_moving_change_no_bit() {
        let data = fixture::load_train();
        let base = TrainConfig { epochs: 2, threads: 1, level: SimdLevel::SCALAR, ..TrainConfig::default() };
        let mut reference_log = Vec::new();
        let reference = train_reference(&base, &data, |r| reference_log.push((r.loss, r.correct)));
        for level in SimdLevel::available() {
            for threads in [2, 3] {
                let config = TrainConfig { threads, level, ..base.clone() };
                let mut log = Vec::new();
                let (net, profiles) = train_team(&config, &data, &mut |r, _| log.push((r.loss, r.correct)), true, true);
                assert_eq!(log, reference_log, "{level}, {threads} threads: epoch log");
                assert!(net == reference, "{level}, {threads} threads: parameters differ from the reference");
                // 2 × 63 batches, the slow thread changing every 7: every band moves in most of them
                // (109 times each on two threads, 57 on three), or the test would prove little.
                for (id, p) in profiles.iter().enumerate() {
                    let moves = p.as_ref().expect("profiled").band_moves;
                    assert!(moves >= 40, "{level}, {threads} threads: thread {id}'s band moved {moves} times");
                }
            }
        }
    }
}
