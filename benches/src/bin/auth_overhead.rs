//! What authentication adds to every request: the guard's `Authenticator::authenticate` on an API
//! key (a prefix lookup and a SHA-256 compare in the tenant database, plus the rate bucket) on
//! SQLite and PostgreSQL, on SSO tokens (RS256 and ES256 signature checks), and on development
//! mode's header, each timed `--requests` times in a row.
//!
//! `cargo run --release -p eiq-benches --bin auth_overhead -- [--database-url postgres://…]`

use std::time::{Duration, Instant};

use clap::Parser;
use eiq_benches::percentile;
use eiq_service::auth::{AuthSettings, Authenticator, JwtSettings, JwtVerifier, Presented, RateSettings};
use eiq_service::tenancy::TenantId;
use eiq_service::tenants::{Database, Plan, TenantDirectory};
use jsonwebtoken::{Algorithm, EncodingKey, Header};

/// The test key pair and JWKS of the API tests (test-only keys, committed for that purpose).
const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../api/tests/fixtures/jwt");

#[derive(Parser)]
struct Args {
    #[arg(long, default_value_t = 5_000)]
    requests: usize,
    /// Also time keys on this PostgreSQL database [default: EIQ_TEST_DATABASE_URL, if set].
    #[arg(long, env = "EIQ_TEST_DATABASE_URL")]
    database_url: Option<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let dir = tempfile::tempdir()?;
    let mut databases = vec![("sqlite", Database::embedded(dir.path()).await?)];
    if let Some(url) = &args.database_url {
        databases.push(("postgres", Database::open(url).await?));
    }
    println!("{:<28} {:>10} {:>10}", "credential", "p50 µs", "p99 µs");
    for (backend, database) in databases {
        let directory = TenantDirectory::new(database);
        let tenant = TenantId::parse(&format!("bench-{}", std::process::id()))?;
        let key = match directory.create_tenant(&tenant, Plan::Enterprise, eiq_datasets::now()).await {
            Ok(made) => made.key,
            Err(_) => {
                directory
                    .create_key(&tenant, eiq_service::tenancy::Role::Editor, "", None, eiq_datasets::now())
                    .await?
                    .key
            }
        };
        let keys = authenticator(directory.clone(), false)?;
        let header = format!("Bearer {key}");
        report(&format!("API key ({backend})"), &keys, header.as_bytes(), args.requests).await?;
        if backend == "sqlite" {
            for (algorithm, kid, file) in
                [(Algorithm::RS256, "test-rsa", "rs256.pem"), (Algorithm::ES256, "test-ec", "es256.pem")]
            {
                let token = token(algorithm, kid, file, &tenant)?;
                let header = format!("Bearer {token}");
                report(&format!("SSO {algorithm:?} ({backend})"), &keys, header.as_bytes(), args.requests).await?;
            }
            let development =
                authenticator(TenantDirectory::new(Database::embedded(&dir.path().join("empty")).await?), true)?;
            report("development mode (sqlite)", &development, b"", args.requests).await?;
        }
    }
    Ok(())
}

fn authenticator(directory: TenantDirectory, development: bool) -> anyhow::Result<Authenticator> {
    let jwt = JwtVerifier::from_file(JwtSettings {
        jwks_file: format!("{FIXTURES}/jwks.json").into(),
        audience: "bench".into(),
        issuer: None,
        tenant_claim: "tenant".into(),
        role_claim: "role".into(),
    })
    .map_err(anyhow::Error::msg)?;
    let rate = RateSettings { per_second: 0.0, burst: 1 };
    Ok(Authenticator::new(directory, AuthSettings { development_allowed: development, jwt: Some(jwt), rate }))
}

fn token(algorithm: Algorithm, kid: &str, file: &str, tenant: &TenantId) -> anyhow::Result<String> {
    let pem = std::fs::read(format!("{FIXTURES}/{file}"))?;
    let key = match algorithm {
        Algorithm::RS256 => EncodingKey::from_rsa_pem(&pem)?,
        _ => EncodingKey::from_ec_pem(&pem)?,
    };
    let claims = serde_json::json!({"tenant": tenant.as_str(), "role": "editor", "aud": "bench", "exp": eiq_datasets::now() + 3_600});
    Ok(jsonwebtoken::encode(&Header { kid: Some(kid.into()), ..Header::new(algorithm) }, &claims, &key)?)
}

/// Times `requests` authentications of `authorization` (empty: none, development mode).
async fn report(
    name: &str,
    authenticator: &Authenticator,
    authorization: &[u8],
    requests: usize,
) -> anyhow::Result<()> {
    let presented =
        Presented { authorization: (!authorization.is_empty()).then_some(authorization), tenant_header: None };
    let mut times: Vec<Duration> = Vec::with_capacity(requests);
    for _ in 0..requests {
        let started = Instant::now();
        authenticator.authenticate(presented, eiq_datasets::now()).await?;
        times.push(started.elapsed());
    }
    times.sort();
    let micros = |d: Duration| d.as_secs_f64() * 1e6;
    println!("{name:<28} {:>10.1} {:>10.1}", micros(percentile(&times, 0.5)), micros(percentile(&times, 0.99)));
    Ok(())
}
