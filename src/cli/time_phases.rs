//! `mnistlearn time-phases`: a training run with each thread's time per phase, beside each
//! phase's floor — the profile on the measurements page (`cargo xtask bench`).
//!
//! The floors are lower bounds on what a phase's arithmetic needs, from counts of the run's work
//! (lit pixels, hidden units, samples) and what one core can do per clock cycle: the larger of
//! its floating-point operations (a multiply or an add each; never fused, by the contract) at
//! [`fp_ops_per_cycle`], and its bytes from the L2 cache at 64 per cycle. Phase 2's counts the
//! operations of its exps too ([`EXP_OPS`]), which are most of its arithmetic; they all ignore
//! the logs, the divisions and everything else, so they bound from below; they are not targets.
//!
//! Cycles are counted by the time-stamp counter, which ticks at a fixed rate; the core's own
//! clock is usually faster (turbo). So the floors, counted in core cycles, are converted at the
//! core clock measured here ([`core_ghz`]): a chain of dependent integer multiplies, 3 cycles
//! each on every x86-64 core of the last decade.

use std::time::Instant;

use mnistlearn_core::nn::profile::{ticks, PhaseTicks, PHASES, WAITS};
use mnistlearn_core::nn::train::{train_profiled, TrainConfig};
use mnistlearn_core::nn::{MAX_HIDDEN, OUTPUTS};

use super::args::Args;
use super::print_lines;
use crate::io::dataset::load_train;
use crate::Error;

/// Bytes per core cycle the L2 cache can deliver to a core (64 on Intel's cores since Skylake
/// server and AMD's since Zen 2; issue #22 took 32, which the measured hidden sums at h = 512 beat).
const L2_BYTES_PER_CYCLE: f64 = 64.0;

/// The floating-point operations of one `exp` (`mnistlearn_core::math::exp`), at the fewest any
/// level performs: the clamp (a min and a max), the reduction (`t`, `k`, `r`: seven), the degree-13
/// polynomial (thirteen multiplies and thirteen adds) and the scaling by 2^k (one `vscalefpd` on
/// AVX-512; two multiplies and integer work elsewhere). Phase 2 takes H + 10 of them per sample,
/// σ's and softmax's.
const EXP_OPS: f64 = 2.0 + 7.0 + 26.0 + 1.0;

/// Floating-point operations (a multiply or an add, each on a whole register) one core issues
/// per cycle at `simd`: three 256-bit, two 512-bit ports on Intel's Golden/Redwood Cove cores
/// (measured on this machine with a loop of independent `vmulpd`/`vaddpd` pairs: 0.66 and 1.02
/// core cycles per pair), times the lanes of the register.
fn fp_ops_per_cycle(simd: &str) -> f64 {
    match simd {
        "avx512" => 2.0 * 8.0,
        "avx2" => 3.0 * 4.0,
        "scalar" => 3.0,
        _ => 3.0 * 2.0,
    }
}

/// The core's clock in GHz, from a chain of dependent 64-bit multiplies (3 cycles each). `None`
/// where the ticks are not a time-stamp counter's (they are nanoseconds there).
#[cfg(target_arch = "x86_64")]
fn core_ghz() -> Option<f64> {
    // Five short chains, the fastest kept: a chain that was preempted only looks slower.
    const ROUNDS: u64 = 1_500_000;
    (0..5)
        .map(|_| {
            let started = Instant::now();
            // Four dependent multiplies per round, in assembly: compiled Rust would keep `x` in
            // memory between steps (to honour a `black_box`) or fold the chain away.
            // SAFETY: register arithmetic only.
            unsafe {
                std::arch::asm!(
                    "2:",
                    "imul {x}, {x}",
                    "imul {x}, {x}",
                    "imul {x}, {x}",
                    "imul {x}, {x}",
                    "dec {n}",
                    "jnz 2b",
                    x = inout(reg) 3u64 => _,
                    n = inout(reg) ROUNDS => _,
                    options(nomem, nostack),
                );
            }
            12.0 * ROUNDS as f64 / started.elapsed().as_nanos() as f64
        })
        .max_by(f64::total_cmp)
}

#[cfg(not(target_arch = "x86_64"))]
fn core_ghz() -> Option<f64> {
    None
}

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
    let started = (Instant::now(), ticks());
    // The training loop's own time, as `train` reports it: without the set-up before it (the
    // initial weights, the bands, each image's band splits), which the calibration interval
    // around the call includes.
    let mut loop_time = std::time::Duration::ZERO;
    let (_, profiles) = train_profiled(&config, &data, |report| loop_time = report.elapsed);
    let (elapsed, ticked) = (started.0.elapsed(), ticks() - started.1);
    let ticks_per_ns = ticked as f64 / elapsed.as_nanos() as f64;
    // Core cycles per tick: the floors are counted in core cycles (1 where ticks are ns).
    let core_ghz = core_ghz();
    let core_per_tick = core_ghz.map_or(1.0, |core| core / ticks_per_ns);

    // The run's work, per batch: lit (sample, pixel) pairs and samples.
    let batches = profiles[0].batches as f64;
    let lit_pairs = data.images.pixel_histogram().iter().sum::<u64>() as f64 * config.epochs as f64 / batches;
    let samples = (data.len() * config.epochs) as f64 / batches;
    let report = phase_report(&config, &profiles, lit_pairs, samples, core_per_tick);
    let json = serde_json::json!({
        "hidden": config.hidden,
        "threads": config.threads,
        "simd": config.level.name(),
        "epochs": config.epochs,
        "batches": profiles[0].batches,
        "train_seconds": loop_time.as_secs_f64(),
        "tsc_ghz": ticks_per_ns,
        "core_ghz": core_ghz,
        "lit_pixels_per_batch": lit_pairs,
        // What the "waiting" phase waited for, per thread (the parts sum to it).
        "waits": WAITS
            .iter()
            .enumerate()
            .map(|(k, name)| serde_json::json!({ "wait": name, "per_thread": per_batch(&profiles, |p| p.waits[k]) }))
            .collect::<Vec<_>>(),
        "band_moves": profiles.iter().map(|p| p.band_moves).collect::<Vec<_>>(),
        "bands": profiles.iter().map(|p| [p.band.start, p.band.end]).collect::<Vec<_>>(),
        "phases": report,
    });
    print_lines(&[json.to_string()])
}

/// Each thread's `ticks` per batch, thread 0 first.
fn per_batch(profiles: &[PhaseTicks], ticks: impl Fn(&PhaseTicks) -> u64) -> Vec<f64> {
    profiles.iter().map(|p| ticks(p) as f64 / p.batches as f64).collect()
}

/// Each phase's mean time per batch over the threads, each thread's own (`per_thread`, thread 0
/// first: how the pipeline shares the work shows there), and the phase's floor.
fn phase_report(
    config: &TrainConfig,
    profiles: &[PhaseTicks],
    lit_pairs: f64,
    samples: f64,
    core_per_tick: f64,
) -> serde_json::Value {
    let (h, threads) = (config.hidden as f64, config.threads as f64);
    // Per tick, for the whole team.
    let flops_per_tick = fp_ops_per_cycle(config.level.name()) * threads * core_per_tick;
    let l2_per_tick = L2_BYTES_PER_CYCLE * threads * core_per_tick;
    let pairs = format!("{lit_pairs:.0} lit pixels");
    // Both the hidden sums and the gradients read a row of H doubles per lit pixel.
    let l2 = 8.0 * h * lit_pairs / l2_per_tick;
    // (ticks, how they are counted) per phase.
    let floors: [(f64, String); 4] = [
        {
            let flop = 2.0 * h * lit_pairs / flops_per_tick;
            (flop.max(l2), format!("{pairs} × a row of H weights: 2·H flop ({flop:.0}) or 8·H bytes from L2 ({l2:.0})"))
        },
        {
            let (layer, exps) = (4.0 * OUTPUTS as f64 * h, EXP_OPS * (h + OUTPUTS as f64));
            (
                (layer + exps) * samples / flops_per_tick,
                format!(
                    "per sample, the output layer and its backprop, 2 × 2·10·H flop ({:.0}), and H + 10 exps of {EXP_OPS:.0} operations each ({:.0}); divisions and ln not counted",
                    layer * samples / flops_per_tick,
                    exps * samples / flops_per_tick
                ),
            )
        },
        {
            let flop = (2.0 * h * lit_pairs + 2.0 * OUTPUTS as f64 * h * samples) / flops_per_tick;
            (
                flop.max(l2),
                format!(
                    "{pairs} × 2·H flop, 2·10·H per sample for the output layer ({flop:.0}), or a delta row of 8·H bytes per lit pixel from L2 ({l2:.0}); steps not counted"
                ),
            )
        },
        (0.0, "none: threads waiting for each other".into()),
    ];
    let phases: Vec<serde_json::Value> = PHASES
        .iter()
        .zip(floors)
        .enumerate()
        .map(|(i, (name, (floor, basis)))| {
            let per_thread = per_batch(profiles, |p| p.ticks[i]);
            let mean = per_thread.iter().sum::<f64>() / threads;
            serde_json::json!({
                "phase": name,
                "cycles_per_batch": mean,
                "per_thread": per_thread,
                "floor_cycles_per_batch": floor,
                "floor": basis,
            })
        })
        .collect();
    serde_json::Value::Array(phases)
}
