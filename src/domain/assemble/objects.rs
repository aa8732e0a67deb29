//! Compact projections of the cluster objects the panes read, and the keyed store that holds
//! them. A backend turns each watched object into one of these (only the fields a pane uses)
//! and applies changes here; the assembly functions read the store.

use std::collections::BTreeMap;

use crate::domain::model::{Capacity, Condition, DisruptionBudget, RouteKind};
use crate::domain::time::Timestamp;

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

/// Everything kockpit knows about the cluster's objects, keyed by kind, namespace and name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClusterObjects {
    pub nodes: BTreeMap<ObjectKey, NodeProjection>,
    pub pods: BTreeMap<ObjectKey, PodProjection>,
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
}

impl ClusterObjects {
    /// Stores a new or changed object.
    pub fn upsert(&mut self, projection: Projection) {
        let key = projection.key();
        match projection {
            Projection::Node(p) => _ = self.nodes.insert(key, p),
            Projection::Pod(p) => _ = self.pods.insert(key, p),
            Projection::Service(p) => _ = self.services.insert(key, p),
            Projection::EndpointSlice(p) => _ = self.endpoint_slices.insert(key, p),
            Projection::Workload(p) => match p.kind {
                WorkloadKind::Deployment => _ = self.deployments.insert(key, p),
                WorkloadKind::StatefulSet => _ = self.stateful_sets.insert(key, p),
                WorkloadKind::DaemonSet => _ = self.daemon_sets.insert(key, p),
            },
            Projection::ReplicaSet(p) => _ = self.replica_sets.insert(key, p),
            Projection::ConfigMap(p) => _ = self.config_maps.insert(key, p),
            Projection::Event(p) => _ = self.events.insert(key, p),
            Projection::Hpa(p) => _ = self.hpas.insert(key, p),
            Projection::Pdb(p) => _ = self.pdbs.insert(key, p),
            Projection::Namespace(p) => _ = self.namespaces.insert(key, p),
            Projection::GatewayClass(p) => _ = self.gateway_classes.insert(key, p),
            Projection::Gateway(p) => _ = self.gateways.insert(key, p),
            Projection::Route(p) => match p.kind {
                RouteKind::Http => _ = self.http_routes.insert(key, p),
                RouteKind::Grpc => _ = self.grpc_routes.insert(key, p),
            },
            Projection::ReferenceGrant(p) => _ = self.reference_grants.insert(key, p),
            Projection::NodePool(p) => _ = self.nodepools.insert(key, p),
            Projection::NodeClaim(p) => _ = self.nodeclaims.insert(key, p),
            Projection::Ec2NodeClass(p) => _ = self.ec2_node_classes.insert(key, p),
            Projection::Vpa(p) => _ = self.vpas.insert(key, p),
        }
    }

    /// Forgets a deleted object. A deleted NodeClaim is remembered (with `at`) for churn.
    pub fn remove(&mut self, kind: ObjectKind, key: &ObjectKey, at: Timestamp) {
        match kind {
            ObjectKind::Node => _ = self.nodes.remove(key),
            ObjectKind::Pod => _ = self.pods.remove(key),
            ObjectKind::Service => _ = self.services.remove(key),
            ObjectKind::EndpointSlice => _ = self.endpoint_slices.remove(key),
            ObjectKind::Deployment => _ = self.deployments.remove(key),
            ObjectKind::StatefulSet => _ = self.stateful_sets.remove(key),
            ObjectKind::DaemonSet => _ = self.daemon_sets.remove(key),
            ObjectKind::ReplicaSet => _ = self.replica_sets.remove(key),
            ObjectKind::ConfigMap => _ = self.config_maps.remove(key),
            ObjectKind::Event => _ = self.events.remove(key),
            ObjectKind::HorizontalPodAutoscaler => _ = self.hpas.remove(key),
            ObjectKind::PodDisruptionBudget => _ = self.pdbs.remove(key),
            ObjectKind::Namespace => _ = self.namespaces.remove(key),
            ObjectKind::GatewayClass => _ = self.gateway_classes.remove(key),
            ObjectKind::Gateway => _ = self.gateways.remove(key),
            ObjectKind::HttpRoute => _ = self.http_routes.remove(key),
            ObjectKind::GrpcRoute => _ = self.grpc_routes.remove(key),
            ObjectKind::ReferenceGrant => _ = self.reference_grants.remove(key),
            ObjectKind::NodePool => _ = self.nodepools.remove(key),
            ObjectKind::NodeClaim => {
                if let Some(claim) = self.nodeclaims.remove(key) {
                    self.deleted_nodeclaims.push(ObservedDeletion { claim, at });
                }
                self.prune_deletions(at);
            }
            ObjectKind::Ec2NodeClass => _ = self.ec2_node_classes.remove(key),
            ObjectKind::VerticalPodAutoscaler => _ = self.vpas.remove(key),
        }
    }

    /// Replaces every object of `kind` with a fresh list (after an initial list or a relist).
    /// NodeClaims that vanished between the lists count as deleted at `at`.
    pub fn replace(&mut self, kind: ObjectKind, projections: Vec<Projection>, at: Timestamp) {
        let keys: Vec<ObjectKey> = self.keys(kind);
        let fresh: std::collections::BTreeSet<ObjectKey> =
            projections.iter().map(Projection::key).collect();
        for key in keys {
            if !fresh.contains(&key) {
                self.remove(kind, &key, at);
            }
        }
        for projection in projections {
            if projection.kind() == kind {
                self.upsert(projection);
            }
        }
    }

    fn keys(&self, kind: ObjectKind) -> Vec<ObjectKey> {
        fn of<T>(map: &BTreeMap<ObjectKey, T>) -> Vec<ObjectKey> {
            map.keys().cloned().collect()
        }
        match kind {
            ObjectKind::Node => of(&self.nodes),
            ObjectKind::Pod => of(&self.pods),
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
        if owner.kind == "ReplicaSet" {
            let key = ObjectKey::new(&pod.namespace, &owner.name);
            return match self.replica_sets.get(&key).and_then(|rs| rs.owner.clone()) {
                Some(deployment) => Some(deployment),
                None => Some(owner.clone()),
            };
        }
        Some(owner.clone())
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
