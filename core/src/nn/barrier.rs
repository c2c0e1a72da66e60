//! How the trainer's threads wait for each other: a spinning barrier and a per-thread progress
//! counter. Synchronisation only: nothing here touches a value of the network, so it cannot
//! change a bit of the result.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

// ANCHOR: spin_barrier
/// A barrier for a few threads that meet ~56,000 times per run (once per batch): spinning
/// briefly is much cheaper than a futex sleep (see [`SpinBarrier::spin_until`]).
///
/// Arriving threads count themselves on one cache line; the last one lets the others go on
/// another, the one they spin on. The last thread's way through is then one transfer of a line
/// between the cores (the count), where with the count and the release on one line it took three
/// in a row, each waiting for the spinners to give the line back: about 1k TSC cycles a batch on
/// this machine, whose cores are ~390 TSC cycles apart.
pub(super) struct SpinBarrier {
    count: usize,
    /// How long a waiter spins before yielding ([`spin_limit`]).
    spins: u32,
    /// Threads arrived so far in this round.
    arrived: Line<AtomicUsize>,
    /// `generation << 16 | last`: how many rounds have ended, and which thread arrived last in
    /// the latest one. Waiters spin on it.
    release: Line<AtomicUsize>,
    /// Set when a thread of the team panics ([`PoisonOnPanic`]): every waiter, here or on a
    /// [`Progress`] counter, then panics too, rather than wait for ever for a thread that is
    /// gone. Only ever written then, so it stays in every reader's cache.
    poisoned: Line<AtomicBool>,
}

/// A thread's arrival at a [`SpinBarrier`] ([`SpinBarrier::arrive`]): the last thread of the
/// round (`Ok`), or the release value seen before arriving, which waiters spin on until it
/// changes (`Err`).
#[must_use = "an arrival is completed by `SpinBarrier::finish`"]
pub(super) struct Arrival(Result<usize, usize>);

/// A value on a cache line of its own.
#[repr(align(64))]
struct Line<T>(T);

impl SpinBarrier {
    pub(super) fn new(count: usize) -> SpinBarrier {
        assert!(count <= 1 << 16, "thread numbers fit in 16 bits");
        SpinBarrier {
            count,
            spins: spin_limit(count),
            arrived: Line(AtomicUsize::new(0)),
            release: Line(AtomicUsize::new(0)),
            poisoned: Line(AtomicBool::new(false)),
        }
    }

    /// Thread `id` waits until every thread of the team has arrived; everything each did before
    /// arriving, every thread sees after. Returns the thread that arrived last, the same on
    /// every thread, so that each can act on it (who gives a sample away in phase 2) on its own.
    pub(super) fn wait(&self, id: usize) -> usize {
        self.finish(self.arrive(id))
    }

    /// [`wait`](Self::wait) in two halves: thread `id` arrives, and may then work on its own
    /// data — nothing another thread reads after the barrier — before it [`finish`]es waiting.
    /// The last thread to arrive is let go at once; the others' work fills time they would
    /// have spent spinning.
    ///
    /// [`finish`]: Self::finish
    pub(super) fn arrive(&self, id: usize) -> Arrival {
        if self.count == 1 {
            return Arrival(Ok(id));
        }
        let (arrived, release) = (&self.arrived.0, &self.release.0);
        let seen = release.load(Ordering::Acquire);
        if arrived.fetch_add(1, Ordering::AcqRel) + 1 == self.count {
            arrived.store(0, Ordering::Relaxed);
            release.store(((seen >> 16) + 1) << 16 | id, Ordering::Release);
            Arrival(Ok(id))
        } else {
            Arrival(Err(seen))
        }
    }

    /// Waits until every thread has arrived in the round of `arrival`; returns the thread that
    /// arrived last, as [`wait`](Self::wait) does.
    pub(super) fn finish(&self, arrival: Arrival) -> usize {
        match arrival.0 {
            Ok(last) => last,
            Err(seen) => {
                let release = &self.release.0;
                let mut now = seen;
                self.spin_until(|| {
                    now = release.load(Ordering::Acquire);
                    now != seen
                });
                now & 0xFFFF
            }
        }
    }

    /// Waits for `done()`: up to `spins` pause-spins first, then yielding the core, so an
    /// oversubscribed machine still progresses. Panics if the team is poisoned meanwhile.
    #[inline]
    fn spin_until(&self, mut done: impl FnMut() -> bool) {
        let mut spins = 0u32;
        while !done() {
            if self.poisoned.0.load(Ordering::Relaxed) {
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
            self.0.poisoned.0.store(true, Ordering::Relaxed);
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

    #[test]
    fn every_thread_learns_the_same_last_arrival_and_sees_the_others_writes() {
        // With `wait`, and with every other round in two halves, `arrive`, some work, `finish`.
        for (threads, split) in (1..=4usize).flat_map(|t| [(t, false), (t, true)]) {
            let rounds = 2_000;
            let barrier = SpinBarrier::new(threads);
            // `written[t]`: the last round thread t has finished writing before arriving.
            let written: Vec<AtomicUsize> = (0..threads).map(|_| AtomicUsize::new(0)).collect();
            let answers: Vec<Vec<usize>> = std::thread::scope(|scope| {
                let handles: Vec<_> = (0..threads)
                    .map(|id| {
                        let (barrier, written) = (&barrier, &written);
                        scope.spawn(move || {
                            (1..=rounds)
                                .map(|round| {
                                    // Stagger the arrivals so that every thread is sometimes last.
                                    for _ in 0..(round * 7 + id * 13) % 50 {
                                        std::hint::spin_loop();
                                    }
                                    written[id].store(round, Ordering::Relaxed);
                                    let last = if split && round % 2 == 0 {
                                        let arrival = barrier.arrive(id);
                                        for _ in 0..(round * 5 + id * 11) % 40 {
                                            std::hint::spin_loop();
                                        }
                                        barrier.finish(arrival)
                                    } else {
                                        barrier.wait(id)
                                    };
                                    for w in written {
                                        assert!(
                                            w.load(Ordering::Relaxed) >= round,
                                            "a write before the barrier is seen after it"
                                        );
                                    }
                                    last
                                })
                                .collect::<Vec<_>>()
                        })
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().expect("no panic")).collect()
            });
            for round in 0..rounds {
                let last = answers[0][round];
                assert!(last < threads);
                assert!(
                    answers.iter().all(|a| a[round] == last),
                    "{threads} threads, round {round}: {:?}",
                    answers.iter().map(|a| a[round]).collect::<Vec<_>>()
                );
            }
            if threads > 1 {
                let distinct: std::collections::BTreeSet<_> = answers[0].iter().collect();
                assert!(distinct.len() > 1, "{threads} threads: the last arrival varies");
            }
        }
    }
}
