//! The retention job: each tenant's analytics history is kept for its plan's `retention_months`
//! and no longer. Run by `eiq serve` at start-up and then every `--retention-interval-secs`;
//! every deletion is a `retention.prune` row in the tenant's audit log. Replicas may all run it:
//! a prune holds the tenant's history lock, and a second one finds nothing left to delete.

use std::time::Duration;

use chrono::{Months, Utc};

use crate::audit::{AuditEvent, AuditLog};
use crate::engagement::HistoryService;
use crate::error::ServiceError;
use crate::tenancy::TenantId;
use crate::tenants::TenantDirectory;

#[derive(Clone)]
pub struct RetentionJob {
    pub directory: TenantDirectory,
    pub history: HistoryService,
    pub audit: AuditLog,
}

impl RetentionJob {
    /// Prunes every tenant whose plan limits retention; the posts deleted per tenant.
    pub async fn run_once(&self) -> Result<Vec<(TenantId, usize)>, ServiceError> {
        let now = Utc::now();
        let mut pruned = Vec::new();
        for (tenant, plan) in self.directory.tenants().await? {
            let Some(months) = self.directory.plans().limits(plan).retention_months else { continue };
            let Some(cut) = now.checked_sub_months(Months::new(months)) else { continue };
            let deleted = self.history.prune(&tenant, cut.timestamp()).await?;
            if deleted == 0 {
                continue;
            }
            let event = AuditEvent {
                tenant: Some(tenant.clone()),
                actor: "retention".into(),
                auth_method: "local".into(),
                event: "retention.prune".into(),
                resource: "history".into(),
                action: "delete posts older than the plan's retention".into(),
                outcome: "succeeded".into(),
                details: serde_json::json!({
                    "plan": plan.as_str(), "retention_months": months, "before": cut.timestamp(), "deleted": deleted,
                }),
                ..AuditEvent::default()
            };
            self.audit.append(event, now.timestamp_millis()).await?;
            pruned.push((tenant, deleted));
        }
        Ok(pruned)
    }

    /// Runs now, then every `every`, until the process ends.
    pub fn spawn(self, every: Duration) {
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            loop {
                ticks.tick().await;
                match self.run_once().await {
                    Ok(pruned) => {
                        for (tenant, deleted) in pruned {
                            tracing::info!(%tenant, deleted, "retention: deleted posts older than the plan keeps");
                        }
                    }
                    Err(error) => tracing::warn!(%error, "retention job failed; it runs again later"),
                }
            }
        });
    }
}
