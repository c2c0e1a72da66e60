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
