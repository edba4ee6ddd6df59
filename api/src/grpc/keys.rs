//! `elevatediq.v1.Keys`: the caller's tenant's API keys, over the same [`TenantDirectory`] as
//! REST's `/v1/keys`.

use eiq_proto::v1::keys_server::Keys;
use eiq_proto::v1::{
    CreateKeyRequest, CreateKeyResponse, ListKeysRequest, ListKeysResponse, RevokeKeyRequest, RevokeKeyResponse,
};
use eiq_service::tenants::{KeyRequest, TenantDirectory};
use tonic::{Request, Response, Status};

use super::convert;
use crate::error::grpc_status;
use crate::principal;

pub struct GrpcKeys {
    tenants: TenantDirectory,
}

impl GrpcKeys {
    pub fn new(tenants: TenantDirectory) -> Self {
        Self { tenants }
    }
}

#[tonic::async_trait]
impl Keys for GrpcKeys {
    async fn create_key(&self, request: Request<CreateKeyRequest>) -> Result<Response<CreateKeyResponse>, Status> {
        let principal = principal::of_grpc(&request)?;
        let body = request.into_inner();
        let request = KeyRequest { role: body.role, name: body.name, expires_in_days: body.expires_in_days };
        let key = self.tenants.issue_key(&principal, request, eiq_datasets::now()).await.map_err(grpc_status)?;
        Ok(Response::new(CreateKeyResponse { key: key.key, info: Some(convert::key_info(key.info)) }))
    }

    async fn list_keys(&self, request: Request<ListKeysRequest>) -> Result<Response<ListKeysResponse>, Status> {
        let principal = principal::of_grpc(&request)?;
        let keys = self.tenants.list_keys(&principal.tenant).await.map_err(grpc_status)?;
        Ok(Response::new(ListKeysResponse { keys: keys.into_iter().map(convert::key_info).collect() }))
    }

    async fn revoke_key(&self, request: Request<RevokeKeyRequest>) -> Result<Response<RevokeKeyResponse>, Status> {
        let principal = principal::of_grpc(&request)?;
        let prefix = request.into_inner().prefix;
        self.tenants.revoke_key(&principal.tenant, &prefix, eiq_datasets::now()).await.map_err(grpc_status)?;
        Ok(Response::new(RevokeKeyResponse {}))
    }
}
