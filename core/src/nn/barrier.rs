//! How the trainer's threads wait for each other: a spinning barrier and a per-thread progress
//! counter. Synchronisation only: nothing here touches a value of the network, so it cannot
//! change a bit of the result.

use std::sync::atomic::{AtomicUsize, Ordering};

// ANCHOR: spin_barrier
/// A barrier for a few threads that meet ~56,000 times per run (once per batch):
/// spinning briefly is much cheaper than a futex sleep (see [`spin_until`]).
pub(super) struct SpinBarrier {
    count: usize,
    arrived: AtomicUsize,
    generation: AtomicUsize,
    /// How long a waiter spins before yielding ([`spin_limit`]).
    pub(super) spins: u32,
}

impl SpinBarrier {
    pub(super) fn new(count: usize) -> SpinBarrier {
        SpinBarrier { count, arrived: AtomicUsize::new(0), generation: AtomicUsize::new(0), spins: spin_limit(count) }
    }

    pub(super) fn wait(&self) {
        self.wait_then(|| ());
    }

    /// [`SpinBarrier::wait`], where the thread that arrives last runs `last` before it lets the
    /// others go: whatever `last` writes, every thread sees once it has passed the barrier, and
    /// everything the others did before arriving, `last` sees.
    pub(super) fn wait_then(&self, last: impl FnOnce()) {
        if self.count == 1 {
            last();
            return;
        }
        let generation = self.generation.load(Ordering::Acquire);
        if self.arrived.fetch_add(1, Ordering::AcqRel) + 1 == self.count {
            last();
            self.arrived.store(0, Ordering::Relaxed);
            self.generation.fetch_add(1, Ordering::Release);
        } else {
            spin_until(self.spins, || self.generation.load(Ordering::Acquire) != generation);
        }
    }
}

/// How many pause-spins a waiter of a team of `threads` makes before yielding its core: a few
/// thousand when every thread has a core of its own (the awaited thread is usually a
/// microsecond away), none when there are more threads than cores. Then the awaited thread is
/// often not running at all, and every spin only delays it: `--threads 256` on two cores took
/// 33 s for one epoch of the fixture spinning, against 0.08 s with two threads.
fn spin_limit(threads: usize) -> u32 {
    let cores = std::thread::available_parallelism().map_or(usize::MAX, |n| n.get());
    if threads > cores {
        0
    } else {
        4_000
    }
}

/// Waits for `done()`: up to `limit` pause-spins first, then yielding the core, so an
/// oversubscribed machine still progresses.
#[inline]
fn spin_until(limit: u32, done: impl Fn() -> bool) {
    let mut spins = 0u32;
    while !done() {
        if spins < limit {
            std::hint::spin_loop();
            spins += 1;
        } else {
            std::thread::yield_now();
        }
    }
}
// ANCHOR_END: spin_barrier

/// A sample counter on a cache line of its own (so two threads' counters never share one).
#[repr(align(64))]
pub(super) struct Progress(pub(super) AtomicUsize);

impl Progress {
    /// Waits until at least `count` samples are done, spinning up to `spins` times first.
    pub(super) fn wait_for(&self, count: usize, spins: u32) {
        spin_until(spins, || self.0.load(Ordering::Acquire) >= count);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waiters_spin_only_when_every_thread_has_a_core() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        assert_eq!(spin_limit(1), 4_000);
        assert_eq!(spin_limit(cores), 4_000);
        assert_eq!(spin_limit(cores + 1), 0, "oversubscribed: yield at once");
        assert_eq!(spin_limit(256.max(cores + 1)), 0);
    }
}
