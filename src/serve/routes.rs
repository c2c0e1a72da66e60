//! The app: its routes, their JSON answers and every rejection turned into a JSON error.
//!
//! What a request means lives here; how a connection is read, timed and capped is
//! [`super::conn`]'s, and loading, binding and the serve loop are [`super`]'s.

use std::convert::Infallible;
use std::path::Path;
use std::sync::Arc;

use hyper::body::Bytes;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use warp::http::header::{HeaderValue, ALLOW, CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER};
use warp::http::{Method, StatusCode};
use warp::reply::Response;
use warp::{Buf, Filter, Rejection, Reply, Stream};

use mnistlearn_core::data::preprocess::{preprocess, Digit, GreyImage, Seen};

use super::strokes::{strokes_json, STROKES_BODY_LIMIT};
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

const INDEX_HTML: &str = include_str!("../../web/index.html");
const APP_JS: &str = include_str!("../../web/app.js");
const STYLE_CSS: &str = include_str!("../../web/style.css");
const FAVICON_SVG: &str = include_str!("../../web/favicon.svg");

/// The error text for a body of the wrong size. Says what was expected and what came.
fn wrong_size_message(got: usize) -> String {
    format!("body must be exactly {INPUTS} bytes (28×28 pixels, row-major, 0-255), got {got}")
}

/// `{"error": message}` as a string.
pub(super) fn error_json(message: &str) -> String {
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
    match preprocess(&image) {
        Seen::Empty => Ok(serde_json::json!({ "empty": true }).to_string()),
        Seen::TooSmall { extent, least } => Ok(too_small_json(extent, least)),
        Seen::Digit(digit) => Ok(digit_json(net, level, &digit)),
    }
}
// ANCHOR_END: classify_json

/// A digit's answer: the prediction, what the network saw and its hidden activations.
pub(super) fn digit_json(net: &Network, level: SimdLevel, digit: &Digit) -> String {
    let (probabilities, hidden) = net.predict_with_hidden(level, &digit.pixels);
    serde_json::json!({
        "digit": argmax(&probabilities),
        "probabilities": probabilities,
        "seen": digit.pixels.to_vec(),
        "hidden": hidden,
        "inverted": digit.inverted,
    })
    .to_string()
}

/// The answer for a drawing with too little ink to be a digit (a tap, a dot, a speck): never a
/// digit with a probability.
pub(super) fn too_small_json(extent: usize, least: usize) -> String {
    serde_json::json!({
        "too_small": true,
        "message": format!("too small to read: the drawing is {extent} pixels across, a digit needs at least {least}"),
    })
    .to_string()
}

/// Client text as an error message echoes it: whole up to 40 characters, else its first 40 and
/// `…`, so that no request can make an error line long.
pub(super) fn clipped(text: &str) -> String {
    match text.char_indices().nth(40) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}

/// `width` and `height` from a query string such as `width=280&height=280`.
fn canvas_size(query: &str) -> Result<(usize, usize), String> {
    let expected = format!("expected ?width=W&height=H with whole numbers from 1 to {CLASSIFY_MAX_SIDE}");
    let (mut width, mut height) = (None, None);
    // Decoded as a form would encode it (`%32` is `2`, `+` a space), as any other server reads a
    // query string.
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        let slot = match name.as_ref() {
            "width" => &mut width,
            "height" => &mut height,
            _ => return Err(format!("unknown query parameter '{}': {expected}", clipped(&name))),
        };
        match value.parse::<usize>() {
            Ok(n) if (1..=CLASSIFY_MAX_SIDE).contains(&n) => *slot = Some(n),
            _ => return Err(format!("{name}={}: {expected}", clipped(&value))),
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
    use std::fmt::Write;
    // Written straight into the text, in serde_json's compact form: a `serde_json::Value` tree
    // of H × 784 numbers would take 32 bytes a number (100 MB for H = 4096) while the server
    // starts, nine times the answer itself.
    let mut json = format!("{{\"hidden\":{},\"weights\":[", net.hidden());
    for j in 0..net.hidden() {
        let w = net.hidden_unit_weights(j);
        let largest = w.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        let scale = if largest > 0.0 { 127.0 / largest } else { 0.0 };
        json.push_str(if j == 0 { "[" } else { ",[" });
        for (i, v) in w.iter().enumerate() {
            let sep = if i == 0 { "" } else { "," };
            let _ = write!(json, "{sep}{}", (v * scale).round() as i32);
        }
        json.push(']');
    }
    json.push_str("]}");
    json
}

/// The methods of a route that only reads: a file, a page.
pub(super) const READ: &[Method] = &[Method::GET, Method::HEAD];

/// A complete response: status, content type, body.
pub(super) fn respond(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Response {
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
pub(super) fn method_in(
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

// ANCHOR: body_budget
/// The most request-body bytes buffered at once, across all connections. Each body takes its
/// share before a byte of it is read: its declared `Content-Length` (its buffer is allocated at
/// exactly that size, never grown by doubling), or for a chunked body each growth of its buffer.
/// A request whose share does not fit is answered 503 with `Retry-After`, so a crowd of parked
/// uploads costs at most this much memory, not `max_connections × 1 MiB`.
pub const BODY_BUDGET: usize = 64 << 20;
// ANCHOR_END: body_budget

/// The shared budget of [`BODY_BUDGET`] bytes.
#[derive(Clone)]
struct Budget(Arc<Semaphore>);

/// A request body and its share of the [`Budget`], given back when the body is dropped.
struct Body {
    bytes: Vec<u8>,
    share: OwnedSemaphorePermit,
}

/// The budget has no room for this body.
#[derive(Debug)]
struct BudgetExhausted;
impl warp::reject::Reject for BudgetExhausted {}

impl Budget {
    /// A share of `bytes`; [`BudgetExhausted`] if it does not fit.
    fn take(&self, bytes: usize) -> Result<OwnedSemaphorePermit, Rejection> {
        let bytes = u32::try_from(bytes).map_err(|_| warp::reject::custom(BudgetExhausted))?;
        self.0.clone().try_acquire_many_owned(bytes).map_err(|_| warp::reject::custom(BudgetExhausted))
    }
}

/// Extracts the request body, refusing more than `limit` bytes, and more than the budget.
///
/// `warp::body::content_length_limit` alone is not enough: it turns away a chunked body (no
/// `Content-Length`) with 411, and trusts the header for the rest. Here a declared length over
/// the limit is refused up front, and the stream is counted as it arrives either way.
fn capped_body(limit: u64, budget: Budget) -> impl Filter<Extract = (Body,), Error = Rejection> + Clone {
    warp::header::optional::<u64>("content-length")
        .and_then(move |declared: Option<u64>| {
            let budget = budget.clone();
            async move {
                match declared {
                    Some(n) if n > limit => Err(warp::reject::custom(BodyTooLarge(limit))),
                    // Declared: exactly that much (hyper holds the body to its length). Chunked:
                    // a 28×28 image's worth to start with.
                    _ => {
                        let capacity = declared.unwrap_or(INPUTS.min(limit as usize) as u64) as usize;
                        Ok((budget.take(capacity)?, capacity, budget))
                    }
                }
            }
        })
        .and(warp::body::stream())
        .and_then(move |(share, capacity, budget), stream| read_capped(stream, limit, capacity, share, budget))
}

/// Concatenates a body stream into a buffer of `capacity` bytes (grown, for a chunked body, with
/// a share of the budget for each growth), failing with [`BodyTooLarge`] once it passes `limit`.
async fn read_capped<S, B>(
    stream: S,
    limit: u64,
    capacity: usize,
    share: OwnedSemaphorePermit,
    budget: Budget,
) -> Result<Body, Rejection>
where
    S: Stream<Item = Result<B, warp::Error>>,
    B: Buf,
{
    let mut stream = std::pin::pin!(stream);
    let mut body = Body { bytes: Vec::with_capacity(capacity), share };
    while let Some(chunk) = std::future::poll_fn(|cx| stream.as_mut().poll_next(cx)).await {
        let mut chunk = chunk.map_err(|e| warp::reject::custom(BodyUnreadable(e.to_string())))?;
        let needed = body.bytes.len() + chunk.remaining();
        if needed as u64 > limit {
            return Err(warp::reject::custom(BodyTooLarge(limit)));
        }
        let held = body.share.num_permits();
        if needed > held {
            let grown = needed.max(2 * held).min(limit as usize);
            body.share.merge(budget.take(grown - held)?);
            body.bytes.reserve_exact(grown - body.bytes.len());
        }
        while chunk.has_remaining() {
            let piece = chunk.chunk();
            body.bytes.extend_from_slice(piece);
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
    routes_with_data(net, level, Path::new("data"))
}

/// [`routes`], with the training page's `/data/` files read from `data_dir`.
pub fn routes_with_data(
    net: Arc<Network>,
    level: SimdLevel,
    data_dir: &Path,
) -> impl Filter<Extract = (Response,), Error = Infallible> + Clone + Send + Sync + 'static {
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

    let budget = Budget(Arc::new(Semaphore::new(BODY_BUDGET)));
    let predict_net = net.clone();
    let predict = warp::path("predict")
        .and(warp::path::end())
        .and(method_in(&[Method::POST], "/predict", "POST"))
        .and(capped_body(BODY_LIMIT, budget.clone()))
        .map(move |body: Body| answer(predict_json(&predict_net, level, &body.bytes)));

    // The query is taken raw (absent = empty) so that a missing or bad size gets our own
    // one-line 400 rather than warp's generic rejection.
    let classify_net = net.clone();
    let classify = warp::path("classify")
        .and(warp::path::end())
        .and(method_in(&[Method::POST], "/classify", "POST"))
        .and(warp::query::raw().or(warp::any().map(String::new)).unify())
        .and(capped_body(CLASSIFY_BODY_LIMIT, budget.clone()))
        .map(move |query: String, body: Body| answer(classify_json(&classify_net, level, &query, &body.bytes)));

    let strokes_net = net.clone();
    let strokes = warp::path("strokes")
        .and(warp::path::end())
        .and(method_in(&[Method::POST], "/strokes", "POST"))
        .and(capped_body(STROKES_BODY_LIMIT, budget.clone()))
        .map(move |body: Body| answer(strokes_json(&strokes_net, level, &body.bytes)));

    // Computed once: the weights never change while the server runs. Shared, not copied: each
    // answer holds a reference (for H = 4096 the body is 11.5 MB, and a client that does not
    // read holds its answer until the body timeout).
    let hidden_weights_body = Bytes::from(hidden_weights_json(&net));
    let hidden_weights = warp::path("hidden-weights")
        .and(warp::path::end())
        .and(method_in(READ, "/hidden-weights", "GET, HEAD"))
        .map(move || respond(StatusCode::OK, "application/json", hidden_weights_body.clone()));

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
        .or(strokes)
        .unify()
        .or(hidden_weights)
        .unify()
        .or(super::train::train_routes(data_dir.into()))
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
        } else if *limit == STROKES_BODY_LIMIT {
            format!("body too large: strokes are read up to {STROKES_BODY_LIMIT} bytes of JSON")
        } else {
            format!(
                "body too large: expected width × height grey bytes, at most {CLASSIFY_MAX_SIDE} × {CLASSIFY_MAX_SIDE}, \
                 and bodies over {limit} bytes are not read"
            )
        };
        return Ok(json_response(StatusCode::PAYLOAD_TOO_LARGE, error_json(&message)));
    }
    if rejection.find::<BudgetExhausted>().is_some() {
        let message = format!(
            "server busy: {} MiB of request bodies are being received already; try again shortly",
            BODY_BUDGET >> 20
        );
        let mut response = json_response(StatusCode::SERVICE_UNAVAILABLE, error_json(&message));
        response.headers_mut().insert(RETRY_AFTER, HeaderValue::from_static("1"));
        return Ok(response);
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
                       POST /classify?width=W&height=H, POST /strokes, GET /hidden-weights, GET /train (the training \
                       page) and GET /data/NAME (the four MNIST files)";
        return Ok(json_response(StatusCode::NOT_FOUND, error_json(message)));
    }
    // Unreachable with the routes above; kept so that a future route's rejection is still JSON.
    Ok(json_response(StatusCode::INTERNAL_SERVER_ERROR, error_json(&format!("internal error: {rejection:?}"))))
}

// ANCHOR: security_headers
/// The headers every answer of the app carries. The page loads only its own script and style
/// sheet and talks only to its own origin, so `default-src 'self'` allows all it does (plus
/// the empty `data:` favicon); no inline script or style, no framing, no referrer.
pub const SECURITY_HEADERS: [(&str, &str); 4] = [
    (
        "content-security-policy",
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    ),
    ("referrer-policy", "no-referrer"),
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
];
// ANCHOR_END: security_headers
