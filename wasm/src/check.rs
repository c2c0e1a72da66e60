//! Conformance exports: what `tests/wasm/check.mjs` runs in Node to hold the module to the
//! native build bit for bit (`cargo xtask cross`).
//!
//! * [`run`]: a training run on the data of [`set_data`](crate::set_data), leaving the log the
//!   binary prints (wall-clock line and all) in the result buffer and the weights.bin bytes for
//!   [`weights`]. The script compares the fixture run's log and weights hash with
//!   `golden/fixture_*.snap`, and the default 30-epoch run's hash with `golden/full_run.txt`.

use std::cell::RefCell;

use mnistlearn_core::nn::evaluate::evaluate;
use mnistlearn_core::nn::train::{train, TrainConfig};
use mnistlearn_core::{report, weights};

use crate::{finish, level, with_data};

thread_local! {
    /// The weights.bin bytes of the last [`run`].
    static WEIGHTS: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Trains on data slot 0 with the given recipe at level `simd` (see the crate docs), on one
/// thread, then evaluates on slot 1; the result is the log, line for line as `mnistlearn train`
/// prints it. Returns 0, or 1 with a message (no data, a recipe out of range).
#[cfg_attr(target_arch = "wasm32", no_mangle)]
pub extern "C" fn run(epochs: u32, batch: u32, hidden: u32, lr: f64, seed: u64, simd: u32) -> i32 {
    finish(run_log(epochs as usize, batch as usize, hidden as usize, lr, seed, simd).map(String::into_bytes))
}

/// [`run`] for Rust callers.
pub fn run_log(epochs: usize, batch: usize, hidden: usize, lr: f64, seed: u64, simd: u32) -> Result<String, String> {
    if !(1..=10_000).contains(&epochs) || !(1..=65_536).contains(&batch) || !(1..=4096).contains(&hidden) {
        return Err(format!("recipe epochs {epochs}, batch {batch}, hidden {hidden}: out of range"));
    }
    if !(lr.is_finite() && lr > 0.0) {
        return Err(format!("learning rate {lr}: expected a positive finite number"));
    }
    let config = TrainConfig { epochs, batch, lr, hidden, seed, threads: 1, level: level(simd) };
    let mut lines = vec![report::banner(), report::training_header(hidden)];
    let mut seconds = 0.0;
    let net = with_data(0, |data| {
        train(&config, data, |epoch| {
            seconds = epoch.elapsed.as_secs_f64();
            lines.push(report::epoch_line(epoch));
        })
    })?;
    lines.push(report::training_time_line(seconds));
    lines.push("Saving weights... done.".to_string());
    WEIGHTS.with(|w| *w.borrow_mut() = weights::encode(&net));
    lines.extend(with_data(1, |test| report::test_block(&evaluate(config.level, &net, test, 1)))?);
    Ok(lines.iter().map(|l| format!("{l}\n")).collect())
}

/// Leaves the weights.bin bytes of the last [`run`] in the result buffer (empty before one).
#[cfg_attr(target_arch = "wasm32", no_mangle)]
pub extern "C" fn weights() -> i32 {
    finish(Ok(WEIGHTS.with(|w| w.borrow().clone())))
}
