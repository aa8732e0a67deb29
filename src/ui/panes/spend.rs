//! Spend pane: the cluster's run-rate at table prices, idle capacity, spot share, and what
//! each namespace, node and workload costs.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Span;

use super::{findings, gap, split};
use crate::domain::cockpit::Figure;
use crate::domain::format::HOURS_PER_MONTH;
use crate::domain::spend::SpendView;
use crate::domain::{Capacity, Cockpit, Pane};
use crate::ui::RenderInput;
use crate::ui::format;
use crate::ui::text::sanitize;
use crate::ui::theme::Theme;
use crate::ui::widgets::{
    ChartSpec, Column, FigureCell, Level, TableCell, chart_row, figure_grid, fit_spans,
    titled_table,
};

fn idle_level(cockpit: &Cockpit, spend: &SpendView) -> Level {
    if spend.run_rate_usd_per_hour <= 0.0 {
        return Level::Plain;
    }
    Level::high_is_bad(spend.idle_ratio(), cockpit.config.thresholds.idle_ratio)
}

fn unallocated_level(cockpit: &Cockpit, spend: &SpendView) -> Level {
    if spend.run_rate_usd_per_hour <= 0.0 {
        return Level::Plain;
    }
    Level::high_is_bad(
        spend.unallocated_ratio(),
        cockpit.config.thresholds.unallocated_ratio,
    )
}

pub fn headline(cockpit: &Cockpit, theme: &Theme) -> Vec<Span<'static>> {
    let Some(spend) = &cockpit.spend else {
        return Vec::new();
    };
    let t = &cockpit.config.thresholds;
    let mut spans = vec![
        Span::styled(format::money(spend.run_rate_usd_per_hour), theme.text),
        Span::styled("/h", theme.muted),
        Span::styled(
            format!(
                " ({}/month)",
                format::money(spend.run_rate_usd_per_hour * HOURS_PER_MONTH)
            ),
            theme.muted,
        ),
        gap(),
        Span::styled("idle ", theme.muted),
        Span::styled(
            format::money(spend.idle_usd_per_hour),
            idle_level(cockpit, spend).style(theme),
        ),
        Span::styled("/h", theme.muted),
        gap(),
        Span::styled("spot ", theme.muted),
        Span::styled(
            format::ratio(spend.spot_share),
            Level::low_is_bad(spend.spot_share, t.spot_share).style(theme),
        ),
    ];
    if spend.unpriced_nodes > 0 {
        spans.extend([
            gap(),
            Span::styled(
                format!("{} unpriced", format::plural(spend.unpriced_nodes, "node")),
                theme.warn,
            ),
        ]);
    }
    spans
}

pub fn render(frame: &mut Frame, area: Rect, input: &RenderInput) {
    let Some(spend) = &input.cockpit.spend else {
        return;
    };
    let cockpit = input.cockpit;
    let theme = input.theme;
    let t = &cockpit.config.thresholds;
    let cells = vec![
        FigureCell::new(
            "run-rate",
            format!("{}/h", format::money(spend.run_rate_usd_per_hour)),
            Level::Plain,
        )
        .history(cockpit, Figure::RunRateUsdPerHour),
        FigureCell::new(
            "month",
            format::money(spend.run_rate_usd_per_hour * HOURS_PER_MONTH),
            Level::Plain,
        ),
        FigureCell::new(
            "idle",
            format!("{}/h", format::money(spend.idle_usd_per_hour)),
            idle_level(cockpit, spend),
        )
        .history(cockpit, Figure::IdleUsdPerHour),
        FigureCell::new(
            "spot",
            format::ratio(spend.spot_share),
            Level::low_is_bad(spend.spot_share, t.spot_share),
        ),
        FigureCell::new(
            "unlabelled",
            format!("{}/h", format::money(spend.unallocated_usd_per_hour)),
            unallocated_level(cockpit, spend),
        ),
        FigureCell::new(
            "shared",
            format!("{}/h", format::money(spend.shared_usd_per_hour)),
            Level::Plain,
        ),
    ];
    let areas = split(area, cells.len(), cockpit.pane_findings(Pane::Spend).len());
    figure_grid(frame, areas.figures, theme, &cells);
    if let Some(charts) = areas.charts {
        chart_row(
            frame,
            charts,
            input,
            &[
                ChartSpec {
                    title: "run-rate $/h",
                    figure: Figure::RunRateUsdPerHour,
                    format: format::money,
                    ceiling: None,
                    threshold: None,
                },
                ChartSpec {
                    title: "idle $/h",
                    figure: Figure::IdleUsdPerHour,
                    format: format::money,
                    ceiling: None,
                    threshold: None,
                },
            ],
        );
    }
    let [prices, tables] =
        Layout::vertical([Constraint::Length(1), Constraint::Fill(1)]).areas(areas.middle);
    let mut line = billed_spans(cockpit, theme);
    line.extend(prices_line(spend, theme));
    frame.render_widget(fit_spans(line, prices.width as usize), prices);
    let [top, by_node] =
        Layout::vertical([Constraint::Percentage(45), Constraint::Fill(1)]).areas(tables);
    let [by_namespace, by_workload] =
        Layout::horizontal([Constraint::Percentage(45), Constraint::Fill(1)])
            .spacing(2)
            .areas(top);
    namespaces_table(frame, by_namespace, input, spend, areas.large);
    workloads_table(frame, by_workload, input, spend, areas.large);
    nodes_table(frame, by_node, input, spend, areas.large);
    findings(frame, areas.findings, input, Pane::Spend);
}

/// The account's bill so far this month from CloudWatch (`--cloudwatch`), beside the
/// run-rate kockpit computes itself; nothing without it.
fn billed_spans(cockpit: &Cockpit, theme: &Theme) -> Vec<Span<'static>> {
    let Some(billed) = &cockpit.billing else {
        return Vec::new();
    };
    vec![
        Span::styled("billed this month ", theme.muted),
        Span::styled(format::money(billed.month_to_date_usd), theme.text),
        Span::styled(
            format!(" (CloudWatch, {}) · ", billed.as_of.format("%b %d")),
            theme.muted,
        ),
    ]
}

/// Where the money figures come from, and what they leave out.
fn prices_line(spend: &SpendView, theme: &Theme) -> Vec<Span<'static>> {
    // Origin, age and discounts: e.g. "AWS 2026-11-25 09:12 UTC, on-demand −28%".
    let label = spend.prices.to_string();
    let source = if label.trim().is_empty() {
        "unknown".to_string()
    } else {
        sanitize(&label).into_owned()
    };
    let mut spans = vec![
        Span::styled("prices ", theme.muted),
        Span::styled(source, theme.text),
        Span::styled(" · control plane ", theme.muted),
        Span::styled(
            format!("{}/h", format::money(spend.control_plane_usd_per_hour)),
            theme.text,
        ),
    ];
    if spend.on_demand_usd_per_hour > spend.on_demand_at_spot_usd_per_hour {
        spans.push(Span::styled(
            " · on-demand on spot would save ",
            theme.muted,
        ));
        spans.push(Span::styled(
            format!(
                "{}/h",
                format::money(spend.on_demand_usd_per_hour - spend.on_demand_at_spot_usd_per_hour)
            ),
            theme.text,
        ));
    }
    if !spend.unpriced_instance_types.is_empty() {
        spans.push(Span::styled(" · no price for ", theme.muted));
        spans.push(Span::styled(
            sanitize(&spend.unpriced_instance_types.join(", ")).into_owned(),
            theme.warn,
        ));
    }
    spans
}

fn share(part: f64, whole: f64) -> String {
    if whole > 0.0 {
        format::ratio(part / whole)
    } else {
        "–".to_string()
    }
}

fn namespaces_table(
    frame: &mut Frame,
    area: Rect,
    input: &RenderInput,
    spend: &SpendView,
    large: bool,
) {
    let theme = input.theme;
    let t = &input.cockpit.config.thresholds;
    let mut columns = vec![
        Column::left("namespace", Constraint::Fill(1)),
        Column::right("$/h", Constraint::Length(7)),
        Column::right("share", Constraint::Length(5)),
        Column::left("owner", Constraint::Length(if large { 16 } else { 9 })),
    ];
    if large {
        columns.insert(2, Column::right("$/month", Constraint::Length(8)));
    }
    titled_table(
        frame,
        area,
        theme,
        "By namespace",
        &columns,
        spend.by_namespace.len(),
        0,
        |i| {
            let namespace = &spend.by_namespace[i];
            let owner = namespace
                .team
                .as_deref()
                .or(namespace.cost_center.as_deref());
            let mut cells = vec![
                TableCell::outside(&namespace.namespace, theme.text),
                TableCell::new(
                    format::money_per_hour(namespace.usd_per_hour),
                    if namespace.usd_per_hour > t.namespace_usd_per_hour {
                        theme.warn
                    } else {
                        theme.text
                    },
                ),
                TableCell::new(
                    share(namespace.usd_per_hour, spend.run_rate_usd_per_hour),
                    theme.muted,
                ),
                match owner {
                    Some(owner) => TableCell::outside(owner, theme.muted),
                    None => TableCell::new("none", theme.warn),
                },
            ];
            if large {
                cells.insert(
                    2,
                    TableCell::new(
                        format::money(namespace.usd_per_hour * HOURS_PER_MONTH),
                        theme.text,
                    ),
                );
            }
            cells
        },
    );
}

fn workloads_table(
    frame: &mut Frame,
    area: Rect,
    input: &RenderInput,
    spend: &SpendView,
    large: bool,
) {
    let theme = input.theme;
    let mut columns = vec![
        Column::left("workload", Constraint::Fill(1)),
        Column::right("pods", Constraint::Length(4)),
        Column::right("$/h", Constraint::Length(7)),
        Column::right("$/month", Constraint::Length(8)),
    ];
    if large {
        columns.insert(1, Column::left("kind", Constraint::Length(11)));
    }
    titled_table(
        frame,
        area,
        theme,
        "By workload",
        &columns,
        spend.by_workload.len(),
        0,
        |i| {
            let workload = &spend.by_workload[i];
            let mut cells = vec![
                TableCell::outside(
                    &format!("{}/{}", workload.namespace, workload.name),
                    theme.text,
                ),
                TableCell::new(workload.replicas.to_string(), theme.muted),
                TableCell::new(format::money_per_hour(workload.usd_per_hour), theme.text),
                TableCell::new(
                    format::money(workload.usd_per_hour * HOURS_PER_MONTH),
                    theme.text,
                ),
            ];
            if large {
                cells.insert(1, TableCell::outside(&workload.kind, theme.muted));
            }
            cells
        },
    );
}

/// Nodes by hourly price, priciest first; nodes without a price last.
fn nodes_table(frame: &mut Frame, area: Rect, input: &RenderInput, spend: &SpendView, large: bool) {
    let theme = input.theme;
    let mut columns = vec![
        Column::left("node", Constraint::Fill(2)),
        Column::left("type", Constraint::Length(11)),
        Column::left("cap", Constraint::Length(4)),
        Column::right("$/h", Constraint::Length(7)),
        Column::right("idle $/h", Constraint::Length(8)),
        Column::right("$/month", Constraint::Length(8)),
    ];
    if large {
        columns.insert(1, Column::left("pool", Constraint::Fill(1)));
        columns.insert(4, Column::left("zone", Constraint::Length(11)));
    }
    titled_table(
        frame,
        area,
        theme,
        "By node, priciest first",
        &columns,
        spend.by_node.len(),
        input.view.table_offset,
        |i| {
            // Already in order: the spend view sorts its nodes once when it is made.
            let node = &spend.by_node[i];
            let idle_style = match node.usd_per_hour {
                // A node mostly idle is what consolidation should have removed.
                Some(price) if price > 0.0 && node.idle_usd_per_hour / price > 0.5 => theme.warn,
                _ => theme.text,
            };
            let mut cells = vec![
                TableCell::outside(&node.name, theme.text),
                TableCell::outside(&node.instance_type, theme.text),
                TableCell::new(
                    match node.capacity {
                        Capacity::Spot => "spot",
                        Capacity::OnDemand => "od",
                    },
                    theme.muted,
                ),
                TableCell::new(
                    node.usd_per_hour
                        .map_or("n/a".to_string(), format::money_per_hour),
                    if node.usd_per_hour.is_some() {
                        theme.text
                    } else {
                        theme.warn
                    },
                ),
                TableCell::new(format::money_per_hour(node.idle_usd_per_hour), idle_style),
                TableCell::new(
                    node.usd_per_hour
                        .map_or("–".to_string(), |h| format::money(h * HOURS_PER_MONTH)),
                    theme.text,
                ),
            ];
            if large {
                cells.insert(
                    1,
                    TableCell::outside(node.nodepool.as_deref().unwrap_or("–"), theme.muted),
                );
                cells.insert(4, TableCell::outside(&node.zone, theme.muted));
            }
            cells
        },
    );
}
