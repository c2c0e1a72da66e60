//! `mnistlearn predict`: read digits from image files.

use std::path::PathBuf;

use mnistlearn_core::data::preprocess::{ascii_art, preprocess, Seen};
use mnistlearn_core::nn::argmax;

use super::args::Args;
use super::{print_lines, print_text};
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
    let mut answers = Vec::new();
    for path in paths.iter().map(PathBuf::from) {
        let name = path.display().to_string();
        let seen = match crate::io::image::load(&path) {
            Ok(image) => preprocess(&image),
            Err(e) => {
                if json {
                    answers.push(serde_json::json!({ "path": name, "error": e.message }));
                }
                failed.push(e);
                continue;
            }
        };
        let Seen::Digit(digit) = seen else {
            if json {
                answers.push(serde_json::json!({ "path": name, "empty": true }));
            } else {
                print_lines(&[format!("{name}: no digit (the image has no ink)")])?;
            }
            continue;
        };
        let probabilities = net.predict(level, &digit.pixels);
        let best = argmax(&probabilities);
        if json {
            let mut answer = serde_json::json!({ "path": name, "digit": best, "probabilities": probabilities });
            if show {
                answer["seen"] = serde_json::json!(digit.pixels.to_vec());
            }
            answers.push(answer);
        } else {
            print_lines(&[format!("{name}: {best} ({:.1}%)", probabilities[best] * 100.0)])?;
            if show {
                print_text(&ascii_art(&digit.pixels))?;
            }
        }
    }
    if json {
        print_lines(&[serde_json::Value::Array(answers).to_string()])?;
    }
    match failed.len() {
        0 => Ok(()),
        1 => Err(Error::Image(failed.pop().expect("one failure"))),
        _ => Err(Error::Images { failed, total: paths.len() }),
    }
}
// ANCHOR_END: run_predict
