//! `elevatediq.v1.Hashtags`: a thin handler over [`HashtagService`].

use eiq_proto::v1::{SuggestHashtagsRequest, SuggestHashtagsResponse, hashtags_server::Hashtags};
use eiq_service::hashtags::HashtagService;
use tonic::{Request, Response, Status};

use super::convert;
use crate::error::grpc_status;
use crate::principal;

pub struct GrpcHashtags {
    hashtags: HashtagService,
}

impl GrpcHashtags {
    pub fn new(hashtags: HashtagService) -> Self {
        Self { hashtags }
    }
}

#[tonic::async_trait]
impl Hashtags for GrpcHashtags {
    async fn suggest(
        &self,
        request: Request<SuggestHashtagsRequest>,
    ) -> Result<Response<SuggestHashtagsResponse>, Status> {
        let principal = principal::of_grpc(&request)?;
        let suggest = convert::suggest_request(request.into_inner());
        let suggestions = self.hashtags.suggest(&principal, suggest).await.map_err(grpc_status)?;
        Ok(Response::new(convert::suggestions(suggestions)))
    }
}
