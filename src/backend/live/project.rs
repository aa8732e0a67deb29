//! Projection of built-in Kubernetes objects (k8s-openapi types) into the compact structs the
//! assembly reads. Each function keeps only what a pane uses; the full object is dropped by
//! the caller right after. Missing or malformed fields give defaults, never a panic.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, ReplicaSet, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{
    ConfigMap, Container, Event, Namespace, Node, PodTemplateSpec, ResourceRequirements, Service,
};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::domain::assemble::quantity::{cpu_millicores, memory_mib};
use crate::domain::assemble::*;
use crate::domain::limits;
use crate::domain::model::Capacity;
use crate::domain::time::Timestamp;

use super::slim;

pub const ZONE_LABEL: &str = "topology.kubernetes.io/zone";
pub const REGION_LABEL: &str = "topology.kubernetes.io/region";
const INSTANCE_TYPE_LABEL: &str = "node.kubernetes.io/instance-type";
const CAPACITY_TYPE_LABEL: &str = "karpenter.sh/capacity-type";
const EKS_CAPACITY_TYPE_LABEL: &str = "eks.amazonaws.com/capacityType";
const NODEPOOL_LABEL: &str = "karpenter.sh/nodepool";
const DISRUPTED_TAINT: &str = "karpenter.sh/disrupted";
pub(crate) const DO_NOT_DISRUPT: &str = "karpenter.sh/do-not-disrupt";
pub(crate) const APP_LABEL: &str = "k8s-app";
const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
const TOPOLOGY_MODE: &str = "service.kubernetes.io/topology-mode";
const TOPOLOGY_HINTS_OLD: &str = "service.kubernetes.io/topology-aware-hints";

/// Converts an API time (k8s-openapi keeps jiff timestamps) to the cockpit's clock type.
pub fn to_timestamp(at: &k8s_openapi::jiff::Timestamp) -> Option<Timestamp> {
    chrono::DateTime::from_timestamp(at.as_second(), at.subsec_nanosecond().max(0) as u32)
}

fn name_of(meta: &ObjectMeta) -> String {
    meta.name.clone().unwrap_or_default()
}

fn namespace_of(meta: &ObjectMeta) -> String {
    meta.namespace.clone().unwrap_or_default()
}

/// A label's value, clipped to `limits::LABEL_VALUE_CHARS`.
fn label<'a>(meta: &'a ObjectMeta, key: &str) -> Option<&'a str> {
    meta.labels
        .as_ref()?
        .get(key)
        .map(|value| limits::clip_label_bytes(value))
}

/// An annotation's value, clipped like a label's.
fn annotation<'a>(meta: &'a ObjectMeta, key: &str) -> Option<&'a str> {
    meta.annotations
        .as_ref()?
        .get(key)
        .map(|value| limits::clip_label_bytes(value))
}

fn created(meta: &ObjectMeta) -> Option<Timestamp> {
    meta.creation_timestamp
        .as_ref()
        .and_then(|t| to_timestamp(&t.0))
}

fn controller(owners: Option<&Vec<OwnerReference>>) -> Option<OwnerRef> {
    let owners = owners?;
    owners
        .iter()
        .find(|o| o.controller == Some(true))
        .or_else(|| owners.first())
        .map(|o| OwnerRef {
            kind: o.kind.clone(),
            name: o.name.clone(),
        })
}

fn quantity<'a>(map: Option<&'a BTreeMap<String, Quantity>>, key: &str) -> Option<&'a str> {
    map?.get(key).map(|q| q.0.as_str())
}

pub fn capacity_from_label(value: &str) -> Option<Capacity> {
    match value.to_ascii_lowercase().as_str() {
        "spot" => Some(Capacity::Spot),
        "on-demand" | "on_demand" | "reserved" => Some(Capacity::OnDemand),
        _ => None,
    }
}

pub fn node(node: &Node) -> NodeProjection {
    let meta = &node.metadata;
    let capacity = label(meta, CAPACITY_TYPE_LABEL)
        .or_else(|| label(meta, EKS_CAPACITY_TYPE_LABEL))
        .and_then(capacity_from_label);
    let status = node.status.as_ref();
    let ready = status
        .and_then(|s| s.conditions.as_ref())
        .and_then(|conditions| conditions.iter().find(|c| c.type_ == "Ready"))
        .is_some_and(|c| c.status == "True");
    let tainted = node
        .spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .is_some_and(|taints| taints.iter().any(|t| t.key == DISRUPTED_TAINT));
    let allocatable = status.and_then(|s| s.allocatable.as_ref());
    NodeProjection {
        name: name_of(meta),
        zone: label(meta, ZONE_LABEL).map(str::to_string),
        region: label(meta, REGION_LABEL).map(str::to_string),
        instance_type: label(meta, INSTANCE_TYPE_LABEL).map(str::to_string),
        capacity,
        nodepool: label(meta, NODEPOOL_LABEL).map(str::to_string),
        created: created(meta),
        ready,
        disrupting: tainted || meta.deletion_timestamp.is_some(),
        cpu_allocatable_m: quantity(allocatable, "cpu")
            .and_then(cpu_millicores)
            .unwrap_or(0.0),
        memory_allocatable_mib: quantity(allocatable, "memory")
            .and_then(memory_mib)
            .unwrap_or(0.0),
    }
}

fn container_resources(container: &Container) -> ContainerResources {
    resources_of(&container.name, container.resources.as_ref())
}

fn resources_of(name: &str, resources: Option<&ResourceRequirements>) -> ContainerResources {
    let requests = resources.and_then(|r| r.requests.as_ref());
    let limits = resources.and_then(|r| r.limits.as_ref());
    ContainerResources {
        name: name.to_string(),
        cpu_request_m: quantity(requests, "cpu").and_then(cpu_millicores),
        cpu_limit_m: quantity(limits, "cpu").and_then(cpu_millicores),
        memory_request_mib: quantity(requests, "memory").and_then(memory_mib),
        memory_limit_mib: quantity(limits, "memory").and_then(memory_mib),
    }
}

/// Pods are watched as the slim type (see `slim`): a large cluster has most of them.
pub fn pod(pod: &slim::Pod) -> PodProjection {
    let meta = &pod.metadata;
    let spec = pod.spec.as_ref();
    let status = pod.status.as_ref();
    let statuses = status.and_then(|s| s.container_statuses.as_ref());
    let containers = spec
        .map(|s| s.containers.as_slice())
        .unwrap_or_default()
        .iter()
        .map(|container| {
            let state = statuses.and_then(|all| all.iter().find(|s| s.name == container.name));
            PodContainer {
                resources: resources_of(&container.name, container.resources.as_ref()),
                restarts: state
                    .map(|s| u32::try_from(s.restart_count).unwrap_or(0))
                    .unwrap_or(0),
                last_termination_reason: state
                    .and_then(|s| s.last_state.as_ref())
                    .and_then(|s| s.terminated.as_ref())
                    .and_then(|t| t.reason.clone()),
            }
        })
        .collect();
    let ndots = spec
        .and_then(|s| s.dns_config.as_ref())
        .and_then(|c| c.options.as_ref())
        .and_then(|options| options.iter().find(|o| o.name.as_deref() == Some("ndots")))
        .and_then(|o| o.value.as_deref())
        .and_then(|v| v.trim().parse::<u8>().ok());
    let scheduled = status
        .and_then(|s| s.conditions.as_ref())
        .and_then(|conditions| conditions.iter().find(|c| c.type_ == "PodScheduled"));
    let unschedulable =
        scheduled.filter(|c| c.status == "False" && c.reason.as_deref() == Some("Unschedulable"));
    PodProjection {
        namespace: namespace_of(meta),
        name: name_of(meta),
        node: spec.and_then(|s| s.node_name.clone()),
        phase: status
            .and_then(|s| s.phase.clone())
            .unwrap_or_else(|| "Unknown".to_string()),
        owner: controller(meta.owner_references.as_ref()),
        app: label(meta, APP_LABEL).map(str::to_string),
        containers,
        ndots,
        do_not_disrupt: annotation(meta, DO_NOT_DISRUPT) == Some("true"),
        created: created(meta),
        pending_since: unschedulable
            .and_then(|c| c.last_transition_time.as_ref())
            .and_then(|t| to_timestamp(&t.0))
            .or_else(|| unschedulable.and_then(|_| created(meta))),
        unschedulable: unschedulable.map(|c| c.message.clone().unwrap_or_default()),
        ip: status
            .and_then(|s| s.pod_ip.as_deref())
            .and_then(|ip| ip.parse().ok()),
    }
}

pub fn service(service: &Service) -> ServiceProjection {
    let meta = &service.metadata;
    let spec = service.spec.as_ref();
    ServiceProjection {
        namespace: namespace_of(meta),
        name: name_of(meta),
        topology_mode: annotation(meta, TOPOLOGY_MODE)
            .or_else(|| annotation(meta, TOPOLOGY_HINTS_OLD))
            .map(str::to_string),
        traffic_distribution: spec.and_then(|s| s.traffic_distribution.clone()),
        internal_traffic_policy_local: spec
            .and_then(|s| s.internal_traffic_policy.as_deref())
            .is_some_and(|p| p == "Local"),
        headless: spec.and_then(|s| s.cluster_ip.as_deref()) == Some("None"),
        has_selector: spec
            .and_then(|s| s.selector.as_ref())
            .is_some_and(|s| !s.is_empty()),
    }
}

pub fn endpoint_slice(slice: &EndpointSlice) -> EndpointSliceProjection {
    let meta = &slice.metadata;
    EndpointSliceProjection {
        namespace: namespace_of(meta),
        name: name_of(meta),
        service: label(meta, SERVICE_NAME_LABEL).map(str::to_string),
        endpoints: slice
            .endpoints
            .iter()
            .map(|endpoint| EndpointProjection {
                // An unset `ready` means ready, as the EndpointSlice API defines it.
                ready: endpoint
                    .conditions
                    .as_ref()
                    .and_then(|c| c.ready)
                    .unwrap_or(true),
                zone: endpoint.zone.clone(),
                node: endpoint.node_name.clone(),
                hinted: endpoint
                    .hints
                    .as_ref()
                    .and_then(|h| h.for_zones.as_ref())
                    .is_some_and(|zones| !zones.is_empty()),
                ip: endpoint.addresses.first().and_then(|a| a.parse().ok()),
                pod: endpoint
                    .target_ref
                    .as_ref()
                    .filter(|r| r.kind.as_deref() == Some("Pod"))
                    .and_then(|r| r.name.clone()),
            })
            .collect(),
    }
}

fn template_containers(template: &PodTemplateSpec) -> Vec<ContainerResources> {
    template
        .spec
        .as_ref()
        .map(|s| s.containers.iter().map(container_resources).collect())
        .unwrap_or_default()
}

fn count(value: Option<i32>) -> u32 {
    value.and_then(|v| u32::try_from(v).ok()).unwrap_or(0)
}

pub fn deployment(deployment: &Deployment) -> WorkloadProjection {
    let meta = &deployment.metadata;
    let spec = deployment.spec.as_ref();
    WorkloadProjection {
        kind: WorkloadKind::Deployment,
        namespace: namespace_of(meta),
        name: name_of(meta),
        // An unset replicas field means one replica.
        replicas: count(spec.map(|s| s.replicas.unwrap_or(1))),
        ready_replicas: count(deployment.status.as_ref().and_then(|s| s.ready_replicas)),
        app: label(meta, APP_LABEL).map(str::to_string),
        containers: spec
            .map(|s| template_containers(&s.template))
            .unwrap_or_default(),
    }
}

pub fn stateful_set(set: &StatefulSet) -> WorkloadProjection {
    let meta = &set.metadata;
    let spec = set.spec.as_ref();
    WorkloadProjection {
        kind: WorkloadKind::StatefulSet,
        namespace: namespace_of(meta),
        name: name_of(meta),
        replicas: count(spec.map(|s| s.replicas.unwrap_or(1))),
        ready_replicas: count(set.status.as_ref().and_then(|s| s.ready_replicas)),
        app: label(meta, APP_LABEL).map(str::to_string),
        containers: spec
            .map(|s| template_containers(&s.template))
            .unwrap_or_default(),
    }
}

pub fn daemon_set(set: &DaemonSet) -> WorkloadProjection {
    let meta = &set.metadata;
    let status = set.status.as_ref();
    WorkloadProjection {
        kind: WorkloadKind::DaemonSet,
        namespace: namespace_of(meta),
        name: name_of(meta),
        replicas: count(status.map(|s| s.desired_number_scheduled)),
        ready_replicas: count(status.map(|s| s.number_ready)),
        app: label(meta, APP_LABEL).map(str::to_string),
        containers: set
            .spec
            .as_ref()
            .map(|s| template_containers(&s.template))
            .unwrap_or_default(),
    }
}

pub fn replica_set(set: &ReplicaSet) -> ReplicaSetProjection {
    let meta = &set.metadata;
    ReplicaSetProjection {
        namespace: namespace_of(meta),
        name: name_of(meta),
        owner: controller(meta.owner_references.as_ref()),
    }
}

pub fn config_map(map: &ConfigMap) -> ConfigMapProjection {
    let meta = &map.metadata;
    ConfigMapProjection {
        namespace: namespace_of(meta),
        name: name_of(meta),
        corefile: map.data.as_ref().and_then(|d| d.get("Corefile")).cloned(),
    }
}

/// Only Events about nodes and Karpenter's objects are kept: they carry churn and
/// disruption reasons. Everything else returns `None` and is not stored.
pub fn event(event: &Event) -> Option<EventProjection> {
    let meta = &event.metadata;
    let object_kind = event.involved_object.kind.clone().unwrap_or_default();
    let component = event
        .reporting_component
        .clone()
        .filter(|c| !c.is_empty())
        .or_else(|| event.source.as_ref().and_then(|s| s.component.clone()))
        .unwrap_or_default();
    let relevant = component.eq_ignore_ascii_case("karpenter")
        || matches!(object_kind.as_str(), "Node" | "NodeClaim" | "NodePool");
    if !relevant {
        return None;
    }
    let at = event
        .last_timestamp
        .as_ref()
        .and_then(|t| to_timestamp(&t.0))
        .or_else(|| event.event_time.as_ref().and_then(|t| to_timestamp(&t.0)))
        .or_else(|| {
            event
                .first_timestamp
                .as_ref()
                .and_then(|t| to_timestamp(&t.0))
        })
        .or_else(|| created(meta));
    Some(EventProjection {
        namespace: namespace_of(meta),
        name: name_of(meta),
        object_kind,
        object_name: event.involved_object.name.clone().unwrap_or_default(),
        reason: event.reason.clone().unwrap_or_default(),
        message: event.message.clone().unwrap_or_default(),
        component,
        at,
    })
}

pub fn hpa(hpa: &HorizontalPodAutoscaler) -> HpaProjection {
    let meta = &hpa.metadata;
    let spec = hpa.spec.as_ref();
    let on_cpu = spec
        .and_then(|s| s.metrics.as_ref())
        .is_some_and(|metrics| {
            metrics.iter().any(|m| {
                m.resource.as_ref().is_some_and(|r| r.name == "cpu")
                    || m.container_resource
                        .as_ref()
                        .is_some_and(|r| r.name == "cpu")
            })
        });
    HpaProjection {
        namespace: namespace_of(meta),
        name: name_of(meta),
        target_kind: spec
            .map(|s| s.scale_target_ref.kind.clone())
            .unwrap_or_default(),
        target_name: spec
            .map(|s| s.scale_target_ref.name.clone())
            .unwrap_or_default(),
        on_cpu,
    }
}

fn int_or_string(value: &IntOrString) -> String {
    match value {
        IntOrString::Int(n) => n.to_string(),
        IntOrString::String(s) => s.clone(),
    }
}

pub fn pdb(pdb: &PodDisruptionBudget) -> PdbProjection {
    let meta = &pdb.metadata;
    let spec = pdb.spec.as_ref();
    let rule = match (
        spec.and_then(|s| s.min_available.as_ref()),
        spec.and_then(|s| s.max_unavailable.as_ref()),
    ) {
        (Some(min), _) => format!("minAvailable {}", int_or_string(min)),
        (None, Some(max)) => format!("maxUnavailable {}", int_or_string(max)),
        (None, None) => String::new(),
    };
    let status = pdb.status.as_ref();
    PdbProjection {
        namespace: namespace_of(meta),
        name: name_of(meta),
        rule,
        disruptions_allowed: status.map(|s| s.disruptions_allowed).unwrap_or(0),
        current_healthy: status.map(|s| s.current_healthy).unwrap_or(0),
        desired_healthy: status.map(|s| s.desired_healthy).unwrap_or(0),
        expected_pods: status.map(|s| s.expected_pods).unwrap_or(0),
    }
}

pub fn namespace(namespace: &Namespace) -> NamespaceProjection {
    let meta = &namespace.metadata;
    let get = |key: &str| label(meta, key).map(str::to_string);
    NamespaceProjection {
        name: name_of(meta),
        cost_center: get("cost-center"),
        team: get("team"),
        environment: get("environment"),
    }
}
