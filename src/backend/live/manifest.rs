//! One object as a manifest (a dump's `kubectl get -o yaml|json` item) to the projection its
//! watcher would make of it, or the reason kockpit leaves it out. The kinds and API groups
//! are the ones the live backend watches.

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{crds, project};
use crate::domain::assemble::{ObjectKind, Projection};
use crate::domain::model::RouteKind;

/// What becomes of a manifest.
#[derive(Debug, Clone, PartialEq)]
pub enum Projected {
    Kept(Box<Projection>),
    /// Left out, and why (for the dump's per-file report).
    Skipped(String),
}

fn typed<K: DeserializeOwned>(item: &Value) -> Result<K, String> {
    // Clones one object at a time; a dump is read once.
    serde_json::from_value(item.clone()).map_err(|e| e.to_string())
}

fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(group, _)| group)
}

/// The object kind kockpit reads for an apiVersion group and kind, if any.
pub fn object_kind(group: &str, kind: &str) -> Option<ObjectKind> {
    let crd = |c: crds::CrdKind| c.group == group && c.kind == kind;
    Some(match (group, kind) {
        ("", "Node") => ObjectKind::Node,
        ("", "Namespace") => ObjectKind::Namespace,
        ("", "Pod") => ObjectKind::Pod,
        ("", "Service") => ObjectKind::Service,
        ("", "ConfigMap") => ObjectKind::ConfigMap,
        ("", "Event") => ObjectKind::Event,
        ("discovery.k8s.io", "EndpointSlice") => ObjectKind::EndpointSlice,
        ("apps", "Deployment") => ObjectKind::Deployment,
        ("apps", "StatefulSet") => ObjectKind::StatefulSet,
        ("apps", "DaemonSet") => ObjectKind::DaemonSet,
        ("apps", "ReplicaSet") => ObjectKind::ReplicaSet,
        ("autoscaling", "HorizontalPodAutoscaler") => ObjectKind::HorizontalPodAutoscaler,
        ("policy", "PodDisruptionBudget") => ObjectKind::PodDisruptionBudget,
        _ if crd(crds::GATEWAY_CLASS) => ObjectKind::GatewayClass,
        _ if crd(crds::GATEWAY) => ObjectKind::Gateway,
        _ if crd(crds::HTTP_ROUTE) => ObjectKind::HttpRoute,
        _ if crd(crds::GRPC_ROUTE) => ObjectKind::GrpcRoute,
        _ if crd(crds::REFERENCE_GRANT) => ObjectKind::ReferenceGrant,
        _ if crd(crds::NODE_POOL) => ObjectKind::NodePool,
        _ if crd(crds::NODE_CLAIM) => ObjectKind::NodeClaim,
        _ if crd(crds::EC2_NODE_CLASS) => ObjectKind::Ec2NodeClass,
        _ if crd(crds::VPA) => ObjectKind::VerticalPodAutoscaler,
        _ => return None,
    })
}

/// Projects one manifest the way its watcher projects a listed object.
pub fn project(item: &Value) -> Projected {
    let api_version = item
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let kind = item.get("kind").and_then(Value::as_str).unwrap_or_default();
    let group = group_of(api_version);
    if group.is_empty() && kind == "Secret" {
        return Projected::Skipped("Secret: kockpit never reads Secrets".to_string());
    }
    let Some(object_kind) = object_kind(group, kind) else {
        let shown = if group.is_empty() {
            kind.to_string()
        } else {
            format!("{kind}.{group}")
        };
        return Projected::Skipped(format!("{shown}: not a kind kockpit reads"));
    };
    let name = item
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if name.is_empty() {
        return Projected::Skipped(format!("{kind} without metadata.name"));
    }
    let projected = match object_kind {
        ObjectKind::Node => typed(item).map(|o| Some(Projection::Node(project::node(&o)))),
        ObjectKind::Namespace => {
            typed(item).map(|o| Some(Projection::Namespace(project::namespace(&o))))
        }
        ObjectKind::Pod => typed(item).map(|o| Some(Projection::Pod(project::pod(&o)))),
        ObjectKind::Service => typed(item).map(|o| Some(Projection::Service(project::service(&o)))),
        ObjectKind::ConfigMap => {
            let namespace = item.pointer("/metadata/namespace").and_then(Value::as_str);
            if namespace != Some("kube-system") || name != "coredns" {
                return Projected::Skipped(
                    "ConfigMap: only kube-system/coredns is read".to_string(),
                );
            }
            typed(item).map(|o| Some(Projection::ConfigMap(project::config_map(&o))))
        }
        ObjectKind::Event => typed(item).map(|o| project::event(&o).map(Projection::Event)),
        ObjectKind::EndpointSlice => {
            typed(item).map(|o| Some(Projection::EndpointSlice(project::endpoint_slice(&o))))
        }
        ObjectKind::Deployment => {
            typed(item).map(|o| Some(Projection::Workload(project::deployment(&o))))
        }
        ObjectKind::StatefulSet => {
            typed(item).map(|o| Some(Projection::Workload(project::stateful_set(&o))))
        }
        ObjectKind::DaemonSet => {
            typed(item).map(|o| Some(Projection::Workload(project::daemon_set(&o))))
        }
        ObjectKind::ReplicaSet => {
            typed(item).map(|o| Some(Projection::ReplicaSet(project::replica_set(&o))))
        }
        ObjectKind::HorizontalPodAutoscaler => {
            typed(item).map(|o| Some(Projection::Hpa(project::hpa(&o))))
        }
        ObjectKind::PodDisruptionBudget => {
            typed(item).map(|o| Some(Projection::Pdb(project::pdb(&o))))
        }
        ObjectKind::GatewayClass => {
            typed(item).map(|o| Some(Projection::GatewayClass(crds::gateway_class(&o))))
        }
        ObjectKind::Gateway => typed(item).map(|o| Some(Projection::Gateway(crds::gateway(&o)))),
        ObjectKind::HttpRoute => {
            typed(item).map(|o| Some(Projection::Route(crds::route(RouteKind::Http, &o))))
        }
        ObjectKind::GrpcRoute => {
            typed(item).map(|o| Some(Projection::Route(crds::route(RouteKind::Grpc, &o))))
        }
        ObjectKind::ReferenceGrant => {
            typed(item).map(|o| Some(Projection::ReferenceGrant(crds::reference_grant(&o))))
        }
        ObjectKind::NodePool => {
            typed(item).map(|o| Some(Projection::NodePool(crds::node_pool(&o))))
        }
        ObjectKind::NodeClaim => {
            typed(item).map(|o| Some(Projection::NodeClaim(crds::node_claim(&o))))
        }
        ObjectKind::Ec2NodeClass => {
            typed(item).map(|o| Some(Projection::Ec2NodeClass(crds::ec2_node_class(&o))))
        }
        ObjectKind::VerticalPodAutoscaler => {
            typed(item).map(|o| Some(Projection::Vpa(crds::vpa(&o))))
        }
    };
    match projected {
        Ok(Some(projection)) => Projected::Kept(Box::new(projection)),
        Ok(None) => Projected::Skipped(format!("{kind}: not about a kind the panes show")),
        Err(error) => Projected::Skipped(format!("{kind} {name}: {error}")),
    }
}
