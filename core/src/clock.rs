//! A monotonic clock for the trainer's reported times, on every target.
//!
//! `std::time::Instant` panics on wasm32-unknown-unknown (there is no OS to ask), so there the
//! time comes from the page: the module imports `env.now_ms` (the JavaScript glue passes
//! `performance.now`). Times are reported, never used in the arithmetic, so the clock cannot
//! change a bit of a run.

use std::time::Duration;

/// A point in time, from [`now`].
#[derive(Clone, Copy, Debug)]
pub struct Instant(Inner);

#[cfg(not(target_arch = "wasm32"))]
type Inner = std::time::Instant;

#[cfg(target_arch = "wasm32")]
type Inner = f64;

#[cfg(target_arch = "wasm32")]
mod host {
    #[link(wasm_import_module = "env")]
    extern "C" {
        /// Milliseconds since some fixed point, non-decreasing (`performance.now()`).
        pub fn now_ms() -> f64;
    }
}

/// Now.
pub fn now() -> Instant {
    #[cfg(not(target_arch = "wasm32"))]
    return Instant(std::time::Instant::now());
    #[cfg(target_arch = "wasm32")]
    // SAFETY: an imported function without arguments or memory access; the glue provides it.
    return Instant(unsafe { host::now_ms() });
}

impl Instant {
    /// The time since `self`.
    pub fn elapsed(&self) -> Duration {
        #[cfg(not(target_arch = "wasm32"))]
        return self.0.elapsed();
        #[cfg(target_arch = "wasm32")]
        return Duration::from_secs_f64(((now().0 - self.0) / 1000.0).max(0.0));
    }
}

/// A stopwatch that can be paused: the trainer stops it while its caller's `on_epoch` runs, so
/// the reported training time is the trainer's own, whatever the caller does between epochs.
#[derive(Debug)]
pub struct Stopwatch {
    running_since: Option<Instant>,
    banked: Duration,
}

impl Stopwatch {
    /// A stopwatch that is running.
    pub fn start() -> Stopwatch {
        Stopwatch { running_since: Some(now()), banked: Duration::ZERO }
    }

    /// The time it has run.
    pub fn elapsed(&self) -> Duration {
        self.banked + self.running_since.map_or(Duration::ZERO, |t| t.elapsed())
    }

    pub fn pause(&mut self) {
        if let Some(t) = self.running_since.take() {
            self.banked += t.elapsed();
        }
    }

    pub fn resume(&mut self) {
        if self.running_since.is_none() {
            self.running_since = Some(now());
        }
    }
}
