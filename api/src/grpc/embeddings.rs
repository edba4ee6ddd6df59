//! `elevatediq.v1.Embeddings`: thin handlers over [`EmbeddingService`].

use std::pin::Pin;

use eiq_inference::Admission;
use eiq_proto::v1::{
    EmbedRequest, EmbedResponse, EmbedStreamRequest, EmbedStreamResponse, Embedding, ItemError, ListModelsRequest,
    ListModelsResponse, embed_stream_response::Outcome, embeddings_server::Embeddings,
};
use eiq_service::text::EmbeddingService;
use futures::{Stream, StreamExt};
use tonic::{Request, Response, Status, Streaming};

use super::convert;
use crate::error::grpc_status;

/// Items of one stream computed concurrently; responses still leave in request order.
const STREAM_CONCURRENCY: usize = 64;

pub struct GrpcEmbeddings {
    service: EmbeddingService,
}

impl GrpcEmbeddings {
    pub fn new(service: EmbeddingService) -> Self {
        Self { service }
    }
}

type ResponseStream = Pin<Box<dyn Stream<Item = Result<EmbedStreamResponse, Status>> + Send>>;

#[tonic::async_trait]
impl Embeddings for GrpcEmbeddings {
    async fn embed(&self, request: Request<EmbedRequest>) -> Result<Response<EmbedResponse>, Status> {
        let request = request.into_inner();
        let result = self
            .service
            .embed(Some(&request.model), request.inputs, None, Admission::Refuse)
            .await
            .map_err(grpc_status)?;
        let embeddings = result
            .vectors
            .into_iter()
            .enumerate()
            .map(|(index, values)| Embedding { index: index as u32, values })
            .collect();
        Ok(Response::new(EmbedResponse { model: result.model, embeddings, prompt_tokens: result.prompt_tokens as u32 }))
    }

    type EmbedStreamStream = ResponseStream;

    async fn embed_stream(
        &self,
        request: Request<Streaming<EmbedStreamRequest>>,
    ) -> Result<Response<Self::EmbedStreamStream>, Status> {
        let service = self.service.clone();
        let responses = request
            .into_inner()
            .map(move |item| {
                let service = service.clone();
                async move {
                    let item = item?;
                    Ok(embed_item(&service, item).await)
                }
            })
            .buffered(STREAM_CONCURRENCY);
        Ok(Response::new(Box::pin(responses)))
    }

    async fn list_models(&self, _: Request<ListModelsRequest>) -> Result<Response<ListModelsResponse>, Status> {
        let models = self.service.models().into_iter().map(convert::model).collect();
        let default_model = self.service.default_model().to_string();
        Ok(Response::new(ListModelsResponse { models, default_model }))
    }
}

/// One stream item; its failure is reported on the item and the stream goes on. Bulk work waits
/// for room in a full queue (back-pressure, not errors), after validation, cache lookup and
/// tokenization, which it does once.
async fn embed_item(service: &EmbeddingService, item: EmbedStreamRequest) -> EmbedStreamResponse {
    match service.embed(Some(&item.model), vec![item.input], None, Admission::Wait).await {
        Ok(mut embeddings) => EmbedStreamResponse {
            id: item.id,
            model: embeddings.model,
            prompt_tokens: embeddings.prompt_tokens as u32,
            outcome: Some(Outcome::Embedding(Embedding { index: 0, values: embeddings.vectors.remove(0) })),
        },
        Err(err) => {
            let status = grpc_status(err);
            EmbedStreamResponse {
                id: item.id,
                model: item.model,
                prompt_tokens: 0,
                outcome: Some(Outcome::Error(ItemError {
                    code: status.code() as i32,
                    message: status.message().to_string(),
                })),
            }
        }
    }
}
