//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

use sha2::{Digest, Sha256};

/// The committed MNIST fixture: 2,000 training and 500 test images.
pub fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mnist-small")
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// insta settings that store snapshots in `golden/`.
pub fn golden() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../../golden");
    settings.set_prepend_module_to_snapshot(false);
    settings
}

/// Replaces the one non-deterministic line of a training log.
pub fn redact_time(log: &str) -> String {
    log.lines()
        .map(|l| if l.starts_with("Training time: ") { "Training time: [redacted]" } else { l })
        .collect::<Vec<_>>()
        .join("\n")
}
