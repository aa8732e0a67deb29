//! The fix plan as a value: what object is changed, how, under which precondition, what it
//! looks like before and after, how risky it is, how to undo it, and how to tell it worked.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::domain::finding::FixKind;

/// The field manager kockpit writes with, so `managedFields` names it.
pub const FIELD_MANAGER: &str = "kockpit";

/// The object a plan writes to, with what an API client needs to address it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// `v1`, `apps/v1`, `karpenter.sh/v1`, …
    pub api_version: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
    /// The resource's plural, e.g. `deployments`, `nodepools`.
    pub resource: String,
    /// e.g. `scale` when replicas are written through the scale subresource.
    pub subresource: Option<String>,
}

impl Target {
    /// The API group (empty for the core group).
    pub fn group(&self) -> &str {
        match self.api_version.rsplit_once('/') {
            Some((group, _)) => group,
            None => "",
        }
    }

    /// "Deployment kube-system/coredns (scale)", as the user reads it.
    pub fn describe(&self) -> String {
        let mut text = match &self.namespace {
            Some(ns) => format!("{} {}/{}", self.kind, ns, self.name),
            None => format!("{} {}", self.kind, self.name),
        };
        if let Some(sub) = &self.subresource {
            text.push_str(&format!(" ({sub})"));
        }
        text
    }
}

/// The patch media types of §8.3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PatchType {
    /// `application/merge-patch+json` (maps, scalars, CRDs).
    Merge,
    /// `application/json-patch+json` (array index edits, with `test` ops).
    Json,
    /// `application/strategic-merge-patch+json` (built-in workloads; lists keyed by name).
    StrategicMerge,
}

impl PatchType {
    pub fn content_type(self) -> &'static str {
        match self {
            PatchType::Merge => "application/merge-patch+json",
            PatchType::Json => "application/json-patch+json",
            PatchType::StrategicMerge => "application/strategic-merge-patch+json",
        }
    }

    /// The value of `kubectl patch --type`.
    pub fn kubectl_type(self) -> &'static str {
        match self {
            PatchType::Merge => "merge",
            PatchType::Json => "json",
            PatchType::StrategicMerge => "strategic",
        }
    }
}

/// What is sent to the API server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "operation", rename_all = "kebab-case")]
pub enum Operation {
    Patch {
        patch_type: PatchType,
        body: Value,
    },
    Create {
        body: Value,
    },
    /// Only as the inverse of a create.
    Delete,
}

/// How a write is kept from overwriting a change someone else made in between.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "precondition", content = "value", rename_all = "kebab-case")]
pub enum Precondition {
    /// `metadata.resourceVersion` is in the patch body; a newer object gives 409 Conflict.
    ResourceVersion(String),
    /// The JSON patch begins with these `test` ops; a changed value fails the whole patch.
    JsonTest(Vec<JsonTest>),
    /// A create: 409 AlreadyExists if the object is there.
    MustNotExist,
    /// For an undo: the resourceVersion (and, for a delete, the uid) the apply returned. The
    /// executor fills it in with [`with_resource_version`] before sending; it cannot be known
    /// when the plan is made.
    ResourceVersionFromApply,
}

/// One `test` op of a JSON patch.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonTest {
    pub path: String,
    pub value: Value,
}

/// The undo of a plan: applied after the fix, it restores the prior fields exactly.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Inverse {
    pub operation: Operation,
    pub precondition: Precondition,
}

/// One changed field, by dotted path; list items keyed by name read `containers[coredns]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldChange {
    pub path: String,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Risk {
    Low,
    Medium,
    High,
}

impl Risk {
    pub fn as_str(self) -> &'static str {
        match self {
            Risk::Low => "low",
            Risk::Medium => "medium",
            Risk::High => "high",
        }
    }
}

/// What the user does to confirm: low risk is a `y`; medium and high risk mean typing the
/// object's name, so a fix is never applied by a stray key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "confirm", content = "text", rename_all = "kebab-case")]
pub enum Confirmation {
    PressY,
    TypeName(String),
}

impl Confirmation {
    pub fn for_risk(risk: Risk, name: &str) -> Self {
        match risk {
            Risk::Low => Confirmation::PressY,
            Risk::Medium | Risk::High => Confirmation::TypeName(name.to_string()),
        }
    }
}

/// The success condition a fix is verified against, evaluated on the cockpit's snapshots.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "condition", rename_all = "kebab-case")]
pub enum VerifyCondition {
    /// The CoreDNS cache hit ratio reaches `target` (0..=1); or, from a known `from`, rises
    /// by at least `CACHE_HIT_GAIN` with p99 no worse than `p99_from_ms`: the runbook's
    /// "moves toward 80 %". An NXDOMAIN storm over thousands of names may never reach 80 %
    /// by caching alone, and a fix that lifts it from 47 % to 58 % still worked.
    #[serde(alias = "dns-cache-hit-above")]
    DnsCacheHitRises {
        #[serde(alias = "ratio")]
        target: f64,
        #[serde(default)]
        from: Option<f64>,
        #[serde(default)]
        p99_from_ms: Option<f64>,
    },
    /// CoreDNS ready replicas at least this many.
    ReadyReplicasAtLeast { replicas: u32 },
    /// Every CoreDNS pod on its own node.
    DnsReplicasOnDistinctNodes,
    /// The busiest CoreDNS pod's working set below `share` of the new limit.
    DnsMemoryBelowLimit { limit_mib: u32, share: f64 },
    /// The workload's NXDOMAIN share below `ratio`.
    NxdomainBelow {
        namespace: String,
        workload: String,
        ratio: f64,
    },
    /// Route `Accepted=True` and `ResolvedRefs=True` on every parent, status up to date.
    RouteAccepted { namespace: String, name: String },
    /// The route is accepted and the canaries carry no weight.
    CanaryDrained {
        namespace: String,
        name: String,
        canaries: Vec<String>,
    },
    /// The Service's EndpointSlices carry zone hints and, when the flow source measures
    /// zones, its cross-zone traffic has fallen to at most `CROSS_ZONE_FALL` of what it was.
    ZoneHintsPresent {
        namespace: String,
        name: String,
        /// Cross-zone traffic towards the Service before the apply, in the source's unit,
        /// when a source measured it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cross_zone_before: Option<f64>,
    },
    /// The NodePool shows the frozen budget and no voluntary disruption happens after apply.
    DisruptionsStopped { nodepool: String },
    /// The NodePool reports the new consolidation settings.
    ConsolidationPolicyIs {
        nodepool: String,
        policy: String,
        consolidate_after: String,
    },
    /// The NodePool shows the new limit and no pod is Pending.
    NoPendingPodsFor { nodepool: String, cpu_limit: f64 },
    /// The workload runs with the new requests and has not been OOM-killed more since.
    RequestsApplied {
        namespace: String,
        workload: String,
        container: String,
        cpu_request_m: u32,
        memory_request_mib: u32,
        oom_kills_before: u32,
    },
    /// No CPU limit any more and throttling below `ratio`.
    ThrottlingBelow {
        namespace: String,
        workload: String,
        container: String,
        ratio: f64,
    },
    /// The VPA exists and gives a recommendation.
    VpaRecommending { namespace: String, workload: String },
    /// The namespace carries `team` and `cost-center`.
    NamespaceLabelled { namespace: String },
}

impl VerifyCondition {
    /// What "it worked" means, in the words the plan window shows.
    pub fn goal(&self) -> String {
        use crate::domain::format::percent;
        match self {
            VerifyCondition::DnsCacheHitRises { target, from, .. } => match from {
                Some(_) => format!(
                    "cache hit ratio reaches {} or rises {} points with p99 no worse",
                    percent(*target),
                    (super::verify::CACHE_HIT_GAIN * 100.0).round()
                ),
                None => format!("cache hit ratio reaches {}", percent(*target)),
            },
            VerifyCondition::ReadyReplicasAtLeast { replicas } => {
                format!("{replicas} CoreDNS replicas ready")
            }
            VerifyCondition::DnsReplicasOnDistinctNodes => {
                "every CoreDNS pod on its own node".into()
            }
            VerifyCondition::DnsMemoryBelowLimit { limit_mib, share } => format!(
                "CoreDNS working set below {} of the new {limit_mib} MiB limit",
                percent(*share)
            ),
            VerifyCondition::NxdomainBelow {
                workload, ratio, ..
            } => format!("{workload}'s NXDOMAIN share below {}", percent(*ratio)),
            VerifyCondition::RouteAccepted { name, .. } => {
                format!("{name} Accepted and ResolvedRefs on every parent")
            }
            VerifyCondition::CanaryDrained { name, .. } => {
                format!("{name} accepted with its canaries at weight 0")
            }
            VerifyCondition::ZoneHintsPresent {
                name,
                cross_zone_before,
                ..
            } => match cross_zone_before {
                Some(_) => format!(
                    "{name}'s EndpointSlices carry zone hints and its cross-zone traffic falls to {} of what it was",
                    percent(super::verify::CROSS_ZONE_FALL)
                ),
                None => format!("{name}'s EndpointSlices carry zone hints"),
            },
            VerifyCondition::DisruptionsStopped { nodepool } => {
                format!("{nodepool} frozen and no voluntary disruption after the apply")
            }
            VerifyCondition::ConsolidationPolicyIs {
                nodepool, policy, ..
            } => format!("{nodepool} reports {policy}"),
            VerifyCondition::NoPendingPodsFor { nodepool, .. } => {
                format!("{nodepool} shows the new limit and no pod is Pending")
            }
            VerifyCondition::RequestsApplied { workload, .. } => {
                format!("{workload} runs with the new requests, no new OOM kills")
            }
            VerifyCondition::ThrottlingBelow {
                workload, ratio, ..
            } => format!(
                "{workload} has no CPU limit and throttles below {}",
                percent(*ratio)
            ),
            VerifyCondition::VpaRecommending { workload, .. } => {
                format!("the VPA for {workload} gives a recommendation")
            }
            VerifyCondition::NamespaceLabelled { namespace } => {
                format!("{namespace} carries team and cost-center")
            }
        }
    }
}

/// How and when a fix is judged, with the figures before it, for a before/after view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verification {
    pub condition: VerifyCondition,
    pub within: Duration,
    pub before: Vec<(String, String)>,
}

/// Everything the cockpit shows, applies, exports and undoes for one fix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FixPlan {
    /// Stable: the finding's id and the fix's slug.
    pub id: String,
    pub kind: FixKind,
    pub target: Target,
    pub operation: Operation,
    pub precondition: Precondition,
    /// `None` only for a refused plan.
    pub inverse: Option<Inverse>,
    pub diff: Vec<FieldChange>,
    pub risk: Risk,
    pub confirmation: Confirmation,
    /// What the change touches, e.g. "2 CoreDNS replicas restart (rollout)".
    pub blast_radius: String,
    pub warnings: Vec<String>,
    /// Set when a hard precondition fails: the plan must not be applied, only shown. A
    /// refused plan's operation is an empty merge patch, its precondition a placeholder, and
    /// it has no diff and no inverse.
    pub refusal: Option<String>,
    pub verify: Verification,
}

impl FixPlan {
    pub fn is_refused(&self) -> bool {
        self.refusal.is_some()
    }

    /// The undo, ready to send: `rv` (and `uid` for a delete) are what the apply returned.
    /// `None` when the plan has no inverse.
    pub fn undo_operation(&self, rv: &str) -> Option<Operation> {
        let inverse = self.inverse.as_ref()?;
        Some(match &inverse.precondition {
            Precondition::ResourceVersionFromApply => with_resource_version(&inverse.operation, rv),
            _ => inverse.operation.clone(),
        })
    }
}

/// Puts `metadata.resourceVersion` into a merge or strategic patch (the precondition the API
/// server checks). JSON patches, creates and deletes are returned unchanged: a JSON patch
/// carries `test` ops, and a delete's preconditions go in its DeleteOptions.
pub fn with_resource_version(operation: &Operation, rv: &str) -> Operation {
    match operation {
        Operation::Patch {
            patch_type: patch_type @ (PatchType::Merge | PatchType::StrategicMerge),
            body: Value::Object(body),
        } => {
            let mut body = body.clone();
            let metadata = body
                .entry("metadata")
                .or_insert_with(|| Value::Object(Default::default()));
            if !metadata.is_object() {
                *metadata = Value::Object(Default::default());
            }
            if let Value::Object(metadata) = metadata {
                metadata.insert("resourceVersion".into(), Value::String(rv.to_string()));
            }
            Operation::Patch {
                patch_type: *patch_type,
                body: Value::Object(body),
            }
        }
        other => other.clone(),
    }
}
