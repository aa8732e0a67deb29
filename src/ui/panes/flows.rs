//! East-West pane: how much service-to-service traffic crosses availability zones, what
//! that costs, the heaviest edges, and how each Service routes between zones.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Span;

use super::{findings, gap, split};
use crate::domain::cockpit::Figure;
use crate::domain::{Cockpit, FlowSnapshot, Pane, ServiceTopology, ZoneRouting, flows};
use crate::ui::RenderInput;
use crate::ui::format;
use crate::ui::text::sanitize;
use crate::ui::theme::Theme;
use crate::ui::widgets::{
    ChartSpec, Column, FigureCell, Level, TableCell, chart_row, figure_grid, fit_spans,
    table_height, titled_table,
};

/// The cross-zone cost a month, or why there is none (a source that counts flows).
fn monthly_cost(cockpit: &Cockpit, snapshot: &FlowSnapshot) -> String {
    match flows::cross_zone_usd_per_month(snapshot, cockpit.region_prices()) {
        Some(usd) => format::money(usd),
        None => "n/a".to_string(),
    }
}

fn drops(snapshot: &FlowSnapshot) -> f64 {
    snapshot.edges.iter().map(|e| e.drops_per_sec).sum()
}

/// Said where traffic figures would be, when no flow source is available.
const NO_FLOWS: &str = "no flow source";

pub fn headline(cockpit: &Cockpit, theme: &Theme) -> Vec<Span<'static>> {
    let Some(snapshot) = &cockpit.flows else {
        return Vec::new();
    };
    let t = &cockpit.config.thresholds;
    if !snapshot.has_flow_data() {
        return vec![
            Span::styled(
                format::plural(snapshot.services.len(), "service"),
                theme.text,
            ),
            gap(),
            Span::styled(NO_FLOWS, theme.muted),
        ];
    }
    let ratio = snapshot.cross_zone_ratio();
    let mut spans = vec![
        Span::styled("cross-zone ", theme.muted),
        Span::styled(
            format::ratio(ratio),
            Level::high_is_bad(ratio, t.cross_zone_ratio).style(theme),
        ),
        Span::styled(
            format!(" of {}", flows::amount(snapshot, snapshot.total_per_sec())),
            theme.muted,
        ),
    ];
    if flows::cross_zone_usd_per_month(snapshot, cockpit.region_prices()).is_some() {
        spans.extend([
            gap(),
            Span::styled(monthly_cost(cockpit, snapshot), theme.text),
            Span::styled("/month", theme.muted),
        ]);
    }
    let dropped = drops(snapshot);
    if dropped > 0.0 {
        spans.extend([
            gap(),
            Span::styled(format!("{} drops/s", format::qps(dropped)), theme.warn),
        ]);
    }
    spans
}

pub fn render(frame: &mut Frame, area: Rect, input: &RenderInput) {
    let Some(snapshot) = &input.cockpit.flows else {
        return;
    };
    let cockpit = input.cockpit;
    let theme = input.theme;
    let t = &cockpit.config.thresholds;
    let ratio = snapshot.cross_zone_ratio();
    let dropped = drops(snapshot);
    let unrouted = snapshot
        .services
        .iter()
        .filter(|s| routing_level(s) != Level::Ok)
        .count();
    // Without flow metrics the traffic figures are unknown, not zero.
    let traffic = |text: String| {
        if snapshot.has_flow_data() {
            text
        } else {
            "n/a".to_string()
        }
    };
    let cells = vec![
        FigureCell::new(
            "cross-zone",
            traffic(format::ratio(ratio)),
            Level::high_is_bad(ratio, t.cross_zone_ratio),
        )
        .history(cockpit, Figure::CrossZoneRatio),
        FigureCell::new(
            "x-zone",
            traffic(flows::amount(snapshot, snapshot.cross_zone_per_sec())),
            Level::Plain,
        )
        .history(cockpit, Figure::CrossZoneBytesPerSec),
        FigureCell::new(
            "total",
            traffic(flows::amount(snapshot, snapshot.total_per_sec())),
            Level::Plain,
        ),
        FigureCell::new(
            "cost/month",
            traffic(monthly_cost(cockpit, snapshot)),
            Level::Plain,
        ),
        FigureCell::new(
            "drops/s",
            format::qps(dropped),
            if dropped > 0.0 {
                Level::Warn
            } else {
                Level::Ok
            },
        ),
        FigureCell::new(
            "zone-blind svcs",
            unrouted.to_string(),
            if unrouted > 0 { Level::Warn } else { Level::Ok },
        ),
    ];
    let areas = split(area, cells.len(), cockpit.pane_findings(Pane::Flows).len());
    figure_grid(frame, areas.figures, theme, &cells);
    if let Some(charts) = areas.charts {
        chart_row(
            frame,
            charts,
            input,
            &[
                ChartSpec {
                    title: "cross-zone share",
                    figure: Figure::CrossZoneRatio,
                    format: format::ratio,
                    ceiling: Some(1.0),
                    threshold: Some(t.cross_zone_ratio.warning),
                },
                ChartSpec {
                    title: "cross-zone bytes/s",
                    figure: Figure::CrossZoneBytesPerSec,
                    format: format::bytes_per_sec,
                    ceiling: None,
                    threshold: None,
                },
            ],
        );
    }
    // The source line: what measured the traffic, and what it cannot tell.
    let [source_line, middle] =
        Layout::vertical([Constraint::Length(1), Constraint::Fill(1)]).areas(areas.middle);
    let source_text = flows::source_text(snapshot)
        .map(|text| format!("measured by {text}"))
        .unwrap_or_else(|| flows::NO_SOURCE.to_string());
    frame.render_widget(
        fit_spans(
            vec![Span::styled(
                sanitize(&source_text).into_owned(),
                theme.muted,
            )],
            usize::from(source_line.width),
        ),
        source_line,
    );
    if areas.large {
        let [left, right] =
            Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)])
                .spacing(2)
                .areas(middle);
        edges_table(frame, left, input, snapshot);
        services_table(frame, right, input, snapshot);
    } else {
        let services_rows = table_height(snapshot.services.len(), 6);
        let [edges, services] =
            Layout::vertical([Constraint::Min(4), Constraint::Length(services_rows)]).areas(middle);
        edges_table(frame, edges, input, snapshot);
        services_table(frame, services, input, snapshot);
    }
    findings(frame, areas.findings, input, Pane::Flows);
}

fn edges_table(frame: &mut Frame, area: Rect, input: &RenderInput, snapshot: &FlowSnapshot) {
    let theme = input.theme;
    let t = &input.cockpit.config.thresholds;
    let mut order: Vec<usize> = (0..snapshot.edges.len()).collect();
    order.sort_by(|a, b| {
        snapshot.edges[*b]
            .per_sec
            .total_cmp(&snapshot.edges[*a].per_sec)
    });
    let title = format!("Top edges by {}", flows::unit_noun(snapshot));
    titled_table(
        frame,
        area,
        theme,
        &title,
        &[
            Column::left("source → destination", Constraint::Fill(1)),
            Column::right("rate", Constraint::Length(10)),
            Column::right("x-zone", Constraint::Length(6)),
            Column::right("drops", Constraint::Length(5)),
        ],
        order.len(),
        input.view.table_offset,
        |i| {
            let edge = &snapshot.edges[order[i]];
            let share = if edge.per_sec > 0.0 {
                edge.cross_zone_per_sec / edge.per_sec
            } else {
                0.0
            };
            let end = |side: Option<(&str, &str)>| match side {
                Some((namespace, name)) => format!("{namespace}/{name}"),
                None => "?".to_string(),
            };
            vec![
                TableCell::outside(
                    &format!("{} → {}", end(edge.source()), end(edge.destination())),
                    theme.text,
                ),
                TableCell::new(flows::amount(snapshot, edge.per_sec), theme.text),
                TableCell::new(
                    format::ratio(share),
                    Level::high_is_bad(share, t.cross_zone_ratio).style(theme),
                ),
                TableCell::new(
                    format::qps(edge.drops_per_sec),
                    if edge.drops_per_sec > 0.0 {
                        theme.warn
                    } else {
                        theme.muted
                    },
                ),
            ]
        },
    );
}

fn routing_name(routing: ZoneRouting) -> &'static str {
    match routing {
        ZoneRouting::Default => "any zone",
        ZoneRouting::TopologyAware => "topology",
        ZoneRouting::PreferClose => "prefer-close",
        ZoneRouting::NodeLocal => "node-local",
    }
}

/// Endpoints spread over zones with no zone preference send traffic across zones; zone
/// routing without hints, or with a zone left empty, does not hold.
fn routing_level(service: &ServiceTopology) -> Level {
    let zones_with_endpoints = service
        .ready_endpoints_by_zone
        .iter()
        .filter(|z| z.count > 0)
        .count();
    match service.routing {
        ZoneRouting::Default if zones_with_endpoints > 1 => Level::Warn,
        ZoneRouting::TopologyAware if !service.hints => Level::Warn,
        _ => Level::Ok,
    }
}

/// `us-east-1a` → `1a`: the zone's suffix is what tells zones apart in a narrow column.
fn short_zone(zone: &str) -> &str {
    zone.rsplit('-').next().unwrap_or(zone)
}

fn services_table(frame: &mut Frame, area: Rect, input: &RenderInput, snapshot: &FlowSnapshot) {
    let theme = input.theme;
    let mut order: Vec<usize> = (0..snapshot.services.len()).collect();
    order.sort_by_key(|i| {
        let s = &snapshot.services[*i];
        (
            routing_level(s) == Level::Ok,
            s.namespace.as_str(),
            s.name.as_str(),
        )
    });
    titled_table(
        frame,
        area,
        theme,
        "Services by zone",
        &[
            Column::left("service", Constraint::Fill(2)),
            Column::left("routing", Constraint::Length(12)),
            Column::left("hints", Constraint::Length(5)),
            Column::left("ready endpoints per zone", Constraint::Fill(2)),
        ],
        order.len(),
        0,
        |i| {
            let service = &snapshot.services[order[i]];
            let per_zone = service
                .ready_endpoints_by_zone
                .iter()
                .map(|z| format!("{}:{}", sanitize(short_zone(&z.zone)), z.count))
                .collect::<Vec<_>>()
                .join(" ");
            let empty_zone = service.ready_endpoints_by_zone.iter().any(|z| z.count == 0);
            vec![
                TableCell::outside(
                    &format!("{}/{}", service.namespace, service.name),
                    theme.text,
                ),
                TableCell::new(
                    routing_name(service.routing),
                    routing_level(service).style(theme),
                ),
                TableCell::new(if service.hints { "yes" } else { "no" }, theme.muted),
                TableCell::new(
                    per_zone,
                    if empty_zone && service.routing != ZoneRouting::Default {
                        theme.warn
                    } else {
                        theme.text
                    },
                ),
            ]
        },
    );
}
