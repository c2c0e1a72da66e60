//! Writing a file so that readers see the old one or the new one, never a mix, and so that
//! the write cannot be redirected: the weights (`io::weights::save`) and `train --log`.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use mnistlearn_core::weights::WeightsError;

use super::file::describe_file_type;

// ANCHOR: atomic_file
/// A file being written beside its target, moved into place by [`AtomicFile::commit`].
///
/// 1. The temporary file is created in `path`'s directory (rename is atomic only within one
///    file system) by `tempfile`: a random name, `O_CREAT | O_EXCL`, so a planted file or
///    symbolic link under any name cannot be opened or written through.
/// 2. The bytes are written and `fsync`ed; the file takes the mode of the file it replaces (a
///    new one gets `0666 & !umask`, as any new file), then it is renamed over `path` and the
///    directory is `fsync`ed, which makes the rename itself durable.
/// 3. Until the commit, `path` is untouched; dropped without a commit (an error, a failed
///    run), the temporary file is removed. A process killed outright (`kill -9`, a power cut)
///    cannot remove it; the next write into the directory removes such leftovers (see
///    [`remove_stale_temps`]).
pub struct AtomicFile {
    path: PathBuf,
    dir: PathBuf,
    temp: tempfile::NamedTempFile,
}

impl AtomicFile {
    /// Starts writing `path`: checks what is there now (absent, a regular file or a symbolic
    /// link), creates missing parent directories and the temporary file.
    pub fn create(path: &Path) -> Result<AtomicFile, WeightsError> {
        let dir = output_dir(path)?;
        remove_stale_temps(path, &dir);
        let temp = create_temp(path, &dir)?;
        Ok(AtomicFile { path: path.to_path_buf(), dir, temp })
    }

    /// An error about this file: what was being done, and the system's reason.
    pub fn error(&self, what: &str, e: std::io::Error) -> WeightsError {
        WeightsError::BadOutput { path: self.path.clone(), message: format!("{what}: {e}") }
    }

    /// Syncs the file and renames it over the target.
    pub fn commit(self) -> Result<(), WeightsError> {
        self.temp.as_file().sync_all().map_err(|e| self.error("syncing the temporary file", e))?;
        // Checked again just before the rename: renaming a file over a FIFO or device would
        // replace it, and the path may have changed during training.
        check_target(&self.path)?;
        take_mode(self.temp.as_file(), &self.path).map_err(|e| self.error("setting the file's mode", e))?;
        let (path, dir) = (self.path.clone(), self.dir.clone());
        let io_err = |what: &str, e: std::io::Error| WeightsError::BadOutput {
            path: path.clone(),
            message: format!("{what}: {e}"),
        };
        self.temp.persist(&path).map_err(|e| io_err("renaming the temporary file into place", e.error))?;
        // Persist the rename itself.
        fs::File::open(&dir).and_then(|d| d.sync_all()).map_err(|e| io_err("syncing the directory", e))
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.temp.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.temp.flush()
    }
}
// ANCHOR_END: atomic_file

/// Gives `file` the permissions of the regular file at `path` it will replace, so a save never
/// locks out another reader (the temporary file is created 0600); for a new file (or one
/// replacing a link), what `open(…, 0666)` would give under the process's umask.
#[cfg(unix)]
fn take_mode(file: &fs::File, path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mode = match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_file() => meta.permissions().mode() & 0o7777,
        _ => 0o666 & !umask(),
    };
    file.set_permissions(fs::Permissions::from_mode(mode))
}

/// Elsewhere the temporary file's permissions are the system's defaults already.
#[cfg(not(unix))]
fn take_mode(_file: &fs::File, _path: &Path) -> std::io::Result<()> {
    Ok(())
}

/// The process's umask. POSIX can only read it by setting it, so it is set back at once; the
/// value is the same before and after, so a file created meanwhile by another thread gets the
/// same mode either way.
#[cfg(unix)]
fn umask() -> u32 {
    // SAFETY: umask cannot fail; it is restored immediately.
    let mask = unsafe { libc::umask(0o022) };
    // SAFETY: as above.
    unsafe { libc::umask(mask) };
    mask as u32 & 0o777
}

/// Checks that `path` can take a file of `size` bytes now: what [`AtomicFile::create`]
/// checks, plus the space, reserved in a temporary file that is then removed. Kept as a probe
/// rather than kept open until the write: a run interrupted by Ctrl-C (which kills the process
/// without running destructors) would leave a stray file of that size behind every time.
pub fn check_space(path: &Path, size: u64) -> Result<(), WeightsError> {
    let file = AtomicFile::create(path)?;
    reserve(file.temp.as_file(), size).map_err(|e| file.error(&format!("cannot reserve {size} bytes for it"), e))
}

/// Allocates `size` bytes to `file` (so a full disk or a file-size limit shows now).
fn reserve(file: &fs::File, size: u64) -> std::io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: a valid open descriptor; posix_fallocate returns an error number, not -1.
        let err = unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, size as libc::off_t) };
        match err {
            0 => return Ok(()),
            // The file system cannot preallocate: write the bytes instead.
            libc::EOPNOTSUPP | libc::EINVAL => {}
            err => return Err(std::io::Error::from_raw_os_error(err)),
        }
    }
    let mut out = file;
    let zeros = vec![0u8; 1 << 16];
    let mut left = size;
    while left > 0 {
        let n = left.min(zeros.len() as u64) as usize;
        out.write_all(&zeros[..n])?;
        left -= n as u64;
    }
    out.sync_all()
}

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
