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
    /// How much it matters, in units a user can compare; ranks findings of one severity.
    #[serde(default)]
    pub impact: Impact,
    /// The other objects of the same cause folded into this line (pods of one owner,
    /// symptoms of one cause), shown in the evidence view.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<Member>,
}

/// Whether a figure behind a finding got worse over the retained hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Trend {
    Worsening,
    Steady,
    Improving,
}

/// What a finding costs the cluster's users or owners now. Each part is absent when the
/// finding says nothing about it.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Impact {
    /// HTTP or gRPC requests per second failing or at risk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_per_sec: Option<f64>,
    /// DNS queries per second affected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queries_per_sec: Option<f64>,
    /// Pods that cannot run until the finding is dealt with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pods_waiting: Option<u32>,
    /// Money spent for nothing, per month.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usd_per_month: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trend: Option<Trend>,
}

impl Impact {
    pub fn is_empty(&self) -> bool {
        self.requests_per_sec.is_none()
            && self.queries_per_sec.is_none()
            && self.pods_waiting.is_none()
            && self.usd_per_month.is_none()
    }

    /// The larger of each part, for a line that stands for several findings.
    pub fn merge(self, other: Impact) -> Impact {
        fn most<T: PartialOrd>(a: Option<T>, b: Option<T>) -> Option<T> {
            match (a, b) {
                (Some(a), Some(b)) => Some(if b > a { b } else { a }),
                (a, b) => a.or(b),
            }
        }
        let trend = match (self.trend, other.trend) {
            (Some(Trend::Worsening), _) | (_, Some(Trend::Worsening)) => Some(Trend::Worsening),
            (a, b) => a.or(b),
        };
        Impact {
            requests_per_sec: most(self.requests_per_sec, other.requests_per_sec),
            queries_per_sec: most(self.queries_per_sec, other.queries_per_sec),
            pods_waiting: most(self.pods_waiting, other.pods_waiting),
            usd_per_month: most(self.usd_per_month, other.usd_per_month),
            trend,
        }
    }
}

/// Why a finding was folded into another's line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fold {
    /// Another object of the same owner with the same finding.
    SameOwner,
    /// A consequence of the line's cause.
    Symptom,
}

/// A finding folded into another's line: enough to list it in the evidence view and to find
/// it again by id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Member {
    pub id: String,
    pub fold: Fold,
    pub pane: Pane,
    pub severity: Severity,
    pub summary: String,
    pub object: ObjectRef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
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
