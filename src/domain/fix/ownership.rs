//! Who else writes the object (§8.3 rule 5): GitOps controllers, the EKS add-on manager, and
//! the controllers that own a field (HPA replicas, VPA requests). A change they own may be
//! reverted, so the user is told and can export the fix as a patch for the repository instead.

use serde_json::Value;

use super::context::PlanContext;
use super::object::str_at;
use crate::domain::finding::FixKind;

const MAY_REVERT: &str = "the change may be reverted: consider exporting the patch instead";

fn label<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    object
        .pointer("/metadata/labels")
        .and_then(|labels| labels.get(key))
        .and_then(Value::as_str)
}

fn annotation<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    object
        .pointer("/metadata/annotations")
        .and_then(|annotations| annotations.get(key))
        .and_then(Value::as_str)
}

fn managers(object: &Value) -> Vec<&Value> {
    object
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .map(|entries| entries.iter().collect())
        .unwrap_or_default()
}

/// Whether a managedFields entry's `fieldsV1` owns `spec.replicas`.
fn owns_replicas(entry: &Value) -> bool {
    entry.pointer("/fieldsV1/f:spec/f:replicas").is_some()
}

fn writes_replicas(kind: FixKind) -> bool {
    kind == FixKind::DnsScaleReplicas
}

fn writes_requests(kind: FixKind) -> bool {
    matches!(
        kind,
        FixKind::RightsizeRequests
            | FixKind::RightsizeRemoveCpuLimit
            | FixKind::DnsRaiseMemoryLimit
    )
}

/// The warnings to show before `kind` is applied to `object`.
pub fn warnings(object: &Value, kind: FixKind, context: &PlanContext) -> Vec<String> {
    let mut out = Vec::new();
    let argo = label(object, "argocd.argoproj.io/instance")
        .or_else(|| annotation(object, "argocd.argoproj.io/tracking-id"));
    if let Some(app) = argo {
        out.push(format!(
            "managed by Argo CD (application {}): a sync will revert it; {MAY_REVERT}",
            app.split(':').next().unwrap_or(app)
        ));
    }
    if let Some(name) = label(object, "kustomize.toolkit.fluxcd.io/name") {
        out.push(format!(
            "managed by Flux Kustomization {name}: {MAY_REVERT}"
        ));
    }
    if let Some(name) = label(object, "helm.toolkit.fluxcd.io/name") {
        out.push(format!("managed by Flux HelmRelease {name}: {MAY_REVERT}"));
    }
    let eks_manager = managers(object)
        .iter()
        .any(|m| m.get("manager").and_then(Value::as_str) == Some("eks"));
    let eks_component = str_at(object, "/metadata/namespace") == Some("kube-system")
        && label(object, "eks.amazonaws.com/component").is_some();
    if eks_manager || eks_component {
        out.push(format!(
            "managed by the EKS add-on manager: an add-on update can overwrite it (prefer the add-on's configuration values, or update with --resolve-conflicts PRESERVE); {MAY_REVERT}"
        ));
    }
    if writes_replicas(kind) {
        if context.hpa_owns_replicas {
            out.push(format!(
                "an HorizontalPodAutoscaler owns replicas: {MAY_REVERT}"
            ));
        }
        for entry in managers(object) {
            let manager = entry.get("manager").and_then(Value::as_str).unwrap_or("");
            let known_people =
                manager.starts_with("kubectl") || manager == super::plan::FIELD_MANAGER;
            if owns_replicas(entry) && !known_people && manager != "eks" {
                out.push(format!(
                    "replicas are also written by {manager} (an autoscaler such as the HPA or cluster-proportional-autoscaler): {MAY_REVERT}"
                ));
            }
        }
    }
    if writes_requests(kind)
        && let Some(mode) = &context.vpa_update_mode
    {
        let lower = mode.to_ascii_lowercase();
        if lower == "auto" || lower.contains("recreate") || lower == "inplaceorrecreate" {
            out.push(format!(
                "a VerticalPodAutoscaler in {mode} mode owns the requests: {MAY_REVERT}"
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn gitops_and_addon_owners_are_named() {
        let object = json!({"metadata": {
            "name": "coredns", "namespace": "kube-system",
            "labels": {"eks.amazonaws.com/component": "coredns", "kustomize.toolkit.fluxcd.io/name": "infra", "helm.toolkit.fluxcd.io/name": "dns"},
            "annotations": {"argocd.argoproj.io/tracking-id": "platform:apps/Deployment:kube-system/coredns"}
        }});
        let found = warnings(&object, FixKind::DnsCacheProfile, &PlanContext::default());
        assert_eq!(found.len(), 4, "{found:?}");
        assert!(found[0].contains("Argo CD (application platform)"));
        assert!(found[1].contains("Flux Kustomization infra"));
        assert!(found[2].contains("Flux HelmRelease dns"));
        assert!(found[3].contains("EKS add-on manager"));
    }

    #[test]
    fn replica_and_request_owners_are_named_for_the_fields_they_own() {
        let object = json!({"metadata": {"name": "coredns", "managedFields": [
            {"manager": "eks", "operation": "Apply"},
            {"manager": "cluster-proportional-autoscaler", "operation": "Update", "subresource": "scale", "fieldsV1": {"f:spec": {"f:replicas": {}}}}
        ]}});
        let context = PlanContext {
            hpa_owns_replicas: true,
            vpa_update_mode: Some("Auto".into()),
            ..PlanContext::default()
        };
        let scale = warnings(&object, FixKind::DnsScaleReplicas, &context);
        assert!(scale.iter().any(|w| w.contains("EKS add-on manager")));
        assert!(scale.iter().any(|w| w.contains("HorizontalPodAutoscaler")));
        assert!(
            scale
                .iter()
                .any(|w| w.contains("cluster-proportional-autoscaler"))
        );
        let requests = warnings(&object, FixKind::RightsizeRequests, &context);
        assert!(
            requests
                .iter()
                .any(|w| w.contains("VerticalPodAutoscaler in Auto mode"))
        );
        assert!(
            !requests
                .iter()
                .any(|w| w.contains("HorizontalPodAutoscaler"))
        );
    }

    #[test]
    fn a_plain_object_has_no_warnings() {
        let object = json!({"metadata": {"name": "web", "namespace": "shop"}});
        assert!(warnings(&object, FixKind::DnsLowerNdots, &PlanContext::default()).is_empty());
    }
}
