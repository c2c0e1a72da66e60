//! Where a training run's time goes, phase by phase: what `mnistlearn time-phases` measures for
//! the measurements page. Stamps are read only when a run asks for them
//! ([`train_profiled`](super::train::train_profiled)); a plain run pays one untaken branch per
//! stamp. Time is never an input of the arithmetic, so a profiled run ends on the same bits.

/// The phases of a batch, in the order [`PhaseTicks::ticks`] keeps them.
pub const PHASES: [&str; 4] = ["hidden sums", "output and deltas", "gradients and steps", "waiting"];

/// What a thread waits for, in the order [`PhaseTicks::waits`] keeps them: the stage before it
/// in phase 1, the last stage in phase 2 (a group of its samples), the others at the barrier
/// before phase 3 (net of the row masks built there), another thread's step of rows its band has
/// just taken, and the others at the end of an epoch.
pub const WAITS: [&str; 5] = ["the stage before", "the last stage", "the barrier", "rows taken", "the epoch's end"];

/// Indices into [`PhaseTicks::waits`].
pub(super) const STAGE_BEFORE: usize = 0;
pub(super) const LAST_STAGE: usize = 1;
pub(super) const BARRIER: usize = 2;
pub(super) const ROWS_TAKEN: usize = 3;
pub(super) const EPOCH_END: usize = 4;

/// One thread's time in each phase, summed over a run, in [`ticks`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PhaseTicks {
    /// `ticks[i]`: time in phase [`PHASES`]`[i]`. "waiting" is the barrier and the pipeline's
    /// progress waits; the other phases exclude them.
    pub ticks: [u64; 4],
    /// `waits[k]`: the part of "waiting" spent waiting for [`WAITS`]`[k]` (they sum to it).
    pub waits: [u64; 5],
    /// Batches this thread took part in.
    pub batches: u64,
    /// How often this thread's band of pixel rows moved (`BandBalance`), and where it ended.
    pub band_moves: u64,
    pub band: std::ops::Range<usize>,
}

/// Indices into [`PhaseTicks::ticks`].
pub(super) const HIDDEN_SUMS: usize = 0;
pub(super) const FINISH: usize = 1;
pub(super) const GRADIENTS: usize = 2;
pub(super) const WAITING: usize = 3;

/// A time stamp: the time-stamp counter on x86-64 (a read costs about 20 cycles, where a clock
/// call would cost a few times that, thousands of times per epoch); nanoseconds elsewhere.
#[inline(always)]
pub fn ticks() -> u64 {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `rdtsc` exists on every x86-64 CPU and has no preconditions.
    #[allow(unused_unsafe)]
    return unsafe { std::arch::x86_64::_rdtsc() };
    #[cfg(not(target_arch = "x86_64"))]
    {
        static START: std::sync::OnceLock<crate::clock::Instant> = std::sync::OnceLock::new();
        START.get_or_init(crate::clock::now).elapsed().as_nanos() as u64
    }
}

/// A thread's stopwatch over the phases: inert (no clock reads) unless the run is profiled.
#[derive(Debug, Default)]
pub(super) struct PhaseClock(Option<PhaseTicks>);

impl PhaseClock {
    pub(super) fn running() -> PhaseClock {
        PhaseClock(Some(PhaseTicks::default()))
    }

    /// A time stamp if the run is profiled (0 otherwise: no clock read).
    #[inline(always)]
    pub(super) fn stamp(&self) -> u64 {
        if self.0.is_some() {
            ticks()
        } else {
            0
        }
    }

    /// Counts the time since `since` as waiting for `what` ([`WAITS`]), not as part of `phase`
    /// (whose stamps enclose it).
    #[inline(always)]
    pub(super) fn move_to_waiting(&mut self, phase: usize, what: usize, since: u64) {
        if let Some(p) = self.0.as_mut() {
            let spent = move_time(p, phase, WAITING, since);
            p.waits[what] += spent;
        }
    }

    /// Counts the time since `since`, inside the waiting at the barrier (whose stamps enclose
    /// it), as part of `phase`.
    #[inline(always)]
    pub(super) fn move_from_waiting(&mut self, phase: usize, since: u64) {
        if let Some(p) = self.0.as_mut() {
            let spent = move_time(p, WAITING, phase, since);
            // Wrapping: the barrier's own span is added when the batch ends (`end_batch`).
            p.waits[BARRIER] = p.waits[BARRIER].wrapping_sub(spent);
        }
    }

    /// Counts the time since `since` as waiting for the end of an epoch.
    #[inline(always)]
    pub(super) fn add_epoch_waiting(&mut self, since: u64) {
        if let Some(p) = self.0.as_mut() {
            let spent = ticks() - since;
            p.ticks[WAITING] += spent;
            p.waits[EPOCH_END] += spent;
        }
    }

    /// Ends a batch whose phases began at `starts` (hidden sums, output and deltas, the
    /// barrier, gradients and steps), the last one ending now.
    #[inline(always)]
    pub(super) fn end_batch(&mut self, starts: [u64; 4]) {
        if let Some(p) = self.0.as_mut() {
            let [t0, t1, t2, t3] = starts;
            p.ticks[HIDDEN_SUMS] = p.ticks[HIDDEN_SUMS].wrapping_add(t1 - t0);
            p.ticks[FINISH] = p.ticks[FINISH].wrapping_add(t2 - t1);
            p.ticks[WAITING] = p.ticks[WAITING].wrapping_add(t3 - t2);
            p.waits[BARRIER] = p.waits[BARRIER].wrapping_add(t3 - t2);
            p.ticks[GRADIENTS] += ticks() - t3;
            p.batches += 1;
        }
    }

    /// Counts a move of the thread's band.
    pub(super) fn band_moved(&mut self) {
        if let Some(p) = self.0.as_mut() {
            p.band_moves += 1;
        }
    }

    /// The thread's times, its band `band` at the end.
    pub(super) fn into_ticks(self, band: std::ops::Range<usize>) -> Option<PhaseTicks> {
        self.0.map(|p| PhaseTicks { band, ..p })
    }
}

/// Counts the time since `since` in phase `to`, not in `from`, whose stamps enclose it; returns
/// that time.
#[inline(always)]
fn move_time(p: &mut PhaseTicks, from: usize, to: usize, since: u64) -> u64 {
    let spent = ticks() - since;
    p.ticks[to] = p.ticks[to].wrapping_add(spent);
    // Wrapping: `from`'s own span is added when the batch ends (`end_batch`).
    p.ticks[from] = p.ticks[from].wrapping_sub(spent);
    spent
}
