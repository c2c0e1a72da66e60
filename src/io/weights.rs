//! `weights.bin`: raw little-endian f64, in the order w_hidden (H rows of 784), b_hidden (H),
//! w_output (10 rows of H), b_output (10). For H = 32 that is 25,450 values = 203,600 bytes; in
//! general `8·(795·H + 10)` bytes, so the reader infers H from the size.
//!
//! Writing is atomic: the bytes go to a temporary file in the same directory, which is flushed to
//! disk and then renamed over the target. A crash at any moment leaves either the old file or the
//! new one, never half of one.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::nn::{parameter_count, Network, MAX_HIDDEN};

/// Everything that can be wrong with a weights file; each message names the file.
#[derive(Debug, thiserror::Error)]
pub enum WeightsError {
    #[error("{}: no such file; train one first with `mnistlearn train` (or `cargo xtask verify`), or pass --weights FILE", path.display())]
    Missing { path: PathBuf },
    #[error("{}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error(
        "{}: {size} bytes is not a weights file: expected 8·(795·H + 10) bytes for H hidden units (203600 for H = 32)",
        path.display()
    )]
    BadSize { path: PathBuf, size: u64 },
    #[error("{}: value {index} (in {field}) is {value}, expected a finite number", path.display())]
    NotFinite { path: PathBuf, index: usize, field: &'static str, value: f64 },
}

/// Names the tensor a flat index of the file falls in (for error messages).
fn field_of(index: usize, hidden: usize) -> &'static str {
    let bounds = [(784 * hidden, "w_hidden"), (785 * hidden, "b_hidden"), (795 * hidden, "w_output")];
    bounds.iter().find(|(end, _)| index < *end).map_or("b_output", |(_, name)| name)
}

// ANCHOR: hidden_for_size
/// The hidden size whose weights file has exactly `bytes` bytes, if any.
pub fn hidden_for_size(bytes: u64) -> Option<usize> {
    if bytes % 8 != 0 {
        return None;
    }
    let values = bytes / 8;
    if values < 10 || (values - 10) % 795 != 0 {
        return None;
    }
    let hidden = ((values - 10) / 795) as usize;
    (1..=MAX_HIDDEN).contains(&hidden).then_some(hidden)
}
// ANCHOR_END: hidden_for_size

// ANCHOR: encode
/// The file's bytes for `net`.
pub fn encode(net: &Network) -> Vec<u8> {
    net.to_file_order().iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// Parses a weights file's bytes (`path` is only used in messages).
pub fn decode(path: &Path, bytes: &[u8]) -> Result<Network, WeightsError> {
    let hidden = hidden_for_size(bytes.len() as u64)
        .ok_or_else(|| WeightsError::BadSize { path: path.to_path_buf(), size: bytes.len() as u64 })?;
    let values: Vec<f64> = bytes
        .chunks_exact(8)
        .map(|c| f64::from_le_bytes(c.try_into().expect("8-byte chunk")))
        .collect();
    debug_assert_eq!(values.len(), parameter_count(hidden));
    if let Some(index) = values.iter().position(|v| !v.is_finite()) {
        let field = field_of(index, hidden);
        return Err(WeightsError::NotFinite { path: path.to_path_buf(), index, field, value: values[index] });
    }
    Ok(Network::from_file_order(hidden, &values))
}
// ANCHOR_END: encode

/// Reads and checks a weights file.
pub fn load(path: &Path) -> Result<Network, WeightsError> {
    let bytes = fs::read(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => WeightsError::Missing { path: path.to_path_buf() },
        _ => WeightsError::Io { path: path.to_path_buf(), source: e },
    })?;
    decode(path, &bytes)
}

// ANCHOR: save_atomic
/// Writes `net` to `path` atomically (temporary file, fsync, rename).
pub fn save(path: &Path, net: &Network) -> Result<(), WeightsError> {
    write_atomic(path, &encode(net)).map_err(|e| WeightsError::Io { path: path.to_path_buf(), source: e })
}

/// Writes `bytes` to `path` so that readers see the old file or the new one, never a mix.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&dir)?;
    let name = path.file_name().map_or("weights".into(), |n| n.to_string_lossy().into_owned());
    let temp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut file = fs::File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&temp, path)?;
        // Persist the rename itself.
        if let Ok(d) = fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}
// ANCHOR_END: save_atomic
