//! DNS pane: CoreDNS throughput, latency, cache and rcode mix, its pods and placement, the
//! Corefile settings that matter, and the workloads whose queries end in NXDOMAIN.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::{PaneAreas, findings, gap, split};
use crate::domain::cockpit::Figure;
use crate::domain::corefile::{
    self, CorefileSettings, DEFAULT_KUBERNETES_TTL_SECONDS, RECOMMENDED_KUBERNETES_TTL_SECONDS,
    RECOMMENDED_LAMEDUCK,
};
use crate::domain::thresholds::{Band, Thresholds};
use crate::domain::{DnsMetrics, DnsSnapshot, Pane};
use crate::ui::RenderInput;
use crate::ui::format;
use crate::ui::text::sanitize;
use crate::ui::theme::Theme;
use crate::ui::widgets::{
    ChartSpec, Column, FigureCell, Level, TableCell, chart_row, figure_grid, fit_spans, section,
    table_height, title_line, titled_table,
};

/// The NXDOMAIN share above which a client's row is worth a look even when the pane-wide
/// share is fine.
/// Said where CoreDNS's own figures would be, when the source has no metrics.
const NO_METRICS: &str = "no CoreDNS metrics from this source";

/// A per-pod figure, or a dash when the source has no metrics.
fn or_dash(value: Option<f64>, format: fn(f64) -> String) -> String {
    value.map_or_else(|| "–".to_string(), format)
}

fn client_level(ratio: f64, t: &Thresholds) -> Level {
    Level::high_is_bad(ratio, t.dns_nxdomain_ratio)
}

fn replicas_level(dns: &DnsSnapshot) -> Level {
    if dns.ready_replicas == 0 {
        Level::Crit
    } else if dns.ready_replicas < dns.replicas {
        Level::Warn
    } else {
        Level::Ok
    }
}

fn qps_level(dns: &DnsSnapshot, m: &DnsMetrics, t: &Thresholds) -> Level {
    let per_pod = m.qps / f64::from(dns.ready_replicas.max(1));
    if per_pod > t.dns_qps_per_pod {
        Level::Warn
    } else {
        Level::Plain
    }
}

pub fn headline(cockpit: &crate::domain::Cockpit, theme: &Theme) -> Vec<Span<'static>> {
    let Some(dns) = &cockpit.dns else {
        return Vec::new();
    };
    let t = &cockpit.config.thresholds;
    let Some(m) = &dns.metrics else {
        return vec![
            Span::styled("ready ", theme.muted),
            Span::styled(
                format!("{}/{}", dns.ready_replicas, dns.replicas),
                replicas_level(dns).style(theme),
            ),
            gap(),
            Span::styled(NO_METRICS, theme.muted),
        ];
    };
    let mut spans = vec![
        Span::styled(format::qps(m.qps), qps_level(dns, m, t).style(theme)),
        Span::styled(" qps", theme.muted),
        gap(),
        Span::styled("p99 ", theme.muted),
        Span::styled(
            format::millis(m.p99_ms),
            Level::high_is_bad(m.p99_ms, t.dns_p99_ms).style(theme),
        ),
        gap(),
        Span::styled("hit ", theme.muted),
        Span::styled(
            format::ratio(m.cache_hit_ratio),
            Level::low_is_bad(m.cache_hit_ratio, t.dns_cache_hit_ratio).style(theme),
        ),
        gap(),
        Span::styled("NXDOMAIN ", theme.muted),
        Span::styled(
            format::ratio(m.nxdomain_ratio()),
            Level::high_is_bad(m.nxdomain_ratio(), t.dns_nxdomain_ratio).style(theme),
        ),
    ];
    let servfail = m.servfail_ratio();
    let servfail_level = Level::high_is_bad(servfail, t.dns_servfail_ratio);
    if servfail_level != Level::Ok {
        spans.extend([
            gap(),
            Span::styled("SERVFAIL ", theme.muted),
            Span::styled(format::ratio(servfail), servfail_level.style(theme)),
        ]);
    }
    if dns.ready_replicas < dns.replicas {
        spans.extend([
            gap(),
            Span::styled("ready ", theme.muted),
            Span::styled(
                format!("{}/{}", dns.ready_replicas, dns.replicas),
                replicas_level(dns).style(theme),
            ),
        ]);
    }
    spans
}

fn figure_cells<'a>(input: &RenderInput<'a>, dns: &DnsSnapshot) -> Vec<FigureCell<'a>> {
    let cockpit = input.cockpit;
    let t = &cockpit.config.thresholds;
    let ready = FigureCell::new(
        "ready",
        format!("{}/{}", dns.ready_replicas, dns.replicas),
        replicas_level(dns),
    );
    let Some(m) = &dns.metrics else {
        return vec![
            ready,
            FigureCell::new("metrics", "none".to_string(), Level::Plain),
        ];
    };
    let mut cells = vec![
        FigureCell::new("QPS", format::qps(m.qps), qps_level(dns, m, t))
            .history(cockpit, Figure::DnsQps),
        FigureCell::new("p50", format::millis(m.p50_ms), Level::Plain),
        FigureCell::new(
            "p99",
            format::millis(m.p99_ms),
            Level::high_is_bad(m.p99_ms, t.dns_p99_ms),
        )
        .history(cockpit, Figure::DnsP99Ms),
        FigureCell::new(
            "hit",
            format::ratio(m.cache_hit_ratio),
            Level::low_is_bad(m.cache_hit_ratio, t.dns_cache_hit_ratio),
        )
        .history(cockpit, Figure::DnsCacheHitRatio),
        FigureCell::new(
            "SERVFAIL",
            format::ratio(m.servfail_ratio()),
            Level::high_is_bad(m.servfail_ratio(), t.dns_servfail_ratio),
        )
        .history(cockpit, Figure::DnsServfailRatio),
        FigureCell::new(
            "NXDOMAIN",
            format::ratio(m.nxdomain_ratio()),
            Level::high_is_bad(m.nxdomain_ratio(), t.dns_nxdomain_ratio),
        )
        .history(cockpit, Figure::DnsNxdomainRatio),
        ready,
    ];
    match m.upstream_p99_ms {
        Some(upstream) => cells.push(FigureCell::new(
            "upstream p99",
            format::millis(upstream),
            Level::high_is_bad(upstream, t.dns_p99_ms),
        )),
        None => cells.push(FigureCell::new(
            "panics 1h",
            m.panics_last_hour.to_string(),
            if m.panics_last_hour > 0 {
                Level::Crit
            } else {
                Level::Ok
            },
        )),
    }
    cells
}

/// `rcodes NOERROR 35% · NXDOMAIN 61% · SERVFAIL 2.1%`, largest first.
fn rcode_line(m: &DnsMetrics, t: &Thresholds, theme: &Theme) -> Line<'static> {
    let total: f64 = m.rcodes.iter().map(|r| r.qps).sum();
    let mut rcodes: Vec<_> = m.rcodes.iter().collect();
    rcodes.sort_by(|a, b| b.qps.total_cmp(&a.qps));
    let mut spans = vec![Span::styled("rcodes ", theme.muted)];
    if rcodes.is_empty() || total <= 0.0 {
        spans.push(Span::styled("no responses", theme.muted));
    }
    for (i, rcode) in rcodes.iter().enumerate() {
        if i > 0 {
            spans.push(Span::styled(" · ", theme.muted));
        }
        let share = if total > 0.0 { rcode.qps / total } else { 0.0 };
        let level = match rcode.rcode.to_ascii_uppercase().as_str() {
            "SERVFAIL" => Level::high_is_bad(share, t.dns_servfail_ratio),
            "NXDOMAIN" => Level::high_is_bad(share, t.dns_nxdomain_ratio),
            _ => Level::Plain,
        };
        spans.push(Span::styled(
            format!("{} ", sanitize(&rcode.rcode)),
            theme.text,
        ));
        spans.push(Span::styled(format::ratio(share), level.style(theme)));
    }
    Line::from(spans)
}

/// The Corefile settings that matter during an incident, when they can be read.
fn corefile_line(dns: &DnsSnapshot, theme: &Theme, with_nodelocal: bool) -> Line<'static> {
    let mut spans = vec![Span::styled("Corefile ", theme.muted)];
    match dns.corefile.as_deref().map(corefile::parse) {
        None => spans.push(Span::styled("not readable", theme.muted)),
        Some(Err(err)) => spans.push(Span::styled(
            format!("does not parse: {}", sanitize(&err.to_string())),
            theme.warn,
        )),
        Some(Ok(parsed)) => {
            for (i, (name, value, level)) in corefile_settings(&parsed.settings())
                .into_iter()
                .enumerate()
            {
                if i > 0 {
                    spans.push(Span::styled(" · ", theme.muted));
                }
                spans.push(Span::styled(format!("{name} "), theme.text));
                spans.push(Span::styled(value, level.style(theme)));
            }
        }
    }
    if with_nodelocal {
        spans.push(Span::styled(" · ", theme.muted));
        spans.extend(nodelocal_spans(dns, theme));
    }
    Line::from(spans)
}

fn nodelocal_spans(dns: &DnsSnapshot, theme: &Theme) -> [Span<'static>; 2] {
    [
        Span::styled("NodeLocal DNSCache ", theme.muted),
        Span::styled(if dns.nodelocal_dns { "yes" } else { "no" }, theme.text),
    ]
}

/// (setting, value, verdict) for the Corefile settings the cockpit reasons about, against
/// the recommended profile (eks-domain §2.4).
fn corefile_settings(settings: &CorefileSettings) -> Vec<(&'static str, String, Level)> {
    let cache = match &settings.cache {
        None => ("none".to_string(), Level::Warn),
        Some(cache) => {
            let mut text = format!("{}s", cache.effective_max_ttl());
            if cache.prefetch.is_some() {
                text.push_str(" prefetch");
            }
            (text, Level::Plain)
        }
    };
    let ttl = match settings.kubernetes_ttl {
        Some(ttl) => format!("{ttl}s"),
        None => format!("{DEFAULT_KUBERNETES_TTL_SECONDS}s default"),
    };
    let ttl_level = if settings.effective_kubernetes_ttl() < RECOMMENDED_KUBERNETES_TTL_SECONDS {
        Level::Warn
    } else {
        Level::Plain
    };
    let lameduck = match settings.lameduck {
        None => ("none".to_string(), Level::Warn),
        Some(duration) => (
            format!("{}s", duration.as_secs()),
            if duration < RECOMMENDED_LAMEDUCK {
                Level::Warn
            } else {
                Level::Plain
            },
        ),
    };
    let forward = if settings.forward_to.is_empty() {
        ("none".to_string(), Level::Plain)
    } else {
        (
            sanitize(&settings.forward_to.join(" ")).into_owned(),
            Level::Plain,
        )
    };
    vec![
        ("cache", cache.0, cache.1),
        ("ttl", ttl, ttl_level),
        ("lameduck", lameduck.0, lameduck.1),
        ("forward", forward.0, forward.1),
    ]
}

pub fn render(frame: &mut Frame, area: Rect, input: &RenderInput) {
    let Some(dns) = &input.cockpit.dns else {
        return;
    };
    let theme = input.theme;
    let t = &input.cockpit.config.thresholds;
    let cells = figure_cells(input, dns);
    let areas: PaneAreas = split(
        area,
        cells.len(),
        input.cockpit.pane_findings(Pane::Dns).len(),
    );
    figure_grid(frame, areas.figures, theme, &cells);
    if let Some(charts) = areas.charts {
        chart_row(
            frame,
            charts,
            input,
            &[
                ChartSpec {
                    title: "QPS",
                    figure: Figure::DnsQps,
                    format: format::qps,
                    ceiling: None,
                    threshold: None,
                },
                ChartSpec {
                    title: "p99 latency",
                    figure: Figure::DnsP99Ms,
                    format: format::millis,
                    ceiling: None,
                    threshold: Some(t.dns_p99_ms.warning),
                },
                ChartSpec {
                    title: "cache hit",
                    figure: Figure::DnsCacheHitRatio,
                    format: format::ratio,
                    ceiling: Some(1.0),
                    threshold: Some(t.dns_cache_hit_ratio.warning),
                },
                ChartSpec {
                    title: "NXDOMAIN share",
                    figure: Figure::DnsNxdomainRatio,
                    format: format::ratio,
                    ceiling: Some(1.0),
                    threshold: Some(t.dns_nxdomain_ratio.warning),
                },
            ],
        );
    }

    if areas.large {
        let [left, right] =
            Layout::horizontal([Constraint::Percentage(55), Constraint::Percentage(45)])
                .spacing(2)
                .areas(areas.middle);
        let pods_rows = table_height(dns.pods.len(), left.height.saturating_sub(6).max(3));
        let [pods, sources] =
            Layout::vertical([Constraint::Length(pods_rows), Constraint::Fill(1)]).areas(left);
        pods_table(frame, pods, input, dns);
        sources_table(frame, sources, input, dns.metrics.as_ref());
        let rcode_count = dns.metrics.as_ref().map_or(0, |m| m.rcodes.len());
        let rcode_rows = table_height(rcode_count, 10);
        let [settings, rcodes] =
            Layout::vertical([Constraint::Length(6), Constraint::Length(rcode_rows)]).areas(right);
        let inner = section(
            frame,
            settings,
            theme,
            title_line(theme, "Settings", String::new()),
        );
        let mut placement = vec![Span::styled("pods on ", theme.muted)];
        placement.extend(placement_spans(dns, theme));
        placement.push(Span::styled(" · ", theme.muted));
        placement.extend(nodelocal_spans(dns, theme));
        frame.render_widget(
            Paragraph::new(vec![
                corefile_line(dns, theme, false),
                memory_line(dns, t, theme),
                upstream_line(dns.metrics.as_ref(), theme),
                Line::from(placement),
            ])
            .wrap(Wrap { trim: true }),
            inner,
        );
        rcode_table(frame, rcodes, input, dns.metrics.as_ref());
    } else {
        let width = areas.middle.width as usize;
        let [rcodes, corefile, tables] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Length(1),
            Constraint::Fill(1),
        ])
        .areas(areas.middle);
        let rcode_summary = match &dns.metrics {
            Some(m) => rcode_line(m, t, theme),
            None => Line::from(Span::styled(NO_METRICS, theme.muted)),
        };
        frame.render_widget(fit_line(rcode_summary, width), rcodes);
        frame.render_widget(fit_line(corefile_line(dns, theme, true), width), corefile);
        // The pods take what they need (a handful, usually); the NXDOMAIN sources the rest.
        let pods_rows = table_height(dns.pods.len(), tables.height.saturating_sub(4).max(3));
        let [pods, sources] =
            Layout::vertical([Constraint::Length(pods_rows), Constraint::Fill(1)]).areas(tables);
        pods_table(frame, pods, input, dns);
        sources_table(frame, sources, input, dns.metrics.as_ref());
    }
    findings(frame, areas.findings, input, Pane::Dns);
}

fn fit_line(line: Line<'static>, width: usize) -> Line<'static> {
    fit_spans(line.spans, width)
}

/// `2 nodes in 2 zones`: replicas sharing a node or a zone fail together.
fn placement_spans(dns: &DnsSnapshot, theme: &Theme) -> Vec<Span<'static>> {
    let mut nodes: Vec<&str> = dns.pods.iter().map(|p| p.node.as_str()).collect();
    nodes.sort_unstable();
    nodes.dedup();
    let mut zones: Vec<&str> = dns.pods.iter().map(|p| p.zone.as_str()).collect();
    zones.sort_unstable();
    zones.dedup();
    let spread = |count: usize| {
        if dns.pods.len() > 1 && count < 2 {
            theme.crit
        } else {
            theme.text
        }
    };
    vec![
        Span::styled(format::plural(nodes.len(), "node"), spread(nodes.len())),
        Span::styled(" in ", theme.muted),
        Span::styled(format::plural(zones.len(), "zone"), spread(zones.len())),
    ]
}

fn memory_line(dns: &DnsSnapshot, t: &Thresholds, theme: &Theme) -> Line<'static> {
    let worst = dns
        .pods
        .iter()
        .filter_map(|p| p.memory_mib)
        .reduce(f64::max);
    let mut spans = vec![Span::styled("memory ", theme.muted)];
    match worst {
        Some(worst) => spans.push(Span::styled(
            format!("max {}", format::mebibytes(worst)),
            Level::high_is_bad(worst, t.dns_memory_mib).style(theme),
        )),
        None => spans.push(Span::styled("use unknown", theme.muted)),
    }
    if let Some(limit) = dns.memory_limit_mib {
        spans.push(Span::styled(
            format!(" of {} limit", format::mebibytes(limit)),
            theme.muted,
        ));
    }
    if let Some(m) = &dns.metrics {
        spans.push(Span::styled(" · panics last hour ", theme.muted));
        spans.push(Span::styled(
            m.panics_last_hour.to_string(),
            if m.panics_last_hour > 0 {
                theme.crit
            } else {
                theme.ok
            },
        ));
    }
    Line::from(spans)
}

fn upstream_line(metrics: Option<&DnsMetrics>, theme: &Theme) -> Line<'static> {
    let mut spans = vec![Span::styled("upstream ", theme.muted)];
    let figures = metrics.map_or((None, None), |m| (m.upstream_qps, m.upstream_p99_ms));
    match figures {
        (None, None) => spans.push(Span::styled("no forward metrics", theme.muted)),
        (qps, p99) => {
            if let Some(qps) = qps {
                spans.push(Span::styled(
                    format!("{} qps", format::qps(qps)),
                    theme.text,
                ));
            }
            if let Some(p99) = p99 {
                spans.push(Span::styled(" · p99 ", theme.muted));
                spans.push(Span::styled(format::millis(p99), theme.text));
            }
        }
    }
    Line::from(spans)
}

const POD_COLUMNS: [Column; 6] = [
    Column::left("pod", Constraint::Fill(3)),
    Column::left("node", Constraint::Fill(3)),
    Column::left("zone", Constraint::Length(11)),
    Column::right("qps", Constraint::Length(6)),
    Column::right("mem", Constraint::Length(6)),
    Column::right("cpu", Constraint::Length(5)),
];

fn pods_table(frame: &mut Frame, area: Rect, input: &RenderInput, dns: &DnsSnapshot) {
    let theme = input.theme;
    let t = &input.cockpit.config.thresholds;
    // Two replicas on one node (or all in one zone) is the placement risk to spot.
    let shared_node = |node: &str| dns.pods.iter().filter(|p| p.node == node).count() > 1;
    let columns: &[Column] = if area.width < 70 {
        &POD_COLUMNS[..5]
    } else {
        &POD_COLUMNS
    };
    titled_table(
        frame,
        area,
        theme,
        "CoreDNS pods",
        columns,
        dns.pods.len(),
        input.view.table_offset,
        |i| {
            let pod = &dns.pods[i];
            vec![
                TableCell::outside(&pod.name, theme.text),
                TableCell::outside(
                    &pod.node,
                    if shared_node(&pod.node) {
                        theme.warn
                    } else {
                        theme.text
                    },
                ),
                TableCell::outside(&pod.zone, theme.muted),
                TableCell::new(or_dash(pod.qps, format::qps), theme.text),
                TableCell::new(
                    or_dash(pod.memory_mib, format::mebibytes),
                    pod.memory_mib
                        .map_or(Level::Plain, |memory| {
                            Level::high_is_bad(memory, t.dns_memory_mib)
                        })
                        .style(theme),
                ),
                TableCell::new(or_dash(pod.cpu_millicores, format::millicores), theme.text),
            ]
        },
    );
}

fn rcode_table(frame: &mut Frame, area: Rect, input: &RenderInput, metrics: Option<&DnsMetrics>) {
    let theme = input.theme;
    let t = &input.cockpit.config.thresholds;
    let rcodes = metrics.map_or(&[][..], |m| m.rcodes.as_slice());
    let total: f64 = rcodes.iter().map(|r| r.qps).sum();
    let mut order: Vec<usize> = (0..rcodes.len()).collect();
    order.sort_by(|a, b| rcodes[*b].qps.total_cmp(&rcodes[*a].qps));
    titled_table(
        frame,
        area,
        theme,
        "Responses by rcode",
        &[
            Column::left("rcode", Constraint::Fill(1)),
            Column::right("per second", Constraint::Length(10)),
            Column::right("share", Constraint::Length(6)),
        ],
        order.len(),
        0,
        |i| {
            let rcode = &rcodes[order[i]];
            let share = if total > 0.0 { rcode.qps / total } else { 0.0 };
            let band: Option<Band> = match rcode.rcode.to_ascii_uppercase().as_str() {
                "SERVFAIL" => Some(t.dns_servfail_ratio),
                "NXDOMAIN" => Some(t.dns_nxdomain_ratio),
                _ => None,
            };
            let level = band.map_or(Level::Plain, |b| Level::high_is_bad(share, b));
            vec![
                TableCell::outside(&rcode.rcode, theme.text),
                TableCell::new(format::qps(rcode.qps), theme.text),
                TableCell::new(format::ratio(share), level.style(theme)),
            ]
        },
    );
}

fn sources_table(frame: &mut Frame, area: Rect, input: &RenderInput, metrics: Option<&DnsMetrics>) {
    let theme = input.theme;
    let t = &input.cockpit.config.thresholds;
    let sources = metrics.map_or(&[][..], |m| m.nxdomain_sources.as_slice());
    let mut order: Vec<usize> = (0..sources.len()).collect();
    order.sort_by(|a, b| {
        let nx = |i: usize| {
            let c = &sources[i];
            c.qps * c.nxdomain_ratio
        };
        nx(*b).total_cmp(&nx(*a))
    });
    titled_table(
        frame,
        area,
        theme,
        "Top NXDOMAIN sources",
        &[
            Column::left("workload", Constraint::Fill(1)),
            Column::right("qps", Constraint::Length(6)),
            Column::right("NXDOMAIN", Constraint::Length(8)),
            Column::right("ndots", Constraint::Length(5)),
        ],
        order.len(),
        0,
        |i| {
            let client = &sources[order[i]];
            vec![
                TableCell::outside(
                    &format!("{}/{}", client.namespace, client.workload),
                    theme.text,
                ),
                TableCell::new(format::qps(client.qps), theme.text),
                TableCell::new(
                    format::ratio(client.nxdomain_ratio),
                    client_level(client.nxdomain_ratio, t).style(theme),
                ),
                TableCell::new(
                    client.ndots.to_string(),
                    // ndots above 2 sends every external name through the search path first.
                    if client.ndots > 2 {
                        theme.warn
                    } else {
                        theme.text
                    },
                ),
            ]
        },
    );
}
