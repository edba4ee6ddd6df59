//! `elevatediq.v1.Captions`: thin handlers over [`CaptionService`], unary and server-streaming.

use std::pin::Pin;

use eiq_proto::v1::{CaptionStreamEvent, GenerateCaptionsRequest, GenerateCaptionsResponse, captions_server};
use eiq_service::captions::CaptionService;
use futures::Stream;
use tonic::{Request, Response, Status};

use super::convert;
use crate::error::grpc_status;
use crate::principal;
use crate::streaming::{CaptionStreamItem, caption_events};

pub struct GrpcCaptions {
    captions: CaptionService,
}

impl GrpcCaptions {
    pub fn new(captions: CaptionService) -> Self {
        Self { captions }
    }
}

type EventStream = Pin<Box<dyn Stream<Item = Result<CaptionStreamEvent, Status>> + Send>>;

#[tonic::async_trait]
impl captions_server::Captions for GrpcCaptions {
    async fn generate(
        &self,
        request: Request<GenerateCaptionsRequest>,
    ) -> Result<Response<GenerateCaptionsResponse>, Status> {
        let principal = principal::of_grpc(&request)?;
        let request = convert::caption_request(request.into_inner());
        let captions = self.captions.generate(&principal, request, None).await.map_err(grpc_status)?;
        Ok(Response::new(convert::captions(captions)))
    }

    type GenerateStreamStream = EventStream;

    async fn generate_stream(
        &self,
        request: Request<GenerateCaptionsRequest>,
    ) -> Result<Response<Self::GenerateStreamStream>, Status> {
        let principal = principal::of_grpc(&request)?;
        let request = convert::caption_request(request.into_inner());
        let events = caption_events(self.captions.clone(), principal, request);
        let stream = futures::StreamExt::map(events, |item| match item {
            Ok(CaptionStreamItem::Done(captions)) => Ok(CaptionStreamEvent {
                event: Some(eiq_proto::v1::caption_stream_event::Event::Done(convert::captions(captions))),
            }),
            Ok(CaptionStreamItem::Event(event)) => Ok(convert::caption_event(event)),
            Err(err) => Err(grpc_status(err)),
        });
        Ok(Response::new(Box::pin(stream)))
    }
}
