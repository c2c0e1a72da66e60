//! The small MNIST fixture of the repository's `tests/fixtures/mnist-small`, for unit tests.

use super::idx::{read_dataset, IdxSource, TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES, TRAIN_LABELS};
use super::Dataset;

fn source(name: &str) -> IdxSource {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/mnist-small")
        .join(format!("{name}.gz"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    IdxSource::from_bytes(path, bytes).expect("fixture")
}

pub fn load_train() -> Dataset {
    read_dataset(source(TRAIN_IMAGES), source(TRAIN_LABELS), None).expect("fixture train set")
}

pub fn load_test() -> Dataset {
    read_dataset(source(TEST_IMAGES), source(TEST_LABELS), None).expect("fixture test set")
}
