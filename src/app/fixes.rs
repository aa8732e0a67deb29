//! Carrying out fix jobs against the cluster: read the object and plan on it, ask the server
//! for a dry run and for permission, apply with the plan's precondition (re-planning when
//! someone else changed the object first), undo. Before any write is sent, an audit line
//! saying it is about to be is appended: when that fails (disk full, unwritable, no state
//! directory) nothing is written. Each write's outcome comes back with the audit line that
//! records how it ended. The TUI and `kockpit fix` share this code.

use std::path::Path;

use serde_json::Value;

use super::audit::{self, AuditEntry};
use crate::backend::writer::{ClusterWriter, Mode, WriteError, verb_of};
use crate::domain::Finding;
use crate::domain::fix::batch::{PreparedBatch, Unplanned};
use crate::domain::fix::session::{DryRun, Permission, PreparedFix};
use crate::domain::fix::{self, FixPlan, Operation, PlanContext, Precondition};

/// What to do, with everything needed to do it.
#[derive(Debug, Clone, PartialEq)]
pub enum FixJob {
    /// Read the finding's object, plan the fix, dry-run it and check permission.
    Prepare {
        finding: Box<Finding>,
        context: Box<PlanContext>,
        writes_allowed: bool,
    },
    /// Apply a prepared plan. The finding and context are kept to re-plan after a conflict.
    Apply {
        prepared: Box<PreparedFix>,
        finding: Box<Finding>,
        context: Box<PlanContext>,
    },
    /// Apply the inverse of an applied fix, guarded by what the apply returned.
    Undo {
        plan: Box<FixPlan>,
        resource_version: String,
        uid: String,
    },
    /// Plan one fix on several objects: each read, planned, dry-run and checked on its own.
    PrepareBatch {
        items: Vec<(Finding, PlanContext)>,
        writes_allowed: bool,
    },
    /// Apply a confirmed batch one object at a time, stopping at the first that fails.
    ApplyBatch {
        batch: String,
        items: Vec<BatchItem>,
    },
    /// Undo the fixes of a batch, newest first.
    UndoBatch { items: Vec<UndoItem> },
}

/// One object of a batch to apply: its plan, and what re-planning it would need.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchItem {
    pub prepared: PreparedFix,
    pub finding: Finding,
    pub context: PlanContext,
}

/// One applied fix to undo, with the version and uid its apply returned.
#[derive(Debug, Clone, PartialEq)]
pub struct UndoItem {
    pub plan: FixPlan,
    pub resource_version: String,
    pub uid: String,
}

/// How a job ended.
#[derive(Debug, Clone, PartialEq)]
pub enum FixOutcome {
    Prepared(Box<PreparedFix>),
    /// No plan could be made (the object is gone, unreadable, or does not fit the fix).
    PrepareFailed {
        finding_id: String,
        error: String,
    },
    /// The server accepted the write.
    Applied {
        prepared: Box<PreparedFix>,
        resource_version: String,
        uid: String,
        audit: Box<AuditEntry>,
    },
    /// The object changed after the plan was made: here is the plan on the object as it is
    /// now, to be confirmed again. Nothing was written.
    Replanned {
        prepared: Box<PreparedFix>,
        audit: Box<AuditEntry>,
    },
    /// The write was refused or failed.
    ApplyFailed {
        prepared: Box<PreparedFix>,
        error: String,
        audit: Box<AuditEntry>,
    },
    Undone {
        fix_id: String,
        audit: Box<AuditEntry>,
    },
    UndoFailed {
        fix_id: String,
        error: String,
        audit: Option<Box<AuditEntry>>,
    },
    BatchPrepared(Box<PreparedBatch>),
    /// How a batch apply went: an `Applied` per object written, in order, then the outcome
    /// that stopped it if one did; `not_tried` names the objects after it.
    BatchApplied {
        batch: String,
        outcomes: Vec<FixOutcome>,
        not_tried: Vec<String>,
    },
    /// An `Undone` or `UndoFailed` per fix of the batch.
    BatchUndone {
        outcomes: Vec<FixOutcome>,
    },
}

impl FixOutcome {
    /// The audit lines this outcome carries, one per write it made (or tried to make).
    pub fn audits(&self) -> Vec<&AuditEntry> {
        match self {
            FixOutcome::Applied { audit, .. }
            | FixOutcome::Replanned { audit, .. }
            | FixOutcome::ApplyFailed { audit, .. }
            | FixOutcome::Undone { audit, .. } => vec![audit],
            FixOutcome::UndoFailed { audit, .. } => audit.as_deref().into_iter().collect(),
            FixOutcome::BatchApplied { outcomes, .. } | FixOutcome::BatchUndone { outcomes } => {
                outcomes.iter().flat_map(FixOutcome::audits).collect()
            }
            FixOutcome::Prepared(_)
            | FixOutcome::PrepareFailed { .. }
            | FixOutcome::BatchPrepared(_) => Vec::new(),
        }
    }
}

/// Runs `job`; `audit_log` is where the line announcing each write goes first (the outcome's
/// own line is the caller's to write, as it is shown).
pub async fn run(writer: &ClusterWriter, job: FixJob, audit_log: Option<&Path>) -> FixOutcome {
    match job {
        FixJob::Prepare {
            finding,
            context,
            writes_allowed,
        } => match prepare(writer, &finding, &context, writes_allowed).await {
            Ok(prepared) => FixOutcome::Prepared(Box::new(prepared)),
            Err(error) => FixOutcome::PrepareFailed {
                finding_id: finding.id.clone(),
                error,
            },
        },
        FixJob::Apply {
            prepared,
            finding,
            context,
        } => apply(writer, *prepared, &finding, &context, audit_log).await,
        FixJob::Undo {
            plan,
            resource_version,
            uid,
        } => undo(writer, &plan, &resource_version, &uid, audit_log).await,
        FixJob::PrepareBatch {
            items,
            writes_allowed,
        } => prepare_batch(writer, &items, writes_allowed).await,
        FixJob::ApplyBatch { batch, items } => apply_batch(writer, batch, items, audit_log).await,
        FixJob::UndoBatch { items } => {
            let mut outcomes = Vec::new();
            for item in items {
                outcomes.push(
                    undo(
                        writer,
                        &item.plan,
                        &item.resource_version,
                        &item.uid,
                        audit_log,
                    )
                    .await,
                );
            }
            FixOutcome::BatchUndone { outcomes }
        }
    }
}

/// Plans every object of a batch in turn. One that cannot be planned is listed, not fatal:
/// the others are still offered.
async fn prepare_batch(
    writer: &ClusterWriter,
    items: &[(Finding, PlanContext)],
    writes_allowed: bool,
) -> FixOutcome {
    let mut plans = Vec::new();
    let mut unplanned = Vec::new();
    for (finding, context) in items {
        match prepare(writer, finding, context, writes_allowed).await {
            Ok(prepared) => plans.push(prepared),
            Err(error) => unplanned.push(Unplanned {
                finding_id: finding.id.clone(),
                object: finding.object.to_string(),
                error,
            }),
        }
    }
    let first = items.first().map(|(f, _)| f.id.clone()).unwrap_or_default();
    match PreparedBatch::from_plans(plans, unplanned.clone()) {
        Some(batch) => FixOutcome::BatchPrepared(Box::new(batch)),
        None => FixOutcome::PrepareFailed {
            finding_id: first,
            error: unplanned
                .iter()
                .map(|u| format!("{}: {}", u.object, u.error))
                .collect::<Vec<_>>()
                .join("; "),
        },
    }
}

/// Applies a batch one object at a time, each with its own precondition and audit line, and
/// stops at the first that is not applied (refused, failed, or changed since the plan): what
/// follows is not tried, and what went before stays applied, to be verified or undone.
async fn apply_batch(
    writer: &ClusterWriter,
    batch: String,
    items: Vec<BatchItem>,
    audit_log: Option<&Path>,
) -> FixOutcome {
    let mut outcomes = Vec::new();
    let mut items = items.into_iter();
    for item in items.by_ref() {
        let outcome = apply(
            writer,
            item.prepared,
            &item.finding,
            &item.context,
            audit_log,
        )
        .await;
        let applied = matches!(outcome, FixOutcome::Applied { .. });
        outcomes.push(outcome);
        if !applied {
            break;
        }
    }
    FixOutcome::BatchApplied {
        batch,
        outcomes,
        not_tried: items
            .map(|item| item.prepared.plan.target.describe())
            .collect(),
    }
}

/// Reads the object, plans, and asks the server about the plan.
pub async fn prepare(
    writer: &ClusterWriter,
    finding: &Finding,
    context: &PlanContext,
    writes_allowed: bool,
) -> Result<PreparedFix, String> {
    let target = fix::finding_target(finding);
    let object = writer
        .get(&target)
        .await
        .map_err(|e| format!("cannot read {}: {e}", target.describe()))?;
    let plan = fix::plan(finding, &object, context).map_err(|e| e.to_string())?;
    let dry_run = if plan.is_refused() {
        DryRun::NotRun("the plan is refused".into())
    } else {
        match writer
            .write(&plan.target, &plan.operation, None, Mode::DryRun)
            .await
        {
            Ok(_) => DryRun::Passed,
            Err(error) => DryRun::Failed(error.to_string()),
        }
    };
    // No review is asked for while writes are off: apply is not offered, and a read-only
    // cockpit sends nothing but reads and dry runs.
    let permission = if !writes_allowed || plan.is_refused() {
        Permission::NotChecked
    } else {
        match writer.access(&plan.target, verb_of(&plan.operation)).await {
            Ok(access) if access.allowed => Permission::Allowed,
            Ok(access) => Permission::Denied {
                needs: access.needs,
                reason: access.reason,
            },
            Err(error) => Permission::Unknown {
                why: error.to_string(),
            },
        }
    };
    Ok(PreparedFix {
        finding_id: finding.id.clone(),
        plan,
        dry_run,
        permission,
        writes_allowed,
        replanned: None,
    })
}

/// A JSON-patch `test` that no longer holds fails the patch as invalid (422), not as a
/// conflict; for a plan guarded by tests it means the same thing.
fn is_conflict(plan: &FixPlan, error: &WriteError) -> bool {
    match error {
        WriteError::Conflict(_) => true,
        WriteError::Rejected(message) => {
            matches!(plan.precondition, Precondition::JsonTest(_))
                && message.to_ascii_lowercase().contains("test")
        }
        _ => false,
    }
}

fn identity(writer: &ClusterWriter) -> (&str, &str) {
    (&writer.identity.user, &writer.identity.context)
}

/// Appends the line that says a write is about to be sent; the reason it could not be
/// otherwise. No write goes out without it.
fn announce(audit_log: Option<&Path>, entry: &AuditEntry) -> Result<(), String> {
    let Some(path) = audit_log else {
        return Err(
            "there is no state directory for the audit log (set KOCKPIT_STATE_DIR): nothing was written"
                .to_string(),
        );
    };
    audit::append(path, entry)
        .map_err(|error| format!("{error}: nothing was written, as no write goes unaudited"))
}

async fn apply(
    writer: &ClusterWriter,
    prepared: PreparedFix,
    finding: &Finding,
    context: &PlanContext,
    audit_log: Option<&Path>,
) -> FixOutcome {
    let plan = &prepared.plan;
    let entry = |result: &str| {
        AuditEntry::for_write(plan, "apply", &plan.operation, identity(writer), result)
    };
    if let Some(why) = prepared.blocked() {
        // Never reached from the UI, which does not offer apply then; kept as the last guard.
        return FixOutcome::ApplyFailed {
            audit: Box::new(entry("refused").with_detail(why.clone())),
            error: why,
            prepared: Box::new(prepared),
        };
    }
    if let Err(why) = announce(audit_log, &entry("applying")) {
        return FixOutcome::ApplyFailed {
            audit: Box::new(entry("refused").with_detail(why.clone())),
            error: why,
            prepared: Box::new(prepared),
        };
    }
    match writer
        .write(&plan.target, &plan.operation, None, Mode::Apply)
        .await
    {
        Ok(answer) => {
            let resource_version = str_at(&answer, "/metadata/resourceVersion");
            let uid = str_at(&answer, "/metadata/uid");
            let mut audit = entry("applied");
            audit.resource_version = Some(resource_version.clone());
            FixOutcome::Applied {
                prepared: Box::new(prepared),
                resource_version,
                uid,
                audit: Box::new(audit),
            }
        }
        Err(error) if is_conflict(plan, &error) => {
            let audit = entry("conflict").with_detail(error.to_string());
            match prepare(writer, finding, context, prepared.writes_allowed).await {
                Ok(mut replanned) => {
                    replanned.replanned = Some(format!(
                        "{} changed after the plan was made ({error}); nothing was written. \
                         This is the plan on the object as it is now.",
                        plan.target.describe()
                    ));
                    FixOutcome::Replanned {
                        prepared: Box::new(replanned),
                        audit: Box::new(audit),
                    }
                }
                Err(replan_error) => FixOutcome::ApplyFailed {
                    error: format!("{error}; and it could not be planned again: {replan_error}"),
                    prepared: Box::new(prepared),
                    audit: Box::new(audit),
                },
            }
        }
        Err(error) => FixOutcome::ApplyFailed {
            audit: Box::new(entry("failed").with_detail(error.to_string())),
            error: error.to_string(),
            prepared: Box::new(prepared),
        },
    }
}

async fn undo(
    writer: &ClusterWriter,
    plan: &FixPlan,
    resource_version: &str,
    uid: &str,
    audit_log: Option<&Path>,
) -> FixOutcome {
    let Some(operation) = plan.undo_operation(resource_version) else {
        return FixOutcome::UndoFailed {
            fix_id: plan.id.clone(),
            error: "this fix has no undo".into(),
            audit: None,
        };
    };
    let entry = |result: &str| {
        let mut entry = AuditEntry::for_write(plan, "undo", &operation, identity(writer), result);
        entry.precondition = format!("resourceVersion {resource_version} (from the apply)");
        entry
    };
    if let Err(why) = announce(audit_log, &entry("undoing")) {
        return FixOutcome::UndoFailed {
            fix_id: plan.id.clone(),
            audit: None,
            error: why,
        };
    }
    // A created object is deleted only if it is still the one kockpit created (same uid);
    // its resourceVersion moves whenever its controller writes status.
    let preconditions = matches!(operation, Operation::Delete).then_some(("", uid));
    let mut sent = writer
        .write(&plan.target, &operation, preconditions, Mode::Apply)
        .await;
    if let Err(error) = &sent
        && is_conflict(plan, error)
        && let Some(retry) = retry_on_current(writer, plan).await
    {
        sent = writer.write(&plan.target, &retry, None, Mode::Apply).await;
    }
    match sent {
        Ok(answer) => {
            let mut audit = entry("undone");
            audit.resource_version =
                Some(str_at(&answer, "/metadata/resourceVersion")).filter(|rv| !rv.is_empty());
            FixOutcome::Undone {
                fix_id: plan.id.clone(),
                audit: Box::new(audit),
            }
        }
        Err(error) => {
            let why = if is_conflict(plan, &error) {
                format!(
                    "{} changed after the fix was applied; the undo was not sent, so that change \
                     is kept ({error})",
                    plan.target.describe()
                )
            } else {
                error.to_string()
            };
            FixOutcome::UndoFailed {
                fix_id: plan.id.clone(),
                audit: Some(Box::new(entry("failed").with_detail(why.clone()))),
                error: why,
            }
        }
    }
}

/// After a conflict on undo: when the fields the fix wrote still hold its values (only the
/// version moved, e.g. a controller wrote status), the undo on the current version.
async fn retry_on_current(writer: &ClusterWriter, plan: &FixPlan) -> Option<Operation> {
    let mut whole = plan.target.clone();
    whole.subresource = None;
    let current = writer.get(&whole).await.ok()?;
    if !fix::apply::still_applied(&current, &plan.operation) {
        return None;
    }
    let rv = current.pointer("/metadata/resourceVersion")?.as_str()?;
    plan.undo_operation(rv)
}

fn str_at(object: &Value, pointer: &str) -> String {
    object
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}
