//! The I/O room (the original's `src/io/*.asm`): the weights file and the text reports.

pub mod epoch_log;
pub mod report;
pub mod weights;
