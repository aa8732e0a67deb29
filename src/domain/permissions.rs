//! The Kubernetes permissions kockpit reads with (list and watch of every kind it watches)
//! and those each fix writes with, in the terms a SelfSubjectAccessReview asks about and the
//! words a user reads: `list pods (cluster-wide)`, `patch deployments.apps/scale in namespace
//! kube-system`.

use serde::Serialize;

use super::assemble::{ObjectKind, pane_kinds};
use super::finding::FixKind;
use super::fix::Target;
use super::model::Pane;

/// Where EKS runs CoreDNS and its ConfigMap: the only namespace kockpit reads ConfigMaps in.
pub const SYSTEM_NAMESPACE: &str = "kube-system";

/// One verb on one resource, cluster-wide (`namespace` None) or in one namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Permission {
    pub verb: &'static str,
    /// "" for the core group.
    pub group: &'static str,
    pub resource: &'static str,
    pub subresource: Option<&'static str>,
    pub namespace: Option<String>,
}

impl Permission {
    fn new(verb: &'static str, group: &'static str, resource: &'static str) -> Self {
        Permission {
            verb,
            group,
            resource,
            subresource: None,
            namespace: None,
        }
    }

    /// `deployments.apps/scale`, as RBAC rules spell a resource.
    pub fn resource_name(&self) -> String {
        resource_name(self.group, self.resource, self.subresource)
    }

    /// `list pods (cluster-wide)`, `patch configmaps in namespace kube-system`.
    pub fn describe(&self) -> String {
        describe(self.verb, &self.resource_name(), self.namespace.as_deref())
    }

    /// Whether this permission allows `verb` on `target` (a fix's write).
    pub fn covers(&self, target: &Target, verb: &str) -> bool {
        self.verb == verb
            && self.group == target.group()
            && self.resource == target.resource
            && self.subresource == target.subresource.as_deref()
            && self
                .namespace
                .as_ref()
                .is_none_or(|ns| target.namespace.as_ref() == Some(ns))
    }
}

/// `deployments.apps/scale`: resource, group (none for the core group), subresource.
pub fn resource_name(group: &str, resource: &str, subresource: Option<&str>) -> String {
    let mut name = if group.is_empty() {
        resource.to_string()
    } else {
        format!("{resource}.{group}")
    };
    if let Some(sub) = subresource {
        name.push('/');
        name.push_str(sub);
    }
    name
}

/// `VERB RESOURCE (cluster-wide)` or `VERB RESOURCE in namespace NS`: how every permission is
/// named to the user, here and in the fix flow.
pub fn describe(verb: &str, resource: &str, namespace: Option<&str>) -> String {
    match namespace {
        Some(namespace) => format!("{verb} {resource} in namespace {namespace}"),
        None => format!("{verb} {resource} (cluster-wide)"),
    }
}

/// The namespace a kind is watched in: ConfigMaps only in kube-system, cluster-scoped kinds
/// and `--namespace`-less runs cluster-wide.
pub fn watch_namespace(kind: ObjectKind, namespace: Option<&str>) -> Option<String> {
    match kind {
        ObjectKind::ConfigMap => Some(SYSTEM_NAMESPACE.to_string()),
        _ if !kind.namespaced() => None,
        _ => namespace.map(str::to_string),
    }
}

/// A permission kockpit reads with, and the panes that go without when it is denied.
#[derive(Debug, Clone, PartialEq)]
pub struct Read {
    pub permission: Permission,
    pub kind: ObjectKind,
    /// Panes that cannot show anything without it.
    pub needed_by: Vec<Pane>,
    /// Panes that lose details without it.
    pub detail_for: Vec<Pane>,
}

/// List and watch on each kind, in the scope the live backend watches it.
pub fn reads(kinds: &[ObjectKind], namespace: Option<&str>) -> Vec<Read> {
    let mut reads = Vec::new();
    for kind in kinds {
        let needed_by: Vec<Pane> = Pane::ALL
            .into_iter()
            .filter(|pane| pane_kinds(*pane).0.contains(kind))
            .collect();
        let detail_for: Vec<Pane> = Pane::ALL
            .into_iter()
            .filter(|pane| pane_kinds(*pane).1.contains(kind))
            .collect();
        for verb in ["list", "watch"] {
            reads.push(Read {
                permission: Permission {
                    namespace: watch_namespace(*kind, namespace),
                    ..Permission::new(verb, kind.group(), kind.resource())
                },
                kind: *kind,
                needed_by: needed_by.clone(),
                detail_for: detail_for.clone(),
            });
        }
    }
    reads
}

/// The workload kinds a right-sizing or ndots fix may patch.
const WORKLOADS: [&str; 3] = ["deployments", "statefulsets", "daemonsets"];

/// What a fix writes with: its write, and for a fix that creates an object the delete that
/// undoes it. Fixes on CoreDNS write in kube-system; the others wherever their object is
/// (asked cluster-wide, the scope a user who may fix any finding needs).
pub fn fix_writes(kind: FixKind) -> Vec<Permission> {
    let in_system = |mut permission: Permission| {
        permission.namespace = Some(SYSTEM_NAMESPACE.to_string());
        permission
    };
    let on_workloads = |verb| {
        WORKLOADS
            .iter()
            .map(|resource| Permission::new(verb, "apps", resource))
            .collect::<Vec<_>>()
    };
    match kind {
        FixKind::DnsCacheProfile => vec![in_system(Permission::new("patch", "", "configmaps"))],
        FixKind::DnsScaleReplicas => vec![in_system(Permission {
            subresource: Some("scale"),
            ..Permission::new("patch", "apps", "deployments")
        })],
        FixKind::DnsSpreadReplicas | FixKind::DnsRaiseMemoryLimit => {
            vec![in_system(Permission::new("patch", "apps", "deployments"))]
        }
        FixKind::DnsLowerNdots | FixKind::RightsizeRequests | FixKind::RightsizeRemoveCpuLimit => {
            on_workloads("patch")
        }
        FixKind::GatewayCreateReferenceGrant => vec![
            Permission::new("create", "gateway.networking.k8s.io", "referencegrants"),
            Permission::new("delete", "gateway.networking.k8s.io", "referencegrants"),
        ],
        FixKind::GatewayRollbackCanary => vec![
            Permission::new("patch", "gateway.networking.k8s.io", "httproutes"),
            Permission::new("patch", "gateway.networking.k8s.io", "grpcroutes"),
        ],
        FixKind::FlowsTopologyAwareRouting => vec![Permission::new("patch", "", "services")],
        FixKind::NodesFreezeDisruption
        | FixKind::NodesConsolidationPolicy
        | FixKind::NodesRaiseLimit => vec![Permission::new("patch", "karpenter.sh", "nodepools")],
        FixKind::RightsizeCreateVpa => vec![
            Permission::new("create", "autoscaling.k8s.io", "verticalpodautoscalers"),
            Permission::new("delete", "autoscaling.k8s.io", "verticalpodautoscalers"),
        ],
        FixKind::SpendCostLabels => vec![Permission::new("patch", "", "namespaces")],
    }
}

/// Every fix kind, in the order `doctor --allow-writes` lists them.
pub const FIX_KINDS: [FixKind; 15] = [
    FixKind::DnsCacheProfile,
    FixKind::DnsScaleReplicas,
    FixKind::DnsSpreadReplicas,
    FixKind::DnsRaiseMemoryLimit,
    FixKind::DnsLowerNdots,
    FixKind::GatewayCreateReferenceGrant,
    FixKind::GatewayRollbackCanary,
    FixKind::FlowsTopologyAwareRouting,
    FixKind::NodesFreezeDisruption,
    FixKind::NodesConsolidationPolicy,
    FixKind::NodesRaiseLimit,
    FixKind::RightsizeRequests,
    FixKind::RightsizeRemoveCpuLimit,
    FixKind::RightsizeCreateVpa,
    FixKind::SpendCostLabels,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_name_each_verb_in_the_scope_it_is_watched_in() {
        let reads = reads(
            &[ObjectKind::Pod, ObjectKind::ConfigMap, ObjectKind::NodePool],
            Some("shop"),
        );
        let named: Vec<String> = reads.iter().map(|r| r.permission.describe()).collect();
        assert_eq!(
            named,
            [
                "list pods in namespace shop",
                "watch pods in namespace shop",
                "list configmaps in namespace kube-system",
                "watch configmaps in namespace kube-system",
                "list nodepools.karpenter.sh (cluster-wide)",
                "watch nodepools.karpenter.sh (cluster-wide)",
            ]
        );
        assert!(reads[0].needed_by.contains(&Pane::Dns));
        assert!(reads[0].detail_for.contains(&Pane::Nodes));
    }

    #[test]
    fn a_permission_covers_the_write_it_names() {
        let target = Target {
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            namespace: Some("kube-system".into()),
            name: "coredns".into(),
            resource: "deployments".into(),
            subresource: Some("scale".into()),
        };
        let writes = fix_writes(FixKind::DnsScaleReplicas);
        assert!(writes.iter().any(|p| p.covers(&target, "patch")));
        assert!(!writes.iter().any(|p| p.covers(&target, "delete")));
        assert_eq!(
            writes[0].describe(),
            "patch deployments.apps/scale in namespace kube-system"
        );
        let elsewhere = Target {
            namespace: Some("shop".into()),
            ..target
        };
        assert!(!writes.iter().any(|p| p.covers(&elsewhere, "patch")));
    }
}
