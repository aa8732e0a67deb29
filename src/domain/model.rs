//! Compact snapshot types: what each pane needs to know about the cluster, not whole
//! Kubernetes objects. Every backend (sim, live, replay) delivers these as `Update`s, and a
//! recording is just the stream of them, so everything here is serialisable.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::time::Timestamp;

/// The six panes of the cockpit, in the order the user cycles through them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Pane {
    Dns,
    Gateways,
    Flows,
    Nodes,
    Rightsizing,
    Spend,
}

impl Pane {
    pub const ALL: [Pane; 6] = [
        Pane::Dns,
        Pane::Gateways,
        Pane::Flows,
        Pane::Nodes,
        Pane::Rightsizing,
        Pane::Spend,
    ];

    /// The name the user sees in tabs and headings.
    pub fn title(self) -> &'static str {
        match self {
            Pane::Dns => "DNS",
            Pane::Gateways => "Gateways",
            Pane::Flows => "East-West",
            Pane::Nodes => "Nodes",
            Pane::Rightsizing => "Right-sizing",
            Pane::Spend => "Spend",
        }
    }

    /// A short machine-friendly name, used in finding ids and JSON.
    pub fn slug(self) -> &'static str {
        match self {
            Pane::Dns => "dns",
            Pane::Gateways => "gateways",
            Pane::Flows => "flows",
            Pane::Nodes => "nodes",
            Pane::Rightsizing => "rightsizing",
            Pane::Spend => "spend",
        }
    }
}

/// The Kubernetes object a finding or a row is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ObjectRef {
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
}

impl ObjectRef {
    pub fn namespaced(kind: &str, namespace: &str, name: &str) -> Self {
        ObjectRef {
            kind: kind.to_string(),
            namespace: Some(namespace.to_string()),
            name: name.to_string(),
        }
    }

    pub fn cluster_scoped(kind: &str, name: &str) -> Self {
        ObjectRef {
            kind: kind.to_string(),
            namespace: None,
            name: name.to_string(),
        }
    }
}

impl std::fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{} {}/{}", self.kind, ns, self.name),
            None => write!(f, "{} {}", self.kind, self.name),
        }
    }
}

/// What the banner says about where the facts come from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClusterInfo {
    /// Cluster (or kubeconfig context) name.
    pub name: String,
    /// AWS region, used to pick prices.
    pub region: String,
    /// The kind of source: "simulated", "live" or "replay".
    pub source: String,
    /// Extra detail for the banner, e.g. "scenario dns-storm, seed 7, 1x".
    pub detail: String,
}

/// One message from a backend: a fresh fact about one part of the cluster.
///
/// Each variant replaces what the cockpit knew about that part; a recording is the
/// sequence of these with their timestamps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Update {
    Cluster(ClusterInfo),
    /// The source's clock moved on (the simulator's virtual clock, or wall time).
    Clock {
        at: Timestamp,
    },
    Dns(DnsSnapshot),
    Gateways(GatewaySnapshot),
    Flows(FlowSnapshot),
    Nodes(NodeSnapshot),
    Workloads(WorkloadSnapshot),
    /// A source of one pane became healthy, degraded or unavailable.
    Source(SourceStatus),
    /// The backend has delivered its initial state (history included): from here on the
    /// cockpit shows the cluster as it is, and one-shot commands such as `snapshot` can read it.
    InitialSyncDone,
    /// The alerts firing now (Prometheus `ALERTS`); each replaces the previous set.
    Alerts(super::alerts::AlertSnapshot),
    /// A message for the user from the source itself (e.g. where a damaged recording stopped).
    Notice {
        text: String,
    },
    /// The AWS bill so far this month (CloudWatch `AWS/Billing`); each replaces the last.
    Billing(BilledSpend),
    /// How one source (Kubernetes API, Prometheus, CloudWatch…) is doing; each replaces the
    /// last of the same source.
    Health(SourceHealth),
    /// An object too large to read (over `limits::OBJECT_BYTES`) was left out; the pane it
    /// feeds shows a finding until it is read again or deleted.
    Oversized(OversizedObject),
    /// The checks `kockpit doctor` makes, as the live backend ran them at start; each run
    /// replaces the last.
    Checks(super::checks::Checks),
}

impl Update {
    /// A pane snapshot: a later one of the same pane replaces it whole.
    pub fn is_pane_snapshot(&self) -> bool {
        matches!(
            self,
            Update::Dns(_)
                | Update::Gateways(_)
                | Update::Flows(_)
                | Update::Nodes(_)
                | Update::Workloads(_)
        )
    }
}

/// An object the source left out because of its size.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OversizedObject {
    pub pane: Pane,
    pub object: ObjectRef,
    /// About how large it is; 0 once it is gone or small enough again (the finding ends).
    pub bytes: u64,
    pub limit: u64,
}

/// How one source is doing, for the source-health view: where it is, when it last
/// answered, how long that took, and its last error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceHealth {
    /// "kubernetes", "prometheus", "cloudwatch", "simulator", "recording".
    pub source: String,
    /// Where it is (URL without credentials, file, scenario).
    pub endpoint: String,
    pub last_success: Option<Timestamp>,
    /// How long the last request took, in milliseconds (for Kubernetes: the last full list).
    pub latency_ms: Option<f64>,
    pub last_error: Option<String>,
    pub last_error_at: Option<Timestamp>,
    /// Requests answered (for Kubernetes: lists and watch events) and failed.
    pub queries_ok: u64,
    pub queries_failed: u64,
    /// Anything else worth a line, e.g. what the last flow-log query scanned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl SourceHealth {
    /// A source that has not answered yet.
    pub fn new(source: &str, endpoint: &str) -> Self {
        SourceHealth {
            source: source.to_string(),
            endpoint: endpoint.to_string(),
            last_success: None,
            latency_ms: None,
            last_error: None,
            last_error_at: None,
            queries_ok: 0,
            queries_failed: 0,
            detail: None,
        }
    }

    /// The last error is newer than the last success: the source is failing now.
    pub fn failing(&self) -> bool {
        match (self.last_error_at, self.last_success) {
            (Some(error), Some(ok)) => error > ok,
            (Some(_), None) => true,
            (None, _) => false,
        }
    }
}

/// How the data behind a pane is doing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceStatus {
    pub pane: Pane,
    /// e.g. "kubernetes", "prometheus", "cloudwatch", "simulator".
    pub source: String,
    pub state: SourceState,
    pub at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum SourceState {
    Ok,
    /// Some figures are missing or stale; the pane still shows what it has.
    Degraded {
        cause: String,
    },
    /// Nothing can be read (unreachable, 403 and the like).
    Unavailable {
        cause: String,
    },
    /// The thing the pane reads is not installed in this cluster (e.g. Karpenter CRDs).
    NotInstalled {
        what: String,
    },
}

// ---------------------------------------------------------------------------------------
// DNS

/// What the DNS pane knows about CoreDNS. The Kubernetes facts are always there; the
/// figures only a metrics source can give are in `metrics`, absent without one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DnsSnapshot {
    pub at: Timestamp,
    pub replicas: u32,
    pub ready_replicas: u32,
    pub memory_limit_mib: Option<f64>,
    pub pods: Vec<DnsPod>,
    /// The Corefile text from ConfigMap kube-system/coredns, when readable.
    pub corefile: Option<String>,
    /// Whether NodeLocal DNSCache runs in the cluster.
    pub nodelocal_dns: bool,
    /// CoreDNS's own metrics; `None` when no metrics source is configured or reachable.
    pub metrics: Option<DnsMetrics>,
}

/// CoreDNS figures from its Prometheus metrics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DnsMetrics {
    /// Queries per second across all CoreDNS pods.
    pub qps: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// hits / (hits + misses), 0..=1.
    pub cache_hit_ratio: f64,
    /// Responses per second by rcode (NOERROR, NXDOMAIN, SERVFAIL, REFUSED…).
    pub rcodes: Vec<RcodeRate>,
    /// Latency of the forward plugin towards the VPC resolver, when known.
    pub upstream_p99_ms: Option<f64>,
    pub upstream_qps: Option<f64>,
    /// Workloads sending the most queries that end in NXDOMAIN (search-path expansion).
    pub nxdomain_sources: Vec<DnsClient>,
    /// Panics counted in the last hour (coredns_panics_total increase).
    pub panics_last_hour: u32,
}

impl DnsMetrics {
    fn rcode_share(&self, rcode: &str) -> f64 {
        let total: f64 = self.rcodes.iter().map(|r| r.qps).sum();
        if total <= 0.0 {
            return 0.0;
        }
        let matching: f64 = self
            .rcodes
            .iter()
            .filter(|r| r.rcode.eq_ignore_ascii_case(rcode))
            .map(|r| r.qps)
            .sum();
        matching / total
    }

    pub fn servfail_ratio(&self) -> f64 {
        self.rcode_share("SERVFAIL")
    }

    pub fn nxdomain_ratio(&self) -> f64 {
        self.rcode_share("NXDOMAIN")
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RcodeRate {
    pub rcode: String,
    pub qps: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DnsPod {
    pub name: String,
    pub node: String,
    pub zone: String,
    /// Per-pod figures come from metrics and are absent without a metrics source.
    pub qps: Option<f64>,
    pub memory_mib: Option<f64>,
    pub cpu_millicores: Option<f64>,
    /// The pod's IP: a scrape that keeps no pod label (Amazon Managed Prometheus's collector)
    /// names CoreDNS pods only by their address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DnsClient {
    pub namespace: String,
    pub workload: String,
    pub qps: f64,
    pub nxdomain_ratio: f64,
    /// The `ndots` the workload's pods resolve with (5 when unset, the Kubernetes default).
    pub ndots: u8,
}

// ---------------------------------------------------------------------------------------
// Gateways

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GatewaySnapshot {
    pub at: Timestamp,
    pub gateways: Vec<GatewayStatus>,
    pub routes: Vec<RouteStatus>,
}

/// A status condition as Kubernetes reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Condition {
    pub status: ConditionStatus,
    pub reason: String,
    #[serde(default)]
    pub message: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConditionStatus {
    True,
    False,
    Unknown,
}

impl Condition {
    pub fn is_true(&self) -> bool {
        self.status == ConditionStatus::True
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GatewayStatus {
    pub namespace: String,
    pub name: String,
    pub class: String,
    pub address: Option<String>,
    pub accepted: Option<Condition>,
    pub programmed: Option<Condition>,
    pub attached_routes: u32,
    /// Requests per second through the gateway's load balancer, when known.
    pub requests_per_sec: Option<f64>,
    /// Share of 5xx responses, 0..=1, when known.
    pub error_5xx_ratio: Option<f64>,
    /// The gateway's AWS load balancer as CloudWatch reports it (`--cloudwatch`); `None`
    /// without CloudWatch or when the address is not an ELB hostname CloudWatch knows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer: Option<LoadBalancerMetrics>,
}

/// Application (ALB) or Network (NLB) load balancer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LoadBalancerKind {
    Application,
    Network,
}

impl LoadBalancerKind {
    /// "ALB" or "NLB", as the user knows them.
    pub fn short(self) -> &'static str {
        match self {
            LoadBalancerKind::Application => "ALB",
            LoadBalancerKind::Network => "NLB",
        }
    }
}

/// A load balancer's figures from CloudWatch (`AWS/ApplicationELB` or `AWS/NetworkELB`),
/// for the newest complete minute CloudWatch has (it lags real time by one to three).
/// Figures a load balancer kind does not publish, or that failed to load, are `None`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadBalancerMetrics {
    /// The CloudWatch `LoadBalancer` dimension: `app/NAME/ID` or `net/NAME/ID`.
    pub name: String,
    pub kind: LoadBalancerKind,
    /// Where the figures come from, e.g. "CloudWatch AWS/ApplicationELB".
    pub source: String,
    /// The start of the minute the figures describe.
    pub minute: Timestamp,
    /// ALB `RequestCount` (Sum) per second.
    pub requests_per_sec: Option<f64>,
    /// ALB `HTTPCode_Target_5XX_Count` (Sum) per second: 5xx the backends returned.
    pub target_5xx_per_sec: Option<f64>,
    /// ALB `HTTPCode_ELB_5XX_Count` (Sum) per second: 5xx the load balancer itself returned
    /// (no healthy target, timeouts), which no backend metric shows.
    pub elb_5xx_per_sec: Option<f64>,
    /// ALB `TargetResponseTime` p99, in milliseconds.
    pub p99_response_ms: Option<f64>,
    /// `HealthyHostCount` (Average), summed over the load balancer's target groups.
    pub healthy_hosts: Option<f64>,
    /// `UnHealthyHostCount` (Average), summed over the load balancer's target groups.
    pub unhealthy_hosts: Option<f64>,
    /// NLB `ActiveFlowCount` (Average): concurrent flows.
    pub active_flows: Option<f64>,
    /// NLB `ProcessedBytes` (Sum) per second.
    pub processed_bytes_per_sec: Option<f64>,
}

impl LoadBalancerMetrics {
    /// Target and load balancer 5xx over requests, 0..=1, when the ALB served requests.
    pub fn error_5xx_ratio(&self) -> Option<f64> {
        let requests = self.requests_per_sec.filter(|r| *r > 0.0)?;
        let errors = self.target_5xx_per_sec.unwrap_or(0.0) + self.elb_5xx_per_sec.unwrap_or(0.0);
        Some((errors / requests).clamp(0.0, 1.0))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RouteKind {
    #[serde(rename = "HTTPRoute")]
    Http,
    #[serde(rename = "GRPCRoute")]
    Grpc,
}

impl RouteKind {
    pub fn as_str(self) -> &'static str {
        match self {
            RouteKind::Http => "HTTPRoute",
            RouteKind::Grpc => "GRPCRoute",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RouteStatus {
    pub namespace: String,
    pub name: String,
    pub kind: RouteKind,
    pub hostnames: Vec<String>,
    pub parents: Vec<RouteParent>,
    pub backends: Vec<BackendRef>,
    pub generation: i64,
    /// The generation the controller last reported on; lower than `generation` means stale.
    pub observed_generation: Option<i64>,
    pub requests_per_sec: Option<f64>,
    pub error_5xx_ratio: Option<f64>,
}

/// One parent (Gateway, or a Service for mesh routes) and what it said about the route.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RouteParent {
    /// "Gateway", or "Service" for a GAMMA (east-west) route.
    pub kind: String,
    pub namespace: String,
    pub name: String,
    pub section: Option<String>,
    pub accepted: Option<Condition>,
    pub resolved_refs: Option<Condition>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BackendRef {
    pub namespace: String,
    pub name: String,
    pub port: Option<u16>,
    pub weight: u32,
    pub service_exists: bool,
    pub ready_endpoints: u32,
    pub total_endpoints: u32,
}

// ---------------------------------------------------------------------------------------
// East-West flows

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlowSnapshot {
    pub at: Timestamp,
    pub zones: Vec<String>,
    pub edges: Vec<FlowEdge>,
    pub services: Vec<ServiceTopology>,
    /// What measured the edges and what it cannot tell; `None` with no flow source (then
    /// there are no edges). Recordings made before sources were named read as bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<FlowSourceInfo>,
}

impl FlowSnapshot {
    /// What one unit of the edges' rates is.
    pub fn unit(&self) -> FlowUnit {
        self.source.as_ref().map_or(FlowUnit::Bytes, |s| s.unit)
    }

    /// Everything the edges carry per second, in the source's unit.
    // Folded from +0.0: an empty float `sum()` is -0.0, which would print as "-0 B/s".
    pub fn total_per_sec(&self) -> f64 {
        self.edges.iter().fold(0.0, |total, e| total + e.per_sec)
    }

    /// The part of it that crosses a zone, in the source's unit.
    pub fn cross_zone_per_sec(&self) -> f64 {
        self.edges
            .iter()
            .fold(0.0, |total, e| total + e.cross_zone_per_sec)
    }

    /// Bytes per second, when the source counts bytes (Hubble counts flows).
    pub fn total_bytes_per_sec(&self) -> Option<f64> {
        (self.unit() == FlowUnit::Bytes && self.has_flow_data()).then(|| self.total_per_sec())
    }

    pub fn cross_zone_bytes_per_sec(&self) -> Option<f64> {
        (self.unit() == FlowUnit::Bytes && self.has_flow_data()).then(|| self.cross_zone_per_sec())
    }

    /// Edges come from a flow source; without one only the Services' zone routing is known.
    pub fn has_flow_data(&self) -> bool {
        !self.edges.is_empty()
    }

    /// Share of the traffic (bytes, or flows for Hubble) that crosses a zone, 0..=1.
    pub fn cross_zone_ratio(&self) -> f64 {
        let total = self.total_per_sec();
        if total <= 0.0 {
            0.0
        } else {
            self.cross_zone_per_sec() / total
        }
    }
}

/// What the East-West figures count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FlowUnit {
    #[default]
    Bytes,
    /// Connections or packets seen (Hubble): shares are meaningful, sizes and money are not.
    Flows,
}

/// The flow sources kockpit reads, in the order it prefers them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FlowSourceKind {
    /// Kubecost / OpenCost network-costs metrics: bytes per pod, same zone or not.
    NetworkCosts,
    /// Istio's standard TCP and HTTP byte metrics between workloads.
    Istio,
    /// Linkerd's proxy TCP byte counters between workloads.
    Linkerd,
    /// Hubble's flow counters (Cilium), with whatever context labels are configured.
    Hubble,
    /// VPC Flow Logs in CloudWatch Logs: bytes between IPs.
    FlowLogs,
    /// The built-in simulator's own model.
    Simulator,
}

impl FlowSourceKind {
    /// The name the user knows it by.
    pub fn title(self) -> &'static str {
        match self {
            FlowSourceKind::NetworkCosts => "Kubecost network costs",
            FlowSourceKind::Istio => "Istio",
            FlowSourceKind::Linkerd => "Linkerd",
            FlowSourceKind::Hubble => "Hubble",
            FlowSourceKind::FlowLogs => "VPC Flow Logs",
            FlowSourceKind::Simulator => "simulator",
        }
    }
}

/// How the zone of each byte (or flow) was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ZoneBasis {
    /// Measured: the source says whether traffic crossed, or names both pods (whose nodes'
    /// zones kockpit knows).
    Measured,
    /// Estimated: the source names workloads only; the share follows from where their pods
    /// run and how the Service routes.
    Placement,
}

/// Where the East-West figures come from, and what that source cannot tell.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlowSourceInfo {
    pub kind: FlowSourceKind,
    pub unit: FlowUnit,
    pub zones: ZoneBasis,
    /// Whether each edge names the Service it goes to.
    pub destinations: bool,
    /// What was read, e.g. "Prometheus kubecost_pod_network_egress_bytes_total".
    pub detail: String,
    /// How long a change in traffic takes to show in full: the rate window, or a flow-log
    /// query's window and delivery lag. Verification waits this long.
    #[serde(default)]
    pub window_seconds: u64,
}

impl FlowSourceInfo {
    /// What this source cannot tell, in the words the source line uses.
    pub fn limits(&self) -> Vec<&'static str> {
        let mut limits = Vec::new();
        if self.unit == FlowUnit::Flows {
            limits.push("counts flows, not bytes: no volume or cost");
        }
        if self.zones == ZoneBasis::Placement {
            limits.push("zones estimated from where the pods run");
        }
        if !self.destinations {
            limits.push("no destinations: a pod's traffic counts toward the Service it backs");
        }
        if self.kind == FlowSourceKind::FlowLogs {
            limits.push("traffic between pods on one node never reaches the VPC and is not logged");
        }
        limits
    }
}

/// Traffic between a workload and a Service, in the snapshot's unit. Either end is empty
/// when the source does not say.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FlowEdge {
    pub source_namespace: String,
    pub source_workload: String,
    pub destination_namespace: String,
    pub destination_service: String,
    #[serde(alias = "bytes_per_sec")]
    pub per_sec: f64,
    #[serde(alias = "cross_zone_bytes_per_sec")]
    pub cross_zone_per_sec: f64,
    pub drops_per_sec: f64,
}

impl FlowEdge {
    /// The calling workload, if the source said.
    pub fn source(&self) -> Option<(&str, &str)> {
        (!self.source_workload.is_empty()).then_some((
            self.source_namespace.as_str(),
            self.source_workload.as_str(),
        ))
    }

    /// The Service called, if the source said.
    pub fn destination(&self) -> Option<(&str, &str)> {
        (!self.destination_service.is_empty()).then_some((
            self.destination_namespace.as_str(),
            self.destination_service.as_str(),
        ))
    }
}

/// How a Service routes between zones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ZoneRouting {
    /// kube-proxy default: any endpoint, whatever its zone.
    Default,
    /// `service.kubernetes.io/topology-mode: Auto`.
    TopologyAware,
    /// `spec.trafficDistribution: PreferClose`.
    PreferClose,
    /// `spec.internalTrafficPolicy: Local`.
    NodeLocal,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceTopology {
    pub namespace: String,
    pub name: String,
    pub routing: ZoneRouting,
    /// Ready endpoints per zone, in `FlowSnapshot::zones` order.
    pub ready_endpoints_by_zone: Vec<ZoneCount>,
    /// Whether the EndpointSlices carry zone hints.
    pub hints: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZoneCount {
    pub zone: String,
    pub count: u32,
}

// ---------------------------------------------------------------------------------------
// Nodes (Karpenter)

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeSnapshot {
    pub at: Timestamp,
    pub nodes: Vec<NodeInfo>,
    pub nodepools: Vec<NodePoolInfo>,
    /// Launches and terminations over (at least) the last hour.
    pub churn: Vec<ChurnEvent>,
    pub pending_pods: Vec<PendingPod>,
    /// Seconds from NodeClaim creation to Initialized, for claims of the last hour.
    pub provisioning_seconds: Vec<f64>,
    pub blockers: Vec<Blocker>,
    /// Karpenter's own counters over the last hour, when Prometheus has them: they cover
    /// the part of the hour before kockpit started watching, which the objects cannot.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counted: Option<KarpenterCounts>,
}

/// Launches, terminations and disruptions of the last hour as Karpenter counted them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KarpenterCounts {
    pub launched: u32,
    pub terminated: u32,
    /// Disruptions by reason, in the NodeClaim condition's words ("Underutilized", "Empty",
    /// "Drifted"…) whatever Karpenter version counted them.
    pub disruption_reasons: BTreeMap<String, u32>,
}

impl NodeSnapshot {
    /// Share of nodes running on spot capacity, 0..=1 (0 with no nodes).
    pub fn spot_share(&self) -> f64 {
        if self.nodes.is_empty() {
            return 0.0;
        }
        let spot = self
            .nodes
            .iter()
            .filter(|n| n.capacity == Capacity::Spot)
            .count();
        spot as f64 / self.nodes.len() as f64
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Capacity {
    Spot,
    OnDemand,
}

impl Capacity {
    pub fn as_str(self) -> &'static str {
        match self {
            Capacity::Spot => "spot",
            Capacity::OnDemand => "on-demand",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeInfo {
    pub name: String,
    pub nodepool: Option<String>,
    pub instance_type: String,
    pub capacity: Capacity,
    pub zone: String,
    pub created: Timestamp,
    pub ready: bool,
    /// Carries the `karpenter.sh/disrupted` taint or is being deleted.
    pub disrupting: bool,
    pub cpu_allocatable_m: f64,
    pub cpu_requested_m: f64,
    pub memory_allocatable_mib: f64,
    pub memory_requested_mib: f64,
    pub pods: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodePoolInfo {
    pub name: String,
    /// `WhenEmpty` or `WhenEmptyOrUnderutilized`.
    pub consolidation_policy: String,
    pub consolidate_after: Option<String>,
    pub budgets: Vec<DisruptionBudget>,
    /// `spec.limits.cpu` in cores.
    pub cpu_limit: Option<f64>,
    /// CPU cores currently provisioned by the pool (`status.resources.cpu`).
    pub cpu_provisioned: f64,
    pub weight: Option<i32>,
    pub capacity_types: Vec<Capacity>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisruptionBudget {
    pub nodes: String,
    pub schedule: Option<String>,
    pub duration: Option<String>,
    pub reasons: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChurnKind {
    Launched,
    Terminated,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChurnEvent {
    pub at: Timestamp,
    pub kind: ChurnKind,
    pub node: String,
    pub nodepool: String,
    /// Why: "Provisioning" for launches; "SpotInterrupted", "Underutilized", "Empty",
    /// "Drifted", "Expired" for terminations.
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingPod {
    pub namespace: String,
    pub name: String,
    pub since: Timestamp,
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BlockerKind {
    /// A PodDisruptionBudget that allows no disruptions.
    Pdb,
    /// A pod annotated `karpenter.sh/do-not-disrupt: "true"`.
    DoNotDisrupt,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Blocker {
    pub kind: BlockerKind,
    pub namespace: String,
    pub name: String,
    pub detail: String,
}

// ---------------------------------------------------------------------------------------
// Billing

/// What AWS has billed the account so far this month, as CloudWatch's `AWS/Billing`
/// `EstimatedCharges` (Currency USD, all services) says. AWS refreshes it a few times a day,
/// for the whole account, not only this cluster: it sits beside kockpit's own run-rate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BilledSpend {
    /// When kockpit read it.
    pub at: Timestamp,
    /// The instant of the newest datapoint: the bill as of then.
    pub as_of: Timestamp,
    pub month_to_date_usd: f64,
    /// Where the figure comes from, e.g. "CloudWatch AWS/Billing EstimatedCharges".
    pub source: String,
}

// ---------------------------------------------------------------------------------------
// Workloads (right-sizing; also the basis of cost allocation)

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkloadSnapshot {
    pub at: Timestamp,
    /// The window the percentiles cover, e.g. "7d".
    pub window: String,
    pub workloads: Vec<WorkloadUsage>,
    pub namespaces: Vec<NamespaceInfo>,
}

/// A namespace and the cost-allocation labels it carries (`cost-center`, `team`, `environment`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NamespaceInfo {
    pub name: String,
    pub cost_center: Option<String>,
    pub team: Option<String>,
    pub environment: Option<String>,
}

/// Requests against real usage for one container of one workload (per replica).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkloadUsage {
    pub namespace: String,
    pub name: String,
    /// Deployment, StatefulSet or DaemonSet.
    pub kind: String,
    pub container: String,
    pub replicas: u32,
    pub cpu_request_m: f64,
    pub cpu_limit_m: Option<f64>,
    pub memory_request_mib: f64,
    pub memory_limit_mib: Option<f64>,
    /// From the containers' last termination reasons.
    pub oom_kills_7d: u32,
    pub restarts_24h: u32,
    pub vpa: Option<VpaAdvice>,
    /// An HPA scales this workload on CPU utilisation.
    pub hpa_on_cpu: bool,
    /// Usage percentiles from a metrics source; `None` without one.
    pub usage: Option<UsageStats>,
}

/// What a container really used over the snapshot's window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UsageStats {
    pub cpu_p95_m: f64,
    pub memory_p95_mib: f64,
    pub memory_p99_mib: f64,
    /// Throttled periods / total CFS periods, 0..=1.
    pub throttling_ratio: f64,
    /// How many days of usage history the percentiles rest on.
    pub history_days: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VpaAdvice {
    pub update_mode: String,
    pub cpu_target_m: f64,
    pub memory_target_mib: f64,
}
