//! Projection and assembly on the YAML fixtures in tests/fixtures/: objects in their real
//! shapes go through the same projection functions as watched objects, into the store, and
//! out as pane snapshots.

use serde_json::Value;

use super::manifest;
use crate::domain::assemble::{self, ClusterObjects, ObjectKey, ObjectKind, Projection};
use crate::domain::gateways::route_reason;
use crate::domain::model::*;
use crate::domain::time::Timestamp;

const CORE: &str = include_str!("../../../tests/fixtures/live-core.yaml");
const GATEWAY_API: &str = include_str!("../../../tests/fixtures/live-gateway-api.yaml");
const KARPENTER: &str = include_str!("../../../tests/fixtures/live-karpenter.yaml");

fn at(text: &str) -> Timestamp {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&chrono::Utc))
        .unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// The fixtures' "now": an hour after the scenario's start.
fn now() -> Timestamp {
    at("2026-03-02T10:00:00Z")
}

/// Projects one listed object the way its watcher does.
fn projection(item: &Value) -> Option<Projection> {
    match manifest::project(item) {
        manifest::Projected::Kept(projection) => Some(*projection),
        manifest::Projected::Skipped(why) => {
            assert!(why.contains("not about"), "{why}: {item}");
            None
        }
    }
}

fn load(objects: &mut ClusterObjects, yaml: &str) {
    let list: Value = serde_saphyr::from_str(yaml).unwrap_or_else(|e| panic!("fixture: {e}"));
    let items = list["items"].as_array().cloned().unwrap_or_default();
    assert!(!items.is_empty());
    for item in &items {
        if let Some(projection) = projection(item) {
            objects.upsert(projection);
        }
    }
}

fn cluster() -> ClusterObjects {
    let mut objects = ClusterObjects::default();
    for yaml in [CORE, GATEWAY_API, KARPENTER] {
        load(&mut objects, yaml);
    }
    objects
}

#[test]
fn projections_keep_the_fields_the_panes_read() {
    let objects = cluster();
    let pod = objects
        .pods
        .listed_pod(&ObjectKey::new("shop", "frontend-7d9f6c5b8-x2x9k"))
        .expect("the OOM-killed frontend pod is listed");
    assert_eq!(pod.ndots, Some(2));
    assert!(pod.do_not_disrupt);
    assert_eq!(pod.containers[0].restarts, 3);
    assert_eq!(
        pod.containers[0].last_termination_reason.as_deref(),
        Some("OOMKilled")
    );
    assert_eq!(pod.containers[0].resources.cpu_limit_m, Some(1000.0));
    assert_eq!(pod.containers[0].resources.memory_request_mib, Some(512.0));
    assert_eq!(
        objects.pod_workload(pod).map(|o| (o.kind, o.name)),
        Some(("Deployment".to_string(), "frontend".to_string()))
    );
    let pending = objects
        .pods
        .listed_pod(&ObjectKey::new("shop", "frontend-7d9f6c5b8-p8l2m"))
        .expect("the pending frontend pod is listed");
    assert_eq!(pending.pending_since, Some(at("2026-03-02T09:55:01Z")));
    let node = &objects.nodes[&ObjectKey::cluster("ip-192-168-40-7.ec2.internal")];
    assert_eq!(
        node.capacity,
        Some(Capacity::OnDemand),
        "from the EKS label"
    );
    assert!(node.disrupting, "karpenter.sh/disrupted taint");
    assert!((node.memory_allocatable_mib - 7120.69).abs() < 0.01);
    // Only Karpenter's and nodes' events are kept.
    assert_eq!(objects.events.len(), 2);
    let claim = &objects.nodeclaims[&ObjectKey::cluster("general-old77")];
    assert_eq!(claim.disruption_reason.as_deref(), Some("Drifted"));
    assert!(claim.deleting_since.is_some());
    let vpa = &objects.vpas[&ObjectKey::new("shop", "frontend")];
    assert_eq!(vpa.update_mode, "Off");
    assert_eq!(vpa.containers[0].memory_target_mib, Some(420.0));
}

#[test]
fn dns_pane_from_coredns_objects() {
    let dns = assemble::dns(&cluster(), now());
    assert_eq!((dns.replicas, dns.ready_replicas), (2, 2));
    assert_eq!(dns.memory_limit_mib, Some(170.0));
    assert_eq!(dns.pods.len(), 2);
    assert!(
        dns.pods
            .iter()
            .all(|p| p.zone == "us-east-1b" && p.qps.is_none())
    );
    assert!(
        dns.corefile
            .as_deref()
            .is_some_and(|c| c.contains("lameduck 5s"))
    );
    assert!(dns.nodelocal_dns);
    assert_eq!(dns.metrics, None);
}

fn route<'a>(snapshot: &'a GatewaySnapshot, name: &str) -> &'a RouteStatus {
    snapshot
        .routes
        .iter()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("route {name}"))
}

#[test]
fn gateways_pane_decodes_every_route_condition() {
    let snapshot = assemble::gateways(&cluster(), now());
    let gateway = &snapshot.gateways[0];
    assert_eq!(gateway.class, "aws-alb");
    assert_eq!(gateway.attached_routes, 3);
    assert!(
        gateway
            .address
            .as_deref()
            .is_some_and(|a| a.contains("elb"))
    );
    assert!(gateway.programmed.as_ref().is_some_and(Condition::is_true));
    for (name, expected) in [
        ("search-suggest", "RefNotPermitted"),
        ("blog", "NotAllowedByListeners"),
        ("legacy-host", "NoMatchingListenerHostname"),
        ("admin", "NoMatchingParent"),
        ("reviews", "BackendNotFound"),
        ("assets", "InvalidKind"),
    ] {
        let reason = route_reason(route(&snapshot, name));
        assert!(reason.contains(expected), "{name}: {reason}");
    }
    let storefront = route(&snapshot, "storefront");
    assert_eq!(storefront.backends.len(), 2);
    let frontend = &storefront.backends[0];
    assert!(frontend.service_exists);
    assert_eq!((frontend.ready_endpoints, frontend.total_endpoints), (2, 3));
    let canary = &storefront.backends[1];
    assert_eq!((canary.weight, canary.ready_endpoints), (10, 0));
    assert!(route_reason(storefront).contains("frontend-v2"));
    let reviews = route(&snapshot, "reviews");
    assert!(!reviews.backends[0].service_exists);
    assert_eq!(
        (reviews.generation, reviews.observed_generation),
        (5, Some(4))
    );
    // A mesh route no controller has reported on yet still lists its Service parent.
    let grpc = route(&snapshot, "payments-grpc");
    assert_eq!(grpc.kind, RouteKind::Grpc);
    assert_eq!(grpc.parents[0].kind, "Service");
    assert_eq!(grpc.parents[0].namespace, "payments");
    assert!(grpc.parents[0].accepted.is_none());
}

#[test]
fn flows_pane_counts_ready_endpoints_per_zone_without_edges() {
    let flows = assemble::flows(&cluster(), now());
    assert_eq!(flows.zones, ["us-east-1a", "us-east-1b", "us-east-1c"]);
    assert!(flows.edges.is_empty());
    let service = |name: &str| {
        flows
            .services
            .iter()
            .find(|s| s.name == name)
            .unwrap_or_else(|| panic!("{name}"))
    };
    let counts = |name: &str| -> Vec<u32> {
        service(name)
            .ready_endpoints_by_zone
            .iter()
            .map(|z| z.count)
            .collect()
    };
    assert_eq!(counts("frontend"), [1, 1, 0]);
    assert_eq!(service("frontend").routing, ZoneRouting::Default);
    // The zone-less endpoint is placed through its node.
    assert_eq!(counts("search-api"), [1, 1, 0]);
    assert_eq!(service("search-api").routing, ZoneRouting::TopologyAware);
    assert!(service("search-api").hints);
    assert_eq!(service("payments-api").routing, ZoneRouting::PreferClose);
    assert!(flows.services.iter().all(|s| s.name != "redis-headless"));
}

#[test]
fn nodes_pane_shows_churn_latency_pending_and_blockers() {
    let nodes = assemble::nodes(&cluster(), now());
    assert_eq!(nodes.nodes.len(), 3);
    let spot = nodes
        .nodes
        .iter()
        .find(|n| n.name == "ip-192-168-10-5.ec2.internal")
        .expect("node");
    assert_eq!(spot.capacity, Capacity::Spot);
    assert_eq!(spot.nodepool.as_deref(), Some("general"));
    // The Succeeded pod no longer counts against its node.
    assert_eq!(spot.cpu_requested_m, 550.0);
    assert_eq!(spot.pods, 1);
    let general = nodes
        .nodepools
        .iter()
        .find(|p| p.name == "general")
        .expect("pool");
    assert_eq!(general.cpu_limit, Some(1000.0));
    assert_eq!(general.cpu_provisioned, 6.0);
    assert_eq!(general.weight, Some(50));
    assert_eq!(general.budgets.len(), 2);
    assert_eq!(general.capacity_types, [Capacity::Spot, Capacity::OnDemand]);
    let batch = nodes
        .nodepools
        .iter()
        .find(|p| p.name == "batch")
        .expect("pool");
    assert_eq!(batch.cpu_limit, Some(64.0), "a number, not a string");
    let churn: Vec<(ChurnKind, &str, &str)> = nodes
        .churn
        .iter()
        .map(|c| (c.kind, c.node.as_str(), c.reason.as_str()))
        .collect();
    assert_eq!(
        churn,
        [
            (
                ChurnKind::Launched,
                "ip-192-168-10-5.ec2.internal",
                "Provisioning"
            ),
            (
                ChurnKind::Terminated,
                "ip-192-168-88-1.ec2.internal",
                "Underutilized"
            ),
            (
                ChurnKind::Terminated,
                "ip-192-168-70-9.ec2.internal",
                "Drifted"
            ),
            (
                ChurnKind::Terminated,
                "general-spot-7xk2q",
                "SpotInterrupted"
            ),
            (ChurnKind::Launched, "batch-new01", "Provisioning"),
        ]
    );
    assert_eq!(nodes.provisioning_seconds, [60.0]);
    assert_eq!(nodes.pending_pods.len(), 1);
    assert!(
        nodes.pending_pods[0]
            .reason
            .starts_with("Unschedulable: 0/3 nodes")
    );
    let blockers: Vec<(BlockerKind, &str)> = nodes
        .blockers
        .iter()
        .map(|b| (b.kind, b.name.as_str()))
        .collect();
    assert_eq!(
        blockers,
        [
            (BlockerKind::Pdb, "frontend-pdb"),
            (BlockerKind::DoNotDisrupt, "frontend-7d9f6c5b8-x2x9k")
        ]
    );
    assert!(
        nodes.blockers[0]
            .detail
            .starts_with("minAvailable 3: 0 disruptions")
    );
}

#[test]
fn workloads_pane_lists_requests_vpa_hpa_and_oom_kills() {
    let snapshot = assemble::workloads(&cluster(), now());
    let row = |name: &str, container: &str| {
        snapshot
            .workloads
            .iter()
            .find(|w| w.name == name && w.container == container)
            .unwrap_or_else(|| panic!("{name}/{container}"))
    };
    let web = row("frontend", "web");
    assert_eq!((web.kind.as_str(), web.replicas), ("Deployment", 3));
    assert_eq!((web.cpu_request_m, web.cpu_limit_m), (500.0, Some(1000.0)));
    assert_eq!(web.memory_limit_mib, Some(1024.0));
    assert_eq!((web.oom_kills_7d, web.restarts_24h), (1, 3));
    assert!(web.hpa_on_cpu);
    assert_eq!(
        web.vpa,
        Some(VpaAdvice {
            update_mode: "Off".into(),
            cpu_target_m: 250.0,
            memory_target_mib: 420.0
        })
    );
    assert!(web.usage.is_none());
    assert!(row("frontend", "envoy").vpa.is_none());
    let redis = row("redis", "redis");
    assert_eq!(redis.kind, "StatefulSet");
    assert!(!redis.hpa_on_cpu, "scales on memory");
    assert_eq!(row("node-local-dns", "node-cache").replicas, 3);
    let shop = snapshot
        .namespaces
        .iter()
        .find(|n| n.name == "shop")
        .expect("namespace");
    assert_eq!(shop.cost_center.as_deref(), Some("cc-2100"));
    assert_eq!(shop.team.as_deref(), Some("storefront"));
}

#[test]
fn a_relist_replaces_the_kind_and_deleted_claims_stay_in_the_churn() {
    let mut objects = cluster();
    let later = at("2026-03-02T10:00:30Z");
    let kept: Vec<Projection> = objects
        .nodeclaims
        .values()
        .filter(|c| c.name != "batch-new01")
        .cloned()
        .map(Projection::NodeClaim)
        .collect();
    objects.replace(ObjectKind::NodeClaim, kept, later);
    assert!(
        !objects
            .nodeclaims
            .contains_key(&ObjectKey::cluster("batch-new01"))
    );
    let churn = assemble::nodes(&objects, later).churn;
    assert!(
        churn
            .iter()
            .any(|c| c.node == "batch-new01" && c.kind == ChurnKind::Terminated && c.at == later)
    );
}
