//! Conformance exports: what `tests/wasm/check.mjs` runs in Node to hold the module to the
//! native build bit for bit (`cargo xtask cross`).
//!
//! * [`check_kernels`]: every bit-for-bit kernel check of the core crate's tests
//!   (`core/tests/it/conformance.rs`, included here: one source for both), scalar against this
//!   module's best level, on the same seeded inputs (edge values, awkward lengths and widths).
//! * [`kernel_table`]: the fixed kernel table, for comparison with `golden/kernel_table.snap`.
//! * [`check_trainer`]: the fast trainer against the reference trainer on the data in slot 0, at
//!   both levels, on the core tests' awkward shapes.
//! * [`run`]: a training run on the data of [`set_data`](crate::set_data), leaving the log the
//!   binary prints (wall-clock line and all) in the result buffer and the weights.bin bytes for
//!   [`weights`]. The script compares the fixture run's log and weights hash with
//!   `golden/fixture_*.snap`, and the default 30-epoch run's hash with `golden/full_run.txt`.

use std::cell::RefCell;

use mnistlearn_core::nn::evaluate::evaluate;
use mnistlearn_core::nn::train::{train, TrainConfig};
use mnistlearn_core::{report, weights};

use crate::{finish, level, with_data};

/// The core crate's conformance checks (its tests run them natively and under qemu).
#[path = "../../core/tests/it/conformance.rs"]
mod conformance;

/// The levels a check compares: the scalar reference and this module's best.
fn levels() -> [mnistlearn_core::math::SimdLevel; 2] {
    [level(0), level(1)]
}

/// Runs every kernel check; the result is one line per check (`ok NAME` or `FAIL NAME: why`),
/// the status the number of failures.
#[cfg_attr(target_arch = "wasm32", no_mangle)]
pub extern "C" fn check_kernels() -> i32 {
    let (mut lines, mut failed) = (String::new(), 0);
    for (name, check) in conformance::KERNEL_CHECKS {
        match check(&levels()) {
            Ok(()) => lines.push_str(&format!("ok   {name} ({} = scalar)\n", level(1))),
            Err(why) => {
                failed += 1;
                lines.push_str(&format!("FAIL {name}: {why}\n"));
            }
        }
    }
    crate::set_result(lines.into_bytes());
    failed
}

/// Leaves the kernel table (`golden/kernel_table.snap`'s text) in the result buffer; returns 0.
#[cfg_attr(target_arch = "wasm32", no_mangle)]
pub extern "C" fn kernel_table() -> i32 {
    finish(Ok(conformance::kernel_table().into_bytes()))
}

/// The fast trainer against the reference on data slot 0, one thread, both levels. Returns 0,
/// or 1 with the first difference.
#[cfg_attr(target_arch = "wasm32", no_mangle)]
pub extern "C" fn check_trainer() -> i32 {
    let outcome = with_data(0, |data| conformance::the_fast_trainer_equals_the_reference(data, &levels(), 1..=1));
    finish(outcome.and_then(|r| r).map(|()| b"ok".to_vec()))
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = format!("{}/../tests/fixtures/mnist-small/{name}.gz", env!("CARGO_MANIFEST_DIR"));
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    fn load(limit: usize) {
        crate::load_data(0, fixture("train-images-idx3-ubyte"), fixture("train-labels-idx1-ubyte"), limit).unwrap();
        crate::load_data(1, fixture("t10k-images-idx3-ubyte"), fixture("t10k-labels-idx1-ubyte"), 0).unwrap();
    }

    #[test]
    fn the_exports_pass_on_the_host_at_its_best_level() {
        // The same exports Node calls, here comparing the host's best level with scalar.
        assert_eq!(check_kernels(), 0, "{}", String::from_utf8_lossy(&crate::result()));
        load(300);
        assert_eq!(check_trainer(), 0, "{}", String::from_utf8_lossy(&crate::result()));
    }

    #[test]
    fn a_run_gives_the_fixture_log_and_weights() {
        load(0);
        assert_eq!(run(5, 32, 32, 0.1, 1, 1), 0);
        let log = String::from_utf8(crate::result()).unwrap();
        assert!(log.contains("Epoch 5/5 | Loss: 0.8338 | Accuracy: 83.60%"), "{log}");
        assert!(log.contains("Overall accuracy: 79.80% (399/500)"), "{log}");
        assert_eq!(weights(), 0);
        assert_eq!(crate::result().len(), 203_600);
    }

    #[test]
    fn bad_input_is_a_status_and_a_message() {
        assert_eq!(run(0, 32, 32, 0.1, 1, 1), 1);
        assert!(String::from_utf8(crate::result()).unwrap().contains("out of range"));
        assert!(crate::load_data(0, b"nonsense".to_vec(), vec![], 0).is_err());
        assert_eq!(
            crate::load_data(7, vec![], vec![], 0).unwrap_err(),
            "data slot 7: expected 0 (training) or 1 (test)"
        );
    }
}
