//! The text the binary prints, in the original's format. Kept apart from the CLI so that tests
//! and the book can show exactly what a run prints.

use crate::nn::evaluate::{Misclassified, TestReport};
use crate::nn::train::{EpochReport, TrainConfig};
use crate::nn::OUTPUTS;

// ANCHOR: log_lines
pub fn banner() -> String {
    "=== mnistlearn (NASM Learn Complex, in Rust) — MNIST ===".to_string()
}

pub fn training_header(hidden: usize) -> String {
    format!("Training 784-{hidden}-10 network...")
}

/// `Epoch 1/30 | Loss: 0.6105 | Accuracy: 85.26%`
pub fn epoch_line(r: &EpochReport) -> String {
    format!("Epoch {}/{} | Loss: {:.4} | Accuracy: {:.2}%", r.epoch, r.epochs, r.loss, r.accuracy_percent())
}

/// The wall-clock line; the only line of a run that is not deterministic.
pub fn training_time_line(seconds: f64) -> String {
    format!("Training time: {seconds:.2} s")
}

/// `--- Test Results ---`, the overall line, and one line per digit.
pub fn test_block(r: &TestReport) -> Vec<String> {
    let mut lines = vec![
        "--- Test Results ---".to_string(),
        format!("Overall accuracy: {:.2}% ({}/{})", r.accuracy_percent(), r.correct, r.total),
        "Per-digit accuracy:".to_string(),
    ];
    lines.extend((0..10).map(|d| format!("{d}: {:.2}%", r.digit_accuracy_percent(d))));
    lines
}
// ANCHOR_END: log_lines

// ANCHOR: confusion_block
/// `test --confusion`: the 10×10 matrix, rows = true digit, columns = predicted digit.
pub fn confusion_block(r: &TestReport) -> Vec<String> {
    let widest = r.confusion.iter().flatten().max().map_or(1, |n| n.to_string().len());
    let w = widest.max(4) + 1;
    let mut lines = vec!["--- Confusion matrix (rows: true digit, columns: predicted) ---".to_string()];
    let mut header = "true\\pred".to_string();
    for p in 0..OUTPUTS {
        header.push_str(&format!("{p:>w$}"));
    }
    lines.push(header);
    for (t, row) in r.confusion.iter().enumerate() {
        let mut line = format!("{t:>9}");
        for count in row {
            line.push_str(&format!("{count:>w$}"));
        }
        lines.push(line);
    }
    lines
}
// ANCHOR_END: confusion_block

/// `test --errors DIR`: the file name of a misclassified image, e.g. `00247-true4-pred6.png`
/// (index first, so a directory listing is in test-set order).
pub fn error_file_name(e: &Misclassified) -> String {
    format!("{:05}-true{}-pred{}.png", e.index, e.label, e.predicted)
}

// ANCHOR: epoch_record
/// One line of `train --log FILE` (JSON Lines): the epoch's loss and training accuracy as the
/// log prints them (unrounded), the test accuracy of the network at the end of the epoch, and
/// the training time so far in seconds, and how the run was made: its seed, and the SIMD level
/// and thread count it used (which change that time and never a number before it).
pub fn epoch_record(r: &EpochReport, test: &TestReport, elapsed_seconds: f64, config: &TrainConfig) -> String {
    // serde_json writes each float as its shortest round-trip form (and a non-finite loss as null).
    let number = |x: f64| serde_json::Value::from(x).to_string();
    format!(
        "{{\"epoch\":{},\"loss\":{},\"train_correct\":{},\"train_total\":{},\"train_accuracy\":{},\"test_correct\":{},\"test_total\":{},\"test_accuracy\":{},\"elapsed_s\":{},\"seed\":{},\"simd\":\"{}\",\"threads\":{}}}",
        r.epoch,
        number(r.loss),
        r.correct,
        r.samples,
        number(r.accuracy_percent()),
        test.correct,
        test.total,
        number(test.accuracy_percent()),
        number((elapsed_seconds * 1000.0).round() / 1000.0),
        config.seed,
        config.level,
        config.threads,
    )
}
// ANCHOR_END: epoch_record
