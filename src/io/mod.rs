//! The I/O room (the original's `src/io/*.asm`): the weights file, the text reports, and the
//! image files `mnistlearn predict` reads.

pub mod epoch_log;
pub mod image;
pub mod report;
pub mod weights;
