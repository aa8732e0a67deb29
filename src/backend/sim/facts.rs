//! Tests of the simulator as a whole: determinism, and the raw facts each built-in scenario
//! must show (the analysis that turns facts into findings is tested elsewhere).

use std::time::Duration;

use super::engine::{SimCluster, scenario_t0};
use super::history::initial_updates;
use super::scenarios;
use crate::domain::Timestamp;
use crate::domain::model::*;

fn burst(name: &str, seed: u64, offset: Duration) -> Vec<Update> {
    let scenario = scenarios::load(name).unwrap_or_else(|e| panic!("{e}"));
    initial_updates(&scenario, seed, offset).1
}

/// The newest snapshot of each pane in a burst.
struct Latest {
    dns: DnsSnapshot,
    gateways: GatewaySnapshot,
    flows: FlowSnapshot,
    nodes: NodeSnapshot,
    workloads: WorkloadSnapshot,
}

fn latest(updates: &[Update]) -> Latest {
    let (mut dns, mut gateways, mut flows, mut nodes, mut workloads) =
        (None, None, None, None, None);
    for update in updates {
        match update {
            Update::Dns(s) => dns = Some(s.clone()),
            Update::Gateways(s) => gateways = Some(s.clone()),
            Update::Flows(s) => flows = Some(s.clone()),
            Update::Nodes(s) => nodes = Some(s.clone()),
            Update::Workloads(s) => workloads = Some(s.clone()),
            _ => {}
        }
    }
    match (dns, gateways, flows, nodes, workloads) {
        (Some(dns), Some(gateways), Some(flows), Some(nodes), Some(workloads)) => Latest {
            dns,
            gateways,
            flows,
            nodes,
            workloads,
        },
        _ => panic!("the burst lacks a pane"),
    }
}

fn at_t0(name: &str) -> Latest {
    latest(&burst(name, 7, Duration::ZERO))
}

fn p95(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((sorted.len() as f64) * 0.95).ceil() as usize;
    sorted.get(rank.saturating_sub(1)).copied().unwrap_or(0.0)
}

fn terminations(nodes: &NodeSnapshot, reason: &str) -> usize {
    nodes
        .churn
        .iter()
        .filter(|c| c.kind == ChurnKind::Terminated && c.reason == reason)
        .count()
}

fn monthly_cross_zone_usd(flows: &FlowSnapshot) -> f64 {
    // $0.01/GB in each direction.
    flows.cross_zone_bytes_per_sec().unwrap_or(0.0) * 30.4 * 86_400.0 / 1e9 * 0.02
}

/// The CoreDNS metric figures the simulator always provides.
fn metrics(dns: &crate::domain::DnsSnapshot) -> &crate::domain::DnsMetrics {
    dns.metrics
        .as_ref()
        .expect("the simulator reports CoreDNS metrics")
}

/// The usage figures the simulator always provides.
fn usage(w: &WorkloadUsage) -> &crate::domain::UsageStats {
    w.usage.as_ref().expect("the simulator reports usage")
}

#[test]
fn the_same_seed_gives_the_same_cluster() {
    let offset = Duration::from_secs(600);
    let first = burst("baseline", 42, offset);
    let second = burst("baseline", 42, offset);
    assert_eq!(first, second);
    let other = burst("baseline", 43, offset);
    assert_ne!(latest(&first).nodes, latest(&other).nodes);
    assert_ne!(first, other);
}

#[test]
fn the_burst_is_shaped_for_the_cockpit() {
    let updates = burst("baseline", 1, Duration::from_secs(95));
    assert!(
        matches!(updates.first(), Some(Update::Cluster(info)) if info.name == "sim-baseline"
        && info.source == "simulated" && info.detail == "scenario baseline, seed 1")
    );
    let dns_times: Vec<Timestamp> = updates
        .iter()
        .filter_map(|u| match u {
            Update::Dns(s) => Some(s.at),
            _ => None,
        })
        .collect();
    let t0 = scenario_t0();
    assert_eq!(
        dns_times.first(),
        Some(&(t0 - chrono::Duration::minutes(60)))
    );
    // 95 s past T0 is not a whole step: the burst ends at the last step before it.
    assert_eq!(
        dns_times.last(),
        Some(&(t0 + chrono::Duration::seconds(95)))
    );
    assert!(
        dns_times
            .windows(2)
            .all(|w| w[1] > w[0] && w[1] - w[0] <= chrono::Duration::seconds(10))
    );
    assert_eq!(dns_times.len(), 360 + 10 + 1);
    assert!(
        matches!(updates.last(), Some(Update::Clock { at }) if *at == t0 + chrono::Duration::seconds(95))
    );
}

#[test]
fn pacing_does_not_change_the_outcome() {
    let scenario = scenarios::load("spot-interruption").unwrap_or_else(|e| panic!("{e}"));
    let start = scenario_t0() - chrono::Duration::minutes(20);
    let mut steady = SimCluster::new(&scenario, 9, start);
    let mut bursty = SimCluster::new(&scenario, 9, start);
    steady.advance(180);
    for chunk in [1, 7, 50, 2, 120] {
        bursty.advance(chunk);
    }
    assert_eq!(steady.now(), bursty.now());
    assert_eq!(steady.updates(), bursty.updates());
}

#[test]
fn baseline_is_healthy() {
    for seed in [7, 1234] {
        let facts = latest(&burst("baseline", seed, Duration::ZERO));
        let dns = &facts.dns;
        assert!(
            metrics(dns).cache_hit_ratio > 0.85,
            "hit ratio {}",
            metrics(dns).cache_hit_ratio
        );
        assert!(
            (10.0..=25.0).contains(&metrics(dns).p99_ms),
            "p99 {}",
            metrics(dns).p99_ms
        );
        assert!(
            metrics(dns).nxdomain_ratio() < 0.2,
            "nxdomain {}",
            metrics(dns).nxdomain_ratio()
        );
        assert!(metrics(dns).servfail_ratio() < 0.001);
        assert_eq!(dns.ready_replicas, dns.replicas);
        assert!(
            dns.corefile
                .as_deref()
                .is_some_and(|c| c.contains("cache 30"))
        );
        assert!(
            dns.pods
                .iter()
                .all(|p| p.memory_mib.is_some_and(|m| m < 120.0))
        );

        for route in &facts.gateways.routes {
            for parent in &route.parents {
                assert!(
                    parent.accepted.as_ref().is_some_and(|c| c.is_true()),
                    "{}",
                    route.name
                );
                assert!(
                    parent.resolved_refs.as_ref().is_some_and(|c| c.is_true()),
                    "{}",
                    route.name
                );
            }
            assert!(
                route.backends.iter().all(|b| b.ready_endpoints > 0),
                "{}",
                route.name
            );
            assert!(
                route.error_5xx_ratio.unwrap_or(1.0) < 0.01,
                "{}",
                route.name
            );
        }

        let flows = &facts.flows;
        assert!(
            (0.05..0.3).contains(&flows.cross_zone_ratio()),
            "cross-zone {}",
            flows.cross_zone_ratio()
        );
        assert!(
            flows
                .services
                .iter()
                .any(|s| s.routing == ZoneRouting::TopologyAware && s.hints)
        );

        let nodes = &facts.nodes;
        assert!(
            (10..=30).contains(&nodes.nodes.len()),
            "{} nodes",
            nodes.nodes.len()
        );
        assert!(nodes.pending_pods.is_empty(), "{:?}", nodes.pending_pods);
        assert!(
            nodes.spot_share() >= 0.5,
            "spot share {}",
            nodes.spot_share()
        );
        let terminated = nodes
            .churn
            .iter()
            .filter(|c| c.kind == ChurnKind::Terminated)
            .count();
        assert!(terminated < 5, "{terminated} terminations in the hour");
        assert!(p95(&nodes.provisioning_seconds) <= 65.0);

        let workloads = &facts.workloads;
        assert_eq!(workloads.window, "7d");
        for w in &workloads.workloads {
            let cpu = usage(w).cpu_p95_m / w.cpu_request_m;
            let memory = usage(w).memory_p95_mib / w.memory_request_mib;
            assert!(
                (0.3..=1.0).contains(&cpu),
                "{}/{} cpu {cpu}",
                w.namespace,
                w.name
            );
            assert!(
                (0.5..=1.0).contains(&memory),
                "{}/{} memory {memory}",
                w.namespace,
                w.name
            );
            assert!(
                w.oom_kills_7d < 3 && usage(w).throttling_ratio < 0.1,
                "{}/{}",
                w.namespace,
                w.name
            );
        }
        assert!(workloads.namespaces.iter().any(|n| n.cost_center.is_some()));
        assert!(workloads.namespaces.iter().any(|n| n.cost_center.is_none()));
    }
}

#[test]
fn dns_storm_shows_search_path_expansion() {
    let dns = at_t0("dns-storm").dns;
    assert!(
        metrics(&dns).nxdomain_ratio() > 0.5,
        "nxdomain {}",
        metrics(&dns).nxdomain_ratio()
    );
    assert!(
        metrics(&dns).cache_hit_ratio < 0.5,
        "hit ratio {}",
        metrics(&dns).cache_hit_ratio
    );
    assert!(metrics(&dns).p99_ms > 100.0, "p99 {}", metrics(&dns).p99_ms);
    let top = metrics(&dns)
        .nxdomain_sources
        .first()
        .map(|c| (c.workload.as_str(), c.ndots));
    assert_eq!(top, Some(("feed-crawler", 5)));
}

#[test]
fn spot_interruption_churns_nodes_and_leaves_pods_waiting() {
    let nodes = at_t0("spot-interruption").nodes;
    assert!(
        terminations(&nodes, "SpotInterrupted") >= 10,
        "{:?}",
        nodes.churn
    );
    assert!(
        nodes
            .churn
            .iter()
            .any(|c| c.kind == ChurnKind::Launched && c.reason == "Provisioning")
    );
    assert!(!nodes.pending_pods.is_empty());
    assert!(
        p95(&nodes.provisioning_seconds) > 180.0,
        "{:?}",
        nodes.provisioning_seconds
    );
    assert!(nodes.blockers.iter().any(|b| b.kind == BlockerKind::Pdb));
    // The waves come back: the demo is still lively forty minutes later.
    let later = latest(&burst("spot-interruption", 7, Duration::from_secs(40 * 60))).nodes;
    let recent = later
        .churn
        .iter()
        .filter(|c| {
            c.reason == "SpotInterrupted" && c.at > scenario_t0() + chrono::Duration::minutes(15)
        })
        .count();
    assert!(recent >= 3, "{:?}", later.churn);
}

#[test]
fn broken_route_shows_both_failures() {
    let gateways = at_t0("broken-route").gateways;
    let reason = |route: &RouteStatus| {
        route.parents[0]
            .resolved_refs
            .as_ref()
            .map(|c| (c.status, c.reason.clone()))
    };
    let unpermitted = gateways
        .routes
        .iter()
        .find(|r| reason(r) == Some((ConditionStatus::False, "RefNotPermitted".to_string())));
    assert!(unpermitted.is_some_and(|r| r.backends[0].namespace != r.namespace));
    let canary = gateways.routes.iter().find(|r| {
        r.backends
            .iter()
            .any(|b| b.service_exists && b.ready_endpoints == 0)
    });
    let Some(canary) = canary else {
        panic!("no route with an empty backend");
    };
    assert!(
        canary.parents[0]
            .accepted
            .as_ref()
            .is_some_and(|c| c.is_true())
    );
    assert!(
        canary.parents[0]
            .resolved_refs
            .as_ref()
            .is_some_and(|c| c.is_true())
    );
    let total: u32 = canary.backends.iter().map(|b| b.weight).sum();
    let empty: u32 = canary
        .backends
        .iter()
        .filter(|b| b.ready_endpoints == 0)
        .map(|b| b.weight)
        .sum();
    let ratio = canary.error_5xx_ratio.unwrap_or(0.0);
    assert!(
        ratio >= f64::from(empty) / f64::from(total) * 0.95,
        "5xx {ratio}"
    );
}

#[test]
fn cross_zone_costs_real_money() {
    let flows = at_t0("cross-zone").flows;
    assert!(
        flows.cross_zone_ratio() >= 0.6,
        "{}",
        flows.cross_zone_ratio()
    );
    let monthly = monthly_cross_zone_usd(&flows);
    assert!((200.0..1000.0).contains(&monthly), "${monthly:.0} a month");
    assert!(flows.services.iter().all(|s| !s.hints));
}

#[test]
fn overprovisioned_namespace_requests_far_more_than_it_uses() {
    let workloads = at_t0("overprovisioned").workloads;
    let analytics: Vec<&WorkloadUsage> = workloads
        .workloads
        .iter()
        .filter(|w| w.namespace == "analytics")
        .collect();
    assert!(!analytics.is_empty());
    for w in analytics {
        let cpu = w.cpu_request_m / usage(w).cpu_p95_m;
        let memory = w.memory_request_mib / usage(w).memory_p95_mib;
        assert!((3.0..=5.0).contains(&cpu), "{} cpu {cpu}", w.name);
        assert!((3.0..=5.0).contains(&memory), "{} memory {memory}", w.name);
    }
}

fn baseline_with(change: impl FnOnce(&mut crate::domain::scenario::Scenario)) -> Latest {
    let mut scenario = scenarios::load("baseline").unwrap_or_else(|e| panic!("{e}"));
    change(&mut scenario);
    latest(&initial_updates(&scenario, 7, Duration::ZERO).1)
}

#[test]
fn a_memory_limit_below_use_means_oom_kills() {
    let facts = baseline_with(|s| {
        if let Some(w) = s.workloads.get_mut("search-indexer") {
            w.memory_limit_mib = Some(820.0);
        }
    });
    let indexer = facts
        .workloads
        .workloads
        .iter()
        .find(|w| w.name == "search-indexer")
        .map(|w| (w.oom_kills_7d, w.restarts_24h));
    assert!(
        matches!(indexer, Some((ooms, restarts)) if ooms >= 3 && restarts >= 1),
        "{indexer:?}"
    );
}

#[test]
fn coredns_without_a_spread_packs_onto_one_node() {
    let facts = baseline_with(|s| s.dns.spread = crate::domain::scenario::DnsSpread::None);
    let nodes: Vec<&str> = facts.dns.pods.iter().map(|p| p.node.as_str()).collect();
    assert_eq!(nodes.len(), 2);
    assert_eq!(nodes[0], nodes[1]);
    let spread = at_t0("baseline").dns;
    assert_ne!(spread.pods[0].zone, spread.pods[1].zone);
}

#[test]
fn a_tuned_cache_profile_lifts_the_hit_ratio() {
    let tuned = baseline_with(|s| {
        s.dns.corefile = s
            .dns
            .corefile
            .replace(
                "fallthrough in-addr.arpa ip6.arpa",
                "fallthrough in-addr.arpa ip6.arpa\n        ttl 30",
            )
            .replace(
                "cache 30",
                "cache 30 {\n        success 10000 30\n        denial 2000 10\n        prefetch 5 60s\n    }",
            );
    });
    let default = at_t0("baseline").dns;
    assert!(
        metrics(&tuned.dns).cache_hit_ratio > metrics(&default).cache_hit_ratio + 0.02,
        "{} vs {}",
        metrics(&tuned.dns).cache_hit_ratio,
        metrics(&default).cache_hit_ratio
    );
}
