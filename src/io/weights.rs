//! `weights.bin` on disk; the format itself (and [`WeightsError`]) is the core crate's
//! [`mnistlearn_core::weights`].
//!
//! Reading checks the size from the file's metadata before reading a byte, refuses anything but a
//! regular file, and refuses values that are not finite or beyond [`WEIGHT_BOUND`](mnistlearn_core::weights::WEIGHT_BOUND).
//!
//! Writing is atomic and cannot be redirected ([`AtomicFile`], shared with `train --log`): the
//! bytes go to a temporary file created in the target's directory with an unpredictable name,
//! exclusively and without following links (the `tempfile` crate), which is flushed to disk,
//! renamed over the target, and the directory synced. A crash at any moment leaves either the
//! old file or the new one, never half of one.

use std::io::{Read, Write};
use std::path::Path;

use mnistlearn_core::nn::Network;
pub use mnistlearn_core::weights::WeightsError;
use mnistlearn_core::weights::{check_values, decode, encode, hidden_for_size};

use super::atomic::{check_space, AtomicFile};
use super::file::{open_regular, OpenError};

// ANCHOR: load
/// Reads and checks a weights file.
///
/// The size comes from the open file's metadata and is checked before anything is read, so a
/// 2 GB file is refused without reading it, and only a regular file is read at all
/// (`/dev/zero` never ends; a FIFO would block).
pub fn load(path: &Path) -> Result<Network, WeightsError> {
    let io_err = |e: std::io::Error| WeightsError::Io { path: path.to_path_buf(), source: e };
    let file = open_regular(path).map_err(|e| match e {
        OpenError::Io(e) if e.kind() == std::io::ErrorKind::NotFound => {
            WeightsError::Missing { path: path.to_path_buf() }
        }
        OpenError::Io(e) => io_err(e),
        OpenError::NotRegular(kind) => WeightsError::NotRegular { path: path.to_path_buf(), kind },
    })?;
    let size = file.metadata().map_err(io_err)?.len();
    if hidden_for_size(size).is_none() {
        return Err(WeightsError::BadSize { path: path.to_path_buf(), size });
    }
    // One byte more than the metadata promised, to notice a file that grew meanwhile.
    let mut bytes = Vec::with_capacity(size as usize);
    file.take(size + 1).read_to_end(&mut bytes).map_err(io_err)?;
    decode(path, &bytes)
}
// ANCHOR_END: load

// ANCHOR: save_atomic
/// Checks that `path` can take the weights file of a network with `hidden` units, before the
/// hours of training that will produce one: creates missing parent directories, refuses a
/// target that is a directory, FIFO, device or socket, and creates (then removes) a temporary
/// file in the target's directory with the file's whole size reserved, which proves the
/// directory is writable and, at that moment, has room: a full disk is reported before
/// training, not after.
///
/// The probe's temporary file is not kept until the save: a training run can be interrupted
/// (Ctrl-C kills the process without running destructors), and every interruption would leave
/// a stray file behind.
pub(crate) fn check_output(path: &Path, hidden: usize) -> Result<(), WeightsError> {
    check_space(path, file_size(hidden))
}

/// The size of the weights file of a network with `hidden` units: `8·(795·H + 10)` bytes.
pub(crate) fn file_size(hidden: usize) -> u64 {
    8 * (795 * hidden as u64 + 10)
}

/// Writes `net` to `path` atomically (see `write_atomic`). Refuses a network that
/// [`load`] would refuse (a diverged run), and writes nothing then.
pub fn save(path: &Path, net: &Network) -> Result<(), WeightsError> {
    check_values(path, net.hidden(), &net.to_file_order())?;
    write_atomic(path, &encode(net))
}

/// Writes `bytes` to `path` so that readers see the old file or the new one, never a mix: an
/// [`AtomicFile`] beside `path`, moved into place once written and synced.
///
/// `path` itself may be absent, a regular file (replaced, keeping its permissions), or a
/// symbolic link: the link itself is replaced by the new file, as `rename` does, and the file
/// it pointed to is never written. A directory, FIFO, device or socket at `path` is an error
/// and is left as it is.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), WeightsError> {
    let mut file = AtomicFile::create(path)?;
    file.write_all(bytes).map_err(|e| file.error("writing the temporary file", e))?;
    file.commit()
}
// ANCHOR_END: save_atomic
