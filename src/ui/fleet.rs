//! The fleet screen: every cluster watched, one row each (each pane's health, nodes,
//! run-rate, the top finding), then the figures that matter in a regional failover side by
//! side, one column per cluster. The only screen that knows there are several clusters.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};

use super::chrome::short_title;
use super::text::{sanitize, truncate, width};
use super::widgets::{Health, fit_spans, section, severity_style, source_state_line, title_line};
use super::{FleetInput, RenderInput, Screen, format};
use crate::domain::Pane;
use crate::domain::fleet::FleetRow;

/// Columns of the comparison: a figure's label, then one per cluster.
const LABEL_WIDTH: usize = 14;
const CLUSTER_COLUMN: usize = 16;

pub fn render(frame: &mut Frame, area: Rect, input: &RenderInput, fleet: &FleetInput) {
    let theme = input.theme;
    let rows: Vec<FleetRow> = fleet
        .clusters
        .iter()
        .map(|(context, cockpit)| FleetRow::from_cockpit(context, cockpit))
        .collect();
    // Many clusters (`--all-contexts`) keep the comparison's header and first rows in view;
    // the list scrolls to keep the selected row shown.
    let wanted = rows.len() as u16 + 2;
    let list_height = wanted.min(area.height.saturating_sub(5).max(3));
    let [list_area, _, compare_area] = Layout::vertical([
        Constraint::Length(list_height),
        Constraint::Length(1),
        Constraint::Fill(1),
    ])
    .areas(area);

    let inner = section(
        frame,
        list_area,
        theme,
        title_line(
            theme,
            "Clusters",
            format!("{} · Enter opens one · n/N switch", rows.len()),
        ),
    );
    let context_width = rows
        .iter()
        .map(|row| width(&row.context))
        .max()
        .unwrap_or(0)
        .clamp(7, 24);
    let health_header: String = Pane::ALL
        .iter()
        .map(|pane| format!("{:<6}", short_title(Screen::Pane(*pane))))
        .collect();
    let mut lines = vec![Line::from(Span::styled(
        format!(
            "  {:<context_width$} {health_header}{:>7} {:>10}  top finding",
            "context", "nodes", "$/h"
        ),
        theme.muted,
    ))];
    let visible = (inner.height as usize).saturating_sub(1).max(1);
    let first = (input.view.selected + 1).saturating_sub(visible);
    let listed = rows.iter().zip(&fleet.clusters).enumerate();
    for (index, (row, (_, cockpit))) in listed.skip(first).take(visible) {
        let selected = index == input.view.selected;
        let pointer = match (selected, index == fleet.in_view) {
            (true, _) => "› ",
            (false, true) => "• ",
            (false, false) => "  ",
        };
        let context = sanitize(&row.context);
        let context = truncate(&context, context_width);
        let mut spans = vec![
            Span::styled(pointer, theme.accent),
            Span::styled(format!("{context:<context_width$} "), theme.title),
        ];
        for pane in Pane::ALL {
            let health = Health::of(cockpit, pane);
            spans.push(Span::styled(
                format!("{:<6}", health.marker()),
                health.style(theme),
            ));
        }
        spans.push(Span::styled(
            format!(
                "{:>7} {:>10}  ",
                row.nodes.map_or_else(dash, |n| n.to_string()),
                row.run_rate_usd_per_hour.map_or_else(dash, format::money),
            ),
            theme.text,
        ));
        // A cluster whose API server is failing says so, with the age of what is shown,
        // before any finding drawn from that old data.
        let trouble = cockpit
            .health
            .get("kubernetes")
            .is_some_and(|health| health.failing())
            .then(|| source_state_line(cockpit, Pane::Nodes, theme))
            .flatten();
        match (&row.top_finding, row.top_severity, row.complete) {
            _ if trouble.is_some() => spans.extend(trouble.into_iter().flat_map(|l| l.spans)),
            (Some(summary), Some(severity), _) => {
                spans.push(Span::styled(
                    sanitize(summary).into_owned(),
                    severity_style(severity, theme),
                ));
            }
            (_, _, false) => spans.push(Span::styled("still loading", theme.muted)),
            _ => spans.push(Span::styled("nothing to report", theme.ok)),
        }
        let mut line = fit_spans(spans, inner.width as usize);
        if selected {
            line = line.patch_style(theme.selected);
        }
        lines.push(line);
    }
    frame.render_widget(ratatui::widgets::Paragraph::new(lines), inner);

    comparison(frame, compare_area, input, &rows);
}

/// The failover figures, a row each, with a column per cluster; a figure a cluster's sources
/// do not give is "–", never 0. Clusters that do not fit are counted, not squeezed.
fn comparison(frame: &mut Frame, area: Rect, input: &RenderInput, rows: &[FleetRow]) {
    let theme = input.theme;
    let fitting = (area.width as usize).saturating_sub(LABEL_WIDTH) / CLUSTER_COLUMN;
    let shown = &rows[..rows.len().min(fitting.max(1))];
    let detail = if shown.len() < rows.len() {
        format!("{} more clusters do not fit", rows.len() - shown.len())
    } else {
        String::new()
    };
    let inner = section(
        frame,
        area,
        theme,
        title_line(theme, "Side by side", detail),
    );
    let cell = |text: String| format!("{:>CLUSTER_COLUMN$}", truncate(&text, CLUSTER_COLUMN - 1));
    let mut lines = Vec::new();
    let mut heading = format!("{:<LABEL_WIDTH$}", "");
    for row in shown {
        heading.push_str(&cell(sanitize(&row.context).into_owned()));
    }
    lines.push(Line::from(Span::styled(heading, theme.title)));
    let figures: [(&str, FigureText); 7] = [
        ("requests/s", |r| r.requests_per_sec.map(format::qps)),
        ("5xx", |r| r.error_5xx_ratio.map(format::ratio)),
        ("DNS p99", |r| r.dns_p99_ms.map(format::millis)),
        ("pending pods", |r| r.pending_pods.map(|n| n.to_string())),
        ("spot share", |r| r.spot_share.map(format::ratio)),
        ("run-rate", |r| {
            r.run_rate_usd_per_hour
                .map(|usd| format!("{}/h", format::money(usd)))
        }),
        ("nodes", |r| r.nodes.map(|n| n.to_string())),
    ];
    for (label, figure) in figures {
        let mut spans = vec![Span::styled(format!("{label:<LABEL_WIDTH$}"), theme.muted)];
        for row in shown {
            let text = figure(row).unwrap_or_else(dash);
            spans.push(Span::styled(cell(text), theme.text));
        }
        lines.push(fit_spans(spans, inner.width as usize));
    }
    frame.render_widget(ratatui::widgets::Paragraph::new(lines), inner);
}

/// One figure of a cluster's row as text; `None` when its sources do not give it.
type FigureText = fn(&FleetRow) -> Option<String>;

fn dash() -> String {
    "–".to_string()
}
