//! A fix's life in one session, as values: the plan with what the server said about it
//! (dry run, permission), then the applied fix with its verification and undo. The app
//! moves a fix through these states; the UI shows them.

use serde::{Deserialize, Serialize};

use super::plan::FixPlan;
use super::verify::Verdict;
use crate::domain::time::Timestamp;

/// What the server-side dry run (`dryRun=All`) said about the plan's write.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "dry_run", content = "detail", rename_all = "kebab-case")]
pub enum DryRun {
    /// Admission and validation accepted it.
    Passed,
    /// The server would refuse it, and why.
    Failed(String),
    /// Not sent (a refused plan, or a create whose object is only built at apply).
    NotRun(String),
}

/// Whether the user may make the write, from a SelfSubjectAccessReview.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "permission", rename_all = "kebab-case")]
pub enum Permission {
    Allowed,
    /// `needs` reads like "patch configmaps in namespace kube-system".
    Denied {
        needs: String,
        reason: Option<String>,
    },
    /// Writes are off: no review was asked for, since apply is not offered.
    NotChecked,
    /// The review itself failed.
    Unknown {
        why: String,
    },
}

impl DryRun {
    /// "passed (dryRun=All)", "refused: …", "not run: …".
    pub fn describe(&self) -> String {
        match self {
            DryRun::Passed => "passed (dryRun=All)".to_string(),
            DryRun::Failed(why) => format!("refused: {why}"),
            DryRun::NotRun(why) => format!("not run: {why}"),
        }
    }
}

impl Permission {
    /// "allowed", "denied: you would need to patch configmaps in namespace kube-system (…)",
    /// as the fix window and `kockpit fix show` print it.
    pub fn describe(&self) -> String {
        match self {
            Permission::Allowed => "allowed".to_string(),
            Permission::Denied { needs, reason } => format!(
                "denied: you would need to {needs}{}",
                reason
                    .as_deref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            ),
            Permission::NotChecked => "not checked (writes are off)".to_string(),
            Permission::Unknown { why } => format!("unknown: {why}"),
        }
    }
}

/// A plan ready to show: the plan, the dry run, the permission, whether writes are on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreparedFix {
    pub finding_id: String,
    pub plan: FixPlan,
    pub dry_run: DryRun,
    pub permission: Permission,
    /// `--allow-writes` (or `allow_writes = true` in the configuration).
    pub writes_allowed: bool,
    /// Set when this plan was rebuilt because the object changed before the apply.
    pub replanned: Option<String>,
}

impl PreparedFix {
    /// Why the plan cannot be applied from here, if it cannot; `None` means apply is offered.
    pub fn blocked(&self) -> Option<String> {
        if let Some(refusal) = &self.plan.refusal {
            return Some(format!("refused: {refusal}"));
        }
        if !self.writes_allowed {
            return Some(
                "writes are off: start kockpit with --allow-writes to apply; export works".into(),
            );
        }
        match &self.permission {
            Permission::Denied { needs, .. } => {
                return Some(format!("not permitted: you would need to {needs}"));
            }
            Permission::Unknown { why } => {
                return Some(format!("cannot check permission: {why}"));
            }
            Permission::Allowed | Permission::NotChecked => {}
        }
        match &self.dry_run {
            DryRun::Failed(why) => Some(format!("the server's dry run refused it: {why}")),
            DryRun::Passed | DryRun::NotRun(_) => None,
        }
    }
}

/// Where an applied fix stands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum FixStatus {
    /// Watching the success condition.
    Verifying,
    Verified {
        after: Vec<(String, String)>,
    },
    /// Failed outright, or the deadline passed with the condition not met.
    NotVerified {
        why: String,
    },
    Undoing,
    Undone,
    UndoFailed {
        why: String,
    },
}

impl FixStatus {
    pub fn label(&self) -> &'static str {
        match self {
            FixStatus::Verifying => "verifying",
            FixStatus::Verified { .. } => "worked",
            FixStatus::NotVerified { .. } => "did not work",
            FixStatus::Undoing => "undoing",
            FixStatus::Undone => "undone",
            FixStatus::UndoFailed { .. } => "undo failed",
        }
    }

    /// The fix is on the cluster and can be undone.
    pub fn undoable(&self) -> bool {
        matches!(
            self,
            FixStatus::Verifying
                | FixStatus::Verified { .. }
                | FixStatus::NotVerified { .. }
                | FixStatus::UndoFailed { .. }
        )
    }
}

/// A fix the server accepted, with what undo needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AppliedFix {
    pub finding_id: String,
    pub plan: FixPlan,
    /// The cluster's clock when the apply was accepted; only data from then on verifies it.
    pub applied_at: Timestamp,
    /// The object's resourceVersion and uid after the apply: the undo's precondition.
    pub resource_version: String,
    pub uid: String,
    pub status: FixStatus,
    /// The batch this fix was applied in (the lead plan's id): a batch is undone as a whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<String>,
}

impl AppliedFix {
    /// Moves a verifying fix on, from the verdict on the latest data at `now`.
    /// Returns true when the status changed.
    pub fn judge(&mut self, verdict: Verdict, now: Timestamp) -> bool {
        if self.status != FixStatus::Verifying {
            return false;
        }
        let deadline = self.applied_at
            + chrono::Duration::from_std(self.plan.verify.within)
                .unwrap_or_else(|_| chrono::Duration::minutes(5));
        self.status = match verdict {
            Verdict::Succeeded { after } => FixStatus::Verified { after },
            Verdict::Failed { why } => FixStatus::NotVerified { why },
            Verdict::Pending if now > deadline => FixStatus::NotVerified {
                why: format!(
                    "the success condition did not hold within {}",
                    crate::domain::time::format_duration(self.plan.verify.within)
                ),
            },
            Verdict::Pending => return false,
        };
        true
    }
}
