//! The resources the server knows (built-in and CRD-like kinds, plus any kind a loaded
//! manifest brings) and the discovery documents derived from them: `/version`, `/api`,
//! `/api/v1`, `/apis` and `/apis/{group}/{version}`. Aggregated discovery is not offered;
//! clients asking for it get the legacy documents and fall back, as they do with older servers.

use serde_json::{Value, json};

/// Verbs every stored resource supports.
const STORED_VERBS: &[&str] = &["create", "delete", "get", "list", "patch", "watch"];

#[derive(Debug, Clone, PartialEq)]
pub struct ResourceDef {
    /// "" for the core group.
    pub group: String,
    pub version: String,
    pub plural: String,
    pub singular: String,
    pub kind: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    /// Served from the object store; review resources (create-only) are not.
    pub stored: bool,
    /// Not advertised and not served (`sim serve --without-api`): a cluster where this CRD
    /// is not installed.
    pub hidden: bool,
}

impl ResourceDef {
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    fn verbs(&self) -> Vec<&'static str> {
        if self.stored {
            STORED_VERBS.to_vec()
        } else {
            vec!["create"]
        }
    }

    fn discovery_entry(&self) -> Value {
        let mut entry = json!({
            "name": self.plural,
            "singularName": self.singular,
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": self.verbs(),
        });
        if !self.short_names.is_empty() {
            entry["shortNames"] = json!(self.short_names);
        }
        if !self.categories.is_empty() {
            entry["categories"] = json!(self.categories);
        }
        entry
    }
}

/// (group, version, plural, kind, namespaced, short names, in category "all")
type Builtin = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    bool,
    &'static [&'static str],
    bool,
);

const BUILTINS: &[Builtin] = &[
    ("", "v1", "namespaces", "Namespace", false, &["ns"], false),
    ("", "v1", "nodes", "Node", false, &["no"], false),
    ("", "v1", "pods", "Pod", true, &["po"], true),
    ("", "v1", "services", "Service", true, &["svc"], true),
    ("", "v1", "configmaps", "ConfigMap", true, &["cm"], false),
    ("", "v1", "events", "Event", true, &["ev"], false),
    (
        "apps",
        "v1",
        "deployments",
        "Deployment",
        true,
        &["deploy"],
        true,
    ),
    (
        "apps",
        "v1",
        "statefulsets",
        "StatefulSet",
        true,
        &["sts"],
        true,
    ),
    ("apps", "v1", "daemonsets", "DaemonSet", true, &["ds"], true),
    (
        "apps",
        "v1",
        "replicasets",
        "ReplicaSet",
        true,
        &["rs"],
        true,
    ),
    (
        "discovery.k8s.io",
        "v1",
        "endpointslices",
        "EndpointSlice",
        true,
        &[],
        false,
    ),
    (
        "autoscaling",
        "v2",
        "horizontalpodautoscalers",
        "HorizontalPodAutoscaler",
        true,
        &["hpa"],
        true,
    ),
    (
        "policy",
        "v1",
        "poddisruptionbudgets",
        "PodDisruptionBudget",
        true,
        &["pdb"],
        false,
    ),
    (
        "gateway.networking.k8s.io",
        "v1",
        "gatewayclasses",
        "GatewayClass",
        false,
        &["gc"],
        false,
    ),
    (
        "gateway.networking.k8s.io",
        "v1",
        "gateways",
        "Gateway",
        true,
        &["gtw"],
        false,
    ),
    (
        "gateway.networking.k8s.io",
        "v1",
        "httproutes",
        "HTTPRoute",
        true,
        &[],
        false,
    ),
    (
        "gateway.networking.k8s.io",
        "v1",
        "grpcroutes",
        "GRPCRoute",
        true,
        &[],
        false,
    ),
    (
        "gateway.networking.k8s.io",
        "v1beta1",
        "referencegrants",
        "ReferenceGrant",
        true,
        &["refgrant"],
        false,
    ),
    (
        "karpenter.sh",
        "v1",
        "nodepools",
        "NodePool",
        false,
        &[],
        false,
    ),
    (
        "karpenter.sh",
        "v1",
        "nodeclaims",
        "NodeClaim",
        false,
        &[],
        false,
    ),
    (
        "karpenter.k8s.aws",
        "v1",
        "ec2nodeclasses",
        "EC2NodeClass",
        false,
        &["ec2nc", "ec2ncs"],
        false,
    ),
    (
        "autoscaling.k8s.io",
        "v1",
        "verticalpodautoscalers",
        "VerticalPodAutoscaler",
        true,
        &["vpa"],
        false,
    ),
];

/// Every resource served, in a fixed order (indexes are stable for the server's life).
#[derive(Debug, Clone)]
pub struct Registry {
    pub resources: Vec<ResourceDef>,
}

impl Default for Registry {
    fn default() -> Self {
        let mut resources: Vec<ResourceDef> = BUILTINS
            .iter()
            .map(
                |(group, version, plural, kind, namespaced, short, all)| ResourceDef {
                    group: group.to_string(),
                    version: version.to_string(),
                    plural: plural.to_string(),
                    singular: kind.to_lowercase(),
                    kind: kind.to_string(),
                    namespaced: *namespaced,
                    short_names: short.iter().map(|s| s.to_string()).collect(),
                    categories: if *all {
                        vec!["all".to_string()]
                    } else {
                        Vec::new()
                    },
                    stored: true,
                    hidden: false,
                },
            )
            .collect();
        for (plural, kind) in [
            ("selfsubjectaccessreviews", "SelfSubjectAccessReview"),
            ("selfsubjectrulesreviews", "SelfSubjectRulesReview"),
        ] {
            resources.push(ResourceDef {
                group: "authorization.k8s.io".into(),
                version: "v1".into(),
                plural: plural.into(),
                singular: kind.to_lowercase(),
                kind: kind.into(),
                namespaced: false,
                short_names: Vec::new(),
                categories: Vec::new(),
                stored: false,
                hidden: false,
            });
        }
        Registry { resources }
    }
}

impl Registry {
    /// A served resource (hidden ones are not found: requests for them get 404).
    pub fn find(&self, group: &str, version: &str, plural: &str) -> Option<usize> {
        self.resources.iter().position(|r| {
            !r.hidden && r.group == group && r.version == version && r.plural == plural
        })
    }

    /// Stops serving an API: `spec` is a group (`karpenter.sh`: all its kinds) or one
    /// resource as `plural.group` (`httproutes.gateway.networking.k8s.io`), the way a CRD is
    /// named. Only kinds from CRDs can be hidden. Errors when nothing matches.
    pub fn hide(&mut self, spec: &str) -> Result<(), String> {
        let mut matched = false;
        for r in self.resources.iter_mut().filter(|r| r.group.contains('.')) {
            if r.group == spec || format!("{}.{}", r.plural, r.group) == spec {
                r.hidden = true;
                matched = true;
            }
        }
        if matched {
            Ok(())
        } else {
            Err(format!(
                "--without-api {spec}: no CRD API of the simulator is named so (give a group such as karpenter.sh, or plural.group such as httproutes.gateway.networking.k8s.io)"
            ))
        }
    }

    pub fn by_kind(&self, api_version: &str, kind: &str) -> Option<usize> {
        self.resources
            .iter()
            .position(|r| r.kind == kind && r.api_version() == api_version)
    }

    pub fn get(&self, index: usize) -> Option<&ResourceDef> {
        self.resources.get(index)
    }

    /// Registers a kind found in a manifest, guessing its plural the way most CRDs name it.
    pub fn ensure(&mut self, api_version: &str, kind: &str, namespaced: bool) -> usize {
        if let Some(index) = self.by_kind(api_version, kind) {
            return index;
        }
        let (group, version) = match api_version.split_once('/') {
            Some((g, v)) => (g.to_string(), v.to_string()),
            None => (String::new(), api_version.to_string()),
        };
        let singular = kind.to_lowercase();
        let plural = if singular.ends_with('s') {
            format!("{singular}es")
        } else if let Some(stem) = singular.strip_suffix('y') {
            format!("{stem}ies")
        } else {
            format!("{singular}s")
        };
        self.resources.push(ResourceDef {
            group,
            version,
            plural,
            singular,
            kind: kind.to_string(),
            namespaced,
            short_names: Vec::new(),
            categories: Vec::new(),
            stored: true,
            hidden: false,
        });
        self.resources.len() - 1
    }

    fn groups(&self) -> Vec<(String, Vec<String>)> {
        let mut groups: Vec<(String, Vec<String>)> = Vec::new();
        for r in self
            .resources
            .iter()
            .filter(|r| !r.group.is_empty() && !r.hidden)
        {
            match groups.iter_mut().find(|(g, _)| *g == r.group) {
                Some((_, versions)) => {
                    if !versions.contains(&r.version) {
                        versions.push(r.version.clone());
                    }
                }
                None => groups.push((r.group.clone(), vec![r.version.clone()])),
            }
        }
        groups
    }

    pub fn version_doc() -> Value {
        json!({
            "major": "1",
            "minor": "33",
            "gitVersion": "v1.33.1-eks-kockpit-sim",
            "gitCommit": "0000000000000000000000000000000000000000",
            "gitTreeState": "clean",
            "buildDate": "2026-03-01T00:00:00Z",
            "goVersion": "go1.24.0",
            "compiler": "gc",
            "platform": "linux/amd64",
        })
    }

    pub fn api_versions(addr: &str) -> Value {
        json!({
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": addr}],
        })
    }

    fn group_doc(group: &str, versions: &[String]) -> Value {
        let versions: Vec<Value> = versions
            .iter()
            .map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v}))
            .collect();
        json!({
            "name": group,
            "versions": versions,
            "preferredVersion": versions.first().cloned().unwrap_or(Value::Null),
        })
    }

    pub fn group_list(&self) -> Value {
        let groups: Vec<Value> = self
            .groups()
            .iter()
            .map(|(g, v)| Self::group_doc(g, v))
            .collect();
        json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
    }

    pub fn group(&self, group: &str) -> Option<Value> {
        let groups = self.groups();
        let (name, versions) = groups.iter().find(|(g, _)| g == group)?;
        let mut doc = Self::group_doc(name, versions);
        doc["kind"] = json!("APIGroup");
        doc["apiVersion"] = json!("v1");
        Some(doc)
    }

    /// The APIResourceList of one group version, `None` when nothing is served there.
    pub fn resource_list(&self, group: &str, version: &str) -> Option<Value> {
        let mut entries = Vec::new();
        for r in self
            .resources
            .iter()
            .filter(|r| !r.hidden && r.group == group && r.version == version)
        {
            entries.push(r.discovery_entry());
            if matches!(r.kind.as_str(), "Deployment" | "StatefulSet" | "ReplicaSet") {
                // `kubectl scale` finds the Scale kind through this entry.
                entries.push(json!({
                    "name": format!("{}/scale", r.plural),
                    "singularName": "",
                    "namespaced": true,
                    "group": "autoscaling",
                    "version": "v1",
                    "kind": "Scale",
                    "verbs": ["get", "patch"],
                }));
            }
        }
        if entries.is_empty() {
            return None;
        }
        let group_version = if group.is_empty() {
            version.to_string()
        } else {
            format!("{group}/{version}")
        };
        Some(json!({
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": group_version,
            "resources": entries,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_resources_have_short_names_and_verbs() {
        let registry = Registry::default();
        let list = registry.resource_list("", "v1").unwrap_or_default();
        let pods = list["resources"]
            .as_array()
            .and_then(|r| r.iter().find(|e| e["name"] == "pods"))
            .cloned()
            .unwrap_or_default();
        assert_eq!(pods["shortNames"], json!(["po"]));
        assert_eq!(pods["namespaced"], json!(true));
        assert!(
            pods["verbs"]
                .as_array()
                .is_some_and(|v| v.contains(&json!("watch")))
        );
        assert!(registry.group("karpenter.sh").is_some());
        assert!(registry.resource_list("nothing", "v1").is_none());
    }

    #[test]
    fn a_hidden_api_is_neither_advertised_nor_found() {
        let mut registry = Registry::default();
        assert!(registry.hide("pods").is_err(), "built-in kinds stay");
        assert!(registry.hide("example.com").is_err());
        registry
            .hide("karpenter.sh")
            .unwrap_or_else(|e| panic!("{e}"));
        registry
            .hide("httproutes.gateway.networking.k8s.io")
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(registry.group("karpenter.sh").is_none());
        assert!(registry.find("karpenter.sh", "v1", "nodepools").is_none());
        assert!(
            registry
                .find("karpenter.k8s.aws", "v1", "ec2nodeclasses")
                .is_some()
        );
        let gateway = registry
            .resource_list("gateway.networking.k8s.io", "v1")
            .unwrap_or_default();
        let names: Vec<&str> = gateway["resources"]
            .as_array()
            .map(|r| r.iter().filter_map(|e| e["name"].as_str()).collect())
            .unwrap_or_default();
        assert!(names.contains(&"gateways") && !names.contains(&"httproutes"));
        assert!(
            !registry.group_list()["groups"]
                .as_array()
                .is_some_and(|g| g.iter().any(|g| g["name"] == "karpenter.sh"))
        );
    }

    #[test]
    fn unknown_kinds_get_a_plural() {
        let mut registry = Registry::default();
        let index = registry.ensure("example.com/v1", "Policy", true);
        assert_eq!(
            registry.get(index).map(|r| r.plural.as_str()),
            Some("policies")
        );
        assert_eq!(registry.ensure("example.com/v1", "Policy", true), index);
    }
}
