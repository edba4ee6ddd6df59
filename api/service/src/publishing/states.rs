//! A post's lifecycle, as data: which states exist and which transitions each allows.
//!
//! ```text
//! draft ─submit─▶ submitted ─gate─▶ rejected            (block: the gate's reasons)
//!                              └──▶ pending_approval ─approve─▶ approved ─▶ scheduled
//!                              └──▶ approved (allow, when the tenant needs no approval)
//! scheduled ─scheduler─▶ publishing ─▶ published | failed (a delivery went to the dead letters)
//! failed ─retry─▶ publishing;   cancel: any state before publishing ─▶ cancelled
//! ```
//!
//! Every transition is one conditional `UPDATE … WHERE state IN (…)` in the store, so two callers
//! racing (an approve and a cancel, two replicas) cannot both win: the loser sees the state the
//! winner left and gets a 409 naming it.

use crate::error::ServiceError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostState {
    Draft,
    Submitted,
    PendingApproval,
    Rejected,
    Approved,
    Scheduled,
    Publishing,
    Published,
    Failed,
    Cancelled,
}

/// What a caller asks of a post.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    Submit,
    Approve,
    Reject,
    Cancel,
    Reschedule,
    /// Deliver a failed post's dead letters again.
    Retry,
}

impl PostState {
    pub const ALL: [PostState; 10] = [
        PostState::Draft,
        PostState::Submitted,
        PostState::PendingApproval,
        PostState::Rejected,
        PostState::Approved,
        PostState::Scheduled,
        PostState::Publishing,
        PostState::Published,
        PostState::Failed,
        PostState::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            PostState::Draft => "draft",
            PostState::Submitted => "submitted",
            PostState::PendingApproval => "pending_approval",
            PostState::Rejected => "rejected",
            PostState::Approved => "approved",
            PostState::Scheduled => "scheduled",
            PostState::Publishing => "publishing",
            PostState::Published => "published",
            PostState::Failed => "failed",
            PostState::Cancelled => "cancelled",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

impl Transition {
    pub fn as_str(self) -> &'static str {
        match self {
            Transition::Submit => "submit",
            Transition::Approve => "approve",
            Transition::Reject => "reject",
            Transition::Cancel => "cancel",
            Transition::Reschedule => "reschedule",
            Transition::Retry => "retry",
        }
    }

    /// The states this transition may start from. A post left `submitted` by a process that died
    /// during its gate check may be submitted again.
    pub fn from_states(self) -> &'static [PostState] {
        use PostState as S;
        match self {
            Transition::Submit => &[S::Draft, S::Submitted],
            Transition::Approve | Transition::Reject => &[S::PendingApproval],
            Transition::Cancel => &[S::Draft, S::Submitted, S::PendingApproval, S::Approved, S::Scheduled],
            Transition::Reschedule => &[S::Draft, S::PendingApproval, S::Approved, S::Scheduled],
            Transition::Retry => &[S::Failed],
        }
    }

    /// The 409 for a post in `state`.
    pub fn conflict(self, state: PostState) -> ServiceError {
        let allowed: Vec<&str> = self.from_states().iter().map(|s| s.as_str()).collect();
        ServiceError::Conflict {
            state: state.as_str().to_string(),
            message: format!(
                "cannot {} a post that is {}; only one that is {}",
                self.as_str(),
                state.as_str(),
                allowed.join(" or ")
            ),
        }
    }
}

/// `states` as SQL string literals for `state IN (…)` (names are fixed identifiers, not input).
pub fn sql_list(states: &[PostState]) -> String {
    states.iter().map(|s| format!("'{}'", s.as_str())).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_only_failed_posts_move_on() {
        for state in PostState::ALL {
            assert_eq!(PostState::parse(state.as_str()), Some(state));
        }
        let transitions =
            [Transition::Submit, Transition::Approve, Transition::Reject, Transition::Cancel, Transition::Reschedule];
        for transition in transitions {
            for last in [PostState::Publishing, PostState::Published, PostState::Cancelled] {
                assert!(!transition.from_states().contains(&last), "{} from {}", transition.as_str(), last.as_str());
            }
        }
        assert_eq!(Transition::Retry.from_states(), &[PostState::Failed]);
        let conflict = Transition::Approve.conflict(PostState::Draft).to_string();
        assert!(conflict.contains("is draft") && conflict.contains("pending_approval"), "{conflict}");
    }
}
