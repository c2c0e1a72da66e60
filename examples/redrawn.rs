//! The figures of issues #11 and #19 on the real MNIST test set:
//!
//! * every test digit **redrawn as an image** as people draw them (25–85% of the canvas height,
//!   anywhere, square and non-square canvases, both polarities, PNG and PGM; see
//!   `tests/support/redraw.rs`), read back from its file, and classified through MNIST's
//!   preprocessing (`mnistlearn_core::data::preprocess`) and through a naive whole-canvas
//!   resize, beside the accuracy on the original 28×28 images;
//! * every test digit **as strokes**: thinned to its skeleton, traced into polylines
//!   (`tests/support/skeleton.rs`), replayed at 100%, 40% and 15% of a 280×280 canvas at a
//!   random place with whole-pixel points, and drawn by `mnistlearn_core::data::strokes::render`
//!   (what `POST /strokes` runs);
//! * MNIST's stroke width (every 6th training digit), against the pen `render` uses.
//!
//! `cargo xtask redrawn` runs it after `cargo xtask verify` has trained `data/weights.bin`:
//!
//! ```text
//! cargo run --release --features redrawn-example --example redrawn -- [--data DIR] [--weights FILE] [--limit N] [--max-gap POINTS]
//! ```
//!
//! Exits 1 if the redrawn images are read more than `--max-gap` points (default 1) below the
//! originals, or the strokes at 15% of the canvas more than 2 points below the strokes at full
//! size.

#[path = "../tests/support/redraw.rs"]
mod redraw;
#[path = "../tests/support/skeleton.rs"]
mod skeleton;

use std::path::PathBuf;
use std::process::ExitCode;

use mnistlearn::io::dataset::{load_test, load_train};
use mnistlearn_core::data::preprocess::Seen;
use mnistlearn_core::data::shuffle::Rng;
use mnistlearn_core::data::strokes::{render, PEN_WIDTH};
use mnistlearn_core::math::SimdLevel;
use mnistlearn_core::nn::{argmax, Network};
use redraw::Tally;

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("redrawn: error: {e}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<bool, String> {
    let (mut data, mut weights, mut limit, mut max_gap) =
        (PathBuf::from("data"), PathBuf::from("data/weights.bin"), usize::MAX, 1.0);
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--data" => data = PathBuf::from(value),
            "--weights" => weights = PathBuf::from(value),
            "--limit" => limit = value.parse().map_err(|_| format!("--limit: expected a number, got '{value}'"))?,
            "--max-gap" => {
                max_gap = value.parse().map_err(|_| format!("--max-gap: expected a number, got '{value}'"))?
            }
            other => return Err(format!("unknown flag '{other}': expected --data, --weights, --limit or --max-gap")),
        }
    }
    let net = mnistlearn::io::weights::load(&weights).map_err(|e| e.to_string())?;
    let test = load_test(&data).map_err(|e| e.to_string())?;
    let digits: Vec<(Vec<u8>, u8)> =
        (0..test.len().min(limit)).map(|i| (test.images.dense(i), test.labels[i])).collect();
    let dir = tempfile::tempdir().map_err(|e| format!("a temporary directory: {e}"))?;
    let started = std::time::Instant::now();
    let tally = redraw::measure(&net, SimdLevel::detect(), &digits, dir.path(), 1);
    let n = tally.total;
    println!("{}", tally.table());
    let (direct, ours, naive) =
        (Tally::percent(tally.direct, n), Tally::percent(tally.ours, n), Tally::percent(tally.naive, n));
    println!("originals (28×28, as in the test set): {direct:.2}% ({}/{n})", tally.direct);
    println!("redrawn, MNIST preprocessing:          {ours:.2}% ({}/{n}; {} read as empty)", tally.ours, tally.empty);
    println!("redrawn, naive whole-canvas resize:    {naive:.2}% ({}/{n})", tally.naive);
    println!("({:.1} s for {n} images: redraw, write, read back, classify twice)", started.elapsed().as_secs_f64());
    let mut ok = ours >= direct - max_gap;
    if !ok {
        eprintln!("redrawn: {ours:.2}% is more than {max_gap} points below the originals' {direct:.2}%");
    }
    ok &= strokes(&net, &digits);
    pen(&data, limit)?;
    Ok(ok)
}

/// The sizes strokes are replayed at, as fractions of the canvas height.
const SIZES: [f64; 3] = [1.0, 0.4, 0.15];

/// Every digit as traced strokes at each of [`SIZES`]: the accuracy by size, and whether 15% is
/// within 2 points of full size.
fn strokes(net: &Network, digits: &[(Vec<u8>, u8)]) -> bool {
    let started = std::time::Instant::now();
    let level = SimdLevel::detect();
    let (mut right, mut small, mut same) = ([0usize; SIZES.len()], 0, 0);
    for (i, (digit, label)) in digits.iter().enumerate() {
        let traced = skeleton::strokes_of(digit);
        let mut answers = [usize::MAX; SIZES.len()];
        for (k, &size) in SIZES.iter().enumerate() {
            let placed = skeleton::replay(&traced, 280.0, 280.0, size, &mut Rng::from_seed(i as u64));
            match render(&placed, 280.0, 280.0) {
                Seen::Digit(d) => answers[k] = argmax(&net.predict(level, &d.pixels)),
                _ => small += 1,
            }
            right[k] += (answers[k] == *label as usize) as usize;
        }
        same += answers.iter().all(|&a| a == answers[0]) as usize;
    }
    let n = digits.len();
    let pct = |c: usize| redraw::Tally::percent(c, n);
    println!("\n| strokes (traced test digits) on a 280×280 canvas | accuracy |\n|---|---|");
    for (k, size) in SIZES.iter().enumerate() {
        println!("| digit {:.0}% of the canvas height | {:.2}% ({}/{n}) |", size * 100.0, pct(right[k]), right[k]);
    }
    println!(
        "(the same answer at all three sizes: {same}/{n}; {small} replays read as too small; {:.1} s)",
        started.elapsed().as_secs_f64()
    );
    let ok = pct(right[2]) >= pct(right[0]) - 2.0;
    if !ok {
        eprintln!(
            "redrawn: strokes at 15% ({:.2}%) are more than 2 points below full size ({:.2}%)",
            pct(right[2]),
            pct(right[0])
        );
    }
    ok
}

/// MNIST's stroke width over every 6th training digit (see `skeleton::pen_width`), and what the
/// renderer's pen measures by the same yardstick.
fn pen(data: &std::path::Path, limit: usize) -> Result<(), String> {
    let train = load_train(data, Some(limit.min(60_000))).map_err(|e| e.to_string())?;
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        (v[v.len() / 4], v[v.len() / 2], v[v.len() * 3 / 4])
    };
    let digits: Vec<Vec<u8>> = (0..train.len()).step_by(6).map(|i| train.images.dense(i)).collect();
    let mnist = median(digits.iter().map(|d| skeleton::pen_width(d)).collect());
    let drawn = median(
        digits
            .iter()
            .take(2000)
            .map(|d| {
                skeleton::pen_width(&mnistlearn_core::data::strokes::draw(
                    &skeleton::strokes_of(d),
                    (0.0, 0.0),
                    PEN_WIDTH,
                ))
            })
            .collect(),
    );
    println!(
        "\nstroke width (ink / traced skeleton), {} training digits: median {:.3} px (quartiles {:.3}, {:.3}); \
         the {PEN_WIDTH}-px pen measures {:.3}",
        digits.len(),
        mnist.1,
        mnist.0,
        mnist.2,
        drawn.1
    );
    Ok(())
}
