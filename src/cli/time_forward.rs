//! `mnistlearn time-forward`: the bare forward pass timed, for `cargo xtask bench`.

use std::time::Instant;

use super::args::Args;
use super::print_lines;
use crate::io::dataset::load_test;
use crate::io::weights;
use crate::Error;

/// Times the bare forward pass (one thread, one sample at a time, as the server runs it) over
/// the test set; used by `cargo xtask bench`.
pub(super) fn run_time_forward(args: &Args) -> Result<(), Error> {
    let level = args.simd()?;
    let repeat = args.number("--repeat", 5usize, "a repeat count from 1 to 1000", |&n| (1..=1000).contains(&n))?;
    let net = weights::load(&args.path("--weights", "data/weights.bin"))?;
    let test_set = load_test(&args.path("--data", "data"))?;
    let images: Vec<Vec<u8>> = (0..test_set.len()).map(|i| test_set.images.dense(i)).collect();
    let mut best = f64::INFINITY;
    let mut checksum = 0usize;
    for _ in 0..repeat {
        let started = Instant::now();
        for image in &images {
            checksum += mnistlearn_core::nn::argmax(&net.predict(level, image));
        }
        best = best.min(started.elapsed().as_secs_f64());
    }
    std::hint::black_box(checksum);
    let per_sample_ns = best * 1e9 / images.len() as f64;
    print_lines(&[format!(
        "forward pass: {per_sample_ns:.0} ns/sample ({} samples, best of {repeat}, {level}, from raw bytes to probabilities)",
        images.len()
    )])
}
