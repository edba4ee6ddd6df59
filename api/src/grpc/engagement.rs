//! `elevatediq.v1.Engagement`: thin handlers over [`HistoryService`] and [`ForecastService`].

use eiq_features::best_times::Slot;
use eiq_features::{HistoryFormat, ImportOptions};
use eiq_proto::v1::{
    self as pb, BestTimesRequest, BestTimesResponse, ForecastRequest, ForecastResponse, ImportChunk, ImportResult,
    engagement_server::Engagement, import_chunk,
};
use futures::StreamExt;
use tonic::{Request, Response, Status, Streaming};

use crate::error::ServiceError;
use crate::service::{
    BestTimesQuery, BlackoutWindow, DEFAULT_TENANT, DraftRequest, ForecastService, HistoryService, ImportRequest,
    ImportSource, TENANT_HEADER, TimedForecast, now, parse_media,
};

pub struct GrpcEngagement {
    history: HistoryService,
    forecast: ForecastService,
}

impl GrpcEngagement {
    pub fn new(history: HistoryService, forecast: ForecastService) -> Self {
        Self { history, forecast }
    }
}

fn tenant<T>(request: &Request<T>) -> Result<String, Status> {
    match request.metadata().get(TENANT_HEADER) {
        None => Ok(DEFAULT_TENANT.into()),
        Some(value) => value
            .to_str()
            .map(|v| v.trim().to_string())
            .map_err(|_| Status::invalid_argument(format!("`{TENANT_HEADER}` is not visible ASCII"))),
    }
}

fn non_empty(text: String) -> Option<String> {
    (!text.is_empty()).then_some(text)
}

fn timed(forecast: &TimedForecast) -> pb::TimedForecast {
    pb::TimedForecast {
        at: forecast.at,
        local_time: forecast.local_time.clone(),
        engagement: forecast.forecast.engagement,
        low: forecast.forecast.low,
        high: forecast.forecast.high,
        lift: forecast.lift,
    }
}

fn slot(slot: &Slot) -> pb::Slot {
    pb::Slot {
        start: slot.label.clone(),
        start_minute: slot.start_minute,
        next_at: slot.next_at,
        expected_engagement: slot.expected_engagement,
        lift: slot.lift,
        lift_low: slot.lift_low,
        lift_high: slot.lift_high,
        posts: slot.posts as u64,
        history_weight: slot.history_weight,
    }
}

#[tonic::async_trait]
impl Engagement for GrpcEngagement {
    async fn import_history(&self, request: Request<Streaming<ImportChunk>>) -> Result<Response<ImportResult>, Status> {
        let tenant = tenant(&request)?;
        let mut stream = request.into_inner();
        let header = match stream.next().await {
            Some(Ok(ImportChunk { part: Some(import_chunk::Part::Header(header)) })) => header,
            Some(Err(status)) => return Err(status),
            _ => return Err(Status::invalid_argument("the first message must be the import header")),
        };
        let limit = self.history.max_import_bytes();
        let slot = self.history.import_slot().await?;
        let mut bytes = Vec::new();
        while let Some(chunk) = stream.next().await {
            match chunk?.part {
                Some(import_chunk::Part::Data(data)) => {
                    if bytes.len() + data.len() > limit {
                        return Err(ServiceError::TooLarge(format!(
                            "the history is over the {limit}-byte limit (--max-import-bytes)"
                        ))
                        .into());
                    }
                    bytes.extend_from_slice(&data);
                }
                _ => return Err(Status::invalid_argument("only the first message may be a header")),
            }
        }
        let format = non_empty(header.format)
            .map(|name| name.parse::<HistoryFormat>().map_err(ServiceError::InvalidInput))
            .transpose()?;
        let source = match (non_empty(header.server_path), bytes.is_empty()) {
            (Some(path), true) => ImportSource::Path(path),
            (Some(_), false) => return Err(Status::invalid_argument("give data or a server_path, not both")),
            (None, true) => return Err(Status::invalid_argument("no data: stream the history or give a server_path")),
            (None, false) => ImportSource::Bytes(bytes),
        };
        let options = ImportOptions {
            strict: header.strict,
            account_id: non_empty(header.account_id),
            timezone: non_empty(header.timezone),
            ..ImportOptions::default()
        };
        let report = self.history.import(ImportRequest { slot, tenant, format, options, source }).await?;
        Ok(Response::new(ImportResult {
            imported: report.imported as u64,
            skipped_reposts: report.skipped_reposts as u64,
            errors: report.errors.into_iter().map(|e| pb::RowError { row: e.row as u64, reason: e.reason }).collect(),
            error_count: report.error_count as u64,
            accounts: report
                .accounts
                .into_iter()
                .map(|a| pb::AccountImport {
                    account_id: a.account_id,
                    added: a.added as u64,
                    updated: a.updated as u64,
                    total: a.total as u64,
                })
                .collect(),
        }))
    }

    async fn forecast(&self, request: Request<ForecastRequest>) -> Result<Response<ForecastResponse>, Status> {
        let tenant = tenant(&request)?;
        let request = request.into_inner();
        let answer = self
            .forecast
            .forecast(DraftRequest {
                tenant,
                account_id: request.account_id,
                text: request.text,
                platform: non_empty(request.platform),
                media: parse_media(&request.media)?,
                candidate_times: request.candidate_times,
                now: now(),
            })
            .await?;
        let evaluation = &answer.model.evaluation;
        let served = evaluation.score(&evaluation.served);
        Ok(Response::new(ForecastResponse {
            best: Some(timed(&answer.forecasts[answer.best])),
            forecasts: answer.forecasts.iter().map(timed).collect(),
            model: Some(pb::ForecastModel {
                served: evaluation.served.clone(),
                trained_posts: evaluation.posts as u64,
                held_out_spearman: served.map_or(0.0, |s| s.spearman),
                held_out_mae: served.map_or(0.0, |s| s.mae),
                account_median_mae: evaluation.score("account median").map_or(0.0, |s| s.mae),
            }),
            account_id: answer.account_id,
            platform: answer.platform,
            timezone: answer.timezone.unwrap_or_default(),
        }))
    }

    async fn best_times(&self, request: Request<BestTimesRequest>) -> Result<Response<BestTimesResponse>, Status> {
        let tenant = tenant(&request)?;
        let request = request.into_inner();
        let query = BestTimesQuery {
            platform: non_empty(request.platform),
            top_k: (request.top_k != 0).then_some(request.top_k as usize),
            min_spacing_hours: request.min_spacing_hours,
            resolution_minutes: (request.resolution_minutes != 0).then_some(request.resolution_minutes),
            blackouts: request
                .blackouts
                .into_iter()
                .map(|b| BlackoutWindow { day: non_empty(b.day), start: b.start, end: b.end })
                .collect(),
        };
        let best = self.forecast.best_times(&tenant, &request.account_id, query).await?;
        Ok(Response::new(BestTimesResponse {
            top: best.top.iter().map(slot).collect(),
            grid: if request.include_grid { best.grid.iter().map(slot).collect() } else { Vec::new() },
            account_id: best.account_id,
            platform: best.platform,
            timezone: best.timezone.unwrap_or_default(),
            resolution_minutes: best.resolution_minutes,
            account_posts: best.account_posts as u64,
        }))
    }
}
