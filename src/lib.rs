//! # mnistlearn
//!
//! A literate, bit-exact Rust reproduction of "NASM Learn Complex", a handwritten-digit network
//! (784 → 32 sigmoid → 10 softmax) first written in x86-64 assembly. The arithmetic, the network,
//! its trainers and the data model are the core crate, `mnistlearn-core` (`core/`), which also
//! builds for aarch64 and the browser; this crate is what touches the world:
//!
//! | original             | here                                   |
//! |----------------------|----------------------------------------|
//! | `src/io/*.asm`       | [`io`]: files (data, weights, images)  |
//! | `app/server.c`       | [`serve`]                              |
//! | `main.asm`           | [`cli`]                                |
//! | (the book's figures) | `mnistlearn-figures` (`figures/`)      |
//!
//! The binary (`src/main.rs`) is a thin shell over [`cli::run`]. `ARCHITECTURE.md` at the top
//! of the repository is the full map: every module, the data flow from IDX bytes to weights.bin
//! to a served prediction, which code is the reference and which the fast path, and the
//! invariants each keeps.

// The kernels write `acc = acc + w * x` rather than `acc += w * x`: the same operation, spelled
// as the canonical definition in `nn` spells it. Kernel signatures are wide by nature. And
// `n % 8 == 0` reads as the arithmetic it checks (clippy asks for `is_multiple_of` since 1.87).
#![allow(clippy::too_many_arguments)]
// Every `unsafe` block says why it is sound (a `SAFETY:` comment), and every unsafe or
// `#[target_feature]` function what its caller must guarantee (a `# Safety` section): rustc
// enforces the first line, `cargo clippy` the second (`clippy.toml` extends it to private items).
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]

pub mod cli;
pub mod io;
pub mod serve;

use mnistlearn_core::data;

/// Every way a command can fail. Each prints as one line naming the file, flag or field and
/// what was expected; the underlying error, if any, stays reachable through `source()`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad command line: exit code 2.
    #[error("{0}")]
    Usage(String),
    #[error(transparent)]
    Data(#[from] data::IdxError),
    #[error(transparent)]
    Weights(#[from] io::weights::WeightsError),
    /// An image file `predict` could not read (missing, corrupt, too large).
    #[error(transparent)]
    Image(#[from] io::image::ImageError),
    /// Several images `predict` could not read, all named on one line.
    #[error("{} of {total} images could not be read: {}", failed.len(), failed.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))]
    Images { failed: Vec<io::image::ImageError>, total: usize },
    /// An operating-system failure outside the data and weights files (stdout, a socket…).
    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },
}

impl Error {
    /// An [`Error::Io`] that says what was being done.
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Error {
        Error::Io { context: context.into(), source }
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) => 2,
            _ => 1,
        }
    }
}
