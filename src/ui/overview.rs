//! The overview: one line of health per pane with its headline figures, then the most
//! severe findings across all panes.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};

use super::panes;
use super::text::width;
use super::widgets::{
    ChartSpec, Health, chart_row, findings_height, findings_list, fit_spans, section,
    source_state_line, sparkline, title_line, waiting_text,
};
use super::{RenderInput, format};
use crate::domain::cockpit::Figure;
use crate::domain::{Pane, SourceState};

/// The figure whose recent history best shows a pane's trend.
fn trend_figure(pane: Pane) -> Option<Figure> {
    match pane {
        Pane::Dns => Some(Figure::DnsP99Ms),
        Pane::Gateways => Some(Figure::Gateway5xxRatio),
        Pane::Flows => Some(Figure::CrossZoneRatio),
        Pane::Nodes => Some(Figure::NodeCount),
        Pane::Rightsizing => None,
        Pane::Spend => Some(Figure::RunRateUsdPerHour),
    }
}

pub fn render(frame: &mut Frame, area: Rect, input: &RenderInput) {
    let theme = input.theme;
    let cockpit = input.cockpit;
    let findings = cockpit.findings();
    let panes_rows = Pane::ALL.len() as u16 + 1;
    let large = area.width >= 120;
    let findings_rows = findings_height(
        findings.len(),
        area.height.saturating_sub(panes_rows + 1) as usize,
    );
    let [panes_area, _, findings_area, rest] = Layout::vertical([
        Constraint::Length(panes_rows),
        Constraint::Length(1),
        Constraint::Max(findings_rows),
        Constraint::Fill(1),
    ])
    .areas(area);
    // Room left under the findings on a big terminal shows the last hour of each pane.
    if large && rest.height >= 8 {
        let [_, charts] =
            Layout::vertical([Constraint::Length(1), Constraint::Fill(1)]).areas(rest);
        trend_charts(frame, charts, input);
    }

    let inner = section(
        frame,
        panes_area,
        theme,
        title_line(theme, "Panes", String::new()),
    );
    let title_width = Pane::ALL
        .iter()
        .map(|p| width(p.title()))
        .max()
        .unwrap_or(0)
        + 1;
    let trend_width: u16 = if large { 24 } else { 0 };
    for (pane, row) in Pane::ALL.iter().zip(inner.rows()) {
        let health = Health::of(cockpit, *pane);
        let mut spans = vec![
            Span::styled(format!("{:<title_width$}", pane.title()), theme.text),
            Span::styled(format!("{:<3}", health.marker()), health.style(theme)),
        ];
        let unavailable = matches!(
            cockpit.sources.get(pane).map(|s| &s.state),
            Some(SourceState::Unavailable { .. } | SourceState::NotInstalled { .. })
        );
        if unavailable || !cockpit.has_data(*pane) {
            match source_state_line(cockpit, *pane, theme) {
                Some(line) => spans.extend(line.spans),
                None => spans.push(Span::styled(waiting_text(cockpit), theme.muted)),
            }
        } else {
            spans.extend(panes::headline(cockpit, *pane, theme));
        }
        let [text_area, trend_area] =
            Layout::horizontal([Constraint::Fill(1), Constraint::Length(trend_width)])
                .spacing(if large { 2 } else { 0 })
                .areas(row);
        frame.render_widget(fit_spans(spans, text_area.width as usize), text_area);
        if let Some(series) = trend_figure(*pane).and_then(|f| cockpit.series(f))
            && trend_width > 0
        {
            frame.render_widget(
                Line::from(Span::styled(
                    sparkline(series, trend_width as usize),
                    theme.spark,
                ))
                .right_aligned(),
                trend_area,
            );
        }
    }

    findings_list(
        frame,
        findings_area,
        theme,
        findings,
        input.view.selected,
        true,
        !Pane::ALL.iter().any(|pane| input.cockpit.has_data(*pane)),
    );
}

/// The last hour of each pane's trend figure: one row of charts, two when there is room.
fn trend_charts(frame: &mut Frame, area: Rect, input: &RenderInput) {
    let t = &input.cockpit.config.thresholds;
    let charts = [
        ChartSpec {
            title: "DNS p99 latency",
            figure: Figure::DnsP99Ms,
            format: format::millis,
            ceiling: None,
            threshold: Some(t.dns_p99_ms.warning),
        },
        ChartSpec {
            title: "gateway 5xx share",
            figure: Figure::Gateway5xxRatio,
            format: format::ratio,
            ceiling: Some(1.0),
            threshold: Some(t.gateway_5xx_ratio.warning),
        },
        ChartSpec {
            title: "cross-zone share",
            figure: Figure::CrossZoneRatio,
            format: format::ratio,
            ceiling: Some(1.0),
            threshold: Some(t.cross_zone_ratio.warning),
        },
        ChartSpec {
            title: "nodes",
            figure: Figure::NodeCount,
            format: |v| format!("{v:.0}"),
            ceiling: None,
            threshold: None,
        },
        ChartSpec {
            title: "pending pods",
            figure: Figure::PendingPods,
            format: |v| format!("{v:.0}"),
            ceiling: None,
            threshold: None,
        },
        ChartSpec {
            title: "run-rate $/h",
            figure: Figure::RunRateUsdPerHour,
            format: format::money,
            ceiling: None,
            threshold: None,
        },
    ];
    if area.height >= 24 {
        let [top, bottom] =
            Layout::vertical([Constraint::Fill(1), Constraint::Fill(1)]).areas(area);
        let (first, second) = charts.split_at(3);
        chart_row(frame, top, input, first);
        chart_row(frame, bottom, input, second);
    } else {
        let [row] = Layout::vertical([Constraint::Max(14)]).areas(area);
        chart_row(frame, row, input, &charts);
    }
}
