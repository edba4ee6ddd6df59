//! Accepting, limiting, timing out and draining connections.
//!
//! A connection holds a socket, a task and buffers for as long as it is open, and unless the
//! server decides how long that is, the client does. Each limit here takes that decision away
//! from one kind of hostile or broken client:
//!
//! - **Idle timeout** (`--idle-timeout-secs`): a connection with no request in flight for that
//!   long is closed. That covers a client that connects and never sends a byte (hyper-util is
//!   still reading the first bytes to tell HTTP/1 from HTTP/2, where no hyper timer runs), a
//!   keep-alive connection left open between requests, and an HTTP/2 connection with no open
//!   stream, whatever PINGs or SETTINGS it keeps sending. A request in flight, including a long
//!   server stream such as a health `Watch`, is never idle; a peer that vanished during one is
//!   found by HTTP/2 keep-alive PINGs, sent at the same interval and given 20 s to be answered.
//! - **Header-read timeout** (`--header-read-timeout-secs`): on HTTP/1, once the first byte of a
//!   request arrives, its headers must be complete within this time (slowloris sends them a byte
//!   at a time). It is measured here, not by hyper's `header_read_timeout`: hyper starts that
//!   clock whenever it waits for a request, so it would also close every keep-alive connection
//!   after this shorter time and the idle timeout would never apply. On HTTP/2 a request's
//!   headers arrive while the connection is still idle, so the idle timeout bounds them.
//! - **Connection limit** (`--max-connections`): with every slot taken the server stops
//!   accepting, and new connections wait in the kernel's listen backlog (their connect succeeds;
//!   their request is read once a slot frees) instead of being accepted and dropped. Waiting
//!   costs the server nothing, the timeouts above guarantee that slots free up, and a legitimate
//!   client behind a wave of silent ones waits about one idle timeout rather than being refused.
//!
//! A body that stalls once its request is in flight is bounded per request (`request_body`). On
//! shutdown the listener closes, every connection is asked to finish (HTTP/1 after its current
//! response, HTTP/2 with GOAWAY), and [`serve`] returns when the last one has.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::ConnectInfo;
use axum::http::Request;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tower::ServiceExt;

/// How long an HTTP/2 keep-alive PING may go unanswered before the connection is closed.
const PING_ACK_TIMEOUT: Duration = Duration::from_secs(20);
/// At most one "limit reached" warning this often, however hard the limit is pressed.
const LIMIT_WARNING_EVERY: Duration = Duration::from_secs(60);
/// How every HTTP/2 connection starts; a connection that starts otherwise is HTTP/1.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub header_read: Duration,
    pub idle: Duration,
    pub max_connections: usize,
}

/// Serves `app` over HTTP/1 and HTTP/2 on `listener` until `shutdown` completes, then drains.
pub async fn serve(listener: TcpListener, app: Router, limits: Limits, shutdown: impl Future<Output = ()>) {
    let slots = Arc::new(Semaphore::new(limits.max_connections.clamp(1, Semaphore::MAX_PERMITS)));
    let builder = hyper_builder(&limits);
    let graceful = GracefulShutdown::new();
    let mut shutdown = pin!(shutdown);
    let mut last_warning: Option<Instant> = None;
    loop {
        let slot = match Arc::clone(&slots).try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                if last_warning.is_none_or(|at| at.elapsed() >= LIMIT_WARNING_EVERY) {
                    tracing::warn!(
                        max_connections = limits.max_connections,
                        "connection limit reached: new connections wait in the listen backlog"
                    );
                    last_warning = Some(Instant::now());
                }
                tokio::select! {
                    () = &mut shutdown => break,
                    slot = Arc::clone(&slots).acquire_owned() => match slot {
                        Ok(slot) => slot,
                        Err(_closed) => break,
                    },
                }
            }
        };
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    accept_failed(error).await;
                    continue;
                }
            },
        };
        let connection = Connection { app: app.clone(), builder: builder.clone(), limits, watcher: graceful.watcher() };
        tokio::spawn(connection.serve(stream, peer, slot));
    }
    drop(listener);
    graceful.shutdown().await;
}

fn hyper_builder(limits: &Limits) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // Not hyper's header timer, which would also cut keep-alive connections short (see above).
    builder.http1().header_read_timeout(None);
    builder.http2().timer(TokioTimer::new()).keep_alive_interval(limits.idle).keep_alive_timeout(PING_ACK_TIMEOUT);
    builder
}

/// A connection reset before it was accepted is the client's business; anything else (out of
/// file descriptors, say) is retried after a pause rather than in a busy loop.
async fn accept_failed(error: io::Error) {
    use io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(error.kind(), ConnectionAborted | ConnectionRefused | ConnectionReset) {
        return;
    }
    tracing::error!(%error, "accepting a connection failed; retrying in 1 s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// One accepted connection and what it needs to be served.
struct Connection {
    app: Router,
    builder: auto::Builder<TokioExecutor>,
    limits: Limits,
    watcher: Watcher,
}

impl Connection {
    /// Serves until the client closes, a timeout closes it, or shutdown has drained it; `_slot`
    /// returns to the pool when this returns.
    async fn serve(self, stream: TcpStream, peer: SocketAddr, _slot: OwnedSemaphorePermit) {
        let Connection { app, builder, limits, watcher } = self;
        let activity = Arc::new(Activity::new());
        let io = TokioIo::new(Watched { stream, activity: Arc::clone(&activity), preface: Preface::Reading(0) });
        let tracker = Arc::clone(&activity);
        let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
            let in_flight = tracker.request_started();
            // Where the request came from, for the audit log.
            request.extensions_mut().insert(ConnectInfo(peer));
            let app = app.clone();
            async move {
                let response = app.oneshot(request).await?;
                Ok::<_, Infallible>(response.map(|body| InFlightBody { body, _in_flight: in_flight }))
            }
        });
        let connection = watcher.watch(builder.serve_connection(io, service));
        tokio::select! {
            served = connection => if let Err(error) = served {
                tracing::debug!(%error, "connection ended with an error");
            },
            reason = activity.expired(limits) => tracing::debug!(reason, "closing connection"),
        }
    }
}

/// What one connection's timeouts are measured from.
struct Activity {
    state: Mutex<State>,
    changed: Notify,
}

struct State {
    /// Requests whose response has not been sent (or dropped) yet.
    in_flight: usize,
    /// When the last request finished, or the connection opened.
    idle_since: Instant,
    /// When the first byte of the next HTTP/1 request arrived, while it is still incomplete.
    head_started: Option<Instant>,
    http2: bool,
}

impl Activity {
    fn new() -> Self {
        let state = State { in_flight: 0, idle_since: Instant::now(), head_started: None, http2: false };
        Activity { state: Mutex::new(state), changed: Notify::new() }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn update(&self, change: impl FnOnce(&mut State)) {
        change(&mut self.state());
        self.changed.notify_one();
    }

    /// A request's headers are complete; it stays in flight until the guard drops.
    fn request_started(self: &Arc<Self>) -> InFlight {
        self.update(|state| {
            state.in_flight += 1;
            state.head_started = None;
        });
        InFlight(Arc::clone(self))
    }

    /// Bytes arrived on a connection not known to be HTTP/2: with no request in flight they
    /// are the start of the next request's headers.
    fn bytes_read(&self) {
        let mut state = self.state();
        if state.in_flight == 0 && !state.http2 && state.head_started.is_none() {
            state.head_started = Some(Instant::now());
            drop(state);
            self.changed.notify_one();
        }
    }

    fn is_http2(&self) {
        self.update(|state| {
            state.http2 = true;
            state.head_started = None;
        });
    }

    /// Completes when the connection has overstayed a timeout, with which one.
    async fn expired(&self, limits: Limits) -> &'static str {
        loop {
            let changed = self.changed.notified();
            let deadline = {
                let state = self.state();
                match (state.in_flight, state.head_started) {
                    (0, Some(started)) => Some((started + limits.header_read, "request headers too slow")),
                    (0, None) => Some((state.idle_since + limits.idle, "idle")),
                    _ => None,
                }
            };
            match deadline {
                None => changed.await,
                Some((at, reason)) if at <= Instant::now() => return reason,
                Some((at, _)) => tokio::select! {
                    () = tokio::time::sleep_until(at) => {},
                    () = changed => {},
                },
            }
        }
    }
}

/// Keeps its request in flight until dropped (with the response body, or with the request's
/// future if the connection closes first).
struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.update(|state| {
            state.in_flight = state.in_flight.saturating_sub(1);
            if state.in_flight == 0 {
                state.idle_since = Instant::now();
            }
        });
    }
}

/// A response body that keeps its request in flight until it has been sent.
struct InFlightBody {
    body: Body,
    _in_flight: InFlight,
}

impl HttpBody for InFlightBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// Whether the connection has shown itself to be HTTP/2 yet.
enum Preface {
    /// This many bytes matched the HTTP/2 preface so far.
    Reading(usize),
    Http1,
    Http2,
}

/// The TCP stream, reporting what arrives to the connection's [`Activity`].
struct Watched {
    stream: TcpStream,
    activity: Arc<Activity>,
    preface: Preface,
}

impl Watched {
    fn saw(&mut self, bytes: &[u8]) {
        if let Preface::Reading(seen) = self.preface {
            let end = (seen + bytes.len()).min(H2_PREFACE.len());
            self.preface = if bytes[..end - seen] != H2_PREFACE[seen..end] {
                Preface::Http1
            } else if end == H2_PREFACE.len() {
                self.activity.is_http2();
                Preface::Http2
            } else {
                Preface::Reading(end)
            };
        }
        if !matches!(self.preface, Preface::Http2) {
            self.activity.bytes_read();
        }
    }
}

impl AsyncRead for Watched {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let read = Pin::new(&mut self.stream).poll_read(cx, buf);
        if matches!(read, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.saw(&buf.filled()[before..]);
        }
        read
    }
}

impl AsyncWrite for Watched {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, data)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, data)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
