//! `elevatediq.v1.TextIntelligence`: thin handlers over [`AnalysisService`] and [`GateService`].

use std::collections::BTreeMap;

use eiq_proto::v1::{
    self as pb, AnalyzeRequest, AnalyzeResponse, GateRequest, GateResponse, gate_request,
    text_intelligence_server::TextIntelligence,
};
use tonic::{Request, Response, Status};

use crate::service::{self, AnalysisService, Decision, GateService, Policy, PolicyChoice, Thresholds};

pub struct GrpcText {
    analysis: AnalysisService,
    gate: GateService,
}

impl GrpcText {
    pub fn new(analysis: AnalysisService, gate: GateService) -> Self {
        Self { analysis, gate }
    }
}

fn span(span: service::Span) -> pb::Span {
    pb::Span {
        category: span.category.into(),
        start: span.start as u32,
        end: span.end as u32,
        text: span.text,
        entry: span.entry,
    }
}

#[tonic::async_trait]
impl TextIntelligence for GrpcText {
    async fn analyze(&self, request: Request<AnalyzeRequest>) -> Result<Response<AnalyzeResponse>, Status> {
        let request = request.into_inner();
        let tasks = (!request.tasks.is_empty()).then_some(request.tasks);
        let analysis = self.analysis.analyze(request.inputs, tasks).await?;
        let results = analysis
            .results
            .into_iter()
            .map(|result| pb::TextResult {
                tasks: result
                    .tasks
                    .into_iter()
                    .map(|t| pb::TaskResult {
                        task: t.task,
                        label: t.label,
                        scores: t.scores.into_iter().map(|(label, score)| pb::LabelScore { label, score }).collect(),
                    })
                    .collect(),
                spans: result.spans.into_iter().map(span).collect(),
            })
            .collect();
        let heads = analysis
            .heads
            .into_iter()
            .map(|h| pb::HeadInfo {
                task: h.task,
                labels: h.labels,
                method: h.method,
                metric: h.metric,
                validation: h.validation,
            })
            .collect();
        Ok(Response::new(AnalyzeResponse {
            model: analysis.model,
            model_version: analysis.model_version,
            results,
            heads,
        }))
    }

    async fn gate(&self, request: Request<GateRequest>) -> Result<Response<GateResponse>, Status> {
        let request = request.into_inner();
        let policy = match request.policy {
            None => PolicyChoice::Named("default".into()),
            Some(gate_request::Policy::PolicyName(name)) => PolicyChoice::Named(name),
            Some(gate_request::Policy::InlinePolicy(policy)) => PolicyChoice::Inline(Policy {
                thresholds: policy
                    .thresholds
                    .into_iter()
                    .map(|(category, t)| (category, Thresholds { review: t.review, block: t.block }))
                    .collect::<BTreeMap<_, _>>(),
                blocklist: policy.blocklist,
                allowlist: policy.allowlist,
            }),
        };
        let platform = (!request.platform.is_empty()).then_some(request.platform);
        let verdict = self.gate.check(service::GateRequest { text: request.text, platform, policy }).await?;
        let decision = match verdict.decision {
            Decision::Allow => pb::Decision::Allow,
            Decision::Review => pb::Decision::Review,
            Decision::Block => pb::Decision::Block,
        };
        Ok(Response::new(GateResponse {
            decision: decision as i32,
            policy: verdict.policy,
            platform: verdict.platform.unwrap_or_default(),
            reasons: verdict
                .reasons
                .into_iter()
                .map(|r| pb::Reason {
                    category: r.category,
                    score: r.score,
                    threshold_crossed: r.decision.as_str().into(),
                    threshold: r.threshold,
                    model: r.source,
                    model_version: r.source_version,
                    detail: r.detail.unwrap_or_default(),
                })
                .collect(),
            spans: verdict.spans.into_iter().map(span).collect(),
            scores: verdict.scores.into_iter().collect(),
        }))
    }
}
