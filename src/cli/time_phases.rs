//! `mnistlearn time-phases`: a training run with each thread's time per phase, beside each
//! phase's floor — the profile on the measurements page (`cargo xtask bench`).
//!
//! The floors are estimates of what the phase's arithmetic needs at least, from counts of the
//! run's work (lit pixels, hidden units, samples), in the model of issue #22: per core, two
//! multiplies and two adds per cycle, each one SIMD register wide, and 32 bytes per cycle from
//! the L2 cache. They ignore the exps, logs and divisions, so they are lower bounds, not targets.

use std::time::Instant;

use mnistlearn_core::nn::profile::{PhaseTicks, PHASES};
use mnistlearn_core::nn::train::{train_profiled, TrainConfig};
use mnistlearn_core::nn::{MAX_HIDDEN, OUTPUTS};

use super::args::Args;
use super::print_lines;
use crate::io::dataset::load_train;
use crate::Error;

/// Bytes per cycle and core the L2 cache delivers, in the model.
const L2_BYTES_PER_CYCLE: f64 = 32.0;

pub(super) fn run_time_phases(args: &Args) -> Result<(), Error> {
    let defaults = TrainConfig::default();
    let config = TrainConfig {
        epochs: args.number("--epochs", 3, "a whole number from 1 to 10000", |&n| (1..=10_000).contains(&n))?,
        hidden: args
            .number("--hidden", defaults.hidden, "a hidden size from 1 to 4096", |&n| (1..=MAX_HIDDEN).contains(&n))?,
        threads: args.threads()?,
        level: args.simd()?,
        ..defaults
    };
    let data = load_train(&args.path("--data", "data"), None)?;
    let started = (Instant::now(), mnistlearn_core::nn::profile::ticks());
    let (_, profiles) = train_profiled(&config, &data, |_| {});
    let ticks_per_ns =
        (mnistlearn_core::nn::profile::ticks() - started.1) as f64 / started.0.elapsed().as_nanos() as f64;
    let train_seconds = started.0.elapsed().as_secs_f64();

    // The run's work, per batch: lit (sample, pixel) pairs and samples.
    let batches = profiles[0].batches as f64;
    let lit_pairs = data.images.pixel_histogram().iter().sum::<u64>() as f64 * config.epochs as f64 / batches;
    let samples = (data.len() * config.epochs) as f64 / batches;
    let report = phase_report(&config, &profiles, lit_pairs, samples);
    let json = serde_json::json!({
        "hidden": config.hidden,
        "threads": config.threads,
        "simd": config.level.name(),
        "epochs": config.epochs,
        "batches": profiles[0].batches,
        "train_seconds": train_seconds,
        "tsc_ghz": ticks_per_ns,
        "lit_pixels_per_batch": lit_pairs,
        "phases": report,
    });
    print_lines(&[json.to_string()])
}

/// Each phase's mean time per batch over the threads, beside its floor.
fn phase_report(config: &TrainConfig, profiles: &[PhaseTicks], lit_pairs: f64, samples: f64) -> serde_json::Value {
    let (h, threads) = (config.hidden as f64, config.threads as f64);
    let lanes = match config.level.name() {
        "scalar" => 1.0,
        "avx512" => 8.0,
        "avx2" => 4.0,
        _ => 2.0,
    };
    let flops_per_cycle = 4.0 * lanes * threads;
    let l2_per_cycle = L2_BYTES_PER_CYCLE * threads;
    // (cycles, how they are counted) per phase.
    let floors: [(f64, String); 4] = [
        {
            let flop = 2.0 * h * lit_pairs / flops_per_cycle;
            let l2 = 8.0 * h * lit_pairs / l2_per_cycle;
            (
                flop.max(l2),
                format!(
                    "each lit pixel adds its row of H weights: 2·H·{lit_pairs:.0} flop ({flop:.0} cycles) or 8·H bytes from L2 ({l2:.0} cycles), the larger"
                ),
            )
        },
        (
            4.0 * OUTPUTS as f64 * h * samples / flops_per_cycle,
            "per sample, the output layer and its backprop: 2 × 2·10·H flop".into(),
        ),
        (
            (2.0 * h * lit_pairs + 2.0 * OUTPUTS as f64 * h * samples) / flops_per_cycle,
            "the hidden gradient 2·H flop per lit pixel, the output gradient 2·10·H per sample (steps not counted)"
                .into(),
        ),
        (0.0, "none: threads waiting for each other".into()),
    ];
    let phases: Vec<serde_json::Value> = PHASES
        .iter()
        .zip(floors)
        .enumerate()
        .map(|(i, (name, (floor, basis)))| {
            let mean: f64 = profiles.iter().map(|p| p.ticks[i] as f64 / p.batches as f64).sum::<f64>() / threads;
            serde_json::json!({
                "phase": name,
                "cycles_per_batch": mean,
                "floor_cycles_per_batch": floor,
                "floor": basis,
            })
        })
        .collect();
    serde_json::Value::Array(phases)
}
