//! Tenants and keys made straight in a server's database, as `eiq tenants create` and
//! `eiq keys create` would.

use eiq_service::tenancy::{Role, TenantId};
use eiq_service::tenants::{Database, Plan, TenantDirectory};

pub const ROLES: [Role; 5] = [Role::Admin, Role::Editor, Role::Approver, Role::Viewer, Role::Service];

/// The tenant directory of the SQLite database in `data`.
pub async fn directory(data: &str) -> TenantDirectory {
    TenantDirectory::new(Database::embedded(std::path::Path::new(data)).await.unwrap())
}

pub fn now() -> i64 {
    eiq_datasets::now()
}

/// `tenant` on `plan`, and a key of each role: (role, key).
pub async fn tenant_with_keys(directory: &TenantDirectory, name: &str, plan: Plan) -> Vec<(Role, String)> {
    let tenant = TenantId::parse(name).unwrap();
    let admin = directory.create_tenant(&tenant, plan, now()).await.unwrap().key;
    let mut keys = vec![(Role::Admin, admin)];
    for role in &ROLES[1..] {
        keys.push((*role, directory.create_key(&tenant, *role, "test", None, now()).await.unwrap().key));
    }
    keys
}

pub fn key_of(keys: &[(Role, String)], role: Role) -> String {
    keys.iter().find(|(r, _)| *r == role).unwrap().1.clone()
}
