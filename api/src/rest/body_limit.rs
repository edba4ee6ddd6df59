//! Refusing a body over the limit so that the client actually reads the 413.
//!
//! A server that answers before reading an upload and then closes the connection leaves a client
//! that is still writing with a reset instead of the answer. A body whose declared length is over
//! the limit is therefore read and discarded (up to a bound, and briefly) before the 413 goes out.
//! Bodies without a declared length are still cut off by axum's `DefaultBodyLimit`.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures::StreamExt;

use crate::error::ApiError;

/// At most this much of an oversized body is read, for at most this long, before answering.
const DRAIN_BYTES: usize = 16 * 1024 * 1024;
const DRAIN_TIME: Duration = Duration::from_secs(2);

pub async fn refuse_oversized(State(limit): State<usize>, request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    match declared {
        Some(length) if length > limit => {
            let mut body = request.into_body().into_data_stream();
            let drain = async {
                let mut read = 0;
                while let Some(Ok(chunk)) = body.next().await {
                    read += chunk.len();
                    if read > DRAIN_BYTES {
                        break;
                    }
                }
            };
            let _ = tokio::time::timeout(DRAIN_TIME, drain).await;
            let message = format!("request body is {length} bytes; the limit is {limit}");
            ApiError::Rejected { status: StatusCode::PAYLOAD_TOO_LARGE, message }.into_response()
        }
        _ => next.run(request).await,
    }
}
