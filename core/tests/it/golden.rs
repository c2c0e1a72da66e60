//! The fixture run's golden files (`golden/fixture_*.snap`), held by the core crate alone: the
//! log the binary prints, the weights.bin hash and the test output, from `train` and `evaluate`
//! at every SIMD level this machine runs. The binary's own test (`tests/it/golden.rs`) pins the
//! same files through the real command line on x86-64; this one runs wherever the core crate's
//! tests run — on aarch64 under qemu too.

use mnistlearn_core::math::SimdLevel;
use mnistlearn_core::nn::evaluate::evaluate;
use mnistlearn_core::nn::train::{train, TrainConfig};
use mnistlearn_core::{report, weights};

use crate::common;

/// The log lines of `mnistlearn train --epochs 5` on the fixture (time redacted), the weights
/// and the test block.
fn fixture_run(level: SimdLevel, threads: usize) -> (String, Vec<u8>, String) {
    let (data, test) = (common::fixture_train(None), common::fixture_test());
    let config = TrainConfig { epochs: 5, threads, level, ..TrainConfig::default() };
    let mut lines = vec![report::banner(), report::training_header(config.hidden)];
    let net = train(&config, &data, |epoch| lines.push(report::epoch_line(epoch)));
    lines.push("Training time: [redacted]".to_string());
    lines.push("Saving weights... done.".to_string());
    let test_block = report::test_block(&evaluate(level, &net, &test, threads)).join("\n");
    lines.push(test_block.clone());
    (lines.join("\n"), weights::encode(&net), test_block)
}

#[test]
fn the_fixture_run_is_golden_at_every_level() {
    for level in SimdLevel::available() {
        for threads in [1, 2] {
            let (log, weights, test) = fixture_run(level, threads);
            common::golden().bind(|| {
                insta::assert_snapshot!("fixture_train_log", log);
                insta::assert_snapshot!("fixture_weights_sha256", common::sha256_hex(&weights));
                insta::assert_snapshot!("fixture_test_output", test);
            });
        }
    }
}
