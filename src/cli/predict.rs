//! `mnistlearn predict`: read digits from image files.

use std::path::PathBuf;

use mnistlearn_core::data::preprocess::{ascii_art, preprocess, Seen};
use mnistlearn_core::nn::argmax;

use super::args::Args;
use super::{print_lines, print_text};
use crate::io::image::printable;
use crate::io::weights;
use crate::Error;

// ANCHOR: run_predict
/// `mnistlearn predict`: every image is answered, in order; the unreadable ones are collected
/// and reported together at the end (exit 1), so one bad file does not hide the others' answers.
pub(super) fn run_predict(args: &Args) -> Result<(), Error> {
    let (json, show) = (args.switch("--json"), args.switch("--show"));
    let level = args.simd()?;
    let paths = args.positional();
    if paths.is_empty() {
        return Err(args.usage("expected at least one IMAGE (a PNG or PGM file)".into()));
    }
    let net = weights::load(&args.path("--weights", "data/weights.bin"))?;
    let mut failed = Vec::new();
    // `--json` prints one array, streamed: each answer as soon as it is known, so memory does
    // not grow with the number of images (300 MB for 10,000 with `--show`, kept to the end).
    let mut answers = JsonArray::new(json);
    for path in paths.iter().map(PathBuf::from) {
        let name = path.display().to_string();
        let line_name = printable(&path);
        let seen = match crate::io::image::load(&path) {
            Ok(image) => preprocess(&image),
            Err(e) => {
                answers.push(|| serde_json::json!({ "path": name, "error": e.message }))?;
                failed.push(e);
                continue;
            }
        };
        let digit = match seen {
            Seen::Digit(digit) => digit,
            Seen::Empty if json => {
                answers.push(|| serde_json::json!({ "path": name, "empty": true }))?;
                continue;
            }
            Seen::Empty => {
                print_lines(&[format!("{line_name}: no digit (the image has no ink)")])?;
                continue;
            }
            Seen::TooSmall { .. } if json => {
                answers.push(|| serde_json::json!({ "path": name, "too_small": true }))?;
                continue;
            }
            Seen::TooSmall { extent, least } => {
                let unit = if extent == 1 { "pixel" } else { "pixels" };
                print_lines(&[format!(
                    "{line_name}: too small to read (the ink is {extent} {unit} across; a digit needs at least {least})"
                )])?;
                continue;
            }
        };
        let probabilities = net.predict(level, &digit.pixels);
        let best = argmax(&probabilities);
        if json {
            answers.push(|| {
                let mut answer = serde_json::json!({ "path": name, "digit": best, "probabilities": probabilities });
                if show {
                    answer["seen"] = serde_json::json!(digit.pixels.to_vec());
                }
                answer
            })?;
        } else {
            print_lines(&[format!("{line_name}: {best} ({:.1}%)", probabilities[best] * 100.0)])?;
            if show {
                print_text(&ascii_art(&digit.pixels))?;
            }
        }
    }
    answers.finish()?;
    match failed.len() {
        0 => Ok(()),
        1 => Err(Error::Image(failed.pop().expect("one failure"))),
        _ => Err(Error::Images { failed, total: paths.len() }),
    }
}
// ANCHOR_END: run_predict

/// `predict --json`'s output: one JSON array on one line, written element by element, the same
/// bytes as serializing the whole array at the end. Inactive (prints nothing) without `--json`.
struct JsonArray {
    active: bool,
    started: bool,
}

impl JsonArray {
    fn new(active: bool) -> JsonArray {
        JsonArray { active, started: false }
    }

    /// Prints the element `make` builds (only called with `--json`).
    fn push(&mut self, make: impl FnOnce() -> serde_json::Value) -> Result<(), Error> {
        if !self.active {
            return Ok(());
        }
        let separator = if self.started { "," } else { "[" };
        self.started = true;
        print_text(&format!("{separator}{}", make()))
    }

    fn finish(self) -> Result<(), Error> {
        match (self.active, self.started) {
            (false, _) => Ok(()),
            (true, false) => print_lines(&["[]".to_string()]),
            (true, true) => print_lines(&["]".to_string()]),
        }
    }
}
