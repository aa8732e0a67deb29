//! Render tests on a hand-built cluster: every screen and overlay at every size draws without
//! panicking, hostile text never reaches the terminal, and degraded panes say so.

use chrono::{Duration, TimeZone, Utc};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use super::theme::Theme;
use super::{KeyHint, Overlay, RenderInput, Screen, View, render};
use crate::domain::cockpit::AnalysisConfig;
use crate::domain::prices::PriceTable;
use crate::domain::*;

fn at(minutes: i64) -> Timestamp {
    Utc.timestamp_opt(1_750_000_000, 0)
        .single()
        .unwrap_or_default()
        + Duration::minutes(minutes)
}

const HOSTILE: &str = "evil\u{1b}]0;owned\u{7}\u{1b}[2J\u{202e}pod\u{9b}31m\nname";

fn condition(ok: bool, reason: &str, message: &str) -> Option<Condition> {
    Some(Condition {
        status: if ok {
            ConditionStatus::True
        } else {
            ConditionStatus::False
        },
        reason: reason.to_string(),
        message: message.to_string(),
    })
}

fn dns(minute: i64) -> DnsSnapshot {
    DnsSnapshot {
        at: at(minute),
        replicas: 2,
        ready_replicas: 2,
        memory_limit_mib: Some(170.0),
        pods: vec![
            DnsPod {
                name: "coredns-5d78c9869d-abcde".into(),
                node: "ip-10-0-1-17.eu-west-1.compute.internal".into(),
                zone: "eu-west-1a".into(),
                qps: Some(1_100.0),
                memory_mib: Some(131.0),
                cpu_millicores: Some(420.0),
                ip: None,
            },
            DnsPod {
                name: HOSTILE.into(),
                node: "ip-10-0-1-17.eu-west-1.compute.internal".into(),
                zone: "eu-west-1a".into(),
                qps: Some(900.0),
                memory_mib: Some(98.0),
                cpu_millicores: Some(380.0),
                ip: None,
            },
        ],
        corefile: Some(
            ".:53 {\n    errors\n    health {\n        lameduck 5s\n    }\n    kubernetes cluster.local in-addr.arpa ip6.arpa {\n        ttl 5\n    }\n    forward . /etc/resolv.conf\n    cache 30\n}\n"
                .into(),
        ),
        nodelocal_dns: false,
        metrics: Some(DnsMetrics {
            qps: 1_800.0 + 20.0 * minute as f64,
            p50_ms: 3.2,
            p99_ms: 60.0 + 4.0 * minute as f64,
            cache_hit_ratio: 0.62 - 0.01 * minute as f64,
            rcodes: vec![
                RcodeRate {
                    rcode: "NOERROR".into(),
                    qps: 700.0,
                },
                RcodeRate {
                    rcode: "NXDOMAIN".into(),
                    qps: 1_300.0,
                },
                RcodeRate {
                    rcode: "SERVFAIL".into(),
                    qps: 42.0,
                },
            ],
            upstream_p99_ms: Some(38.0),
            upstream_qps: Some(800.0),
            nxdomain_sources: vec![DnsClient {
                namespace: "shop".into(),
                workload: "checkout".into(),
                qps: 900.0,
                nxdomain_ratio: 0.8,
                ndots: 5,
            }],
            panics_last_hour: 0,
        }),
    }
}

fn gateways(minute: i64) -> GatewaySnapshot {
    GatewaySnapshot {
        at: at(minute),
        gateways: vec![GatewayStatus {
            namespace: "edge".into(),
            name: "public".into(),
            class: "amazon-vpc-lattice".into(),
            address: Some("k8s-edge-public-1234.elb.eu-west-1.amazonaws.com".into()),
            accepted: condition(true, "Accepted", ""),
            programmed: condition(true, "Programmed", ""),
            attached_routes: 2,
            requests_per_sec: Some(420.0),
            error_5xx_ratio: Some(0.02),
            load_balancer: None,
        }],
        routes: vec![
            RouteStatus {
                namespace: "shop".into(),
                name: "checkout".into(),
                kind: RouteKind::Http,
                hostnames: vec!["shop.example.com".into()],
                parents: vec![RouteParent {
                    kind: "Gateway".into(),
                    namespace: "edge".into(),
                    name: "public".into(),
                    section: None,
                    accepted: condition(true, "Accepted", ""),
                    resolved_refs: condition(
                        false,
                        "RefNotPermitted",
                        "backendRef payments/api not permitted by any ReferenceGrant",
                    ),
                }],
                backends: vec![BackendRef {
                    namespace: "payments".into(),
                    name: "api".into(),
                    port: Some(8080),
                    weight: 1,
                    service_exists: true,
                    ready_endpoints: 0,
                    total_endpoints: 3,
                }],
                generation: 4,
                observed_generation: Some(4),
                requests_per_sec: Some(120.0),
                error_5xx_ratio: Some(0.07),
            },
            RouteStatus {
                namespace: "shop".into(),
                name: "catalog".into(),
                kind: RouteKind::Grpc,
                hostnames: vec![],
                parents: vec![RouteParent {
                    kind: "Gateway".into(),
                    namespace: "edge".into(),
                    name: "public".into(),
                    section: Some("grpc".into()),
                    accepted: condition(true, "Accepted", ""),
                    resolved_refs: condition(true, "ResolvedRefs", ""),
                }],
                backends: vec![BackendRef {
                    namespace: "shop".into(),
                    name: "catalog".into(),
                    port: Some(9000),
                    weight: 1,
                    service_exists: true,
                    ready_endpoints: 4,
                    total_endpoints: 4,
                }],
                generation: 1,
                observed_generation: Some(1),
                requests_per_sec: Some(300.0),
                error_5xx_ratio: Some(0.0),
            },
        ],
    }
}

fn flows(minute: i64) -> FlowSnapshot {
    let zones = ["eu-west-1a", "eu-west-1b", "eu-west-1c"];
    FlowSnapshot {
        at: at(minute),
        zones: zones.iter().map(|z| z.to_string()).collect(),
        edges: vec![
            FlowEdge {
                source_namespace: "shop".into(),
                source_workload: "frontend".into(),
                destination_namespace: "shop".into(),
                destination_service: "catalog".into(),
                per_sec: 12_300_000.0,
                cross_zone_per_sec: 8_100_000.0,
                drops_per_sec: 0.0,
            },
            FlowEdge {
                source_namespace: "shop".into(),
                source_workload: "checkout".into(),
                destination_namespace: "payments".into(),
                destination_service: "api".into(),
                per_sec: 2_000_000.0,
                cross_zone_per_sec: 600_000.0,
                drops_per_sec: 1.5,
            },
        ],
        services: vec![ServiceTopology {
            namespace: "shop".into(),
            name: "catalog".into(),
            routing: ZoneRouting::Default,
            ready_endpoints_by_zone: zones
                .iter()
                .map(|z| ZoneCount {
                    zone: z.to_string(),
                    count: 2,
                })
                .collect(),
            hints: false,
        }],
        source: Some(FlowSourceInfo {
            kind: FlowSourceKind::FlowLogs,
            unit: FlowUnit::Bytes,
            zones: ZoneBasis::Measured,
            destinations: true,
            detail: "CloudWatch Logs /aws/vpc/flow-logs".into(),
            window_seconds: 900,
        }),
    }
}

fn nodes(minute: i64, count: usize) -> NodeSnapshot {
    let node = |i: usize| NodeInfo {
        name: format!("ip-10-0-{}-{}.eu-west-1.compute.internal", i / 200, i % 200),
        nodepool: Some(
            if i.is_multiple_of(3) {
                "system"
            } else {
                "default"
            }
            .into(),
        ),
        instance_type: if i.is_multiple_of(2) {
            "m6i.2xlarge"
        } else {
            "c6g.xlarge"
        }
        .into(),
        capacity: if i % 5 < 3 {
            Capacity::Spot
        } else {
            Capacity::OnDemand
        },
        zone: ["eu-west-1a", "eu-west-1b", "eu-west-1c"][i % 3].into(),
        created: at(-(i as i64) * 7),
        ready: i != 3,
        disrupting: i == 5,
        cpu_allocatable_m: 7_910.0,
        cpu_requested_m: 3_000.0 + (i % 7) as f64 * 600.0,
        memory_allocatable_mib: 30_000.0,
        memory_requested_mib: 12_000.0,
        pods: 20 + (i % 10) as u32,
    };
    NodeSnapshot {
        at: at(minute),
        nodes: (0..count).map(node).collect(),
        nodepools: vec![NodePoolInfo {
            name: "default".into(),
            consolidation_policy: "WhenEmptyOrUnderutilized".into(),
            consolidate_after: Some("1m".into()),
            budgets: vec![DisruptionBudget {
                nodes: "10%".into(),
                schedule: None,
                duration: None,
                reasons: vec![],
            }],
            cpu_limit: Some(200.0),
            cpu_provisioned: 184.0,
            weight: None,
            capacity_types: vec![Capacity::Spot, Capacity::OnDemand],
        }],
        churn: (0..14)
            .map(|i| ChurnEvent {
                at: at(minute - i),
                kind: if i % 2 == 0 {
                    ChurnKind::Terminated
                } else {
                    ChurnKind::Launched
                },
                node: format!("node-{i}"),
                nodepool: "default".into(),
                reason: if i % 2 == 0 {
                    "SpotInterrupted".into()
                } else {
                    "Provisioning".into()
                },
            })
            .collect(),
        pending_pods: vec![PendingPod {
            namespace: "shop".into(),
            name: "cart-7f9c-x2".into(),
            since: at(minute - 3),
            reason: "Unschedulable: 0/24 nodes are available".into(),
        }],
        provisioning_seconds: vec![42.0, 55.0, 71.0, 48.0],
        blockers: vec![Blocker {
            kind: BlockerKind::Pdb,
            namespace: "shop".into(),
            name: "checkout".into(),
            detail: "0 disruptions allowed".into(),
        }],
        counted: None,
    }
}

fn workloads(minute: i64) -> WorkloadSnapshot {
    WorkloadSnapshot {
        at: at(minute),
        window: "7d".into(),
        workloads: (0..30_u32)
            .map(|i| WorkloadUsage {
                namespace: if i.is_multiple_of(2) { "shop" } else { "batch" }.into(),
                name: format!("service-{i}"),
                kind: "Deployment".into(),
                container: "app".into(),
                replicas: 3,
                cpu_request_m: 1_000.0,
                cpu_limit_m: if i == 1 { Some(1_000.0) } else { None },
                memory_request_mib: 1_024.0,
                memory_limit_mib: Some(1_024.0),
                oom_kills_7d: if i == 2 { 4 } else { 0 },
                restarts_24h: 0,
                vpa: None,
                hpa_on_cpu: i == 4,
                usage: Some(UsageStats {
                    cpu_p95_m: 100.0 + 30.0 * i as f64,
                    memory_p95_mib: 200.0 + 20.0 * i as f64,
                    memory_p99_mib: 260.0 + 20.0 * i as f64,
                    throttling_ratio: if i == 1 { 0.18 } else { 0.0 },
                    history_days: 7.0,
                }),
            })
            .collect(),
        namespaces: vec![],
    }
}

/// A cluster with an hour of history on every pane.
pub fn busy_cockpit() -> Cockpit {
    let mut cockpit = Cockpit::new(AnalysisConfig {
        thresholds: Default::default(),
        prices: PriceTable::builtin(),
    });
    cockpit.apply(Update::Cluster(ClusterInfo {
        name: "prod-eu".into(),
        region: "eu-west-1".into(),
        source: "simulated".into(),
        detail: "scenario dns-storm, seed 7".into(),
    }));
    for minute in -30..=0 {
        cockpit.apply(Update::Dns(dns(minute)));
        cockpit.apply(Update::Gateways(gateways(minute)));
        cockpit.apply(Update::Flows(flows(minute)));
        cockpit.apply(Update::Nodes(nodes(minute, 24)));
        cockpit.apply(Update::Workloads(workloads(minute)));
    }
    cockpit
}

fn keys() -> Vec<KeyHint> {
    let hint = |keys: &str, desc: &str, scope: &str| KeyHint {
        keys: keys.into(),
        desc: desc.into(),
        scope: scope.into(),
    };
    vec![
        hint("Tab", "next screen", "global"),
        hint("S-Tab", "previous screen", "global"),
        hint("?", "help", "global"),
        hint("q", "quit", "global"),
        hint("j/↓", "next finding", "pane"),
        hint("k/↑", "previous finding", "pane"),
        hint("Enter", "finding detail", "pane"),
        hint("PgDn", "scroll table", "pane"),
        hint("Esc", "close", "overlay"),
    ]
}

/// Draws one frame and returns the screen as text, one line per row.
pub fn draw(cockpit: &Cockpit, view: &View, theme: &Theme, width: u16, height: u16) -> String {
    let keys = keys();
    let notices = vec!["keymap.toml line 3: unknown action `frobnicate`".to_string()];
    let input = RenderInput {
        cockpit,
        view,
        theme,
        keys: &keys,
        footer: &keys[..4],
        notices: &notices,
        fleet: None,
    };
    let backend = TestBackend::new(width, height);
    let mut terminal = Terminal::new(backend).unwrap_or_else(|never| match never {});
    if let Err(err) = terminal.draw(|frame| render(frame, &input)) {
        panic!("draw failed: {err}");
    }
    let buffer = terminal.backend().buffer();
    let mut out = String::new();
    for y in 0..buffer.area.height {
        for x in 0..buffer.area.width {
            out.push_str(buffer[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}

fn views() -> Vec<View> {
    let mut views = Vec::new();
    for screen in Screen::ALL {
        views.push(View {
            screen,
            ..View::default()
        });
        views.push(View {
            screen,
            selected: 99,
            table_offset: 10_000,
            ..View::default()
        });
    }
    views.push(View {
        overlay: Some(Overlay::Help),
        help_offset: 500,
        ..View::default()
    });
    views.push(View {
        overlay: Some(Overlay::Detail {
            finding_id: "gone".into(),
        }),
        ..View::default()
    });
    views
}

const SIZES: [(u16, u16); 10] = [
    (0, 0),
    (1, 1),
    (20, 5),
    (59, 15),
    (60, 16),
    (80, 24),
    (100, 30),
    (160, 48),
    (200, 60),
    (400, 120),
];

#[test]
fn every_screen_renders_at_every_size() {
    let theme = Theme::default();
    for cockpit in [busy_cockpit(), Cockpit::new(AnalysisConfig::default())] {
        for view in views() {
            for (width, height) in SIZES {
                draw(&cockpit, &view, &theme, width, height);
            }
        }
    }
}

#[test]
fn below_the_minimum_says_so() {
    let screen = draw(&busy_cockpit(), &View::default(), &Theme::default(), 59, 20);
    assert!(
        screen.starts_with("terminal too small: need at least 60×16"),
        "{screen}"
    );
    let tiny = draw(&busy_cockpit(), &View::default(), &Theme::default(), 20, 5);
    assert!(tiny.starts_with("terminal too small:…"), "{tiny}");
}

#[test]
fn hostile_names_are_drawn_clean() {
    let cockpit = busy_cockpit();
    let view = View {
        screen: Screen::Pane(Pane::Dns),
        ..View::default()
    };
    let screen = draw(&cockpit, &view, &Theme::default(), 160, 48);
    assert!(screen.contains("evilpod"), "{screen}");
    for bad in ['\u{1b}', '\u{7}', '\u{9b}', '\u{202e}'] {
        assert!(!screen.contains(bad), "{bad:?} reached the screen");
    }
}

#[test]
fn empty_cockpit_waits_for_data() {
    let cockpit = Cockpit::new(AnalysisConfig::default());
    for pane in Pane::ALL {
        let view = View {
            screen: Screen::Pane(pane),
            ..View::default()
        };
        let screen = draw(&cockpit, &view, &Theme::default(), 80, 24);
        assert!(screen.contains("waiting for data…"), "{screen}");
        assert!(screen.contains(&format!("{} …", pane.title())), "{screen}");
    }
}

#[test]
fn degraded_source_shows_cause_and_age() {
    let mut cockpit = busy_cockpit();
    cockpit.apply(Update::Clock { at: at(4) });
    cockpit.apply(Update::Source(SourceStatus {
        pane: Pane::Dns,
        source: "prometheus".into(),
        state: SourceState::Unavailable {
            cause: "connection refused".into(),
        },
        at: at(4),
    }));
    let view = View {
        screen: Screen::Pane(Pane::Dns),
        ..View::default()
    };
    let screen = draw(&cockpit, &view, &Theme::default(), 80, 24);
    assert!(
        screen.contains("× prometheus unavailable: connection refused · last good data 4m ago"),
        "{screen}"
    );
    // The data it still has is shown under the banner.
    assert!(screen.contains("CoreDNS pods"), "{screen}");
    assert!(screen.contains("DNS × "), "{screen}");
}

#[test]
fn charts_without_flow_metrics_say_no_data_not_zero() {
    let mut cockpit = Cockpit::new(AnalysisConfig::default());
    for pane_update in [Update::Dns(dns(0)), Update::Nodes(nodes(0, 6))] {
        cockpit.apply(pane_update);
    }
    let mut blind = flows(0);
    blind.edges.clear();
    blind.source = None;
    cockpit.apply(Update::Flows(blind));
    let overview = draw(&cockpit, &View::default(), &Theme::default(), 200, 60);
    let chart_row = overview
        .lines()
        .skip_while(|line| !line.contains(" cross-zone share "))
        .nth(1)
        .unwrap_or_default();
    // The cross-zone chart is the third in its row, after DNS p99 and gateway 5xx.
    let third = chart_row
        .split('│')
        .filter(|cell| !cell.trim().is_empty())
        .nth(2);
    assert_eq!(third.map(str::trim), Some("no data"), "{overview}");
    assert!(!overview.contains("0.0%"), "{overview}");
}

#[test]
fn the_sources_window_shows_the_doctors_checks_in_its_words() {
    use crate::domain::assemble::ObjectKind;
    use crate::domain::checks::{self, Checks};
    use crate::domain::permissions;
    let mut cockpit = busy_cockpit();
    let reads = permissions::reads(&[ObjectKind::Node, ObjectKind::Pod], None);
    let answers = [true, true, false, false];
    let checks = Checks::new(
        reads
            .iter()
            .zip(answers)
            .map(|(read, allowed)| checks::read_access(read, &Ok((allowed, None))))
            .collect(),
    );
    let doctor_says = checks.checks[2].line();
    cockpit.apply(Update::Checks(checks));
    let view = View {
        overlay: Some(Overlay::Sources),
        ..View::default()
    };
    let screen = draw(&cockpit, &view, &Theme::default(), 200, 60);
    assert!(
        screen.contains("(kockpit doctor) 4 checks: 2 ok, 2 failed"),
        "{screen}"
    );
    assert!(screen.contains(&format!("FAIL  {doctor_says}")), "{screen}");
    assert!(screen.contains("read access"), "{screen}");
}

#[test]
fn big_tables_build_only_visible_rows_and_clamp_the_offset() {
    let mut cockpit = busy_cockpit();
    cockpit.apply(Update::Nodes(nodes(1, 5_000)));
    let view = View {
        screen: Screen::Pane(Pane::Nodes),
        table_offset: 1_000_000,
        ..View::default()
    };
    let screen = draw(&cockpit, &view, &Theme::default(), 80, 24);
    assert!(screen.contains("of 5,000)"), "{screen}");
}

#[test]
fn header_names_cluster_source_and_clock() {
    let screen = draw(
        &busy_cockpit(),
        &View::default(),
        &Theme::default(),
        100,
        30,
    );
    let first = screen.lines().next().unwrap_or_default();
    assert!(first.starts_with("kockpit  prod-eu"), "{first}");
    assert!(
        first.contains("SIMULATED scenario dns-storm, seed 7"),
        "{first}"
    );
    assert!(first.ends_with("UTC"), "{first}");
    let last = screen.lines().last().unwrap_or_default();
    assert!(last.starts_with("Tab next screen"), "{last}");
    assert!(last.ends_with("unknown action `frobnicate`"), "{last}");
}

/// Prints every screen for a look by eye: `cargo test --lib ui::tests::show -- --ignored --nocapture`.
#[test]
#[ignore]
fn show() {
    let cockpit = busy_cockpit();
    let theme = Theme::default();
    let sizes = std::env::var("SIZES").unwrap_or_else(|_| "80x24,160x48".into());
    for size in sizes.split(',') {
        let (w, h) = size.split_once('x').unwrap_or(("80", "24"));
        let (w, h) = (w.parse().unwrap_or(80), h.parse().unwrap_or(24));
        let mut shown: Vec<View> = views().into_iter().step_by(2).collect();
        if let Some(finding) = cockpit.findings().first() {
            shown.push(View {
                overlay: Some(Overlay::Detail {
                    finding_id: finding.id.clone(),
                }),
                ..View::default()
            });
        }
        for view in shown {
            println!("=== {:?} {:?} {w}x{h}", view.screen, view.overlay);
            println!("{}", draw(&cockpit, &view, &theme, w, h));
        }
    }
}
