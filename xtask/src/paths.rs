//! Where things are in the repository, named once: every command finds the root and the files
//! they share (the golden log, the training log, the figures) here instead of in each other.

use std::path::PathBuf;

/// The full run's golden log (`cargo xtask verify` compares against it).
pub const GOLDEN: &str = "golden/full_run.txt";
/// What `cargo xtask verify` writes with `mnistlearn train --log` (JSON Lines, one per epoch).
pub const TRAIN_LOG: &str = "data/train-log.jsonl";
/// The weights `verify` trains and the other commands read by default.
pub const WEIGHTS: &str = "data/weights.bin";
/// Where the book's figures live.
pub const FIGURES_DIR: &str = "book/src/figures";

/// The repository root (the parent of `xtask/`).
pub fn project_root() -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the repo").to_path_buf()
}
