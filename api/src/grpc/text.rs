//! `elevatediq.v1.TextIntelligence`: thin handlers over [`AnalysisService`] and [`GateService`].

use eiq_proto::v1::{
    AnalyzeRequest, AnalyzeResponse, GateRequest, GateResponse, text_intelligence_server::TextIntelligence,
};
use eiq_service::text::{self, AnalysisService, GateService};
use tonic::{Request, Response, Status};

use super::convert::{self, non_empty};
use crate::error::grpc_status;
use crate::principal;

pub struct GrpcText {
    analysis: AnalysisService,
    gate: GateService,
}

impl GrpcText {
    pub fn new(analysis: AnalysisService, gate: GateService) -> Self {
        Self { analysis, gate }
    }
}

#[tonic::async_trait]
impl TextIntelligence for GrpcText {
    async fn analyze(&self, request: Request<AnalyzeRequest>) -> Result<Response<AnalyzeResponse>, Status> {
        let request = request.into_inner();
        let tasks = (!request.tasks.is_empty()).then_some(request.tasks);
        let analysis = self.analysis.analyze(request.inputs, tasks).await.map_err(grpc_status)?;
        Ok(Response::new(convert::analysis(analysis)))
    }

    async fn gate(&self, request: Request<GateRequest>) -> Result<Response<GateResponse>, Status> {
        let principal = principal::of_grpc(&request)?;
        let request = request.into_inner();
        let gate_request = text::GateRequest {
            text: request.text,
            platform: non_empty(request.platform),
            account_id: non_empty(request.account_id),
            policy: convert::policy_choice(request.policy),
        };
        let verdict = self.gate.check(&principal, gate_request).await.map_err(grpc_status)?;
        Ok(Response::new(convert::verdict(verdict)))
    }
}
