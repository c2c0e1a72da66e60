//! The figure of issue #11 on the real MNIST test set: every test digit redrawn as people draw
//! them (25–85% of the canvas height, anywhere, square and non-square canvases, both polarities,
//! PNG and PGM; see `tests/support/redraw.rs`), read back from its file, and classified through
//! MNIST's preprocessing (`mnistlearn_core::data::preprocess`) and through a naive whole-canvas
//! resize, beside the accuracy on the original 28×28 images.
//!
//! `cargo xtask redrawn` runs it after `cargo xtask verify` has trained `data/weights.bin`:
//!
//! ```text
//! cargo run --release --features redrawn-example --example redrawn -- [--data DIR] [--weights FILE] [--limit N] [--max-gap POINTS]
//! ```
//!
//! Exits 1 if the redrawn accuracy is more than `--max-gap` points (default 3) below the
//! accuracy on the originals.

#[path = "../tests/support/redraw.rs"]
mod redraw;

use std::path::PathBuf;
use std::process::ExitCode;

use mnistlearn::io::dataset::load_test;
use mnistlearn_core::math::SimdLevel;
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
        (PathBuf::from("data"), PathBuf::from("data/weights.bin"), usize::MAX, 3.0);
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
    let ok = ours >= direct - max_gap;
    if !ok {
        eprintln!("redrawn: {ours:.2}% is more than {max_gap} points below the originals' {direct:.2}%");
    }
    Ok(ok)
}
