//! The fix flow in the TUI, as part of `update`: preview the selected finding's fix, confirm
//! it (a `y` for low risk, the object's name for medium and high risk), apply, watch the
//! verdict, undo. Pure like `update`: the cluster is reached only through the effects
//! returned here, and the outcomes come back as messages.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::audit::AuditEntry;
use super::fixes::{BatchItem, FixJob, FixOutcome, UndoItem};
use super::message::Effect;
use super::state::State;
use super::update::selected_finding;
use crate::domain::fix::batch;
use crate::domain::fix::session::{AppliedFix, FixStatus, PreparedFix};
use crate::domain::fix::{self, Confirmation, PlanContext};
use crate::domain::timeline::{FixAction, FixStep};
use crate::domain::{Finding, Timestamp};
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
    // The same fix on the other objects of this line's cause: one batch, one preview.
    let others: Vec<Finding> = batch::members_sharing_fix(&finding)
        .into_iter()
        .filter_map(|member| state.cockpit.finding(&member.id).cloned())
        .collect();
    state.view.overlay = Some(Overlay::Fix);
    state.view.help_offset = 0;
    if others.is_empty() {
        state.view.fixes.panel = Some(FixPanel::Preparing {
            what: format!(
                "Planning {} on {}: reading it, asking the server for a dry run",
                kind.slug(),
                finding.object
            ),
        });
        return vec![Effect::Fix(
            state.fleet.current(),
            FixJob::Prepare {
                finding: Box::new(finding),
                context: Box::new(context),
                writes_allowed: state.allow_writes,
            },
        )];
    }
    state.view.fixes.panel = Some(FixPanel::Preparing {
        what: format!(
            "Planning {} on {} objects: reading each, asking the server for a dry run of each",
            kind.slug(),
            others.len() + 1
        ),
    });
    let mut items = vec![(finding, context)];
    for other in others {
        let context = PlanContext::from_cockpit(&state.cockpit, &other);
        items.push((other, context));
    }
    vec![Effect::Fix(
        state.fleet.current(),
        FixJob::PrepareBatch {
            items,
            writes_allowed: state.allow_writes,
        },
    )]
}

/// `y` in the fix window: apply a low-risk plan, start typing the name for the others, or
/// send a confirmed undo.
pub fn confirm(state: &mut State) -> Vec<Effect> {
    if state.view.overlay != Some(Overlay::Fix) {
        return Vec::new();
    }
    match state.view.fixes.panel.as_mut() {
        Some(FixPanel::Plan(panel)) if !panel.applying => {
            if let Some(why) = panel.batch.blocked() {
                panel.message = Some(why);
                return Vec::new();
            }
            match panel.batch.confirmation() {
                Confirmation::PressY => send_apply(state),
                Confirmation::TypeName(_) => {
                    panel.typed = Some(String::new());
                    Vec::new()
                }
            }
        }
        Some(FixPanel::Undo(panel)) if !panel.sending => {
            let applied = &mut state.view.fixes.applied;
            let undoable: Vec<usize> = panel
                .indexes
                .iter()
                .copied()
                .filter(|i| applied.get(*i).is_some_and(|f| f.status.undoable()))
                .collect();
            if undoable.is_empty() {
                let status = panel
                    .indexes
                    .first()
                    .and_then(|i| applied.get(*i))
                    .map_or("gone", |f| f.status.label());
                panel.message = Some(format!("this fix is {status}"));
                return Vec::new();
            }
            panel.sending = true;
            // Newest first: the reverse of the order the batch was applied in.
            let mut items = Vec::new();
            for index in undoable.into_iter().rev() {
                let fix = &mut applied[index];
                fix.status = FixStatus::Undoing;
                items.push(UndoItem {
                    plan: fix.plan.clone(),
                    resource_version: fix.resource_version.clone(),
                    uid: fix.uid.clone(),
                });
            }
            let job = match <[UndoItem; 1]>::try_from(items) {
                Ok([item]) => FixJob::Undo {
                    plan: Box::new(item.plan),
                    resource_version: item.resource_version,
                    uid: item.uid,
                },
                Err(items) => FixJob::UndoBatch { items },
            };
            vec![Effect::Fix(state.fleet.current(), job)]
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
            let expected = match panel.batch.confirmation() {
                Confirmation::TypeName(name) => name,
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
    // A plan is applied only while its finding stands: a condition that cleared while the
    // user read the plan needs no fix.
    let mut items = Vec::new();
    let mut cleared = Vec::new();
    for prepared in panel.batch.to_apply() {
        match state.cockpit.finding(&prepared.finding_id) {
            Some(finding) => items.push(BatchItem {
                prepared: prepared.clone(),
                finding: finding.clone(),
                context: PlanContext::from_cockpit(&state.cockpit, finding),
            }),
            None => cleared.push(prepared.plan.target.describe()),
        }
    }
    if items.is_empty() || (!panel.batch.is_batch() && !cleared.is_empty()) {
        panel.message =
            Some("the finding has cleared since the plan was made: nothing applied".to_string());
        panel.typed = None;
        return Vec::new();
    }
    panel.applying = true;
    panel.message = (!cleared.is_empty()).then(|| {
        format!(
            "skipped, their findings cleared since the plan: {}",
            cleared.join(", ")
        )
    });
    if !panel.batch.is_batch() {
        let item = items.remove(0);
        return vec![Effect::Fix(
            state.fleet.current(),
            FixJob::Apply {
                prepared: Box::new(item.prepared),
                finding: Box::new(item.finding),
                context: Box::new(item.context),
            },
        )];
    }
    vec![Effect::Fix(
        state.fleet.current(),
        FixJob::ApplyBatch {
            batch: panel.batch.lead.plan.id.clone(),
            items,
        },
    )]
}

/// `x` in the fix window: each plan as a patch file and a kubectl command.
pub fn export(state: &mut State) -> Vec<Effect> {
    match state.view.fixes.panel.as_ref() {
        Some(FixPanel::Plan(panel)) => panel
            .batch
            .plans()
            .map(|prepared| Effect::ExportFix(Box::new(prepared.plan.clone())))
            .collect(),
        _ => Vec::new(),
    }
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
            // A batch is undone as a whole: every fix of it still on the cluster.
            let applied = &state.view.fixes.applied;
            let indexes = match &applied[index].batch {
                Some(batch) => (0..applied.len())
                    .filter(|i| {
                        applied[*i].batch.as_ref() == Some(batch) && applied[*i].status.undoable()
                    })
                    .collect(),
                None => vec![index],
            };
            state.view.fixes.panel = Some(FixPanel::Undo(UndoPanel {
                indexes,
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
    Effect::RecordFix(state.fleet.current(), Box::new(action))
}

fn show_plan(state: &mut State, prepared: PreparedFix, message: Option<String>) {
    let mut panel = PlanPanel::new(prepared);
    panel.message = message;
    state.view.fixes.panel = Some(FixPanel::Plan(Box::new(panel)));
}

fn panel_is_open(state: &State) -> bool {
    state.view.overlay == Some(Overlay::Fix)
}

fn close_panel(state: &mut State) {
    state.view.fixes.panel = None;
    if panel_is_open(state) {
        state.view.overlay = None;
    }
}

/// A job's outcome: move the panel and the session's fixes on, audit what was written.
pub fn on_outcome(state: &mut State, outcome: FixOutcome) -> Vec<Effect> {
    state.dirty = true;
    let mut effects: Vec<Effect> = outcome
        .audits()
        .into_iter()
        .map(|entry| Effect::Audit(Box::new(entry.clone())))
        .collect();
    match outcome {
        FixOutcome::Prepared(prepared) => {
            if panel_is_open(state)
                && matches!(state.view.fixes.panel, Some(FixPanel::Preparing { .. }))
            {
                show_plan(state, *prepared, None);
            }
        }
        FixOutcome::BatchPrepared(batch) => {
            if panel_is_open(state)
                && matches!(state.view.fixes.panel, Some(FixPanel::Preparing { .. }))
            {
                state.view.fixes.panel =
                    Some(FixPanel::Plan(Box::new(PlanPanel::for_batch(*batch))));
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
            state.notify(format!(
                "applied {} to {}; verifying (F shows progress, u undoes)",
                prepared.plan.kind.slug(),
                prepared.plan.target.describe()
            ));
            record_applied(state, *prepared, resource_version, uid, None, &mut effects);
            close_panel(state);
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
        FixOutcome::BatchApplied {
            batch,
            outcomes,
            not_tried,
        } => batch_applied(state, batch, outcomes, not_tried, &mut effects),
        outcome @ (FixOutcome::Undone { .. } | FixOutcome::UndoFailed { .. }) => {
            undo_settled(state, outcome, &mut effects);
            undo_finished(state);
        }
        FixOutcome::BatchUndone { outcomes } => {
            for outcome in outcomes {
                undo_settled(state, outcome, &mut effects);
            }
            undo_finished(state);
        }
    }
    effects
}

/// The fix is on the cluster: add it to the session's fixes to verify, mark the timeline.
fn record_applied(
    state: &mut State,
    prepared: PreparedFix,
    resource_version: String,
    uid: String,
    batch: Option<String>,
    effects: &mut Vec<Effect>,
) {
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
        batch,
    });
}

/// A batch went through, or stopped part way: what was written is verified like any fix
/// and undone as one; a stop is shown with what it left undone.
fn batch_applied(
    state: &mut State,
    batch: String,
    outcomes: Vec<FixOutcome>,
    not_tried: Vec<String>,
    effects: &mut Vec<Effect>,
) {
    let mut applied = Vec::new();
    let mut slug = "";
    let mut stop = None;
    for outcome in outcomes {
        match outcome {
            FixOutcome::Applied {
                prepared,
                resource_version,
                uid,
                ..
            } => {
                slug = prepared.plan.kind.slug();
                applied.push(prepared.plan.target.describe());
                record_applied(
                    state,
                    *prepared,
                    resource_version,
                    uid,
                    Some(batch.clone()),
                    effects,
                );
            }
            FixOutcome::ApplyFailed {
                prepared, error, ..
            } => stop = Some((prepared.plan.target.describe(), error)),
            FixOutcome::Replanned { prepared, .. } => {
                stop = Some((
                    prepared.plan.target.describe(),
                    "it changed after the plan was made; nothing was written to it \
                     (press x on the finding to plan again on the objects as they are now)"
                        .to_string(),
                ))
            }
            _ => {}
        }
    }
    let Some((object, error)) = stop else {
        state.notify(format!(
            "applied {slug} to {} objects; verifying each (F shows progress, u undoes the batch)",
            applied.len()
        ));
        close_panel(state);
        return;
    };
    let mut lines = vec![match applied.len() {
        0 => "Nothing was applied.".to_string(),
        n => format!("Applied to {n}: {}.", applied.join(", ")),
    }];
    lines.push(format!("Stopped at {object}: {error}"));
    if !not_tried.is_empty() {
        lines.push(format!("Not tried: {}.", not_tried.join(", ")));
    }
    if !applied.is_empty() {
        lines.push(
            "What was applied is being verified; u puts every object of the batch back.".into(),
        );
    }
    state.view.overlay = Some(Overlay::Fix);
    state.view.fixes.panel = Some(FixPanel::Stopped {
        title: "Batch stopped".into(),
        lines,
    });
}

/// One undo's outcome on the session's fix it was for.
fn undo_settled(state: &mut State, outcome: FixOutcome, effects: &mut Vec<Effect>) {
    match outcome {
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
        }
        FixOutcome::UndoFailed { fix_id, error, .. } => {
            if let Some(index) = position(state, &fix_id, FixStatus::Undoing) {
                let object = state.view.fixes.applied[index].plan.target.describe();
                state.view.fixes.applied[index].status =
                    FixStatus::UndoFailed { why: error.clone() };
                let message = format!("undo of {object} not applied: {error}");
                match state.view.fixes.panel.as_mut() {
                    Some(FixPanel::Undo(panel)) => panel.message = Some(message),
                    _ => state.notify(message),
                }
            }
        }
        _ => {}
    }
}

/// Closes the undo window once nothing in it is still being undone; one that failed stays
/// open with why, to try again.
fn undo_finished(state: &mut State) {
    let Some(FixPanel::Undo(panel)) = state.view.fixes.panel.as_mut() else {
        return;
    };
    let applied = &state.view.fixes.applied;
    let status = |i: &usize| applied.get(*i).map(|f| &f.status);
    if panel
        .indexes
        .iter()
        .any(|i| status(i) == Some(&FixStatus::Undoing))
    {
        return;
    }
    if panel
        .indexes
        .iter()
        .any(|i| matches!(status(i), Some(FixStatus::UndoFailed { .. })))
    {
        panel.sending = false;
        return;
    }
    close_panel(state);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::audit::AuditEntry;
    use crate::app::keymap::Keymap;
    use crate::domain::cockpit::AnalysisConfig;
    use crate::domain::fix::Risk;
    use crate::domain::fix::batch::PreparedBatch;
    use crate::domain::fix::fixtures::prepared_service_fix;

    fn audit(prepared: &PreparedFix, result: &str) -> Box<AuditEntry> {
        let plan = &prepared.plan;
        Box::new(AuditEntry::for_write(
            plan,
            "apply",
            &plan.operation,
            ("test", "test"),
            result,
        ))
    }

    fn applied(prepared: &PreparedFix, rv: &str) -> FixOutcome {
        FixOutcome::Applied {
            prepared: Box::new(prepared.clone()),
            resource_version: rv.into(),
            uid: format!("uid-{rv}"),
            audit: audit(prepared, "applied"),
        }
    }

    fn batch_window(state: &mut State, names: &[&str]) -> Vec<PreparedFix> {
        let plans: Vec<PreparedFix> = names
            .iter()
            .map(|n| prepared_service_fix(n, Risk::Low))
            .collect();
        let batch = PreparedBatch::from_plans(plans.clone(), Vec::new())
            .unwrap_or_else(|| panic!("plans make a batch"));
        state.view.overlay = Some(Overlay::Fix);
        state.view.fixes.panel = Some(FixPanel::Plan(Box::new(PlanPanel::for_batch(batch))));
        plans
    }

    #[test]
    fn a_stopped_batch_shows_the_stop_keeps_what_it_wrote_and_undoes_it_as_one() {
        let mut state = State::new(AnalysisConfig::default(), Keymap::default(), 1.0);
        let plans = batch_window(&mut state, &["catalog", "redis", "search"]);
        let outcome = FixOutcome::BatchApplied {
            batch: plans[0].plan.id.clone(),
            outcomes: vec![
                applied(&plans[0], "11"),
                FixOutcome::ApplyFailed {
                    prepared: Box::new(plans[1].clone()),
                    error: "the server answered 500".into(),
                    audit: audit(&plans[1], "failed"),
                },
            ],
            not_tried: vec![plans[2].plan.target.describe()],
        };
        let effects = on_outcome(&mut state, outcome);
        let audited = effects
            .iter()
            .filter(|e| matches!(e, Effect::Audit(_)))
            .count();
        assert_eq!(audited, 2, "one audit line per write tried");
        let Some(FixPanel::Stopped { lines, .. }) = &state.view.fixes.panel else {
            panic!("not the stop: {:?}", state.view.fixes.panel);
        };
        let text = lines.join("\n");
        assert!(
            text.contains("Applied to 1: Service shop/catalog"),
            "{text}"
        );
        assert!(text.contains("Stopped at Service shop/redis: the server answered 500"));
        assert!(text.contains("Not tried: Service shop/search"), "{text}");
        assert_eq!(state.view.fixes.applied.len(), 1);
        assert_eq!(
            state.view.fixes.applied[0].batch.as_deref(),
            Some(plans[0].plan.id.as_str())
        );

        // A later batch fully applied: `u` gathers all of it, newest first.
        let plans = batch_window(&mut state, &["cart", "orders"]);
        let outcome = FixOutcome::BatchApplied {
            batch: plans[0].plan.id.clone(),
            outcomes: vec![applied(&plans[0], "21"), applied(&plans[1], "22")],
            not_tried: Vec::new(),
        };
        on_outcome(&mut state, outcome);
        assert_eq!(
            state.view.fixes.panel, None,
            "a batch that went through closes"
        );
        undo(&mut state);
        let Some(FixPanel::Undo(panel)) = &state.view.fixes.panel else {
            panic!("no undo window");
        };
        assert_eq!(panel.indexes, [1, 2]);
        let effects = confirm(&mut state);
        let [Effect::Fix(_, FixJob::UndoBatch { items })] = effects.as_slice() else {
            panic!("not a batch undo: {effects:?}");
        };
        let order: Vec<&str> = items.iter().map(|i| i.resource_version.as_str()).collect();
        assert_eq!(order, ["22", "21"]);
        let undone = |fix: &UndoItem| FixOutcome::Undone {
            fix_id: fix.plan.id.clone(),
            audit: audit(&plans[0], "undone"),
        };
        let failed = FixOutcome::UndoFailed {
            fix_id: items[1].plan.id.clone(),
            error: "forbidden".into(),
            audit: None,
        };
        on_outcome(
            &mut state,
            FixOutcome::BatchUndone {
                outcomes: vec![undone(&items[0]), failed],
            },
        );
        let statuses: Vec<&str> = state
            .view
            .fixes
            .applied
            .iter()
            .map(|f| f.status.label())
            .collect();
        assert_eq!(statuses, ["verifying", "undo failed", "undone"]);
        let Some(FixPanel::Undo(panel)) = &state.view.fixes.panel else {
            panic!("a failed undo keeps its window open");
        };
        assert!(!panel.sending);
        assert!(
            panel
                .message
                .as_deref()
                .is_some_and(|m| m.contains("Service shop/cart") && m.contains("forbidden")),
            "{panel:?}"
        );
        // The one that failed can be tried again on its own.
        let effects = confirm(&mut state);
        assert!(
            matches!(effects.as_slice(), [Effect::Fix(_, FixJob::Undo { .. })]),
            "{effects:?}"
        );
    }
}
