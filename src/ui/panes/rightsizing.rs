//! Right-sizing pane: workloads ranked by what their over-sized requests cost per month,
//! with requests against p95 usage, throttling, OOM kills and the recommended requests.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Span;

use super::{findings, gap, split};
use crate::domain::rightsizing::{self, Basis};
use crate::domain::thresholds::Thresholds;
use crate::domain::{Cockpit, Pane, UsageStats, WorkloadSnapshot, WorkloadUsage};
use crate::ui::RenderInput;
use crate::ui::format;
use crate::ui::theme::Theme;
use crate::ui::widgets::{Column, FigureCell, Level, TableCell, figure_grid, titled_table};

/// `150m 192Mi`: the recommended requests; large layouts add the memory limit and say when
/// the VPA's target is the basis.
fn recommendation_text(workload: &WorkloadUsage, large: bool) -> String {
    let Some(rec) = rightsizing::recommendation(workload) else {
        return "–".to_string();
    };
    let requests = format!(
        "{} {}",
        format::millicores(f64::from(rec.cpu_request_m)),
        format::mebibytes(f64::from(rec.memory_request_mib))
    );
    if !large {
        return requests;
    }
    let basis = match rec.basis {
        Basis::Vpa => " VPA",
        Basis::P95 => "",
    };
    format!(
        "{requests} lim {}{basis}",
        format::mebibytes(f64::from(rec.memory_limit_mib))
    )
}

fn use_ratio(used: f64, requested: f64) -> Option<f64> {
    (requested > 0.0).then(|| used / requested)
}

/// Usage figures come from metrics; without them a request cannot be judged.
fn cpu_level(w: &WorkloadUsage, t: &Thresholds) -> Level {
    let Some(usage) = &w.usage else {
        return Level::Plain;
    };
    match use_ratio(usage.cpu_p95_m, w.cpu_request_m) {
        Some(r) if r > 1.0 => Level::Warn,
        Some(r) => Level::low_is_bad(r, t.cpu_use_ratio),
        None => Level::Warn,
    }
}

fn memory_level(w: &WorkloadUsage, t: &Thresholds) -> Level {
    let Some(usage) = &w.usage else {
        return Level::Plain;
    };
    match use_ratio(usage.memory_p95_mib, w.memory_request_mib) {
        Some(r) if r > 1.0 => Level::Crit,
        Some(r) => Level::low_is_bad(r, t.memory_use_ratio),
        None => Level::Warn,
    }
}

/// A usage figure, or a dash without metrics.
fn usage_text(
    w: &WorkloadUsage,
    figure: fn(&UsageStats) -> f64,
    format: fn(f64) -> String,
) -> String {
    w.usage
        .as_ref()
        .map_or_else(|| "–".to_string(), |usage| format(figure(usage)))
}

/// Workload indices with their monthly waste, most wasteful first.
fn ranked(cockpit: &Cockpit, snapshot: &WorkloadSnapshot) -> Vec<(usize, f64)> {
    let costs = cockpit.unit_costs();
    let mut ranked: Vec<(usize, f64)> = snapshot
        .workloads
        .iter()
        .enumerate()
        .map(|(i, w)| (i, rightsizing::monthly_waste_usd(w, &costs)))
        .collect();
    ranked.sort_by(|a, b| {
        b.1.total_cmp(&a.1).then_with(|| {
            let (wa, wb) = (&snapshot.workloads[a.0], &snapshot.workloads[b.0]);
            (wa.namespace.as_str(), wa.name.as_str())
                .cmp(&(wb.namespace.as_str(), wb.name.as_str()))
        })
    });
    ranked
}

struct Totals {
    workloads: usize,
    waste: f64,
    oversized: usize,
    throttled: usize,
    oom_kills: u32,
}

fn totals(cockpit: &Cockpit, snapshot: &WorkloadSnapshot) -> Totals {
    let t = &cockpit.config.thresholds;
    let costs = cockpit.unit_costs();
    Totals {
        workloads: snapshot.workloads.len(),
        waste: snapshot
            .workloads
            .iter()
            .map(|w| rightsizing::monthly_waste_usd(w, &costs))
            .sum(),
        oversized: snapshot
            .workloads
            .iter()
            .filter(|w| {
                let Some(usage) = &w.usage else {
                    return false;
                };
                matches!(cpu_level(w, t), Level::Warn | Level::Crit)
                    && usage.cpu_p95_m < w.cpu_request_m
                    || matches!(memory_level(w, t), Level::Warn | Level::Crit)
                        && usage.memory_p95_mib < w.memory_request_mib
            })
            .count(),
        throttled: snapshot
            .workloads
            .iter()
            .filter(|w| {
                w.usage
                    .as_ref()
                    .is_some_and(|usage| usage.throttling_ratio > t.throttling_ratio.warning)
            })
            .count(),
        oom_kills: snapshot.workloads.iter().map(|w| w.oom_kills_7d).sum(),
    }
}

pub fn headline(cockpit: &Cockpit, theme: &Theme) -> Vec<Span<'static>> {
    let Some(snapshot) = &cockpit.workloads else {
        return Vec::new();
    };
    let t = &cockpit.config.thresholds;
    let totals = totals(cockpit, snapshot);
    let mut spans = vec![
        Span::styled(format::count(totals.workloads), theme.text),
        Span::styled(" workloads", theme.muted),
        gap(),
        Span::styled("waste ", theme.muted),
        Span::styled(
            format::money(totals.waste),
            if totals.waste > t.min_monthly_waste_usd {
                theme.warn
            } else {
                theme.text
            },
        ),
        Span::styled("/month", theme.muted),
    ];
    if totals.throttled > 0 {
        spans.extend([
            gap(),
            Span::styled(format!("{} throttled", totals.throttled), theme.warn),
        ]);
    }
    if totals.oom_kills > 0 {
        spans.extend([
            gap(),
            Span::styled(
                format!("{} OOM kills 7d", totals.oom_kills),
                Level::high_is_bad(totals.oom_kills as f64, t.oom_kills_7d).style(theme),
            ),
        ]);
    }
    spans
}

pub fn render(frame: &mut Frame, area: Rect, input: &RenderInput) {
    let Some(snapshot) = &input.cockpit.workloads else {
        return;
    };
    let cockpit = input.cockpit;
    let theme = input.theme;
    let t = &cockpit.config.thresholds;
    let totals = totals(cockpit, snapshot);
    let cells = vec![
        FigureCell::new("workloads", format::count(totals.workloads), Level::Plain),
        FigureCell::new(
            "waste/month",
            format::money(totals.waste),
            if totals.waste > t.min_monthly_waste_usd {
                Level::Warn
            } else {
                Level::Ok
            },
        ),
        FigureCell::new(
            "oversized",
            totals.oversized.to_string(),
            if totals.oversized > 0 {
                Level::Warn
            } else {
                Level::Ok
            },
        ),
        FigureCell::new(
            "throttled",
            totals.throttled.to_string(),
            if totals.throttled > 0 {
                Level::Warn
            } else {
                Level::Ok
            },
        ),
        FigureCell::new(
            "OOM kills 7d",
            totals.oom_kills.to_string(),
            Level::high_is_bad(totals.oom_kills as f64, t.oom_kills_7d),
        ),
        FigureCell::new(
            "window",
            crate::ui::text::clean(&snapshot.window, 8),
            Level::Plain,
        ),
    ];
    let areas = split(
        area,
        cells.len(),
        cockpit.pane_findings(Pane::Rightsizing).len(),
    );
    figure_grid(frame, areas.figures, theme, &cells);
    // No history figure suits a chart here; the table takes the room instead.
    let middle = match areas.charts {
        Some(charts) => charts.union(areas.middle),
        None => areas.middle,
    };
    workloads_table(frame, middle, input, snapshot, areas.large);
    findings(frame, areas.findings, input, Pane::Rightsizing);
}

fn workloads_table(
    frame: &mut Frame,
    area: Rect,
    input: &RenderInput,
    snapshot: &WorkloadSnapshot,
    large: bool,
) {
    let theme = input.theme;
    let t = &input.cockpit.config.thresholds;
    let order = ranked(input.cockpit, snapshot);
    let columns: Vec<Column> = if large {
        vec![
            Column::left("workload", Constraint::Fill(3)),
            Column::left("kind", Constraint::Length(11)),
            Column::right("pods", Constraint::Length(4)),
            Column::right("cpu req", Constraint::Length(7)),
            Column::right("p95", Constraint::Length(6)),
            Column::right("limit", Constraint::Length(6)),
            Column::right("mem req", Constraint::Length(7)),
            Column::right("p95", Constraint::Length(6)),
            Column::right("limit", Constraint::Length(6)),
            Column::right("thrott", Constraint::Length(6)),
            Column::right("OOM", Constraint::Length(3)),
            Column::right("rst", Constraint::Length(3)),
            Column::left("scaling", Constraint::Length(9)),
            Column::left("recommended", Constraint::Length(24)),
            Column::right("waste/mo", Constraint::Length(8)),
        ]
    } else {
        // Below 80 columns the recommendation gives way to the workload's name.
        let narrow = area.width < 80;
        let mut columns = vec![
            Column::left("workload", Constraint::Fill(1)),
            Column::right("cpu req/p95", Constraint::Length(11)),
            Column::right("mem req/p95", Constraint::Length(11)),
            Column::right("thr", Constraint::Length(4)),
            Column::right("OOM", Constraint::Length(3)),
            Column::left("recommend", Constraint::Length(10)),
            Column::right("$/mo", Constraint::Length(6)),
        ];
        if narrow {
            columns.remove(5);
        }
        columns
    };
    let narrow = !large && area.width < 80;
    titled_table(
        frame,
        area,
        theme,
        "Workloads by monthly waste",
        &columns,
        order.len(),
        input.view.table_offset,
        |i| {
            let (index, waste) = order[i];
            let w = &snapshot.workloads[index];
            let cpu_style = cpu_level(w, t).style(theme);
            let memory_style = memory_level(w, t).style(theme);
            let throttling = match &w.usage {
                Some(usage) => TableCell::new(
                    format::ratio(usage.throttling_ratio),
                    Level::high_is_bad(usage.throttling_ratio, t.throttling_ratio).style(theme),
                ),
                None => TableCell::new("–".to_string(), theme.muted),
            };
            let oom = TableCell::new(
                w.oom_kills_7d.to_string(),
                if w.oom_kills_7d > 0 {
                    Level::high_is_bad(w.oom_kills_7d as f64, t.oom_kills_7d).style(theme)
                } else {
                    theme.muted
                },
            );
            let waste_cell = TableCell::new(
                format::money(waste),
                if waste > t.min_monthly_waste_usd {
                    theme.warn
                } else {
                    theme.muted
                },
            );
            let name = format!("{}/{}", w.namespace, w.name);
            if large {
                let scaling = match (&w.vpa, w.hpa_on_cpu) {
                    (Some(vpa), true) => format!("VPA {}+HPA", vpa.update_mode),
                    (Some(vpa), false) => format!("VPA {}", vpa.update_mode),
                    (None, true) => "HPA cpu".to_string(),
                    (None, false) => "–".to_string(),
                };
                let limit = |v: Option<f64>, f: fn(f64) -> String| v.map_or("none".to_string(), f);
                vec![
                    TableCell::outside(&name, theme.text),
                    TableCell::outside(&w.kind, theme.muted),
                    TableCell::new(w.replicas.to_string(), theme.text),
                    TableCell::new(format::millicores(w.cpu_request_m), cpu_style),
                    TableCell::new(
                        usage_text(w, |u| u.cpu_p95_m, format::millicores),
                        theme.text,
                    ),
                    TableCell::new(limit(w.cpu_limit_m, format::millicores), theme.muted),
                    TableCell::new(format::mebibytes(w.memory_request_mib), memory_style),
                    TableCell::new(
                        usage_text(w, |u| u.memory_p95_mib, format::mebibytes),
                        theme.text,
                    ),
                    TableCell::new(limit(w.memory_limit_mib, format::mebibytes), theme.muted),
                    throttling,
                    oom,
                    TableCell::new(w.restarts_24h.to_string(), theme.muted),
                    TableCell::outside(&scaling, theme.muted),
                    TableCell::new(recommendation_text(w, true), theme.accent),
                    waste_cell,
                ]
            } else {
                let mut cells = vec![
                    TableCell::outside(&name, theme.text),
                    TableCell::new(
                        format!(
                            "{}/{}",
                            format::millicores(w.cpu_request_m),
                            usage_text(w, |u| u.cpu_p95_m, format::millicores)
                        ),
                        cpu_style,
                    ),
                    TableCell::new(
                        format!(
                            "{}/{}",
                            format::mebibytes(w.memory_request_mib),
                            usage_text(w, |u| u.memory_p95_mib, format::mebibytes)
                        ),
                        memory_style,
                    ),
                    throttling,
                    oom,
                    TableCell::new(recommendation_text(w, false), theme.accent),
                    waste_cell,
                ];
                if narrow {
                    cells.remove(5);
                }
                cells
            }
        },
    );
}
