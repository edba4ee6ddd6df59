//! Which permission each operation needs, for both protocols in one table: a REST route and its
//! gRPC twin are one row, so they cannot drift apart. The roles holding each permission are the
//! service layer's table ([`eiq_service::access`]); `principal::guard` applies both before any
//! handler runs, and audits the calls of operations that change state. A route missing here is
//! refused to all but admins, and a test fails.

use axum::http::Method;
use eiq_service::access::Permission;

/// What an operation needs from its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, without a credential: health, metrics, the API's descriptions.
    Public,
    Requires(Permission),
}

/// One operation: its name (the audit log's event), its REST route (method and path template),
/// its gRPC method, what it needs, and what kind of work it is.
#[derive(Debug, Clone)]
pub struct Operation {
    pub name: &'static str,
    pub rest: Option<(Method, &'static str)>,
    pub grpc: Option<&'static str>,
    pub access: Access,
    /// It changes the tenant's state: every call is audited.
    pub changes_state: bool,
    /// An AI feature: only plans that include them may call it.
    pub ai_feature: bool,
    /// A successful call is an AI-generated post for the usage meter.
    pub generates_post: bool,
}

type Rest = Option<(Method, &'static str)>;
type Grpc = Option<&'static str>;

/// An operation that only reads or computes.
const fn reads(name: &'static str, rest: Rest, grpc: Grpc, access: Access) -> Operation {
    Operation { name, rest, grpc, access, changes_state: false, ai_feature: false, generates_post: false }
}

/// An operation that changes the tenant's state.
const fn writes(name: &'static str, rest: Rest, grpc: Grpc, access: Access) -> Operation {
    let mut operation = reads(name, rest, grpc, access);
    operation.changes_state = true;
    operation
}

/// An AI feature.
const fn ai(name: &'static str, rest: Rest, grpc: Grpc, access: Access) -> Operation {
    let mut operation = reads(name, rest, grpc, access);
    operation.ai_feature = true;
    operation
}

/// An AI feature that writes posts.
const fn generates(name: &'static str, rest: Rest, grpc: Grpc, access: Access) -> Operation {
    let mut operation = ai(name, rest, grpc, access);
    operation.generates_post = true;
    operation
}

use Access::{Public, Requires};
use Permission::{
    ApprovePosts, Configure, ImportHistory, ManageKeys, Moderate, Read, ReadAudit, UseModels, WritePosts,
};

const GET: Method = Method::GET;
const POST: Method = Method::POST;
const PUT: Method = Method::PUT;
const DELETE: Method = Method::DELETE;

/// Every operation of the server.
pub const OPERATIONS: &[Operation] = &[
    reads("health.check", Some((GET, "/health")), Some("/grpc.health.v1.Health/Check"), Public),
    reads("health.watch", None, Some("/grpc.health.v1.Health/Watch"), Public),
    reads("health.ready", Some((GET, "/ready")), None, Public),
    reads("metrics", Some((GET, "/metrics")), None, Public),
    reads(
        "api.describe",
        Some((GET, "/openapi.json")),
        Some("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"),
        Public,
    ),
    reads("page", Some((GET, "/")), None, Public),
    reads("page", Some((GET, "/page/{file}")), None, Public),
    reads("api.describe", None, Some("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"), Public),
    reads("usage.get", Some((GET, "/v1/usage")), Some("/elevatediq.v1.Usage/GetUsage"), Requires(Read)),
    reads("models.list", Some((GET, "/v1/models")), Some("/elevatediq.v1.Embeddings/ListModels"), Requires(Read)),
    reads("platforms.list", Some((GET, "/v1/platforms")), Some("/elevatediq.v1.Posts/ListPlatforms"), Requires(Read)),
    reads("accounts.list", Some((GET, "/v1/accounts")), Some("/elevatediq.v1.Engagement/ListAccounts"), Requires(Read)),
    reads(
        "accounts.get",
        Some((GET, "/v1/accounts/{account_id}")),
        Some("/elevatediq.v1.Engagement/GetAccount"),
        Requires(Read),
    ),
    ai(
        "accounts.best_times",
        Some((GET, "/v1/accounts/{account_id}/best-times")),
        Some("/elevatediq.v1.Engagement/BestTimes"),
        Requires(Read),
    ),
    ai("accounts.best_times", Some((POST, "/v1/accounts/{account_id}/best-times")), None, Requires(Read)),
    reads(
        "gate.check",
        Some((POST, "/v1/moderation/gate")),
        Some("/elevatediq.v1.TextIntelligence/Gate"),
        Requires(Moderate),
    ),
    reads("posts.check", Some((POST, "/v1/posts:check")), Some("/elevatediq.v1.Posts/Check"), Requires(Moderate)),
    reads("moderations.create", Some((POST, "/v1/moderations")), None, Requires(Moderate)),
    reads("comments.analyze", Some((POST, "/v1alpha1/comments:analyze")), None, Requires(Moderate)),
    ai(
        "embeddings.create",
        Some((POST, "/v1/embeddings")),
        Some("/elevatediq.v1.Embeddings/Embed"),
        Requires(UseModels),
    ),
    ai("embeddings.create", None, Some("/elevatediq.v1.Embeddings/EmbedStream"), Requires(UseModels)),
    ai(
        "texts.analyze",
        Some((POST, "/v1/analyze")),
        Some("/elevatediq.v1.TextIntelligence/Analyze"),
        Requires(UseModels),
    ),
    generates(
        "captions.generate",
        Some((POST, "/v1/captions:generate")),
        Some("/elevatediq.v1.Captions/Generate"),
        Requires(UseModels),
    ),
    generates("captions.generate", None, Some("/elevatediq.v1.Captions/GenerateStream"), Requires(UseModels)),
    ai(
        "images.analyze",
        Some((POST, "/v1/images:analyze")),
        Some("/elevatediq.v1.Images/Analyze"),
        Requires(UseModels),
    ),
    ai("posts.search", Some((POST, "/v1/posts:search")), Some("/elevatediq.v1.Posts/Search"), Requires(UseModels)),
    ai(
        "hashtags.suggest",
        Some((POST, "/v1/hashtags:suggest")),
        Some("/elevatediq.v1.Hashtags/Suggest"),
        Requires(UseModels),
    ),
    ai(
        "accounts.forecast",
        Some((POST, "/v1/accounts/{account_id}/forecast")),
        Some("/elevatediq.v1.Engagement/Forecast"),
        Requires(UseModels),
    ),
    writes(
        "history.import",
        Some((POST, "/v1/history:import")),
        Some("/elevatediq.v1.Engagement/ImportHistory"),
        Requires(ImportHistory),
    ),
    writes(
        "platforms.override",
        Some((PUT, "/v1/platforms/{platform}")),
        Some("/elevatediq.v1.Posts/SetPlatformOverride"),
        Requires(Configure),
    ),
    writes("keys.create", Some((POST, "/v1/keys")), Some("/elevatediq.v1.Keys/CreateKey"), Requires(ManageKeys)),
    reads("keys.list", Some((GET, "/v1/keys")), Some("/elevatediq.v1.Keys/ListKeys"), Requires(ManageKeys)),
    writes(
        "keys.revoke",
        Some((DELETE, "/v1/keys/{prefix}")),
        Some("/elevatediq.v1.Keys/RevokeKey"),
        Requires(ManageKeys),
    ),
    reads("audit.list", Some((GET, "/v1/audit")), Some("/elevatediq.v1.Audit/ListAuditEvents"), Requires(ReadAudit)),
    writes(
        "posts.create",
        Some((POST, "/v1/posts")),
        Some("/elevatediq.v1.Publishing/CreatePost"),
        Requires(WritePosts),
    ),
    reads("posts.list", Some((GET, "/v1/posts")), Some("/elevatediq.v1.Publishing/ListPosts"), Requires(Read)),
    reads("posts.get", Some((GET, "/v1/posts/{post_id}")), Some("/elevatediq.v1.Publishing/GetPost"), Requires(Read)),
    writes(
        "posts.submit",
        Some((POST, "/v1/posts/{post_id}:submit")),
        Some("/elevatediq.v1.Publishing/SubmitPost"),
        Requires(WritePosts),
    ),
    writes(
        "posts.approve",
        Some((POST, "/v1/posts/{post_id}:approve")),
        Some("/elevatediq.v1.Publishing/ApprovePost"),
        Requires(ApprovePosts),
    ),
    writes(
        "posts.reject",
        Some((POST, "/v1/posts/{post_id}:reject")),
        Some("/elevatediq.v1.Publishing/RejectPost"),
        Requires(ApprovePosts),
    ),
    writes(
        "posts.cancel",
        Some((POST, "/v1/posts/{post_id}:cancel")),
        Some("/elevatediq.v1.Publishing/CancelPost"),
        Requires(WritePosts),
    ),
    writes(
        "posts.reschedule",
        Some((POST, "/v1/posts/{post_id}:reschedule")),
        Some("/elevatediq.v1.Publishing/ReschedulePost"),
        Requires(WritePosts),
    ),
    writes(
        "posts.retry",
        Some((POST, "/v1/posts/{post_id}:retry")),
        Some("/elevatediq.v1.Publishing/RetryPost"),
        Requires(WritePosts),
    ),
    reads(
        "publishing.settings.get",
        Some((GET, "/v1/publishing/settings")),
        Some("/elevatediq.v1.Publishing/GetPublishingSettings"),
        Requires(Configure),
    ),
    writes(
        "publishing.settings.set",
        Some((PUT, "/v1/publishing/settings")),
        Some("/elevatediq.v1.Publishing/SetPublishingSettings"),
        Requires(Configure),
    ),
];

/// Fail closed: an operation missing from the table is for admins only, and audited.
pub static UNLISTED: Operation = writes("unlisted", None, None, Requires(ManageKeys));

/// The REST route `method template` (as routed) for a request to `path`; `HEAD` is its `GET`. A
/// custom method (`/v1/posts/{post_id}:submit`) is routed by its template without the verb, so
/// the verb is read from the path's last segment.
pub fn of_rest(method: &Method, template: &str, path: &str) -> &'static Operation {
    let method = if method == Method::HEAD { &GET } else { method };
    let find = |template: &str| {
        OPERATIONS.iter().find(|o| o.rest.as_ref().is_some_and(|(m, p)| m == method && *p == template))
    };
    let verb = path.rsplit('/').next().and_then(|segment| segment.rsplit_once(':')).map(|(_, verb)| verb);
    match verb {
        Some(verb) if template.ends_with('}') => find(&format!("{template}:{verb}")).or_else(|| find(template)),
        _ => find(template),
    }
    .unwrap_or(&UNLISTED)
}

/// The gRPC method at `path` (`/package.Service/Method`).
pub fn of_grpc(path: &str) -> &'static Operation {
    OPERATIONS.iter().find(|o| o.grpc == Some(path)).unwrap_or(&UNLISTED)
}
