//! `kockpit fix list | show | apply`: the fix flow without the TUI, for a change ticket, a
//! pull request or a scripted response. The same plans, dry runs, preconditions and audit
//! lines as the keyboard flow.

use std::io::{BufRead, Write};
use std::time::Duration;

use super::audit::{self, AuditEntry};
use super::fixes::{self, FixJob, FixOutcome};
use super::snapshot::Session;
use crate::domain::fix::session::{DryRun, PreparedFix};
use crate::domain::fix::{Confirmation, PlanContext, diff, export};
use crate::domain::{Cockpit, Finding};

/// How `fix show` prints a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShowFormat {
    /// The plan as the fix window shows it.
    Text,
    /// A patch file (comment header, then the body).
    Patch,
    /// The equivalent `kubectl` command.
    Kubectl,
}

/// Why a `fix` command stopped; each maps to an exit code.
#[derive(Debug, thiserror::Error)]
pub enum FixCliError {
    #[error("no finding with the fix id `{0}` (run `kockpit fix list`)")]
    UnknownId(String),
    #[error("{0}")]
    NoPlan(String),
    #[error("writes are off: add --allow-writes to apply (or --dry-run to only check)")]
    WritesOff,
    #[error("not applied: {0}")]
    Blocked(String),
    #[error("not applied: the confirmation did not match")]
    NotConfirmed,
    #[error(
        "not applied: the object changed after the plan was made; the new plan is above, run the command again to apply it"
    )]
    Replanned,
    #[error("not applied: {0}")]
    Failed(String),
    #[error("the source cannot be changed (a replayed recording)")]
    NoWriter,
}

impl FixCliError {
    pub fn exit_code(&self) -> u8 {
        match self {
            FixCliError::UnknownId(_) | FixCliError::WritesOff | FixCliError::NoWriter => 2,
            FixCliError::Replanned => 3,
            _ => 1,
        }
    }
}

/// One line per finding that offers a fix.
pub fn list(cockpit: &Cockpit) -> String {
    let mut out = String::new();
    // In the overview's order, then what its lines fold, so every fix can be named.
    let folded = cockpit
        .pane_findings_all()
        .filter(|f| !cockpit.findings().iter().any(|line| line.id == f.id));
    let rows: Vec<(String, &Finding)> = cockpit
        .findings()
        .iter()
        .chain(folded)
        .filter_map(|f| f.fix_id().map(|id| (id, f)))
        .collect();
    if rows.is_empty() {
        return "No finding offers a fix right now.\n".into();
    }
    let width = rows.iter().map(|(id, _)| id.len()).max().unwrap_or(0);
    for (id, finding) in rows {
        out.push_str(&format!(
            "{id:<width$}  {:<8}  {:<12}  {}\n",
            finding.severity.as_str(),
            finding.pane.title(),
            crate::domain::sanitize::sanitize(&finding.summary)
        ));
    }
    out
}

fn find<'a>(cockpit: &'a Cockpit, id: &str) -> Result<&'a Finding, FixCliError> {
    cockpit
        .findings()
        .iter()
        .chain(cockpit.pane_findings_all())
        .find(|f| f.fix_id().as_deref() == Some(id) || (f.id == id && f.fix.is_some()))
        .ok_or_else(|| FixCliError::UnknownId(id.to_string()))
}

/// Plans the fix `id` on the session's cluster.
pub async fn prepare(
    session: &Session,
    id: &str,
    writes_allowed: bool,
) -> Result<PreparedFix, FixCliError> {
    let writer = session
        .handle
        .writer
        .as_ref()
        .ok_or(FixCliError::NoWriter)?;
    let finding = find(&session.cockpit, id)?;
    let context = PlanContext::from_cockpit(&session.cockpit, finding);
    fixes::prepare(writer, finding, &context, writes_allowed)
        .await
        .map_err(FixCliError::NoPlan)
}

pub fn show(prepared: &PreparedFix, format: ShowFormat) -> String {
    match format {
        ShowFormat::Text => plan_text(prepared),
        ShowFormat::Patch => export::patch_file(&prepared.plan),
        ShowFormat::Kubectl => format!("{}\n", export::kubectl_command(&prepared.plan)),
    }
}

/// The plan as text: what the fix window shows, without colour.
pub fn plan_text(prepared: &PreparedFix) -> String {
    let plan = &prepared.plan;
    let mut out = Vec::new();
    if let Some(note) = &prepared.replanned {
        out.push(format!("REPLANNED: {note}"));
    }
    out.push(format!("fix          {} ({})", plan.kind.title(), plan.id));
    out.push(format!("object       {}", plan.target.describe()));
    out.push(format!("risk         {}", plan.risk.as_str()));
    out.push(format!("blast radius {}", plan.blast_radius));
    out.push(format!(
        "precondition {}",
        export::describe_precondition(&plan.precondition)
    ));
    match &plan.refusal {
        Some(refusal) => out.push(format!("REFUSED      {refusal}")),
        None => {
            out.push("change".into());
            for change in &plan.diff {
                out.push(format!("  {}", change.path));
                let text = |v: &Option<serde_json::Value>| match v {
                    None => "(absent)".to_string(),
                    Some(serde_json::Value::String(s)) => s.clone(),
                    Some(other) => other.to_string(),
                };
                let (before, after) = (text(&change.before), text(&change.after));
                if before.contains('\n') || after.contains('\n') {
                    for line in diff::text_lines(&before, &after) {
                        out.push(format!("    {line}"));
                    }
                } else {
                    out.push(format!("    - {before}"));
                    out.push(format!("    + {after}"));
                }
            }
        }
    }
    for warning in &plan.warnings {
        out.push(format!("warning      {warning}"));
    }
    out.push(format!("dry run      {}", prepared.dry_run.describe()));
    out.push(format!("permission   {}", prepared.permission.describe()));
    let before: Vec<String> = plan
        .verify
        .before
        .iter()
        .map(|(label, value)| format!("{label} {value}"))
        .collect();
    out.push(format!(
        "verify       within {}; now: {}",
        crate::domain::time::format_duration(plan.verify.within),
        before.join(", ")
    ));
    let sanitized: Vec<String> = out
        .iter()
        .map(|line| crate::domain::sanitize::sanitize(line).into_owned())
        .collect();
    sanitized.join("\n") + "\n"
}

/// Asks on the terminal, as the fix window does: `y` for low risk, the name otherwise.
fn confirmed(prepared: &PreparedFix, input: &mut dyn BufRead, output: &mut dyn Write) -> bool {
    let expected = match &prepared.plan.confirmation {
        Confirmation::PressY => {
            let _ = write!(output, "Apply? Type y and Enter: ");
            "y".to_string()
        }
        Confirmation::TypeName(name) => {
            let _ = write!(
                output,
                "{} risk. Type the object's name ({name}) and Enter to apply: ",
                prepared.plan.risk.as_str()
            );
            name.clone()
        }
    };
    let _ = output.flush();
    let mut line = String::new();
    input.read_line(&mut line).is_ok() && line.trim_end_matches(['\n', '\r']) == expected
}

/// What `fix apply` may do.
pub struct ApplyOptions {
    pub dry_run: bool,
    pub yes: bool,
    pub writes_allowed: bool,
    pub audit_log: Option<std::path::PathBuf>,
}

fn write_audit(path: Option<&std::path::Path>, entries: Vec<&AuditEntry>) -> Option<String> {
    let path = path?;
    entries
        .into_iter()
        .find_map(|entry| audit::append(path, entry).err().map(|e| e.to_string()))
}

/// `fix apply`: plan, print, check, confirm, apply, audit. Prints as it goes to `output`.
pub async fn apply(
    session: &Session,
    id: &str,
    options: &ApplyOptions,
    input: &mut dyn BufRead,
    output: &mut dyn Write,
) -> Result<(), FixCliError> {
    let prepared = prepare(session, id, options.writes_allowed && !options.dry_run).await?;
    let _ = write!(output, "{}", plan_text(&prepared));
    if options.dry_run {
        return match &prepared.dry_run {
            DryRun::Passed => Ok(()),
            DryRun::Failed(why) => Err(FixCliError::Failed(format!("the dry run failed: {why}"))),
            DryRun::NotRun(why) => Err(FixCliError::Blocked(why.clone())),
        };
    }
    if !options.writes_allowed {
        return Err(FixCliError::WritesOff);
    }
    if let Some(why) = prepared.blocked() {
        return Err(FixCliError::Blocked(why));
    }
    if !options.yes && !confirmed(&prepared, input, output) {
        return Err(FixCliError::NotConfirmed);
    }
    let writer = session
        .handle
        .writer
        .as_ref()
        .ok_or(FixCliError::NoWriter)?;
    let finding = find(&session.cockpit, id)?.clone();
    let context = PlanContext::from_cockpit(&session.cockpit, &finding);
    let outcome = fixes::run(
        writer,
        FixJob::Apply {
            prepared: Box::new(prepared),
            finding: Box::new(finding),
            context: Box::new(context),
        },
        options.audit_log.as_deref(),
    )
    .await;
    if let Some(error) = write_audit(options.audit_log.as_deref(), outcome.audits()) {
        let _ = writeln!(output, "warning: {error}");
    }
    match outcome {
        FixOutcome::Applied {
            prepared,
            resource_version,
            ..
        } => {
            let _ = writeln!(
                output,
                "applied to {} (resourceVersion {resource_version}); the audit log has the line. \
                 Watch it in kockpit: F lists the fixes with their verdicts, u undoes.",
                prepared.plan.target.describe()
            );
            Ok(())
        }
        FixOutcome::Replanned { prepared, .. } => {
            let _ = write!(output, "\n{}", plan_text(&prepared));
            Err(FixCliError::Replanned)
        }
        FixOutcome::ApplyFailed { error, .. } => Err(FixCliError::Failed(error)),
        other => Err(FixCliError::Failed(format!("unexpected outcome {other:?}"))),
    }
}

/// How long `fix` waits for the source's initial state.
pub const SYNC_DEADLINE: Duration = Duration::from_secs(60);
