//! A caption request as a stream of events, shared by REST's Server-Sent Events and gRPC's
//! server streaming.
//!
//! The service runs on its own task and reports through a channel; the stream yields those
//! events, then the final answer. The stream owns the task: when a client goes away the
//! protocol drops the stream, the task is aborted, its generation's channel closes, and the
//! model stops at its next token.

use eiq_service::ServiceError;
use eiq_service::captions::{CaptionEvent, CaptionRequest, CaptionService, Captions};
use eiq_service::tenancy::Principal;
use futures::Stream;
use tokio::sync::mpsc;
use tokio::task::{AbortHandle, JoinHandle};

/// One item of a caption stream.
pub enum CaptionStreamItem {
    Event(CaptionEvent),
    Done(Captions),
}

/// Aborts the request's task when the stream is dropped.
struct AbortOnDrop(AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

enum State {
    Running {
        events: mpsc::UnboundedReceiver<CaptionEvent>,
        task: JoinHandle<Result<Captions, ServiceError>>,
        _guard: AbortOnDrop,
    },
    Finished,
}

pub fn caption_events(
    service: CaptionService,
    principal: Principal,
    request: CaptionRequest,
) -> impl Stream<Item = Result<CaptionStreamItem, ServiceError>> + Send + 'static {
    let (sender, events) = mpsc::unbounded_channel();
    let task = tokio::spawn(async move { service.generate(&principal, request, Some(sender)).await });
    let guard = AbortOnDrop(task.abort_handle());
    futures::stream::unfold(State::Running { events, task, _guard: guard }, |state| async move {
        let State::Running { mut events, task, _guard } = state else { return None };
        match events.recv().await {
            Some(event) => Some((Ok(CaptionStreamItem::Event(event)), State::Running { events, task, _guard })),
            // The service has returned (its sender is gone): the answer, or its error.
            None => {
                let result = match task.await {
                    Ok(Ok(captions)) => Ok(CaptionStreamItem::Done(captions)),
                    Ok(Err(err)) => Err(err),
                    Err(err) => Err(ServiceError::internal("caption task", err)),
                };
                Some((result, State::Finished))
            }
        }
    })
}
