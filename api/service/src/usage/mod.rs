//! Metering and quotas, per tenant and calendar month (UTC).
//!
//! - **Counting** ([`UsageMeter::count`]): API calls and AI-generated posts are counted in memory
//!   and added to the store every second (and at shutdown) with one upsert per counter, so a
//!   request never waits on a write, and replicas' counts add up.
//! - **Consuming** ([`UsageMeter::consume`]): a limited metric (posts per month) is taken in one
//!   conditional `UPDATE … WHERE count + n <= limit RETURNING count`, so two replicas can never
//!   both take the last unit. Past the limit the answer is [`ServiceError::QuotaExceeded`] with the
//!   plan's name and the time until the month rolls over; from 80 % on, the consumption says so,
//!   for the warning header and a one-time audit event.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{Datelike, TimeZone, Utc};

use crate::error::ServiceError;
use crate::tenancy::{Principal, TenantId};
use crate::tenants::{Database, Plan, PlanBook, PlanLimits};

/// What is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    ApiCalls,
    AiGeneratedPosts,
    PublishedPosts,
}

impl Metric {
    pub const ALL: [Metric; 3] = [Metric::ApiCalls, Metric::AiGeneratedPosts, Metric::PublishedPosts];

    pub fn as_str(self) -> &'static str {
        match self {
            Metric::ApiCalls => "api_calls",
            Metric::AiGeneratedPosts => "ai_generated_posts",
            Metric::PublishedPosts => "published_posts",
        }
    }
}

/// The share of a quota from which callers are warned.
pub const WARNING_SHARE: f64 = 0.8;

/// A period's counts for one tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Usage {
    pub tenant: String,
    /// `YYYY-MM`.
    pub period: String,
    pub counts: Vec<(Metric, u64)>,
}

impl Usage {
    pub fn count(&self, metric: Metric) -> u64 {
        self.counts.iter().find(|(m, _)| *m == metric).map_or(0, |(_, n)| *n)
    }
}

/// A tenant's usage beside its plan's limits.
#[derive(Debug, Clone)]
pub struct UsageReport {
    pub usage: Usage,
    /// `None` in development mode, which no plan limits.
    pub plan: Option<Plan>,
    pub limits: Option<PlanLimits>,
}

/// What a consumption left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Consumption {
    pub used: u64,
    pub limit: Option<u64>,
    /// At or past [`WARNING_SHARE`] of the limit.
    pub warning: bool,
    /// This consumption crossed into the warning share (audit it once).
    pub crossed_warning: bool,
}

type Pending = HashMap<(TenantId, String, Metric), u64>;

/// Counters over the tenant database; cheap to clone.
#[derive(Clone)]
pub struct UsageMeter {
    database: Database,
    pending: Arc<Mutex<Pending>>,
}

/// The month `at_ms` falls in, `YYYY-MM` (UTC).
pub fn period_of(at_ms: i64) -> String {
    let at = Utc.timestamp_millis_opt(at_ms).single().unwrap_or_default();
    format!("{:04}-{:02}", at.year(), at.month())
}

/// Time from `at_ms` to the start of the next month (UTC).
pub fn until_next_period(at_ms: i64) -> Duration {
    let at = Utc.timestamp_millis_opt(at_ms).single().unwrap_or_default();
    let (year, month) = if at.month() == 12 { (at.year() + 1, 1) } else { (at.year(), at.month() + 1) };
    let next = Utc.with_ymd_and_hms(year, month, 1, 0, 0, 0).single().unwrap_or(at);
    (next - at).to_std().unwrap_or(Duration::from_secs(1))
}

impl UsageMeter {
    pub fn new(database: Database) -> Self {
        Self { database, pending: Arc::new(Mutex::new(HashMap::new())) }
    }

    /// Adds `n` to `tenant`'s `metric` for the month of `at_ms`; stored at the next flush.
    pub fn count(&self, tenant: &TenantId, metric: Metric, n: u64, at_ms: i64) {
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        *pending.entry((tenant.clone(), period_of(at_ms), metric)).or_default() += n;
    }

    /// Adds every pending count to the store. Counts that fail to store are kept for the next try.
    pub async fn flush(&self) -> Result<(), ServiceError> {
        let batch = std::mem::take(&mut *self.pending.lock().unwrap_or_else(|p| p.into_inner()));
        let mut failed: Option<ServiceError> = None;
        for ((tenant, period, metric), n) in batch {
            if failed.is_none() {
                match self.add(&tenant, &period, metric, n).await {
                    Ok(()) => continue,
                    Err(err) => failed = Some(err),
                }
            }
            *self.pending.lock().unwrap_or_else(|p| p.into_inner()).entry((tenant, period, metric)).or_default() += n;
        }
        failed.map_or(Ok(()), Err)
    }

    /// Flushes every `every` until the process ends.
    pub fn spawn_flusher(&self, every: Duration) {
        let meter = self.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            loop {
                ticks.tick().await;
                if let Err(error) = meter.flush().await {
                    tracing::warn!(%error, "storing usage counts failed; retrying");
                }
            }
        });
    }

    async fn add(&self, tenant: &TenantId, period: &str, metric: Metric, n: u64) -> Result<(), ServiceError> {
        let statement = "INSERT INTO usage_counts (tenant, period, metric, count) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (tenant, period, metric) DO UPDATE SET count = usage_counts.count + excluded.count";
        self.change_count(statement, tenant, period, metric, n).await
    }

    /// Runs `statement` on one counter: `$1` tenant, `$2` period, `$3` metric, `$4` `n`.
    async fn change_count(
        &self,
        statement: &str,
        tenant: &TenantId,
        period: &str,
        metric: Metric,
        n: u64,
    ) -> Result<(), ServiceError> {
        sqlx::query(statement)
            .bind(tenant.as_str())
            .bind(period)
            .bind(metric.as_str())
            .bind(n as i64)
            .execute(&self.database.pool)
            .await
            .map_err(sql)?;
        Ok(())
    }

    /// Takes `n` of `metric` for the month of `at_ms`, within `limit` (the `plan`'s) when there is
    /// one; all or nothing.
    pub async fn consume(
        &self,
        tenant: &TenantId,
        metric: Metric,
        n: u64,
        limit: Option<u64>,
        plan: Plan,
        at_ms: i64,
    ) -> Result<Consumption, ServiceError> {
        let period = period_of(at_ms);
        let mut transaction = self.database.pool.begin().await.map_err(sql)?;
        sqlx::query(
            "INSERT INTO usage_counts (tenant, period, metric, count) VALUES ($1, $2, $3, 0) \
             ON CONFLICT (tenant, period, metric) DO NOTHING",
        )
        .bind(tenant.as_str())
        .bind(&period)
        .bind(metric.as_str())
        .execute(&mut *transaction)
        .await
        .map_err(sql)?;
        let taken: Option<(i64,)> = sqlx::query_as(
            "UPDATE usage_counts SET count = count + $4 WHERE tenant = $1 AND period = $2 AND metric = $3 \
             AND count + $4 <= $5 RETURNING count",
        )
        .bind(tenant.as_str())
        .bind(&period)
        .bind(metric.as_str())
        .bind(n as i64)
        .bind(limit.map_or(i64::MAX, |l| l.min(i64::MAX as u64) as i64))
        .fetch_optional(&mut *transaction)
        .await
        .map_err(sql)?;
        transaction.commit().await.map_err(sql)?;
        let Some((used,)) = taken else {
            let limit = limit.unwrap_or_default();
            return Err(ServiceError::QuotaExceeded {
                plan: plan.as_str().to_string(),
                message: format!(
                    "the {} plan allows {limit} {} a month, and {period} has used them",
                    plan.as_str(),
                    metric.as_str().replace('_', " ")
                ),
                retry_after: until_next_period(at_ms),
            });
        };
        let used = used as u64;
        let threshold = |l: u64| (l as f64 * WARNING_SHARE).ceil() as u64;
        let warning = limit.is_some_and(|l| used >= threshold(l));
        let crossed_warning = limit.is_some_and(|l| used >= threshold(l) && used - n < threshold(l));
        Ok(Consumption { used, limit, warning, crossed_warning })
    }

    /// Gives back `n` of `metric` taken for the month of `at_ms` (a cancelled post); never below 0.
    pub async fn release(&self, tenant: &TenantId, metric: Metric, n: u64, at_ms: i64) -> Result<(), ServiceError> {
        let statement = "UPDATE usage_counts SET count = count - $4 WHERE tenant = $1 AND period = $2 \
             AND metric = $3 AND count >= $4";
        self.change_count(statement, tenant, &period_of(at_ms), metric, n).await
    }

    /// `tenant`'s counts for `period` (`YYYY-MM`), stored ones plus those not yet flushed.
    pub async fn usage(&self, tenant: &TenantId, period: &str) -> Result<Usage, ServiceError> {
        let rows: Vec<(String, i64)> =
            sqlx::query_as("SELECT metric, count FROM usage_counts WHERE tenant = $1 AND period = $2")
                .bind(tenant.as_str())
                .bind(period)
                .fetch_all(&self.database.pool)
                .await
                .map_err(sql)?;
        let pending = self.pending.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let counts = Metric::ALL
            .into_iter()
            .map(|metric| {
                let stored = rows.iter().find(|(m, _)| m == metric.as_str()).map_or(0, |(_, c)| *c as u64);
                let unflushed = pending.get(&(tenant.clone(), period.to_string(), metric)).copied().unwrap_or(0);
                (metric, stored + unflushed)
            })
            .collect();
        Ok(Usage { tenant: tenant.as_str().to_string(), period: period.to_string(), counts })
    }

    /// The caller's tenant's usage for `period` (default: the month of `now_ms`) and its plan.
    pub async fn report(
        &self,
        principal: &Principal,
        plans: &PlanBook,
        period: Option<&str>,
        now_ms: i64,
    ) -> Result<UsageReport, ServiceError> {
        let period = match period {
            Some(text) => parse_period("period", text)?,
            None => period_of(now_ms),
        };
        let usage = self.usage(&principal.tenant, &period).await?;
        let limits = principal.plan.map(|plan| plans.limits(plan).clone());
        Ok(UsageReport { usage, plan: principal.plan, limits })
    }

    /// Every tenant's stored counts for the periods `from..=to` (`YYYY-MM`), for billing.
    pub async fn export(&self, from: &str, to: &str) -> Result<Vec<Usage>, ServiceError> {
        let rows: Vec<(String, String, String, i64)> = sqlx::query_as(
            "SELECT tenant, period, metric, count FROM usage_counts WHERE period >= $1 AND period <= $2 \
             ORDER BY tenant, period",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.database.pool)
        .await
        .map_err(sql)?;
        let mut usages: Vec<Usage> = Vec::new();
        for (tenant, period, metric, count) in rows {
            let Some(metric) = Metric::ALL.into_iter().find(|m| m.as_str() == metric) else { continue };
            if !usages.last().is_some_and(|u| u.tenant == tenant && u.period == period) {
                let counts = Metric::ALL.into_iter().map(|m| (m, 0)).collect();
                usages.push(Usage { tenant, period, counts });
            }
            if let Some(slot) = usages.last_mut().and_then(|u| u.counts.iter_mut().find(|(m, _)| *m == metric)) {
                slot.1 = count as u64;
            }
        }
        Ok(usages)
    }
}

/// `YYYY-MM`, checked; `field` names it in the error.
pub fn parse_period(field: &str, text: &str) -> Result<String, ServiceError> {
    let valid = text.len() == 7
        && text.as_bytes()[4] == b'-'
        && text[..4].bytes().all(|b| b.is_ascii_digit())
        && text[5..].parse::<u32>().is_ok_and(|m| (1..=12).contains(&m));
    if valid {
        Ok(text.to_string())
    } else {
        Err(ServiceError::invalid(field, format!("{field} must be a month, YYYY-MM")))
    }
}

fn sql(error: sqlx::Error) -> ServiceError {
    ServiceError::internal("usage", error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_are_utc_months() {
        let at = Utc.with_ymd_and_hms(2026, 12, 31, 23, 0, 0).unwrap().timestamp_millis();
        assert_eq!(period_of(at), "2026-12");
        assert_eq!(until_next_period(at), Duration::from_secs(3_600));
        assert!(parse_period("period", "2026-13").is_err());
        assert!(parse_period("period", "2026-1").is_err());
        assert_eq!(parse_period("period", "2026-02").unwrap(), "2026-02");
    }
}
