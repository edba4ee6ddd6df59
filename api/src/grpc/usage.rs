//! `elevatediq.v1.Usage`: the caller's tenant's usage against its plan, over the same
//! [`UsageMeter`] as REST's `GET /v1/usage`.

use eiq_proto::v1::usage_server::Usage;
use eiq_proto::v1::{GetUsageRequest, UsageReport};
use eiq_service::tenants::TenantDirectory;
use eiq_service::usage::UsageMeter;
use tonic::{Request, Response, Status};

use super::convert;
use crate::error::grpc_status;
use crate::principal;

pub struct GrpcUsage {
    usage: UsageMeter,
    tenants: TenantDirectory,
}

impl GrpcUsage {
    pub fn new(usage: UsageMeter, tenants: TenantDirectory) -> Self {
        Self { usage, tenants }
    }
}

#[tonic::async_trait]
impl Usage for GrpcUsage {
    async fn get_usage(&self, request: Request<GetUsageRequest>) -> Result<Response<UsageReport>, Status> {
        let principal = principal::of_grpc(&request)?;
        let period = convert::non_empty(request.into_inner().period);
        let now = eiq_datasets::now_ms();
        let report =
            self.usage.report(&principal, self.tenants.plans(), period.as_deref(), now).await.map_err(grpc_status)?;
        Ok(Response::new(convert::usage_report(report)))
    }
}
