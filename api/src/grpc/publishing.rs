//! `elevatediq.v1.Publishing`: posts through their lifecycle and the tenant's publishing settings,
//! over the same [`PublishingService`] as REST's `/v1/posts`.

use eiq_proto::v1::publishing_server::Publishing;
use eiq_proto::v1::{
    CreatePostRequest, GetPostRequest, GetPublishingSettingsRequest, ListPostsRequest, ListPostsResponse,
    PostActionRequest, PostActionResponse, PublishingSettings, ScheduledPost, SetPublishingSettingsRequest,
};
use eiq_service::publishing::{ListQuery, PostAction, PublishingService, SettingsUpdate, Transition, Transitioned};
use tonic::{Request, Response, Status};

use super::convert::{self, non_empty};
use crate::error::grpc_status;
use crate::principal;

pub struct GrpcPublishing {
    publishing: PublishingService,
}

impl GrpcPublishing {
    pub fn new(publishing: PublishingService) -> Self {
        Self { publishing }
    }

    async fn act(
        &self,
        transition: Transition,
        request: Request<PostActionRequest>,
    ) -> Result<Response<PostActionResponse>, Status> {
        let principal = principal::of_grpc(&request)?;
        let body = request.into_inner();
        let action = PostAction { note: non_empty(body.note), scheduled_at: non_empty(body.scheduled_at) };
        let Transitioned { post, quota_warning } = self
            .publishing
            .act(&principal, transition, &body.post_id, action, eiq_datasets::now_ms())
            .await
            .map_err(grpc_status)?;
        Ok(Response::new(PostActionResponse {
            post: Some(convert::scheduled_post(post)),
            quota_warning: quota_warning.unwrap_or_default(),
        }))
    }
}

#[tonic::async_trait]
impl Publishing for GrpcPublishing {
    async fn create_post(&self, request: Request<CreatePostRequest>) -> Result<Response<ScheduledPost>, Status> {
        let principal = principal::of_grpc(&request)?;
        let mut body = request.into_inner();
        let key = non_empty(std::mem::take(&mut body.idempotency_key));
        let (post, _) = self
            .publishing
            .create(&principal, convert::new_post(body), key.as_deref(), eiq_datasets::now_ms())
            .await
            .map_err(grpc_status)?;
        Ok(Response::new(convert::scheduled_post(post)))
    }

    async fn get_post(&self, request: Request<GetPostRequest>) -> Result<Response<ScheduledPost>, Status> {
        let principal = principal::of_grpc(&request)?;
        let post = self.publishing.store.get(&principal, &request.into_inner().post_id).await.map_err(grpc_status)?;
        Ok(Response::new(convert::scheduled_post(post)))
    }

    async fn list_posts(&self, request: Request<ListPostsRequest>) -> Result<Response<ListPostsResponse>, Status> {
        let principal = principal::of_grpc(&request)?;
        let body = request.into_inner();
        let query = ListQuery {
            state: non_empty(body.state),
            limit: (body.limit > 0).then_some(body.limit as usize),
            after: non_empty(body.after),
        };
        let page = self.publishing.store.list(&principal, query).await.map_err(grpc_status)?;
        Ok(Response::new(ListPostsResponse {
            posts: page.posts.into_iter().map(convert::scheduled_post).collect(),
            next_after: page.next_after.unwrap_or_default(),
        }))
    }

    async fn submit_post(&self, request: Request<PostActionRequest>) -> Result<Response<PostActionResponse>, Status> {
        self.act(Transition::Submit, request).await
    }

    async fn approve_post(&self, request: Request<PostActionRequest>) -> Result<Response<PostActionResponse>, Status> {
        self.act(Transition::Approve, request).await
    }

    async fn reject_post(&self, request: Request<PostActionRequest>) -> Result<Response<PostActionResponse>, Status> {
        self.act(Transition::Reject, request).await
    }

    async fn cancel_post(&self, request: Request<PostActionRequest>) -> Result<Response<PostActionResponse>, Status> {
        self.act(Transition::Cancel, request).await
    }

    async fn reschedule_post(
        &self,
        request: Request<PostActionRequest>,
    ) -> Result<Response<PostActionResponse>, Status> {
        self.act(Transition::Reschedule, request).await
    }

    async fn retry_post(&self, request: Request<PostActionRequest>) -> Result<Response<PostActionResponse>, Status> {
        self.act(Transition::Retry, request).await
    }

    async fn get_publishing_settings(
        &self,
        request: Request<GetPublishingSettingsRequest>,
    ) -> Result<Response<PublishingSettings>, Status> {
        let principal = principal::of_grpc(&request)?;
        let settings = self.publishing.store.settings(&principal).await.map_err(grpc_status)?;
        Ok(Response::new(convert::publishing_settings(settings)))
    }

    async fn set_publishing_settings(
        &self,
        request: Request<SetPublishingSettingsRequest>,
    ) -> Result<Response<PublishingSettings>, Status> {
        let principal = principal::of_grpc(&request)?;
        let body = request.into_inner();
        let update = SettingsUpdate {
            approval_required: body.approval_required,
            outbox: body.outbox,
            webhook: body.webhook.map(|w| (w.url, w.secret)),
        };
        let settings =
            self.publishing.set_settings(&principal, update, eiq_datasets::now_ms()).await.map_err(grpc_status)?;
        Ok(Response::new(convert::publishing_settings(settings)))
    }
}
