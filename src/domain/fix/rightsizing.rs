//! Right-sizing fixes (§8.4 F-RS-1, 2, 4): the recommended requests and the CPU limit by
//! strategic merge on the workload's container (keyed by name), and a recommendation-only VPA.

use std::time::Duration;

use serde_json::{Value, json};

use super::context::PlanContext;
use super::object::{container, guarded_patch, own_target, str_at, target_for};
use super::plan::{Inverse, Operation, PatchType, Precondition, Risk, VerifyCondition};
use super::{Draft, PlanError, verification};
use crate::domain::format::percent;
use crate::domain::model::WorkloadUsage;
use crate::domain::rightsizing::recommendation;

/// The history the doc wants before acting on a recommendation (§8.4 F-RS-1).
const MIN_HISTORY_DAYS: f64 = 7.0;
/// Throttling below this counts as solved (§8.4 F-RS-1 gates).
const THROTTLING_SOLVED: f64 = 0.05;

fn vpa_owns(mode: Option<&str>) -> Option<&str> {
    mode.filter(|m| {
        let lower = m.to_ascii_lowercase();
        lower == "auto" || lower.contains("recreate")
    })
}

fn rollout(object: &Value) -> String {
    let replicas = object
        .pointer("/spec/replicas")
        .and_then(Value::as_u64)
        .unwrap_or(1);
    format!("{replicas} pods restart (rollout)")
}

/// F-RS-1: requests at the recommendation, memory limit at max(request × 1.5, p99 × 1.2), no
/// CPU limit.
pub fn apply_requests(object: &Value, context: &PlanContext) -> Result<Draft, PlanError> {
    let target = own_target(object);
    let row: &WorkloadUsage = context
        .workload
        .first()
        .ok_or(PlanError::MissingContext("usage of the workload"))?;
    let rec = recommendation(row);
    let verify = verification(
        VerifyCondition::RequestsApplied {
            namespace: row.namespace.clone(),
            workload: row.name.clone(),
            container: row.container.clone(),
            cpu_request_m: rec.map_or(0, |r| r.cpu_request_m),
            memory_request_mib: rec.map_or(0, |r| r.memory_request_mib),
            oom_kills_before: row.oom_kills_7d,
        },
        Duration::from_secs(10 * 60),
        vec![
            ("CPU request", format!("{:.0}m", row.cpu_request_m)),
            (
                "memory request",
                format!("{:.0} MiB", row.memory_request_mib),
            ),
            (
                "memory limit",
                row.memory_limit_mib
                    .map_or("none".into(), |l| format!("{l:.0} MiB")),
            ),
            ("OOM kills (7 d)", row.oom_kills_7d.to_string()),
        ],
    );
    if let Some(mode) = vpa_owns(context.vpa_update_mode.as_deref()) {
        return Ok(Draft::refused(
            target,
            Risk::Medium,
            format!(
                "a VerticalPodAutoscaler in {mode} mode owns the requests: change the VPA instead"
            ),
            verify,
        ));
    }
    let Some(rec) = rec else {
        return Ok(Draft::refused(
            target,
            Risk::Medium,
            "no VPA target and no usage history to base a recommendation on".into(),
            verify,
        ));
    };
    if container(object, &row.container).is_none() {
        return Err(PlanError::MissingField(format!(
            "container {}",
            row.container
        )));
    }
    let mut warnings = Vec::new();
    match row.usage.as_ref().map(|u| u.history_days) {
        Some(days) if days < MIN_HISTORY_DAYS => warnings.push(format!(
            "only {days:.1} days of usage history ({MIN_HISTORY_DAYS:.0} wanted, 14 recommended)"
        )),
        _ => {}
    }
    if str_at(object, "/kind") == Some("StatefulSet") {
        warnings.push(
            "a StatefulSet: confirm it is not a database or another critical class before resizing"
                .into(),
        );
    }
    if row.hpa_on_cpu && f64::from(rec.cpu_request_m) < row.cpu_request_m {
        warnings.push("an HPA scales on CPU utilisation: a lower request raises utilisation and adds replicas".into());
    }
    if f64::from(rec.memory_request_mib) < row.memory_request_mib {
        warnings.push(
            "memory is lowered: an undersized request risks OOM kills; watch the first hours"
                .into(),
        );
    }
    let changes = json!({"spec": {"template": {"spec": {"containers": [{
        "name": row.container,
        "resources": {
            "requests": {
                "cpu": format!("{}m", rec.cpu_request_m),
                "memory": format!("{}Mi", rec.memory_request_mib)
            },
            "limits": {"memory": format!("{}Mi", rec.memory_limit_mib), "cpu": null}
        }
    }]}}}});
    let (operation, precondition, inverse) =
        guarded_patch(object, PatchType::StrategicMerge, changes)?;
    Ok(Draft {
        blast_radius: rollout(object),
        target,
        operation,
        precondition,
        inverse: Some(inverse),
        risk: Risk::Medium,
        warnings,
        refusal: None,
        verify,
    })
}

/// F-RS-2: `limits.cpu: null` on the throttled container.
pub fn remove_cpu_limit(object: &Value, context: &PlanContext) -> Result<Draft, PlanError> {
    let target = own_target(object);
    let row = context
        .workload
        .iter()
        .filter(|w| w.cpu_limit_m.is_some())
        .max_by(|a, b| {
            let throttling =
                |w: &WorkloadUsage| w.usage.as_ref().map_or(0.0, |u| u.throttling_ratio);
            throttling(a).total_cmp(&throttling(b))
        })
        .or_else(|| context.workload.first())
        .ok_or(PlanError::MissingContext("usage of the workload"))?;
    let throttling = row.usage.as_ref().map(|u| u.throttling_ratio);
    let current = container(object, &row.container)
        .ok_or_else(|| PlanError::MissingField(format!("container {}", row.container)))?
        .pointer("/resources/limits/cpu")
        .cloned();
    let mut before = vec![(
        "CPU limit",
        match &current {
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
            None => "none".into(),
        },
    )];
    if let Some(t) = throttling {
        before.push(("throttling", percent(t)));
    }
    let verify = verification(
        VerifyCondition::ThrottlingBelow {
            namespace: row.namespace.clone(),
            workload: row.name.clone(),
            container: row.container.clone(),
            ratio: THROTTLING_SOLVED,
        },
        Duration::from_secs(15 * 60),
        before,
    );
    if current.is_none() {
        return Ok(Draft::refused(
            target,
            Risk::Low,
            format!("container {} has no CPU limit", row.container),
            verify,
        ));
    }
    let changes = json!({"spec": {"template": {"spec": {"containers": [
        {"name": row.container, "resources": {"limits": {"cpu": null}}}
    ]}}}});
    let (operation, precondition, inverse) =
        guarded_patch(object, PatchType::StrategicMerge, changes)?;
    Ok(Draft {
        blast_radius: rollout(object),
        target,
        operation,
        precondition,
        inverse: Some(inverse),
        risk: Risk::Low,
        warnings: vec![
            "a namespace LimitRange with default.cpu puts a limit back on new pods".into(),
            "without a limit the container can use idle CPU of its node: a noisy neighbour in shared namespaces".into(),
        ],
        refusal: None,
        verify,
    })
}

/// F-RS-4: a VPA with `updateMode: Off`, so it recommends and never evicts.
pub fn create_vpa(object: &Value, context: &PlanContext) -> Result<Draft, PlanError> {
    let workload = own_target(object);
    let namespace = workload
        .namespace
        .clone()
        .ok_or_else(|| PlanError::MissingField("metadata.namespace".into()))?;
    let vpa_name = format!("{}-vpa", workload.name);
    let target = target_for(
        &Value::Null,
        "VerticalPodAutoscaler",
        Some(&namespace),
        &vpa_name,
    );
    let verify = verification(
        VerifyCondition::VpaRecommending {
            namespace: namespace.clone(),
            workload: workload.name.clone(),
        },
        Duration::from_secs(24 * 60 * 60),
        vec![("VPA", "none".into())],
    );
    if let Some(mode) = &context.vpa_update_mode {
        return Ok(Draft::refused(
            target,
            Risk::Low,
            format!("{} already has a VPA (mode {mode})", workload.describe()),
            verify,
        ));
    }
    let body = json!({
        "apiVersion": target.api_version,
        "kind": "VerticalPodAutoscaler",
        "metadata": {"name": vpa_name, "namespace": namespace},
        "spec": {
            "targetRef": {"apiVersion": workload.api_version, "kind": workload.kind, "name": workload.name},
            "updatePolicy": {"updateMode": "Off"},
            "resourcePolicy": {"containerPolicies": [{
                "containerName": "*",
                "minAllowed": {"cpu": "50m", "memory": "64Mi"},
                "maxAllowed": {"cpu": "8000m", "memory": "32Gi"}
            }]}
        }
    });
    Ok(Draft {
        blast_radius: format!("1 new object; no pod of {} changes", workload.describe()),
        target,
        operation: Operation::Create { body },
        precondition: Precondition::MustNotExist,
        inverse: Some(Inverse {
            operation: Operation::Delete,
            precondition: Precondition::ResourceVersionFromApply,
        }),
        risk: Risk::Low,
        warnings: vec![
            "needs the VPA CRDs and recommender installed (the server-side dry run says if the CRD is missing)".into(),
            "let it gather 7-14 days before acting on its recommendation".into(),
        ],
        refusal: None,
        verify,
    })
}
