//! What each role may do: the one permission table.
//!
//! Every route of both protocols names the [`Permission`] it needs (`api/src/access.rs`), and the
//! server's edge asks [`Role::allows`] once, before any handler runs; handlers never check roles
//! themselves, so a new route cannot forget to. The table, as the README documents it:
//!
//! | permission       | admin | editor | approver | viewer | service |
//! |------------------|:-----:|:------:|:--------:|:------:|:-------:|
//! | `read`           |   ✓   |   ✓    |    ✓     |   ✓    |    ✓    |
//! | `moderate`       |   ✓   |   ✓    |    ✓     |        |    ✓    |
//! | `use_models`     |   ✓   |   ✓    |          |        |    ✓    |
//! | `import_history` |   ✓   |   ✓    |          |        |    ✓    |
//! | `write_posts`    |   ✓   |   ✓    |          |        |    ✓    |
//! | `approve_posts`  |   ✓   |        |    ✓     |        |         |
//! | `configure`      |   ✓   |        |          |        |         |
//! | `manage_keys`    |   ✓   |        |          |        |         |
//! | `read_audit`     |   ✓   |        |          |        |         |

use crate::tenancy::Role;

/// One kind of action on a tenant's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// Read the tenant's accounts, their analytics, the platform rules and the served models.
    Read,
    /// Check a text against the moderation gate, the platform rules and the moderation models:
    /// the checks that protect publishing.
    Moderate,
    /// Run the AI features: analysis, embeddings, captions, hashtags, images, similar posts.
    UseModels,
    /// Import post history.
    ImportHistory,
    /// Draft, submit, reschedule, cancel and retry posts for publishing.
    WritePosts,
    /// Approve or reject submitted posts.
    ApprovePosts,
    /// Change the tenant's settings (platform-rule overrides, publishing settings).
    Configure,
    /// Create, list and revoke the tenant's API keys.
    ManageKeys,
    /// Read the tenant's audit log.
    ReadAudit,
}

impl Permission {
    pub const ALL: [Permission; 9] = [
        Permission::Read,
        Permission::Moderate,
        Permission::UseModels,
        Permission::ImportHistory,
        Permission::WritePosts,
        Permission::ApprovePosts,
        Permission::Configure,
        Permission::ManageKeys,
        Permission::ReadAudit,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Read => "read",
            Permission::Moderate => "moderate",
            Permission::UseModels => "use_models",
            Permission::ImportHistory => "import_history",
            Permission::WritePosts => "write_posts",
            Permission::ApprovePosts => "approve_posts",
            Permission::Configure => "configure",
            Permission::ManageKeys => "manage_keys",
            Permission::ReadAudit => "read_audit",
        }
    }
}

impl Role {
    /// Whether this role holds `permission` (the table above).
    pub fn allows(self, permission: Permission) -> bool {
        use Permission as P;
        match self {
            Role::Admin => true,
            Role::Editor => {
                matches!(permission, P::Read | P::Moderate | P::UseModels | P::ImportHistory | P::WritePosts)
            }
            Role::Approver => matches!(permission, P::Read | P::Moderate | P::ApprovePosts),
            Role::Viewer => matches!(permission, P::Read),
            Role::Service => {
                matches!(permission, P::Read | P::Moderate | P::UseModels | P::ImportHistory | P::WritePosts)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The module's table, read back from its doc comment, is the one `allows` enforces.
    #[test]
    fn the_documented_table_is_the_enforced_one() {
        let doc = include_str!("access.rs");
        let roles = [Role::Admin, Role::Editor, Role::Approver, Role::Viewer, Role::Service];
        for permission in Permission::ALL {
            let row = doc
                .lines()
                .find(|line| line.starts_with(&format!("//! | `{}`", permission.as_str())))
                .unwrap_or_else(|| panic!("{} is documented", permission.as_str()));
            let cells: Vec<&str> = row.split('|').skip(2).take(5).map(str::trim).collect();
            for (role, cell) in roles.iter().zip(cells) {
                assert_eq!(role.allows(permission), cell == "✓", "{} × {}", role.as_str(), permission.as_str());
            }
        }
    }
}
