//! Authentication and authorisation against real servers: API keys and SSO tokens over REST and
//! gRPC, every role against every operation, development mode, the refusal to serve a public
//! address unauthenticated, and per-key rate limits.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::tenants::{directory, key_of, now, tenant_with_keys};
use common::{TestServer, serve_args, start, wait_ready};
use eiq::access::{Access, OPERATIONS};
use eiq_service::tenancy::{Role, TenantId};
use eiq_service::tenants::{Database, Plan, TenantDirectory};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Method, StatusCode};
use tonic::Code;
use tonic::transport::Channel;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/jwt");
const AUDIENCE: &str = "eiq-test";

async fn send(server: &TestServer, method: Method, path: &str, key: Option<&str>) -> (StatusCode, serde_json::Value) {
    let mut request = reqwest::Client::new().request(method.clone(), server.url(path));
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    if method == Method::POST || method == Method::PUT {
        request = request.json(&serde_json::json!({}));
    }
    let response = request.send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(serde_json::Value::Null))
}

/// An empty message to any gRPC method, with `key` as its bearer credential.
async fn grpc_call(server: &TestServer, path: &'static str, key: Option<&str>) -> Code {
    let channel = Channel::from_shared(format!("http://{}", server.addr)).unwrap().connect().await.unwrap();
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let mut request = tonic::Request::new(());
    if let Some(key) = key {
        request.metadata_mut().insert("authorization", format!("Bearer {key}").parse().unwrap());
    }
    let codec = tonic_prost::ProstCodec::<(), ()>::default();
    let path = tonic::codegen::http::uri::PathAndQuery::from_static(path);
    match tokio::time::timeout(Duration::from_secs(30), grpc.unary(request, path, codec)).await.expect("answered") {
        Ok(_) => Code::Ok,
        Err(status) => status.code(),
    }
}

/// A concrete path for a route template.
fn concrete(template: &str) -> String {
    template
        .replace("{account_id}", "nobody")
        .replace("{platform}", "x")
        .replace("{prefix}", "000000000000")
        .replace("{post_id}", "pst_0000000000000000")
}

/// One server with three tenants: `acme` and `bigco` on the enterprise plan (a key of each role in
/// `acme`), `smallco` on the starter plan (its first admin key in `starter`), and SSO configured
/// with its claims renamed. Tests open their own handle on its database: a pool belongs to the
/// runtime that made it.
struct Fixture {
    server: TestServer,
    data: String,
    keys: Vec<(Role, String)>,
    starter: String,
    _dir: tempfile::TempDir,
}

async fn fixture() -> &'static Fixture {
    static FIXTURE: tokio::sync::OnceCell<Fixture> = tokio::sync::OnceCell::const_new();
    FIXTURE
        .get_or_init(|| async {
            let dir = tempfile::tempdir().unwrap();
            let data = dir.path().to_str().unwrap().to_string();
            let directory = directory(&data).await;
            let keys = tenant_with_keys(&directory, "acme", Plan::Enterprise).await;
            tenant_with_keys(&directory, "bigco", Plan::Enterprise).await;
            let smallco = TenantId::parse("smallco").unwrap();
            let starter = directory.create_tenant(&smallco, Plan::Starter, now()).await.unwrap().key;
            let jwks = format!("{FIXTURES}/jwks.json");
            let flags = [
                "--models",
                "minilm-l6-v2",
                "--data-dir",
                &data,
                "--jwks-file",
                &jwks,
                "--jwt-audience",
                AUDIENCE,
                "--jwt-tenant-claim",
                "org",
                "--jwt-role-claim",
                "eiq_role",
                "--rate-limit-per-second",
                "10000",
            ];
            let server = start(&flags);
            wait_ready(&server).await;
            Fixture { server, data, keys, starter, _dir: dir }
        })
        .await
}

/// The table covers every REST route of the OpenAPI document and every gRPC method of the proto
/// files, and each role gets 403 exactly where the table says, on both protocols.
#[tokio::test]
async fn every_role_against_every_operation() {
    let f = fixture().await;
    let (_, document) = send(&f.server, Method::GET, "/openapi.json", None).await;
    let mut documented = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            documented.insert((method.to_uppercase(), path.clone()));
        }
    }
    // Served but not part of the API: its description and the assistant page.
    for path in ["/openapi.json", "/", "/page/{file}"] {
        documented.insert(("GET".into(), path.into()));
    }
    let tabled: BTreeSet<_> =
        OPERATIONS.iter().filter_map(|o| o.rest.as_ref().map(|(m, p)| (m.to_string(), p.to_string()))).collect();
    assert_eq!(documented, tabled, "REST routes and the permission table differ");

    let mut methods = BTreeSet::new();
    for file in std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../proto/elevatediq/v1")).unwrap() {
        let text = std::fs::read_to_string(file.unwrap().path()).unwrap();
        let mut service = "";
        for line in text.lines().map(str::trim) {
            if let Some(rest) = line.strip_prefix("service ") {
                service = rest.split_whitespace().next().unwrap();
            } else if let Some(rest) = line.strip_prefix("rpc ") {
                methods.insert(format!("/elevatediq.v1.{service}/{}", rest.split('(').next().unwrap()));
            }
        }
    }
    let tabled: BTreeSet<_> =
        OPERATIONS.iter().filter_map(|o| o.grpc).filter(|p| p.starts_with("/elevatediq.")).map(String::from).collect();
    assert_eq!(methods, tabled, "gRPC methods and the permission table differ");

    for operation in OPERATIONS {
        let Access::Requires(permission) = operation.access else { continue };
        for (role, key) in &f.keys {
            let allowed = role.allows(permission);
            if let Some((method, template)) = &operation.rest {
                let (status, body) = send(&f.server, method.clone(), &concrete(template), Some(key)).await;
                let what = format!("{} × {method} {template}: {status} {body}", role.as_str());
                assert!(!status.is_server_error() && status != StatusCode::UNAUTHORIZED, "{what}");
                assert_eq!(status == StatusCode::FORBIDDEN, !allowed, "{what}");
                if !allowed {
                    assert!(body["error"]["message"].as_str().unwrap().contains(permission.as_str()), "{what}");
                }
            }
            if let Some(path) = operation.grpc {
                let code = grpc_call(&f.server, path, Some(key)).await;
                let what = format!("{} × {path}: {code:?}", role.as_str());
                assert!(!matches!(code, Code::Unauthenticated | Code::Internal | Code::Unknown), "{what}");
                assert_eq!(code == Code::PermissionDenied, !allowed, "{what}");
            }
        }
    }
    // Public operations need nothing.
    assert_eq!(send(&f.server, Method::GET, "/health", None).await.0, StatusCode::OK);
    let page = reqwest::Client::new().get(f.server.url("/")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    assert_eq!(grpc_call(&f.server, "/grpc.health.v1.Health/Check", None).await, Code::Ok);
}

#[tokio::test]
async fn keys_are_required_checked_and_revoked_at_once() {
    let f = fixture().await;
    let admin = key_of(&f.keys, Role::Admin);
    // No credential, a malformed one, a forged one: 401 with the same words, on both protocols.
    let response = reqwest::Client::new().get(f.server.url("/v1/platforms")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    let forged = format!("{}{}", &admin[..admin.len() - 4], "0000");
    let (status, unknown) = send(&f.server, Method::GET, "/v1/platforms", Some(&forged)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{unknown}");
    assert_eq!(unknown["error"]["code"], "unauthenticated");
    for junk in ["eiq_", "not-a-key", "eiq_zzzzzzzzzzzz_0", "a.b.c"] {
        assert_eq!(
            send(&f.server, Method::GET, "/v1/platforms", Some(junk)).await.0,
            StatusCode::UNAUTHORIZED,
            "{junk}"
        );
    }
    let raw = reqwest::Client::new().get(f.server.url("/v1/platforms")).header("authorization", "Basic YTpi");
    assert_eq!(raw.send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(grpc_call(&f.server, "/elevatediq.v1.Posts/ListPlatforms", None).await, Code::Unauthenticated);
    assert_eq!(grpc_call(&f.server, "/elevatediq.v1.Posts/ListPlatforms", Some(&forged)).await, Code::Unauthenticated);
    assert_eq!(grpc_call(&f.server, "/elevatediq.v1.Posts/ListPlatforms", Some(&admin)).await, Code::Ok);

    // x-tenant-id may be sent, but only naming the key's own tenant.
    let client = reqwest::Client::new();
    let own = client.get(f.server.url("/v1/platforms")).bearer_auth(&admin).header("x-tenant-id", "acme");
    assert_eq!(own.send().await.unwrap().status(), StatusCode::OK);
    let other = client.get(f.server.url("/v1/platforms")).bearer_auth(&admin).header("x-tenant-id", "bigco");
    assert_eq!(other.send().await.unwrap().status(), StatusCode::FORBIDDEN);

    // A key made over the API works at once; revoked, it is refused at once, like an unknown key.
    let made = client
        .post(f.server.url("/v1/keys"))
        .bearer_auth(&admin)
        .json(&serde_json::json!({"role": "viewer", "name": "dashboard"}))
        .send()
        .await
        .unwrap();
    assert_eq!(made.status(), StatusCode::CREATED);
    let made: serde_json::Value = made.json().await.unwrap();
    let (viewer, prefix) = (made["key"].as_str().unwrap().to_string(), made["prefix"].as_str().unwrap().to_string());
    assert!(viewer.starts_with(&format!("eiq_{prefix}_")), "{made}");
    assert_eq!(send(&f.server, Method::GET, "/v1/platforms", Some(&viewer)).await.0, StatusCode::OK);
    let (_, listed) = send(&f.server, Method::GET, "/v1/keys", Some(&admin)).await;
    let listed = listed["keys"].as_array().unwrap();
    assert!(listed.iter().any(|k| k["prefix"] == prefix.as_str() && k["role"] == "viewer"), "{listed:?}");
    assert!(listed.iter().all(|k| k.get("key").is_none() && k.get("hash").is_none()), "{listed:?}");
    // Another tenant's admin cannot see or revoke it: not found, as if it did not exist.
    let directory = directory(&f.data).await;
    let bigco = TenantId::parse("bigco").unwrap();
    let bigco_admin = directory.create_key(&bigco, Role::Admin, "", None, now()).await.unwrap().key;
    let path = format!("/v1/keys/{prefix}");
    assert_eq!(send(&f.server, Method::DELETE, &path, Some(&bigco_admin)).await.0, StatusCode::NOT_FOUND);
    assert_eq!(send(&f.server, Method::DELETE, &path, Some(&admin)).await.0, StatusCode::NO_CONTENT);
    let (status, revoked) = send(&f.server, Method::GET, "/v1/platforms", Some(&viewer)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(revoked["error"]["message"], unknown["error"]["message"], "a revoked key reads like an unknown one");
    assert_eq!(send(&f.server, Method::DELETE, &path, Some(&admin)).await.0, StatusCode::NOT_FOUND);

    // An expired key is refused; bad key requests are 422 naming the field.
    let acme = TenantId::parse("acme").unwrap();
    let old = directory.create_key(&acme, Role::Admin, "old", Some(1), now() - 2 * 86_400).await.unwrap().key;
    assert_eq!(send(&f.server, Method::GET, "/v1/platforms", Some(&old)).await.0, StatusCode::UNAUTHORIZED);
    for (body, param) in [
        (serde_json::json!({"role": "owner"}), "role"),
        (serde_json::json!({"role": "viewer", "expires_in_days": 0}), "expires_in_days"),
        (serde_json::json!({"role": "viewer", "name": "n".repeat(101)}), "name"),
        (serde_json::json!({"role": "viewer", "name": "line\nbreak"}), "name"),
    ] {
        let response = client.post(f.server.url("/v1/keys")).bearer_auth(&admin).json(&body).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"]["param"], param, "{body}");
    }
}

fn token(algorithm: Algorithm, kid: &str, claims: serde_json::Value) -> String {
    let key = match algorithm {
        Algorithm::RS256 => EncodingKey::from_rsa_pem(&std::fs::read(format!("{FIXTURES}/rs256.pem")).unwrap()),
        _ => EncodingKey::from_ec_pem(&std::fs::read(format!("{FIXTURES}/es256.pem")).unwrap()),
    };
    let header = Header { kid: Some(kid.into()), ..Header::new(algorithm) };
    jsonwebtoken::encode(&header, &claims, &key.unwrap()).unwrap()
}

#[tokio::test]
async fn sso_tokens_signed_by_the_jwks_are_accepted_and_checked() {
    let f = fixture().await;
    let claims = |org: &str, role: &str, aud: &str, exp: i64| serde_json::json!({"sub": "ana@bigco.example", "org": org, "eiq_role": role, "aud": aud, "exp": exp});
    let live = now() + 600;
    for (algorithm, kid) in [(Algorithm::RS256, "test-rsa"), (Algorithm::ES256, "test-ec")] {
        let good = token(algorithm, kid, claims("bigco", "editor", AUDIENCE, live));
        assert_eq!(send(&f.server, Method::GET, "/v1/platforms", Some(&good)).await.0, StatusCode::OK, "{kid}");
        assert_eq!(grpc_call(&f.server, "/elevatediq.v1.Posts/ListPlatforms", Some(&good)).await, Code::Ok);
    }
    let refused = [
        token(Algorithm::RS256, "test-rsa", claims("bigco", "editor", "someone-else", live)),
        token(Algorithm::RS256, "test-rsa", claims("bigco", "editor", AUDIENCE, now() - 600)),
        token(Algorithm::RS256, "test-rsa", claims("nosuchco", "editor", AUDIENCE, live)),
        token(Algorithm::RS256, "test-rsa", claims("bigco", "overlord", AUDIENCE, live)),
        token(Algorithm::RS256, "test-rsa", serde_json::json!({"org": "bigco", "eiq_role": "admin", "aud": AUDIENCE})),
        token(Algorithm::RS256, "unknown-kid", claims("bigco", "editor", AUDIENCE, live)),
        // An ES256 signature presented under the RSA key's id.
        token(Algorithm::ES256, "test-rsa", claims("bigco", "editor", AUDIENCE, live)),
        // HS256 keyed with something public: never accepted.
        jsonwebtoken::encode(
            &Header { kid: Some("test-rsa".into()), ..Header::new(Algorithm::HS256) },
            &claims("bigco", "admin", AUDIENCE, live),
            &EncodingKey::from_secret(b"public"),
        )
        .unwrap(),
    ];
    for (i, token) in refused.iter().enumerate() {
        assert_eq!(
            send(&f.server, Method::GET, "/v1/platforms", Some(token)).await.0,
            StatusCode::UNAUTHORIZED,
            "#{i}"
        );
    }
    // The role claim is honoured; a tenant on a plan without SSO is told so.
    let viewer = token(Algorithm::ES256, "test-ec", claims("bigco", "viewer", AUDIENCE, live));
    assert_eq!(send(&f.server, Method::POST, "/v1/analyze", Some(&viewer)).await.0, StatusCode::FORBIDDEN);
    let starter = token(Algorithm::RS256, "test-rsa", claims("smallco", "admin", AUDIENCE, live));
    let (status, body) = send(&f.server, Method::GET, "/v1/platforms", Some(&starter)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body["error"]["message"].as_str().unwrap().contains("starter"), "{body}");
}

#[tokio::test]
async fn development_mode_lasts_until_the_first_tenant() {
    let data = tempfile::tempdir().unwrap();
    let path = data.path().to_str().unwrap();
    let server = start(&["--models", "minilm-l6-v2", "--data-dir", path]);
    wait_ready(&server).await;
    let client = reqwest::Client::new();
    let platforms = || client.get(server.url("/v1/platforms")).header("x-tenant-id", "team-a");
    assert_eq!(platforms().send().await.unwrap().status(), StatusCode::OK);
    let admin = tenant_with_keys(&directory(path).await, "team-a", Plan::Enterprise).await.remove(0).1;
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(platforms().send().await.unwrap().status(), StatusCode::UNAUTHORIZED);
    assert_eq!(platforms().bearer_auth(&admin).send().await.unwrap().status(), StatusCode::OK);
    server.shutdown_and_wait();
}

#[tokio::test]
async fn a_public_address_without_tenants_needs_insecure_no_auth() {
    common::ensure_models_fetched();
    let data = tempfile::tempdir().unwrap();
    let path = data.path().to_str().unwrap();
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let args = serve_args(&["--models", "minilm-l6-v2", "--data-dir", path]);
    let err = eiq::server::serve(args, listener, async {}).await.unwrap_err().to_string();
    assert!(err.contains("--insecure-no-auth") && err.contains("eiq tenants create"), "{err}");

    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let args = serve_args(&["--models", "minilm-l6-v2", "--data-dir", path, "--insecure-no-auth"]);
    eiq::server::serve(args, listener, async {}).await.unwrap();
}

#[tokio::test]
async fn each_key_has_its_own_request_rate() {
    let data = tempfile::tempdir().unwrap();
    let path = data.path().to_str().unwrap();
    let keys = tenant_with_keys(&directory(path).await, "busy", Plan::Enterprise).await;
    let flags =
        ["--models", "minilm-l6-v2", "--data-dir", path, "--rate-limit-per-second", "1", "--rate-limit-burst", "3"];
    let server = start(&flags);
    wait_ready(&server).await;
    let (viewer, editor) = (key_of(&keys, Role::Viewer), key_of(&keys, Role::Editor));
    for _ in 0..3 {
        assert_eq!(send(&server, Method::GET, "/v1/platforms", Some(&viewer)).await.0, StatusCode::OK);
    }
    let response = reqwest::Client::new().get(server.url("/v1/platforms")).bearer_auth(&viewer).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()["retry-after"], "1");
    assert_eq!(grpc_call(&server, "/elevatediq.v1.Posts/ListPlatforms", Some(&viewer)).await, Code::ResourceExhausted);
    // Another key is not slowed down by it.
    assert_eq!(send(&server, Method::GET, "/v1/platforms", Some(&editor)).await.0, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(send(&server, Method::GET, "/v1/platforms", Some(&viewer)).await.0, StatusCode::OK);
    server.shutdown_and_wait();
}

/// Key changes, refusals and failed authentications are in the audit log, which an admin reads
/// over REST (JSON and JSON Lines, paged) and gRPC alike.
#[tokio::test]
async fn the_audit_log_records_changes_and_refusals() {
    let f = fixture().await;
    let (admin, viewer) = (key_of(&f.keys, Role::Admin), key_of(&f.keys, Role::Viewer));
    let admin_prefix = eiq_service::tenants::prefix_of(&admin).unwrap().to_string();
    let client = reqwest::Client::new();
    let made = client
        .post(f.server.url("/v1/keys"))
        .bearer_auth(&admin)
        .header("user-agent", "audit-test/1")
        .json(&serde_json::json!({"role": "editor", "name": "audited"}))
        .send()
        .await
        .unwrap();
    assert_eq!(made.status(), StatusCode::CREATED);
    let made: serde_json::Value = made.json().await.unwrap();
    let prefix = made["prefix"].as_str().unwrap();
    assert_eq!(
        send(&f.server, Method::DELETE, &format!("/v1/keys/{prefix}"), Some(&admin)).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(send(&f.server, Method::GET, "/v1/keys", Some(&viewer)).await.0, StatusCode::FORBIDDEN);
    assert_eq!(send(&f.server, Method::GET, "/v1/audit", Some(&viewer)).await.0, StatusCode::FORBIDDEN);

    let events = |query: &str| {
        let url = f.server.url(&format!("/v1/audit{query}"));
        let admin = admin.clone();
        async move {
            let response = reqwest::Client::new().get(url).bearer_auth(admin).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::OK);
            response.json::<serde_json::Value>().await.unwrap()
        }
    };
    let created = events(&format!("?event=keys.create&actor={admin_prefix}&limit=1000")).await;
    let created = created["events"].as_array().unwrap().iter().find(|e| e["user_agent"] == "audit-test/1").cloned();
    let created = created.expect("the key's creation is audited");
    assert_eq!(created["auth_method"], "api_key");
    assert_eq!(created["role"], "admin");
    assert_eq!(created["outcome"], "succeeded");
    assert_eq!(created["source_ip"], "127.0.0.1");
    assert_eq!(created["action"], "POST /v1/keys");
    assert_eq!(created["details"]["status"], "201");
    let revoked = events("?event=keys.revoke&limit=1000").await;
    assert!(revoked["events"].as_array().unwrap().iter().any(|e| e["resource"] == format!("/v1/keys/{prefix}")));
    let denied = events("?event=auth.denied&limit=1000").await;
    assert!(
        denied["events"].as_array().unwrap().iter().any(|e| e["role"] == "viewer" && e["details"]["status"] == "403")
    );

    // Pages chain by `after`; JSON Lines carries the cursor in a header.
    let first = events("?limit=2").await;
    assert_eq!(first["events"].as_array().unwrap().len(), 2);
    let after = first["next_after"].as_i64().expect("more than two events");
    let second = events(&format!("?limit=2&after={after}")).await;
    assert_eq!(second["events"][0]["seq"].as_i64().unwrap(), after + 1);
    assert_eq!(second["events"][0]["prev_hash"], first["events"][1]["hash"]);
    let jsonl = client.get(f.server.url("/v1/audit?limit=3&format=jsonl")).bearer_auth(&admin).send().await.unwrap();
    assert_eq!(jsonl.headers()["content-type"], "application/x-ndjson");
    assert!(jsonl.headers().contains_key("x-next-after"));
    let lines = jsonl.text().await.unwrap();
    assert_eq!(lines.lines().count(), 3);
    assert!(lines.lines().all(|line| serde_json::from_str::<serde_json::Value>(line).is_ok()));
    for bad in ["?limit=0", "?since=yesterday", "?format=xml", "?unknown=1"] {
        let response = client.get(f.server.url(&format!("/v1/audit{bad}"))).bearer_auth(&admin).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }

    // The gRPC twin returns the same chain.
    let channel = Channel::from_shared(format!("http://{}", f.server.addr)).unwrap().connect().await.unwrap();
    let mut audit = eiq_proto::v1::audit_client::AuditClient::new(channel);
    let mut request = tonic::Request::new(eiq_proto::v1::ListAuditEventsRequest { limit: 2, ..Default::default() });
    request.metadata_mut().insert("authorization", format!("Bearer {admin}").parse().unwrap());
    let page = audit.list_audit_events(request).await.unwrap().into_inner();
    assert_eq!(page.events[1].hash, first["events"][1]["hash"].as_str().unwrap());
    assert_eq!(page.next_after, Some(after));
}

/// `eiq audit verify` passes an untouched chain and names the row an editor of the store changed;
/// `eiq usage export` writes the metered counts.
#[test]
fn eiq_audit_verify_and_usage_export() {
    use clap::Parser;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let run = |argv: &[&str]| -> anyhow::Result<String> {
        let mut full = vec!["eiq"];
        full.extend_from_slice(argv);
        full.extend_from_slice(&["--data-dir", data]);
        match eiq::config::Cli::try_parse_from(full).unwrap().command {
            eiq::config::Command::Tenants(c) => eiq::cli::tenants::tenants(c),
            eiq::config::Command::Keys(c) => eiq::cli::tenants::keys(c),
            eiq::config::Command::Audit(c) => eiq::cli::audit::audit(c),
            eiq::config::Command::Usage(c) => eiq::cli::usage::usage(c),
            other => panic!("{other:?}"),
        }
    };
    run(&["tenants", "create", "acme", "--plan", "starter"]).unwrap();
    run(&["keys", "create", "--tenant", "acme", "--role", "service"]).unwrap();
    let report = run(&["audit", "verify", "--tenant", "acme"]).unwrap();
    assert!(report.contains("2 rows, chain intact"), "{report}");
    let exported = dir.path().join("audit.jsonl");
    run(&["audit", "export", "--tenant", "acme", "--output", exported.to_str().unwrap()]).unwrap();
    let lines = std::fs::read_to_string(&exported).unwrap();
    assert!(lines.lines().next().unwrap().contains("tenants.create"), "{lines}");

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        sqlx::any::install_default_drivers();
        let pool = sqlx::AnyPool::connect(&format!("sqlite://{data}/eiq.db")).await.unwrap();
        sqlx::query("UPDATE audit_log SET details = '{}' WHERE tenant = 'acme' AND seq = 1")
            .execute(&pool)
            .await
            .unwrap();
    });
    let err = run(&["audit", "verify", "--tenant", "acme"]).unwrap_err().to_string();
    assert!(err.contains("broken at row 1"), "{err}");

    // Usage the server metered is exported for billing.
    let period = eiq_service::usage::period_of(now() * 1_000);
    runtime.block_on(async {
        let meter = eiq_service::usage::UsageMeter::new(Database::embedded(dir.path()).await.unwrap());
        meter.count(&TenantId::parse("acme").unwrap(), eiq_service::usage::Metric::ApiCalls, 3, now() * 1_000);
        meter.flush().await.unwrap();
    });
    let csv = dir.path().join("usage.csv");
    run(&["usage", "export", "--format", "csv", "--output", csv.to_str().unwrap()]).unwrap();
    let csv = std::fs::read_to_string(csv).unwrap();
    assert_eq!(csv, format!("tenant,period,api_calls,ai_generated_posts,published_posts\nacme,{period},3,0,0\n"));
}

/// The plan decides what a tenant may use: AI features, its number of user keys; the moderation
/// gate and the platform rules run on every plan.
#[tokio::test]
async fn plans_gate_ai_features_and_user_keys() {
    let f = fixture().await;
    let starter = &f.starter;
    for path in ["/v1/analyze", "/v1/hashtags:suggest", "/v1/accounts/nobody/best-times"] {
        let (status, body) = send(&f.server, Method::POST, path, Some(starter)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("starter") && message.contains("AI feature"), "{path}: {message}");
    }
    assert_eq!(
        grpc_call(&f.server, "/elevatediq.v1.TextIntelligence/Analyze", Some(starter)).await,
        Code::PermissionDenied
    );
    let gate = reqwest::Client::new()
        .post(f.server.url("/v1/moderation/gate"))
        .bearer_auth(starter)
        .json(&serde_json::json!({"text": "Our spring sale starts Friday", "platform": "x"}))
        .send()
        .await
        .unwrap();
    assert_ne!(gate.status(), StatusCode::FORBIDDEN, "the gate runs on every plan");
    assert_eq!(
        send(&f.server, Method::POST, "/v1/posts:check", Some(starter)).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );

    // The starter plan's one user is its admin: a second person's key is refused, a service's is not.
    let create = |role: &str| {
        reqwest::Client::new()
            .post(f.server.url("/v1/keys"))
            .bearer_auth(starter)
            .json(&serde_json::json!({"role": role}))
            .send()
    };
    let refused = create("viewer").await.unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let body: serde_json::Value = refused.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("starter plan allows 1 user"), "{body}");
    assert_eq!(create("service").await.unwrap().status(), StatusCode::CREATED);
}

/// API calls and AI-generated posts are metered per tenant and month, and read back with the
/// plan's limits over REST and gRPC.
#[tokio::test]
async fn usage_is_metered_per_tenant() {
    let f = fixture().await;
    let directory = directory(&f.data).await;
    let tenant = TenantId::parse(&format!("metered-{}", std::process::id())).unwrap();
    let key = directory.create_tenant(&tenant, Plan::Professional, now()).await.unwrap().key;
    for _ in 0..3 {
        assert_eq!(send(&f.server, Method::GET, "/v1/platforms", Some(&key)).await.0, StatusCode::OK);
    }
    let captions = reqwest::Client::new()
        .post(f.server.url("/v1/captions:generate"))
        .bearer_auth(&key)
        .json(&serde_json::json!({"text": "Spring drop Friday: three colours, one price.", "platforms": ["x"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(captions.status(), StatusCode::OK);
    let (status, usage) = send(&f.server, Method::GET, "/v1/usage", Some(&key)).await;
    assert_eq!(status, StatusCode::OK, "{usage}");
    // Three listings, the captions and this call.
    assert_eq!(usage["api_calls"], 5, "{usage}");
    assert_eq!(usage["ai_generated_posts"], 1, "{usage}");
    assert_eq!(usage["plan"], "professional");
    assert_eq!(usage["limits"]["posts_per_month"], 1_500);
    assert_eq!(usage["period"].as_str().unwrap().len(), 7);
    assert_eq!(
        send(&f.server, Method::GET, "/v1/usage?period=2026-13", Some(&key)).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let (_, past) = send(&f.server, Method::GET, "/v1/usage?period=2001-01", Some(&key)).await;
    assert_eq!(past["api_calls"], 0);

    let channel = Channel::from_shared(format!("http://{}", f.server.addr)).unwrap().connect().await.unwrap();
    let mut client = eiq_proto::v1::usage_client::UsageClient::new(channel);
    let mut request = tonic::Request::new(eiq_proto::v1::GetUsageRequest::default());
    request.metadata_mut().insert("authorization", format!("Bearer {key}").parse().unwrap());
    let report = client.get_usage(request).await.unwrap().into_inner();
    assert_eq!((report.api_calls, report.ai_generated_posts), (8, 1), "two more REST calls and this one");
    assert_eq!(report.plan, "professional");
    assert_eq!(report.limits.unwrap().posts_per_month, Some(1_500));
}

/// The retention job deletes the history a tenant's plan no longer keeps, and audits it; an import
/// may not take a tenant past its plan's accounts.
#[tokio::test]
async fn retention_deletes_history_older_than_the_plan_keeps() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_str().unwrap();
    let tenant = TenantId::parse("oldco").unwrap();
    let key = directory(path).await.create_tenant(&tenant, Plan::Starter, now()).await.unwrap().key;
    let server = start(&["--models", "minilm-l6-v2", "--data-dir", path, "--retention-interval-secs", "1"]);
    wait_ready(&server).await;
    let day = 86_400;
    let csv = format!(
        "post_id,account_id,platform,created_at,text,likes\nold,brand,x,{},An old post,3\nnew,brand,x,{},A new post,5\n",
        now() - 200 * day,
        now() - 10 * day
    );
    let client = reqwest::Client::new();
    // The plan's accounts limit holds at import: eleven accounts are one too many for starter.
    let many: String = (0..11).map(|i| format!("m{i},acct{i},x,{},Post {i},1\n", now() - day)).collect();
    let refused = client
        .post(server.url("/v1/history:import?format=csv"))
        .bearer_auth(&key)
        .body(format!("post_id,account_id,platform,created_at,text,likes\n{many}"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let body: serde_json::Value = refused.json().await.unwrap();
    assert!(body["error"]["message"].as_str().unwrap().contains("starter plan allows 10 accounts"), "{body}");
    let imported =
        client.post(server.url("/v1/history:import?format=csv")).bearer_auth(&key).body(csv).send().await.unwrap();
    assert_eq!(imported.status(), StatusCode::OK);
    let mut posts = 2;
    for _ in 0..100 {
        let (_, account) = send(&server, Method::GET, "/v1/accounts/brand", Some(&key)).await;
        posts = account["posts"].as_u64().unwrap_or(0);
        if posts == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(posts, 1, "the post older than the starter plan's 3 months is deleted");
    let (_, audit) = send(&server, Method::GET, "/v1/audit?event=retention.prune", Some(&key)).await;
    let event = &audit["events"][0];
    assert_eq!(event["details"]["deleted"], 1, "{audit}");
    assert_eq!(event["details"]["retention_months"], 3, "{audit}");
    server.shutdown_and_wait();
}

/// Two replicas on one PostgreSQL database: a key made on one works on the other, and a key
/// revoked on one is refused by the other at once.
#[tokio::test]
async fn replicas_sharing_postgresql_see_keys_and_revocations_at_once() {
    let Ok(url) = std::env::var("EIQ_TEST_DATABASE_URL") else {
        eprintln!("EIQ_TEST_DATABASE_URL is not set: the two-replica test is skipped");
        return;
    };
    let directory = TenantDirectory::new(Database::open(&url).await.unwrap());
    let tenant = TenantId::parse(&format!("replicas-{}-{}", std::process::id(), now())).unwrap();
    let admin = directory.create_tenant(&tenant, Plan::Enterprise, now()).await.unwrap().key;
    let replicas: Vec<TestServer> =
        (0..2).map(|_| start(&["--models", "minilm-l6-v2", "--database-url", &url])).collect();
    for replica in &replicas {
        wait_ready(replica).await;
    }
    let made = reqwest::Client::new()
        .post(replicas[0].url("/v1/keys"))
        .bearer_auth(&admin)
        .json(&serde_json::json!({"role": "viewer"}))
        .send()
        .await
        .unwrap();
    assert_eq!(made.status(), StatusCode::CREATED);
    let made: serde_json::Value = made.json().await.unwrap();
    let viewer = made["key"].as_str().unwrap();
    assert_eq!(send(&replicas[1], Method::GET, "/v1/platforms", Some(viewer)).await.0, StatusCode::OK);
    let revoke = format!("/v1/keys/{}", made["prefix"].as_str().unwrap());
    assert_eq!(send(&replicas[1], Method::DELETE, &revoke, Some(&admin)).await.0, StatusCode::NO_CONTENT);
    for replica in &replicas {
        assert_eq!(send(replica, Method::GET, "/v1/platforms", Some(viewer)).await.0, StatusCode::UNAUTHORIZED);
    }
    // Both replicas wrote to the one audit chain: it verifies.
    let audit = eiq_service::audit::AuditLog::new(Database::open(&url).await.unwrap());
    let verified = audit.verify(Some(&tenant)).await.unwrap();
    assert!(matches!(verified, eiq_service::audit::Verification::Intact { rows: 2, .. }), "{verified:?}");
    for replica in &replicas {
        replica.shutdown_and_wait();
    }
}
