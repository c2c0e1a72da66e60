//! The data room (the original's `src/data/mnist.asm`): the MNIST IDX parser, the in-memory
//! image store, the seeded shuffle that orders each epoch — and the preprocessing that turns a
//! drawing or a photo of any size into an MNIST-like 28×28 input.

pub mod idx;
pub mod images;
pub mod preprocess;
pub mod shuffle;
pub mod strokes;

#[cfg(test)]
pub(crate) mod fixture;

pub use idx::{read_dataset, read_images, read_labels, IdxError, IdxSource};
pub use images::{Dataset, Images, SparseImage, PIXELS, SIDE};
