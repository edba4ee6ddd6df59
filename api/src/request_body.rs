//! Request bodies as they stream in: each message must arrive in time, and a gRPC body must be
//! well framed before tonic reads it.
//!
//! **Body-read timeout** (`--body-read-timeout-secs`). Once its headers are in, a request is in
//! flight and its connection is never idle, so a client that then sends the body slowly, or
//! not at all, would hold a handler, its buffers and a connection for good. The timeout is the
//! longest the server waits for one message of a request:
//!
//! - REST: the whole body, counted from when the request reaches the router, so trickling a
//!   byte at a time does not reset it. The answer is 408 (and an HTTP/1 connection is closed,
//!   its body being unread).
//! - gRPC: each message, counted from the previous one (or the request's headers), and then the
//!   end of the stream; the call fails with `DEADLINE_EXCEEDED`. A stream lasts as long as its
//!   messages keep coming (an `ImportHistory` upload of any size, a bulk `EmbedStream`), but a
//!   client that pauses longer than the timeout between two messages is cut off.
//!
//! The clock runs only while the handler waits for the body: what the client sent while the
//! server was busy elsewhere is not late.
//!
//! **gRPC framing.** A gRPC message is a compressed flag (1 byte), a length (4 bytes) and that
//! many bytes. tonic answers a body that ends inside a message, or a compressed flag on a call
//! that named no `grpc-encoding`, with `INTERNAL` before any codec runs, so the project's codec
//! (`INVALID_ARGUMENT` for what does not decode) never sees them. Both are malformed requests
//! (gRPC's compression document asks for `INTERNAL` on the flag; this API reports every malformed
//! request alike), so the framing is followed here as the bytes pass, without copying or
//! buffering them, and such a call fails with `INVALID_ARGUMENT` first. A length over the
//! message size limit is still tonic's `OUT_OF_RANGE`.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Version, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body::{Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use crate::error::ApiError;

/// Whether a request is gRPC (by its content type).
pub fn is_grpc(headers: &HeaderMap) -> bool {
    headers.get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"))
}

/// Middleware: puts every request body under the timeout, and gRPC bodies under the framing check.
pub async fn guard(State(timeout): State<Duration>, request: Request, next: Next) -> Response {
    if is_grpc(request.headers()) {
        let encoded = request.headers().get("grpc-encoding").is_some_and(|v| v != "identity");
        let request = request.map(|body| Body::new(GrpcBody::new(body, timeout, encoded)));
        return next.run(request).await;
    }
    let late = Arc::new(AtomicBool::new(false));
    let http1 = request.version() < Version::HTTP_2;
    let request =
        request.map(|body| Body::new(RestBody { body, deadline: Deadline::new(timeout), late: late.clone() }));
    let response = next.run(request).await;
    if !late.load(Ordering::Relaxed) {
        return response;
    }
    // Whatever the handler made of the failed read, the cause is the client's slowness.
    let message = format!("the request body did not arrive within {} s", timeout.as_secs());
    let mut response = ApiError::Rejected { status: StatusCode::REQUEST_TIMEOUT, message }.into_response();
    if http1 {
        response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

#[derive(Debug, thiserror::Error)]
enum RestBodyError {
    #[error("the request body did not arrive within {} s", .0.as_secs())]
    TooSlow(Duration),
    #[error(transparent)]
    Read(axum::Error),
}

/// A REST body that must arrive whole before its deadline.
struct RestBody {
    body: Body,
    deadline: Deadline,
    /// Set when the deadline passed, for [`guard`] to answer 408.
    late: Arc<AtomicBool>,
}

impl HttpBody for RestBody {
    type Data = Bytes;
    type Error = RestBodyError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        match Pin::new(&mut this.body).poll_frame(cx) {
            Poll::Ready(frame) => Poll::Ready(frame.map(|frame| frame.map_err(RestBodyError::Read))),
            Poll::Pending if this.deadline.poll_passed(cx) => {
                this.late.store(true, Ordering::Relaxed);
                Poll::Ready(Some(Err(RestBodyError::TooSlow(this.deadline.limit))))
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// A gRPC body whose framing is checked, and each message timed, as it passes.
struct GrpcBody {
    body: Body,
    deadline: Deadline,
    /// The call named a `grpc-encoding`, so compressed messages are allowed.
    encoded: bool,
    framing: Framing,
    /// An error or the end was returned: nothing more comes.
    done: bool,
}

impl GrpcBody {
    fn new(body: Body, timeout: Duration, encoded: bool) -> Self {
        GrpcBody { body, deadline: Deadline::new(timeout), encoded, framing: Framing::default(), done: false }
    }
}

impl HttpBody for GrpcBody {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        let checked = match Pin::new(&mut this.body).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => match frame.data_ref() {
                Some(data) => this.framing.follow(data, this.encoded).map(|completed| {
                    if completed > 0 {
                        this.deadline.restart();
                    }
                    Some(frame)
                }),
                // Trailers end the body.
                None => this.framing.finish().map(|()| Some(frame)),
            },
            Poll::Ready(Some(Err(error))) => Err(tonic::Status::from_error(Box::new(error))),
            Poll::Ready(None) => this.framing.finish().map(|()| None),
            Poll::Pending if this.deadline.poll_passed(cx) => Err(tonic::Status::deadline_exceeded(format!(
                "the next message did not arrive within {} s",
                this.deadline.limit.as_secs()
            ))),
            Poll::Pending => return Poll::Pending,
        };
        match checked {
            Ok(Some(frame)) => Poll::Ready(Some(Ok(frame))),
            Ok(None) => {
                this.done = true;
                Poll::Ready(None)
            }
            Err(status) => {
                this.done = true;
                Poll::Ready(Some(Err(status)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        // A body that ended mid-message must still be polled, to report it.
        self.done || (self.body.is_end_stream() && self.framing.between_messages())
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// Where a gRPC body is among its length-prefixed messages.
#[derive(Debug, Default)]
struct Framing {
    /// The prefix of the next message, `have` bytes of it so far.
    prefix: [u8; 5],
    have: usize,
    /// Bytes of the current message still to come.
    remaining: usize,
}

impl Framing {
    /// Follows `data`; how many messages it completed, or why the body is malformed.
    fn follow(&mut self, mut data: &[u8], encoded: bool) -> Result<usize, tonic::Status> {
        let mut completed = 0;
        while !data.is_empty() {
            if self.remaining > 0 {
                let taken = self.remaining.min(data.len());
                self.remaining -= taken;
                data = &data[taken..];
                completed += usize::from(self.remaining == 0);
                continue;
            }
            let taken = (self.prefix.len() - self.have).min(data.len());
            self.prefix[self.have..self.have + taken].copy_from_slice(&data[..taken]);
            self.have += taken;
            data = &data[taken..];
            if self.have < self.prefix.len() {
                break;
            }
            self.have = 0;
            match self.prefix[0] {
                0 => {}
                1 if encoded => {}
                1 => {
                    return Err(tonic::Status::invalid_argument(
                        "a message has its compressed flag set, but the call names no grpc-encoding",
                    ));
                }
                flag => {
                    return Err(tonic::Status::invalid_argument(format!(
                        "a message has compressed flag {flag}; it must be 0 or 1"
                    )));
                }
            }
            let [_, length @ ..] = self.prefix;
            self.remaining = u32::from_be_bytes(length) as usize;
            completed += usize::from(self.remaining == 0);
        }
        Ok(completed)
    }

    fn between_messages(&self) -> bool {
        self.have == 0 && self.remaining == 0
    }

    /// The body ended: fine between messages, malformed inside one.
    fn finish(&self) -> Result<(), tonic::Status> {
        if self.have > 0 {
            Err(tonic::Status::invalid_argument(format!(
                "the body ended inside a message's 5-byte prefix, after {} bytes",
                self.have
            )))
        } else if self.remaining > 0 {
            Err(tonic::Status::invalid_argument(format!(
                "the body ended {} bytes short of the length its last message declares",
                self.remaining
            )))
        } else {
            Ok(())
        }
    }
}

/// A deadline that costs a timer only once something waits on it.
struct Deadline {
    limit: Duration,
    at: Instant,
    sleep: Option<Pin<Box<Sleep>>>,
}

impl Deadline {
    fn new(limit: Duration) -> Self {
        Deadline { limit, at: Instant::now() + limit, sleep: None }
    }

    fn restart(&mut self) {
        self.at = Instant::now() + self.limit;
        if let Some(sleep) = &mut self.sleep {
            sleep.as_mut().reset(self.at);
        }
    }

    /// Whether the deadline has passed; if not, `cx` is woken when it does.
    fn poll_passed(&mut self, cx: &mut Context<'_>) -> bool {
        let at = self.at;
        let sleep = self.sleep.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(at)));
        sleep.as_mut().poll(cx).is_ready()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(flag: u8, payload: &[u8]) -> Vec<u8> {
        let mut bytes = vec![flag];
        bytes.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        bytes.extend_from_slice(payload);
        bytes
    }

    #[test]
    fn messages_split_anywhere_are_followed_to_their_ends() {
        let body = [message(0, b"first"), message(0, b""), message(0, b"third one")].concat();
        for split in 0..=body.len() {
            let mut framing = Framing::default();
            let (a, b) = body.split_at(split);
            let completed = framing.follow(a, false).unwrap() + framing.follow(b, false).unwrap();
            assert_eq!(completed, 3, "split at {split}");
            assert!(framing.finish().is_ok());
        }
    }

    #[test]
    fn a_body_ending_inside_a_message_is_invalid_argument() {
        let mut framing = Framing::default();
        let mut short = message(0, b"0123456789");
        short.truncate(9);
        framing.follow(&short, false).unwrap();
        let status = framing.finish().unwrap_err();
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        assert!(status.message().contains("6 bytes short"), "{status:?}");

        let mut framing = Framing::default();
        framing.follow(&[0, 0], false).unwrap();
        assert_eq!(framing.finish().unwrap_err().code(), tonic::Code::InvalidArgument);
    }

    #[test]
    fn a_compressed_flag_needs_an_encoding_and_other_flags_are_refused() {
        let compressed = message(1, b"x");
        assert_eq!(Framing::default().follow(&compressed, false).unwrap_err().code(), tonic::Code::InvalidArgument);
        assert_eq!(Framing::default().follow(&compressed, true).unwrap(), 1);
        let odd = message(7, b"x");
        assert_eq!(Framing::default().follow(&odd, true).unwrap_err().code(), tonic::Code::InvalidArgument);
    }
}
