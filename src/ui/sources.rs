//! The source-health window: every source kockpit reads (the Kubernetes API, Prometheus,
//! CloudWatch, the simulator), when it last answered, how long that took and its last
//! error; the checks `kockpit doctor` makes (permissions, optional APIs, exporters), in the
//! doctor's own words; then each pane with the source behind it and how that is doing. What
//! an on-call engineer checks first when a figure looks wrong: is it the cluster, or the pipe?

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::format::age;
use super::overlay::{window, wrap_words};
use super::text::{sanitize, truncate};
use super::theme::Theme;
use crate::domain::Cockpit;
use crate::domain::checks::{Checks, Status};
use crate::domain::model::{Pane, SourceHealth, SourceState};
use crate::domain::time::Timestamp;

const WIDTH: u16 = 110;

/// One source in a line or two: name, state, last answer and its latency, counts, then
/// its endpoint and (if any) its last error.
fn source_lines(
    health: &SourceHealth,
    now: Option<Timestamp>,
    theme: &Theme,
    width: usize,
) -> Vec<Line<'static>> {
    let ago =
        |at: Timestamp| now.map_or_else(|| at.to_rfc3339(), |now| format!("{} ago", age(at, now)));
    let (state, style) = if health.failing() {
        ("failing", theme.crit)
    } else if health.last_success.is_some() {
        ("ok", theme.ok)
    } else {
        ("waiting", theme.muted)
    };
    let last = match health.last_success {
        Some(at) => format!("last answer {}", ago(at)),
        None => "no answer yet".to_string(),
    };
    let latency = health
        .latency_ms
        .map(|ms| format!(" · took {ms:.0} ms"))
        .unwrap_or_default();
    let counts = if health.queries_ok + health.queries_failed > 0 {
        format!(
            " · {} ok, {} failed",
            health.queries_ok, health.queries_failed
        )
    } else {
        String::new()
    };
    let mut lines = vec![Line::from(vec![
        Span::styled(format!("{:<12}", sanitize(&health.source)), theme.title),
        Span::styled(format!("{state:<9}"), style),
        Span::styled(
            truncate(
                &format!("{last}{latency}{counts}"),
                width.saturating_sub(21),
            )
            .into_owned(),
            theme.text,
        ),
    ])];
    lines.push(Line::from(Span::styled(
        truncate(
            &format!("            {}", sanitize(&health.endpoint)),
            width,
        )
        .into_owned(),
        theme.muted,
    )));
    if let Some(detail) = &health.detail {
        lines.push(Line::from(Span::styled(
            truncate(&format!("            {}", sanitize(detail)), width).into_owned(),
            theme.muted,
        )));
    }
    if let (Some(error), Some(at)) = (&health.last_error, health.last_error_at) {
        let text = format!("last error {}: {}", ago(at), sanitize(error));
        let error_style = if health.failing() {
            theme.crit
        } else {
            theme.muted
        };
        for line in wrap_words(&text, width.saturating_sub(12)) {
            lines.push(Line::from(Span::styled(
                format!("            {line}"),
                error_style,
            )));
        }
    }
    lines
}

/// The doctor's checks, area by area, in its own words: every line that is not ok, and the
/// ok ones counted when there are many (every permission has one).
fn check_lines(checks: &Checks, theme: &Theme, width: usize) -> Vec<Line<'static>> {
    let mut lines = vec![Line::from(vec![
        Span::styled("Checks ", theme.title),
        Span::styled(
            format!("(kockpit doctor) {}", checks.summary()),
            theme.muted,
        ),
    ])];
    for (area, in_area) in checks.by_area() {
        let ok: Vec<_> = in_area.iter().filter(|c| c.status == Status::Ok).collect();
        let mut shown: Vec<(Status, String)> = in_area
            .iter()
            .filter(|c| c.status != Status::Ok || ok.len() <= 2)
            .map(|c| (c.status, c.line()))
            .collect();
        if ok.len() > 2 {
            shown.insert(0, (Status::Ok, format!("{} checks ok", ok.len())));
        }
        for (index, (status, text)) in shown.into_iter().enumerate() {
            let style = match status {
                Status::Ok => theme.ok,
                Status::Skipped => theme.muted,
                Status::Warn => theme.warn,
                Status::Fail => theme.crit,
            };
            let title = if index == 0 { area.title() } else { "" };
            let mut wrapped = wrap_words(&sanitize(&text), width.saturating_sub(28)).into_iter();
            lines.push(Line::from(vec![
                Span::styled(format!("{title:<22}"), theme.text),
                Span::styled(format!("{}  ", status.marker()), style),
                Span::styled(wrapped.next().unwrap_or_default(), theme.text),
            ]));
            lines.extend(
                wrapped
                    .map(|rest| Line::from(Span::styled(format!("{:28}{rest}", ""), theme.text))),
            );
        }
    }
    lines
}

/// A pane, the source behind it and its state.
fn pane_lines(cockpit: &Cockpit, pane: Pane, theme: &Theme, width: usize) -> Vec<Line<'static>> {
    let Some(status) = cockpit.sources.get(&pane) else {
        // The simulator and replays report no pane states: the pane is as its data is.
        let (state, style) = if has_data(cockpit, pane) {
            ("ok", theme.ok)
        } else {
            ("no data yet", theme.muted)
        };
        return vec![Line::from(vec![
            Span::styled(format!("{:<14}", pane.title()), theme.text),
            Span::styled(
                format!("{:<24}", sanitize(&cockpit.cluster.source)),
                theme.muted,
            ),
            Span::styled(state, style),
        ])];
    };
    let (state, cause, style) = match &status.state {
        SourceState::Ok => ("ok", String::new(), theme.ok),
        SourceState::Degraded { cause } => ("degraded", cause.clone(), theme.warn),
        SourceState::Unavailable { cause } => ("unavailable", cause.clone(), theme.crit),
        SourceState::NotInstalled { what } => (
            "not installed",
            format!("{what} not installed"),
            theme.muted,
        ),
    };
    let good = match (&status.state, cockpit.now) {
        (SourceState::Ok, _) | (_, None) => String::new(),
        (_, Some(now)) => format!(" · last good {} ago", age(status.at, now)),
    };
    let detail = if cause.is_empty() {
        good
    } else {
        format!(": {}{good}", sanitize(&cause))
    };
    // A long cause wraps under the state rather than being cut: it is what to act on.
    let mut wrapped = wrap_words(&format!("{state}{detail}"), width.saturating_sub(38)).into_iter();
    let mut lines = vec![Line::from(vec![
        Span::styled(format!("{:<14}", pane.title()), theme.text),
        Span::styled(format!("{:<24}", sanitize(&status.source)), theme.muted),
        Span::styled(wrapped.next().unwrap_or_default(), style),
    ])];
    lines.extend(wrapped.map(|rest| Line::from(Span::styled(format!("{:38}{rest}", ""), style))));
    lines
}

fn has_data(cockpit: &Cockpit, pane: Pane) -> bool {
    match pane {
        Pane::Dns => cockpit.dns.is_some(),
        Pane::Gateways => cockpit.gateways.is_some(),
        Pane::Flows => cockpit.flows.is_some(),
        Pane::Nodes => cockpit.nodes.is_some(),
        Pane::Rightsizing => cockpit.workloads.is_some(),
        Pane::Spend => cockpit.spend.is_some(),
    }
}

/// The window itself, scrolled by `scroll` lines.
pub fn render(frame: &mut Frame, area: Rect, theme: &Theme, cockpit: &Cockpit, scroll: usize) {
    let width = WIDTH.min(area.width.saturating_sub(8)) as usize;
    let mut lines: Vec<Line<'static>> = Vec::new();
    if cockpit.health.is_empty() {
        lines.push(Line::from(Span::styled(
            "No source has reported yet.",
            theme.muted,
        )));
    }
    for health in cockpit.health.values() {
        lines.extend(source_lines(health, cockpit.now, theme, width));
    }
    if let Some(checks) = &cockpit.checks {
        lines.push(Line::from(""));
        lines.extend(check_lines(checks, theme, width));
    }
    lines.push(Line::from(""));
    lines.push(Line::from(Span::styled("Panes", theme.title)));
    for pane in Pane::ALL {
        lines.extend(pane_lines(cockpit, pane, theme, width));
    }
    let height = (lines.len() as u16).saturating_add(2);
    let inner = window(
        frame,
        area,
        theme,
        Line::from(Span::styled(" Sources ", theme.title)),
        Some(Line::from(Span::styled(
            " Esc close · ↓ scroll ",
            theme.key,
        ))),
        WIDTH,
        height,
    );
    let first = scroll.min(lines.len().saturating_sub(inner.height as usize));
    let shown: Vec<Line> = lines.into_iter().skip(first).collect();
    frame.render_widget(Paragraph::new(shown), inner);
}
