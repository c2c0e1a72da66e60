//! The "Watch it learn" page's routes: `/train` and its scripts, the WebAssembly trainer, and
//! the four MNIST files from `serve --data DIR`. All GET (and HEAD): the browser does the
//! training, the server only sends files.
//!
//! | route                                | answer |
//! |--------------------------------------|--------|
//! | `GET /train`                         | the page (`web/train.html`), its script, worker and style; `/draw-local.js`, the drawing page's "draw with these weights" |
//! | `GET /wasm/mnistlearn.wasm`          | the scalar module, `…-simd128.wasm` the SIMD one, `glue.mjs` their glue (compiled in) |
//! | `GET /data/NAME`                     | MNIST file `NAME` from the data directory, as it is on disk (gzip or raw) |
//!
//! `/data/` serves only the eight names in [`DATA_FILES`] (the four MNIST files, gzipped or
//! not), never a path from the request, and only regular files ([`open_regular`]): a FIFO or a
//! device under one of those names is refused, not read.

use std::path::Path;
use std::sync::Arc;

use warp::filters::BoxedFilter;
use warp::http::header::{HeaderValue, CONTENT_LENGTH};
use warp::http::{Method, StatusCode};
use warp::reply::Response;
use warp::Filter;

use super::routes::{error_json, method_in, respond, READ};
use crate::io::file::{open_regular, OpenError};

const TRAIN_HTML: &str = include_str!("../../web/train.html");
const TRAIN_JS: &str = include_str!("../../web/train.js");
const TRAIN_WORKER_JS: &str = include_str!("../../web/train-worker.js");
const TRAIN_CSS: &str = include_str!("../../web/train.css");
const DRAW_LOCAL_JS: &str = include_str!("../../web/draw-local.js");
const GLUE_MJS: &str = include_str!("../../web/wasm/glue.mjs");
// The modules are committed, built by `cargo xtask wasm` (see web/wasm/TOOLCHAIN), so a checkout
// with only rustup's toolchain serves them without building them.
const WASM_SCALAR: &[u8] = include_bytes!("../../web/wasm/mnistlearn.wasm");
const WASM_SIMD128: &[u8] = include_bytes!("../../web/wasm/mnistlearn-simd128.wasm");

/// The files `/data/` serves: the official MNIST names, gzipped (as `cargo xtask fetch` leaves
/// them) or raw.
pub const DATA_FILES: [&str; 8] = [
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

/// The largest data file served. MNIST's largest is 47,040,016 bytes raw; a bigger file under
/// one of these names is not MNIST, and is not read into memory.
pub const DATA_FILE_LIMIT: u64 = 64 << 20;

/// The routes of the training page; `data_dir` is where `/data/` finds the MNIST files.
pub(super) fn train_routes(data_dir: Arc<Path>) -> BoxedFilter<(Response,)> {
    let file = |segments: &'static [&'static str], path: &'static str, kind: &'static str, body: &'static [u8]| {
        let route = match segments {
            [one] => warp::path(*one).and(warp::path::end()).boxed(),
            [dir, name] => warp::path(*dir).and(warp::path(*name)).and(warp::path::end()).boxed(),
            _ => unreachable!("routes have one or two segments"),
        };
        route.and(method_in(READ, path, "GET, HEAD")).map(move || respond(StatusCode::OK, kind, body)).boxed()
    };
    let html = "text/html; charset=utf-8";
    let js = "text/javascript; charset=utf-8";
    let pages = file(&["train"], "/train", html, TRAIN_HTML.as_bytes())
        .or(file(&["train.js"], "/train.js", js, TRAIN_JS.as_bytes()))
        .unify()
        .or(file(&["train-worker.js"], "/train-worker.js", js, TRAIN_WORKER_JS.as_bytes()))
        .unify()
        .or(file(&["train.css"], "/train.css", "text/css; charset=utf-8", TRAIN_CSS.as_bytes()))
        .unify()
        .or(file(&["draw-local.js"], "/draw-local.js", js, DRAW_LOCAL_JS.as_bytes()))
        .unify()
        .or(file(&["wasm", "glue.mjs"], "/wasm/glue.mjs", js, GLUE_MJS.as_bytes()))
        .unify()
        .or(file(&["wasm", "mnistlearn.wasm"], "/wasm/mnistlearn.wasm", "application/wasm", WASM_SCALAR))
        .unify()
        .or(file(
            &["wasm", "mnistlearn-simd128.wasm"],
            "/wasm/mnistlearn-simd128.wasm",
            "application/wasm",
            WASM_SIMD128,
        ))
        .unify();

    let data = warp::path("data")
        .and(warp::path::param::<String>())
        .and(warp::path::end())
        .and(method_in(READ, "/data/NAME", "GET, HEAD"))
        .and(warp::method())
        .and_then(move |name: String, method: Method| {
            let dir = data_dir.clone();
            async move {
                let Some(&name) = DATA_FILES.iter().find(|&&known| known == name) else {
                    return Err(warp::reject::not_found());
                };
                let path = dir.join(name);
                let head = method == Method::HEAD;
                // File reads block: off the async workers.
                let read = tokio::task::spawn_blocking(move || read_data_file(&path, head)).await;
                Ok::<_, warp::Rejection>(match read {
                    Ok(Ok((size, bytes))) => {
                        let kind = if name.ends_with(".gz") { "application/gzip" } else { "application/octet-stream" };
                        let mut response = respond(StatusCode::OK, kind, bytes);
                        // A HEAD answer has no body but says how long the GET's would be.
                        response.headers_mut().insert(CONTENT_LENGTH, HeaderValue::from(size));
                        response
                    }
                    Ok(Err((status, message))) => respond(status, "application/json", error_json(&message)),
                    Err(_) => respond(StatusCode::INTERNAL_SERVER_ERROR, "application/json", error_json("read failed")),
                })
            }
        });
    pages.or(data).unify().boxed()
}

/// The size of `path` and, unless `head_only`, its bytes; or the status and message to send.
fn read_data_file(path: &Path, head_only: bool) -> Result<(u64, Vec<u8>), (StatusCode, String)> {
    use std::io::Read;
    let shown = path.display();
    let mut file = match open_regular(path) {
        Ok(file) => file,
        Err(OpenError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err((
                StatusCode::NOT_FOUND,
                format!("{shown}: not found; get the MNIST files with `cargo xtask fetch` (or start `mnistlearn serve --data DIR` where they are)"),
            ));
        }
        Err(OpenError::Io(e)) => return Err((StatusCode::INTERNAL_SERVER_ERROR, format!("{shown}: {e}"))),
        Err(OpenError::NotRegular(what)) => {
            return Err((StatusCode::FORBIDDEN, format!("{shown} is {what}; expected a regular file")));
        }
    };
    let size = file.metadata().map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, format!("{shown}: {e}")))?.len();
    if size > DATA_FILE_LIMIT {
        return Err((
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("{shown} is {size} bytes; an MNIST file is at most {DATA_FILE_LIMIT}"),
        ));
    }
    if head_only {
        return Ok((size, Vec::new()));
    }
    let mut bytes = Vec::with_capacity(size as usize);
    file.by_ref()
        .take(DATA_FILE_LIMIT)
        .read_to_end(&mut bytes)
        .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, format!("{shown}: {e}")))?;
    Ok((bytes.len() as u64, bytes))
}
