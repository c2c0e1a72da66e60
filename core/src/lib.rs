//! # mnistlearn-core
//!
//! Everything of mnistlearn that is arithmetic or data, and nothing that is a file, a socket or a
//! command line: the math kernels, the network and its trainers, the data model (IDX parsing
//! from bytes, the sparse image store, preprocessing, the seeded shuffle), the weights format and
//! the log's text. It builds for x86-64, aarch64 and wasm32-unknown-unknown, and gives the same
//! bits on each; the `mnistlearn` binary (CLI, server, files) and the browser's wasm trainer are
//! both built on it. The modules mirror the original's source map:
//!
//! | original             | here            |
//! |----------------------|-----------------|
//! | `src/data/mnist.asm` | [`data`]        |
//! | `src/math/*.asm`     | [`math`]        |
//! | `src/nn/*.asm`       | [`nn`]          |
//! | `src/io/*.asm`       | [`weights`], [`report`] |
//!
//! `ARCHITECTURE.md` at the top of the repository is the full map.

// The kernels write `acc = acc + w * x` rather than `acc += w * x`: the same operation, spelled
// as the canonical definition in `nn` spells it. Kernel signatures are wide by nature. And
// `n % 8 == 0` reads as the arithmetic it checks (clippy asks for `is_multiple_of` since 1.87).
#![allow(clippy::assign_op_pattern, clippy::too_many_arguments, clippy::manual_is_multiple_of)]
// Every `unsafe` block says why it is sound (a `SAFETY:` comment), and every unsafe or
// `#[target_feature]` function what its caller must guarantee (a `# Safety` section): rustc
// enforces the first line, `cargo clippy` the second (`clippy.toml` extends it to private items).
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]
// A wasm32 build without `+simd128` has no SIMD arm at all: the dispatch's `SimdKind` imports and
// the group counters of its fast paths are unused there, and only there.
#![cfg_attr(all(target_arch = "wasm32", not(target_feature = "simd128")), allow(unused_imports, unused_mut))]

pub mod clock;
pub mod data;
pub mod math;
pub mod nn;
pub mod report;
pub mod weights;
