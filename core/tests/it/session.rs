//! `nn::session::Session`, the browser's trainer (advanced a few batches at a time), against the
//! plain reference trainer, bit for bit; and `Dataset::first`, how the browser applies `--limit`.

use mnistlearn_core::data::Dataset;
use mnistlearn_core::math::SimdLevel;
use mnistlearn_core::nn::reference::train_reference;
use mnistlearn_core::nn::session::Session;
use mnistlearn_core::nn::train::{EpochReport, TrainConfig};

use crate::common;

/// The reference run's epoch log (loss bits, correct count) and every parameter's bits.
fn reference(config: &TrainConfig, data: &Dataset) -> (Vec<(u64, usize)>, Vec<u64>) {
    let mut log = Vec::new();
    let net = train_reference(config, data, |e: &EpochReport| log.push((e.loss.to_bits(), e.correct)));
    (log, net.to_file_order().iter().map(|v| v.to_bits()).collect())
}

/// Every SIMD level, awkward shapes (hidden 13, not a multiple of any SIMD width; batch 7 and 50,
/// not powers of two, with a short last batch), slices of random sizes (from one batch to more
/// than an epoch), and a snapshot taken between slices that must not disturb the run.
#[test]
fn a_session_in_slices_equals_the_reference_at_every_level() {
    let data = common::fixture_train(Some(1000));
    let shapes = [
        // (epochs, batch, hidden, lr, seed)
        (2, 32, 32, 0.1, 1),
        (2, 7, 13, 0.25, 5),
        (1, 50, 40, 0.05, 9),
    ];
    // A small LCG for the slice sizes: the test must not depend on a crate's random stream.
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next_slice = |limit: u64| {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        1 + (state >> 33) % limit
    };
    for (epochs, batch, hidden, lr, seed) in shapes {
        let base = TrainConfig { epochs, batch, hidden, lr, seed, threads: 1, level: SimdLevel::SCALAR };
        let expected = reference(&base, &data);
        for level in SimdLevel::available() {
            let config = TrainConfig { level, threads: 3, ..base.clone() };
            let mut session = Session::new(&config, &data);
            let per_epoch = session.batches_per_epoch() as u64;
            let mut log = Vec::new();
            while !session.is_finished() {
                if let Some(e) = session.step(next_slice(per_epoch + 3) as usize) {
                    log.push((e.loss.to_bits(), e.correct));
                }
                let _ = session.network();
            }
            assert_eq!(session.step(5), None, "a finished session trains no more");
            assert!(log == expected.0, "{level}, batch {batch}, hidden {hidden}: epoch log differs");
            let bits: Vec<u64> = session.network().to_file_order().iter().map(|v| v.to_bits()).collect();
            let first = bits.iter().zip(&expected.1).position(|(a, b)| a != b);
            assert!(first.is_none(), "{level}, batch {batch}, hidden {hidden}: parameter {first:?} differs");
        }
    }
}

/// `Dataset::first(n)` (the browser parses the training set once and trains on any limit)
/// keeps exactly what reading with `--limit n` keeps.
#[test]
fn first_n_samples_are_what_limit_reads() {
    let all = common::fixture_train(None);
    for n in [1usize, 7, 700, 2000, 5000] {
        assert_eq!(all.first(n), common::fixture_train(Some(n)), "n = {n}");
    }
}
