//! `cargo xtask verify [--bless]`: the main job. Fetches MNIST if needed, builds in release,
//! trains the default run, and fails unless
//!
//! * test accuracy ≥ 96.5%, epoch 1 train accuracy in 84–87%, epoch 30 in 97.3–98.2%;
//! * the log (training time redacted) and the SHA-256 of weights.bin equal the golden file
//!   `golden/full_run.txt` (`--bless` rewrites it; a golden change needs a reason in its commit);
//! * a reader that knows only the documented weights.bin layout (`scripts/check_weights.py`,
//!   NumPy) gets the same test accuracy the binary printed;
//! * the book's figures, drawn again from this run (`cargo xtask figures --check`, with the
//!   per-epoch log `train --log` wrote to `data/train-log.jsonl`), equal the committed ones.

use std::fs;
use std::process::Command;

use crate::fetch::{self, content_sha256, FetchOptions};
use crate::paths::{GOLDEN, TRAIN_LOG};
use crate::util::{build_release, parse_epochs, parse_overall, python_with_numpy, run_echo, step};

/// The log as the golden file stores it: the wall-clock line redacted, the weights hash added.
pub fn golden_text(lines: &[String], weights_sha256: &str) -> String {
    let mut text = String::new();
    for line in lines {
        if line.starts_with("Training time: ") {
            text.push_str("Training time: [redacted]\n");
        } else {
            text.push_str(line);
            text.push('\n');
        }
    }
    text.push_str(&format!("weights.bin sha256: {weights_sha256}\n"));
    text
}

pub fn run(args: &[String]) -> Result<(), String> {
    let bless = crate::util::optional_flag("verify", args, "--bless")?;
    let root = crate::paths::project_root();
    let data = root.join("data");
    step("verify", "MNIST in data/: fetching what is missing, checking the SHA-256 of the rest");
    fetch::fetch(&FetchOptions::parse(&[])?)?;
    step("verify", "building the release binary (cargo build --release -p mnistlearn)");
    let bin = build_release()?;
    let weights = data.join("weights.bin");
    let mut train = Command::new(&bin);
    train.arg("train").arg("--data").arg(&data).arg("--out").arg(&weights).arg("--log").arg(root.join(TRAIN_LOG));
    step("verify", "training the default run (30 epochs) into data/weights.bin, its log into data/train-log.jsonl");
    let lines = run_echo(train, "mnistlearn train")?;

    let mut failures = Vec::new();
    let epochs = parse_epochs(&lines);
    let (test_percent, correct, total) =
        parse_overall(&lines).ok_or("verify: no 'Overall accuracy' line in the log")?;
    if epochs.len() != 30 {
        failures.push(format!("expected 30 epoch lines, got {}", epochs.len()));
    } else {
        let (first, last) = (epochs[0].1, epochs[29].1);
        if !(84.0..=87.0).contains(&first) {
            failures.push(format!("epoch 1 train accuracy {first}% is outside 84–87%"));
        }
        if !(97.3..=98.2).contains(&last) {
            failures.push(format!("epoch 30 train accuracy {last}% is outside 97.3–98.2%"));
        }
    }
    if test_percent < 96.5 {
        failures.push(format!("test accuracy {test_percent}% is below 96.5%"));
    }
    let size = fs::metadata(&weights).map_err(|e| format!("{}: {e}", weights.display()))?.len();
    if size != 203_600 {
        failures.push(format!("weights.bin is {size} bytes, expected 203600"));
    }

    // The golden full run.
    let sha = content_sha256(&weights).map_err(|e| format!("{}: {e}", weights.display()))?;
    let actual = golden_text(&lines, &sha);
    let golden_path = root.join(GOLDEN);
    if bless {
        fs::write(&golden_path, &actual).map_err(|e| format!("{}: {e}", golden_path.display()))?;
        println!("verify: wrote {GOLDEN}");
    } else {
        match fs::read_to_string(&golden_path) {
            Ok(expected) if expected == actual => println!("verify: log and weights hash match {GOLDEN}"),
            Ok(expected) => failures.push(format!("the run differs from {GOLDEN}:\n{}", diff(&expected, &actual))),
            Err(e) => {
                failures.push(format!("{}: {e} (run `cargo xtask verify --bless` to create it)", golden_path.display()))
            }
        }
    }

    // The book's figures are drawn from this run: they must come out byte for byte as committed.
    step("verify", "drawing the book's figures from this run and comparing them with book/src/figures/");
    if let Err(e) = crate::figures::run(&["--check".to_string()]) {
        failures.push(e);
    }

    // An independent reader of the documented layout.
    step("verify", "reading weights.bin with the NumPy layout reader (scripts/check_weights.py)");
    let python = python_with_numpy()?;
    let mut check = Command::new(python);
    check.arg(root.join("scripts/check_weights.py")).arg("--weights").arg(&weights).arg("--data").arg(&data);
    let numpy_lines = run_echo(check, "scripts/check_weights.py")?;
    match parse_overall(&numpy_lines) {
        Some((_, c, t)) if (c, t) == (correct, total) => {
            println!("verify: the NumPy layout reader agrees: {c}/{t}")
        }
        other => {
            failures.push(format!("NumPy reader of weights.bin got {other:?}, the binary printed {correct}/{total}"))
        }
    }

    if failures.is_empty() {
        println!("verify: OK — test accuracy {test_percent:.2}% ({correct}/{total})");
        Ok(())
    } else {
        Err(format!("verify failed:\n  - {}", failures.join("\n  - ")))
    }
}

/// A line diff good enough for a few dozen lines: every differing line, expected then actual.
pub fn diff(expected: &str, actual: &str) -> String {
    let (e, a): (Vec<&str>, Vec<&str>) = (expected.lines().collect(), actual.lines().collect());
    let mut out = String::new();
    for i in 0..e.len().max(a.len()) {
        let (x, y) = (e.get(i).copied(), a.get(i).copied());
        if x != y {
            out.push_str(&format!(
                "    line {}:\n      - {}\n      + {}\n",
                i + 1,
                x.unwrap_or("<none>"),
                y.unwrap_or("<none>")
            ));
        }
    }
    out
}
