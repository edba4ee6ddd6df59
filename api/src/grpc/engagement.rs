//! `elevatediq.v1.Engagement`: thin handlers over [`HistoryService`], [`ForecastService`] and the
//! accounts of [`PostIndex`].

use eiq_features::{HistoryFormat, ImportOptions};
use eiq_proto::v1::{
    AccountSummary, BestTimesRequest, BestTimesResponse, ForecastRequest, ForecastResponse, GetAccountRequest,
    ImportChunk, ImportResult, ListAccountsRequest, ListAccountsResponse, engagement_server::Engagement, import_chunk,
};
use eiq_service::ServiceError;
use eiq_service::engagement::{
    DraftRequest, ForecastService, HistoryService, ImportRequest, ImportSource, parse_media,
};
use eiq_service::index::PostIndex;
use futures::StreamExt;
use tonic::{Request, Response, Status, Streaming};

use super::convert::{self, non_empty};
use crate::error::grpc_status;
use crate::principal;

pub struct GrpcEngagement {
    history: HistoryService,
    forecast: ForecastService,
    index: PostIndex,
}

impl GrpcEngagement {
    pub fn new(history: HistoryService, forecast: ForecastService, index: PostIndex) -> Self {
        Self { history, forecast, index }
    }
}

#[tonic::async_trait]
impl Engagement for GrpcEngagement {
    async fn list_accounts(
        &self,
        request: Request<ListAccountsRequest>,
    ) -> Result<Response<ListAccountsResponse>, Status> {
        let principal = principal::of_grpc(&request)?;
        let accounts = self.index.accounts(&principal).await.map_err(grpc_status)?;
        Ok(Response::new(ListAccountsResponse {
            accounts: accounts.into_iter().map(convert::account_summary).collect(),
        }))
    }

    async fn get_account(&self, request: Request<GetAccountRequest>) -> Result<Response<AccountSummary>, Status> {
        let principal = principal::of_grpc(&request)?;
        let account = self.index.account(&principal, &request.into_inner().account_id).await.map_err(grpc_status)?;
        Ok(Response::new(convert::account_summary(account)))
    }

    async fn import_history(&self, request: Request<Streaming<ImportChunk>>) -> Result<Response<ImportResult>, Status> {
        let principal = principal::of_grpc(&request)?;
        let mut stream = request.into_inner();
        let header = match stream.next().await {
            Some(Ok(ImportChunk { part: Some(import_chunk::Part::Header(header)) })) => header,
            Some(Err(status)) => return Err(status),
            _ => return Err(Status::invalid_argument("the first message must be the import header")),
        };
        let limit = self.history.max_import_bytes();
        let slot = self.history.import_slot().await.map_err(grpc_status)?;
        let mut bytes = Vec::new();
        while let Some(chunk) = stream.next().await {
            match chunk?.part {
                Some(import_chunk::Part::Data(data)) => {
                    if bytes.len() + data.len() > limit {
                        return Err(grpc_status(self.history.upload_too_large()));
                    }
                    bytes.extend_from_slice(&data);
                }
                _ => return Err(Status::invalid_argument("only the first message may be a header")),
            }
        }
        let format = non_empty(header.format)
            .map(|name| name.parse::<HistoryFormat>().map_err(|message| ServiceError::invalid("format", message)))
            .transpose()
            .map_err(grpc_status)?;
        let source = ImportSource::from_parts(bytes, non_empty(header.server_path)).map_err(grpc_status)?;
        let options = ImportOptions {
            strict: header.strict,
            account_id: non_empty(header.account_id),
            timezone: non_empty(header.timezone),
            ..ImportOptions::default()
        };
        let report = self
            .history
            .import(&principal, ImportRequest { slot, format, options, source })
            .await
            .map_err(grpc_status)?;
        Ok(Response::new(convert::import_report(report)))
    }

    async fn forecast(&self, request: Request<ForecastRequest>) -> Result<Response<ForecastResponse>, Status> {
        let principal = principal::of_grpc(&request)?;
        let request = request.into_inner();
        let draft = DraftRequest {
            account_id: request.account_id,
            text: request.text,
            platform: non_empty(request.platform),
            media: parse_media(&request.media).map_err(grpc_status)?,
            candidate_times: request.candidate_times,
            now: eiq_datasets::now(),
        };
        let answer = self.forecast.forecast(&principal, draft).await.map_err(grpc_status)?;
        Ok(Response::new(convert::forecast(answer)))
    }

    async fn best_times(&self, request: Request<BestTimesRequest>) -> Result<Response<BestTimesResponse>, Status> {
        let principal = principal::of_grpc(&request)?;
        let request = request.into_inner();
        let (account_id, include_grid) = (request.account_id.clone(), request.include_grid);
        let query = convert::best_times_query(request);
        let best = self.forecast.best_times(&principal, &account_id, query).await.map_err(grpc_status)?;
        Ok(Response::new(convert::best_times(best, include_grid)))
    }
}
