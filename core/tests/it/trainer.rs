//! The fast trainer against the plain reference trainer (`nn::reference`), bit for bit: every
//! SIMD level, thread counts 1–4, on the committed fixture, for the default recipe and for shapes
//! that exercise the awkward paths (`conformance::the_fast_trainer_equals_the_reference`).

use mnistlearn_core::math::SimdLevel;

use crate::{common, conformance};

#[test]
fn the_fast_trainer_equals_the_reference_at_every_level_and_thread_count() {
    let data = common::fixture_train(Some(1000));
    conformance::the_fast_trainer_equals_the_reference(&data, &SimdLevel::available(), 1..=4).unwrap();
}

/// A team with more threads than the pixel rows can be shared among (a pixel row lit in more
/// samples than a band's share leaves some bands empty, `--threads 256` on this fixture) ends
/// on the same bits as one thread. (Run apart with a deadline, so that a hang fails the test.)
#[test]
fn a_team_with_empty_bands_equals_one_thread() {
    use mnistlearn_core::nn::train::{train, TrainConfig};
    let data = common::fixture_train(Some(300));
    let config = TrainConfig { epochs: 1, threads: 1, ..TrainConfig::default() };
    let one = train(&config, &data, |_| {});
    let (done, result) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(train(&TrainConfig { threads: 256, ..config }, &data, |_| {}));
    });
    let many = result.recv_timeout(std::time::Duration::from_secs(60)).expect("256 threads finish within a minute");
    assert_eq!(many, one);
}

/// A thread of the team that panics (here thread 0, in the caller's `on_epoch`, while the others
/// wait for it at the next epoch's barrier) fails the whole run, instead of leaving the others
/// waiting for it for ever.
#[test]
fn a_panicking_thread_fails_the_run_instead_of_hanging_it() {
    use mnistlearn_core::nn::train::{train, TrainConfig};
    let data = common::fixture_train(Some(100));
    let (done, result) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let config = TrainConfig { epochs: 2, threads: 3, ..TrainConfig::default() };
        let run = std::panic::catch_unwind(|| train(&config, &data, |_| panic!("the caller's on_epoch fails")));
        let _ = done.send(run.is_err());
    });
    let failed = result.recv_timeout(std::time::Duration::from_secs(60)).expect("the run ends within a minute");
    assert!(failed, "the run fails");
}

/// A profiled run (what `mnistlearn time-phases` reports) ends on the same bits as a plain one,
/// times every batch on every thread, and never leaves a phase with a negative (wrapped) time.
#[test]
fn a_profiled_run_gives_the_same_bits_and_times_every_batch() {
    use mnistlearn_core::nn::train::{train, train_profiled, TrainConfig};
    let data = common::fixture_train(Some(1000));
    for threads in 1..=3 {
        let config = TrainConfig { epochs: 2, threads, ..TrainConfig::default() };
        let plain = train(&config, &data, |_| {});
        let (net, profiles) = train_profiled(&config, &data, |_| {});
        assert_eq!(net, plain, "{threads} threads");
        assert_eq!(profiles.len(), threads);
        for p in &profiles {
            assert_eq!(p.batches, 2 * 1000u64.div_ceil(32), "{threads} threads");
            assert!(p.ticks[0] > 0 && p.ticks[1] > 0 && p.ticks[2] > 0, "{threads} threads: {p:?}");
            assert!(p.ticks.iter().all(|&t| t < u64::MAX / 4), "{threads} threads: a phase wrapped: {p:?}");
            // The parts of the waiting, by what it waited for, are all of it and none wrapped.
            assert_eq!(p.waits.iter().sum::<u64>(), p.ticks[3], "{threads} threads: {p:?}");
            assert!(p.waits.iter().all(|&t| t < u64::MAX / 4), "{threads} threads: a wait wrapped: {p:?}");
        }
    }
}
