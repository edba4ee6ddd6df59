//! `elevatediq.v1.Embeddings`: thin handlers over [`EmbeddingService`].

use std::pin::Pin;
use std::time::Duration;

use eiq_proto::v1::{
    EmbedRequest, EmbedResponse, EmbedStreamRequest, EmbedStreamResponse, Embedding, ItemError, ListModelsRequest,
    ListModelsResponse, ModelInfo, embed_stream_response::Outcome, embeddings_server::Embeddings,
};
use futures::{Stream, StreamExt};
use tonic::{Request, Response, Status, Streaming};

use crate::error::ServiceError;
use crate::service::EmbeddingService;

/// Items of one stream computed concurrently; responses still leave in request order.
const STREAM_CONCURRENCY: usize = 64;
/// How long a stream item waits for room in a full queue before it is answered with an error.
const STREAM_QUEUE_PATIENCE: Duration = Duration::from_secs(10);

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
        let result = self.service.embed(Some(&request.model), request.inputs, None).await?;
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
        let models = self
            .service
            .models()
            .into_iter()
            .map(|status| {
                let manifest = status.manifest;
                let encoder = manifest.encoder.as_ref();
                ModelInfo {
                    task: manifest.task.as_str().into(),
                    backend: manifest.backend.as_str().into(),
                    dimensions: encoder.map_or(0, |e| e.dimensions as u32),
                    max_sequence_length: encoder.map_or(0, |e| e.max_sequence_length as u32),
                    licence: manifest.licence,
                    upstream: manifest.upstream,
                    state: status.state.to_string(),
                    id: manifest.id,
                }
            })
            .collect();
        let default_model = self.service.default_model().to_string();
        Ok(Response::new(ListModelsResponse { models, default_model }))
    }
}

/// One stream item; its failure is reported on the item and the stream goes on.
async fn embed_item(service: &EmbeddingService, item: EmbedStreamRequest) -> EmbedStreamResponse {
    let deadline = tokio::time::Instant::now() + STREAM_QUEUE_PATIENCE;
    let result = loop {
        match service.embed(Some(&item.model), vec![item.input.clone()], None).await {
            // Bulk work waits for room rather than failing: back-pressure, not errors.
            Err(ServiceError::Inference(eiq_inference::InferenceError::QueueFull { .. }))
                if tokio::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            other => break other,
        }
    };
    match result {
        Ok(mut embeddings) => EmbedStreamResponse {
            id: item.id,
            model: embeddings.model,
            prompt_tokens: embeddings.prompt_tokens as u32,
            outcome: Some(Outcome::Embedding(Embedding { index: 0, values: embeddings.vectors.remove(0) })),
        },
        Err(err) => {
            let status = Status::from(err);
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
