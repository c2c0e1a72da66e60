//! The drawing app's server (the original's `app/server.c`), on warp.
//!
//! `mnistlearn serve` loads a weights file once, then answers these requests:
//!
//! | request                               | answer                                                          |
//! |---------------------------------------|-----------------------------------------------------------------|
//! | `GET /`                               | the drawing page (`web/index.html`)                             |
//! | `GET /app.js`                         | its script                                                      |
//! | `GET /style.css`                      | its style sheet                                                 |
//! | `GET /favicon.svg`                    | its icon (a file of its own: a `data:` URL would break a `default-src 'self'` policy) |
//! | `POST /predict`                       | `{"digit": d, "probabilities": [p0, …, p9]}` for a 784-byte body |
//! | `POST /classify?width=W&height=H`     | a drawing of any size preprocessed as MNIST was, then classified: `{"digit", "probabilities", "seen": [784 bytes], "hidden": [H activations], "inverted"}`, or `{"empty": true}` for an image with no ink |
//! | `GET /hidden-weights`                 | `{"hidden": H, "weights": [[784 numbers] × H]}`: each hidden unit's incoming weights, scaled to −127…127 by its largest magnitude |
//!
//! `/predict` is the original's wire format: the caller has already made the 28×28 image.
//! `/classify` is what the page uses: it sends its whole canvas, `W × H` raw grey bytes
//! (row-major, any polarity, 1 ≤ W, H ≤ [`CLASSIFY_MAX_SIDE`]), and the server runs
//! [`mnistlearn_core::data::preprocess::preprocess`], the same code as `mnistlearn predict`, so there is one
//! implementation of MNIST's preprocessing and not a second one in JavaScript to drift from it.
//!
//! Anything else gets a JSON error, `{"error": "…"}`, with the fitting status: 400 for a body
//! that is not 784 bytes (or not `W × H` for `/classify`, or a missing or out-of-range `width`
//! or `height`), 413 for one over [`BODY_LIMIT`] (or [`CLASSIFY_BODY_LIMIT`]), 405 (with an
//! `Allow` header) for a wrong method on a known path, 404 for an unknown path.
//!
//! Design notes — the why:
//!
//! * **The page is compiled in.** The three web files are embedded with `include_str!`, so the
//!   binary is the whole app and no request can reach the file system (no path traversal to
//!   worry about, no "which directory was it started from").
//! * **The network is shared read-only.** Inference only reads the parameters, so one
//!   `Arc<Network>` serves every connection without a lock. A prediction costs about a
//!   microsecond, far less than moving the task to a blocking pool would, so it runs inline
//!   on the async worker.
//! * **The wire format is the original's: 784 raw bytes**, row-major 28×28, 0 = background,
//!   exactly what the IDX files hold. No JSON parsing on the way in, and the bytes go straight
//!   into [`Network::predict`], so the server's answer is bit-identical to `mnistlearn test`'s
//!   arithmetic for the same image at any `--simd` level. [`predict_json`] is the whole of that
//!   logic, shared by the handler and the benchmarks.
//! * **Bodies are bounded while they are read**, not only by their `Content-Length`: a chunked
//!   upload has no length up front, so the reader stops as soon as the running total passes
//!   [`BODY_LIMIT`]. A declared length over the limit is refused before a byte is read.
//! * **Failures are lines, not panics.** A missing or malformed weights file and a busy port
//!   come back as [`Error`]s that the CLI prints as one line (the listener is bound with tokio
//!   ourselves, because warp's own `bind` panics on failure).
//! * **Ctrl-C is graceful**: the listener closes, requests in flight finish, idle keep-alive
//!   connections are closed. A second Ctrl-C (or SIGTERM) quits at once, because once a signal
//!   handler is installed the terminal's usual Ctrl-C no longer kills the process.
//! * **A silent client cannot hold a connection.** warp's own `serve` sets no timeout at all, so
//!   the filter is turned into a service (`warp::service`) and each connection is served by
//!   hyper's HTTP/1 builder here, through [`Timed`], an I/O wrapper with one deadline per phase
//!   of a connection ([`Limits`]): the request head must be complete within `header_timeout`
//!   of the connection opening or of its first byte, the body and the answer within
//!   `body_timeout` of the head, and a keep-alive connection may wait `idle_timeout` for its
//!   next request. (hyper's own `header_read_timeout` starts counting as soon as a response is
//!   written, so it cannot tell a slow head from an idle keep-alive connection.)
//! * **Connections are capped** at `max_connections`, below the usual limit of 1,024 open
//!   descriptors. When a new connection arrives at the cap, connections that have no request
//!   in progress (idle, or silent for longer than [`EVICT_GRACE`]) are closed to make room, so
//!   a crowd of idle sockets delays a real request by a fraction of a second, not forever.
//! * **Security headers on every answer** of the app: a Content-Security-Policy allowing only
//!   this origin's own script, style and requests (`frame-ancestors 'none'`: no framing),
//!   `Referrer-Policy: no-referrer` and `X-Content-Type-Options: nosniff`.

use std::convert::Infallible;
use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};

use warp::http::header::{HeaderValue, ALLOW, CACHE_CONTROL, CONTENT_TYPE};
use warp::http::{Method, StatusCode};
use warp::reply::Response;
use warp::{Buf, Filter, Rejection, Reply, Stream};

use crate::Error;
use mnistlearn_core::data::preprocess::{preprocess, GreyImage, Seen};
use mnistlearn_core::math::SimdLevel;
use mnistlearn_core::nn::{argmax, Network, INPUTS};

/// The largest request body the server will read, in bytes. A real request is 784 bytes; the
/// slack lets a slightly wrong client get a precise 400 ("got 1568") rather than a bare 413,
/// while keeping what a hostile client can make us buffer small.
pub const BODY_LIMIT: u64 = 64 * 1024;

/// The largest canvas side `/classify` accepts. The page's canvas is 280×280; a client sending
/// a phone-sized canvas at device resolution stays well inside.
pub const CLASSIFY_MAX_SIDE: usize = 1024;

/// The largest `/classify` body: one byte per pixel of the largest canvas (1 MiB).
pub const CLASSIFY_BODY_LIMIT: u64 = (CLASSIFY_MAX_SIDE * CLASSIFY_MAX_SIDE) as u64;

const INDEX_HTML: &str = include_str!("../web/index.html");
const APP_JS: &str = include_str!("../web/app.js");
const STYLE_CSS: &str = include_str!("../web/style.css");
const FAVICON_SVG: &str = include_str!("../web/favicon.svg");

/// The error text for a body of the wrong size. Says what was expected and what came.
fn wrong_size_message(got: usize) -> String {
    format!("body must be exactly {INPUTS} bytes (28×28 pixels, row-major, 0-255), got {got}")
}

/// `{"error": message}` as a string.
fn error_json(message: &str) -> String {
    serde_json::json!({ "error": message }).to_string()
}

// ANCHOR: predict_json
/// The whole of `POST /predict`, minus HTTP: a 784-byte body in, the JSON answer out.
///
/// `Ok` holds `{"digit": d, "probabilities": [10 numbers]}`, where `probabilities` is exactly
/// [`Network::predict`]'s output (serde_json prints each f64 in the shortest form that reads
/// back to the same bits) and `digit` is its [`argmax`]. `Err` holds an HTTP status and a
/// `{"error": …}` body; today the only failure is a body that is not 784 bytes (status 400).
pub fn predict_json(net: &Network, level: SimdLevel, body: &[u8]) -> Result<String, (u16, String)> {
    if body.len() != INPUTS {
        return Err((400, error_json(&wrong_size_message(body.len()))));
    }
    let probabilities = net.predict(level, body);
    let digit = argmax(&probabilities);
    Ok(serde_json::json!({ "digit": digit, "probabilities": probabilities }).to_string())
}
// ANCHOR_END: predict_json

// ANCHOR: classify_json
/// The whole of `POST /classify?width=W&height=H`, minus HTTP: the query string and the body
/// (`W × H` grey bytes) in, the JSON answer out.
///
/// The canvas goes through [`preprocess`] (MNIST's size normalisation and centring), and the
/// 28×28 result through [`Network::predict_with_hidden`]. The answer carries what the network
/// saw (`seen`, 784 bytes) and its hidden activations (`hidden`), so the page can show both.
/// A canvas without ink is `{"empty": true}`, never a guess.
pub fn classify_json(net: &Network, level: SimdLevel, query: &str, body: &[u8]) -> Result<String, (u16, String)> {
    let bad = |message: String| (400, error_json(&message));
    let (width, height) = canvas_size(query).map_err(bad)?;
    if body.len() != width * height {
        return Err(bad(format!(
            "body must be exactly width × height = {width} × {height} = {} bytes (one grey byte per pixel, row-major), got {}",
            width * height,
            body.len()
        )));
    }
    let image = GreyImage::new(width, height, body.to_vec()).map_err(bad)?;
    let digit = match preprocess(&image) {
        Seen::Empty => return Ok(serde_json::json!({ "empty": true }).to_string()),
        Seen::TooSmall { extent, least } => return Ok(too_small_json(extent, least)),
        Seen::Digit(digit) => digit,
    };
    let (probabilities, hidden) = net.predict_with_hidden(level, &digit.pixels);
    Ok(serde_json::json!({
        "digit": argmax(&probabilities),
        "probabilities": probabilities,
        "seen": digit.pixels.to_vec(),
        "hidden": hidden,
        "inverted": digit.inverted,
    })
    .to_string())
}
// ANCHOR_END: classify_json

/// The answer for a drawing with too little ink to be a digit (a tap, a dot, a speck): never a
/// digit with a probability.
pub fn too_small_json(extent: usize, least: usize) -> String {
    serde_json::json!({
        "too_small": true,
        "message": format!("too small to read: the drawing is {extent} pixels across, a digit needs at least {least}"),
    })
    .to_string()
}

/// `width` and `height` from a query string such as `width=280&height=280`.
fn canvas_size(query: &str) -> Result<(usize, usize), String> {
    let expected = format!("expected ?width=W&height=H with whole numbers from 1 to {CLASSIFY_MAX_SIDE}");
    let (mut width, mut height) = (None, None);
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let slot = match name {
            "width" => &mut width,
            "height" => &mut height,
            _ => return Err(format!("unknown query parameter '{name}': {expected}")),
        };
        match value.parse::<usize>() {
            Ok(n) if (1..=CLASSIFY_MAX_SIDE).contains(&n) => *slot = Some(n),
            _ => return Err(format!("{name}={value}: {expected}")),
        }
    }
    match (width, height) {
        (Some(w), Some(h)) => Ok((w, h)),
        _ => Err(format!("missing width or height: {expected}")),
    }
}

/// The body of `GET /hidden-weights`: each hidden unit's 784 incoming weights, divided by the
/// unit's largest magnitude and scaled to whole numbers in −127…127 (the page draws them as
/// 28×28 pictures; full precision would be five times the bytes for no visible difference).
pub fn hidden_weights_json(net: &Network) -> String {
    let units: Vec<Vec<i32>> = (0..net.hidden())
        .map(|j| {
            let w = net.hidden_unit_weights(j);
            let largest = w.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            let scale = if largest > 0.0 { 127.0 / largest } else { 0.0 };
            w.iter().map(|v| (v * scale).round() as i32).collect()
        })
        .collect();
    serde_json::json!({ "hidden": net.hidden(), "weights": units }).to_string()
}

/// A complete response: status, content type, body.
fn respond(status: StatusCode, content_type: &'static str, body: impl Into<String>) -> Response {
    let mut response = warp::http::Response::new(body.into()).into_response();
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    // The page and its answers are tiny and change with every build or drawing: never cache.
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    response
}

fn json_response(status: StatusCode, json: String) -> Response {
    respond(status, "application/json", json)
}

// ---- Rejections: why a request did not reach a handler -------------------------------------

/// The path exists but not for this method.
#[derive(Debug)]
struct WrongMethod {
    method: Method,
    path: &'static str,
    allow: &'static str,
}
impl warp::reject::Reject for WrongMethod {}

/// The body is (or declares itself) larger than the route's limit (the `u64`).
#[derive(Debug)]
struct BodyTooLarge(u64);
impl warp::reject::Reject for BodyTooLarge {}

/// The connection failed while the body was being read.
#[derive(Debug)]
struct BodyUnreadable(String);
impl warp::reject::Reject for BodyUnreadable {}

/// Passes requests whose method is one of `methods`; rejects the rest with [`WrongMethod`].
///
/// warp's own `warp::get()` rejects with a bare `MethodNotAllowed` that does not say which
/// methods *would* work, and HTTP requires a 405 to carry an `Allow` header. This filter is
/// always placed after the path filter, so it only speaks for paths that exist.
fn method_in(
    methods: &'static [Method],
    path: &'static str,
    allow: &'static str,
) -> impl Filter<Extract = (), Error = Rejection> + Clone {
    warp::method()
        .and_then(move |method: Method| async move {
            if methods.contains(&method) {
                Ok(())
            } else {
                Err(warp::reject::custom(WrongMethod { method, path, allow }))
            }
        })
        .untuple_one()
}

/// Extracts the request body, refusing more than `limit` bytes.
///
/// `warp::body::content_length_limit` alone is not enough: it turns away a chunked body (no
/// `Content-Length`) with 411, and trusts the header for the rest. Here a declared length over
/// the limit is refused up front, and the stream is counted as it arrives either way.
fn capped_body(limit: u64) -> impl Filter<Extract = (Vec<u8>,), Error = Rejection> + Clone {
    warp::header::optional::<u64>("content-length")
        .and_then(move |declared: Option<u64>| async move {
            match declared {
                Some(n) if n > limit => Err(warp::reject::custom(BodyTooLarge(limit))),
                _ => Ok(()),
            }
        })
        .untuple_one()
        .and(warp::body::stream())
        .and_then(move |stream| read_capped(stream, limit))
}

/// Concatenates a body stream, failing with [`BodyTooLarge`] once it passes `limit` bytes.
async fn read_capped<S, B>(stream: S, limit: u64) -> Result<Vec<u8>, Rejection>
where
    S: Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    let mut stream = std::pin::pin!(stream);
    let mut body = Vec::with_capacity(INPUTS);
    while let Some(chunk) = std::future::poll_fn(|cx| stream.as_mut().poll_next(cx)).await {
        let mut chunk = chunk.map_err(|e| warp::reject::custom(BodyUnreadable(e.to_string())))?;
        if (body.len() + chunk.remaining()) as u64 > limit {
            return Err(warp::reject::custom(BodyTooLarge(limit)));
        }
        while chunk.has_remaining() {
            let piece = chunk.chunk();
            body.extend_from_slice(piece);
            let n = piece.len();
            chunk.advance(n);
        }
    }
    Ok(body)
}

// ANCHOR: routes
/// Every route of the app, with every rejection turned into a JSON error.
///
/// Path filters come before method filters in each route, so an unknown path is always a 404
/// and a known path with the wrong method is always a 405.
pub fn routes(
    net: Arc<Network>,
    level: SimdLevel,
) -> impl Filter<Extract = (Response,), Error = Infallible> + Clone + Send + Sync + 'static {
    const READ: &[Method] = &[Method::GET, Method::HEAD];
    let page = |path: &'static str, content_type: &'static str, body: &'static str| {
        // Boxed so that both arms have one type: `/` is an empty path, the others one segment.
        let route = match path.strip_prefix('/').filter(|segment| !segment.is_empty()) {
            None => warp::path::end().boxed(),
            Some(segment) => warp::path(segment).and(warp::path::end()).boxed(),
        };
        route.and(method_in(READ, path, "GET, HEAD")).map(move || respond(StatusCode::OK, content_type, body))
    };
    let index = page("/", "text/html; charset=utf-8", INDEX_HTML);
    let script = page("/app.js", "text/javascript; charset=utf-8", APP_JS);
    let style = page("/style.css", "text/css; charset=utf-8", STYLE_CSS);
    let icon = page("/favicon.svg", "image/svg+xml", FAVICON_SVG);

    let answer = |result: Result<String, (u16, String)>| match result {
        Ok(json) => json_response(StatusCode::OK, json),
        Err((status, json)) => json_response(StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST), json),
    };

    let predict_net = net.clone();
    let predict = warp::path("predict")
        .and(warp::path::end())
        .and(method_in(&[Method::POST], "/predict", "POST"))
        .and(capped_body(BODY_LIMIT))
        .map(move |body: Vec<u8>| answer(predict_json(&predict_net, level, &body)));

    // The query is taken raw (absent = empty) so that a missing or bad size gets our own
    // one-line 400 rather than warp's generic rejection.
    let classify_net = net.clone();
    let classify = warp::path("classify")
        .and(warp::path::end())
        .and(method_in(&[Method::POST], "/classify", "POST"))
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(capped_body(CLASSIFY_BODY_LIMIT))
        .map(move |query: String, body: Vec<u8>| answer(classify_json(&classify_net, level, &query, &body)));

    // Computed once: the weights never change while the server runs.
    let hidden_weights_body: Arc<str> = hidden_weights_json(&net).into();
    let hidden_weights = warp::path("hidden-weights")
        .and(warp::path::end())
        .and(method_in(READ, "/hidden-weights", "GET, HEAD"))
        .map(move || respond(StatusCode::OK, "application/json", hidden_weights_body.to_string()));

    index
        .or(script)
        .unify()
        .or(style)
        .unify()
        .or(icon)
        .unify()
        .or(predict)
        .unify()
        .or(classify)
        .unify()
        .or(hidden_weights)
        .unify()
        .recover(rejection_to_json)
        .unify()
}
// ANCHOR_END: routes

/// Turns a rejection into `{"error": …}` with the status it deserves.
async fn rejection_to_json(rejection: Rejection) -> Result<Response, Infallible> {
    // Most specific first: a route that got far enough to object speaks for the request.
    if let Some(BodyTooLarge(limit)) = rejection.find() {
        let message = if *limit == BODY_LIMIT {
            format!(
                "body too large: expected exactly {INPUTS} bytes (28×28 pixels, row-major, 0-255), \
                 and bodies over {BODY_LIMIT} bytes are not read"
            )
        } else {
            format!(
                "body too large: expected width × height grey bytes, at most {CLASSIFY_MAX_SIDE} × {CLASSIFY_MAX_SIDE}, \
                 and bodies over {limit} bytes are not read"
            )
        };
        return Ok(json_response(StatusCode::PAYLOAD_TOO_LARGE, error_json(&message)));
    }
    if let Some(BodyUnreadable(reason)) = rejection.find() {
        return Ok(json_response(
            StatusCode::BAD_REQUEST,
            error_json(&format!("could not read the request body: {reason}")),
        ));
    }
    if let Some(wrong) = rejection.find::<WrongMethod>() {
        let message = format!("{} is not allowed on {}: use {}", wrong.method, wrong.path, wrong.allow);
        let mut response = json_response(StatusCode::METHOD_NOT_ALLOWED, error_json(&message));
        response.headers_mut().insert(ALLOW, HeaderValue::from_static(wrong.allow));
        return Ok(response);
    }
    if let Some(invalid) = rejection.find::<warp::reject::InvalidHeader>() {
        return Ok(json_response(StatusCode::BAD_REQUEST, error_json(&format!("invalid header '{}'", invalid.name()))));
    }
    if rejection.is_not_found() {
        let message =
            "not found: this server has GET /, GET /app.js, GET /style.css, GET /favicon.svg, POST /predict, \
                       POST /classify?width=W&height=H and GET /hidden-weights";
        return Ok(json_response(StatusCode::NOT_FOUND, error_json(message)));
    }
    // Unreachable with the routes above; kept so that a future route's rejection is still JSON.
    Ok(json_response(StatusCode::INTERNAL_SERVER_ERROR, error_json(&format!("internal error: {rejection:?}"))))
}

/// Ctrl-C (and, on Unix, SIGTERM), listened for from the moment this is created.
///
/// The listeners are registered *before* the server announces itself: a listener created
/// lazily (on the first poll of a future) misses a signal that arrives earlier, and a server that
/// has already replaced the default Ctrl-C action with a handler would then never stop. Each
/// listener keeps one pending notification, so no signal is lost between two waits.
struct StopSignals {
    #[cfg(unix)]
    interrupt: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    terminate: Option<tokio::signal::unix::Signal>,
}

impl StopSignals {
    fn new() -> StopSignals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            StopSignals {
                interrupt: signal(SignalKind::interrupt()).ok(),
                terminate: signal(SignalKind::terminate()).ok(),
            }
        }
        #[cfg(not(unix))]
        StopSignals {}
    }

    /// Waits for the next signal. Never completes if no listener could be installed: a server
    /// that cannot hear the signal should keep serving, not stop at once.
    async fn next(&mut self) {
        #[cfg(unix)]
        {
            async fn recv(signal: &mut Option<tokio::signal::unix::Signal>) {
                match signal {
                    Some(signal) => {
                        signal.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            }
            tokio::select! {
                _ = recv(&mut self.interrupt) => {}
                _ = recv(&mut self.terminate) => {}
            }
        }
        #[cfg(not(unix))]
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}

/// Prints one line to stdout and flushes it (tests and scripts wait for the "Serving" line).
/// A closed stdout is not worth stopping the server for, so errors are ignored.
fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

// ANCHOR: limits
/// How long a client may take, and how many may connect: each a flag of `mnistlearn serve`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Limits {
    /// A request head (request line and headers) must be complete within this time of the
    /// connection opening, or of its first byte after an idle wait (`--header-timeout`).
    pub header_timeout: Duration,
    /// A keep-alive connection may wait this long for its next request (`--idle-timeout`).
    pub idle_timeout: Duration,
    /// The body must arrive, and the answer be produced, within this time of the head
    /// (`--body-timeout`).
    pub body_timeout: Duration,
    /// The most connections served at once (`--max-connections`).
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            header_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(30),
            body_timeout: Duration::from_secs(10),
            // Below the usual soft limit of 1,024 descriptors, with room for the listener,
            // the weights file, the runtime's own descriptors and one connection waiting.
            max_connections: 512,
        }
    }
}
// ANCHOR_END: limits

/// At the connection cap, a connection with no request in progress is closed to make room once
/// it has been in that state this long. A real client sends its request as soon as it has
/// connected, so only a silent or idle one is ever this old without a request.
pub const EVICT_GRACE: Duration = Duration::from_millis(250);

/// What a connection is doing, for its deadline and for eviction.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Phase {
    /// Waiting for (the rest of) a request head.
    Head,
    /// A request is being read or answered.
    Body,
    /// Between requests of a keep-alive connection.
    Idle,
}

/// One connection's phase and deadline, shared by its I/O ([`Timed`]) and its service
/// ([`Tracked`]). Both run in the connection's one task, so the lock is never contended.
struct Clock {
    limits: Limits,
    state: Mutex<(Phase, Instant, Instant)>, // (phase, since, deadline)
}

impl Clock {
    fn new(limits: Limits) -> Clock {
        let now = Instant::now();
        Clock { limits, state: Mutex::new((Phase::Head, now, now + limits.header_timeout)) }
    }

    fn enter(&self, phase: Phase) {
        let now = Instant::now();
        let limit = match phase {
            Phase::Head => self.limits.header_timeout,
            Phase::Body => self.limits.body_timeout,
            Phase::Idle => self.limits.idle_timeout,
        };
        *self.state.lock().unwrap_or_else(|e| e.into_inner()) = (phase, now, now + limit);
    }

    fn get(&self) -> (Phase, Instant, Instant) {
        *self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Bytes arrived: an idle connection starts its next request head.
    fn bytes_arrived(&self) {
        if self.get().0 == Phase::Idle {
            self.enter(Phase::Head);
        }
    }

    /// Whether the connection may be closed to make room: no request in progress for a while.
    fn evictable(&self) -> bool {
        let (phase, since, _) = self.get();
        phase != Phase::Body && since.elapsed() >= EVICT_GRACE
    }
}

// ANCHOR: timed
/// A connection's socket with its [`Clock`]'s deadline: once the deadline of the current phase
/// has passed, reads and writes fail with `TimedOut`, and hyper closes the connection.
struct Timed<T> {
    io: T,
    clock: Arc<Clock>,
    sleep: Pin<Box<Sleep>>,
    armed: Instant,
}

impl<T> Timed<T> {
    fn new(io: T, clock: Arc<Clock>) -> Timed<T> {
        let deadline = clock.get().2;
        Timed { io, clock, sleep: Box::pin(tokio::time::sleep_until(deadline)), armed: deadline }
    }

    /// Fails if the current deadline has passed; otherwise arms the timer for it.
    fn check(&mut self) -> std::io::Result<()> {
        let (phase, _, deadline) = self.clock.get();
        if Instant::now() >= deadline {
            return Err(timed_out(phase));
        }
        if deadline != self.armed {
            self.sleep.as_mut().reset(deadline);
            self.armed = deadline;
        }
        Ok(())
    }

    /// The socket is not ready: wake up at the deadline, and fail then.
    fn wait<R>(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<R>> {
        match self.sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(timed_out(self.clock.get().0))),
            Poll::Pending => Poll::Pending,
        }
    }
}

fn timed_out(phase: Phase) -> std::io::Error {
    let what = match phase {
        Phase::Head => "request head not complete within the header timeout",
        Phase::Body => "request body not complete within the body timeout",
        Phase::Idle => "keep-alive connection idle past the idle timeout",
    };
    std::io::Error::new(std::io::ErrorKind::TimedOut, what)
}

impl<T: AsyncRead + Unpin> AsyncRead for Timed<T> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        // Checked before reading, so a client dripping one byte at a time is cut off too.
        this.check()?;
        let before = buf.filled().len();
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.clock.bytes_arrived();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => this.wait(cx),
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Timed<T> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        this.check()?;
        match Pin::new(&mut this.io).poll_write(cx, buf) {
            Poll::Pending => this.wait(cx),
            ready => ready,
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        this.check()?;
        match Pin::new(&mut this.io).poll_write_vectored(cx, bufs) {
            Poll::Pending => this.wait(cx),
            ready => ready,
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}
// ANCHOR_END: timed

// ANCHOR: security_headers
/// The headers every answer of the app carries. The page loads only its own script and style
/// sheet and talks only to its own origin, so `default-src 'self'` allows all it does (plus
/// the empty `data:` favicon); no inline script or style, no framing, no referrer.
pub const SECURITY_HEADERS: [(&str, &str); 4] = [
    (
        "content-security-policy",
        "default-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    ),
    ("referrer-policy", "no-referrer"),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
];
// ANCHOR_END: security_headers

/// warp's service seen by hyper, moving the connection's [`Clock`] between phases and adding
/// [`SECURITY_HEADERS`] to every answer.
#[derive(Clone)]
struct Tracked<S> {
    inner: S,
    clock: Arc<Clock>,
}

type BoxedAnswer = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

impl<S> hyper::service::Service<hyper::Request<hyper::body::Incoming>> for Tracked<S>
where
    S: hyper::service::Service<hyper::Request<hyper::body::Incoming>, Response = Response, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = BoxedAnswer;

    fn call(&self, request: hyper::Request<hyper::body::Incoming>) -> BoxedAnswer {
        self.clock.enter(Phase::Body);
        let answer = self.inner.call(request);
        let clock = self.clock.clone();
        Box::pin(async move {
            let mut response = answer.await?;
            clock.enter(Phase::Idle);
            let headers = response.headers_mut();
            for (name, value) in SECURITY_HEADERS {
                headers.insert(name, HeaderValue::from_static(value));
            }
            Ok(response)
        })
    }
}

/// A permit to serve one more connection. At the cap, asks idle connections to close (they
/// check [`Clock::evictable`]) and waits for one to go.
async fn connection_slot(slots: &Arc<Semaphore>, evict: &Notify) -> OwnedSemaphorePermit {
    loop {
        if let Ok(permit) = slots.clone().try_acquire_owned() {
            return permit;
        }
        evict.notify_waiters();
        if let Ok(Ok(permit)) = tokio::time::timeout(EVICT_GRACE / 2, slots.clone().acquire_owned()).await {
            return permit;
        }
    }
}

/// Accepts connections until `stop` completes, then closes the listener and waits for the
/// open connections to finish gracefully.
async fn serve_until<F>(listener: tokio::net::TcpListener, filter: F, limits: Limits, stop: impl Future<Output = ()>)
where
    F: Filter<Extract = (Response,), Error = Infallible> + Clone + Send + Sync + 'static,
    F::Future: Send,
{
    let service = hyper_util::service::TowerToHyperService::new(warp::service(filter));
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let evict = Arc::new(Notify::new());
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut stop = std::pin::pin!(stop);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(_) => {
                    // Out of descriptors (EMFILE) or a connection reset before it was
                    // accepted: pause briefly rather than spin, and go on.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut stop => break,
        };
        // The new connection waits here, in its socket buffer, until there is room.
        let permit = tokio::select! {
            permit = connection_slot(&slots, &evict) => permit,
            _ = &mut stop => break,
        };
        let _ = stream.set_nodelay(true);
        let clock = Arc::new(Clock::new(limits));
        let io = hyper_util::rt::TokioIo::new(Timed::new(stream, clock.clone()));
        let tracked = Tracked { inner: service.clone(), clock: clock.clone() };
        // No hyper timer: the timeouts are `Timed`'s (hyper's header timeout would count idle
        // keep-alive time as header time).
        let connection =
            hyper::server::conn::http1::Builder::new().header_read_timeout(None).serve_connection(io, tracked);
        let connection = graceful.watch(connection);
        let evict = evict.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let mut connection = std::pin::pin!(connection);
            loop {
                let evicted = evict.notified();
                tokio::select! {
                    _ = connection.as_mut() => break,
                    _ = evicted => if clock.evictable() { break },
                }
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// Serves the drawing page and `POST /predict` until Ctrl-C, with the default [`Limits`].
pub fn run(addr: SocketAddr, weights: &Path, level: SimdLevel) -> Result<(), Error> {
    run_with_limits(addr, weights, level, Limits::default())
}

/// Serves the drawing page and `POST /predict` until Ctrl-C.
pub fn run_with_limits(addr: SocketAddr, weights: &Path, level: SimdLevel, limits: Limits) -> Result<(), Error> {
    // Load before binding: a bad weights file should fail fast and leave the port alone.
    let net = Arc::new(crate::io::weights::load(weights)?);
    let hidden = net.hidden();

    // Two workers: inference is microseconds, so the server is bound by the network, and the
    // rest of the machine stays free.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::io("serve: cannot start the async runtime", e))?;

    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| Error::io(format!("--addr {addr}"), e))?;
        // With `--addr …:0` the OS picks the port; print the real one so the URL works.
        let bound = listener.local_addr().map_err(|e| Error::io(format!("--addr {addr}"), e))?;
        let mut signals = StopSignals::new();
        say(&format!("Serving http://{bound} (weights: {}, hidden {hidden})", weights.display()));

        // The first signal starts the graceful shutdown inside `server`; a second one stops at once.
        let (drain, drained) = tokio::sync::oneshot::channel::<()>();
        let server = serve_until(listener, routes(net, level), limits, async move {
            let _ = drained.await;
        });
        let signals_arm = async {
            signals.next().await;
            say("Shutting down (press Ctrl-C again to stop at once)...");
            let _ = drain.send(());
            signals.next().await;
        };
        tokio::select! {
            _ = server => {}
            _ = signals_arm => {}
        }
        say("Stopped.");
        Ok(())
    })
}
