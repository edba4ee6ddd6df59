//! `POST /v1/history:import`: a history file as the request body (streamed, up to
//! `--max-import-bytes`), or `?path=` naming a file under the server's `--import-root`.

use axum::Json;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use eiq_features::{HistoryFormat, ImportOptions};
use eiq_service::ServiceError;
use eiq_service::engagement::{HistoryService, ImportRequest, ImportSource};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::principal::Caller;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    /// csv, jsonl, parquet, x-api, x-archive; else from the Content-Type or the path's extension.
    pub format: Option<String>,
    /// Fail on the first bad row instead of reporting it and importing the rest.
    #[serde(default)]
    pub strict: bool,
    /// The account an x-archive belongs to.
    pub account_id: Option<String>,
    /// IANA timezone for posts whose source gives none (X gives none).
    pub timezone: Option<String>,
    /// A file under the server's --import-root, instead of a body.
    pub path: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ImportResponse {
    pub imported: usize,
    pub skipped_reposts: usize,
    /// Bad rows (the first 100), each with its row number and why; `error_count` is the total.
    pub errors: Vec<RowErrorBody>,
    pub error_count: usize,
    pub accounts: Vec<AccountImportBody>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RowErrorBody {
    pub row: usize,
    pub reason: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccountImportBody {
    pub account_id: String,
    pub added: usize,
    pub updated: usize,
    pub total: usize,
}

#[utoipa::path(
    post,
    path = "/v1/history:import",
    params(ImportQuery, ("x-tenant-id" = Option<String>, Header, description = "tenant; `default` when absent")),
    request_body(content = Vec<u8>, description = "the history file", content_type = "application/octet-stream"),
    responses(
        (status = 200, body = ImportResponse),
        (status = 403, body = ErrorBody, description = "a server path while --import-root is unset, or outside it"),
        (status = 413, body = ErrorBody),
        (status = 422, body = ErrorBody, description = "wrong format: names the first offending row"),
    )
)]
pub async fn import(
    State(state): State<AppState>,
    Caller(principal): Caller,
    query: Result<Query<ImportQuery>, axum::extract::rejection::QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<ImportResponse>, ApiError> {
    let Query(query) =
        query.map_err(|e| ApiError::Rejected { status: StatusCode::UNPROCESSABLE_ENTITY, message: e.body_text() })?;
    let history = &state.services.history;
    let format = match &query.format {
        Some(name) => Some(name.parse::<HistoryFormat>().map_err(|message| ServiceError::invalid("format", message))?),
        None => format_of_content_type(&headers),
    };
    // The slot is held before the body is read: it bounds the memory uploads take together.
    let slot = history.import_slot().await?;
    let bytes = read_body(body, history, &headers).await?;
    let source = ImportSource::from_parts(bytes, query.path)?;
    let options = ImportOptions {
        strict: query.strict,
        account_id: query.account_id,
        timezone: query.timezone,
        ..ImportOptions::default()
    };
    let report = history.import(&principal, ImportRequest { slot, format, options, source }).await?;
    Ok(Json(report.into()))
}

/// The body in one buffer, sized from `Content-Length` up front and filled as it streams: one
/// copy of an upload in memory, not a list of chunks and then a joined copy.
async fn read_body(body: Body, history: &HistoryService, headers: &HeaderMap) -> Result<Vec<u8>, ApiError> {
    let limit = history.max_import_bytes();
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    let mut bytes = Vec::with_capacity(declared.unwrap_or(0).min(limit));
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        // A body that fails to arrive (late, cut off) is answered by the body-read guard.
        let chunk = chunk.map_err(|_| ApiError::Rejected {
            status: StatusCode::BAD_REQUEST,
            message: "the request body could not be read to its end".into(),
        })?;
        if bytes.len() + chunk.len() > limit {
            return Err(history.upload_too_large().into());
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

fn format_of_content_type(headers: &HeaderMap) -> Option<HistoryFormat> {
    let value = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
    match value.split(';').next()?.trim() {
        "text/csv" => Some(HistoryFormat::Csv),
        "application/x-ndjson" | "application/jsonl" => Some(HistoryFormat::JsonLines),
        "application/vnd.apache.parquet" => Some(HistoryFormat::Parquet),
        _ => None,
    }
}
