//! Gateways pane: Gateway API gateways and routes with their conditions decoded into plain
//! reasons, backend readiness and 5xx share.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Span;

use super::{findings, gap, split};
use crate::domain::cockpit::Figure;
use crate::domain::{Cockpit, Condition, GatewaySnapshot, Pane, RouteStatus, gateways};
use crate::ui::RenderInput;
use crate::ui::format;
use crate::ui::theme::Theme;
use crate::ui::widgets::{
    ChartSpec, Column, FigureCell, Level, TableCell, chart_row, figure_grid, table_height,
    titled_table,
};

/// Whether every parent reported the condition True; `None` when none reported it.
fn all_true(
    route: &RouteStatus,
    pick: fn(&crate::domain::RouteParent) -> Option<&Condition>,
) -> Option<bool> {
    let mut seen = false;
    for parent in &route.parents {
        match pick(parent) {
            Some(condition) if condition.is_true() => seen = true,
            Some(_) => return Some(false),
            None => {}
        }
    }
    seen.then_some(true)
}

fn accepted(route: &RouteStatus) -> Option<bool> {
    all_true(route, |p| p.accepted.as_ref())
}

fn resolved(route: &RouteStatus) -> Option<bool> {
    all_true(route, |p| p.resolved_refs.as_ref())
}

fn yes_no(value: Option<bool>, theme: &Theme) -> TableCell {
    match value {
        Some(true) => TableCell::new("yes", theme.ok),
        Some(false) => TableCell::new("NO", theme.crit),
        None => TableCell::new("?", theme.muted),
    }
}

fn ready_backends(route: &RouteStatus) -> (u32, u32) {
    let readiness = gateways::ready_backends(route);
    (readiness.ready, readiness.total)
}

fn ready_level(ready: u32, total: u32) -> Level {
    if total == 0 || ready == 0 {
        Level::Crit
    } else if ready < total {
        Level::Warn
    } else {
        Level::Ok
    }
}

struct Counts {
    gateways: usize,
    programmed: usize,
    routes: usize,
    not_accepted: usize,
    unresolved: usize,
    ready: u32,
    endpoints: u32,
}

fn counts(snapshot: &GatewaySnapshot) -> Counts {
    let (ready, endpoints) = snapshot
        .routes
        .iter()
        .map(ready_backends)
        .fold((0, 0), |(r, t), (a, b)| (r + a, t + b));
    Counts {
        gateways: snapshot.gateways.len(),
        programmed: snapshot
            .gateways
            .iter()
            .filter(|g| g.programmed.as_ref().is_some_and(Condition::is_true))
            .count(),
        routes: snapshot.routes.len(),
        not_accepted: snapshot
            .routes
            .iter()
            .filter(|r| accepted(r) == Some(false))
            .count(),
        unresolved: snapshot
            .routes
            .iter()
            .filter(|r| resolved(r) == Some(false))
            .count(),
        ready,
        endpoints,
    }
}

fn count_level(bad: usize) -> Level {
    if bad > 0 { Level::Crit } else { Level::Ok }
}

fn error_ratio(cockpit: &Cockpit) -> Option<f64> {
    cockpit
        .series(Figure::Gateway5xxRatio)
        .and_then(|s| s.latest())
}

pub fn headline(cockpit: &Cockpit, theme: &Theme) -> Vec<Span<'static>> {
    let Some(snapshot) = &cockpit.gateways else {
        return Vec::new();
    };
    let t = &cockpit.config.thresholds;
    let c = counts(snapshot);
    let mut spans = vec![
        Span::styled(
            format!("{}/{}", c.programmed, c.gateways),
            count_level(c.gateways - c.programmed).style(theme),
        ),
        Span::styled(" gateways programmed", theme.muted),
        gap(),
        Span::styled(c.routes.to_string(), theme.text),
        Span::styled(" routes", theme.muted),
    ];
    for (count, what) in [
        (c.not_accepted, "not accepted"),
        (c.unresolved, "unresolved"),
    ] {
        if count > 0 {
            spans.extend([
                gap(),
                Span::styled(count.to_string(), theme.crit),
                Span::styled(format!(" {what}"), theme.muted),
            ]);
        }
    }
    if let Some(ratio) = error_ratio(cockpit) {
        spans.extend([
            gap(),
            Span::styled("5xx ", theme.muted),
            Span::styled(
                format::ratio(ratio),
                Level::high_is_bad(ratio, t.gateway_5xx_ratio).style(theme),
            ),
        ]);
    }
    spans
}

pub fn render(frame: &mut Frame, area: Rect, input: &RenderInput) {
    let Some(snapshot) = &input.cockpit.gateways else {
        return;
    };
    let cockpit = input.cockpit;
    let theme = input.theme;
    let t = &cockpit.config.thresholds;
    let c = counts(snapshot);
    let requests = cockpit
        .series(Figure::GatewayRequestsPerSec)
        .and_then(|s| s.latest());
    let ratio = error_ratio(cockpit);
    let cells = vec![
        FigureCell::new(
            "gateways",
            format!("{}/{}", c.programmed, c.gateways),
            count_level(c.gateways - c.programmed),
        ),
        FigureCell::new("routes", c.routes.to_string(), Level::Plain),
        FigureCell::new(
            "not accepted",
            c.not_accepted.to_string(),
            count_level(c.not_accepted),
        ),
        FigureCell::new(
            "unresolved",
            c.unresolved.to_string(),
            count_level(c.unresolved),
        ),
        FigureCell::new(
            "req/s",
            requests.map_or("n/a".to_string(), format::qps),
            Level::Plain,
        )
        .history(cockpit, Figure::GatewayRequestsPerSec),
        FigureCell::new(
            "5xx",
            ratio.map_or("n/a".to_string(), format::ratio),
            ratio.map_or(Level::Plain, |r| Level::high_is_bad(r, t.gateway_5xx_ratio)),
        )
        .history(cockpit, Figure::Gateway5xxRatio),
        FigureCell::new(
            "endpoints",
            format!("{}/{}", c.ready, c.endpoints),
            ready_level(c.ready, c.endpoints),
        ),
    ];
    let areas = split(
        area,
        cells.len(),
        cockpit.pane_findings(Pane::Gateways).len(),
    );
    figure_grid(frame, areas.figures, theme, &cells);
    if let Some(charts) = areas.charts {
        chart_row(
            frame,
            charts,
            input,
            &[
                ChartSpec {
                    title: "requests per second",
                    figure: Figure::GatewayRequestsPerSec,
                    format: format::qps,
                    ceiling: None,
                    threshold: None,
                },
                ChartSpec {
                    title: "5xx share",
                    figure: Figure::Gateway5xxRatio,
                    format: format::ratio,
                    ceiling: Some(1.0),
                    threshold: Some(t.gateway_5xx_ratio.warning),
                },
            ],
        );
    }
    let cap = if areas.large { 10 } else { 5 };
    let gateway_rows = table_height(snapshot.gateways.len(), cap);
    let [gateways_area, routes_area] =
        Layout::vertical([Constraint::Length(gateway_rows), Constraint::Min(3)])
            .areas(areas.middle);
    gateways_table(frame, gateways_area, input, snapshot, areas.large);
    if areas.large {
        // The roll-up on a big screen: routes, then every backend behind them.
        let routes_rows = table_height(snapshot.routes.len(), routes_area.height / 2);
        let [routes_area, backends_area] =
            Layout::vertical([Constraint::Length(routes_rows), Constraint::Fill(1)])
                .areas(routes_area);
        routes_table(frame, routes_area, input, snapshot, true);
        backends_table(frame, backends_area, input, snapshot);
    } else {
        routes_table(frame, routes_area, input, snapshot, false);
    }
    findings(frame, areas.findings, input, Pane::Gateways);
}

fn gateways_table(
    frame: &mut Frame,
    area: Rect,
    input: &RenderInput,
    snapshot: &GatewaySnapshot,
    large: bool,
) {
    let theme = input.theme;
    let t = &input.cockpit.config.thresholds;
    let mut columns = vec![
        Column::left("gateway", Constraint::Fill(2)),
        Column::left("class", Constraint::Fill(1)),
        Column::left("address", Constraint::Fill(2)),
        Column::left("prog", Constraint::Length(4)),
        Column::right("routes", Constraint::Length(6)),
    ];
    // Shown only when CloudWatch gave figures: its header names the source.
    let load_balancers = large && snapshot.gateways.iter().any(|g| g.load_balancer.is_some());
    if large {
        columns.push(Column::right("req/s", Constraint::Length(6)));
        columns.push(Column::right("5xx", Constraint::Length(6)));
        columns.push(Column::left("condition", Constraint::Fill(3)));
    }
    if load_balancers {
        columns.push(Column::left(
            "load balancer (CloudWatch)",
            Constraint::Fill(4),
        ));
    }
    titled_table(
        frame,
        area,
        theme,
        "Gateways",
        &columns,
        snapshot.gateways.len(),
        0,
        |i| {
            let gateway = &snapshot.gateways[i];
            let programmed = gateway.programmed.as_ref().map(Condition::is_true);
            let mut cells = vec![
                TableCell::outside(
                    &format!("{}/{}", gateway.namespace, gateway.name),
                    theme.text,
                ),
                TableCell::outside(&gateway.class, theme.muted),
                match &gateway.address {
                    Some(address) => TableCell::outside(address, theme.text),
                    None => TableCell::new("no address", theme.warn),
                },
                yes_no(programmed, theme),
                TableCell::new(gateway.attached_routes.to_string(), theme.text),
            ];
            if large {
                cells.push(TableCell::new(
                    gateway
                        .requests_per_sec
                        .map_or("–".to_string(), format::qps),
                    theme.text,
                ));
                cells.push(ratio_cell(
                    gateway.error_5xx_ratio,
                    t.gateway_5xx_ratio,
                    theme,
                ));
                let condition = [&gateway.accepted, &gateway.programmed]
                    .into_iter()
                    .flatten()
                    .find(|c| !c.is_true())
                    .map(|c| format!("{}: {}", c.reason, c.message))
                    .unwrap_or_default();
                cells.push(TableCell::outside(&condition, theme.muted));
            }
            if load_balancers {
                cells.push(load_balancer_cell(gateway.load_balancer.as_ref(), theme));
            }
            cells
        },
    );
}

/// A Gateway's ALB/NLB as CloudWatch sees it: p99, 5xx the load balancer itself returned
/// and target health (ALB); flows and bytes (NLB).
fn load_balancer_cell(
    figures: Option<&crate::domain::model::LoadBalancerMetrics>,
    theme: &Theme,
) -> TableCell {
    use crate::domain::format::{bytes_per_sec, millis, rate};
    let Some(figures) = figures else {
        return TableCell::new("–", theme.muted);
    };
    // Most telling first: what does not fit the column is cut at the end.
    let mut parts = vec![figures.kind.short().to_string()];
    if let Some(p99) = figures.p99_response_ms {
        parts.push(format!("p99 {}", millis(p99)));
    }
    let unhealthy = figures.unhealthy_hosts.unwrap_or(0.0);
    if let Some(healthy) = figures.healthy_hosts {
        parts.push(format!("hosts {healthy:.0} ok {unhealthy:.0} bad"));
    }
    if let Some(elb_5xx) = figures.elb_5xx_per_sec.filter(|r| *r > 0.0) {
        parts.push(format!("LB 5xx {}/s", rate(elb_5xx)));
    }
    if let Some(flows) = figures.active_flows {
        parts.push(format!("{} flows", rate(flows)));
    }
    if let Some(bytes) = figures.processed_bytes_per_sec {
        parts.push(bytes_per_sec(bytes));
    }
    let trouble = unhealthy > 0.0 || figures.elb_5xx_per_sec.is_some_and(|r| r > 0.0);
    TableCell::outside(
        &parts.join(" · "),
        if trouble { theme.warn } else { theme.text },
    )
}

fn ratio_cell(
    ratio: Option<f64>,
    band: crate::domain::thresholds::Band,
    theme: &Theme,
) -> TableCell {
    match ratio {
        Some(r) => TableCell::new(format::ratio(r), Level::high_is_bad(r, band).style(theme)),
        None => TableCell::new("–", theme.muted),
    }
}

fn routes_table(
    frame: &mut Frame,
    area: Rect,
    input: &RenderInput,
    snapshot: &GatewaySnapshot,
    large: bool,
) {
    let theme = input.theme;
    let t = &input.cockpit.config.thresholds;
    // Broken routes first: that is what the user came for.
    let mut order: Vec<usize> = (0..snapshot.routes.len()).collect();
    order.sort_by_key(|i| {
        let route = &snapshot.routes[*i];
        let healthy = accepted(route) != Some(false) && resolved(route) != Some(false);
        (healthy, route.namespace.as_str(), route.name.as_str())
    });
    let mut columns = vec![
        Column::left("route", Constraint::Fill(3)),
        Column::left("kind", Constraint::Length(if large { 9 } else { 4 })),
        Column::left(
            if large { "accepted" } else { "acc" },
            Constraint::Length(if large { 8 } else { 3 }),
        ),
        Column::left("refs", Constraint::Length(4)),
        Column::left("reason", Constraint::Fill(3)),
        Column::right("ready", Constraint::Length(5)),
        Column::right("5xx", Constraint::Length(5)),
    ];
    if large {
        columns[0] = Column::left("route", Constraint::Fill(2));
        columns[4] = Column::left("reason", Constraint::Fill(5));
        columns.insert(4, Column::left("hostnames", Constraint::Fill(2)));
        columns.push(Column::right("req/s", Constraint::Length(6)));
    }
    titled_table(
        frame,
        area,
        theme,
        "Routes",
        &columns,
        order.len(),
        input.view.table_offset,
        |i| {
            let route = &snapshot.routes[order[i]];
            let (ready, total) = ready_backends(route);
            let reason = gateways::route_reason(route);
            let reason_style = if reason.is_empty() || reason.eq_ignore_ascii_case("ok") {
                theme.muted
            } else {
                theme.warn
            };
            let kind = if large {
                route.kind.as_str()
            } else {
                match route.kind {
                    crate::domain::RouteKind::Http => "HTTP",
                    crate::domain::RouteKind::Grpc => "GRPC",
                }
            };
            let mut cells = vec![
                TableCell::outside(&format!("{}/{}", route.namespace, route.name), theme.text),
                TableCell::new(kind, theme.muted),
                yes_no(accepted(route), theme),
                yes_no(resolved(route), theme),
                TableCell::outside(&reason, reason_style),
                TableCell::new(
                    format!("{ready}/{total}"),
                    ready_level(ready, total).style(theme),
                ),
                ratio_cell(route.error_5xx_ratio, t.gateway_5xx_ratio, theme),
            ];
            if large {
                cells.insert(
                    4,
                    TableCell::outside(&route.hostnames.join(","), theme.muted),
                );
                cells.push(TableCell::new(
                    route.requests_per_sec.map_or("–".to_string(), format::qps),
                    theme.text,
                ));
            }
            cells
        },
    );
}

/// Each backend of each route: does the Service exist, what share of traffic it gets, and
/// how many of its endpoints are ready. Routes with a problem come first.
fn backends_table(frame: &mut Frame, area: Rect, input: &RenderInput, snapshot: &GatewaySnapshot) {
    let theme = input.theme;
    let mut rows: Vec<(usize, usize)> = snapshot
        .routes
        .iter()
        .enumerate()
        .flat_map(|(r, route)| (0..route.backends.len()).map(move |b| (r, b)))
        .collect();
    rows.sort_by_key(|(r, b)| {
        let backend = &snapshot.routes[*r].backends[*b];
        let healthy = backend.service_exists
            && backend.total_endpoints > 0
            && backend.ready_endpoints == backend.total_endpoints;
        (healthy, *r, *b)
    });
    titled_table(
        frame,
        area,
        theme,
        "Backends",
        &[
            Column::left("route", Constraint::Fill(2)),
            Column::left("backend service", Constraint::Fill(2)),
            Column::right("port", Constraint::Length(5)),
            Column::right("weight", Constraint::Length(6)),
            Column::left("service", Constraint::Length(9)),
            Column::right("ready", Constraint::Length(7)),
        ],
        rows.len(),
        0,
        |i| {
            let (r, b) = rows[i];
            let route = &snapshot.routes[r];
            let backend = &route.backends[b];
            let total_weight: u32 = route.backends.iter().map(|b| b.weight).sum();
            let share = if total_weight > 0 {
                format::ratio(f64::from(backend.weight) / f64::from(total_weight))
            } else {
                "–".to_string()
            };
            vec![
                TableCell::outside(&format!("{}/{}", route.namespace, route.name), theme.muted),
                TableCell::outside(
                    &format!("{}/{}", backend.namespace, backend.name),
                    theme.text,
                ),
                TableCell::new(
                    backend.port.map_or("–".to_string(), |p| p.to_string()),
                    theme.muted,
                ),
                TableCell::new(share, theme.text),
                if backend.service_exists {
                    TableCell::new("exists", theme.ok)
                } else {
                    TableCell::new("MISSING", theme.crit)
                },
                TableCell::new(
                    format!("{}/{}", backend.ready_endpoints, backend.total_endpoints),
                    ready_level(backend.ready_endpoints, backend.total_endpoints).style(theme),
                ),
            ]
        },
    );
}
