//! Nodes pane: Karpenter churn over the last hour and why, spot share, pending pods,
//! provisioning latency, NodePools with their budgets and limits, and the nodes themselves.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};

use super::{findings, gap, split};
use crate::domain::cockpit::Figure;
use crate::domain::{BlockerKind, Capacity, Cockpit, NodePoolInfo, NodeSnapshot, Pane, nodes};
use crate::ui::RenderInput;
use crate::ui::format;
use crate::ui::text::sanitize;
use crate::ui::theme::Theme;
use crate::ui::widgets::{
    ChartSpec, Column, FigureCell, Level, TableCell, chart_row, figure_grid, fit_spans,
    table_height, titled_table,
};

/// The figures of the last hour the pane and the overview show.
struct Summary {
    nodes: usize,
    spot_share: f64,
    launched: usize,
    terminated: usize,
    /// Termination reasons with counts, most frequent first.
    reasons: Vec<(String, usize)>,
    pending: usize,
    /// Pending longer than the threshold.
    stuck: usize,
    provisioning_p95: Option<f64>,
    not_ready: usize,
    disrupting: usize,
}

fn summarize(cockpit: &Cockpit, snapshot: &NodeSnapshot, pending_seconds: f64) -> Summary {
    let summary = cockpit
        .node_summary
        .clone()
        .unwrap_or_else(|| nodes::summary(snapshot));
    let mut reasons: Vec<(String, usize)> = summary
        .disruption_reasons
        .into_iter()
        .map(|(reason, count)| (reason, count as usize))
        .collect();
    reasons.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let stuck = snapshot
        .pending_pods
        .iter()
        .filter(|p| (snapshot.at - p.since).num_seconds() as f64 > pending_seconds)
        .count();
    Summary {
        nodes: summary.count,
        spot_share: summary.spot_share,
        launched: summary.launched_last_hour as usize,
        terminated: summary.terminated_last_hour as usize,
        reasons,
        pending: summary.pending_pods,
        stuck,
        provisioning_p95: summary.provisioning_p95_s,
        not_ready: snapshot.nodes.iter().filter(|n| !n.ready).count(),
        disrupting: snapshot.nodes.iter().filter(|n| n.disrupting).count(),
    }
}

fn pending_level(summary: &Summary) -> Level {
    if summary.stuck > 0 {
        Level::Crit
    } else if summary.pending > 0 {
        Level::Warn
    } else {
        Level::Ok
    }
}

pub fn headline(cockpit: &Cockpit, theme: &Theme) -> Vec<Span<'static>> {
    let Some(snapshot) = &cockpit.nodes else {
        return Vec::new();
    };
    let t = &cockpit.config.thresholds;
    let s = summarize(cockpit, snapshot, t.pending_pod_seconds);
    vec![
        Span::styled(s.nodes.to_string(), theme.text),
        Span::styled(" nodes", theme.muted),
        gap(),
        Span::styled("spot ", theme.muted),
        Span::styled(
            format::ratio(s.spot_share),
            Level::low_is_bad(s.spot_share, t.spot_share).style(theme),
        ),
        gap(),
        Span::styled(format!("+{}", s.launched), theme.text),
        Span::styled("/", theme.muted),
        Span::styled(
            format!("-{}", s.terminated),
            Level::high_is_bad(s.terminated as f64, t.terminations_per_hour).style(theme),
        ),
        Span::styled(" last hour", theme.muted),
        gap(),
        Span::styled(s.pending.to_string(), pending_level(&s).style(theme)),
        Span::styled(" pending", theme.muted),
    ]
}

pub fn render(frame: &mut Frame, area: Rect, input: &RenderInput) {
    let Some(snapshot) = &input.cockpit.nodes else {
        return;
    };
    let cockpit = input.cockpit;
    let theme = input.theme;
    let t = &cockpit.config.thresholds;
    let s = summarize(cockpit, snapshot, t.pending_pod_seconds);
    let cells = vec![
        FigureCell::new("nodes", format::count(s.nodes), Level::Plain)
            .history(cockpit, Figure::NodeCount),
        FigureCell::new(
            "spot",
            format::ratio(s.spot_share),
            Level::low_is_bad(s.spot_share, t.spot_share),
        )
        .history(cockpit, Figure::SpotShare),
        FigureCell::new("launched 1h", s.launched.to_string(), Level::Plain),
        FigureCell::new(
            "terminated 1h",
            s.terminated.to_string(),
            Level::high_is_bad(s.terminated as f64, t.terminations_per_hour),
        ),
        FigureCell::new("pending", s.pending.to_string(), pending_level(&s))
            .history(cockpit, Figure::PendingPods),
        FigureCell::new(
            "prov p95",
            s.provisioning_p95.map_or("–".to_string(), format::seconds),
            s.provisioning_p95.map_or(Level::Plain, |p| {
                Level::high_is_bad(p, t.provisioning_p95_s)
            }),
        ),
        FigureCell::new(
            "not ready",
            s.not_ready.to_string(),
            if s.not_ready > 0 {
                Level::Crit
            } else {
                Level::Ok
            },
        ),
        FigureCell::new(
            "disrupting",
            s.disrupting.to_string(),
            if s.disrupting > 0 {
                Level::Warn
            } else {
                Level::Ok
            },
        ),
    ];
    let areas = split(area, cells.len(), cockpit.pane_findings(Pane::Nodes).len());
    figure_grid(frame, areas.figures, theme, &cells);
    if let Some(charts) = areas.charts {
        chart_row(
            frame,
            charts,
            input,
            &[
                ChartSpec {
                    title: "nodes",
                    figure: Figure::NodeCount,
                    format: |v| format!("{v:.0}"),
                    ceiling: None,
                    threshold: None,
                },
                ChartSpec {
                    title: "spot share",
                    figure: Figure::SpotShare,
                    format: format::ratio,
                    ceiling: Some(1.0),
                    threshold: Some(t.spot_share.warning),
                },
                ChartSpec {
                    title: "pending pods",
                    figure: Figure::PendingPods,
                    format: |v| format!("{v:.0}"),
                    ceiling: None,
                    threshold: None,
                },
            ],
        );
    }
    let width = areas.middle.width as usize;
    if areas.large {
        let pools_rows = table_height(snapshot.nodepools.len(), 8);
        let [pools, rest] = Layout::vertical([Constraint::Length(pools_rows), Constraint::Fill(1)])
            .areas(areas.middle);
        pools_table(frame, pools, input, snapshot, true);
        let [left, right] =
            Layout::horizontal([Constraint::Percentage(65), Constraint::Percentage(35)])
                .spacing(2)
                .areas(rest);
        nodes_table(frame, left, input, snapshot, true);
        let reasons_rows = table_height(s.reasons.len(), 7);
        let pending_rows = table_height(snapshot.pending_pods.len(), 8);
        let [reasons, pending, blockers] = Layout::vertical([
            Constraint::Length(reasons_rows),
            Constraint::Length(pending_rows),
            Constraint::Fill(1),
        ])
        .areas(right);
        reasons_table(frame, reasons, input, &s);
        pending_table(frame, pending, input, snapshot);
        blockers_table(frame, blockers, input, snapshot);
    } else {
        // On a short screen the nodes table keeps the room; pools and blockers give way.
        let tight = areas.middle.height < 12;
        let pools_rows = if tight {
            0
        } else {
            table_height(snapshot.nodepools.len(), 5)
        };
        let [reasons, blockers, pools, nodes] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Length(u16::from(!tight)),
            Constraint::Length(pools_rows),
            Constraint::Min(3),
        ])
        .areas(areas.middle);
        frame.render_widget(fit_spans(reasons_line(&s, theme).spans, width), reasons);
        frame.render_widget(
            fit_spans(blockers_line(snapshot, theme).spans, width),
            blockers,
        );
        pools_table(frame, pools, input, snapshot, false);
        nodes_table(frame, nodes, input, snapshot, false);
    }
    findings(frame, areas.findings, input, Pane::Nodes);
}

/// `terminated last hour: SpotInterrupted 14 · Underutilized 3`
fn reasons_line(s: &Summary, theme: &Theme) -> Line<'static> {
    let mut spans = vec![Span::styled("terminated last hour ", theme.muted)];
    if s.reasons.is_empty() {
        spans.push(Span::styled("none", theme.muted));
    }
    for (i, (reason, count)) in s.reasons.iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled(" · ", theme.muted));
        }
        spans.push(Span::styled(format!("{} ", sanitize(reason)), theme.text));
        spans.push(Span::styled(count.to_string(), theme.text));
    }
    Line::from(spans)
}

/// `blocked by PDB shop/checkout · do-not-disrupt batch/etl-0`; the pending pods when
/// nothing blocks disruption.
fn blockers_line(snapshot: &NodeSnapshot, theme: &Theme) -> Line<'static> {
    let mut spans = vec![Span::styled("blockers ", theme.muted)];
    if snapshot.blockers.is_empty() {
        spans.push(Span::styled("none", theme.muted));
    }
    for (i, blocker) in snapshot.blockers.iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled(" · ", theme.muted));
        }
        spans.push(Span::styled(
            format!("{} ", blocker_kind(blocker.kind)),
            theme.muted,
        ));
        spans.push(Span::styled(
            sanitize(&format!("{}/{}", blocker.namespace, blocker.name)).into_owned(),
            theme.warn,
        ));
    }
    Line::from(spans)
}

fn blocker_kind(kind: BlockerKind) -> &'static str {
    match kind {
        BlockerKind::Pdb => "PDB",
        BlockerKind::DoNotDisrupt => "do-not-disrupt",
    }
}

/// `WhenEmptyOrUnderutilized` is long; the table column is not.
fn short_policy(policy: &str, large: bool) -> String {
    if large {
        return sanitize(policy).into_owned();
    }
    match policy {
        "WhenEmpty" => "empty".to_string(),
        "WhenEmptyOrUnderutilized" => "underutil".to_string(),
        other => sanitize(other).into_owned(),
    }
}

/// `10%` or `0 (Mon-Fri 09:00 8h)`: each budget, schedule in brackets.
fn budgets_text(pool: &NodePoolInfo) -> String {
    if pool.budgets.is_empty() {
        return "default 10%".to_string();
    }
    pool.budgets
        .iter()
        .map(|b| {
            let mut text = b.nodes.clone();
            if let Some(schedule) = &b.schedule {
                text.push_str(&format!(" @{schedule}"));
                if let Some(duration) = &b.duration {
                    text.push_str(&format!(" {duration}"));
                }
            }
            if !b.reasons.is_empty() {
                text.push_str(&format!(" [{}]", b.reasons.join(",")));
            }
            text
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn pools_table(
    frame: &mut Frame,
    area: Rect,
    input: &RenderInput,
    snapshot: &NodeSnapshot,
    large: bool,
) {
    let theme = input.theme;
    let mut columns = vec![
        Column::left("nodepool", Constraint::Fill(2)),
        Column::left("policy", Constraint::Length(if large { 24 } else { 9 })),
        Column::left("budgets", Constraint::Fill(3)),
        Column::right("cpu used/limit", Constraint::Length(14)),
    ];
    if large {
        columns.insert(2, Column::left("after", Constraint::Length(5)));
    }
    titled_table(
        frame,
        area,
        theme,
        "NodePools",
        &columns,
        snapshot.nodepools.len(),
        0,
        |i| {
            let pool = &snapshot.nodepools[i];
            let (usage, level) = match pool.cpu_limit {
                Some(limit) if limit > 0.0 => {
                    let used = pool.cpu_provisioned / limit;
                    let level = if used >= 0.95 {
                        Level::Crit
                    } else if used >= 0.8 {
                        Level::Warn
                    } else {
                        Level::Ok
                    };
                    (
                        format!(
                            "{}/{} {}",
                            format::cores(pool.cpu_provisioned),
                            format::cores(limit),
                            format::ratio(used)
                        ),
                        level,
                    )
                }
                _ => (
                    format!("{}/none", format::cores(pool.cpu_provisioned)),
                    Level::Plain,
                ),
            };
            let mut cells = vec![
                TableCell::outside(&pool.name, theme.text),
                TableCell::new(short_policy(&pool.consolidation_policy, large), theme.text),
                TableCell::outside(&budgets_text(pool), theme.muted),
                TableCell::new(usage, level.style(theme)),
            ];
            if large {
                cells.insert(
                    2,
                    TableCell::outside(
                        pool.consolidate_after.as_deref().unwrap_or("–"),
                        theme.muted,
                    ),
                );
            }
            cells
        },
    );
}

fn short_zone(zone: &str) -> &str {
    zone.rsplit('-').next().unwrap_or(zone)
}

fn nodes_table(
    frame: &mut Frame,
    area: Rect,
    input: &RenderInput,
    snapshot: &NodeSnapshot,
    large: bool,
) {
    let theme = input.theme;
    let now = input.cockpit.now.unwrap_or(snapshot.at);
    let mut columns = vec![
        Column::left("node", Constraint::Fill(3)),
        Column::left("pool", Constraint::Fill(1)),
        Column::left("type", Constraint::Length(11)),
        Column::left("cap", Constraint::Length(4)),
        Column::left("zone", Constraint::Length(4)),
        Column::right("age", Constraint::Length(6)),
        Column::right("cpu", Constraint::Length(4)),
        Column::left("state", Constraint::Length(10)),
    ];
    if large {
        columns[6] = Column::right("cpu req/alloc", Constraint::Length(14));
        columns.insert(7, Column::right("mem", Constraint::Length(4)));
        columns.insert(8, Column::right("pods", Constraint::Length(4)));
    }
    titled_table(
        frame,
        area,
        theme,
        "Nodes",
        &columns,
        snapshot.nodes.len(),
        input.view.table_offset,
        |i| {
            // In display order already: the cockpit sorts each snapshot's nodes once.
            let node = &snapshot.nodes[i];
            let cpu = if node.cpu_allocatable_m > 0.0 {
                node.cpu_requested_m / node.cpu_allocatable_m
            } else {
                0.0
            };
            let (state, state_style) = if !node.ready {
                ("NotReady", theme.crit)
            } else if node.disrupting {
                ("disrupting", theme.warn)
            } else {
                ("Ready", theme.ok)
            };
            let cpu_text = if large {
                format!(
                    "{}/{} {}",
                    format::millicores(node.cpu_requested_m),
                    format::millicores(node.cpu_allocatable_m),
                    format::ratio(cpu)
                )
            } else {
                format::ratio(cpu)
            };
            let mut cells = vec![
                TableCell::outside(&node.name, theme.text),
                TableCell::outside(node.nodepool.as_deref().unwrap_or("–"), theme.muted),
                TableCell::outside(&node.instance_type, theme.text),
                TableCell::new(
                    match node.capacity {
                        Capacity::Spot => "spot",
                        Capacity::OnDemand => "od",
                    },
                    theme.muted,
                ),
                TableCell::outside(short_zone(&node.zone), theme.muted),
                TableCell::new(format::age(node.created, now), theme.muted),
                TableCell::new(cpu_text, theme.text),
                TableCell::new(state, state_style),
            ];
            if large {
                let memory = if node.memory_allocatable_mib > 0.0 {
                    node.memory_requested_mib / node.memory_allocatable_mib
                } else {
                    0.0
                };
                cells.insert(7, TableCell::new(format::ratio(memory), theme.text));
                cells.insert(8, TableCell::new(node.pods.to_string(), theme.text));
            }
            cells
        },
    );
}

fn reasons_table(frame: &mut Frame, area: Rect, input: &RenderInput, s: &Summary) {
    let theme = input.theme;
    titled_table(
        frame,
        area,
        theme,
        "Terminations last hour by reason",
        &[
            Column::left("reason", Constraint::Fill(1)),
            Column::right("nodes", Constraint::Length(6)),
        ],
        s.reasons.len(),
        0,
        |i| {
            let (reason, count) = &s.reasons[i];
            vec![
                TableCell::outside(reason, theme.text),
                TableCell::new(count.to_string(), theme.text),
            ]
        },
    );
}

fn pending_table(frame: &mut Frame, area: Rect, input: &RenderInput, snapshot: &NodeSnapshot) {
    let theme = input.theme;
    let t = &input.cockpit.config.thresholds;
    titled_table(
        frame,
        area,
        theme,
        "Pending pods",
        &[
            Column::left("pod", Constraint::Fill(2)),
            Column::right("for", Constraint::Length(6)),
            Column::left("reason", Constraint::Fill(2)),
        ],
        snapshot.pending_pods.len(),
        0,
        |i| {
            let pod = &snapshot.pending_pods[i];
            let waited = (snapshot.at - pod.since).num_seconds() as f64;
            vec![
                TableCell::outside(&format!("{}/{}", pod.namespace, pod.name), theme.text),
                TableCell::new(
                    format::age(pod.since, snapshot.at),
                    if waited > t.pending_pod_seconds {
                        theme.crit
                    } else {
                        theme.warn
                    },
                ),
                TableCell::outside(&pod.reason, theme.muted),
            ]
        },
    );
}

fn blockers_table(frame: &mut Frame, area: Rect, input: &RenderInput, snapshot: &NodeSnapshot) {
    let theme = input.theme;
    titled_table(
        frame,
        area,
        theme,
        "Disruption blockers",
        &[
            Column::left("kind", Constraint::Length(14)),
            Column::left("object", Constraint::Fill(2)),
            Column::left("detail", Constraint::Fill(2)),
        ],
        snapshot.blockers.len(),
        0,
        |i| {
            let blocker = &snapshot.blockers[i];
            vec![
                TableCell::new(blocker_kind(blocker.kind), theme.muted),
                TableCell::outside(
                    &format!("{}/{}", blocker.namespace, blocker.name),
                    theme.warn,
                ),
                TableCell::outside(&blocker.detail, theme.muted),
            ]
        },
    );
}
