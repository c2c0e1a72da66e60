//! Opening input files safely, for every reader of the binary (IDX data, weights, images): only
//! regular files are read. A FIFO would block forever waiting for a writer, and a device such as
//! `/dev/zero` never ends.

use std::fs::{self, File};
use std::io;
use std::path::Path;

/// Why [`open_regular`] failed.
pub(crate) enum OpenError {
    Io(io::Error),
    /// The path names something other than a regular file; the payload says what.
    NotRegular(&'static str),
}

/// Opens `path` for reading if it is a regular file (symbolic links are followed), without
/// blocking on a FIFO: the file is opened with `O_NONBLOCK` and then checked with `fstat` on the
/// open descriptor, so what is checked is what is read.
pub(crate) fn open_regular(path: &Path) -> Result<File, OpenError> {
    let mut options = fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // Opening a FIFO for reading waits for a writer unless O_NONBLOCK is given. On a regular
        // file the flag changes nothing (regular files never block on read).
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path).map_err(OpenError::Io)?;
    let kind = file.metadata().map_err(OpenError::Io)?.file_type();
    if kind.is_file() {
        return Ok(file);
    }
    Err(OpenError::NotRegular(describe_file_type(&kind)))
}

/// "a directory", "a FIFO", … for messages.
pub(crate) fn describe_file_type(kind: &fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if kind.is_fifo() {
            return "a FIFO";
        }
        if kind.is_char_device() {
            return "a character device";
        }
        if kind.is_block_device() {
            return "a block device";
        }
        if kind.is_socket() {
            return "a socket";
        }
    }
    if kind.is_dir() {
        "a directory"
    } else if kind.is_symlink() {
        "a symbolic link"
    } else if kind.is_file() {
        "a regular file"
    } else {
        "not a regular file"
    }
}
