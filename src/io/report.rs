//! The text the binary prints, in the original's format. Kept apart from the CLI so that tests
//! and the book can show exactly what a run prints.

use crate::nn::evaluate::TestReport;
use crate::nn::train::EpochReport;

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
