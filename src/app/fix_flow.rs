//! The fix flow in the TUI, as part of `update`: preview the selected finding's fix, confirm
//! it (a `y` for low risk, the object's name for medium and high risk), apply, watch the
//! verdict, undo. Pure like `update`: the cluster is reached only through the effects
//! returned here, and the outcomes come back as messages.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::audit::AuditEntry;
use super::fixes::{FixJob, FixOutcome};
use super::message::Effect;
use super::state::State;
use super::update::selected_finding;
use crate::domain::Timestamp;
use crate::domain::fix::session::{AppliedFix, FixStatus, PreparedFix};
use crate::domain::fix::{self, Confirmation, PlanContext};
use crate::domain::timeline::{FixAction, FixStep};
use crate::ui::Overlay;
use crate::ui::fix::{FixPanel, PlanPanel, UndoPanel};

/// `x` on a finding: plan its fix on the object as the server has it now.
pub fn start(state: &mut State) -> Vec<Effect> {
    if state.replay {
        state.notify("a replayed recording cannot be changed: fixes are not available");
        return Vec::new();
    }
    if state.cursor.is_some() {
        state.notify("fixes are planned on the cluster as it is now: press Esc for live data");
        return Vec::new();
    }
    let Some(finding) = selected_finding(state).cloned() else {
        state.notify("select a finding first");
        return Vec::new();
    };
    let Some(kind) = finding.fix else {
        state.notify(format!("no fix in the catalogue for {}", finding.id));
        return Vec::new();
    };
    let context = PlanContext::from_cockpit(&state.cockpit, &finding);
    state.view.fixes.panel = Some(FixPanel::Preparing {
        what: format!(
            "Planning {} on {}: reading it, asking the server for a dry run",
            kind.slug(),
            finding.object
        ),
    });
    state.view.overlay = Some(Overlay::Fix);
    state.view.help_offset = 0;
    vec![Effect::Fix(FixJob::Prepare {
        finding: Box::new(finding),
        context: Box::new(context),
        writes_allowed: state.allow_writes,
    })]
}

/// `y` in the fix window: apply a low-risk plan, start typing the name for the others, or
/// send a confirmed undo.
pub fn confirm(state: &mut State) -> Vec<Effect> {
    if state.view.overlay != Some(Overlay::Fix) {
        return Vec::new();
    }
    match state.view.fixes.panel.as_mut() {
        Some(FixPanel::Plan(panel)) if !panel.applying => {
            if let Some(why) = panel.prepared.blocked() {
                panel.message = Some(why);
                return Vec::new();
            }
            match &panel.prepared.plan.confirmation {
                Confirmation::PressY => send_apply(state),
                Confirmation::TypeName(_) => {
                    panel.typed = Some(String::new());
                    Vec::new()
                }
            }
        }
        Some(FixPanel::Undo(panel)) if !panel.sending => {
            let index = panel.index;
            let Some(applied) = state.view.fixes.applied.get_mut(index) else {
                return Vec::new();
            };
            if !applied.status.undoable() {
                panel.message = Some(format!("this fix is {}", applied.status.label()));
                return Vec::new();
            }
            panel.sending = true;
            applied.status = FixStatus::Undoing;
            vec![Effect::Fix(FixJob::Undo {
                plan: Box::new(applied.plan.clone()),
                resource_version: applied.resource_version.clone(),
                uid: applied.uid.clone(),
            })]
        }
        _ => Vec::new(),
    }
}

/// Keys while the user types the object's name. `None` when not typing (the key map
/// resolves the key as usual).
pub fn typing_key(state: &mut State, key: KeyEvent) -> Option<Vec<Effect>> {
    if state.view.overlay != Some(Overlay::Fix) {
        return None;
    }
    let Some(FixPanel::Plan(panel)) = state.view.fixes.panel.as_mut() else {
        return None;
    };
    let typed = panel.typed.as_mut()?;
    state.dirty = true;
    match key.code {
        KeyCode::Esc => panel.typed = None,
        KeyCode::Backspace => {
            typed.pop();
        }
        KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => panel.typed = None,
        // Names are at most 253 characters; a pasted novel is not a name.
        KeyCode::Char(c)
            if !key.modifiers.contains(KeyModifiers::CONTROL) && typed.chars().count() < 253 =>
        {
            typed.push(c)
        }
        KeyCode::Enter => {
            let expected = match &panel.prepared.plan.confirmation {
                Confirmation::TypeName(name) => name.clone(),
                Confirmation::PressY => String::new(),
            };
            if *typed == expected {
                return Some(send_apply(state));
            }
            panel.message = Some(format!(
                "that is not the name: type {expected} exactly to apply"
            ));
        }
        _ => {}
    }
    Some(Vec::new())
}

fn send_apply(state: &mut State) -> Vec<Effect> {
    let Some(FixPanel::Plan(panel)) = state.view.fixes.panel.as_mut() else {
        return Vec::new();
    };
    // The plan is applied only while its finding stands: a condition that cleared while the
    // user read the plan needs no fix.
    let Some(finding) = state.cockpit.finding(&panel.prepared.finding_id).cloned() else {
        panel.message =
            Some("the finding has cleared since the plan was made: nothing applied".to_string());
        panel.typed = None;
        return Vec::new();
    };
    panel.applying = true;
    panel.message = None;
    let context = PlanContext::from_cockpit(&state.cockpit, &finding);
    vec![Effect::Fix(FixJob::Apply {
        prepared: Box::new(panel.prepared.clone()),
        finding: Box::new(finding),
        context: Box::new(context),
    })]
}

/// `x` in the fix window: the plan as a patch file and a kubectl command.
pub fn export(state: &mut State) -> Vec<Effect> {
    let plan = match state.view.fixes.panel.as_ref() {
        Some(FixPanel::Plan(panel)) => panel.prepared.plan.clone(),
        _ => return Vec::new(),
    };
    vec![Effect::ExportFix(Box::new(plan))]
}

/// `u`: confirm the undo of the newest fix still on the cluster.
pub fn undo(state: &mut State) -> Vec<Effect> {
    let index = state
        .view
        .fixes
        .applied
        .iter()
        .rposition(|fix| fix.status.undoable() && fix.plan.inverse.is_some());
    match index {
        Some(index) => {
            state.view.fixes.panel = Some(FixPanel::Undo(UndoPanel {
                index,
                sending: false,
                message: None,
            }));
            state.view.overlay = Some(Overlay::Fix);
        }
        None => state.notify("no applied fix to undo in this session"),
    }
    Vec::new()
}

fn now(state: &State) -> Timestamp {
    state.cockpit.now.unwrap_or_else(chrono::Utc::now)
}

/// Marks the step on the timeline and has it recorded.
fn mark(
    state: &mut State,
    finding_id: &str,
    fix: &fix::FixPlan,
    step: FixStep,
    verdict: Option<String>,
) -> Effect {
    let action = FixAction {
        at: now(state),
        finding_id: finding_id.to_string(),
        fix: fix.kind,
        object: crate::domain::ObjectRef {
            kind: fix.target.kind.clone(),
            namespace: fix.target.namespace.clone(),
            name: fix.target.name.clone(),
        },
        step,
        verdict,
    };
    state.timeline.push_fix(action.clone());
    Effect::RecordFix(Box::new(action))
}

fn show_plan(state: &mut State, prepared: PreparedFix, message: Option<String>) {
    let mut panel = PlanPanel::new(prepared);
    panel.message = message;
    state.view.fixes.panel = Some(FixPanel::Plan(Box::new(panel)));
}

fn panel_is_open(state: &State) -> bool {
    state.view.overlay == Some(Overlay::Fix)
}

/// A job's outcome: move the panel and the session's fixes on, audit what was written.
pub fn on_outcome(state: &mut State, outcome: FixOutcome) -> Vec<Effect> {
    state.dirty = true;
    let mut effects: Vec<Effect> = outcome
        .audit()
        .map(|entry| Effect::Audit(Box::new(entry.clone())))
        .into_iter()
        .collect();
    match outcome {
        FixOutcome::Prepared(prepared) => {
            if panel_is_open(state)
                && matches!(state.view.fixes.panel, Some(FixPanel::Preparing { .. }))
            {
                show_plan(state, *prepared, None);
            }
        }
        FixOutcome::PrepareFailed { finding_id, error } => {
            if panel_is_open(state) {
                state.view.fixes.panel = Some(FixPanel::Failed {
                    what: format!("The fix for {finding_id}"),
                    error,
                });
            } else {
                state.notify(format!("no plan for {finding_id}: {error}"));
            }
        }
        FixOutcome::Applied {
            prepared,
            resource_version,
            uid,
            ..
        } => {
            let prepared = *prepared;
            state.notify(format!(
                "applied {} to {}; verifying (F shows progress, u undoes)",
                prepared.plan.kind.slug(),
                prepared.plan.target.describe()
            ));
            effects.push(mark(
                state,
                &prepared.finding_id,
                &prepared.plan,
                FixStep::Applied,
                None,
            ));
            state.view.fixes.applied.push(AppliedFix {
                finding_id: prepared.finding_id,
                plan: prepared.plan,
                applied_at: now(state),
                resource_version,
                uid,
                status: FixStatus::Verifying,
            });
            state.view.fixes.panel = None;
            if panel_is_open(state) {
                state.view.overlay = None;
            }
        }
        FixOutcome::Replanned { prepared, .. } => {
            state.view.overlay = Some(Overlay::Fix);
            show_plan(state, *prepared, None);
        }
        FixOutcome::ApplyFailed {
            prepared, error, ..
        } => {
            state.view.overlay = Some(Overlay::Fix);
            show_plan(state, *prepared, Some(format!("not applied: {error}")));
        }
        FixOutcome::Undone { fix_id, .. } => {
            if let Some(index) = position(state, &fix_id, FixStatus::Undoing) {
                let fix = state.view.fixes.applied[index].clone();
                state.view.fixes.applied[index].status = FixStatus::Undone;
                effects.push(mark(
                    state,
                    &fix.finding_id,
                    &fix.plan,
                    FixStep::Undone,
                    None,
                ));
                state.notify(format!(
                    "undid {} on {}: the prior fields are back",
                    fix.plan.kind.slug(),
                    fix.plan.target.describe()
                ));
            }
            state.view.fixes.panel = None;
            if panel_is_open(state) {
                state.view.overlay = None;
            }
        }
        FixOutcome::UndoFailed { fix_id, error, .. } => {
            if let Some(index) = position(state, &fix_id, FixStatus::Undoing) {
                state.view.fixes.applied[index].status =
                    FixStatus::UndoFailed { why: error.clone() };
                if let Some(FixPanel::Undo(panel)) = state.view.fixes.panel.as_mut() {
                    panel.sending = false;
                    panel.message = Some(format!("undo not applied: {error}"));
                } else {
                    state.notify(format!("undo of {fix_id} failed: {error}"));
                }
            }
        }
    }
    effects
}

fn position(state: &State, fix_id: &str, status: FixStatus) -> Option<usize> {
    state
        .view
        .fixes
        .applied
        .iter()
        .rposition(|fix| fix.plan.id == fix_id && fix.status == status)
}

/// After new data: judge every fix still being verified. Returns the audit lines and
/// recording entries for the verdicts reached.
pub fn verify(state: &mut State) -> Vec<Effect> {
    if !state
        .view
        .fixes
        .applied
        .iter()
        .any(|f| f.status == FixStatus::Verifying)
    {
        return Vec::new();
    }
    let now = now(state);
    let mut effects = Vec::new();
    for index in 0..state.view.fixes.applied.len() {
        let fix = &state.view.fixes.applied[index];
        if fix.status != FixStatus::Verifying {
            continue;
        }
        let verdict = fix::evaluate(&fix.plan.verify.condition, &state.cockpit, fix.applied_at);
        if !state.view.fixes.applied[index].judge(verdict, now) {
            continue;
        }
        let fix = state.view.fixes.applied[index].clone();
        let (step, result) = match fix.status {
            FixStatus::Verified { .. } => (FixStep::Verified, "verified"),
            _ => (FixStep::Failed, "not-verified"),
        };
        let summary = crate::ui::fix::before_after(&fix);
        state.notify(format!(
            "{} on {}: {} ({summary})",
            fix.plan.kind.slug(),
            fix.plan.target.describe(),
            fix.status.label()
        ));
        effects.push(mark(
            state,
            &fix.finding_id,
            &fix.plan,
            step,
            Some(summary.clone()),
        ));
        let entry = AuditEntry::for_write(
            &fix.plan,
            "verify",
            &fix.plan.operation,
            (&state.identity.user, &state.identity.context),
            result,
        )
        .with_detail(summary);
        effects.push(Effect::Audit(Box::new(entry)));
    }
    effects
}
