//! gRPC against a real server through real tonic clients: embeddings, streaming, health, reflection.

mod common;

use common::{cosine, shared};
use eiq_proto::v1::embed_stream_response::Outcome;
use eiq_proto::v1::embeddings_client::EmbeddingsClient;
use eiq_proto::v1::{EmbedRequest, EmbedStreamRequest, ListModelsRequest};
use tonic::Code;
use tonic::transport::Channel;

async fn channel() -> Channel {
    let server = shared().await;
    Channel::from_shared(format!("http://{}", server.addr)).unwrap().connect().await.unwrap()
}

async fn client() -> EmbeddingsClient<Channel> {
    EmbeddingsClient::new(channel().await)
}

#[tokio::test]
async fn unary_embed_matches_rest_and_counts_tokens() {
    let server = shared().await;
    let response = client()
        .await
        .embed(EmbedRequest { model: String::new(), inputs: vec!["hello world".into(), "second post".into()] })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(response.model, "minilm-l6-v2");
    assert_eq!(response.embeddings.len(), 2);
    assert_eq!(response.embeddings[1].index, 1);
    assert_eq!(response.prompt_tokens, 4 + 4);

    let (_, rest) = server.post_json("/v1/embeddings", &serde_json::json!({"input": "hello world"})).await;
    let rest_vector: Vec<f32> =
        rest["data"][0]["embedding"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap() as f32).collect();
    assert!(cosine(&rest_vector, &response.embeddings[0].values) > 0.999_999);
}

#[tokio::test]
async fn unary_errors_map_to_matching_status_codes() {
    let mut client = client().await;
    let mut call = async |model: &str, inputs: Vec<String>| {
        client.embed(EmbedRequest { model: model.into(), inputs }).await.unwrap_err()
    };
    assert_eq!(call("", vec![]).await.code(), Code::InvalidArgument);
    assert_eq!(call("", vec!["ok".into(), String::new()]).await.code(), Code::InvalidArgument);
    assert_eq!(call("", (0..2049).map(|i| i.to_string()).collect()).await.code(), Code::InvalidArgument);
    let unknown = call("no-such-model", vec!["hi".into()]).await;
    assert_eq!(unknown.code(), Code::NotFound);
    assert!(unknown.message().contains("no-such-model"));
    // A message over the 2 MiB limit is refused by the transport, not by a panic.
    let oversized = call("", vec!["a".repeat(3 * 1024 * 1024)]).await;
    assert_eq!(oversized.code(), Code::OutOfRange, "{oversized:?}");
}

#[tokio::test]
async fn streaming_answers_every_item_in_order_and_reports_bad_items_on_the_item() {
    let mut items: Vec<EmbedStreamRequest> = (0..200)
        .map(|i| EmbedStreamRequest {
            id: format!("post-{i}"),
            model: String::new(),
            input: format!("bulk post number {i}"),
        })
        .collect();
    items[17].input = String::new();
    items[42].model = "missing-model".into();
    let mut responses = client().await.embed_stream(tokio_stream::iter(items)).await.unwrap().into_inner();
    let mut seen = 0;
    while let Some(response) = responses.message().await.unwrap() {
        assert_eq!(response.id, format!("post-{seen}"));
        match (seen, response.outcome.unwrap()) {
            (17, Outcome::Error(error)) => assert_eq!(error.code, Code::InvalidArgument as i32),
            (42, Outcome::Error(error)) => assert_eq!(error.code, Code::NotFound as i32),
            (_, Outcome::Embedding(embedding)) => assert_eq!(embedding.values.len(), 384),
            (index, other) => panic!("item {index}: {other:?}"),
        }
        seen += 1;
    }
    assert_eq!(seen, 200);
}

#[tokio::test]
async fn list_models_reports_every_model_and_its_backend() {
    let models = client().await.list_models(ListModelsRequest {}).await.unwrap().into_inner();
    assert_eq!(models.default_model, "minilm-l6-v2");
    let summary: Vec<(String, String, String, String)> =
        models.models.into_iter().map(|m| (m.id, m.backend, m.precision, m.state)).collect();
    let row = |id: &str, backend: &str, precision: &str| (id.into(), backend.into(), precision.into(), "ready".into());
    assert_eq!(
        summary,
        [
            row("minilm-l6-v2", "candle", "f32"),
            row("minilm-l6-v2-int8", "onnx", "int8"),
            row("minilm-l6-v2-onnx", "onnx", "f32"),
            row("ppocr-v4", "onnx", "f32"),
            row("smollm2-135m-instruct", "gguf", "int8"),
            row("tweet-minilm-l6-v1-int8", "onnx", "int8"),
        ]
    );
}

#[tokio::test]
async fn health_says_serving_once_models_are_loaded() {
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
    let mut health = HealthClient::new(channel().await);
    for service in ["", "elevatediq.v1.Embeddings"] {
        let mut status = ServingStatus::Unknown;
        for _ in 0..50 {
            status = health.check(HealthCheckRequest { service: service.into() }).await.unwrap().into_inner().status();
            if status == ServingStatus::Serving {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert_eq!(status, ServingStatus::Serving, "service {service:?}");
    }
}

#[tokio::test]
async fn reflection_lets_any_client_discover_the_api() {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    let mut reflection = ServerReflectionClient::new(channel().await);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut answers = reflection.server_reflection_info(tokio_stream::iter([request])).await.unwrap().into_inner();
    let Some(MessageResponse::ListServicesResponse(list)) = answers.message().await.unwrap().unwrap().message_response
    else {
        panic!("expected a service list");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for expected in ["elevatediq.v1.Embeddings", "grpc.health.v1.Health"] {
        assert!(names.iter().any(|n| n == expected), "{expected} not in {names:?}");
    }
}

#[tokio::test]
async fn an_unknown_grpc_service_is_unimplemented() {
    let mut grpc = tonic::client::Grpc::new(channel().await);
    grpc.ready().await.unwrap();
    let path = tonic::codegen::http::uri::PathAndQuery::from_static("/elevatediq.v1.Nothing/Call");
    let codec = tonic_prost::ProstCodec::<ListModelsRequest, ListModelsRequest>::default();
    let status = grpc.unary(tonic::Request::new(ListModelsRequest {}), path, codec).await.unwrap_err();
    assert_eq!(status.code(), Code::Unimplemented);
}

/// `EmbedRequest` on the wire, with `inputs` as raw bytes so a test can send invalid UTF-8.
#[derive(Clone, PartialEq, prost::Message)]
struct RawEmbedRequest {
    #[prost(string, tag = "1")]
    model: String,
    #[prost(bytes = "vec", repeated, tag = "2")]
    inputs: Vec<Vec<u8>>,
}

#[tokio::test]
async fn a_message_that_is_not_valid_protobuf_text_is_invalid_argument() {
    let mut grpc = tonic::client::Grpc::new(channel().await);
    grpc.ready().await.unwrap();
    let path = tonic::codegen::http::uri::PathAndQuery::from_static("/elevatediq.v1.Embeddings/Embed");
    let codec = tonic_prost::ProstCodec::<RawEmbedRequest, eiq_proto::v1::EmbedResponse>::default();
    let request = RawEmbedRequest { model: String::new(), inputs: vec![b"fine".to_vec(), vec![0xff, 0xfe, b'x']] };
    let status = grpc.unary(tonic::Request::new(request), path, codec).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert!(status.message().contains("UTF-8"), "{}", status.message());
}
