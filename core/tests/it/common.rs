//! Helpers shared by the core crate's integration tests.

use std::path::PathBuf;

use mnistlearn_core::data::idx::{TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES, TRAIN_LABELS};
use mnistlearn_core::data::{read_dataset, Dataset, IdxSource};
use sha2::{Digest, Sha256};

/// The committed MNIST fixture: 2,000 training and 500 test images.
pub fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/mnist-small")
}

fn source(name: &str) -> IdxSource {
    let path = fixture_dir().join(format!("{name}.gz"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    IdxSource::from_bytes(path, bytes).expect("fixture")
}

/// The fixture's training set, its first `limit` samples if given.
pub fn fixture_train(limit: Option<usize>) -> Dataset {
    read_dataset(source(TRAIN_IMAGES), source(TRAIN_LABELS), limit).expect("fixture train set")
}

pub fn fixture_test() -> Dataset {
    read_dataset(source(TEST_IMAGES), source(TEST_LABELS), None).expect("fixture test set")
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// insta settings that store snapshots in the repository's `golden/`.
pub fn golden() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../../../golden");
    settings.set_prepend_module_to_snapshot(false);
    settings
}
