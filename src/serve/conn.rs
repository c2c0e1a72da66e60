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

use warp::http::header::HeaderValue;
use warp::reply::Response;

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
pub(super) struct Clock {
    limits: Limits,
    state: Mutex<(Phase, Instant, Instant)>, // (phase, since, deadline)
}

impl Clock {
    pub(super) fn new(limits: Limits) -> Clock {
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
    pub(super) fn evictable(&self) -> bool {
        let (phase, since, _) = self.get();
        phase != Phase::Body && since.elapsed() >= EVICT_GRACE
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
}

impl<T> Timed<T> {
    pub(super) fn new(io: T, clock: Arc<Clock>) -> Timed<T> {
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

/// warp's service seen by hyper, moving the connection's [`Clock`] between phases and adding
/// [`SECURITY_HEADERS`] to every answer.
#[derive(Clone)]
pub(super) struct Tracked<S> {
    pub(super) inner: S,
    pub(super) clock: Arc<Clock>,
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
