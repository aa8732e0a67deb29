//! Scenario files for the simulator (`assets/scenarios/*.toml`): the desired state of a
//! simulated cluster, and the parser that reads it (with `extends` to build on another one).
//!
//! A file has `name`, a one-line `description`, and tables keyed by object name
//! (`[workloads.frontend]`, `[services.catalog]`, `[routes.storefront]`, `[nodepools.general]`,
//! …). With `extends = "baseline"` the parent's tables are merged key by key under the
//! child's, so an incident scenario states only what differs; arrays and plain values in
//! the child replace the parent's. Every field has a default, and unknown fields are errors.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::limits;
use super::model::{Capacity, RouteKind, ZoneRouting};
use super::time::parse_duration;

/// The Corefile EKS installs with its CoreDNS add-on.
pub const EKS_DEFAULT_COREFILE: &str = "\
.:53 {
    errors
    health {
        lameduck 5s
    }
    ready
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }
    prometheus :9153
    forward . /etc/resolv.conf
    cache 30
    loop
    reload
    loadbalance
}
";

/// How deep `extends` chains may go before we suspect a loop.
const MAX_EXTENDS_DEPTH: usize = 8;

/// A simulated cluster as a scenario file describes it. Everything here is *spec* (desired
/// state); the simulator derives nodes, pods and metrics from it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    /// One line shown in scenario lists.
    pub description: String,
    /// The scenario this one builds on; its tables are merged under this one's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extends: Option<String>,
    pub region: String,
    /// Hour of day (UTC) when user traffic peaks.
    pub traffic_peak_hour_utc: f64,
    pub dns: DnsSpec,
    /// EKS managed node groups: fixed-size, on-demand, not managed by Karpenter.
    pub node_groups: BTreeMap<String, NodeGroupSpec>,
    /// Karpenter NodePools.
    pub nodepools: BTreeMap<String, NodePoolSpec>,
    pub namespaces: BTreeMap<String, NamespaceSpec>,
    pub workloads: BTreeMap<String, WorkloadSpec>,
    pub services: BTreeMap<String, ServiceSpec>,
    pub gateways: BTreeMap<String, GatewaySpec>,
    pub routes: BTreeMap<String, RouteSpec>,
    pub reference_grants: BTreeMap<String, ReferenceGrantSpec>,
    /// Scheduled node disruptions (spot interruption waves, drift roll-outs).
    pub disruptions: Vec<DisruptionSpec>,
    /// What the cluster's exporters publish, as `sim serve`'s `/metrics` shows them.
    pub observability: ObservabilitySpec,
}

impl Default for Scenario {
    fn default() -> Self {
        Scenario {
            name: String::new(),
            description: String::new(),
            extends: None,
            region: "us-east-1".to_string(),
            traffic_peak_hour_utc: 15.0,
            dns: DnsSpec::default(),
            node_groups: BTreeMap::new(),
            nodepools: BTreeMap::new(),
            namespaces: BTreeMap::new(),
            workloads: BTreeMap::new(),
            services: BTreeMap::new(),
            gateways: BTreeMap::new(),
            routes: BTreeMap::new(),
            reference_grants: BTreeMap::new(),
            disruptions: Vec::new(),
            observability: ObservabilitySpec::default(),
        }
    }
}

/// The shape of the simulated cluster's flow metrics: which exporter an EKS cluster runs for
/// east-west traffic, with the names and labels that exporter publishes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FlowShape {
    /// Kubecost/OpenCost network-costs on the VPC CNI: bytes per pod, same zone or not.
    #[default]
    NetworkCosts,
    /// Istio sidecars: TCP bytes between workloads, reported by both ends.
    Istio,
    /// Linkerd proxies: TCP bytes read and written, outbound side.
    Linkerd,
    /// Cilium's Hubble with pod context (`sourceContext=pod;destinationContext=pod`).
    Hubble,
    /// Hubble with workload labels only (`labelsContext=source_namespace,source_workload,…`).
    HubbleWorkload,
    /// No flow exporter: the common EKS cluster without Kubecost, a mesh or Cilium.
    None,
}

impl FlowShape {
    pub const NAMES: &'static str = "network-costs, istio, linkerd, hubble, hubble-workload, none";

    pub fn parse(text: &str) -> Option<FlowShape> {
        serde_json::from_value(serde_json::Value::String(text.trim().to_string())).ok()
    }
}

/// Which CoreDNS release's metric names `sim serve` publishes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum CorednsVersion {
    /// Upstream traffic as `coredns_forward_*`.
    #[serde(rename = "1.10")]
    V1_10,
    /// Upstream traffic as `coredns_proxy_request_duration_seconds{proxy_name="forward"}`.
    #[default]
    #[serde(rename = "1.11")]
    V1_11,
    #[serde(rename = "1.12")]
    V1_12,
}

/// Which Karpenter release's metric names `sim serve` publishes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum KarpenterVersion {
    /// No `_total` suffixes, `karpenter_nodepool_*` gauges, disruptions by `type`.
    #[serde(rename = "0.37")]
    V0_37,
    /// `_total` counters, `karpenter_nodepools_*` gauges, disruptions by `reason`.
    #[default]
    #[serde(rename = "1")]
    V1,
}

/// The exporters `sim serve` publishes and in which version's shape.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ObservabilitySpec {
    pub flow_metrics: FlowShape,
    pub coredns: CorednsVersion,
    pub karpenter: KarpenterVersion,
}

impl ObservabilitySpec {
    /// `--exporters coredns=1.10,karpenter=0.37,flows=hubble`.
    pub fn apply(&mut self, text: &str) -> Result<(), String> {
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, value) = part
                .split_once('=')
                .ok_or_else(|| format!("`{part}`: expected NAME=VERSION"))?;
            let value = serde_json::Value::String(value.trim().to_string());
            match name.trim() {
                "coredns" => {
                    self.coredns = serde_json::from_value(value)
                        .map_err(|_| "coredns: expected 1.10, 1.11 or 1.12".to_string())?
                }
                "karpenter" => {
                    self.karpenter = serde_json::from_value(value)
                        .map_err(|_| "karpenter: expected 0.37 or 1".to_string())?
                }
                "flows" => {
                    self.flow_metrics = serde_json::from_value(value)
                        .map_err(|_| format!("flows: expected one of {}", FlowShape::NAMES))?
                }
                other => {
                    return Err(format!(
                        "`{other}`: the exporters are coredns, karpenter and flows"
                    ));
                }
            }
        }
        Ok(())
    }
}

/// Where CoreDNS replicas may land relative to each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DnsSpread {
    /// A topology spread constraint on zones (and so on nodes).
    Zones,
    /// No constraint: the scheduler may put every replica on one node.
    None,
}

/// The CoreDNS Deployment and its ConfigMap.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DnsSpec {
    /// ConfigMap kube-system/coredns, key Corefile.
    pub corefile: String,
    pub replicas: u32,
    pub cpu_request_m: f64,
    pub memory_request_mib: f64,
    pub memory_limit_mib: f64,
    pub spread: DnsSpread,
    /// The node group or NodePool the replicas run on.
    pub nodepool: String,
    /// Search domains in pods' resolv.conf (3 cluster ones plus the VPC's).
    pub search_domains: u32,
    /// Latency of the VPC resolver as CoreDNS's forward plugin sees it.
    pub upstream_p50_ms: f64,
    pub upstream_p99_ms: f64,
    /// Negative TTL the VPC resolver hands out for names it does not know.
    pub upstream_negative_ttl_s: f64,
    pub nodelocal_dns: bool,
}

impl Default for DnsSpec {
    fn default() -> Self {
        DnsSpec {
            corefile: EKS_DEFAULT_COREFILE.to_string(),
            replicas: 2,
            cpu_request_m: 100.0,
            memory_request_mib: 70.0,
            memory_limit_mib: 170.0,
            spread: DnsSpread::Zones,
            nodepool: "system".to_string(),
            search_domains: 4,
            upstream_p50_ms: 3.0,
            upstream_p99_ms: 80.0,
            upstream_negative_ttl_s: 60.0,
            nodelocal_dns: false,
        }
    }
}

/// An EKS managed node group of one instance type, spread over the zones.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NodeGroupSpec {
    pub instance_type: String,
    pub nodes: u32,
}

impl Default for NodeGroupSpec {
    fn default() -> Self {
        NodeGroupSpec {
            instance_type: "m6i.large".to_string(),
            nodes: 3,
        }
    }
}

/// A Karpenter NodePool (karpenter.sh/v1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NodePoolSpec {
    pub capacity_types: Vec<Capacity>,
    pub instance_types: Vec<String>,
    /// `WhenEmpty` or `WhenEmptyOrUnderutilized`.
    pub consolidation_policy: String,
    pub consolidate_after: String,
    pub budgets: Vec<BudgetSpec>,
    /// `spec.limits.cpu`, in cores.
    pub cpu_limit: Option<f64>,
    pub weight: Option<i32>,
    /// `spec.template.spec.expireAfter`.
    pub expire_after: String,
    /// Seconds from NodeClaim creation to Initialized: a low and a high bound.
    pub provisioning_seconds: [f64; 2],
    /// Share of spot launches that fall back to on-demand (insufficient spot capacity).
    pub on_demand_fallback: f64,
    /// Background rate of spot reclaims in this pool, outside any scheduled wave.
    pub spot_interruptions_per_hour: f64,
}

impl Default for NodePoolSpec {
    fn default() -> Self {
        NodePoolSpec {
            capacity_types: vec![Capacity::Spot, Capacity::OnDemand],
            instance_types: vec!["m6i.xlarge".to_string()],
            consolidation_policy: "WhenEmptyOrUnderutilized".to_string(),
            consolidate_after: "1m".to_string(),
            budgets: vec![BudgetSpec::default()],
            cpu_limit: None,
            weight: None,
            expire_after: "720h".to_string(),
            provisioning_seconds: [35.0, 60.0],
            on_demand_fallback: 0.1,
            spot_interruptions_per_hour: 0.0,
        }
    }
}

/// One entry of `spec.disruption.budgets`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BudgetSpec {
    /// A count ("2") or a percentage ("10%") of the pool's nodes.
    pub nodes: String,
    pub schedule: Option<String>,
    pub duration: Option<String>,
    pub reasons: Vec<String>,
}

impl Default for BudgetSpec {
    fn default() -> Self {
        BudgetSpec {
            nodes: "10%".to_string(),
            schedule: None,
            duration: None,
            reasons: Vec::new(),
        }
    }
}

/// Cost-allocation labels of a namespace; absent labels make its spend unallocated.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NamespaceSpec {
    pub cost_center: Option<String>,
    pub team: Option<String>,
    pub environment: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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

/// A workload (one container per pod), its resources, how much it really uses and whom it
/// talks to. The table key is the workload's name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkloadSpec {
    pub namespace: String,
    pub kind: WorkloadKind,
    /// The container's name; the workload's name when absent.
    pub container: Option<String>,
    /// Replicas at average load (an HPA moves them between its bounds).
    pub replicas: u32,
    /// The node group or NodePool its pods run on (ignored for DaemonSets).
    pub nodepool: String,
    /// How strictly replicas spread over zones (a zone topology spread constraint).
    pub zone_spread: ZoneSpread,
    pub cpu_request_m: f64,
    pub cpu_limit_m: Option<f64>,
    pub memory_request_mib: f64,
    pub memory_limit_mib: Option<f64>,
    /// Mean CPU use per replica at average load.
    pub cpu_usage_m: f64,
    /// Mean memory working set per replica.
    pub memory_usage_mib: f64,
    /// Amplitude of the daily load curve, 0..1.
    pub diurnal: f64,
    /// Relative size of the load's random wander.
    pub noise: f64,
    pub startup_seconds: f64,
    /// The pods start, fail their probes and restart forever (CrashLoopBackOff).
    pub crash_looping: bool,
    pub crash_restarts_per_day: f64,
    pub hpa: Option<HpaSpec>,
    /// VPA `updateMode` (Off, Initial, Recreate, Auto) when a VPA targets the workload.
    pub vpa: Option<String>,
    /// The VPA's name, when it is not the workload's (one created through the API).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vpa_name: Option<String>,
    pub pdb: Option<PdbSpec>,
    /// Pods carry `karpenter.sh/do-not-disrupt: "true"`.
    pub do_not_disrupt: bool,
    pub dns: DnsUsageSpec,
    /// Services this workload sends traffic to.
    pub calls: Vec<CallSpec>,
}

impl Default for WorkloadSpec {
    fn default() -> Self {
        WorkloadSpec {
            namespace: String::new(),
            kind: WorkloadKind::Deployment,
            container: None,
            replicas: 2,
            nodepool: "general".to_string(),
            zone_spread: ZoneSpread::Preferred,
            cpu_request_m: 100.0,
            cpu_limit_m: None,
            memory_request_mib: 128.0,
            memory_limit_mib: None,
            cpu_usage_m: 60.0,
            memory_usage_mib: 90.0,
            diurnal: 0.3,
            noise: 0.05,
            startup_seconds: 20.0,
            crash_looping: false,
            crash_restarts_per_day: 0.0,
            hpa: None,
            vpa: None,
            vpa_name: None,
            pdb: None,
            do_not_disrupt: false,
            dns: DnsUsageSpec::default(),
            calls: Vec::new(),
        }
    }
}

/// `whenUnsatisfiable` of a zone spread constraint: `preferred` (ScheduleAnyway, also the
/// scheduler's default spreading) or `required` (DoNotSchedule, maxSkew 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ZoneSpread {
    Preferred,
    Required,
}

/// A HorizontalPodAutoscaler on CPU utilisation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HpaSpec {
    pub min_replicas: u32,
    pub max_replicas: u32,
    pub target_cpu_percent: f64,
}

impl Default for HpaSpec {
    fn default() -> Self {
        HpaSpec {
            min_replicas: 2,
            max_replicas: 10,
            target_cpu_percent: 70.0,
        }
    }
}

/// A PodDisruptionBudget: either field, as an int-or-percent string ("2", "100%").
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PdbSpec {
    pub min_available: Option<String>,
    pub max_unavailable: Option<String>,
}

/// How a workload's pods resolve names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DnsUsageSpec {
    /// Name lookups per second per replica at average load (each is an A and an AAAA query
    /// per search candidate).
    pub lookups_per_sec: f64,
    /// Share of lookups for Services in the pod's own namespace (`catalog`).
    pub internal_share: f64,
    /// Share for Services in other namespaces; the rest are external names.
    pub cross_namespace_share: f64,
    /// Dots in those names: 1 for `payments-api.payments`, 4 for the fully qualified
    /// `payments-api.payments.svc.cluster.local`.
    pub cross_namespace_dots: u8,
    /// `dnsConfig.options.ndots` (5 is the Kubernetes default).
    pub ndots: u8,
    /// Distinct names of each kind the workload looks up.
    pub internal_names: u32,
    pub external_names: u32,
    /// Dots in a typical external name (`api.stripe.com` has 2).
    pub external_dots: u8,
    /// TTL the authoritative servers give external answers.
    pub external_ttl_s: f64,
}

impl Default for DnsUsageSpec {
    fn default() -> Self {
        DnsUsageSpec {
            lookups_per_sec: 1.0,
            internal_share: 0.7,
            cross_namespace_share: 0.2,
            cross_namespace_dots: 1,
            ndots: 5,
            internal_names: 4,
            external_names: 3,
            external_dots: 2,
            external_ttl_s: 60.0,
        }
    }
}

/// Traffic from a workload to a Service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CallSpec {
    pub service: String,
    /// The Service's namespace; looked up by name when absent.
    pub namespace: Option<String>,
    /// Bytes per second (both directions) at average load.
    pub bytes_per_sec: f64,
    /// Packets dropped per second by policy, independent of endpoints.
    pub drops_per_sec: f64,
}

impl Default for CallSpec {
    fn default() -> Self {
        CallSpec {
            service: String::new(),
            namespace: None,
            bytes_per_sec: 100_000.0,
            drops_per_sec: 0.0,
        }
    }
}

/// A Service selecting one workload's pods. The table key is the Service's name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServiceSpec {
    pub namespace: String,
    /// The workload whose pods back the Service; the Service's name when absent.
    pub workload: Option<String>,
    pub port: u16,
    pub routing: ZoneRouting,
}

impl Default for ServiceSpec {
    fn default() -> Self {
        ServiceSpec {
            namespace: String::new(),
            workload: None,
            port: 80,
            routing: ZoneRouting::Default,
        }
    }
}

/// A Gateway (gateway.networking.k8s.io/v1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GatewaySpec {
    pub namespace: String,
    pub class: String,
    pub listeners: Vec<ListenerSpec>,
    /// The load balancer's DNS name; derived from the name when absent.
    pub address: Option<String>,
}

impl Default for GatewaySpec {
    fn default() -> Self {
        GatewaySpec {
            namespace: String::new(),
            class: "aws-alb".to_string(),
            listeners: Vec::new(),
            address: None,
        }
    }
}

/// `allowedRoutes.namespaces.from` of a listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AllowedRoutes {
    Same,
    All,
    Selector,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ListenerSpec {
    pub name: String,
    pub port: u16,
    pub protocol: String,
    pub hostname: Option<String>,
    pub allowed_routes: AllowedRoutes,
    /// Namespaces the selector matches, for `allowed_routes = "Selector"`.
    pub namespaces: Vec<String>,
}

impl Default for ListenerSpec {
    fn default() -> Self {
        ListenerSpec {
            name: "https".to_string(),
            port: 443,
            protocol: "HTTPS".to_string(),
            hostname: None,
            allowed_routes: AllowedRoutes::Same,
            namespaces: Vec::new(),
        }
    }
}

/// An HTTPRoute or GRPCRoute. The table key is the route's name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RouteSpec {
    pub namespace: String,
    pub kind: RouteKind,
    pub hostnames: Vec<String>,
    pub parents: Vec<ParentSpec>,
    pub backends: Vec<BackendSpec>,
    /// Requests per second at average load.
    pub requests_per_sec: f64,
    /// 5xx share the backends produce when healthy.
    pub base_error_ratio: f64,
    pub generation: i64,
}

impl Default for RouteSpec {
    fn default() -> Self {
        RouteSpec {
            namespace: String::new(),
            kind: RouteKind::Http,
            hostnames: Vec::new(),
            parents: Vec::new(),
            backends: Vec::new(),
            requests_per_sec: 10.0,
            base_error_ratio: 0.0005,
            generation: 1,
        }
    }
}

/// A `parentRefs` entry naming a Gateway.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ParentSpec {
    pub gateway: String,
    /// The Gateway's namespace; the route's own when absent.
    pub namespace: Option<String>,
    /// A listener name (`sectionName`).
    pub section: Option<String>,
}

/// A `backendRefs` entry naming a Service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BackendSpec {
    pub service: String,
    /// The Service's namespace; the route's own when absent.
    pub namespace: Option<String>,
    pub port: Option<u16>,
    pub weight: u32,
}

impl Default for BackendSpec {
    fn default() -> Self {
        BackendSpec {
            service: String::new(),
            namespace: None,
            port: None,
            weight: 1,
        }
    }
}

/// A ReferenceGrant living in `namespace`, letting routes from `from_namespace` point at its
/// Services (all of them, or those named in `services`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReferenceGrantSpec {
    pub namespace: String,
    pub from_namespace: String,
    pub from_kinds: Vec<RouteKind>,
    pub services: Vec<String>,
}

impl Default for ReferenceGrantSpec {
    fn default() -> Self {
        ReferenceGrantSpec {
            namespace: String::new(),
            from_namespace: String::new(),
            from_kinds: vec![RouteKind::Http, RouteKind::Grpc],
            services: Vec::new(),
        }
    }
}

/// Node disruptions that happen on a schedule, relative to the scenario's start instant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DisruptionSpec {
    /// `SpotInterrupted`, `Drifted` or `Expired`.
    pub reason: String,
    pub nodepool: String,
    /// Minutes after the scenario's start instant (negative: before it).
    pub start_minute: f64,
    pub duration_minutes: f64,
    /// Nodes disrupted per wave.
    pub count: u32,
    /// The wave comes back this often, for as long as the simulation runs.
    pub repeat_every_minutes: Option<f64>,
    /// Zone letter (`b`) or full name the wave hits; any zone when absent.
    pub zone: Option<String>,
    /// Provisioning latency of replacement claims while the wave lasts (low, high).
    pub provisioning_seconds: Option<[f64; 2]>,
    /// Share of replacement launches that fall back to on-demand while the wave lasts.
    pub on_demand_fallback: Option<f64>,
}

impl Default for DisruptionSpec {
    fn default() -> Self {
        DisruptionSpec {
            reason: "SpotInterrupted".to_string(),
            nodepool: String::new(),
            start_minute: 0.0,
            duration_minutes: 10.0,
            count: 1,
            repeat_every_minutes: None,
            zone: None,
            provisioning_seconds: None,
            on_demand_fallback: None,
        }
    }
}

// ---------------------------------------------------------------------------------------
// Parsing

/// Why a scenario could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScenarioError {
    /// The text is wrong somewhere: bad TOML, a bad type, an unknown field, a dangling name.
    #[error("{origin}: line {line}, column {column}: {problem}")]
    Invalid {
        origin: String,
        line: usize,
        column: usize,
        problem: String,
    },
    /// The file could not be read at all.
    #[error("{origin}: {problem}")]
    Unreadable { origin: String, problem: String },
    #[error("unknown scenario `{name}`; known scenarios: {}", known.join(", "))]
    Unknown { name: String, known: Vec<String> },
}

/// The text of a parent scenario and where it came from (for error messages).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParentText {
    pub text: String,
    pub origin: String,
}

/// What parsing needs to know beyond the text itself.
pub struct ParseContext<'a> {
    /// Finds the parent named by `extends`, given the name and the child's origin.
    pub resolve_parent: &'a mut dyn FnMut(&str, &str) -> Result<ParentText, String>,
    /// Instance types the simulator knows; any name is accepted when `None`.
    pub known_instance_types: Option<&'a [&'a str]>,
}

/// Parses a self-contained scenario. A scenario with `extends` needs its parent, which only
/// a caller that can find scenarios (the simulator's registry) can supply: see `parse_with`.
pub fn parse(text: &str, origin: &str) -> Result<Scenario, ScenarioError> {
    let mut no_parents = |name: &str, _: &str| {
        Err(format!(
            "`extends = \"{name}\"` needs the parent scenario; load this scenario by name or path so it can be found"
        ))
    };
    parse_with(
        text,
        origin,
        &mut ParseContext {
            resolve_parent: &mut no_parents,
            known_instance_types: None,
        },
    )
}

/// Parses a scenario, merging it over its `extends` chain: tables merge key by key, any
/// other value (arrays included) in the child replaces the parent's.
pub fn parse_with(
    text: &str,
    origin: &str,
    context: &mut ParseContext<'_>,
) -> Result<Scenario, ScenarioError> {
    let mut chain = Vec::new();
    let merged = merged_table(text, origin, context, &mut chain)?;
    let top = Source {
        text: text.to_string(),
        origin: origin.to_string(),
    };
    for key in ["name", "description"] {
        if !has_own_key(text, key) {
            return Err(invalid_at(&top, 1, 1, format!("missing `{key}`")));
        }
    }
    let scenario: Scenario =
        toml::Value::Table(merged)
            .try_into()
            .map_err(|e: toml::de::Error| {
                invalid_at(
                    &top,
                    1,
                    1,
                    format!("after merging with the parent: {}", e.message()),
                )
            })?;
    let problems = validate(&scenario, context.known_instance_types);
    if let Some(problem) = problems.into_iter().next() {
        return Err(locate_problem(&chain, problem));
    }
    Ok(scenario)
}

/// One file of an `extends` chain, kept to point errors at the right place.
struct Source {
    text: String,
    origin: String,
}

fn merged_table(
    text: &str,
    origin: &str,
    context: &mut ParseContext<'_>,
    chain: &mut Vec<Source>,
) -> Result<toml::Table, ScenarioError> {
    let source = Source {
        text: text.to_string(),
        origin: origin.to_string(),
    };
    // Checking the file on its own first gives exact positions for syntax, type and
    // unknown-field errors; every field has a default, so partial files deserialize.
    if !limits::USER_FILE_BYTES.allows(text.len() as u64) {
        return Err(invalid_at(
            &source,
            1,
            1,
            limits::USER_FILE_BYTES.exceeded("the file's size", format!("{} bytes", text.len())),
        ));
    }
    toml::from_str::<Scenario>(text).map_err(|e| from_toml(&source, &e))?;
    let table: toml::Table = toml::from_str(text).map_err(|e| from_toml(&source, &e))?;
    if let Some((path, key)) = super::file_error::non_finite(&table, &mut Vec::new()) {
        let (line, column) = super::file_error::locate_field(text, &path, &key).unwrap_or((1, 1));
        return Err(invalid_at(
            &source,
            line,
            column,
            format!("`{key}` must be a finite number"),
        ));
    }
    chain.push(source);
    let Some(parent_name) = table.get("extends").and_then(|v| v.as_str()) else {
        return Ok(table);
    };
    let at_extends = |problem: String| {
        let source = Source {
            text: text.to_string(),
            origin: origin.to_string(),
        };
        let (line, column) = locate(text, "extends").unwrap_or((1, 1));
        invalid_at(&source, line, column, problem)
    };
    if chain.len() > MAX_EXTENDS_DEPTH {
        return Err(at_extends(format!(
            "`extends` chains deeper than {MAX_EXTENDS_DEPTH} scenarios; is there a loop?"
        )));
    }
    let parent = (context.resolve_parent)(parent_name, origin).map_err(at_extends)?;
    let mut base = merged_table(&parent.text, &parent.origin, context, chain)?;
    // Name, description and ancestry belong to each file, never inherited.
    for key in ["name", "description", "extends"] {
        base.remove(key);
    }
    merge_tables(&mut base, table);
    Ok(base)
}

/// Merges `overlay` into `base`: tables recursively, everything else replaced.
fn merge_tables(base: &mut toml::Table, overlay: toml::Table) {
    for (key, value) in overlay {
        match (base.get_mut(&key), value) {
            (Some(toml::Value::Table(existing)), toml::Value::Table(incoming)) => {
                merge_tables(existing, incoming)
            }
            (_, value) => {
                base.insert(key, value);
            }
        }
    }
}

fn has_own_key(text: &str, key: &str) -> bool {
    toml::from_str::<toml::Table>(text)
        .map(|t| {
            t.get(key)
                .and_then(|v| v.as_str())
                .is_some_and(|s| !s.trim().is_empty())
        })
        .unwrap_or(false)
}

fn from_toml(source: &Source, error: &toml::de::Error) -> ScenarioError {
    let (line, column) = error
        .span()
        .map(|span| line_column(&source.text, span.start))
        .unwrap_or((1, 1));
    invalid_at(source, line, column, error.message().trim().to_string())
}

fn invalid_at(source: &Source, line: usize, column: usize, problem: String) -> ScenarioError {
    ScenarioError::Invalid {
        origin: source.origin.clone(),
        line,
        column,
        problem,
    }
}

/// 1-based line and column (in characters) of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
    let column = before
        .get(line_start..)
        .map(|s| s.chars().count())
        .unwrap_or(0)
        + 1;
    (line, column)
}

/// Where `needle` first appears in `text`, as a line and column.
fn locate(text: &str, needle: &str) -> Option<(usize, usize)> {
    text.find(needle).map(|offset| line_column(text, offset))
}

/// A semantic problem, with the snippets most likely to point at its cause, best first.
struct Problem {
    /// The exact field, when the problem is one value: `(["workloads", "catalog"], "replicas")`.
    field: Option<(Vec<String>, String)>,
    needles: Vec<String>,
    message: String,
}

impl Problem {
    fn new(needles: &[String], message: String) -> Self {
        Problem {
            field: None,
            needles: needles.to_vec(),
            message,
        }
    }
}

fn locate_problem(chain: &[Source], problem: Problem) -> ScenarioError {
    if let Some((path, field)) = &problem.field {
        for source in chain {
            if let Some((line, column)) = super::file_error::locate_field(&source.text, path, field)
            {
                return invalid_at(source, line, column, problem.message);
            }
        }
    }
    for needle in &problem.needles {
        for source in chain {
            if let Some((line, column)) = locate(&source.text, needle) {
                return invalid_at(source, line, column, problem.message);
            }
        }
    }
    let fallback = Source {
        text: String::new(),
        origin: chain.first().map(|s| s.origin.clone()).unwrap_or_default(),
    };
    invalid_at(&fallback, 1, 1, problem.message)
}

/// Snippets that find a table entry `[section.key]` (or `[section.key.sub]`, or the key).
fn table_needles(section: &str, key: &str) -> Vec<String> {
    vec![
        format!("[{section}.{key}]"),
        format!("[{section}.\"{key}\"]"),
        format!("[{section}.{key}."),
        format!("{key} ="),
        format!("{key}"),
    ]
}

fn field_needles(section: &str, key: &str, field: &str) -> Vec<String> {
    let mut needles = vec![format!("[{section}.{key}.{field}]")];
    needles.extend(table_needles(section, key));
    needles
}

const VALID_BUDGET_REASONS: [&str; 3] = ["Underutilized", "Empty", "Drifted"];
const VALID_DISRUPTIONS: [&str; 3] = ["SpotInterrupted", "Drifted", "Expired"];
const VALID_VPA_MODES: [&str; 4] = ["Off", "Initial", "Recreate", "Auto"];

/// The sizes that decide what the simulator allocates, against `limits`: checked before
/// anything else, so an absurd number ends in one line before the simulator builds a pod.
fn check_limits(scenario: &Scenario) -> Vec<Problem> {
    let mut problems = Vec::new();
    let over = |problems: &mut Vec<Problem>, path: &[&str], field: &str, message: String| {
        let path: Vec<String> = path.iter().map(|p| p.to_string()).collect();
        let mut needles = vec![format!("[{}]", path.join("."))];
        needles.push(format!("{field} ="));
        problems.push(Problem {
            field: Some((path, field.to_string())),
            needles,
            message,
        });
    };
    if !limits::DNS_REPLICAS.allows(u64::from(scenario.dns.replicas)) {
        over(
            &mut problems,
            &["dns"],
            "replicas",
            limits::DNS_REPLICAS.exceeded("CoreDNS replicas", scenario.dns.replicas),
        );
    }
    let mut node_group_nodes = 0u64;
    for (name, group) in &scenario.node_groups {
        node_group_nodes += u64::from(group.nodes);
        if !limits::NODE_GROUP_NODES.allows(u64::from(group.nodes)) {
            over(
                &mut problems,
                &["node_groups", name],
                "nodes",
                limits::NODE_GROUP_NODES
                    .exceeded(&format!("node group `{name}`: nodes"), group.nodes),
            );
        }
    }
    let mut pods = u64::from(scenario.dns.replicas);
    for (name, workload) in &scenario.workloads {
        let at = ["workloads", name.as_str()];
        if !limits::WORKLOAD_REPLICAS.allows(u64::from(workload.replicas)) {
            over(
                &mut problems,
                &at,
                "replicas",
                limits::WORKLOAD_REPLICAS
                    .exceeded(&format!("workload `{name}`: replicas"), workload.replicas),
            );
        }
        let hpa_max = workload.hpa.as_ref().map_or(0, |h| h.max_replicas);
        if !limits::WORKLOAD_REPLICAS.allows(u64::from(hpa_max)) {
            over(
                &mut problems,
                &at,
                "hpa",
                limits::WORKLOAD_REPLICAS
                    .exceeded(&format!("workload `{name}`: HPA max_replicas"), hpa_max),
            );
        }
        let names = u64::from(workload.dns.internal_names) + u64::from(workload.dns.external_names);
        if !limits::DNS_NAMES.allows(names) {
            over(
                &mut problems,
                &at,
                "dns",
                limits::DNS_NAMES.exceeded(&format!("workload `{name}`: DNS names"), names),
            );
        }
        pods += match workload.kind {
            WorkloadKind::DaemonSet => node_group_nodes.max(1),
            _ => u64::from(workload.replicas.max(hpa_max)),
        };
    }
    if problems.is_empty() && !limits::SCENARIO_PODS.allows(pods) {
        over(
            &mut problems,
            &[],
            "name",
            limits::SCENARIO_PODS.exceeded(
                "the scenario's pods (replicas and HPA maxima added up)",
                pods,
            ),
        );
    }
    for disruption in &scenario.disruptions {
        let needles = vec![
            format!("nodepool = \"{}\"", disruption.nodepool),
            "[[disruptions]]".to_string(),
        ];
        if !limits::NODE_GROUP_NODES.allows(u64::from(disruption.count)) {
            problems.push(Problem::new(
                &needles,
                limits::NODE_GROUP_NODES.exceeded("a disruption's count", disruption.count),
            ));
        }
        let too_short = |minutes: f64| minutes < limits::DISRUPTION_MINUTES_MIN;
        if too_short(disruption.duration_minutes)
            || disruption.repeat_every_minutes.is_some_and(too_short)
        {
            problems.push(Problem::new(
                &needles,
                format!(
                    "a disruption lasts and repeats at least {} minute",
                    limits::DISRUPTION_MINUTES_MIN
                ),
            ));
        }
    }
    problems
}

/// Cross-references and value ranges the types alone cannot express.
fn validate(scenario: &Scenario, known_instance_types: Option<&[&str]>) -> Vec<Problem> {
    let mut problems = check_limits(scenario);
    if !problems.is_empty() {
        return problems;
    }
    let mut problem = |needles: Vec<String>, message: String| {
        problems.push(Problem::new(&needles, message));
    };
    if scenario.description.contains('\n') {
        problem(
            vec!["description".into()],
            "`description` must be a single line".into(),
        );
    }
    if !scenario
        .name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
    {
        problem(
            vec!["name".into()],
            format!(
                "scenario name `{}` may hold only a-z, 0-9 and `-`",
                scenario.name
            ),
        );
    }
    if scenario.region.trim().is_empty() {
        problem(vec!["region".into()], "`region` is empty".into());
    }
    if !(0.0..24.0).contains(&scenario.traffic_peak_hour_utc) {
        problem(
            vec!["traffic_peak_hour_utc".into()],
            "`traffic_peak_hour_utc` must be in 0..24".into(),
        );
    }
    let known_type = |t: &str| known_instance_types.is_none_or(|known| known.contains(&t));
    let pool_exists = |name: &str| {
        scenario.nodepools.contains_key(name) || scenario.node_groups.contains_key(name)
    };
    let namespace_exists =
        |name: &str| name == "kube-system" || scenario.namespaces.contains_key(name);

    for (name, group) in &scenario.node_groups {
        if scenario.nodepools.contains_key(name) {
            problem(
                table_needles("node_groups", name),
                format!("`{name}` is both a node group and a NodePool"),
            );
        }
        if group.nodes == 0 {
            problem(
                field_needles("node_groups", name, "nodes"),
                format!("node group `{name}` needs at least one node"),
            );
        }
        if !known_type(&group.instance_type) {
            problem(
                vec![format!("\"{}\"", group.instance_type)],
                format!(
                    "node group `{name}`: instance type `{}` is not one the simulator knows",
                    group.instance_type
                ),
            );
        }
    }
    for (name, pool) in &scenario.nodepools {
        let at = || table_needles("nodepools", name);
        if pool.capacity_types.is_empty() {
            problem(at(), format!("NodePool `{name}` allows no capacity type"));
        }
        if pool.instance_types.is_empty() {
            problem(at(), format!("NodePool `{name}` allows no instance type"));
        }
        for t in &pool.instance_types {
            if !known_type(t) {
                problem(
                    vec![format!("\"{t}\"")],
                    format!(
                        "NodePool `{name}`: instance type `{t}` is not one the simulator knows"
                    ),
                );
            }
        }
        match pool.consolidation_policy.as_str() {
            "WhenEmpty" | "WhenEmptyOrUnderutilized" => {}
            "WhenUnderutilized" => problem(
                at(),
                format!(
                    "NodePool `{name}`: `WhenUnderutilized` is a v1beta1 value; Karpenter v1 uses `WhenEmptyOrUnderutilized`"
                ),
            ),
            other => problem(
                at(),
                format!(
                    "NodePool `{name}`: consolidation_policy `{other}` must be `WhenEmpty` or `WhenEmptyOrUnderutilized`"
                ),
            ),
        }
        for (field, value) in [
            ("consolidate_after", &pool.consolidate_after),
            ("expire_after", &pool.expire_after),
        ] {
            if parse_duration(value).is_err() {
                problem(
                    at(),
                    format!(
                        "NodePool `{name}`: {field} `{value}` is not a duration like 30s or 720h"
                    ),
                );
            }
        }
        for budget in &pool.budgets {
            if parse_int_or_percent(&budget.nodes).is_none() {
                problem(
                    at(),
                    format!(
                        "NodePool `{name}`: budget nodes `{}` must be a count or a percentage",
                        budget.nodes
                    ),
                );
            }
            if budget.schedule.is_some() != budget.duration.is_some() {
                problem(
                    at(),
                    format!(
                        "NodePool `{name}`: a budget with a schedule also needs a duration (and the other way round)"
                    ),
                );
            }
            for reason in &budget.reasons {
                if !VALID_BUDGET_REASONS.contains(&reason.as_str()) {
                    problem(
                        at(),
                        format!(
                            "NodePool `{name}`: budget reason `{reason}` must be one of {}",
                            VALID_BUDGET_REASONS.join(", ")
                        ),
                    );
                }
            }
        }
        let [low, high] = pool.provisioning_seconds;
        if !(low > 0.0 && high >= low) {
            problem(
                at(),
                format!(
                    "NodePool `{name}`: provisioning_seconds must be [low, high] with 0 < low <= high"
                ),
            );
        }
        if !(0.0..=1.0).contains(&pool.on_demand_fallback) {
            problem(
                at(),
                format!("NodePool `{name}`: on_demand_fallback must be in 0..1"),
            );
        }
    }
    if scenario.dns.replicas == 0 {
        problem(
            vec!["[dns]".into()],
            "CoreDNS needs at least one replica".into(),
        );
    }
    if scenario.dns.corefile.trim().is_empty() {
        problem(vec!["corefile".into()], "the Corefile is empty".into());
    }
    if !pool_exists(&scenario.dns.nodepool) {
        problem(
            vec!["[dns]".into()],
            format!(
                "CoreDNS runs on `{}`, which is neither a node group nor a NodePool",
                scenario.dns.nodepool
            ),
        );
    }
    if !(3..=6).contains(&scenario.dns.search_domains) {
        problem(
            vec!["search_domains".into()],
            "search_domains must be in 3..=6".into(),
        );
    }
    if !(scenario.dns.upstream_p50_ms > 0.0
        && scenario.dns.upstream_p99_ms >= scenario.dns.upstream_p50_ms)
    {
        problem(
            vec!["upstream_p99_ms".into(), "[dns]".into()],
            "upstream latency needs 0 < upstream_p50_ms <= upstream_p99_ms".into(),
        );
    }

    for (name, workload) in &scenario.workloads {
        let at = || table_needles("workloads", name);
        if workload.namespace.is_empty() {
            problem(at(), format!("workload `{name}` has no namespace"));
        } else if !namespace_exists(&workload.namespace) {
            problem(
                at(),
                format!(
                    "workload `{name}` is in namespace `{}`, which is not declared under [namespaces]",
                    workload.namespace
                ),
            );
        }
        if workload.kind != WorkloadKind::DaemonSet && !pool_exists(&workload.nodepool) {
            problem(
                at(),
                format!(
                    "workload `{name}` runs on `{}`, which is neither a node group nor a NodePool",
                    workload.nodepool
                ),
            );
        }
        if workload.cpu_request_m <= 0.0 || workload.memory_request_mib <= 0.0 {
            problem(
                at(),
                format!("workload `{name}` needs positive CPU and memory requests"),
            );
        }
        if workload
            .cpu_limit_m
            .is_some_and(|l| l < workload.cpu_request_m)
            || workload
                .memory_limit_mib
                .is_some_and(|l| l < workload.memory_request_mib)
        {
            problem(
                at(),
                format!("workload `{name}` has a limit below its request"),
            );
        }
        if workload.cpu_usage_m < 0.0 || workload.memory_usage_mib < 0.0 {
            problem(at(), format!("workload `{name}` has negative usage"));
        }
        if !(0.0..1.0).contains(&workload.diurnal) || !(0.0..0.5).contains(&workload.noise) {
            problem(
                at(),
                format!("workload `{name}`: diurnal must be in 0..1 and noise in 0..0.5"),
            );
        }
        if let Some(hpa) = &workload.hpa
            && (hpa.min_replicas == 0
                || hpa.max_replicas < hpa.min_replicas
                || !(1.0..=100.0).contains(&hpa.target_cpu_percent))
        {
            problem(
                field_needles("workloads", name, "hpa"),
                format!(
                    "workload `{name}`: the HPA needs 1 <= min <= max replicas and a target of 1..100%"
                ),
            );
        }
        if let Some(mode) = &workload.vpa
            && !VALID_VPA_MODES.contains(&mode.as_str())
        {
            problem(
                at(),
                format!(
                    "workload `{name}`: VPA mode `{mode}` must be one of {}",
                    VALID_VPA_MODES.join(", ")
                ),
            );
        }
        if let Some(pdb) = &workload.pdb {
            let fields = [&pdb.min_available, &pdb.max_unavailable];
            let set: Vec<&String> = fields.iter().filter_map(|f| f.as_ref()).collect();
            if set.len() != 1 || set.iter().any(|v| parse_int_or_percent(v).is_none()) {
                problem(
                    field_needles("workloads", name, "pdb"),
                    format!(
                        "workload `{name}`: a PDB needs exactly one of min_available and max_unavailable, as a count or a percentage"
                    ),
                );
            }
        }
        let dns = &workload.dns;
        if dns.lookups_per_sec < 0.0
            || dns.internal_share < 0.0
            || dns.cross_namespace_share < 0.0
            || dns.internal_share + dns.cross_namespace_share > 1.0 + 1e-9
        {
            problem(
                field_needles("workloads", name, "dns"),
                format!(
                    "workload `{name}`: DNS shares must be non-negative and add up to at most 1"
                ),
            );
        }
        for call in &workload.calls {
            let target = call
                .namespace
                .as_deref()
                .map(|ns| {
                    scenario
                        .services
                        .get(&call.service)
                        .is_some_and(|s| s.namespace == ns)
                })
                .unwrap_or_else(|| scenario.services.contains_key(&call.service));
            if !target {
                problem(
                    vec![
                        format!("service = \"{}\"", call.service),
                        format!("[workloads.{name}]"),
                    ],
                    format!(
                        "workload `{name}` calls Service `{}`, which is not declared under [services]",
                        call.service
                    ),
                );
            }
            if call.bytes_per_sec < 0.0 || call.drops_per_sec < 0.0 {
                problem(
                    at(),
                    format!("workload `{name}`: call rates must not be negative"),
                );
            }
        }
    }
    for (name, service) in &scenario.services {
        let at = || table_needles("services", name);
        let workload_name = service.workload.as_deref().unwrap_or(name);
        match scenario.workloads.get(workload_name) {
            None => problem(
                at(),
                format!(
                    "Service `{name}` selects workload `{workload_name}`, which is not declared under [workloads]"
                ),
            ),
            Some(w) if w.namespace != service.namespace => problem(
                at(),
                format!(
                    "Service `{name}` is in namespace `{}` but its workload `{workload_name}` is in `{}`",
                    service.namespace, w.namespace
                ),
            ),
            Some(_) => {}
        }
    }
    for (name, gateway) in &scenario.gateways {
        let at = || table_needles("gateways", name);
        if !namespace_exists(&gateway.namespace) {
            problem(
                at(),
                format!(
                    "Gateway `{name}` is in an undeclared namespace `{}`",
                    gateway.namespace
                ),
            );
        }
        if gateway.listeners.is_empty() {
            problem(at(), format!("Gateway `{name}` has no listeners"));
        }
        for listener in &gateway.listeners {
            if listener.allowed_routes == AllowedRoutes::Selector && listener.namespaces.is_empty()
            {
                problem(
                    at(),
                    format!(
                        "Gateway `{name}`: listener `{}` uses a Selector but lists no namespaces",
                        listener.name
                    ),
                );
            }
        }
    }
    for (name, route) in &scenario.routes {
        let at = || table_needles("routes", name);
        if !namespace_exists(&route.namespace) {
            problem(
                at(),
                format!(
                    "route `{name}` is in an undeclared namespace `{}`",
                    route.namespace
                ),
            );
        }
        if route.parents.is_empty() {
            problem(at(), format!("route `{name}` has no parents"));
        }
        if route.requests_per_sec < 0.0 || !(0.0..=1.0).contains(&route.base_error_ratio) {
            problem(
                at(),
                format!("route `{name}`: requests must be >= 0 and base_error_ratio in 0..1"),
            );
        }
    }
    for (name, grant) in &scenario.reference_grants {
        if !namespace_exists(&grant.namespace) || grant.from_namespace.is_empty() {
            problem(
                table_needles("reference_grants", name),
                format!("ReferenceGrant `{name}` needs a declared namespace and a from_namespace"),
            );
        }
    }
    for disruption in &scenario.disruptions {
        let at = || {
            vec![
                format!("nodepool = \"{}\"", disruption.nodepool),
                "[[disruptions]]".to_string(),
            ]
        };
        if !VALID_DISRUPTIONS.contains(&disruption.reason.as_str()) {
            problem(
                at(),
                format!(
                    "disruption reason `{}` must be one of {}",
                    disruption.reason,
                    VALID_DISRUPTIONS.join(", ")
                ),
            );
        }
        if !scenario.nodepools.contains_key(&disruption.nodepool) {
            problem(
                at(),
                format!(
                    "disruption targets NodePool `{}`, which is not declared",
                    disruption.nodepool
                ),
            );
        }
        if disruption.count == 0 || disruption.duration_minutes <= 0.0 {
            problem(
                at(),
                "a disruption needs count >= 1 and a positive duration".into(),
            );
        }
        if disruption
            .repeat_every_minutes
            .is_some_and(|r| r < disruption.duration_minutes)
        {
            problem(
                at(),
                "a disruption cannot repeat before it has finished".into(),
            );
        }
    }
    problems
}

/// Reads a Kubernetes int-or-percent string: `Some((value, is_percent))`.
pub fn parse_int_or_percent(text: &str) -> Option<(f64, bool)> {
    let text = text.trim();
    if let Some(number) = text.strip_suffix('%') {
        let value: f64 = number.trim().parse().ok()?;
        (0.0..=100.0).contains(&value).then_some((value, true))
    } else {
        let value: u32 = text.parse().ok()?;
        Some((f64::from(value), false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMALL: &str = r#"
name = "small"
description = "A tiny cluster."

[node_groups.system]
instance_type = "m6i.large"
nodes = 3

[nodepools.general]
instance_types = ["m6i.xlarge"]

[namespaces.shop]
team = "storefront"

[workloads.frontend]
namespace = "shop"
replicas = 3

[services.frontend]
namespace = "shop"
"#;

    fn expect_invalid(result: Result<Scenario, ScenarioError>) -> (String, usize, usize, String) {
        match result {
            Err(ScenarioError::Invalid {
                origin,
                line,
                column,
                problem,
            }) => (origin, line, column, problem),
            other => panic!("expected an invalid-scenario error, got {other:?}"),
        }
    }

    #[test]
    fn parses_a_small_scenario_with_defaults() {
        let scenario = parse(SMALL, "small.toml").expect("valid");
        assert_eq!(scenario.name, "small");
        assert_eq!(scenario.region, "us-east-1");
        assert_eq!(scenario.dns.replicas, 2);
        assert_eq!(scenario.dns.corefile, EKS_DEFAULT_COREFILE);
        assert_eq!(scenario.workloads["frontend"].replicas, 3);
        assert_eq!(scenario.workloads["frontend"].dns.ndots, 5);
    }

    #[test]
    fn bad_toml_names_origin_and_line() {
        let text = "name = \"x\"\ndescription = \"y\"\n[dns\nreplicas = 2\n";
        let (origin, line, _, _) = expect_invalid(parse(text, "broken.toml"));
        assert_eq!(origin, "broken.toml");
        assert_eq!(line, 3);
        let message = parse(text, "broken.toml").unwrap_err().to_string();
        assert!(
            message.starts_with("broken.toml: line 3, column "),
            "{message}"
        );
    }

    #[test]
    fn bad_type_names_the_line() {
        let text = format!("{SMALL}\n[dns]\nreplicas = \"two\"\n");
        let (origin, line, _, problem) = expect_invalid(parse(&text, "typed.toml"));
        assert_eq!(origin, "typed.toml");
        assert_eq!(line, text.lines().count());
        assert!(
            problem.contains("integer") || problem.contains("u32"),
            "{problem}"
        );
    }

    #[test]
    fn unknown_field_names_the_line() {
        let text = SMALL.replace("replicas = 3", "replicas = 3\nreplica_count = 4");
        let (_, line, _, problem) = expect_invalid(parse(&text, "unknown.toml"));
        let expected = text
            .lines()
            .position(|l| l.starts_with("replica_count"))
            .map(|i| i + 1);
        assert_eq!(Some(line), expected);
        assert!(problem.contains("replica_count"), "{problem}");
    }

    #[test]
    fn dangling_reference_is_located() {
        let text = SMALL.replace("[services.frontend]", "[services.storefront]");
        let (_, line, _, problem) = expect_invalid(parse(&text, "dangling.toml"));
        let expected = text
            .lines()
            .position(|l| l.starts_with("[services.storefront]"))
            .map(|i| i + 1);
        assert_eq!(Some(line), expected);
        assert!(problem.contains("storefront"), "{problem}");
    }

    #[test]
    fn missing_name_is_reported() {
        let text = SMALL.replace("name = \"small\"", "");
        let (_, _, _, problem) = expect_invalid(parse(&text, "nameless.toml"));
        assert!(problem.contains("name"), "{problem}");
    }

    #[test]
    fn extends_merges_tables_and_replaces_values() {
        let child = r#"
name = "bigger"
description = "The small cluster with more frontends."
extends = "small"

[workloads.frontend]
replicas = 9

[workloads.crawler]
namespace = "shop"
dns = { ndots = 5, lookups_per_sec = 50.0 }
"#;
        let mut resolve = |name: &str, _: &str| {
            if name == "small" {
                Ok(ParentText {
                    text: SMALL.to_string(),
                    origin: "small.toml".to_string(),
                })
            } else {
                Err(format!("no scenario `{name}`"))
            }
        };
        let scenario = parse_with(
            child,
            "bigger.toml",
            &mut ParseContext {
                resolve_parent: &mut resolve,
                known_instance_types: Some(&["m6i.large", "m6i.xlarge"]),
            },
        )
        .expect("valid");
        assert_eq!(scenario.name, "bigger");
        assert_eq!(scenario.workloads["frontend"].replicas, 9);
        assert_eq!(scenario.workloads["frontend"].namespace, "shop");
        assert_eq!(scenario.workloads["crawler"].dns.lookups_per_sec, 50.0);
        assert_eq!(
            scenario.namespaces["shop"].team.as_deref(),
            Some("storefront")
        );
    }

    #[test]
    fn extends_without_a_resolver_points_at_extends() {
        let child = "name = \"x\"\ndescription = \"y\"\nextends = \"baseline\"\n";
        let (origin, line, _, problem) = expect_invalid(parse(child, "child.toml"));
        assert_eq!(origin, "child.toml");
        assert_eq!(line, 3);
        assert!(problem.contains("baseline"), "{problem}");
    }

    #[test]
    fn unknown_instance_type_is_reported() {
        let mut resolve = |_: &str, _: &str| Err("none".to_string());
        let text = SMALL.replace("[\"m6i.xlarge\"]", "[\"m6i.huge\"]");
        let result = parse_with(
            &text,
            "types.toml",
            &mut ParseContext {
                resolve_parent: &mut resolve,
                known_instance_types: Some(&["m6i.large", "m6i.xlarge"]),
            },
        );
        let (_, _, _, problem) = expect_invalid(result);
        assert!(problem.contains("m6i.huge"), "{problem}");
    }

    #[test]
    fn absurd_sizes_are_refused_at_the_line_that_sets_them() {
        let text = SMALL.replace("replicas = 3", "replicas = 100000000");
        let (origin, line, column, problem) = expect_invalid(parse(&text, "absurd.toml"));
        assert_eq!((origin.as_str(), line, column), ("absurd.toml", 17, 1));
        assert_eq!(
            problem,
            "workload `frontend`: replicas 100000000 is over kockpit's limit of 100000 replicas (a workload's replicas or HPA maximum)"
        );

        let nodes = SMALL.replace("nodes = 3", "nodes = 4000000");
        let (_, line, _, problem) = expect_invalid(parse(&nodes, "nodes.toml"));
        assert_eq!(line, 7, "{problem}");
        assert!(
            problem.contains("node group `system`: nodes 4000000"),
            "{problem}"
        );

        // Each within its own limit, too many together.
        let mut many = SMALL.replace("replicas = 3", "replicas = 90000");
        for i in 0..12 {
            many.push_str(&format!(
                "\n[workloads.batch-{i}]\nnamespace = \"shop\"\nreplicas = 90000\n"
            ));
        }
        let (_, _, _, problem) = expect_invalid(parse(&many, "many.toml"));
        assert!(problem.contains("the scenario's pods"), "{problem}");
        assert!(problem.contains("limit of 1000000 pods"), "{problem}");
    }

    #[test]
    fn numbers_that_are_not_finite_are_refused() {
        let text = SMALL.replace("replicas = 3", "replicas = 3\ncpu_request_m = inf");
        let (_, line, column, problem) = expect_invalid(parse(&text, "inf.toml"));
        assert_eq!((line, column), (18, 1));
        assert_eq!(problem, "`cpu_request_m` must be a finite number");
        let nan = format!("{SMALL}\n[dns]\nupstream_p99_ms = nan\n");
        let (_, _, _, problem) = expect_invalid(parse(&nan, "nan.toml"));
        assert_eq!(problem, "`upstream_p99_ms` must be a finite number");
    }

    #[test]
    fn a_disruption_shorter_than_a_minute_is_refused() {
        let text = format!(
            "{SMALL}\n[[disruptions]]\nreason = \"Drifted\"\nnodepool = \"general\"\nduration_minutes = 0.001\nrepeat_every_minutes = 0.001\ncount = 1\n"
        );
        let (_, _, _, problem) = expect_invalid(parse(&text, "waves.toml"));
        assert!(problem.contains("at least 1 minute"), "{problem}");
    }

    #[test]
    fn int_or_percent() {
        assert_eq!(parse_int_or_percent("10%"), Some((10.0, true)));
        assert_eq!(parse_int_or_percent("2"), Some((2.0, false)));
        assert_eq!(parse_int_or_percent("x"), None);
        assert_eq!(parse_int_or_percent("120%"), None);
    }
}
