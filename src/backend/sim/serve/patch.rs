//! PATCH bodies of the four content types the API server takes: JSON merge patch, JSON
//! patch (RFC 6902, with `test`), strategic merge patch (lists merge by their Kubernetes
//! merge key, with the `$patch: delete | replace` directives; lists of objects with a `name`
//! merge by name) and server-side apply (approximated as a merge patch in which lists of
//! named objects merge by name, from YAML or JSON; field ownership is not tracked).

use serde_json::{Map, Value};

use super::status::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchKind {
    Merge,
    Json,
    Strategic,
    Apply,
}

impl PatchKind {
    pub fn from_content_type(content_type: &str) -> Option<Self> {
        let base = content_type.split(';').next().unwrap_or("").trim();
        match base {
            "application/merge-patch+json" => Some(PatchKind::Merge),
            "application/json-patch+json" => Some(PatchKind::Json),
            "application/strategic-merge-patch+json" => Some(PatchKind::Strategic),
            "application/apply-patch+yaml" | "application/apply-patch+cbor" => {
                Some(PatchKind::Apply)
            }
            _ => None,
        }
    }
}

/// A parsed patch, kept so a change to a simulated object can be applied again after the
/// simulator re-renders the object.
#[derive(Debug, Clone, PartialEq)]
pub enum Overlay {
    Merge(Value),
    Json(json_patch::Patch),
    Strategic(Value),
    /// Server-side apply.
    Named(Value),
}

impl Overlay {
    pub fn parse(kind: PatchKind, body: &[u8]) -> Result<Self, ApiError> {
        let parse_json = |body: &[u8]| {
            serde_json::from_slice::<Value>(body)
                .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))
        };
        match kind {
            PatchKind::Merge => Ok(Overlay::Merge(parse_json(body)?)),
            PatchKind::Strategic => Ok(Overlay::Strategic(parse_json(body)?)),
            PatchKind::Json => serde_json::from_slice::<json_patch::Patch>(body)
                .map(Overlay::Json)
                .map_err(|e| ApiError::bad_request(format!("error decoding JSON patch: {e}"))),
            PatchKind::Apply => {
                let text = std::str::from_utf8(body)
                    .map_err(|_| ApiError::bad_request("apply patch is not UTF-8"))?;
                let value: Value = serde_saphyr::from_str(text).map_err(|e| {
                    ApiError::bad_request(format!("error decoding YAML apply patch: {e}"))
                })?;
                if !value.is_object() {
                    return Err(ApiError::bad_request("apply patch must be an object"));
                }
                Ok(Overlay::Named(value))
            }
        }
    }

    /// Applies the patch, reporting failures the way the API server does: a failed `test`
    /// on the resourceVersion is a conflict, any other failure makes the patch invalid.
    pub fn apply(&self, target: &mut Value) -> Result<(), ApiError> {
        match self {
            Overlay::Merge(patch) => {
                json_patch::merge(target, patch);
                Ok(())
            }
            Overlay::Named(patch) => {
                merge_by_name(target, patch);
                Ok(())
            }
            Overlay::Strategic(patch) => {
                strategic_merge(target, patch);
                Ok(())
            }
            Overlay::Json(patch) => json_patch::patch(target, patch).map_err(|e| {
                let on_version = e.path.as_str() == "/metadata/resourceVersion";
                match e.kind {
                    json_patch::PatchErrorKind::TestFailed if on_version => ApiError::new(
                        409,
                        "Conflict",
                        "the object has been modified; please apply your changes to the latest version and try again",
                    ),
                    // Worded as the API server's JSON-patch library words it.
                    json_patch::PatchErrorKind::TestFailed => ApiError::invalid(format!(
                        "the server rejected our request due to an error in our request: testing value {} failed: test failed",
                        e.path
                    )),
                    _ => ApiError::invalid(format!("the server rejected our request due to an error in our request: {e}")),
                }
            }),
        }
    }

    /// Applies again after a re-render; a patch that no longer applies is dropped silently
    /// (the simulator moved on, as a controller would overwrite the field).
    pub fn reapply(&self, target: &mut Value) {
        let without_tests = match self {
            Overlay::Json(patch) => Overlay::Json(json_patch::Patch(
                patch
                    .0
                    .iter()
                    .filter(|op| !matches!(op, json_patch::PatchOperation::Test(_)))
                    .cloned()
                    .collect(),
            )),
            other => other.clone(),
        };
        let _ = without_tests.apply(target);
        // Versions in patches are preconditions, never content.
        if let Some(meta) = target.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.remove("resourceVersion");
        }
    }
}

fn is_named_list(items: &[Value]) -> bool {
    !items.is_empty()
        && items
            .iter()
            .all(|i| i.get("name").is_some_and(Value::is_string))
}

/// The key a list's items merge by under a strategic merge patch (the `patchMergeKey` of the
/// Kubernetes types), for the fields clients patch; `None` for lists that are replaced.
fn merge_key(field: &str, items: &[Value]) -> Option<&'static str> {
    let all_have = |key: &str| !items.is_empty() && items.iter().all(|i| i.get(key).is_some());
    match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets" => Some("name"),
        "volumeMounts" => Some("mountPath"),
        "topologySpreadConstraints" => Some("topologyKey"),
        "conditions" => Some("type"),
        // Container ports merge by containerPort, Service ports by port.
        "ports" if all_have("containerPort") => Some("containerPort"),
        "ports" if all_have("port") => Some("port"),
        _ if is_named_list(items) => Some("name"),
        _ => None,
    }
}

fn directive(item: &Value) -> Option<&str> {
    item.get("$patch").and_then(Value::as_str)
}

/// Strategic merge patch: maps merge, `null` deletes, keyed lists merge item by item (an
/// item with `$patch: delete` is removed, `{"$patch": "replace"}` replaces the whole list),
/// other lists are replaced.
pub fn strategic_merge(target: &mut Value, patch: &Value) {
    let Value::Object(patch_map) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(target_map) = target else {
        return;
    };
    for (key, value) in patch_map {
        if key.starts_with('$') {
            continue;
        }
        match value {
            Value::Null => {
                target_map.remove(key);
            }
            Value::Object(_) => {
                let slot = target_map.entry(key.clone()).or_insert(Value::Null);
                strategic_merge(slot, value);
            }
            Value::Array(items) => match merge_key(key, items) {
                Some(merge_key) => {
                    let slot = target_map.entry(key.clone()).or_insert(Value::Null);
                    merge_list(slot, items, merge_key);
                }
                None => {
                    let kept: Vec<Value> = items
                        .iter()
                        .filter(|i| directive(i).is_none())
                        .cloned()
                        .collect();
                    target_map.insert(key.clone(), Value::Array(kept));
                }
            },
            other => {
                target_map.insert(key.clone(), other.clone());
            }
        }
    }
}

fn merge_list(target: &mut Value, items: &[Value], merge_key: &str) {
    let replace = items.iter().any(|i| directive(i) == Some("replace"));
    let mut list = match (replace, target.take()) {
        (false, Value::Array(list)) => list,
        _ => Vec::new(),
    };
    for item in items.iter().filter(|i| directive(i) != Some("replace")) {
        let key = item.get(merge_key);
        let position = key.and_then(|k| list.iter().position(|e| e.get(merge_key) == Some(k)));
        match (directive(item), position) {
            (Some("delete"), Some(index)) => {
                list.remove(index);
            }
            (Some("delete"), None) => {}
            (_, Some(index)) => strategic_merge(&mut list[index], item),
            (_, None) => {
                let mut fresh = Value::Object(Map::new());
                strategic_merge(&mut fresh, item);
                list.push(fresh);
            }
        }
    }
    *target = Value::Array(list);
}

/// Merge patch semantics, except that two lists of objects that all carry a `name` merge
/// item by item (containers, ports, env), as strategic merge does for those fields.
pub fn merge_by_name(target: &mut Value, patch: &Value) {
    let Value::Object(patch_map) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(target_map) = target else {
        return;
    };
    for (key, value) in patch_map {
        if key == "$patch" || key.starts_with("$setElementOrder") {
            continue;
        }
        match value {
            Value::Null => {
                target_map.remove(key);
            }
            Value::Array(items) if is_named_list(items) => {
                let existing = target_map
                    .entry(key.clone())
                    .or_insert_with(|| Value::Array(Vec::new()));
                match existing {
                    Value::Array(current) if is_named_list(current) || current.is_empty() => {
                        for item in items {
                            let name = item.get("name").cloned();
                            match current.iter_mut().find(|c| c.get("name") == name.as_ref()) {
                                Some(found) => merge_by_name(found, item),
                                None => current.push(item.clone()),
                            }
                        }
                    }
                    other => *other = value.clone(),
                }
            }
            Value::Object(_) => {
                let slot = target_map.entry(key.clone()).or_insert(Value::Null);
                merge_by_name(slot, value);
            }
            other => {
                target_map.insert(key.clone(), other.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn containers_merge_by_name() {
        let mut pod = json!({"spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]}});
        let patch = json!({"spec": {"containers": [{"name": "b", "image": "z"}]}});
        merge_by_name(&mut pod, &patch);
        assert_eq!(pod["spec"]["containers"][0]["image"], "x");
        assert_eq!(pod["spec"]["containers"][1]["image"], "z");
    }

    #[test]
    fn strategic_lists_merge_by_key_and_obey_directives() {
        let mut spec = json!({"topologySpreadConstraints": [
            {"topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule"}
        ], "containers": [{"name": "a", "resources": {"limits": {"cpu": "1"}}}]});
        let patch = json!({"topologySpreadConstraints": [
            {"topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "DoNotSchedule"},
            {"topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "ScheduleAnyway"}
        ], "containers": [{"name": "a", "resources": {"limits": {"cpu": null}}}]});
        strategic_merge(&mut spec, &patch);
        let constraints = spec["topologySpreadConstraints"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(constraints.len(), 2);
        assert_eq!(constraints[0]["whenUnsatisfiable"], "ScheduleAnyway");
        assert_eq!(spec["containers"][0]["resources"]["limits"], json!({}));
        let undo = json!({"topologySpreadConstraints": [
            {"topologyKey": "kubernetes.io/hostname", "$patch": "delete"},
            {"topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule"}
        ]});
        strategic_merge(&mut spec, &undo);
        assert_eq!(
            spec["topologySpreadConstraints"],
            json!([{"topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule"}])
        );
    }

    #[test]
    fn failed_version_test_is_a_conflict() {
        let patch = Overlay::parse(
            PatchKind::Json,
            br#"[{"op":"test","path":"/metadata/resourceVersion","value":"1"}]"#,
        );
        let mut object = json!({"metadata": {"resourceVersion": "2"}});
        let error = patch.and_then(|p| p.apply(&mut object)).err();
        assert_eq!(error.map(|e| e.code), Some(409));
        let patch = Overlay::parse(PatchKind::Json, br#"[{"op":"test","path":"/a","value":1}]"#);
        let mut object = json!({"a": 2});
        assert_eq!(
            patch
                .and_then(|p| p.apply(&mut object))
                .err()
                .map(|e| e.code),
            Some(422)
        );
    }

    #[test]
    fn content_types() {
        assert_eq!(
            PatchKind::from_content_type("application/merge-patch+json; charset=utf-8"),
            Some(PatchKind::Merge)
        );
        assert_eq!(PatchKind::from_content_type("text/plain"), None);
    }
}
