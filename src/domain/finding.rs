//! Findings: what the analysis concluded, in one line, with the numbers behind it and the
//! fix it would recommend.

use serde::{Deserialize, Serialize};

use super::model::{ObjectRef, Pane};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

/// One number behind a finding, e.g. ("p99 latency", "142 ms", "critical above 100 ms").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    pub label: String,
    pub value: String,
    /// The threshold or comparison that makes the value notable.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub threshold: String,
}

impl Evidence {
    pub fn new(label: &str, value: impl Into<String>, threshold: impl Into<String>) -> Self {
        Evidence {
            label: label.to_string(),
            value: value.into(),
            threshold: threshold.into(),
        }
    }
}

/// A recommended fix from the catalogue (eks-domain.md §8.4). The plan itself (patch,
/// precondition, inverse) is built from the finding's object when the user asks for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FixKind {
    DnsCacheProfile,
    DnsScaleReplicas,
    DnsSpreadReplicas,
    DnsRaiseMemoryLimit,
    DnsLowerNdots,
    GatewayCreateReferenceGrant,
    GatewayRollbackCanary,
    FlowsTopologyAwareRouting,
    NodesFreezeDisruption,
    NodesConsolidationPolicy,
    NodesRaiseLimit,
    RightsizeRequests,
    RightsizeRemoveCpuLimit,
    RightsizeCreateVpa,
    SpendCostLabels,
}

impl FixKind {
    /// Stable identifier, used in JSON and on the command line.
    pub fn slug(self) -> &'static str {
        match self {
            FixKind::DnsCacheProfile => "dns-cache-profile",
            FixKind::DnsScaleReplicas => "dns-scale-replicas",
            FixKind::DnsSpreadReplicas => "dns-spread-replicas",
            FixKind::DnsRaiseMemoryLimit => "dns-raise-memory-limit",
            FixKind::DnsLowerNdots => "dns-lower-ndots",
            FixKind::GatewayCreateReferenceGrant => "gateway-create-reference-grant",
            FixKind::GatewayRollbackCanary => "gateway-rollback-canary",
            FixKind::FlowsTopologyAwareRouting => "flows-topology-aware-routing",
            FixKind::NodesFreezeDisruption => "nodes-freeze-disruption",
            FixKind::NodesConsolidationPolicy => "nodes-consolidation-policy",
            FixKind::NodesRaiseLimit => "nodes-raise-limit",
            FixKind::RightsizeRequests => "rightsize-requests",
            FixKind::RightsizeRemoveCpuLimit => "rightsize-remove-cpu-limit",
            FixKind::RightsizeCreateVpa => "rightsize-create-vpa",
            FixKind::SpendCostLabels => "spend-cost-labels",
        }
    }

    /// What the fix does, in the words the user sees.
    pub fn title(self) -> &'static str {
        match self {
            FixKind::DnsCacheProfile => "Apply the recommended CoreDNS cache/TTL profile",
            FixKind::DnsScaleReplicas => "Scale CoreDNS replicas",
            FixKind::DnsSpreadReplicas => "Spread CoreDNS replicas across nodes and zones",
            FixKind::DnsRaiseMemoryLimit => "Raise the CoreDNS memory limit",
            FixKind::DnsLowerNdots => "Lower ndots for the workload causing NXDOMAIN",
            FixKind::GatewayCreateReferenceGrant => "Create the missing ReferenceGrant",
            FixKind::GatewayRollbackCanary => "Roll back the canary weight",
            FixKind::FlowsTopologyAwareRouting => "Enable topology-aware routing on the Service",
            FixKind::NodesFreezeDisruption => "Freeze voluntary disruption on the NodePool",
            FixKind::NodesConsolidationPolicy => "Switch the NodePool's consolidation policy",
            FixKind::NodesRaiseLimit => "Raise the saturated NodePool CPU limit",
            FixKind::RightsizeRequests => "Apply the recommended requests",
            FixKind::RightsizeRemoveCpuLimit => "Remove the CPU limit from the throttled workload",
            FixKind::RightsizeCreateVpa => "Create a recommendation-only VPA",
            FixKind::SpendCostLabels => "Add cost-allocation labels to the namespace",
        }
    }
}

/// What the analysis concluded about one object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable while the condition lasts, e.g. `dns/latency-p99` or
    /// `gateways/ref-not-permitted/shop/checkout`; used to select and to fix.
    pub id: String,
    pub pane: Pane,
    pub severity: Severity,
    /// One line a person on call can act on.
    pub summary: String,
    pub evidence: Vec<Evidence>,
    pub object: ObjectRef,
    pub fix: Option<FixKind>,
}

impl Finding {
    /// The id `kockpit fix show` and `fix apply` take: the finding's id and the fix's slug,
    /// e.g. `dns/cache-hit-ratio#dns-cache-profile`. None when the finding offers no fix.
    pub fn fix_id(&self) -> Option<String> {
        self.fix.map(|kind| format!("{}#{}", self.id, kind.slug()))
    }
}

/// Orders findings most severe first, then by pane, then by id, so lists are stable.
pub fn sort_findings(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then(a.pane.cmp(&b.pane))
            .then(a.id.cmp(&b.id))
    });
}
