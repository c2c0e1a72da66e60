//! MNIST's files on disk: `name` or `name.gz` in a data directory, opened as regular files and
//! handed to the core crate's IDX parser.

use std::path::{Path, PathBuf};

use mnistlearn_core::data::idx::{self, IdxError, IdxSource, TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES, TRAIN_LABELS};
use mnistlearn_core::data::Dataset;

use super::file::{open_regular, OpenError};

/// The file [`open_idx`] reads for `path`: `path` itself if it exists, else `path.gz` if that
/// does.
pub(crate) fn idx_file(path: &Path) -> Option<PathBuf> {
    let gz = PathBuf::from(format!("{}.gz", path.display()));
    [path.to_path_buf(), gz].into_iter().find(|p| p.exists())
}

/// Opens `path`, or `path.gz` if `path` does not exist; raw or gzipped, either way (the parser
/// recognises gzip by its magic bytes, not its name).
pub(crate) fn open_idx(path: &Path) -> Result<IdxSource, IdxError> {
    let chosen = idx_file(path).ok_or_else(|| IdxError::Missing { path: path.to_path_buf() })?;
    let io_err = |e| IdxError::Io { path: chosen.clone(), source: e };
    let file = open_regular(&chosen).map_err(|e| match e {
        OpenError::Io(e) => io_err(e),
        OpenError::NotRegular(kind) => IdxError::NotRegular { path: chosen.clone(), kind },
    })?;
    let len = file.metadata().map_err(io_err)?.len();
    IdxSource::new(chosen.clone(), file, Some(len))
}

/// Reads an image file and its label file (see [`idx::read_dataset`]).
pub(crate) fn read_dataset(images: &Path, labels: &Path, limit: Option<usize>) -> Result<Dataset, IdxError> {
    idx::read_dataset(open_idx(images)?, open_idx(labels)?, limit)
}

/// The training set from `dir` (the first `limit` samples if given).
pub fn load_train(dir: &Path, limit: Option<usize>) -> Result<Dataset, IdxError> {
    read_dataset(&dir.join(TRAIN_IMAGES), &dir.join(TRAIN_LABELS), limit)
}

/// The test set from `dir`.
pub fn load_test(dir: &Path) -> Result<Dataset, IdxError> {
    read_dataset(&dir.join(TEST_IMAGES), &dir.join(TEST_LABELS), None)
}
