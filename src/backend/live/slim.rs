//! Slim object types for the kinds a large cluster has most of: only the fields kockpit
//! reads are decoded, everything else in the JSON is skipped without being allocated. A pod
//! as the API serves it is 1.5–5 KB of JSON (probes, env, volumes, managedFields); the full
//! k8s-openapi `Pod` decodes all of it, which is most of the work of listing 150 000 pods.
//! Field names and types follow k8s-openapi, so the projections read them the same way.

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::api::core::v1::{
    ContainerState, PodCondition, PodDNSConfig, ResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference, Time};
use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};

/// Object metadata with only what projections and the watcher use: identity, the resource
/// version (the watcher resumes from it), owners, times, and the labels and annotations
/// named in `KEEP` (others, and managedFields, are skipped).
fn slim_meta<'de, D: Deserializer<'de>>(deserializer: D) -> Result<ObjectMeta, D::Error> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Meta {
        name: Option<String>,
        namespace: Option<String>,
        uid: Option<String>,
        resource_version: Option<String>,
        #[serde(default, deserialize_with = "kept_entries")]
        labels: Option<BTreeMap<String, String>>,
        #[serde(default, deserialize_with = "kept_entries")]
        annotations: Option<BTreeMap<String, String>>,
        owner_references: Option<Vec<OwnerReference>>,
        creation_timestamp: Option<Time>,
        deletion_timestamp: Option<Time>,
    }
    let meta = Meta::deserialize(deserializer)?;
    Ok(ObjectMeta {
        name: meta.name,
        namespace: meta.namespace,
        uid: meta.uid,
        resource_version: meta.resource_version,
        labels: meta.labels,
        annotations: meta.annotations,
        owner_references: meta.owner_references,
        creation_timestamp: meta.creation_timestamp,
        deletion_timestamp: meta.deletion_timestamp,
        ..ObjectMeta::default()
    })
}

/// The label and annotation keys a slim object keeps.
const KEEP: [&str; 2] = [super::project::APP_LABEL, super::project::DO_NOT_DISRUPT];

/// A string map with only the `KEEP` keys; `None` when none of them is there.
fn kept_entries<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<BTreeMap<String, String>>, D::Error> {
    struct Kept;

    impl<'de> Visitor<'de> for Kept {
        type Value = Option<BTreeMap<String, String>>;

        fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
            formatter.write_str("a map of strings, or null")
        }

        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D: Deserializer<'de>>(self, inner: D) -> Result<Self::Value, D::Error> {
            inner.deserialize_map(self)
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut kept: Option<BTreeMap<String, String>> = None;
            while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                if KEEP.contains(&key.as_ref()) {
                    let value: String = map.next_value()?;
                    kept.get_or_insert_default().insert(key.into_owned(), value);
                } else {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(kept)
        }
    }

    deserializer.deserialize_option(Kept)
}

/// A Pod with the fields `project::pod` reads.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Pod {
    #[serde(default, deserialize_with = "slim_meta")]
    pub metadata: ObjectMeta,
    pub spec: Option<PodSpec>,
    pub status: Option<PodStatus>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSpec {
    #[serde(default)]
    pub containers: Vec<Container>,
    pub node_name: Option<String>,
    pub dns_config: Option<PodDNSConfig>,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub struct Container {
    pub name: String,
    pub resources: Option<ResourceRequirements>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodStatus {
    pub phase: Option<String>,
    #[serde(rename = "podIP")]
    pub pod_ip: Option<String>,
    pub conditions: Option<Vec<PodCondition>>,
    pub container_statuses: Option<Vec<ContainerStatus>>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerStatus {
    pub name: String,
    #[serde(default)]
    pub restart_count: i32,
    pub last_state: Option<ContainerState>,
}

impl k8s_openapi::Resource for Pod {
    const API_VERSION: &'static str = "v1";
    const GROUP: &'static str = "";
    const KIND: &'static str = "Pod";
    const VERSION: &'static str = "v1";
    const URL_PATH_SEGMENT: &'static str = "pods";
    type Scope = k8s_openapi::NamespaceResourceScope;
}

impl k8s_openapi::Metadata for Pod {
    type Ty = ObjectMeta;

    fn metadata(&self) -> &ObjectMeta {
        &self.metadata
    }

    fn metadata_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_the_projection_needs_and_skips_the_rest() {
        let json = serde_json::json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {
                "name": "web-1", "namespace": "shop", "resourceVersion": "42",
                "labels": {"k8s-app": "web", "pod-template-hash": "abc"},
                "annotations": {"karpenter.sh/do-not-disrupt": "true", "big": "x".repeat(4096)},
                "managedFields": [{"manager": "kubelet", "fieldsV1": {"f:status": {}}}],
                "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet",
                    "name": "web", "uid": "u", "controller": true}],
                "creationTimestamp": "2026-03-02T09:00:00Z"
            },
            "spec": {
                "nodeName": "n1",
                "containers": [{"name": "web", "image": "web:1",
                    "resources": {"requests": {"cpu": "250m"}},
                    "livenessProbe": {"httpGet": {"path": "/", "port": 80}}}],
                "volumes": [{"name": "v", "emptyDir": {}}]
            },
            "status": {
                "phase": "Running",
                "containerStatuses": [{"name": "web", "restartCount": 3, "ready": true,
                    "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled"}}}]
            }
        });
        let pod: Pod = serde_json::from_value(json).unwrap_or_else(|e| panic!("{e}"));
        let meta = &pod.metadata;
        assert_eq!(meta.resource_version.as_deref(), Some("42"));
        assert_eq!(
            meta.labels
                .as_ref()
                .map(|l| l.keys().cloned().collect::<Vec<_>>()),
            Some(vec!["k8s-app".to_string()])
        );
        assert_eq!(
            meta.annotations.as_ref().map(BTreeMap::len),
            Some(1),
            "only the annotation kockpit reads"
        );
        let projected = super::super::project::pod(&pod);
        assert_eq!(projected.node.as_deref(), Some("n1"));
        assert!(projected.do_not_disrupt);
        assert_eq!(projected.containers[0].restarts, 3);
        assert_eq!(projected.containers[0].resources.cpu_request_m, Some(250.0));
        assert_eq!(
            projected.containers[0].last_termination_reason.as_deref(),
            Some("OOMKilled")
        );
        let bare: Pod = serde_json::from_value(serde_json::json!({"metadata": {"name": "x",
            "labels": null}}))
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(bare.metadata.labels.is_none());
    }
}
