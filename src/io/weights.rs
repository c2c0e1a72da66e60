//! `weights.bin` on disk; the format itself (and [`WeightsError`]) is the core crate's
//! [`mnistlearn_core::weights`].
//!
//! Reading checks the size from the file's metadata before reading a byte, refuses anything but a
//! regular file, and refuses values that are not finite or beyond [`WEIGHT_BOUND`](mnistlearn_core::weights::WEIGHT_BOUND).
//!
//! Writing is atomic and cannot be redirected: the bytes go to a temporary file created in the
//! target's directory with an unpredictable name, exclusively and without following links (the
//! `tempfile` crate), which is flushed to disk, renamed over the target, and the directory synced.
//! A crash at any moment leaves either the old file or the new one, never half of one.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use mnistlearn_core::nn::Network;
pub use mnistlearn_core::weights::WeightsError;
use mnistlearn_core::weights::{check_values, decode, encode, hidden_for_size};

use super::file::{describe_file_type, open_regular, OpenError};

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
/// Checks that `path` can take a weights file, before the hours of training that will produce
/// one: creates missing parent directories, refuses a target that is a directory, FIFO, device
/// or socket, and creates (then removes) a temporary file in the target's directory, which
/// proves the directory is writable.
///
/// The probe's temporary file is not kept until the save: a training run can be interrupted
/// (Ctrl-C kills the process without running destructors), and every interruption would leave
/// a stray file behind.
pub(crate) fn check_output(path: &Path) -> Result<(), WeightsError> {
    let dir = output_dir(path)?;
    drop(create_temp(path, &dir)?);
    Ok(())
}

/// Writes `net` to `path` atomically (see `write_atomic`). Refuses a network that
/// [`load`] would refuse (a diverged run), and writes nothing then.
pub fn save(path: &Path, net: &Network) -> Result<(), WeightsError> {
    check_values(path, net.hidden(), &net.to_file_order())?;
    write_atomic(path, &encode(net))
}

/// Writes `bytes` to `path` so that readers see the old file or the new one, never a mix.
///
/// 1. The temporary file is created in `path`'s directory (rename is atomic only within one
///    file system) by `tempfile`: a random name, `O_CREAT | O_EXCL`, so a planted file or
///    symbolic link under any name cannot be opened or written through.
/// 2. The bytes are written and `fsync`ed, then the file is renamed over `path` and the
///    directory is `fsync`ed, which makes the rename itself durable.
/// 3. On any error the temporary file is removed (dropping a `NamedTempFile` deletes it), and
///    `path` is untouched. A process killed outright (`kill -9`, a power cut) during the few
///    milliseconds of writing and syncing cannot remove it; the next save into the directory
///    removes such leftovers (see [`remove_stale_temps`]).
///
/// `path` itself may be absent, a regular file (replaced), or a symbolic link: the link itself
/// is replaced by the new file, as `rename` does, and the file it pointed to is never written.
/// A directory, FIFO, device or socket at `path` is an error and is left as it is.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), WeightsError> {
    let dir = output_dir(path)?;
    let io_err = |what: &str, e: std::io::Error| WeightsError::BadOutput {
        path: path.to_path_buf(),
        message: format!("{what}: {e}"),
    };
    remove_stale_temps(path, &dir);
    let mut temp = create_temp(path, &dir)?;
    temp.write_all(bytes).map_err(|e| io_err("writing the temporary file", e))?;
    temp.as_file().sync_all().map_err(|e| io_err("syncing the temporary file", e))?;
    // Checked again just before the rename: renaming a file over a FIFO or device would
    // replace it, and the path may have changed during training.
    check_target(path)?;
    temp.persist(path).map_err(|e| io_err("renaming the temporary file into place", e.error))?;
    // Persist the rename itself.
    fs::File::open(&dir).and_then(|d| d.sync_all()).map_err(|e| io_err("syncing the directory", e))
}
// ANCHOR_END: save_atomic

/// The directory of `path` (created if missing), after checking what `path` is now.
fn output_dir(path: &Path) -> Result<PathBuf, WeightsError> {
    if path.file_name().is_none() {
        return Err(WeightsError::BadOutput {
            path: path.to_path_buf(),
            message: "expected a file name, not a directory".into(),
        });
    }
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&dir).map_err(|e| WeightsError::BadOutput {
        path: path.to_path_buf(),
        message: format!("cannot create the directory {}: {e}", dir.display()),
    })?;
    check_target(path)?;
    Ok(dir)
}

/// `path` must be absent, a regular file or a symbolic link (which will be replaced, not
/// followed).
fn check_target(path: &Path) -> Result<(), WeightsError> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_file() || meta.file_type().is_symlink() => Ok(()),
        Ok(meta) => Err(WeightsError::BadOutput {
            path: path.to_path_buf(),
            message: format!(
                "is {}, expected a regular file or a new file name (nothing was replaced)",
                describe_file_type(&meta.file_type())
            ),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(WeightsError::BadOutput { path: path.to_path_buf(), message: e.to_string() }),
    }
}

/// A temporary file of a save lives for milliseconds; one this old was left by a killed process.
const STALE_TEMP_AGE: std::time::Duration = std::time::Duration::from_secs(60);

/// Removes the temporary files of earlier saves to `path` that a killed process left behind:
/// regular files (or links: the link is removed, never its target) named like
/// [`create_temp`]'s, not modified for [`STALE_TEMP_AGE`]. Best effort; a failure changes
/// nothing for this save.
fn remove_stale_temps(path: &Path, dir: &Path) {
    let Some(name) = path.file_name().map(|n| n.to_string_lossy().into_owned()) else { return };
    let (prefix, suffix) = (format!(".{name}."), ".tmp");
    let Ok(entries) = fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let file_name = entry.file_name().to_string_lossy().into_owned();
        let ours = file_name.len() == prefix.len() + 6 + suffix.len()
            && file_name.starts_with(&prefix)
            && file_name.ends_with(suffix);
        let Ok(meta) = entry.metadata() else { continue };
        let old = meta.modified().ok().and_then(|m| m.elapsed().ok()).is_some_and(|age| age >= STALE_TEMP_AGE);
        if ours && old && (meta.is_file() || meta.file_type().is_symlink()) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// A new temporary file beside `path`, named `.NAME.XXXXXX.tmp` (six random characters).
fn create_temp(path: &Path, dir: &Path) -> Result<tempfile::NamedTempFile, WeightsError> {
    let name = path.file_name().map_or("weights".into(), |n| n.to_string_lossy().into_owned());
    tempfile::Builder::new().prefix(&format!(".{name}.")).suffix(".tmp").rand_bytes(6).tempfile_in(dir).map_err(|e| {
        WeightsError::BadOutput {
            path: path.to_path_buf(),
            message: format!("cannot create a file in {}: {e}", dir.display()),
        }
    })
}
