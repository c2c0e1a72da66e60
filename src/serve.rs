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
//! [`crate::data::preprocess::preprocess`], the same code as `mnistlearn predict`, so there is one
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

use std::convert::Infallible;
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use warp::http::header::{HeaderValue, ALLOW, CACHE_CONTROL, CONTENT_TYPE};
use warp::http::{Method, StatusCode};
use warp::reply::Response;
use warp::{Buf, Filter, Rejection, Reply, Stream};

use crate::data::preprocess::{preprocess, GreyImage, Seen};
use crate::math::SimdLevel;
use crate::nn::{argmax, Network, INPUTS};
use crate::Error;

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
        route
            .and(method_in(READ, path, "GET, HEAD"))
            .map(move || respond(StatusCode::OK, content_type, body))
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
        return Ok(json_response(StatusCode::BAD_REQUEST, error_json(&format!("could not read the request body: {reason}"))));
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
        let message = "not found: this server has GET /, GET /app.js, GET /style.css, GET /favicon.svg, POST /predict, \
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
            StopSignals { interrupt: signal(SignalKind::interrupt()).ok(), terminate: signal(SignalKind::terminate()).ok() }
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

/// Serves the drawing page and `POST /predict` until Ctrl-C.
pub fn run(addr: SocketAddr, weights: &Path, level: SimdLevel) -> Result<(), Error> {
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
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| Error::io(format!("--addr {addr}"), e))?;
        // With `--addr …:0` the OS picks the port; print the real one so the URL works.
        let bound = listener.local_addr().map_err(|e| Error::io(format!("--addr {addr}"), e))?;
        let mut signals = StopSignals::new();
        say(&format!("Serving http://{bound} (weights: {}, hidden {hidden})", weights.display()));

        // The first signal starts the graceful shutdown inside `server`; a second one stops at once.
        let (drain, drained) = tokio::sync::oneshot::channel::<()>();
        let server = warp::serve(routes(net, level)).incoming(listener).graceful(async move {
            let _ = drained.await;
        });
        let server = server.run();
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
