//! Tenants and API keys on both databases: SQLite always, and PostgreSQL when
//! `EIQ_TEST_DATABASE_URL` names one (`.ci/run` sets it; without it this says so and runs SQLite).
//! Names carry a random suffix, since a PostgreSQL database outlives test runs.

mod common;

use common::{databases, unique};

use eiq_service::tenancy::Role;
use eiq_service::tenants::{Database, Plan, TenantDirectory, prefix_of};

#[tokio::test]
async fn tenants_and_keys_behave_alike_on_every_database() {
    let dir = tempfile::tempdir().unwrap();
    for (backend, _, database) in databases(dir.path()).await {
        let directory = TenantDirectory::new(database);
        let (acme, other) = (unique("acme"), unique("other"));
        let now = 1_800_000_000;

        // A tenant comes with its first admin key, which authenticates as that tenant's admin.
        let first = directory.create_tenant(&acme, Plan::Professional, now).await.unwrap();
        assert_eq!(directory.plan(&acme).await.unwrap(), Plan::Professional, "{backend}");
        assert!(directory.has_tenants().await.unwrap());
        let identity = directory.authenticate(&first.key, now).await.unwrap().expect(backend);
        assert_eq!((identity.tenant.as_str(), identity.role), (acme.as_str(), Role::Admin));
        assert_eq!(Some(identity.prefix.as_str()), prefix_of(&first.key));
        let again = directory.create_tenant(&acme, Plan::Starter, now).await.unwrap_err();
        assert!(again.to_string().contains("exists already"), "{backend}: {again}");

        // Keys expire, can be revoked, and are listed without their secret.
        let viewer = directory.create_key(&acme, Role::Viewer, "dashboard", Some(1), now).await.unwrap();
        assert_eq!(directory.authenticate(&viewer.key, now).await.unwrap().unwrap().role, Role::Viewer);
        assert!(directory.authenticate(&viewer.key, now + 86_400).await.unwrap().is_none(), "{backend}: expired");
        let listed = directory.list_keys(&acme).await.unwrap();
        assert_eq!(listed.len(), 2, "{backend}");
        assert!(listed.iter().any(|k| k.prefix == viewer.info.prefix && k.expires_at == Some(now + 86_400)));
        directory.revoke_key(&acme, &first.info.prefix, now + 5).await.unwrap();
        assert!(directory.authenticate(&first.key, now + 6).await.unwrap().is_none(), "{backend}: revoked");
        let listed = directory.list_keys(&acme).await.unwrap();
        assert_eq!(listed.iter().find(|k| k.prefix == first.info.prefix).unwrap().revoked_at, Some(now + 5));

        // Another tenant cannot revoke acme's key, and a forged or altered key is refused.
        directory.create_tenant(&other, Plan::Starter, now).await.unwrap();
        assert!(directory.revoke_key(&other, &viewer.info.prefix, now).await.is_err(), "{backend}");
        let mut forged = viewer.key.clone();
        let last = forged.pop().unwrap();
        forged.push(if last == '0' { '1' } else { '0' });
        assert!(directory.authenticate(&forged, now).await.unwrap().is_none(), "{backend}: forged");
        for junk in ["", "Bearer", "eiq_", &"a".repeat(10_000)] {
            assert!(directory.authenticate(junk, now).await.unwrap().is_none());
        }

        // Bad input names its field; an unknown tenant is not found.
        assert_eq!(Plan::parse("plan", "gold").unwrap_err().param(), Some("plan"));
        let err = directory.create_key(&acme, Role::Editor, "x", Some(0), now).await.unwrap_err();
        assert_eq!(err.param(), Some("expires_in_days"));
        let err = directory.create_key(&unique("ghost"), Role::Editor, "x", None, now).await.unwrap_err();
        assert!(err.to_string().contains("no tenant"), "{err}");
    }
}

#[tokio::test]
async fn the_embedded_database_keeps_its_tenants_across_opens() {
    let dir = tempfile::tempdir().unwrap();
    let tenant = unique("kept");
    let key = {
        let directory = TenantDirectory::new(Database::embedded(dir.path()).await.unwrap());
        directory.create_tenant(&tenant, Plan::Enterprise, 1_800_000_000).await.unwrap().key
    };
    let directory = TenantDirectory::new(Database::embedded(dir.path()).await.unwrap());
    let identity = directory.authenticate(&key, 1_800_000_001).await.unwrap().unwrap();
    assert_eq!(identity.tenant, tenant);
    assert!(dir.path().join("eiq.db").is_file());
    let Err(refused) = Database::open("mysql://x").await else { panic!("mysql accepted") };
    assert!(refused.to_string().contains("sqlite: or postgres://"), "{refused}");
}
