//! The browser trainer's exports: the "Watch it learn" page (`web/train.html`) runs them in a
//! Web Worker (`web/train-worker.js`). Conventions as in the crate docs (`lib.rs`): memory
//! through `alloc`/`free`, bytes and JSON out through the result buffer, a status back.
//!
//! * `session_new` starts a run on the training set of `set_data` slot 0 (its first `limit`
//!   samples, as `--limit` reads them), `session_step` trains a slice of mini-batches and reports
//!   where the run stands; after each epoch it evaluates the test set (slot 1) on one thread and
//!   returns the epoch's log line exactly as `mnistlearn train` prints it. Between slices the
//!   worker is free to answer pause and stop. The session is
//!   [`mnistlearn_core::nn::session::Session`]: the trainer's own single-thread path, so the
//!   run ends on the same bytes as the CLI's at any thread count.
//! * `session_hidden_ptr` exposes the hidden weights in the module's memory (no copy) for the
//!   unit pictures; `session_weights` gives the weights.bin bytes, `session_sha256` their hash.
//! * `net_load`, `net_strokes`, `net_classify`, `net_hidden_weights`: the drawing page's "draw
//!   with these weights", the server's `/strokes`, `/classify` and `/hidden-weights` answers
//!   computed here instead.

use std::cell::RefCell;
use std::fmt::Write as _;

use mnistlearn_core::data::preprocess::{preprocess, GreyImage, Seen};
use mnistlearn_core::data::strokes::{check, render, MAX_POINTS};
use mnistlearn_core::data::Dataset;
use mnistlearn_core::nn::evaluate::evaluate;
use mnistlearn_core::nn::session::Session;
use mnistlearn_core::nn::train::TrainConfig;
use mnistlearn_core::nn::{argmax, Network, INPUTS, MAX_HIDDEN};
use mnistlearn_core::{report, weights};
use sha2::{Digest, Sha256};

use crate::{finish, input, level, with_data};

/// A session and the training set it borrows.
struct Trainer {
    /// Borrows `*data`; dropped before it (see `Drop`).
    session: Option<Session<'static>>,
    /// Owned through a raw pointer (from `Box::into_raw`), so that moving the `Trainer` moves no
    /// `Box` that would claim unique access while the session reads the data.
    data: *mut Dataset,
}

impl Drop for Trainer {
    fn drop(&mut self) {
        self.session = None;
        // SAFETY: `data` came from `Box::into_raw` in `session_new`, and its only borrower, the
        // session, is gone.
        drop(unsafe { Box::from_raw(self.data) });
    }
}

thread_local! {
    static TRAINER: RefCell<Option<Trainer>> = const { RefCell::new(None) };
    /// The network of `net_load`, for the drawing page.
    static NET: RefCell<Option<Network>> = const { RefCell::new(None) };
}

/// A JSON number, or `null` for a non-finite one (a diverging run's loss).
fn number(x: f64) -> String {
    if x.is_finite() {
        format!("{x}")
    } else {
        "null".to_string()
    }
}

/// A JSON string of text that has no quote, backslash or control character (our log lines).
fn text(s: &str) -> String {
    debug_assert!(!s.contains(['"', '\\', '\n']));
    format!("\"{s}\"")
}

/// Starts a run (replacing any session) on the first `limit` samples of data slot 0 (0: all),
/// with the CLI's ranges: epochs 1–10000, batch 1–65536, hidden 1–4096, a positive finite
/// learning rate, any u64 seed. The result: `{"samples", "batches_per_epoch", "level",
/// "header": [the log's first two lines]}`.
#[cfg_attr(target_arch = "wasm32", no_mangle)]
pub extern "C" fn session_new(seed: u64, hidden: u32, lr: f64, batch: u32, epochs: u32, limit: u32, simd: u32) -> i32 {
    let (hidden, batch, epochs) = (hidden as usize, batch as usize, epochs as usize);
    let outcome = (|| {
        if !(1..=10_000).contains(&epochs) {
            return Err(format!("epochs {epochs}: expected a whole number from 1 to 10000"));
        }
        if !(1..=65_536).contains(&batch) {
            return Err(format!("batch {batch}: expected a batch size from 1 to 65536"));
        }
        if !(1..=MAX_HIDDEN).contains(&hidden) {
            return Err(format!("hidden {hidden}: expected a hidden size from 1 to {MAX_HIDDEN}"));
        }
        if !(lr.is_finite() && lr > 0.0) {
            return Err(format!("learning rate {lr}: expected a positive finite number"));
        }
        let data = with_data(0, |d| if limit == 0 { d.clone() } else { d.first(limit as usize) })?;
        let config = TrainConfig { epochs, batch, lr, hidden, seed, threads: 1, level: level(simd) };
        TRAINER.with(|t| *t.borrow_mut() = None);
        let data = Box::into_raw(Box::new(data));
        // SAFETY: `data` stays allocated and unmutated until the `Trainer` drops the session.
        let session = Session::new(&config, unsafe { &*data });
        let json = format!(
            "{{\"samples\":{},\"batches_per_epoch\":{},\"level\":{},\"header\":[{},{}]}}",
            // SAFETY: as above.
            unsafe { (*data).len() },
            session.batches_per_epoch(),
            text(config.level.name()),
            text(&report::banner()),
            text(&report::training_header(hidden)),
        );
        TRAINER.with(|t| *t.borrow_mut() = Some(Trainer { session: Some(session), data }));
        Ok(json.into_bytes())
    })();
    finish(outcome)
}

/// Runs `f` on the session, or says that `session_new` must come first.
fn with_session<T>(f: impl FnOnce(&mut Session<'static>) -> Result<T, String>) -> Result<T, String> {
    TRAINER.with(|t| match t.borrow_mut().as_mut().and_then(|t| t.session.as_mut()) {
        Some(session) => f(session),
        None => Err("no training session: call session_new first".to_string()),
    })
}

/// Trains up to `batches` mini-batches (stopping at an epoch's end). The result: `{"epochs_done",
/// "samples", "loss_sum", "correct"` (the current epoch so far), `"elapsed_s"` (the trainer's own
/// time), `"finished"`, and `"epoch"`: `null`, or for an epoch that just ended `{"line"` (the
/// CLI's log line), `"loss", "accuracy", "test_correct", "test_total", "test_accuracy"}`. When the
/// run is finished the result also has `"tail"`: the rest of the CLI's log (training time,
/// saving, the test block) and `"sha256"` of the weights.bin bytes.
#[cfg_attr(target_arch = "wasm32", no_mangle)]
pub extern "C" fn session_step(batches: u32) -> i32 {
    let outcome = with_session(|session| {
        let report = session.step(batches as usize);
        let progress = session.progress();
        let mut json = format!(
            "{{\"epochs_done\":{},\"samples\":{},\"loss_sum\":{},\"correct\":{},\"elapsed_s\":{},\"finished\":{}",
            progress.epochs_done,
            progress.samples,
            number(progress.loss_sum),
            progress.correct,
            session.elapsed().as_secs_f64(),
            session.is_finished(),
        );
        let level = session.config().level;
        let mut test_lines = None;
        match report {
            None => json.push_str(",\"epoch\":null"),
            Some(epoch) => {
                let test = with_data(1, |test| evaluate(level, &session.network(), test, 1))?;
                let _ = write!(
                    json,
                    ",\"epoch\":{{\"line\":{},\"loss\":{},\"accuracy\":{},\"test_correct\":{},\"test_total\":{},\"test_accuracy\":{}}}",
                    text(&report::epoch_line(&epoch)),
                    number(epoch.loss),
                    number(epoch.accuracy_percent()),
                    test.correct,
                    test.total,
                    number(test.accuracy_percent()),
                );
                test_lines = Some(report::test_block(&test));
            }
        }
        if let (true, Some(test_lines)) = (session.is_finished(), test_lines) {
            let mut tail = vec![
                report::training_time_line(session.elapsed().as_secs_f64()),
                "Saving weights... done.".to_string(),
            ];
            tail.extend(test_lines);
            let tail: Vec<String> = tail.iter().map(|l| text(l)).collect();
            let hash = Sha256::digest(weights::encode(&session.network()));
            let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
            let _ = write!(json, ",\"tail\":[{}],\"sha256\":\"{hex}\"", tail.join(","));
        }
        json.push('}');
        Ok(json.into_bytes())
    });
    finish(outcome)
}

/// Where the session's hidden weights are in the module's memory: `784 × H` f64s, row `k` (one
/// per input pixel) holding the H weights from pixel `k`. Null without a session. Valid until
/// the next `session_*` call (memory may grow; make a fresh view after every call).
#[cfg_attr(target_arch = "wasm32", no_mangle)]
pub extern "C" fn session_hidden_ptr() -> *const f64 {
    with_session(|s| Ok(s.hidden_weights_t().as_ptr())).unwrap_or(std::ptr::null())
}

/// The weights.bin bytes of the network as it stands.
#[cfg_attr(target_arch = "wasm32", no_mangle)]
pub extern "C" fn session_weights() -> i32 {
    finish(with_session(|s| Ok(weights::encode(&s.network()))))
}

/// Ends the session and frees its memory.
#[cfg_attr(target_arch = "wasm32", no_mangle)]
pub extern "C" fn session_free() {
    TRAINER.with(|t| *t.borrow_mut() = None);
}

/// Loads weights.bin bytes (any H) as the drawing page's network; the result is `H`.
///
/// # Safety
/// `ptr` must point at `len` bytes (from `alloc`).
#[cfg_attr(target_arch = "wasm32", no_mangle)]
pub unsafe extern "C" fn net_load(ptr: *const u8, len: usize) -> i32 {
    // SAFETY: the caller's guarantee.
    let bytes = unsafe { input(ptr, len) };
    let outcome = weights::decode(std::path::Path::new("weights.bin"), bytes).map_err(|e| e.to_string()).map(|net| {
        let h = net.hidden();
        NET.with(|n| *n.borrow_mut() = Some(net));
        h.to_string().into_bytes()
    });
    finish(outcome)
}

/// The JSON the server answers for what preprocessing saw (`/classify`, `/strokes`): the digit,
/// probabilities, the 28×28 input and the hidden activations; `{"empty": true}` without ink;
/// `{"too_small": true, "message"}` for a speck.
fn seen_json(net: &Network, level: mnistlearn_core::math::SimdLevel, seen: Seen) -> Vec<u8> {
    let digit = match seen {
        Seen::Empty => return b"{\"empty\":true}".to_vec(),
        Seen::TooSmall { extent, least } => {
            return format!(
                "{{\"too_small\":true,\"message\":\"too small to read: the drawing is {extent} pixels across, a digit needs at least {least}\"}}"
            )
            .into_bytes()
        }
        Seen::Digit(digit) => digit,
    };
    let (probabilities, hidden) = net.predict_with_hidden(level, &digit.pixels);
    let list = |xs: &[f64]| xs.iter().map(|&x| number(x)).collect::<Vec<_>>().join(",");
    let seen = digit.pixels.iter().map(|b| b.to_string()).collect::<Vec<_>>().join(",");
    format!(
        "{{\"digit\":{},\"probabilities\":[{}],\"seen\":[{seen}],\"hidden\":[{}],\"inverted\":{}}}",
        argmax(&probabilities),
        list(&probabilities),
        list(&hidden),
        digit.inverted
    )
    .into_bytes()
}

/// The server's `POST /classify` answer for a `width × height` grey canvas (row-major bytes),
/// computed here with the network of `net_load`: the same preprocessing and the same kernels.
///
/// # Safety
/// `ptr` must point at `width × height` bytes (from `alloc`).
#[cfg_attr(target_arch = "wasm32", no_mangle)]
pub unsafe extern "C" fn net_classify(ptr: *const u8, width: u32, height: u32, simd: u32) -> i32 {
    let (width, height) = (width as usize, height as usize);
    // SAFETY: the caller's guarantee.
    let pixels = unsafe { input(ptr, width * height) }.to_vec();
    let outcome = NET.with(|n| {
        let n = n.borrow();
        let net = n.as_ref().ok_or("no network: call net_load first")?;
        let image = GreyImage::new(width, height, pixels)?;
        Ok(seen_json(net, level(simd), preprocess(&image)))
    });
    finish(outcome)
}

/// The server's `POST /strokes` answer, computed here with the network of `net_load`: the
/// strokes drawn as MNIST's digits were made (`core::data::strokes`), then classified. The
/// strokes come as `counts` (points per stroke, `n` of them, as little-endian u32s) and `points`
/// (x, y pairs of f64, all strokes' points in order); `check` bounds them as the server does.
///
/// # Safety
/// `counts` must point at `4·n` bytes and `points` at `16·Σcounts` bytes (from `alloc`).
#[cfg_attr(target_arch = "wasm32", no_mangle)]
pub unsafe extern "C" fn net_strokes(
    width: f64,
    height: f64,
    counts: *const u8,
    n: usize,
    points: *const u8,
    points_len: usize,
    simd: u32,
) -> i32 {
    // SAFETY: the caller's guarantee.
    let (counts, points) = unsafe { (input(counts, 4 * n), input(points, points_len)) };
    let outcome = NET.with(|net| {
        let net = net.borrow();
        let net = net.as_ref().ok_or("no network: call net_load first")?;
        let mut xy = points.chunks_exact(8).map(|b| f64::from_le_bytes(b.try_into().expect("8 bytes")));
        let mut strokes = Vec::with_capacity(n);
        for count in counts.chunks_exact(4) {
            let count = u32::from_le_bytes(count.try_into().expect("4 bytes")) as usize;
            let mut line = Vec::with_capacity(count.min(MAX_POINTS));
            for _ in 0..count {
                match (xy.next(), xy.next()) {
                    (Some(x), Some(y)) => line.push([x, y]),
                    _ => return Err("fewer points than the counts say".to_string()),
                }
            }
            strokes.push(line);
        }
        check(&strokes, width, height)?;
        Ok(seen_json(net, level(simd), render(&strokes, width, height)))
    });
    finish(outcome)
}

/// The server's `GET /hidden-weights` answer for the network of `net_load`: each unit's 784
/// weights scaled to −127…127 by the unit's largest magnitude.
#[cfg_attr(target_arch = "wasm32", no_mangle)]
pub extern "C" fn net_hidden_weights() -> i32 {
    let outcome = NET.with(|n| {
        let n = n.borrow();
        let net = n.as_ref().ok_or("no network: call net_load first")?;
        let units: Vec<String> = (0..net.hidden())
            .map(|j| {
                let w = net.hidden_unit_weights(j);
                let largest = w.iter().fold(0.0f64, |m, v| m.max(v.abs()));
                let scale = if largest > 0.0 { 127.0 / largest } else { 0.0 };
                let ints: Vec<String> = w.iter().map(|v| ((v * scale).round() as i32).to_string()).collect();
                format!("[{}]", ints.join(","))
            })
            .collect();
        debug_assert!(units.len() * INPUTS > 0);
        Ok::<_, String>(format!("{{\"hidden\":{},\"weights\":[{}]}}", net.hidden(), units.join(",")).into_bytes())
    });
    finish(outcome)
}
