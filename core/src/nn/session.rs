//! The trainer in slices: a single-thread run that its caller advances a few batches at a time
//! (the browser's Web Worker, which must answer pause and stop between slices and draw the run
//! as it goes).
//!
//! It is not a third trainer: a session is [`train`](super::train::train)'s own team with one
//! thread, running the same [`Worker::batch`] on the same buffers, with the epoch loop unrolled
//! into [`Session::step`]. Slicing only decides when control returns to the caller, so a session
//! ends on the same bits as `train` and `train_reference` however it is sliced
//! (`core/tests/it/session.rs`).

use super::bands::{grid_cuts, grid_quanta, BandBalance, BandSplits};
use super::train::{EpochReport, Run, Tally, Team, TrainConfig, Worker};
use super::{Network, INPUTS};
use crate::clock::Stopwatch;
use crate::data::shuffle::Rng;
use crate::data::Dataset;

/// A training run that advances when asked. `config.threads` is ignored (one thread).
pub struct Session<'d> {
    config: TrainConfig,
    data: &'d Dataset,
    rng: Rng,
    /// Works on `net`'s buffers in place through raw pointers; declared before `net` so it is
    /// dropped first.
    team: Team,
    splits: BandSplits,
    worker: Worker,
    /// Owns the parameters the team works on (their heap blocks never move).
    net: Network,
    /// Epochs finished.
    epochs_done: usize,
    /// Where the next batch starts in this epoch's order; `None` before the epoch's shuffle.
    next: Option<usize>,
    tally: Tally,
    /// Runs only inside [`Session::step`]: the trainer's own time, as `train` reports it.
    clock: Stopwatch,
}

/// Where a session stands.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Progress {
    /// Epochs finished.
    pub epochs_done: usize,
    /// Samples of the current epoch trained so far, with their summed loss and hits (what the
    /// epoch's log line will average).
    pub samples: usize,
    pub loss_sum: f64,
    pub correct: usize,
}

impl<'d> Session<'d> {
    /// A run of `config` on `data`, initialised exactly as `train` initialises it.
    pub fn new(config: &TrainConfig, data: &'d Dataset) -> Session<'d> {
        assert!(config.batch > 0 && !data.is_empty());
        let config = TrainConfig { threads: 1, ..config.clone() };
        let mut rng = Rng::from_seed(config.seed);
        let mut net = Network::init(config.hidden, &mut rng);
        let team = Team::new(&config, data, &mut net);
        let quanta = grid_quanta(1);
        let splits = BandSplits::new(data, &grid_cuts(&data.images.pixel_histogram(), quanta));
        let worker =
            Worker::new(0, Run { team: &team, splits: &splits, config: &config, data }, BandBalance::new(quanta, 1));
        let mut clock = Stopwatch::start();
        clock.pause();
        Session {
            config,
            data,
            rng,
            team,
            splits,
            worker,
            net,
            epochs_done: 0,
            next: None,
            tally: Tally::default(),
            clock,
        }
    }

    // ANCHOR: step
    /// Trains up to `batches` mini-batches, stopping early at the end of an epoch, whose report
    /// it returns. Does nothing once every epoch is done.
    pub fn step(&mut self, batches: usize) -> Option<EpochReport> {
        let n = self.data.len();
        self.clock.resume();
        let mut report = None;
        for _ in 0..batches {
            if self.is_finished() {
                break;
            }
            let start = match self.next {
                Some(start) => start,
                None => {
                    // SAFETY: one thread, between batches: nobody reads `order` now.
                    unsafe { self.team.shuffle(&mut self.rng) };
                    0
                }
            };
            let run = Run { team: &self.team, splits: &self.splits, config: &self.config, data: self.data };
            // SAFETY: one thread, and `order` changes only in the shuffle above.
            let order = unsafe { &*self.team.order.get() };
            self.worker.batch(run, order, start, &mut self.tally);
            let end = start + self.config.batch.min(n - start);
            if end < n {
                self.next = Some(end);
                continue;
            }
            self.epochs_done += 1;
            report = Some(self.tally.report(self.epochs_done, self.config.epochs, self.clock.elapsed()));
            self.tally = Tally::default();
            self.next = None;
            break;
        }
        self.clock.pause();
        report
    }
    // ANCHOR_END: step

    /// Whether every epoch of the recipe is done.
    pub fn is_finished(&self) -> bool {
        self.epochs_done == self.config.epochs
    }

    pub fn progress(&self) -> Progress {
        Progress {
            epochs_done: self.epochs_done,
            samples: self.tally.samples,
            loss_sum: self.tally.loss_sum,
            correct: self.tally.correct,
        }
    }

    /// Mini-batches per epoch.
    pub fn batches_per_epoch(&self) -> usize {
        self.data.len().div_ceil(self.config.batch)
    }

    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    /// The hidden weights as they stand, transposed as the trainer keeps them: row `k` (one per
    /// input pixel) holds the H weights from pixel `k`. (For drawing the units without a copy.)
    pub fn hidden_weights_t(&self) -> &[f64] {
        // SAFETY: the team writes the parameters only inside `step`, which needs `&mut self`;
        // the buffer has this length and lives as long as `self.net`.
        unsafe { std::slice::from_raw_parts(self.net.w_hidden_t.as_ptr(), INPUTS * self.config.hidden) }
    }

    /// A copy of the network as it stands (between batches, so every parameter is stepped).
    pub fn network(&self) -> Network {
        // SAFETY: no thread writes parameters outside `step` (see `hidden_weights_t`).
        unsafe { self.team.snapshot() }
    }

    /// The trainer's own time so far (it runs only inside `step`).
    pub fn elapsed(&self) -> std::time::Duration {
        self.clock.elapsed()
    }
}
