//! Firing Prometheus alerts (the `ALERTS` series) and where they belong: each alert is
//! matched by its namespace/service/pod/node labels to an object the cockpit shows, and
//! becomes a finding on that object's pane, so it appears in the pane, beside the object,
//! and in the overview.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::finding::{Evidence, Finding, Severity};
use super::model::{
    DnsSnapshot, FlowSnapshot, GatewaySnapshot, NodeSnapshot, ObjectRef, Pane, WorkloadSnapshot,
};
use super::time::{Timestamp, format_duration};

/// Alert findings' ids start with this, so a pane's own analysis can be told apart.
pub const FINDING_PREFIX: &str = "alerts/";

/// Every alert firing at one instant. Each `Update::Alerts` replaces the previous set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertSnapshot {
    pub at: Timestamp,
    pub alerts: Vec<Alert>,
}

/// One firing alert, as `ALERTS{alertstate="firing"}` and the rule's annotations give it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// The `alertname` label.
    pub name: String,
    /// The `severity` label as the rule sets it ("critical", "warning", "info"…).
    pub severity: String,
    /// All other labels (namespace, service, pod, node, job…).
    pub labels: BTreeMap<String, String>,
    pub active_since: Timestamp,
    /// The rule's `summary` (or `description`) annotation, when known.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub summary: String,
}

impl Alert {
    fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// The finding severity for the rule's severity label; unknown labels count as info.
    pub fn finding_severity(&self) -> Severity {
        match self.severity.trim().to_ascii_lowercase().as_str() {
            "critical" | "page" | "error" => Severity::Critical,
            "warning" | "warn" => Severity::Warning,
            _ => Severity::Info,
        }
    }

    /// A key that stays the same while the alert keeps firing.
    pub fn key(&self) -> String {
        let labels: Vec<String> = self
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        format!("{}/{}", self.name, labels.join(","))
    }
}

/// What the cockpit currently knows, for matching alerts to objects.
#[derive(Debug, Clone, Copy, Default)]
pub struct AlertContext<'a> {
    pub dns: Option<&'a DnsSnapshot>,
    pub gateways: Option<&'a GatewaySnapshot>,
    pub flows: Option<&'a FlowSnapshot>,
    pub nodes: Option<&'a NodeSnapshot>,
    pub workloads: Option<&'a WorkloadSnapshot>,
}

/// Where an alert belongs: the object it names and the pane that shows that object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub pane: Pane,
    pub object: ObjectRef,
    /// False when the labels name an object the cockpit does not show (yet); the alert is
    /// then placed by the kind of label alone.
    pub matched: bool,
}

/// Matches an alert to an object, the most specific label first: pod, node, service,
/// namespace. An alert with none of those is about the cluster and goes to the Nodes pane,
/// where cluster-wide capacity lives.
pub fn place(alert: &Alert, context: &AlertContext) -> Placement {
    let namespace = alert.label("namespace");
    if let Some(pod) = alert.label("pod") {
        return place_pod(pod, namespace, context);
    }
    if let Some(node) = alert.label("node").or_else(|| alert.label("instance_node")) {
        let matched = context
            .nodes
            .is_some_and(|n| n.nodes.iter().any(|info| info.name == node));
        return Placement {
            pane: Pane::Nodes,
            object: ObjectRef::cluster_scoped("Node", node),
            matched,
        };
    }
    if let Some(service) = alert.label("service") {
        return place_service(service, namespace, context);
    }
    if let Some(namespace) = namespace {
        let matched = context.workloads.is_some_and(|w| {
            w.namespaces.iter().any(|n| n.name == namespace)
                || w.workloads.iter().any(|u| u.namespace == namespace)
        });
        return Placement {
            pane: Pane::Rightsizing,
            object: ObjectRef::cluster_scoped("Namespace", namespace),
            matched,
        };
    }
    Placement {
        pane: Pane::Nodes,
        object: ObjectRef::cluster_scoped("Cluster", "cluster"),
        matched: false,
    }
}

fn place_pod(pod: &str, namespace: Option<&str>, context: &AlertContext) -> Placement {
    let namespace_or = |fallback: &str| namespace.unwrap_or(fallback).to_string();
    if let Some(dns) = context.dns
        && dns.pods.iter().any(|p| p.name == pod)
    {
        return Placement {
            pane: Pane::Dns,
            object: ObjectRef::namespaced("Pod", &namespace_or("kube-system"), pod),
            matched: true,
        };
    }
    // Pods are named after their workload (`checkout-7d9f8-abcde`): the longest workload
    // name in the namespace that prefixes the pod name owns it.
    if let (Some(workloads), Some(namespace)) = (context.workloads, namespace) {
        let owner = workloads
            .workloads
            .iter()
            .filter(|w| w.namespace == namespace && owns_pod(&w.name, pod))
            .max_by_key(|w| w.name.len());
        if let Some(owner) = owner {
            return Placement {
                pane: Pane::Rightsizing,
                object: ObjectRef::namespaced(&owner.kind, namespace, &owner.name),
                matched: true,
            };
        }
    }
    if let (Some(nodes), Some(namespace)) = (context.nodes, namespace)
        && nodes
            .pending_pods
            .iter()
            .any(|p| p.namespace == namespace && p.name == pod)
    {
        return Placement {
            pane: Pane::Nodes,
            object: ObjectRef::namespaced("Pod", namespace, pod),
            matched: true,
        };
    }
    Placement {
        pane: Pane::Rightsizing,
        object: ObjectRef::namespaced("Pod", &namespace_or("default"), pod),
        matched: false,
    }
}

fn owns_pod(workload: &str, pod: &str) -> bool {
    pod.strip_prefix(workload)
        .is_some_and(|rest| rest.starts_with('-'))
}

fn place_service(service: &str, namespace: Option<&str>, context: &AlertContext) -> Placement {
    // CoreDNS's own Service is `kube-dns`: its alerts are DNS trouble, though East-West
    // also lists the Service among its flows.
    if service == "kube-dns" && namespace.is_none_or(|ns| ns == "kube-system") {
        return Placement {
            pane: Pane::Dns,
            object: ObjectRef::namespaced("Service", "kube-system", service),
            matched: context.dns.is_some(),
        };
    }
    let same_namespace = |ns: &str| namespace.is_none_or(|wanted| wanted == ns);
    let object_namespace = |found: &str| namespace.unwrap_or(found).to_string();
    if let Some(gateways) = context.gateways {
        let backend = gateways
            .routes
            .iter()
            .flat_map(|r| r.backends.iter())
            .find(|b| b.name == service && same_namespace(&b.namespace));
        if let Some(backend) = backend {
            return Placement {
                pane: Pane::Gateways,
                object: ObjectRef::namespaced(
                    "Service",
                    &object_namespace(&backend.namespace),
                    service,
                ),
                matched: true,
            };
        }
    }
    if let Some(flows) = context.flows {
        let found = flows
            .services
            .iter()
            .find(|s| s.name == service && same_namespace(&s.namespace))
            .map(|s| s.namespace.clone())
            .or_else(|| {
                flows
                    .edges
                    .iter()
                    .find(|e| {
                        e.destination_service == service && same_namespace(&e.destination_namespace)
                    })
                    .map(|e| e.destination_namespace.clone())
            });
        if let Some(found) = found {
            return Placement {
                pane: Pane::Flows,
                object: ObjectRef::namespaced("Service", &object_namespace(&found), service),
                matched: true,
            };
        }
    }
    Placement {
        pane: Pane::Flows,
        object: ObjectRef::namespaced("Service", namespace.unwrap_or("default"), service),
        matched: false,
    }
}

/// One finding per firing alert, on the pane of the object it concerns.
pub fn findings(snapshot: &AlertSnapshot, context: &AlertContext) -> Vec<Finding> {
    snapshot
        .alerts
        .iter()
        .map(|alert| {
            let placement = place(alert, context);
            let firing_for = (snapshot.at - alert.active_since)
                .to_std()
                .unwrap_or_default();
            let mut summary = format!(
                "Alert {} firing for {} on {}",
                alert.name,
                format_duration(firing_for),
                placement.object
            );
            if !alert.summary.is_empty() {
                summary.push_str(": ");
                summary.push_str(&alert.summary);
            }
            let mut evidence = vec![
                Evidence::new("severity", alert.severity.clone(), ""),
                Evidence::new(
                    "active since",
                    alert.active_since.format("%H:%M:%S UTC").to_string(),
                    "",
                ),
            ];
            evidence.extend(
                alert
                    .labels
                    .iter()
                    .map(|(k, v)| Evidence::new(k, v.clone(), "label")),
            );
            Finding {
                id: format!("{FINDING_PREFIX}{}", alert.key()),
                pane: placement.pane,
                severity: alert.finding_severity(),
                summary,
                evidence,
                object: placement.object,
                fix: None,
                impact: Default::default(),
                members: Vec::new(),
            }
        })
        .collect()
}

/// The alerts whose placement is `object`: what a pane shows beside that object's row.
pub fn alerts_on<'a>(
    snapshot: &'a AlertSnapshot,
    context: &AlertContext,
    object: &ObjectRef,
) -> Vec<&'a Alert> {
    snapshot
        .alerts
        .iter()
        .filter(|alert| place(alert, context).object == *object)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::model::*;
    use chrono::{TimeZone, Utc};

    fn at(seconds: i64) -> Timestamp {
        Utc.timestamp_opt(1_700_000_000 + seconds, 0)
            .single()
            .unwrap_or_default()
    }

    fn alert(name: &str, severity: &str, labels: &[(&str, &str)]) -> Alert {
        Alert {
            name: name.to_string(),
            severity: severity.to_string(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            active_since: at(0),
            summary: String::new(),
        }
    }

    /// A small cluster: one CoreDNS pod, one node, a route to `checkout`, a flow to
    /// `payments`, and a `web` Deployment in `shop`.
    struct Fixture {
        dns: DnsSnapshot,
        gateways: GatewaySnapshot,
        flows: FlowSnapshot,
        nodes: NodeSnapshot,
        workloads: WorkloadSnapshot,
    }

    fn fixture() -> Fixture {
        let json = serde_json::json!({
            "dns": {
                "at": at(600), "metrics": null, "replicas": 1, "ready_replicas": 1,
                "memory_limit_mib": null,
                "pods": [{"name": "coredns-5d78c9869d-abcde", "node": "ip-10-0-1-1", "zone": "eu-west-1a",
                          "qps": 100.0, "memory_mib": 30.0, "cpu_millicores": 10.0}],
                "corefile": null, "nodelocal_dns": false
            },
            "gateways": {
                "at": at(600), "gateways": [],
                "routes": [{"namespace": "shop", "name": "checkout", "kind": "HTTPRoute", "hostnames": [],
                    "parents": [], "generation": 1, "observed_generation": 1,
                    "requests_per_sec": null, "error_5xx_ratio": null,
                    "backends": [{"namespace": "shop", "name": "checkout", "port": 80, "weight": 1,
                        "service_exists": true, "ready_endpoints": 2, "total_endpoints": 2}]}]
            },
            "flows": {
                "at": at(600), "zones": ["eu-west-1a"],
                "edges": [{"source_namespace": "shop", "source_workload": "web",
                    "destination_namespace": "pay", "destination_service": "payments",
                    "bytes_per_sec": 10.0, "cross_zone_bytes_per_sec": 0.0, "drops_per_sec": 0.0}],
                "services": []
            },
            "nodes": {
                "at": at(600), "nodepools": [], "churn": [], "pending_pods": [],
                "provisioning_seconds": [], "blockers": [],
                "nodes": [{"name": "ip-10-0-1-1", "nodepool": "default", "instance_type": "m6i.large",
                    "capacity": "spot", "zone": "eu-west-1a", "created": at(0), "ready": true,
                    "disrupting": false, "cpu_allocatable_m": 1900.0, "cpu_requested_m": 100.0,
                    "memory_allocatable_mib": 7000.0, "memory_requested_mib": 100.0, "pods": 3}]
            },
            "workloads": {
                "at": at(600), "window": "7d", "namespaces": [{"name": "shop", "cost_center": null,
                    "team": null, "environment": null}],
                "workloads": [{"namespace": "shop", "name": "web", "kind": "Deployment",
                    "container": "web", "replicas": 2, "cpu_request_m": 500.0, "cpu_limit_m": null,
                    "memory_request_mib": 512.0, "memory_limit_mib": null,
                    "oom_kills_7d": 0, "restarts_24h": 0, "vpa": null, "hpa_on_cpu": false,
                    "usage": null}]
            }
        });
        fn part<T: serde::de::DeserializeOwned>(json: &serde_json::Value, name: &str) -> T {
            let value = json.get(name).cloned().unwrap_or_default();
            serde_json::from_value(value).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
        }
        Fixture {
            dns: part(&json, "dns"),
            gateways: part(&json, "gateways"),
            flows: part(&json, "flows"),
            nodes: part(&json, "nodes"),
            workloads: part(&json, "workloads"),
        }
    }

    fn context(f: &Fixture) -> AlertContext<'_> {
        AlertContext {
            dns: Some(&f.dns),
            gateways: Some(&f.gateways),
            flows: Some(&f.flows),
            nodes: Some(&f.nodes),
            workloads: Some(&f.workloads),
        }
    }

    #[test]
    fn pod_labels_match_coredns_pods_and_workloads() {
        let f = fixture();
        let ctx = context(&f);
        let dns = place(
            &alert(
                "CoreDNSDown",
                "critical",
                &[
                    ("namespace", "kube-system"),
                    ("pod", "coredns-5d78c9869d-abcde"),
                ],
            ),
            &ctx,
        );
        assert_eq!(dns.pane, Pane::Dns);
        assert!(dns.matched);
        let web = place(
            &alert(
                "KubePodCrashLooping",
                "warning",
                &[("namespace", "shop"), ("pod", "web-7d9f8-x2x9z")],
            ),
            &ctx,
        );
        assert_eq!(web.pane, Pane::Rightsizing);
        assert_eq!(
            web.object,
            ObjectRef::namespaced("Deployment", "shop", "web")
        );
        assert!(web.matched);
    }

    #[test]
    fn node_and_service_labels_match_their_objects() {
        let f = fixture();
        let ctx = context(&f);
        let node = place(
            &alert("KubeNodeNotReady", "warning", &[("node", "ip-10-0-1-1")]),
            &ctx,
        );
        assert_eq!(node.pane, Pane::Nodes);
        assert_eq!(
            node.object,
            ObjectRef::cluster_scoped("Node", "ip-10-0-1-1")
        );
        assert!(node.matched);
        let route_backend = place(
            &alert(
                "HighErrorRate",
                "critical",
                &[("namespace", "shop"), ("service", "checkout")],
            ),
            &ctx,
        );
        assert_eq!(route_backend.pane, Pane::Gateways);
        assert!(route_backend.matched);
        let flow = place(&alert("Drops", "warning", &[("service", "payments")]), &ctx);
        assert_eq!(flow.pane, Pane::Flows);
        assert_eq!(
            flow.object,
            ObjectRef::namespaced("Service", "pay", "payments")
        );
        // CoreDNS's Service is DNS trouble even where East-West lists it among its flows.
        let dns = place(
            &alert(
                "CoreDNSLatencyHigh",
                "warning",
                &[("namespace", "kube-system"), ("service", "kube-dns")],
            ),
            &ctx,
        );
        assert_eq!(dns.pane, Pane::Dns);
    }

    #[test]
    fn unknown_objects_are_placed_by_label_kind_and_say_so() {
        let f = fixture();
        let ctx = context(&f);
        let gone = place(&alert("X", "warning", &[("node", "ip-gone")]), &ctx);
        assert_eq!(gone.pane, Pane::Nodes);
        assert!(!gone.matched);
        let namespace = place(&alert("Quota", "info", &[("namespace", "shop")]), &ctx);
        assert_eq!(namespace.pane, Pane::Rightsizing);
        assert!(namespace.matched);
        let cluster = place(&alert("Watchdog", "none", &[]), &AlertContext::default());
        assert_eq!(cluster.object.kind, "Cluster");
    }

    #[test]
    fn findings_carry_severity_duration_and_labels() {
        let f = fixture();
        let ctx = context(&f);
        let snapshot = AlertSnapshot {
            at: at(720),
            alerts: vec![Alert {
                summary: "node is not ready".into(),
                ..alert("KubeNodeNotReady", "critical", &[("node", "ip-10-0-1-1")])
            }],
        };
        let found = findings(&snapshot, &ctx);
        assert_eq!(found.len(), 1);
        let finding = &found[0];
        assert_eq!(finding.severity, Severity::Critical);
        assert_eq!(finding.pane, Pane::Nodes);
        assert_eq!(
            finding.summary,
            "Alert KubeNodeNotReady firing for 12m on Node ip-10-0-1-1: node is not ready"
        );
        assert!(finding.evidence.iter().any(|e| e.value == "ip-10-0-1-1"));
        let on_node = alerts_on(
            &snapshot,
            &ctx,
            &ObjectRef::cluster_scoped("Node", "ip-10-0-1-1"),
        );
        assert_eq!(on_node.len(), 1);
    }
}
