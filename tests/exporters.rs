//! Each pane's metric figures from the exporter versions EKS users run, in the names and
//! labels each version publishes (tests/fixtures/exporters, written from the upstream code at
//! the release tags, never from the simulator): CoreDNS 1.10 (forward metrics), 1.11 and
//! 1.12 (proxy metrics), Karpenter v0.37 and v1.x, cAdvisor through the kubelet as
//! kube-prometheus-stack scrapes it and as the Amazon Managed Prometheus collector does. Each
//! fixture is backfilled into a real Prometheus; kockpit's Prometheus source detects the
//! names, asks its queries and its merge functions give the figures, within 5 % of
//! expected.toml.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use kockpit::backend::live::prometheus::{self, Auth, Collected, PrometheusOptions};
use kockpit::domain::model::{
    DnsPod, DnsSnapshot, NodePoolInfo, NodeSnapshot, WorkloadSnapshot, WorkloadUsage,
};
use kockpit::domain::promql::{self, QueryId, Upstream};

mod support;

use support::backfill;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/exporters");
const DEADLINE: Duration = Duration::from_secs(60);

fn expected() -> toml::Value {
    let text = std::fs::read_to_string(Path::new(FIXTURES).join("expected.toml"))
        .unwrap_or_else(|e| panic!("expected.toml: {e}"));
    toml::from_str(&text).unwrap_or_else(|e| panic!("expected.toml: {e}"))
}

fn figure(value: &toml::Value) -> f64 {
    value
        .as_float()
        .or_else(|| value.as_integer().map(|i| i as f64))
        .unwrap_or_else(|| panic!("not a number: {value:?}"))
}

fn close(read: f64, expected: f64) -> bool {
    if expected == 0.0 {
        return read.abs() < 1e-6;
    }
    ((read - expected) / expected).abs() <= 0.05
}

/// What kockpit's Prometheus source learns from a Prometheus holding only `fixture`, once
/// it has the names and an answer to every query in `needed`.
async fn collected(fixture: &str, needed: &[QueryId]) -> Collected {
    let (_server, url, log) = backfill::prometheus(&Path::new(FIXTURES).join(fixture));
    let mut options = PrometheusOptions::new(&url, Auth::None);
    options.schedule.refresh = Duration::from_secs(1);
    options.schedule.names_every = Duration::from_secs(1);
    options.schedule.expensive_every = Duration::from_secs(2);
    let handle = prometheus::start(&options).unwrap_or_else(|e| panic!("{e}"));
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let collected = handle.collected();
        let answered = needed.iter().all(|id| {
            collected
                .results
                .get(id)
                .is_some_and(|samples| !samples.is_empty())
        });
        if collected.names.is_some() && answered {
            return collected;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{fixture}: no answer to {needed:?}; failing {:?}; Prometheus log:\n{}",
            collected.failing,
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn dns_snapshot(pods: &toml::Value) -> DnsSnapshot {
    let pods = pods
        .as_table()
        .unwrap_or_else(|| panic!("qps_by_pod"))
        .keys()
        .map(|name| DnsPod {
            name: name.clone(),
            node: String::new(),
            zone: String::new(),
            qps: None,
            memory_mib: None,
            cpu_millicores: None,
            ip: None,
        })
        .collect();
    DnsSnapshot {
        at: chrono::Utc::now(),
        replicas: 2,
        ready_replicas: 2,
        memory_limit_mib: None,
        pods,
        corefile: None,
        nodelocal_dns: false,
        metrics: None,
    }
}

async fn coredns(section: &str, upstream: Upstream) {
    let expected = expected();
    let e = &expected[section];
    let collected = collected(
        e["file"].as_str().unwrap_or_default(),
        &[
            QueryId::DnsQps,
            QueryId::DnsP99,
            QueryId::DnsCacheHitRatio,
            QueryId::DnsUpstreamP99,
            QueryId::DnsQpsByPod,
        ],
    )
    .await;
    let names = collected.names.clone().unwrap_or_else(|| panic!("names"));
    assert_eq!(names.upstream, upstream, "{section}");
    assert!(!names.absent.contains_key(&kockpit::domain::Pane::Dns));
    let mut snapshot = dns_snapshot(&e["qps_by_pod"]);
    promql::merge_dns(&mut snapshot, &collected.results);
    let m = snapshot
        .metrics
        .clone()
        .unwrap_or_else(|| panic!("{section}: no DNS metrics"));
    let checks = [
        ("qps", m.qps, figure(&e["dns_qps"])),
        ("p50", m.p50_ms, figure(&e["p50_ms"])),
        ("p99", m.p99_ms, figure(&e["p99_ms"])),
        (
            "cache hit",
            m.cache_hit_ratio,
            figure(&e["cache_hit_ratio"]),
        ),
        ("nxdomain", m.nxdomain_ratio(), figure(&e["nxdomain_ratio"])),
        ("servfail", m.servfail_ratio(), figure(&e["servfail_ratio"])),
        (
            "upstream qps",
            m.upstream_qps.unwrap_or_default(),
            figure(&e["upstream_qps"]),
        ),
        (
            "upstream p99",
            m.upstream_p99_ms.unwrap_or_default(),
            figure(&e["upstream_p99_ms"]),
        ),
    ];
    for (what, read, want) in checks {
        assert!(
            close(read, want),
            "{section} {what}: read {read}, expected {want}"
        );
    }
    for pod in &snapshot.pods {
        let want = figure(&e["qps_by_pod"][pod.name.as_str()]);
        assert!(
            close(pod.qps.unwrap_or_default(), want),
            "{section} {}: {:?} vs {want}",
            pod.name,
            pod.qps
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coredns_1_10_with_forward_metrics() {
    coredns("coredns_1_10", Upstream::Forward).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coredns_1_11_with_proxy_metrics() {
    coredns("coredns_1_11", Upstream::Proxy).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coredns_1_12() {
    coredns("coredns_1_12", Upstream::Proxy).await;
}

fn pool(name: &str) -> NodePoolInfo {
    NodePoolInfo {
        name: name.into(),
        consolidation_policy: "WhenEmptyOrUnderutilized".into(),
        consolidate_after: None,
        budgets: Vec::new(),
        cpu_limit: None,
        cpu_provisioned: 0.0,
        weight: None,
        capacity_types: Vec::new(),
    }
}

async fn karpenter(section: &str, reasons: &[(&str, u32)]) {
    let expected = expected();
    let e = &expected[section];
    let collected = collected(
        e["file"].as_str().unwrap_or_default(),
        &[
            QueryId::NodesCreated,
            QueryId::NodesTerminated,
            QueryId::NodesDisrupted,
            QueryId::NodePoolUsage,
            QueryId::NodePoolLimit,
        ],
    )
    .await;
    let mut snapshot = NodeSnapshot {
        at: chrono::Utc::now(),
        nodes: Vec::new(),
        nodepools: vec![pool("general"), pool("gpu")],
        churn: Vec::new(),
        pending_pods: Vec::new(),
        provisioning_seconds: Vec::new(),
        blockers: Vec::new(),
        counted: None,
    };
    promql::merge_nodes(&mut snapshot, &collected.results);
    for pool in &snapshot.nodepools {
        let limit = figure(&e["limit_cpu"][pool.name.as_str()]);
        let usage = figure(&e["usage_cpu"][pool.name.as_str()]);
        assert!(
            close(pool.cpu_limit.unwrap_or_default(), limit),
            "{section} {pool:?}"
        );
        assert!(close(pool.cpu_provisioned, usage), "{section} {pool:?}");
    }
    let summary = kockpit::domain::nodes::summary(&snapshot);
    assert_eq!(
        f64::from(summary.launched_last_hour),
        figure(&e["launches_last_hour"]),
        "{section}"
    );
    assert_eq!(
        f64::from(summary.terminated_last_hour),
        figure(&e["terminations_last_hour"]),
        "{section}"
    );
    let read: Vec<(&str, u32)> = summary
        .disruption_reasons
        .iter()
        .map(|(reason, n)| (reason.as_str(), *n))
        .collect();
    assert_eq!(read, reasons, "{section}: disruptions by reason");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn karpenter_v0_37_names_and_its_disruption_type_label() {
    karpenter("karpenter_v0_37", &[("Drifted", 9), ("Empty", 9)]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn karpenter_v1_names() {
    karpenter(
        "karpenter_v1",
        &[("Drifted", 9), ("Empty", 9), ("Underutilized", 18)],
    )
    .await;
}

fn row(workload: &str, container: &str) -> WorkloadUsage {
    WorkloadUsage {
        namespace: "shop".into(),
        name: workload.into(),
        kind: "Deployment".into(),
        container: container.into(),
        replicas: 2,
        cpu_request_m: 0.0,
        cpu_limit_m: None,
        memory_request_mib: 0.0,
        memory_limit_mib: None,
        oom_kills_7d: 0,
        restarts_24h: 0,
        vpa: None,
        hpa_on_cpu: false,
        usage: None,
    }
}

async fn cadvisor(file: &str) {
    let expected = expected();
    let collected = collected(
        file,
        &[
            QueryId::CpuP95,
            QueryId::MemoryP95,
            QueryId::Throttling,
            QueryId::DnsMemoryByPod,
        ],
    )
    .await;
    let names = collected.names.clone().unwrap_or_else(|| panic!("names"));
    assert!(
        !names
            .absent
            .contains_key(&kockpit::domain::Pane::Rightsizing)
    );
    let mut snapshot = WorkloadSnapshot {
        at: chrono::Utc::now(),
        window: String::new(),
        workloads: vec![
            row("web", "web"),
            row("web", "log-shipper"),
            row("api", "api"),
        ],
        namespaces: Vec::new(),
    };
    promql::merge_workloads(&mut snapshot, &collected.results);
    let wanted = expected["cadvisor_kubelet"]["workloads"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for want in wanted {
        let row = snapshot
            .workloads
            .iter()
            .find(|r| {
                r.name == want["workload"].as_str().unwrap_or_default()
                    && r.container == want["container"].as_str().unwrap_or_default()
            })
            .unwrap_or_else(|| panic!("{want:?}"));
        let usage = row
            .usage
            .clone()
            .unwrap_or_else(|| panic!("{file}: no usage for {}/{}", row.name, row.container));
        assert!(
            close(usage.cpu_p95_m, figure(&want["cpu_millicores"]))
                && close(usage.memory_p95_mib, figure(&want["memory_mib"]))
                && close(usage.throttling_ratio, figure(&want["throttling_ratio"])),
            "{file}: {}/{} read {usage:?}, expected {want:?}",
            row.name,
            row.container
        );
    }
    // CoreDNS's own working set and CPU, per pod (pod-level and pause series left out).
    let mut dns = dns_snapshot(&expected["coredns_1_11"]["qps_by_pod"]);
    promql::merge_dns(&mut dns, &collected.results);
    for pod in &dns.pods {
        let want = figure(&expected["cadvisor_kubelet"]["coredns_memory_mib"][pod.name.as_str()]);
        assert!(
            close(pod.memory_mib.unwrap_or_default(), want),
            "{file} {}: {:?}",
            pod.name,
            pod.memory_mib
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cadvisor_through_the_kubelet_as_kube_prometheus_stack_scrapes_it() {
    cadvisor("cadvisor-kubelet.prom").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cadvisor_as_the_amp_managed_collector_scrapes_it() {
    cadvisor("amp-managed-collector-cadvisor.prom").await;
}

/// Names missing altogether make each pane say what it looked for and what provides it.
#[test]
fn absent_exporters_are_named() {
    let present: BTreeSet<String> = ["up".to_string()].into();
    let names = promql::MetricNames::detect(&present);
    for (pane, words) in [
        (kockpit::domain::Pane::Dns, "CoreDNS's prometheus plugin"),
        (kockpit::domain::Pane::Nodes, "Karpenter's metrics endpoint"),
        (kockpit::domain::Pane::Rightsizing, "through the kubelet"),
        (kockpit::domain::Pane::Flows, "network-costs"),
    ] {
        let said = names.absent.get(&pane).cloned().unwrap_or_default();
        assert!(said.contains(words), "{pane:?}: {said}");
    }
}

/// What a simulated cluster publishing `spec`'s exporter versions reads as, through a real
/// Prometheus scraping `kockpit sim serve`.
async fn simulated(spec: &str) -> Collected {
    use kockpit::backend::sim::scenarios;
    use kockpit::backend::sim::serve::{ServeOptions, Server};
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let mut scenario = scenarios::load("baseline").unwrap_or_else(|e| panic!("{e}"));
    scenario
        .observability
        .apply(spec)
        .unwrap_or_else(|e| panic!("{spec}: {e}"));
    let mut options = ServeOptions::new(scenario);
    options.speed = 20.0;
    let server = Server::start(options)
        .await
        .unwrap_or_else(|e| panic!("sim serve: {e}"));
    let dir = support::servers::temp_dir("exporter-versions");
    let (_prometheus, url, log) = support::servers::start_prometheus(
        &dir,
        &format!(
            "- job_name: sim\n  static_configs:\n  - targets: ['{}']\n",
            server.addr
        ),
    );
    let mut options = PrometheusOptions::new(&url, Auth::None);
    options.schedule.refresh = Duration::from_secs(1);
    options.schedule.names_every = Duration::from_secs(1);
    options.schedule.rate_window = "8s".into();
    let handle = prometheus::start(&options).unwrap_or_else(|e| panic!("{e}"));
    let needed = [
        QueryId::DnsUpstreamP99,
        QueryId::DnsCacheHitRatio,
        QueryId::NodesCreated,
        QueryId::NodePoolLimit,
    ];
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let collected = handle.collected();
        let named = collected
            .names
            .as_ref()
            .is_some_and(|n| n.karpenter.is_some());
        let answered = needed.iter().all(|id| {
            collected
                .results
                .get(id)
                .is_some_and(|samples| !samples.is_empty())
        });
        if named && answered {
            server.stop().await;
            return collected;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{spec}: no answer to {needed:?}; names {:?}; failing {:?}; Prometheus log:\n{}",
            collected.names,
            collected.failing,
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

/// The simulator speaks the same older shapes as the fixtures above: the names kockpit
/// detects in them are the upstream ones, and the figures come through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulator_speaks_older_exporter_versions() {
    for (spec, upstream, created, limit) in [
        (
            "coredns=1.10,karpenter=0.37",
            Upstream::Forward,
            "karpenter_nodeclaims_created",
            "karpenter_nodepool_limit",
        ),
        (
            "coredns=1.12,karpenter=1",
            Upstream::Proxy,
            "karpenter_nodeclaims_created_total",
            "karpenter_nodepools_limit",
        ),
    ] {
        let collected = simulated(spec).await;
        let names = collected.names.clone().unwrap_or_else(|| panic!("names"));
        assert_eq!(names.upstream, upstream, "{spec}");
        let karpenter = names.karpenter.clone().unwrap_or_else(|| panic!("{spec}"));
        assert_eq!(karpenter.created, created, "{spec}");
        assert_eq!(karpenter.limit.as_deref(), Some(limit), "{spec}");
        assert!(names.cache_requests, "{spec}: cache requests counted");
        let mut dns = dns_snapshot(&toml::Value::Table(Default::default()));
        promql::merge_dns(&mut dns, &collected.results);
        let metrics = dns
            .metrics
            .unwrap_or_else(|| panic!("{spec}: no DNS metrics"));
        assert!(
            metrics.upstream_p99_ms.is_some_and(|p| p > 0.0),
            "{spec}: {metrics:?}"
        );
        assert!(
            metrics.cache_hit_ratio > 0.0 && metrics.cache_hit_ratio < 1.0,
            "{spec}: {metrics:?}"
        );
    }
}
