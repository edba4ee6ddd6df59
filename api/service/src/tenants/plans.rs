//! What each plan includes, as data (`plans.toml`, compiled in; an operator may replace it with
//! `eiq serve --plans FILE`). The guard reads `ai_features` and `sso`, key creation `users`, the
//! usage meter `posts_per_month`, and the retention job `retention_months`.

use std::path::Path;

use serde::Deserialize;

use super::Plan;

const BUILTIN: &str = include_str!("plans.toml");

/// One plan's limits; `None` is unlimited.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanLimits {
    pub users: Option<u64>,
    pub accounts: Option<u64>,
    pub posts_per_month: Option<u64>,
    pub ai_features: bool,
    pub sso: bool,
    pub retention_months: Option<u32>,
}

/// The three plans' limits.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanBook {
    starter: PlanLimits,
    professional: PlanLimits,
    enterprise: PlanLimits,
}

impl PlanBook {
    pub fn builtin() -> Self {
        Self::from_toml(BUILTIN).expect("the built-in plans parse (tested)")
    }

    /// An operator's table: every plan, every field (limits may be left out: unlimited).
    pub fn from_file(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("reading the plans file: {e}"))?;
        Self::from_toml(&text)
    }

    fn from_toml(text: &str) -> Result<Self, String> {
        let book: Self = toml::from_str(text).map_err(|e| format!("the plans file: {e}"))?;
        let months = [&book.starter, &book.professional, &book.enterprise].map(|p| p.retention_months);
        if months.iter().flatten().any(|&m| m == 0) {
            return Err("the plans file: retention_months must be at least 1".into());
        }
        Ok(book)
    }

    pub fn limits(&self, plan: Plan) -> &PlanLimits {
        match plan {
            Plan::Starter => &self.starter,
            Plan::Professional => &self.professional,
            Plan::Enterprise => &self.enterprise,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_plans_are_the_products() {
        let book = PlanBook::builtin();
        let starter = book.limits(Plan::Starter);
        assert_eq!((starter.users, starter.accounts, starter.posts_per_month), (Some(1), Some(10), Some(300)));
        assert!(!starter.ai_features && !starter.sso);
        assert_eq!(starter.retention_months, Some(3));
        let professional = book.limits(Plan::Professional);
        assert_eq!(professional.posts_per_month, Some(1_500));
        assert!(professional.ai_features && !professional.sso);
        let enterprise = book.limits(Plan::Enterprise);
        assert_eq!((enterprise.users, enterprise.posts_per_month, enterprise.retention_months), (None, None, None));
        assert!(enterprise.ai_features && enterprise.sso);
        assert!(PlanBook::from_toml("[starter]\nai_features = true").is_err());
    }
}
