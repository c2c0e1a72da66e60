//! # mnistlearn
//!
//! A literate, bit-exact Rust reproduction of "NASM Learn Complex", a handwritten-digit network
//! (784 → 32 sigmoid → 10 softmax) first written in x86-64 assembly. The modules mirror the
//! original's source map so a reader of the assembly finds the same rooms:
//!
//! | original            | here           |
//! |---------------------|----------------|
//! | `src/data/mnist.asm` | [`data`]      |
//! | `src/math/*.asm`     | [`math`]      |
//! | `src/nn/*.asm`       | [`nn`]        |
//! | `src/io/*.asm`       | [`io`]        |
//! | `app/server.c`       | [`serve`]     |
//!
//! The binary (`src/main.rs`) is a thin shell over [`cli::run`].

// The kernels write `acc = acc + w * x` rather than `acc += w * x`: the same operation, spelled
// as the canonical definition in `nn` spells it. And kernel signatures are wide by nature.
#![allow(clippy::assign_op_pattern, clippy::too_many_arguments)]

pub mod cli;
pub mod data;
pub mod io;
pub mod math;
pub mod nn;
pub mod serve;

use std::fmt;

/// Every way a command can fail. Each prints as one line naming the file, flag or field and
/// what was expected.
#[derive(Debug)]
pub enum Error {
    /// Bad command line: exit code 2.
    Usage(String),
    Data(data::IdxError),
    Weights(io::weights::WeightsError),
    /// Anything else (writing output, binding a socket…): exit code 1.
    Other(String),
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) => 2,
            _ => 1,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(m) | Error::Other(m) => f.write_str(m),
            Error::Data(e) => e.fmt(f),
            Error::Weights(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for Error {}

impl From<data::IdxError> for Error {
    fn from(e: data::IdxError) -> Self {
        Error::Data(e)
    }
}

impl From<io::weights::WeightsError> for Error {
    fn from(e: io::weights::WeightsError) -> Self {
        Error::Weights(e)
    }
}
