//! The six panes. Each shows a row of headline figures (charts too when there is room), the
//! objects behind them, and the pane's findings; `headline` is the one-line version the
//! overview shows.

mod dns;
mod flows;
mod gateways;
mod nodes;
mod rightsizing;
mod spend;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Span;

use super::RenderInput;
use super::theme::Theme;
use super::widgets::{self, is_large};
use crate::domain::{Cockpit, Pane};

pub fn render(frame: &mut Frame, area: Rect, input: &RenderInput, pane: Pane) {
    let Some(area) = widgets::pane_frame(frame, area, input, pane) else {
        return;
    };
    match pane {
        Pane::Dns => dns::render(frame, area, input),
        Pane::Gateways => gateways::render(frame, area, input),
        Pane::Flows => flows::render(frame, area, input),
        Pane::Nodes => nodes::render(frame, area, input),
        Pane::Rightsizing => rightsizing::render(frame, area, input),
        Pane::Spend => spend::render(frame, area, input),
    }
}

/// The pane's headline figures in one line, coloured by threshold; empty without data.
pub fn headline(cockpit: &Cockpit, pane: Pane, theme: &Theme) -> Vec<Span<'static>> {
    // Firing alerts lead the line: they are what paged the reader.
    let alerts = cockpit
        .pane_findings(pane)
        .iter()
        .filter(|f| f.id.starts_with(crate::domain::alerts::FINDING_PREFIX))
        .count();
    let mut spans = Vec::new();
    if alerts > 0 {
        let label = if alerts == 1 { "alert" } else { "alerts" };
        spans.push(Span::styled(format!("⚑ {alerts} {label}"), theme.crit));
        spans.push(gap());
    }
    spans.extend(pane_headline(cockpit, pane, theme));
    spans
}

fn pane_headline(cockpit: &Cockpit, pane: Pane, theme: &Theme) -> Vec<Span<'static>> {
    match pane {
        Pane::Dns => dns::headline(cockpit, theme),
        Pane::Gateways => gateways::headline(cockpit, theme),
        Pane::Flows => flows::headline(cockpit, theme),
        Pane::Nodes => nodes::headline(cockpit, theme),
        Pane::Rightsizing => rightsizing::headline(cockpit, theme),
        Pane::Spend => spend::headline(cockpit, theme),
    }
}

/// Where a pane's parts go: figures on top, charts when large, the object tables in the
/// middle, the findings at the bottom.
pub struct PaneAreas {
    pub figures: Rect,
    pub charts: Option<Rect>,
    pub middle: Rect,
    pub findings: Rect,
    pub large: bool,
}

/// Splits a pane's area. `figure_cells` decides how many rows the figure grid takes.
pub fn split(area: Rect, figure_cells: usize, findings: usize) -> PaneAreas {
    let large = is_large(area);
    // Small terminals squeeze the figures into two rows to leave room for the tables.
    let max_figure_rows = if area.height < 30 { 2 } else { 3 };
    let figure_rows = widgets::grid_rows(area.width, figure_cells, max_figure_rows);
    // A quarter of the pane for findings (at least 3, or 8 when large) when there are many.
    let cap = usize::from(area.height / 4).max(if large { 8 } else { 3 });
    let findings_rows = widgets::findings_height(findings, cap);
    let chart_rows = if large && area.height >= 40 { 11 } else { 0 };
    let [figures, charts, middle, findings] = Layout::vertical([
        Constraint::Length(figure_rows),
        Constraint::Length(chart_rows),
        Constraint::Fill(1),
        Constraint::Length(findings_rows),
    ])
    .areas(area);
    PaneAreas {
        figures,
        charts: (chart_rows > 0).then_some(charts),
        middle,
        findings,
        large,
    }
}

/// The pane's findings list with the view's selection.
pub fn findings(frame: &mut Frame, area: Rect, input: &RenderInput, pane: Pane) {
    widgets::findings_list(
        frame,
        area,
        input.theme,
        input.cockpit.pane_findings(pane),
        input.view.selected,
        false,
        !input.cockpit.has_data(pane),
    );
}

/// Separator between figures in a headline.
pub fn gap() -> Span<'static> {
    Span::raw("  ")
}
