//! The fix windows: the plan of one fix (object, field diff, risk, blast radius, warnings,
//! the server's dry run, permission, how it will be verified) with its confirmation, the
//! undo confirmation, and the list of fixes applied this session with their verdicts.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use serde_json::Value;

use super::overlay::{window, wrap_words};
use super::text::{sanitize, truncate};
use super::theme::Theme;
use crate::domain::fix::batch::PreparedBatch;
use crate::domain::fix::session::{AppliedFix, DryRun, FixStatus, Permission, PreparedFix};
use crate::domain::fix::{Confirmation, FieldChange, FixPlan, Risk, diff, export};

/// What the fix window shows. Owned by the app, drawn here.
#[derive(Debug, Clone, PartialEq)]
pub enum FixPanel {
    /// Reading the object, planning, asking the server for a dry run.
    Preparing {
        what: String,
    },
    /// No plan could be made.
    Failed {
        what: String,
        error: String,
    },
    Plan(Box<PlanPanel>),
    /// Confirming the undo of an applied fix.
    Undo(UndoPanel),
    /// A batch stopped part way: what was applied, what stopped it, what was not tried.
    Stopped {
        title: String,
        lines: Vec<String>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct PlanPanel {
    /// One plan, or the same fix on several objects.
    pub batch: PreparedBatch,
    /// The name typed so far, once the user started confirming a medium or high risk fix.
    pub typed: Option<String>,
    /// The apply is on its way.
    pub applying: bool,
    /// The last thing that went wrong (a failed apply), shown above the keys.
    pub message: Option<String>,
}

impl PlanPanel {
    pub fn new(prepared: PreparedFix) -> Self {
        Self::for_batch(PreparedBatch::single(prepared))
    }

    pub fn for_batch(batch: PreparedBatch) -> Self {
        PlanPanel {
            batch,
            typed: None,
            applying: false,
            message: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct UndoPanel {
    /// Indexes into the session's applied fixes: the newest fix still on the cluster, and
    /// with it the rest of its batch, undone together.
    pub indexes: Vec<usize>,
    pub sending: bool,
    pub message: Option<String>,
}

/// The widest the fix window gets.
const WIDTH: u16 = 100;

pub fn render_panel(
    frame: &mut Frame,
    area: Rect,
    theme: &Theme,
    panel: &FixPanel,
    applied: &[AppliedFix],
    scroll: usize,
    cluster: Option<&str>,
) {
    let inner_width = WIDTH.min(area.width.saturating_sub(4)).saturating_sub(4) as usize;
    let (title, lines, mut pinned, keys) = match panel {
        FixPanel::Preparing { what } => (
            " Fix ".to_string(),
            vec![Line::from(Span::styled(
                format!("{} …", sanitize(what)),
                theme.muted,
            ))],
            Vec::new(),
            "Esc close".to_string(),
        ),
        FixPanel::Failed { what, error } => (
            " Fix ".to_string(),
            vec![
                Line::from(Span::styled(sanitize(what).into_owned(), theme.text)),
                Line::default(),
                Line::from(Span::styled(
                    format!("No plan: {}", sanitize(error)),
                    theme.crit,
                )),
            ],
            Vec::new(),
            "Esc close".to_string(),
        ),
        FixPanel::Plan(plan) if plan.batch.is_batch() => batch_lines(plan, theme, inner_width),
        FixPanel::Plan(plan) => plan_lines(plan, theme, inner_width),
        FixPanel::Undo(undo) => {
            let fixes: Vec<&AppliedFix> = undo
                .indexes
                .iter()
                .filter_map(|i| applied.get(*i))
                .collect();
            if fixes.is_empty() {
                (
                    " Undo ".to_string(),
                    vec![Line::from("That fix is no longer in this session.")],
                    Vec::new(),
                    "Esc close".to_string(),
                )
            } else {
                undo_lines(undo, &fixes, theme, inner_width)
            }
        }
        FixPanel::Stopped { title, lines } => {
            let mut shown = Vec::new();
            for line in lines {
                wrapped(&mut shown, "", line, theme.text, theme, inner_width);
            }
            (
                format!(" {} ", sanitize(title)),
                shown,
                Vec::new(),
                "F the fixes and their verdicts · u undo what was applied · Esc close".to_string(),
            )
        }
    };
    // With several clusters watched, every fix window says which one it writes to, and the
    // line stays in view above the prompt where the name is typed.
    let title = match cluster {
        Some(cluster) => {
            let cluster = sanitize(cluster);
            pinned.insert(
                0,
                Line::from(vec![
                    label("cluster", theme),
                    Span::styled(format!("{cluster} (context {cluster})"), theme.accent),
                ]),
            );
            format!(" {} on {cluster} ", title.trim())
        }
        None => title,
    };
    show(frame, area, theme, &title, lines, pinned, &keys, scroll);
}

/// Draws a window of `lines` that scroll, with `pinned` lines (status, prompt) always shown
/// under them, however long the diff.
#[allow(clippy::too_many_arguments)]
fn show(
    frame: &mut Frame,
    area: Rect,
    theme: &Theme,
    title: &str,
    lines: Vec<Line<'static>>,
    pinned: Vec<Line<'static>>,
    keys: &str,
    scroll: usize,
) {
    let total = lines.len() + pinned.len();
    let max_height = (total as u16).saturating_add(2);
    let inner = window(
        frame,
        area,
        theme,
        Line::from(Span::styled(title.to_string(), theme.title)),
        Some(Line::from(Span::styled(format!(" {keys} "), theme.key))),
        WIDTH,
        max_height,
    );
    let pinned_height = (pinned.len() as u16).min(inner.height);
    let [body, bottom] =
        Layout::vertical([Constraint::Min(0), Constraint::Length(pinned_height)]).areas(inner);
    let visible = body.height as usize;
    let first = scroll.min(lines.len().saturating_sub(visible));
    let mut shown: Vec<Line> = lines.into_iter().skip(first).take(visible).collect();
    if first > 0
        && let Some(line) = shown.first_mut()
    {
        *line = Line::from(Span::styled("↑ more (k)", theme.muted));
    }
    frame.render_widget(Paragraph::new(shown), body);
    frame.render_widget(Paragraph::new(pinned), bottom);
}

fn risk_style(risk: Risk, theme: &Theme) -> Style {
    match risk {
        Risk::Low => theme.ok,
        Risk::Medium => theme.warn,
        Risk::High => theme.crit,
    }
}

fn label(text: &str, theme: &Theme) -> Span<'static> {
    Span::styled(format!("{text:<13}"), theme.muted)
}

fn wrapped(
    lines: &mut Vec<Line<'static>>,
    label_text: &str,
    text: &str,
    style: Style,
    theme: &Theme,
    width: usize,
) {
    let text = sanitize(text);
    for (i, part) in wrap_words(&text, width.saturating_sub(13).max(20))
        .into_iter()
        .enumerate()
    {
        let first = if i == 0 { label_text } else { "" };
        lines.push(Line::from(vec![
            label(first, theme),
            Span::styled(part, style),
        ]));
    }
}

fn value_text(value: Option<&Value>) -> String {
    match value {
        None => "(absent)".into(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// The field diff: one line per scalar, a line diff for multi-line strings (a Corefile).
fn diff_lines(changes: &[FieldChange], theme: &Theme, width: usize) -> Vec<Line<'static>> {
    let mut lines = Vec::new();
    for change in changes {
        let before = value_text(change.before.as_ref());
        let after = value_text(change.after.as_ref());
        lines.push(Line::from(Span::styled(
            format!("  {}", sanitize(&change.path)),
            theme.header,
        )));
        if before.contains('\n') || after.contains('\n') {
            for line in diff::text_lines(&before, &after) {
                let style = match line.chars().next() {
                    Some('+') => theme.ok,
                    Some('-') => theme.crit,
                    _ => theme.muted,
                };
                let shown = truncate(&sanitize(&line), width.saturating_sub(4)).into_owned();
                lines.push(Line::from(Span::styled(format!("    {shown}"), style)));
            }
        } else {
            let room = width.saturating_sub(6);
            lines.push(Line::from(Span::styled(
                format!("    - {}", truncate(&sanitize(&before), room)),
                theme.crit,
            )));
            lines.push(Line::from(Span::styled(
                format!("    + {}", truncate(&sanitize(&after), room)),
                theme.ok,
            )));
        }
    }
    lines
}

fn header_lines(plan: &FixPlan, theme: &Theme, width: usize) -> Vec<Line<'static>> {
    let mut lines = vec![Line::from(vec![
        Span::styled(plan.kind.title().to_string(), theme.title),
        Span::raw("  "),
        Span::styled(
            format!("risk: {}", plan.risk.as_str()),
            risk_style(plan.risk, theme),
        ),
    ])];
    wrapped(
        &mut lines,
        "object",
        &plan.target.describe(),
        theme.text,
        theme,
        width,
    );
    wrapped(
        &mut lines,
        "blast radius",
        &plan.blast_radius,
        theme.text,
        theme,
        width,
    );
    wrapped(
        &mut lines,
        "precondition",
        &export::describe_precondition(&plan.precondition),
        theme.muted,
        theme,
        width,
    );
    lines
}

type Window = (String, Vec<Line<'static>>, Vec<Line<'static>>, String);

fn dry_run_text(dry_run: &DryRun, theme: &Theme) -> (String, Style) {
    let style = match dry_run {
        DryRun::Passed => theme.ok,
        DryRun::Failed(_) => theme.crit,
        DryRun::NotRun(_) => theme.muted,
    };
    (dry_run.describe(), style)
}

fn permission_text(permission: &Permission, theme: &Theme) -> (String, Style) {
    let style = match permission {
        Permission::Allowed => theme.ok,
        Permission::Denied { .. } => theme.crit,
        Permission::NotChecked => theme.muted,
        Permission::Unknown { .. } => theme.warn,
    };
    (permission.describe(), style)
}

/// "cache hit ratio reaches 80 % within 5m; now: cache hit ratio 15 %".
fn verify_text(plan: &FixPlan) -> String {
    let before: Vec<String> = plan
        .verify
        .before
        .iter()
        .map(|(label, value)| format!("{label} {value}"))
        .collect();
    format!(
        "{} within {}; now: {}",
        plan.verify.condition.goal(),
        crate::domain::time::format_duration(plan.verify.within),
        if before.is_empty() {
            "-".to_string()
        } else {
            before.join(", ")
        }
    )
}

/// The last pinned lines (the failure, why apply is not offered, or the confirmation
/// prompt) and the keys in the frame.
fn prompt(
    panel: &PlanPanel,
    pinned: &mut Vec<Line<'static>>,
    theme: &Theme,
    width: usize,
) -> String {
    let batch = &panel.batch;
    pinned.push(Line::default());
    if let Some(message) = &panel.message {
        wrapped(pinned, "", message, theme.crit, theme, width);
    }
    if panel.applying {
        let what = if batch.is_batch() {
            "Applying one object at a time …"
        } else {
            "Applying …"
        };
        pinned.push(Line::from(Span::styled(what, theme.accent)));
        return "Esc close".to_string();
    }
    if let Some(why) = batch.blocked() {
        wrapped(pinned, "", &why, theme.warn, theme, width);
        return "x export patch · Esc close".to_string();
    }
    match (batch.confirmation(), &panel.typed) {
        (Confirmation::PressY, _) => "y apply · x export patch · Esc close".to_string(),
        (Confirmation::TypeName(name), None) => {
            wrapped(
                pinned,
                "",
                &format!(
                    "{} risk: press y, then type {name} and Enter to apply.",
                    batch.risk().as_str()
                ),
                theme.text,
                theme,
                width,
            );
            "y confirm · x export patch · Esc close".to_string()
        }
        (Confirmation::TypeName(name), Some(typed)) => {
            pinned.push(Line::from(vec![
                label("type", theme),
                Span::styled(format!("{} to apply: ", sanitize(&name)), theme.text),
                Span::styled(format!("{}█", sanitize(typed)), theme.accent),
            ]));
            "Enter apply · Esc stop typing".to_string()
        }
    }
}

fn change_lines(plan: &FixPlan, lines: &mut Vec<Line<'static>>, theme: &Theme, width: usize) {
    if let Some(refusal) = &plan.refusal {
        wrapped(lines, "refused", refusal, theme.crit, theme, width);
    } else {
        lines.push(Line::from(label("change", theme)));
        lines.extend(diff_lines(&plan.diff, theme, width));
    }
    for warning in &plan.warnings {
        wrapped(lines, "warning", warning, theme.warn, theme, width);
    }
}

fn plan_lines(panel: &PlanPanel, theme: &Theme, width: usize) -> Window {
    let prepared = &panel.batch.lead;
    let plan = &prepared.plan;
    let mut lines = Vec::new();
    if let Some(note) = &prepared.replanned {
        wrapped(&mut lines, "replanned", note, theme.warn, theme, width);
        lines.push(Line::default());
    }
    lines.extend(header_lines(plan, theme, width));
    change_lines(plan, &mut lines, theme, width);
    // The server's answers, the verification and the prompt stay in view under a long diff.
    let mut pinned = Vec::new();
    let (dry_run, dry_style) = dry_run_text(&prepared.dry_run, theme);
    wrapped(&mut pinned, "dry run", &dry_run, dry_style, theme, width);
    let (permission, permission_style) = permission_text(&prepared.permission, theme);
    wrapped(
        &mut pinned,
        "permission",
        &permission,
        permission_style,
        theme,
        width,
    );
    wrapped(
        &mut pinned,
        "verify",
        &verify_text(plan),
        theme.text,
        theme,
        width,
    );
    let keys = prompt(panel, &mut pinned, theme, width);
    (format!(" Fix: {} ", plan.kind.slug()), lines, pinned, keys)
}

/// The same fix on several objects: every object's diff, dry run and permission, then one
/// summary and one confirmation.
fn batch_lines(panel: &PlanPanel, theme: &Theme, width: usize) -> Window {
    let batch = &panel.batch;
    let lead = &batch.lead.plan;
    let count = batch.others.len() + 1;
    let mut lines = vec![Line::from(vec![
        Span::styled(lead.kind.title().to_string(), theme.title),
        Span::raw("  "),
        Span::styled(
            format!("risk: {}", batch.risk().as_str()),
            risk_style(batch.risk(), theme),
        ),
    ])];
    wrapped(
        &mut lines,
        "objects",
        &format!(
            "{count}, written one at a time, each under its own precondition; \
             the first that fails stops the rest"
        ),
        theme.text,
        theme,
        width,
    );
    for (n, prepared) in batch.plans().enumerate() {
        let plan = &prepared.plan;
        lines.push(Line::default());
        lines.push(Line::from(Span::styled(
            truncate(
                &sanitize(&format!("{}. {}", n + 1, plan.target.describe())),
                width,
            )
            .into_owned(),
            theme.header,
        )));
        if let Some(note) = &prepared.replanned {
            wrapped(&mut lines, "replanned", note, theme.warn, theme, width);
        }
        wrapped(
            &mut lines,
            "blast radius",
            &plan.blast_radius,
            theme.text,
            theme,
            width,
        );
        change_lines(plan, &mut lines, theme, width);
        let (dry_run, dry_style) = dry_run_text(&prepared.dry_run, theme);
        wrapped(&mut lines, "dry run", &dry_run, dry_style, theme, width);
        if prepared.writes_allowed {
            let (permission, style) = permission_text(&prepared.permission, theme);
            wrapped(&mut lines, "permission", &permission, style, theme, width);
        }
    }
    for unplanned in &batch.unplanned {
        lines.push(Line::default());
        wrapped(
            &mut lines,
            "not planned",
            &format!("{}: {}", unplanned.object, unplanned.error),
            theme.warn,
            theme,
            width,
        );
    }
    let mut pinned = Vec::new();
    let writes = batch.to_apply();
    let passed = writes
        .iter()
        .filter(|p| p.dry_run == DryRun::Passed)
        .count();
    let dry_style = if passed == writes.len() {
        theme.ok
    } else {
        theme.crit
    };
    wrapped(
        &mut pinned,
        "dry runs",
        &format!("{passed} of {} passed (dryRun=All)", writes.len()),
        dry_style,
        theme,
        width,
    );
    wrapped(
        &mut pinned,
        "verify",
        &format!("each object on its own: {}", verify_text(lead)),
        theme.text,
        theme,
        width,
    );
    wrapped(
        &mut pinned,
        "undo",
        "u puts back every object the batch wrote",
        theme.muted,
        theme,
        width,
    );
    let keys = prompt(panel, &mut pinned, theme, width);
    (
        format!(" Fix: {} ×{} ", lead.kind.slug(), writes.len()),
        lines,
        pinned,
        keys,
    )
}

fn reverted(plan: &FixPlan) -> Vec<FieldChange> {
    plan.diff
        .iter()
        .map(|c| FieldChange {
            path: c.path.clone(),
            before: c.after.clone(),
            after: c.before.clone(),
        })
        .collect()
}

fn undo_lines(panel: &UndoPanel, fixes: &[&AppliedFix], theme: &Theme, width: usize) -> Window {
    let plan = &fixes[0].plan;
    let mut lines = Vec::new();
    if let [fix] = fixes {
        lines.extend(header_lines(&fix.plan, theme, width));
        lines.push(Line::from(label("undo puts back", theme)));
        lines.extend(diff_lines(&reverted(&fix.plan), theme, width));
    } else {
        wrapped(
            &mut lines,
            "batch",
            &format!(
                "{} objects, undone newest first; one that fails does not stop the others",
                fixes.len()
            ),
            theme.text,
            theme,
            width,
        );
        for fix in fixes {
            lines.push(Line::default());
            lines.push(Line::from(Span::styled(
                truncate(&sanitize(&fix.plan.target.describe()), width).into_owned(),
                theme.header,
            )));
            lines.push(Line::from(label("undo puts back", theme)));
            lines.extend(diff_lines(&reverted(&fix.plan), theme, width));
        }
    }
    let mut pinned = Vec::new();
    wrapped(
        &mut pinned,
        "guard",
        "sent only while the fields still hold what the fix wrote",
        theme.muted,
        theme,
        width,
    );
    pinned.push(Line::default());
    if let Some(message) = &panel.message {
        wrapped(&mut pinned, "", message, theme.crit, theme, width);
    }
    let keys = if panel.sending {
        pinned.push(Line::from(Span::styled("Undoing …", theme.accent)));
        "Esc close"
    } else {
        "y undo · Esc keep the fix"
    };
    let title = match fixes.len() {
        1 => format!(" Undo: {} ", plan.kind.slug()),
        n => format!(" Undo: {} ×{n} ", plan.kind.slug()),
    };
    (title, lines, pinned, keys.to_string())
}

/// The session's fixes, newest first, with where each stands.
pub fn render_list(frame: &mut Frame, area: Rect, theme: &Theme, applied: &[AppliedFix]) {
    let width = WIDTH.min(area.width.saturating_sub(4)).saturating_sub(4) as usize;
    let mut lines = Vec::new();
    if applied.is_empty() {
        lines.push(Line::from(Span::styled(
            "No fix applied in this session. Select a finding and press x to preview its fix.",
            theme.muted,
        )));
    }
    for fix in applied.iter().rev() {
        let style = match &fix.status {
            FixStatus::Verified { .. } | FixStatus::Undone => theme.ok,
            FixStatus::NotVerified { .. } | FixStatus::UndoFailed { .. } => theme.crit,
            FixStatus::Verifying | FixStatus::Undoing => theme.accent,
        };
        lines.push(Line::from(vec![
            Span::styled(
                format!("{} ", fix.applied_at.format("%H:%M:%S")),
                theme.muted,
            ),
            Span::styled(format!("{:<13}", fix.status.label()), style),
            Span::styled(
                truncate(
                    &sanitize(&format!(
                        "{} on {}",
                        fix.plan.kind.slug(),
                        fix.plan.target.describe()
                    )),
                    width.saturating_sub(23),
                )
                .into_owned(),
                theme.text,
            ),
        ]));
        lines.push(Line::from(Span::styled(
            format!("  {}", before_after(fix)),
            theme.muted,
        )));
    }
    show(
        frame,
        area,
        theme,
        " Fixes this session ",
        lines,
        Vec::new(),
        "u undo the newest · Esc close",
        0,
    );
}

/// "cache hit ratio 15% → 86%", or why it did not work.
pub fn before_after(fix: &AppliedFix) -> String {
    let before = &fix.plan.verify.before;
    match &fix.status {
        FixStatus::Verified { after } => {
            let pairs: Vec<String> = after
                .iter()
                .map(
                    |(label, value)| match before.iter().find(|(b, _)| b == label) {
                        Some((_, was)) => format!("{label} {was} → {value}"),
                        None => format!("{label} {value}"),
                    },
                )
                .collect();
            sanitize(&pairs.join(", ")).into_owned()
        }
        FixStatus::NotVerified { why } | FixStatus::UndoFailed { why } => {
            sanitize(why).into_owned()
        }
        FixStatus::Verifying => {
            let pairs: Vec<String> = before
                .iter()
                .map(|(label, value)| format!("{label} was {value}"))
                .collect();
            format!("watching; {}", sanitize(&pairs.join(", ")))
        }
        FixStatus::Undoing => "sending the undo".into(),
        FixStatus::Undone => "the prior fields are back".into(),
    }
}
