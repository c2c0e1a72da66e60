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
//! | `POST /strokes`                       | the page's pen strokes, `{"width": W, "height": H, "strokes": [[[x, y], …], …]}`, drawn as MNIST's digits were made, then classified: the `/classify` answer, `{"empty": true}`, or `{"too_small": true, "message"}` for a tap or a dot |
//! | `GET /hidden-weights`                 | `{"hidden": H, "weights": [[784 numbers] × H]}`: each hidden unit's incoming weights, scaled to −127…127 by its largest magnitude |
//! | `GET /train`, `/wasm/…`, `/data/…`    | the "Watch it learn" page, its WebAssembly trainer and the MNIST files of `--data` (`train.rs`): the browser trains, the server only sends files |
//!
//! `/predict` is the original's wire format: the caller has already made the 28×28 image.
//! `/strokes` is what the page uses: it sends the points of its strokes, and the server draws
//! them with [`mnistlearn_core::data::strokes::render`] at MNIST's size and pen width, so a
//! digit drawn small is not a blob of the page's pen. `/classify` takes a whole canvas instead,
//! `W × H` raw grey bytes (row-major, any polarity, 1 ≤ W, H ≤ [`CLASSIFY_MAX_SIDE`]), through
//! [`mnistlearn_core::data::preprocess::preprocess`], the same code as `mnistlearn predict`.
//! Either way there is one implementation in Rust, not a second one in JavaScript to drift.
//!
//! Anything else gets a JSON error, `{"error": "…"}`, with the fitting status: 400 for a body
//! that is not 784 bytes (or not `W × H` for `/classify`, or a missing or out-of-range `width`
//! or `height`, or strokes that are not finite numbers), 413 for one over [`BODY_LIMIT`] (or
//! [`CLASSIFY_BODY_LIMIT`], [`STROKES_BODY_LIMIT`], or over `/strokes`' stroke and point
//! limits), 405 (with an `Allow` header) for a wrong method on a known path, 404 for an unknown
//! path, 503 (with `Retry-After`) when the body budget is spent, 421 for a foreign `Host`, 403
//! for a cross-origin `POST`.
//!
//! One job per file: this one loads the weights, binds the port and runs the serve loop (with
//! the stop signals); `routes.rs` is the app (routes, JSON answers, rejections, the body
//! budget); `conn.rs` is the connection plumbing (limits, each connection's clock and
//! deadlines, the tracked service, connection slots and eviction); `guard.rs` says who may ask
//! (`Host`, `Origin`); `memory.rs` gives freed memory back.
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
//!   into [`Network::predict`](mnistlearn_core::nn::Network::predict), so the server's answer is bit-identical to `mnistlearn test`'s
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
//!   hyper's HTTP/1 builder here, through `Timed` (`conn.rs`), an I/O wrapper with one deadline per phase
//!   of a connection ([`Limits`]): the request head must be complete within `header_timeout`
//!   of the connection opening or of its first byte, the body and the answer within
//!   `body_timeout` of the head, and a keep-alive connection may wait `idle_timeout` for its
//!   next request. (hyper's own `header_read_timeout` starts counting as soon as a response is
//!   written, so it cannot tell a slow head from an idle keep-alive connection.)
//! * **Connections are capped** at `max_connections`, below the usual limit of 1,024 open
//!   descriptors. When a new connection arrives at the cap, connections that have no request
//!   in progress (idle, or silent for longer than [`EVICT_GRACE`]) or whose body arrives slower
//!   than [`MIN_BODY_RATE`] are closed to make room, so a crowd of idle or dripping sockets
//!   delays a real request by a fraction of a second, not forever. An answer still being
//!   written is never cut: a connection is idle only once its answer is flushed.
//! * **A slow body is cut off** once it falls below [`MIN_BODY_RATE`] after
//!   [`BODY_RATE_GRACE`], at the cap or not.
//! * **Bodies share a budget** of [`BODY_BUDGET`] bytes (503 beyond it), each buffer sized from
//!   its `Content-Length`, and freed memory goes back to the system (`memory.rs`).
//! * **Only this server's names are served** (`guard.rs`): a `Host` naming the bound address,
//!   `localhost`, `127.0.0.1`, `[::1]` or an `--allow-host` name, and a `POST` from a browser
//!   only from the page's own origin (DNS rebinding, cross-site requests).
//! * **Security headers on every answer** of the app: a Content-Security-Policy allowing only
//!   this origin's own script, style and requests (`'wasm-unsafe-eval'` so that the training
//!   page can compile its own WebAssembly; `frame-ancestors 'none'`: no framing),
//!   `Referrer-Policy: no-referrer` and `X-Content-Type-Options: nosniff`.

use std::convert::Infallible;
use std::future::Future;
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Notify, Semaphore};

use warp::reply::Response;
use warp::Filter;

use crate::Error;
use mnistlearn_core::math::SimdLevel;

mod conn;
mod guard;
mod memory;
mod routes;
mod strokes;
mod train;

use conn::{connection_slot, Clock, Timed, Tracked};
pub use conn::{Limits, BODY_RATE_GRACE, EVICT_GRACE, MIN_BODY_RATE};
pub use routes::{
    classify_json, hidden_weights_json, predict_json, routes, routes_with_data, BODY_BUDGET, BODY_LIMIT,
    CLASSIFY_BODY_LIMIT, CLASSIFY_MAX_SIDE, SECURITY_HEADERS,
};
pub use strokes::{strokes_json, STROKES_BODY_LIMIT};

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

/// Accepts connections until `stop` completes, then closes the listener and waits for the
/// open connections to finish gracefully.
async fn serve_until<F>(
    listener: tokio::net::TcpListener,
    filter: F,
    limits: Limits,
    guard: Arc<guard::Guard>,
    stop: impl Future<Output = ()>,
) where
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
        let tracked = Tracked { inner: service.clone(), clock: clock.clone(), guard: guard.clone() };
        // No hyper timer: the timeouts are `Timed`'s (hyper's header timeout would count idle
        // keep-alive time as header time).
        let connection =
            hyper::server::conn::http1::Builder::new().header_read_timeout(None).serve_connection(io, tracked);
        let connection = graceful.watch(connection);
        let evict = evict.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let _closed = memory::ConnectionOpen::new();
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

/// Serves the drawing page and `POST /predict` until Ctrl-C, with the default [`Limits`] and
/// only the default host names.
pub fn run(addr: SocketAddr, weights: &Path, level: SimdLevel) -> Result<(), Error> {
    run_with_limits(addr, weights, Path::new("data"), level, Limits::default(), &[])
}

/// A line for the start if `--data` lacks MNIST's files: the training page needs all four (the
/// drawing app none), and a mistyped directory is better seen now than as the page's 404.
fn missing_data_note(data_dir: &Path) -> Option<String> {
    use mnistlearn_core::data::idx::{TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES, TRAIN_LABELS};
    let missing = [TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS]
        .into_iter()
        .filter(|name| crate::io::dataset::idx_file(&data_dir.join(name)).is_none())
        .count();
    (missing > 0).then(|| {
        format!(
            "Note: {missing} of MNIST's four files are not in {} (raw or .gz): the drawing app works, the training page cannot start (pass --data DIR)",
            data_dir.display()
        )
    })
}

/// Serves the drawing page, `POST /predict` and the training page (its MNIST files from
/// `data_dir`) until Ctrl-C. Requests must name the bound address, `localhost`, `127.0.0.1`,
/// `[::1]` or one of `allow_hosts` as their `Host`.
pub fn run_with_limits(
    addr: SocketAddr,
    weights: &Path,
    data_dir: &Path,
    level: SimdLevel,
    limits: Limits,
    allow_hosts: &[String],
) -> Result<(), Error> {
    // Load before binding: a bad weights file should fail fast and leave the port alone.
    let net = Arc::new(crate::io::weights::load(weights)?);
    let hidden = net.hidden();
    memory::return_freed_memory();

    // Two workers: inference is microseconds, so the server is bound by the network, and the
    // rest of the machine stays free.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::io("serve: cannot start the async runtime", e))?;

    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
            // The usual cause, a server already running there, named with what to do about it.
            let e = match e.kind() {
                std::io::ErrorKind::AddrInUse => std::io::Error::new(
                    e.kind(),
                    format!(
                        "{e}: another program is listening there; stop it, or pass --addr {}:PORT with a free port",
                        addr.ip()
                    ),
                ),
                _ => e,
            };
            Error::io(format!("--addr {addr}"), e)
        })?;
        // With `--addr …:0` the OS picks the port; print the real one so the URL works.
        let bound = listener.local_addr().map_err(|e| Error::io(format!("--addr {addr}"), e))?;
        let mut signals = StopSignals::new();
        say(&format!("Serving http://{bound} (weights: {}, hidden {hidden})", weights.display()));
        if let Some(note) = missing_data_note(data_dir) {
            say(&note);
        }

        // The first signal starts the graceful shutdown inside `server`; a second one stops at once.
        let (drain, drained) = tokio::sync::oneshot::channel::<()>();
        let guard = Arc::new(guard::Guard::new(bound, allow_hosts));
        let server = serve_until(listener, routes_with_data(net, level, data_dir), limits, guard, async move {
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
