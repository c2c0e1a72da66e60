//! How the trainer's threads wait for each other: a spinning barrier and a per-thread progress
//! counter. Synchronisation only: nothing here touches a value of the network, so it cannot
//! change a bit of the result.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

// ANCHOR: spin_barrier
/// A barrier for a few threads that meet ~56,000 times per run (once per batch):
/// spinning briefly is much cheaper than a futex sleep (see [`SpinBarrier::spin_until`]).
pub(super) struct SpinBarrier {
    count: usize,
    arrived: AtomicUsize,
    generation: AtomicUsize,
    /// How long a waiter spins before yielding ([`spin_limit`]).
    spins: u32,
    /// Set when a thread of the team panics ([`PoisonOnPanic`]): every waiter, here or on a
    /// [`Progress`] counter, then panics too, rather than wait for ever for a thread that is
    /// gone.
    poisoned: AtomicBool,
}

impl SpinBarrier {
    pub(super) fn new(count: usize) -> SpinBarrier {
        SpinBarrier {
            count,
            arrived: AtomicUsize::new(0),
            generation: AtomicUsize::new(0),
            spins: spin_limit(count),
            poisoned: AtomicBool::new(false),
        }
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
            self.spin_until(|| self.generation.load(Ordering::Acquire) != generation);
        }
    }

    /// Waits for `done()`: up to `spins` pause-spins first, then yielding the core, so an
    /// oversubscribed machine still progresses. Panics if the team is poisoned meanwhile.
    #[inline]
    fn spin_until(&self, mut done: impl FnMut() -> bool) {
        let mut spins = 0u32;
        while !done() {
            if self.poisoned.load(Ordering::Relaxed) {
                panic!("another thread of the training team panicked");
            }
            if spins < self.spins {
                std::hint::spin_loop();
                spins += 1;
            } else {
                std::thread::yield_now();
            }
        }
    }
}

/// Poisons its team's barrier if the thread that holds it unwinds (a panic), so that the other
/// threads stop waiting for it and fail too, instead of spinning for ever.
pub(super) struct PoisonOnPanic<'a>(pub(super) &'a SpinBarrier);

impl Drop for PoisonOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.poisoned.store(true, Ordering::Relaxed);
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

// ANCHOR_END: spin_barrier

/// A sample counter on a cache line of its own (so two threads' counters never share one).
#[repr(align(64))]
pub(super) struct Progress(pub(super) AtomicUsize);

impl Progress {
    /// Waits until at least `count` samples are done, as `barrier`'s waiters wait (and failing
    /// with them if the team is poisoned); returns the count it saw, which may be more.
    pub(super) fn wait_for(&self, count: usize, barrier: &SpinBarrier) -> usize {
        let mut seen = self.0.load(Ordering::Acquire);
        if seen < count {
            barrier.spin_until(|| {
                seen = self.0.load(Ordering::Acquire);
                seen >= count
            });
        }
        seen
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
