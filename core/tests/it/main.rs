//! The core crate's integration tests, as one test binary with a module per area. They need no
//! file but the committed fixture and no process, so they run wherever the core crate builds:
//! natively, and on aarch64 under qemu (`cargo xtask cross`).
//!
//! | module        | what it holds                                                           |
//! |---------------|-------------------------------------------------------------------------|
//! | `conformance` | the bit-for-bit checks, shared with the wasm module (`wasm/src/check.rs`) |
//! | `golden`      | the fixture run's log, weights hash and test output against `golden/`   |
//! | `gradcheck`   | backprop against finite differences; the SGD step                       |
//! | `kernels`     | every SIMD kernel against its scalar reference, exp/ln ulp bounds        |
//! | `session`     | the browser's sliced trainer against the reference trainer, bit for bit |
//! | `trainer`     | the fast trainer against the plain reference trainer, bit for bit      |

mod common;
mod conformance;
/// Correctly rounded exp and ln, shared with xtask (the ulp figures).
#[path = "../../../xtask/src/exact.rs"]
mod exact;
mod golden;
mod gradcheck;
mod kernels;
mod session;
mod trainer;
