//! The simulated cluster as real Kubernetes objects (JSON values shaped exactly like the API
//! server's), for `kockpit sim serve`. Rendering goes through an `ObjectSink` that may skip
//! building an object whose fingerprint has not changed since the last step: with 150,000
//! pods, building and comparing every pod's JSON on every step would dominate the server.

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{DefaultHasher, Hash, Hasher};

use chrono::SecondsFormat;
use serde_json::{Map, Value, json};

use super::catalog::shape_of;
use super::engine::{SimCluster, scenario_t0};
use super::karpenter::pdb_allowed;
use super::names::{pod_name, suffix};
use super::rng::{hash_str, mix};
use super::state::{Node, PendingCause, Pod, WorkloadRuntime, WorkloadSource};
use crate::domain::Timestamp;
use crate::domain::model::{
    Capacity, ChurnKind, Condition, ConditionStatus, GatewaySnapshot, RouteKind, ZoneRouting,
};
use crate::domain::scenario::{DnsSpread, WorkloadKind, WorkloadSpec, ZoneSpread};

/// The controller behind a GatewayClass, from the class name the scenario uses.
fn gateway_controller(class: &str) -> &'static str {
    match class {
        "eg" | "envoy" | "envoy-gateway" => "gateway.envoyproxy.io/gatewayclass-controller",
        c if c.contains("alb") || c.contains("aws") => "gateway.k8s.aws/alb",
        c if c.contains("lattice") => "application-networking.k8s.aws/gateway-api-controller",
        _ => "example.net/gateway-controller",
    }
}
/// The node label topology spread constraints over zones use.
pub const ZONE_LABEL: &str = "topology.kubernetes.io/zone";
/// Endpoints per EndpointSlice, as the EndpointSlice controller does by default.
const ENDPOINTS_PER_SLICE: usize = 100;
/// The EC2NodeClass every simulated NodePool refers to.
const NODE_CLASS: &str = "default";

/// Receives rendered objects. `fingerprint`, when given, summarises everything the object's
/// JSON depends on: a sink that saw the same fingerprint for the same object last time may
/// skip calling `build`.
pub trait ObjectSink {
    fn offer(
        &mut self,
        api_version: &'static str,
        kind: &'static str,
        namespace: Option<&str>,
        name: &str,
        fingerprint: Option<u64>,
        build: &mut dyn FnMut() -> Value,
    );
}

/// A sink that builds everything, for tests and one-off dumps.
#[derive(Default)]
pub struct CollectSink(pub Vec<Value>);

impl ObjectSink for CollectSink {
    fn offer(
        &mut self,
        _: &'static str,
        _: &'static str,
        _: Option<&str>,
        _: &str,
        _: Option<u64>,
        build: &mut dyn FnMut() -> Value,
    ) {
        self.0.push(build());
    }
}

/// Every object of the simulated cluster.
pub fn render_all(cluster: &SimCluster) -> Vec<Value> {
    let mut sink = CollectSink::default();
    render(cluster, &mut sink);
    sink.0
}

pub fn timestamp(at: Timestamp) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A stable UUID-shaped identifier for an object, so restarts of the server keep uids.
pub fn uid_for(kind: &str, namespace: &str, name: &str) -> String {
    let key = hash_str(&format!("{kind}/{namespace}/{name}"));
    let (a, b) = (mix(key, 1), mix(key, 2));
    format!(
        "{:08x}-{:04x}-4{:03x}-a{:03x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        b >> 52,
        b & 0xffff_ffff_ffff
    )
}

fn fingerprint(value: impl Hash) -> u64 {
    let mut hasher = DefaultHasher::new();
    value.hash(&mut hasher);
    hasher.finish()
}

fn cpu(millicores: f64) -> String {
    format!("{}m", millicores.round() as i64)
}

fn memory(mib: f64) -> String {
    format!("{}Mi", mib.round() as i64)
}

/// Standard object metadata; `extra` fields (ownerReferences, generation, …) are merged in.
fn metadata(
    kind: &str,
    namespace: Option<&str>,
    name: &str,
    created: Timestamp,
    labels: Value,
    extra: Value,
) -> Value {
    let mut meta = Map::new();
    meta.insert("name".into(), json!(name));
    if let Some(ns) = namespace {
        meta.insert("namespace".into(), json!(ns));
    }
    meta.insert(
        "uid".into(),
        json!(uid_for(kind, namespace.unwrap_or(""), name)),
    );
    meta.insert("creationTimestamp".into(), json!(timestamp(created)));
    if labels.as_object().is_some_and(|l| !l.is_empty()) {
        meta.insert("labels".into(), labels);
    }
    if let Value::Object(extra) = extra {
        meta.extend(extra);
    }
    Value::Object(meta)
}

fn condition(kind: &str, status: bool, reason: &str, message: &str, at: Timestamp) -> Value {
    json!({
        "type": kind,
        "status": if status { "True" } else { "False" },
        "reason": reason,
        "message": message,
        "lastTransitionTime": timestamp(at),
    })
}

fn domain_condition(kind: &str, c: &Condition, generation: i64, at: Timestamp) -> Value {
    let status = match c.status {
        ConditionStatus::True => "True",
        ConditionStatus::False => "False",
        ConditionStatus::Unknown => "Unknown",
    };
    json!({
        "type": kind,
        "status": status,
        "reason": c.reason,
        "message": c.message,
        "observedGeneration": generation,
        "lastTransitionTime": timestamp(at),
    })
}

fn capacity_type(capacity: Capacity) -> &'static str {
    match capacity {
        Capacity::Spot => "spot",
        Capacity::OnDemand => "on-demand",
    }
}

/// Where the simulated cluster's long-lived objects say they were created.
fn cluster_birth() -> Timestamp {
    scenario_t0() - chrono::Duration::days(90)
}

/// Renders every object of the cluster into `sink`.
pub fn render(cluster: &SimCluster, sink: &mut dyn ObjectSink) {
    let gateways = cluster.gateway_status();
    namespaces(cluster, sink);
    nodes(cluster, sink);
    karpenter_objects(cluster, sink);
    for runtime in &cluster.state().workloads {
        workload(cluster, runtime, sink);
    }
    daemon_sets(cluster, sink);
    services(cluster, sink);
    coredns_config(cluster, sink);
    autoscaling(cluster, sink);
    events(cluster, sink);
    gateway_objects(cluster, &gateways, sink);
}

fn namespaces(cluster: &SimCluster, sink: &mut dyn ObjectSink) {
    let spec = cluster.spec();
    let mut names: BTreeSet<&str> = ["default", "kube-system", "kube-public", "karpenter"]
        .into_iter()
        .collect();
    names.extend(spec.namespaces.keys().map(String::as_str));
    names.extend(spec.workloads.values().map(|w| w.namespace.as_str()));
    names.extend(spec.services.values().map(|s| s.namespace.as_str()));
    names.extend(spec.gateways.values().map(|g| g.namespace.as_str()));
    names.extend(spec.routes.values().map(|r| r.namespace.as_str()));
    for name in names.into_iter().filter(|n| !n.is_empty()) {
        let mut labels = Map::new();
        labels.insert("kubernetes.io/metadata.name".into(), json!(name));
        if let Some(ns) = spec.namespaces.get(name) {
            for (key, value) in [
                ("cost-center", &ns.cost_center),
                ("team", &ns.team),
                ("environment", &ns.environment),
            ] {
                if let Some(value) = value {
                    labels.insert(key.into(), json!(value));
                }
            }
        }
        sink.offer("v1", "Namespace", None, name, None, &mut || {
            json!({
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": metadata("Namespace", None, name, cluster_birth(), Value::Object(labels.clone()), json!({})),
                "spec": {"finalizers": ["kubernetes"]},
                "status": {"phase": "Active"},
            })
        });
    }
}

fn provider_id(zone: &str, node: &Node) -> String {
    format!("aws:///{zone}/i-0{:016x}", mix(node.id, 7))
}

fn node_labels(cluster: &SimCluster, node: &Node, zone: &str) -> Value {
    let shape = shape_of(&node.instance_type);
    let mut labels = json!({
        "kubernetes.io/hostname": node.name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": shape.arch,
        "topology.kubernetes.io/zone": zone,
        "topology.kubernetes.io/region": cluster.spec().region,
        "node.kubernetes.io/instance-type": node.instance_type,
        "karpenter.sh/capacity-type": capacity_type(node.capacity),
    });
    if node.karpenter {
        labels["karpenter.sh/nodepool"] = json!(node.pool);
        labels["karpenter.k8s.aws/ec2nodeclass"] = json!(NODE_CLASS);
        labels["karpenter.sh/initialized"] = json!("true");
        labels["karpenter.sh/registered"] = json!("true");
    } else {
        labels["eks.amazonaws.com/nodegroup"] = json!(node.pool);
        labels["eks.amazonaws.com/capacityType"] = json!("ON_DEMAND");
    }
    labels
}

/// A node's primary address (its InternalIP), in its zone's range.
pub(crate) fn node_ip(node: &Node) -> String {
    format!(
        "10.0.{}.{}",
        node.zone as u64 * 32 + mix(node.id, 3) % 32,
        4 + mix(node.id, 4) % 250
    )
}

fn nodes(cluster: &SimCluster, sink: &mut dyn ObjectSink) {
    let state = cluster.state();
    let now = state.now;
    for node in state.nodes.values().filter(|n| n.registered(now)) {
        let ready = node.initialized(now);
        let print = fingerprint((node.id, ready, node.disruption.is_some()));
        sink.offer("v1", "Node", None, &node.name, Some(print), &mut || {
            let zone = state.zones.get(node.zone).cloned().unwrap_or_default();
            let shape = shape_of(&node.instance_type);
            let mut taints = Vec::new();
            if node.disruption.is_some() {
                taints.push(json!({"key": "karpenter.sh/disrupted", "effect": "NoSchedule"}));
            }
            if !ready && node.karpenter {
                taints.push(json!({"key": "karpenter.sh/unregistered", "effect": "NoExecute"}));
            }
            let mut extra = json!({});
            if let Some(disruption) = &node.disruption {
                extra["deletionTimestamp"] = json!(timestamp(disruption.since));
                extra["finalizers"] = json!(["karpenter.sh/termination"]);
            }
            let ready_condition = if ready {
                condition("Ready", true, "KubeletReady", "kubelet is posting ready status", node.initialized_at)
            } else {
                condition("Ready", false, "KubeletNotReady", "container runtime network not ready", node.registered_at)
            };
            json!({
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": metadata("Node", None, &node.name, node.registered_at, node_labels(cluster, node, &zone), extra),
                "spec": {
                    "providerID": provider_id(&zone, node),
                    "taints": taints,
                },
                "status": {
                    "capacity": {
                        "cpu": shape.vcpu.to_string(),
                        "memory": memory(shape.memory_gib * 1024.0),
                        "pods": shape.max_pods.to_string(),
                    },
                    "allocatable": {
                        "cpu": cpu(node.cpu_allocatable_m),
                        "memory": memory(node.memory_allocatable_mib),
                        "pods": node.max_pods.to_string(),
                    },
                    "conditions": [ready_condition],
                    "addresses": [
                        {"type": "InternalIP", "address": node_ip(node)},
                        {"type": "Hostname", "address": node.name},
                    ],
                    "nodeInfo": {
                        "architecture": shape.arch,
                        "operatingSystem": "linux",
                        "kubeletVersion": "v1.33.1-eks-1234567",
                        "containerRuntimeVersion": "containerd://1.7.27",
                        "osImage": "Amazon Linux 2023",
                    },
                },
            })
        });
    }
}

fn karpenter_objects(cluster: &SimCluster, sink: &mut dyn ObjectSink) {
    let spec = cluster.spec();
    let state = cluster.state();
    let now = state.now;
    for (name, pool) in &spec.nodepools {
        let pool_nodes: Vec<&Node> = state.pool_nodes(name).collect();
        sink.offer("karpenter.sh/v1", "NodePool", None, name, None, &mut || {
            let cpu_total: f64 = pool_nodes.iter().map(|n| f64::from(shape_of(&n.instance_type).vcpu)).sum();
            let memory_total: f64 = pool_nodes.iter().map(|n| shape_of(&n.instance_type).memory_gib * 1024.0).sum();
            let budgets: Vec<Value> = pool
                .budgets
                .iter()
                .map(|b| {
                    let mut budget = json!({"nodes": b.nodes});
                    if let Some(schedule) = &b.schedule {
                        budget["schedule"] = json!(schedule);
                    }
                    if let Some(duration) = &b.duration {
                        budget["duration"] = json!(duration);
                    }
                    if !b.reasons.is_empty() {
                        budget["reasons"] = json!(b.reasons);
                    }
                    budget
                })
                .collect();
            let capacity_types: Vec<&str> = pool.capacity_types.iter().map(|c| capacity_type(*c)).collect();
            let mut object = json!({
                "apiVersion": "karpenter.sh/v1",
                "kind": "NodePool",
                "metadata": metadata("NodePool", None, name, cluster_birth(), json!({}), json!({"generation": 1})),
                "spec": {
                    "template": {
                        "metadata": {"labels": {}},
                        "spec": {
                            "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": NODE_CLASS},
                            "expireAfter": pool.expire_after,
                            "requirements": [
                                {"key": "karpenter.sh/capacity-type", "operator": "In", "values": capacity_types},
                                {"key": "node.kubernetes.io/instance-type", "operator": "In", "values": pool.instance_types},
                            ],
                        },
                    },
                    "disruption": {
                        "consolidationPolicy": pool.consolidation_policy,
                        "consolidateAfter": pool.consolidate_after,
                        "budgets": budgets,
                    },
                },
                "status": {
                    "resources": {
                        "cpu": format!("{}", cpu_total.round() as i64),
                        "memory": memory(memory_total),
                        "nodes": pool_nodes.len().to_string(),
                    },
                    "conditions": [condition("Ready", true, "Ready", "", cluster_birth())],
                },
            });
            if let Some(limit) = pool.cpu_limit {
                object["spec"]["limits"] = json!({"cpu": format!("{limit}")});
            }
            if let Some(weight) = pool.weight {
                object["spec"]["weight"] = json!(weight);
            }
            object
        });
    }
    if !spec.nodepools.is_empty() {
        sink.offer("karpenter.k8s.aws/v1", "EC2NodeClass", None, NODE_CLASS, None, &mut || {
            json!({
                "apiVersion": "karpenter.k8s.aws/v1",
                "kind": "EC2NodeClass",
                "metadata": metadata("EC2NodeClass", None, NODE_CLASS, cluster_birth(), json!({}), json!({"generation": 1})),
                "spec": {
                    "amiSelectorTerms": [{"alias": "al2023@latest"}],
                    "role": "KarpenterNodeRole-sim",
                    "subnetSelectorTerms": [{"tags": {"karpenter.sh/discovery": "sim"}}],
                    "securityGroupSelectorTerms": [{"tags": {"karpenter.sh/discovery": "sim"}}],
                },
                "status": {
                    "conditions": [condition("Ready", true, "Ready", "", cluster_birth())],
                },
            })
        });
    }
    for node in state.nodes.values() {
        let Some(claim) = &node.claim else { continue };
        let registered = node.registered(now);
        let initialized = node.initialized(now);
        let print = fingerprint((node.id, registered, initialized, node.disruption.is_some()));
        sink.offer("karpenter.sh/v1", "NodeClaim", None, claim, Some(print), &mut || {
            let zone = state.zones.get(node.zone).cloned().unwrap_or_default();
            let shape = shape_of(&node.instance_type);
            let launched_at = node.created + chrono::Duration::seconds(3);
            let mut conditions = vec![condition("Launched", true, "Launched", "", launched_at)];
            conditions.push(if registered {
                condition("Registered", true, "Registered", "", node.registered_at)
            } else {
                json!({"type": "Registered", "status": "Unknown", "reason": "AwaitingReconciliation", "message": "object is awaiting reconciliation", "lastTransitionTime": timestamp(launched_at)})
            });
            conditions.push(if initialized {
                condition("Initialized", true, "Initialized", "", node.initialized_at)
            } else {
                json!({"type": "Initialized", "status": "Unknown", "reason": "AwaitingReconciliation", "message": "object is awaiting reconciliation", "lastTransitionTime": timestamp(launched_at)})
            });
            conditions.push(condition("Ready", initialized, if initialized { "Ready" } else { "NotReady" }, "", if initialized { node.initialized_at } else { launched_at }));
            let mut extra = json!({"generation": 1, "finalizers": ["karpenter.sh/termination"], "annotations": {"karpenter.k8s.aws/ec2nodeclass-hash-version": "v4"}});
            if let Some(disruption) = &node.disruption {
                extra["deletionTimestamp"] = json!(timestamp(disruption.since));
                conditions.push(condition("DisruptionReason", true, &disruption.reason, "", disruption.since));
            }
            let mut labels = node_labels(cluster, node, &zone);
            if let Some(map) = labels.as_object_mut() {
                map.remove("kubernetes.io/hostname");
            }
            let mut status = json!({
                "providerID": provider_id(&zone, node),
                "imageID": "ami-0123456789abcdef0",
                "capacity": {"cpu": shape.vcpu.to_string(), "memory": memory(shape.memory_gib * 1024.0), "pods": shape.max_pods.to_string()},
                "allocatable": {"cpu": cpu(node.cpu_allocatable_m), "memory": memory(node.memory_allocatable_mib), "pods": node.max_pods.to_string()},
                "conditions": conditions,
            });
            if registered {
                status["nodeName"] = json!(node.name);
            }
            json!({
                "apiVersion": "karpenter.sh/v1",
                "kind": "NodeClaim",
                "metadata": metadata("NodeClaim", None, claim, node.created, labels, extra),
                "spec": {
                    "nodeClassRef": {"group": "karpenter.k8s.aws", "kind": "EC2NodeClass", "name": NODE_CLASS},
                    "requirements": [
                        {"key": "karpenter.sh/nodepool", "operator": "In", "values": [node.pool]},
                        {"key": "node.kubernetes.io/instance-type", "operator": "In", "values": [node.instance_type]},
                        {"key": "karpenter.sh/capacity-type", "operator": "In", "values": [capacity_type(node.capacity)]},
                        {"key": "topology.kubernetes.io/zone", "operator": "In", "values": [zone]},
                    ],
                    "resources": {"requests": {"cpu": cpu(node.cpu_requested_m), "pods": (node.pods + node.daemon_pods).to_string()}},
                    "expireAfter": cluster.spec().nodepools.get(&node.pool).map(|p| p.expire_after.clone()).unwrap_or_else(|| "720h".to_string()),
                },
                "status": status,
            })
        });
    }
}

/// The labels selecting a workload's pods.
fn selector(runtime: &WorkloadRuntime) -> Value {
    match runtime.source {
        WorkloadSource::CoreDns => json!({"k8s-app": "kube-dns"}),
        WorkloadSource::Spec(_) => json!({"app": runtime.name}),
    }
}

fn container_name(runtime: &WorkloadRuntime, spec: &WorkloadSpec) -> String {
    spec.container
        .clone()
        .unwrap_or_else(|| runtime.name.clone())
}

fn resources(spec: &WorkloadSpec, cpu_request_m: f64, memory_request_mib: f64) -> Value {
    let mut limits = Map::new();
    if let Some(limit) = spec.cpu_limit_m {
        limits.insert("cpu".into(), json!(cpu(limit)));
    }
    if let Some(limit) = spec.memory_limit_mib {
        limits.insert("memory".into(), json!(memory(limit)));
    }
    let mut out =
        json!({"requests": {"cpu": cpu(cpu_request_m), "memory": memory(memory_request_mib)}});
    if !limits.is_empty() {
        out["limits"] = Value::Object(limits);
    }
    out
}

fn image(runtime: &WorkloadRuntime) -> String {
    match runtime.source {
        WorkloadSource::CoreDns => {
            "602401143452.dkr.ecr.us-east-1.amazonaws.com/eks/coredns:v1.11.4-eksbuild.2"
                .to_string()
        }
        WorkloadSource::Spec(_) => format!(
            "registry.example.com/{}/{}:1.0.0",
            runtime.namespace, runtime.name
        ),
    }
}

fn pod_template(runtime: &WorkloadRuntime, spec: &WorkloadSpec) -> Value {
    let mut template = json!({
        "metadata": {"labels": selector(runtime)},
        "spec": {
            "containers": [{
                "name": container_name(runtime, spec),
                "image": image(runtime),
                "resources": resources(spec, spec.cpu_request_m, spec.memory_request_mib),
            }],
            "terminationGracePeriodSeconds": 30,
        },
    });
    if spec.dns.ndots != 5 {
        template["spec"]["dnsConfig"] =
            json!({"options": [{"name": "ndots", "value": spec.dns.ndots.to_string()}]});
    }
    if spec.zone_spread == ZoneSpread::Required {
        template["spec"]["topologySpreadConstraints"] = json!([{
            "maxSkew": 1,
            "topologyKey": ZONE_LABEL,
            "whenUnsatisfiable": "DoNotSchedule",
            "labelSelector": {"matchLabels": selector(runtime)},
        }]);
    }
    if spec.do_not_disrupt {
        template["metadata"]["annotations"] = json!({"karpenter.sh/do-not-disrupt": "true"});
    }
    template
}

fn replica_set_name(runtime: &WorkloadRuntime, template_key: u64) -> String {
    format!("{}-{}", runtime.name, suffix(template_key, 10))
}

fn workload(cluster: &SimCluster, runtime: &WorkloadRuntime, sink: &mut dyn ObjectSink) {
    let Some(spec) = workload_spec(cluster, runtime) else {
        return;
    };
    let now = cluster.now();
    let ready = runtime.ready_pods(now) as u32;
    let total = runtime.pods.len() as u32;
    let ns = runtime.namespace.as_str();
    let name = runtime.name.as_str();
    let kind = runtime.kind.as_str();
    let stateful = runtime.kind == WorkloadKind::StatefulSet;
    let mut labels = selector(runtime);
    if runtime.source == WorkloadSource::CoreDns {
        labels["eks.amazonaws.com/component"] = json!("coredns");
    }
    sink.offer("apps/v1", if stateful { "StatefulSet" } else { "Deployment" }, Some(ns), name, None, &mut || {
        let mut object = json!({
            "apiVersion": "apps/v1",
            "kind": kind,
            "metadata": metadata(kind, Some(ns), name, cluster_birth(), labels.clone(), json!({"generation": 1})),
            "spec": {
                "replicas": runtime.desired,
                "selector": {"matchLabels": selector(runtime)},
                "template": pod_template(runtime, &spec),
            },
            "status": {
                "observedGeneration": 1,
                "replicas": total,
                "readyReplicas": ready,
                "availableReplicas": ready,
                "updatedReplicas": total,
            },
        });
        if stateful {
            object["spec"]["serviceName"] = json!(name);
            object["status"]["currentReplicas"] = json!(total);
        } else {
            let unavailable = total.saturating_sub(ready);
            object["status"]["unavailableReplicas"] = json!(unavailable);
            object["status"]["conditions"] = json!([
                condition("Available", unavailable == 0 || ready > 0, if ready > 0 { "MinimumReplicasAvailable" } else { "MinimumReplicasUnavailable" }, "Deployment has minimum availability.", cluster_birth()),
                condition("Progressing", true, "NewReplicaSetAvailable", "ReplicaSet has successfully progressed.", cluster_birth()),
            ]);
        }
        object
    });
    // One ReplicaSet per pod template still running pods, plus the current one: during a
    // rolling update the old ReplicaSet shrinks as the new one grows.
    let mut templates: Vec<u64> = vec![runtime.template_key];
    if !stateful {
        for pod in &runtime.pods {
            if !templates.contains(&pod.template_key) {
                templates.push(pod.template_key);
            }
        }
        for &template in &templates {
            let rs = replica_set_name(runtime, template);
            let hash = suffix(template, 10);
            let current = template == runtime.template_key;
            let of_template: Vec<&Pod> = runtime
                .pods
                .iter()
                .filter(|p| p.template_key == template)
                .collect();
            let rs_total = of_template.len() as u32;
            let rs_ready = of_template.iter().filter(|p| p.ready(now)).count() as u32;
            let rs_replicas = if current { runtime.desired } else { rs_total };
            sink.offer("apps/v1", "ReplicaSet", Some(ns), &rs, None, &mut || {
                let mut labels = selector(runtime);
                labels["pod-template-hash"] = json!(hash);
                let mut template_value = pod_template(runtime, &spec);
                template_value["metadata"]["labels"]["pod-template-hash"] = json!(hash);
                json!({
                    "apiVersion": "apps/v1",
                    "kind": "ReplicaSet",
                    "metadata": metadata("ReplicaSet", Some(ns), &rs, cluster_birth(), labels, json!({
                        "generation": 1,
                        "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": name, "uid": uid_for("Deployment", ns, name), "controller": true, "blockOwnerDeletion": true}],
                    })),
                    "spec": {"replicas": rs_replicas, "selector": {"matchLabels": selector(runtime)}, "template": template_value},
                    "status": {"replicas": rs_total, "readyReplicas": rs_ready, "availableReplicas": rs_ready, "fullyLabeledReplicas": rs_total, "observedGeneration": 1},
                })
            });
        }
    }
    let owner = |template: u64| {
        if stateful {
            json!([{"apiVersion": "apps/v1", "kind": "StatefulSet", "name": name, "uid": uid_for("StatefulSet", ns, name), "controller": true, "blockOwnerDeletion": true}])
        } else {
            let rs = replica_set_name(runtime, template);
            json!([{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs, "uid": uid_for("ReplicaSet", ns, &rs), "controller": true, "blockOwnerDeletion": true}])
        }
    };
    let oom = runtime.oom_kills_before > 0 || !runtime.oom_kills.is_empty();
    for pod in &runtime.pods {
        let pod_ready = pod.ready(now);
        let print = fingerprint((
            pod.serial,
            pod.node,
            pod.bound,
            pod_ready,
            pod.restarts,
            pod.pending_cause == PendingCause::Nominated,
            pod.cpu_request_m.to_bits(),
            pod.template_key,
            oom,
        ));
        let pod_name = pod_name(name, stateful, pod.template_key, pod.serial);
        let owner = owner(pod.template_key);
        sink.offer("v1", "Pod", Some(ns), &pod_name, Some(print), &mut || {
            render_pod(cluster, runtime, &spec, pod, &pod_name, &owner, oom)
        });
    }
}

fn workload_spec(cluster: &SimCluster, runtime: &WorkloadRuntime) -> Option<WorkloadSpec> {
    match &runtime.source {
        WorkloadSource::Spec(name) => cluster.spec().workloads.get(name).cloned(),
        WorkloadSource::CoreDns => {
            let dns = &cluster.spec().dns;
            Some(WorkloadSpec {
                namespace: "kube-system".into(),
                container: Some("coredns".into()),
                // The EKS add-on spreads CoreDNS over zones with a topology spread constraint.
                zone_spread: if dns.spread == DnsSpread::Zones {
                    ZoneSpread::Required
                } else {
                    ZoneSpread::Preferred
                },
                replicas: dns.replicas,
                cpu_request_m: dns.cpu_request_m,
                memory_request_mib: dns.memory_request_mib,
                memory_limit_mib: Some(dns.memory_limit_mib),
                pdb: Some(crate::domain::scenario::PdbSpec {
                    min_available: None,
                    max_unavailable: Some("1".into()),
                }),
                ..WorkloadSpec::default()
            })
        }
    }
}

/// A pod's address: outside the nodes' 10.0.0.0/16, spread wide enough (12.8 million
/// addresses) that the pods of a simulated cluster do not share one, as flow logs need.
pub(crate) fn pod_ip(runtime: &WorkloadRuntime, pod: &Pod) -> String {
    let key = mix(runtime.key, pod.serial);
    format!(
        "10.{}.{}.{}",
        1 + key % 200,
        (key >> 8) % 256,
        2 + (key >> 16) % 250
    )
}

fn render_pod(
    cluster: &SimCluster,
    runtime: &WorkloadRuntime,
    spec: &WorkloadSpec,
    pod: &Pod,
    pod_name: &str,
    owner: &Value,
    oom: bool,
) -> Value {
    let state = cluster.state();
    let now = state.now;
    let ns = runtime.namespace.as_str();
    let node = pod.node.and_then(|id| state.nodes.get(&id));
    let ready = pod.ready(now);
    let mut labels = selector(runtime);
    if runtime.kind == WorkloadKind::Deployment {
        labels["pod-template-hash"] = json!(suffix(pod.template_key, 10));
    }
    let mut extra = json!({"ownerReferences": owner});
    if spec.do_not_disrupt {
        extra["annotations"] = json!({"karpenter.sh/do-not-disrupt": "true"});
    }
    let container = container_name(runtime, spec);
    let mut pod_spec = json!({
        "containers": [{
            "name": container,
            "image": image(runtime),
            "resources": resources(spec, pod.cpu_request_m, pod.memory_request_mib),
        }],
        "dnsPolicy": "ClusterFirst",
        "restartPolicy": "Always",
        "schedulerName": "default-scheduler",
        "terminationGracePeriodSeconds": 30,
    });
    if spec.dns.ndots != 5 {
        pod_spec["dnsConfig"] =
            json!({"options": [{"name": "ndots", "value": spec.dns.ndots.to_string()}]});
    }
    let status = if pod.bound {
        let node = node.map(|n| n.name.clone()).unwrap_or_default();
        pod_spec["nodeName"] = json!(node);
        let started = pod.ready_at.unwrap_or(pod.created);
        let mut container_status = json!({
            "name": container,
            "image": image(runtime),
            "ready": ready,
            "started": ready,
            "restartCount": pod.restarts,
        });
        if ready {
            container_status["state"] = json!({"running": {"startedAt": timestamp(started)}});
        } else if spec.crash_looping {
            container_status["state"] = json!({"waiting": {"reason": "CrashLoopBackOff", "message": "back-off restarting failed container"}});
        } else {
            container_status["state"] = json!({"running": {"startedAt": timestamp(pod.created)}});
        }
        if pod.restarts > 0 {
            let (reason, code) = if oom {
                ("OOMKilled", 137)
            } else {
                ("Error", 1)
            };
            container_status["lastState"] = json!({"terminated": {"reason": reason, "exitCode": code, "finishedAt": timestamp(started)}});
        }
        json!({
            "phase": "Running",
            "podIP": pod_ip(runtime, pod),
            "hostIP": pod.node.and_then(|id| state.nodes.get(&id)).map(node_ip).unwrap_or_default(),
            "startTime": timestamp(pod.created),
            "qosClass": "Burstable",
            "conditions": [
                condition("PodScheduled", true, "", "", pod.created),
                condition("Initialized", true, "", "", pod.created),
                condition("ContainersReady", ready, if ready { "" } else { "ContainersNotReady" }, "", started),
                condition("Ready", ready, if ready { "" } else { "ContainersNotReady" }, "", started),
            ],
            "containerStatuses": [container_status],
        })
    } else {
        let since = pod.pending_since.unwrap_or(pod.created);
        let message = format!(
            "0/{} nodes are available: {} Insufficient cpu. preemption: 0/{} nodes are available: no preemption victims found for incoming pod.",
            state.nodes.len(),
            state.nodes.len(),
            state.nodes.len()
        );
        let mut status = json!({
            "phase": "Pending",
            "qosClass": "Burstable",
            "conditions": [condition("PodScheduled", false, "Unschedulable", &message, since)],
        });
        if let (PendingCause::Nominated, Some(node)) = (pod.pending_cause, node) {
            status["nominatedNodeName"] = json!(node.name);
        }
        status
    };
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": metadata("Pod", Some(ns), pod_name, pod.created, labels, extra),
        "spec": pod_spec,
        "status": status,
    })
}

fn daemon_sets(cluster: &SimCluster, sink: &mut dyn ObjectSink) {
    // DaemonSet pods are accounted on each node (requests) but not rendered as Pod objects.
    let state = cluster.state();
    let now = state.now;
    let nodes = state.nodes.values().filter(|n| n.initialized(now)).count();
    for (name, spec) in cluster
        .spec()
        .workloads
        .iter()
        .filter(|(_, w)| w.kind == WorkloadKind::DaemonSet)
    {
        let ns = spec.namespace.as_str();
        sink.offer("apps/v1", "DaemonSet", Some(ns), name, None, &mut || {
            json!({
                "apiVersion": "apps/v1",
                "kind": "DaemonSet",
                "metadata": metadata("DaemonSet", Some(ns), name, cluster_birth(), json!({"app": name}), json!({"generation": 1})),
                "spec": {
                    "selector": {"matchLabels": {"app": name}},
                    "template": {
                        "metadata": {"labels": {"app": name}},
                        "spec": {"containers": [{"name": spec.container.clone().unwrap_or_else(|| name.clone()), "image": format!("registry.example.com/{ns}/{name}:1.0.0"), "resources": resources(spec, spec.cpu_request_m, spec.memory_request_mib)}]},
                    },
                },
                "status": {"desiredNumberScheduled": nodes, "currentNumberScheduled": nodes, "numberReady": nodes, "numberAvailable": nodes, "updatedNumberScheduled": nodes, "numberMisscheduled": 0, "observedGeneration": 1},
            })
        });
    }
}

fn cluster_ip(namespace: &str, name: &str) -> String {
    let key = hash_str(&format!("svc/{namespace}/{name}"));
    format!("172.20.{}.{}", 1 + key % 254, 1 + (key >> 8) % 254)
}

/// A Service to render: the scenario's, plus kube-dns.
struct ServiceView<'a> {
    namespace: &'a str,
    name: &'a str,
    workload: &'a str,
    port: u16,
    routing: ZoneRouting,
}

fn services(cluster: &SimCluster, sink: &mut dyn ObjectSink) {
    let state = cluster.state();
    let now = state.now;
    let mut views = vec![ServiceView {
        namespace: "kube-system",
        name: "kube-dns",
        workload: "coredns",
        port: 53,
        routing: ZoneRouting::Default,
    }];
    for (name, s) in &cluster.spec().services {
        views.push(ServiceView {
            namespace: &s.namespace,
            name,
            workload: s.workload.as_deref().unwrap_or(name),
            port: s.port,
            routing: s.routing,
        });
    }
    for view in views {
        let ns = view.namespace;
        let runtime = state
            .workload_index(ns, view.workload)
            .and_then(|i| state.workloads.get(i));
        sink.offer("v1", "Service", Some(ns), view.name, None, &mut || {
            let mut annotations = Map::new();
            let mut spec = json!({
                "type": "ClusterIP",
                "clusterIP": if view.name == "kube-dns" { "172.20.0.10".to_string() } else { cluster_ip(ns, view.name) },
                "selector": runtime.map(selector).unwrap_or_else(|| json!({"app": view.workload})),
                "internalTrafficPolicy": if view.routing == ZoneRouting::NodeLocal { "Local" } else { "Cluster" },
                "sessionAffinity": "None",
            });
            spec["clusterIPs"] = json!([spec["clusterIP"].clone()]);
            spec["ports"] = if view.name == "kube-dns" {
                json!([
                    {"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                    {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
                    {"name": "metrics", "port": 9153, "protocol": "TCP", "targetPort": 9153},
                ])
            } else {
                json!([{"name": "http", "port": view.port, "protocol": "TCP", "targetPort": view.port}])
            };
            match view.routing {
                ZoneRouting::TopologyAware => {
                    annotations.insert("service.kubernetes.io/topology-mode".into(), json!("Auto"));
                }
                ZoneRouting::PreferClose => spec["trafficDistribution"] = json!("PreferClose"),
                _ => {}
            }
            let labels = if view.name == "kube-dns" { json!({"k8s-app": "kube-dns", "kubernetes.io/name": "CoreDNS"}) } else { json!({"app": view.name}) };
            let extra = if annotations.is_empty() { json!({}) } else { json!({"annotations": annotations}) };
            json!({
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": metadata("Service", Some(ns), view.name, cluster_birth(), labels, extra),
                "spec": spec,
                "status": {"loadBalancer": {}},
            })
        });
        endpoint_slices(cluster, &view, runtime, sink);
        let _ = now;
    }
}

fn endpoint_slices(
    cluster: &SimCluster,
    view: &ServiceView<'_>,
    runtime: Option<&WorkloadRuntime>,
    sink: &mut dyn ObjectSink,
) {
    let state = cluster.state();
    let now = state.now;
    let pods: Vec<&Pod> = runtime
        .map(|r| r.pods.iter().filter(|p| p.bound).collect())
        .unwrap_or_default();
    let mut ready_by_zone = vec![0u32; state.zones.len()];
    for pod in pods.iter().filter(|p| p.ready(now)) {
        if let Some(count) = pod
            .node
            .and_then(|id| state.nodes.get(&id))
            .and_then(|node| ready_by_zone.get_mut(node.zone))
        {
            *count += 1;
        }
    }
    let hints = super::flows::zone_hints(view.routing, &ready_by_zone);
    let chunks: Vec<&[&Pod]> = if pods.is_empty() {
        vec![&[]]
    } else {
        pods.chunks(ENDPOINTS_PER_SLICE).collect()
    };
    for (index, chunk) in chunks.into_iter().enumerate() {
        let name = format!(
            "{}-{}",
            view.name,
            suffix(
                mix(
                    hash_str(&format!("{}/{}", view.namespace, view.name)),
                    index as u64
                ),
                5
            )
        );
        let print = fingerprint((
            hints,
            chunk
                .iter()
                .map(|p| (p.serial, p.template_key, p.node, p.ready(now)))
                .collect::<Vec<_>>(),
        ));
        sink.offer("discovery.k8s.io/v1", "EndpointSlice", Some(view.namespace), &name, Some(print), &mut || {
            let endpoints: Vec<Value> = chunk
                .iter()
                .filter_map(|pod| {
                    let runtime = runtime?;
                    let node = pod.node.and_then(|id| state.nodes.get(&id))?;
                    let zone = state.zones.get(node.zone).cloned().unwrap_or_default();
                    let ready = pod.ready(now);
                    let mut endpoint = json!({
                        "addresses": [pod_ip(runtime, pod)],
                        "conditions": {"ready": ready, "serving": ready, "terminating": false},
                        "nodeName": node.name,
                        "zone": zone,
                        "targetRef": {"kind": "Pod", "namespace": view.namespace, "name": pod_name(&runtime.name, runtime.kind == WorkloadKind::StatefulSet, pod.template_key, pod.serial)},
                    });
                    if hints {
                        endpoint["hints"] = json!({"forZones": [{"name": zone}]});
                    }
                    Some(endpoint)
                })
                .collect();
            let ports = if view.name == "kube-dns" {
                json!([{"name": "dns", "port": 53, "protocol": "UDP"}, {"name": "dns-tcp", "port": 53, "protocol": "TCP"}, {"name": "metrics", "port": 9153, "protocol": "TCP"}])
            } else {
                json!([{"name": "http", "port": view.port, "protocol": "TCP"}])
            };
            json!({
                "apiVersion": "discovery.k8s.io/v1",
                "kind": "EndpointSlice",
                "metadata": metadata("EndpointSlice", Some(view.namespace), &name, cluster_birth(), json!({
                    "kubernetes.io/service-name": view.name,
                    "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
                }), json!({"ownerReferences": [{"apiVersion": "v1", "kind": "Service", "name": view.name, "uid": uid_for("Service", view.namespace, view.name), "controller": true, "blockOwnerDeletion": true}]})),
                "addressType": "IPv4",
                "endpoints": endpoints,
                "ports": ports,
            })
        });
    }
}

fn coredns_config(cluster: &SimCluster, sink: &mut dyn ObjectSink) {
    let corefile = &cluster.spec().dns.corefile;
    sink.offer("v1", "ConfigMap", Some("kube-system"), "coredns", None, &mut || {
        json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": metadata("ConfigMap", Some("kube-system"), "coredns", cluster_birth(), json!({"eks.amazonaws.com/component": "coredns", "k8s-app": "kube-dns"}), json!({})),
            "data": {"Corefile": corefile},
        })
    });
}

fn autoscaling(cluster: &SimCluster, sink: &mut dyn ObjectSink) {
    let state = cluster.state();
    let now = state.now;
    for runtime in &state.workloads {
        let Some(spec) = workload_spec(cluster, runtime) else {
            continue;
        };
        let ns = runtime.namespace.as_str();
        let name = runtime.name.as_str();
        let kind = runtime.kind.as_str();
        let target = json!({"apiVersion": "apps/v1", "kind": kind, "name": name});
        if let Some(hpa) = &spec.hpa {
            sink.offer("autoscaling/v2", "HorizontalPodAutoscaler", Some(ns), name, None, &mut || {
                json!({
                    "apiVersion": "autoscaling/v2",
                    "kind": "HorizontalPodAutoscaler",
                    "metadata": metadata("HorizontalPodAutoscaler", Some(ns), name, cluster_birth(), json!({}), json!({})),
                    "spec": {
                        "scaleTargetRef": target,
                        "minReplicas": hpa.min_replicas,
                        "maxReplicas": hpa.max_replicas,
                        "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": hpa.target_cpu_percent.round() as i64}}}],
                    },
                    "status": {
                        "currentReplicas": runtime.pods.len(),
                        "desiredReplicas": runtime.desired,
                        "conditions": [
                            condition("AbleToScale", true, "ReadyForNewScale", "recommended size matches current size", cluster_birth()),
                            condition("ScalingActive", true, "ValidMetricFound", "the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)", cluster_birth()),
                            condition("ScalingLimited", runtime.desired >= hpa.max_replicas, if runtime.desired >= hpa.max_replicas { "TooManyReplicas" } else { "DesiredWithinRange" }, "", cluster_birth()),
                        ],
                    },
                })
            });
        }
        if let Some(mode) = &spec.vpa {
            let vpa_name = spec.vpa_name.as_deref().unwrap_or(name);
            sink.offer("autoscaling.k8s.io/v1", "VerticalPodAutoscaler", Some(ns), vpa_name, None, &mut || {
                let container = container_name(runtime, &spec);
                let curve = super::workloads::curve(cluster.spec(), &spec, runtime.key);
                let (target_cpu, target_memory) = super::workloads::vpa_target(&spec, &curve);
                let (target_cpu, target_memory) = (target_cpu.max(10.0), target_memory.max(16.0));
                json!({
                    "apiVersion": "autoscaling.k8s.io/v1",
                    "kind": "VerticalPodAutoscaler",
                    "metadata": metadata("VerticalPodAutoscaler", Some(ns), vpa_name, cluster_birth(), json!({}), json!({"generation": 1})),
                    "spec": {"targetRef": target, "updatePolicy": {"updateMode": mode}},
                    "status": {
                        "recommendation": {"containerRecommendations": [{
                            "containerName": container,
                            "target": {"cpu": cpu(target_cpu), "memory": memory(target_memory)},
                            "lowerBound": {"cpu": cpu(target_cpu * 0.7), "memory": memory(target_memory * 0.8)},
                            "upperBound": {"cpu": cpu(target_cpu * 2.0), "memory": memory(target_memory * 1.6)},
                            "uncappedTarget": {"cpu": cpu(target_cpu), "memory": memory(target_memory)},
                        }]},
                        "conditions": [condition("RecommendationProvided", true, "", "", cluster_birth())],
                    },
                })
            });
        }
        if let Some(pdb) = &spec.pdb {
            let healthy = runtime.ready_pods(now) as u32;
            let allowed = pdb_allowed(&spec, runtime.desired, healthy).unwrap_or(0);
            sink.offer("policy/v1", "PodDisruptionBudget", Some(ns), name, None, &mut || {
                let int_or_string = |text: &str| text.parse::<i64>().map(Value::from).unwrap_or_else(|_| json!(text));
                let mut pdb_spec = json!({"selector": {"matchLabels": selector(runtime)}});
                if let Some(min) = &pdb.min_available {
                    pdb_spec["minAvailable"] = int_or_string(min);
                }
                if let Some(max) = &pdb.max_unavailable {
                    pdb_spec["maxUnavailable"] = int_or_string(max);
                }
                let desired_healthy = healthy.saturating_sub(allowed);
                json!({
                    "apiVersion": "policy/v1",
                    "kind": "PodDisruptionBudget",
                    "metadata": metadata("PodDisruptionBudget", Some(ns), name, cluster_birth(), json!({}), json!({"generation": 1})),
                    "spec": pdb_spec,
                    "status": {
                        "currentHealthy": healthy,
                        "desiredHealthy": desired_healthy,
                        "disruptionsAllowed": allowed,
                        "expectedPods": runtime.pods.len(),
                        "observedGeneration": 1,
                        "conditions": [condition("DisruptionAllowed", allowed > 0, if allowed > 0 { "SufficientPods" } else { "InsufficientPods" }, "", cluster_birth())],
                    },
                })
            });
        }
    }
}

fn events(cluster: &SimCluster, sink: &mut dyn ObjectSink) {
    for event in cluster.karpenter().churn() {
        let name = format!(
            "{}.{:016x}",
            event.node,
            mix(hash_str(&event.reason), event.at.timestamp() as u64)
        );
        let (reason, kind, message) = match event.kind {
            ChurnKind::Launched => (
                "Launched".to_string(),
                "Normal",
                format!(
                    "Launched NodeClaim for node {} in nodepool {}",
                    event.node, event.nodepool
                ),
            ),
            ChurnKind::Terminated if event.reason == "SpotInterrupted" => (
                "SpotInterrupted".to_string(),
                "Warning",
                "Spot interruption warning was triggered".to_string(),
            ),
            ChurnKind::Terminated => (
                "DisruptionTerminating".to_string(),
                "Normal",
                format!("Disrupting Node: {}", event.reason),
            ),
        };
        sink.offer("v1", "Event", Some("default"), &name, None, &mut || {
            json!({
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": metadata("Event", Some("default"), &name, event.at, json!({}), json!({})),
                "involvedObject": {"apiVersion": "v1", "kind": "Node", "name": event.node, "uid": uid_for("Node", "", &event.node)},
                "reason": reason,
                "message": message,
                "type": kind,
                "count": 1,
                "firstTimestamp": timestamp(event.at),
                "lastTimestamp": timestamp(event.at),
                "source": {"component": "karpenter"},
                "reportingComponent": "karpenter",
                "reportingInstance": "",
            })
        });
    }
}

fn gateway_objects(cluster: &SimCluster, status: &GatewaySnapshot, sink: &mut dyn ObjectSink) {
    let spec = cluster.spec();
    let classes: BTreeSet<&str> = spec.gateways.values().map(|g| g.class.as_str()).collect();
    for class in classes {
        sink.offer("gateway.networking.k8s.io/v1", "GatewayClass", None, class, None, &mut || {
            json!({
                "apiVersion": "gateway.networking.k8s.io/v1",
                "kind": "GatewayClass",
                "metadata": metadata("GatewayClass", None, class, cluster_birth(), json!({}), json!({"generation": 1})),
                "spec": {"controllerName": gateway_controller(class)},
                "status": {"conditions": [domain_condition("Accepted", &Condition { status: ConditionStatus::True, reason: "Accepted".into(), message: "".into() }, 1, cluster_birth())]},
            })
        });
    }
    // Routes attached per (gateway namespace, gateway, listener).
    let mut attached: BTreeMap<(String, String, String), u32> = BTreeMap::new();
    for route in &status.routes {
        for parent in route
            .parents
            .iter()
            .filter(|p| p.accepted.as_ref().is_some_and(|c| c.is_true()))
        {
            let Some(gateway) = spec
                .gateways
                .get(&parent.name)
                .filter(|g| g.namespace == parent.namespace)
            else {
                continue;
            };
            for listener in gateway
                .listeners
                .iter()
                .filter(|l| parent.section.as_ref().is_none_or(|s| *s == l.name))
            {
                *attached
                    .entry((
                        parent.namespace.clone(),
                        parent.name.clone(),
                        listener.name.clone(),
                    ))
                    .or_default() += 1;
            }
        }
    }
    for (name, gateway) in &spec.gateways {
        let ns = gateway.namespace.as_str();
        let found = status
            .gateways
            .iter()
            .find(|g| g.name == *name && g.namespace == ns);
        sink.offer("gateway.networking.k8s.io/v1", "Gateway", Some(ns), name, None, &mut || {
            let listeners: Vec<Value> = gateway.listeners.iter().map(|l| {
                let mut listener = json!({"name": l.name, "port": l.port, "protocol": l.protocol});
                if let Some(host) = &l.hostname {
                    listener["hostname"] = json!(host);
                }
                let from = match l.allowed_routes {
                    crate::domain::scenario::AllowedRoutes::Same => json!({"from": "Same"}),
                    crate::domain::scenario::AllowedRoutes::All => json!({"from": "All"}),
                    crate::domain::scenario::AllowedRoutes::Selector => json!({"from": "Selector", "selector": {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "In", "values": l.namespaces}]}}),
                };
                listener["allowedRoutes"] = json!({"namespaces": from});
                listener
            }).collect();
            let listener_status: Vec<Value> = gateway.listeners.iter().map(|l| json!({
                "name": l.name,
                "attachedRoutes": attached.get(&(ns.to_string(), name.clone(), l.name.clone())).copied().unwrap_or(0),
                "supportedKinds": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute"}, {"group": "gateway.networking.k8s.io", "kind": "GRPCRoute"}],
                "conditions": [
                    condition("Accepted", true, "Accepted", "", cluster_birth()),
                    condition("Programmed", true, "Programmed", "", cluster_birth()),
                    condition("ResolvedRefs", true, "ResolvedRefs", "", cluster_birth()),
                    condition("Conflicted", false, "NoConflicts", "", cluster_birth()),
                ],
            })).collect();
            let mut conditions = Vec::new();
            if let Some(c) = found.and_then(|g| g.accepted.as_ref()) {
                conditions.push(domain_condition("Accepted", c, 1, cluster_birth()));
            }
            if let Some(c) = found.and_then(|g| g.programmed.as_ref()) {
                conditions.push(domain_condition("Programmed", c, 1, cluster_birth()));
            }
            let address = found.and_then(|g| g.address.clone());
            json!({
                "apiVersion": "gateway.networking.k8s.io/v1",
                "kind": "Gateway",
                "metadata": metadata("Gateway", Some(ns), name, cluster_birth(), json!({}), json!({"generation": 1})),
                "spec": {"gatewayClassName": gateway.class, "listeners": listeners},
                "status": {
                    "addresses": address.map(|a| vec![json!({"type": "Hostname", "value": a})]).unwrap_or_default(),
                    "conditions": conditions,
                    "listeners": listener_status,
                },
            })
        });
    }
    for (name, route) in &spec.routes {
        let ns = route.namespace.as_str();
        let kind = match route.kind {
            RouteKind::Http => "HTTPRoute",
            RouteKind::Grpc => "GRPCRoute",
        };
        let found = status
            .routes
            .iter()
            .find(|r| r.name == *name && r.namespace == ns);
        sink.offer("gateway.networking.k8s.io/v1", kind, Some(ns), name, None, &mut || {
            let observed = found.and_then(|r| r.observed_generation).unwrap_or(route.generation);
            let parent_refs: Vec<Value> = route.parents.iter().map(|p| {
                let mut parent = json!({"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": p.gateway});
                if let Some(pns) = &p.namespace {
                    parent["namespace"] = json!(pns);
                }
                if let Some(section) = &p.section {
                    parent["sectionName"] = json!(section);
                }
                parent
            }).collect();
            let backend_refs: Vec<Value> = route.backends.iter().map(|b| {
                let mut backend = json!({"group": "", "kind": "Service", "name": b.service, "weight": b.weight});
                if let Some(bns) = &b.namespace {
                    backend["namespace"] = json!(bns);
                }
                if let Some(port) = b.port {
                    backend["port"] = json!(port);
                }
                backend
            }).collect();
            let parents: Vec<Value> = found.map(|r| r.parents.iter().map(|p| {
                let controller = spec
                    .gateways
                    .get(&p.name)
                    .filter(|g| g.namespace == p.namespace)
                    .map(|g| gateway_controller(&g.class))
                    .unwrap_or("example.net/gateway-controller");
                let mut parent_ref = json!({"group": "gateway.networking.k8s.io", "kind": p.kind, "name": p.name, "namespace": p.namespace});
                if let Some(section) = &p.section {
                    parent_ref["sectionName"] = json!(section);
                }
                let mut conditions = Vec::new();
                if let Some(c) = &p.accepted {
                    conditions.push(domain_condition("Accepted", c, observed, cluster_birth()));
                }
                if let Some(c) = &p.resolved_refs {
                    conditions.push(domain_condition("ResolvedRefs", c, observed, cluster_birth()));
                }
                json!({"parentRef": parent_ref, "controllerName": controller, "conditions": conditions})
            }).collect()).unwrap_or_default();
            json!({
                "apiVersion": "gateway.networking.k8s.io/v1",
                "kind": kind,
                "metadata": metadata(kind, Some(ns), name, cluster_birth(), json!({}), json!({"generation": route.generation})),
                "spec": {"parentRefs": parent_refs, "hostnames": route.hostnames, "rules": [{"backendRefs": backend_refs}]},
                "status": {"parents": parents},
            })
        });
    }
    for (name, grant) in &spec.reference_grants {
        let ns = grant.namespace.as_str();
        sink.offer("gateway.networking.k8s.io/v1beta1", "ReferenceGrant", Some(ns), name, None, &mut || {
            let from: Vec<Value> = grant.from_kinds.iter().map(|k| json!({
                "group": "gateway.networking.k8s.io",
                "kind": match k { RouteKind::Http => "HTTPRoute", RouteKind::Grpc => "GRPCRoute" },
                "namespace": grant.from_namespace,
            })).collect();
            let to: Vec<Value> = if grant.services.is_empty() {
                vec![json!({"group": "", "kind": "Service"})]
            } else {
                grant.services.iter().map(|s| json!({"group": "", "kind": "Service", "name": s})).collect()
            };
            json!({
                "apiVersion": "gateway.networking.k8s.io/v1beta1",
                "kind": "ReferenceGrant",
                "metadata": metadata("ReferenceGrant", Some(ns), name, cluster_birth(), json!({}), json!({"generation": 1})),
                "spec": {"from": from, "to": to},
            })
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::sim::scenarios;

    /// Fields the store adds, not the renderer.
    const STORE_FIELDS: &[&str] = &["resourceVersion"];

    fn kind_of(value: &Value) -> &'static str {
        match value {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        }
    }

    /// Every field of `expected` must exist in `actual` with the same JSON type.
    fn same_shape(path: &str, expected: &Value, actual: &Value, problems: &mut Vec<String>) {
        if kind_of(expected) != kind_of(actual) {
            problems.push(format!(
                "{path}: {} expected, {} found",
                kind_of(expected),
                kind_of(actual)
            ));
            return;
        }
        match (expected, actual) {
            (Value::Object(e), Value::Object(a)) => {
                for (key, value) in e {
                    if STORE_FIELDS.contains(&key.as_str()) {
                        continue;
                    }
                    match a.get(key) {
                        Some(found) => same_shape(&format!("{path}.{key}"), value, found, problems),
                        None => problems.push(format!("{path}.{key}: missing")),
                    }
                }
            }
            (Value::Array(e), Value::Array(a)) => {
                if let (Some(first), Some(found)) = (e.first(), a.first()) {
                    same_shape(&format!("{path}[0]"), first, found, problems);
                }
            }
            _ => {}
        }
    }

    fn baseline_objects() -> Vec<Value> {
        let scenario = scenarios::load("baseline").unwrap_or_else(|e| panic!("{e}"));
        let cluster = SimCluster::new(&scenario, 1, scenario_t0());
        render_all(&cluster)
    }

    #[test]
    fn rendering_matches_the_fixtures() {
        let text = include_str!("../../../tests/fixtures/sim-objects.yaml");
        let fixture: Value = serde_saphyr::from_str(text).unwrap_or_else(|e| panic!("{e}"));
        let objects = baseline_objects();
        let mut problems = Vec::new();
        for expected in fixture["items"].as_array().into_iter().flatten() {
            let kind = expected["kind"].as_str().unwrap_or("");
            let candidates: Vec<&Value> = objects.iter().filter(|o| o["kind"] == kind).collect();
            assert!(!candidates.is_empty(), "no {kind} rendered");
            // The closest candidate: the one with the fewest differences.
            let best = candidates
                .iter()
                .map(|actual| {
                    let mut found = Vec::new();
                    same_shape(kind, expected, actual, &mut found);
                    found
                })
                .min_by_key(Vec::len)
                .unwrap_or_default();
            problems.extend(best);
        }
        assert!(
            problems.is_empty(),
            "shape differences:\n{}",
            problems.join("\n")
        );
    }

    #[test]
    fn routes_report_accepted_and_resolved_refs_but_not_programmed() {
        let objects = baseline_objects();
        let route = objects
            .iter()
            .find(|o| o["kind"] == "HTTPRoute")
            .unwrap_or_else(|| panic!("no HTTPRoute"));
        let types: Vec<&str> = route["status"]["parents"][0]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|c| c["type"].as_str())
            .collect();
        assert_eq!(types, vec!["Accepted", "ResolvedRefs"]);
        let gateway = objects
            .iter()
            .find(|o| o["kind"] == "Gateway")
            .unwrap_or_else(|| panic!("no Gateway"));
        assert!(
            gateway["status"]["conditions"]
                .as_array()
                .is_some_and(|c| c.iter().any(|c| c["type"] == "Programmed"))
        );
    }

    #[test]
    fn coredns_objects_are_served() {
        let objects = baseline_objects();
        let configmap = objects
            .iter()
            .find(|o| o["kind"] == "ConfigMap" && o["metadata"]["name"] == "coredns")
            .unwrap_or_else(|| panic!("no coredns ConfigMap"));
        assert!(
            configmap["data"]["Corefile"]
                .as_str()
                .is_some_and(|c| c.contains("forward"))
        );
        let pods = objects
            .iter()
            .filter(|o| o["kind"] == "Pod" && o["metadata"]["labels"]["k8s-app"] == "kube-dns")
            .count();
        assert!(pods >= 2);
        let uids: std::collections::BTreeSet<&str> = objects
            .iter()
            .filter_map(|o| o["metadata"]["uid"].as_str())
            .collect();
        assert_eq!(uids.len(), objects.len(), "uids must be unique");
    }
}
