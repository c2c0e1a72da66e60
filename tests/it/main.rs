//! The integration tests, as one test binary with a module per area: one link step instead of
//! one per file, which is most of what a clean `cargo test` spends on tests.
//!
//! | module       | what it holds                                                          |
//! |--------------|------------------------------------------------------------------------|
//! | `cli`        | every subcommand end to end through the real binary, every usage error |
//! | `files`      | train --log, FIFOs, file modes, a full disk, predict's names and --json |
//! | `flood`      | hostile crowds on a real socket: slow bodies, parked uploads, Host/Origin |
//! | `golden`     | the fixture run's log, weights hash and test output against `golden/`  |
//! | `harden`     | crafted files under a memory limit, redirected saves, silent clients   |
//! | `pictures`   | `train --log`, `test --confusion`, `test --errors DIR`, `figures`      |
//! | `predict`    | redrawn digits (ours vs naive resize), `predict`, `/classify`          |
//! | `serve_api`  | the server's routes, then the real binary on a real socket             |
//! | `strokes`    | traced MNIST strokes at 100/40/15% through `/strokes`, pen width, limits |
//!
//! The kernel, gradient-check and trainer tests belong to the core crate (`core/tests/it/`), so
//! they run on aarch64 too.

mod cli;
mod common;
mod files;
mod flood;
mod golden;
mod harden;
mod pictures;
mod predict;
/// The redrawn-digit generator, shared with `examples/redrawn.rs`.
#[path = "../support/redraw.rs"]
mod redraw;
mod serve_api;
/// MNIST digits thinned and traced into strokes, shared with `examples/redrawn.rs`.
#[path = "../support/skeleton.rs"]
mod skeleton;
mod strokes;
mod train_page;
