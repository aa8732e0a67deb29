//! Gateway API fixes (§8.4 F-GW-1, F-GW-2): roll a canary back with a JSON patch guarded by
//! `test` ops, and create the ReferenceGrant a cross-namespace backend needs.

use std::time::Duration;

use serde_json::{Value, json};

use super::context::PlanContext;
use super::object::{name, namespace, str_at, target_for};
use super::plan::{Inverse, JsonTest, Operation, PatchType, Precondition, Risk, VerifyCondition};
use super::{Draft, PlanError, verification};
use crate::domain::format::percent;

/// A backendRef's weight; Gateway API defaults an absent weight to 1.
fn weight(backend: &Value) -> u64 {
    backend.get("weight").and_then(Value::as_u64).unwrap_or(1)
}

fn route_identity(object: &Value) -> Result<(String, String, String), PlanError> {
    let kind = str_at(object, "/kind").unwrap_or("HTTPRoute").to_string();
    let ns = namespace(object)
        .ok_or_else(|| PlanError::MissingField("metadata.namespace".into()))?
        .to_string();
    let route = name(object)
        .ok_or_else(|| PlanError::MissingField("metadata.name".into()))?
        .to_string();
    Ok((kind, ns, route))
}

fn backend_refs(object: &Value) -> Vec<(usize, usize, &Value)> {
    let mut out = Vec::new();
    let rules = object
        .pointer("/spec/rules")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    for (r, rule) in rules.iter().enumerate() {
        let refs = rule
            .get("backendRefs")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        for (k, backend) in refs.iter().enumerate() {
            out.push((r, k, backend));
        }
    }
    out
}

fn is_service(backend: &Value) -> bool {
    let group = backend.get("group").and_then(Value::as_str).unwrap_or("");
    let kind = backend
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("Service");
    group.is_empty() && kind == "Service"
}

/// F-GW-2: a ReferenceGrant in the backend's namespace letting this route reach the Service.
pub fn reference_grant(object: &Value, context: &PlanContext) -> Result<Draft, PlanError> {
    let (route_kind, route_ns, route) = route_identity(object)?;
    let mut wanted: Vec<(String, String)> = backend_refs(object)
        .into_iter()
        .filter(|(_, _, b)| is_service(b))
        .filter_map(|(_, _, b)| {
            let ns = b.get("namespace").and_then(Value::as_str)?;
            let svc = b.get("name").and_then(Value::as_str)?;
            (ns != route_ns).then(|| (ns.to_string(), svc.to_string()))
        })
        .collect();
    if wanted.is_empty()
        && let Some(status) = &context.route
    {
        wanted = status
            .backends
            .iter()
            .filter(|b| b.namespace != route_ns)
            .map(|b| (b.namespace.clone(), b.name.clone()))
            .collect();
    }
    wanted.sort();
    wanted.dedup();
    let grant_name = format!("kockpit-{route}");
    let grant_ns = wanted.first().map(|(ns, _)| ns.clone()).unwrap_or_default();
    let target = target_for(&Value::Null, "ReferenceGrant", Some(&grant_ns), &grant_name);
    let verify = verification(
        VerifyCondition::RouteAccepted {
            namespace: route_ns.clone(),
            name: route.clone(),
        },
        Duration::from_secs(2 * 60),
        vec![("ResolvedRefs", "False (RefNotPermitted)".into())],
    );
    if wanted.is_empty() {
        return Ok(Draft::refused(
            target,
            Risk::Medium,
            format!("{route_kind} {route_ns}/{route} has no Service backend in another namespace"),
            verify,
        ));
    }
    let services: Vec<&str> = wanted
        .iter()
        .filter(|(ns, _)| *ns == grant_ns)
        .map(|(_, svc)| svc.as_str())
        .collect();
    let mut warnings = vec![format!(
        "a ReferenceGrant is a security boundary: it lets every {route_kind} in namespace {route_ns} reach {} in {grant_ns}; confirm who asked for it",
        services.join(", ")
    )];
    let others: Vec<String> = wanted
        .iter()
        .filter(|(ns, _)| *ns != grant_ns)
        .map(|(ns, svc)| format!("{ns}/{svc}"))
        .collect();
    if !others.is_empty() {
        warnings.push(format!(
            "backends in other namespaces need their own grant: {}",
            others.join(", ")
        ));
    }
    let to: Vec<Value> = services
        .iter()
        .map(|svc| json!({"group": "", "kind": "Service", "name": svc}))
        .collect();
    let body = json!({
        "apiVersion": target.api_version,
        "kind": "ReferenceGrant",
        "metadata": {"name": grant_name, "namespace": grant_ns},
        "spec": {
            "from": [{"group": "gateway.networking.k8s.io", "kind": route_kind, "namespace": route_ns}],
            "to": to
        }
    });
    Ok(Draft {
        blast_radius: format!(
            "1 new object; {route_kind} {route_ns}/{route} may then send traffic to {} in {grant_ns}",
            services.join(", ")
        ),
        target,
        operation: Operation::Create { body },
        precondition: Precondition::MustNotExist,
        inverse: Some(Inverse {
            operation: Operation::Delete,
            precondition: Precondition::ResourceVersionFromApply,
        }),
        risk: Risk::Medium,
        warnings,
        refusal: None,
        verify,
    })
}

/// F-GW-1: every canary of a weighted rule to 0 and its stable backend to 100.
pub fn rollback_canary(object: &Value, context: &PlanContext) -> Result<Draft, PlanError> {
    let (route_kind, route_ns, route) = route_identity(object)?;
    let target = target_for(object, &route_kind, Some(&route_ns), &route);
    let refs = backend_refs(object);
    let mut forward_tests = Vec::new();
    let mut forward_ops = Vec::new();
    let mut inverse_tests = Vec::new();
    let mut inverse_ops = Vec::new();
    let mut canaries: Vec<String> = Vec::new();
    // Weights of the rules being changed, for the share of traffic that moves.
    let mut total: u64 = 0;
    let mut canary_weight: u64 = 0;
    let mut stables: Vec<String> = Vec::new();
    let rules: Vec<usize> = {
        let mut rules: Vec<usize> = refs.iter().map(|(r, _, _)| *r).collect();
        rules.dedup();
        rules
    };
    for rule in rules {
        let weighted: Vec<(usize, &Value)> = refs
            .iter()
            .filter(|(r, _, b)| *r == rule && weight(b) > 0)
            .map(|(_, k, b)| (*k, *b))
            .collect();
        if weighted.len() < 2 {
            continue;
        }
        // The stable backend carries the most weight; the first one wins a tie.
        let Some(&(stable_index, _)) = weighted.iter().reduce(|best, b| {
            if weight(b.1) > weight(best.1) {
                b
            } else {
                best
            }
        }) else {
            continue;
        };
        for (k, backend) in &weighted {
            total += weight(backend);
            if *k != stable_index {
                canary_weight += weight(backend);
            }
            let path = format!("/spec/rules/{rule}/backendRefs/{k}");
            let backend_name = backend.get("name").and_then(Value::as_str).unwrap_or("");
            let new_weight = if *k == stable_index { 100 } else { 0 };
            if *k == stable_index {
                stables.push(backend_name.to_string());
            } else {
                canaries.push(backend_name.to_string());
            }
            let name_test = JsonTest {
                path: format!("{path}/name"),
                value: json!(backend_name),
            };
            forward_tests.push(name_test.clone());
            inverse_tests.push(name_test);
            let weight_path = format!("{path}/weight");
            match backend.get("weight") {
                Some(old) => {
                    forward_tests.push(JsonTest {
                        path: weight_path.clone(),
                        value: old.clone(),
                    });
                    forward_ops
                        .push(json!({"op": "replace", "path": weight_path, "value": new_weight}));
                    inverse_ops.push(json!({"op": "replace", "path": weight_path, "value": old}));
                }
                None => {
                    forward_ops
                        .push(json!({"op": "add", "path": weight_path, "value": new_weight}));
                    inverse_ops.push(json!({"op": "remove", "path": weight_path}));
                }
            }
            inverse_tests.push(JsonTest {
                path: weight_path,
                value: json!(new_weight),
            });
        }
    }
    let status = context.route.as_ref();
    let share = (total > 0).then(|| canary_weight as f64 / total as f64);
    let mut before = vec![("canary weight", canary_weight.to_string())];
    if let Some(ratio) = status.and_then(|s| s.error_5xx_ratio) {
        before.push(("5xx share", percent(ratio)));
    }
    let verify = verification(
        VerifyCondition::CanaryDrained {
            namespace: route_ns.clone(),
            name: route.clone(),
            canaries: canaries.clone(),
        },
        Duration::from_secs(60),
        before,
    );
    if canaries.is_empty() {
        return Ok(Draft::refused(
            target,
            Risk::Medium,
            format!(
                "{route_kind} {route_ns}/{route} has no rule splitting traffic between backends"
            ),
            verify,
        ));
    }
    if let Some(status) = status {
        let starved: Vec<&str> = status
            .backends
            .iter()
            .filter(|b| stables.contains(&b.name) && (!b.service_exists || b.ready_endpoints == 0))
            .map(|b| b.name.as_str())
            .collect();
        if !starved.is_empty() {
            return Ok(Draft::refused(
                target,
                Risk::Medium,
                format!(
                    "the stable backend {} has no ready endpoints: rolling back would send all traffic nowhere",
                    starved.join(", ")
                ),
                verify,
            ));
        }
    }
    let to_ops = |tests: &[JsonTest], ops: Vec<Value>| -> Value {
        let mut all: Vec<Value> = tests
            .iter()
            .map(|t| json!({"op": "test", "path": t.path, "value": t.value}))
            .collect();
        all.extend(ops);
        Value::Array(all)
    };
    let operation = Operation::Patch {
        patch_type: PatchType::Json,
        body: to_ops(&forward_tests, forward_ops),
    };
    let inverse = Inverse {
        operation: Operation::Patch {
            patch_type: PatchType::Json,
            body: to_ops(&inverse_tests, inverse_ops),
        },
        precondition: Precondition::JsonTest(inverse_tests),
    };
    let risk = if share.is_some_and(|s| s <= 0.2) {
        Risk::Low
    } else {
        Risk::Medium
    };
    let moved = share.map_or("all canary".to_string(), percent);
    let mut warnings = Vec::new();
    if status.is_none() {
        warnings.push("the route's backend readiness is unknown: check the stable backend can take all traffic".into());
    }
    Ok(Draft {
        target,
        operation,
        precondition: Precondition::JsonTest(forward_tests),
        inverse: Some(inverse),
        risk,
        blast_radius: format!(
            "1 route, {moved} of its traffic moves from {} to {}",
            canaries.join(", "),
            stables.join(", ")
        ),
        warnings,
        refusal: None,
        verify,
    })
}
