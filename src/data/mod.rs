//! The data room (the original's `src/data/mnist.asm`): the MNIST IDX parser, the in-memory
//! image store, and the seeded shuffle that orders each epoch.

pub mod idx;
pub mod shuffle;

pub use idx::{read_images, read_labels, Dataset, IdxError, Images, SparseImage};
