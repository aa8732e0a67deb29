//! Compact projections of the cluster objects the panes read, and the keyed store that holds
//! them. A backend turns each watched object into one of these (only the fields a pane uses)
//! and applies changes here; the assembly functions read the store.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use crate::domain::model::{Capacity, Condition, DisruptionBudget, Pane, RouteKind};
use crate::domain::time::Timestamp;

pub use super::pods::{Name, Pods};

/// Where an object lives: namespace ("" for cluster-scoped objects) and name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectKey {
    pub namespace: String,
    pub name: String,
}

impl ObjectKey {
    pub fn new(namespace: &str, name: &str) -> Self {
        ObjectKey {
            namespace: namespace.to_string(),
            name: name.to_string(),
        }
    }

    pub fn cluster(name: &str) -> Self {
        Self::new("", name)
    }
}

/// The kinds of object kockpit watches; also names the watcher in pane states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ObjectKind {
    Node,
    Pod,
    Service,
    EndpointSlice,
    Deployment,
    StatefulSet,
    DaemonSet,
    ReplicaSet,
    ConfigMap,
    Event,
    HorizontalPodAutoscaler,
    PodDisruptionBudget,
    Namespace,
    GatewayClass,
    Gateway,
    HttpRoute,
    GrpcRoute,
    ReferenceGrant,
    NodePool,
    NodeClaim,
    Ec2NodeClass,
    VerticalPodAutoscaler,
}

impl ObjectKind {
    /// The kind as manifests spell it (`ConfigMap`, `HTTPRoute`).
    pub fn kind_name(self) -> &'static str {
        match self {
            ObjectKind::Node => "Node",
            ObjectKind::Pod => "Pod",
            ObjectKind::Service => "Service",
            ObjectKind::EndpointSlice => "EndpointSlice",
            ObjectKind::Deployment => "Deployment",
            ObjectKind::StatefulSet => "StatefulSet",
            ObjectKind::DaemonSet => "DaemonSet",
            ObjectKind::ReplicaSet => "ReplicaSet",
            ObjectKind::ConfigMap => "ConfigMap",
            ObjectKind::Event => "Event",
            ObjectKind::HorizontalPodAutoscaler => "HorizontalPodAutoscaler",
            ObjectKind::PodDisruptionBudget => "PodDisruptionBudget",
            ObjectKind::Namespace => "Namespace",
            ObjectKind::GatewayClass => "GatewayClass",
            ObjectKind::Gateway => "Gateway",
            ObjectKind::HttpRoute => "HTTPRoute",
            ObjectKind::GrpcRoute => "GRPCRoute",
            ObjectKind::ReferenceGrant => "ReferenceGrant",
            ObjectKind::NodePool => "NodePool",
            ObjectKind::NodeClaim => "NodeClaim",
            ObjectKind::Ec2NodeClass => "EC2NodeClass",
            ObjectKind::VerticalPodAutoscaler => "VerticalPodAutoscaler",
        }
    }

    /// The built-in kinds every cluster serves, which the live backend always watches.
    pub const CORE: [ObjectKind; 13] = [
        ObjectKind::Node,
        ObjectKind::Namespace,
        ObjectKind::Pod,
        ObjectKind::Service,
        ObjectKind::EndpointSlice,
        ObjectKind::Deployment,
        ObjectKind::StatefulSet,
        ObjectKind::DaemonSet,
        ObjectKind::ReplicaSet,
        ObjectKind::ConfigMap,
        ObjectKind::Event,
        ObjectKind::HorizontalPodAutoscaler,
        ObjectKind::PodDisruptionBudget,
    ];

    /// The kinds that come from CRDs, watched when discovery finds them.
    pub const CUSTOM: [ObjectKind; 9] = [
        ObjectKind::GatewayClass,
        ObjectKind::Gateway,
        ObjectKind::HttpRoute,
        ObjectKind::GrpcRoute,
        ObjectKind::ReferenceGrant,
        ObjectKind::NodePool,
        ObjectKind::NodeClaim,
        ObjectKind::Ec2NodeClass,
        ObjectKind::VerticalPodAutoscaler,
    ];

    /// The kind served as `resource` in `group`, if kockpit watches it.
    pub fn find(group: &str, resource: &str) -> Option<ObjectKind> {
        Self::CORE
            .into_iter()
            .chain(Self::CUSTOM)
            .find(|kind| kind.group() == group && kind.resource() == resource)
    }

    /// The plural resource name, as RBAC rules and error messages spell it.
    pub fn resource(self) -> &'static str {
        match self {
            ObjectKind::Node => "nodes",
            ObjectKind::Pod => "pods",
            ObjectKind::Service => "services",
            ObjectKind::EndpointSlice => "endpointslices",
            ObjectKind::Deployment => "deployments",
            ObjectKind::StatefulSet => "statefulsets",
            ObjectKind::DaemonSet => "daemonsets",
            ObjectKind::ReplicaSet => "replicasets",
            ObjectKind::ConfigMap => "configmaps",
            ObjectKind::Event => "events",
            ObjectKind::HorizontalPodAutoscaler => "horizontalpodautoscalers",
            ObjectKind::PodDisruptionBudget => "poddisruptionbudgets",
            ObjectKind::Namespace => "namespaces",
            ObjectKind::GatewayClass => "gatewayclasses",
            ObjectKind::Gateway => "gateways",
            ObjectKind::HttpRoute => "httproutes",
            ObjectKind::GrpcRoute => "grpcroutes",
            ObjectKind::ReferenceGrant => "referencegrants",
            ObjectKind::NodePool => "nodepools",
            ObjectKind::NodeClaim => "nodeclaims",
            ObjectKind::Ec2NodeClass => "ec2nodeclasses",
            ObjectKind::VerticalPodAutoscaler => "verticalpodautoscalers",
        }
    }

    /// The API group ("" for the core group).
    pub fn group(self) -> &'static str {
        match self {
            ObjectKind::Node
            | ObjectKind::Pod
            | ObjectKind::Service
            | ObjectKind::ConfigMap
            | ObjectKind::Event
            | ObjectKind::Namespace => "",
            ObjectKind::EndpointSlice => "discovery.k8s.io",
            ObjectKind::Deployment
            | ObjectKind::StatefulSet
            | ObjectKind::DaemonSet
            | ObjectKind::ReplicaSet => "apps",
            ObjectKind::HorizontalPodAutoscaler => "autoscaling",
            ObjectKind::PodDisruptionBudget => "policy",
            ObjectKind::GatewayClass
            | ObjectKind::Gateway
            | ObjectKind::HttpRoute
            | ObjectKind::GrpcRoute
            | ObjectKind::ReferenceGrant => "gateway.networking.k8s.io",
            ObjectKind::NodePool | ObjectKind::NodeClaim => "karpenter.sh",
            ObjectKind::Ec2NodeClass => "karpenter.k8s.aws",
            ObjectKind::VerticalPodAutoscaler => "autoscaling.k8s.io",
        }
    }

    /// Whether objects of this kind live in a namespace.
    pub fn namespaced(self) -> bool {
        !matches!(
            self,
            ObjectKind::Node
                | ObjectKind::Namespace
                | ObjectKind::GatewayClass
                | ObjectKind::NodePool
                | ObjectKind::NodeClaim
                | ObjectKind::Ec2NodeClass
        )
    }
}

/// The kinds a pane cannot do without, and those that only fill in details.
pub fn pane_kinds(pane: Pane) -> (&'static [ObjectKind], &'static [ObjectKind]) {
    use ObjectKind::*;
    match pane {
        Pane::Dns => (&[Deployment, Pod, ConfigMap], &[Node, DaemonSet]),
        Pane::Gateways => (
            &[Gateway, HttpRoute],
            &[
                GatewayClass,
                GrpcRoute,
                ReferenceGrant,
                Service,
                EndpointSlice,
            ],
        ),
        Pane::Flows => (&[Service, EndpointSlice], &[Node]),
        Pane::Nodes => (
            &[Node],
            &[
                Pod,
                NodePool,
                NodeClaim,
                Event,
                PodDisruptionBudget,
                Ec2NodeClass,
            ],
        ),
        Pane::Rightsizing => (
            &[Deployment, StatefulSet, DaemonSet],
            &[
                Pod,
                ReplicaSet,
                VerticalPodAutoscaler,
                HorizontalPodAutoscaler,
                Namespace,
            ],
        ),
        Pane::Spend => (&[Node], &[Pod, Deployment, StatefulSet, DaemonSet]),
    }
}

/// The workload that owns a pod or a ReplicaSet, as its owner reference names it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct OwnerRef {
    pub kind: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct NodeProjection {
    pub name: String,
    pub zone: Option<String>,
    pub region: Option<String>,
    pub instance_type: Option<String>,
    pub capacity: Option<Capacity>,
    pub nodepool: Option<String>,
    pub created: Option<Timestamp>,
    pub ready: bool,
    /// Carries the `karpenter.sh/disrupted` taint or is being deleted.
    pub disrupting: bool,
    pub cpu_allocatable_m: f64,
    pub memory_allocatable_mib: f64,
}

/// Requests and limits of one container, from a pod or a workload's pod template.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ContainerResources {
    pub name: String,
    pub cpu_request_m: Option<f64>,
    pub cpu_limit_m: Option<f64>,
    pub memory_request_mib: Option<f64>,
    pub memory_limit_mib: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct PodContainer {
    pub resources: ContainerResources,
    pub restarts: u32,
    /// `lastState.terminated.reason`, e.g. "OOMKilled".
    pub last_termination_reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct PodProjection {
    pub namespace: String,
    pub name: String,
    pub node: Option<String>,
    pub phase: String,
    /// The direct controller (a ReplicaSet for Deployment pods; resolved when assembling).
    pub owner: Option<OwnerRef>,
    /// The `k8s-app` label, which marks CoreDNS (`kube-dns`) and NodeLocal DNSCache pods.
    pub app: Option<String>,
    pub containers: Vec<PodContainer>,
    /// `dnsConfig.options[ndots]` when set.
    pub ndots: Option<u8>,
    /// Annotated `karpenter.sh/do-not-disrupt: "true"`.
    pub do_not_disrupt: bool,
    pub created: Option<Timestamp>,
    /// When the scheduler gave up on the pod (`PodScheduled=False, Unschedulable`).
    pub pending_since: Option<Timestamp>,
    /// The scheduler's message for an unschedulable pod.
    pub unschedulable: Option<String>,
    /// `status.podIP`: on the VPC CNI a VPC address, which flow logs name.
    pub ip: Option<IpAddr>,
}

impl PodProjection {
    /// Succeeded and Failed pods no longer hold resources on their node.
    pub fn is_running_or_pending(&self) -> bool {
        !matches!(self.phase.as_str(), "Succeeded" | "Failed")
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct ServiceProjection {
    pub namespace: String,
    pub name: String,
    /// `service.kubernetes.io/topology-mode` (or the older topology-aware-hints annotation).
    pub topology_mode: Option<String>,
    pub traffic_distribution: Option<String>,
    pub internal_traffic_policy_local: bool,
    /// `clusterIP: None`.
    pub headless: bool,
    /// Pods back it through a selector (not an ExternalName or a manual Service).
    pub has_selector: bool,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct EndpointProjection {
    pub ready: bool,
    pub zone: Option<String>,
    pub node: Option<String>,
    /// Carries `hints.forZones`.
    pub hinted: bool,
    /// The endpoint's first address.
    pub ip: Option<IpAddr>,
    /// The pod behind it (`targetRef` of kind Pod).
    pub pod: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct EndpointSliceProjection {
    pub namespace: String,
    pub name: String,
    /// The `kubernetes.io/service-name` label.
    pub service: Option<String>,
    pub endpoints: Vec<EndpointProjection>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum WorkloadKind {
    Deployment,
    StatefulSet,
    DaemonSet,
}

impl WorkloadKind {
    pub fn as_str(self) -> &'static str {
        match self {
            WorkloadKind::Deployment => "Deployment",
            WorkloadKind::StatefulSet => "StatefulSet",
            WorkloadKind::DaemonSet => "DaemonSet",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct WorkloadProjection {
    pub kind: WorkloadKind,
    pub namespace: String,
    pub name: String,
    /// Desired replicas (for a DaemonSet: the pods it should schedule).
    pub replicas: u32,
    pub ready_replicas: u32,
    /// The `k8s-app` label.
    pub app: Option<String>,
    pub containers: Vec<ContainerResources>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ReplicaSetProjection {
    pub namespace: String,
    pub name: String,
    pub owner: Option<OwnerRef>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ConfigMapProjection {
    pub namespace: String,
    pub name: String,
    /// `data.Corefile`; the only ConfigMap content kockpit keeps.
    pub corefile: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct EventProjection {
    pub namespace: String,
    pub name: String,
    pub object_kind: String,
    pub object_name: String,
    pub reason: String,
    pub message: String,
    /// The reporting controller, e.g. "karpenter".
    pub component: String,
    pub at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HpaProjection {
    pub namespace: String,
    pub name: String,
    pub target_kind: String,
    pub target_name: String,
    /// Scales on a `Resource` metric named cpu.
    pub on_cpu: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PdbProjection {
    pub namespace: String,
    pub name: String,
    /// "minAvailable 2" or "maxUnavailable 0", as the spec says it.
    pub rule: String,
    pub disruptions_allowed: i32,
    pub current_healthy: i32,
    pub desired_healthy: i32,
    pub expected_pods: i32,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct NamespaceProjection {
    pub name: String,
    pub cost_center: Option<String>,
    pub team: Option<String>,
    pub environment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct GatewayClassProjection {
    pub name: String,
    pub controller: String,
    pub accepted: Option<Condition>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct GatewayProjection {
    pub namespace: String,
    pub name: String,
    pub class: String,
    pub address: Option<String>,
    pub accepted: Option<Condition>,
    pub programmed: Option<Condition>,
    /// Sum of `status.listeners[].attachedRoutes`.
    pub attached_routes: u32,
}

/// A `parentRef` as written in a route's spec or echoed in its status.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct ParentRefProjection {
    /// "Gateway" when unset.
    pub kind: String,
    /// None means the route's own namespace.
    pub namespace: Option<String>,
    pub name: String,
    pub section: Option<String>,
}

/// What one controller reported about one parent of a route.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RouteParentStatusProjection {
    pub parent: ParentRefProjection,
    pub accepted: Option<Condition>,
    pub resolved_refs: Option<Condition>,
    /// The lowest `observedGeneration` of its conditions.
    pub observed_generation: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct BackendRefProjection {
    /// "Service" when unset.
    pub kind: String,
    /// None means the route's own namespace.
    pub namespace: Option<String>,
    pub name: String,
    pub port: Option<u16>,
    /// 1 when unset, as the Gateway API defines.
    pub weight: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RouteProjection {
    pub kind: RouteKind,
    pub namespace: String,
    pub name: String,
    pub hostnames: Vec<String>,
    pub parent_refs: Vec<ParentRefProjection>,
    pub parents: Vec<RouteParentStatusProjection>,
    pub backends: Vec<BackendRefProjection>,
    pub generation: i64,
}

/// Who may reference what across namespaces. Kept for the detail view; the pane judges
/// routes by the `ResolvedRefs` condition the controller wrote, not by re-evaluating grants.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReferenceGrantProjection {
    pub namespace: String,
    pub name: String,
    /// (kind, namespace) pairs allowed to refer.
    pub from: Vec<(String, String)>,
    /// (kind, optional name) pairs that may be referred to.
    pub to: Vec<(String, Option<String>)>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct NodePoolProjection {
    pub name: String,
    pub consolidation_policy: String,
    pub consolidate_after: Option<String>,
    pub budgets: Vec<DisruptionBudget>,
    pub cpu_limit: Option<f64>,
    pub cpu_provisioned: f64,
    pub weight: Option<i32>,
    pub capacity_types: Vec<Capacity>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct NodeClaimProjection {
    pub name: String,
    pub nodepool: Option<String>,
    /// `status.nodeName`, once the node registered.
    pub node: Option<String>,
    pub created: Option<Timestamp>,
    /// `metadata.deletionTimestamp`.
    pub deleting_since: Option<Timestamp>,
    /// When the `Initialized` condition became True.
    pub initialized_at: Option<Timestamp>,
    /// The reason of a `DisruptionReason` condition, when Karpenter wrote one.
    pub disruption_reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Ec2NodeClassProjection {
    pub name: String,
    pub ready: Option<bool>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct VpaContainerTarget {
    pub container: String,
    pub cpu_target_m: Option<f64>,
    pub memory_target_mib: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct VpaProjection {
    pub namespace: String,
    pub name: String,
    pub target_kind: String,
    pub target_name: String,
    /// `spec.updatePolicy.updateMode`; "Auto" when unset (the VPA default).
    pub update_mode: String,
    pub containers: Vec<VpaContainerTarget>,
}

/// A NodeClaim whose deletion a watcher saw, kept for the churn timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct ObservedDeletion {
    pub claim: NodeClaimProjection,
    pub at: Timestamp,
}

/// One projected object of any watched kind.
#[derive(Debug, Clone, PartialEq)]
pub enum Projection {
    Node(NodeProjection),
    Pod(PodProjection),
    Service(ServiceProjection),
    EndpointSlice(EndpointSliceProjection),
    Workload(WorkloadProjection),
    ReplicaSet(ReplicaSetProjection),
    ConfigMap(ConfigMapProjection),
    Event(EventProjection),
    Hpa(HpaProjection),
    Pdb(PdbProjection),
    Namespace(NamespaceProjection),
    GatewayClass(GatewayClassProjection),
    Gateway(GatewayProjection),
    Route(RouteProjection),
    ReferenceGrant(ReferenceGrantProjection),
    NodePool(NodePoolProjection),
    NodeClaim(NodeClaimProjection),
    Ec2NodeClass(Ec2NodeClassProjection),
    Vpa(VpaProjection),
}

impl Projection {
    pub fn kind(&self) -> ObjectKind {
        match self {
            Projection::Node(_) => ObjectKind::Node,
            Projection::Pod(_) => ObjectKind::Pod,
            Projection::Service(_) => ObjectKind::Service,
            Projection::EndpointSlice(_) => ObjectKind::EndpointSlice,
            Projection::Workload(w) => match w.kind {
                WorkloadKind::Deployment => ObjectKind::Deployment,
                WorkloadKind::StatefulSet => ObjectKind::StatefulSet,
                WorkloadKind::DaemonSet => ObjectKind::DaemonSet,
            },
            Projection::ReplicaSet(_) => ObjectKind::ReplicaSet,
            Projection::ConfigMap(_) => ObjectKind::ConfigMap,
            Projection::Event(_) => ObjectKind::Event,
            Projection::Hpa(_) => ObjectKind::HorizontalPodAutoscaler,
            Projection::Pdb(_) => ObjectKind::PodDisruptionBudget,
            Projection::Namespace(_) => ObjectKind::Namespace,
            Projection::GatewayClass(_) => ObjectKind::GatewayClass,
            Projection::Gateway(_) => ObjectKind::Gateway,
            Projection::Route(r) => match r.kind {
                RouteKind::Http => ObjectKind::HttpRoute,
                RouteKind::Grpc => ObjectKind::GrpcRoute,
            },
            Projection::ReferenceGrant(_) => ObjectKind::ReferenceGrant,
            Projection::NodePool(_) => ObjectKind::NodePool,
            Projection::NodeClaim(_) => ObjectKind::NodeClaim,
            Projection::Ec2NodeClass(_) => ObjectKind::Ec2NodeClass,
            Projection::Vpa(_) => ObjectKind::VerticalPodAutoscaler,
        }
    }

    pub fn key(&self) -> ObjectKey {
        match self {
            Projection::Node(p) => ObjectKey::cluster(&p.name),
            Projection::Pod(p) => ObjectKey::new(&p.namespace, &p.name),
            Projection::Service(p) => ObjectKey::new(&p.namespace, &p.name),
            Projection::EndpointSlice(p) => ObjectKey::new(&p.namespace, &p.name),
            Projection::Workload(p) => ObjectKey::new(&p.namespace, &p.name),
            Projection::ReplicaSet(p) => ObjectKey::new(&p.namespace, &p.name),
            Projection::ConfigMap(p) => ObjectKey::new(&p.namespace, &p.name),
            Projection::Event(p) => ObjectKey::new(&p.namespace, &p.name),
            Projection::Hpa(p) => ObjectKey::new(&p.namespace, &p.name),
            Projection::Pdb(p) => ObjectKey::new(&p.namespace, &p.name),
            Projection::Namespace(p) => ObjectKey::cluster(&p.name),
            Projection::GatewayClass(p) => ObjectKey::cluster(&p.name),
            Projection::Gateway(p) => ObjectKey::new(&p.namespace, &p.name),
            Projection::Route(p) => ObjectKey::new(&p.namespace, &p.name),
            Projection::ReferenceGrant(p) => ObjectKey::new(&p.namespace, &p.name),
            Projection::NodePool(p) => ObjectKey::cluster(&p.name),
            Projection::NodeClaim(p) => ObjectKey::cluster(&p.name),
            Projection::Ec2NodeClass(p) => ObjectKey::cluster(&p.name),
            Projection::Vpa(p) => ObjectKey::new(&p.namespace, &p.name),
        }
    }
}

/// How long deleted NodeClaims are remembered for the churn timeline.
pub const CHURN_WINDOW_SECONDS: i64 = 3600;

/// Which pane snapshots have inputs that changed since they were last assembled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Changed {
    pub dns: bool,
    pub gateways: bool,
    pub flows: bool,
    pub nodes: bool,
    pub workloads: bool,
}

impl Changed {
    pub const ALL: Changed = Changed {
        dns: true,
        gateways: true,
        flows: true,
        nodes: true,
        workloads: true,
    };

    pub fn any(self) -> bool {
        self.dns || self.gateways || self.flows || self.nodes || self.workloads
    }

    fn add(&mut self, other: Changed) {
        self.dns |= other.dns;
        self.gateways |= other.gateways;
        self.flows |= other.flows;
        self.nodes |= other.nodes;
        self.workloads |= other.workloads;
    }

    /// The snapshots that read objects of `kind` (pods and nodes are finer: see `upsert`).
    fn of_kind(kind: ObjectKind) -> Changed {
        let mut changed = Changed::default();
        match kind {
            ObjectKind::Node => {
                changed.nodes = true;
                changed.flows = true;
                changed.dns = true;
            }
            ObjectKind::Pod => changed = Changed::ALL,
            ObjectKind::Service | ObjectKind::EndpointSlice => {
                changed.flows = true;
                changed.gateways = true;
            }
            ObjectKind::Deployment | ObjectKind::DaemonSet => {
                changed.dns = true;
                changed.workloads = true;
            }
            ObjectKind::StatefulSet
            | ObjectKind::ReplicaSet
            | ObjectKind::HorizontalPodAutoscaler
            | ObjectKind::Namespace
            | ObjectKind::VerticalPodAutoscaler => changed.workloads = true,
            ObjectKind::ConfigMap => changed.dns = true,
            ObjectKind::Event
            | ObjectKind::PodDisruptionBudget
            | ObjectKind::NodePool
            | ObjectKind::NodeClaim
            | ObjectKind::Ec2NodeClass => changed.nodes = true,
            ObjectKind::GatewayClass
            | ObjectKind::Gateway
            | ObjectKind::HttpRoute
            | ObjectKind::GrpcRoute
            | ObjectKind::ReferenceGrant => changed.gateways = true,
        }
        changed
    }
}

/// Stores `value` under `key`; false when an equal value was already there.
fn put<T: PartialEq>(map: &mut BTreeMap<ObjectKey, T>, key: ObjectKey, value: T) -> bool {
    match map.entry(key) {
        Entry::Occupied(mut entry) => {
            if *entry.get() == value {
                return false;
            }
            entry.insert(value);
            true
        }
        Entry::Vacant(entry) => {
            entry.insert(value);
            true
        }
    }
}

/// Everything kockpit knows about the cluster's objects, keyed by kind, namespace and name.
/// Pods are kept as running totals (see `pods`); every other kind whole, as projected.
#[derive(Debug, Clone, Default)]
pub struct ClusterObjects {
    pub nodes: BTreeMap<ObjectKey, NodeProjection>,
    pub pods: Pods,
    pub services: BTreeMap<ObjectKey, ServiceProjection>,
    pub endpoint_slices: BTreeMap<ObjectKey, EndpointSliceProjection>,
    pub deployments: BTreeMap<ObjectKey, WorkloadProjection>,
    pub stateful_sets: BTreeMap<ObjectKey, WorkloadProjection>,
    pub daemon_sets: BTreeMap<ObjectKey, WorkloadProjection>,
    pub replica_sets: BTreeMap<ObjectKey, ReplicaSetProjection>,
    pub config_maps: BTreeMap<ObjectKey, ConfigMapProjection>,
    pub events: BTreeMap<ObjectKey, EventProjection>,
    pub hpas: BTreeMap<ObjectKey, HpaProjection>,
    pub pdbs: BTreeMap<ObjectKey, PdbProjection>,
    pub namespaces: BTreeMap<ObjectKey, NamespaceProjection>,
    pub gateway_classes: BTreeMap<ObjectKey, GatewayClassProjection>,
    pub gateways: BTreeMap<ObjectKey, GatewayProjection>,
    pub http_routes: BTreeMap<ObjectKey, RouteProjection>,
    pub grpc_routes: BTreeMap<ObjectKey, RouteProjection>,
    pub reference_grants: BTreeMap<ObjectKey, ReferenceGrantProjection>,
    pub nodepools: BTreeMap<ObjectKey, NodePoolProjection>,
    pub nodeclaims: BTreeMap<ObjectKey, NodeClaimProjection>,
    pub ec2_node_classes: BTreeMap<ObjectKey, Ec2NodeClassProjection>,
    pub vpas: BTreeMap<ObjectKey, VpaProjection>,
    /// NodeClaims seen disappearing, newest last, pruned to the churn window.
    pub deleted_nodeclaims: Vec<ObservedDeletion>,
    /// Snapshots whose inputs changed since `take_changed`.
    changed: Changed,
    /// Kinds being relisted: the keys held before the relist that it has not delivered yet.
    relisting: BTreeMap<ObjectKind, BTreeSet<ObjectKey>>,
}

impl ClusterObjects {
    /// Which snapshots need assembling again.
    pub fn changed(&self) -> Changed {
        self.changed
    }

    /// Which snapshots need assembling again; clears the record.
    pub fn take_changed(&mut self) -> Changed {
        std::mem::take(&mut self.changed)
    }

    /// Marks snapshots as changed by something outside the store (a metrics source).
    pub fn mark_changed(&mut self, changed: Changed) {
        self.changed.add(changed);
    }

    /// Stores a new or changed object.
    pub fn upsert(&mut self, projection: Projection) {
        let kind = projection.kind();
        if let Some(pending) = self.relisting.get_mut(&kind).filter(|p| !p.is_empty()) {
            pending.remove(&projection.key());
        }
        if let Projection::Pod(pod) = projection {
            // Pods need no key of their own: they are filed by namespace and name.
            let change = self.pods.upsert(pod);
            self.changed.nodes |= change.nodes;
            self.changed.dns |= change.dns;
            self.changed.workloads |= change.workloads;
            return;
        }
        let key = projection.key();
        let changed = match projection {
            Projection::Node(p) => {
                let zone_before = self.nodes.get(&key).map(|n| n.zone.clone());
                let zone_after = Some(p.zone.clone());
                if put(&mut self.nodes, key, p) {
                    // Zones place CoreDNS pods and endpoints; other node fields only the
                    // Nodes pane reads.
                    let zone_changed = zone_before != zone_after;
                    self.changed.dns |= zone_changed;
                    self.changed.flows |= zone_changed;
                    self.changed.nodes = true;
                }
                return;
            }
            Projection::Pod(_) => false,
            Projection::Service(p) => put(&mut self.services, key, p),
            Projection::EndpointSlice(p) => put(&mut self.endpoint_slices, key, p),
            Projection::Workload(p) => match p.kind {
                WorkloadKind::Deployment => put(&mut self.deployments, key, p),
                WorkloadKind::StatefulSet => put(&mut self.stateful_sets, key, p),
                WorkloadKind::DaemonSet => put(&mut self.daemon_sets, key, p),
            },
            Projection::ReplicaSet(p) => put(&mut self.replica_sets, key, p),
            Projection::ConfigMap(p) => put(&mut self.config_maps, key, p),
            Projection::Event(p) => put(&mut self.events, key, p),
            Projection::Hpa(p) => put(&mut self.hpas, key, p),
            Projection::Pdb(p) => put(&mut self.pdbs, key, p),
            Projection::Namespace(p) => put(&mut self.namespaces, key, p),
            Projection::GatewayClass(p) => put(&mut self.gateway_classes, key, p),
            Projection::Gateway(p) => put(&mut self.gateways, key, p),
            Projection::Route(p) => match p.kind {
                RouteKind::Http => put(&mut self.http_routes, key, p),
                RouteKind::Grpc => put(&mut self.grpc_routes, key, p),
            },
            Projection::ReferenceGrant(p) => put(&mut self.reference_grants, key, p),
            Projection::NodePool(p) => put(&mut self.nodepools, key, p),
            Projection::NodeClaim(p) => put(&mut self.nodeclaims, key, p),
            Projection::Ec2NodeClass(p) => put(&mut self.ec2_node_classes, key, p),
            Projection::Vpa(p) => put(&mut self.vpas, key, p),
        };
        if changed {
            self.changed.add(Changed::of_kind(kind));
        }
    }

    /// Forgets a deleted object. A deleted NodeClaim is remembered (with `at`) for churn.
    pub fn remove(&mut self, kind: ObjectKind, key: &ObjectKey, at: Timestamp) {
        let removed = match kind {
            ObjectKind::Node => self.nodes.remove(key).is_some(),
            ObjectKind::Pod => {
                let change = self.pods.remove(key);
                self.changed.nodes |= change.nodes;
                self.changed.dns |= change.dns;
                self.changed.workloads |= change.workloads;
                return;
            }
            ObjectKind::Service => self.services.remove(key).is_some(),
            ObjectKind::EndpointSlice => self.endpoint_slices.remove(key).is_some(),
            ObjectKind::Deployment => self.deployments.remove(key).is_some(),
            ObjectKind::StatefulSet => self.stateful_sets.remove(key).is_some(),
            ObjectKind::DaemonSet => self.daemon_sets.remove(key).is_some(),
            ObjectKind::ReplicaSet => self.replica_sets.remove(key).is_some(),
            ObjectKind::ConfigMap => self.config_maps.remove(key).is_some(),
            ObjectKind::Event => self.events.remove(key).is_some(),
            ObjectKind::HorizontalPodAutoscaler => self.hpas.remove(key).is_some(),
            ObjectKind::PodDisruptionBudget => self.pdbs.remove(key).is_some(),
            ObjectKind::Namespace => self.namespaces.remove(key).is_some(),
            ObjectKind::GatewayClass => self.gateway_classes.remove(key).is_some(),
            ObjectKind::Gateway => self.gateways.remove(key).is_some(),
            ObjectKind::HttpRoute => self.http_routes.remove(key).is_some(),
            ObjectKind::GrpcRoute => self.grpc_routes.remove(key).is_some(),
            ObjectKind::ReferenceGrant => self.reference_grants.remove(key).is_some(),
            ObjectKind::NodePool => self.nodepools.remove(key).is_some(),
            ObjectKind::NodeClaim => {
                let removed = self.nodeclaims.remove(key);
                let found = removed.is_some();
                if let Some(claim) = removed {
                    self.deleted_nodeclaims.push(ObservedDeletion { claim, at });
                }
                self.prune_deletions(at);
                found
            }
            ObjectKind::Ec2NodeClass => self.ec2_node_classes.remove(key).is_some(),
            ObjectKind::VerticalPodAutoscaler => self.vpas.remove(key).is_some(),
        };
        if removed {
            self.changed.add(Changed::of_kind(kind));
        }
    }

    /// A (re)list of `kind` begins: what it does not deliver before `end_relist` is gone.
    /// The objects are applied as they arrive, page by page, so a large list is never held
    /// twice.
    pub fn begin_relist(&mut self, kind: ObjectKind) {
        let held: BTreeSet<ObjectKey> = self.keys(kind).into_iter().collect();
        self.relisting.insert(kind, held);
    }

    /// The (re)list of `kind` is complete: objects it did not deliver count as deleted at
    /// `at`. Without a `begin_relist`, nothing is removed.
    pub fn end_relist(&mut self, kind: ObjectKind, at: Timestamp) {
        for key in self.relisting.remove(&kind).unwrap_or_default() {
            self.remove(kind, &key, at);
        }
    }

    /// Replaces every object of `kind` with a fresh list (after an initial list or a relist).
    /// NodeClaims that vanished between the lists count as deleted at `at`.
    pub fn replace(&mut self, kind: ObjectKind, projections: Vec<Projection>, at: Timestamp) {
        self.begin_relist(kind);
        for projection in projections {
            if projection.kind() == kind {
                self.upsert(projection);
            }
        }
        self.end_relist(kind, at);
    }

    fn keys(&self, kind: ObjectKind) -> Vec<ObjectKey> {
        fn of<T>(map: &BTreeMap<ObjectKey, T>) -> Vec<ObjectKey> {
            map.keys().cloned().collect()
        }
        match kind {
            ObjectKind::Node => of(&self.nodes),
            ObjectKind::Pod => self.pods.keys(),
            ObjectKind::Service => of(&self.services),
            ObjectKind::EndpointSlice => of(&self.endpoint_slices),
            ObjectKind::Deployment => of(&self.deployments),
            ObjectKind::StatefulSet => of(&self.stateful_sets),
            ObjectKind::DaemonSet => of(&self.daemon_sets),
            ObjectKind::ReplicaSet => of(&self.replica_sets),
            ObjectKind::ConfigMap => of(&self.config_maps),
            ObjectKind::Event => of(&self.events),
            ObjectKind::HorizontalPodAutoscaler => of(&self.hpas),
            ObjectKind::PodDisruptionBudget => of(&self.pdbs),
            ObjectKind::Namespace => of(&self.namespaces),
            ObjectKind::GatewayClass => of(&self.gateway_classes),
            ObjectKind::Gateway => of(&self.gateways),
            ObjectKind::HttpRoute => of(&self.http_routes),
            ObjectKind::GrpcRoute => of(&self.grpc_routes),
            ObjectKind::ReferenceGrant => of(&self.reference_grants),
            ObjectKind::NodePool => of(&self.nodepools),
            ObjectKind::NodeClaim => of(&self.nodeclaims),
            ObjectKind::Ec2NodeClass => of(&self.ec2_node_classes),
            ObjectKind::VerticalPodAutoscaler => of(&self.vpas),
        }
    }

    fn prune_deletions(&mut self, now: Timestamp) {
        let oldest = now - chrono::Duration::seconds(CHURN_WINDOW_SECONDS);
        self.deleted_nodeclaims.retain(|d| d.at >= oldest);
    }

    /// The workload a pod belongs to, following a ReplicaSet to its Deployment.
    pub fn pod_workload(&self, pod: &PodProjection) -> Option<OwnerRef> {
        let owner = pod.owner.as_ref()?;
        Some(self.owner_workload(&pod.namespace, &owner.kind, &owner.name))
    }

    /// The workload behind a pod's direct owner: a ReplicaSet's Deployment, else the owner.
    pub fn owner_workload(&self, namespace: &str, kind: &str, name: &str) -> OwnerRef {
        if kind == "ReplicaSet"
            && let Some(deployment) = self
                .replica_sets
                .get(&ObjectKey::new(namespace, name))
                .and_then(|rs| rs.owner.clone())
        {
            return deployment;
        }
        OwnerRef {
            kind: kind.to_string(),
            name: name.to_string(),
        }
    }

    /// The zone of a node, when the node and its zone label are known.
    pub fn node_zone(&self, node: &str) -> Option<&str> {
        self.nodes
            .get(&ObjectKey::cluster(node))
            .and_then(|n| n.zone.as_deref())
    }

    /// All routes, HTTP first, each in namespace/name order.
    pub fn routes(&self) -> impl Iterator<Item = &RouteProjection> {
        self.http_routes.values().chain(self.grpc_routes.values())
    }

    /// The workloads of all three kinds.
    pub fn workloads(&self) -> impl Iterator<Item = &WorkloadProjection> {
        self.deployments
            .values()
            .chain(self.stateful_sets.values())
            .chain(self.daemon_sets.values())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        chrono::DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap_or_default()
    }

    fn claim(name: &str) -> Projection {
        Projection::NodeClaim(NodeClaimProjection {
            name: name.to_string(),
            ..Default::default()
        })
    }

    #[test]
    fn replace_drops_vanished_objects_and_remembers_vanished_claims() {
        let mut objects = ClusterObjects::default();
        objects.upsert(claim("a"));
        objects.upsert(claim("b"));
        objects.replace(ObjectKind::NodeClaim, vec![claim("b"), claim("c")], at(10));
        let names: Vec<&str> = objects.nodeclaims.keys().map(|k| k.name.as_str()).collect();
        assert_eq!(names, ["b", "c"]);
        assert_eq!(objects.deleted_nodeclaims.len(), 1);
        assert_eq!(objects.deleted_nodeclaims[0].claim.name, "a");
        // An hour and more later the deletion has left the churn window.
        objects.remove(ObjectKind::NodeClaim, &ObjectKey::cluster("b"), at(5000));
        assert_eq!(objects.deleted_nodeclaims.len(), 1);
        assert_eq!(objects.deleted_nodeclaims[0].claim.name, "b");
    }

    #[test]
    fn pod_owner_resolves_through_its_replica_set() {
        let mut objects = ClusterObjects::default();
        objects.upsert(Projection::ReplicaSet(ReplicaSetProjection {
            namespace: "shop".into(),
            name: "frontend-7d9f".into(),
            owner: Some(OwnerRef {
                kind: "Deployment".into(),
                name: "frontend".into(),
            }),
        }));
        let pod = PodProjection {
            namespace: "shop".into(),
            name: "frontend-7d9f-x2".into(),
            owner: Some(OwnerRef {
                kind: "ReplicaSet".into(),
                name: "frontend-7d9f".into(),
            }),
            ..Default::default()
        };
        assert_eq!(
            objects.pod_workload(&pod),
            Some(OwnerRef {
                kind: "Deployment".into(),
                name: "frontend".into()
            })
        );
    }
}
