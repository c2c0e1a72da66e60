//! The browser trainer's exports (reserved: the "Watch it learn" page builds on this module).
//! Follow the conventions of the crate docs (`lib.rs`): memory through `alloc`/`free`,
//! bytes out through the result buffer, a status as the return value.
