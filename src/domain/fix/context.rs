//! What a plan needs from the cockpit besides the object itself: the snapshot rows about the
//! finding's object (route backends, endpoints per zone, usage, NodePool figures…).

use crate::domain::Cockpit;
use crate::domain::finding::Finding;
use crate::domain::model::{
    DnsClient, DnsSnapshot, FlowUnit, NamespaceInfo, NodePoolInfo, RouteStatus, ServiceTopology,
    WorkloadUsage, ZoneBasis,
};
use crate::domain::spend;

/// The per-pod CoreDNS rate above which a scale-out is suggested, when no thresholds are given.
pub const DEFAULT_DNS_QPS_PER_POD: f64 = 5000.0;

/// A Service's cross-zone traffic when the plan is made, and how far the source can be
/// trusted to show it fall.
#[derive(Debug, Clone, PartialEq)]
pub struct CrossZoneNow {
    pub per_sec: f64,
    pub unit: FlowUnit,
    /// The source measures zones (rather than estimating them from pod placement): a fall
    /// after the fix is evidence, not a consequence of the estimate.
    pub measured: bool,
    /// How long the source takes to show a change in full.
    pub window: std::time::Duration,
}

/// The snapshot rows a plan reads. Every part is optional: a plan that needs a missing part
/// says so in a warning or an error rather than guessing.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanContext {
    pub dns: Option<DnsSnapshot>,
    /// The workload behind an NXDOMAIN finding.
    pub dns_client: Option<DnsClient>,
    /// Per-pod CoreDNS rate to size replicas against.
    pub dns_qps_per_pod: f64,
    /// Schedulable (ready, not disrupting) nodes and the zones they are in.
    pub schedulable_nodes: u32,
    pub zones: Vec<String>,
    pub route: Option<RouteStatus>,
    pub service: Option<ServiceTopology>,
    /// The Service's cross-zone traffic now, as the flow source measures it.
    pub service_cross_zone: Option<CrossZoneNow>,
    /// The Kubernetes minor version, when known: `trafficDistribution` needs 1.31.
    pub kubernetes_minor: Option<u32>,
    pub nodepool: Option<NodePoolInfo>,
    pub nodes_in_pool: u32,
    pub pending_pods: u32,
    /// For "$ at the new ceiling".
    pub usd_per_core_hour: Option<f64>,
    /// The rows of the finding's workload (one per container).
    pub workload: Vec<WorkloadUsage>,
    pub namespace: Option<NamespaceInfo>,
    /// An HPA (or another autoscaler) writes the target's replicas.
    pub hpa_owns_replicas: bool,
    /// The update mode of a VPA targeting the workload, if any.
    pub vpa_update_mode: Option<String>,
}

impl Default for PlanContext {
    fn default() -> Self {
        PlanContext {
            dns: None,
            dns_client: None,
            dns_qps_per_pod: DEFAULT_DNS_QPS_PER_POD,
            schedulable_nodes: 0,
            zones: Vec::new(),
            route: None,
            service: None,
            service_cross_zone: None,
            kubernetes_minor: None,
            nodepool: None,
            nodes_in_pool: 0,
            pending_pods: 0,
            usd_per_core_hour: None,
            workload: Vec::new(),
            namespace: None,
            hpa_owns_replicas: false,
            vpa_update_mode: None,
        }
    }
}

impl PlanContext {
    /// Gathers the rows about `finding.object` from the cockpit's latest snapshots.
    pub fn from_cockpit(cockpit: &Cockpit, finding: &Finding) -> Self {
        let object = &finding.object;
        let namespace = object.namespace.as_deref().unwrap_or_default();
        let mut context = PlanContext {
            dns: cockpit.dns.clone(),
            dns_qps_per_pod: cockpit.config.thresholds.dns_qps_per_pod,
            ..PlanContext::default()
        };
        if let Some(metrics) = cockpit.dns.as_ref().and_then(|d| d.metrics.as_ref()) {
            context.dns_client = metrics
                .nxdomain_sources
                .iter()
                .find(|c| c.namespace == namespace && c.workload == object.name)
                .cloned();
        }
        if let Some(nodes) = &cockpit.nodes {
            context.schedulable_nodes = nodes
                .nodes
                .iter()
                .filter(|n| n.ready && !n.disrupting)
                .count() as u32;
            let mut zones: Vec<String> = nodes.nodes.iter().map(|n| n.zone.clone()).collect();
            zones.sort();
            zones.dedup();
            context.zones = zones;
            context.pending_pods = nodes.pending_pods.len() as u32;
            if object.kind == "NodePool" {
                context.nodepool = nodes
                    .nodepools
                    .iter()
                    .find(|p| p.name == object.name)
                    .cloned();
                context.nodes_in_pool = nodes
                    .nodes
                    .iter()
                    .filter(|n| n.nodepool.as_deref() == Some(object.name.as_str()))
                    .count() as u32;
            }
        }
        if let Some(gateways) = &cockpit.gateways {
            context.route = gateways
                .routes
                .iter()
                .find(|r| {
                    r.kind.as_str() == object.kind
                        && r.namespace == namespace
                        && r.name == object.name
                })
                .cloned();
        }
        if let Some(flows) = &cockpit.flows {
            if !flows.zones.is_empty() {
                context.zones = flows.zones.clone();
            }
            if object.kind == "Service" {
                context.service = flows
                    .services
                    .iter()
                    .find(|s| s.namespace == namespace && s.name == object.name)
                    .cloned();
                context.service_cross_zone = flows.has_flow_data().then(|| CrossZoneNow {
                    per_sec: crate::domain::flows::service_cross_zone_per_sec(
                        flows,
                        namespace,
                        &object.name,
                    ),
                    unit: flows.unit(),
                    measured: flows
                        .source
                        .as_ref()
                        .is_some_and(|s| s.zones == ZoneBasis::Measured),
                    window: std::time::Duration::from_secs(
                        flows.source.as_ref().map_or(0, |s| s.window_seconds),
                    ),
                });
            }
        }
        if let Some(workloads) = &cockpit.workloads {
            context.workload = workloads
                .workloads
                .iter()
                .filter(|w| w.namespace == namespace && w.name == object.name)
                .cloned()
                .collect();
            // A finding about one container of several names it last in its id.
            let suffix = |container: &str| finding.id.ends_with(&format!("/{container}"));
            if context.workload.len() > 1 && context.workload.iter().any(|w| suffix(&w.container)) {
                context.workload.retain(|w| suffix(&w.container));
            }
            context.hpa_owns_replicas = context.workload.iter().any(|w| w.hpa_on_cpu);
            context.vpa_update_mode = context
                .workload
                .iter()
                .find_map(|w| w.vpa.as_ref().map(|v| v.update_mode.clone()));
            if object.kind == "Namespace" {
                context.namespace = workloads
                    .namespaces
                    .iter()
                    .find(|n| n.name == object.name)
                    .cloned();
            }
        }
        if let Some(view) = &cockpit.spend {
            context.usd_per_core_hour = Some(spend::unit_costs(view).usd_per_core_hour);
        }
        context
    }

    /// The busiest CoreDNS pod's working set, when metrics give it.
    pub fn dns_peak_memory_mib(&self) -> Option<f64> {
        self.dns
            .as_ref()?
            .pods
            .iter()
            .filter_map(|p| p.memory_mib)
            .filter(|m| m.is_finite())
            .max_by(f64::total_cmp)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::cockpit::AnalysisConfig;
    use crate::domain::finding::FixKind;
    use crate::domain::fix::fixtures::{dns_snapshot, finding};
    use crate::domain::model::{ObjectRef, Update};

    #[test]
    fn from_cockpit_picks_the_rows_about_the_finding_object() {
        let mut cockpit = Cockpit::new(AnalysisConfig::default());
        cockpit.apply(Update::Dns(dns_snapshot()));
        let ndots = finding(
            FixKind::DnsLowerNdots,
            ObjectRef::namespaced("Deployment", "shop", "checkout"),
        );
        let context = PlanContext::from_cockpit(&cockpit, &ndots);
        assert_eq!(
            context.dns_client.as_ref().map(|c| c.nxdomain_ratio),
            Some(0.8)
        );
        assert_eq!(context.dns_peak_memory_mib(), Some(150.0));
        assert_eq!(
            context.dns_qps_per_pod,
            cockpit.config.thresholds.dns_qps_per_pod
        );
        let other = finding(
            FixKind::DnsLowerNdots,
            ObjectRef::namespaced("Deployment", "shop", "cart"),
        );
        assert_eq!(PlanContext::from_cockpit(&cockpit, &other).dns_client, None);
    }
}
