//! `elevatediq.v1.Posts`: thin handlers over [`PostRulesService`].

use eiq_proto::v1::{
    CheckPostRequest, CheckPostResponse, ListPlatformsRequest, ListPlatformsResponse, PlatformInfo, SearchPostsRequest,
    SearchPostsResponse, SetPlatformOverrideRequest, posts_server::Posts,
};
use eiq_service::index::PostIndex;
use eiq_service::posts::PostRulesService;
use tonic::{Request, Response, Status};

use super::convert;
use crate::error::grpc_status;
use crate::principal;

pub struct GrpcPosts {
    posts: PostRulesService,
    index: PostIndex,
}

impl GrpcPosts {
    pub fn new(posts: PostRulesService, index: PostIndex) -> Self {
        Self { posts, index }
    }
}

#[tonic::async_trait]
impl Posts for GrpcPosts {
    async fn search(&self, request: Request<SearchPostsRequest>) -> Result<Response<SearchPostsResponse>, Status> {
        let principal = principal::of_grpc(&request)?;
        let search = convert::search_request(request.into_inner());
        let answer = self.index.search(&principal, search).await.map_err(grpc_status)?;
        Ok(Response::new(convert::search_answer(answer)))
    }

    async fn check(&self, request: Request<CheckPostRequest>) -> Result<Response<CheckPostResponse>, Status> {
        let principal = principal::of_grpc(&request)?;
        let check_request = convert::post_check_request(request.into_inner());
        let check = self.posts.check(&principal, check_request).await.map_err(grpc_status)?;
        Ok(Response::new(convert::post_check(check)))
    }

    async fn list_platforms(
        &self,
        request: Request<ListPlatformsRequest>,
    ) -> Result<Response<ListPlatformsResponse>, Status> {
        let principal = principal::of_grpc(&request)?;
        let platforms = self.posts.platforms(&principal).await.map_err(grpc_status)?;
        Ok(Response::new(ListPlatformsResponse {
            platforms: platforms.into_iter().map(convert::platform_info).collect(),
        }))
    }

    async fn set_platform_override(
        &self,
        request: Request<SetPlatformOverrideRequest>,
    ) -> Result<Response<PlatformInfo>, Status> {
        let principal = principal::of_grpc(&request)?;
        let request = request.into_inner();
        let change = convert::rule_override(request.r#override.unwrap_or_default());
        let rules = self.posts.set_override(&principal, &request.platform, change).await.map_err(grpc_status)?;
        Ok(Response::new(convert::platform_info(rules)))
    }
}
