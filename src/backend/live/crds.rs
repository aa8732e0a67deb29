//! Small serde types for the custom resources kockpit reads (Gateway API, Karpenter, VPA):
//! only the fields the panes use, everything optional or defaulted so that a field a newer
//! CRD version dropped or renamed never fails a list. And their projections.

use std::collections::BTreeMap;

use kube::core::{ApiResource, GroupVersionKind, Object};
use serde::Deserialize;

use super::project::capacity_from_label;
use crate::domain::assemble::quantity::{cpu_millicores, memory_mib};
use crate::domain::assemble::*;
use crate::domain::model::{Condition, ConditionStatus, DisruptionBudget, RouteKind};
use crate::domain::time::Timestamp;

/// A CRD kind kockpit watches: where it lives and how the API spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CrdKind {
    pub group: &'static str,
    pub version: &'static str,
    pub kind: &'static str,
    pub plural: &'static str,
}

impl CrdKind {
    pub fn api_resource(&self) -> ApiResource {
        ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk(self.group, self.version, self.kind),
            self.plural,
        )
    }

    pub fn group_version(&self) -> String {
        format!("{}/{}", self.group, self.version)
    }
}

pub const GATEWAY_CLASS: CrdKind = CrdKind {
    group: "gateway.networking.k8s.io",
    version: "v1",
    kind: "GatewayClass",
    plural: "gatewayclasses",
};
pub const GATEWAY: CrdKind = CrdKind {
    group: "gateway.networking.k8s.io",
    version: "v1",
    kind: "Gateway",
    plural: "gateways",
};
pub const HTTP_ROUTE: CrdKind = CrdKind {
    group: "gateway.networking.k8s.io",
    version: "v1",
    kind: "HTTPRoute",
    plural: "httproutes",
};
pub const GRPC_ROUTE: CrdKind = CrdKind {
    group: "gateway.networking.k8s.io",
    version: "v1",
    kind: "GRPCRoute",
    plural: "grpcroutes",
};
pub const REFERENCE_GRANT: CrdKind = CrdKind {
    group: "gateway.networking.k8s.io",
    version: "v1beta1",
    kind: "ReferenceGrant",
    plural: "referencegrants",
};
pub const NODE_POOL: CrdKind = CrdKind {
    group: "karpenter.sh",
    version: "v1",
    kind: "NodePool",
    plural: "nodepools",
};
pub const NODE_CLAIM: CrdKind = CrdKind {
    group: "karpenter.sh",
    version: "v1",
    kind: "NodeClaim",
    plural: "nodeclaims",
};
pub const EC2_NODE_CLASS: CrdKind = CrdKind {
    group: "karpenter.k8s.aws",
    version: "v1",
    kind: "EC2NodeClass",
    plural: "ec2nodeclasses",
};
pub const VPA: CrdKind = CrdKind {
    group: "autoscaling.k8s.io",
    version: "v1",
    kind: "VerticalPodAutoscaler",
    plural: "verticalpodautoscalers",
};

/// A `metav1.Condition` with only what kockpit shows.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ApiCondition {
    #[serde(rename = "type")]
    pub type_: String,
    pub status: String,
    pub reason: String,
    pub message: String,
    pub observed_generation: Option<i64>,
    pub last_transition_time: Option<String>,
}

impl ApiCondition {
    fn to_condition(&self) -> Condition {
        Condition {
            status: match self.status.as_str() {
                "True" => ConditionStatus::True,
                "False" => ConditionStatus::False,
                _ => ConditionStatus::Unknown,
            },
            reason: self.reason.clone(),
            message: self.message.clone(),
        }
    }

    fn transition(&self) -> Option<Timestamp> {
        parse_time(self.last_transition_time.as_deref()?)
    }
}

fn find<'a>(conditions: &'a [ApiCondition], type_: &str) -> Option<&'a ApiCondition> {
    conditions.iter().find(|c| c.type_ == type_)
}

fn parse_time(text: &str) -> Option<Timestamp> {
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

/// Status of a kind whose status kockpit does not read.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Unread {}

// --- Gateway API --------------------------------------------------------------------------

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct GatewayClassSpec {
    pub controller_name: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ConditionsStatus {
    pub conditions: Vec<ApiCondition>,
}

pub type GatewayClassObject = Object<GatewayClassSpec, ConditionsStatus>;

pub fn gateway_class(object: &GatewayClassObject) -> GatewayClassProjection {
    let conditions = object.status.as_ref().map(|s| s.conditions.as_slice());
    GatewayClassProjection {
        name: object.metadata.name.clone().unwrap_or_default(),
        controller: object.spec.controller_name.clone(),
        accepted: conditions
            .and_then(|c| find(c, "Accepted"))
            .map(ApiCondition::to_condition),
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct GatewaySpec {
    pub gateway_class_name: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct GatewayAddress {
    pub value: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ListenerStatus {
    pub name: String,
    pub attached_routes: i64,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct GatewayStatusApi {
    pub addresses: Vec<GatewayAddress>,
    pub conditions: Vec<ApiCondition>,
    pub listeners: Vec<ListenerStatus>,
}

pub type GatewayObject = Object<GatewaySpec, GatewayStatusApi>;

pub fn gateway(object: &GatewayObject) -> GatewayProjection {
    let status = object.status.clone().unwrap_or_default();
    GatewayProjection {
        namespace: object.metadata.namespace.clone().unwrap_or_default(),
        name: object.metadata.name.clone().unwrap_or_default(),
        class: object.spec.gateway_class_name.clone(),
        address: status
            .addresses
            .iter()
            .map(|a| a.value.clone())
            .find(|v| !v.is_empty()),
        accepted: find(&status.conditions, "Accepted").map(ApiCondition::to_condition),
        programmed: find(&status.conditions, "Programmed").map(ApiCondition::to_condition),
        attached_routes: status
            .listeners
            .iter()
            .map(|l| u32::try_from(l.attached_routes).unwrap_or(0))
            .sum(),
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ParentReference {
    pub kind: Option<String>,
    pub namespace: Option<String>,
    pub name: String,
    pub section_name: Option<String>,
}

impl ParentReference {
    fn project(&self) -> ParentRefProjection {
        ParentRefProjection {
            kind: self.kind.clone().unwrap_or_else(|| "Gateway".to_string()),
            namespace: self.namespace.clone(),
            name: self.name.clone(),
            section: self.section_name.clone(),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct BackendReference {
    pub kind: Option<String>,
    pub namespace: Option<String>,
    pub name: String,
    pub port: Option<i64>,
    pub weight: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RouteRule {
    pub backend_refs: Vec<BackendReference>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RouteSpec {
    pub parent_refs: Vec<ParentReference>,
    pub hostnames: Vec<String>,
    pub rules: Vec<RouteRule>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct RouteParentStatus {
    pub parent_ref: ParentReference,
    pub controller_name: String,
    pub conditions: Vec<ApiCondition>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct RouteStatusApi {
    pub parents: Vec<RouteParentStatus>,
}

pub type RouteObject = Object<RouteSpec, RouteStatusApi>;

pub fn route(kind: RouteKind, object: &RouteObject) -> RouteProjection {
    let spec = &object.spec;
    let parents = object
        .status
        .as_ref()
        .map(|s| s.parents.as_slice())
        .unwrap_or_default()
        .iter()
        .map(|status| RouteParentStatusProjection {
            parent: status.parent_ref.project(),
            accepted: find(&status.conditions, "Accepted").map(ApiCondition::to_condition),
            resolved_refs: find(&status.conditions, "ResolvedRefs").map(ApiCondition::to_condition),
            observed_generation: status
                .conditions
                .iter()
                .filter_map(|c| c.observed_generation)
                .min(),
        })
        .collect();
    RouteProjection {
        kind,
        namespace: object.metadata.namespace.clone().unwrap_or_default(),
        name: object.metadata.name.clone().unwrap_or_default(),
        hostnames: spec.hostnames.clone(),
        parent_refs: spec
            .parent_refs
            .iter()
            .map(ParentReference::project)
            .collect(),
        parents,
        backends: spec
            .rules
            .iter()
            .flat_map(|rule| rule.backend_refs.iter())
            .map(|backend| BackendRefProjection {
                kind: backend
                    .kind
                    .clone()
                    .unwrap_or_else(|| "Service".to_string()),
                namespace: backend.namespace.clone(),
                name: backend.name.clone(),
                port: backend.port.and_then(|p| u16::try_from(p).ok()),
                weight: backend
                    .weight
                    .map(|w| u32::try_from(w).unwrap_or(0))
                    .unwrap_or(1),
            })
            .collect(),
        generation: object.metadata.generation.unwrap_or(0),
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct GrantFrom {
    pub kind: String,
    pub namespace: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct GrantTo {
    pub kind: String,
    pub name: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ReferenceGrantSpec {
    pub from: Vec<GrantFrom>,
    pub to: Vec<GrantTo>,
}

pub type ReferenceGrantObject = Object<ReferenceGrantSpec, Unread>;

pub fn reference_grant(object: &ReferenceGrantObject) -> ReferenceGrantProjection {
    ReferenceGrantProjection {
        namespace: object.metadata.namespace.clone().unwrap_or_default(),
        name: object.metadata.name.clone().unwrap_or_default(),
        from: object
            .spec
            .from
            .iter()
            .map(|f| (f.kind.clone(), f.namespace.clone()))
            .collect(),
        to: object
            .spec
            .to
            .iter()
            .map(|t| (t.kind.clone(), t.name.clone()))
            .collect(),
    }
}

// --- Karpenter ----------------------------------------------------------------------------

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Budget {
    pub nodes: Option<String>,
    pub schedule: Option<String>,
    pub duration: Option<String>,
    pub reasons: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Disruption {
    pub consolidation_policy: Option<String>,
    pub consolidate_after: Option<String>,
    pub budgets: Vec<Budget>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Requirement {
    pub key: String,
    pub operator: String,
    pub values: Vec<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct NodeTemplateSpec {
    pub requirements: Vec<Requirement>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct NodeTemplate {
    pub spec: NodeTemplateSpec,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct NodePoolSpec {
    pub disruption: Disruption,
    pub limits: BTreeMap<String, serde_json::Value>,
    pub weight: Option<i32>,
    pub template: NodeTemplate,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct NodePoolStatus {
    pub resources: BTreeMap<String, serde_json::Value>,
}

pub type NodePoolObject = Object<NodePoolSpec, NodePoolStatus>;

/// A quantity that YAML or JSON may carry as a number or a string.
fn quantity_text(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn cores(value: Option<&serde_json::Value>) -> Option<f64> {
    cpu_millicores(&quantity_text(value?)?).map(|m| m / 1000.0)
}

pub fn node_pool(object: &NodePoolObject) -> NodePoolProjection {
    let spec = &object.spec;
    let capacity_types = spec
        .template
        .spec
        .requirements
        .iter()
        .filter(|r| r.key == "karpenter.sh/capacity-type" && r.operator == "In")
        .flat_map(|r| r.values.iter())
        .filter_map(|v| capacity_from_label(v))
        .collect();
    NodePoolProjection {
        name: object.metadata.name.clone().unwrap_or_default(),
        consolidation_policy: spec
            .disruption
            .consolidation_policy
            .clone()
            .unwrap_or_else(|| "WhenEmptyOrUnderutilized".to_string()),
        consolidate_after: spec.disruption.consolidate_after.clone(),
        budgets: spec
            .disruption
            .budgets
            .iter()
            .map(|b| DisruptionBudget {
                nodes: b.nodes.clone().unwrap_or_else(|| "10%".to_string()),
                schedule: b.schedule.clone(),
                duration: b.duration.clone(),
                reasons: b.reasons.clone(),
            })
            .collect(),
        cpu_limit: cores(spec.limits.get("cpu")),
        cpu_provisioned: object
            .status
            .as_ref()
            .and_then(|s| cores(s.resources.get("cpu")))
            .unwrap_or(0.0),
        weight: spec.weight,
        capacity_types,
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct NodeClaimSpec {}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct NodeClaimStatus {
    pub node_name: Option<String>,
    pub conditions: Vec<ApiCondition>,
}

pub type NodeClaimObject = Object<NodeClaimSpec, NodeClaimStatus>;

pub fn node_claim(object: &NodeClaimObject) -> NodeClaimProjection {
    let meta = &object.metadata;
    let status = object.status.clone().unwrap_or_default();
    let initialized_at = find(&status.conditions, "Initialized")
        .filter(|c| c.status == "True")
        .and_then(ApiCondition::transition);
    NodeClaimProjection {
        name: meta.name.clone().unwrap_or_default(),
        nodepool: meta
            .labels
            .as_ref()
            .and_then(|l| l.get("karpenter.sh/nodepool"))
            .map(|value| crate::domain::limits::clip_label_bytes(value).to_string()),
        node: status.node_name.clone().filter(|n| !n.is_empty()),
        created: meta
            .creation_timestamp
            .as_ref()
            .and_then(|t| super::project::to_timestamp(&t.0)),
        deleting_since: meta
            .deletion_timestamp
            .as_ref()
            .and_then(|t| super::project::to_timestamp(&t.0)),
        initialized_at,
        disruption_reason: find(&status.conditions, "DisruptionReason")
            .filter(|c| c.status == "True" && !c.reason.is_empty())
            .map(|c| c.reason.clone()),
    }
}

pub type Ec2NodeClassObject = Object<serde_json::Value, ConditionsStatus>;

pub fn ec2_node_class(object: &Ec2NodeClassObject) -> Ec2NodeClassProjection {
    Ec2NodeClassProjection {
        name: object.metadata.name.clone().unwrap_or_default(),
        ready: object
            .status
            .as_ref()
            .and_then(|s| find(&s.conditions, "Ready"))
            .map(|c| c.status == "True"),
    }
}

// --- Vertical Pod Autoscaler --------------------------------------------------------------

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct TargetRef {
    pub kind: String,
    pub name: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct UpdatePolicy {
    pub update_mode: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct VpaSpec {
    pub target_ref: TargetRef,
    pub update_policy: UpdatePolicy,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct ContainerRecommendation {
    pub container_name: String,
    pub target: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Recommendation {
    pub container_recommendations: Vec<ContainerRecommendation>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct VpaStatus {
    pub recommendation: Recommendation,
}

pub type VpaObject = Object<VpaSpec, VpaStatus>;

pub fn vpa(object: &VpaObject) -> VpaProjection {
    let containers = object
        .status
        .as_ref()
        .map(|s| s.recommendation.container_recommendations.as_slice())
        .unwrap_or_default()
        .iter()
        .map(|r| VpaContainerTarget {
            container: r.container_name.clone(),
            cpu_target_m: r
                .target
                .get("cpu")
                .and_then(quantity_text)
                .and_then(|q| cpu_millicores(&q)),
            memory_target_mib: r
                .target
                .get("memory")
                .and_then(quantity_text)
                .and_then(|q| memory_mib(&q)),
        })
        .collect();
    VpaProjection {
        namespace: object.metadata.namespace.clone().unwrap_or_default(),
        name: object.metadata.name.clone().unwrap_or_default(),
        target_kind: object.spec.target_ref.kind.clone(),
        target_name: object.spec.target_ref.name.clone(),
        update_mode: object
            .spec
            .update_policy
            .update_mode
            .clone()
            .unwrap_or_else(|| "Auto".to_string()),
        containers,
    }
}
