//! The fast trainer against the plain reference trainer (`nn::reference`), bit for bit: every
//! SIMD level, thread counts 1–4, on the committed fixture, for the default recipe and for shapes
//! that exercise the awkward paths (a hidden size that is not a multiple of the SIMD width, a
//! batch that is not a power of two and does not divide the set, so the last batch is short).

use mnistlearn::io::dataset::load_train;
use mnistlearn_core::math::SimdLevel;
use mnistlearn_core::nn::reference::train_reference;
use mnistlearn_core::nn::train::{train, EpochReport, TrainConfig};

use crate::common::fixture_dir;

/// What a run leaves that must match: the epoch log (loss bits, correct count) and every
/// parameter's bits in weights.bin order.
fn run(config: &TrainConfig, fast: bool, data: &mnistlearn_core::data::Dataset) -> (Vec<(u64, usize)>, Vec<u64>) {
    let mut log = Vec::new();
    let mut on_epoch = |e: &EpochReport| log.push((e.loss.to_bits(), e.correct));
    let net = if fast { train(config, data, &mut on_epoch) } else { train_reference(config, data, &mut on_epoch) };
    (log, net.to_file_order().iter().map(|v| v.to_bits()).collect())
}

#[test]
fn the_fast_trainer_equals_the_reference_at_every_level_and_thread_count() {
    let data = load_train(&fixture_dir(), Some(1000)).unwrap();
    let shapes = [
        // (epochs, batch, hidden, lr, seed)
        (2, 32, 32, 0.1, 1),
        (1, 7, 12, 0.25, 5),
        (1, 50, 40, 0.05, 9),
    ];
    for (epochs, batch, hidden, lr, seed) in shapes {
        let base = TrainConfig { epochs, batch, hidden, lr, seed, threads: 1, level: SimdLevel::detect() };
        let expected = run(&base, false, &data);
        assert!(expected.0.iter().all(|&(loss, correct)| f64::from_bits(loss).is_finite() && correct > 0));
        for level in SimdLevel::available() {
            for threads in 1..=4 {
                let config = TrainConfig { threads, level, ..base.clone() };
                let got = run(&config, true, &data);
                assert!(
                    got.0 == expected.0,
                    "{level}, {threads} threads, batch {batch}, hidden {hidden}: epoch log differs"
                );
                let first = got.1.iter().zip(&expected.1).position(|(a, b)| a != b);
                assert!(
                    first.is_none(),
                    "{level}, {threads} threads, batch {batch}, hidden {hidden}: parameter {first:?} differs"
                );
            }
        }
    }
}

/// `nn::session::Session` (the browser's trainer, advanced a few batches at a time) against the
/// reference, bit for bit: every SIMD level, the awkward shapes above, slices of random sizes
/// (from one batch to more than an epoch), and a snapshot taken between slices that must not
/// disturb the run.
#[test]
fn a_session_in_slices_equals_the_reference_at_every_level() {
    use mnistlearn_core::nn::session::Session;
    let data = load_train(&fixture_dir(), Some(1000)).unwrap();
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
        let base = TrainConfig { epochs, batch, hidden, lr, seed, threads: 1, level: SimdLevel::detect() };
        let expected = run(&base, false, &data);
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

/// `Dataset::first(n)` (how the browser applies `--limit` to a set it parsed once) keeps exactly
/// what reading with `--limit n` keeps.
#[test]
fn first_n_samples_are_what_limit_reads() {
    let all = load_train(&fixture_dir(), None).unwrap();
    for n in [1usize, 7, 700, 2000, 5000] {
        assert_eq!(all.first(n), load_train(&fixture_dir(), Some(n)).unwrap(), "n = {n}");
    }
}
