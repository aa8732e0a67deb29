//! Reading the object as JSON without trusting its shape, and the patch skeletons every fix
//! builds on (a merge or strategic patch with its resourceVersion precondition and inverse).

use serde_json::{Map, Value};

use super::PlanError;
use super::apply::inverse_patch;
use super::plan::{Inverse, Operation, PatchType, Precondition, Target};
use crate::domain::finding::Finding;

pub fn str_at<'a>(object: &'a Value, pointer: &str) -> Option<&'a str> {
    object.pointer(pointer).and_then(Value::as_str)
}

pub fn name(object: &Value) -> Option<&str> {
    str_at(object, "/metadata/name")
}

pub fn namespace(object: &Value) -> Option<&str> {
    str_at(object, "/metadata/namespace")
}

pub fn resource_version(object: &Value) -> Result<String, PlanError> {
    str_at(object, "/metadata/resourceVersion")
        .map(str::to_string)
        .ok_or_else(|| PlanError::MissingField("metadata.resourceVersion".into()))
}

/// The object must be the finding's: same kind (when the object says), name and namespace.
pub fn check_matches(finding: &Finding, object: &Value) -> Result<(), PlanError> {
    let expected = &finding.object;
    let kind = str_at(object, "/kind");
    let found_name = name(object);
    let found_namespace = namespace(object);
    let kind_ok = kind.is_none_or(|k| k == expected.kind);
    let name_ok = found_name == Some(expected.name.as_str());
    let namespace_ok = match &expected.namespace {
        Some(ns) => found_namespace.is_none_or(|found| found == ns),
        None => true,
    };
    if kind_ok && name_ok && namespace_ok {
        Ok(())
    } else {
        Err(PlanError::WrongObject {
            expected: expected.to_string(),
            found: format!(
                "{} {}/{}",
                kind.unwrap_or("object"),
                found_namespace.unwrap_or("-"),
                found_name.unwrap_or("(no name)")
            ),
        })
    }
}

/// The API resource of the kinds kockpit writes.
pub fn target_for(object: &Value, kind: &str, namespace: Option<&str>, name: &str) -> Target {
    let (default_api, resource) = match kind {
        "ConfigMap" => ("v1", "configmaps"),
        "Service" => ("v1", "services"),
        "Namespace" => ("v1", "namespaces"),
        "Deployment" => ("apps/v1", "deployments"),
        "StatefulSet" => ("apps/v1", "statefulsets"),
        "DaemonSet" => ("apps/v1", "daemonsets"),
        "HTTPRoute" => ("gateway.networking.k8s.io/v1", "httproutes"),
        "GRPCRoute" => ("gateway.networking.k8s.io/v1", "grpcroutes"),
        "ReferenceGrant" => ("gateway.networking.k8s.io/v1beta1", "referencegrants"),
        "NodePool" => ("karpenter.sh/v1", "nodepools"),
        "VerticalPodAutoscaler" => ("autoscaling.k8s.io/v1", "verticalpodautoscalers"),
        _ => ("v1", "unknown"),
    };
    let api_version = str_at(object, "/apiVersion").unwrap_or(default_api);
    Target {
        api_version: api_version.to_string(),
        kind: kind.to_string(),
        namespace: namespace.map(str::to_string),
        name: name.to_string(),
        resource: resource.to_string(),
        subresource: None,
    }
}

/// The target the finding's object names.
pub fn own_target(object: &Value) -> Target {
    let kind = str_at(object, "/kind").unwrap_or_default();
    target_for(
        object,
        kind,
        namespace(object),
        name(object).unwrap_or_default(),
    )
}

/// A merge or strategic patch of `changes` with the object's resourceVersion as its
/// precondition, and the inverse that restores every touched field.
pub fn guarded_patch(
    object: &Value,
    patch_type: PatchType,
    changes: Value,
) -> Result<(Operation, Precondition, Inverse), PlanError> {
    let rv = resource_version(object)?;
    let inverse_body = inverse_patch(object, &changes, patch_type == PatchType::StrategicMerge);
    let changes = match changes {
        Value::Object(map) => map,
        _ => Map::new(),
    };
    // metadata first, so an exported patch reads precondition first.
    let mut metadata = match changes.get("metadata") {
        Some(Value::Object(existing)) => existing.clone(),
        _ => Map::new(),
    };
    metadata.insert("resourceVersion".into(), Value::String(rv.clone()));
    let mut body = Map::new();
    body.insert("metadata".into(), Value::Object(metadata));
    for (key, value) in changes {
        if key != "metadata" {
            body.insert(key, value);
        }
    }
    Ok((
        Operation::Patch {
            patch_type,
            body: Value::Object(body),
        },
        Precondition::ResourceVersion(rv),
        Inverse {
            operation: Operation::Patch {
                patch_type,
                body: inverse_body,
            },
            precondition: Precondition::ResourceVersionFromApply,
        },
    ))
}

/// A Kubernetes CPU quantity in cores: "8", "8000m", 8, "1.5".
pub fn cpu_cores(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => match s.trim().strip_suffix('m') {
            Some(milli) => milli.parse::<f64>().ok().map(|m| m / 1000.0),
            None => s.trim().parse::<f64>().ok(),
        },
        _ => None,
    }
    .filter(|v| v.is_finite())
}

/// A Kubernetes memory quantity in MiB: "170Mi", "1Gi", "200M", "1048576".
pub fn memory_mib(value: &Value) -> Option<f64> {
    let text = match value {
        Value::Number(n) => return n.as_f64().map(|b| b / 1_048_576.0),
        Value::String(s) => s.trim(),
        _ => return None,
    };
    let units: [(&str, f64); 8] = [
        ("Ki", 1024.0),
        ("Mi", 1_048_576.0),
        ("Gi", 1_073_741_824.0),
        ("Ti", 1_099_511_627_776.0),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
    ];
    let (number, factor) = units
        .iter()
        .find_map(|(suffix, factor)| text.strip_suffix(suffix).map(|n| (n, *factor)))
        .unwrap_or((text, 1.0));
    number
        .parse::<f64>()
        .ok()
        .map(|n| n * factor / 1_048_576.0)
        .filter(|v| v.is_finite())
}

/// The pod template's container named `name`, with its index.
pub fn container<'a>(object: &'a Value, name: &str) -> Option<&'a Value> {
    object
        .pointer("/spec/template/spec/containers")?
        .as_array()?
        .iter()
        .find(|c| c.get("name").and_then(Value::as_str) == Some(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn quantities() {
        assert_eq!(cpu_cores(&json!("8000m")), Some(8.0));
        assert_eq!(cpu_cores(&json!("100")), Some(100.0));
        assert_eq!(cpu_cores(&json!(4)), Some(4.0));
        assert_eq!(memory_mib(&json!("170Mi")), Some(170.0));
        assert_eq!(memory_mib(&json!("1Gi")), Some(1024.0));
        assert_eq!(cpu_cores(&json!("lots")), None);
    }
}
