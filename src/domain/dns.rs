//! DNS analysis: CoreDNS latency, errors, cache, capacity and placement, judged against
//! eks-domain.md §7.1 and the pane-1 advisor rules of §8.2.

use std::collections::BTreeSet;

use super::corefile::{
    self, CorefileSettings, RECOMMENDED_KUBERNETES_TTL_SECONDS, RECOMMENDED_LAMEDUCK,
};
use super::finding::{Finding, FixKind, Severity};
use super::format::{go_duration, mib, millis, percent, rate};
use super::model::{DnsSnapshot, NodeSnapshot, ObjectRef, Pane};
use super::rules::{above, band_text, below, crossed, finding};
use super::thresholds::Thresholds;

/// The memory band of §7.1 is written for the EKS default limit of 170 Mi; with another
/// limit it scales in proportion (warning at 71 %, critical at 88 % of the limit).
const EKS_DEFAULT_MEMORY_LIMIT_MIB: f64 = 170.0;

/// The ndots the DnsLowerNdots fix sets; workloads already at or below it gain nothing.
const LOWERED_NDOTS: u8 = 2;

pub fn coredns_deployment() -> ObjectRef {
    ObjectRef::namespaced("Deployment", "kube-system", "coredns")
}

pub fn coredns_configmap() -> ObjectRef {
    ObjectRef::namespaced("ConfigMap", "kube-system", "coredns")
}

/// What the Corefile said, if it was there and parsed.
enum CorefileState {
    Missing,
    Broken(corefile::CorefileError),
    Parsed(Box<CorefileSettings>),
}

pub fn analyze(dns: &DnsSnapshot, nodes: Option<&NodeSnapshot>, t: &Thresholds) -> Vec<Finding> {
    let corefile = match dns.corefile.as_deref() {
        None => CorefileState::Missing,
        Some(text) => match corefile::parse(text) {
            Ok(parsed) => CorefileState::Parsed(Box::new(parsed.settings())),
            Err(error) => CorefileState::Broken(error),
        },
    };
    let settings = match &corefile {
        CorefileState::Parsed(settings) => Some(settings.as_ref()),
        _ => None,
    };
    let mut found = Vec::new();
    latency(dns, t, &mut found);
    cache_hit_ratio(dns, settings, t, &mut found);
    servfail(dns, t, &mut found);
    nxdomain(dns, t, &mut found);
    memory(dns, t, &mut found);
    placement(dns, nodes, &mut found);
    capacity(dns, t, &mut found);
    readiness(dns, &mut found);
    panics(dns, &mut found);
    nodelocal(dns, nodes, t, &mut found);
    corefile_health(&corefile, &mut found);
    found
}

fn latency(dns: &DnsSnapshot, t: &Thresholds, found: &mut Vec<Finding>) {
    let Some(m) = &dns.metrics else {
        return;
    };
    let Some(severity) = above(m.p99_ms, t.dns_p99_ms) else {
        return;
    };
    let mut draft = finding(
        Pane::Dns,
        "dns/latency-p99".into(),
        severity,
        format!(
            "CoreDNS p99 latency {} ({})",
            millis(m.p99_ms),
            crossed(severity, t.dns_p99_ms, true, millis)
        ),
        coredns_deployment(),
    )
    .evidence(
        "p99 latency",
        millis(m.p99_ms),
        band_text(t.dns_p99_ms, true, millis),
    )
    .evidence("p50 latency", millis(m.p50_ms), "")
    .queries(m.qps);
    if let Some(upstream) = m.upstream_p99_ms {
        // A slow VPC resolver shows as CoreDNS latency on cache misses.
        let note = if upstream >= m.p99_ms * 0.5 {
            "most of the latency is upstream: check the VPC resolver and the ENI packet cap"
        } else {
            "upstream is fast: look at CoreDNS CPU, memory and throttling"
        };
        draft = draft.evidence("upstream (VPC resolver) p99", millis(upstream), note);
    }
    found.push(draft.build());
}

fn cache_hit_ratio(
    dns: &DnsSnapshot,
    settings: Option<&CorefileSettings>,
    t: &Thresholds,
    found: &mut Vec<Finding>,
) {
    let Some(m) = &dns.metrics else {
        return;
    };
    if m.qps <= 0.0 {
        return;
    }
    let Some(severity) = below(m.cache_hit_ratio, t.dns_cache_hit_ratio) else {
        return;
    };
    let recommended = format!(
        "recommended: kubernetes ttl {RECOMMENDED_KUBERNETES_TTL_SECONDS} s; cache 30 {{ success 10000 30, denial 2000 10, prefetch 5 60s }}"
    );
    let (corefile_value, fix) = match settings {
        Some(settings) if settings.has_recommended_cache_profile() => (
            format!(
                "{} (already the recommended profile)",
                settings.cache_summary()
            ),
            None,
        ),
        Some(settings) => (settings.cache_summary(), Some(FixKind::DnsCacheProfile)),
        None => ("Corefile not readable".to_string(), None),
    };
    let summary = match fix {
        Some(_) => format!(
            "CoreDNS cache hit ratio {} ({}): short TTLs, apply the cache/TTL profile",
            percent(m.cache_hit_ratio),
            crossed(severity, t.dns_cache_hit_ratio, false, percent)
        ),
        None => format!(
            "CoreDNS cache hit ratio {} ({})",
            percent(m.cache_hit_ratio),
            crossed(severity, t.dns_cache_hit_ratio, false, percent)
        ),
    };
    found.push(
        finding(
            Pane::Dns,
            "dns/cache-hit-ratio".into(),
            severity,
            summary,
            coredns_configmap(),
        )
        .evidence(
            "cache hit ratio",
            percent(m.cache_hit_ratio),
            band_text(t.dns_cache_hit_ratio, false, percent),
        )
        .evidence("Corefile cache/ttl", corefile_value, recommended)
        .queries(m.qps * (1.0 - m.cache_hit_ratio))
        .maybe_fix(fix)
        .build(),
    );
}

fn servfail(dns: &DnsSnapshot, t: &Thresholds, found: &mut Vec<Finding>) {
    let Some(m) = &dns.metrics else {
        return;
    };
    let ratio = m.servfail_ratio();
    let Some(severity) = above(ratio, t.dns_servfail_ratio) else {
        return;
    };
    let mut draft = finding(
        Pane::Dns,
        "dns/servfail-ratio".into(),
        severity,
        format!(
            "CoreDNS SERVFAIL {} of responses ({}): upstream failing, read the CoreDNS logs",
            percent(ratio),
            crossed(severity, t.dns_servfail_ratio, true, percent)
        ),
        coredns_deployment(),
    )
    .evidence(
        "SERVFAIL share",
        percent(ratio),
        band_text(t.dns_servfail_ratio, true, percent),
    )
    .queries(m.qps * ratio);
    if let Some(upstream) = m.upstream_p99_ms {
        draft = draft.evidence("upstream (VPC resolver) p99", millis(upstream), "");
    }
    found.push(draft.build());
}

fn nxdomain(dns: &DnsSnapshot, t: &Thresholds, found: &mut Vec<Finding>) {
    let Some(m) = &dns.metrics else {
        return;
    };
    let ratio = m.nxdomain_ratio();
    let Some(severity) = above(ratio, t.dns_nxdomain_ratio) else {
        return;
    };
    let mut sources: Vec<_> = m.nxdomain_sources.iter().collect();
    sources.sort_by(|a, b| b.qps.total_cmp(&a.qps));
    let top = sources
        .iter()
        .take(3)
        .map(|s| format!("{}/{} {} q/s", s.namespace, s.workload, rate(s.qps)))
        .collect::<Vec<_>>()
        .join(", ");
    let mut draft = finding(
        Pane::Dns,
        "dns/nxdomain-ratio".into(),
        severity,
        format!(
            "NXDOMAIN {} of CoreDNS responses ({}): search-path expansion or a wrong name",
            percent(ratio),
            crossed(severity, t.dns_nxdomain_ratio, true, percent)
        ),
        coredns_deployment(),
    )
    .evidence(
        "NXDOMAIN share",
        percent(ratio),
        band_text(t.dns_nxdomain_ratio, true, percent),
    )
    .queries(m.qps * ratio);
    if !top.is_empty() {
        draft = draft.evidence("top sources", top, "");
    }
    found.push(draft.build());

    for source in sources {
        if source.nxdomain_ratio <= t.dns_nxdomain_ratio.warning {
            continue;
        }
        let object = ObjectRef::namespaced("Deployment", &source.namespace, &source.workload);
        let name = format!("{}/{}", source.namespace, source.workload);
        let draft = if source.ndots > LOWERED_NDOTS {
            finding(
                Pane::Dns,
                format!("dns/ndots/{name}"),
                Severity::Warning,
                format!(
                    "{name} sends {} q/s, {} NXDOMAIN, with ndots {}: lower ndots to {LOWERED_NDOTS}",
                    rate(source.qps),
                    percent(source.nxdomain_ratio),
                    source.ndots
                ),
                object,
            )
            .evidence(
                "ndots",
                source.ndots.to_string(),
                "names with fewer dots try every search domain first",
            )
            .fix(FixKind::DnsLowerNdots)
        } else {
            finding(
                Pane::Dns,
                format!("dns/nxdomain-source/{name}"),
                Severity::Warning,
                format!(
                    "{name} gets NXDOMAIN for {} of its {} q/s: it asks for a name that does not exist",
                    percent(source.nxdomain_ratio),
                    rate(source.qps)
                ),
                object,
            )
            .evidence("ndots", source.ndots.to_string(), "already low; check the names it resolves")
        };
        found.push(
            draft
                .queries(source.qps)
                .evidence("queries", format!("{} q/s", rate(source.qps)), "")
                .evidence(
                    "NXDOMAIN share",
                    percent(source.nxdomain_ratio),
                    format!("warning above {}", percent(t.dns_nxdomain_ratio.warning)),
                )
                .build(),
        );
    }
}

fn memory(dns: &DnsSnapshot, t: &Thresholds, found: &mut Vec<Finding>) {
    // Pod memory comes from metrics: without them there is nothing to judge.
    let Some((pod, working_set)) = dns
        .pods
        .iter()
        .filter_map(|pod| pod.memory_mib.map(|memory| (pod, memory)))
        .max_by(|a, b| a.1.total_cmp(&b.1))
    else {
        return;
    };
    let scale = dns
        .memory_limit_mib
        .filter(|l| *l > 0.0)
        .map(|l| l / EKS_DEFAULT_MEMORY_LIMIT_MIB)
        .unwrap_or(1.0);
    let band = super::thresholds::Band::new(
        t.dns_memory_mib.warning * scale,
        t.dns_memory_mib.critical * scale,
    );
    let at_limit = dns.memory_limit_mib.is_some_and(|l| working_set >= l);
    let severity = if at_limit {
        Severity::Critical
    } else {
        match above(working_set, band) {
            Some(severity) => severity,
            None => return,
        }
    };
    let limit_text = match dns.memory_limit_mib {
        Some(limit) => format!(" of its {} limit", mib(limit)),
        None => String::new(),
    };
    let mut draft = finding(
        Pane::Dns,
        "dns/memory".into(),
        severity,
        format!(
            "CoreDNS pod {} uses {}{limit_text} ({}): raise the memory limit before it is OOM-killed",
            pod.name,
            mib(working_set),
            crossed(severity, band, true, mib)
        ),
        coredns_deployment(),
    )
    .evidence("working set", mib(working_set), band_text(band, true, mib));
    if let Some(limit) = dns.memory_limit_mib {
        draft = draft.evidence(
            "memory limit",
            mib(limit),
            format!(
                "suggested {}",
                mib(EKS_DEFAULT_MEMORY_LIMIT_MIB.max((working_set * 1.5).ceil()))
            ),
        );
    }
    found.push(draft.fix(FixKind::DnsRaiseMemoryLimit).build());
}

fn placement(dns: &DnsSnapshot, nodes: Option<&NodeSnapshot>, found: &mut Vec<Finding>) {
    if dns.replicas == 1 {
        found.push(
            finding(
                Pane::Dns,
                "dns/single-replica".into(),
                Severity::Warning,
                "CoreDNS runs a single replica: cluster DNS stops while it restarts".into(),
                coredns_deployment(),
            )
            .evidence("replicas", "1", "at least 2")
            .fix(FixKind::DnsScaleReplicas)
            .build(),
        );
    }
    if dns.pods.len() < 2 {
        return;
    }
    let node_names: BTreeSet<&str> = dns.pods.iter().map(|p| p.node.as_str()).collect();
    let zones: BTreeSet<&str> = dns.pods.iter().map(|p| p.zone.as_str()).collect();
    if node_names.len() == 1 {
        let node = node_names.iter().next().copied().unwrap_or_default();
        found.push(
            finding(
                Pane::Dns,
                "dns/replicas-one-node".into(),
                Severity::Critical,
                format!(
                    "All {} CoreDNS replicas run on node {node}: one ENI carries every upstream lookup (1024 packets/s cap)",
                    dns.pods.len()
                ),
                coredns_deployment(),
            )
            .evidence("distinct nodes", "1", format!("want {}", dns.pods.len()))
            .fix(FixKind::DnsSpreadReplicas)
            .build(),
        );
        return;
    }
    // Spreading across zones is only possible when the cluster has more than one.
    let cluster_zones: BTreeSet<&str> = nodes
        .map(|n| n.nodes.iter().map(|node| node.zone.as_str()).collect())
        .unwrap_or_default();
    if zones.len() == 1 && cluster_zones.len() != 1 {
        let zone = zones.iter().next().copied().unwrap_or_default();
        found.push(
            finding(
                Pane::Dns,
                "dns/replicas-one-zone".into(),
                Severity::Warning,
                format!(
                    "All {} CoreDNS replicas run in zone {zone}: losing that zone stops cluster DNS",
                    dns.pods.len()
                ),
                coredns_deployment(),
            )
            .evidence("distinct zones", "1", "spread across zones")
            .fix(FixKind::DnsSpreadReplicas)
            .build(),
        );
    }
}

fn capacity(dns: &DnsSnapshot, t: &Thresholds, found: &mut Vec<Finding>) {
    let Some(m) = &dns.metrics else {
        return;
    };
    let busiest_pod = dns
        .pods
        .iter()
        .filter_map(|pod| pod.qps.map(|qps| (pod, qps)))
        .max_by(|a, b| a.1.total_cmp(&b.1));
    let (busiest, qps) = match busiest_pod {
        Some((pod, qps)) => (format!("pod {}", pod.name), qps),
        None => (
            "each pod".to_string(),
            m.qps / f64::from(dns.ready_replicas.max(1)),
        ),
    };
    if qps <= t.dns_qps_per_pod {
        return;
    }
    let suggested = (dns.replicas + 1).max((m.qps / t.dns_qps_per_pod).ceil() as u32);
    found.push(
        finding(
            Pane::Dns,
            "dns/qps-per-pod".into(),
            Severity::Warning,
            format!(
                "CoreDNS {busiest} answers {} q/s (scale out above {} per pod): go to {suggested} replicas",
                rate(qps),
                rate(t.dns_qps_per_pod)
            ),
            coredns_deployment(),
        )
        .evidence("busiest pod", format!("{} q/s", rate(qps)), format!("above {} q/s", rate(t.dns_qps_per_pod)))
        .evidence("total", format!("{} q/s over {} replicas", rate(m.qps), dns.replicas), "")
        .evidence("suggested replicas", suggested.to_string(), "max(current + 1, total / per-pod limit)")
        .queries(m.qps)
        .fix(FixKind::DnsScaleReplicas)
        .build(),
    );
}

fn readiness(dns: &DnsSnapshot, found: &mut Vec<Finding>) {
    if dns.ready_replicas >= dns.replicas {
        return;
    }
    let (severity, summary) = if dns.ready_replicas == 0 {
        (
            Severity::Critical,
            format!(
                "No CoreDNS replica is ready (0 of {}): cluster DNS is down",
                dns.replicas
            ),
        )
    } else {
        (
            Severity::Warning,
            format!(
                "{} of {} CoreDNS replicas ready: the rest carry the load",
                dns.ready_replicas, dns.replicas
            ),
        )
    };
    found.push(
        finding(
            Pane::Dns,
            "dns/replicas-not-ready".into(),
            severity,
            summary,
            coredns_deployment(),
        )
        .evidence(
            "ready replicas",
            format!("{} of {}", dns.ready_replicas, dns.replicas),
            "all ready",
        )
        .build(),
    );
}

fn panics(dns: &DnsSnapshot, found: &mut Vec<Finding>) {
    let Some(m) = &dns.metrics else {
        return;
    };
    if m.panics_last_hour == 0 {
        return;
    }
    found.push(
        finding(
            Pane::Dns,
            "dns/panics".into(),
            Severity::Critical,
            format!(
                "CoreDNS panicked {} time{} in the last hour: investigate the logs now",
                m.panics_last_hour,
                if m.panics_last_hour == 1 { "" } else { "s" }
            ),
            coredns_deployment(),
        )
        .evidence(
            "panics (1 h)",
            m.panics_last_hour.to_string(),
            "critical above 0",
        )
        .build(),
    );
}

fn nodelocal(
    dns: &DnsSnapshot,
    nodes: Option<&NodeSnapshot>,
    t: &Thresholds,
    found: &mut Vec<Finding>,
) {
    if dns.nodelocal_dns {
        return;
    }
    let node_count = nodes.map(|n| n.nodes.len()).unwrap_or(0);
    let many_nodes = node_count > t.dns_nodelocal_nodes as usize;
    let qps = dns.metrics.as_ref().map(|m| m.qps);
    let many_queries = qps.is_some_and(|qps| qps > t.dns_nodelocal_qps);
    if !many_nodes && !many_queries {
        return;
    }
    let reason = match qps {
        Some(qps) if !many_nodes => format!("{} q/s", rate(qps)),
        _ => format!("{node_count} nodes"),
    };
    let queries = qps.map_or_else(
        || "unknown (no metrics)".to_string(),
        |qps| format!("{} q/s", rate(qps)),
    );
    found.push(
        finding(
            Pane::Dns,
            "dns/nodelocal".into(),
            Severity::Info,
            format!("{reason} without NodeLocal DNSCache: install it to cut CoreDNS load and cross-zone lookups"),
            coredns_deployment(),
        )
        .evidence(
            "nodes",
            node_count.to_string(),
            format!("advised above {} nodes", t.dns_nodelocal_nodes),
        )
        .evidence(
            "queries",
            queries,
            format!("advised above {} q/s", rate(t.dns_nodelocal_qps)),
        )
        .build(),
    );
}

fn corefile_health(corefile: &CorefileState, found: &mut Vec<Finding>) {
    match corefile {
        CorefileState::Missing => {}
        CorefileState::Broken(error) => found.push(
            finding(
                Pane::Dns,
                "dns/corefile-unparseable".into(),
                Severity::Warning,
                format!(
                    "Corefile in ConfigMap kube-system/coredns does not parse ({error}): a restarting CoreDNS pod would crash-loop"
                ),
                coredns_configmap(),
            )
            .evidence("parse error", error.to_string(), "")
            .build(),
        ),
        CorefileState::Parsed(settings) => {
            if !settings.problems.is_empty() {
                found.push(
                    finding(
                        Pane::Dns,
                        "dns/corefile-values".into(),
                        Severity::Warning,
                        format!("Corefile has unreadable values: {}", settings.problems.join("; ")),
                        coredns_configmap(),
                    )
                    .evidence("problems", settings.problems.len().to_string(), "")
                    .build(),
                );
            }
            let lameduck = settings.lameduck.unwrap_or_default();
            if lameduck < RECOMMENDED_LAMEDUCK {
                let shown = match settings.lameduck {
                    Some(d) => go_duration(d),
                    None => "not set".to_string(),
                };
                found.push(
                    finding(
                        Pane::Dns,
                        "dns/lameduck".into(),
                        Severity::Info,
                        format!(
                            "CoreDNS lameduck is {shown} ({} recommended): lookups can fail while a replica shuts down",
                            go_duration(RECOMMENDED_LAMEDUCK)
                        ),
                        coredns_configmap(),
                    )
                    .evidence("health lameduck", shown, format!("at least {}", go_duration(RECOMMENDED_LAMEDUCK)))
                    .build(),
                );
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::domain::model::{DnsClient, DnsMetrics, DnsPod, RcodeRate};
    use chrono::{TimeZone, Utc};

    const EKS_DEFAULT: &str = ".:53 {\n    errors\n    health {\n        lameduck 5s\n      }\n    ready\n    kubernetes cluster.local in-addr.arpa ip6.arpa {\n      pods insecure\n      fallthrough in-addr.arpa ip6.arpa\n    }\n    prometheus :9153\n    forward . /etc/resolv.conf\n    cache 30\n    loop\n    reload\n    loadbalance\n}\n";

    const TUNED: &str = ".:53 {\n  kubernetes cluster.local {\n    ttl 30\n  }\n  cache 30 {\n    success 10000 30\n    denial 2000 10\n    prefetch 5 60s\n  }\n  forward . /etc/resolv.conf\n  health {\n    lameduck 30s\n  }\n  reload\n}\n";

    fn pod(name: &str, node: &str, zone: &str, qps: f64, memory: f64) -> DnsPod {
        DnsPod {
            name: name.into(),
            node: node.into(),
            zone: zone.into(),
            qps: Some(qps),
            memory_mib: Some(memory),
            cpu_millicores: Some(50.0),
            ip: None,
        }
    }

    /// A healthy CoreDNS: nothing should fire.
    pub(crate) fn healthy() -> DnsSnapshot {
        DnsSnapshot {
            at: Utc.timestamp_opt(1_700_000_000, 0).unwrap(),
            replicas: 2,
            ready_replicas: 2,
            memory_limit_mib: Some(170.0),
            pods: vec![
                pod("coredns-a", "node-1", "us-east-1a", 400.0, 40.0),
                pod("coredns-b", "node-2", "us-east-1b", 400.0, 42.0),
            ],
            corefile: Some(TUNED.into()),
            nodelocal_dns: false,
            metrics: Some(DnsMetrics {
                qps: 800.0,
                p50_ms: 1.0,
                p99_ms: 12.0,
                cache_hit_ratio: 0.92,
                rcodes: vec![
                    RcodeRate {
                        rcode: "NOERROR".into(),
                        qps: 700.0,
                    },
                    RcodeRate {
                        rcode: "NXDOMAIN".into(),
                        qps: 100.0,
                    },
                ],
                upstream_p99_ms: Some(4.0),
                upstream_qps: Some(60.0),
                nxdomain_sources: vec![],
                panics_last_hour: 0,
            }),
        }
    }

    /// The metric figures of a test snapshot, to change them in place.
    pub(crate) fn metrics(dns: &mut DnsSnapshot) -> &mut DnsMetrics {
        dns.metrics.as_mut().expect("test snapshots carry metrics")
    }

    fn run(dns: &DnsSnapshot) -> Vec<Finding> {
        analyze(dns, None, &Thresholds::default())
    }

    fn ids(found: &[Finding]) -> Vec<&str> {
        found.iter().map(|f| f.id.as_str()).collect()
    }

    fn get<'a>(found: &'a [Finding], id: &str) -> &'a Finding {
        found
            .iter()
            .find(|f| f.id == id)
            .unwrap_or_else(|| panic!("no {id} in {:?}", ids(found)))
    }

    #[test]
    fn healthy_coredns_has_no_findings() {
        assert!(run(&healthy()).is_empty(), "{:?}", ids(&run(&healthy())));
    }

    #[test]
    fn p99_latency_warns_then_goes_critical() {
        let mut dns = healthy();
        metrics(&mut dns).p99_ms = 60.0;
        assert_eq!(
            get(&run(&dns), "dns/latency-p99").severity,
            Severity::Warning
        );
        metrics(&mut dns).p99_ms = 142.0;
        metrics(&mut dns).upstream_p99_ms = Some(120.0);
        let found = run(&dns);
        let latency = get(&found, "dns/latency-p99");
        assert_eq!(latency.severity, Severity::Critical);
        assert_eq!(
            latency.summary,
            "CoreDNS p99 latency 142 ms (critical above 100 ms)"
        );
        assert!(
            latency
                .evidence
                .iter()
                .any(|e| e.threshold.contains("upstream"))
        );
        metrics(&mut dns).p99_ms = 50.0;
        assert!(!ids(&run(&dns)).contains(&"dns/latency-p99"));
    }

    #[test]
    fn low_cache_hit_ratio_offers_the_profile_with_the_corefile_values() {
        let mut dns = healthy();
        dns.corefile = Some(EKS_DEFAULT.into());
        metrics(&mut dns).cache_hit_ratio = 0.42;
        let found = run(&dns);
        let cache = get(&found, "dns/cache-hit-ratio");
        assert_eq!(cache.severity, Severity::Critical);
        assert_eq!(cache.fix, Some(FixKind::DnsCacheProfile));
        assert_eq!(cache.object, coredns_configmap());
        assert!(cache.summary.contains("42%"), "{}", cache.summary);
        let corefile = cache
            .evidence
            .iter()
            .find(|e| e.label == "Corefile cache/ttl")
            .expect("evidence");
        assert!(corefile.value.contains("kubernetes ttl 5 s (default)"));
        assert!(corefile.value.contains("cache 30 s"));

        metrics(&mut dns).cache_hit_ratio = 0.7;
        assert_eq!(
            get(&run(&dns), "dns/cache-hit-ratio").severity,
            Severity::Warning
        );
        metrics(&mut dns).cache_hit_ratio = 0.85;
        assert!(!ids(&run(&dns)).contains(&"dns/cache-hit-ratio"));
    }

    #[test]
    fn no_cache_fix_when_already_tuned_or_unreadable() {
        let mut dns = healthy();
        metrics(&mut dns).cache_hit_ratio = 0.3;
        assert_eq!(get(&run(&dns), "dns/cache-hit-ratio").fix, None);
        dns.corefile = None;
        assert_eq!(get(&run(&dns), "dns/cache-hit-ratio").fix, None);
        metrics(&mut dns).qps = 0.0;
        assert!(!ids(&run(&dns)).contains(&"dns/cache-hit-ratio"));
    }

    #[test]
    fn servfail_ratio_is_judged_apart_from_nxdomain() {
        let mut dns = healthy();
        metrics(&mut dns).rcodes.push(RcodeRate {
            rcode: "SERVFAIL".into(),
            qps: 20.0,
        });
        let found = run(&dns);
        assert_eq!(
            get(&found, "dns/servfail-ratio").severity,
            Severity::Critical
        );
        assert!(!ids(&found).contains(&"dns/nxdomain-ratio"));
        metrics(&mut dns).rcodes.pop();
        metrics(&mut dns).rcodes.push(RcodeRate {
            rcode: "SERVFAIL".into(),
            qps: 0.4,
        });
        assert!(!ids(&run(&dns)).contains(&"dns/servfail-ratio"));
    }

    #[test]
    fn nxdomain_storm_points_at_the_workload_with_ndots_5() {
        let mut dns = healthy();
        metrics(&mut dns).rcodes = vec![
            RcodeRate {
                rcode: "NOERROR".into(),
                qps: 300.0,
            },
            RcodeRate {
                rcode: "NXDOMAIN".into(),
                qps: 700.0,
            },
        ];
        metrics(&mut dns).nxdomain_sources = vec![
            DnsClient {
                namespace: "shop".into(),
                workload: "checkout".into(),
                qps: 600.0,
                nxdomain_ratio: 0.8,
                ndots: 5,
            },
            DnsClient {
                namespace: "batch".into(),
                workload: "crawler".into(),
                qps: 100.0,
                nxdomain_ratio: 0.9,
                ndots: 1,
            },
            DnsClient {
                namespace: "web".into(),
                workload: "front".into(),
                qps: 50.0,
                nxdomain_ratio: 0.1,
                ndots: 5,
            },
        ];
        let found = run(&dns);
        assert_eq!(
            get(&found, "dns/nxdomain-ratio").severity,
            Severity::Critical
        );
        let ndots = get(&found, "dns/ndots/shop/checkout");
        assert_eq!(ndots.fix, Some(FixKind::DnsLowerNdots));
        assert_eq!(
            ndots.object,
            ObjectRef::namespaced("Deployment", "shop", "checkout")
        );
        let crawler = get(&found, "dns/nxdomain-source/batch/crawler");
        assert_eq!(crawler.fix, None);
        assert!(!ids(&found).iter().any(|id| id.contains("web/front")));

        // Below the band the per-workload findings stay quiet too.
        metrics(&mut dns).rcodes[1].qps = 100.0;
        let quiet = run(&dns);
        assert!(
            !ids(&quiet)
                .iter()
                .any(|id| id.starts_with("dns/ndots") || id.starts_with("dns/nxdomain"))
        );
    }

    #[test]
    fn memory_near_the_limit_offers_a_higher_limit() {
        let mut dns = healthy();
        dns.pods[1].memory_mib = Some(130.0);
        let warning = run(&dns);
        assert_eq!(get(&warning, "dns/memory").severity, Severity::Warning);
        assert_eq!(
            get(&warning, "dns/memory").fix,
            Some(FixKind::DnsRaiseMemoryLimit)
        );
        dns.pods[1].memory_mib = Some(162.0);
        let critical = run(&dns);
        let memory = get(&critical, "dns/memory");
        assert_eq!(memory.severity, Severity::Critical);
        assert!(
            memory
                .summary
                .contains("coredns-b uses 162 Mi of its 170 Mi limit"),
            "{}",
            memory.summary
        );
        // With a raised limit the same usage is fine.
        dns.memory_limit_mib = Some(512.0);
        assert!(!ids(&run(&dns)).contains(&"dns/memory"));
        // Over the limit is critical whatever the band says.
        dns.memory_limit_mib = Some(100.0);
        dns.pods[1].memory_mib = Some(101.0);
        assert_eq!(get(&run(&dns), "dns/memory").severity, Severity::Critical);
    }

    #[test]
    fn replicas_on_one_node_or_zone_are_spread() {
        let mut dns = healthy();
        dns.pods[1].node = "node-1".into();
        dns.pods[1].zone = "us-east-1a".into();
        let found = run(&dns);
        let one_node = get(&found, "dns/replicas-one-node");
        assert_eq!(one_node.severity, Severity::Critical);
        assert_eq!(one_node.fix, Some(FixKind::DnsSpreadReplicas));
        assert!(!ids(&found).contains(&"dns/replicas-one-zone"));

        dns.pods[1].node = "node-3".into();
        let found = run(&dns);
        let one_zone = get(&found, "dns/replicas-one-zone");
        assert_eq!(one_zone.severity, Severity::Warning);
        assert_eq!(one_zone.fix, Some(FixKind::DnsSpreadReplicas));
        assert!(!ids(&found).contains(&"dns/replicas-one-node"));
    }

    #[test]
    fn one_zone_is_fine_in_a_single_zone_cluster() {
        let mut dns = healthy();
        dns.pods[1].zone = "us-east-1a".into();
        let nodes = crate::domain::nodes::tests::fleet_in_zones(&["us-east-1a"]);
        let found = analyze(&dns, Some(&nodes), &Thresholds::default());
        assert!(!ids(&found).contains(&"dns/replicas-one-zone"));
    }

    #[test]
    fn single_replica_and_per_pod_qps_ask_for_more_replicas() {
        let mut dns = healthy();
        dns.replicas = 1;
        dns.ready_replicas = 1;
        dns.pods.truncate(1);
        assert_eq!(
            get(&run(&dns), "dns/single-replica").fix,
            Some(FixKind::DnsScaleReplicas)
        );

        let mut busy = healthy();
        metrics(&mut busy).qps = 12_000.0;
        busy.pods[0].qps = Some(6_500.0);
        busy.pods[1].qps = Some(5_500.0);
        busy.nodelocal_dns = true;
        let found = run(&busy);
        let qps = get(&found, "dns/qps-per-pod");
        assert_eq!(qps.fix, Some(FixKind::DnsScaleReplicas));
        assert!(qps.summary.contains("go to 3 replicas"), "{}", qps.summary);
        busy.pods[0].qps = Some(4_900.0);
        busy.pods[1].qps = Some(4_900.0);
        assert!(!ids(&run(&busy)).contains(&"dns/qps-per-pod"));
    }

    #[test]
    fn unready_replicas_and_panics() {
        let mut dns = healthy();
        dns.ready_replicas = 1;
        assert_eq!(
            get(&run(&dns), "dns/replicas-not-ready").severity,
            Severity::Warning
        );
        dns.ready_replicas = 0;
        assert_eq!(
            get(&run(&dns), "dns/replicas-not-ready").severity,
            Severity::Critical
        );
        dns.ready_replicas = 2;
        metrics(&mut dns).panics_last_hour = 2;
        let found = run(&dns);
        let panics = get(&found, "dns/panics");
        assert_eq!(panics.severity, Severity::Critical);
        assert!(panics.summary.contains("2 times"));
    }

    #[test]
    fn short_lameduck_is_info_and_the_eks_default_has_it() {
        let mut dns = healthy();
        dns.corefile = Some(EKS_DEFAULT.into());
        let lameduck = get(&run(&dns), "dns/lameduck").clone();
        assert_eq!(lameduck.severity, Severity::Info);
        assert!(lameduck.summary.contains("5s"), "{}", lameduck.summary);
        assert_eq!(lameduck.fix, None);
    }

    #[test]
    fn big_clusters_without_nodelocal_get_advice() {
        let mut dns = healthy();
        metrics(&mut dns).qps = 6_000.0;
        dns.pods[0].qps = Some(3_000.0);
        dns.pods[1].qps = Some(3_000.0);
        let advice = get(&run(&dns), "dns/nodelocal").clone();
        assert_eq!(advice.severity, Severity::Info);
        assert_eq!(advice.fix, None);
        dns.nodelocal_dns = true;
        assert!(!ids(&run(&dns)).contains(&"dns/nodelocal"));

        let dns = healthy();
        let nodes = crate::domain::nodes::tests::fleet_of(120);
        let found = analyze(&dns, Some(&nodes), &Thresholds::default());
        assert!(
            get(&found, "dns/nodelocal")
                .summary
                .starts_with("120 nodes")
        );
    }

    #[test]
    fn an_unparseable_corefile_is_a_warning() {
        let mut dns = healthy();
        dns.corefile = Some(".:53 {\n  errors\n".into());
        let found = run(&dns);
        let broken = get(&found, "dns/corefile-unparseable");
        assert_eq!(broken.severity, Severity::Warning);
        assert_eq!(broken.object, coredns_configmap());
        assert!(
            broken.summary.contains("line 1, column 6"),
            "{}",
            broken.summary
        );
        assert!(!ids(&found).contains(&"dns/lameduck"));
    }
}
