//! Fixture objects (real API shapes, tests/fixtures/fixes/) and snapshot rows for the fix
//! tests, and the check every fix must pass: apply, then undo, gives the object back.

use serde_json::Value;

use super::apply::apply_to;
use super::plan::{
    Confirmation, FixPlan, Inverse, Operation, PatchType, Precondition, Risk, Target, Verification,
    VerifyCondition,
};
use super::session::{DryRun, Permission, PreparedFix};
use crate::domain::finding::{Finding, FixKind, Severity};
use crate::domain::model::*;
use crate::domain::time::Timestamp;

pub const COREDNS_CONFIGMAP: &str =
    include_str!("../../../tests/fixtures/fixes/coredns-configmap.json");
pub const COREDNS_DEPLOYMENT: &str =
    include_str!("../../../tests/fixtures/fixes/coredns-deployment.json");
pub const CHECKOUT_DEPLOYMENT: &str =
    include_str!("../../../tests/fixtures/fixes/checkout-deployment.json");
pub const HTTPROUTE_CANARY: &str =
    include_str!("../../../tests/fixtures/fixes/httproute-canary.json");
pub const HTTPROUTE_CROSS_NAMESPACE: &str =
    include_str!("../../../tests/fixtures/fixes/httproute-cross-namespace.json");
pub const SERVICE_PAYMENTS: &str =
    include_str!("../../../tests/fixtures/fixes/service-payments.json");
pub const NODEPOOL_GENERAL: &str =
    include_str!("../../../tests/fixtures/fixes/nodepool-general.json");
pub const NAMESPACE_SEARCH: &str =
    include_str!("../../../tests/fixtures/fixes/namespace-search.json");

pub fn load(text: &str) -> Value {
    serde_json::from_str(text).expect("fixtures are JSON")
}

pub fn at() -> Timestamp {
    chrono::DateTime::from_timestamp(1_790_000_000, 0).expect("a valid instant")
}

/// A finding about `object` offering `fix`, as the analysis would make it.
pub fn finding(fix: FixKind, object: ObjectRef) -> Finding {
    Finding {
        id: format!("test/{}", object.name),
        pane: Pane::Dns,
        severity: Severity::Warning,
        summary: String::new(),
        evidence: Vec::new(),
        object,
        fix: Some(fix),
        impact: Default::default(),
        members: Vec::new(),
    }
}

/// Applies the plan, then its undo with the resourceVersion the apply "returned", and checks
/// the object comes back exactly. Returns the object as it was after the fix.
pub fn assert_undo_restores(plan: &FixPlan, object: &Value) -> Value {
    let before = match plan.operation {
        Operation::Create { .. } => Value::Null,
        _ => object.clone(),
    };
    let after = apply_to(&before, &plan.operation).expect("the fix applies");
    assert_ne!(after, before, "the fix changes something");
    let rv = after
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .unwrap_or("1")
        .to_string();
    let undo = plan.undo_operation(&rv).expect("the plan has an undo");
    let restored = apply_to(&after, &undo).expect("the undo applies");
    assert_eq!(restored, before, "undo restores the prior fields exactly");
    after
}

pub fn dns_snapshot() -> DnsSnapshot {
    let pod = |name: &str, node: &str, zone: &str, memory: f64| DnsPod {
        name: name.into(),
        node: node.into(),
        zone: zone.into(),
        qps: Some(6000.0),
        memory_mib: Some(memory),
        cpu_millicores: Some(300.0),
        ip: None,
    };
    DnsSnapshot {
        at: at(),
        replicas: 2,
        ready_replicas: 2,
        memory_limit_mib: Some(170.0),
        pods: vec![
            pod("coredns-a", "ip-10-0-1-10", "us-east-1a", 150.0),
            pod("coredns-b", "ip-10-0-1-10", "us-east-1a", 120.0),
        ],
        corefile: Some(
            load(COREDNS_CONFIGMAP)["data"]["Corefile"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        ),
        nodelocal_dns: false,
        metrics: Some(DnsMetrics {
            qps: 12_000.0,
            p50_ms: 2.0,
            p99_ms: 140.0,
            cache_hit_ratio: 0.42,
            rcodes: vec![RcodeRate {
                rcode: "NOERROR".into(),
                qps: 12_000.0,
            }],
            upstream_p99_ms: None,
            upstream_qps: None,
            nxdomain_sources: vec![DnsClient {
                namespace: "shop".into(),
                workload: "checkout".into(),
                qps: 4000.0,
                nxdomain_ratio: 0.8,
                ndots: 5,
            }],
            panics_last_hour: 0,
        }),
    }
}

pub fn backend(name: &str, namespace: &str, weight: u32, ready: u32) -> BackendRef {
    BackendRef {
        namespace: namespace.into(),
        name: name.into(),
        port: Some(8080),
        weight,
        service_exists: true,
        ready_endpoints: ready,
        total_endpoints: ready.max(2),
    }
}

pub fn route(name: &str, backends: Vec<BackendRef>) -> RouteStatus {
    RouteStatus {
        namespace: "shop".into(),
        name: name.into(),
        kind: RouteKind::Http,
        hostnames: Vec::new(),
        parents: Vec::new(),
        backends,
        generation: 6,
        observed_generation: Some(6),
        requests_per_sec: Some(200.0),
        error_5xx_ratio: Some(0.09),
    }
}

pub fn service(counts: &[(&str, u32)]) -> ServiceTopology {
    ServiceTopology {
        namespace: "payments".into(),
        name: "payments-api".into(),
        routing: ZoneRouting::Default,
        ready_endpoints_by_zone: counts
            .iter()
            .map(|(zone, count)| ZoneCount {
                zone: zone.to_string(),
                count: *count,
            })
            .collect(),
        hints: false,
    }
}

pub fn workload_row(container: &str) -> WorkloadUsage {
    WorkloadUsage {
        namespace: "shop".into(),
        name: "checkout".into(),
        kind: "Deployment".into(),
        container: container.into(),
        replicas: 4,
        cpu_request_m: 1000.0,
        cpu_limit_m: Some(2000.0),
        memory_request_mib: 2048.0,
        memory_limit_mib: Some(4096.0),
        oom_kills_7d: 0,
        restarts_24h: 0,
        vpa: None,
        hpa_on_cpu: false,
        usage: Some(UsageStats {
            cpu_p95_m: 300.0,
            memory_p95_mib: 600.0,
            memory_p99_mib: 700.0,
            throttling_ratio: 0.3,
            history_days: 14.0,
        }),
    }
}

/// A prepared topology-aware-routing fix on Service shop/`name` at `risk`, dry run passed and
/// permitted: for the tests of what happens around a plan (batches, the fix flow).
pub fn prepared_service_fix(name: &str, risk: Risk) -> PreparedFix {
    let kind = FixKind::FlowsTopologyAwareRouting;
    let plan = FixPlan {
        id: format!("flows/topology-aware-routing/shop/{name}#{}", kind.slug()),
        kind,
        target: Target {
            api_version: "v1".into(),
            kind: "Service".into(),
            namespace: Some("shop".into()),
            name: name.into(),
            resource: "services".into(),
            subresource: None,
        },
        operation: Operation::Patch {
            patch_type: PatchType::Merge,
            body: serde_json::json!({"spec": {"trafficDistribution": "PreferClose"}}),
        },
        precondition: Precondition::ResourceVersion("7".into()),
        inverse: Some(Inverse {
            operation: Operation::Patch {
                patch_type: PatchType::Merge,
                body: serde_json::json!({"spec": {"trafficDistribution": null}}),
            },
            precondition: Precondition::ResourceVersionFromApply,
        }),
        diff: Vec::new(),
        risk,
        confirmation: Confirmation::for_risk(risk, name),
        blast_radius: String::new(),
        warnings: Vec::new(),
        refusal: None,
        verify: Verification {
            condition: VerifyCondition::ZoneHintsPresent {
                namespace: "shop".into(),
                name: name.into(),
                cross_zone_before: None,
            },
            within: std::time::Duration::from_secs(60),
            before: Vec::new(),
        },
    };
    PreparedFix {
        finding_id: format!("flows/topology-aware-routing/shop/{name}"),
        plan,
        dry_run: DryRun::Passed,
        permission: Permission::Allowed,
        writes_allowed: true,
        replanned: None,
    }
}
