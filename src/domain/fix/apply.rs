//! Applying a plan's operation to an object as JSON, the way the API server would: merge and
//! JSON patches through the `json-patch` crate, and a small strategic merge for the lists
//! built-in workloads key by name. Tests use it to show that an undo restores the object; the
//! simulator's API server can use it to serve patches.

use serde_json::{Map, Value};

use super::plan::{Operation, PatchType};

/// Why an operation could not be applied.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApplyError {
    /// The patch carried a resourceVersion other than the object's (HTTP 409).
    #[error(
        "conflict: the object changed since the plan was made (resourceVersion {current}, plan made at {expected})"
    )]
    Conflict { expected: String, current: String },
    /// A JSON patch `test` op failed or an op addressed a missing path.
    #[error("JSON patch failed: {0}")]
    JsonPatch(String),
    #[error("the patch is not a JSON patch (a list of operations): {0}")]
    NotAJsonPatch(String),
    #[error("the object already exists")]
    AlreadyExists,
    #[error("the object does not exist")]
    NotFound,
}

/// Where the lists of a pod spec are merged by key rather than replaced, as in the
/// Kubernetes API's `patchMergeKey` tags. Other lists (options, tolerations, args) are atomic.
pub(crate) fn merge_key(field: &str) -> Option<&'static str> {
    match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets" => Some("name"),
        "volumeMounts" => Some("mountPath"),
        "ports" => Some("containerPort"),
        "topologySpreadConstraints" => Some("topologyKey"),
        _ => None,
    }
}

/// The object after `operation`. `Value::Null` stands for "no object" (before a create, after
/// a delete). A merge or strategic patch that carries `metadata.resourceVersion` must match the
/// object's, as the API server requires; the resourceVersion itself is not advanced here.
///
/// A patch addressed to the `scale` subresource has the same `spec.replicas` shape as the
/// workload, so it is applied to the workload's object.
pub fn apply_to(object: &Value, operation: &Operation) -> Result<Value, ApplyError> {
    match operation {
        Operation::Create { body } => {
            if object.is_null() {
                Ok(body.clone())
            } else {
                Err(ApplyError::AlreadyExists)
            }
        }
        Operation::Delete => {
            if object.is_null() {
                Err(ApplyError::NotFound)
            } else {
                Ok(Value::Null)
            }
        }
        Operation::Patch { patch_type, body } => {
            if object.is_null() {
                return Err(ApplyError::NotFound);
            }
            let mut result = object.clone();
            match patch_type {
                PatchType::Json => {
                    let ops: json_patch::Patch = serde_json::from_value(body.clone())
                        .map_err(|e| ApplyError::NotAJsonPatch(e.to_string()))?;
                    json_patch::patch(&mut result, &ops)
                        .map_err(|e| ApplyError::JsonPatch(e.to_string()))?;
                }
                PatchType::Merge => {
                    check_resource_version(object, body)?;
                    json_patch::merge(&mut result, body);
                }
                PatchType::StrategicMerge => {
                    check_resource_version(object, body)?;
                    strategic_merge(&mut result, body);
                }
            }
            Ok(result)
        }
    }
}

fn check_resource_version(object: &Value, body: &Value) -> Result<(), ApplyError> {
    let wanted = body
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str);
    let Some(expected) = wanted else {
        return Ok(());
    };
    let current = object
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if current == expected {
        Ok(())
    } else {
        Err(ApplyError::Conflict {
            expected: expected.to_string(),
            current: current.to_string(),
        })
    }
}

/// Strategic merge as the API server does it for the fields kockpit patches: maps merge,
/// `null` deletes, keyed lists merge item by item (`$patch: delete` removes an item, an item
/// `{"$patch": "replace"}` replaces the whole list), every other list is replaced.
pub fn strategic_merge(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(target) = target else {
        return;
    };
    for (key, value) in patch {
        if key.starts_with('$') {
            continue;
        }
        match value {
            Value::Null => {
                target.remove(key);
            }
            Value::Object(_) => {
                let slot = target.entry(key.clone()).or_insert(Value::Null);
                strategic_merge(slot, value);
            }
            Value::Array(items) => match merge_key(key) {
                Some(merge_key) => {
                    let slot = target.entry(key.clone()).or_insert(Value::Null);
                    merge_list(slot, items, merge_key);
                }
                None => {
                    target.insert(key.clone(), value.clone());
                }
            },
            _ => {
                target.insert(key.clone(), value.clone());
            }
        }
    }
}

fn directive(item: &Value) -> Option<&str> {
    item.get("$patch").and_then(Value::as_str)
}

fn merge_list(target: &mut Value, items: &[Value], merge_key: &str) {
    let replace = items.iter().any(|i| directive(i) == Some("replace"));
    let mut list = match (replace, target.take()) {
        (false, Value::Array(list)) => list,
        _ => Vec::new(),
    };
    for item in items {
        if directive(item) == Some("replace") {
            continue;
        }
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

/// The patch that undoes `patch` (merge or strategic) on `before`: every field the patch
/// touches gets its value from `before`, or `null` where `before` had none, so applying the
/// patch and then this gives back `before`'s fields exactly. `metadata.resourceVersion` is
/// left out: the undo's precondition is the resourceVersion the apply returns.
pub fn inverse_patch(before: &Value, patch: &Value, strategic: bool) -> Value {
    match inverse_field(Some(before), patch, None, strategic) {
        Value::Null => Value::Object(Map::new()),
        other => other,
    }
}

fn inverse_field(
    before: Option<&Value>,
    patch: &Value,
    field: Option<&str>,
    strategic: bool,
) -> Value {
    match (before, patch) {
        (Some(Value::Object(before)), Value::Object(patch)) => {
            let mut out = Map::new();
            for (key, value) in patch {
                if key.starts_with('$') {
                    continue;
                }
                let is_metadata = field.is_none() && key == "metadata";
                let inverse = if is_metadata {
                    inverse_metadata(before.get(key), value, strategic)
                } else {
                    Some(inverse_field(before.get(key), value, Some(key), strategic))
                };
                if let Some(inverse) = inverse {
                    out.insert(key.clone(), inverse);
                }
            }
            Value::Object(out)
        }
        (Some(Value::Array(before)), Value::Array(items)) if strategic => {
            match field.and_then(merge_key) {
                Some(merge_key) => inverse_list(before, items, merge_key),
                None => Value::Array(before.clone()),
            }
        }
        (Some(before), _) => before.clone(),
        // Annotations or labels the object did not have: only the keys the patch added are
        // taken out again, so what someone else put there meanwhile stays (`annotations:
        // null` would delete theirs with the fix's). Elsewhere the whole field goes, as it was.
        (None, Value::Object(patch)) if matches!(field, Some("annotations" | "labels")) => {
            Value::Object(
                patch
                    .iter()
                    .filter(|(key, _)| !key.starts_with('$'))
                    .map(|(key, _)| (key.clone(), Value::Null))
                    .collect(),
            )
        }
        (None, _) => Value::Null,
    }
}

/// `metadata` without the resourceVersion, and dropped when nothing else is in it.
fn inverse_metadata(before: Option<&Value>, patch: &Value, strategic: bool) -> Option<Value> {
    let mut patch = patch.clone();
    if let Value::Object(map) = &mut patch {
        map.remove("resourceVersion");
        if map.is_empty() {
            return None;
        }
    }
    Some(inverse_field(before, &patch, Some("metadata"), strategic))
}

fn inverse_list(before: &[Value], items: &[Value], merge_key: &str) -> Value {
    if items.iter().any(|i| directive(i) == Some("replace")) {
        let mut list = vec![serde_json::json!({"$patch": "replace"})];
        list.extend(before.iter().cloned());
        return Value::Array(list);
    }
    let mut out = Vec::new();
    for item in items {
        let Some(key) = item.get(merge_key) else {
            continue;
        };
        let prior = before.iter().find(|e| e.get(merge_key) == Some(key));
        match (prior, directive(item)) {
            // A deleted item comes back whole.
            (Some(prior), Some("delete")) => out.push(prior.clone()),
            (Some(prior), _) => {
                out.push(inverse_field(Some(prior), item, Some(""), true));
            }
            (None, Some("delete")) => {}
            (None, _) => {
                let mut map = Map::new();
                map.insert(merge_key.to_string(), key.clone());
                map.insert("$patch".into(), Value::String("delete".into()));
                out.push(Value::Object(map));
            }
        }
    }
    Value::Array(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn undoing_annotations_the_object_had_none_of_takes_out_only_the_fixs_keys() {
        let before = json!({"metadata": {"name": "redis"}, "spec": {}});
        let patch = json!({"metadata": {"annotations": {"a/mode": "Auto"}}});
        let inverse = inverse_patch(&before, &patch, false);
        assert_eq!(
            inverse,
            json!({"metadata": {"annotations": {"a/mode": null}}})
        );
        // Someone else's annotation, added after the fix, survives its undo.
        let now = json!({"metadata": {"name": "redis", "annotations": {"a/mode": "Auto", "b/other": "x"}}});
        let undone = apply_to(
            &now,
            &Operation::Patch {
                patch_type: PatchType::Merge,
                body: inverse,
            },
        )
        .unwrap_or_default();
        assert_eq!(undone["metadata"]["annotations"], json!({"b/other": "x"}));
    }

    fn deployment() -> Value {
        json!({
            "metadata": {"name": "web", "resourceVersion": "7"},
            "spec": {"template": {"spec": {"containers": [
                {"name": "app", "resources": {"limits": {"cpu": "500m", "memory": "256Mi"}}},
                {"name": "sidecar", "image": "envoy"}
            ]}}}
        })
    }

    #[test]
    fn strategic_merge_edits_the_named_container_only() {
        let patch = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "app", "resources": {"limits": {"cpu": null}}}
        ]}}}});
        let mut object = deployment();
        strategic_merge(&mut object, &patch);
        let containers = &object["spec"]["template"]["spec"]["containers"];
        assert_eq!(
            containers[0]["resources"]["limits"],
            json!({"memory": "256Mi"})
        );
        assert_eq!(containers[1], json!({"name": "sidecar", "image": "envoy"}));
    }

    #[test]
    fn keyed_list_items_are_added_and_deleted() {
        let mut object = deployment();
        let add = json!({"spec": {"template": {"spec": {"containers": [{"name": "new", "image": "x"}]}}}});
        strategic_merge(&mut object, &add);
        assert_eq!(
            object["spec"]["template"]["spec"]["containers"][2]["name"],
            "new"
        );
        let inverse = inverse_patch(&deployment(), &add, true);
        strategic_merge(&mut object, &inverse);
        assert_eq!(object, deployment());
    }

    #[test]
    fn a_stale_resource_version_is_a_conflict() {
        let op = Operation::Patch {
            patch_type: PatchType::Merge,
            body: json!({"metadata": {"resourceVersion": "6"}, "spec": {"replicas": 3}}),
        };
        assert!(matches!(
            apply_to(&deployment(), &op),
            Err(ApplyError::Conflict { .. })
        ));
    }

    #[test]
    fn create_and_delete_need_absence_and_presence() {
        let create = Operation::Create {
            body: json!({"kind": "X"}),
        };
        assert_eq!(apply_to(&Value::Null, &create), Ok(json!({"kind": "X"})));
        assert_eq!(
            apply_to(&deployment(), &create),
            Err(ApplyError::AlreadyExists)
        );
        assert_eq!(
            apply_to(&Value::Null, &Operation::Delete),
            Err(ApplyError::NotFound)
        );
    }
}

/// Whether the fields `operation` writes still hold what it wrote on `current`: applying it
/// again (without its preconditions) would change nothing. An undo whose resourceVersion went
/// stale only because a controller updated the object's status can then be sent again on
/// the current version without overwriting anyone's change to those fields.
pub fn still_applied(current: &Value, operation: &Operation) -> bool {
    let forward = match operation {
        Operation::Patch { patch_type, body } => {
            let body = match (patch_type, body) {
                (PatchType::Json, Value::Array(ops)) => Value::Array(
                    ops.iter()
                        .filter(|op| op.get("op").and_then(Value::as_str) != Some("test"))
                        .cloned()
                        .collect(),
                ),
                (_, Value::Object(map)) => {
                    let mut map = map.clone();
                    if let Some(Value::Object(metadata)) = map.get_mut("metadata") {
                        metadata.remove("resourceVersion");
                    }
                    Value::Object(map)
                }
                (_, other) => other.clone(),
            };
            Operation::Patch {
                patch_type: *patch_type,
                body,
            }
        }
        // A created object is still "applied" while it exists; a delete while it does not.
        Operation::Create { .. } => return !current.is_null(),
        Operation::Delete => return current.is_null(),
    };
    apply_to(current, &forward).is_ok_and(|after| after == *current)
}

#[cfg(test)]
mod still_applied_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_patch_whose_fields_still_hold_is_still_applied() {
        let operation = Operation::Patch {
            patch_type: PatchType::Merge,
            body: json!({"metadata": {"resourceVersion": "7"}, "spec": {"replicas": 4}}),
        };
        let current = json!({"metadata": {"resourceVersion": "9"}, "spec": {"replicas": 4}, "status": {"ready": 3}});
        assert!(still_applied(&current, &operation));
        let changed = json!({"metadata": {"resourceVersion": "9"}, "spec": {"replicas": 6}});
        assert!(!still_applied(&changed, &operation));
    }

    #[test]
    fn json_patch_tests_are_ignored_but_values_are_not() {
        let operation = Operation::Patch {
            patch_type: PatchType::Json,
            body: json!([
                {"op": "test", "path": "/data/x", "value": "old"},
                {"op": "replace", "path": "/data/x", "value": "new"}
            ]),
        };
        assert!(still_applied(&json!({"data": {"x": "new"}}), &operation));
        assert!(!still_applied(&json!({"data": {"x": "other"}}), &operation));
    }
}
