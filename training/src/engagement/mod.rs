//! The engagement forecaster: feature rows in, log1p(engagement) out, scored against the
//! baselines a team would otherwise use.

mod baselines;
pub mod card;
pub mod draft;
pub mod forecaster;
pub mod gbdt;
pub mod metrics;
pub mod ridge;
pub mod rows;
pub mod split;

pub use card::model_card;
pub use draft::{AccountState, Draft, draft_rows};
pub use forecaster::{EngagementModel, Evaluation, Forecast, MethodScore, train_forecaster};
pub use gbdt::GbdtParams;
pub use rows::{Design, PostRow, rows};
