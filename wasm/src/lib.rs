//! # mnistlearn-wasm
//!
//! [`mnistlearn_core`] as a WebAssembly module for the browser and Node: the same kernels and
//! trainer as the native binary, so the same bits (`cargo xtask cross` proves it on the
//! 30-epoch run). `cargo xtask wasm` builds it twice into `web/wasm/`: `mnistlearn.wasm`
//! (scalar) and `mnistlearn-simd128.wasm` (`+simd128`, the SIMD128 kernels).
//!
//! No wasm-bindgen: the interface is a handful of `extern "C"` functions over numbers and
//! pointers into the module's memory, read and written by the hand-written glue
//! `web/wasm/glue.mjs`. The conventions, for every module of this crate:
//!
//! * **Memory.** The caller gets memory with [`alloc`] (`len` bytes, 8-aligned, so f64 arrays
//!   fit) and gives it back with [`free`] (same `len`). Ownership of an input never passes to
//!   the module: it reads what a pointer names during the call and copies what it keeps.
//! * **Results.** A function that produces bytes (text, weights) leaves them in the *result
//!   buffer* and returns a status; [`result_ptr`] and [`result_len`] say where they are, valid
//!   until the next call that produces a result.
//! * **Status.** `0` is success; a non-zero status leaves a one-line UTF-8 message in the
//!   result buffer. Bad input never traps the module.
//! * **Imports.** One: `env.now_ms() -> f64` (`performance.now`), the trainer's clock
//!   (`mnistlearn_core::clock`). Times are only reported, never used in the arithmetic.
//! * **SIMD level.** `0` scalar; `1` the module's best (`simd128` in the `+simd128` module,
//!   scalar in the other): [`level_name`] tells which.
//!
//! The modules: `check` (the conformance checks `tests/wasm/check.mjs` runs in Node) and
//! `trainer` (the browser trainer's exports).

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks, clippy::missing_safety_doc)]

pub mod check;
pub mod trainer;

use std::alloc::Layout;
use std::cell::RefCell;

use mnistlearn_core::data::{read_dataset, Dataset, IdxSource};
use mnistlearn_core::math::SimdLevel;

/// The alignment of every [`alloc`]ation: f64 arrays can live in them.
const ALIGN: usize = 8;

fn layout(len: usize) -> Option<Layout> {
    Layout::from_size_align(len.max(1), ALIGN).ok()
}

/// `len` bytes of the module's memory, 8-aligned, for the caller to fill; null if `len` is
/// absurd or memory cannot grow. Give it back with [`free`] and the same `len`.
#[cfg_attr(target_arch = "wasm32", no_mangle)]
pub extern "C" fn alloc(len: usize) -> *mut u8 {
    match layout(len) {
        // SAFETY: the layout has a non-zero size.
        Some(layout) => unsafe { std::alloc::alloc(layout) },
        None => std::ptr::null_mut(),
    }
}

/// Gives back memory from [`alloc`].
///
/// # Safety
/// `ptr` must come from [`alloc`] with this `len`, and not have been freed since (null is
/// allowed and does nothing).
#[cfg_attr(target_arch = "wasm32", no_mangle)]
pub unsafe extern "C" fn free(ptr: *mut u8, len: usize) {
    if let (false, Some(layout)) = (ptr.is_null(), layout(len)) {
        // SAFETY: the caller's guarantee: `ptr` was allocated with this layout.
        unsafe { std::alloc::dealloc(ptr, layout) }
    }
}

thread_local! {
    /// The last result's bytes (a wasm module has one thread; on the host, one per test).
    static RESULT: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// Where the last result's bytes start.
#[cfg_attr(target_arch = "wasm32", no_mangle)]
pub extern "C" fn result_ptr() -> *const u8 {
    RESULT.with(|r| r.borrow().as_ptr())
}

/// How many bytes the last result has.
#[cfg_attr(target_arch = "wasm32", no_mangle)]
pub extern "C" fn result_len() -> usize {
    RESULT.with(|r| r.borrow().len())
}

/// A copy of the last result (for Rust callers: the host tests).
pub fn result() -> Vec<u8> {
    RESULT.with(|r| r.borrow().clone())
}

/// Leaves `bytes` in the result buffer.
pub fn set_result(bytes: Vec<u8>) {
    RESULT.with(|r| *r.borrow_mut() = bytes);
}

/// Leaves `Ok`'s bytes or `Err`'s message in the result buffer; the status to return.
pub fn finish(outcome: Result<Vec<u8>, String>) -> i32 {
    match outcome {
        Ok(bytes) => {
            set_result(bytes);
            0
        }
        Err(message) => {
            set_result(message.into_bytes());
            1
        }
    }
}

/// The bytes `ptr..ptr+len` of the caller's buffer.
///
/// # Safety
/// `ptr` must point at `len` initialised bytes (from [`alloc`]) that stay untouched during the
/// borrow; null is allowed with `len == 0`.
pub unsafe fn input<'a>(ptr: *const u8, len: usize) -> &'a [u8] {
    if len == 0 {
        return &[];
    }
    // SAFETY: the caller's guarantee.
    unsafe { std::slice::from_raw_parts(ptr, len) }
}

/// The SIMD level a caller's number names: `0` scalar, anything else this module's best.
pub fn level(code: u32) -> SimdLevel {
    if code == 0 {
        SimdLevel::SCALAR
    } else {
        SimdLevel::detect()
    }
}

/// Leaves the name of level `code` (`scalar`, `simd128`, …) in the result buffer; returns 0.
#[cfg_attr(target_arch = "wasm32", no_mangle)]
pub extern "C" fn level_name(code: u32) -> i32 {
    finish(Ok(level(code).name().as_bytes().to_vec()))
}

thread_local! {
    /// The data sets handed over by [`set_data`]: slot 0 training, slot 1 test.
    static DATA: RefCell<[Option<Dataset>; 2]> = const { RefCell::new([None, None]) };
}

/// Parses an IDX image file and its label file (raw or gzipped, as MNIST ships them) into data
/// set slot `slot` (0: training, 1: test), keeping the first `limit` samples (0: all). Returns 0,
/// or 1 with the parser's message (which names the file and what was expected).
///
/// # Safety
/// The pointers must each point at their `len` bytes (from [`alloc`]).
#[cfg_attr(target_arch = "wasm32", no_mangle)]
pub unsafe extern "C" fn set_data(
    slot: u32,
    images: *const u8,
    images_len: usize,
    labels: *const u8,
    labels_len: usize,
    limit: usize,
) -> i32 {
    // SAFETY: the caller's guarantee.
    let (images, labels) = unsafe { (input(images, images_len).to_vec(), input(labels, labels_len).to_vec()) };
    finish(load_data(slot, images, labels, limit).map(|n| n.to_string().into_bytes()))
}

/// [`set_data`] for Rust callers; the number of samples kept.
pub fn load_data(slot: u32, images: Vec<u8>, labels: Vec<u8>, limit: usize) -> Result<usize, String> {
    let (names, slot) = match slot {
        0 => (["train-images-idx3-ubyte", "train-labels-idx1-ubyte"], 0),
        1 => (["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"], 1),
        _ => return Err(format!("data slot {slot}: expected 0 (training) or 1 (test)")),
    };
    let limit = (limit > 0).then_some(limit);
    let source = |name: &str, bytes| IdxSource::from_bytes(name, bytes).map_err(|e| e.to_string());
    let data = read_dataset(source(names[0], images)?, source(names[1], labels)?, limit).map_err(|e| e.to_string())?;
    let n = data.len();
    DATA.with(|d| d.borrow_mut()[slot] = Some(data));
    Ok(n)
}

/// Runs `f` on data set slot `slot`, or says that [`set_data`] must come first.
pub fn with_data<T>(slot: usize, f: impl FnOnce(&Dataset) -> T) -> Result<T, String> {
    DATA.with(|d| match &d.borrow()[slot] {
        Some(data) => Ok(f(data)),
        None => Err(format!("no data in slot {slot}: call set_data first")),
    })
}
