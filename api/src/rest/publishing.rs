//! `/v1/posts` and `/v1/publishing/settings`: posts through their lifecycle, and how the tenant
//! publishes. Transitions are custom methods (`POST /v1/posts/{post_id}:submit`): the router has
//! one route for `POST /v1/posts/{post_id}` that reads the verb, and each verb is documented (and
//! permissioned, in `access.rs`) as its own path.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use eiq_datasets::format_time_ms;
use eiq_service::ServiceError;
use eiq_service::publishing::{
    DeliveryStatus, ListQuery, MediaRef, NewPost, Post, PostAction, PostContent, PublishingSettings, SettingsUpdate,
    Transition, Transitioned,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::json::ApiJson;
use crate::error::{ApiError, ErrorBody};
use crate::principal::Caller;

/// The response header that warns from 80 % of the plan's posts per month.
pub const QUOTA_WARNING_HEADER: &str = "x-quota-warning";
const IDEMPOTENCY_HEADER: &str = "idempotency-key";

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MediaRefBody {
    /// Where the media item is (a URL or the caller's own id); it is not uploaded here.
    #[serde(rename = "ref")]
    #[schema(max_length = 2048)]
    pub reference: String,
    /// photo, video or gif.
    pub kind: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePostBody {
    /// Platform → text (1–10 platforms); each text must pass its platform's rules
    /// (`POST /v1/posts:check`).
    pub texts: BTreeMap<String, String>,
    /// The accounts that publish it; the first one's history decides `best`.
    #[schema(max_items = 20)]
    pub accounts: Vec<String>,
    #[serde(default)]
    #[schema(max_items = 10)]
    pub media: Vec<MediaRefBody>,
    /// An RFC 3339 time or Unix seconds, `best` (the first account's next best slot), or absent
    /// (as soon as it is approved).
    pub scheduled_at: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryBody {
    pub platform: String,
    /// webhook or outbox.
    pub connector: String,
    /// pending, delivered, dead (a dead letter: `:retry` sends it again) or cancelled.
    pub state: String,
    pub attempts: u32,
    pub last_error: String,
    /// RFC 3339: when it is (or was last) due.
    pub run_at: String,
    pub delivered_at: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PostBody {
    pub id: String,
    /// draft, submitted, pending_approval, rejected, approved, scheduled, publishing, published,
    /// failed or cancelled.
    pub state: String,
    pub texts: BTreeMap<String, String>,
    pub accounts: Vec<String>,
    pub media: Vec<MediaRefBody>,
    /// RFC 3339; absent: as soon as it is approved.
    pub scheduled_at: Option<String>,
    /// time, best or now.
    pub schedule: String,
    /// The gate's reasons for a rejection (or the approver's note), or why publishing failed.
    pub reasons: serde_json::Value,
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
    /// One per platform and connector, once the post is scheduled (empty in listings).
    pub deliveries: Vec<DeliveryBody>,
}

impl From<Post> for PostBody {
    fn from(post: Post) -> Self {
        let media =
            post.content.media.into_iter().map(|m| MediaRefBody { reference: m.reference, kind: m.kind }).collect();
        Self {
            id: post.id,
            state: post.state.as_str().to_string(),
            texts: post.content.texts,
            accounts: post.content.accounts,
            media,
            scheduled_at: post.scheduled_at.map(format_time_ms),
            schedule: post.schedule,
            reasons: post.reasons,
            created_by: post.created_by,
            created_at: format_time_ms(post.created_at),
            updated_at: format_time_ms(post.updated_at),
            deliveries: post.deliveries.into_iter().map(DeliveryBody::from).collect(),
        }
    }
}

impl From<DeliveryStatus> for DeliveryBody {
    fn from(d: DeliveryStatus) -> Self {
        Self {
            platform: d.platform,
            connector: d.connector,
            state: d.state,
            attempts: d.attempts,
            last_error: d.last_error,
            run_at: format_time_ms(d.run_at),
            delivered_at: d.delivered_at.map(format_time_ms),
        }
    }
}

/// Makes a draft. With an `Idempotency-Key`, a repeat of the request answers the first post (200)
/// instead of making another; the key with a different body is a 422.
#[utoipa::path(
    post, path = "/v1/posts", tag = "publishing",
    request_body = CreatePostBody,
    params(("Idempotency-Key" = Option<String>, Header, description = "1–255 visible ASCII characters")),
    responses(
        (status = 201, body = PostBody),
        (status = 200, description = "a repeat of an earlier request with this Idempotency-Key", body = PostBody),
        (status = 422, description = "a text invalid for its platform, an unknown platform, a scheduled_at in the \
            past, an Idempotency-Key reused with another body", body = ErrorBody),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    Caller(principal): Caller,
    headers: HeaderMap,
    ApiJson(body): ApiJson<CreatePostBody>,
) -> Result<(StatusCode, Json<PostBody>), ApiError> {
    let key = match headers.get(IDEMPOTENCY_HEADER) {
        None => None,
        Some(value) => Some(value.to_str().map_err(|_| {
            ServiceError::invalid("Idempotency-Key", "Idempotency-Key must be visible ASCII characters")
        })?),
    };
    let media = body.media.into_iter().map(|m| MediaRef { reference: m.reference, kind: m.kind }).collect();
    let draft = NewPost {
        content: PostContent { texts: body.texts, accounts: body.accounts, media },
        scheduled_at: body.scheduled_at,
    };
    let (post, created) = state.publishing.create(&principal, draft, key, eiq_datasets::now_ms()).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(post.into())))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only posts in this state.
    pub state: Option<String>,
    /// 1–100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<usize>,
    /// The previous page's `next_after`.
    pub after: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PostList {
    /// Newest first.
    pub posts: Vec<PostBody>,
    /// Pass as `after` for the next page; absent on the last.
    pub next_after: Option<String>,
}

/// The caller's tenant's posts, newest first.
#[utoipa::path(
    get, path = "/v1/posts", tag = "publishing", params(ListParams),
    responses((status = 200, body = PostList), (status = 422, description = "a bad state, limit or cursor", body = ErrorBody))
)]
pub async fn list(
    State(state): State<AppState>,
    Caller(principal): Caller,
    params: Result<Query<ListParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<PostList>, ApiError> {
    let Query(params) =
        params.map_err(|e| ApiError::Rejected { status: StatusCode::UNPROCESSABLE_ENTITY, message: e.body_text() })?;
    let query = ListQuery { state: params.state, limit: params.limit, after: params.after };
    let page = state.publishing.store.list(&principal, query).await?;
    Ok(Json(PostList { posts: page.posts.into_iter().map(PostBody::from).collect(), next_after: page.next_after }))
}

/// One post, with its deliveries.
#[utoipa::path(
    get, path = "/v1/posts/{post_id}", tag = "publishing",
    params(("post_id" = String, Path)),
    responses((status = 200, body = PostBody), (status = 404, description = "no such post in the caller's tenant", body = ErrorBody))
)]
pub async fn get(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(post_id): Path<String>,
) -> Result<Json<PostBody>, ApiError> {
    Ok(Json(state.publishing.store.get(&principal, &post_id).await?.into()))
}

/// What a transition may carry.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionBody {
    /// `:reject`: why (at most 1000 bytes).
    pub note: Option<String>,
    /// `:reschedule`: an RFC 3339 time, Unix seconds, `best`, or absent for "on approval".
    pub scheduled_at: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ActionAnswer {
    pub post: PostBody,
}

/// `POST /v1/posts/{post_id}:{verb}`: the one route behind the documented transitions below.
pub async fn act(
    state: State<AppState>,
    caller: Caller,
    Path(target): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let Some((post_id, verb)) = target.rsplit_once(':') else {
        let message =
            "POST a transition: /v1/posts/{post_id}:submit, :approve, :reject, :cancel, :reschedule or :retry";
        return Err(ApiError::Rejected { status: StatusCode::METHOD_NOT_ALLOWED, message: message.into() });
    };
    let post_id = Path(post_id.to_string());
    match verb {
        "submit" => submit(state, caller, post_id, body).await,
        "approve" => approve(state, caller, post_id, body).await,
        "reject" => reject(state, caller, post_id, body).await,
        "cancel" => cancel(state, caller, post_id, body).await,
        "reschedule" => reschedule(state, caller, post_id, body).await,
        "retry" => retry(state, caller, post_id, body).await,
        _ => {
            let message = format!("no transition `:{}`", eiq_service::limits::excerpt(verb));
            Err(ApiError::Rejected { status: StatusCode::NOT_FOUND, message })
        }
    }
}

async fn transition(
    State(state): State<AppState>,
    Caller(principal): Caller,
    transition: Transition,
    post_id: &str,
    body: Bytes,
) -> Result<Response, ApiError> {
    let action: ActionBody = if body.iter().all(u8::is_ascii_whitespace) {
        ActionBody::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::Rejected { status: StatusCode::UNPROCESSABLE_ENTITY, message: e.to_string() })?
    };
    let action = PostAction { note: action.note, scheduled_at: action.scheduled_at };
    let Transitioned { post, quota_warning } =
        state.publishing.act(&principal, transition, post_id, action, eiq_datasets::now_ms()).await?;
    let mut response = Json(ActionAnswer { post: post.into() }).into_response();
    if let Some(warning) = quota_warning.and_then(|w| HeaderValue::from_str(&w).ok()) {
        response.headers_mut().insert(QUOTA_WARNING_HEADER, warning);
    }
    Ok(response)
}

/// One documented transition: its path, and a handler that [`act`] calls.
macro_rules! transition_route {
    ($name:ident, $variant:ident, $path:literal, $summary:literal) => {
        #[doc = $summary]
        #[utoipa::path(
            post, path = $path, tag = "publishing",
            params(("post_id" = String, Path)),
            request_body(content = Option<ActionBody>, description = "optional"),
            responses(
                (status = 200, body = ActionAnswer,
                 headers(("x-quota-warning" = String, description = "from 80 % of the plan's posts per month"))),
                (status = 404, description = "no such post in the caller's tenant", body = ErrorBody),
                (status = 409, description = "the post's state does not allow it (the message names it)", body = ErrorBody),
                (status = 429, description = "the plan's posts per month are used (Retry-After: until the month ends)", body = ErrorBody),
            )
        )]
        pub async fn $name(
            state: State<AppState>,
            caller: Caller,
            Path(post_id): Path<String>,
            body: Bytes,
        ) -> Result<Response, ApiError> {
            transition(state, caller, Transition::$variant, &post_id, body).await
        }
    };
}

transition_route!(
    submit,
    Submit,
    "/v1/posts/{post_id}:submit",
    "Runs the moderation gate: `rejected` (with its reasons), `pending_approval`, or `scheduled` when the gate allows it and the tenant needs no approval."
);
transition_route!(
    approve,
    Approve,
    "/v1/posts/{post_id}:approve",
    "`pending_approval` → `scheduled` (approver and admin roles)."
);
transition_route!(
    reject,
    Reject,
    "/v1/posts/{post_id}:reject",
    "`pending_approval` → `rejected`, with the approver's `note`."
);
transition_route!(
    cancel,
    Cancel,
    "/v1/posts/{post_id}:cancel",
    "Stops a post that has not begun publishing; a scheduled post gives its quota back."
);
transition_route!(
    reschedule,
    Reschedule,
    "/v1/posts/{post_id}:reschedule",
    "A new `scheduled_at` for a post that has not begun publishing."
);
transition_route!(
    retry,
    Retry,
    "/v1/posts/{post_id}:retry",
    "`failed` → `publishing`: the dead letters are delivered again."
);

#[derive(Debug, Serialize, ToSchema)]
pub struct SettingsBody {
    /// A post the gate allows still waits for an approver.
    pub approval_required: bool,
    /// Deliveries are appended to the tenant's JSON Lines outbox on the server.
    pub outbox: bool,
    pub webhook_url: Option<String>,
    /// The secret is stored encrypted and never shown.
    pub webhook_secret_set: bool,
}

impl From<PublishingSettings> for SettingsBody {
    fn from(s: PublishingSettings) -> Self {
        Self {
            approval_required: s.approval_required,
            outbox: s.outbox,
            webhook_url: s.webhook_url,
            webhook_secret_set: s.webhook_secret_set,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebhookBody {
    /// http(s); it must resolve to public addresses unless the server allows private ones.
    #[schema(max_length = 2048)]
    pub url: String,
    /// Signs each delivery (`eiq-signature: t=…,v1=HMAC-SHA256`).
    #[schema(min_length = 16, max_length = 256)]
    pub secret: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetSettingsBody {
    /// [default: true]
    pub approval_required: Option<bool>,
    /// [default: true]
    pub outbox: Option<bool>,
    /// Absent: no webhook.
    pub webhook: Option<WebhookBody>,
}

/// How the caller's tenant publishes (the admin role).
#[utoipa::path(get, path = "/v1/publishing/settings", tag = "publishing", responses((status = 200, body = SettingsBody)))]
pub async fn get_settings(
    State(state): State<AppState>,
    Caller(principal): Caller,
) -> Result<Json<SettingsBody>, ApiError> {
    Ok(Json(state.publishing.store.settings(&principal).await?.into()))
}

/// Replaces the caller's tenant's publishing settings.
#[utoipa::path(
    put, path = "/v1/publishing/settings", tag = "publishing",
    request_body = SetSettingsBody,
    responses(
        (status = 200, body = SettingsBody),
        (status = 422, description = "a webhook URL that is not http(s) or points inside, a secret outside 16–256 bytes", body = ErrorBody),
    )
)]
pub async fn set_settings(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiJson(body): ApiJson<SetSettingsBody>,
) -> Result<Json<SettingsBody>, ApiError> {
    let update = SettingsUpdate {
        approval_required: body.approval_required.unwrap_or(true),
        outbox: body.outbox.unwrap_or(true),
        webhook: body.webhook.map(|w| (w.url, w.secret)),
    };
    Ok(Json(state.publishing.set_settings(&principal, update, eiq_datasets::now_ms()).await?.into()))
}
