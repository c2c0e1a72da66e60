//! The I/O room (the original's `src/io/*.asm`): the files the binary reads and writes — MNIST's
//! IDX files, the weights file, the image files `mnistlearn predict` reads — and the one safe way
//! to open them. The formats themselves are the core crate's.

pub mod atomic;
pub mod dataset;
pub(crate) mod file;
pub mod image;
pub mod weights;
