//! The weights file's format: raw little-endian f64, in the order w_hidden (H rows of 784),
//! b_hidden (H), w_output (10 rows of H), b_output (10). For H = 32 that is 25,450 values =
//! 203,600 bytes; in general `8·(795·H + 10)` bytes, so a reader infers H from the size.
//!
//! Decoding refuses any other size and values that are not finite or beyond [`WEIGHT_BOUND`].
//! Files — reading only regular ones, writing atomically — are the binary's job (its
//! `io::weights`); the browser decodes and encodes the same bytes here.

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
    /// A finite value beyond [`WEIGHT_BOUND`].
    #[error("{}: value {index} (in {field}) is {value:e}, expected a magnitude of at most {WEIGHT_BOUND:e}", path.display())]
    OutOfRange { path: PathBuf, index: usize, field: &'static str, value: f64 },
    /// A FIFO, device, directory… where a weights file should be read.
    #[error("{}: is {kind}, expected a regular weights file", path.display())]
    NotRegular { path: PathBuf, kind: &'static str },
    /// An output path that cannot take a weights file; nothing was written or replaced.
    #[error("{}: {message}", path.display())]
    BadOutput { path: PathBuf, message: String },
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

// ANCHOR: bound
/// The largest magnitude a weight or bias may have, in a file read or written.
///
/// Why this keeps every forward pass finite, for any image of bytes 0–255: an input is
/// `b/255 ∈ [0, 1]`, so a hidden unit's sum `b + Σ w·x` has at most 785 terms of magnitude
/// ≤ 10⁶, |z| ≤ 7.85·10⁸; σ(z) is in [0, 1] for every finite z (`exp` clamps its argument to
/// [−745.2, 709.8], so `1/(1 + e^−z)` is at worst `1/(1 + ∞) = 0`); an output unit's sum has at
/// most `MAX_HIDDEN + 1 = 4097` such terms, |o| ≤ 4.1·10⁹; softmax subtracts the maximum, so
/// every `exp` argument is finite and ≤ 0 and the largest term is exactly 1: the sum is in
/// [1, 10] and every probability finite, in [0, 1]. Without a bound, 784 terms of 10³⁰⁸
/// overflow to ±∞ and `∞ − ∞` gives NaN probabilities. Trained weights are of order 1–10; a
/// million leaves room for any sane run while the sums stay 10²⁹⁹ away from overflow.
pub const WEIGHT_BOUND: f64 = 1e6;
// ANCHOR_END: bound

/// Checks every value: finite, and within [`WEIGHT_BOUND`].
pub fn check_values(path: &Path, hidden: usize, values: &[f64]) -> Result<(), WeightsError> {
    let Some(index) = values.iter().position(|v| !v.is_finite() || v.abs() > WEIGHT_BOUND) else {
        return Ok(());
    };
    let (path, field, value) = (path.to_path_buf(), field_of(index, hidden), values[index]);
    Err(if value.is_finite() {
        WeightsError::OutOfRange { path, index, field, value }
    } else {
        WeightsError::NotFinite { path, index, field, value }
    })
}

// ANCHOR: encode
/// The file's bytes for `net`.
pub fn encode(net: &Network) -> Vec<u8> {
    net.to_file_order().iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// Parses a weights file's bytes (`path` is only used in messages).
pub fn decode(path: &Path, bytes: &[u8]) -> Result<Network, WeightsError> {
    let hidden = hidden_for_size(bytes.len() as u64)
        .ok_or_else(|| WeightsError::BadSize { path: path.to_path_buf(), size: bytes.len() as u64 })?;
    let values: Vec<f64> =
        bytes.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().expect("8-byte chunk"))).collect();
    debug_assert_eq!(values.len(), parameter_count(hidden));
    check_values(path, hidden, &values)?;
    Ok(Network::from_file_order(hidden, &values))
}
// ANCHOR_END: encode
