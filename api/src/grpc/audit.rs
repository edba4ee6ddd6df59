//! `elevatediq.v1.Audit`: the caller's tenant's audit log, over the same [`AuditLog`] as REST's
//! `GET /v1/audit`.

use eiq_proto::v1::audit_server::Audit;
use eiq_proto::v1::{ListAuditEventsRequest, ListAuditEventsResponse};
use eiq_service::audit::{AuditLog, AuditQuery};
use tonic::{Request, Response, Status};

use super::convert;
use crate::error::grpc_status;
use crate::principal;

pub struct GrpcAudit {
    audit: AuditLog,
}

impl GrpcAudit {
    pub fn new(audit: AuditLog) -> Self {
        Self { audit }
    }
}

#[tonic::async_trait]
impl Audit for GrpcAudit {
    async fn list_audit_events(
        &self,
        request: Request<ListAuditEventsRequest>,
    ) -> Result<Response<ListAuditEventsResponse>, Status> {
        let principal = principal::of_grpc(&request)?;
        let r = request.into_inner();
        let seconds = |s: i64| (s != 0).then_some(s);
        let query = AuditQuery {
            since: seconds(r.since),
            until: seconds(r.until),
            event: convert::non_empty(r.event),
            actor: convert::non_empty(r.actor),
            after_seq: (r.after != 0).then_some(r.after),
            limit: (r.limit != 0).then_some(r.limit as usize),
        };
        let page = self.audit.list(&principal.tenant, &query).await.map_err(grpc_status)?;
        let events = page.records.into_iter().map(convert::audit_event).collect();
        Ok(Response::new(ListAuditEventsResponse { events, next_after: page.next_after }))
    }
}
