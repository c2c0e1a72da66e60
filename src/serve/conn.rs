//! Connection plumbing: the limits of `mnistlearn serve`, each connection's clock and
//! deadlines ([`Timed`]), the service wrapper that moves the clock between phases and adds the
//! security headers ([`Tracked`]), and the connection slots with eviction at the cap.
//!
//! Nothing here knows a route: the app is [`super::routes`].

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};

use hyper::body::{Body, Frame, SizeHint};
use warp::http::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE};

use super::guard::Guard;
use super::routes::SECURITY_HEADERS;

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

// ANCHOR: body_rate
/// The slowest a request body may arrive, in bytes per second, once [`BODY_RATE_GRACE`] has
/// passed: by `t` seconds after the head, `MIN_BODY_RATE × (t − grace)` body bytes must be in,
/// or the connection is closed. A real body (784 bytes, or a canvas of a few hundred kilobytes)
/// arrives in one go; a client dripping a byte now and then to hold a slot and its body buffer
/// is cut off after the grace instead of after the whole `--body-timeout`. At the connection
/// cap, a body-phase connection below this rate counted from the head (no grace) is evicted
/// like an idle one.
pub const MIN_BODY_RATE: u64 = 8 * 1024;

/// How long a body may take to start arriving before [`MIN_BODY_RATE`] applies.
pub const BODY_RATE_GRACE: Duration = Duration::from_secs(2);
// ANCHOR_END: body_rate

/// What a connection is doing, for its deadline and for eviction.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Phase {
    /// Waiting for (the rest of) a request head.
    Head,
    /// A request's body is being read and its answer produced.
    Body,
    /// The answer is being written (its deadline is still the body's). Never evicted: cutting
    /// it would hand the client half an answer.
    Answer,
    /// Between requests of a keep-alive connection, the last answer fully written.
    Idle,
}

/// A connection's phase, when it began, and its deadline; in the body phase, the body bytes
/// that have arrived; in the answer phase, whether the answer's body has been handed to hyper
/// whole (so the next flush means it is all written).
#[derive(Clone, Copy, Debug)]
struct State {
    phase: Phase,
    since: Instant,
    deadline: Instant,
    body_bytes: u64,
    answer_queued: bool,
}

/// One connection's phase and deadline, shared by its I/O ([`Timed`]), its service
/// ([`Tracked`]) and its answer's body ([`Sent`]). All run in the connection's one task, so
/// the lock is never contended.
pub(super) struct Clock {
    limits: Limits,
    state: Mutex<State>,
}

impl Clock {
    pub(super) fn new(limits: Limits) -> Clock {
        let now = Instant::now();
        let state = State {
            phase: Phase::Head,
            since: now,
            deadline: now + limits.header_timeout,
            body_bytes: 0,
            answer_queued: false,
        };
        Clock { limits, state: Mutex::new(state) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn enter(&self, phase: Phase) {
        let now = Instant::now();
        let mut state = self.lock();
        let deadline = match phase {
            Phase::Head => now + self.limits.header_timeout,
            Phase::Body => now + self.limits.body_timeout,
            // The answer must be written within the body's deadline, as before.
            Phase::Answer => state.deadline,
            Phase::Idle => now + self.limits.idle_timeout,
        };
        *state = State { phase, since: now, deadline, body_bytes: 0, answer_queued: false };
    }

    fn phase(&self) -> Phase {
        self.lock().phase
    }

    /// The moment the connection is closed if nothing changes: the phase's deadline, or, in the
    /// body phase, the moment the body falls below [`MIN_BODY_RATE`] if that is sooner.
    fn deadline(&self) -> Instant {
        let state = *self.lock();
        if state.phase != Phase::Body {
            return state.deadline;
        }
        let behind = Duration::from_secs_f64((state.body_bytes + 1) as f64 / MIN_BODY_RATE as f64);
        state.deadline.min(state.since + BODY_RATE_GRACE + behind)
    }

    /// `n > 0` bytes arrived: an idle connection starts its next request head; a body counts them.
    fn bytes_arrived(&self, n: usize) {
        let phase = {
            let mut state = self.lock();
            if state.phase == Phase::Body {
                state.body_bytes += n as u64;
            }
            state.phase
        };
        if phase == Phase::Idle {
            self.enter(Phase::Head);
        }
    }

    /// The answer's body has been handed to hyper whole ([`Sent`] was dropped).
    fn answer_queued(&self) {
        let mut state = self.lock();
        if state.phase == Phase::Answer {
            state.answer_queued = true;
        }
    }

    /// hyper flushed the socket, which it does once its write buffer is empty: if the whole
    /// answer had been queued, it is now written, and the connection is idle.
    fn flushed(&self) {
        let queued = {
            let state = self.lock();
            state.phase == Phase::Answer && state.answer_queued
        };
        if queued {
            self.enter(Phase::Idle);
        }
    }

    /// Whether the connection may be closed to make room: no request in progress for a while, or
    /// a body arriving slower than [`MIN_BODY_RATE`]. Never while an answer is being written.
    pub(super) fn evictable(&self) -> bool {
        let state = *self.lock();
        let elapsed = state.since.elapsed();
        match state.phase {
            Phase::Head | Phase::Idle => elapsed >= EVICT_GRACE,
            Phase::Body => {
                elapsed >= EVICT_GRACE && (state.body_bytes as f64) < MIN_BODY_RATE as f64 * elapsed.as_secs_f64()
            }
            Phase::Answer => false,
        }
    }
}

// ANCHOR: timed
/// A connection's socket with its [`Clock`]'s deadline: once the deadline of the current phase
/// has passed, reads and writes fail with `TimedOut`, and hyper closes the connection.
pub(super) struct Timed<T> {
    io: T,
    clock: Arc<Clock>,
    sleep: Pin<Box<Sleep>>,
    armed: Instant,
    /// Bytes accepted from hyper but not yet written: an error answer of hyper's own with the
    /// security headers added ([`with_security_headers`]).
    pending: Vec<u8>,
}

impl<T> Timed<T> {
    pub(super) fn new(io: T, clock: Arc<Clock>) -> Timed<T> {
        let deadline = clock.deadline();
        let sleep = Box::pin(tokio::time::sleep_until(deadline));
        Timed { io, clock, sleep, armed: deadline, pending: Vec::new() }
    }

    /// Fails if the current deadline has passed; otherwise arms the timer for it.
    fn check(&mut self) -> std::io::Result<()> {
        let deadline = self.clock.deadline();
        if Instant::now() >= deadline {
            return Err(timed_out(self.clock.phase()));
        }
        if deadline != self.armed {
            self.sleep.as_mut().reset(deadline);
            self.armed = deadline;
        }
        Ok(())
    }

    /// The socket is not ready: wake up at the deadline, and fail then. (The deadline may have
    /// moved since the timer was armed, as body bytes arrive: `check` re-arms it first.)
    fn wait<R>(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<R>> {
        if let Err(e) = self.check() {
            return Poll::Ready(Err(e));
        }
        match self.sleep.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(timed_out(self.clock.phase()))),
            Poll::Pending => Poll::Pending,
        }
    }
}

fn timed_out(phase: Phase) -> std::io::Error {
    let what = match phase {
        Phase::Head => "request head not complete within the header timeout",
        Phase::Body => "request body slower than the minimum rate or not complete within the body timeout",
        Phase::Answer => "answer not written within the body timeout",
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
                let n = buf.filled().len() - before;
                if n > 0 {
                    this.clock.bytes_arrived(n);
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
        std::task::ready!(this.drain(cx))?;
        if let Some(answer) = with_security_headers(this.clock.phase(), buf) {
            return this.take_answer(cx, answer, buf.len());
        }
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
        std::task::ready!(this.drain(cx))?;
        if this.clock.phase() == Phase::Head {
            // Only hyper's own error answers are written in this phase: small, so flattened.
            let flat: Vec<u8> = bufs.iter().flat_map(|b| b.iter().copied()).collect();
            if let Some(answer) = with_security_headers(Phase::Head, &flat) {
                return this.take_answer(cx, answer, flat.len());
            }
        }
        match Pin::new(&mut this.io).poll_write_vectored(cx, bufs) {
            Poll::Pending => this.wait(cx),
            ready => ready,
        }
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        std::task::ready!(this.drain(cx))?;
        let flushed = Pin::new(&mut this.io).poll_flush(cx);
        if let Poll::Ready(Ok(())) = flushed {
            this.clock.flushed();
        }
        flushed
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        std::task::ready!(this.drain(cx))?;
        Pin::new(&mut this.io).poll_shutdown(cx)
    }
}
// ANCHOR_END: timed

impl<T: AsyncWrite + Unpin> Timed<T> {
    /// Writes what [`Timed::pending`] holds; ready once it is all written.
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        while !self.pending.is_empty() {
            match Pin::new(&mut self.io).poll_write(cx, &self.pending) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => drop(self.pending.drain(..n)),
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return self.wait(cx),
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Accepts hyper's `taken` bytes as `answer` (written now as far as the socket takes it,
    /// the rest on the next write or flush).
    fn take_answer(&mut self, cx: &mut Context<'_>, answer: Vec<u8>, taken: usize) -> Poll<std::io::Result<usize>> {
        self.pending = answer;
        match self.drain(cx) {
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            _ => Poll::Ready(Ok(taken)),
        }
    }
}

/// hyper answers a request it cannot parse (400, 414 for a URI too long, 431 for headers too
/// large) itself, before the service sees it, and has no hook to add headers to that answer.
/// Such an answer is the only thing written while the connection waits for a request head, so
/// there it is recognised by its status line and given [`SECURITY_HEADERS`] on the way out.
fn with_security_headers(phase: Phase, bytes: &[u8]) -> Option<Vec<u8>> {
    if phase != Phase::Head || !bytes.starts_with(b"HTTP/1.") {
        return None;
    }
    let end = bytes.windows(2).position(|w| w == b"\r\n")? + 2;
    let mut answer = bytes[..end].to_vec();
    for (name, value) in SECURITY_HEADERS {
        answer.extend_from_slice(format!("{name}: {value}\r\n").as_bytes());
    }
    answer.extend_from_slice(&bytes[end..]);
    Some(answer)
}

/// warp's service seen by hyper: checks who may ask ([`Guard`]), moves the connection's
/// [`Clock`] between phases, adds [`SECURITY_HEADERS`] to every answer, and wraps the answer's
/// body in [`Sent`] so the clock learns when it has been written.
#[derive(Clone)]
pub(super) struct Tracked<S> {
    pub(super) inner: S,
    pub(super) clock: Arc<Clock>,
    pub(super) guard: Arc<Guard>,
}

type BoxedAnswer<B> = Pin<Box<dyn Future<Output = Result<warp::http::Response<Sent<B>>, Infallible>> + Send>>;

impl<S, B> hyper::service::Service<hyper::Request<hyper::body::Incoming>> for Tracked<S>
where
    S: hyper::service::Service<
        hyper::Request<hyper::body::Incoming>,
        Response = warp::http::Response<B>,
        Error = Infallible,
    >,
    S::Future: Send + 'static,
    B: From<String> + Send + 'static,
{
    type Response = warp::http::Response<Sent<B>>;
    type Error = Infallible;
    type Future = BoxedAnswer<B>;

    fn call(&self, request: hyper::Request<hyper::body::Incoming>) -> BoxedAnswer<B> {
        self.clock.enter(Phase::Body);
        // A refused request never reaches the app.
        let answer = self.guard.check(&request).map(|()| self.inner.call(request));
        let clock = self.clock.clone();
        Box::pin(async move {
            let mut response = match answer {
                Ok(answer) => answer.await?,
                Err((status, json)) => {
                    let mut refusal = warp::http::Response::new(B::from(json));
                    *refusal.status_mut() = status;
                    let headers = refusal.headers_mut();
                    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
                    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
                    refusal
                }
            };
            clock.enter(Phase::Answer);
            let headers = response.headers_mut();
            for (name, value) in SECURITY_HEADERS {
                headers.insert(name, HeaderValue::from_static(value));
            }
            Ok(response.map(|body| Sent { body, clock }))
        })
    }
}

/// An answer's body that tells its connection's [`Clock`] when hyper has taken all of it:
/// hyper drops a body once it has read its end, and flushes the socket once everything
/// before it is written, so the connection becomes idle (evictable) only then.
pub(super) struct Sent<B> {
    body: B,
    clock: Arc<Clock>,
}

impl<B> Drop for Sent<B> {
    fn drop(&mut self) {
        self.clock.answer_queued();
    }
}

impl<B: Body + Unpin> Body for Sent<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// A permit to serve one more connection. At the cap, asks idle connections to close (they
/// check [`Clock::evictable`]) and waits for one to go.
pub(super) async fn connection_slot(slots: &Arc<Semaphore>, evict: &Notify) -> OwnedSemaphorePermit {
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
